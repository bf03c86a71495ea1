// SPDX-License-Identifier: MIT
#include "endpoint.h"

#include "addr.h"
#include "backend.h"
#include "backends.h"
#include "errmsg.h"
#include "field.h"
#include "identity.h"
#include "keystore.h"
#include "log.h"
#include "peers.h"
#include "state.h"
#include "udpport.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void (*resolver)(const struct endpoint *ep);

void endpoint_set_resolver(void (*resolve)(const struct endpoint *ep))
{
	resolver = resolve;
}

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
	links_free(&ep->links);
	free(ep->sandbox);
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

static void append_endpoint(struct network *net, struct endpoint *ep)
{
	struct endpoint **tail = &net->endpoints;

	while (*tail)
		tail = &(*tail)->next;
	ep->next = NULL;
	*tail = ep;
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
		return errmsg_set(
			err, -EINVAL,
			"Interface.MacAddress: a WireGuard link has no MAC address; do not "
			"set one on this network (got \"%.40s\")",
			mac);
	if (!addr4 && !addr6)
		return errmsg_set(
			err, -EINVAL,
			"Interface.Address: missing; expected an IPv4 address with prefix "
			"length (the network needs an IPAM subnet)");
	if (addr4 && addr_parse(addr4, AF_INET, &ep->addr4))
		return errmsg_set(err, -EINVAL,
				  "Interface.Address: expected an IPv4 address with prefix length "
				  "such as 10.0.0.2/24, got \"%.60s\"",
				  addr4);
	if (addr6 && addr_parse(addr6, AF_INET6, &ep->addr6))
		return errmsg_set(
			err, -EINVAL,
			"Interface.AddressIPv6: expected an IPv6 address with prefix length "
			"such as fd00::2/64, got \"%.60s\"",
			addr6);
	return 0;
}

static bool same_address(const struct wg_allowedip *a, const struct wg_allowedip *b)
{
	if (!a->family || a->family != b->family)
		return false;
	return a->family == AF_INET ? a->ip4.s_addr == b->ip4.s_addr
				    : !memcmp(&a->ip6, &b->ip6, sizeof(a->ip6));
}

static int check_unique(const struct endpoint *ep, char *err)
{
	char buf[ADDR_STRLEN];

	for (struct network *n = network_first(); n; n = n->next) {
		for (const struct endpoint *o = n->endpoints; o; o = o->next) {
			if (!strcmp(o->ifname, ep->ifname))
				return errmsg_set(err, -EEXIST,
						  "EndpointID: link name %s is taken by endpoint "
						  "%.12s",
						  ep->ifname, o->id);
			if (n != ep->net)
				continue;
			if (same_address(&o->addr4, &ep->addr4) ||
			    same_address(&o->addr6, &ep->addr6))
				return errmsg_set(err, -EEXIST,
						  "Interface: address %s is used by endpoint %.12s",
						  addr_format(same_address(&o->addr4, &ep->addr4)
								      ? &ep->addr4
								      : &ep->addr6,
							      buf),
						  o->id);
		}
	}
	return 0;
}

/* The endpoint's own wg.backend, else its network's, else the daemon's default. */
static int choose_backend(struct endpoint *ep, const json_t *options, char *err)
{
	const json_t *v = options ? json_object_get(options, BACKENDS_OPTION) : NULL;

	if (v && !json_is_string(v))
		return errmsg_set(err, -EINVAL, "Options." BACKENDS_OPTION ": expected a string");
	if (v)
		return backends_choose(json_string_value(v), "Options." BACKENDS_OPTION,
				       &ep->backend, err);
	ep->backend = ep->net->opts.backend ? ep->net->opts.backend : backends_default();
	if (!ep->backend)
		return errmsg_set(err, -ENOTSUP, "endpoint %.12s: this daemon has no backend",
				  ep->id);
	return 0;
}

int endpoint_create(struct network *net, const char *id, const json_t *iface, const json_t *options,
		    char *err)
{
	uint8_t key[WG_KEY_LEN];
	struct endpoint *ep;
	bool created = false;
	int ret;

	if (endpoint_find(net, id))
		return errmsg_set(err, -EEXIST, "EndpointID %.12s: exists already", id);
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return errmsg_set(err, -ENOMEM, "out of memory");
	memcpy(ep->id, id, NETWORK_ID_LEN);
	ep->net = net;
	snprintf(ep->ifname, sizeof(ep->ifname), "%s%.*s", ENDPOINT_IFNAME_PREFIX,
		 ENDPOINT_IFNAME_IDCHARS, id);
	ret = parse_interface(ep, iface, err);
	if (!ret)
		ret = check_unique(ep, err);
	if (!ret)
		ret = choose_backend(ep, options, err);
	if (!ret)
		ret = identity_from_options(ep, options, resolver != NULL, err);
	if (ret)
		goto err_free;
	ret = keystore_identity_get(ep->key_ref, true, key, &created);
	if (ret) {
		errmsg_set(err, ret, "endpoint %.12s: identity key: %s", id, keystore_error());
		goto err_free;
	}
	keystore_public_key(ep->public_key, key);
	sodium_memzero(key, sizeof(key));
	append_endpoint(net, ep);
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
		keystore_identity_delete(ep->key_ref);
err_free:
	endpoint_free(ep);
	return ret;
}

