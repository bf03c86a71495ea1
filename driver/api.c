// SPDX-License-Identifier: MIT
#include "api.h"

#include "addr.h"

#include "cluster.h"
#include "endpoint.h"
#include "errmsg.h"
#include "field.h"
#include "ipam.h"
#include "keystore.h"
#include "log.h"
#include "network.h"
#include "quote.h"
#include "state.h"
#include "wgd.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

/* A handler reads REQ (an object, or NULL for an empty body) and returns its answer (new), or
 * NULL with the reason in ERR. It is called without the daemon's lock and takes it for as long
 * as it reads or changes the model. */
typedef json_t *(*api_handler)(struct wgd *d, const json_t *req, char *err);

static json_t *empty(void)
{
	return json_object();
}

static json_t *handle_activate(struct wgd *d, const json_t *req, char *err)
{
	return json_pack("{s:[s, s]}", "Implements", "NetworkDriver", "IpamDriver");
}

static json_t *handle_capabilities(struct wgd *d, const json_t *req, char *err)
{
	/* "global" makes network creation fail outside swarm on engines up to 23.0. */
	return json_pack("{s:s, s:s}", "Scope", "local", "ConnectivityScope", "local");
}

static json_t *handle_nothing(struct wgd *d, const json_t *req, char *err)
{
	return empty();
}

/* The NetworkID and EndpointID of a request. */
static int ids(const json_t *req, const char **nid, const char **eid, char *err)
{
	return field_id(req, "NetworkID", nid, err) ? -EINVAL
						    : field_id(req, "EndpointID", eid, err);
}

static bool has_entries(const json_t *req, const char *key)
{
	const json_t *v = json_object_get(req, key);

	return json_is_array(v) && json_array_size(v) > 0;
}

/* The subnet (Pool) of the first IPv4 or IPv6 data of a CreateNetwork, and whether this
 * plugin's IPAM gave it. */
static const char *pool_of(const json_t *req, const char *key, bool *ours)
{
	const json_t *data = json_array_get(json_object_get(req, key), 0);
	const char *space = json_string_value(json_object_get(data, "AddressSpace"));

	if (data && (!space || strcmp(space, IPAM_ADDRESS_SPACE)))
		*ours = false;
	return json_string_value(json_object_get(data, "Pool"));
}

/* The subnets of the IPAM data, kept with the network for its outside peers (outside.h). A pool
 * that is not a subnet is not kept: it is the engine's to check. */
static void record_pools(const json_t *req, struct network_options *opts)
{
	const char *p4, *p6;
	struct wg_allowedip a;
	bool ours = true;

	p4 = pool_of(req, "IPv4Data", &ours);
	p6 = pool_of(req, "IPv6Data", &ours);
	if (p4 && !addr_parse(p4, AF_INET, &a))
		snprintf(opts->pool4, sizeof(opts->pool4), "%s", p4);
	if (p6 && !addr_parse(p6, AF_INET6, &a))
		snprintf(opts->pool6, sizeof(opts->pool6), "%s", p6);
	opts->own_ipam = ours && (p4 || p6);
}

/* A cluster network (wg.net): its settings agreed with the cluster's, outside the lock. */
static int check_cluster_network(struct wgd *d, const json_t *req,
				 const struct network_options *opts, char *err)
{
	const char *subnet4, *subnet6;
	struct cluster *c;
	bool ours = true;

	wgd_lock(d);
	c = d->cluster;
	for (struct network *n = d->networks; n; n = n->next)
		if (!strcmp(n->opts.cluster, opts->cluster) &&
		    strcmp(n->id, json_string_value(json_object_get(req, "NetworkID"))))
			c = NULL, errmsg_set(err, -EEXIST,
					     "option \"wg.net\": network %.12s of this host is "
					     "cluster network %s already",
					     n->id, opts->cluster);
	wgd_unlock(d);
	if (!c && err[0])
		return -EEXIST;
	if (!c && d->cluster_error[0])
		return errmsg_set(err, -ENOTSUP, "option \"wg.net\": the cluster store: %s",
				  d->cluster_error);
	if (!c)
		return errmsg_set(err, -ENOTSUP,
				  "option \"wg.net\": this host has no cluster store: set "
				  "ETCD_ENDPOINTS (docker plugin set wireguard:latest "
				  "ETCD_ENDPOINTS=https://...)");
	subnet4 = pool_of(req, "IPv4Data", &ours);
	subnet6 = pool_of(req, "IPv6Data", &ours);
	if (!ours || !subnet4)
		return errmsg_set(err, -EINVAL,
				  "option \"wg.net\": a cluster network takes its addresses from "
				  "this plugin, unique across hosts: docker network create -d "
				  "wireguard:latest --ipam-driver wireguard:latest --subnet SUBNET "
				  "-o wg.net=%s NAME",
				  opts->cluster);
	return cluster_network_check(c, opts, subnet4, subnet6, err);
}

