// SPDX-License-Identifier: MIT
#include "status.h"

#include "addr.h"
#include "backend.h"
#include "endpoint.h"
#include "errmsg.h"
#include "network.h"
#include "peers.h"
#include "peersync.h"
#include "quote.h"
#include "wgd.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define B64_LEN sodium_base64_ENCODED_LEN(WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)

/* A link to read once the lock is let go, and where its answer goes in the document. */
struct read {
	const struct backend_ops *backend;
	char ifname[IFNAMSIZ];
	char *sandbox;
	uint8_t public_key[WG_KEY_LEN];
	uint16_t listen_port;
	bool programming; /* peers marked and not programmed yet */
	json_t *ep;	  /* the endpoint's object (borrowed from the document) */
	/* Its peers: indexes into its network's candidates, turned into objects after the lock. */
	size_t *peers, n_peers;
	const struct candidates *cands;
};

/* The peer objects of a network's candidates (peers_first order), made once under the lock:
 * what is made per pair of endpoints is made from them after it. */
struct candidates {
	json_t **v;
	size_t n;
	struct candidates *next;
};

struct reads {
	struct read *v;
	size_t n;
	struct candidates *cands; /* of every network looked at */
};

static void key_text(const uint8_t key[WG_KEY_LEN], char out[B64_LEN])
{
	sodium_bin2base64(out, B64_LEN, key, WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

/* S, or JSON null when empty. */
static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *addresses(const struct endpoint *ep, bool host)
{
	json_t *a = json_array();
	char text[ADDR_STRLEN];
	struct wg_allowedip ip;

	if (ep->addr4.family) {
		ip = host ? addr_host(&ep->addr4) : ep->addr4;
		json_array_append_new(a, json_string(addr_format(&ip, text)));
	}
	if (ep->addr6.family) {
		ip = host ? addr_host(&ep->addr6) : ep->addr6;
		json_array_append_new(a, json_string(addr_format(&ip, text)));
	}
	return a;
}

static const char *peer_kind(const struct endpoint *o)
{
	return o->outside ? "outside" : o->host ? "remote" : "local";
}

/* A peer's object with what the model knows; what the link has is added once it was read. */
static json_t *peer_obj(const char *pub, const char *identity, const char *kind, const char *eid,
			const char *container, const char *host, json_t *allowed_ips,
			const char *link, const char *reason)
{
	json_t *p = json_object();

	json_object_set_new(p, "public_key", str_or_null(pub));
	json_object_set_new(p, "identity", str_or_null(identity));
	json_object_set_new(p, "kind", str_or_null(kind));
	json_object_set_new(p, "endpoint_id", str_or_null(eid));
	json_object_set_new(p, "container", str_or_null(container));
	json_object_set_new(p, "host", str_or_null(host));
	json_object_set_new(p, "allowed_ips", allowed_ips ? allowed_ips : json_array());
	json_object_set_new(p, "endpoint", json_null());
	json_object_set_new(p, "latest_handshake", json_integer(0));
	json_object_set_new(p, "rx_bytes", json_integer(0));
	json_object_set_new(p, "tx_bytes", json_integer(0));
	json_object_set_new(p, "persistent_keepalive", json_integer(0));
	json_object_set_new(p, "link", json_string(link));
	json_object_set_new(p, "reason", str_or_null(reason));
	return p;
}

/* Peer O of an endpoint, as the model has it: "programming" until the link is read. */
static json_t *model_peer(const struct endpoint *o)
{
	char pub[B64_LEN];

	key_text(o->public_key, pub);
	return peer_obj(pub, o->key_ref, peer_kind(o), o->outside ? NULL : o->id, o->container,
			o->host, addresses(o, true), "programming", NULL);
}

/* A link EP declares to an identity that has no peer here now. */
static json_t *waiting_peer(const struct endpoint *ep, const char *ref)
{
	const char *why = "no live endpoint has this identity";

	for (const struct endpoint *o = peers_first(ep->net); o; o = peers_next(ep->net, o)) {
		if (strcmp(o->key_ref, ref))
			continue;
		if (o->pending)
			why = "its endpoint waits for its container's links and labels";
		else if (!o->joined)
			why = "its endpoint has not joined yet";
	}
	return peer_obj(NULL, ref, NULL, NULL, NULL, NULL, NULL, "waiting", why);
}

static bool linked_to(const struct endpoint *ep, const char *ref)
{
	for (const struct endpoint *o = peers_first(ep->net); o; o = peers_next(ep->net, o))
		if (!strcmp(o->key_ref, ref) && peers_linked(ep, o))
			return true;
	return false;
}

static const char *endpoint_state(const struct endpoint *ep)
{
	return !ep->joined ? "created" : ep->pending ? "waiting" : "joined";
}

/* EP's object: its peers are added later (linked_peers), but for the links that wait. */
static json_t *model_endpoint(const struct endpoint *ep)
{
	json_t *j, *peers = json_array();
	char pub[B64_LEN];

	key_text(ep->public_key, pub);
	for (size_t i = 0; ep->joined && i < ep->links.n; i++)
		if (!linked_to(ep, ep->links.v[i].peer))
			json_array_append_new(peers, waiting_peer(ep, ep->links.v[i].peer));
	j = json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:i, s:o, s:s, s:n, s:o}", "id", ep->id,
		      "container", str_or_null(ep->container), "identity", ep->key_ref,
		      "public_key", pub, "backend", ep->backend->name, "interface", ep->ifname,
		      "listen_port", ep->listen_port, "addresses", addresses(ep, false), "state",
		      endpoint_state(ep), "error", "peers", peers);
	return j;
}

