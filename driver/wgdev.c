// SPDX-License-Identifier: MIT
#include "wgdev.h"

#include <sodium.h>
#include <stdlib.h>

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