static json_t *handle_create_network(struct wgd *d, const json_t *req, char *err)
{
	struct network_options opts;
	json_t *options = NULL, *generic = NULL;
	struct network *net;
	const char *id;
	bool ipv6;
	int ret;

	if (field_id(req, "NetworkID", &id, err) ||
	    field_object_opt(req, "Options", "Options", &options, err))
		return NULL;
	if (options && field_object_opt(options, "com.docker.network.generic",
					"Options.com.docker.network.generic", &generic, err))
		return NULL;
	/* Probing a backend may take a moment: not under the lock. */
	if (network_options_parse(d, generic, &opts, err))
		return NULL;
	ipv6 = json_is_true(json_object_get(options, "com.docker.network.enable_ipv6")) ||
	       has_entries(req, "IPv6Data");
	record_pools(req, &opts);
	if (opts.cluster[0] && check_cluster_network(d, req, &opts, err))
		return NULL;
	wgd_lock(d);
	net = network_find(d, id);
	ret = network_create(d, id, &opts, ipv6, err);
	if (!ret && !net && opts.cluster[0] && d->cluster)
		cluster_network_added(d->cluster, network_find(d, id));
	wgd_unlock(d);
	if (ret)
		return NULL;
	log_info("network %.12s: created (mtu %u, psk %s, policy %s%s%s%s)", id, opts.mtu,
		 opts.psk ? "on" : "off", network_policy_name(opts.policy), ipv6 ? ", IPv6" : "",
		 opts.cluster[0] ? ", cluster network " : "", opts.cluster);
	return empty();
}

static json_t *handle_delete_network(struct wgd *d, const json_t *req, char *err)
{
	const char *id;
	int ret;

	if (field_id(req, "NetworkID", &id, err))
		return NULL;
	wgd_lock(d);
	ret = network_delete(d, id, err);
	wgd_unlock(d);
	return ret ? NULL : empty();
}

static json_t *handle_allocate_network(struct wgd *d, const json_t *req, char *err)
{
	json_t *options = NULL;

	/* Only swarm managers call this, and only for global-scope drivers; echo the options so
	 * workers would get what the user gave. */
	if (field_object_opt(req, "Options", "Options", &options, err))
		return NULL;
	if (options)
		return json_pack("{s:O}", "Options", options);
	return json_pack("{s:{}}", "Options");
}

/* Looks up the network and endpoint a request names, with the lock held. With LENIENT,
 * unknown IDs are not an error: *EP is NULL and the call succeeds (the engine's cleanup calls
 * must). */
static int lookup(struct wgd *d, const json_t *req, bool lenient, struct network **net,
		  struct endpoint **ep, char *err)
{
	const char *nid, *eid;

	wgd_assert_locked(d);
	*net = NULL;
	*ep = NULL;
	if (ids(req, &nid, &eid, err))
		return -EINVAL;
	*net = network_find(d, nid);
	if (!*net)
		return lenient ? 0 : state_network_error(d, nid, err);
	*ep = endpoint_find(*net, eid);
	if (!*ep && !lenient)
		return errmsg_set(err, -ENOENT,
				  "EndpointID %.12s: no such endpoint on network %.12s", eid, nid);
	return 0;
}

static json_t *handle_create_endpoint(struct wgd *d, const json_t *req, char *err)
{
	json_t *iface = NULL, *options = NULL;
	const char *nid, *eid, *key;
	struct cluster *c = NULL;
	struct network *net;
	int ret;

	if (ids(req, &nid, &eid, err) ||
	    field_object_opt(req, "Interface", "Interface", &iface, err) ||
	    field_object_opt(req, "Options", "Options", &options, err))
		return NULL;
	/* A named identity on a cluster network is claimed for this host first: its key must be
	 * here, and the store is not asked under the lock. */
	key = json_string_value(json_object_get(options, "wg.key"));
	if (key && keystore_ref_valid(key)) {
		wgd_lock(d);
		net = network_find(d, nid);
		if (net && net->opts.cluster[0])
			c = d->cluster;
		wgd_unlock(d);
		if (c && cluster_key_claim(c, key, "Options.wg.key", err))
			return NULL;
	}
	wgd_lock(d);
	net = network_find(d, nid);
	ret = net ? endpoint_create(net, eid, iface, options, err)
		  : state_network_error(d, nid, err);
	wgd_unlock(d);
	/* IPAM assigned the addresses already: answering an Interface would be an error. */
	return ret ? NULL : empty();
}

