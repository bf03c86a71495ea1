// SPDX-License-Identifier: MIT
/* The etcd v3 client: its parsers on realistic and hostile answers, then against a real etcd 3.4
 * (Debian's etcd-server) started by helper_etcd: keys, txn CAS, ranges, leases, watches through
 * restarts and compaction, TLS, auth, a stopped etcd and a dead endpoint. Lines starting with "#"
 * give the figures measured. */
#include "unit.h"

#include "driver/etcd.c"
#include "helper_etcd.h"

#include <signal.h>

#define WAIT_MS 5000

/* The servers, started on first use and shared; the helper removes them at exit. */
static struct etcd_server plain, tls, authed;
static int plain_state, tls_state, authed_state; /* 0 not tried, 1 up, -1 failed */

static struct etcd_server *server_get(struct etcd_server *s, int *state, unsigned flags)
{
	if (!*state)
		*state = etcd_server_start(s, flags) ? -1 : 1;
	return *state == 1 ? s : NULL;
}

static struct etcd_server *plain_server(void)
{
	return server_get(&plain, &plain_state, 0);
}

static int64_t ms_since(int64_t t0)
{
	return now_ms() - t0;
}

/* A client of ENDPOINTS with TIMEOUT_MS (0: default), or NULL (the test fails). */
static struct etcd *client(const char *endpoints, unsigned timeout_ms)
{
	struct etcd_config cfg = { .endpoints = endpoints, .timeout_ms = timeout_ms };
	char err[ERRMSG_LEN] = "";
	struct etcd *e = NULL;

	CHECK_EQ_INT(etcd_open(&cfg, &e, err), 0);
	if (err[0])
		fprintf(stderr, "  %s\n", err);
	return e;
}

static int put_str(struct etcd *e, const char *key, const char *value)
{
	char err[ERRMSG_LEN] = "";
	int ret = etcd_put(e, key, strlen(key), value, strlen(value), 0, NULL, err);

	if (ret)
		fprintf(stderr, "  put %s: %s\n", key, err);
	return ret;
}

/* The value of KEY as a string into OUT ("" when absent); the call's return. */
static int get_str(struct etcd *e, const char *key, char *out, size_t size)
{
	struct etcd_range r;
	char err[ERRMSG_LEN] = "";
	int ret = etcd_get(e, key, strlen(key), &r, err);

	out[0] = '\0';
	if (ret)
		fprintf(stderr, "  get %s: %s\n", key, err);
	else if (r.n == 1)
		snprintf(out, size, "%.*s", (int)r.kvs[0].value_len, (const char *)r.kvs[0].value);
	etcd_range_free(&r);
	return ret;
}

static int compact(struct etcd *e, int64_t revision)
{
	struct call c = { .what = "compact", .path = "/v3/kv/compaction" };
	json_t *root = json_object();
	char err[ERRMSG_LEN] = "";
	bool fail = false;
	int ret;

	set_new(root, "revision", int64_json(revision), &fail);
	set_new(root, "physical", json_true(), &fail);
	ret = request(e, &c, root, fail, err);
	if (ret)
		fprintf(stderr, "  compact: %s\n", err);
	buf_free(&c.answer);
	return ret;
}

static int64_t current_revision(struct etcd *e)
{
	struct etcd_range r;
	char err[ERRMSG_LEN];
	int64_t rev = 0;

	if (!etcd_get(e, "/", 1, &r, err))
		rev = r.revision;
	etcd_range_free(&r);
	return rev;
}

UNIT_TEST(open_checks_the_endpoint_list)
{
	static const char *const bad_lists[] = {
		"ftp://127.0.0.1:2379", "http://127.0.0.1",
		"http://:2379",		"http://h:0",
		"http://h:65536",	"http://h:2379/v3",
		"http://u@h:2379",	"http://h:2379,,http://g:1",
		"http://[::1:2379",
	};
	struct etcd_config cfg = { .endpoints = " http://127.0.0.1:2379 ,https://[::1]:2380/" };
	char err[ERRMSG_LEN];
	struct etcd *e = NULL;

	CHECK_EQ_INT(etcd_open(&cfg, &e, err), 0);
	CHECK(e && e->n_eps == 2);
	CHECK(e && !strcmp(e->eps[0].url, "http://127.0.0.1:2379"));
	CHECK(e && !strcmp(e->eps[1].url, "https://[::1]:2380"));
	CHECK(e && e->timeout_ms == ETCD_TIMEOUT_MS);
	etcd_close(e);
	etcd_close(NULL);
	for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++) {
		const char *entry = strrchr(bad_lists[i], ',') ? "" : bad_lists[i];

		cfg.endpoints = bad_lists[i];
		err[0] = '\0';
		CHECK_EQ_INT(etcd_open(&cfg, &e, err), -EINVAL);
		CHECK(e == NULL);
		CHECK_STR_CONTAINS(err, entry);
		CHECK_STR_CONTAINS(err, "expected http://host:port");
	}
	cfg.endpoints = "http://127.0.0.1:2379";
	cfg.ca_file = "/nonexistent/ca.crt";
	CHECK_EQ_INT(etcd_open(&cfg, &e, err), -ENOENT);
	CHECK_STR_CONTAINS(err, "CA file \"/nonexistent/ca.crt\"");
	cfg.ca_file = NULL;
	cfg.username = "root";
	CHECK_EQ_INT(etcd_open(&cfg, &e, err), -EINVAL);
}

/* Answers as etcd 3.4.23 gives them (multihost.md 3.3, 3.4). */
UNIT_TEST(parse_realistic_answers)
{
	static const char range[] =
		"{\"header\":{\"cluster_id\":\"1\",\"member_id\":\"2\",\"revision\":\"4\","
		"\"raft_term\":\"2\"},\"kvs\":[{\"key\":\"L3dnL24xL2hvc3RzL2gx\",\"create_revision\":"
		"\"2\",\"mod_revision\":\"2\",\"version\":\"1\",\"value\":\"eyJwdWIiOiJ4In0=\"},"
		"{\"key\":\"L3dnL24xL2hvc3RzL2gy\",\"create_revision\":\"3\",\"mod_revision\":\"4\","
		"\"version\":\"2\",\"value\":\"djM=\",\"lease\":\"7587\"}],\"count\":\"2\"}";
	static const char txn_failed[] =
		"{\"header\":{\"revision\":\"5\"},\"responses\":[{\"response_range\":{\"header\":"
		"{\"revision\":\"5\"},\"kvs\":[{\"key\":\"YQ==\",\"value\":\"ZXAtYWFh\"}],\"count\":"
		"\"1\"}},{\"response_delete_range\":{\"header\":{},\"deleted\":\"3\"}},"
		"{\"response_put\":{\"header\":{\"revision\":\"5\"}}}]}";
	struct etcd_txn_result t;
	struct etcd_range r;
	char err[ERRMSG_LEN];

	CHECK_EQ_INT(etcd_parse_range(range, strlen(range), &r, err), 0);
	CHECK_EQ_INT(r.n, 2);
	CHECK_EQ_INT(r.revision, 4);
	CHECK(!r.more);
	CHECK(r.n == 2 && r.kvs[0].key_len == 15 && !strcmp(r.kvs[0].key, "/wg/n1/hosts/h1"));
	CHECK(r.n == 2 && !strcmp((char *)r.kvs[0].value, "{\"pub\":\"x\"}"));
	CHECK(r.n == 2 && r.kvs[1].mod_revision == 4 && r.kvs[1].version == 2);
	CHECK(r.n == 2 && r.kvs[1].lease == 7587 && r.kvs[0].lease == 0);
	etcd_range_free(&r);
	CHECK(r.kvs == NULL && r.n == 0);

	CHECK_EQ_INT(etcd_parse_range("{\"header\":{\"revision\":\"9\"}}", 27, &r, err), 0);
	CHECK(r.n == 0 && r.revision == 9 && !r.more);
	etcd_range_free(&r);

	CHECK_EQ_INT(etcd_parse_txn(txn_failed, strlen(txn_failed), &t, err), 0);
	CHECK(!t.succeeded);
	CHECK_EQ_INT(t.revision, 5);
	CHECK_EQ_INT(t.n, 3);
	CHECK(t.n == 3 && t.results[0].type == ETCD_OP_RANGE && t.results[0].range.n == 1);
	CHECK(t.n == 3 && !strcmp((char *)t.results[0].range.kvs[0].value, "ep-aaa"));
	CHECK(t.n == 3 && t.results[1].type == ETCD_OP_DELETE && t.results[1].deleted == 3);
	CHECK(t.n == 3 && t.results[2].type == ETCD_OP_PUT);
	etcd_txn_result_free(&t);
}

