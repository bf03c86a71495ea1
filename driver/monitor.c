// SPDX-License-Identifier: MIT
#include "monitor.h"

#include "errmsg.h"
#include "log.h"
#include "status.h"

#include <errno.h>
#include <jansson.h>
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

/* One look at every link: the peers whose first handshake it is are logged (not on the first
 * look, which only learns what is there). */
static void look(struct monitor *m, bool first)
{
	struct seen now = { 0 };
	char err[ERRMSG_LEN];
	size_t i, j, k;
	json_t *doc, *n, *ep, *p;

	if (status_collect(m->d, NULL, NULL, &doc, err))
		return;
	json_array_foreach (json_object_get(doc, "networks"), i, n) {
		json_array_foreach (json_object_get(n, "endpoints"), j, ep) {
			const char *eid = json_string_value(json_object_get(ep, "id"));
			const char *ctr = json_string_value(json_object_get(ep, "container"));

			json_array_foreach (json_object_get(ep, "peers"), k, p) {
				const char *pub =
					json_string_value(json_object_get(p, "public_key"));
				const char *who = json_string_value(json_object_get(p, "identity"));
				const char *pc = json_string_value(json_object_get(p, "container"));
				uint64_t h;

				if (!eid || !pub ||
				    json_integer_value(json_object_get(p, "latest_handshake")) <= 0)
					continue;
				h = pair_hash(m, eid, pub);
				if (seen_add(&now, h))
					goto out;
				if (first || seen_has(&m->seen, h))
					continue;
				log_info("endpoint %.12s%s%s%s: first handshake with peer %s%s%s%s",
					 eid, ctr ? " (" : "", ctr ? ctr : "", ctr ? ")" : "",
					 who ? who : pub, pc ? " (" : "", pc ? pc : "",
					 pc ? ")" : "");
			}
		}
	}
	qsort(now.v, now.n, sizeof(*now.v), cmp_u64);
	free(m->seen.v);
	m->seen = now;
	now.v = NULL;
out:
	free(now.v);
	json_decref(doc);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void *monitor_main(void *arg)
{
	struct monitor *m = arg;
	struct timespec t0, due;
	bool first = true;
	long pause;

	pthread_mutex_lock(&m->lock);
	while (!m->stopping) {
		pthread_mutex_unlock(&m->lock);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (log_enabled(LOG_LEVEL_INFO)) {
			look(m, first);
			first = false;
		}
		pause = ms_since(&t0) * MONITOR_COST_FACTOR;
		if (pause < MONITOR_INTERVAL_MS)
			pause = MONITOR_INTERVAL_MS;
		clock_gettime(CLOCK_MONOTONIC, &due);
		due.tv_sec += pause / 1000;
		due.tv_nsec += (pause % 1000) * 1000000L;
		if (due.tv_nsec >= 1000000000L) {
			due.tv_sec++;
			due.tv_nsec -= 1000000000L;
		}
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
