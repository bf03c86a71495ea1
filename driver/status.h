/* SPDX-License-Identifier: MIT */
/*
 * What the operator sees of a daemon (wgctl show, the metrics): its networks, their endpoints on
 * this host and, for each endpoint, its peers as the model says they should be and as the backend
 * has them now (where the peer is, latest handshake, bytes), with what the driver knows beyond
 * WireGuard: container, network, identity, link state. Never a private or a preshared key.
 *
 * The document (one JSON object):
 *   {"networks": [{"id", "name", "cluster", "policy", "psk", "mtu", "keepalive",
 *                  "endpoints": [{"id", "container", "identity", "public_key", "backend",
 *                                 "interface", "listen_port", "addresses": [...], "state",
 *                                 "error", "peers": [PEER...]}],
 *                  "outside_peers": [{"name", "public_key", "addresses": [...], "links"}]}]}
 *   PEER: {"public_key", "identity", "kind": "local"|"remote"|"outside", "endpoint_id",
 *          "container", "host", "endpoint", "allowed_ips": [...], "latest_handshake" (Unix
 *          seconds, 0: never), "rx_bytes", "tx_bytes", "persistent_keepalive",
 *          "link": "active"|"programming"|"waiting"|"stale", "reason"}
 * Names the daemon does not know are null. An endpoint's "state" is "created", "joined" or
 * "waiting" (for its container's links and labels); "error" says why its link could not be
 * read, when it could not.
 */
#ifndef STATUS_H
#define STATUS_H

#include <jansson.h>

struct wgd;

/* Collects the document of daemon D into *OUT (new). NETWORK (NULL: all) picks one network by
 * ID, unique ID prefix, engine name or wg.net name; ENDPOINT (NULL: all; needs NETWORK) one of
 * its endpoints by ID, unique ID prefix, container name or identity. -ENOENT or -EINVAL with the
 * reason in ERR when either names none or more than one. Called without D's lock: the links are
 * read outside it, each read bounded by its backend. */
int status_collect(struct wgd *d, const char *network, const char *endpoint, json_t **out,
		   char *err);

/* FN(CTX, NETWORK_INDEX, NETWORK, ENDPOINT): one endpoint of the document, its peers read;
 * non-zero (a negative errno) stops the collection with that error. */
typedef int (*status_endpoint_fn)(void *ctx, size_t net_index, const json_t *network,
				  const json_t *endpoint);

/* The document of every network, as status_collect makes it, but each endpoint handed to FN as
 * soon as its link is read and its peers dropped after (the endpoints' "peers" are empty in
 * *OUT): what is made per pair of endpoints is held for one link at a time. */
int status_collect_each(struct wgd *d, status_endpoint_fn fn, void *ctx, json_t **out, char *err);

#endif
