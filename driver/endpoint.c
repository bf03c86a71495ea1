// SPDX-License-Identifier: MIT
#include "endpoint.h"

#include "addr.h"
#include "backend.h"
#include "backends.h"
#include "cluster.h"
#include "errmsg.h"
#include "field.h"
#include "identity.h"
#include "keystore.h"
#include "log.h"
#include "peers.h"
#include "peersync.h"
#include "quote.h"
#include "state.h"
#include "udpport.h"
#include "wgd.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Links created with a port another process took in the meantime are tried again on another. */
#define ENDPOINT_PORT_TRIES 16

bool endpoint_key_named(const struct endpoint *ep)
{
	return strcmp(ep->key_ref, ep->id) != 0;
}

struct endpoint *endpoint_find(const struct network *net, const char *id)
{
	for (struct endpoint *ep = net->endpoints; ep; ep = ep->next)
		if (!strcmp(ep->id, id))
			return ep;
	return NULL;
}

void endpoint_free(struct endpoint *ep)
{
	if (!ep)
		return;
	peersync_release(ep);
	links_free(&ep->links);
	free(ep->sandbox);
	free(ep->host);
	free(ep->outside);
	free(ep);
}

struct wg_link_ref endpoint_link_ref(const struct endpoint *ep)
{
	return (struct wg_link_ref){ .ifname = ep->ifname,
				     .sandbox = ep->sandbox,
				     .public_key = ep->public_key,
				     .listen_port = ep->listen_port };
}

static void unlink_endpoint(struct endpoint *ep)
{
	for (struct endpoint **p = &ep->net->endpoints; *p; p = &(*p)->next) {
		if (*p == ep) {
			*p = ep->next;
			return;
		}
	}
}

void endpoint_append(struct network *net, struct endpoint *ep)
{
	struct endpoint **tail = &net->endpoints;

	while (*tail)
		tail = &(*tail)->next;
	ep->next = NULL;
	*tail = ep;
}

int endpoint_new(struct network *net, const char *id, struct endpoint **out, char *err)
{
	struct endpoint *ep = calloc(1, sizeof(*ep));

	*out = NULL;
	if (!ep)
		return errmsg_set(err, -ENOMEM, "out of memory");
	memcpy(ep->id, id, NETWORK_ID_LEN);
	ep->net = net;
	/* The link's name follows from the ID alone, so nothing else can name another link. */
	snprintf(ep->ifname, sizeof(ep->ifname), "%s%.*s", ENDPOINT_IFNAME_PREFIX,
		 ENDPOINT_IFNAME_IDCHARS, id);
	*out = ep;
	return 0;
}

static int parse_interface(struct endpoint *ep, const json_t *iface, char *err)
{
	const char *addr4 = NULL, *addr6 = NULL, *mac = NULL;
	int ret;

	if (!iface)
		return errmsg_set(err, -EINVAL, "Interface: missing; expected the IPAM addresses");
	ret = field_string_opt(iface, "Address", "Interface.Address", &addr4, err);
	if (!ret)
		ret = field_string_opt(iface, "AddressIPv6", "Interface.AddressIPv6", &addr6, err);
	if (!ret)
		ret = field_string_opt(iface, "MacAddress", "Interface.MacAddress", &mac, err);
	if (ret)
		return ret;
	if (mac)
		return errmsg_set(err, -EINVAL,
				  "Interface.MacAddress: a WireGuard link has no MAC address; do "
				  "not set one on this network (got \"%s\")",
				  QUOTE(mac, 40));
	if (!addr4 && !addr6)
		return errmsg_set(
			err, -EINVAL,
			"Interface.Address: missing; expected an IPv4 address with prefix "
			"length (the network needs an IPAM subnet)");
	if (addr4 && addr_parse(addr4, AF_INET, &ep->addr4))
		return errmsg_set(err, -EINVAL,
				  "Interface.Address: expected an IPv4 address with prefix length "
				  "such as 10.0.0.2/24, got \"%s\"",
				  QUOTE(addr4, 60));
	if (addr6 && addr_parse(addr6, AF_INET6, &ep->addr6))
		return errmsg_set(err, -EINVAL,
				  "Interface.AddressIPv6: expected an IPv6 address with prefix "
				  "length such as fd00::2/64, got \"%s\"",
				  QUOTE(addr6, 60));
	return 0;
}

