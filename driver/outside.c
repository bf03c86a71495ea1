// SPDX-License-Identifier: MIT
#include "outside.h"

#include "admin_cmd.h"
#include "cluster.h"
#include "endpoint.h"
#include "errmsg.h"
#include "identity.h"
#include "ipam.h"
#include "keystore.h"
#include "links.h"
#include "log.h"
#include "peers.h"
#include "peersync.h"
#include "quote.h"
#include "state.h"
#include "wgd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define B64_LEN		    sodium_base64_ENCODED_LEN(WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)
#define OUTSIDE_PSK_POLL_MS 100

struct endpoint *outside_find(const struct wgd *d, const char *name)
{
	for (struct network *n = d->networks; n; n = n->next)
		for (struct endpoint *o = n->outside; o; o = o->next)
			if (!strcmp(o->key_ref, name))
				return o;
	return NULL;
}

bool outside_via_valid(const char *text)
{
	struct in6_addr a6;
	size_t len = strlen(text);

	if (inet_pton(AF_INET6, text, &a6) == 1)
		return true;
	/* An IPv4 address is a DNS name as far as these characters go. */
	return len && len <= OUTSIDE_VIA_MAX && text[0] != '-' && text[0] != '.' &&
	       strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") ==
		       len;
}

/* ---- wgctl peer add ---- */

/* What an add has found out under the lock about the network it names. */
struct target_net {
	char id[NETWORK_ID_LEN + 1];
	char pool[2][NETWORK_POOL_LEN]; /* IPv4, IPv6 */
	bool own_ipam;
	bool cluster;
};

/* Address TEXT ("10.50.0.200", or with its prefix) of the network's pools into OUT with the
 * pool's prefix. */
