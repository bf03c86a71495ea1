// SPDX-License-Identifier: MIT
#include "cluster.h"

#include "clock.h"
#include "addr.h"
#include "admin_cmd.h"
#include "atomic_file.h"
#include "endpoint.h"
#include "errmsg.h"
#include "etcd.h"
#include "field.h"
#include "keystore.h"
#include "links.h"
#include "outside.h"
#include "log.h"
#include "peers.h"
#include "peersync.h"
#include "quote.h"
#include "state.h"
#include "wgd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HOST_ID_BYTES	 8
#define HOST_ID_LEN	 (2 * HOST_ID_BYTES)
#define KEY_MAX		 512
#define JOB_RETRY_MIN_MS 200
#define JOB_RETRY_MAX_MS 5000
/* Addresses this host took and no endpoint of its uses are given back at its start once they are
 * older than this: a container whose start was under way when the plugin restarted keeps its. */
#define IPAM_GRACE_S 120
/* Random picks in a pool before it is called full (a v6 pool is never scanned). */
#define IPAM_TRIES 64
#define PSK_LABEL  "wireguard-driver psk v1"

enum job_type { JOB_PUBLISH, JOB_UNPUBLISH, JOB_PSK, JOB_RELEASE, JOB_LOAD_NET, JOB_KEY_RELEASE };

/* A write the engine does not wait for: done by the writer thread, again until the store takes
 * it. */
struct job {
	enum job_type type;
	char key[KEY_MAX]; /* publish, unpublish: the record's key; load: the network */
	char *value;	   /* publish: the record */
	char a[KEYSTORE_REF_MAX + 1], b[KEYSTORE_REF_MAX + 1]; /* psk: the pair, a < b */
	char host[HOST_ID_LEN + 1];			       /* psk: the other end's host */
	char pool[ADDR_STRLEN], addr[ADDR_STRLEN];	       /* release */
	unsigned attempts;
	struct timespec due;
	struct job *next;
};

/* What the store says of a host. */
struct host {
	char id[HOST_ID_LEN + 1];
	char name[CLUSTER_HOST_NAME_MAX + 1];
	char addr[INET6_ADDRSTRLEN];
	uint8_t box[crypto_box_PUBLICKEYBYTES];
	bool has_box, alive;
	struct host *next;
};

struct cluster {
	struct wgd *d;
	struct etcd *etcd;
	struct etcd_watch *watch;
	char id[HOST_ID_LEN + 1];
	char name[CLUSTER_HOST_NAME_MAX + 1];
	char addr[INET6_ADDRSTRLEN]; /* advertised */
	union wg_endpoint advertise; /* its family and address; the port is each link's */
	uint8_t box_pk[crypto_box_PUBLICKEYBYTES], box_sk[crypto_box_SECRETKEYBYTES];
	uint8_t secret[crypto_generichash_KEYBYTES];
	bool has_secret;
	unsigned ttl;
	char pending_path[PATH_MAX]; /* releases waiting for the store */

	pthread_mutex_t lock; /* what follows; taken after the daemon's lock, never before it */
	pthread_cond_t cond;  /* CLOCK_MONOTONIC */
	struct job *jobs;     /* by due time */
	struct host *hosts;
	int64_t lease; /* 0: none now */
	bool connected, stopping;
	pthread_t thread;
};

void cluster_store_state(struct cluster *c, bool *connected, size_t *alive, size_t *gone)
{
	*alive = *gone = 0;
	pthread_mutex_lock(&c->lock);
	*connected = c->connected && c->lease;
	for (const struct host *h = c->hosts; h; h = h->next) {
		if (h->alive)
			(*alive)++;
		else
			(*gone)++;
	}
	pthread_mutex_unlock(&c->lock);
}

const char *cluster_host_addr(const struct cluster *c)
{
	return c->addr;
}

const char *cluster_host_id(const struct cluster *c)
{
	return c->id;
}

/* ---- store records ---- */

static void store_key(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void store_key(char *out, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(out, KEY_MAX, "%s", CLUSTER_PREFIX);

	va_start(ap, fmt);
	vsnprintf(out + n, KEY_MAX - (size_t)n, fmt, ap);
	va_end(ap);
}

/* VALUE (LEN bytes from the store, untrusted) as a JSON object (new), or NULL. */
static json_t *record_parse(const uint8_t *value, size_t len)
{
	json_t *j = json_loadb((const char *)value, len, JSON_REJECT_DUPLICATES, NULL);

	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static const char *record_str(const json_t *j, const char *key)
{
	return json_string_value(json_object_get(j, key));
}

static int store_put_json(struct cluster *c, const char *key, json_t *j, int64_t lease, char *err)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	int ret;

	if (!text)
		return errmsg_set(err, -ENOMEM, "out of memory");
	ret = etcd_put(c->etcd, key, strlen(key), text, strlen(text), lease, NULL, err);
	free(text);
	return ret;
}

/* Creates KEY with J unless it exists: 0 when created, -EEXIST with the current record in *NOW
 * (new; may be NULL for the caller) otherwise. */
static int store_create(struct cluster *c, const char *key, const json_t *j, int64_t lease,
			json_t **now, char *err)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	struct etcd_cmp cmp = { .key = key,
				.key_len = strlen(key),
				.target = ETCD_TARGET_CREATE,
				.result = ETCD_EQUAL,
				.number = 0 };
	struct etcd_op put = { .type = ETCD_OP_PUT,
			       .key = key,
			       .key_len = strlen(key),
			       .lease = lease };
	struct etcd_op get = { .type = ETCD_OP_RANGE, .key = key, .key_len = strlen(key) };
	struct etcd_txn txn = { .cmps = &cmp,
				.n_cmps = 1,
				.success = &put,
				.n_success = 1,
				.failure = &get,
				.n_failure = 1 };
	struct etcd_txn_result res = { 0 };
	int ret;

	if (now)
		*now = NULL;
	if (!text)
		return errmsg_set(err, -ENOMEM, "out of memory");
	put.value = text;
	put.value_len = strlen(text);
	ret = etcd_txn(c->etcd, &txn, &res, err);
	free(text);
	if (ret)
		goto out;
	if (res.succeeded)
		goto out;
	ret = -EEXIST;
	if (now && res.n == 1 && res.results[0].range.n == 1)
		*now = record_parse(res.results[0].range.kvs[0].value,
				    res.results[0].range.kvs[0].value_len);
out:
	etcd_txn_result_free(&res);
	return ret;
}

/* Deletes KEY if its mod revision is still REV: 0, or -EAGAIN when it changed. */
static int store_delete_if(struct cluster *c, const char *key, int64_t rev, char *err)
{
	struct etcd_cmp cmp = { .key = key,
				.key_len = strlen(key),
				.target = ETCD_TARGET_MOD,
				.result = ETCD_EQUAL,
				.number = rev };
	struct etcd_op del = { .type = ETCD_OP_DELETE, .key = key, .key_len = strlen(key) };
	struct etcd_txn txn = { .cmps = &cmp, .n_cmps = 1, .success = &del, .n_success = 1 };
	struct etcd_txn_result res = { 0 };
	int ret = etcd_txn(c->etcd, &txn, &res, err);

	if (!ret && !res.succeeded)
		ret = -EAGAIN;
	etcd_txn_result_free(&res);
	return ret;
}

/* Splits KEY (after the prefix) into up to MAX '/'-separated parts in PARTS (in BUF). */
static size_t key_split(const char *key, size_t len, char *buf, size_t size, char **parts,
			size_t max)
{
	size_t n = 0;
	char *s, *save = NULL;

	if (len >= size || memchr(key, '\0', len))
		return 0;
	memcpy(buf, key, len);
	buf[len] = '\0';
	for (s = strtok_r(buf, "/", &save); s && n < max; s = strtok_r(NULL, "/", &save))
		parts[n++] = s;
	return s ? 0 : n;
}

/* ---- the writer: jobs, the lease ---- */

static void job_insert(struct cluster *c, struct job *job)
{
	struct job **p = &c->jobs;

	while (*p && !clock_before(&job->due, &(*p)->due))
		p = &(*p)->next;
	job->next = *p;
	*p = job;
	pthread_cond_signal(&c->cond);
}

