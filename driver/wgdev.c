// SPDX-License-Identifier: MIT
#include "wgdev.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define WGDEV_PEERS_MIN 8

void wgdev_clear(struct wg_device *dev)
{
	if (!dev)
		return;
	if (dev->peers) {
		sodium_memzero(dev->peers, dev->n_peers * sizeof(*dev->peers));
		free(dev->peers);
	}
	sodium_memzero(dev, sizeof(*dev));
}

/* The old array is wiped, not realloc'd: it holds preshared keys. */
struct wg_peer *wgdev_peer_append(struct wg_device *dev)
{
	size_t cap = WGDEV_PEERS_MIN;
	struct wg_peer *peers;

	while (cap < dev->n_peers)
		cap *= 2;
	if (dev->n_peers && dev->n_peers < cap) /* capacity follows from the count */
		return &dev->peers[dev->n_peers++];
	if (dev->n_peers)
		cap *= 2;
	peers = calloc(cap, sizeof(*peers));
	if (!peers)
		return NULL;
	if (dev->peers) {
		memcpy(peers, dev->peers, dev->n_peers * sizeof(*peers));
		sodium_memzero(dev->peers, dev->n_peers * sizeof(*peers));
		free(dev->peers);
	}
	dev->peers = peers;
	return &dev->peers[dev->n_peers++];
}
