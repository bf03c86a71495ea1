// SPDX-License-Identifier: MIT
#include "api.h"

#include "endpoint.h"
#include "errmsg.h"
#include "field.h"
#include "log.h"
#include "network.h"
#include "state.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* A handler reads REQ (an object, or NULL for an empty body) and returns its answer (new), or
 * NULL with the reason in ERR. */
typedef json_t *(*api_handler)(const json_t *req, char *err);

static json_t *empty(void)
{
	return json_object();
}

static json_t *handle_activate(const json_t *req, char *err)
{
	return json_pack("{s:[s]}", "Implements", "NetworkDriver");
}

static json_t *handle_capabilities(const json_t *req, char *err)
{
	/* "global" makes network creation fail outside swarm on engines up to 23.0. */
	return json_pack("{s:s, s:s}", "Scope", "local", "ConnectivityScope", "local");
}

static json_t *handle_nothing(const json_t *req, char *err)
{
	return empty();
}

static bool has_entries(const json_t *req, const char *key)
{
	const json_t *v = json_object_get(req, key);

	return json_is_array(v) && json_array_size(v) > 0;
}

static json_t *handle_create_network(const json_t *req, char *err)
{
	struct network_options opts;
	json_t *options = NULL, *generic = NULL;
	const char *id;
	bool ipv6;

	if (field_id(req, "NetworkID", &id, err) ||
	    field_object_opt(req, "Options", "Options", &options, err))
		return NULL;
	if (options && field_object_opt(options, "com.docker.network.generic",
					"Options.com.docker.network.generic", &generic, err))
		return NULL;
	if (network_options_parse(generic, &opts, err))
		return NULL;
	ipv6 = json_is_true(json_object_get(options, "com.docker.network.enable_ipv6")) ||
	       has_entries(req, "IPv6Data");
	if (network_create(id, &opts, ipv6, err))
		return NULL;
	log_info("network %.12s: created (mtu %u, psk %s, policy %s%s)", id, opts.mtu,
		 opts.psk ? "on" : "off", network_policy_name(opts.policy), ipv6 ? ", IPv6" : "");
	return empty();
}

static json_t *handle_delete_network(const json_t *req, char *err)
{
	const char *id;

	if (field_id(req, "NetworkID", &id, err) || network_delete(id, err))
		return NULL;
	return empty();
}

static json_t *handle_allocate_network(const json_t *req, char *err)
{
	json_t *options = NULL;

	/* Only swarm managers call this, and only for global-scope drivers; echo the options so
	 * workers would get what the user gave. */
	if (field_object_opt(req, "Options", "Options", &options, err))
		return NULL;
	return json_pack("{s:O}", "Options", options ? options : json_object());
}

/* Looks up the network and endpoint a request names. With LENIENT, unknown IDs are not an
 * error: *EP is NULL and the call succeeds (the engine's cleanup calls must). */
static int lookup(const json_t *req, bool lenient, struct network **net, struct endpoint **ep,
		  char *err)
{
	const char *nid, *eid;
	int ret;

	*net = NULL;
	*ep = NULL;
	ret = field_id(req, "NetworkID", &nid, err);
	if (!ret)
		ret = field_id(req, "EndpointID", &eid, err);
	if (ret)
		return ret;
	*net = network_find(nid);
	if (!*net)
		return lenient ? 0 : state_network_error(nid, err);
	*ep = endpoint_find(*net, eid);
	if (!*ep && !lenient)
		return errmsg_set(err, -ENOENT,
				  "EndpointID %.12s: no such endpoint on network %.12s", eid, nid);
	return 0;
}

static json_t *handle_create_endpoint(const json_t *req, char *err)
{
	json_t *iface = NULL, *options = NULL;
	const char *nid, *eid;
	struct network *net;

	if (field_id(req, "NetworkID", &nid, err) || field_id(req, "EndpointID", &eid, err) ||
	    field_object_opt(req, "Interface", "Interface", &iface, err) ||
	    field_object_opt(req, "Options", "Options", &options, err))
		return NULL;
	net = network_find(nid);
	if (!net) {
		state_network_error(nid, err);
		return NULL;
	}
	if (endpoint_create(net, eid, iface, options, err))
		return NULL;
	/* IPAM assigned the addresses already: answering an Interface would be an error. */
	return empty();
}

static json_t *handle_endpoint_info(const json_t *req, char *err)
{
	struct network *net;
	struct endpoint *ep;

	if (lookup(req, false, &net, &ep, err))
		return NULL;
	return json_pack("{s:o}", "Value", endpoint_info(ep));
}

static json_t *handle_delete_endpoint(const json_t *req, char *err)
{
	struct network *net;
	struct endpoint *ep;

	if (lookup(req, true, &net, &ep, err) || (ep && endpoint_delete(ep, err)))
		return NULL;
	return empty();
}

