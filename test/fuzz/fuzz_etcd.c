// SPDX-License-Identifier: MIT
/*
 * The parsers of etcd's JSON gateway answers (etcd.c): etcd_parse_range, etcd_parse_txn and
 * etcd_parse_watch_message (one line of a watch stream). The first byte of the input picks the
 * parser ('0' range, '1' txn, '2' watch: its value modulo 3), the rest is the answer.
 *
 * Beyond crashes and leaks (each result freed, also after an error): the result is 0 or an errno,
 * an error has a message of clean text (valid UTF-8, no control character: it goes to the log
 * and to wgctl); after a success there are as many kvs, results and events as the answer's
 * arrays have, each key and value NUL-terminated after its length and as long as its base64
 * says (a key without a NUL byte has strlen key_len), revisions not negative, each event's kind
 * the one its "type" names, with a prev_kv exactly when the answer has one; a cancel reason is
 * clean text; freeing leaves an empty result.
 */
#include "driver/etcd.c"

#include "fuzz_log.h"

/* Bytes that the canonical base64 string V decodes to. */
static size_t b64_len(const json_t *v)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);

	if (!v)
		return 0;
	return len / 4 * 3 - (len && s[len - 1] == '=') - (len > 1 && s[len - 2] == '=');
}

static void check_kv(const struct etcd_kv *kv, const json_t *v)
{
	FUZZ_CHECK(kv->key && kv->value);
	FUZZ_CHECK(kv->key[kv->key_len] == '\0' && kv->value[kv->value_len] == '\0');
	FUZZ_CHECK(memchr(kv->key, '\0', kv->key_len) || strlen(kv->key) == kv->key_len);
	FUZZ_CHECKF(kv->key_len == b64_len(json_object_get(v, "key")) &&
			    kv->value_len == b64_len(json_object_get(v, "value")),
		    "key of %zu bytes, value of %zu", kv->key_len, kv->value_len);
	FUZZ_CHECK(kv->create_revision >= 0 && kv->mod_revision >= 0 && kv->version >= 0 &&
		   kv->lease >= 0);
}

static void check_range(const struct etcd_range *r, const json_t *obj)
{
	const json_t *kvs = json_object_get(obj, "kvs");

	FUZZ_CHECKF(r->n == json_array_size(kvs), "%zu kvs of %zu", r->n, json_array_size(kvs));
	FUZZ_CHECK(!r->n == !r->kvs && r->revision >= 0);
	for (size_t i = 0; i < r->n; i++)
		check_kv(&r->kvs[i], json_array_get(kvs, i));
}

static void check_txn(const struct etcd_txn_result *t, const json_t *root)
{
	const json_t *responses = json_object_get(root, "responses");

	FUZZ_CHECKF(t->n == json_array_size(responses), "%zu results of %zu", t->n,
		    json_array_size(responses));
	FUZZ_CHECK(!t->n == !t->results && t->revision >= 0);
	for (size_t i = 0; i < t->n; i++) {
		const struct etcd_op_result *r = &t->results[i];
		const json_t *v = json_array_get(responses, i);

		if (r->type == ETCD_OP_RANGE)
			check_range(&r->range, json_object_get(v, "response_range"));
		else
			FUZZ_CHECK(!r->range.n && !r->range.kvs);
		FUZZ_CHECK(json_object_get(v, r->type == ETCD_OP_RANGE ? "response_range"
					      : r->type == ETCD_OP_PUT ? "response_put"
								       : "response_delete_range"));
		FUZZ_CHECK(r->deleted >= 0 && (r->type == ETCD_OP_DELETE || !r->deleted));
	}
}

static void check_watch(const struct etcd_watch_message *m, const json_t *root)
{
	const json_t *events = json_object_get(json_object_get(root, "result"), "events");

	FUZZ_CHECKF(m->n_events == json_array_size(events), "%zu events of %zu", m->n_events,
		    json_array_size(events));
	FUZZ_CHECK(!m->n_events == !m->events && m->revision >= 0 && m->compact_revision >= 0);
	FUZZ_CHECK(memchr(m->cancel_reason, '\0', sizeof(m->cancel_reason)));
	fuzz_check_text("cancel_reason", m->cancel_reason, false);
	for (size_t i = 0; i < m->n_events; i++) {
		const struct etcd_event *ev = &m->events[i];
		const json_t *v = json_array_get(events, i);
		const char *type = json_string_value(json_object_get(v, "type"));

		check_kv(&ev->kv, json_object_get(v, "kv"));
		FUZZ_CHECK(ev->kv.mod_revision > 0);
		FUZZ_CHECK(ev->type == ((type && !strcmp(type, "DELETE")) ? ETCD_EVENT_DELETE
									  : ETCD_EVENT_PUT));
		FUZZ_CHECK(ev->has_prev_kv == !!json_object_get(v, "prev_kv"));
		if (ev->has_prev_kv)
			check_kv(&ev->prev_kv, json_object_get(v, "prev_kv"));
	}
}

static bool all_zero(const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;
	struct etcd_watch_message m;
	struct etcd_txn_result t;
	struct etcd_range r;
	char err[ERRMSG_LEN];
	size_t len;
	json_t *root;
	int ret;

	if (!size)
		return 0;
	len = size - 1;
	err[0] = '\0';
	/* What the parser reads, for the checks: etcd answers are objects without duplicates. */
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	switch (data[0] % 3) {
	case 0:
		ret = etcd_parse_range(text, len, &r, err);
		if (!ret)
			check_range(&r, root);
		etcd_range_free(&r);
		FUZZ_CHECK(all_zero(&r, sizeof(r)));
		break;
	case 1:
		ret = etcd_parse_txn(text, len, &t, err);
		if (!ret)
			check_txn(&t, root);
		etcd_txn_result_free(&t);
		FUZZ_CHECK(all_zero(&t, sizeof(t)));
		break;
	default:
		ret = etcd_parse_watch_message(text, len, &m, err);
		if (!ret)
			check_watch(&m, root);
		etcd_watch_message_free(&m);
		FUZZ_CHECK(all_zero(&m, sizeof(m)));
		break;
	}
	FUZZ_CHECKF(ret <= 0 && ret >= -4095, "%d", ret);
	if (ret) {
		FUZZ_CHECKF(err[0], "%d without a message", ret);
		fuzz_check_text("error", err, false);
	}
	json_decref(root);
	return 0;
}
