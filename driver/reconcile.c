// SPDX-License-Identifier: MIT
#include "reconcile.h"

#include "backend.h"
#include "endpoint.h"
#include "errmsg.h"
#include "keystore.h"
#include "log.h"
#include "netns.h"
#include "network.h"
#include "peers.h"
#include "rtnl.h"
#include "state.h"
#include "wgd.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long handshakes started while the links were being set up get to complete before the
 * peers that have none are reset (a handshake completes in a few ms on loopback). */
#define RECONCILE_SETTLE_MS 100

/* One endpoint the start looks at, copied out of the model so that the backends are called
 * without the lock. */
struct item {
	char nid[NETWORK_ID_LEN + 1], eid[NETWORK_ID_LEN + 1];
	const struct backend_ops *backend;
	char ifname[IFNAMSIZ];
	char *sandbox;
	uint8_t public_key[WG_KEY_LEN];
	uint16_t listen_port;
	bool restarted; /* served anew: the sessions its peers hold with it are stale */
	bool joined;
};

struct items {
	struct item *v;
	size_t n;
};

static struct wg_link_ref item_ref(const struct item *it)
{
	return (struct wg_link_ref){ .ifname = it->ifname,
				     .sandbox = it->sandbox,
				     .public_key = it->public_key,
				     .listen_port = it->listen_port };
}

static void items_free(struct items *items)
{
	for (size_t i = 0; i < items->n; i++)
		free(items->v[i].sandbox);
	free(items->v);
	memset(items, 0, sizeof(*items));
}

/* Copies every endpoint of D into ITEMS; the lock is held. */
static int items_take(struct wgd *d, struct items *items)
{
	size_t n = 0;

	for (const struct network *net = d->networks; net; net = net->next)
		for (const struct endpoint *ep = net->endpoints; ep; ep = ep->next)
			n++;
	items->v = n ? calloc(n, sizeof(*items->v)) : NULL;
	if (n && !items->v)
		return -ENOMEM;
	for (const struct network *net = d->networks; net; net = net->next) {
		for (const struct endpoint *ep = net->endpoints; ep; ep = ep->next) {
			struct item *it = &items->v[items->n++];

			memcpy(it->nid, net->id, sizeof(it->nid));
			memcpy(it->eid, ep->id, sizeof(it->eid));
			it->backend = ep->backend;
			memcpy(it->ifname, ep->ifname, IFNAMSIZ);
			memcpy(it->public_key, ep->public_key, WG_KEY_LEN);
			it->listen_port = ep->listen_port;
			it->joined = ep->joined;
			if (ep->sandbox && !(it->sandbox = strdup(ep->sandbox)))
				return -ENOMEM;
		}
	}
	return 0;
}

static struct endpoint *item_endpoint(struct wgd *d, const struct item *it)
{
	struct network *net = network_find(d, it->nid);

	return net ? endpoint_find(net, it->eid) : NULL;
}

static bool restarted_has(const struct items *items, const uint8_t public_key[WG_KEY_LEN])
{
	for (size_t i = 0; i < items->n; i++)
		if (items->v[i].restarted &&
		    !memcmp(items->v[i].public_key, public_key, WG_KEY_LEN))
			return true;
	return false;
}

/* The device IT's link must be: its key, port, MTU and the peers it may reach now. */
static int build_device(struct wgd *d, const struct item *it, struct wg_device *dev, char *err)
{
	struct endpoint *ep;
	int ret;

	memset(dev, 0, sizeof(*dev));
	wgd_lock(d);
	ep = item_endpoint(d, it);
	if (!ep) {
		wgd_unlock(d);
		return errmsg_set(err, -ENOENT, "gone");
	}
	snprintf(dev->name, sizeof(dev->name), "%s", ep->ifname);
	dev->listen_port = ep->listen_port;
	dev->mtu = ep->net->opts.mtu;
	ret = keystore_identity_get(d->keys, ep->key_ref, false, dev->private_key, NULL);
	if (ret)
		errmsg_set(err, ret, "identity key: %s", keystore_error());
	else
		dev->has_private_key = true;
	if (!ret)
		ret = peers_build(ep, dev, err);
	wgd_unlock(d);
	return ret;
}

/* A link that needs no serving (the kernel's) may still have the key it had before its
 * identity changed, when the daemon stopped before that was programmed: it gets its key and
 * peers now. */