static bool port_taken(uint16_t port, void *ctx)
{
	for (struct network *n = network_first(); n; n = n->next)
		for (const struct endpoint *o = n->endpoints; o; o = o->next)
			if (o->listen_port == port)
				return true;
	return false;
}

/* Removes EP from the first N joined peers of its network (rollback and Leave). */
static void remove_from_peers(struct endpoint *ep, size_t n)
{
	struct wg_link_ref ref;
	int ret;

	for (struct endpoint *o = ep->net->endpoints; o && n; o = o->next) {
		if (!peers_linked(ep, o))
			continue;
		n--;
		ref = endpoint_link_ref(o);
		ret = o->backend->peer_remove(&ref, ep->public_key);
		if (ret)
			log_warn("endpoint %.12s: removing peer %.12s: %s", o->id, ep->id,
				 strerror(-ret));
	}
}

/* Adds EP as a peer on every joined endpoint of its network; on failure undoes what it did. */
static int add_to_peers(struct endpoint *ep, char *err)
{
	struct wg_link_ref ref;
	struct wg_peer peer;
	size_t done = 0;
	int ret = 0;

	for (struct endpoint *o = ep->net->endpoints; o; o = o->next) {
		if (!peers_linked(ep, o))
			continue;
		ret = peers_entry(o, ep, &peer, err);
		if (ret)
			break;
		ref = endpoint_link_ref(o);
		ret = o->backend->peer_set(&ref, &peer);
		sodium_memzero(&peer, sizeof(peer));
		if (ret) {
			errmsg_set(err, ret,
				   "endpoint %.12s: adding peer %.12s to endpoint %.12s: %s",
				   ep->id, ep->id, o->id, strerror(-ret));
			break;
		}
		done++;
	}
	if (ret)
		remove_from_peers(ep, done);
	return ret;
}

static int create_link(struct endpoint *ep, char *err)
{
	struct wg_device dev = { 0 };
	int ret;

	snprintf(dev.name, sizeof(dev.name), "%s", ep->ifname);
	dev.listen_port = ep->listen_port;
	dev.mtu = ep->net->opts.mtu;
	ret = keystore_identity_get(ep->key_ref, false, dev.private_key, NULL);
	if (ret) {
		errmsg_set(err, ret, "endpoint %.12s: identity key: %s", ep->id, keystore_error());
		goto out;
	}
	dev.has_private_key = true;
	ret = peers_build(ep, &dev, err);
	if (ret)
		goto out;
	ret = ep->backend->link_create(&dev);
	if (ret)
		errmsg_set(err, ret, "endpoint %.12s: creating %s link %s (port %u): %s", ep->id,
			   ep->backend->name, ep->ifname, ep->listen_port, strerror(-ret));
out:
	wgdev_clear(&dev);
	return ret;
}

bool endpoint_shares_sandbox(const struct endpoint *ep)
{
	if (!ep->sandbox)
		return false;
	for (const struct network *n = network_first(); n; n = n->next)
		for (const struct endpoint *o = n->endpoints; o; o = o->next)
			if (o != ep && o->joined && o->sandbox && !strcmp(o->sandbox, ep->sandbox))
				return true;
	return false;
}