static json_t *handle_endpoint_info(struct wgd *d, const json_t *req, char *err)
{
	struct network *net;
	struct endpoint *ep;
	json_t *reply = NULL;

	wgd_lock(d);
	if (!lookup(d, req, false, &net, &ep, err))
		reply = json_pack("{s:o}", "Value", endpoint_info(ep));
	wgd_unlock(d);
	return reply;
}

static json_t *handle_delete_endpoint(struct wgd *d, const json_t *req, char *err)
{
	const char *nid, *eid;

	if (ids(req, &nid, &eid, err) || endpoint_delete(d, nid, eid, err))
		return NULL;
	return empty();
}

static json_t *handle_join(struct wgd *d, const json_t *req, char *err)
{
	struct endpoint_join_answer ans = { 0 };
	const char *nid, *eid, *sandbox = NULL;
	json_t *reply, *static_routes;

	if (ids(req, &nid, &eid, err) ||
	    field_string_opt(req, "SandboxKey", "SandboxKey", &sandbox, err) ||
	    endpoint_join(d, nid, eid, sandbox, &ans, err))
		return NULL;
	/* A connected default route with the gateway service disabled: the container gets lo and
	 * wg0 only (docker_gwbridge would otherwise be attached and fail on 20.10). A container on
	 * a second wireguard network keeps the first one's default route: the engine fails the
	 * connect with "file exists" when a second interface brings the same route. */
	reply = json_pack("{s:{s:s, s:s}, s:[], s:b}", "InterfaceName", "SrcName", ans.ifname,
			  "DstPrefix", "wg", "StaticRoutes", "DisableGatewayService", 1);
	if (reply && ans.default_route) {
		static_routes = json_object_get(reply, "StaticRoutes");
		json_array_append_new(static_routes, json_pack("{s:s, s:i}", "Destination",
							       "0.0.0.0/0", "RouteType", 1));
		if (ans.ipv6)
			json_array_append_new(static_routes, json_pack("{s:s, s:i}", "Destination",
								       "::/0", "RouteType", 1));
	}
	return reply;
}

static json_t *handle_leave(struct wgd *d, const json_t *req, char *err)
{
	struct network *net;
	struct endpoint *ep;
	int ret;

	wgd_lock(d);
	ret = lookup(d, req, true, &net, &ep, err);
	if (!ret && ep)
		ret = endpoint_leave(ep, err);
	wgd_unlock(d);
	return ret ? NULL : empty();
}

static const struct route {
	const char *path;
	api_handler handler;
	bool needs_body;
	bool ipam; /* the engine reads an IPAM error from "Error", a driver's from "Err" */
} routes[] = {
	{ "/Plugin.Activate", handle_activate, false, false },
	{ "/NetworkDriver.GetCapabilities", handle_capabilities, false, false },
	{ "/NetworkDriver.CreateNetwork", handle_create_network, true, false },
	{ "/NetworkDriver.DeleteNetwork", handle_delete_network, true, false },
	{ "/NetworkDriver.AllocateNetwork", handle_allocate_network, true, false },
	{ "/NetworkDriver.FreeNetwork", handle_nothing, false, false },
	{ "/NetworkDriver.CreateEndpoint", handle_create_endpoint, true, false },
	{ "/NetworkDriver.EndpointOperInfo", handle_endpoint_info, true, false },
	{ "/NetworkDriver.DeleteEndpoint", handle_delete_endpoint, true, false },
	{ "/NetworkDriver.Join", handle_join, true, false },
	{ "/NetworkDriver.Leave", handle_leave, true, false },
	{ "/NetworkDriver.ProgramExternalConnectivity", handle_nothing, false, false },
	{ "/NetworkDriver.RevokeExternalConnectivity", handle_nothing, false, false },
	{ "/NetworkDriver.DiscoverNew", handle_nothing, false, false },
	{ "/NetworkDriver.DiscoverDelete", handle_nothing, false, false },
	{ "/IpamDriver.GetCapabilities", ipam_capabilities, false, true },
	{ "/IpamDriver.GetDefaultAddressSpaces", ipam_address_spaces, false, true },
	{ "/IpamDriver.RequestPool", ipam_request_pool, true, true },
	{ "/IpamDriver.ReleasePool", ipam_release_pool, true, true },
	{ "/IpamDriver.RequestAddress", ipam_request_address, true, true },
	{ "/IpamDriver.ReleaseAddress", ipam_release_address, true, true },
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))
_Static_assert(N_ROUTES <= API_ROUTES_MAX, "API_ROUTES_MAX too small");

