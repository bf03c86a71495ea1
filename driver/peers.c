// SPDX-License-Identifier: MIT
#include "peers.h"

#include "addr.h"
#include "errmsg.h"
#include "keystore.h"
#include "links.h"
#include "wgd.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

bool peers_linked(const struct endpoint *self, const struct endpoint *other)
{
	return self != other && self->net == other->net && self->joined && other->joined &&
	       !self->pending && !other->pending &&
	       links_allow(self->net->opts.policy, self->key_ref, &self->links, other->key_ref,
			   &other->links);
}

int peers_entry(const struct endpoint *self, const struct endpoint *other, struct wg_peer *out,
		char *err)
{
	struct keystore *ks = self->net->d->keys;
	const char *psk_ref;
	int ret;

	wgd_assert_locked(self->net->d);
	memset(out, 0, sizeof(*out));
	memcpy(out->public_key, other->public_key, WG_KEY_LEN);
	/* Every link socket lives in the host netns, so peers meet on the host's loopback. */
	out->endpoint.addr4.sin_family = AF_INET;
	out->endpoint.addr4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	out->endpoint.addr4.sin_port = htons(other->listen_port);
	if (other->addr4.family)
		out->allowedips[out->n_allowedips++] = addr_host(&other->addr4);
	if (other->addr6.family)
		out->allowedips[out->n_allowedips++] = addr_host(&other->addr6);
	/* A named PSK is asked for explicitly, so it is used even where wg.psk=off. */
	psk_ref = links_psk(self->key_ref, &self->links, other->key_ref, &other->links);
	if (psk_ref)
		ret = keystore_psk_ref_get(ks, psk_ref, false, out->preshared_key, NULL);
	else if (self->net->opts.psk)
		ret = keystore_psk_get(ks, self->key_ref, other->key_ref, true, out->preshared_key,
				       NULL);
	else
		return 0;
	if (ret) {
		sodium_memzero(out, sizeof(*out));
		return errmsg_set(err, ret, "endpoint %.12s: preshared key for peer %.12s: %s",
				  self->id, other->id, keystore_error());
	}
	out->has_preshared_key = true;
	return 0;
}

size_t peers_count(const struct endpoint *self)
{
	size_t n = 0;

	for (const struct endpoint *o = self->net->endpoints; o; o = o->next)
		n += peers_linked(self, o);
	return n;
}

int peers_build(const struct endpoint *self, struct wg_device *dev, char *err)
{
	size_t n = peers_count(self);
	int ret;

	dev->peers = NULL;
	dev->n_peers = 0;
	if (!n)
		return 0;
	dev->peers = calloc(n, sizeof(*dev->peers));
	if (!dev->peers)
		return errmsg_set(err, -ENOMEM, "out of memory");
	for (const struct endpoint *o = self->net->endpoints; o; o = o->next) {
		if (!peers_linked(self, o))
			continue;
		ret = peers_entry(self, o, &dev->peers[dev->n_peers], err);
		if (ret)
			return ret; /* the caller's wgdev_clear wipes what was filled */
		dev->n_peers++;
	}
	return 0;
}