int endpoint_join(struct endpoint *ep, const char *sandbox, char *ifname, bool *ipv6, char *err)
{
	char *sandbox_copy = NULL;
	int ret;

	if (ep->joined)
		return errmsg_set(err, -EEXIST, "endpoint %.12s: joined already", ep->id);
	if (sandbox && !(sandbox_copy = strdup(sandbox)))
		return errmsg_set(err, -ENOMEM, "out of memory");
	if (!ep->listen_port) {
		ret = udpport_pick(port_taken, NULL, &ep->listen_port);
		if (ret) {
			errmsg_set(err, ret, "endpoint %.12s: no free UDP port: %s", ep->id,
				   strerror(-ret));
			goto err_free;
		}
	}
	ep->joined = true; /* peers_linked() counts joined endpoints only */
	ret = create_link(ep, err);
	if (ret)
		goto err_unjoin;
	ret = add_to_peers(ep, err);
	if (ret)
		goto err_delete_link;
	free(ep->sandbox);
	ep->sandbox = sandbox_copy;
	ret = state_save(ep->net, err);
	if (ret)
		goto err_remove_peers;
	snprintf(ifname, IFNAMSIZ, "%s", ep->ifname);
	*ipv6 = ep->addr6.family != 0;
	log_info("endpoint %.12s: joined; link %s, UDP port %u, %zu peers%s", ep->id, ep->ifname,
		 ep->listen_port, peers_count(ep),
		 ep->pending ? "; waiting for its container's links and labels" : "");
	if (ep->pending && resolver)
		resolver(ep);
	return 0;

err_remove_peers:
	remove_from_peers(ep, SIZE_MAX);
	sandbox_copy = ep->sandbox;
	ep->sandbox = NULL;
err_delete_link:
	ep->backend->link_delete(ep->ifname);
err_unjoin:
	ep->joined = false;
err_free:
	free(sandbox_copy);
	return ret;
}

int endpoint_leave(struct endpoint *ep, char *err)
{
	if (!ep->joined)
		return 0;
	remove_from_peers(ep, SIZE_MAX);
	ep->joined = false;
	free(ep->sandbox);
	ep->sandbox = NULL;
	return state_save(ep->net, err);
}

int endpoint_delete(struct endpoint *ep, char *err)
{
	struct network *net = ep->net;
	int ret;

	ret = endpoint_leave(ep, err);
	if (ret)
		return ret;
	ret = ep->backend->link_delete(ep->ifname);
	if (ret)
		return errmsg_set(err, ret, "endpoint %.12s: deleting link %s: %s", ep->id,
				  ep->ifname, strerror(-ret));
	unlink_endpoint(ep);
	ret = state_save(net, err);
	if (ret) {
		append_endpoint(net, ep);
		return ret;
	}
	/* Keys go after the state: a crash in between leaves an unused key, never a dangling
	 * endpoint without its key. A named identity is kept for the next endpoint that names it.
	 */
	if (!endpoint_key_named(ep) &&
	    (keystore_psk_delete_all(ep->key_ref) || keystore_identity_delete(ep->key_ref)))
		log_warn("endpoint %.12s: deleting its keys: %s", ep->id, keystore_error());
	log_info("endpoint %.12s: deleted", ep->id);
	endpoint_free(ep);
	return 0;
}

/* Reconfigures EP's link with its port and its current peers; KEY (NULL: unchanged) becomes its
 * private key. LINK_PUB is the public key the link has now. */
static int reconfigure_link(struct endpoint *ep, const uint8_t *link_pub, const uint8_t *key,
			    char *err)
{
	struct wg_link_ref ref = { .ifname = ep->ifname,
				   .sandbox = ep->sandbox,
				   .public_key = link_pub,
				   .listen_port = ep->listen_port };
	struct wg_device dev = { .listen_port = ep->listen_port };
	int ret;

	if (key) {
		memcpy(dev.private_key, key, WG_KEY_LEN);
		dev.has_private_key = true;
	}
	ret = peers_build(ep, &dev, err);
	if (!ret) {
		ret = ep->backend->device_set(&ref, &dev);
		if (ret)
			errmsg_set(err, ret, "endpoint %.12s: reconfiguring link %s: %s", ep->id,
				   ep->ifname, strerror(-ret));
	}
	wgdev_clear(&dev);
	return ret;
}

/* Swaps EP's identity, links and waiting flag with those in SAVED (the other half of a swap). */
static void swap_resolution(struct endpoint *ep, struct endpoint *saved)
{
	struct endpoint tmp;

	memcpy(tmp.key_ref, ep->key_ref, sizeof(tmp.key_ref));
	memcpy(tmp.public_key, ep->public_key, WG_KEY_LEN);
	tmp.links = ep->links;
	tmp.pending = ep->pending;
	memcpy(ep->key_ref, saved->key_ref, sizeof(ep->key_ref));
	memcpy(ep->public_key, saved->public_key, WG_KEY_LEN);
	ep->links = saved->links;
	ep->pending = saved->pending;
	memcpy(saved->key_ref, tmp.key_ref, sizeof(saved->key_ref));
	memcpy(saved->public_key, tmp.public_key, WG_KEY_LEN);
	saved->links = tmp.links;
	saved->pending = tmp.pending;
}