UNIT_TEST(parse_watch_messages)
{
	static const char events[] =
		"{\"result\":{\"header\":{\"revision\":\"13\"},\"events\":[{\"kv\":{\"key\":\"YQ==\","
		"\"create_revision\":\"10\",\"mod_revision\":\"13\",\"version\":\"2\",\"value\":"
		"\"djI=\"},\"prev_kv\":{\"key\":\"YQ==\",\"mod_revision\":\"10\",\"value\":\"djE=\"}},"
		"{\"type\":\"DELETE\",\"kv\":{\"key\":\"Yg==\",\"mod_revision\":\"13\"}}]}}";
	static const char compacted[] =
		"{\"result\":{\"header\":{\"cluster_id\":\"3\",\"raft_term\":\"2\"},\"canceled\":true,"
		"\"compact_revision\":\"14\"}}";
	static const char progress[] = "{\"result\":{\"header\":{\"revision\":\"4\"},\"watch_id\":"
				       "\"-1\"}}";
	static const char stream_error[] =
		"{\"error\":{\"grpc_code\":16,\"http_code\":401,\"message\":\"etcdserver: invalid "
		"auth token\",\"http_status\":\"Unauthorized\"}}";
	struct etcd_watch_message m;
	char err[ERRMSG_LEN];

	CHECK_EQ_INT(etcd_parse_watch_message(events, strlen(events), &m, err), 0);
	CHECK_EQ_INT(m.n_events, 2);
	CHECK_EQ_INT(m.revision, 13);
	CHECK(m.n_events == 2 && m.events[0].type == ETCD_EVENT_PUT && m.events[0].has_prev_kv);
	CHECK(m.n_events == 2 && !strcmp((char *)m.events[0].prev_kv.value, "v1"));
	CHECK(m.n_events == 2 && m.events[1].type == ETCD_EVENT_DELETE && !m.events[1].has_prev_kv);
	CHECK(m.n_events == 2 && m.events[1].kv.mod_revision == 13 && !m.events[1].kv.value_len);
	etcd_watch_message_free(&m);

	CHECK_EQ_INT(etcd_parse_watch_message(compacted, strlen(compacted), &m, err), 0);
	CHECK(m.canceled && m.compact_revision == 14 && m.revision == 0 && !m.created);
	etcd_watch_message_free(&m);
	CHECK_EQ_INT(etcd_parse_watch_message(progress, strlen(progress), &m, err), 0);
	CHECK(m.watch_id == -1 && m.revision == 4 && !m.n_events);
	etcd_watch_message_free(&m);
	CHECK_EQ_INT(etcd_parse_watch_message(stream_error, strlen(stream_error), &m, err),
		     -EACCES);
	CHECK_STR_CONTAINS(err, "\"etcdserver: invalid auth token\" (code 16)");
	etcd_watch_message_free(&m);
}

struct bad_answer {
	int kind; /* 0 range, 1 txn, 2 watch */
	const char *text;
	int ret;
	const char *says;
};

UNIT_TEST(parsers_refuse_malformed_answers)
{
	static const struct bad_answer cases[] = {
		{ 0, "", -EPROTO, "not JSON" },
		{ 0, "[]", -EPROTO, "expected an object, got an array" },
		{ 0, "{} {}", -EPROTO, "not JSON" },
		{ 0, "{\"more\":true,\"more\":false}", -EPROTO, "not JSON" },
		{ 0, "{\"kvs\":{}}", -EPROTO, "kvs: expected an array, got an object" },
		{ 0, "{\"kvs\":[5]}", -EPROTO, "kvs[0]: expected an object" },
		{ 0, "{\"kvs\":[{\"key\":5}]}", -EPROTO, "kvs[0].key: expected a base64 string" },
		{ 0, "{\"kvs\":[{\"key\":\"YQ\"}]}", -EPROTO, "kvs[0].key: not base64" },
		{ 0, "{\"kvs\":[{\"key\":\"Y!==\"}]}", -EPROTO, "kvs[0].key: not base64" },
		{ 0, "{\"kvs\":[{\"key\":\"YR==\"}]}", -EPROTO, "kvs[0].key: not base64" },
		{ 0, "{\"kvs\":[{\"value\":\"YQ==\"}]}", -EPROTO, "kvs[0].key: missing" },
		{ 0, "{\"kvs\":[{\"key\":\"YQ==\",\"value\":null}]}", -EPROTO, "kvs[0].value" },
		{ 0, "{\"kvs\":[{\"key\":\"YQ==\",\"version\":\"1e3\"}]}", -EPROTO,
		  "not an int64" },
		{ 0, "{\"header\":{\"revision\":\"99999999999999999999\"}}", -EPROTO,
		  "not an int64" },
		{ 0, "{\"header\":{\"revision\":\"9223372036854775808\"}}", -EPROTO,
		  "not an int64" },
		{ 0, "{\"header\":{\"revision\":\"-5\"}}", -EPROTO, "header.revision: negative" },
		{ 0, "{\"header\":{\"revision\":1.5}}", -EPROTO, "expected an integer string" },
		{ 0, "{\"header\":[]}", -EPROTO, "header: expected an object" },
		{ 0, "{\"more\":\"yes\"}", -EPROTO, "more: expected a boolean" },
		{ 0,
		  "{\"error\":\"x\",\"message\":\"etcdserver: bad\\n\\u001b[31mred\",\"code\":11}",
		  -ERANGE, "\"etcdserver: bad\\n\\x1b[31mred\" (code 11)" },
		{ 0, "{\"error\":\"etcdserver: permission denied\",\"code\":7}", -EACCES,
		  "permission denied" },
		{ 0, "{\"error\":\"odd\"}", -EIO, "odd" },
		{ 1, "{\"responses\":{}}", -EPROTO, "responses: expected an array" },
		{ 1, "{\"responses\":[{\"response_put\":{},\"response_range\":{}}]}", -EPROTO,
		  "one response" },
		{ 1, "{\"responses\":[{\"response_txn\":{}}]}", -EPROTO, "unexpected response" },
		{ 1, "{\"responses\":[{\"response_range\":{\"kvs\":[{\"key\":\"@@@@\"}]}}]}",
		  -EPROTO, "responses[0].response_range.kvs[0].key: not base64" },
		{ 1, "{\"succeeded\":1}", -EPROTO, "succeeded: expected a boolean" },
		{ 2, "{}", -EPROTO, "result: expected an object, got nothing" },
		{ 2, "{\"result\":5}", -EPROTO, "result: expected an object, got an integer" },
		{ 2, "{\"result\":{\"events\":[{\"type\":\"BOGUS\",\"kv\":{\"key\":\"YQ==\"}}]}}",
		  -EPROTO, "result.events[0].type: unknown" },
		{ 2, "{\"result\":{\"events\":[{\"kv\":{\"key\":\"YQ==\"}}]}}", -EPROTO,
		  "no mod_revision" },
		{ 2, "{\"result\":{\"events\":[{\"type\":\"PUT\"}]}}", -EPROTO,
		  "result.events[0].kv: expected an object, got nothing" },
		{ 2,
		  "{\"result\":{\"events\":[{\"kv\":{\"key\":\"YQ==\",\"mod_revision\":\"3\"},"
		  "\"prev_kv\":{\"key\":7}}]}}",
		  -EPROTO, "result.events[0].prev_kv.key" },
		{ 2, "{\"result\":{\"fragment\":true}}", -EPROTO, "fragment" },
		{ 2, "{\"result\":{\"watch_id\":\"x\"}}", -EPROTO,
		  "result.watch_id: not an int64" },
		{ 2, "{\"result\":{\"cancel_reason\":[]}}", -EPROTO, "cancel_reason" },
	};
	char err[ERRMSG_LEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_answer *c = &cases[i];
		struct etcd_range r;
		struct etcd_txn_result t;
		struct etcd_watch_message m;
		int ret;

		err[0] = '\0';
		if (c->kind == 0)
			ret = etcd_parse_range(c->text, strlen(c->text), &r, err);
		else if (c->kind == 1)
			ret = etcd_parse_txn(c->text, strlen(c->text), &t, err);
		else
			ret = etcd_parse_watch_message(c->text, strlen(c->text), &m, err);
		if (ret != c->ret || !strstr(err, c->says))
			fprintf(stderr, "  case %zu %s: %d \"%s\"\n", i, c->text, ret, err);
		CHECK_EQ_INT(ret, c->ret);
		CHECK_STR_CONTAINS(err, c->says);
		CHECK(!strchr(err, '\n'));
		if (c->kind == 0)
			etcd_range_free(&r);
		else if (c->kind == 1)
			etcd_txn_result_free(&t);
		else
			etcd_watch_message_free(&m);
	}
}