static json_t *outside_peer(const struct endpoint *o)
{
	char pub[B64_LEN], *links = links_format(&o->links);
	json_t *j;

	key_text(o->public_key, pub);
	j = json_pack("{s:s, s:s, s:o, s:s}", "name", o->key_ref, "public_key", pub, "addresses",
		      addresses(o, false), "links", links ? links : "");
	free(links);
	return j;
}

static json_t *model_network(const struct network *n)
{
	json_t *outside = json_array();

	for (const struct endpoint *o = n->outside; o; o = o->next)
		json_array_append_new(outside, outside_peer(o));
	return json_pack("{s:s, s:o, s:o, s:s, s:b, s:i, s:i, s:[], s:o}", "id", n->id, "name",
			 str_or_null(n->name), "cluster", str_or_null(n->opts.cluster), "policy",
			 network_policy_name(n->opts.policy), "psk", n->opts.psk, "mtu",
			 (int)n->opts.mtu, "keepalive", (int)n->opts.keepalive, "endpoints",
			 "outside_peers", outside);
}

/* true when ID starts with PREFIX, a run of lower-case hex digits. */
static bool id_prefix(const char *id, const char *prefix)
{
	size_t len = strlen(prefix);

	return len && len <= NETWORK_ID_LEN && strspn(prefix, "0123456789abcdef") == len &&
	       !strncmp(id, prefix, len);
}

static bool endpoint_matches(const struct endpoint *ep, const char *want, bool exact)
{
	if (exact)
		return !strcmp(ep->id, want) || !strcmp(ep->container, want) ||
		       !strcmp(ep->key_ref, want);
	return id_prefix(ep->id, want);
}

static int pick_endpoint(struct network *net, const char *want, struct endpoint **out, char *err)
{
	size_t n = 0;

	for (int exact = 1; exact >= 0 && !n; exact--)
		for (struct endpoint *ep = net->endpoints; ep; ep = ep->next)
			if (endpoint_matches(ep, want, exact) && n++ == 0)
				*out = ep;
	if (n == 1)
		return 0;
	if (n)
		return errmsg_set(
			err, -EINVAL,
			"endpoint \"%s\": %zu endpoints of network %.12s match; give more "
			"of its ID",
			QUOTE(want, 64), n, net->id);
	return errmsg_set(err, -ENOENT,
			  "endpoint \"%s\": network %.12s has no endpoint on this host with that "
			  "ID, container name or identity",
			  QUOTE(want, 64), net->id);
}

/* The candidates of network N, as peer objects, into R's list. */
static const struct candidates *candidates_take(struct reads *r, const struct network *n)
{
	struct candidates *c = calloc(1, sizeof(*c));
	size_t count = 0;

	if (!c)
		return NULL;
	c->next = r->cands;
	r->cands = c;
	for (const struct endpoint *o = peers_first(n); o; o = peers_next(n, o))
		count++;
	c->v = count ? calloc(count, sizeof(*c->v)) : NULL;
	if (count && !c->v)
		return NULL;
	for (const struct endpoint *o = peers_first(n); o; o = peers_next(n, o))
		if (!(c->v[c->n++] = model_peer(o)))
			return NULL;
	return c;
}

static void candidates_free(struct candidates *c)
{
	for (struct candidates *next; c; c = next) {
		next = c->next;
		for (size_t i = 0; i < c->n; i++)
			json_decref(c->v[i]);
		free(c->v);
		free(c);
	}
}

