/* SPDX-License-Identifier: MIT */
/* Who peers with whom, and what each side configures for the other. */
#ifndef PEERS_H
#define PEERS_H

#include "endpoint.h"

/* true when SELF and OTHER are configured as peers of each other (both joined, same network,
 * not the same endpoint). */
bool peers_linked(const struct endpoint *self, const struct endpoint *other);
/* The peer entry SELF configures for OTHER: OTHER's public key, its /32 (and /128) as allowed IPs,
 * 127.0.0.1:<OTHER's port> as endpoint, and the link's PSK (created on first use) when the network
 * uses them. Wipe OUT after use. */
int peers_entry(const struct endpoint *self, const struct endpoint *other, struct wg_peer *out,
		char *err);
/* Number of peers SELF has now. */
size_t peers_count(const struct endpoint *self);
/* Fills DEV->peers (new array, freed by wgdev_clear) with SELF's peers. */
int peers_build(const struct endpoint *self, struct wg_device *dev, char *err);

#endif