/* More elements than any answer may have: refused before anything is allocated for them. */
UNIT_TEST(parsers_refuse_huge_arrays)
{
	size_t n = ETCD_ARRAY_MAX + 1, len = 0;
	char *text = malloc(n * 5 + 32), err[ERRMSG_LEN];
	struct etcd_range r;

	if (!text)
		return;
	len += (size_t)sprintf(text, "{\"kvs\":[");
	for (size_t i = 0; i < n; i++) {
		memcpy(text + len, "null,", 5);
		len += 5;
	}
	memcpy(text + len - 1, "]}", 2);
	len += 1;
	CHECK_EQ_INT(etcd_parse_range(text, len, &r, err), -EPROTO);
	CHECK_STR_CONTAINS(err, "kvs: 1048577 elements");
	CHECK(r.kvs == NULL);
	etcd_range_free(&r);
	free(text);
}

struct line_log {
	char lines[8][64];
	size_t n;
};

static int log_line(void *arg, const char *line, size_t len)
{
	struct line_log *log = arg;

	if (log->n < 8)
		snprintf(log->lines[log->n++], 64, "%.*s", (int)len, line);
	return 0;
}

/* Newline-delimited messages split anywhere across chunks, or several in one chunk. */
UNIT_TEST(watch_lines_survive_any_chunking)
{
	static const char stream[] = "{\"a\":1}\n{\"b\":\"two\"}\n\n{\"c\":3}\n{\"d\"";

	for (size_t chunk = 1; chunk <= sizeof(stream); chunk++) {
		struct lines l = { .pending = { .max = 64 } };
		struct line_log log = { .n = 0 };
		int ret = 0;

		for (size_t off = 0; off < sizeof(stream) - 1 && !ret; off += chunk) {
			size_t n =
				sizeof(stream) - 1 - off < chunk ? sizeof(stream) - 1 - off : chunk;

			ret = lines_feed(&l, stream + off, n, log_line, &log);
		}
		CHECK_EQ_INT(ret, 0);
		CHECK_EQ_INT(log.n, 3);
		CHECK(!strcmp(log.lines[0], "{\"a\":1}") &&
		      !strcmp(log.lines[1], "{\"b\":\"two\"}"));
		CHECK(!strcmp(log.lines[2], "{\"c\":3}"));
		CHECK_EQ_INT(l.pending.len, 4);
		buf_free(&l.pending);
	}
}

UNIT_TEST(watch_lines_are_bounded)
{
	struct lines l = { .pending = { .max = 16 } };
	struct line_log log = { .n = 0 };
	char big[40];

	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	/* In one chunk, and in pieces that would only pile up. */
	CHECK_EQ_INT(lines_feed(&l, big, sizeof(big), log_line, &log), -EMSGSIZE);
	l.pending.len = 0;
	CHECK_EQ_INT(lines_feed(&l, big, 10, log_line, &log), 0);
	CHECK_EQ_INT(lines_feed(&l, big, 10, log_line, &log), -EMSGSIZE);
	CHECK_EQ_INT(log.n, 0);
	buf_free(&l.pending);
}

UNIT_TEST(prefix_ranges_end_where_etcd_says)
{
	struct bounds b;

	CHECK_EQ_INT(bounds_make("a/b", 3, true, &b), 0);
	CHECK(b.end_len == 3 && !memcmp(b.end, "a/c", 3));
	bounds_free(&b);
	CHECK_EQ_INT(bounds_make("a\xff\xff", 3, true, &b), 0);
	CHECK(b.key_len == 3 && b.end_len == 1 && b.end[0] == 'b');
	bounds_free(&b);
	CHECK_EQ_INT(bounds_make("\xff", 1, true, &b), 0);
	CHECK(b.end_len == 1 && b.end[0] == 0);
	bounds_free(&b);
	CHECK_EQ_INT(bounds_make("", 0, true, &b), 0);
	CHECK(b.key_len == 1 && b.key[0] == 0 && b.end_len == 1 && b.end[0] == 0);
	bounds_free(&b);
	CHECK_EQ_INT(bounds_make("k", 1, false, &b), 0);
	CHECK(b.end == NULL && b.key_len == 1);
	bounds_free(&b);
}

UNIT_TEST(binary_keys_and_values)
{
	static const char key[] = "/t/kv/\0\xff\x01bin", value[] = "v\0\xff\n\"\\end";
	struct etcd_server *s = plain_server();
	struct etcd *e = s ? client(s->endpoint, 0) : NULL;
	char err[ERRMSG_LEN] = "";
	int64_t rev = 0, deleted = -1;
	struct etcd_range r;

	UNIT_SKIP_IF(!s, "etcd did not start (is etcd-server installed?)");
	CHECK_EQ_INT(etcd_put(e, key, sizeof(key) - 1, value, sizeof(value) - 1, 0, &rev, err), 0);
	CHECK(rev > 0);
	CHECK_EQ_INT(etcd_get(e, key, sizeof(key) - 1, &r, err), 0);
	CHECK_EQ_INT(r.n, 1);
	CHECK(r.n == 1 && r.kvs[0].key_len == sizeof(key) - 1 &&
	      !memcmp(r.kvs[0].key, key, sizeof(key) - 1));
	CHECK(r.n == 1 && r.kvs[0].value_len == sizeof(value) - 1 &&
	      !memcmp(r.kvs[0].value, value, sizeof(value) - 1));
	CHECK(r.n == 1 && r.kvs[0].mod_revision == rev && r.kvs[0].version == 1);
	CHECK(r.revision >= rev);
	etcd_range_free(&r);
	CHECK_EQ_INT(etcd_delete(e, key, sizeof(key) - 1, false, &deleted, err), 0);
	CHECK_EQ_INT(deleted, 1);
	CHECK_EQ_INT(etcd_get(e, key, sizeof(key) - 1, &r, err), 0);
	CHECK_EQ_INT(r.n, 0);
	etcd_range_free(&r);
	CHECK_EQ_INT(etcd_delete(e, key, sizeof(key) - 1, false, &deleted, err), 0);
	CHECK_EQ_INT(deleted, 0);
	etcd_close(e);
}