static bool same_address(const struct wg_allowedip *a, const struct wg_allowedip *b)
{
	if (!a->family || a->family != b->family)
		return false;
	return a->family == AF_INET ? a->ip4.s_addr == b->ip4.s_addr
				    : !memcmp(&a->ip6, &b->ip6, sizeof(a->ip6));
}

/* EP against the endpoints of N: link names are unique on the host, addresses on a network. */
static int check_unique_in(const struct endpoint *ep, const struct network *n, const char *what,
			   char *err)
{
	const struct wg_allowedip *a;
	char buf[ADDR_STRLEN];

	for (const struct endpoint *o = n->endpoints; o; o = o->next) {
		if (o == ep)
			continue;
		if (!strcmp(o->ifname, ep->ifname))
			return errmsg_set(err, -EEXIST,
					  "EndpointID: link name %s is taken by endpoint %.12s",
					  ep->ifname, o->id);
		if (n != ep->net)
			continue;
		a = same_address(&o->addr4, &ep->addr4)	  ? &ep->addr4
		    : same_address(&o->addr6, &ep->addr6) ? &ep->addr6
							  : NULL;
		if (a)
			return errmsg_set(err, -EEXIST, "%s: address %s is used by endpoint %.12s",
					  what, addr_format(a, buf), o->id);
	}
	for (const struct endpoint *o = n->outside; o && n == ep->net; o = o->next) {
		a = o == ep				  ? NULL
		    : same_address(&o->addr4, &ep->addr4) ? &ep->addr4
		    : same_address(&o->addr6, &ep->addr6) ? &ep->addr6
							  : NULL;
		if (a)
			return errmsg_set(err, -EEXIST,
					  "%s: address %s is used by outside peer %s "
					  "(wgctl peer list)",
					  what, addr_format(a, buf), o->key_ref);
	}
	return 0;
}

int endpoint_check_unique(const struct endpoint *ep, const char *what, char *err)
{
	const struct wgd *d = ep->net->d;
	int ret = 0;

	for (const struct network *n = d->networks; n && !ret; n = n->next)
		ret = check_unique_in(ep, n, what, err);
	/* A network being loaded from its file is not in the daemon's list yet. */
	if (!ret && network_find(d, ep->net->id) != ep->net)
		ret = check_unique_in(ep, ep->net, what, err);
	return ret;
}

/* The endpoint's own wg.backend, else its network's, else the daemon's default. */
static int choose_backend(struct endpoint *ep, const json_t *options, char *err)
{
	const struct backends *b = &ep->net->d->backends;
	const json_t *v = options ? json_object_get(options, BACKENDS_OPTION) : NULL;

	if (v && !json_is_string(v))
		return errmsg_set(err, -EINVAL, "Options." BACKENDS_OPTION ": expected a string");
	if (v)
		return backends_choose(b, json_string_value(v), "Options." BACKENDS_OPTION,
				       &ep->backend, err);
	ep->backend = ep->net->opts.backend ? ep->net->opts.backend : backends_default(b);
	if (!ep->backend)
		return errmsg_set(err, -ENOTSUP, "endpoint %.12s: this daemon has no backend",
				  ep->id);
	return 0;
}

int endpoint_create(struct network *net, const char *id, const json_t *iface, const json_t *options,
		    char *err)
{
	struct wgd *d = net->d;
	uint8_t key[WG_KEY_LEN];
	struct endpoint *ep;
	bool created = false;
	int ret;

	wgd_assert_locked(d);
	if (endpoint_find(net, id))
		return errmsg_set(err, -EEXIST, "EndpointID %.12s: exists already", id);
	ret = endpoint_new(net, id, &ep, err);
	if (ret)
		return ret;
	ret = parse_interface(ep, iface, err);
	if (!ret)
		ret = endpoint_check_unique(ep, "Interface", err);
	if (!ret)
		ret = choose_backend(ep, options, err);
	if (!ret)
		ret = identity_from_options(ep, options, d->resolve != NULL, err);
	if (ret)
		goto err_free;
	ret = keystore_identity_get(d->keys, ep->key_ref, true, key, &created);
	if (ret) {
		errmsg_set(err, ret, "endpoint %.12s: identity key: %s", id, keystore_error());
		goto err_free;
	}
	keystore_public_key(ep->public_key, key);
	sodium_memzero(key, sizeof(key));
	endpoint_append(net, ep);
	ret = state_save(net, err);
	if (ret)
		goto err_unlink;
	if (endpoint_key_named(ep) || ep->links.n)
		log_info("endpoint %.12s: key %s%s, %zu link(s)", id, ep->key_ref,
			 created ? " (new)" : "", ep->links.n);
	return 0;

err_unlink:
	unlink_endpoint(ep);
	if (created)
		keystore_identity_delete(d->keys, ep->key_ref);
err_free:
	endpoint_free(ep);
	return ret;
}

