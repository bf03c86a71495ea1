// SPDX-License-Identifier: MIT
#include "etcd.h"

#include "errmsg.h"
#include "field.h"
#include "quote.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETCD_URL_MAX	    128
#define ETCD_POOL_MAX	    8
#define ETCD_PAGE_KVS	    1000
#define ETCD_ARRAY_MAX	    (1u << 20)
#define ETCD_TOKEN_MAX	    4096
#define ETCD_SHOWN_MAX	    160 /* bytes of etcd's or a user's text in a message */
#define ETCD_REASON_SHOWN   60
#define ETCD_WHY_LEN	    256
#define ETCD_ERRBODY_MAX    4096
#define ETCD_BACKOFF_MIN_MS 100
#define ETCD_BACKOFF_MAX_MS 2000
#define ETCD_HEALTHY_MS	    1000
/* etcd 3.4.23 answers a progress request from outside the event stream, at the current revision,
 * even while events before it are still queued (etcd#15220, fixed in 3.4.24): such an answer is
 * trusted as a resume point only once the connection has stayed up this long after it. */
#define ETCD_SETTLE_MS 2000

static pthread_once_t etcd_once = PTHREAD_ONCE_INIT;

struct endpoint {
	char url[ETCD_URL_MAX]; /* scheme://host:port */
};

struct etcd {
	struct endpoint eps[ETCD_ENDPOINTS_MAX];
	size_t n_eps;
	char *ca_file, *cert_file, *key_file, *username;
	char *password; /* wiped */
	size_t password_len;
	unsigned timeout_ms, progress_ms;
	size_t page_kvs;
	atomic_uint preferred; /* the endpoint that answered last */

	pthread_mutex_t lock; /* guards what follows */
	pthread_t owner;
	bool locked;
	char *token; /* wiped; NULL: authenticate first */
	size_t token_len;
	unsigned token_gen;
	CURL *pool[ETCD_POOL_MAX];
	size_t n_pool;
};

/* A growing byte buffer bounded by MAX; WIPE when it may hold a secret. */
struct buf {
	char *data;
	size_t len, cap, max;
	bool wipe, overflow;
};

/* Complete lines out of a byte stream; one line is bounded by pending.max. */
struct lines {
	struct buf pending;
};

struct etcd_watch {
	struct etcd *e;
	uint8_t *key; /* the prefix */
	size_t key_len;
	struct etcd_watch_ops ops;
	void *ctx;
	CURLM *multi;
	CURL *stream;
	pthread_t thread;
	atomic_bool stop;
	int64_t next_rev; /* resume here; 0: list first */
	size_t ep;	  /* endpoint of the stream */
	int up;		  /* what ops->state said last: -1 nothing yet */
	bool reauth;	  /* etcd refused the token: get a new one */

	/* One connection. */
	struct lines lines;
	struct buf errbody;
	bool created;
	int64_t began, last_msg, pending_rev, pending_at;
	int verdict; /* 1 while it runs, then see watch_end */
	char why[ERRMSG_LEN];
};

/* One unary request and where its answer goes. */
struct call {
	const char *what; /* names the call in messages: "range", "txn" */
	const char *path;
	const char *body;
	size_t body_len;
	bool idempotent;      /* may be sent again elsewhere after it could have arrived */
	bool no_auth;	      /* the authentication call itself */
	struct etcd_watch *w; /* abort when this watch stops; NULL: run to the end */
	int64_t deadline;     /* CLOCK_MONOTONIC ms */
	struct buf answer;
	const char *url; /* the endpoint that answered */
	long code;	 /* etcd's error code when etcd refused */
};

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (sodium_init() < 0)
		abort();
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void etcd_lock(struct etcd *e)
{
	pthread_mutex_lock(&e->lock);
	e->owner = pthread_self();
	e->locked = true;
}

static void etcd_unlock(struct etcd *e)
{
	e->locked = false;
	pthread_mutex_unlock(&e->lock);
}

static void etcd_assert_held(struct etcd *e)
{
	if (!e->locked || !pthread_equal(e->owner, pthread_self()))
		abort();
}

static void free_secret(char *s, size_t len)
{
	if (!s)
		return;
	sodium_memzero(s, len);
	free(s);
}