/* The indexes of the candidates EP peers with, into X. */
static int linked_take(const struct endpoint *ep, struct read *x)
{
	size_t i = 0, n = 0;

	for (const struct endpoint *o = peers_first(ep->net); o; o = peers_next(ep->net, o))
		n += peers_linked(ep, o);
	x->peers = n ? calloc(n, sizeof(*x->peers)) : NULL;
	if (n && !x->peers)
		return -ENOMEM;
	for (const struct endpoint *o = peers_first(ep->net); o; o = peers_next(ep->net, o), i++)
		if (peers_linked(ep, o))
			x->peers[x->n_peers++] = i;
	return 0;
}

/* Without the lock: X's peers as objects, before the links it waits for. */
static int linked_peers(const struct read *x)
{
	json_t *peers = json_array(), *waiting = json_object_get(x->ep, "peers");

	for (size_t i = 0; peers && i < x->n_peers; i++)
		if (json_array_append_new(peers, json_deep_copy(x->cands->v[x->peers[i]])))
			break;
	if (!peers || json_array_size(peers) != x->n_peers || json_array_extend(peers, waiting)) {
		json_decref(peers);
		return -ENOMEM;
	}
	return json_object_set_new(x->ep, "peers", peers) ? -ENOMEM : 0;
}

static int reads_add(struct reads *r, const struct endpoint *ep, json_t *obj,
		     const struct candidates *cands)
{
	struct read *grown = realloc(r->v, (r->n + 1) * sizeof(*grown)), *x;

	if (!grown)
		return -ENOMEM;
	r->v = grown;
	x = &r->v[r->n];
	memset(x, 0, sizeof(*x));
	x->backend = ep->backend;
	snprintf(x->ifname, sizeof(x->ifname), "%s", ep->ifname);
	if (ep->sandbox && !(x->sandbox = strdup(ep->sandbox)))
		return -ENOMEM;
	memcpy(x->public_key, ep->public_key, WG_KEY_LEN);
	x->listen_port = ep->listen_port;
	x->programming = peersync_pending(ep) > 0;
	x->ep = obj;
	x->cands = cands;
	r->n++;
	return linked_take(ep, x);
}

static void reads_free(struct reads *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].sandbox);
		free(r->v[i].peers);
	}
	free(r->v);
	candidates_free(r->cands);
}

/* The model's part of the document, under the lock, and the links to read. */
static int collect_model(struct wgd *d, const char *network, const char *endpoint, json_t *doc,
			 struct reads *reads, char *err)
{
	struct network *only_net = NULL;
	struct endpoint *only_ep = NULL;
	json_t *nets = json_object_get(doc, "networks"), *jn, *je;
	const struct candidates *cands;
	int ret = 0;

	wgd_lock(d);
	if (network)
		ret = network_pick(d, network, &only_net, err);
	if (!ret && endpoint)
		ret = pick_endpoint(only_net, endpoint, &only_ep, err);
	for (struct network *n = d->networks; n && !ret; n = n->next) {
		if (only_net && n != only_net)
			continue;
		jn = model_network(n);
		cands = candidates_take(reads, n);
		if (!jn || json_array_append_new(nets, jn) || !cands) {
			ret = -ENOMEM;
			break;
		}
		for (struct endpoint *ep = n->endpoints; ep && !ret; ep = ep->next) {
			if (only_ep && ep != only_ep)
				continue;
			je = model_endpoint(ep);
			if (!je || json_array_append_new(json_object_get(jn, "endpoints"), je))
				ret = -ENOMEM;
			else if (ep->joined)
				ret = reads_add(reads, ep, je, cands);
		}
	}
	wgd_unlock(d);
	if (ret == -ENOMEM)
		errmsg_set(err, ret, "out of memory");
	return ret;
}

/* PEERS (the model's peer objects of one link) by public key, borrowed; NULL: out of memory.
 * Every peer a link has is looked up: searching the array made reading 200 links of 199 peers
 * cost 8 million comparisons, a tenth of a /metrics scrape's time. */
static json_t *peers_by_key(json_t *peers)
{
	json_t *index = json_object(), *p;
	size_t i;

	json_array_foreach (peers, i, p) {
		const char *k = json_string_value(json_object_get(p, "public_key"));

		if (index && k && json_object_set(index, k, p)) {
			json_decref(index);
			return NULL;
		}
	}
	return index;
}

/* What the backend has for peer WP, into the document's peer P. */
static void peer_live(json_t *p, const struct wg_peer *wp)
{
	char text[ADDR_ENDPOINT_STRLEN];

	addr_endpoint_format(&wp->endpoint, text);
	json_object_set_new(p, "endpoint", str_or_null(text));
	json_object_set_new(p, "latest_handshake", json_integer(wp->last_handshake_sec));
	json_object_set_new(p, "rx_bytes", json_integer((json_int_t)wp->rx_bytes));
	json_object_set_new(p, "tx_bytes", json_integer((json_int_t)wp->tx_bytes));
	json_object_set_new(p, "persistent_keepalive", json_integer(wp->persistent_keepalive));
}

