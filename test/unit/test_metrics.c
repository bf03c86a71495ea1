// SPDX-License-Identifier: MIT
/* The text /metrics is written with: a buffer that grows while formatting (admin_text, a hundred
 * thousand lines at 200 endpoints) and label values escaped as the exposition format wants; and
 * the answer of a daemon over the fake backend, rendered one link at a time. */
#include "unit.h"

#include "driver/metrics.c"

#include "helper_daemon.h"
#include "helper_fake_backend.h"

#define NID "1111111111111111111111111111111111111111111111111111111111111111"

static struct admin_text t;

static void teardown(void)
{
	admin_text_free(&t);
}

UNIT_TEST(text_grows_across_its_capacity_and_keeps_every_byte)
{
	char want[200000], piece[3000];
	size_t n = 0;
	int k;

	for (int i = 0; i < 3000; i++) {
		/* Pieces short and long, formatted and appended, so that some fit in the room
		 * left and some do not, at every capacity on the way. */
		if (i % 7 == 0) {
			k = snprintf(piece, sizeof(piece), "%0*d|", i % 500 + 1, i);
			CHECK_EQ_INT(admin_text_append(&t, piece, (size_t)k), 0);
		} else {
			k = snprintf(piece, sizeof(piece), "%d:%s;", i, i % 3 ? "ab" : "");
			CHECK_EQ_INT(admin_text_printf(&t, "%d:%s;", i, i % 3 ? "ab" : ""), 0);
		}
		if (n + (size_t)k < sizeof(want)) {
			memcpy(want + n, piece, (size_t)k);
			n += (size_t)k;
		}
	}
	CHECK(n < sizeof(want));
	CHECK_EQ_INT(t.len, n);
	CHECK(t.len < t.cap);
	CHECK(t.data && t.data[t.len] == '\0');
	CHECK(t.data && !memcmp(t.data, want, n));
	teardown();
}

static void check_label(const char *value, const char *want)
{
	CHECK_EQ_INT(label(&t, false, "container", value), 0);
	if (!t.data || strcmp(t.data, want)) {
		fprintf(stderr, "  label(%s) gave %s, expected %s\n", value ? value : "NULL",
			t.data ? t.data : "(nothing)", want);
		unit_failed_checks++;
	}
	teardown();
}

UNIT_TEST(label_values_escape_backslash_quote_and_newline_only)
{
	check_label("web-1", ",container=\"web-1\"");
	check_label(NULL, ",container=\"\"");
	check_label("", ",container=\"\"");
	check_label("a\\b\"c\nd", ",container=\"a\\\\b\\\"c\\nd\"");
	check_label("\n\n", ",container=\"\\n\\n\"");
	check_label("grüße\t", ",container=\"grüße\t\"");
	CHECK_EQ_INT(label(&t, true, "network", "prod"), 0);
	CHECK(t.data && !strcmp(t.data, "network=\"prod\""));
	teardown();
}

static struct test_daemon td;

/* METHOD ("NetworkDriver.Join") answered without Err. */
static bool call_ok(const char *method, const char *body)
{
	json_t *answer = test_daemon_call(&td, method, body);
	bool ok = answer && !json_object_get(answer, "Err");

	if (!ok)
		fprintf(stderr, "  %s: %s\n", method,
			answer ? json_string_value(json_object_get(answer, "Err")) : "(no answer)");
	json_decref(answer);
	return ok;
}

/* A network of four endpoints, the first three joined: each of those has the other two as
 * peers; the fourth has none. */
static void mesh_up(void)
{
	char body[512];

	log_set_level(LOG_LEVEL_ERROR);
	fake_reset();
	test_daemon_init(&td, &fake_backend);
	CHECK(call_ok("NetworkDriver.CreateNetwork",
		      "{\"NetworkID\":\"" NID "\",\"Options\":{},\"IPv4Data\":"
		      "[{\"Pool\":\"10.7.0.0/24\"}],\"IPv6Data\":[]}"));
	for (int i = 1; i <= 4; i++) {
		snprintf(body, sizeof(body),
			 "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"%d%063d\",\"Interface\":"
			 "{\"Address\":\"10.7.0.%d/24\"},\"Options\":{}}",
			 i, 0, i + 1);
		CHECK(call_ok("NetworkDriver.CreateEndpoint", body));
		snprintf(body, sizeof(body),
			 "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"%d%063d\",\"SandboxKey\":"
			 "\"/proc/self/ns/net\",\"Options\":{}}",
			 i, 0);
		if (i < 4)
			CHECK(call_ok("NetworkDriver.Join", body));
	}
}

