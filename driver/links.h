/* SPDX-License-Identifier: MIT */
/*
 * Links between identities, and the network policy that turns them into peers. An endpoint's
 * identity is a key reference; a link names the identity at its other end and, optionally, the
 * reference of a named preshared key (keystore psk/<ref>.psk) that the link uses instead of the
 * pair's generated one (keystore link/<a>+<b>.psk). A link is mutual: either end declaring it is
 * enough for both to peer.
 *
 * The syntax of the wg.links option and the wireguard.links label:
 *   <ref>[:<psk-ref>][,<ref>[:<psk-ref>]...]     spaces around entries are ignored
 */
#ifndef LINKS_H
#define LINKS_H

#include "keystore.h"
#include "network.h"

#include <stdbool.h>
#include <stddef.h>

#define LINKS_MAX 256

struct link {
	char peer[KEYSTORE_REF_MAX + 1]; /* identity at the other end */
	char psk[KEYSTORE_REF_MAX + 1];	 /* named preshared key, or "": the pair's own */
};

struct link_set {
	struct link *v;
	size_t n;
};

/* 0 when REF is a valid key reference, else -EINVAL with a message in ERR that starts with WHAT
 * and quotes REF (shortened, control characters replaced). */
int links_check_ref(const char *ref, const char *what, char *err);

/* Parses TEXT (wg.links syntax; "" is no link) into OUT (zeroed first; free with links_free, also
 * on error). SELF is the identity of the endpoint that declares them: linking to it is an error.
 * Errors start with WHAT ("Options.wg.links") and name the entry. */
int links_parse(const char *text, const char *self, const char *what, struct link_set *out,
		char *err);
/* Adds a link to PEER with PSK ("" or NULL: the pair's own) unless SET has one to PEER already.
 * -E2BIG past LINKS_MAX, -ENOMEM. */
int links_add(struct link_set *set, const char *peer, const char *psk);
/* Frees SET's links and empties it. Accepts an empty SET. */
void links_free(struct link_set *set);
/* The link of SET to PEER, or NULL. Borrowed. */
const struct link *links_find(const struct link_set *set, const char *peer);
/* SET in wg.links syntax (new, free with free()); "" when empty; NULL when out of memory. */
char *links_format(const struct link_set *set);

/* true when identities A (declaring links LA) and B (LB) peer under POLICY: always under mesh,
 * under links when either declares a link to the other. */
bool links_allow(enum network_policy policy, const char *a, const struct link_set *la,
		 const char *b, const struct link_set *lb);
/* The named preshared key the link A–B uses (A's declaration first), or NULL for the pair's own.
 * Borrowed from LA or LB. */
const char *links_psk(const char *a, const struct link_set *la, const char *b,
		      const struct link_set *lb);

#endif
