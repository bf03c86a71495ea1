/* SPDX-License-Identifier: MIT */
/* Who peers with whom, and what each side configures for the other. */
#ifndef PEERS_H
#define PEERS_H

#include "endpoint.h"

/* true when SELF and OTHER are configured as peers of each other: both joined and not waiting
 * for resolution, same network, not the same endpoint, and allowed by the network's policy
 * (links_allow). This is the enforcement: an endpoint that is not a peer cannot handshake. */
bool peers_linked(const struct endpoint *self, const struct endpoint *other);
/* The peer entry SELF configures for OTHER: OTHER's public key, its /32 (and /128) as allowed IPs,
 * 127.0.0.1:<OTHER's port> as endpoint, and the link's PSK: the named one a link declares, else
 * the pair's own (created on first use) when the network uses them. Wipe OUT after use. */
int peers_entry(const struct endpoint *self, const struct endpoint *other, struct wg_peer *out,
		char *err);
/* Number of peers SELF has now. */
size_t peers_count(const struct endpoint *self);
/* Fills DEV->peers (new array, freed by wgdev_clear) with SELF's peers. */
int peers_build(const struct endpoint *self, struct wg_device *dev, char *err);

#endif