/* The ownership write of multihost.md 3.4: put only if the key has never been created. */
static int claim(struct etcd *e, const char *key, const char *owner, struct etcd_txn_result *out)
{
	struct etcd_cmp cmp = { .key = key,
				.key_len = strlen(key),
				.target = ETCD_TARGET_CREATE,
				.result = ETCD_EQUAL,
				.number = 0 };
	struct etcd_op put = { .type = ETCD_OP_PUT,
			       .key = key,
			       .key_len = strlen(key),
			       .value = owner,
			       .value_len = strlen(owner) };
	struct etcd_op get = { .type = ETCD_OP_RANGE, .key = key, .key_len = strlen(key) };
	struct etcd_txn txn = { &cmp, 1, &put, &get, 1, 1 };
	char err[ERRMSG_LEN] = "";
	int ret = etcd_txn(e, &txn, out, err);

	if (ret)
		fprintf(stderr, "  txn: %s\n", err);
	return ret;
}

UNIT_TEST(txn_creates_only_if_absent)
{
	struct etcd_server *s = plain_server();
	struct etcd *e = s ? client(s->endpoint, 0) : NULL;
	struct etcd_txn_result t;
	char err[ERRMSG_LEN];

	UNIT_SKIP_IF(!s, "etcd did not start");
	etcd_delete(e, "/t/ipam/10.77.0.5", 17, false, NULL, err);
	CHECK_EQ_INT(claim(e, "/t/ipam/10.77.0.5", "host-a", &t), 0);
	CHECK(t.succeeded && t.revision > 0);
	CHECK(t.n == 1 && t.results[0].type == ETCD_OP_PUT);
	etcd_txn_result_free(&t);
	CHECK_EQ_INT(claim(e, "/t/ipam/10.77.0.5", "host-b", &t), 0);
	CHECK(!t.succeeded);
	CHECK(t.n == 1 && t.results[0].type == ETCD_OP_RANGE && t.results[0].range.n == 1);
	CHECK(t.n == 1 && t.results[0].range.n == 1 &&
	      !strcmp((char *)t.results[0].range.kvs[0].value, "host-a"));
	etcd_txn_result_free(&t);
	etcd_close(e);
}

static int cas(struct etcd *e, const char *key, int64_t mod, const struct etcd_op *op,
	       struct etcd_txn_result *out)
{
	struct etcd_cmp cmp = { .key = key,
				.key_len = strlen(key),
				.target = ETCD_TARGET_MOD,
				.result = ETCD_EQUAL,
				.number = mod };
	struct etcd_txn txn = { .cmps = &cmp, .n_cmps = 1, .success = op, .n_success = 1 };
	char err[ERRMSG_LEN] = "";
	int ret = etcd_txn(e, &txn, out, err);

	if (ret)
		fprintf(stderr, "  txn: %s\n", err);
	return ret;
}

UNIT_TEST(txn_compares_mod_revision)
{
	static const char key[] = "/t/cas/owner";
	struct etcd_server *s = plain_server();
	struct etcd *e = s ? client(s->endpoint, 0) : NULL;
	struct etcd_op put = { .type = ETCD_OP_PUT,
			       .key = key,
			       .key_len = 12,
			       .value = "v2",
			       .value_len = 2 };
	struct etcd_op del = { .type = ETCD_OP_DELETE, .key = key, .key_len = 12 };
	struct etcd_txn_result t;
	struct etcd_range r;
	char err[ERRMSG_LEN];
	int64_t mod = 0;

	UNIT_SKIP_IF(!s, "etcd did not start");
	CHECK_EQ_INT(etcd_put(e, key, 12, "v1", 2, 0, &mod, err), 0);
	CHECK_EQ_INT(cas(e, key, mod - 1, &put, &t), 0);
	CHECK(!t.succeeded && t.n == 0);
	etcd_txn_result_free(&t);
	CHECK_EQ_INT(cas(e, key, mod, &put, &t), 0);
	CHECK(t.succeeded && t.revision > mod);
	mod = t.revision;
	etcd_txn_result_free(&t);
	CHECK_EQ_INT(etcd_get(e, key, 12, &r, err), 0);
	CHECK(r.n == 1 && !strcmp((char *)r.kvs[0].value, "v2") && r.kvs[0].version == 2);
	etcd_range_free(&r);
	CHECK_EQ_INT(cas(e, key, mod, &del, &t), 0);
	CHECK(t.succeeded && t.n == 1 && t.results[0].type == ETCD_OP_DELETE &&
	      t.results[0].deleted == 1);
	etcd_txn_result_free(&t);
	etcd_close(e);
}

UNIT_TEST(prefix_range_with_limit_and_pages)
{
	static const char *const keys[] = { "/t/range/a", "/t/range/b", "/t/range/c", "/t/range/d",
					    "/t/range/e" };
	struct etcd_server *s = plain_server();
	struct etcd *e = s ? client(s->endpoint, 0) : NULL;
	struct etcd_range r;
	char err[ERRMSG_LEN];
	int64_t before_last = 0;

	UNIT_SKIP_IF(!s, "etcd did not start");
	CHECK_EQ_INT(put_str(e, "/t/range0", "outside"), 0);
	for (size_t i = 0; i < 5; i++) {
		CHECK_EQ_INT(put_str(e, keys[i], keys[i] + 9), 0);
		if (i == 3)
			before_last = current_revision(e);
	}
	CHECK_EQ_INT(etcd_get_prefix(e, "/t/range/", 9, 0, 2, &r, err), 0);
	CHECK(r.n == 2 && r.more);
	CHECK(r.n == 2 && !strcmp(r.kvs[1].key, "/t/range/b"));
	etcd_range_free(&r);
	/* All of it in pages of two, read at one revision. */
	e->page_kvs = 2;
	CHECK_EQ_INT(etcd_get_prefix(e, "/t/range/", 9, 0, 0, &r, err), 0);
	CHECK_EQ_INT(r.n, 5);
	CHECK(!r.more && r.revision == current_revision(e));
	for (size_t i = 0; i < r.n && i < 5; i++)
		CHECK(!strcmp(r.kvs[i].key, keys[i]) &&
		      !strcmp((char *)r.kvs[i].value, keys[i] + 9));
	etcd_range_free(&r);
	CHECK_EQ_INT(etcd_get_prefix(e, "/t/range/", 9, before_last, 0, &r, err), 0);
	CHECK_EQ_INT(r.n, 4);
	CHECK_EQ_INT(r.revision, before_last);
	etcd_range_free(&r);
	CHECK_EQ_INT(etcd_get_prefix(e, "/t/range/", 9, before_last + 1000, 0, &r, err), -ERANGE);
	CHECK_STR_CONTAINS(err, "future revision\" (code 11)");
	CHECK_STR_CONTAINS(err, s->endpoint);
	etcd_range_free(&r);
	etcd_close(e);
}