static void mesh_down(void)
{
	test_daemon_destroy(&td);
	fake_reset();
}

struct seen {
	size_t endpoints, peers[8];
	int fail_at; /* the endpoint (1-based) whose visit fails, 0: none */
};

static int visit(void *ctx, size_t net_index, const json_t *n, const json_t *ep)
{
	struct seen *s = ctx;

	CHECK_EQ_INT(net_index, 0);
	CHECK(json_object_get(n, "endpoints") != NULL);
	if (s->endpoints < 8)
		s->peers[s->endpoints] = json_array_size(json_object_get(ep, "peers"));
	return ++s->endpoints == (size_t)s->fail_at ? -EIO : 0;
}

UNIT_TEST(collect_each_hands_over_every_endpoint_with_its_peers_and_keeps_none)
{
	struct seen s = { 0 };
	char err[ERRMSG_LEN];
	json_t *doc = NULL, *ep;
	size_t i;

	mesh_up();
	CHECK_EQ_INT(status_collect_each(&td.d, visit, &s, &doc, err), 0);
	CHECK_EQ_INT(s.endpoints, 4);
	for (i = 0; i < 3; i++)
		CHECK_EQ_INT(s.peers[i], 2);
	CHECK_EQ_INT(s.peers[3], 0);
	json_array_foreach (json_object_get(json_array_get(json_object_get(doc, "networks"), 0),
					    "endpoints"),
			    i, ep)
		CHECK_EQ_INT(json_array_size(json_object_get(ep, "peers")), 0);
	json_decref(doc);
	/* wgctl show's document keeps them. */
	CHECK_EQ_INT(status_collect(&td.d, NULL, NULL, &doc, err), 0);
	ep = json_array_get(json_object_get(json_array_get(json_object_get(doc, "networks"), 0),
					    "endpoints"),
			    0);
	CHECK_EQ_INT(json_array_size(json_object_get(ep, "peers")), 2);
	json_decref(doc);
	/* A visit that fails stops the collection with its error and leaves nothing. */
	memset(&s, 0, sizeof(s));
	s.fail_at = 2;
	doc = NULL;
	CHECK_EQ_INT(status_collect_each(&td.d, visit, &s, &doc, err), -EIO);
	CHECK_EQ_INT(s.endpoints, 2);
	CHECK(doc == NULL);
	mesh_down();
}

/* The lines of TEXT that start with PREFIX, and whether they come one after another. */
static size_t count_lines(const char *text, const char *prefix, bool *together)
{
	size_t n = 0, runs = 0;
	bool in = false;

	for (const char *l = text; l && *l;) {
		const char *end = strchr(l, '\n');
		bool match = !strncmp(l, prefix, strlen(prefix));

		n += match;
		runs += match && !in;
		in = match;
		l = end ? end + 1 : NULL;
	}
	*together = runs <= 1;
	return n;
}

/* The value of FAMILY's sample for endpoint EID12 in TEXT; -1 when there is none. */
static long long sample(const char *text, const char *family, const char *eid12)
{
	char want[96];

	snprintf(want, sizeof(want), "endpoint=\"%s\"", eid12);
	for (const char *l = text; l && *l;) {
		const char *end = strchr(l, '\n'), *close = strstr(l, "} ");
		size_t n = strlen(family);

		if (!strncmp(l, family, n) && l[n] == '{' && close && (!end || close < end)) {
			char line[512];

			snprintf(line, sizeof(line), "%.*s", (int)(close - l), l);
			if (strstr(line, want))
				return atoll(close + 2);
		}
		l = end ? end + 1 : NULL;
	}
	return -1;
}

/* Per endpoint: the three joined have two peers each (the fourth none), no handshake on the fake
 * backend; each family's four samples together. */
static void check_endpoint_families(const char *text)
{
	bool together;

	for (size_t f = 0; text && f < N_ENDPOINT_FAMILIES; f++) {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "%s{", endpoint_families[f].name);
		CHECK_EQ_INT(count_lines(text, prefix, &together), 4);
		CHECK(together);
	}
	CHECK(text && strstr(text, "wireguard_endpoint_peers{network=\"111111111111\","
				   "network_id=\"111111111111\",container=\"\","
				   "endpoint=\"200000000000\",identity=\"") != NULL);
	CHECK_EQ_INT(sample(text, "wireguard_endpoint_peers", "100000000000"), 2);
	CHECK_EQ_INT(sample(text, "wireguard_endpoint_peers", "300000000000"), 2);
	CHECK_EQ_INT(sample(text, "wireguard_endpoint_peers", "400000000000"), 0);
	CHECK_EQ_INT(sample(text, "wireguard_endpoint_latest_handshake_seconds", "100000000000"),
		     0);
	CHECK_EQ_INT(sample(text, "wireguard_endpoint_sent_bytes", "400000000000"), 0);
}