static bool port_taken(const struct wgd *d, uint16_t port)
{
	for (const struct network *n = d->networks; n; n = n->next)
		for (const struct endpoint *o = n->endpoints; o; o = o->next)
			if (o->listen_port == port)
				return true;
	return false;
}

static bool port_taken_cb(uint16_t port, void *d)
{
	return port_taken(d, port);
}

/* The port EP's link is to listen on: one it had (a Join after a Leave keeps it), else one of the
 * daemon's range that no endpoint has, else one free on the host now that no endpoint has. Never
 * 0 for the backend to pick: a kernel link binds its port only once it is up, which Docker does
 * later in the sandbox, and wireguard-go only once it has seen its TUN up, so a port read back
 * at creation is 0, or not yet the one it will have. AFTER is the port that was just taken by
 * someone else (0: none). -EADDRINUSE when the range is full. */
static int choose_port(struct endpoint *ep, uint16_t after, char *err)
{
	const struct wgd *d = ep->net->d;
	unsigned span, start;

	if (ep->listen_port && !after)
		return 0;
	ep->listen_port = 0;
	if (!d->port_min && udpport_pick(port_taken_cb, (void *)d, &ep->listen_port))
		return errmsg_set(err, -EADDRINUSE, "endpoint %.12s: no free UDP port on the host",
				  ep->id);
	if (!d->port_min)
		return 0;
	span = (unsigned)d->port_max - d->port_min + 1;
	start = after ? (unsigned)(after - d->port_min) + 1 : randombytes_uniform(span);
	for (unsigned i = 0; i < span; i++) {
		uint16_t port = (uint16_t)(d->port_min + (start + i) % span);

		if (!port_taken(d, port)) {
			ep->listen_port = port;
			return 0;
		}
	}
	return errmsg_set(err, -EADDRINUSE,
			  "endpoint %.12s: every UDP port of WG_PORTS %u-%u is in use: widen the "
			  "range (docker plugin set ... WG_PORTS=LOW-HIGH)",
			  ep->id, d->port_min, d->port_max);
}

/* The device EP's link starts as: key, port, MTU and the peers it has now. */
static int build_device(const struct endpoint *ep, struct wg_device *dev, char *err)
{
	int ret;

	memset(dev, 0, sizeof(*dev));
	snprintf(dev->name, sizeof(dev->name), "%s", ep->ifname);
	dev->listen_port = ep->listen_port;
	dev->mtu = ep->net->opts.mtu;
	ret = keystore_identity_get(ep->net->d->keys, ep->key_ref, false, dev->private_key, NULL);
	if (ret)
		return errmsg_set(err, ret, "endpoint %.12s: identity key: %s", ep->id,
				  keystore_error());
	dev->has_private_key = true;
	return peers_build(ep, dev, err);
}

/* Looks up endpoint EID of network NID for a call that works outside the lock, and marks it
 * busy. */
static int claim(struct wgd *d, const char *nid, const char *eid, bool lenient,
		 struct endpoint **out, char *err)
{
	struct network *net = network_find(d, nid);
	struct endpoint *ep = net ? endpoint_find(net, eid) : NULL;

	*out = NULL;
	if (!net)
		return lenient ? 0 : state_network_error(d, nid, err);
	if (!ep)
		return lenient ? 0
			       : errmsg_set(err, -ENOENT,
					    "EndpointID %.12s: no such endpoint on network %.12s",
					    eid, nid);
	if (ep->busy)
		return errmsg_set(err, -EBUSY,
				  "endpoint %.12s: another call for it is in progress; try again",
				  eid);
	ep->busy = true;
	*out = ep;
	return 0;
}

static int join_begin(struct endpoint *ep, struct wg_device *dev, char *err)
{
	int ret;

	if (ep->joined)
		return errmsg_set(err, -EEXIST, "endpoint %.12s: joined already", ep->id);
	ret = choose_port(ep, 0, err);
	if (ret)
		return ret;
	/* Its peers as they will be once it has joined (peers_linked counts joined endpoints);
	 * no one sees it joined meanwhile: the lock is held. */
	ep->joined = true;
	ret = build_device(ep, dev, err);
	ep->joined = false;
	return ret;
}