static void job_free(struct job *job)
{
	if (!job)
		return;
	free(job->value);
	free(job);
}

/* The queued job of TYPE for KEY (or pair A+B), or NULL; c->lock held. */
static struct job *job_find(struct cluster *c, enum job_type type, const char *key, const char *a,
			    const char *b)
{
	for (struct job *j = c->jobs; j; j = j->next)
		if (j->type == type && !strcmp(j->key, key) && !strcmp(j->a, a) && !strcmp(j->b, b))
			return j;
	return NULL;
}

/* Queues a job, or replaces the value of the one queued for the same record (the newest record
 * wins). Takes ownership of VALUE. */
static void queue(struct cluster *c, enum job_type type, const char *key, char *value)
{
	struct job *job;

	pthread_mutex_lock(&c->lock);
	job = job_find(c, JOB_PUBLISH, key, "", "");
	if (!job)
		job = job_find(c, JOB_UNPUBLISH, key, "", "");
	if (job && (type == JOB_PUBLISH || type == JOB_UNPUBLISH)) {
		free(job->value);
		job->type = type;
		job->value = value;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	job = calloc(1, sizeof(*job));
	if (!job) {
		pthread_mutex_unlock(&c->lock);
		free(value);
		log_error("cluster: out of memory; %s is not written", key);
		return;
	}
	job->type = type;
	snprintf(job->key, sizeof(job->key), "%s", key);
	job->value = value;
	job->due = clock_in_ms(0);
	job_insert(c, job);
	pthread_mutex_unlock(&c->lock);
}

/* The record other hosts read for EP (new text), or NULL when it has none: not joined, or waiting
 * for its container. */
static char *endpoint_record(const struct cluster *c, const struct endpoint *ep)
{
	char pub[sodium_base64_ENCODED_LEN(WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];
	char a4[ADDR_STRLEN] = "", a6[ADDR_STRLEN] = "";
	char *links = NULL, *text = NULL;
	json_t *j;

	if (!ep->joined || ep->pending)
		return NULL;
	if (ep->addr4.family)
		addr_format(&ep->addr4, a4);
	if (ep->addr6.family)
		addr_format(&ep->addr6, a6);
	links = links_format(&ep->links);
	sodium_bin2base64(pub, sizeof(pub), ep->public_key, WG_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	/* An outside peer has no port: it roams, and the endpoints learn where it is from it. */
	j = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:I, s:o*}", "pub", pub, "addr", c->addr,
		      "port", ep->listen_port, "ip4", a4, "ip6", a6, "key", ep->key_ref, "links",
		      links ? links : "", "serve", (json_int_t)ep->serve, "outside",
		      ep->outside ? json_true() : NULL);
	if (j)
		text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	free(links);
	return text;
}

void cluster_endpoint_changed(struct cluster *c, const struct endpoint *ep)
{
	char key[KEY_MAX], *value;

	wgd_assert_locked(c->d);
	store_key(key, "nets/%s/eps/%s/%s", ep->net->opts.cluster, c->id, ep->id);
	value = endpoint_record(c, ep);
	queue(c, value ? JOB_PUBLISH : JOB_UNPUBLISH, key, value);
}

void cluster_psk_wanted(struct cluster *c, const struct endpoint *self,
			const struct endpoint *other)
{
	const char *a = self->key_ref, *b = other->key_ref;
	struct job *job;

	wgd_assert_locked(c->d);
	if (strcmp(a, b) > 0) {
		a = other->key_ref;
		b = self->key_ref;
	}
	pthread_mutex_lock(&c->lock);
	if (!job_find(c, JOB_PSK, "", a, b) && (job = calloc(1, sizeof(*job)))) {
		job->type = JOB_PSK;
		snprintf(job->a, sizeof(job->a), "%s", a);
		snprintf(job->b, sizeof(job->b), "%s", b);
		snprintf(job->host, sizeof(job->host), "%s", other->host);
		job->due = clock_in_ms(0);
		job_insert(c, job);
	}
	pthread_mutex_unlock(&c->lock);
}

void cluster_key_released(struct cluster *c, const char *ref)
{
	queue(c, JOB_KEY_RELEASE, ref, NULL);
}

void cluster_network_added(struct cluster *c, struct network *net)
{
	wgd_assert_locked(c->d);
	queue(c, JOB_LOAD_NET, net->opts.cluster, NULL);
}

/* Every record of this host's endpoints, again: after a new lease (the old one took them). */
static void publish_all(struct cluster *c)
{
	wgd_lock(c->d);
	for (struct network *n = c->d->networks; n; n = n->next) {
		if (!n->opts.cluster[0])
			continue;
		for (struct endpoint *ep = n->endpoints; ep; ep = ep->next)
			if (ep->joined && !ep->pending)
				cluster_endpoint_changed(c, ep);
		for (struct endpoint *ep = n->outside; ep; ep = ep->next)
			cluster_endpoint_changed(c, ep);
	}
	wgd_unlock(c->d);
}

static int host_record(struct cluster *c, char *err)
{
	char key[KEY_MAX], box[sodium_base64_ENCODED_LEN(crypto_box_PUBLICKEYBYTES,
							 sodium_base64_VARIANT_ORIGINAL)];
	json_t *j;
	int ret;

	sodium_bin2base64(box, sizeof(box), c->box_pk, sizeof(c->box_pk),
			  sodium_base64_VARIANT_ORIGINAL);
	j = json_pack("{s:s, s:s, s:s}", "name", c->name, "addr", c->addr, "box", box);
	if (!j)
		return errmsg_set(err, -ENOMEM, "out of memory");
	store_key(key, "hostinfo/%s", c->id);
	ret = store_put_json(c, key, j, 0, err);
	json_decref(j);
	return ret;
}

/* A lease, this host's records under it, and its endpoints published again. */
static int lease_take(struct cluster *c, char *err)
{
	char key[KEY_MAX];
	int64_t lease = 0;
	json_t *j;
	int ret;

	ret = etcd_lease_grant(c->etcd, c->ttl, &lease, err);
	if (!ret)
		ret = host_record(c, err);
	if (!ret) {
		j = json_pack("{s:I}", "since", (json_int_t)time(NULL));
		store_key(key, "alive/%s", c->id);
		ret = j ? store_put_json(c, key, j, lease, err) : -ENOMEM;
		json_decref(j);
	}
	if (ret) {
		if (lease)
			etcd_lease_revoke(c->etcd, lease, (char[ERRMSG_LEN]){ 0 });
		return ret;
	}
	pthread_mutex_lock(&c->lock);
	c->lease = lease;
	pthread_mutex_unlock(&c->lock);
	log_info("cluster: host %s (%s, %s) is up, lease %lld", c->id, c->name, c->addr,
		 (long long)lease);
	publish_all(c);
	return 0;
}

static bool has_ip(const struct endpoint *ep, const char *ip)
{
	char buf[ADDR_STRLEN];

	return (ep->addr4.family && inet_ntop(AF_INET, &ep->addr4.ip4, buf, sizeof(buf)) &&
		!strcmp(buf, ip)) ||
	       (ep->addr6.family && inet_ntop(AF_INET6, &ep->addr6.ip6, buf, sizeof(buf)) &&
		!strcmp(buf, ip));
}

/* true when a local endpoint or an outside peer of D has address IP (a string). */
static bool address_used(struct wgd *d, const char *ip)
{
	for (struct network *n = d->networks; n; n = n->next) {
		for (struct endpoint *ep = n->endpoints; ep; ep = ep->next)
			if (has_ip(ep, ip))
				return true;
		for (struct endpoint *ep = n->outside; ep; ep = ep->next)
			if (has_ip(ep, ip))
				return true;
	}
	return false;
}

/* At start: the addresses this host holds that none of its endpoints uses are given back, once
 * they are older than a container start in progress could be. */
static void reconcile_addresses(struct cluster *c)
{
	struct etcd_range r = { 0 };
	char prefix[KEY_MAX], buf[KEY_MAX], err[ERRMSG_LEN], *part[6];
	size_t plen = strlen(CLUSTER_PREFIX), released = 0;
	time_t now = time(NULL);
	json_t *j;
	bool used;

	store_key(prefix, "ipam/");
	if (etcd_get_prefix(c->etcd, prefix, strlen(prefix), 0, 0, &r, err)) {
		log_warn("cluster: reading the addresses at start: %s", err);
		return;
	}
	for (size_t i = 0; i < r.n; i++) {
		const struct etcd_kv *kv = &r.kvs[i];

		if (key_split(kv->key + plen, kv->key_len - plen, buf, sizeof(buf), part, 6) != 3)
			continue;
		j = record_parse(kv->value, kv->value_len);
		if (!j || strcmp(record_str(j, "host") ?: "", c->id) ||
		    json_integer_value(json_object_get(j, "time")) > now - IPAM_GRACE_S) {
			json_decref(j);
			continue;
		}
		json_decref(j);
		wgd_lock(c->d);
		used = address_used(c->d, part[2]);
		wgd_unlock(c->d);
		if (!used && !store_delete_if(c, kv->key, kv->mod_revision, err))
			released++;
	}
	etcd_range_free(&r);
	if (released)
		log_info(
			"cluster: %zu address(es) this host held for no endpoint went back to their "
			"pools",
			released);
}

static int lease_keep(struct cluster *c, char *err)
{
	int64_t ttl = 0, lease;
	int ret;

	pthread_mutex_lock(&c->lock);
	lease = c->lease;
	pthread_mutex_unlock(&c->lock);
	if (!lease)
		return lease_take(c, err);
	ret = etcd_lease_keepalive(c->etcd, lease, &ttl, err);
	if (ret == -ENOENT) {
		/* The store thinks this host went: its records are gone, the others dropped its
		 * peers. Take a lease again and say everything again. */
		log_warn("cluster: the lease of host %s expired (the store was out of reach for "
			 "longer than %u s); taking a new one",
			 c->id, c->ttl);
		pthread_mutex_lock(&c->lock);
		c->lease = 0;
		pthread_mutex_unlock(&c->lock);
		return lease_take(c, err);
	}
	return ret;
}

/* ---- preshared keys across hosts ---- */

/* The PSK WireGuard gets from the random one of a pair: mixed with the cluster secret, which the
 * store never sees, so that opening the sealed boxes (X25519) does not give it up. */
static void psk_derive(const struct cluster *c, const uint8_t random[WG_KEY_LEN], const char *a,
		       const char *b, uint8_t out[WG_KEY_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, c->has_secret ? c->secret : NULL,
				c->has_secret ? sizeof(c->secret) : 0, WG_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)PSK_LABEL, sizeof(PSK_LABEL));
	crypto_generichash_update(&st, random, WG_KEY_LEN);
	crypto_generichash_update(&st, (const uint8_t *)a, strlen(a) + 1);
	crypto_generichash_update(&st, (const uint8_t *)b, strlen(b) + 1);
	crypto_generichash_final(&st, out, WG_KEY_LEN);
	sodium_memzero(&st, sizeof(st));
}

