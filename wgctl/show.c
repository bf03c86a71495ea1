// SPDX-License-Identifier: MIT
/*
 * wgctl show: the daemon's status document (driver/status.h) in the shape of `wg show`, with what
 * the driver knows beyond WireGuard (container, identity, link state) beside it.
 */
#include "show.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_int_t num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* "1 hour, 2 minutes, 3 seconds", as wg prints an age. */
static void print_age(FILE *f, long long secs)
{
	static const struct {
		long long size;
		const char *name;
	} units[] = { { 86400 * 365, "year" },
		      { 86400, "day" },
		      { 3600, "hour" },
		      { 60, "minute" },
		      { 1, "second" } };
	bool first = true;

	if (secs <= 0) {
		fputs("now", f);
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		long long n = secs / units[i].size;

		if (!n)
			continue;
		secs %= units[i].size;
		fprintf(f, "%s%lld %s%s", first ? "" : ", ", n, units[i].name, n == 1 ? "" : "s");
		first = false;
	}
	fputs(" ago", f);
}

/* Bytes as wg prints them: B, KiB, MiB, GiB, TiB with two decimals. */
static void print_bytes(FILE *f, json_int_t b)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	size_t u = 0;

	if (b < 1024) {
		fprintf(f, "%" PRId64 " B", (int64_t)b);
		return;
	}
	for (v /= 1024; v >= 1024 && u < 3; u++)
		v /= 1024;
	fprintf(f, "%.2f %s", v, units[u]);
}

static void print_list(FILE *f, const json_t *a)
{
	size_t i;
	json_t *v;

	json_array_foreach (a, i, v)
		fprintf(f, "%s%s", i ? ", " : "", json_string_value(v));
	if (!json_array_size(a))
		fputs("(none)", f);
}

/* Who a peer is: "db (container db, endpoint 1a2b3c4d5e6f, host 7f8e9d0c1b2a)". */
static void print_who(FILE *f, const json_t *p)
{
	const char *kind = str(p, "kind"), *c = str(p, "container"), *eid = str(p, "endpoint_id");
	const char *host = str(p, "host");
	const char *sep = " (";

	fputs(str(p, "identity") ? str(p, "identity") : "(unknown)", f);
	if (kind && !strcmp(kind, "outside")) {
		fprintf(f, "%soutside peer", sep);
		sep = ", ";
	} else if (c) {
		fprintf(f, "%scontainer %s", sep, c);
		sep = ", ";
	}
	if (eid && (!kind || strcmp(kind, "outside"))) {
		fprintf(f, "%sendpoint %.12s", sep, eid);
		sep = ", ";
	}
	if (host) {
		fprintf(f, "%shost %.12s", sep, host);
		sep = ", ";
	}
	if (strcmp(sep, " ("))
		fputc(')', f);
}

static void print_peer(FILE *f, const json_t *p, time_t now)
{
	const char *pub = str(p, "public_key"), *endpoint = str(p, "endpoint");
	const char *link = str(p, "link"), *reason = str(p, "reason");
	json_int_t hs = num(p, "latest_handshake"), ka = num(p, "persistent_keepalive");
	json_int_t rx = num(p, "rx_bytes"), tx = num(p, "tx_bytes");

	if (!pub) {
		/* A declared link with no peer to show yet. */
		fprintf(f, "\n  link to %s: %s", str(p, "identity"), link ? link : "?");
		if (reason)
			fprintf(f, " (%s)", reason);
		fputc('\n', f);
		return;
	}
	fprintf(f, "\n  peer: %s\n    identity: ", pub);
	print_who(f, p);
	fputc('\n', f);
	if (endpoint)
		fprintf(f, "    endpoint: %s\n", endpoint);
	fputs("    allowed ips: ", f);
	print_list(f, json_object_get(p, "allowed_ips"));
	fputc('\n', f);
	if (hs > 0) {
		fputs("    latest handshake: ", f);
		print_age(f, (long long)(now - hs));
		fputc('\n', f);
	}
	if (rx || tx) {
		fputs("    transfer: ", f);
		print_bytes(f, rx);
		fputs(" received, ", f);
		print_bytes(f, tx);
		fputs(" sent\n", f);
	}
	if (ka)
		fprintf(f, "    persistent keepalive: every %" PRId64 " seconds\n", (int64_t)ka);
	fprintf(f, "    link: %s", link ? link : "?");
	if (reason)
		fprintf(f, " (%s)", reason);
	fputc('\n', f);
}