static char *dup_opt(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

static void buf_free(struct buf *b)
{
	if (b->data && b->wipe)
		sodium_memzero(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->overflow = false;
}

/* Grows by copying, not realloc, when the buffer may hold a secret: no copy is left behind. */
static int buf_append(struct buf *b, const void *p, size_t n)
{
	size_t cap = b->cap ? b->cap : 1024;
	char *data;

	if (n > b->max || b->len > b->max - n) {
		b->overflow = true;
		return -EMSGSIZE;
	}
	if (b->len + n + 1 > b->cap) {
		while (cap < b->len + n + 1)
			cap *= 2;
		data = malloc(cap);
		if (!data)
			return -ENOMEM;
		if (b->data)
			memcpy(data, b->data, b->len);
		if (b->data && b->wipe)
			sodium_memzero(b->data, b->cap);
		free(b->data);
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* An answer that breaks the protocol: -EPROTO with "bad answer: ..." in ERR. */
static int bad(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(char *err, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, ERRMSG_LEN, "bad answer: ");

	va_start(ap, fmt);
	errmsg_vformat(err + n, ERRMSG_LEN - (size_t)n, fmt, ap);
	va_end(ap);
	return -EPROTO;
}

/* "where.key", or "key" at the top. */
static const char *name_of(const char *where, const char *key, char out[96])
{
	snprintf(out, 96, "%s%s%s", where, *where ? "." : "", key);
	return out;
}

/* gRPC status codes as etcd's gateway reports them. */
static int grpc_errno(long code)
{
	switch (code) {
	case 1: return -ECANCELED;
	case 3: return -EINVAL;
	case 4: return -ETIMEDOUT;
	case 5: return -ENOENT;
	case 6:
	case 9: return -EEXIST; /* 9: "lease already exists", "user already exists" */
	case 7:
	case 16: return -EACCES;
	case 8: return -ENOSPC;
	case 11: return -ERANGE;
	case 12: return -EOPNOTSUPP;
	case 14: return -EAGAIN;
	}
	return -EIO;
}

/* Whether ROOT is an error object: {"error","message","code"} from a unary call or
 * {"error":{"grpc_code","message"}} in a stream. Then a -errno, etcd's code in *CODE and its
 * message quoted in ERR; else 0. */
static int error_object(const json_t *root, long *code, char *err)
{
	const json_t *e = json_object_get(root, "error"), *src = root, *msg, *c;
	char buf[QUOTE_SIZE(ETCD_SHOWN_MAX)];
	const char *text = "";

	*code = 0;
	if (!e || (json_is_string(e) && !json_string_length(e)))
		return 0;
	if (json_is_object(e)) {
		src = e;
		c = json_object_get(e, "grpc_code");
	} else {
		c = json_object_get(root, "code");
	}
	msg = json_object_get(src, "message");
	if (!json_is_string(msg))
		msg = json_is_string(e) ? e : NULL;
	if (msg)
		text = quote_mem(json_string_value(msg), json_string_length(msg), ETCD_SHOWN_MAX,
				 buf, sizeof(buf));
	if (json_is_integer(c) && json_integer_value(c) > 0 && json_integer_value(c) < 1000)
		*code = (long)json_integer_value(c);
	if (!*code)
		return errmsg_set(err, -EIO, "\"%s\"", text);
	return errmsg_set(err, grpc_errno(*code), "\"%s\" (code %ld)", text, *code);
}

/* TEXT as one JSON object into *OUT (free with json_decref). An etcd error object gives its
 * -errno and etcd's code in *CODE (may be NULL). */
static int root_load(const char *text, size_t len, json_t **out, long *code, char *err)
{
	json_error_t jerr;
	long ignored;
	int ret;

	*out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*out)
		return bad(err, "not JSON: %s at byte %d", QUOTE(jerr.text, 120), jerr.position);
	if (!json_is_object(*out)) {
		ret = bad(err, "expected an object, got %s", field_type_name(*out));
		goto err_decref;
	}
	ret = error_object(*out, code ? code : &ignored, err);
	if (ret)
		goto err_decref;
	return 0;

err_decref:
	json_decref(*out);
	*out = NULL;
	return ret;
}

/* Decimal digits of an int64 (the gateway sends int64s as strings), nothing else. */
static int int64_from_text(const char *s, size_t len, int64_t *out)
{
	uint64_t v = 0;
	size_t i = len && s[0] == '-';
	bool neg = i;

	if (i == len || len - i > 19)
		return -EINVAL;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX + neg)
		return -EINVAL;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* Optional int64 KEY of OBJ (absent: 0), a string or an integer; negative only when NEG_OK. */
static int json_int64(const json_t *obj, const char *key, const char *where, bool neg_ok,
		      int64_t *out, char *err)
{
	const json_t *v = json_object_get(obj, key);
	char name[96];

	*out = 0;
	if (!v)
		return 0;
	if (json_is_integer(v))
		*out = json_integer_value(v);
	else if (!json_is_string(v))
		return bad(err, "%s: expected an integer string, got %s", name_of(where, key, name),
			   field_type_name(v));
	else if (int64_from_text(json_string_value(v), json_string_length(v), out))
		return bad(err, "%s: not an int64", name_of(where, key, name));
	if (*out < 0 && !neg_ok)
		return bad(err, "%s: negative", name_of(where, key, name));
	return 0;
}

/* Optional boolean KEY of OBJ (absent: false). */
static int json_flag(const json_t *obj, const char *key, const char *where, bool *out, char *err)
{
	const json_t *v = json_object_get(obj, key);
	char name[96];

	*out = false;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return bad(err, "%s: expected a boolean, got %s", name_of(where, key, name),
			   field_type_name(v));
	*out = json_is_true(v);
	return 0;
}

/* Base64 (with padding, canonical) into a new NUL-terminated buffer. */
static int b64_decode(const char *s, size_t len, uint8_t **out, size_t *out_len)
{
	size_t max = len / 4 * 3;
	const char *end = NULL;
	uint8_t *bin;

	*out = NULL;
	*out_len = 0;
	if (len % 4)
		return -EINVAL;
	bin = malloc(max + 1);
	if (!bin)
		return -ENOMEM;
	if (sodium_base642bin(bin, max + 1, s, len, NULL, out_len, &end,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    end != s + len) {
		free(bin);
		*out_len = 0;
		return -EINVAL;
	}
	bin[*out_len] = '\0';
	*out = bin;
	return 0;
}

/* Bytes KEY of OBJ, base64 on the wire, into a new buffer; absent: "" unless REQUIRED. */
static int json_bytes(const json_t *obj, const char *key, const char *where, bool required,
		      uint8_t **out, size_t *len, char *err)
{
	const json_t *v = json_object_get(obj, key);
	char name[96];
	int ret;

	*out = NULL;
	*len = 0;
	if (!v && required)
		return bad(err, "%s: missing", name_of(where, key, name));
	if (!v) {
		*out = calloc(1, 1);
		return *out ? 0 : -ENOMEM;
	}
	if (!json_is_string(v))
		return bad(err, "%s: expected a base64 string, got %s", name_of(where, key, name),
			   field_type_name(v));
	ret = b64_decode(json_string_value(v), json_string_length(v), out, len);
	if (ret == -EINVAL)
		return bad(err, "%s: not base64", name_of(where, key, name));
	return ret;
}

static void kv_free(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

static int kv_parse(const json_t *v, const char *where, struct etcd_kv *kv, char *err)
{
	int ret;

	memset(kv, 0, sizeof(*kv));
	if (!json_is_object(v))
		return bad(err, "%s: expected an object, got %s", where, field_type_name(v));
	ret = json_bytes(v, "key", where, true, (uint8_t **)&kv->key, &kv->key_len, err);
	if (!ret)
		ret = json_bytes(v, "value", where, false, &kv->value, &kv->value_len, err);
	if (!ret)
		ret = json_int64(v, "create_revision", where, false, &kv->create_revision, err);
	if (!ret)
		ret = json_int64(v, "mod_revision", where, false, &kv->mod_revision, err);
	if (!ret)
		ret = json_int64(v, "version", where, false, &kv->version, err);
	if (!ret)
		ret = json_int64(v, "lease", where, false, &kv->lease, err);
	if (ret)
		kv_free(kv);
	return ret;
}

/* Array KEY of OBJ (absent: empty) with at most ETCD_ARRAY_MAX elements. */
static int json_array_opt(const json_t *obj, const char *key, const char *where, json_t **out,
			  char *err)
{
	json_t *v = json_object_get(obj, key);
	char name[96];

	*out = v;
	if (!v)
		return 0;
	if (!json_is_array(v))
		return bad(err, "%s: expected an array, got %s", name_of(where, key, name),
			   field_type_name(v));
	if (json_array_size(v) > ETCD_ARRAY_MAX)
		return bad(err, "%s: %zu elements", name_of(where, key, name), json_array_size(v));
	return 0;
}

static int header_revision(const json_t *obj, const char *where, int64_t *out, char *err)
{
	const json_t *h = json_object_get(obj, "header");
	char name[96];

	*out = 0;
	name_of(where, "header", name);
	if (!h)
		return 0;
	if (!json_is_object(h))
		return bad(err, "%s: expected an object, got %s", name, field_type_name(h));
	return json_int64(h, "revision", name, false, out, err);
}

void etcd_range_free(struct etcd_range *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		kv_free(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

/* A RangeResponse object (a whole answer, or one in a txn) into OUT. */
static int range_from_json(const json_t *obj, const char *where, struct etcd_range *out, char *err)
{
	char name[96];
	json_t *kvs;
	size_t n;
	int ret;

	ret = header_revision(obj, where, &out->revision, err);
	if (!ret)
		ret = json_flag(obj, "more", where, &out->more, err);
	if (!ret)
		ret = json_array_opt(obj, "kvs", where, &kvs, err);
	if (ret || !kvs || !(n = json_array_size(kvs)))
		return ret;
	out->kvs = calloc(n, sizeof(*out->kvs));
	if (!out->kvs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%skvs[%zu]", where, *where ? "." : "", i);
		ret = kv_parse(json_array_get(kvs, i), name, &out->kvs[i], err);
		if (ret)
			return ret;
		out->n++;
	}
	return 0;
}

int etcd_parse_range(const char *text, size_t len, struct etcd_range *out, char *err)
{
	json_t *root;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = root_load(text, len, &root, NULL, err);
	if (ret)
		return ret;
	ret = range_from_json(root, "", out, err);
	json_decref(root);
	return ret;
}

void etcd_txn_result_free(struct etcd_txn_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		etcd_range_free(&r->results[i].range);
	free(r->results);
	memset(r, 0, sizeof(*r));
}

/* One element of a txn's "responses": {"response_put"|"response_range"|"response_delete_range":
 * {...}}. */
static int op_result_parse(const json_t *v, const char *where, struct etcd_op_result *out,
			   char *err)
{
	static const struct {
		const char *name;
		enum etcd_op_type type;
	} kinds[] = { { "response_range", ETCD_OP_RANGE },
		      { "response_put", ETCD_OP_PUT },
		      { "response_delete_range", ETCD_OP_DELETE } };
	const char *key;
	json_t *inner;
	char name[96];

	if (!json_is_object(v) || json_object_size(v) != 1)
		return bad(err, "%s: expected an object with one response", where);
	key = json_object_iter_key(json_object_iter((json_t *)v));
	inner = json_object_iter_value(json_object_iter((json_t *)v));
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(key, kinds[i].name))
			continue;
		out->type = kinds[i].type;
		name_of(where, key, name);
		if (!json_is_object(inner))
			return bad(err, "%s: expected an object, got %s", name,
				   field_type_name(inner));
		if (out->type == ETCD_OP_RANGE)
			return range_from_json(inner, name, &out->range, err);
		if (out->type == ETCD_OP_DELETE)
			return json_int64(inner, "deleted", name, false, &out->deleted, err);
		return 0;
	}
	return bad(err, "%s: unexpected response \"%s\"", where, QUOTE(key, 40));
}

int etcd_parse_txn(const char *text, size_t len, struct etcd_txn_result *out, char *err)
{
	json_t *root, *responses;
	char name[48];
	size_t n;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = root_load(text, len, &root, NULL, err);
	if (ret)
		return ret;
	ret = header_revision(root, "", &out->revision, err);
	if (!ret)
		ret = json_flag(root, "succeeded", "", &out->succeeded, err);
	if (!ret)
		ret = json_array_opt(root, "responses", "", &responses, err);
	if (ret || !responses || !(n = json_array_size(responses)))
		goto out_decref;
	out->results = calloc(n, sizeof(*out->results));
	if (!out->results) {
		ret = -ENOMEM;
		goto out_decref;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		snprintf(name, sizeof(name), "responses[%zu]", i);
		ret = op_result_parse(json_array_get(responses, i), name, &out->results[i], err);
		out->n++;
	}

out_decref:
	json_decref(root);
	return ret;
}

void etcd_watch_message_free(struct etcd_watch_message *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_events; i++) {
		kv_free(&m->events[i].kv);
		kv_free(&m->events[i].prev_kv);
	}
	free(m->events);
	memset(m, 0, sizeof(*m));
}

static int event_parse(const json_t *v, const char *where, struct etcd_event *ev, char *err)
{
	const json_t *type, *prev;
	char name[96];
	int ret;

	if (!json_is_object(v))
		return bad(err, "%s: expected an object, got %s", where, field_type_name(v));
	type = json_object_get(v, "type");
	if (type && !json_is_string(type))
		return bad(err, "%s.type: expected a string, got %s", where, field_type_name(type));
	if (!type || !strcmp(json_string_value(type), "PUT"))
		ev->type = ETCD_EVENT_PUT;
	else if (!strcmp(json_string_value(type), "DELETE"))
		ev->type = ETCD_EVENT_DELETE;
	else
		return bad(err, "%s.type: unknown", where);
	ret = kv_parse(json_object_get(v, "kv"), name_of(where, "kv", name), &ev->kv, err);
	if (ret)
		return ret;
	if (!ev->kv.mod_revision)
		return bad(err, "%s: no mod_revision", name);
	prev = json_object_get(v, "prev_kv");
	if (!prev)
		return 0;
	ret = kv_parse(prev, name_of(where, "prev_kv", name), &ev->prev_kv, err);
	ev->has_prev_kv = !ret;
	return ret;
}

/* OUT has QUOTE_SIZE(ETCD_REASON_SHOWN) bytes. */
static int cancel_reason(const json_t *result, char *out, char *err)
{
	const json_t *v = json_object_get(result, "cancel_reason");

	out[0] = '\0';
	if (!v)
		return 0;
	if (!json_is_string(v))
		return bad(err, "result.cancel_reason: expected a string, got %s",
			   field_type_name(v));
	quote_mem(json_string_value(v), json_string_length(v), ETCD_REASON_SHOWN, out,
		  QUOTE_SIZE(ETCD_REASON_SHOWN));
	return 0;
}

int etcd_parse_watch_message(const char *text, size_t len, struct etcd_watch_message *out,
			     char *err)
{
	json_t *root, *result, *events;
	bool fragment = false;
	char name[48];
	size_t n;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = root_load(text, len, &root, NULL, err);
	if (ret)
		return ret;
	result = json_object_get(root, "result");
	if (!json_is_object(result)) {
		ret = bad(err, "result: expected an object, got %s",
			  result ? field_type_name(result) : "nothing");
		goto out_decref;
	}
	ret = header_revision(result, "result", &out->revision, err);
	if (!ret)
		ret = json_int64(result, "watch_id", "result", true, &out->watch_id, err);
	if (!ret)
		ret = json_flag(result, "created", "result", &out->created, err);
	if (!ret)
		ret = json_flag(result, "canceled", "result", &out->canceled, err);
	if (!ret)
		ret = json_flag(result, "fragment", "result", &fragment, err);
	if (!ret && fragment)
		ret = bad(err, "result: a fragment, which was not asked for");
	if (!ret)
		ret = json_int64(result, "compact_revision", "result", false,
				 &out->compact_revision, err);
	if (!ret)
		ret = cancel_reason(result, out->cancel_reason, err);
	if (!ret)
		ret = json_array_opt(result, "events", "result", &events, err);
	if (ret || !events || !(n = json_array_size(events)))
		goto out_decref;
	out->events = calloc(n, sizeof(*out->events));
	if (!out->events) {
		ret = -ENOMEM;
		goto out_decref;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		snprintf(name, sizeof(name), "result.events[%zu]", i);
		ret = event_parse(json_array_get(events, i), name, &out->events[i], err);
		out->n_events++;
	}

out_decref:
	json_decref(root);
	return ret;
}

/* The keys of a request: KEY alone, or every key starting with it ("": every key at all). */
struct bounds {
	uint8_t *key, *end; /* END is NULL for one key */
	size_t key_len, end_len;
};

static void bounds_free(struct bounds *b)
{
	free(b->key);
	free(b->end);
	memset(b, 0, sizeof(*b));
}

/* etcd's range end for a prefix is the prefix with its last byte below 0xff incremented and the
 * rest dropped, or "\0" (to the end of the keyspace) when there is no such byte; the empty prefix
 * is the key "\0" with that end. */
static int bounds_make(const void *key, size_t len, bool prefix, struct bounds *b)
{
	size_t i = len;

	memset(b, 0, sizeof(*b));
	b->key_len = prefix && !len ? 1 : len;
	b->key = calloc(1, b->key_len + 1);
	if (!b->key)
		return -ENOMEM;
	if (len)
		memcpy(b->key, key, len);
	if (!prefix)
		return 0;
	b->end = calloc(1, b->key_len + 1);
	if (!b->end) {
		bounds_free(b);
		return -ENOMEM;
	}
	while (i > 0 && b->key[i - 1] == 0xff)
		i--;
	b->end_len = i ? i : 1;
	memcpy(b->end, b->key, i);
	if (i)
		b->end[i - 1]++;
	return 0;
}

/* Sets KEY of OBJ to V, which it takes; *FAIL when OBJ or V is NULL or that failed. */
static void set_new(json_t *obj, const char *key, json_t *v, bool *fail)
{
	if (!v || json_object_set_new(obj, key, v))
		*fail = true;
}

/* LEN bytes at P as a base64 JSON string. */
static json_t *b64_json(const void *p, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(n);
	json_t *v;

	if (!s)
		return NULL;
	sodium_bin2base64(s, n, p, len, sodium_base64_VARIANT_ORIGINAL);
	v = json_stringn(s, n - 1);
	free(s);
	return v;
}

static json_t *int64_json(int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRId64, v);
	return json_string(s);
}

/* "key" and, for a prefix, "range_end" of OBJ. */
static void keys_set(json_t *obj, const void *key, size_t len, bool prefix, bool *fail)
{
	struct bounds b;

	if (bounds_make(key, len, prefix, &b)) {
		*fail = true;
		return;
	}
	set_new(obj, "key", b64_json(b.key, b.key_len), fail);
	if (prefix)
		set_new(obj, "range_end", b64_json(b.end, b.end_len), fail);
	bounds_free(&b);
}

static size_t write_answer(char *p, size_t size, size_t n, void *arg)
{
	return buf_append(arg, p, size * n) ? 0 : size * n;
}

static CURL *pool_take(struct etcd *e)
{
	CURL *h = NULL;

	etcd_lock(e);
	if (e->n_pool)
		h = e->pool[--e->n_pool];
	etcd_unlock(e);
	if (!h)
		return curl_easy_init();
	/* Options go; the connection cache stays, so a call reuses the last one's connection. */
	curl_easy_reset(h);
	return h;
}

static void pool_give(struct etcd *e, CURL *h)
{
	etcd_lock(e);
	if (e->n_pool < ETCD_POOL_MAX) {
		e->pool[e->n_pool++] = h;
		h = NULL;
	}
	etcd_unlock(e);
	curl_easy_cleanup(h);
}

/* The curl list's strings may hold the token: wiped before they are freed. */
static void headers_free(struct curl_slist *headers)
{
	for (struct curl_slist *h = headers; h; h = h->next)
		sodium_memzero(h->data, strlen(h->data));
	curl_slist_free_all(headers);
}

/* Request headers, with the current token when E authenticates (its generation in *GEN). */
static struct curl_slist *headers_new(struct etcd *e, bool auth, unsigned *gen)
{
	struct curl_slist *list = NULL, *next;
	struct buf line = { .max = ETCD_TOKEN_MAX + 64, .wipe = true };
	bool fail = false;

	/* curl would send "Expect: 100-continue" before a large body and wait for an answer. */
	static const char *const fixed[] = { "Content-Type: application/json", "Expect:" };

	for (size_t i = 0; i < 2 && !fail; i++) {
		next = curl_slist_append(list, fixed[i]);
		fail = !next;
		list = next ? next : list;
	}
	if (auth && e->username && !fail) {
		etcd_lock(e);
		*gen = e->token_gen;
		/* The token goes raw: etcd refuses "Bearer <token>". */
		fail = buf_append(&line, "Authorization: ", 15) ||
		       (e->token && buf_append(&line, e->token, e->token_len));
		etcd_unlock(e);
		next = fail ? NULL : curl_slist_append(list, line.data);
		fail = !next;
		list = next ? next : list;
	}
	buf_free(&line);
	if (fail) {
		headers_free(list);
		return NULL;
	}
	return list;
}

/* libcurl 7.88 opens sockets without close-on-exec: a child the daemon starts (wireguard-go)
 * would keep a connection open after the client closed it, and a watch would never see it end. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void handle_setup(const struct etcd *e, CURL *h, const char *url, struct curl_slist *headers,
			 const char *body, size_t body_len, char *curl_err)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 10L);
	if (e->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, e->ca_file);
	if (e->cert_file)
		curl_easy_setopt(h, CURLOPT_SSLCERT, e->cert_file);
	if (e->key_file)
		curl_easy_setopt(h, CURLOPT_SSLKEY, e->key_file);
}

static int why_set(char *why, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int why_set(char *why, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errmsg_vformat(why, ETCD_WHY_LEN, fmt, ap);
	va_end(ap);
	return code;
}

/* What a failed transfer means, in words a user can act on. */
static int transport_error(const struct etcd *e, const char *url, CURLcode rc, const char *curl_err,
			   char *why)
{
	const char *cert = e->cert_file ? e->cert_file : "(none)";
	bool https = !strncmp(url, "https:", 6);
	char buf[QUOTE_SIZE(ETCD_SHOWN_MAX)];
	const char *detail = curl_err[0] ? curl_err : curl_easy_strerror(rc);
	const char *ca = e->ca_file ? e->ca_file : "the system's";

	detail = quote_mem(detail, strlen(detail), ETCD_SHOWN_MAX, buf, sizeof(buf));
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return why_set(why, -EHOSTUNREACH, "cannot resolve the host: %s", detail);
	case CURLE_COULDNT_CONNECT:
		return why_set(why, -ECONNREFUSED, "cannot connect: %s", detail);
	case CURLE_OPERATION_TIMEDOUT: return why_set(why, -ETIMEDOUT, "no answer: %s", detail);
	case CURLE_PEER_FAILED_VERIFICATION:
		return why_set(why, -EACCES, "server certificate not trusted (CA file %s): %s", ca,
			       detail);
	case CURLE_SSL_CACERT_BADFILE:
		return why_set(why, -EACCES, "cannot use CA file %s: %s", ca, detail);
	case CURLE_SSL_CERTPROBLEM:
		return why_set(why, -EACCES, "cannot use client certificate %s: %s", cert, detail);
	case CURLE_GOT_NOTHING:
		return why_set(why, -ECONNRESET, "connection closed without an answer");
	case CURLE_ABORTED_BY_CALLBACK: return why_set(why, -ECANCELED, "stopped");
	default: break;
	}
	/* A server that refuses the client's certificate says so with a TLS alert, which TLS 1.3
	 * delivers after the handshake: curl reports it as a receive error, or as whatever failed
	 * first once the server had closed the connection. */
	if (strstr(detail, "alert") && strstr(detail, "certificate"))
		return why_set(why, -EACCES, "client certificate %s refused by the server: %s",
			       cert, detail);
	if (https && (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_RECV_ERROR ||
		      rc == CURLE_SEND_ERROR || rc == CURLE_FAILED_INIT))
		return why_set(why, -EACCES,
			       "TLS connection closed by the server (client certificate %s "
			       "refused?): %s",
			       cert, detail);
	return why_set(why, -EIO, "%s", detail);
}

static bool watch_stopping(struct etcd_watch *w)
{
	return atomic_load(&w->stop);
}

/* Runs the transfer of H to its end. With a watch, on the watch's multi handle, so that
 * etcd_watch_stop interrupts it at once; TICK (may be NULL) runs at least every 100 ms and
 * aborts the transfer by returning true. */
static CURLcode transfer(CURL *h, struct etcd_watch *w, bool (*tick)(struct etcd_watch *w))
{
	CURLcode rc = CURLE_ABORTED_BY_CALLBACK;
	bool done = false;
	CURLMsg *msg;
	int running, left;

	if (!w)
		return curl_easy_perform(h);
	if (curl_multi_add_handle(w->multi, h))
		return CURLE_OUT_OF_MEMORY;
	while (!done && !watch_stopping(w) && !(tick && tick(w))) {
		if (curl_multi_perform(w->multi, &running)) {
			rc = CURLE_OUT_OF_MEMORY;
			break;
		}
		while ((msg = curl_multi_info_read(w->multi, &left))) {
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == h) {
				rc = msg->data.result;
				done = true;
			}
		}
		if (!done)
			curl_multi_poll(w->multi, NULL, 0, tick ? 100 : 1000, NULL);
	}
	curl_multi_remove_handle(w->multi, h);
	return rc;
}

/* An answer other than 200: etcd's error object, or whatever text came. */
static int status_error(struct call *c, long status, char *why)
{
	char err[ERRMSG_LEN], buf[QUOTE_SIZE(ETCD_SHOWN_MAX)];
	const char *text = c->answer.data ? c->answer.data : "";
	json_t *root;
	int ret;

	ret = root_load(text, c->answer.len, &root, &c->code, err);
	if (ret && c->code)
		return why_set(why, ret, "%s", err);
	json_decref(root);
	return why_set(why, status == 401 || status == 403 ? -EACCES : -EPROTO, "HTTP %ld: \"%s\"",
		       status,
		       quote_mem(text, strcspn(text, "\r\n"), ETCD_SHOWN_MAX, buf, sizeof(buf)));
}

/* One POST of C to EP. 0 with the answer in C (HTTP 200); else a -errno with WHY, etcd's code in
 * C when etcd refused, and *SENT when the request may have reached etcd. */
static int attempt(struct etcd *e, struct call *c, const struct endpoint *ep, long conn_ms,
		   long total_ms, unsigned *gen, bool *sent, char *why)
{
	char url[ETCD_URL_MAX + 64], curl_err[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	long status = 0, req_size = 0;
	CURL *h = pool_take(e);
	CURLcode rc;
	int ret;

	*sent = false;
	c->code = 0;
	c->answer.len = 0;
	c->answer.overflow = false;
	headers = headers_new(e, !c->no_auth, gen);
	if (!h || !headers) {
		ret = why_set(why, -ENOMEM, "out of memory");
		goto out;
	}
	snprintf(url, sizeof(url), "%s%s", ep->url, c->path);
	handle_setup(e, h, url, headers, c->body, c->body_len, curl_err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_answer);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->answer);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, conn_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, total_ms);
	rc = transfer(h, c->w, NULL);
	curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &req_size);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	*sent = req_size > 0;
	if (rc == CURLE_WRITE_ERROR && c->answer.overflow)
		ret = why_set(why, -EMSGSIZE, "answer longer than %u bytes", ETCD_ANSWER_MAX);
	else if (rc)
		ret = transport_error(e, ep->url, rc, curl_err, why);
	else if (status != 200)
		ret = status_error(c, status, why);
	else
		ret = 0;

