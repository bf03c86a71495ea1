// SPDX-License-Identifier: MIT
#include "peers.h"

#include "addr.h"
#include "cluster.h"
#include "errmsg.h"
#include "keystore.h"
#include "links.h"
#include "wgd.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct endpoint *peers_first(const struct network *net)
{
	return net->endpoints ? net->endpoints : net->remotes ? net->remotes : net->outside;
}

struct endpoint *peers_next(const struct network *net, const struct endpoint *o)
{
	if (o->next)
		return o->next;
	if (o->host) /* the last remote (an outside peer of another host is one too) */
		return net->outside;
	if (o->outside)
		return NULL;
	return net->remotes ? net->remotes : net->outside;
}

bool peers_linked(const struct endpoint *self, const struct endpoint *other)
{
	return self != other && self->net == other->net && self->joined && other->joined &&
	       !self->pending && !other->pending && !(self->outside && other->outside) &&
	       links_allow(self->net->opts.policy, self->key_ref, &self->links, other->key_ref,
			   &other->links);
}

int peers_entry(const struct endpoint *self, const struct endpoint *other, struct wg_peer *out,
		char *err)
{
	struct wgd *d = self->net->d;
	const char *psk_ref;
	int ret;

	wgd_assert_locked(d);
	memset(out, 0, sizeof(*out));
	memcpy(out->public_key, other->public_key, WG_KEY_LEN);
	if (other->host) {
		out->endpoint = other->underlay;
	} else if (other->outside) {
		/* None: WireGuard learns it from the outside peer's first handshake. */
	} else {
		/* Every link socket lives in the host netns, so local peers meet on loopback. */
		out->endpoint.addr4.sin_family = AF_INET;
		out->endpoint.addr4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		out->endpoint.addr4.sin_port = htons(other->listen_port);
	}
	out->persistent_keepalive = self->net->opts.keepalive;
	if (other->addr4.family)
		out->allowedips[out->n_allowedips++] = addr_host(&other->addr4);
	if (other->addr6.family)
		out->allowedips[out->n_allowedips++] = addr_host(&other->addr6);
	/* A named PSK is asked for explicitly, so it is used even where wg.psk=off. */
	psk_ref = links_psk(self->key_ref, &self->links, other->key_ref, &other->links);
	if (psk_ref)
		ret = keystore_psk_ref_get(d->keys, psk_ref, false, out->preshared_key, NULL);
	else if (!self->net->opts.psk)
		return 0;
	else if (!other->host &&
		 (ret = keystore_psk_get(d->keys, self->key_ref, other->key_ref, false,
					 out->preshared_key, NULL)) == -ENOENT)
		/* Derived, not stored: a file per pair made every Join write as many files as
		 * the network had endpoints. A pair's file of an earlier build still counts. */
		ret = keystore_psk_derive(d->keys, self->public_key, other->public_key,
					  out->preshared_key);
	else if ((ret = keystore_psk_get(d->keys, self->key_ref, other->key_ref, false,
					 out->preshared_key, NULL)) == -ENOENT) {
		/* Made once for the two hosts and sealed to both: it comes through the store. */
		if (d->cluster)
			cluster_psk_wanted(d->cluster, self, other);
		sodium_memzero(out, sizeof(*out));
		return errmsg_set(
			err, -EAGAIN,
			"endpoint %.12s: the preshared key for peer %.12s (host %s) has not "
			"arrived yet",
			self->id, other->id, other->host);
	}
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

	for (const struct endpoint *o = peers_first(self->net); o; o = peers_next(self->net, o))
		n += peers_linked(self, o);
	return n;
}

int peers_build(const struct endpoint *self, struct wg_device *dev, char *err)
{
	struct wg_peer *p;
	int ret;

	dev->peers = NULL;
	dev->n_peers = 0;
	for (const struct endpoint *o = peers_first(self->net); o; o = peers_next(self->net, o)) {
		if (!peers_linked(self, o))
			continue;
		p = wgdev_peer_append(dev);
		if (!p)
			return errmsg_set(err, -ENOMEM, "out of memory");
		ret = peers_entry(self, o, p, err);
		if (ret == -EAGAIN) {
			dev->n_peers--;
			continue;
		}
		if (ret)
			return ret; /* the caller's wgdev_clear wipes what was filled */
	}
	return 0;
}
