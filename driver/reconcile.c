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

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long handshakes started while the links were being set up get to complete before the
 * peers that have none are reset (a handshake completes in a few ms on loopback). */
#define RECONCILE_SETTLE_MS 100

/* Endpoints whose link was served anew: the sessions their peers hold with them are stale. */
struct restarted {
	const struct endpoint **ep;
	size_t n, cap;
};

static void restarted_add(struct restarted *r, const struct endpoint *ep)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		const struct endpoint **grown = realloc(r->ep, cap * sizeof(*grown));

		/* Without the list its peers only wait for their next handshake. */
		if (!grown)
			return;
		r->ep = grown;
		r->cap = cap;
	}
	r->ep[r->n++] = ep;
}

static bool restarted_has(const struct restarted *r, const uint8_t public_key[WG_KEY_LEN])
{
	for (size_t i = 0; i < r->n; i++)
		if (!memcmp(r->ep[i]->public_key, public_key, WG_KEY_LEN))
			return true;
	return false;
}

/* The device EP's link must be: its key, port, MTU and the peers it may reach now. */
static int build_device(const struct endpoint *ep, struct wg_device *dev, char *err)
{
	int ret;

	memset(dev, 0, sizeof(*dev));
	snprintf(dev->name, sizeof(dev->name), "%s", ep->ifname);
	dev->listen_port = ep->listen_port;
	dev->mtu = ep->net->opts.mtu;
	ret = keystore_identity_get(ep->key_ref, false, dev->private_key, NULL);
	if (ret)
		return errmsg_set(err, ret, "identity key: %s", keystore_error());
	dev->has_private_key = true;
	return peers_build(ep, dev, err);
}

static int restore(const struct endpoint *ep, bool *restarted)
{
	const struct backend_ops *backend = ep->backend;
	struct wg_link_ref ref = endpoint_link_ref(ep);
	char err[ERRMSG_LEN];
	struct wg_device dev;
	int ret;

	*restarted = false;
	if (!backend->link_restore)
		return backend->link_exists(&ref) ? 0 : -ENODEV;
	ret = build_device(ep, &dev, err);
	if (ret)
		log_error("endpoint %.12s: %s", ep->id, err);
	else
		ret = backend->link_restore(&ref, &dev, restarted);
	wgdev_clear(&dev);
	return ret;
}

/* The sandbox of a joined endpoint is gone: its container went while the daemon was down. The
 * engine's Leave and DeleteEndpoint came then, or come now (a restart cleans up), or never.
 * Only a daemon restarted between a Join and the creation of its sandbox (engines up to 27
 * create it after the Join) would see the same, and that container's start then fails. */
static bool sandbox_gone(const struct endpoint *ep)
{
	return ep->joined && ep->sandbox && !netns_exists(ep->sandbox);
}

/* Its container gone, EP's link is back in the host (Docker moved it before removing the
 * sandbox: DeleteEndpoint may never come) or gone with the sandbox, unless a wireguard-go
 * started on it inside the sandbox still holds the sandbox's namespace. Returns true when EP
 * was deleted. */
static bool drop_gone(struct endpoint *ep)
{
	char err[ERRMSG_LEN];
	int ret;

	/* Not joined: its peers are set from scratch below, not one by one now. */
	ep->joined = false;
	if (rtnl_link_exists(ep->ifname)) {
		log_warn("endpoint %.12s: its sandbox %s is gone and its link is back in the host: "
			 "deleted, as the engine has",
			 ep->id, ep->sandbox);
		ret = endpoint_delete(ep, err);
		if (!ret)
			return true;
		log_error("%s", err);
	} else {
		ret = ep->backend->link_delete(ep->ifname);
		if (ret)
			log_warn("endpoint %.12s: deleting link %s: %s", ep->id, ep->ifname,
				 strerror(-ret));
		log_warn("endpoint %.12s: its sandbox %s is gone, and link %s with it; marked as "
			 "not joined",
			 ep->id, ep->sandbox, ep->ifname);
	}
	free(ep->sandbox);
	ep->sandbox = NULL;
	return false;
}