out:
	headers_free(headers);
	if (h)
		pool_give(e, h);
	return ret;
}

static int authenticate(struct etcd *e, const struct call *parent, char *err);

static int token_ensure(struct etcd *e, const struct call *parent, char *err)
{
	bool have;

	etcd_lock(e);
	have = e->token;
	etcd_unlock(e);
	return have ? 0 : authenticate(e, parent, err);
}

/* Forgets the token of generation GEN, unless another thread has replaced it already. */
static void token_drop(struct etcd *e, unsigned gen)
{
	etcd_lock(e);
	if (e->token_gen == gen) {
		free_secret(e->token, e->token_len);
		e->token = NULL;
		e->token_len = 0;
	}
	etcd_unlock(e);
}

static void token_set(struct etcd *e, char *token, size_t len)
{
	etcd_assert_held(e);
	free_secret(e->token, e->token_len);
	e->token = token;
	e->token_len = len;
	e->token_gen++;
}

/* Sends C to the endpoints, the one that answered last first, within C's deadline; a refused
 * token is renewed once. */
static int call(struct etcd *e, struct call *c, char *err)
{
	char why[ETCD_WHY_LEN], all[ERRMSG_LEN] = "";
	size_t n = e->n_eps, start = atomic_load(&e->preferred) % n, k = 0, used = 0;
	bool reauthed = false, sent;
	unsigned gen = 0;
	int ret = -ETIMEDOUT;

	if (!c->deadline)
		c->deadline = now_ms() + e->timeout_ms;
	if (!c->no_auth && e->username) {
		ret = token_ensure(e, c, err);
		if (ret)
			return ret;
	}
	while (k < n) {
		const struct endpoint *ep = &e->eps[(start + k) % n];
		int64_t left = c->deadline - now_ms();
		/* A dead endpoint may take only its share, so that the next ones get a chance. */
		long share = left / (int64_t)(n - k) > 0 ? (long)(left / (int64_t)(n - k)) : 1;

		if (left <= 0) {
			ret = -ETIMEDOUT;
			snprintf(all + used, sizeof(all) - used,
				 "%s%s: not tried, %u ms were spent", k ? "; " : "", ep->url,
				 e->timeout_ms);
			break;
		}
		ret = attempt(e, c, ep, share, c->idempotent ? share : (long)left, &gen, &sent,
			      why);
		if (!ret || (c->code && !(c->code == 14 && c->idempotent)))
			atomic_store(&e->preferred, (unsigned)((start + k) % n));
		c->url = ep->url;
		if (!ret)
			return 0;
		if (ret == -ECANCELED && c->w && watch_stopping(c->w))
			return errmsg_set(err, ret, "etcd: %s: stopped", c->what);
		if (c->code == 16 && !c->no_auth && e->username && !reauthed) {
			reauthed = true;
			token_drop(e, gen);
			ret = token_ensure(e, c, err);
			if (ret)
				return ret;
			continue;
		}
		/* etcd 3.4 holds a request whose simple token names a raft index it has not reached
		 * (a token from before a restore, or another cluster) until the client gives up: a
		 * timeout costs the token, so that the next call authenticates again. */
		if (ret == -ETIMEDOUT && !c->no_auth && e->username)
			token_drop(e, gen);
		if (c->code && !(c->code == 14 && c->idempotent))
			return errmsg_set(err, ret, "etcd %s: %s: %s", ep->url, c->what, why);
		if (sent && !c->idempotent)
			return errmsg_set(err, ret, "etcd %s: %s: %s; it may have been applied",
					  ep->url, c->what, why);
		used += (size_t)snprintf(all + used, sizeof(all) - used, "%s%s: %s", k ? "; " : "",
					 ep->url, why);
		used = used < sizeof(all) ? used : sizeof(all) - 1;
		k++;
	}
	return errmsg_set(err, ret, "etcd: %s: %s", c->what, all);
}