/* Opens this host's box of the psk record J into RANDOM: 0, -ENOENT when it has none for us. */
static int psk_open(const struct cluster *c, const json_t *j, uint8_t random[WG_KEY_LEN])
{
	uint8_t sealed[crypto_box_SEALBYTES + WG_KEY_LEN];
	const char *b64 = record_str(j, c->id);
	size_t len = 0;

	if (!b64)
		return -ENOENT;
	if (sodium_base642bin(sealed, sizeof(sealed), b64, strlen(b64), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    len != sizeof(sealed) ||
	    crypto_box_seal_open(random, sealed, sizeof(sealed), c->box_pk, c->box_sk))
		return -EBADMSG;
	return 0;
}

static int seal_for(const uint8_t box[crypto_box_PUBLICKEYBYTES], const uint8_t random[WG_KEY_LEN],
		    json_t *j, const char *host)
{
	uint8_t sealed[crypto_box_SEALBYTES + WG_KEY_LEN];
	char b64[sodium_base64_ENCODED_LEN(sizeof(sealed), sodium_base64_VARIANT_ORIGINAL)];

	if (crypto_box_seal(sealed, random, WG_KEY_LEN, box))
		return -EINVAL;
	sodium_bin2base64(b64, sizeof(b64), sealed, sizeof(sealed), sodium_base64_VARIANT_ORIGINAL);
	return json_object_set_new(j, host, json_string(b64)) ? -ENOMEM : 0;
}

static bool host_box(struct cluster *c, const char *id, uint8_t box[crypto_box_PUBLICKEYBYTES])
{
	bool found = false;

	pthread_mutex_lock(&c->lock);
	for (struct host *h = c->hosts; h; h = h->next) {
		if (!strcmp(h->id, id) && h->has_box) {
			memcpy(box, h->box, crypto_box_PUBLICKEYBYTES);
			found = true;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

/* Marks the links of the pair A+B on this host (their PSK changed or arrived). */
static void psk_touch(struct cluster *c, const char *a, const char *b)
{
	wgd_lock(c->d);
	for (struct network *n = c->d->networks; n; n = n->next) {
		if (!n->opts.cluster[0])
			continue;
		for (struct endpoint *ep = n->endpoints; ep; ep = ep->next) {
			const char *other = !strcmp(ep->key_ref, a)   ? b
					    : !strcmp(ep->key_ref, b) ? a
								      : NULL;

			if (!other || !ep->joined)
				continue;
			for (struct endpoint *r = n->remotes; r; r = r->next)
				if (!strcmp(r->key_ref, other))
					peersync_touch_moved(ep, r->public_key);
		}
	}
	wgd_unlock(c->d);
}

/* Keeps the PSK of record J (for pair A+B) here, if it has one for this host. */
static void psk_take(struct cluster *c, const char *a, const char *b, const json_t *j)
{
	uint8_t random[WG_KEY_LEN], psk[WG_KEY_LEN], now[WG_KEY_LEN];
	bool same;
	int ret;

	ret = psk_open(c, j, random);
	if (ret == -ENOENT)
		return;
	if (ret) {
		log_warn("cluster: the preshared key of %s+%s in the store cannot be opened with "
			 "this host's key; ignored",
			 QUOTE(a, 64), QUOTE(b, 64));
		return;
	}
	psk_derive(c, random, a, b, psk);
	same = !keystore_psk_get(c->d->keys, a, b, false, now, NULL) &&
	       !sodium_memcmp(now, psk, WG_KEY_LEN);
	if (!same && keystore_psk_put(c->d->keys, a, b, psk))
		log_error("cluster: keeping the preshared key of %s+%s: %s", a, b,
			  keystore_error());
	sodium_memzero(random, sizeof(random));
	sodium_memzero(psk, sizeof(psk));
	sodium_memzero(now, sizeof(now));
	if (!same)
		psk_touch(c, a, b);
}

/* The pair's record: made here (sealed to both hosts) or read, and its PSK kept. */
static int run_psk(struct cluster *c, const struct job *job, char *err)
{
	uint8_t other[crypto_box_PUBLICKEYBYTES], random[WG_KEY_LEN];
	char key[KEY_MAX];
	json_t *j = NULL, *now = NULL;
	int ret;

	if (!host_box(c, job->host, other))
		return errmsg_set(err, -EAGAIN, "host %s has not said its sealing key yet",
				  job->host);
	store_key(key, "psk/%s+%s", job->a, job->b);
	randombytes_buf(random, sizeof(random));
	j = json_object();
	ret = j ? seal_for(c->box_pk, random, j, c->id) : -ENOMEM;
	if (!ret)
		ret = seal_for(other, random, j, job->host);
	sodium_memzero(random, sizeof(random));
	if (!ret)
		ret = store_create(c, key, j, 0, &now, err);
	if (!ret) {
		psk_take(c, job->a, job->b, j);
	} else if (ret == -EEXIST && now) {
		/* Made by the other host first, or for an identity that lived elsewhere. */
		if (record_str(now, c->id)) {
			psk_take(c, job->a, job->b, now);
			ret = 0;
		} else {
			ret = errmsg_set(err, -EAGAIN,
					 "the preshared key of %s+%s is sealed to other hosts; "
					 "waiting for one sealed to this one",
					 job->a, job->b);
		}
	}
	json_decref(j);
	json_decref(now);
	return ret;
}

/* ---- addresses ---- */

static void pool_key(char *out, const char *pool)
{
	char p[ADDR_STRLEN], *slash;

	snprintf(p, sizeof(p), "%s", pool);
	if ((slash = strchr(p, '/')))
		*slash = '_';
	store_key(out, "ipam/%s/", p);
}

static int run_release(struct cluster *c, const struct job *job, char *err)
{
	struct etcd_range r = { 0 };
	char key[KEY_MAX];
	json_t *j = NULL;
	int ret;

	pool_key(key, job->pool);
	strncat(key, job->addr, KEY_MAX - strlen(key) - 1);
	ret = etcd_get(c->etcd, key, strlen(key), &r, err);
	if (!ret && r.n == 1) {
		j = record_parse(r.kvs[0].value, r.kvs[0].value_len);
		/* Only this host's: another may hold it by now. */
		if (j && !strcmp(record_str(j, "host") ?: "", c->id))
			ret = store_delete_if(c, key, r.kvs[0].mod_revision, err);
	}
	json_decref(j);
	etcd_range_free(&r);
	return ret == -EAGAIN ? 0 : ret;
}

/* ---- the remote endpoints ---- */

/* The cluster network NAME of this host, if any (one at most: wg.net names are unique here). */
static struct network *network_named(struct wgd *d, const char *name)
{
	for (struct network *n = d->networks; n; n = n->next)
		if (!strcmp(n->opts.cluster, name))
			return n;
	return NULL;
}

static struct endpoint *remote_find(struct network *net, const char *host, const char *eid)
{
	for (struct endpoint *r = net->remotes; r; r = r->next)
		if (!strcmp(r->id, eid) && !strcmp(r->host, host))
			return r;
	return NULL;
}

static void remote_remove(struct network *net, struct endpoint *r)
{
	for (struct endpoint **p = &net->remotes; *p; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			break;
		}
	}
	peersync_touch_others(r, r->public_key);
	log_info("network %.12s: peer %.12s of host %s is gone", net->id, r->id, r->host);
	endpoint_free(r);
}

/* Reads an endpoint record (untrusted) into R: every field checked as the API checks its own. */
static int remote_read(struct endpoint *r, const json_t *j, char *err)
{
	const char *pub = record_str(j, "pub"), *addr = record_str(j, "addr");
	const char *a4 = record_str(j, "ip4"), *a6 = record_str(j, "ip6");
	const char *key = record_str(j, "key"), *links = record_str(j, "links");
	json_int_t port = json_integer_value(json_object_get(j, "port"));
	size_t len = 0;

	memset(&r->addr4, 0, sizeof(r->addr4));
	memset(&r->addr6, 0, sizeof(r->addr6));
	memset(&r->underlay, 0, sizeof(r->underlay));
	if (!pub ||
	    sodium_base642bin(r->public_key, WG_KEY_LEN, pub, strlen(pub), NULL, &len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) ||
	    len != WG_KEY_LEN)
		return errmsg_set(err, -EBADMSG, "pub: not a key");
	if (!key || !keystore_ref_valid(key))
		return errmsg_set(err, -EBADMSG, "key: not a key reference");
	/* An outside peer: no port, no underlay (it roams). */
	if (json_is_true(json_object_get(j, "outside"))) {
		if (!r->outside && !(r->outside = calloc(1, sizeof(*r->outside))))
			return errmsg_set(err, -ENOMEM, "out of memory");
	} else if (port < 1 || port > 65535 || !addr) {
		return errmsg_set(err, -EBADMSG, "addr, port: not an address and port");
	} else if (inet_pton(AF_INET, addr, &r->underlay.addr4.sin_addr) == 1) {
		r->underlay.addr4.sin_family = AF_INET;
		r->underlay.addr4.sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, addr, &r->underlay.addr6.sin6_addr) == 1) {
		r->underlay.addr6.sin6_family = AF_INET6;
		r->underlay.addr6.sin6_port = htons((uint16_t)port);
	} else {
		return errmsg_set(err, -EBADMSG, "addr: not an address");
	}
	if ((a4 && *a4 && addr_parse(a4, AF_INET, &r->addr4)) ||
	    (a6 && *a6 && addr_parse(a6, AF_INET6, &r->addr6)) ||
	    (!r->addr4.family && !r->addr6.family))
		return errmsg_set(err, -EBADMSG, "ip4, ip6: not addresses");
	snprintf(r->key_ref, sizeof(r->key_ref), "%s", key);
	r->serve = (uint32_t)json_integer_value(json_object_get(j, "serve"));
	links_free(&r->links);
	return links_parse(links ? links : "", r->key_ref, "links", &r->links, err);
}

/* Sets or removes (J NULL) the remote endpoint EID of HOST on cluster network NAME; the lock is
 * held. */
static void remote_apply(struct cluster *c, const char *name, const char *host, const char *eid,
			 const json_t *j)
{
	struct network *net = network_named(c->d, name);
	struct endpoint *r, fresh;
	char err[ERRMSG_LEN];
	bool moved, rekeyed, renewed = false;
	struct endpoint *n;

	if (!net)
		return;
	r = remote_find(net, host, eid);
	if (!j) {
		if (r)
			remote_remove(net, r);
		return;
	}
	memset(&fresh, 0, sizeof(fresh));
	if (remote_read(&fresh, j, err)) {
		log_warn("network %.12s: the record of peer %.12s of host %s is not usable (%s); "
			 "ignored",
			 net->id, eid, QUOTE(host, 40), err);
		links_free(&fresh.links);
		free(fresh.outside);
		return;
	}
	if (!r) {
		if (endpoint_new(net, eid, &n, err) || !(n->host = strdup(host))) {
			endpoint_free(n);
			links_free(&fresh.links);
			free(fresh.outside);
			return;
		}
		n->joined = true;
		n->next = net->remotes;
		net->remotes = n;
		r = n;
		moved = rekeyed = true;
	} else {
		moved = memcmp(&r->underlay, &fresh.underlay, sizeof(fresh.underlay)) != 0;
		rekeyed = memcmp(r->public_key, fresh.public_key, WG_KEY_LEN) != 0;
		renewed = r->serve != fresh.serve;
		if (rekeyed)
			peersync_touch_others(r, r->public_key);
		links_free(&r->links);
	}
	memcpy(r->public_key, fresh.public_key, WG_KEY_LEN);
	memcpy(r->key_ref, fresh.key_ref, sizeof(r->key_ref));
	r->links = fresh.links;
	r->addr4 = fresh.addr4;
	r->addr6 = fresh.addr6;
	r->underlay = fresh.underlay;
	r->serve = fresh.serve;
	free(r->outside);
	r->outside = fresh.outside;
	/* Its link was served anew (its host restarted): the sessions with it are void; removing
	 * the peer before setting it again makes the next packet start a handshake at once. */
	if (renewed && !moved && !rekeyed)
		peersync_touch_others_renew(r, r->public_key);
	else if (moved || rekeyed)
		peersync_touch_others_moved(r, r->public_key);
	else
		peersync_touch_others(r, r->public_key);
	if (moved || rekeyed)
		log_info("network %.12s: peer %.12s of host %s at %s", net->id, eid, host,
			 record_str(j, "addr"));
}

/* HOST's record J (NULL: gone) in the hosts this one knows; c->lock held. */
static void host_apply(struct cluster *c, const char *id, const json_t *j, bool alive_record,
		       bool alive)
{
	struct host *h, **p;
	const char *box;
	size_t len = 0;

	for (p = &c->hosts; *p && strcmp((*p)->id, id); p = &(*p)->next)
		;
	h = *p;
	if (!h) {
		if (!j && !alive)
			return;
		h = calloc(1, sizeof(*h));
		if (!h)
			return;
		snprintf(h->id, sizeof(h->id), "%s", id);
		h->next = c->hosts;
		c->hosts = h;
	}
	if (alive_record) {
		h->alive = alive;
		return;
	}
	if (!j) {
		*p = h->next;
		free(h);
		return;
	}
	snprintf(h->name, sizeof(h->name), "%s", record_str(j, "name") ?: "");
	snprintf(h->addr, sizeof(h->addr), "%s", record_str(j, "addr") ?: "");
	box = record_str(j, "box");
	h->has_box = box &&
		     !sodium_base642bin(h->box, sizeof(h->box), box, strlen(box), NULL, &len, NULL,
					sodium_base64_VARIANT_ORIGINAL) &&
		     len == sizeof(h->box);
}

/* One key of the store, put (KV's value) or deleted. */
static void apply_kv(struct cluster *c, const struct etcd_kv *kv, bool deleted)
{
	size_t plen = strlen(CLUSTER_PREFIX), n;
	char buf[KEY_MAX], *part[6], *plus;
	json_t *j = NULL;

	if (kv->key_len <= plen || memcmp(kv->key, CLUSTER_PREFIX, plen))
		return;
	n = key_split(kv->key + plen, kv->key_len - plen, buf, sizeof(buf), part, 6);
	if (!deleted && !(j = record_parse(kv->value, kv->value_len)))
		return;
	if (n == 5 && !strcmp(part[0], "nets") && !strcmp(part[2], "eps") &&
	    network_name_valid(part[1]) && strcmp(part[3], c->id) && field_id_valid(part[4])) {
		wgd_lock(c->d);
		remote_apply(c, part[1], part[3], part[4], j);
		wgd_unlock(c->d);
	} else if (n == 2 && !strcmp(part[0], "psk") && (plus = strchr(part[1], '+')) && !deleted) {
		*plus = '\0';
		if (keystore_ref_valid(part[1]) && keystore_ref_valid(plus + 1))
			psk_take(c, part[1], plus + 1, j);
	} else if (n == 2 && (!strcmp(part[0], "hostinfo") || !strcmp(part[0], "alive"))) {
		pthread_mutex_lock(&c->lock);
		host_apply(c, part[1], j, part[0][0] == 'a', !deleted);
		pthread_mutex_unlock(&c->lock);
	}
	json_decref(j);
}

static void on_events(void *ctx, const struct etcd_event *events, size_t n, int64_t revision)
{
	for (size_t i = 0; i < n; i++)
		apply_kv(ctx, &events[i].kv, events[i].type == ETCD_EVENT_DELETE);
}

/* The whole store again (at start, after a compaction): remotes that are not in it went. */
static void on_resync(void *ctx, const struct etcd_range *snap)
{
	struct cluster *c = ctx;
	char buf[KEY_MAX], *part[6];
	size_t plen = strlen(CLUSTER_PREFIX);
	struct endpoint *r, *next;
	bool seen;

	for (size_t i = 0; i < snap->n; i++)
		apply_kv(c, &snap->kvs[i], false);
	wgd_lock(c->d);
	for (struct network *net = c->d->networks; net; net = net->next) {
		for (r = net->remotes; r; r = next) {
			next = r->next;
			seen = false;
			for (size_t i = 0; i < snap->n && !seen; i++) {
				const struct etcd_kv *kv = &snap->kvs[i];

				seen = kv->key_len > plen &&
				       key_split(kv->key + plen, kv->key_len - plen, buf,
						 sizeof(buf), part, 6) == 5 &&
				       !strcmp(part[0], "nets") &&
				       !strcmp(part[1], net->opts.cluster) &&
				       !strcmp(part[3], r->host) && !strcmp(part[4], r->id);
			}
			if (!seen)
				remote_remove(net, r);
		}
	}
	wgd_unlock(c->d);
	log_info("cluster: %zu records read at revision %lld", snap->n, (long long)snap->revision);
}

static void on_state(void *ctx, bool connected, const char *why)
{
	struct cluster *c = ctx;

	pthread_mutex_lock(&c->lock);
	c->connected = connected;
	pthread_mutex_unlock(&c->lock);
	if (connected)
		log_info("cluster: watching the store");
	else
		log_warn("cluster: the store's watch is interrupted (%s); programmed peers stay",
			 why ? why : "");
}

static const struct etcd_watch_ops watch_ops = {
	.events = on_events,
	.resync = on_resync,
	.state = on_state,
};

/* Reads the endpoint records of cluster network NAME (a network created here later than the
 * watch started). */
static int run_load_net(struct cluster *c, const char *name, char *err)
{
	struct etcd_range r = { 0 };
	char key[KEY_MAX];
	int ret;

	store_key(key, "nets/%s/eps/", name);
	ret = etcd_get_prefix(c->etcd, key, strlen(key), 0, 0, &r, err);
	for (size_t i = 0; !ret && i < r.n; i++)
		apply_kv(c, &r.kvs[i], false);
	etcd_range_free(&r);
	return ret;
}

/* ---- releases kept on disk while the store is away ---- */

/* Writes the releases still queued to the pending file; c->lock held. */
static void pending_save(struct cluster *c)
{
	json_t *arr = json_array();
	char *text;

	for (struct job *j = c->jobs; arr && j; j = j->next)
		if (j->type == JOB_RELEASE)
			json_array_append_new(arr, json_pack("{s:s, s:s}", "pool", j->pool, "addr",
							     j->addr));
	text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	if (!text || atomic_file_write(c->pending_path, text, strlen(text), 0600))
		log_error("cluster: %s: cannot keep the releases waiting for the store",
			  c->pending_path);
	free(text);
	json_decref(arr);
}

static void release_queue(struct cluster *c, const char *pool, const char *addr, bool save)
{
	struct job *job = calloc(1, sizeof(*job));

	if (!job)
		return;
	job->type = JOB_RELEASE;
	snprintf(job->pool, sizeof(job->pool), "%s", pool);
	snprintf(job->addr, sizeof(job->addr), "%s", addr);
	job->due = clock_in_ms(0);
	pthread_mutex_lock(&c->lock);
	job_insert(c, job);
	if (save)
		pending_save(c);
	pthread_mutex_unlock(&c->lock);
}

static void pending_load(struct cluster *c)
{
	json_t *arr = json_load_file(c->pending_path, JSON_REJECT_DUPLICATES, NULL), *e;
	struct wg_allowedip ip;
	const char *pool, *addr;
	size_t i;

	json_array_foreach (arr, i, e) {
		pool = record_str(e, "pool");
		addr = record_str(e, "addr");
		/* The file is ours, but checked like anything read from disk. */
		if (pool && addr && strlen(pool) < ADDR_STRLEN && strlen(addr) < ADDR_STRLEN &&
		    (!addr_parse(pool, AF_INET, &ip) || !addr_parse(pool, AF_INET6, &ip)))
			release_queue(c, pool, addr, false);
	}
	json_decref(arr);
}

/* ---- the writer thread ---- */

static int run_job(struct cluster *c, struct job *job, char *err)
{
	int64_t lease;

	switch (job->type) {
	case JOB_PUBLISH:
		pthread_mutex_lock(&c->lock);
		lease = c->lease;
		pthread_mutex_unlock(&c->lock);
		if (!lease)
			return errmsg_set(err, -EAGAIN, "no lease yet");
		return etcd_put(c->etcd, job->key, strlen(job->key), job->value, strlen(job->value),
				lease, NULL, err);
	case JOB_UNPUBLISH:
		return etcd_delete(c->etcd, job->key, strlen(job->key), false, NULL, err);
	case JOB_PSK: return run_psk(c, job, err);
	case JOB_RELEASE: return run_release(c, job, err);
	case JOB_LOAD_NET: return run_load_net(c, job->key, err);
	case JOB_KEY_RELEASE: return cluster_key_release(c, job->key, err);
	}
	return 0;
}

static void *writer_main(void *arg)
{
	struct cluster *c = arg;
	struct timespec now, keep = clock_in_ms(0);
	char err[ERRMSG_LEN];
	struct job *job;
	unsigned delay;
	bool failing = false, reconciled = false;
	int ret;

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		now = clock_in_ms(0);
		if (!clock_before(&now, &keep)) {
			pthread_mutex_unlock(&c->lock);
			ret = lease_keep(c, err);
			if (ret && !failing)
				log_error(
					"cluster: %s; the programmed peers stay, and this is tried "
					"again",
					err);
			if (!ret && failing)
				log_info("cluster: the store answers again");
			failing = ret != 0;
			if (!ret && !reconciled) {
				reconcile_addresses(c);
				reconciled = true;
			}
			/* A third of the TTL, as etcd's own clients do; faster while failing. */
			keep = clock_in_ms(ret ? 1000 : c->ttl * 1000 / 3);
			pthread_mutex_lock(&c->lock);
			continue;
		}
		job = c->jobs;
		if (!job || clock_before(&keep, &job->due) || clock_before(&now, &job->due)) {
			pthread_cond_timedwait(&c->cond, &c->lock,
					       job && clock_before(&job->due, &keep) ? &job->due
										     : &keep);
			continue;
		}
		c->jobs = job->next;
		pthread_mutex_unlock(&c->lock);
		ret = run_job(c, job, err);
		pthread_mutex_lock(&c->lock);
		if (ret && !c->stopping) {
			if (job->attempts++ % 10 == 0 && ret != -EAGAIN)
				log_warn("cluster: %s: %s; trying again",
					 job->key[0] ? job->key : job->a, err);
			delay = JOB_RETRY_MIN_MS << (job->attempts < 5 ? job->attempts : 5);
			job->due = clock_in_ms(delay < JOB_RETRY_MAX_MS ? delay : JOB_RETRY_MAX_MS);
			job_insert(c, job);
			continue;
		}
		if (job->type == JOB_RELEASE)
			pending_save(c);
		job_free(job);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---- calls made for the engine and wgctl: bounded, without the daemon's lock ---- */

/* The settings of cluster network OPTS as every host must have them. */
static json_t *network_config(const struct network_options *opts, const char *subnet4,
			      const char *subnet6)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "subnet4", subnet4 ? subnet4 : "",
			 "subnet6", subnet6 ? subnet6 : "", "policy",
			 network_policy_name(opts->policy), "psk", opts->psk ? "on" : "off", "mtu",
			 (int)opts->mtu, "keepalive", (int)opts->keepalive);
}

int cluster_network_check(struct cluster *c, const struct network_options *opts,
			  const char *subnet4, const char *subnet6, char *err)
{
	json_t *want = network_config(opts, subnet4, subnet6), *now = NULL, *v;
	char key[KEY_MAX], a[128], b[128];
	const char *name;
	int ret;

	if (!want)
		return errmsg_set(err, -ENOMEM, "out of memory");
	store_key(key, "nets/%s/config", opts->cluster);
	ret = store_create(c, key, want, 0, &now, err);
	if (ret == -EEXIST && now) {
		ret = 0;
		json_object_foreach (want, name, v) {
			json_t *had = json_object_get(now, name);

			if (json_equal(had, v))
				continue;
			snprintf(a, sizeof(a), "%s", json_is_string(v) ? json_string_value(v) : "");
			if (json_is_integer(v))
				snprintf(a, sizeof(a), "%lld", (long long)json_integer_value(v));
			snprintf(b, sizeof(b), "%s",
				 json_is_string(had) ? QUOTE(json_string_value(had), 60) : "?");
			if (json_is_integer(had))
				snprintf(b, sizeof(b), "%lld", (long long)json_integer_value(had));
			ret = errmsg_set(err, -EEXIST,
					 "option \"wg.net\": network %s exists in the cluster with "
					 "%s %s, not %s: create it with the same settings on every "
					 "host",
					 opts->cluster, name, b[0] ? b : "(none)",
					 a[0] ? a : "(none)");
			break;
		}
	} else if (ret) {
		snprintf(a, sizeof(a), "%s", err);
		errmsg_set(err, ret, "option \"wg.net\": the cluster store: %s", a);
	}
	json_decref(want);
	json_decref(now);
	return ret;
}

int cluster_key_claim(struct cluster *c, const char *ref, const char *what, char *err)
{
	json_t *j = json_pack("{s:s, s:s}", "host", c->id, "name", c->name), *now = NULL;
	const char *holder;
	char key[KEY_MAX], msg[ERRMSG_LEN];
	int ret;

	if (!j)
		return errmsg_set(err, -ENOMEM, "out of memory");
	store_key(key, "keys/%s", ref);
	ret = store_create(c, key, j, 0, &now, msg);
	json_decref(j);
	if (ret == -EEXIST) {
		holder = now ? record_str(now, "host") : NULL;
		if (holder && !strcmp(holder, c->id)) {
			ret = 0;
		} else {
			ret = errmsg_set(
				err, -EEXIST,
				"%s: the private key of \"%s\" is on host %s "
				"(%s): a key never leaves its host. To move it: wgctl export "
				"%s > %s.key there, wgctl delete %s there, then wgctl import "
				"%s < %s.key here",
				what, ref, holder ? QUOTE(holder, 20) : "?",
				now && record_str(now, "name") ? QUOTE(record_str(now, "name"), 64)
							       : "?",
				ref, ref, ref, ref, ref);
		}
	} else if (ret) {
		errmsg_set(err, ret, "%s: the cluster store: %s", what, msg);
	}
	json_decref(now);
	return ret;
}

int cluster_key_release(struct cluster *c, const char *ref, char *err)
{
	struct etcd_range r = { 0 };
	char key[KEY_MAX];
	json_t *j = NULL;
	int ret;

	store_key(key, "keys/%s", ref);
	ret = etcd_get(c->etcd, key, strlen(key), &r, err);
	if (!ret && r.n == 1 && (j = record_parse(r.kvs[0].value, r.kvs[0].value_len)) &&
	    !strcmp(record_str(j, "host") ?: "", c->id))
		ret = store_delete_if(c, key, r.kvs[0].mod_revision, err);
	json_decref(j);
	etcd_range_free(&r);
	return ret == -EAGAIN ? 0 : ret;
}

/* The address of POOL that is OFFSET hosts past its first, into OUT. */
static void pool_address(const struct wg_allowedip *pool, uint64_t offset, struct wg_allowedip *out)
{
	*out = *pool;
	if (pool->family == AF_INET) {
		out->ip4.s_addr = htonl(ntohl(pool->ip4.s_addr) + (uint32_t)offset);
		return;
	}
	for (int i = 15; i >= 8 && offset; i--) {
		unsigned sum = out->ip6.s6_addr[i] + (unsigned)(offset & 0xff);

		out->ip6.s6_addr[i] = (uint8_t)sum;
		offset = (offset >> 8) + (sum >> 8);
	}
}

static void ip_string(const struct wg_allowedip *a, char *out)
{
	inet_ntop(a->family, a->family == AF_INET ? (const void *)&a->ip4 : (const void *)&a->ip6,
		  out, ADDR_STRLEN);
}

int cluster_ipam_request(struct cluster *c, const char *pool, const char *want, const char *gateway,
			 char *out, char *err)
{
	struct wg_allowedip net, cand;
	struct etcd_range used = { 0 };
	char prefix[KEY_MAX], key[KEY_MAX], ip[ADDR_STRLEN], msg[ERRMSG_LEN];
	uint64_t span, start;
	json_t *j, *now = NULL;
	int ret, family = strchr(pool, ':') ? AF_INET6 : AF_INET, bits;

	if (addr_parse(pool, family, &net))
		return errmsg_set(err, -EINVAL, "pool \"%s\": not a CIDR", QUOTE(pool, 60));
	bits = (family == AF_INET ? 32 : 128) - net.cidr;
	if (bits < 2)
		return errmsg_set(err, -ENOSPC, "pool %s: no room for hosts", pool);
	span = bits >= 63 ? UINT64_MAX : (1ull << bits);
	pool_key(prefix, pool);
	j = json_pack("{s:s, s:I}", "host", c->id, "time", (json_int_t)time(NULL));
	if (!j)
		return errmsg_set(err, -ENOMEM, "out of memory");
	if (want && *want) {
		snprintf(key, sizeof(key), "%s%s", prefix, want);
		ret = store_create(c, key, j, 0, &now, msg);
		if (ret == -EEXIST && now && !strcmp(record_str(now, "host") ?: "", c->id))
			ret = 0; /* ours already: the engine asks again */
		else if (ret == -EEXIST)
			ret = errmsg_set(err, -EEXIST, "address %s is in use (host %s)", want,
					 now ? QUOTE(record_str(now, "host") ?: "?", 20) : "?");
		else if (ret)
			errmsg_set(err, ret, "the cluster store: %s", msg);
		if (!ret)
			snprintf(out, ADDR_STRLEN, "%s", want);
		goto out;
	}
	ret = etcd_get_prefix(c->etcd, prefix, strlen(prefix), 0, 0, &used, msg);
	if (ret) {
		errmsg_set(err, ret, "the cluster store: %s", msg);
		goto out;
	}
	/* A random start, then the next free one: hosts that allocate at once rarely collide. */
	start = span == UINT64_MAX
			? randombytes_random()
			: randombytes_uniform((uint32_t)(span < UINT32_MAX ? span : UINT32_MAX));
	ret = -ENOSPC;
	for (uint64_t i = 0, tries = 0; i < span && tries < IPAM_TRIES; i++) {
		uint64_t off = (start + i) % span;
		bool taken = false;

		/* Not the network's own address, nor IPv4's broadcast. */
		if (!off || (family == AF_INET && off == span - 1))
			continue;
		pool_address(&net, off, &cand);
		ip_string(&cand, ip);
		if (gateway && !strcmp(ip, gateway))
			continue;
		snprintf(key, sizeof(key), "%s%s", prefix, ip);
		for (size_t k = 0; k < used.n && !taken; k++)
			taken = !strcmp(used.kvs[k].key, key);
		if (taken)
			continue;
		tries++;
		ret = store_create(c, key, j, 0, NULL, msg);
		if (ret != -EEXIST)
			break;
	}
	if (!ret)
		snprintf(out, ADDR_STRLEN, "%s", ip);
	else if (ret == -ENOSPC || ret == -EEXIST)
		ret = errmsg_set(err, -ENOSPC, "pool %s: no free address", pool);
	else
		errmsg_set(err, ret, "the cluster store: %s", msg);
out:
	json_decref(j);
	json_decref(now);
	etcd_range_free(&used);
	return ret;
}

int cluster_ipam_release(struct cluster *c, const char *pool, const char *addr)
{
	struct job job = { .type = JOB_RELEASE };
	char err[ERRMSG_LEN];
	int ret;

	snprintf(job.pool, sizeof(job.pool), "%s", pool);
	snprintf(job.addr, sizeof(job.addr), "%s", addr);
	ret = run_release(c, &job, err);
	if (ret) {
		/* Kept on disk and done when the store answers: an address is never lost. */
		log_warn("cluster: releasing %s of %s: %s; kept for later", addr, pool, err);
		release_queue(c, pool, addr, true);
	}
	return 0;
}

/* ---- wgctl hosts, wgctl host forget ---- */

struct host_view {
	char id[HOST_ID_LEN + 1];
	json_t *info; /* hostinfo record */
	bool alive;
	size_t endpoints; /* records under nets/NET/eps/ID/ */
};

/* Every host the store knows, with its liveness and endpoint count, into *OUT (N). */
static int hosts_read(struct cluster *c, struct host_view **out, size_t *n, char *err)
{
	struct etcd_range r = { 0 };
	size_t plen = strlen(CLUSTER_PREFIX), k;
	char buf[KEY_MAX], *part[6];
	struct host_view *v = NULL;
	int ret;

	*out = NULL;
	*n = 0;
	ret = etcd_get_prefix(c->etcd, CLUSTER_PREFIX, plen, 0, 0, &r, err);
	for (size_t pass = 0; !ret && pass < 2; pass++) {
		for (size_t i = 0; i < r.n; i++) {
			const struct etcd_kv *kv = &r.kvs[i];
			size_t parts = kv->key_len > plen
					       ? key_split(kv->key + plen, kv->key_len - plen, buf,
							   sizeof(buf), part, 6)
					       : 0;

			/* First the hosts, then what refers to them. */
			if (pass == 0 && parts == 2 && !strcmp(part[0], "hostinfo") &&
			    strlen(part[1]) == HOST_ID_LEN) {
				struct host_view *grown = realloc(v, (*n + 1) * sizeof(*v));

				if (!grown) {
					ret = errmsg_set(err, -ENOMEM, "out of memory");
					break;
				}
				v = grown;
				memset(&v[*n], 0, sizeof(*v));
				snprintf(v[*n].id, sizeof(v[*n].id), "%s", part[1]);
				v[*n].info = record_parse(kv->value, kv->value_len);
				(*n)++;
				continue;
			}
			if (pass == 0)
				continue;
			for (k = 0; k < *n; k++) {
				if (parts == 2 && !strcmp(part[0], "alive") &&
				    !strcmp(part[1], v[k].id))
					v[k].alive = true;
				if (parts == 5 && !strcmp(part[0], "nets") &&
				    !strcmp(part[2], "eps") && !strcmp(part[3], v[k].id))
					v[k].endpoints++;
			}
		}
	}
	etcd_range_free(&r);
	*out = v;
	return ret;
}

static void hosts_free(struct host_view *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(v[i].info);
	free(v);
}

int cluster_hosts(struct cluster *c, struct admin_text *out, char *err)
{
	struct host_view *v;
	size_t n;
	int ret = hosts_read(c, &v, &n, err);

	for (size_t i = 0; !ret && i < n; i++)
		ret = admin_text_printf(out, "host %s %s %s %s %zu endpoint(s)%s\n", v[i].id,
					QUOTE(record_str(v[i].info, "name") ?: "?", 64),
					QUOTE(record_str(v[i].info, "addr") ?: "?", 46),
					v[i].alive ? "alive" : "gone", v[i].endpoints,
					strcmp(v[i].id, c->id) ? "" : " (this host)");
	hosts_free(v, n);
	return ret;
}

/* Deletes every key under the prefix whose record says HOST (FIELD) is its holder, or whose
 * key path names it (NAMED: the record is per host). Returns how many, or -errno. */
static int forget_records(struct cluster *c, const char *sub, const char *host, size_t *count,
			  char *err)
{
	struct etcd_range r = { 0 };
	char prefix[KEY_MAX];
	json_t *j;
	int ret;

	store_key(prefix, "%s", sub);
	ret = etcd_get_prefix(c->etcd, prefix, strlen(prefix), 0, 0, &r, err);
	for (size_t i = 0; !ret && i < r.n; i++) {
		const struct etcd_kv *kv = &r.kvs[i];
		bool mine = memmem(kv->key, kv->key_len, host, strlen(host)) != NULL;

		j = record_parse(kv->value, kv->value_len);
		mine |= j && !strcmp(record_str(j, "host") ?: "", host);
		json_decref(j);
		if (!mine)
			continue;
		ret = store_delete_if(c, kv->key, kv->mod_revision, err);
		if (ret == -EAGAIN)
			ret = 0;
		else if (!ret)
			(*count)++;
	}
	etcd_range_free(&r);
	return ret;
}

int cluster_host_forget(struct cluster *c, const char *who, struct admin_text *out, char *err)
{
	size_t n, addresses = 0, keys = 0, others = 0;
	const struct host_view *h = NULL;
	struct host_view *v;
	char key[KEY_MAX];
	int ret = hosts_read(c, &v, &n, err);

	for (size_t i = 0; !ret && i < n && !h; i++)
		if (!strcmp(v[i].id, who) || !strcmp(record_str(v[i].info, "name") ?: "", who) ||
		    !strcmp(record_str(v[i].info, "addr") ?: "", who))
			h = &v[i];
	if (!ret && !h)
		ret = errmsg_set(err, -ENOENT, "host %s: no such host (wgctl hosts lists them)",
				 QUOTE(who, 64));
	else if (!ret && !strcmp(h->id, c->id))
		ret = errmsg_set(err, -EINVAL, "host %s is this host", who);
	else if (!ret && h->alive)
		ret = errmsg_set(err, -EBUSY,
				 "host %s (%s) is alive: its lease is held; forget a host only "
				 "once it is gone for good",
				 who, h->id);
	/* Its addresses go back to the pools, its key claims go, its records go. */
	if (!ret)
		ret = forget_records(c, "ipam/", h->id, &addresses, err);
	if (!ret)
		ret = forget_records(c, "keys/", h->id, &keys, err);
	if (!ret)
		ret = forget_records(c, "nets/", h->id, &others, err);
	if (!ret)
		ret = forget_records(c, "psk/", h->id, &others, err);
	if (!ret) {
		store_key(key, "hostinfo/%s", h->id);
		ret = etcd_delete(c->etcd, key, strlen(key), false, NULL, err);
	}
	if (!ret)
		ret = admin_text_printf(out,
					"forgot host %s: %zu address(es), %zu key claim(s), %zu "
					"other record(s)\n",
					h->id, addresses, keys, others);
	if (!ret)
		log_info("cluster: host %s forgotten: %zu address(es) back in their pools", who,
			 addresses);
	hosts_free(v, n);
	return ret;
}

/* ---- start and stop ---- */

/* This host's ID, kept in the state directory so that a restart is the same host. */
static int host_id(struct cluster *c, const struct state *st, char *err)
{
	char path[PATH_MAX], *text = NULL;
	uint8_t raw[HOST_ID_BYTES];
	size_t len = 0;
	int ret;

	state_file(st, "host-id", path);
	ret = atomic_file_read(path, 64, &text, &len);
	if (!ret && len >= HOST_ID_LEN && strspn(text, "0123456789abcdef") >= HOST_ID_LEN) {
		memcpy(c->id, text, HOST_ID_LEN);
		free(text);
		return 0;
	}
	free(text);
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(c->id, sizeof(c->id), raw, sizeof(raw));
	ret = atomic_file_write(path, c->id, HOST_ID_LEN, 0600);
	if (ret)
		return errmsg_set(err, ret, "%s: %s", path, strerror(-ret));
	return 0;
}

/* The source address of this host's route to the first store endpoint. */
static int advertise_default(const char *endpoints, char *out, size_t size, char *err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai = NULL;
	struct sockaddr_storage self;
	socklen_t len = sizeof(self);
	char host[256] = "", port[16] = "2379";
	const char *p = strstr(endpoints, "://"), *end;
	int fd, ret;

	p = p ? p + 3 : endpoints;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return errmsg_set(err, -EINVAL, "ETCD_ENDPOINTS: a bad address");
		snprintf(host, sizeof(host), "%.*s", (int)(end - p - 1), p + 1);
	} else {
		end = p + strcspn(p, ":/,");
		snprintf(host, sizeof(host), "%.*s", (int)(end - p), p);
	}
	ret = getaddrinfo(host, port, &hints, &ai);
	if (ret)
		return errmsg_set(err, -EHOSTUNREACH,
				  "ADVERTISE_ADDR: no address of its own: %s: %s (set "
				  "ADVERTISE_ADDR)",
				  host, gai_strerror(ret));
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ret = fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) ||
	      getsockname(fd, (struct sockaddr *)&self, &len);
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	if (ret)
		return errmsg_set(err, -EHOSTUNREACH,
				  "ADVERTISE_ADDR: no route to %s (set ADVERTISE_ADDR)", host);
	inet_ntop(self.ss_family,
		  self.ss_family == AF_INET ? (void *)&((struct sockaddr_in *)&self)->sin_addr
					    : (void *)&((struct sockaddr_in6 *)&self)->sin6_addr,
		  out, (socklen_t)size);
	return 0;
}