UNIT_TEST(lease_grant_keepalive_revoke)
{
	struct etcd_server *s = plain_server();
	struct etcd *e = s ? client(s->endpoint, 0) : NULL;
	char err[ERRMSG_LEN], value[16];
	int64_t id = 0, ttl = -1;

	UNIT_SKIP_IF(!s, "etcd did not start");
	CHECK_EQ_INT(etcd_lease_grant(e, 10, &id, err), 0);
	CHECK(id > 0);
	CHECK_EQ_INT(etcd_lease_keepalive(e, id, &ttl, err), 0);
	CHECK(ttl > 0 && ttl <= 10);
	CHECK_EQ_INT(etcd_put(e, "/t/lease/k", 10, "alive", 5, id, NULL, err), 0);
	CHECK_EQ_INT(get_str(e, "/t/lease/k", value, sizeof(value)), 0);
	CHECK(!strcmp(value, "alive"));
	CHECK_EQ_INT(etcd_lease_revoke(e, id, err), 0);
	CHECK_EQ_INT(get_str(e, "/t/lease/k", value, sizeof(value)), 0);
	CHECK(!strcmp(value, ""));
	CHECK_EQ_INT(etcd_lease_keepalive(e, id, &ttl, err), -ENOENT);
	CHECK_EQ_INT(ttl, 0);
	CHECK_STR_CONTAINS(err, "expired or unknown");
	CHECK_EQ_INT(etcd_lease_revoke(e, id, err), -ENOENT);
	CHECK_STR_CONTAINS(err, "requested lease not found\" (code 5)");
	CHECK_EQ_INT(etcd_put(e, "/t/lease/k", 10, "x", 1, id, NULL, err), -ENOENT);
	CHECK_EQ_INT(etcd_lease_grant(e, 0, &id, err), -EINVAL);
	etcd_close(e);
}

UNIT_TEST(lease_expiry_deletes_keys)
{
	struct etcd_server *s = plain_server();
	struct etcd *e = s ? client(s->endpoint, 0) : NULL;
	char err[ERRMSG_LEN], value[16] = "alive";
	int64_t id = 0, ttl = -1, t0 = now_ms();

	UNIT_SKIP_IF(!s, "etcd did not start");
	CHECK_EQ_INT(etcd_lease_grant(e, 2, &id, err), 0);
	CHECK_EQ_INT(etcd_put(e, "/t/lease/expires", 16, "alive", 5, id, NULL, err), 0);
	while (value[0] && ms_since(t0) < 6000) {
		usleep(100 * 1000);
		CHECK_EQ_INT(get_str(e, "/t/lease/expires", value, sizeof(value)), 0);
	}
	printf("# lease of 2 s: key gone after %lld ms\n", (long long)ms_since(t0));
	CHECK(!value[0]);
	CHECK(ms_since(t0) >= 1500);
	CHECK_EQ_INT(etcd_lease_keepalive(e, id, &ttl, err), -ENOENT);
	CHECK_EQ_INT(ttl, 0);
	etcd_close(e);
}

/* What a watch delivered, for the tests to wait on. */
struct seen {
	char type; /* 'P' or 'D' */
	char key[48], value[48], prev[48];
	bool has_prev;
	int64_t mod;
};

struct recorder {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct seen ev[64];
	size_t n, messages, batch[64];
	size_t resyncs, snap_n;
	char snap[16][96]; /* "key=value" */
	int64_t snap_rev;
	size_t ups, downs;
	char why[ERRMSG_LEN], down_why[ERRMSG_LEN];
};

static void rec_init(struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
}