/* S as a JSON string at the end of B. */
static int buf_json_string(struct buf *b, const char *s)
{
	int ret = buf_append(b, "\"", 1);

	for (const unsigned char *p = (const unsigned char *)s; *p && !ret; p++) {
		char esc[8];

		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			ret = buf_append(b, esc, 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			ret = buf_append(b, esc, 6);
		} else {
			ret = buf_append(b, p, 1);
		}
	}
	return ret ? ret : buf_append(b, "\"", 1);
}

/* The token of an authenticate answer into a new buffer (free with free_secret). jansson's copy
 * of it is wiped before it is freed. */
static int token_parse(const char *text, size_t len, char **out, size_t *out_len, char *err)
{
	json_t *root, *token;
	const char *s;
	size_t n;
	int ret;

	*out = NULL;
	*out_len = 0;
	ret = root_load(text, len, &root, NULL, err);
	if (ret)
		return ret;
	token = json_object_get(root, "token");
	if (!json_is_string(token)) {
		ret = bad(err, "token: expected a string");
		goto out_decref;
	}
	s = json_string_value(token);
	n = json_string_length(token);
	/* It goes into a header line: nothing that could end that line or start another. */
	for (size_t i = 0; i < n && !ret; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			ret = bad(err, "token: a character that cannot go in a header");
	if (!ret && (!n || n > ETCD_TOKEN_MAX))
		ret = bad(err, "token: %zu bytes", n);
	if (!ret && !(*out = malloc(n + 1)))
		ret = -ENOMEM;
	if (!ret) {
		memcpy(*out, s, n + 1);
		*out_len = n;
	}
	sodium_memzero((char *)s, n);

out_decref:
	json_decref(root);
	return ret;
}

/* Wraps a parser's message ERR with the endpoint and call. */
static int answer_error(const struct call *c, int ret, char *err)
{
	char inner[ERRMSG_LEN];

	snprintf(inner, sizeof(inner), "%s", err);
	return errmsg_set(err, ret, "etcd %s: %s: %s", c->url ? c->url : "?", c->what, inner);
}

static int authenticate(struct etcd *e, const struct call *parent, char *err)
{
	char what[QUOTE_SIZE(60) + 40], *token = NULL;
	struct buf body = { .max = 64 * 1024, .wipe = true };
	struct call c = { .what = what,
			  .path = "/v3/auth/authenticate",
			  .idempotent = true,
			  .no_auth = true,
			  .w = parent->w,
			  .deadline = parent->deadline,
			  .answer = { .max = 64 * 1024, .wipe = true } };
	size_t token_len = 0;
	int ret;

	snprintf(what, sizeof(what), "authenticate as \"%s\"", QUOTE(e->username, 60));
	if (buf_append(&body, "{\"name\":", 8) || buf_json_string(&body, e->username) ||
	    buf_append(&body, ",\"password\":", 12) || buf_json_string(&body, e->password) ||
	    buf_append(&body, "}", 1)) {
		ret = errmsg_set(err, -ENOMEM, "etcd: out of memory");
		goto out;
	}
	c.body = body.data;
	c.body_len = body.len;
	ret = call(e, &c, err);
	if (ret) {
		/* etcd says "authentication failed, invalid user ID or password" with code 3. */
		ret = c.code ? -EACCES : ret;
		goto out;
	}
	ret = token_parse(c.answer.data, c.answer.len, &token, &token_len, err);
	if (ret) {
		answer_error(&c, ret, err);
		goto out;
	}
	etcd_lock(e);
	token_set(e, token, token_len);
	etcd_unlock(e);

out:
	buf_free(&body);
	buf_free(&c.answer);
	return ret;
}

/* Sends ROOT (taken) as the body of C and leaves the answer in C (free with buf_free). */
static int request(struct etcd *e, struct call *c, json_t *root, bool fail, char *err)
{
	char *body = NULL;
	int ret;

	c->answer.max = ETCD_ANSWER_MAX;
	if (!fail && root)
		body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!body)
		return errmsg_set(err, -ENOMEM, "etcd: %s: out of memory", c->what);
	c->body = body;
	c->body_len = strlen(body);
	ret = call(e, c, err);
	free(body);
	c->body = NULL;
	return ret;
}