/* Makes the link of the device DEV (a copy of EP's, made under the lock) with its own port or
 * another when that one turns out to be taken; the lock is held on entry and exit. */
static int make_link(struct wgd *d, struct endpoint *ep, struct wg_device *dev, char *err)
{
	const struct backend_ops *backend = ep->backend;
	char why[ERRMSG_LEN / 2];
	uint16_t port = 0;
	int ret = 0;

	for (int tries = 0; tries < ENDPOINT_PORT_TRIES; tries++) {
		dev->listen_port = ep->listen_port;
		wgd_unlock(d);
		ret = backend->link_create(dev, &port);
		wgd_lock(d);
		if (ret != -EADDRINUSE)
			break;
		/* Another process bound it between our choice and the link's bind. */
		ret = choose_port(ep, dev->listen_port ? dev->listen_port : 1, err);
		if (ret)
			return ret;
	}
	if (ret && backend->limit_explain &&
	    backend->limit_explain(ep->ifname, ret, why, sizeof(why)))
		return errmsg_set(err, ret, "endpoint %.12s: creating %s link %s: %s", ep->id,
				  backend->name, ep->ifname, why);
	if (ret)
		return errmsg_set(err, ret, "endpoint %.12s: creating %s link %s (port %u): %s",
				  ep->id, backend->name, ep->ifname, dev->listen_port,
				  strerror(-ret));
	ep->listen_port = port;
	return 0;
}

static bool shares_sandbox(const struct endpoint *ep)
{
	for (const struct network *n = ep->net->d->networks; n; n = n->next)
		for (const struct endpoint *o = n->endpoints; o; o = o->next)
			if (o != ep && o->joined && o->sandbox && !strcmp(o->sandbox, ep->sandbox))
				return true;
	return false;
}

static bool dev_has_peer(const struct wg_device *dev, const uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; i < dev->n_peers; i++)
		if (!memcmp(dev->peers[i].public_key, key, WG_KEY_LEN))
			return true;
	return false;
}

/* The link was made outside the lock with the peers of DEV: marks the peers that came or went
 * since, and nothing else (at scale a Join must not set its many peers twice). */
static void mark_changed_peers(struct endpoint *ep, const struct wg_device *dev)
{
	const struct network *net = ep->net;
	bool linked, had;

	for (const struct endpoint *o = peers_first(net); o; o = peers_next(net, o)) {
		linked = peers_linked(ep, o);
		had = dev_has_peer(dev, o->public_key);
		if (linked && !had)
			peersync_touch_moved(ep, o->public_key);
		else if (!linked && had)
			peersync_touch(ep, o->public_key);
	}
	for (size_t i = 0; i < dev->n_peers; i++) {
		bool still = false;

		for (const struct endpoint *o = peers_first(net); o && !still;
		     o = peers_next(net, o))
			still = !memcmp(o->public_key, dev->peers[i].public_key, WG_KEY_LEN);
		if (!still)
			peersync_touch(ep, dev->peers[i].public_key);
	}
}

/* EP's link exists with the peers of DEV: EP joins the model, is saved, and the others learn
 * it. */
static int join_end(struct endpoint *ep, const struct wg_device *dev, const char *sandbox,
		    struct endpoint_join_answer *out, char *err)
{
	char *copy = NULL;
	int ret;

	if (sandbox && !(copy = strdup(sandbox)))
		return errmsg_set(err, -ENOMEM, "out of memory");
	ep->joined = true;
	ep->sandbox = copy;
	ep->serve = randombytes_random();
	ret = state_save(ep->net, err);
	if (ret) {
		ep->joined = false;
		ep->sandbox = NULL;
		free(copy);
		return ret;
	}
	mark_changed_peers(ep, dev);
	peersync_touch_others_moved(ep, ep->public_key);
	if (ep->net->d->cluster && ep->net->opts.cluster[0])
		cluster_endpoint_changed(ep->net->d->cluster, ep);
	snprintf(out->ifname, sizeof(out->ifname), "%s", ep->ifname);
	out->ipv6 = ep->addr6.family != 0;
	out->default_route = !copy || !shares_sandbox(ep);
	log_info("endpoint %.12s: joined; link %s, UDP port %u, %zu peers%s", ep->id, ep->ifname,
		 ep->listen_port, peers_count(ep),
		 ep->pending ? "; waiting for its container's links and labels" : "");
	/* With engine access: its links and labels when it waits, else its container's name. */
	if (ep->net->d->resolve)
		ep->net->d->resolve(ep->net->d->resolve_ctx, ep);
	return 0;
}

