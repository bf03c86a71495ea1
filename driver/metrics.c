// SPDX-License-Identifier: MIT
#include "metrics.h"

#include "admin_cmd.h"
#include "api.h"
#include "cluster.h"
#include "errmsg.h"
#include "log.h"
#include "quote.h"
#include "status.h"
#include "wgd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define METRICS_CONNECTIONS_MAX 8
#define METRICS_TIMEOUT_S	10
#define CONTENT_TYPE		"text/plain; version=0.0.4; charset=utf-8"

struct metrics {
	struct wgd *d;
	struct MHD_Daemon *mhd;
	bool peers; /* METRICS_PEERS */
};

/* ---- the text ---- */

/* The two characters a label value holds for C (a backslash, a quote or a newline). */
static const char *escaped(char c)
{
	return c == '\n' ? "\\n" : c == '"' ? "\\\"" : "\\\\";
}

/* Appends NAME="VALUE" (VALUE escaped as the format wants; NULL is "") to OUT, after a comma
 * unless FIRST. */
static int label(struct admin_text *out, bool first, const char *name, const char *value)
{
	const char *p = value ? value : "";
	size_t span;
	int ret;

	ret = admin_text_printf(out, "%s%s=\"", first ? "" : ",", name);
	while (!ret && *p) {
		span = strcspn(p, "\\\"\n");
		ret = admin_text_append(out, p, span);
		p += span;
		if (!ret && *p) {
			ret = admin_text_append(out, escaped(*p), 2);
			p++;
		}
	}
	return ret ? ret : admin_text_append(out, "\"", 1);
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int family(struct admin_text *out, const char *name, const char *type, const char *help)
{
	return admin_text_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The labels of network N: its name (the engine's, else its short ID) and its short ID. */
static int net_labels(struct admin_text *out, const json_t *n)
{
	char id[13];
	int ret;

	snprintf(id, sizeof(id), "%.12s", str(n, "id"));
	ret = label(out, true, "network", str(n, "name") ? str(n, "name") : id);
	return ret ? ret : label(out, false, "network_id", id);
}

/* The families with one sample per peer of every endpoint (unless METRICS_PEERS=off). */
static const struct {
	const char *name, *type, *help, *field;
} peer_families[] = {
	{ "wireguard_sent_bytes_total", "counter", "Bytes sent to the peer by the endpoint's link.",
	  "tx_bytes" },
	{ "wireguard_received_bytes_total", "counter",
	  "Bytes received from the peer by the endpoint's link.", "rx_bytes" },
	{ "wireguard_latest_handshake_seconds", "gauge",
	  "Unix time of the latest handshake with the peer (0: none yet).", "latest_handshake" },
};
#define N_PEER_FAMILIES (sizeof(peer_families) / sizeof(peer_families[0]))

/* One sample per endpoint, over its link's peers (METRICS_PEERS=off keeps these alone). */
static const struct {
	const char *name, *help;
} endpoint_families[] = {
	{ "wireguard_endpoint_peers", "Peers on the endpoint's link." },
	{ "wireguard_endpoint_sent_bytes",
	  "Bytes sent by the endpoint's link to the peers it has now." },
	{ "wireguard_endpoint_received_bytes",
	  "Bytes received by the endpoint's link from the peers it has now." },
	{ "wireguard_endpoint_latest_handshake_seconds",
	  "Unix time of the endpoint's latest handshake with any peer (0: none yet)." },
};
#define N_ENDPOINT_FAMILIES (sizeof(endpoint_families) / sizeof(endpoint_families[0]))

/* What wireguard_peers counts the peers of each network by (status.h's "link"). */
static const char *const link_states[] = { "active", "programming", "waiting", "stale" };
#define N_LINK_STATES (sizeof(link_states) / sizeof(link_states[0]))

/* What is rendered while the links are read, one endpoint at a time (status_collect_each): a
 * family's samples must be together, so each has a text of its own, a part of the scrape's
 * text (struct metrics_text, which owns them). */
struct peer_series {
	bool peers;			/* the per-peer families too */
	struct admin_text *fam;		/* N_PEER_FAMILIES */
	struct admin_text *ep_fam;	/* N_ENDPOINT_FAMILIES */
	struct admin_text labels;	/* one peer's, reused */
	size_t (*links)[N_LINK_STATES]; /* peers per link state, per network of the document */
	size_t n_nets;
};

static void peer_series_free(struct peer_series *ps)
{
	admin_text_free(&ps->labels);
	free(ps->links);
}

/* The labels of endpoint EP of network N, and of its peer P when P is not NULL, into OUT
 * (emptied first). */
static int peer_labels(struct admin_text *out, const json_t *n, const json_t *ep, const json_t *p)
{
	char eid[13];
	int ret;

	snprintf(eid, sizeof(eid), "%.12s", str(ep, "id"));
	out->len = 0;
	ret = net_labels(out, n);
	if (!ret)
		ret = label(out, false, "container", str(ep, "container"));
	if (!ret)
		ret = label(out, false, "endpoint", eid);
	if (!ret)
		ret = label(out, false, "identity", str(ep, "identity"));
	if (!ret && !p)
		return 0;
	if (!ret)
		ret = label(out, false, "peer_identity", str(p, "identity"));
	if (!ret)
		ret = label(out, false, "peer_container", str(p, "container"));
	if (!ret)
		ret = label(out, false, "peer_kind", str(p, "kind"));
	return ret;
}

/* status_endpoint_fn: the samples of endpoint EP's peers and of EP over them (how many, bytes,
 * the latest handshake), their link states counted. */
static int peer_series_add(void *ctx, size_t net_index, const json_t *n, const json_t *ep)
{
	struct peer_series *ps = ctx;
	json_int_t v[N_ENDPOINT_FAMILIES] = { 0 }, hs;
	size_t k;
	json_t *p;
	int ret = 0;

	if (net_index >= ps->n_nets) {
		size_t(*grown)[N_LINK_STATES] =
			realloc(ps->links, (net_index + 1) * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		memset(grown + ps->n_nets, 0, (net_index + 1 - ps->n_nets) * sizeof(*grown));
		ps->links = grown;
		ps->n_nets = net_index + 1;
	}
	json_array_foreach (json_object_get(ep, "peers"), k, p) {
		for (size_t l = 0; l < N_LINK_STATES; l++)
			ps->links[net_index][l] += !strcmp(str(p, "link") ?: "", link_states[l]);
		if (!str(p, "public_key"))
			continue;
		v[0]++;
		v[1] += json_integer_value(json_object_get(p, "tx_bytes"));
		v[2] += json_integer_value(json_object_get(p, "rx_bytes"));
		hs = json_integer_value(json_object_get(p, "latest_handshake"));
		v[3] = hs > v[3] ? hs : v[3];
		if (!ps->peers)
			continue;
		ret = peer_labels(&ps->labels, n, ep, p);
		for (size_t f = 0; f < N_PEER_FAMILIES && !ret; f++)
			ret = admin_text_printf(
				&ps->fam[f], "%s{%s} %" JSON_INTEGER_FORMAT "\n",
				peer_families[f].name, ps->labels.data,
				json_integer_value(json_object_get(p, peer_families[f].field)));
		if (ret)
			return ret;
	}
	ret = peer_labels(&ps->labels, n, ep, NULL);
	for (size_t f = 0; f < N_ENDPOINT_FAMILIES && !ret; f++)
		ret = admin_text_printf(&ps->ep_fam[f], "%s{%s} %" JSON_INTEGER_FORMAT "\n",
					endpoint_families[f].name, ps->labels.data, v[f]);
	return ret;
}

/* Endpoints per network and backend; peers per network and link state (counted in PS);
 * outside peers. */
static int network_families(struct admin_text *out, const json_t *doc, const struct peer_series *ps)
{
	static const char *const backends[] = { "kernel", "userspace" };
	size_t i, j, count;
	json_t *n, *ep;
	int ret;

	ret = family(out, "wireguard_endpoints", "gauge",
		     "Endpoints of this host per network and backend.");
	json_array_foreach (json_object_get(doc, "networks"), i, n) {
		for (size_t b = 0; b < 2 && !ret; b++) {
			count = 0;
			json_array_foreach (json_object_get(n, "endpoints"), j, ep)
				count += !strcmp(str(ep, "backend") ?: "", backends[b]);
			ret = admin_text_printf(out, "wireguard_endpoints{");
			if (!ret)
				ret = net_labels(out, n);
			if (!ret)
				ret = label(out, false, "backend", backends[b]);
			if (!ret)
				ret = admin_text_printf(out, "} %zu\n", count);
		}
	}
	if (!ret)
		ret = family(out, "wireguard_peers", "gauge",
			     "Peers of this host's endpoints per network and link state.");
	json_array_foreach (json_object_get(doc, "networks"), i, n) {
		for (size_t l = 0; l < N_LINK_STATES && !ret; l++) {
			ret = admin_text_printf(out, "wireguard_peers{");
			if (!ret)
				ret = net_labels(out, n);
			if (!ret)
				ret = label(out, false, "link", link_states[l]);
			if (!ret)
				ret = admin_text_printf(out, "} %zu\n",
							i < ps->n_nets ? ps->links[i][l] : 0);
		}
	}
	if (!ret)
		ret = family(out, "wireguard_outside_peers", "gauge",
			     "Outside peers (wgctl peer) added on this host per network.");
	json_array_foreach (json_object_get(doc, "networks"), i, n) {
		if (!ret)
			ret = admin_text_printf(out, "wireguard_outside_peers{");
		if (!ret)
			ret = net_labels(out, n);
		if (!ret)
			ret = admin_text_printf(out, "} %zu\n",
						json_array_size(
							json_object_get(n, "outside_peers")));
	}
	return ret;
}

static int api_families(struct admin_text *out, struct wgd *d)
{
	struct api_stats *s = malloc(sizeof(*s));
	const char *route;
	uint64_t cum;
	int ret;

	if (!s)
		return -ENOMEM;
	api_stats_read(d, s);
	ret = family(out, "wireguard_api_requests_total", "counter",
		     "Calls of the engine to the driver, by route and result.");
	for (size_t i = 0; !ret && (route = api_route_name(i)); i++) {
		if (!s->ok[i] && !s->failed[i])
			continue;
		ret = admin_text_printf(
			out,
			"wireguard_api_requests_total{route=\"%s\",result=\"ok\"} "
			"%llu\n"
			"wireguard_api_requests_total{route=\"%s\",result=\"error\"} "
			"%llu\n",
			route, (unsigned long long)s->ok[i], route,
			(unsigned long long)s->failed[i]);
	}
	if (!ret)
		ret = family(out, "wireguard_api_request_duration_seconds", "histogram",
			     "Time the driver took to answer the engine, by route.");
	for (size_t i = 0; !ret && (route = api_route_name(i)); i++) {
		if (!s->ok[i] && !s->failed[i])
			continue;
		cum = 0;
		for (size_t b = 0; b < API_LATENCY_BUCKETS && !ret; b++) {
			cum += s->buckets[i][b];
			if (b < API_LATENCY_BUCKETS - 1)
				ret = admin_text_printf(out,
							"wireguard_api_request_duration_seconds_"
							"bucket{route=\"%s\",le=\"%g\"} %llu\n",
							route, api_latency_bounds[b],
							(unsigned long long)cum);
			else
				ret = admin_text_printf(out,
							"wireguard_api_request_duration_seconds_"
							"bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
							route, (unsigned long long)cum);
		}
		if (!ret)
			ret = admin_text_printf(
				out,
				"wireguard_api_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
				"wireguard_api_request_duration_seconds_count{route=\"%s\"} %llu\n",
				route, s->seconds[i], route, (unsigned long long)cum);
	}
	free(s);
	return ret;
}

static int store_families(struct admin_text *out, struct wgd *d)
{
	struct cluster *c;
	size_t alive, gone;
	bool up;
	int ret;

	wgd_lock(d);
	c = d->cluster;
	wgd_unlock(d);
	if (!c)
		return 0;
	/* The cluster lives as long as the daemon serves. */
	cluster_store_state(c, &up, &alive, &gone);
	ret = family(out, "wireguard_store_up", "gauge",
		     "1 when the cluster store's watch runs and this host holds its lease.");
	if (!ret)
		ret = admin_text_printf(out, "wireguard_store_up %d\n", up);
	if (!ret)
		ret = family(out, "wireguard_store_hosts", "gauge",
			     "Hosts the cluster store knows, alive (their lease held) or gone.");
	if (!ret)
		ret = admin_text_printf(out,
					"wireguard_store_hosts{state=\"alive\"} %zu\n"
					"wireguard_store_hosts{state=\"gone\"} %zu\n",
					alive, gone);
	return ret;
}

/* A scrape's text in parts served one after the other: each per-peer family, each per-endpoint
 * family, then the rest. Joining them into one buffer would double the scrape's peak memory
 * (36 MiB of text at 200 endpoints). Nothing secret is in it. */
#define N_PARTS (N_PEER_FAMILIES + N_ENDPOINT_FAMILIES + 1)
struct metrics_text {
	struct admin_text part[N_PARTS];
	size_t len; /* of all parts */
};

static void metrics_text_free(struct metrics_text *t)
{
	for (size_t i = 0; i < N_PARTS; i++)
		free(t->part[i].data);
	memset(t, 0, sizeof(*t));
}

/* Up to MAX bytes of T from offset POS into BUF; how many (0 at the end). */
static size_t metrics_text_read(const struct metrics_text *t, uint64_t pos, char *buf, size_t max)
{
	size_t done = 0, n;

	for (size_t i = 0; i < N_PARTS && done < max; i++) {
		if (pos >= t->part[i].len) {
			pos -= t->part[i].len;
			continue;
		}
		n = t->part[i].len - (size_t)pos;
		n = n < max - done ? n : max - done;
		memcpy(buf + done, t->part[i].data + pos, n);
		done += n;
		pos = 0;
	}
	return done;
}

/* The exposition text of D's metrics into OUT (empty on entry), with the per-peer series when
 * PEERS. Called without D's lock. */
static int metrics_render(struct wgd *d, bool peers, struct metrics_text *out, char *err)
{
	struct peer_series ps = {
		.peers = peers,
		.fam = out->part,
		.ep_fam = out->part + N_PEER_FAMILIES,
	};
	struct admin_text *rest = &out->part[N_PARTS - 1];
	json_t *doc = NULL;
	int ret = 0;

	wgd_assert_unlocked(d);
	for (size_t f = 0; peers && f < N_PEER_FAMILIES && !ret; f++)
		ret = family(&ps.fam[f], peer_families[f].name, peer_families[f].type,
			     peer_families[f].help);
	for (size_t f = 0; f < N_ENDPOINT_FAMILIES && !ret; f++)
		ret = family(&ps.ep_fam[f], endpoint_families[f].name, "gauge",
			     endpoint_families[f].help);
	if (ret)
		goto oom;
	ret = status_collect_each(d, peer_series_add, &ps, &doc, err);
	if (ret)
		goto out;
	ret = network_families(rest, doc, &ps);
	if (!ret)
		ret = api_families(rest, d);
	if (!ret)
		ret = store_families(rest, d);
oom:
	if (ret)
		errmsg_set(err, ret, "metrics: out of memory");
out:
	json_decref(doc);
	peer_series_free(&ps);
	if (ret) {
		metrics_text_free(out);
		return ret;
	}
	for (size_t i = 0; i < N_PARTS; i++)
		out->len += out->part[i].len;
	return 0;
}

/* ---- serving ---- */

/* Queues RESP (NULL: none could be made) with the exposition format's content type. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, char *text, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);

	if (!resp)
		free(text);
	return queue(c, status, resp);
}

/* MHD_ContentReaderCallback over a struct metrics_text. */
static ssize_t read_text(void *cls, uint64_t pos, char *buf, size_t max)
{
	size_t n = metrics_text_read(cls, pos, buf, max);

	return n ? (ssize_t)n : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* MHD_ContentReaderFreeCallback: the answer is sent or abandoned. */
static void free_text(void *cls)
{
	metrics_text_free(cls);
	free(cls);
	/* Tens of MiB at 200 endpoints: give them back rather than keep them until the next
	 * scrape. */
	malloc_trim(0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **ctx)
{
	struct metrics *m = cls;
	struct metrics_text *out;
	struct MHD_Response *resp;
	char err[ERRMSG_LEN], *text;

	/* The first call only announces the request. */
	if (!*ctx) {
		*ctx = m;
		return MHD_YES;
	}
	if (*upload_len) {
		*upload_len = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, strdup("GET /metrics\n"), 13);
	if (strcmp(url, "/metrics"))
		return answer(c, MHD_HTTP_NOT_FOUND, strdup("not found: GET /metrics\n"), 24);
	out = calloc(1, sizeof(*out));
	if (!out)
		snprintf(err, sizeof(err), "metrics: out of memory");
	if (!out || metrics_render(m->d, m->peers, out, err)) {
		free(out);
		malloc_trim(0);
		log_warn("metrics: %s", err);
		text = strdup(err);
		return answer(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text, text ? strlen(text) : 0);
	}
	/* Served from its parts as the client reads (the reader is called only below LEN). */
	resp = MHD_create_response_from_callback(out->len, 32 * 1024, read_text, out, free_text);
	if (!resp)
		free_text(out);
	return queue(c, MHD_HTTP_OK, resp);
}

/* ADDR ("127.0.0.1:9586", "[::1]:9586") into SS. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, char *err)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_STREAM },
			*res = NULL;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(addr, ':'), *h = addr;
	size_t hlen = colon ? (size_t)(colon - addr) : 0;

	if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
		h = addr + 1;
		hlen -= 2;
	}
	if (!colon || !hlen || hlen >= sizeof(host) || !colon[1] ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || atoi(colon + 1) < 1 ||
	    atoi(colon + 1) > 65535)
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res) || !res)
		goto bad;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
bad:
	return errmsg_set(err, -EINVAL,
			  "METRICS_ADDR \"%s\": expected an IP address and a port, such as "
			  "127.0.0.1:9586 or [::1]:9586",
			  QUOTE(addr, 60));
}

int metrics_parse_peers(const char *value, bool *peers, char *err)
{
	if (!value || !*value || !strcmp(value, "on"))
		*peers = true;
	else if (!strcmp(value, "off"))
		*peers = false;
	else
		return errmsg_set(err, -EINVAL,
				  "METRICS_PEERS \"%s\": expected on (a series per peer of each "
				  "endpoint) or off (per endpoint only)",
				  QUOTE(value, 40));
	return 0;
}

int metrics_start(struct wgd *d, const char *addr, bool peers, struct metrics **out, char *err)
{
	struct sockaddr_storage ss = { 0 };
	struct metrics *m;
	int ret;

	*out = NULL;
	if (!addr || !*addr)
		return 0;
	ret = parse_addr(addr, &ss, err);
	if (ret)
		return ret;
	m = calloc(1, sizeof(*m));
	if (!m)
		return errmsg_set(err, -ENOMEM, "out of memory");
	m->d = d;
	m->peers = peers;
	m->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
					  (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
				  0, NULL, NULL, on_request, m, MHD_OPTION_SOCK_ADDR,
				  (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned int)METRICS_CONNECTIONS_MAX,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_TIMEOUT_S,
				  MHD_OPTION_END);
	if (!m->mhd) {
		free(m);
		return errmsg_set(err, -EADDRNOTAVAIL,
				  "METRICS_ADDR %s: cannot listen there (in use, or not an address "
				  "of this host)",
				  addr);
	}
	log_info("metrics on http://%s/metrics%s", addr, peers ? "" : " (per endpoint only)");
	*out = m;
	return 0;
}

void metrics_stop(struct metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->mhd);
	free(m);
}