/* D's metrics with or without the per-peer series into OUT, read as the HTTP answer reads them:
 * in small pieces that cross the parts' bounds, checked against the parts one after another. */
static int render(bool peers, struct admin_text *out, char *err)
{
	struct metrics_text text = { 0 };
	struct admin_text whole = { 0 };
	char piece[7];
	size_t n, len = 0;
	int ret;

	ret = metrics_render(&td.d, peers, &text, err);
	if (ret)
		return ret;
	for (size_t i = 0; i < N_PARTS; i++)
		CHECK_EQ_INT(admin_text_append(&whole, text.part[i].data ?: "", text.part[i].len),
			     0);
	CHECK_EQ_INT(whole.len, text.len);
	while ((n = metrics_text_read(&text, len, piece, sizeof(piece))) > 0) {
		CHECK_EQ_INT(admin_text_append(out, piece, n), 0);
		len += n;
	}
	CHECK_EQ_INT(len, text.len);
	CHECK_EQ_INT(metrics_text_read(&text, text.len + 3, piece, sizeof(piece)), 0);
	CHECK(out->data && whole.data && !memcmp(out->data, whole.data, len));
	admin_text_free(&whole);
	metrics_text_free(&text);
	return 0;
}

UNIT_TEST(metrics_of_a_mesh_one_sample_per_peer_each_family_together)
{
	struct admin_text out = { 0 };
	char err[ERRMSG_LEN];
	bool together;

	mesh_up();
	CHECK_EQ_INT(render(true, &out, err), 0);
	CHECK(out.data != NULL);
	for (size_t f = 0; out.data && f < N_PEER_FAMILIES; f++) {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "%s{", peer_families[f].name);
		CHECK_EQ_INT(count_lines(out.data, prefix, &together), 6);
		CHECK(together);
		snprintf(prefix, sizeof(prefix), "# TYPE %s %s\n%s{", peer_families[f].name,
			 peer_families[f].type, peer_families[f].name);
		CHECK(strstr(out.data, prefix) != NULL);
	}
	CHECK(out.data && strstr(out.data, "wireguard_sent_bytes_total{network=\"111111111111\","
					   "network_id=\"111111111111\",container=\"\","
					   "endpoint=\"100000000000\",identity=\"") != NULL);
	CHECK(out.data && strstr(out.data, "link=\"active\"} 6\n") != NULL);
	CHECK(out.data && strstr(out.data, "link=\"programming\"} 0\n") != NULL);
	check_endpoint_families(out.data);
	admin_text_free(&out);
	mesh_down();
}

UNIT_TEST(metrics_peers_off_per_endpoint_only)
{
	struct admin_text out = { 0 };
	char err[ERRMSG_LEN];
	bool together, peers = true;

	mesh_up();
	CHECK_EQ_INT(render(false, &out, err), 0);
	for (size_t f = 0; out.data && f < N_PEER_FAMILIES; f++)
		CHECK(strstr(out.data, peer_families[f].name) == NULL);
	check_endpoint_families(out.data);
	CHECK(out.data && strstr(out.data, "link=\"active\"} 6\n") != NULL);
	CHECK_EQ_INT(count_lines(out.data, "wireguard_endpoints{", &together), 2);
	admin_text_free(&out);
	mesh_down();
	/* The setting. */
	CHECK_EQ_INT(metrics_parse_peers(NULL, &peers, err), 0);
	CHECK(peers);
	CHECK_EQ_INT(metrics_parse_peers("off", &peers, err), 0);
	CHECK(!peers);
	CHECK_EQ_INT(metrics_parse_peers("on", &peers, err), 0);
	CHECK(peers);
	CHECK_EQ_INT(metrics_parse_peers("yes", &peers, err), -EINVAL);
	CHECK(peers);
	CHECK(strstr(err, "METRICS_PEERS \"yes\": expected on") != NULL);
}

UNIT_MAIN("metrics", UNIT_CASE(text_grows_across_its_capacity_and_keeps_every_byte),
	  UNIT_CASE(label_values_escape_backslash_quote_and_newline_only),
	  UNIT_CASE(collect_each_hands_over_every_endpoint_with_its_peers_and_keeps_none),
	  UNIT_CASE(metrics_of_a_mesh_one_sample_per_peer_each_family_together),
	  UNIT_CASE(metrics_peers_off_per_endpoint_only))