static void rec_events(void *ctx, const struct etcd_event *ev, size_t n, int64_t revision)
{
	struct recorder *r = ctx;

	pthread_mutex_lock(&r->lock);
	if (r->messages < 64)
		r->batch[r->messages] = n;
	r->messages++;
	for (size_t i = 0; i < n && r->n < 64; i++, r->n++) {
		struct seen *s = &r->ev[r->n];

		s->type = ev[i].type == ETCD_EVENT_PUT ? 'P' : 'D';
		snprintf(s->key, sizeof(s->key), "%.*s", (int)ev[i].kv.key_len, ev[i].kv.key);
		snprintf(s->value, sizeof(s->value), "%.*s", (int)ev[i].kv.value_len,
			 (char *)ev[i].kv.value);
		s->has_prev = ev[i].has_prev_kv;
		if (s->has_prev)
			snprintf(s->prev, sizeof(s->prev), "%.*s", (int)ev[i].prev_kv.value_len,
				 (char *)ev[i].prev_kv.value);
		s->mod = ev[i].kv.mod_revision;
		CHECK(s->mod <= revision);
	}
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void rec_resync(void *ctx, const struct etcd_range *snap)
{
	struct recorder *r = ctx;

	pthread_mutex_lock(&r->lock);
	r->resyncs++;
	r->snap_rev = snap->revision;
	r->snap_n = snap->n;
	for (size_t i = 0; i < snap->n && i < 16; i++)
		snprintf(r->snap[i], sizeof(r->snap[i]), "%.*s=%.*s", (int)snap->kvs[i].key_len,
			 snap->kvs[i].key, (int)snap->kvs[i].value_len, (char *)snap->kvs[i].value);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void rec_state(void *ctx, bool connected, const char *why)
{
	struct recorder *r = ctx;

	pthread_mutex_lock(&r->lock);
	if (connected)
		r->ups++;
	else
		r->downs++;
	if (!connected)
		snprintf(r->down_why, sizeof(r->down_why), "%s", why);
	snprintf(r->why, sizeof(r->why), "%s", why);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static const struct etcd_watch_ops rec_ops = { rec_events, rec_resync, rec_state };

/* Waits until *COUNT (a field of R) reaches WANT; false after WAIT_MS. */
static bool rec_wait(struct recorder *r, const size_t *count, size_t want)
{
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += WAIT_MS / 1000;
	pthread_mutex_lock(&r->lock);
	while (*count < want && !pthread_cond_timedwait(&r->cond, &r->lock, &until))
		;
	ok = *count >= want;
	pthread_mutex_unlock(&r->lock);
	if (!ok)
		fprintf(stderr, "  waited for %zu, got %zu; %zu up, %zu down (%s), now: %s\n", want,
			*count, r->ups, r->downs, r->down_why, r->why);
	return ok;
}

static bool seen_is(const struct recorder *r, size_t i, char type, const char *key,
		    const char *value, const char *prev)
{
	const struct seen *s = &r->ev[i];
	bool ok = i < r->n && s->type == type && !strcmp(s->key, key) && !strcmp(s->value, value) &&
		  (prev ? s->has_prev && !strcmp(s->prev, prev) : !s->has_prev);

	if (!ok)
		fprintf(stderr, "  event %zu: %c %s=%s prev %s, expected %c %s=%s prev %s\n", i,
			s->type, s->key, s->value, s->has_prev ? s->prev : "-", type, key, value,
			prev ? prev : "-");
	return ok;
}

static struct etcd_watch *watch(struct etcd *e, const char *prefix, int64_t start,
				struct recorder *r)
{
	struct etcd_watch *w = NULL;
	char err[ERRMSG_LEN] = "";

	CHECK_EQ_INT(etcd_watch_start(e, prefix, strlen(prefix), start, &rec_ops, r, &w, err), 0);
	if (err[0])
		fprintf(stderr, "  watch: %s\n", err);
	return w;
}

UNIT_TEST(watch_sees_changes_in_order)
{
	struct etcd_server *s = plain_server();
	struct etcd *e = s ? client(s->endpoint, 0) : NULL;
	struct etcd_op puts[3] = {
		{ .type = ETCD_OP_PUT,
		  .key = "/t/w1/c",
		  .key_len = 7,
		  .value = "3",
		  .value_len = 1 },
		{ .type = ETCD_OP_PUT,
		  .key = "/t/w1/d",
		  .key_len = 7,
		  .value = "4",
		  .value_len = 1 },
		{ .type = ETCD_OP_PUT,
		  .key = "/t/w1/e",
		  .key_len = 7,
		  .value = "5",
		  .value_len = 1 },
	};
	struct etcd_txn txn = { .success = puts, .n_success = 3 };
	struct etcd_txn_result t;
	struct etcd_watch *w;
	struct recorder r;
	char err[ERRMSG_LEN];
	int64_t t0;

	UNIT_SKIP_IF(!s, "etcd did not start");
	rec_init(&r);
	CHECK_EQ_INT(put_str(e, "/t/w1/a", "0"), 0);
	CHECK_EQ_INT(put_str(e, "/t/w10", "outside"), 0);
	w = watch(e, "/t/w1/", 0, &r);
	CHECK(rec_wait(&r, &r.resyncs, 1) && rec_wait(&r, &r.ups, 1));
	CHECK(r.snap_n == 1 && !strcmp(r.snap[0], "/t/w1/a=0"));
	CHECK(r.snap_rev > 0);
	CHECK_EQ_INT(put_str(e, "/t/w1/b", "1"), 0);
	CHECK_EQ_INT(put_str(e, "/t/w1/b", "2"), 0);
	CHECK_EQ_INT(put_str(e, "/t/w10", "still outside"), 0);
	CHECK_EQ_INT(etcd_delete(e, "/t/w1/a", 7, false, NULL, err), 0);
	CHECK_EQ_INT(etcd_txn(e, &txn, &t, err), 0);
	etcd_txn_result_free(&t);
	CHECK(rec_wait(&r, &r.n, 6));
	CHECK(seen_is(&r, 0, 'P', "/t/w1/b", "1", NULL));
	CHECK(seen_is(&r, 1, 'P', "/t/w1/b", "2", "1"));
	CHECK(seen_is(&r, 2, 'D', "/t/w1/a", "", "0"));
	CHECK(seen_is(&r, 3, 'P', "/t/w1/c", "3", NULL));
	CHECK(seen_is(&r, 5, 'P', "/t/w1/e", "5", NULL));
	/* The txn came as one message. */
	CHECK(r.messages == 4 && r.batch[3] == 3);
	CHECK(r.ev[3].mod == r.ev[5].mod && r.ev[2].mod < r.ev[3].mod);
	t0 = now_ms();
	etcd_watch_stop(w);
	printf("# watch stop (connected, idle): %lld ms\n", (long long)ms_since(t0));
	CHECK(ms_since(t0) < 1000);
	CHECK_EQ_INT(r.resyncs, 1);
	etcd_close(e);
}

UNIT_TEST(watch_resumes_after_its_connection_is_cut)
{
	struct etcd_server *s = plain_server();
	struct etcd *e = s ? client(s->endpoint, 0) : NULL, *via = NULL;
	struct tcp_proxy *proxy = NULL;
	struct etcd_watch *w = NULL, *wp = NULL;
	struct recorder r, rp;
	char endpoint[64];
	unsigned port = 0;

	UNIT_SKIP_IF(!s, "etcd did not start");
	rec_init(&r);
	rec_init(&rp);
	CHECK_EQ_INT(tcp_proxy_start(s->port, &proxy, &port), 0);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", port);
	via = client(endpoint, 0);
	w = watch(e, "/t/w2/", 0, &r);
	wp = watch(via, "/t/w2/", 0, &rp);
	CHECK(rec_wait(&r, &r.ups, 1) && rec_wait(&rp, &rp.ups, 1));
	CHECK_EQ_INT(put_str(e, "/t/w2/x", "1"), 0);
	CHECK(rec_wait(&r, &r.n, 1) && rec_wait(&rp, &rp.n, 1));

	/* etcd crashes and comes back on the same data: the watch goes on after what it saw. */
	CHECK_EQ_INT(etcd_server_restart(s), 0);
	CHECK_EQ_INT(put_str(e, "/t/w2/x", "2"), 0);
	CHECK_EQ_INT(put_str(e, "/t/w2/x", "3"), 0);
	CHECK(rec_wait(&r, &r.n, 3));
	CHECK(seen_is(&r, 1, 'P', "/t/w2/x", "2", "1") && seen_is(&r, 2, 'P', "/t/w2/x", "3", "2"));
	CHECK(r.downs >= 1 && r.ups >= 2);
	printf("# when etcd went down the watch said: %s\n", r.down_why);

	/* Its connection is cut while others write: it gets what it missed, once. */
	CHECK(rec_wait(&rp, &rp.n, 3));
	tcp_proxy_block(proxy, true);
	CHECK_EQ_INT(put_str(e, "/t/w2/y", "a"), 0);
	CHECK_EQ_INT(put_str(e, "/t/w2/y", "b"), 0);
	CHECK_EQ_INT(put_str(e, "/t/w2/y", "c"), 0);
	usleep(300 * 1000);
	tcp_proxy_block(proxy, false);
	CHECK(rec_wait(&rp, &rp.n, 6));
	usleep(200 * 1000);
	CHECK_EQ_INT(rp.n, 6);
	CHECK(seen_is(&rp, 3, 'P', "/t/w2/y", "a", NULL) &&
	      seen_is(&rp, 5, 'P', "/t/w2/y", "c", "b"));
	CHECK_EQ_INT(rp.resyncs, 1);
	CHECK_EQ_INT(r.resyncs, 1);
	etcd_watch_stop(w);
	etcd_watch_stop(wp);
	tcp_proxy_stop(proxy);
	etcd_close(via);
	etcd_close(e);
}

UNIT_TEST(watch_behind_compaction_resyncs)
{
	struct etcd_server *s = plain_server();
	struct etcd *e = s ? client(s->endpoint, 0) : NULL, *via = NULL;
	struct tcp_proxy *proxy = NULL;
	struct etcd_watch *w = NULL;
	struct recorder r;
	char endpoint[64], err[ERRMSG_LEN];
	unsigned port = 0;

	UNIT_SKIP_IF(!s, "etcd did not start");
	rec_init(&r);
	CHECK_EQ_INT(tcp_proxy_start(s->port, &proxy, &port), 0);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", port);
	via = client(endpoint, 0);
	CHECK_EQ_INT(put_str(e, "/t/w3/k1", "1"), 0);
	w = watch(via, "/t/w3/", 0, &r);
	CHECK(rec_wait(&r, &r.resyncs, 1) && rec_wait(&r, &r.ups, 1));
	tcp_proxy_block(proxy, true);
	CHECK_EQ_INT(put_str(e, "/t/w3/k2", "2"), 0);
	CHECK_EQ_INT(etcd_delete(e, "/t/w3/k1", 8, false, NULL, err), 0);
	CHECK_EQ_INT(put_str(e, "/t/w3/k3", "3"), 0);
	CHECK_EQ_INT(compact(e, current_revision(e)), 0);
	tcp_proxy_block(proxy, false);
	CHECK(rec_wait(&r, &r.resyncs, 2));
	CHECK_EQ_INT(r.snap_n, 2);
	CHECK(!strcmp(r.snap[0], "/t/w3/k2=2") && !strcmp(r.snap[1], "/t/w3/k3=3"));
	CHECK_EQ_INT(r.n, 0);
	CHECK_EQ_INT(put_str(e, "/t/w3/k4", "4"), 0);
	CHECK(rec_wait(&r, &r.n, 1));
	CHECK(seen_is(&r, 0, 'P', "/t/w3/k4", "4", NULL));
	CHECK(r.ev[0].mod > r.snap_rev);
	etcd_watch_stop(w);
	tcp_proxy_stop(proxy);
	etcd_close(via);
	etcd_close(e);
}

/* An idle watch asks for progress, so that its resume point passes a compaction of revisions it
 * has no interest in, and reconnecting does not list everything again. */
UNIT_TEST(idle_watch_resume_point_advances)
{
	struct etcd_server *s = plain_server();
	struct etcd_config cfg = { .watch_progress_ms = 300 };
	struct etcd *e = s ? client(s->endpoint, 0) : NULL, *via = NULL;
	struct tcp_proxy *proxy = NULL;
	struct etcd_watch *w = NULL;
	struct recorder r;
	char endpoint[64], err[ERRMSG_LEN] = "";
	int64_t busy = 0, t0;
	unsigned port = 0;

	UNIT_SKIP_IF(!s, "etcd did not start");
	rec_init(&r);
	CHECK_EQ_INT(tcp_proxy_start(s->port, &proxy, &port), 0);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", port);
	cfg.endpoints = endpoint;
	CHECK_EQ_INT(etcd_open(&cfg, &via, err), 0);
	w = watch(via, "/t/idle/", 0, &r);
	CHECK(rec_wait(&r, &r.resyncs, 1));
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(put_str(e, "/t/busy", "x"), 0);
	busy = current_revision(e);
	t0 = now_ms();
	while (w && w->next_rev <= busy && ms_since(t0) < 8000)
		usleep(50 * 1000);
	printf("# idle watch passed revision %lld after %lld ms\n", (long long)busy,
	       (long long)ms_since(t0));
	CHECK(w && w->next_rev > busy);
	CHECK_EQ_INT(compact(e, busy), 0);
	tcp_proxy_block(proxy, true);
	tcp_proxy_block(proxy, false);
	CHECK_EQ_INT(put_str(e, "/t/idle/k", "1"), 0);
	CHECK(rec_wait(&r, &r.n, 1));
	CHECK_EQ_INT(r.resyncs, 1);
	etcd_watch_stop(w);
	tcp_proxy_stop(proxy);
	etcd_close(via);
	etcd_close(e);
}

UNIT_TEST(tls_with_trusted_and_untrusted_certificates)
{
	struct etcd_server *s = server_get(&tls, &tls_state, ETCD_SERVER_TLS);
	struct etcd_config cfg = { 0 };
	char err[ERRMSG_LEN] = "", value[16];
	struct etcd *e = NULL;

	UNIT_SKIP_IF(!s, "etcd with TLS did not start");
	cfg.endpoints = s->endpoint;
	cfg.timeout_ms = 2000;
	cfg.ca_file = s->ca;
	cfg.cert_file = s->cert;
	cfg.key_file = s->key;
	CHECK_EQ_INT(etcd_open(&cfg, &e, err), 0);
	CHECK_EQ_INT(etcd_check(e, err), 0);
	CHECK_EQ_INT(put_str(e, "/t/tls", "secure"), 0);
	CHECK_EQ_INT(get_str(e, "/t/tls", value, sizeof(value)), 0);
	CHECK(!strcmp(value, "secure"));
	etcd_close(e);

	cfg.ca_file = s->other_ca;
	CHECK_EQ_INT(etcd_open(&cfg, &e, err), 0);
	CHECK_EQ_INT(etcd_check(e, err), -EACCES);
	printf("# wrong CA: %s\n", err);
	CHECK_STR_CONTAINS(err, "server certificate not trusted");
	CHECK_STR_CONTAINS(err, s->endpoint);
	etcd_close(e);

	cfg.ca_file = s->ca;
	cfg.cert_file = cfg.key_file = NULL;
	CHECK_EQ_INT(etcd_open(&cfg, &e, err), 0);
	CHECK_EQ_INT(etcd_check(e, err), -EACCES);
	printf("# no client certificate: %s\n", err);
	CHECK_STR_CONTAINS(err, "certificate");
	CHECK_STR_CONTAINS(err, s->endpoint);
	etcd_close(e);

	cfg.cert_file = s->other_cert;
	cfg.key_file = s->other_key;
	CHECK_EQ_INT(etcd_open(&cfg, &e, err), 0);
	CHECK_EQ_INT(etcd_check(e, err), -EACCES);
	printf("# client certificate of another CA: %s\n", err);
	CHECK_STR_CONTAINS(err, "client certificate");
	CHECK_STR_CONTAINS(err, s->endpoint);
	etcd_close(e);

	/* The production setup of multihost.md 3.8: client certificates without a CN, RBAC on. */
	CHECK_EQ_INT(etcd_server_enable_auth(s, "tls-pw"), 0);
	cfg.cert_file = s->cert;
	cfg.key_file = s->key;
	cfg.username = "root";
	cfg.password = "tls-pw";
	CHECK_EQ_INT(etcd_open(&cfg, &e, err), 0);
	CHECK_EQ_INT(etcd_check(e, err), 0);
	CHECK_EQ_INT(put_str(e, "/t/tls", "rbac"), 0);
	CHECK_EQ_INT(get_str(e, "/t/tls", value, sizeof(value)), 0);
	CHECK(!strcmp(value, "rbac"));
	etcd_close(e);
}

/* Puts TOKEN in place of E's own; returns the generation it replaced. */
static unsigned token_replace(struct etcd *e, const char *token)
{
	unsigned gen;

	etcd_lock(e);
	gen = e->token_gen;
	free_secret(e->token, e->token_len);
	e->token = strdup(token);
	e->token_len = strlen(token);
	etcd_unlock(e);
	return gen;
}

UNIT_TEST(auth_with_password_and_token_renewal)
{
	static const char password[] = "s3cret \"pw\"";
	struct etcd_server *s = server_get(&authed, &authed_state, 0);
	struct etcd_config cfg = { .username = "root", .password = "wrong-pw" };
	char err[ERRMSG_LEN] = "", value[16];
	struct etcd_range none;
	struct etcd *e = NULL;
	struct etcd_watch *w;
	struct recorder r;
	unsigned gen;

	UNIT_SKIP_IF(!s, "etcd for auth did not start");
	if (authed_state == 1 && etcd_server_enable_auth(s, password))
		authed_state = 2;
	UNIT_SKIP_IF(authed_state != 1, "could not enable auth");
	cfg.endpoints = s->endpoint;
	CHECK_EQ_INT(etcd_open(&cfg, &e, err), 0);
	CHECK_EQ_INT(etcd_check(e, err), -EACCES);
	printf("# wrong password: %s\n", err);
	CHECK_STR_CONTAINS(err, "authenticate as \"root\"");
	CHECK_STR_CONTAINS(err, "authentication failed");
	CHECK_STR_CONTAINS(err, s->endpoint);
	CHECK(!strstr(err, "wrong-pw"));
	CHECK_EQ_INT(put_str(e, "/t/auth", "x"), -EACCES);
	etcd_close(e);

	cfg.password = NULL;
	cfg.username = NULL;
	CHECK_EQ_INT(etcd_open(&cfg, &e, err), 0);
	CHECK_EQ_INT(etcd_get(e, "/t/auth", 7, &none, err), -EINVAL);
	etcd_range_free(&none);
	printf("# no credentials: %s\n", err);
	CHECK_STR_CONTAINS(err, "user name is empty");
	etcd_close(e);

	cfg.username = "root";
	cfg.password = password;
	CHECK_EQ_INT(etcd_open(&cfg, &e, err), 0);
	CHECK_EQ_INT(etcd_check(e, err), 0);
	CHECK_EQ_INT(put_str(e, "/t/auth/k", "authed"), 0);
	/* etcd refuses the token (expired): one new authentication, then the call. */
	gen = token_replace(e, "bogus");
	CHECK_EQ_INT(get_str(e, "/t/auth/k", value, sizeof(value)), 0);
	CHECK(!strcmp(value, "authed"));
	CHECK_EQ_INT(e->token_gen, gen + 1);
	etcd_close(e);

	/* A token for a raft index etcd has not reached: etcd holds the call until it times out;
	 * the call after that authenticates again. */
	cfg.timeout_ms = 1000;
	CHECK_EQ_INT(etcd_open(&cfg, &e, err), 0);
	CHECK_EQ_INT(etcd_check(e, err), 0);
	gen = token_replace(e, "bogus.999999");
	CHECK_EQ_INT(etcd_get(e, "/t/auth/k", 9, &none, err), -ETIMEDOUT);
	etcd_range_free(&none);
	CHECK_EQ_INT(get_str(e, "/t/auth/k", value, sizeof(value)), 0);
	CHECK(!strcmp(value, "authed"));
	CHECK_EQ_INT(e->token_gen, gen + 1);
	rec_init(&r);
	w = watch(e, "/t/auth/", 0, &r);
	CHECK(rec_wait(&r, &r.resyncs, 1) && r.snap_n == 1);
	CHECK_EQ_INT(put_str(e, "/t/auth/k", "again"), 0);
	CHECK(rec_wait(&r, &r.n, 1));
	etcd_watch_stop(w);
	etcd_close(e);
}

UNIT_TEST(stopped_etcd_fails_calls_in_time)
{
	struct etcd_server *s = plain_server();
	struct etcd *e = s ? client(s->endpoint, 1000) : NULL;
	char err[ERRMSG_LEN] = "", value[16];
	struct etcd_watch *w = NULL;
	struct etcd_range none;
	struct recorder r;
	int64_t t0, took;
	int ret;

	UNIT_SKIP_IF(!s, "etcd did not start");
	rec_init(&r);
	CHECK_EQ_INT(put_str(e, "/t/stop", "before"), 0);
	etcd_server_signal(s, SIGSTOP);
	t0 = now_ms();
	ret = etcd_get(e, "/t/stop", 7, &none, err);
	took = ms_since(t0);
	etcd_range_free(&none);
	printf("# SIGSTOPped etcd, timeout 1000 ms: get failed after %lld ms: %s\n",
	       (long long)took, err);
	CHECK_EQ_INT(ret, -ETIMEDOUT);
	CHECK(took >= 900 && took <= 2000);
	CHECK_STR_CONTAINS(err, s->endpoint);
	t0 = now_ms();
	ret = put_str(e, "/t/stop", "during");
	printf("# and put after %lld ms\n", (long long)ms_since(t0));
	CHECK_EQ_INT(ret, -ETIMEDOUT);
	CHECK(ms_since(t0) <= 2000);
	/* A watch stuck in its first request stops at once all the same. */
	w = watch(e, "/t/stop/", 0, &r);
	usleep(300 * 1000);
	t0 = now_ms();
	etcd_watch_stop(w);
	took = ms_since(t0);
	printf("# watch stop in the middle of a request: %lld ms\n", (long long)took);
	CHECK(took < 1000);
	etcd_server_signal(s, SIGCONT);
	CHECK_EQ_INT(get_str(e, "/t/stop", value, sizeof(value)), 0);
	CHECK(!strcmp(value, "before") || !strcmp(value, "during"));
	etcd_close(e);
}

UNIT_TEST(dead_first_endpoint_fails_over)
{
	struct etcd_server *s = plain_server();
	char endpoints[160], dead[160], err[ERRMSG_LEN] = "", value[16];
	unsigned p1 = etcd_server_free_port(), p2 = etcd_server_free_port();
	struct etcd_watch *w = NULL;
	struct etcd *e = NULL;
	struct recorder r;
	int64_t t0;

	UNIT_SKIP_IF(!s, "etcd did not start");
	snprintf(endpoints, sizeof(endpoints), "http://127.0.0.1:%u,%s", p1, s->endpoint);
	e = client(endpoints, 0);
	t0 = now_ms();
	CHECK_EQ_INT(put_str(e, "/t/failover", "ok"), 0);
	CHECK_EQ_INT(get_str(e, "/t/failover", value, sizeof(value)), 0);
	CHECK(!strcmp(value, "ok"));
	CHECK(e && atomic_load(&e->preferred) == 1);
	CHECK_EQ_INT(etcd_check(e, err), 0);
	printf("# put, get and status past a dead endpoint: %lld ms\n", (long long)ms_since(t0));
	etcd_close(e);

	/* A watch that starts on the dead endpoint moves on to the live one. */
	e = client(endpoints, 0);
	rec_init(&r);
	w = watch(e, "/t/failover/", 0, &r);
	CHECK(rec_wait(&r, &r.ups, 1) && rec_wait(&r, &r.resyncs, 1));
	CHECK_EQ_INT(r.downs, 1);
	CHECK_STR_CONTAINS(r.down_why, "cannot connect");
	CHECK_EQ_INT(put_str(e, "/t/failover/k", "v"), 0);
	CHECK(rec_wait(&r, &r.n, 1));
	etcd_watch_stop(w);
	etcd_close(e);

	snprintf(dead, sizeof(dead), "http://127.0.0.1:%u,http://127.0.0.1:%u", p1, p2);
	e = client(dead, 0);
	CHECK_EQ_INT(etcd_check(e, err), -ECONNREFUSED);
	printf("# no endpoint: %s\n", err);
	snprintf(value, sizeof(value), "%u", p1);
	CHECK_STR_CONTAINS(err, value);
	snprintf(value, sizeof(value), "%u", p2);
	CHECK_STR_CONTAINS(err, value);
	CHECK_STR_CONTAINS(err, "cannot connect");
	etcd_close(e);
}

struct worker {
	struct etcd *e;
	int id, failures;
};

static void *work(void *arg)
{
	struct worker *wk = arg;
	char key[32], value[16], got[16];

	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "/t/threads/%d", wk->id);
		snprintf(value, sizeof(value), "%d", i);
		if (put_str(wk->e, key, value) || get_str(wk->e, key, got, sizeof(got)) ||
		    strcmp(got, value))
			wk->failures++;
	}
	return NULL;
}

UNIT_TEST(threads_share_one_client)
{
	struct etcd_server *s = plain_server();
	struct etcd *e = s ? client(s->endpoint, 0) : NULL;
	struct worker workers[8];
	pthread_t threads[8];
	char value[16];
	int64_t t0;

	UNIT_SKIP_IF(!s, "etcd did not start");
	t0 = now_ms();
	for (int i = 0; i < 200; i++)
		CHECK_EQ_INT(get_str(e, "/t/threads/none", value, sizeof(value)), 0);
	printf("# loopback get: %.2f ms each (200 in a row)\n", (double)ms_since(t0) / 200);
	t0 = now_ms();
	for (int i = 0; i < 8; i++) {
		workers[i] = (struct worker){ .e = e, .id = i };
		pthread_create(&threads[i], NULL, work, &workers[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(threads[i], NULL);
		CHECK_EQ_INT(workers[i].failures, 0);
	}
	printf("# 8 threads x 50 put+get: %lld ms\n", (long long)ms_since(t0));
	etcd_close(e);
}

UNIT_MAIN("etcd", UNIT_CASE(open_checks_the_endpoint_list), UNIT_CASE(parse_realistic_answers),
	  UNIT_CASE(parse_watch_messages), UNIT_CASE(parsers_refuse_malformed_answers),
	  UNIT_CASE(parsers_refuse_huge_arrays), UNIT_CASE(watch_lines_survive_any_chunking),
	  UNIT_CASE(watch_lines_are_bounded), UNIT_CASE(prefix_ranges_end_where_etcd_says),
	  UNIT_CASE(binary_keys_and_values), UNIT_CASE(txn_creates_only_if_absent),
	  UNIT_CASE(txn_compares_mod_revision), UNIT_CASE(prefix_range_with_limit_and_pages),
	  UNIT_CASE(lease_grant_keepalive_revoke), UNIT_CASE(lease_expiry_deletes_keys),
	  UNIT_CASE(watch_sees_changes_in_order),
	  UNIT_CASE(watch_resumes_after_its_connection_is_cut),
	  UNIT_CASE(watch_behind_compaction_resyncs), UNIT_CASE(idle_watch_resume_point_advances),
	  UNIT_CASE(tls_with_trusted_and_untrusted_certificates),
	  UNIT_CASE(auth_with_password_and_token_renewal),
	  UNIT_CASE(stopped_etcd_fails_calls_in_time), UNIT_CASE(dead_first_endpoint_fails_over),
	  UNIT_CASE(threads_share_one_client))