/* Puts EP's link back to identity KEY_REF without peers; LINK_PUB is the public key it has now. */
static void restore_link(const struct endpoint *ep, const char *key_ref, const uint8_t *link_pub)
{
	struct wg_link_ref ref = { .ifname = ep->ifname,
				   .sandbox = ep->sandbox,
				   .public_key = link_pub,
				   .listen_port = ep->listen_port };
	struct wg_device dev = { .listen_port = ep->listen_port, .has_private_key = true };
	int ret;

	ret = keystore_identity_get(key_ref, false, dev.private_key, NULL);
	if (!ret)
		ret = ep->backend->device_set(&ref, &dev);
	wgdev_clear(&dev);
	if (ret)
		log_warn("endpoint %.12s: restoring link %s to key %s: %s", ep->id, ep->ifname,
			 key_ref, strerror(-ret));
}

/* Installs NEW (private key KEY, or NULL when the key stays) on EP and, when EP is joined, on its
 * link and its peers. On failure EP and its link are as before (waiting, no peers) and NEW holds
 * what it held. */
static int install_resolution(struct endpoint *ep, struct endpoint *new, const uint8_t *key,
			      char *err)
{
	uint8_t old_pub[WG_KEY_LEN];
	int ret;

	memcpy(old_pub, ep->public_key, WG_KEY_LEN);
	swap_resolution(ep, new);
	if (ep->joined) {
		ret = reconfigure_link(ep, old_pub, key, err);
		if (ret)
			goto err_swap_back;
		ret = add_to_peers(ep, err);
		if (ret)
			goto err_restore_link;
	}
	ret = state_save(ep->net, err);
	if (ret)
		goto err_remove_peers;
	return 0;

err_remove_peers:
	if (ep->joined)
		remove_from_peers(ep, SIZE_MAX);
err_restore_link:
	if (ep->joined)
		restore_link(ep, new->key_ref, ep->public_key);
err_swap_back:
	swap_resolution(ep, new);
	return ret;
}

int endpoint_resolve(struct endpoint *ep, const char *key_ref, struct link_set *links, char *err)
{
	struct endpoint new = { .pending = false };
	uint8_t key[WG_KEY_LEN];
	bool created = false, changed;
	int ret;

	if (!ep->pending)
		return 0;
	if (!key_ref)
		key_ref = ep->key_ref;
	changed = strcmp(key_ref, ep->key_ref) != 0;
	ret = links_check_ref(key_ref, "label wireguard.key", err);
	if (!ret)
		ret = identity_check(ep, key_ref, links, false, "label wireguard.key", err);
	if (ret)
		return ret;
	ret = keystore_identity_get(key_ref, true, key, &created);
	if (ret)
		return errmsg_set(err, ret, "endpoint %.12s: identity key %s: %s", ep->id, key_ref,
				  keystore_error());
	snprintf(new.key_ref, sizeof(new.key_ref), "%s", key_ref);
	keystore_public_key(new.public_key, key);
	new.links = *links;
	memset(links, 0, sizeof(*links));
	ret = install_resolution(ep, &new, changed ? key : NULL, err);
	sodium_memzero(key, sizeof(key));
	if (ret) {
		*links = new.links;
		if (created)
			keystore_identity_delete(key_ref);
		return ret;
	}
	/* NEW now holds what EP had: the generated key it no longer uses goes. */
	if (changed && !strcmp(new.key_ref, ep->id) &&
	    (keystore_psk_delete_all(new.key_ref) || keystore_identity_delete(new.key_ref)))
		log_warn("endpoint %.12s: deleting its generated key: %s", ep->id,
			 keystore_error());
	links_free(&new.links);
	log_info("endpoint %.12s: resolved; key %s, %zu link(s), %zu peers", ep->id, ep->key_ref,
		 ep->links.n, ep->joined ? peers_count(ep) : 0);
	return 0;
}

json_t *endpoint_info(const struct endpoint *ep)
{
	char pub[sodium_base64_ENCODED_LEN(WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];
	char *links = links_format(&ep->links);
	json_t *info;

	sodium_bin2base64(pub, sizeof(pub), ep->public_key, WG_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	info = json_pack("{s:s, s:s, s:s, s:s, s:i, s:b, s:I, s:s, s:s, s:b}", "ifname", ep->ifname,
			 "backend", ep->backend->name, "backend_reason",
			 backends_reason(ep->backend), "public_key", pub, "listen_port",
			 ep->listen_port, "joined", ep->joined, "peers",
			 (json_int_t)(ep->joined ? peers_count(ep) : 0), "key", ep->key_ref,
			 "links", links ? links : "", "pending", ep->pending);
	free(links);
	return info;
}