static void restore_network(struct network *net, struct restarted *r)
{
	char err[ERRMSG_LEN];
	bool changed = false, restarted;
	struct endpoint *next;
	int ret;

	for (struct endpoint *ep = net->endpoints; ep; ep = next) {
		next = ep->next;
		if (sandbox_gone(ep)) {
			if (!drop_gone(ep))
				changed = true;
			continue;
		}
		if (!ep->joined) {
			/* Only a crash between creating the link and saving the Join leaves one. */
			ret = ep->backend->link_delete(ep->ifname);
			if (ret)
				log_warn(
					"endpoint %.12s: deleting the link %s it should not have: %s",
					ep->id, ep->ifname, strerror(-ret));
			continue;
		}
		ret = restore(ep, &restarted);
		if (!ret && restarted) {
			restarted_add(r, ep);
			log_info("endpoint %.12s: link %s served again", ep->id, ep->ifname);
		}
		if (!ret)
			continue;
		if (ret == -ENODEV)
			log_warn("endpoint %.12s: link %s is gone; marked as not joined", ep->id,
				 ep->ifname);
		else
			log_error("endpoint %.12s: link %s cannot be served again (%s); marked as "
				  "not joined",
				  ep->id, ep->ifname, strerror(-ret));
		ep->joined = false;
		free(ep->sandbox);
		ep->sandbox = NULL;
		changed = true;
	}
	if (changed && state_save(net, err))
		log_error("%s", err);
}

static bool has_peer(const struct wg_device *dev, const uint8_t public_key[WG_KEY_LEN])
{
	for (size_t i = 0; i < dev->n_peers; i++)
		if (!memcmp(dev->peers[i].public_key, public_key, WG_KEY_LEN))
			return true;
	return false;
}

/* Gives EP's link exactly the peers it may reach now. On a link that kept its process, a peer
 * served anew is removed first: that drops the session it no longer has, so the next packet
 * starts a handshake instead of being sent under keys it cannot read. */
static void sync_peers(const struct endpoint *ep, const struct restarted *r)
{
	const struct backend_ops *backend = ep->backend;
	struct wg_device want = { 0 }, now = { 0 };
	struct wg_link_ref ref = endpoint_link_ref(ep);
	bool fresh = restarted_has(r, ep->public_key);
	char err[ERRMSG_LEN];
	int ret;

	ret = peers_build(ep, &want, err);
	if (ret) {
		log_error("endpoint %.12s: %s", ep->id, err);
		goto out;
	}
	ret = backend->device_get(&ref, &now);
	for (size_t i = 0; !ret && i < now.n_peers; i++) {
		const uint8_t *key = now.peers[i].public_key;

		if (!has_peer(&want, key) || (!fresh && restarted_has(r, key)))
			ret = backend->peer_remove(&ref, key);
	}
	for (size_t i = 0; !ret && i < want.n_peers; i++)
		ret = backend->peer_set(&ref, &want.peers[i]);
	if (ret)
		log_error("endpoint %.12s: setting the peers of link %s: %s", ep->id, ep->ifname,
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
static void settle_peers(const struct endpoint *ep, const struct restarted *r, int round)
{
	const struct backend_ops *backend = ep->backend;
	struct wg_link_ref ref = endpoint_link_ref(ep);
	bool fresh = restarted_has(r, ep->public_key);
	struct wg_device now = { 0 };
	int ret;

	ret = backend->device_get(&ref, &now);
	for (size_t i = 0; !ret && i < now.n_peers; i++) {
		const struct wg_peer *p = &now.peers[i];
		bool smaller = memcmp(ep->public_key, p->public_key, WG_KEY_LEN) < 0;

		if (p->last_handshake_sec || (!fresh && !restarted_has(r, p->public_key)) ||
		    smaller != (round == 0))
			continue;
		/* device_get gives the preshared key back: the entry is set again as it was. */
		ret = backend->peer_remove(&ref, p->public_key);
		if (!ret)
			ret = backend->peer_set(&ref, p);
	}
	if (ret)
		log_error("endpoint %.12s: renewing the peers of link %s: %s", ep->id, ep->ifname,
			  strerror(-ret));
	wgdev_clear(&now);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void reconcile_endpoints(void)
{
	struct restarted r = { 0 };

	for (struct network *n = network_first(); n; n = n->next)
		restore_network(n, &r);
	for (struct network *n = network_first(); n; n = n->next)
		for (const struct endpoint *ep = n->endpoints; ep; ep = ep->next)
			if (ep->joined)
				sync_peers(ep, &r);
	for (int round = 0; r.n && round < 2; round++) {
		sleep_ms(RECONCILE_SETTLE_MS);
		for (struct network *n = network_first(); n; n = n->next)
			for (const struct endpoint *ep = n->endpoints; ep; ep = ep->next)
				if (ep->joined)
					settle_peers(ep, &r, round);
	}
	free(r.ep);
}
