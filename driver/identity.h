/* SPDX-License-Identifier: MIT */
/*
 * Which identity and links an endpoint has: the endpoint options wg.key and wg.links, and the
 * checks an identity and its links pass before an endpoint gets them (one live endpoint per key
 * and network, named preshared keys that exist, links that agree on their preshared key).
 */
#ifndef IDENTITY_H
#define IDENTITY_H

#include "endpoint.h"

#define IDENTITY_OPT_KEY   "wg.key"
#define IDENTITY_OPT_LINKS "wg.links"

/* Sets EP's key_ref, links and pending from the CreateEndpoint OPTIONS (borrowed, may be NULL):
 * wg.key names the identity (default: the endpoint ID, a key generated for it), wg.links its
 * links. Without either, EP waits for resolution when MAY_WAIT. EP is not in its network's list
 * yet. Errors name the option. */
int identity_from_options(struct endpoint *ep, const json_t *options, bool may_wait, char *err);
/* At most one live endpoint per identity on a network, and a named identity is never the key
 * generated for another endpoint (deleting that endpoint would delete the key): 0 when EP (in
 * its network's list or not) may have identity KEY_REF, else -EEXIST. WHAT names the source. */
int identity_check_key(const struct endpoint *ep, const char *key_ref, const char *what, char *err);
/* Checks that EP (in its network's list or not) may have identity KEY_REF and LINKS. With STRICT,
 * every identity linked to must be stored already. WHAT names the source in errors. */
int identity_check(const struct endpoint *ep, const char *key_ref, const struct link_set *links,
		   bool strict, const char *what, char *err);

#endif
