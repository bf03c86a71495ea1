/* SPDX-License-Identifier: MIT */
/*
 * Who peers with whom, and what each side configures for the other. The candidates of a
 * network are its endpoints on this host, on a cluster network those of the other hosts (the
 * remotes, cluster.c), and its outside peers (outside.h): the policy treats them alike.
 */
#ifndef PEERS_H
#define PEERS_H

#include "endpoint.h"

/* The candidates of NET: its local endpoints, then its remote ones, then its outside peers.
 *   for (o = peers_first(net); o; o = peers_next(net, o)) */
struct endpoint *peers_first(const struct network *net);
struct endpoint *peers_next(const struct network *net, const struct endpoint *o);

/* true when SELF and OTHER are configured as peers of each other: both joined and not waiting
 * for resolution, same network, not the same endpoint, not two outside peers (they meet through
 * no container), and allowed by the network's policy
 * (links_allow). This is the enforcement: an endpoint that is not a peer cannot handshake. */
bool peers_linked(const struct endpoint *self, const struct endpoint *other);
/* The peer entry SELF (local) configures for OTHER: OTHER's public key, its /32 (and /128) as
 * allowed IPs, where its link listens (127.0.0.1:<port> on this host, its host's advertised
 * address for a remote one, none for an outside peer: it roams), the network's keepalive, and the
 * link's PSK: the named one a link
 * declares, else the pair's own when the network uses them. A pair on one host makes its PSK on
 * first use; a pair across hosts gets the one the cluster agreed on, and until it has arrived
 * this is -EAGAIN (the peer must wait: a PSK that differs fails silently). Wipe OUT after use. */
int peers_entry(const struct endpoint *self, const struct endpoint *other, struct wg_peer *out,
		char *err);
/* Number of peers SELF has now. */
size_t peers_count(const struct endpoint *self);
/* Fills DEV->peers (new array, freed by wgdev_clear) with SELF's peers; the ones still waiting
 * for their PSK are left out. */
int peers_build(const struct endpoint *self, struct wg_device *dev, char *err);

#endif