int endpoint_join(struct wgd *d, const char *nid, const char *eid, const char *sandbox,
		  struct endpoint_join_answer *out, char *err)
{
	struct wg_device dev = { 0 };
	struct endpoint *ep;
	int ret, undo;

	wgd_assert_unlocked(d);
	if (sandbox && !field_sandbox_valid(sandbox))
		return errmsg_set(err, -EINVAL,
				  "SandboxKey: expected an absolute path to a network namespace "
				  "file, got \"%s\"",
				  QUOTE(sandbox, 80));
	wgd_lock(d);
	ret = claim(d, nid, eid, false, &ep, err);
	if (ret || !ep)
		goto out_unlock;
	ret = join_begin(ep, &dev, err);
	if (!ret)
		ret = make_link(d, ep, &dev, err);
	if (!ret) {
		ret = join_end(ep, &dev, sandbox, out, err);
		if (ret) {
			/* Not saved: the link must not outlive this call. */
			wgd_unlock(d);
			undo = ep->backend->link_delete(ep->ifname);
			wgd_lock(d);
			if (undo)
				log_error("endpoint %.12s: removing link %s: %s", ep->id,
					  ep->ifname, strerror(-undo));
		}
	}
	ep->busy = false;
out_unlock:
	wgd_unlock(d);
	wgdev_clear(&dev);
	return ret;
}

/* The others forget EP; the lock may be released meanwhile (EP is busy then). */
static int leave(struct endpoint *ep, char *err)
{
	bool busy = ep->busy;

	if (!ep->joined)
		return 0;
	ep->joined = false;
	ep->busy = true;
	peersync_forget(ep);
	ep->busy = busy;
	peersync_touch_others(ep, ep->public_key);
	free(ep->sandbox);
	ep->sandbox = NULL;
	if (ep->net->d->cluster && ep->net->opts.cluster[0])
		cluster_endpoint_changed(ep->net->d->cluster, ep);
	return state_save(ep->net, err);
}

int endpoint_leave(struct endpoint *ep, char *err)
{
	char name[ENDPOINT_NAME_LEN];
	bool joined = ep->joined;
	int ret;

	wgd_assert_locked(ep->net->d);
	if (ep->busy)
		return errmsg_set(err, -EBUSY,
				  "endpoint %.12s: another call for it is in progress; try again",
				  ep->id);
	ret = leave(ep, err);
	if (!ret && joined)
		log_info("endpoint %s: left; its peers forget it", endpoint_name(ep, name));
	return ret;
}

const char *endpoint_name(const struct endpoint *ep, char *buf)
{
	snprintf(buf, ENDPOINT_NAME_LEN, "%.12s%s%s%s", ep->id, ep->container[0] ? " (" : "",
		 ep->container, ep->container[0] ? ")" : "");
	return buf;
}

/* Deletes EP's keys unless they outlive it; a crash before this leaves an unused key, never a
 * dangling endpoint without its key. */
static void delete_keys(const struct endpoint *ep)
{
	struct keystore *ks = ep->net->d->keys;

	if (!endpoint_key_named(ep) &&
	    (keystore_psk_delete_all(ks, ep->key_ref) || keystore_identity_delete(ks, ep->key_ref)))
		log_warn("endpoint %.12s: deleting its keys: %s", ep->id, keystore_error());
}

int endpoint_delete(struct wgd *d, const char *nid, const char *eid, char *err)
{
	struct network *net;
	struct endpoint *ep;
	char ifname[IFNAMSIZ], name[ENDPOINT_NAME_LEN];
	int ret;

	wgd_assert_unlocked(d);
	wgd_lock(d);
	ret = claim(d, nid, eid, true, &ep, err);
	if (ret || !ep)
		goto out_unlock;
	ret = leave(ep, err);
	if (ret)
		goto out_idle;
	memcpy(ifname, ep->ifname, IFNAMSIZ);
	wgd_unlock(d);
	ret = ep->backend->link_delete(ifname);
	wgd_lock(d);
	if (ret) {
		errmsg_set(err, ret, "endpoint %.12s: deleting link %s: %s", ep->id, ifname,
			   strerror(-ret));
		goto out_idle;
	}
	net = ep->net;
	unlink_endpoint(ep);
	ret = state_save(net, err);
	if (ret) {
		endpoint_append(net, ep);
		goto out_idle;
	}
	delete_keys(ep);
	log_info("endpoint %s: deleted", endpoint_name(ep, name));
	endpoint_free(ep);
	goto out_unlock;
out_idle:
	ep->busy = false;
out_unlock:
	wgd_unlock(d);
	return ret;
}

