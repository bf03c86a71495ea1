/* SPDX-License-Identifier: MIT */
/*
 * An etcd v3 client over etcd's JSON gateway (HTTP/1.1 POSTs to /v3/..., libcurl, jansson), for
 * the state that the hosts of a multi-host network share. Written against etcd 3.4.23 (Debian 12).
 *
 * Keys and values are bytes (base64 on the wire). Every call is bounded by the configured timeout
 * in total, across endpoint failover, and returns 0 or a -errno with a message in ERR
 * (ERRMSG_LEN bytes) that names the endpoint and quotes etcd's own message:
 *   -ECONNREFUSED -EHOSTUNREACH -ETIMEDOUT -ECONNRESET  no endpoint answered (each one is named)
 *   -EACCES   certificate or TLS refusal, bad credentials, permission denied (etcd code 7, 16)
 *   -EINVAL   etcd refused the request (code 3)     -ENOENT  not found, e.g. a lease (code 5)
 *   -ERANGE   revision compacted or in the future (code 11)   -EEXIST  code 6 or 9
 *   -EAGAIN   etcd unavailable (code 14)      -EPROTO -EMSGSIZE  an answer we could not use
 * A write that timed out after it was sent is not sent again elsewhere (it may have been applied):
 * its message says so. Reads, keepalives and authentication fail over on any transport error.
 *
 * One struct etcd serves any number of threads at once. Secrets (password, token) are never in a
 * message and are wiped when freed.
 */
#ifndef ETCD_H
#define ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETCD_TIMEOUT_MS	       5000
#define ETCD_WATCH_PROGRESS_MS 60000
#define ETCD_ENDPOINTS_MAX     16
#define ETCD_WATCH_MESSAGE_MAX (4u << 20)  /* one watch message, newline-delimited JSON */
#define ETCD_ANSWER_MAX	       (16u << 20) /* one answer to any other call */

struct etcd_config {
	const char *endpoints; /* "http://127.0.0.1:2379,https://10.0.0.2:2379" */
	const char *ca_file, *cert_file, *key_file; /* NULL: none (system CAs for https) */
	const char *username, *password;	    /* NULL: no auth */
	unsigned timeout_ms;			    /* every call in total; 0: ETCD_TIMEOUT_MS */
	unsigned watch_progress_ms; /* idle watch refreshes its resume point; 0: 60 s */
};

struct etcd;
struct etcd_watch;

/* One key with its value; KEY and VALUE are also NUL-terminated for convenience. */
struct etcd_kv {
	char *key;
	size_t key_len;
	uint8_t *value;
	size_t value_len;
	int64_t create_revision, mod_revision, version, lease;
};

struct etcd_range {
	struct etcd_kv *kvs;
	size_t n;
	int64_t revision; /* the store revision the kvs are at */
	bool more;	  /* a limit cut the answer */
};

enum etcd_target {
	ETCD_TARGET_VERSION,
	ETCD_TARGET_CREATE, /* create_revision: 0 means absent */
	ETCD_TARGET_MOD,
	ETCD_TARGET_VALUE,
	ETCD_TARGET_LEASE,
};

enum etcd_compare { ETCD_EQUAL, ETCD_NOT_EQUAL, ETCD_GREATER, ETCD_LESS };

struct etcd_cmp {
	const void *key;
	size_t key_len;
	enum etcd_target target;
	enum etcd_compare result;
	int64_t number; /* version, revision or lease ID */
	const void *value;
	size_t value_len; /* ETCD_TARGET_VALUE */
};

enum etcd_op_type { ETCD_OP_RANGE, ETCD_OP_PUT, ETCD_OP_DELETE };

struct etcd_op {
	enum etcd_op_type type;
	const void *key;
	size_t key_len;
	const void *value;
	size_t value_len; /* put */
	int64_t lease;	  /* put: 0 for none */
	bool prefix;	  /* range, delete: every key that starts with KEY */
};

struct etcd_txn {
	const struct etcd_cmp *cmps;
	size_t n_cmps;
	const struct etcd_op *success, *failure;
	size_t n_success, n_failure;
};

struct etcd_op_result {
	enum etcd_op_type type;
	struct etcd_range range; /* range */
	int64_t deleted;	 /* delete */
};

struct etcd_txn_result {
	bool succeeded;
	int64_t revision;
	struct etcd_op_result *results; /* one per op of the branch taken, in order */
	size_t n;
};

enum etcd_event_type { ETCD_EVENT_PUT, ETCD_EVENT_DELETE };

struct etcd_event {
	enum etcd_event_type type;
	struct etcd_kv kv; /* a DELETE has the key and mod_revision only */
	struct etcd_kv prev_kv;
	bool has_prev_kv;
};

/* Called on the watch's own thread, one at a time; they borrow what they are given and must not
 * call etcd_watch_stop. */
