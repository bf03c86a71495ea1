// SPDX-License-Identifier: MIT
#include "helper_fake_backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct fake_link fake_links[FAKE_LINKS_MAX];
int fake_fail_link_create, fake_fail_peer_set;
/* The ports fake links get when the driver leaves the choice to the kernel. */
static uint16_t next_port = 40000;

struct fake_link *fake_link_find(const char *ifname)
{
	for (int i = 0; i < FAKE_LINKS_MAX; i++)
		if (fake_links[i].used && !strcmp(fake_links[i].dev.name, ifname))
			return &fake_links[i];
	return NULL;
}

struct wg_peer *fake_peer_find(struct fake_link *link, const uint8_t *pub)
{
	for (size_t i = 0; link && i < link->dev.n_peers; i++)
		if (!memcmp(link->dev.peers[i].public_key, pub, WG_KEY_LEN))
			return &link->dev.peers[i];
	return NULL;
}

int fake_link_count(void)
{
	int n = 0;

	for (int i = 0; i < FAKE_LINKS_MAX; i++)
		n += fake_links[i].used;
	return n;
}

void fake_reset(void)
{
	for (int i = 0; i < FAKE_LINKS_MAX; i++)
		if (fake_links[i].used)
			wgdev_clear(&fake_links[i].dev);
	memset(fake_links, 0, sizeof(fake_links));
}

static int take_error(int *e)
{
	int ret = *e;

	*e = 0;
	return ret;
}

static int link_create(const struct wg_device *dev, uint16_t *port)
{
	struct fake_link *l = NULL;
	int ret = take_error(&fake_fail_link_create);

	if (ret)
		return ret;
	if (fake_link_find(dev->name))
		return -EEXIST;
	for (int i = 0; i < FAKE_LINKS_MAX && !l; i++)
		if (!fake_links[i].used)
			l = &fake_links[i];
	if (!l)
		return -ENOSPC;
	l->used = true;
	l->dev = *dev;
	if (!l->dev.listen_port)
		l->dev.listen_port = next_port++;
	*port = l->dev.listen_port;
	l->dev.peers = calloc(dev->n_peers + 1, sizeof(*dev->peers));
	if (dev->n_peers)
		memcpy(l->dev.peers, dev->peers, dev->n_peers * sizeof(*dev->peers));
	return 0;
}

static int link_delete(const char *ifname)
{
	struct fake_link *l = fake_link_find(ifname);

	if (l) {
		wgdev_clear(&l->dev);
		l->used = false;
	}
	return 0;
}

static int peer_set(const struct wg_link_ref *ref, const struct wg_peer *peer)
{
	struct fake_link *l = fake_link_find(ref->ifname);
	struct wg_peer *p, *grown;
	int ret = take_error(&fake_fail_peer_set);

	if (ret)
		return ret;
	if (!l)
		return -ENODEV;
	p = fake_peer_find(l, peer->public_key);
	if (!p) {
		grown = realloc(l->dev.peers, (l->dev.n_peers + 1) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		l->dev.peers = grown;
		p = &l->dev.peers[l->dev.n_peers++];
	}
	*p = *peer;
	return 0;
}

static int peer_remove(const struct wg_link_ref *ref, const uint8_t pub[WG_KEY_LEN])
{
	struct fake_link *l = fake_link_find(ref->ifname);
	struct wg_peer *p = fake_peer_find(l, pub);

	if (!p)
		return 0;
	*p = l->dev.peers[--l->dev.n_peers];
	return 0;
}

static int peers_apply(const struct wg_link_ref *ref, const struct wg_peer *set, size_t n_set,
		       const uint8_t (*remove)[WG_KEY_LEN], size_t n_remove)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < n_remove; i++)
		ret = peer_remove(ref, remove[i]);
	for (size_t i = 0; !ret && i < n_set; i++)
		ret = peer_set(ref, &set[i]);
	return ret;
}

static int device_get(const struct wg_link_ref *ref, struct wg_device *out)
{
	struct fake_link *l = fake_link_find(ref->ifname);

	if (!l)
		return -ENODEV;
	*out = l->dev;
	out->has_private_key = false;
	memset(out->private_key, 0, WG_KEY_LEN);
	out->peers = calloc(l->dev.n_peers + 1, sizeof(*out->peers));
	if (l->dev.n_peers)
		memcpy(out->peers, l->dev.peers, l->dev.n_peers * sizeof(*out->peers));
	return 0;
}

static int device_set(const struct wg_link_ref *ref, const struct wg_device *dev)
{
	struct fake_link *l = fake_link_find(ref->ifname);
	struct wg_peer *peers;

	if (!l)
		return -ENODEV;
	peers = calloc(dev->n_peers + 1, sizeof(*peers));
	if (!peers)
		return -ENOMEM;
	if (dev->n_peers)
		memcpy(peers, dev->peers, dev->n_peers * sizeof(*peers));
	free(l->dev.peers);
	l->dev.peers = peers;
	l->dev.n_peers = dev->n_peers;
	l->dev.listen_port = dev->listen_port;
	if (dev->has_private_key)
		memcpy(l->dev.private_key, dev->private_key, WG_KEY_LEN);
	return 0;
}

static bool link_exists(const struct wg_link_ref *ref)
{
	return fake_link_find(ref->ifname) != NULL;
}

const struct backend_ops fake_backend = {
	.name = "fake",
	.link_create = link_create,
	.link_delete = link_delete,
	.peer_set = peer_set,
	.peer_remove = peer_remove,
	.peers_apply = peers_apply,
	.device_get = device_get,
	.link_exists = link_exists,
	.device_set = device_set,
};