const double api_latency_bounds[API_LATENCY_BUCKETS - 1] = { 0.001, 0.0025, 0.005, 0.01,
							     0.025, 0.05,   0.1,   0.25,
							     0.5,   1,	    2.5,   5 };

static const struct route *route_find(const char *path)
{
	for (size_t i = 0; i < N_ROUTES; i++)
		if (!strcmp(routes[i].path, path))
			return &routes[i];
	return NULL;
}

const char *api_route_name(size_t i)
{
	return i < N_ROUTES ? routes[i].path + 1 : NULL;
}

void api_stats_read(struct wgd *d, struct api_stats *out)
{
	pthread_mutex_lock(&d->api_stats.lock);
	memcpy(out->ok, d->api_stats.ok, sizeof(out->ok));
	memcpy(out->failed, d->api_stats.failed, sizeof(out->failed));
	memcpy(out->buckets, d->api_stats.buckets, sizeof(out->buckets));
	memcpy(out->seconds, d->api_stats.seconds, sizeof(out->seconds));
	pthread_mutex_unlock(&d->api_stats.lock);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* One call of route R took SECS and succeeded or not. */
static void stats_add(struct wgd *d, const struct route *r, bool ok, double secs)
{
	struct api_stats *s = &d->api_stats;
	size_t i = (size_t)(r - routes), b = 0;

	while (b < API_LATENCY_BUCKETS - 1 && secs > api_latency_bounds[b])
		b++;
	pthread_mutex_lock(&s->lock);
	if (ok)
		s->ok[i]++;
	else
		s->failed[i]++;
	s->buckets[i][b]++;
	s->seconds[i] += secs;
	pthread_mutex_unlock(&s->lock);
}

static char *error_answer(const char *key, const char *msg)
{
	json_t *j = json_pack("{s:s}", key, msg);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return text;
}

/* Parses BODY into *REQ: an object, or NULL for an empty body when the route allows it. */
static int parse_body(const struct route *r, const char *body, size_t len, json_t **req, char *err)
{
	json_error_t jerr;
	size_t i;

	*req = NULL;
	for (i = 0; i < len && strchr(" \t\r\n", body[i]); i++)
		;
	if (i == len) {
		if (r->needs_body)
			return errmsg_set(err, -EINVAL,
					  "request body: empty, expected a JSON object");
		return 0;
	}
	*req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*req)
		return errmsg_set(err, -EINVAL,
				  "request body: not valid JSON: %s (line %d, column %d)",
				  QUOTE(jerr.text, 120), jerr.line, jerr.column);
	if (!json_is_object(*req)) {
		json_decref(*req);
		*req = NULL;
		return errmsg_set(err, -EINVAL, "request body: expected a JSON object");
	}
	return 0;
}

char *api_handle(struct wgd *d, const char *path, const char *body, size_t len)
{
	const struct route *r = route_find(path);
	char err[ERRMSG_LEN] = "";
	json_t *req = NULL, *reply = NULL;
	struct timespec t0;
	double secs;
	char *text;

	wgd_assert_unlocked(d);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!r) {
		snprintf(err, sizeof(err), "unknown method %s", QUOTE(path, 100));
		log_warn("%s", err);
		return error_answer("Err", err);
	}
	if (!parse_body(r, body, len, &req, err)) {
		reply = r->handler(d, req, err);
		if (!reply && !err[0])
			snprintf(err, sizeof(err), "out of memory");
	}
	json_decref(req);
	secs = seconds_since(&t0);
	stats_add(d, r, reply != NULL, secs);
	if (!reply) {
		log_warn("%s: %s (%.1f ms)", path + 1, err, secs * 1e3);
		return error_answer(r->ipam ? "Error" : "Err", err);
	}
	text = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	log_debug("%s: ok (%.1f ms)", path + 1, secs * 1e3);
	return text;
}

char *api_body_too_large(const char *path)
{
	char err[ERRMSG_LEN];

	snprintf(err, sizeof(err), "request body: larger than %d bytes", API_BODY_MAX);
	log_warn("%s: %s", QUOTE(path + 1, 100), err);
	return error_answer(strncmp(path, "/IpamDriver.", 12) ? "Err" : "Error", err);
}