int endpoint_resolve(struct endpoint *ep, const char *key_ref, struct link_set *links, char *err)
{
	struct keystore *ks = ep->net->d->keys;
	char old_ref[KEYSTORE_REF_MAX + 1], new_ref[KEYSTORE_REF_MAX + 1];
	uint8_t key[WG_KEY_LEN], old_pub[WG_KEY_LEN];
	struct link_set old_links;
	bool created = false, changed;
	int ret;

	wgd_assert_locked(ep->net->d);
	if (!ep->pending)
		return 0;
	ret = links_check_ref(key_ref ? key_ref : ep->key_ref, "label wireguard.key", err);
	if (ret)
		return ret;
	snprintf(new_ref, sizeof(new_ref), "%s", key_ref ? key_ref : ep->key_ref);
	key_ref = new_ref;
	changed = strcmp(key_ref, ep->key_ref) != 0;
	ret = identity_check(ep, key_ref, links, false, "label wireguard.key", err);
	if (ret)
		return ret;
	ret = keystore_identity_get(ks, key_ref, true, key, &created);
	if (ret)
		return errmsg_set(err, ret, "endpoint %.12s: identity key %s: %s", ep->id,
				  QUOTE(key_ref, KEYSTORE_REF_MAX), keystore_error());
	memcpy(old_ref, ep->key_ref, sizeof(old_ref));
	memcpy(old_pub, ep->public_key, WG_KEY_LEN);
	old_links = ep->links;
	snprintf(ep->key_ref, sizeof(ep->key_ref), "%s", key_ref);
	keystore_public_key(ep->public_key, key);
	sodium_memzero(key, sizeof(key));
	ep->links = *links;
	ep->pending = false;
	ret = state_save(ep->net, err);
	if (ret) {
		memcpy(ep->key_ref, old_ref, sizeof(old_ref));
		memcpy(ep->public_key, old_pub, WG_KEY_LEN);
		ep->links = old_links;
		ep->pending = true;
		if (created)
			keystore_identity_delete(ks, key_ref);
		return ret;
	}
	memset(links, 0, sizeof(*links));
	links_free(&old_links);
	/* A waiting endpoint had no peers, and no one had it: now its link gets the key it
	 * resolved to and its peers, and they get it. */
	if (ep->joined) {
		if (changed)
			peersync_rekey(ep);
		else
			peersync_touch_all(ep);
		peersync_touch_others_moved(ep, ep->public_key);
		if (ep->net->d->cluster && ep->net->opts.cluster[0])
			cluster_endpoint_changed(ep->net->d->cluster, ep);
	}
	/* The generated key it no longer uses goes (its link has its own copy until rekeyed). */
	if (changed && !strcmp(old_ref, ep->id) &&
	    (keystore_psk_delete_all(ks, old_ref) || keystore_identity_delete(ks, old_ref)))
		log_warn("endpoint %.12s: deleting its generated key: %s", ep->id,
			 keystore_error());
	log_info("endpoint %.12s: resolved; key %s, %zu link(s), %zu peers", ep->id, ep->key_ref,
		 ep->links.n, ep->joined ? peers_count(ep) : 0);
	return 0;
}

json_t *endpoint_info(const struct endpoint *ep)
{
	char pub[sodium_base64_ENCODED_LEN(WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];
	char *links = links_format(&ep->links);
	json_t *info;

	wgd_assert_locked(ep->net->d);
	sodium_bin2base64(pub, sizeof(pub), ep->public_key, WG_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	info = json_pack("{s:s, s:s, s:s, s:s, s:i, s:b, s:I, s:I, s:s, s:s, s:b}", "ifname",
			 ep->ifname, "backend", ep->backend->name, "backend_reason",
			 backends_reason(&ep->net->d->backends, ep->backend), "public_key", pub,
			 "listen_port", ep->listen_port, "joined", ep->joined, "peers",
			 (json_int_t)(ep->joined ? peers_count(ep) : 0), "peers_pending",
			 (json_int_t)peersync_pending(ep), "key", ep->key_ref, "links",
			 links ? links : "", "pending", ep->pending);
	free(links);
	return info;
}
