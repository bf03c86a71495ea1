/* SPDX-License-Identifier: MIT */
/*
 * The endpoint lifecycle, as the engine drives it:
 *   CreateEndpoint  validate, pick the identity (wg.key, or one generated for the endpoint) and
 *                   its links (wg.links), persist
 *   Join            create the WireGuard link in the host netns (key, port, MTU, the peers it has
 *                   now) outside the daemon's lock; then, under it, mark the endpoint joined and
 *                   have the other links learn it (peersync.h): the engine does not wait for them
 *   (resolution)    an endpoint without wg.* options may wait for the engine resolver (engine.c):
 *                   it has no peers until its container's labels and links are known
 *   Leave           the others forget it (its link is still inside the container)
 *   DeleteEndpoint  delete the link (back in the host netns by then) outside the lock, then its
 *                   generated keys (a named identity and its link keys stay) and its state
 * Functions return 0 or -errno with a user-facing message in ERR (ERRMSG_LEN bytes), and run
 * with the daemon's lock held unless their comment says otherwise.
 */
#ifndef ENDPOINT_H
#define ENDPOINT_H

#include "backend.h"
#include "links.h"
#include "network.h"
#include "wgdev.h"

#include <stdbool.h>

#include <jansson.h>
#include <net/if.h>

#define ENDPOINT_IFNAME_PREFIX	"wg-"
#define ENDPOINT_IFNAME_IDCHARS 12
#define ENDPOINT_CONTAINER_MAX	128 /* longer names are cut */

struct endpoint {
	char id[NETWORK_ID_LEN + 1];
	struct network *net;
	const struct backend_ops *backend;  /* serves its link (backends.h) */
	char ifname[IFNAMSIZ];		    /* creation name in the host netns, from the ID */
	char key_ref[KEYSTORE_REF_MAX + 1]; /* identity: wg.key, or the endpoint ID (generated) */
	/* The name of its container as the engine tells it (engine.c), "" until known: for the
	 * operator's eyes only (logs, wgctl show, metrics), never for a decision. */
	char container[ENDPOINT_CONTAINER_MAX + 1];
	struct link_set links; /* the identities it links to (wg.links) */
	bool pending;	       /* waiting for the resolver: no peers until it is done */
	struct wg_allowedip addr4;
	struct wg_allowedip addr6; /* family 0: none */
	uint16_t listen_port;	   /* 0 until Join */
	bool joined;
	bool busy;     /* a Join or DeleteEndpoint works on its link outside the lock */
	char *sandbox; /* SandboxKey of the Join, or NULL */
	uint8_t public_key[WG_KEY_LEN];
	/* Changes whenever its link is served anew (a Join, a re-attach after a restart): its peers
	 * on other hosts then renew their sessions with it (cluster.c). */
	uint32_t serve;
	struct peersync_link *sync; /* its link's peers still to program, or NULL */
	/* An endpoint of another host on the same cluster network (cluster.c), in its network's
	 * remotes list: HOST is that host's ID, UNDERLAY where its link listens. NULL here. */
	char *host;
	union wg_endpoint underlay;
	/* An outside peer (outside.h), in its network's outside list: what only it has. NULL
	 * otherwise. */
	struct outside *outside;
	struct endpoint *next;
};

/* What the engine is told after a Join. */
struct endpoint_join_answer {
	char ifname[IFNAMSIZ];
	bool ipv6;	    /* it has an IPv6 address: a ::/0 route too */
	bool default_route; /* the first wireguard endpoint of its sandbox brings the routes */
};

/* CreateEndpoint: IFACE and OPTIONS are the request's objects (borrowed, may be NULL). */
int endpoint_create(struct network *net, const char *id, const json_t *iface, const json_t *options,
		    char *err);
/* Join of endpoint EID of network NID, with the lock NOT held: it is taken while the model
 * changes, and released while the link is made. */
int endpoint_join(struct wgd *d, const char *nid, const char *eid, const char *sandbox,
		  struct endpoint_join_answer *out, char *err);
/* Leave: the other endpoints forget EP. */
int endpoint_leave(struct endpoint *ep, char *err);
/* DeleteEndpoint of endpoint EID of network NID, with the lock NOT held: it removes the link
 * (released meanwhile), the keys and the state. Unknown IDs succeed (the engine's cleanup calls
 * must). */
int endpoint_delete(struct wgd *d, const char *nid, const char *eid, char *err);
/* Ends EP's wait: KEY_REF (NULL: keep the generated key) becomes its identity and LINKS (taken
 * over and emptied) its links, checked as in CreateEndpoint except that links to identities
 * not stored yet are allowed; then EP peers as its network's policy says. 0 when EP was not
 * waiting. On failure EP keeps waiting. */
int endpoint_resolve(struct endpoint *ep, const char *key_ref, struct link_set *links, char *err);
/* true when EP's identity was named (wg.key, wireguard.key) rather than generated for it: a named
 * identity and its link keys outlive the endpoint. */
bool endpoint_key_named(const struct endpoint *ep);
/* "1a2b3c4d5e6f (web)": EP's short ID and its container's name when known, for logs, into BUF
 * (ENDPOINT_NAME_LEN bytes); returns BUF. */
#define ENDPOINT_NAME_LEN (ENDPOINT_IFNAME_IDCHARS + ENDPOINT_CONTAINER_MAX + 4)
const char *endpoint_name(const struct endpoint *ep, char *buf);
/* How EP's backend finds its link, wherever it is now. Borrows EP's strings. */
struct wg_link_ref endpoint_link_ref(const struct endpoint *ep);
/* EndpointOperInfo value (new reference). */
json_t *endpoint_info(const struct endpoint *ep);
/* Returns the endpoint ID of NET or NULL. Borrowed. */
struct endpoint *endpoint_find(const struct network *net, const char *id);

/* For the state loader: a new endpoint ID of NET (ID checked by the caller), not in NET's list,
 * with its link name; into *OUT (free with endpoint_free unless endpoint_append takes it). */
int endpoint_new(struct network *net, const char *id, struct endpoint **out, char *err);
/* Appends EP (endpoint_new) to its network's list; takes ownership. */
void endpoint_append(struct network *net, struct endpoint *ep);
/* 0 unless another endpoint of the daemon has EP's link name, or another endpoint or outside peer
 * of its network EP's address (-EEXIST with the reason in ERR, which starts with WHAT). */
int endpoint_check_unique(const struct endpoint *ep, const char *what, char *err);
/* Frees EP's memory only (not its link, keys or state); it must not be in a list. Accepts NULL.
 */
void endpoint_free(struct endpoint *ep);

#endif