/* At most LIMIT (0: any number) kvs from KEY to END (NULL: KEY alone) at REVISION (0: latest). */
static int range_once(struct etcd *e, struct etcd_watch *w, const struct bounds *b,
		      int64_t revision, size_t limit, struct etcd_range *out, char *err)
{
	struct call c = { .what = "range", .path = "/v3/kv/range", .idempotent = true, .w = w };
	json_t *root = json_object();
	bool fail = !root;
	int ret;

	memset(out, 0, sizeof(*out));
	set_new(root, "key", b64_json(b->key, b->key_len), &fail);
	if (b->end)
		set_new(root, "range_end", b64_json(b->end, b->end_len), &fail);
	if (revision)
		set_new(root, "revision", int64_json(revision), &fail);
	if (limit)
		set_new(root, "limit", int64_json((int64_t)limit), &fail);
	ret = request(e, &c, root, fail, err);
	if (!ret && (ret = etcd_parse_range(c.answer.data, c.answer.len, out, err)))
		answer_error(&c, ret, err);
	/* A range at an older revision is answered with the current one in its header. */
	if (!ret && revision)
		out->revision = revision;
	buf_free(&c.answer);
	return ret;
}

/* Moves the kvs of PAGE to the end of OUT. */
static int range_take(struct etcd_range *out, struct etcd_range *page)
{
	struct etcd_kv *kvs;

	if (!page->n)
		return 0;
	if (page->n > ETCD_ARRAY_MAX || out->n > ETCD_ARRAY_MAX - page->n)
		return -E2BIG;
	kvs = realloc(out->kvs, (out->n + page->n) * sizeof(*kvs));
	if (!kvs)
		return -ENOMEM;
	memcpy(kvs + out->n, page->kvs, page->n * sizeof(*kvs));
	out->kvs = kvs;
	out->n += page->n;
	free(page->kvs);
	page->kvs = NULL;
	page->n = 0;
	return 0;
}

/* Every key starting with PREFIX at REVISION (0: latest), read in pages at that one revision. */
static int range_all(struct etcd *e, struct etcd_watch *w, const void *prefix, size_t len,
		     int64_t revision, struct etcd_range *out, char *err)
{
	struct etcd_range page = { 0 };
	struct bounds b;
	uint8_t *next;
	int ret;

	memset(out, 0, sizeof(*out));
	if (bounds_make(prefix, len, true, &b))
		return errmsg_set(err, -ENOMEM, "etcd: range: out of memory");
	for (;;) {
		ret = range_once(e, w, &b, revision, e->page_kvs, &page, err);
		if (ret)
			break;
		revision = revision ? revision : page.revision;
		if (!page.more || !page.n)
			break;
		/* The next page starts just after the last key of this one. */
		next = calloc(1, page.kvs[page.n - 1].key_len + 2);
		if (!next) {
			ret = -ENOMEM;
			break;
		}
		memcpy(next, page.kvs[page.n - 1].key, page.kvs[page.n - 1].key_len);
		free(b.key);
		b.key = next;
		b.key_len = page.kvs[page.n - 1].key_len + 1;
		ret = range_take(out, &page);
		etcd_range_free(&page);
		if (ret)
			break;
	}
	if (!ret)
		ret = range_take(out, &page);
	if (ret == -ENOMEM || ret == -E2BIG)
		errmsg_set(err, ret, "etcd: range: %s",
			   ret == -E2BIG ? "more keys than this client takes" : "out of memory");
	etcd_range_free(&page);
	bounds_free(&b);
	out->revision = revision;
	return ret;
}

int etcd_get(struct etcd *e, const void *key, size_t key_len, struct etcd_range *out, char *err)
{
	struct bounds b;
	int ret;

	memset(out, 0, sizeof(*out));
	if (bounds_make(key, key_len, false, &b))
		return errmsg_set(err, -ENOMEM, "etcd: range: out of memory");
	ret = range_once(e, NULL, &b, 0, 0, out, err);
	bounds_free(&b);
	return ret;
}

int etcd_get_prefix(struct etcd *e, const void *prefix, size_t prefix_len, int64_t revision,
		    size_t limit, struct etcd_range *out, char *err)
{
	struct bounds b;
	int ret;

	memset(out, 0, sizeof(*out));
	if (revision < 0)
		return errmsg_set(err, -EINVAL, "etcd: range: negative revision");
	if (!limit)
		return range_all(e, NULL, prefix, prefix_len, revision, out, err);
	if (bounds_make(prefix, prefix_len, true, &b))
		return errmsg_set(err, -ENOMEM, "etcd: range: out of memory");
	ret = range_once(e, NULL, &b, revision, limit, out, err);
	bounds_free(&b);
	return ret;
}

/* The header revision and "deleted" count of a put or delete answer. */
static int parse_write(const char *text, size_t len, int64_t *revision, int64_t *deleted, char *err)
{
	json_t *root;
	int ret = root_load(text, len, &root, NULL, err);

	if (ret)
		return ret;
	ret = header_revision(root, "", revision, err);
	if (!ret)
		ret = json_int64(root, "deleted", "", false, deleted, err);
	json_decref(root);
	return ret;
}

/* Runs C with ROOT and reads the revision and deleted count of its answer. */
static int write_call(struct etcd *e, struct call *c, json_t *root, bool fail, int64_t *revision,
		      int64_t *deleted, char *err)
{
	int64_t rev = 0, del = 0;
	int ret = request(e, c, root, fail, err);

	if (!ret && (ret = parse_write(c->answer.data, c->answer.len, &rev, &del, err)))
		answer_error(c, ret, err);
	if (!ret && revision)
		*revision = rev;
	if (!ret && deleted)
		*deleted = del;
	buf_free(&c->answer);
	return ret;
}

int etcd_put(struct etcd *e, const void *key, size_t key_len, const void *value, size_t value_len,
	     int64_t lease, int64_t *revision, char *err)
{
	struct call c = { .what = "put", .path = "/v3/kv/put" };
	json_t *root = json_object();
	bool fail = !root;

	keys_set(root, key, key_len, false, &fail);
	set_new(root, "value", b64_json(value, value_len), &fail);
	if (lease)
		set_new(root, "lease", int64_json(lease), &fail);
	return write_call(e, &c, root, fail, revision, NULL, err);
}