static int restore_key(struct wgd *d, const struct item *it)
{
	struct wg_link_ref ref = item_ref(it);
	struct wg_device now = { 0 }, want = { 0 };
	char err[ERRMSG_LEN];
	int ret;

	ret = it->backend->device_get(&ref, &now);
	if (ret || !sodium_memcmp(now.public_key, it->public_key, WG_KEY_LEN))
		goto out;
	ret = build_device(d, it, &want, err);
	if (ret) {
		log_error("endpoint %.12s: %s", it->eid, err);
		goto out;
	}
	ret = it->backend->device_set(&ref, &want);
	if (!ret)
		log_info("endpoint %.12s: link %s had the key of its identity before; given the "
			 "current one",
			 it->eid, it->ifname);
out:
	wgdev_clear(&now);
	wgdev_clear(&want);
	return ret;
}

static int restore(struct wgd *d, struct item *it)
{
	struct wg_link_ref ref = item_ref(it);
	char err[ERRMSG_LEN];
	struct wg_device dev;
	int ret;

	if (!it->backend->link_restore)
		return it->backend->link_exists(&ref) ? restore_key(d, it) : -ENODEV;
	ret = build_device(d, it, &dev, err);
	if (ret)
		log_error("endpoint %.12s: %s", it->eid, err);
	else
		ret = it->backend->link_restore(&ref, &dev, &it->restarted);
	wgdev_clear(&dev);
	return ret;
}

/* Marks the endpoint of IT not joined, with WHY logged (NULL: nothing), and saves. */
static void unjoin(struct wgd *d, struct item *it)
{
	char err[ERRMSG_LEN];
	struct endpoint *ep;

	it->joined = false;
	wgd_lock(d);
	ep = item_endpoint(d, it);
	if (ep) {
		ep->joined = false;
		free(ep->sandbox);
		ep->sandbox = NULL;
		if (state_save(ep->net, err))
			log_error("%s", err);
	}
	wgd_unlock(d);
}

/* The sandbox of a joined endpoint is gone: its container went while the daemon was down. The
 * engine's Leave and DeleteEndpoint came then, or come now (a restart cleans up), or never.
 * Only a daemon restarted between a Join and the creation of its sandbox (engines up to 27
 * create it after the Join) would see the same, and that container's start then fails. Its link
 * is back in the host (Docker moved it before removing the sandbox: DeleteEndpoint may never
 * come) or gone with the sandbox, unless a wireguard-go started on it inside the sandbox still
 * holds the sandbox's namespace. */
static void drop_gone(struct wgd *d, struct item *it)
{
	char err[ERRMSG_LEN];
	int ret;

	/* Not joined: its peers are set from scratch below, not one by one now. */
	unjoin(d, it);
	if (rtnl_link_exists(it->ifname)) {
		log_warn("endpoint %.12s: its sandbox %s is gone and its link is back in the host: "
			 "deleted, as the engine has",
			 it->eid, it->sandbox);
		ret = endpoint_delete(d, it->nid, it->eid, err);
		if (ret)
			log_error("%s", err);
		return;
	}
	ret = it->backend->link_delete(it->ifname);
	if (ret)
		log_warn("endpoint %.12s: deleting link %s: %s", it->eid, it->ifname,
			 strerror(-ret));
	log_warn("endpoint %.12s: its sandbox %s is gone, and link %s with it; marked as not "
		 "joined",
		 it->eid, it->sandbox, it->ifname);
}

/* IT's link lost its sessions: a new serve tells its peers on other hosts to renew theirs. */
static void served_anew(struct wgd *d, struct item *it)
{
	char err[ERRMSG_LEN];
	struct endpoint *ep;

	wgd_lock(d);
	ep = item_endpoint(d, it);
	if (ep) {
		ep->serve = randombytes_random();
		if (state_save(ep->net, err))
			log_error("%s", err);
	}
	wgd_unlock(d);
}

static void restore_item(struct wgd *d, struct item *it)
{
	int ret;

	if (it->joined && it->sandbox && !netns_exists(it->sandbox)) {
		drop_gone(d, it);
		return;
	}
	if (!it->joined) {
		/* Only a crash between creating the link and saving the Join leaves one. */
		ret = it->backend->link_delete(it->ifname);
		if (ret)
			log_warn("endpoint %.12s: deleting the link %s it should not have: %s",
				 it->eid, it->ifname, strerror(-ret));
		return;
	}
	ret = restore(d, it);
	if (!ret && it->restarted) {
		log_info("endpoint %.12s: link %s served again", it->eid, it->ifname);
		served_anew(d, it);
	}
	if (!ret)
		return;
	if (ret == -ENODEV)
		log_warn("endpoint %.12s: link %s is gone; marked as not joined", it->eid,
			 it->ifname);
	else
		log_error("endpoint %.12s: link %s cannot be served again (%s); marked as not "
			  "joined",
			  it->eid, it->ifname, strerror(-ret));
	unjoin(d, it);
}