struct etcd_watch_ops {
	/* One message: several events when one txn made them. Everything up to REVISION has been
	 * delivered. */
	void (*events)(void *ctx, const struct etcd_event *events, size_t n, int64_t revision);
	/* The whole prefix at SNAPSHOT->revision, replacing what the caller knew: at start when
	 * start_revision is 0, and after etcd compacted revisions the watch had not seen. */
	void (*resync)(void *ctx, const struct etcd_range *snapshot);
	/* Connection changes, for logs and metrics (may be NULL). */
	void (*state)(void *ctx, bool connected, const char *why);
};

/* One message of a watch stream, as etcd_parse_watch_message reads it. */
struct etcd_watch_message {
	int64_t revision; /* header.revision, 0 when absent */
	int64_t watch_id; /* -1 answers a progress request */
	bool created, canceled;
	int64_t compact_revision;
	char cancel_reason[256]; /* quoted (quote.h), cut */
	struct etcd_event *events;
	size_t n_events;
};

/* Checks CFG (endpoints, files readable) and returns a new client in *OUT without connecting
 * (free with etcd_close). CFG's strings are copied. */
int etcd_open(const struct etcd_config *cfg, struct etcd **out, char *err);
/* Frees E (NULL is fine). Its watches must have been stopped. */
void etcd_close(struct etcd *e);
/* One call (authenticate if configured, then status) so that a bad certificate, credentials or
 * endpoint list fails clearly at start. */
int etcd_check(struct etcd *e, char *err);

/* KEY's kv, if any, into OUT (emptied first; free with etcd_range_free, also on error). */
int etcd_get(struct etcd *e, const void *key, size_t key_len, struct etcd_range *out, char *err);
/* Every key starting with PREFIX ("" is every key) at REVISION (0: latest) into OUT (free with
 * etcd_range_free). LIMIT 0 lists all, in pages read at one revision; otherwise at most LIMIT kvs
 * and OUT->more when there were more. */
int etcd_get_prefix(struct etcd *e, const void *prefix, size_t prefix_len, int64_t revision,
		    size_t limit, struct etcd_range *out, char *err);
/* Frees R's kvs and empties it (an empty R is fine). */
void etcd_range_free(struct etcd_range *r);

/* Puts VALUE at KEY, attached to LEASE (0: none); *REVISION (may be NULL) gets the new revision. */
int etcd_put(struct etcd *e, const void *key, size_t key_len, const void *value, size_t value_len,
	     int64_t lease, int64_t *revision, char *err);
/* Deletes KEY (or every key starting with it); *DELETED (may be NULL) gets how many. */
int etcd_delete(struct etcd *e, const void *key, size_t key_len, bool prefix, int64_t *deleted,
		char *err);
/* Runs TXN (borrowed) atomically into OUT (free with etcd_txn_result_free, also on error):
 * the compare-and-swap that every ownership write uses. */
int etcd_txn(struct etcd *e, const struct etcd_txn *txn, struct etcd_txn_result *out, char *err);
/* Frees R's results and empties it. */
void etcd_txn_result_free(struct etcd_txn_result *r);

/* A new lease of TTL_S seconds (etcd grants at least 2) into *ID. */
int etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *id, char *err);
/* Renews lease ID once; *TTL_LEFT gets its new TTL, or 0 with -ENOENT when it expired or never
 * existed. */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl_left, char *err);
/* Revokes lease ID, deleting its keys; -ENOENT when it is gone already. */
int etcd_lease_revoke(struct etcd *e, int64_t id, char *err);

/* Starts a new watch in *OUT (stop with etcd_watch_stop) of every key starting with PREFIX, from
 * START_REVISION (0: list first and hand the snapshot to ops->resync). It runs on a thread of its
 * own until stopped, reconnecting (other endpoints, bounded backoff) and resuming after the last
 * revision it delivered. E and OPS are borrowed and must outlive it; CTX is passed to OPS. */
int etcd_watch_start(struct etcd *e, const void *prefix, size_t prefix_len, int64_t start_revision,
		     const struct etcd_watch_ops *ops, void *ctx, struct etcd_watch **out,
		     char *err);
/* Stops W, interrupting any request, joins its thread and frees it (NULL is fine). */
void etcd_watch_stop(struct etcd_watch *w);

/* Parsers of etcd's answers: pure (no I/O), every type and length checked, for tests and fuzzing.
 * An etcd error object in TEXT gives its -errno and quotes etcd's message. */
/* Borrows TEXT; fills OUT (free with etcd_range_free, also on error). */
int etcd_parse_range(const char *text, size_t len, struct etcd_range *out, char *err);
/* Borrows TEXT; fills OUT (free with etcd_txn_result_free, also on error). */
int etcd_parse_txn(const char *text, size_t len, struct etcd_txn_result *out, char *err);
/* Borrows TEXT (one line of a watch stream); fills OUT (free with etcd_watch_message_free, also
 * on error). */
int etcd_parse_watch_message(const char *text, size_t len, struct etcd_watch_message *out,
			     char *err);
/* Frees M's events and empties it. */
void etcd_watch_message_free(struct etcd_watch_message *m);

#endif