/* Reads one link (outside the lock) into its endpoint's object. */
static void read_link(const struct read *r)
{
	struct wg_link_ref ref = { .ifname = r->ifname,
				   .sandbox = r->sandbox,
				   .public_key = r->public_key,
				   .listen_port = r->listen_port };
	json_t *peers = json_object_get(r->ep, "peers"), *by_key, *p;
	struct wg_device dev = { 0 };
	char pub[B64_LEN], msg[ERRMSG_LEN];
	size_t i;
	int ret;

	ret = r->backend->device_get(&ref, &dev);
	by_key = ret ? NULL : peers_by_key(peers);
	if (ret || !by_key) {
		snprintf(msg, sizeof(msg), "reading link %s: %s", r->ifname,
			 strerror(ret ? -ret : ENOMEM));
		json_object_set_new(r->ep, "error", json_string(msg));
		wgdev_clear(&dev);
		return;
	}
	for (i = 0; i < dev.n_peers; i++) {
		key_text(dev.peers[i].public_key, pub);
		p = json_object_get(by_key, pub);
		if (!p) {
			/* On the link, not in the model: a removal not programmed yet. */
			p = peer_obj(pub, NULL, NULL, NULL, NULL, NULL, NULL, "stale",
				     "being removed");
			if (!p || json_array_append_new(peers, p))
				continue;
		} else {
			json_object_set_new(p, "link", json_string("active"));
		}
		peer_live(p, &dev.peers[i]);
	}
	json_array_foreach (peers, i, p) {
		const char *link = json_string_value(json_object_get(p, "link"));

		if (!link || strcmp(link, "programming"))
			continue;
		/* In the model, not on the link yet. */
		if (!r->programming)
			json_object_set_new(p, "link", json_string("waiting"));
		json_object_set_new(p, "reason",
				    json_string(r->programming
							? "being programmed"
							: "its preshared key has not arrived "
							  "from the cluster store yet"));
	}
	json_decref(by_key);
	wgdev_clear(&dev);
}

/* Reads the links of READS (made in the document's order), each one's peers made just before.
 * With FN, hands it every endpoint once its link is read and then drops that endpoint's peers,
 * so that the document never holds more than one link's: a pair of endpoints is a peer object,
 * hundreds of megabytes for a mesh of a thousand. */
static int read_links(json_t *doc, struct reads *reads, status_endpoint_fn fn, void *ctx, char *err)
{
	size_t i, j, k = 0;
	json_t *n, *ep;
	int ret;

	json_array_foreach (json_object_get(doc, "networks"), i, n) {
		json_array_foreach (json_object_get(n, "endpoints"), j, ep) {
			if (k < reads->n && reads->v[k].ep == ep) {
				if (linked_peers(&reads->v[k]))
					return errmsg_set(err, -ENOMEM, "out of memory");
				read_link(&reads->v[k++]);
			}
			if (!fn)
				continue;
			ret = fn(ctx, i, n, ep);
			if (ret)
				return errmsg_set(err, ret, "%s", strerror(-ret));
			if (json_object_set_new(ep, "peers", json_array()))
				return errmsg_set(err, -ENOMEM, "out of memory");
		}
	}
	return 0;
}

static int collect(struct wgd *d, const char *network, const char *endpoint, status_endpoint_fn fn,
		   void *ctx, json_t **out, char *err)
{
	struct reads reads = { 0 };
	json_t *doc = json_pack("{s:[]}", "networks");
	int ret;

	wgd_assert_unlocked(d);
	*out = NULL;
	if (!doc)
		return errmsg_set(err, -ENOMEM, "out of memory");
	if (endpoint && !network)
		ret = errmsg_set(err, -EINVAL, "an endpoint is looked for in a network: give both");
	else
		ret = collect_model(d, network, endpoint, doc, &reads, err);
	/* The lock was held for one object per endpoint and per candidate: what is per pair is
	 * made now. */
	if (!ret)
		ret = read_links(doc, &reads, fn, ctx, err);
	reads_free(&reads);
	if (ret) {
		json_decref(doc);
		return ret;
	}
	*out = doc;
	return 0;
}

int status_collect(struct wgd *d, const char *network, const char *endpoint, json_t **out,
		   char *err)
{
	return collect(d, network, endpoint, NULL, NULL, out, err);
}

int status_collect_each(struct wgd *d, status_endpoint_fn fn, void *ctx, json_t **out, char *err)
{
	return collect(d, NULL, NULL, fn, ctx, out, err);
}