static bool has_peer(const struct wg_device *dev, const uint8_t public_key[WG_KEY_LEN])
{
	for (size_t i = 0; i < dev->n_peers; i++)
		if (!memcmp(dev->peers[i].public_key, public_key, WG_KEY_LEN))
			return true;
	return false;
}

/* Gives IT's link exactly the peers it may reach now. On a link that kept its process, a peer
 * served anew is removed first: that drops the session it no longer has, so the next packet
 * starts a handshake instead of being sent under keys it cannot read. */
static void sync_peers(struct wgd *d, const struct item *it, const struct items *items)
{
	struct wg_device want = { 0 }, now = { 0 };
	struct wg_link_ref ref = item_ref(it);
	char err[ERRMSG_LEN];
	struct endpoint *ep;
	int ret = -ENOENT;

	wgd_lock(d);
	ep = item_endpoint(d, it);
	if (ep)
		ret = peers_build(ep, &want, err);
	wgd_unlock(d);
	if (ret) {
		if (ret != -ENOENT)
			log_error("endpoint %.12s: %s", it->eid, err);
		goto out;
	}
	ret = it->backend->device_get(&ref, &now);
	for (size_t i = 0; !ret && i < now.n_peers; i++) {
		const uint8_t *key = now.peers[i].public_key;

		if (!has_peer(&want, key) || (!it->restarted && restarted_has(items, key)))
			ret = it->backend->peer_remove(&ref, key);
	}
	for (size_t i = 0; !ret && i < want.n_peers; i++)
		ret = it->backend->peer_set(&ref, &want.peers[i]);
	if (ret)
		log_error("endpoint %.12s: setting the peers of link %s: %s", it->eid, it->ifname,
			  strerror(-ret));
out:
	wgdev_clear(&want);
	wgdev_clear(&now);
}

/* A link served anew sent its first handshakes as soon as it had peers: maybe to a peer that was
 * not served yet or did not know it yet, maybe at the same moment as that peer sent its own (both
 * answers are then refused); WireGuard retries only after 5 s. Once every link is set up, a peer
 * entry without a handshake is added afresh, so that its next packet starts one at once: in
 * ROUND 0 on the side of the pair with the smaller public key, in round 1, if there is still no
 * handshake, on the other side. One side at a time: renewing both at once would let two
 * handshakes cross again. */
static void settle_peers(const struct item *it, const struct items *items, int round)
{
	struct wg_link_ref ref = item_ref(it);
	struct wg_device now = { 0 };
	int ret;

	ret = it->backend->device_get(&ref, &now);
	for (size_t i = 0; !ret && i < now.n_peers; i++) {
		const struct wg_peer *p = &now.peers[i];
		bool smaller = memcmp(it->public_key, p->public_key, WG_KEY_LEN) < 0;

		if (p->last_handshake_sec ||
		    (!it->restarted && !restarted_has(items, p->public_key)) ||
		    smaller != (round == 0))
			continue;
		/* device_get gives the preshared key back: the entry is set again as it was. */
		ret = it->backend->peer_remove(&ref, p->public_key);
		if (!ret)
			ret = it->backend->peer_set(&ref, p);
	}
	if (ret)
		log_error("endpoint %.12s: renewing the peers of link %s: %s", it->eid, it->ifname,
			  strerror(-ret));
	wgdev_clear(&now);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void reconcile_endpoints(struct wgd *d)
{
	struct items items = { 0 };
	bool restarted = false;
	int ret;

	wgd_assert_unlocked(d);
	wgd_lock(d);
	ret = items_take(d, &items);
	wgd_unlock(d);
	if (ret) {
		log_error("reconcile: out of memory; links are not checked");
		items_free(&items);
		return;
	}
	for (size_t i = 0; i < items.n; i++) {
		restore_item(d, &items.v[i]);
		restarted |= items.v[i].restarted;
	}
	for (size_t i = 0; i < items.n; i++)
		if (items.v[i].joined)
			sync_peers(d, &items.v[i], &items);
	for (int round = 0; restarted && round < 2; round++) {
		sleep_ms(RECONCILE_SETTLE_MS);
		for (size_t i = 0; i < items.n; i++)
			if (items.v[i].joined)
				settle_peers(&items.v[i], &items, round);
	}
	items_free(&items);
}