static void print_endpoint(FILE *f, const json_t *ep, time_t now)
{
	const char *c = str(ep, "container"), *state = str(ep, "state"), *error = str(ep, "error");
	size_t i;
	json_t *p;

	fprintf(f, "\nendpoint: %.12s\n", str(ep, "id"));
	if (c)
		fprintf(f, "  container: %s\n", c);
	fprintf(f, "  identity: %s\n  public key: %s\n  backend: %s\n  interface: %s\n",
		str(ep, "identity"), str(ep, "public_key"), str(ep, "backend"),
		str(ep, "interface"));
	if (num(ep, "listen_port"))
		fprintf(f, "  listening port: %" PRId64 "\n", (int64_t)num(ep, "listen_port"));
	fputs("  addresses: ", f);
	print_list(f, json_object_get(ep, "addresses"));
	fprintf(f, "\n  state: %s\n",
		state && !strcmp(state, "waiting") ? "waiting for its container's links and labels"
						   : state);
	if (error)
		fprintf(f, "  error: %s\n", error);
	json_array_foreach (json_object_get(ep, "peers"), i, p)
		print_peer(f, p, now);
}

static void print_network(FILE *f, const json_t *n, bool first, time_t now)
{
	const char *name = str(n, "name"), *cluster = str(n, "cluster");
	json_int_t ka = num(n, "keepalive");
	size_t i;
	json_t *v;

	if (!first)
		fputc('\n', f);
	if (name)
		fprintf(f, "network: %s (%.12s)\n", name, str(n, "id"));
	else
		fprintf(f, "network: %.12s\n", str(n, "id"));
	if (cluster)
		fprintf(f, "  cluster network: %s\n", cluster);
	fprintf(f, "  policy: %s\n  preshared keys: %s\n  mtu: %" PRId64 "\n", str(n, "policy"),
		json_is_true(json_object_get(n, "psk")) ? "on" : "off", (int64_t)num(n, "mtu"));
	if (ka)
		fprintf(f, "  persistent keepalive: every %" PRId64 " seconds\n", (int64_t)ka);
	json_array_foreach (json_object_get(n, "endpoints"), i, v)
		print_endpoint(f, v, now);
	json_array_foreach (json_object_get(n, "outside_peers"), i, v) {
		fprintf(f, "\noutside peer: %s\n  public key: %s\n  addresses: ", str(v, "name"),
			str(v, "public_key"));
		print_list(f, json_object_get(v, "addresses"));
		fprintf(f, "\n  links: %s\n", *str(v, "links") ? str(v, "links") : "(none)");
	}
}

int show_print(FILE *f, const char *text, bool as_json)
{
	json_error_t jerr;
	json_t *doc = json_loads(text, 0, &jerr), *nets, *n;
	time_t now = time(NULL);
	size_t i;

	nets = json_object_get(doc, "networks");
	if (!json_is_array(nets)) {
		fprintf(stderr, "wgctl: show: the daemon's answer is not a status document\n");
		json_decref(doc);
		return 1;
	}
	if (as_json)
		json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	else if (!json_array_size(nets))
		fputs("no wireguard network on this host\n", f);
	json_array_foreach (nets, i, n)
		if (!as_json)
			print_network(f, n, i == 0, now);
	if (as_json)
		fputc('\n', f);
	json_decref(doc);
	return fflush(f) ? 1 : 0;
}
