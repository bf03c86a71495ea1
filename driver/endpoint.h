/* SPDX-License-Identifier: MIT */
/*
 * The endpoint lifecycle, as the engine drives it:
 *   CreateEndpoint  validate, pick the identity (wg.key, or one generated for the endpoint) and
 *                   its links (wg.links), persist
 *   Join            create the WireGuard link in the host netns (key, port, MTU, peers), add this
 *                   endpoint as a peer on every other joined endpoint it may reach
 *   (resolution)    an endpoint without wg.* options may wait for the engine resolver (engine.c):
 *                   it has no peers until its container's labels and links are known
 *   Leave           remove it from the others (its link is still inside the container)
 *   DeleteEndpoint  delete the link (back in the host netns by then), its generated keys (a named
 *                   identity and its link keys stay) and its state
 * Functions return 0 or -errno with a user-facing message in ERR (ERRMSG_LEN bytes).
 */
#ifndef ENDPOINT_H
#define ENDPOINT_H

#include "backend.h"
#include "links.h"
#include "network.h"
#include "wgdev.h"

#include <jansson.h>
#include <net/if.h>

#define ENDPOINT_IFNAME_PREFIX	"wg-"
#define ENDPOINT_IFNAME_IDCHARS 12

struct endpoint {
	char id[NETWORK_ID_LEN + 1];
	struct network *net;
	const struct backend_ops *backend;  /* serves its link (backends.h) */
	char ifname[IFNAMSIZ];		    /* creation name in the host netns */
	char key_ref[KEYSTORE_REF_MAX + 1]; /* identity: wg.key, or the endpoint ID (generated) */
	struct link_set links;		    /* the identities it links to (wg.links) */
	bool pending; /* waiting for the resolver: no peers until it is done */
	struct wg_allowedip addr4;
	struct wg_allowedip addr6; /* family 0: none */
	uint16_t listen_port;	   /* 0 until Join */
	bool joined;
	char *sandbox; /* SandboxKey of the Join, or NULL */
	uint8_t public_key[WG_KEY_LEN];
	struct endpoint *next;
};

/* Makes endpoints created without wg.key or wg.links wait, after their Join, for their
 * container's links and labels: RESOLVE(ep) is called (under the API lock) once such an endpoint
 * has joined, and endpoint_resolve ends the wait. NULL, the default: no endpoint waits. */
void endpoint_set_resolver(void (*resolve)(const struct endpoint *ep));

/* CreateEndpoint: IFACE and OPTIONS are the request's objects (borrowed, may be NULL). */
int endpoint_create(struct network *net, const char *id, const json_t *iface, const json_t *options,
		    char *err);
/* Join: fills the answer fields IFNAME (IFNAMSIZ) and *IPV6 (add the ::/0 route). */
int endpoint_join(struct endpoint *ep, const char *sandbox, char *ifname, bool *ipv6, char *err);
/* true when another joined endpoint, of any network, is in EP's sandbox (the same container). */
bool endpoint_shares_sandbox(const struct endpoint *ep);
/* Leave: removes EP from its peers' configuration. */
int endpoint_leave(struct endpoint *ep, char *err);
/* DeleteEndpoint: removes the link, the keys and the state; frees EP. */
int endpoint_delete(struct endpoint *ep, char *err);
/* Ends EP's wait: KEY_REF (NULL: keep the generated key) becomes its identity and LINKS (taken
 * over and emptied) its links, checked as in CreateEndpoint except that links to identities
 * not stored yet are allowed; then EP peers as its network's policy says. 0 when EP was not
 * waiting. On failure EP keeps waiting. */
int endpoint_resolve(struct endpoint *ep, const char *key_ref, struct link_set *links, char *err);
/* true when EP's identity was named (wg.key, wireguard.key) rather than generated for it: a named
 * identity and its link keys outlive the endpoint. */
bool endpoint_key_named(const struct endpoint *ep);
/* How EP's backend finds its link, wherever it is now. */
struct wg_link_ref endpoint_link_ref(const struct endpoint *ep);
/* EndpointOperInfo value (new reference). */
json_t *endpoint_info(const struct endpoint *ep);
/* Returns the endpoint ID of NET or NULL. Borrowed. */
struct endpoint *endpoint_find(const struct network *net, const char *id);
/* Frees EP's memory only (not its link, keys or state). Accepts NULL. */
void endpoint_free(struct endpoint *ep);

#endif