int cluster_start(struct wgd *d, const struct cluster_config *cfg, struct cluster **out, char *err)
{
	struct etcd_config ec = { .endpoints = cfg->endpoints,
				  .ca_file = cfg->ca_file,
				  .cert_file = cfg->cert_file,
				  .key_file = cfg->key_file,
				  .username = cfg->username,
				  .password = cfg->password,
				  .timeout_ms = cfg->timeout_ms };
	char msg[ERRMSG_LEN];
	pthread_condattr_t attr;
	struct cluster *c;
	uint8_t box_seed[WG_KEY_LEN];
	int ret;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return errmsg_set(err, -ENOMEM, "out of memory");
	c->d = d;
	c->ttl = cfg->lease_ttl_s ? cfg->lease_ttl_s : CLUSTER_LEASE_TTL_S;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	snprintf(c->name, sizeof(c->name), "%s", cfg->name ? cfg->name : "");
	state_file(&d->state, "cluster-releases.json", c->pending_path);
	ret = host_id(c, &d->state, err);
	if (ret)
		goto err_free;
	ret = keystore_host_key_get(d->keys, box_seed, NULL);
	if (ret) {
		errmsg_set(err, ret, "host key: %s", keystore_error());
		goto err_free;
	}
	crypto_box_seed_keypair(c->box_pk, c->box_sk, box_seed);
	sodium_memzero(box_seed, sizeof(box_seed));
	if (cfg->secret && cfg->secret_len) {
		crypto_generichash(c->secret, sizeof(c->secret), cfg->secret, cfg->secret_len,
				   (const uint8_t *)PSK_LABEL, sizeof(PSK_LABEL));
		c->has_secret = true;
	}
	if (cfg->advertise && *cfg->advertise) {
		snprintf(c->addr, sizeof(c->addr), "%s", cfg->advertise);
	} else {
		ret = advertise_default(cfg->endpoints, c->addr, sizeof(c->addr), err);
		if (ret)
			goto err_free;
	}
	if (inet_pton(AF_INET, c->addr, &c->advertise.addr4.sin_addr) == 1) {
		c->advertise.addr4.sin_family = AF_INET;
	} else if (inet_pton(AF_INET6, c->addr, &c->advertise.addr6.sin6_addr) == 1) {
		c->advertise.addr6.sin6_family = AF_INET6;
	} else {
		ret = errmsg_set(err, -EINVAL, "ADVERTISE_ADDR \"%s\": expected an IP address",
				 QUOTE(c->addr, 64));
		goto err_free;
	}
	ret = etcd_open(&ec, &c->etcd, err);
	if (ret)
		goto err_free;
	/* A store that refuses this host (certificate, password) is said at once; one that does
	 * not answer yet is not an error: the writer keeps trying. */
	ret = etcd_check(c->etcd, msg);
	if (ret == -EACCES || ret == -EINVAL) {
		errmsg_set(err, ret, "cluster store %s: %s", cfg->endpoints, msg);
		goto err_close;
	}
	if (ret)
		log_error("cluster store %s: %s; tried again in the background", cfg->endpoints,
			  msg);
	pending_load(c);
	ret = etcd_watch_start(c->etcd, CLUSTER_PREFIX, strlen(CLUSTER_PREFIX), 0, &watch_ops, c,
			       &c->watch, err);
	if (ret)
		goto err_close;
	ret = -pthread_create(&c->thread, NULL, writer_main, c);
	if (ret) {
		errmsg_set(err, ret, "cluster: thread: %s", strerror(-ret));
		goto err_watch;
	}
	wgd_lock(d);
	d->cluster = c;
	wgd_unlock(d);
	log_info("cluster: host %s (%s) advertises %s; store %s%s", c->id, c->name, c->addr,
		 cfg->endpoints, c->has_secret ? "; PSKs mixed with the cluster secret" : "");
	*out = c;
	return 0;

err_watch:
	etcd_watch_stop(c->watch);
err_close:
	etcd_close(c->etcd);
err_free:
	sodium_memzero(c->box_sk, sizeof(c->box_sk));
	sodium_memzero(c->secret, sizeof(c->secret));
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return ret;
}

void cluster_stop(struct cluster *c)
{
	struct host *h;
	struct job *j;

	if (!c)
		return;
	wgd_lock(c->d);
	c->d->cluster = NULL;
	wgd_unlock(c->d);
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	etcd_watch_stop(c->watch);
	/* The lease is left to run out, not revoked: a restarted daemon puts the same records under
	 * its new lease before then, and the other hosts never drop this host's peers (its links
	 * go on serving meanwhile). A host that does not come back is gone after the TTL. */
	while ((j = c->jobs)) {
		c->jobs = j->next;
		job_free(j);
	}
	while ((h = c->hosts)) {
		c->hosts = h->next;
		free(h);
	}
	etcd_close(c->etcd);
	sodium_memzero(c->box_sk, sizeof(c->box_sk));
	sodium_memzero(c->secret, sizeof(c->secret));
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
