// SPDX-License-Identifier: MIT
#include "monitor.h"

#include "backend.h"
#include "clock.h"
#include "endpoint.h"
#include "errmsg.h"
#include "log.h"
#include "peers.h"
#include "wgd.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The peers of links that have had a handshake: a sorted set of short hashes of
 * (endpoint ID, peer key). */
struct seen {
	uint64_t *v;
	size_t n, cap;
};

struct monitor {
	struct wgd *d;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC: stop */
	bool stopping;
	pthread_t thread;
	struct seen seen;
	uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

static uint64_t pair_hash(const struct monitor *m, const char *eid, const char *pub)
{
	uint8_t in[256], out[crypto_shorthash_BYTES];
	uint64_t h;
	int n = snprintf((char *)in, sizeof(in), "%s/%s", eid, pub);

	crypto_shorthash(out, in, n > 0 && (size_t)n < sizeof(in) ? (size_t)n : sizeof(in),
			 m->hash_key);
	memcpy(&h, out, sizeof(h));
	return h;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static bool seen_has(const struct seen *s, uint64_t h)
{
	return s->n && bsearch(&h, s->v, s->n, sizeof(h), cmp_u64);
}

static int seen_add(struct seen *s, uint64_t h)
{
	uint64_t *grown;

	if (s->n == s->cap) {
		grown = realloc(s->v, (s->cap ? s->cap * 2 : 64) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		s->v = grown;
		s->cap = s->cap ? s->cap * 2 : 64;
	}
	s->v[s->n++] = h;
	return 0;
}

/* A link to read, copied out of the model. */
struct link_view {
	const struct backend_ops *backend;
	char ifname[IFNAMSIZ];
	char *sandbox;
	uint8_t public_key[WG_KEY_LEN];
	uint16_t listen_port;
	char eid[NETWORK_ID_LEN + 1];
	char name[ENDPOINT_NAME_LEN]; /* "1a2b3c4d5e6f (web)" */
	const struct network *net;    /* compared, never followed outside the lock */
};

/* Who a public key is on a network: "db (db)", "laptop (outside peer)". */
struct who {
	const struct network *net;
	uint8_t public_key[WG_KEY_LEN];
	char text[KEYSTORE_REF_MAX + ENDPOINT_CONTAINER_MAX + 20];
};

struct view {
	struct link_view *links;
	size_t n_links;
	struct who *who;
	size_t n_who;
};

static void view_free(struct view *v)
{
	for (size_t i = 0; i < v->n_links; i++)
		free(v->links[i].sandbox);
	free(v->links);
	free(v->who);
	memset(v, 0, sizeof(*v));
}

/* Copies what a look needs out of the model, under the lock: one entry per joined link and per
 * candidate peer, nothing per pair, so that a host full of links holds the lock briefly. */
static int view_take(struct wgd *d, struct view *v)
{
	size_t n_links = 0, n_who = 0;
	int ret = 0;

	wgd_lock(d);
	for (const struct network *n = d->networks; n; n = n->next)
		for (const struct endpoint *o = peers_first(n); o; o = peers_next(n, o)) {
			n_who++;
			n_links += !o->host && !o->outside && o->joined;
		}
	v->links = n_links ? calloc(n_links, sizeof(*v->links)) : NULL;
	v->who = n_who ? calloc(n_who, sizeof(*v->who)) : NULL;
	if ((n_links && !v->links) || (n_who && !v->who)) {
		ret = -ENOMEM;
		goto out;
	}
	for (const struct network *n = d->networks; n && !ret; n = n->next) {
		for (const struct endpoint *o = peers_first(n); o; o = peers_next(n, o)) {
			struct who *w = &v->who[v->n_who++];

			w->net = n;
			memcpy(w->public_key, o->public_key, WG_KEY_LEN);
			snprintf(w->text, sizeof(w->text), "%s%s%s%s", o->key_ref,
				 o->outside	   ? " (outside peer"
				 : o->container[0] ? " ("
						   : "",
				 o->outside ? "" : o->container,
				 o->outside || o->container[0] ? ")" : "");
			if (o->host || o->outside || !o->joined)
				continue;
			struct link_view *l = &v->links[v->n_links++];

			l->backend = o->backend;
			memcpy(l->ifname, o->ifname, IFNAMSIZ);
			if (o->sandbox && !(l->sandbox = strdup(o->sandbox))) {
				ret = -ENOMEM;
				break;
			}
			memcpy(l->public_key, o->public_key, WG_KEY_LEN);
			l->listen_port = o->listen_port;
			memcpy(l->eid, o->id, sizeof(l->eid));
			endpoint_name(o, l->name);
			l->net = n;
		}
	}
out:
	wgd_unlock(d);
	return ret;
}

static const char *who_is(const struct view *v, const struct network *net,
			  const uint8_t public_key[WG_KEY_LEN])
{
	for (size_t i = 0; i < v->n_who; i++)
		if (v->who[i].net == net && !memcmp(v->who[i].public_key, public_key, WG_KEY_LEN))
			return v->who[i].text;
	return "(no longer known)";
}

/* One look at every link: the peers whose first handshake it is are logged (not on the first
 * look, which only learns what is there). */
static void look(struct monitor *m, bool first)
{
	struct seen now = { 0 };
	struct view v = { 0 };
	char pub[sodium_base64_ENCODED_LEN(WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];

	if (view_take(m->d, &v))
		goto out;
	for (size_t i = 0; i < v.n_links; i++) {
		const struct link_view *l = &v.links[i];
		struct wg_link_ref ref = { .ifname = l->ifname,
					   .sandbox = l->sandbox,
					   .public_key = l->public_key,
					   .listen_port = l->listen_port };
		struct wg_device dev = { 0 };

		if (l->backend->device_get(&ref, &dev))
			continue;
		for (size_t k = 0; k < dev.n_peers; k++) {
			const struct wg_peer *p = &dev.peers[k];
			uint64_t h;

			if (p->last_handshake_sec <= 0)
				continue;
			sodium_bin2base64(pub, sizeof(pub), p->public_key, WG_KEY_LEN,
					  sodium_base64_VARIANT_ORIGINAL);
			h = pair_hash(m, l->eid, pub);
			if (seen_add(&now, h)) {
				wgdev_clear(&dev);
				goto out;
			}
			if (!first && !seen_has(&m->seen, h))
				log_info("endpoint %s: first handshake with peer %s", l->name,
					 who_is(&v, l->net, p->public_key));
		}
		wgdev_clear(&dev);
	}
	if (now.n)
		qsort(now.v, now.n, sizeof(*now.v), cmp_u64);
	free(m->seen.v);
	m->seen = now;
	now.v = NULL;
out:
	free(now.v);
	view_free(&v);
}

static void *monitor_main(void *arg)
{
	struct monitor *m = arg;
	struct timespec due;
	bool first = true;
	int64_t t0, pause;

	pthread_mutex_lock(&m->lock);
	while (!m->stopping) {
		pthread_mutex_unlock(&m->lock);
		t0 = clock_ms();
		if (log_enabled(LOG_LEVEL_INFO)) {
			look(m, first);
			first = false;
		}
		pause = (clock_ms() - t0) * MONITOR_COST_FACTOR;
		due = clock_in_ms(pause < MONITOR_INTERVAL_MS ? MONITOR_INTERVAL_MS
							      : (unsigned)pause);
		pthread_mutex_lock(&m->lock);
		while (!m->stopping &&
		       pthread_cond_timedwait(&m->cond, &m->lock, &due) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int monitor_start(struct wgd *d, struct monitor **out, char *err)
{
	pthread_condattr_t attr;
	struct monitor *m = calloc(1, sizeof(*m));
	int ret;

	*out = NULL;
	if (!m)
		return errmsg_set(err, -ENOMEM, "out of memory");
	m->d = d;
	crypto_shorthash_keygen(m->hash_key);
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &attr);
	pthread_condattr_destroy(&attr);
	ret = -pthread_create(&m->thread, NULL, monitor_main, m);
	if (ret) {
		pthread_cond_destroy(&m->cond);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return errmsg_set(err, ret, "monitor: thread: %s", strerror(-ret));
	}
	*out = m;
	return 0;
}

void monitor_stop(struct monitor *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m->seen.v);
	free(m);
}