static json_t *handle_join(const json_t *req, char *err)
{
	char ifname[IFNAMSIZ];
	const char *sandbox = NULL;
	struct network *net;
	struct endpoint *ep;
	json_t *reply, *static_routes;
	bool ipv6;

	if (lookup(req, false, &net, &ep, err) ||
	    field_string_opt(req, "SandboxKey", "SandboxKey", &sandbox, err) ||
	    endpoint_join(ep, sandbox, ifname, &ipv6, err))
		return NULL;
	/* A connected default route with the gateway service disabled: the container gets lo and
	 * wg0 only (docker_gwbridge would otherwise be attached and fail on 20.10). A container on
	 * a second wireguard network keeps the first one's default route: the engine fails the
	 * connect with "file exists" when a second interface brings the same route. */
	reply = json_pack("{s:{s:s, s:s}, s:[], s:b}", "InterfaceName", "SrcName", ifname,
			  "DstPrefix", "wg", "StaticRoutes", "DisableGatewayService", 1);
	if (reply && !endpoint_shares_sandbox(ep)) {
		static_routes = json_object_get(reply, "StaticRoutes");
		json_array_append_new(static_routes, json_pack("{s:s, s:i}", "Destination",
							       "0.0.0.0/0", "RouteType", 1));
		if (ipv6)
			json_array_append_new(static_routes, json_pack("{s:s, s:i}", "Destination",
								       "::/0", "RouteType", 1));
	}
	return reply;
}

static json_t *handle_leave(const json_t *req, char *err)
{
	struct network *net;
	struct endpoint *ep;

	if (lookup(req, true, &net, &ep, err) || (ep && endpoint_leave(ep, err)))
		return NULL;
	return empty();
}

static const struct route {
	const char *path;
	api_handler handler;
	bool needs_body;
} routes[] = {
	{ "/Plugin.Activate", handle_activate, false },
	{ "/NetworkDriver.GetCapabilities", handle_capabilities, false },
	{ "/NetworkDriver.CreateNetwork", handle_create_network, true },
	{ "/NetworkDriver.DeleteNetwork", handle_delete_network, true },
	{ "/NetworkDriver.AllocateNetwork", handle_allocate_network, true },
	{ "/NetworkDriver.FreeNetwork", handle_nothing, false },
	{ "/NetworkDriver.CreateEndpoint", handle_create_endpoint, true },
	{ "/NetworkDriver.EndpointOperInfo", handle_endpoint_info, true },
	{ "/NetworkDriver.DeleteEndpoint", handle_delete_endpoint, true },
	{ "/NetworkDriver.Join", handle_join, true },
	{ "/NetworkDriver.Leave", handle_leave, true },
	{ "/NetworkDriver.ProgramExternalConnectivity", handle_nothing, false },
	{ "/NetworkDriver.RevokeExternalConnectivity", handle_nothing, false },
	{ "/NetworkDriver.DiscoverNew", handle_nothing, false },
	{ "/NetworkDriver.DiscoverDelete", handle_nothing, false },
};

static const struct route *route_find(const char *path)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (!strcmp(routes[i].path, path))
			return &routes[i];
	return NULL;
}

static char *error_answer(const char *msg)
{
	json_t *j = json_pack("{s:s}", "Err", msg);
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
				  jerr.text, jerr.line, jerr.column);
	if (!json_is_object(*req)) {
		json_decref(*req);
		*req = NULL;
		return errmsg_set(err, -EINVAL, "request body: expected a JSON object");
	}
	return 0;
}

char *api_handle(const char *path, const char *body, size_t len)
{
	const struct route *r = route_find(path);
	char err[ERRMSG_LEN] = "";
	json_t *req = NULL, *reply = NULL;
	char *text;

	if (!r) {
		snprintf(err, sizeof(err), "unknown method %.100s", path);
		log_warn("%s", err);
		return error_answer(err);
	}
	api_lock();
	if (!parse_body(r, body, len, &req, err)) {
		reply = r->handler(req, err);
		if (!reply && !err[0])
			snprintf(err, sizeof(err), "out of memory");
	}
	api_unlock();
	json_decref(req);
	if (!reply) {
		log_warn("%s: %s", path + 1, err);
		return error_answer(err);
	}
	text = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	log_debug("%s: ok", path + 1);
	return text;
}

void api_lock(void)
{
	pthread_mutex_lock(&lock);
}

void api_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

char *api_body_too_large(const char *path)
{
	char err[ERRMSG_LEN];

	snprintf(err, sizeof(err), "request body: larger than %d bytes", API_BODY_MAX);
	log_warn("%.100s: %s", path + 1, err);
	return error_answer(err);
}