static int parse_address(const char *text, const struct target_net *t, struct wg_allowedip *out,
			 char *err)
{
	int family = strchr(text, ':') ? AF_INET6 : AF_INET;
	const char *pool = t->pool[family == AF_INET6];
	char with[ADDR_STRLEN + 8];
	struct wg_allowedip p;

	if (strchr(text, '/'))
		snprintf(with, sizeof(with), "%s", text);
	else if (*pool)
		snprintf(with, sizeof(with), "%s/%s", text, strchr(pool, '/') + 1);
	else
		snprintf(with, sizeof(with), "%s/%u", text, family == AF_INET ? 32u : 128u);
	if (strlen(text) >= ADDR_STRLEN || addr_parse(with, family, out))
		return errmsg_set(err, -EINVAL,
				  "--address \"%s\": expected an IPv4 or IPv6 address",
				  QUOTE(text, 60));
	if (*pool && !addr_parse(pool, family, &p)) {
		struct wg_allowedip a = *out;

		/* Inside the pool: the same network under the pool's prefix. */
		a.cidr = p.cidr;
		for (int i = p.cidr; i < (family == AF_INET ? 32 : 128); i++) {
			uint8_t *b = family == AF_INET ? (uint8_t *)&a.ip4 : a.ip6.s6_addr;
			uint8_t *c = family == AF_INET ? (uint8_t *)&p.ip4 : p.ip6.s6_addr;

			b[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
			c[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
		}
		if (out->cidr != p.cidr ||
		    memcmp(family == AF_INET ? (void *)&a.ip4 : a.ip6.s6_addr,
			   family == AF_INET ? (void *)&p.ip4 : p.ip6.s6_addr,
			   family == AF_INET ? 4 : 16))
			return errmsg_set(err, -EINVAL,
					  "--address \"%s\": expected an address of the network's "
					  "subnet %s",
					  QUOTE(text, 60), pool);
	}
	return 0;
}

/* The network R names, under the lock, and the checks that need the model. */
static int check_target(struct wgd *d, const struct outside_request *r, struct endpoint *probe,
			struct target_net *t, char *err)
{
	struct network *net;
	const struct endpoint *other;
	int ret;

	ret = network_pick(d, r->network, &net, err);
	if (ret)
		return ret;
	other = outside_find(d, r->name);
	if (other)
		return errmsg_set(
			err, -EEXIST,
			"peer %s: exists already on network %.12s (wgctl peer rm %s first)",
			r->name, other->net->id, r->name);
	probe->net = net;
	ret = identity_check(probe, r->name, &probe->links, true, "--links", err);
	if (ret == -EEXIST)
		return errmsg_set(err, ret,
				  "peer %s: the identity is in use by an endpoint; an outside peer "
				  "needs a name of its own",
				  r->name);
	if (ret)
		return ret;
	memcpy(t->id, net->id, sizeof(t->id));
	snprintf(t->pool[0], sizeof(t->pool[0]), "%s", net->opts.pool4);
	snprintf(t->pool[1], sizeof(t->pool[1]), "%s", net->opts.pool6);
	t->own_ipam = net->opts.own_ipam;
	t->cluster = net->opts.cluster[0] && d->cluster;
	if (net->opts.cluster[0] && !d->cluster)
		return errmsg_set(err, -ENOTSUP,
				  "network %.12s is a cluster network and this host has no cluster "
				  "store now",
				  net->id);
	if (!r->via && !t->cluster)
		return errmsg_set(err, -EINVAL,
				  "--endpoint: give the address or DNS name the peer reaches this "
				  "host at (its configuration names it)");
	return 0;
}

/* The addresses of the peer: from the plugin's IPAM when it serves the network (the ones asked
 * for, or any), else the ones asked for. Without the lock. */
static int take_addresses(struct wgd *d, const struct outside_request *r,
			  const struct target_net *t, struct endpoint *ep, char *err)
{
	struct wg_allowedip a;
	char got[ADDR_STRLEN];
	bool want[2] = { false, false };
	int ret;

	for (int i = 0; i < 2 && r->address[i]; i++) {
		ret = parse_address(r->address[i], t, &a, err);
		if (ret)
			return ret;
		if ((a.family == AF_INET ? ep->addr4 : ep->addr6).family)
			return errmsg_set(err, -EINVAL, "--address: at most one per family");
		if (a.family == AF_INET)
			ep->addr4 = a;
		else
			ep->addr6 = a;
		want[a.family == AF_INET6] = true;
	}
	if (!t->own_ipam) {
		if (!ep->addr4.family && !ep->addr6.family)
			return errmsg_set(
				err, -EINVAL,
				"--address: network %.12s takes its addresses from the "
				"engine's IPAM: give one it does not hand out (docker network "
				"create --ip-range keeps a part of the subnet for them)",
				t->id);
		return 0;
	}
	ep->outside->ipam = true;
	for (int fam = 0; fam < 2; fam++) {
		struct wg_allowedip *slot = fam ? &ep->addr6 : &ep->addr4;
		char ip[ADDR_STRLEN] = "";

		if (!t->pool[fam][0]) {
			if (want[fam])
				return errmsg_set(err, -EINVAL,
						  "--address: network %.12s has no IPv%d subnet",
						  t->id, fam ? 6 : 4);
			continue;
		}
		if (want[fam])
			inet_ntop(fam ? AF_INET6 : AF_INET,
				  fam ? (void *)&slot->ip6 : (void *)&slot->ip4, ip, sizeof(ip));
		ret = ipam_take(d, t->pool[fam], ip, got, err);
		if (!ret)
			ret = addr_parse(got, fam ? AF_INET6 : AF_INET, slot);
		if (ret)
			return ret;
	}
	return 0;
}

static void give_addresses(struct wgd *d, const char pool[2][NETWORK_POOL_LEN],
			   const struct endpoint *ep)
{
	char text[ADDR_STRLEN], err[ERRMSG_LEN];

	if (!ep->outside->ipam)
		return;
	if (ep->addr4.family && pool[0][0] &&
	    ipam_give(d, pool[0], addr_format(&ep->addr4, text), err))
		log_warn("peer %s: giving its address back: %s", ep->key_ref, err);
	if (ep->addr6.family && pool[1][0] &&
	    ipam_give(d, pool[1], addr_format(&ep->addr6, text), err))
		log_warn("peer %s: giving its address back: %s", ep->key_ref, err);
}

/* Its key: the public key given, or identity NAME's (made when missing). */
static int take_key(struct wgd *d, const struct outside_request *r, struct endpoint *ep, char *err)
{
	uint8_t priv[KEYSTORE_KEY_LEN];
	bool created = false;
	int ret;

	if (r->public_key) {
		if (keystore_key_parse(r->public_key, strlen(r->public_key), ep->public_key))
			return errmsg_set(err, -EINVAL,
					  "--public-key: expected a base64 32-byte public key (as "
					  "wg pubkey prints it)");
		ret = keystore_identity_get(d->keys, r->name, false, priv, NULL);
		sodium_memzero(priv, sizeof(priv));
		if (ret != -ENOENT)
			return errmsg_set(
				err, ret ? ret : -EEXIST,
				"--public-key: identity %s exists already with its own key "
				"(leave --public-key out to use it, or wgctl delete %s)",
				r->name, r->name);
		return 0;
	}
	ret = keystore_identity_get(d->keys, r->name, true, priv, &created);
	if (ret)
		return errmsg_set(err, ret, "identity %s: %s", r->name, keystore_error());
	keystore_public_key(ep->public_key, priv);
	sodium_memzero(priv, sizeof(priv));
	ep->outside->key_made = created;
	return 0;
}

struct endpoint *outside_new(char *err)
{
	struct endpoint *ep = calloc(1, sizeof(*ep));
	uint8_t raw[NETWORK_ID_LEN / 2];

	if (!ep || !(ep->outside = calloc(1, sizeof(*ep->outside)))) {
		free(ep);
		errmsg_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	/* An ID as the store's records have one; it names no link. */
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(ep->id, sizeof(ep->id), raw, sizeof(raw));
	ep->joined = true;
	return ep;
}

/* Under the lock: EP joins network T->id's outside list, saved; its peers learn it. */
static int insert(struct wgd *d, const struct target_net *t, struct endpoint *ep, char *err)
{
	struct network *net = network_find(d, t->id);
	struct endpoint **tail;
	int ret;

	if (!net)
		return errmsg_set(err, -ENOENT, "network %.12s: removed meanwhile", t->id);
	if (outside_find(d, ep->key_ref))
		return errmsg_set(err, -EEXIST, "peer %s: added meanwhile", ep->key_ref);
	ep->net = net;
	ret = identity_check_key(ep, ep->key_ref, "peer", err);
	if (!ret)
		ret = endpoint_check_unique(ep, "--address", err);
	if (ret)
		return ret;
	for (tail = &net->outside; *tail; tail = &(*tail)->next)
		;
	*tail = ep;
	ret = state_save(net, err);
	if (ret) {
		*tail = NULL;
		return ret;
	}
	peersync_touch_others(ep, ep->public_key);
	if (t->cluster && d->cluster)
		cluster_endpoint_changed(d->cluster, ep);
	return 0;
}

int outside_add(struct wgd *d, const struct outside_request *r, struct admin_text *out, char *err)
{
	struct target_net t = { 0 };
	struct endpoint *ep;
	char text[2][ADDR_STRLEN] = { "", "" };
	bool claimed = false;
	int ret;

	wgd_assert_unlocked(d);
	ret = links_check_ref(r->name, "peer add", err);
	if (ret)
		return ret;
	if (r->via && !outside_via_valid(r->via))
		return errmsg_set(err, -EINVAL,
				  "--endpoint \"%s\": expected the address or DNS name the peer "
				  "reaches this host at",
				  QUOTE(r->via, 60));
	ep = outside_new(err);
	if (!ep)
		return -ENOMEM;
	snprintf(ep->key_ref, sizeof(ep->key_ref), "%s", r->name);
	if (r->via)
		snprintf(ep->outside->via, sizeof(ep->outside->via), "%s", r->via);
	ret = links_parse(r->links ? r->links : "", r->name, "--links", &ep->links, err);
	if (!ret) {
		wgd_lock(d);
		ret = check_target(d, r, ep, &t, err);
		wgd_unlock(d);
	}
	if (ret)
		goto fail;
	/* Another host may hold the identity: the store is asked without the lock. */
	if (t.cluster) {
		ret = cluster_key_claim(d->cluster, r->name, "peer add", err);
		if (ret)
			goto fail;
		claimed = true;
	}
	ret = take_key(d, r, ep, err);
	if (!ret)
		ret = take_addresses(d, r, &t, ep, err);
	if (ret)
		goto fail;
	wgd_lock(d);
	ret = insert(d, &t, ep, err);
	wgd_unlock(d);
	if (ret)
		goto fail;
	if (ep->addr4.family)
		addr_format(&ep->addr4, text[0]);
	if (ep->addr6.family)
		addr_format(&ep->addr6, text[1]);
	log_info("network %.12s: outside peer %s added (%s%s%s)", t.id, r->name, text[0],
		 text[0][0] && text[1][0] ? ", " : "", text[1]);
	return outside_config(d, r->name, NULL, out, err);

fail:
	give_addresses(d, t.pool, ep);
	if (ep->outside->key_made)
		keystore_identity_delete(d->keys, r->name);
	if (claimed)
		cluster_key_released(d->cluster, r->name);
	endpoint_free(ep);
	return ret;
}

/* ---- wgctl peer config ---- */

static void key_text(const uint8_t key[WG_KEY_LEN], char out[B64_LEN])
{
	sodium_bin2base64(out, B64_LEN, key, WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

/* The [Peer] section of the configuration for endpoint T of O's network, or -EAGAIN while the
 * preshared key of a peer on another host is on its way. Under the lock. */
static int print_peer(const struct endpoint *o, const struct endpoint *t, const char *via,
		      struct admin_text *out, char *err)
{
	struct wg_peer p;
	char pub[B64_LEN], psk[B64_LEN], where[ADDR_ENDPOINT_STRLEN + OUTSIDE_VIA_MAX + 8];
	char a[2][ADDR_STRLEN] = { "", "" };
	struct in6_addr v6;
	int ret;

	ret = peers_entry(o, t, &p, err);
	if (ret)
		return ret;
	if (t->host)
		addr_endpoint_format(&p.endpoint, where);
	else if (inet_pton(AF_INET6, via, &v6) == 1)
		snprintf(where, sizeof(where), "[%s]:%u", via, t->listen_port);
	else
		snprintf(where, sizeof(where), "%s:%u", via, t->listen_port);
	for (size_t i = 0; i < p.n_allowedips; i++)
		addr_format(&p.allowedips[i], a[i]);
	key_text(p.public_key, pub);
	ret = admin_text_printf(out, "\n[Peer]\n# %s%s%sidentity %s, endpoint %.12s%s%s\n",
				t->container[0] ? "container " : "", t->container,
				t->container[0] ? ", " : "", t->key_ref, t->id,
				t->host ? " on host " : "", t->host ? t->host : "");
	if (!ret)
		ret = admin_text_printf(out, "PublicKey = %s\n", pub);
	if (!ret && p.has_preshared_key) {
		key_text(p.preshared_key, psk);
		ret = admin_text_printf(out, "PresharedKey = %s\n", psk);
		sodium_memzero(psk, sizeof(psk));
	}
	if (!ret && where[0])
		ret = admin_text_printf(out, "Endpoint = %s\n", where);
	if (!ret)
		ret = admin_text_printf(out, "AllowedIPs = %s%s%s\nPersistentKeepalive = %u\n",
					a[0], a[1][0] ? ", " : "", a[1],
					o->net->opts.keepalive ? o->net->opts.keepalive
							       : OUTSIDE_KEEPALIVE_DEFAULT);
	sodium_memzero(&p, sizeof(p));
	return ret == -ENOMEM ? errmsg_set(err, ret, "out of memory") : ret;
}

/* The whole configuration of outside peer NAME, under the lock; *MISSING counts the peers left
 * out because their preshared key has not arrived yet. */
static int print_config(struct wgd *d, const char *name, const char *via_arg,
			struct admin_text *out, size_t *missing, char *err)
{
	const struct endpoint *o = outside_find(d, name);
	uint8_t priv[KEYSTORE_KEY_LEN];
	char key[B64_LEN], a[2][ADDR_STRLEN] = { "", "" };
	const char *via;
	size_t n = 0;
	int ret;

	*missing = 0;
	if (!o)
		return errmsg_set(err, -ENOENT, "no outside peer %s (wgctl peer list)", name);
	via = via_arg		   ? via_arg
	      : o->outside->via[0] ? o->outside->via
	      : d->cluster	   ? cluster_host_addr(d->cluster)
				   : "";
	if (o->addr4.family) {
		struct wg_allowedip h = addr_host(&o->addr4);

		addr_format(&h, a[0]);
	}
	if (o->addr6.family) {
		struct wg_allowedip h = addr_host(&o->addr6);

		addr_format(&h, a[1]);
	}
	ret = admin_text_printf(
		out,
		"# wg-quick configuration of outside peer %s on network %s%s%.12s%s\n"
		"# (wgctl peer config %s prints it again as the network changes)\n"
		"[Interface]\n",
		name, o->net->name[0] ? o->net->name : "", o->net->name[0] ? " (" : "", o->net->id,
		o->net->name[0] ? ")" : "", name);
	if (!ret && o->outside->key_made) {
		ret = keystore_identity_get(d->keys, name, false, priv, NULL);
		if (ret)
			return errmsg_set(err, ret, "identity %s: %s", name, keystore_error());
		key_text(priv, key);
		sodium_memzero(priv, sizeof(priv));
		ret = admin_text_printf(out, "PrivateKey = %s\n", key);
		sodium_memzero(key, sizeof(key));
	} else if (!ret) {
		ret = keystore_identity_get(d->keys, name, false, priv, NULL);
		if (!ret) {
			key_text(priv, key);
			ret = admin_text_printf(out, "PrivateKey = %s\n", key);
			sodium_memzero(key, sizeof(key));
		} else {
			key_text(o->public_key, key);
			ret = admin_text_printf(out,
						"# PrivateKey = the private key of public key %s\n",
						key);
		}
		sodium_memzero(priv, sizeof(priv));
	}
	if (!ret)
		ret = admin_text_printf(out, "Address = %s%s%s\n", a[0],
					a[0][0] && a[1][0] ? ", " : "", a[1]);
	for (const struct endpoint *t = peers_first(o->net); t && !ret; t = peers_next(o->net, t)) {
		if (!peers_linked(o, t))
			continue;
		ret = print_peer(o, t, via, out, err);
		if (ret == -EAGAIN) {
			(*missing)++;
			ret = 0;
		}
		n += !ret;
	}
	if (!ret && *missing)
		ret = admin_text_printf(
			out,
			"\n# %zu more endpoint(s) on other hosts: their preshared keys "
			"have not arrived yet; run wgctl peer config %s again\n",
			*missing, name);
	if (!ret && !n && !*missing)
		ret = admin_text_printf(out, "\n# No endpoint may reach this peer yet.\n");
	if (ret == -ENOMEM)
		errmsg_set(err, ret, "out of memory");
	return ret;
}

int outside_config(struct wgd *d, const char *name, const char *via, struct admin_text *out,
		   char *err)
{
	struct timespec pause = { .tv_nsec = OUTSIDE_PSK_POLL_MS * 1000000L };
	size_t missing = 0;
	int ret;

	wgd_assert_unlocked(d);
	ret = links_check_ref(name, "peer config", err);
	if (ret)
		return ret;
	if (via && !outside_via_valid(via))
		return errmsg_set(err, -EINVAL,
				  "--endpoint \"%s\": expected the address or DNS name the peer "
				  "reaches this host at",
				  QUOTE(via, 60));
	/* The preshared keys of pairs across hosts are made in the background: wait a little. */
	for (int waited = 0;; waited += OUTSIDE_PSK_POLL_MS) {
		admin_text_free(out);
		wgd_lock(d);
		ret = print_config(d, name, via, out, &missing, err);
		wgd_unlock(d);
		if (ret || !missing || waited >= OUTSIDE_PSK_WAIT_MS)
			break;
		nanosleep(&pause, NULL);
	}
	if (ret)
		admin_text_free(out);
	return ret;
}

/* ---- wgctl peer rm, peer list ---- */

static bool identity_stored(struct wgd *d, const char *name)
{
	uint8_t priv[KEYSTORE_KEY_LEN];
	int ret = keystore_identity_get(d->keys, name, false, priv, NULL);

	sodium_memzero(priv, sizeof(priv));
	return ret == 0;
}

int outside_remove(struct wgd *d, const char *name, char *err)
{
	char pool[2][NETWORK_POOL_LEN], id[NETWORK_ID_LEN + 1];
	struct endpoint *o, **p;
	struct network *net;
	bool cluster;
	int ret;

	wgd_assert_unlocked(d);
	ret = links_check_ref(name, "peer rm", err);
	if (ret)
		return ret;
	wgd_lock(d);
	o = outside_find(d, name);
	if (!o) {
		wgd_unlock(d);
		return errmsg_set(err, -ENOENT, "no outside peer %s (wgctl peer list)", name);
	}
	net = o->net;
	for (p = &net->outside; *p != o; p = &(*p)->next)
		;
	*p = o->next;
	ret = state_save(net, err);
	if (ret) {
		o->next = *p;
		*p = o;
		wgd_unlock(d);
		return ret;
	}
	o->next = NULL;
	peersync_touch_others(o, o->public_key);
	cluster = net->opts.cluster[0] && d->cluster;
	/* Its record goes: the other hosts' endpoints forget it. */
	o->joined = false;
	if (cluster)
		cluster_endpoint_changed(d->cluster, o);
	memcpy(pool[0], net->opts.pool4, sizeof(pool[0]));
	memcpy(pool[1], net->opts.pool6, sizeof(pool[1]));
	memcpy(id, net->id, sizeof(id));
	wgd_unlock(d);
	give_addresses(d, pool, o);
	/* A key made for it goes with it, with its link keys, and so do the link keys of a peer
	 * that gave its public key only; an identity it was given stays, with its link keys. */
	if (o->outside->key_made || !identity_stored(d, name)) {
		if (keystore_psk_delete_all(d->keys, name) ||
		    (o->outside->key_made && keystore_identity_delete(d->keys, name)))
			log_warn("peer %s: deleting its keys: %s", name, keystore_error());
		if (cluster)
			cluster_key_released(d->cluster, name);
	}
	log_info("network %.12s: outside peer %s removed", id, name);
	endpoint_free(o);
	return 0;
}

int outside_list(struct wgd *d, struct admin_text *out, char *err)
{
	char pub[B64_LEN], a[2][ADDR_STRLEN];
	int ret = 0;

	wgd_lock(d);
	for (struct network *n = d->networks; n && !ret; n = n->next) {
		for (const struct endpoint *o = n->outside; o && !ret; o = o->next) {
			a[0][0] = a[1][0] = '\0';
			if (o->addr4.family)
				addr_format(&o->addr4, a[0]);
			if (o->addr6.family)
				addr_format(&o->addr6, a[1]);
			key_text(o->public_key, pub);
			ret = admin_text_printf(out, "%s %s %s%s%s %s\n", o->key_ref,
						n->name[0] ? n->name : n->id, a[0],
						a[0][0] && a[1][0] ? "," : "", a[1], pub);
		}
	}
	wgd_unlock(d);
	return ret ? errmsg_set(err, ret, "out of memory") : 0;
}