int etcd_delete(struct etcd *e, const void *key, size_t key_len, bool prefix, int64_t *deleted,
		char *err)
{
	struct call c = { .what = "delete", .path = "/v3/kv/deleterange" };
	json_t *root = json_object();
	bool fail = !root;

	keys_set(root, key, key_len, prefix, &fail);
	return write_call(e, &c, root, fail, NULL, deleted, err);
}

static json_t *cmp_json(const struct etcd_cmp *cmp, bool *fail)
{
	static const char *const targets[] = { "VERSION", "CREATE", "MOD", "VALUE", "LEASE" };
	static const char *const fields[] = { "version", "create_revision", "mod_revision", "value",
					      "lease" };
	static const char *const results[] = { "EQUAL", "NOT_EQUAL", "GREATER", "LESS" };
	json_t *obj = json_object();

	*fail |= !obj;
	set_new(obj, "result", json_string(results[cmp->result]), fail);
	set_new(obj, "target", json_string(targets[cmp->target]), fail);
	keys_set(obj, cmp->key, cmp->key_len, false, fail);
	if (cmp->target == ETCD_TARGET_VALUE)
		set_new(obj, "value", b64_json(cmp->value, cmp->value_len), fail);
	else
		set_new(obj, fields[cmp->target], int64_json(cmp->number), fail);
	return obj;
}

static json_t *op_json(const struct etcd_op *op, bool *fail)
{
	static const char *const names[] = { "request_range", "request_put",
					     "request_delete_range" };
	json_t *obj = json_object(), *inner = json_object();

	*fail |= !obj || !inner;
	keys_set(inner, op->key, op->key_len, op->prefix && op->type != ETCD_OP_PUT, fail);
	if (op->type == ETCD_OP_PUT)
		set_new(inner, "value", b64_json(op->value, op->value_len), fail);
	if (op->type == ETCD_OP_PUT && op->lease)
		set_new(inner, "lease", int64_json(op->lease), fail);
	set_new(obj, names[op->type], inner, fail);
	return obj;
}

static json_t *ops_json(const struct etcd_op *ops, size_t n, bool *fail)
{
	json_t *arr = json_array();

	*fail |= !arr;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(arr, op_json(&ops[i], fail)))
			*fail = true;
	return arr;
}

/* Enums out of range would index the name tables. */
static int txn_check(const struct etcd_txn *txn, char *err)
{
	const struct etcd_op *branches[] = { txn->success, txn->failure };
	size_t counts[] = { txn->n_success, txn->n_failure };

	for (size_t i = 0; i < txn->n_cmps; i++)
		if ((unsigned)txn->cmps[i].target > ETCD_TARGET_LEASE ||
		    (unsigned)txn->cmps[i].result > ETCD_LESS)
			return errmsg_set(err, -EINVAL,
					  "etcd: txn: compare %zu: unknown target or "
					  "result",
					  i);
	for (size_t b = 0; b < 2; b++)
		for (size_t i = 0; i < counts[b]; i++)
			if ((unsigned)branches[b][i].type > ETCD_OP_DELETE)
				return errmsg_set(err, -EINVAL, "etcd: txn: op %zu: unknown type",
						  i);
	return 0;
}

/* Whether RESULT is the answer of the branch that OPS is. */
static bool txn_matches(const struct etcd_txn_result *result, const struct etcd_op *ops, size_t n)
{
	if (result->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (result->results[i].type != ops[i].type)
			return false;
	return true;
}

int etcd_txn(struct etcd *e, const struct etcd_txn *txn, struct etcd_txn_result *out, char *err)
{
	struct call c = { .what = "txn", .path = "/v3/kv/txn", .idempotent = true };
	json_t *root, *cmps;
	bool fail = false;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = txn_check(txn, err);
	if (ret)
		return ret;
	/* A txn that only reads may be sent again elsewhere. */
	for (size_t i = 0; i < txn->n_success; i++)
		c.idempotent &= txn->success[i].type == ETCD_OP_RANGE;
	for (size_t i = 0; i < txn->n_failure; i++)
		c.idempotent &= txn->failure[i].type == ETCD_OP_RANGE;
	root = json_object();
	cmps = json_array();
	fail = !root || !cmps;
	for (size_t i = 0; i < txn->n_cmps; i++)
		if (json_array_append_new(cmps, cmp_json(&txn->cmps[i], &fail)))
			fail = true;
	set_new(root, "compare", cmps, &fail);
	set_new(root, "success", ops_json(txn->success, txn->n_success, &fail), &fail);
	set_new(root, "failure", ops_json(txn->failure, txn->n_failure, &fail), &fail);
	ret = request(e, &c, root, fail, err);
	if (ret)
		goto out;
	ret = etcd_parse_txn(c.answer.data, c.answer.len, out, err);
	if (!ret && !txn_matches(out, out->succeeded ? txn->success : txn->failure,
				 out->succeeded ? txn->n_success : txn->n_failure))
		ret = bad(err, "responses do not match the %s ops",
			  out->succeeded ? "success" : "failure");
	if (ret)
		answer_error(&c, ret, err);

out:
	buf_free(&c.answer);
	return ret;
}

/* A lease answer: ID and TTL, at the top or (keepalive) under "result". */
static int parse_lease(const char *text, size_t len, int64_t *id, int64_t *ttl, char *err)
{
	json_t *root, *obj;
	int ret = root_load(text, len, &root, NULL, err);

	if (ret)
		return ret;
	obj = json_object_get(root, "result");
	obj = obj ? obj : root;
	if (!json_is_object(obj))
		ret = bad(err, "result: expected an object, got %s", field_type_name(obj));
	if (!ret)
		ret = json_int64(obj, "ID", "", false, id, err);
	if (!ret)
		ret = json_int64(obj, "TTL", "", true, ttl, err);
	json_decref(root);
	return ret;
}

static int lease_call(struct etcd *e, struct call *c, json_t *root, bool fail, int64_t *id,
		      int64_t *ttl, char *err)
{
	int ret = request(e, c, root, fail, err);

	if (!ret && (ret = parse_lease(c->answer.data, c->answer.len, id, ttl, err)))
		answer_error(c, ret, err);
	buf_free(&c->answer);
	return ret;
}

int etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *id, char *err)
{
	struct call c = { .what = "lease grant", .path = "/v3/lease/grant" };
	bool fail = false;
	int64_t ttl = 0;
	json_t *root;
	int ret;

	*id = 0;
	if (ttl_s <= 0)
		return errmsg_set(err, -EINVAL, "etcd: lease grant: TTL %" PRId64 " s", ttl_s);
	root = json_object();
	fail = !root;
	set_new(root, "TTL", int64_json(ttl_s), &fail);
	ret = lease_call(e, &c, root, fail, id, &ttl, err);
	if (!ret && (*id <= 0 || ttl <= 0))
		ret = errmsg_set(err, -EPROTO, "etcd %s: lease grant: bad answer: no ID or TTL",
				 c.url);
	return ret;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl_left, char *err)
{
	struct call c = { .what = "lease keepalive",
			  .path = "/v3/lease/keepalive",
			  .idempotent = true };
	json_t *root = json_object();
	bool fail = !root;
	int64_t got = 0;
	int ret;

	*ttl_left = 0;
	set_new(root, "ID", int64_json(id), &fail);
	ret = lease_call(e, &c, root, fail, &got, ttl_left, err);
	if (!ret && got != id)
		ret = errmsg_set(err, -EPROTO,
				 "etcd %s: lease keepalive: bad answer: ID %" PRId64
				 " for %" PRId64,
				 c.url, got, id);
	/* The gateway answers an expired or unknown lease without a TTL. */
	if (!ret && *ttl_left <= 0)
		ret = errmsg_set(err, -ENOENT, "etcd %s: lease %" PRId64 " expired or unknown",
				 c.url, id);
	if (ret)
		*ttl_left = 0;
	return ret;
}

int etcd_lease_revoke(struct etcd *e, int64_t id, char *err)
{
	struct call c = { .what = "lease revoke", .path = "/v3/lease/revoke" };
	json_t *root = json_object();
	bool fail = !root;

	set_new(root, "ID", int64_json(id), &fail);
	return write_call(e, &c, root, fail, NULL, NULL, err);
}

int etcd_check(struct etcd *e, char *err)
{
	struct call c = { .what = "status", .path = "/v3/maintenance/status", .idempotent = true };
	int ret;

	/* Status needs no token: authenticate first so that bad credentials show here. */
	if (e->username) {
		c.deadline = now_ms() + e->timeout_ms;
		ret = authenticate(e, &c, err);
		if (ret)
			return ret;
	}
	ret = request(e, &c, json_object(), false, err);
	buf_free(&c.answer);
	return ret;
}

/* Feeds N bytes at P: FN(ARG, line, len) for each complete non-empty line. A line longer than
 * the buffer's max gives -EMSGSIZE; FN's non-zero return stops the feed and is returned. */
