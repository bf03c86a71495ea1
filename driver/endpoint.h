/* SPDX-License-Identifier: MIT */
/*
 * The endpoint lifecycle, as the engine drives it:
 *   CreateEndpoint  validate, create the identity key, persist
 *   Join            create the WireGuard link in the host netns (key, port, MTU, peers), add this
 *                   endpoint as a peer on every other joined endpoint of the network
 *   Leave           remove it from the others (its link is still inside the container)
 *   DeleteEndpoint  delete the link (back in the host netns by then), its keys and its state
 * Functions return 0 or -errno with a user-facing message in ERR (ERRMSG_LEN bytes).
 */
#ifndef ENDPOINT_H
#define ENDPOINT_H

#include "network.h"
#include "wgdev.h"

#include <jansson.h>
#include <net/if.h>

#define ENDPOINT_IFNAME_PREFIX "wg-"
#define ENDPOINT_IFNAME_IDCHARS 12

struct backend_ops;

struct endpoint {
	char id[NETWORK_ID_LEN + 1];
	struct network *net;
	char ifname[IFNAMSIZ]; /* creation name in the host netns */
	char key_ref[65];      /* keystore identity reference */
	struct wg_allowedip addr4;
	struct wg_allowedip addr6; /* family 0: none */
	uint16_t listen_port;      /* 0 until Join */
	bool joined;
	char *sandbox; /* SandboxKey of the Join, or NULL */
	uint8_t public_key[WG_KEY_LEN];
	struct endpoint *next;
};

/* Selects the backend every endpoint uses, and the sentence that explains the choice. Borrows
 * both for the life of the process. */
void endpoint_set_backend(const struct backend_ops *ops, const char *reason);

/* CreateEndpoint: REQ is the whole request object (borrowed). */
int endpoint_create(struct network *net, const char *id, const json_t *iface,
		    const json_t *options, char *err);
/* Join: fills the answer fields IFNAME (IFNAMSIZ) and *IPV6 (add the ::/0 route). */
int endpoint_join(struct endpoint *ep, const char *sandbox, char *ifname, bool *ipv6, char *err);
/* Leave: removes EP from its peers' configuration. */
int endpoint_leave(struct endpoint *ep, char *err);
/* DeleteEndpoint: removes the link, the keys and the state; frees EP. */
int endpoint_delete(struct endpoint *ep, char *err);
/* EndpointOperInfo value (new reference). */
json_t *endpoint_info(const struct endpoint *ep);
/* Returns the endpoint ID of NET or NULL. Borrowed. */
struct endpoint *endpoint_find(const struct network *net, const char *id);
/* Frees EP's memory only (not its link, keys or state). Accepts NULL. */
void endpoint_free(struct endpoint *ep);

#endif