static int lines_feed(struct lines *l, const char *p, size_t n,
		      int (*fn)(void *arg, const char *line, size_t len), void *arg)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		const char *line = p;
		int ret = 0;

		if (l->pending.len || !nl) {
			ret = buf_append(&l->pending, p, take);
			line = l->pending.data;
		}
		if (!ret && nl && take > l->pending.max)
			ret = -EMSGSIZE;
		if (!ret && nl) {
			take = l->pending.len ? l->pending.len : take;
			if (take)
				ret = fn(arg, line, take);
			l->pending.len = 0;
			take = (size_t)(nl - p) + 1;
		}
		if (ret)
			return ret;
		p += take;
		n -= take;
	}
	return 0;
}

/* Ends the current connection: VERDICT 0 to refresh an idle one, -ERANGE when compacted,
 * -ECANCELED when stopping, another -errno on failure. Returns 1 to abort the transfer. */
static int watch_end(struct etcd_watch *w, int verdict, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int watch_end(struct etcd_watch *w, int verdict, const char *fmt, ...)
{
	va_list ap;

	if (w->verdict != 1)
		return 1;
	va_start(ap, fmt);
	errmsg_vformat(w->why, sizeof(w->why), fmt, ap);
	va_end(ap);
	w->verdict = verdict;
	return 1;
}

static void watch_report(struct etcd_watch *w, bool up, const char *why)
{
	if (w->up == up)
		return;
	w->up = up;
	if (w->ops.state)
		w->ops.state(w->ctx, up, why);
}

static const char *watch_url(const struct etcd_watch *w)
{
	return w->e->eps[w->ep % w->e->n_eps].url;
}

static int watch_created(struct etcd_watch *w, const struct etcd_watch_message *m)
{
	char why[ETCD_WHY_LEN];

	if (m->canceled)
		return watch_end(w, -EACCES, "etcd %s: watch refused: %s", watch_url(w),
				 m->cancel_reason[0] ? m->cancel_reason : "no reason given");
	if (w->created)
		return watch_end(w, -EPROTO, "etcd %s: watch: created twice", watch_url(w));
	w->created = true;
	snprintf(why, sizeof(why), "watching at %s", watch_url(w));
	watch_report(w, true, why);
	return 0;
}

static int watch_events(struct etcd_watch *w, const struct etcd_watch_message *m)
{
	int64_t last = w->next_rev - 1;

	if (!w->created)
		return watch_end(w, -EPROTO, "etcd %s: watch: events before created", watch_url(w));
	/* Not the header revision: a replay cut at 1000 revisions carries the current one. */
	for (size_t i = 0; i < m->n_events; i++)
		last = m->events[i].kv.mod_revision > last ? m->events[i].kv.mod_revision : last;
	w->next_rev = last + 1;
	w->ops.events(w->ctx, m->events, m->n_events, last);
	return 0;
}

static int watch_progress(struct etcd_watch *w, const struct etcd_watch_message *m)
{
	if (m->revision < w->next_rev)
		return 0;
	if (m->watch_id == -1) {
		w->pending_rev = m->revision;
		w->pending_at = now_ms();
	} else {
		w->next_rev = m->revision + 1;
	}
	return 0;
}

static int watch_line(void *arg, const char *line, size_t len)
{
	struct etcd_watch *w = arg;
	struct etcd_watch_message m;
	char err[ERRMSG_LEN];
	int ret;

	if (watch_stopping(w))
		return watch_end(w, -ECANCELED, "stopped");
	ret = etcd_parse_watch_message(line, len, &m, err);
	if (ret) {
		w->reauth = ret == -EACCES;
		ret = watch_end(w, ret, "etcd %s: watch: %s", watch_url(w), err);
	} else {
		w->last_msg = now_ms();
		if (m.created)
			ret = watch_created(w, &m);
		else if (m.canceled && m.compact_revision)
			ret = watch_end(w, -ERANGE, "compacted at %" PRId64, m.compact_revision);
		else if (m.canceled)
			ret = watch_end(w, -ECONNRESET, "etcd %s: watch canceled: %s", watch_url(w),
					m.cancel_reason[0] ? m.cancel_reason : "");
		else if (m.n_events)
			ret = watch_events(w, &m);
		else
			ret = watch_progress(w, &m);
	}
	etcd_watch_message_free(&m);
	return ret;
}

static size_t watch_write(char *p, size_t size, size_t n, void *arg)
{
	struct etcd_watch *w = arg;
	long status = 0;
	int ret;

	curl_easy_getinfo(w->stream, CURLINFO_RESPONSE_CODE, &status);
	n *= size;
	if (status != 200) {
		buf_append(&w->errbody, p, n <= ETCD_ERRBODY_MAX / 2 ? n : ETCD_ERRBODY_MAX / 2);
		return n;
	}
	ret = lines_feed(&w->lines, p, n, watch_line, w);
	if (ret < 0)
		watch_end(w, ret, "etcd %s: watch: %s", watch_url(w),
			  ret == -EMSGSIZE ? "a message longer than 4 MiB" : "out of memory");
	return ret ? 0 : n;
}

static bool watch_tick(struct etcd_watch *w)
{
	int64_t now = now_ms();

	if (!w->created && now - w->began >= w->e->timeout_ms)
		return watch_end(w, -ETIMEDOUT, "etcd %s: watch: no answer within %u ms",
				 watch_url(w), w->e->timeout_ms);
	if (w->pending_rev && now - w->pending_at >= ETCD_SETTLE_MS) {
		w->next_rev = w->pending_rev + 1 > w->next_rev ? w->pending_rev + 1 : w->next_rev;
		w->pending_rev = 0;
	}
	/* Refreshed only once a progress answer has settled, or it would never count. */
	if (w->created && !w->pending_rev && now - w->last_msg >= w->e->progress_ms)
		return watch_end(w, 0, "idle");
	return false;
}

/* The body of a watch request. The gateway answers nothing before a request body has ended
 * (Go's HTTP/1.1 server), so the progress request goes along with the create request, and an
 * idle watch is refreshed by a new request. */
static char *watch_body(const struct etcd_watch *w)
{
	json_t *create = json_object(), *root = json_object(), *progress = json_object();
	bool fail = !create || !root || !progress;
	char *one = NULL, *two = NULL, *body = NULL;

	keys_set(create, w->key, w->key_len, true, &fail);
	set_new(create, "start_revision", int64_json(w->next_rev), &fail);
	set_new(create, "prev_kv", json_true(), &fail);
	set_new(create, "progress_notify", json_true(), &fail);
	set_new(root, "create_request", create, &fail);
	create = json_object();
	set_new(progress, "progress_request", create, &fail);
	if (!fail) {
		one = json_dumps(root, JSON_COMPACT);
		two = json_dumps(progress, JSON_COMPACT);
	}
	if (one && two && asprintf(&body, "%s\n%s\n", one, two) < 0)
		body = NULL;
	free(one);
	free(two);
	json_decref(root);
	json_decref(progress);
	return body;
}

/* How a connection that ended without a verdict went. */
static void watch_outcome(struct etcd_watch *w, CURLcode rc, const char *curl_err)
{
	struct call c = { .answer = w->errbody };
	char why[ETCD_WHY_LEN];
	long status = 0;
	int ret;

	curl_easy_getinfo(w->stream, CURLINFO_RESPONSE_CODE, &status);
	if (rc && rc != CURLE_WRITE_ERROR)
		ret = transport_error(w->e, watch_url(w), rc, curl_err, why);
	else if (status != 200)
		ret = status_error(&c, status, why);
	else
		ret = why_set(why, -ECONNRESET, "etcd ended the watch");
	w->reauth = c.code == 16;
	watch_end(w, ret, "etcd %s: watch: %s", watch_url(w), why);
}

/* One watch request from w->next_rev. Returns its verdict (see watch_end) with w->why. */
static int watch_connect(struct etcd_watch *w)
{
	struct etcd *e = w->e;
	char url[ETCD_URL_MAX + 16], curl_err[CURL_ERROR_SIZE] = "", *body = NULL;
	struct curl_slist *headers = NULL;
	struct call c = { .w = w };
	unsigned gen = 0;
	CURLcode rc;
	int ret = 0;

	w->verdict = 1;
	w->why[0] = '\0';
	w->lines.pending.len = 0;
	w->errbody.len = 0;
	w->created = false;
	w->began = w->last_msg = now_ms();
	w->pending_rev = 0;
	if (e->username) {
		c.deadline = w->began + e->timeout_ms;
		ret = token_ensure(e, &c, w->why);
	}
	if (ret)
		return w->verdict = ret;
	body = watch_body(w);
	headers = headers_new(e, true, &gen);
	if (!body || !headers) {
		watch_end(w, -ENOMEM, "etcd: watch: out of memory");
		goto out;
	}
	snprintf(url, sizeof(url), "%s/v3/watch", watch_url(w));
	curl_easy_reset(w->stream);
	handle_setup(e, w->stream, url, headers, body, strlen(body), curl_err);
	curl_easy_setopt(w->stream, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(w->stream, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->stream, CURLOPT_CONNECTTIMEOUT_MS, (long)e->timeout_ms);
	rc = transfer(w->stream, w, watch_tick);
	if (watch_stopping(w))
		watch_end(w, -ECANCELED, "stopped");
	if (w->verdict == 1)
		watch_outcome(w, rc, curl_err);
	if (w->reauth || w->verdict == -ETIMEDOUT)
		token_drop(e, gen);

out:
	headers_free(headers);
	free(body);
	return w->verdict;
}

/* Lists the prefix at one revision, hands it to ops->resync and goes on after it. */
static int watch_resync(struct etcd_watch *w)
{
	struct etcd_range snap;
	int ret;

	ret = range_all(w->e, w, w->key, w->key_len, 0, &snap, w->why);
	if (!ret) {
		w->ops.resync(w->ctx, &snap);
		w->next_rev = snap.revision + 1;
	}
	etcd_range_free(&snap);
	return ret;
}

/* Waits MS, or less when the watch is stopped. */
static void watch_sleep(struct etcd_watch *w, long ms)
{
	int64_t until = now_ms() + ms;

	while (!watch_stopping(w) && now_ms() < until)
		curl_multi_poll(w->multi, NULL, 0, (int)(until - now_ms()), NULL);
}

static void *watch_main(void *arg)
{
	struct etcd_watch *w = arg;
	long backoff = ETCD_BACKOFF_MIN_MS;
	unsigned compactions = 0;

	while (!watch_stopping(w)) {
		bool listing = !w->next_rev;
		int64_t began = now_ms();
		int ret = listing ? watch_resync(w) : watch_connect(w);

		if (watch_stopping(w))
			break;
		if (!listing && w->created && now_ms() - began >= ETCD_HEALTHY_MS) {
			backoff = ETCD_BACKOFF_MIN_MS;
			compactions = 0;
		}
		if (!ret)
			continue;
		if (ret == -ERANGE && !listing) {
			w->next_rev = 0;
			/* Compacted again and again at once: a server to back off from too. */
			if (++compactions < 2)
				continue;
		} else {
			watch_report(w, false, w->why);
			w->ep = (w->ep + 1) % w->e->n_eps;
		}
		watch_sleep(w, backoff / 2 + (long)randombytes_uniform((uint32_t)backoff));
		backoff = backoff * 2 < ETCD_BACKOFF_MAX_MS ? backoff * 2 : ETCD_BACKOFF_MAX_MS;
	}
	return NULL;
}

int etcd_watch_start(struct etcd *e, const void *prefix, size_t prefix_len, int64_t start_revision,
		     const struct etcd_watch_ops *ops, void *ctx, struct etcd_watch **out,
		     char *err)
{
	struct etcd_watch *w;
	int ret;

	*out = NULL;
	if (!ops->events || !ops->resync || start_revision < 0)
		return errmsg_set(err, -EINVAL, "etcd: watch: %s",
				  start_revision < 0 ? "negative start revision"
						     : "events and resync callbacks are required");
	w = calloc(1, sizeof(*w));
	if (!w)
		return errmsg_set(err, -ENOMEM, "etcd: watch: out of memory");
	w->e = e;
	w->ops = *ops;
	w->ctx = ctx;
	w->next_rev = start_revision;
	w->ep = atomic_load(&e->preferred) % e->n_eps;
	w->up = -1;
	w->lines.pending.max = ETCD_WATCH_MESSAGE_MAX;
	w->errbody.max = ETCD_ERRBODY_MAX;
	atomic_init(&w->stop, false);
	w->key = malloc(prefix_len + 1);
	if (!w->key)
		goto err_free;
	if (prefix_len)
		memcpy(w->key, prefix, prefix_len);
	w->key_len = prefix_len;
	w->multi = curl_multi_init();
	if (!w->multi)
		goto err_free;
	w->stream = curl_easy_init();
	if (!w->stream)
		goto err_multi;
	ret = pthread_create(&w->thread, NULL, watch_main, w);
	if (ret) {
		errmsg_set(err, -ret, "etcd: watch: cannot start a thread: %s", strerror(ret));
		goto err_stream;
	}
	*out = w;
	return 0;

err_stream:
	curl_easy_cleanup(w->stream);
err_multi:
	curl_multi_cleanup(w->multi);
err_free:
	free(w->key);
	free(w);
	return errmsg_set(err, -ENOMEM, "etcd: watch: out of memory");
}

void etcd_watch_stop(struct etcd_watch *w)
{
	if (!w)
		return;
	atomic_store(&w->stop, true);
	curl_multi_wakeup(w->multi);
	pthread_join(w->thread, NULL);
	curl_easy_cleanup(w->stream);
	curl_multi_cleanup(w->multi);
	buf_free(&w->lines.pending);
	buf_free(&w->errbody);
	free(w->key);
	free(w);
}

/* One "scheme://host:port" (a trailing "/" allowed), LEN bytes at S, into EP. */
static int endpoint_parse(const char *s, size_t len, struct endpoint *ep, char *err)
{
	const char *host, *port, *end = s + len;
	char buf[QUOTE_SIZE(ETCD_SHOWN_MAX)];
	unsigned long num = 0;

	if (len > 7 && !strncmp(s, "http://", 7))
		host = s + 7;
	else if (len > 8 && !strncmp(s, "https://", 8))
		host = s + 8;
	else
		goto err_syntax;
	if (end[-1] == '/')
		end--;
	port = memrchr(host, ':', (size_t)(end - host));
	if (!port || port == host || port + 1 == end || end - port > 6)
		goto err_syntax;
	if (*host == '[' ? port[-1] != ']' || port - host < 4 ||
				   strspn(host + 1, "0123456789abcdefABCDEF:.") !=
					   (size_t)(port - host - 2)
			 : strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					"0123456789.-_") < (size_t)(port - host))
		goto err_syntax;
	for (const char *p = port + 1; p < end; p++) {
		if (*p < '0' || *p > '9')
			goto err_syntax;
		num = num * 10 + (unsigned long)(*p - '0');
	}
	if (!num || num > 65535 || (size_t)(end - s) >= sizeof(ep->url))
		goto err_syntax;
	memcpy(ep->url, s, (size_t)(end - s));
	ep->url[end - s] = '\0';
	return 0;

err_syntax:
	return errmsg_set(err, -EINVAL,
			  "etcd endpoint \"%s\": expected http://host:port or https://host:port",
			  quote_mem(s, len, ETCD_SHOWN_MAX, buf, sizeof(buf)));
}

static int endpoints_parse(const char *list, struct etcd *e, char *err)
{
	const char *p = list;

	for (;;) {
		size_t len = strcspn(p, ",");
		const char *next = p[len] ? p + len + 1 : NULL;
		int ret;

		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (e->n_eps == ETCD_ENDPOINTS_MAX)
			return errmsg_set(err, -EINVAL, "etcd: more than %d endpoints",
					  ETCD_ENDPOINTS_MAX);
		ret = endpoint_parse(p, len, &e->eps[e->n_eps], err);
		if (ret)
			return ret;
		e->n_eps++;
		if (!next)
			return 0;
		p = next;
	}
}

static int file_check(const char *path, const char *what, char *err)
{
	char buf[QUOTE_SIZE(ETCD_SHOWN_MAX)];
	int saved;

	if (!path || !access(path, R_OK))
		return 0;
	saved = errno;
	return errmsg_set(err, -saved, "etcd: %s \"%s\": %s", what,
			  quote(path, ETCD_SHOWN_MAX, buf, sizeof(buf)), strerror(saved));
}

int etcd_open(const struct etcd_config *cfg, struct etcd **out, char *err)
{
	struct etcd *e;
	bool fail = false;
	int ret;

	*out = NULL;
	pthread_once(&etcd_once, global_init);
	if (!cfg->endpoints || !cfg->endpoints[0])
		return errmsg_set(err, -EINVAL, "etcd: no endpoints");
	if (!cfg->username != !cfg->password)
		return errmsg_set(err, -EINVAL,
				  "etcd: a username needs a password, and the other "
				  "way round");
	ret = file_check(cfg->ca_file, "CA file", err);
	if (!ret)
		ret = file_check(cfg->cert_file, "client certificate", err);
	if (!ret)
		ret = file_check(cfg->key_file, "client key", err);
	if (ret)
		return ret;
	e = calloc(1, sizeof(*e));
	if (!e)
		return errmsg_set(err, -ENOMEM, "etcd: out of memory");
	pthread_mutex_init(&e->lock, NULL);
	ret = endpoints_parse(cfg->endpoints, e, err);
	if (ret)
		goto err_close;
	e->ca_file = dup_opt(cfg->ca_file, &fail);
	e->cert_file = dup_opt(cfg->cert_file, &fail);
	e->key_file = dup_opt(cfg->key_file, &fail);
	e->username = dup_opt(cfg->username, &fail);
	e->password = dup_opt(cfg->password, &fail);
	e->password_len = e->password ? strlen(e->password) : 0;
	if (fail) {
		ret = errmsg_set(err, -ENOMEM, "etcd: out of memory");
		goto err_close;
	}
	e->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : ETCD_TIMEOUT_MS;
	e->progress_ms = cfg->watch_progress_ms ? cfg->watch_progress_ms : ETCD_WATCH_PROGRESS_MS;
	e->progress_ms = e->progress_ms < 100 ? 100 : e->progress_ms;
	e->page_kvs = ETCD_PAGE_KVS;
	atomic_init(&e->preferred, 0);
	*out = e;
	return 0;

err_close:
	etcd_close(e);
	return ret;
}

void etcd_close(struct etcd *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n_pool; i++)
		curl_easy_cleanup(e->pool[i]);
	free_secret(e->token, e->token_len);
	free_secret(e->password, e->password_len);
	free(e->ca_file);
	free(e->cert_file);
	free(e->key_file);
	free(e->username);
	pthread_mutex_destroy(&e->lock);
	free(e);
}
