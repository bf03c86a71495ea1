// SPDX-License-Identifier: MIT
#include "peersync.h"

#include "clock.h"
#include "backend.h"
#include "endpoint.h"
#include "errmsg.h"
#include "keystore.h"
#include "log.h"
#include "peers.h"
#include "wgd.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What a mark asks for a peer beyond making it what the model says. */
enum mark_flags {
	MARK_MOVED = 1, /* set its endpoint too */
	MARK_RENEW = 2, /* remove it first: its sessions are void */
};

/* Peers marked on a link: their keys, and for each its flags. */
struct marks {
	uint8_t (*keys)[WG_KEY_LEN];
	uint8_t *flags;
	size_t n, cap;
};

/* What is to be done on one link (ep->sync). */
struct peersync_link {
	struct endpoint *ep;
	struct marks marks;
	bool all;   /* every peer: read the link back and compare */
	bool rekey; /* private key and exactly the peers, in one call */
	bool queued, busy;
	unsigned attempts; /* failed calls in a row */
	struct timespec due;
	struct peersync_link *next; /* in the queue, by due time */
};

struct peersync {
	struct wgd *d;
	pthread_cond_t work; /* CLOCK_MONOTONIC: something was queued, or stop */
	pthread_cond_t idle; /* a link is no longer busy */
	struct peersync_link *queue;
	size_t busy; /* links being programmed now */
	bool stopping;
	pthread_t *threads;
	unsigned n_threads;
};

/* One backend call's worth of work, taken from a link under the lock. */
struct batch {
	const struct backend_ops *backend;
	char ifname[IFNAMSIZ];
	char *sandbox;
	uint8_t link_public_key[WG_KEY_LEN];
	uint16_t listen_port;
	struct wg_device set; /* the peers to set; with rekey, the whole device */
	uint8_t (*remove)[WG_KEY_LEN];
	size_t n_remove;
	bool rekey;
};

static struct peersync_link *link_of(struct endpoint *ep)
{
	if (!ep->sync) {
		ep->sync = calloc(1, sizeof(*ep->sync));
		if (ep->sync)
			ep->sync->ep = ep;
	}
	return ep->sync;
}

static ssize_t find_key(const struct marks *m, const uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; i < m->n; i++)
		if (!memcmp(m->keys[i], key, WG_KEY_LEN))
			return (ssize_t)i;
	return -1;
}

/* Adds KEY to M once; its FLAGS add up. */
static int add_key(struct marks *m, const uint8_t key[WG_KEY_LEN], uint8_t flags_add)
{
	ssize_t i = find_key(m, key);
	uint8_t(*keys)[WG_KEY_LEN];
	uint8_t *flags;

	if (i >= 0) {
		m->flags[i] |= flags_add;
		return 0;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;

		keys = realloc(m->keys, cap * sizeof(*keys));
		if (!keys)
			return -ENOMEM;
		m->keys = keys;
		flags = realloc(m->flags, cap * sizeof(*flags));
		if (!flags)
			return -ENOMEM;
		m->flags = flags;
		m->cap = cap;
	}
	memcpy(m->keys[m->n], key, WG_KEY_LEN);
	m->flags[m->n++] = flags_add;
	return 0;
}

static void marks_free(struct marks *m)
{
	free(m->keys);
	free(m->flags);
	memset(m, 0, sizeof(*m));
}

/* Queues L by its due time, unless it is queued or busy (its worker queues it again). */
static void enqueue(struct peersync *ps, struct peersync_link *l)
{
	struct peersync_link **p = &ps->queue;

	if (l->queued || l->busy || (!l->marks.n && !l->all && !l->rekey))
		return;
	while (*p && !clock_before(&l->due, &(*p)->due))
		p = &(*p)->next;
	l->next = *p;
	*p = l;
	l->queued = true;
	pthread_cond_signal(&ps->work);
}

static void dequeue(struct peersync *ps, struct peersync_link *l)
{
	for (struct peersync_link **p = &ps->queue; *p; p = &(*p)->next) {
		if (*p == l) {
			*p = l->next;
			l->queued = false;
			return;
		}
	}
}

/* A link that cannot be marked (out of memory) gets everything checked at its next chance. */
static void mark(struct endpoint *ep, const uint8_t *key, uint8_t flags, bool all, bool rekey)
{
	struct peersync *ps = ep->net->d->sync;
	struct peersync_link *l;

	wgd_assert_locked(ep->net->d);
	if (!ps || !ep->joined || !(l = link_of(ep))) {
		if (ps && ep->joined)
			log_error("endpoint %.12s: out of memory: its peers are not programmed",
				  ep->id);
		return;
	}
	if (key && add_key(&l->marks, key, flags))
		all = true;
	l->all |= all;
	l->rekey |= rekey;
	if (!l->queued && !l->busy && !l->attempts)
		l->due = clock_in_ms(0);
	enqueue(ps, l);
}

void peersync_touch(struct endpoint *ep, const uint8_t public_key[WG_KEY_LEN])
{
	mark(ep, public_key, 0, false, false);
}

void peersync_touch_moved(struct endpoint *ep, const uint8_t public_key[WG_KEY_LEN])
{
	mark(ep, public_key, MARK_MOVED, false, false);
}

void peersync_touch_all(struct endpoint *ep)
{
	mark(ep, NULL, 0, true, false);
}

void peersync_rekey(struct endpoint *ep)
{
	mark(ep, NULL, 0, false, true);
}

void peersync_touch_others(struct endpoint *ep, const uint8_t public_key[WG_KEY_LEN])
{
	for (struct endpoint *o = ep->net->endpoints; o; o = o->next)
		if (o != ep && o->joined)
			peersync_touch(o, public_key);
}

void peersync_touch_others_moved(struct endpoint *ep, const uint8_t public_key[WG_KEY_LEN])
{
	for (struct endpoint *o = ep->net->endpoints; o; o = o->next)
		if (o != ep && o->joined)
			peersync_touch_moved(o, public_key);
}

void peersync_touch_others_renew(struct endpoint *ep, const uint8_t public_key[WG_KEY_LEN])
{
	for (struct endpoint *o = ep->net->endpoints; o; o = o->next)
		if (o != ep && o->joined)
			mark(o, public_key, MARK_MOVED | MARK_RENEW, false, false);
}

void peersync_forget(struct endpoint *ep)
{
	struct peersync *ps = ep->net->d->sync;
	struct peersync_link *l = ep->sync;

	wgd_assert_locked(ep->net->d);
	if (!l)
		return;
	if (ps)
		dequeue(ps, l);
	while (ps && l->busy)
		wgd_wait(ps->d, &ps->idle, NULL);
	peersync_release(ep);
}

void peersync_release(struct endpoint *ep)
{
	if (!ep->sync)
		return;
	marks_free(&ep->sync->marks);
	free(ep->sync);
	ep->sync = NULL;
}

size_t peersync_pending(const struct endpoint *ep)
{
	const struct peersync_link *l = ep->sync;

	wgd_assert_locked(ep->net->d);
	if (!l)
		return 0;
	return l->marks.n + l->all + l->rekey;
}

/* The endpoint of EP's network, here or on another host, that EP peers with and has KEY, or
 * NULL. */
static const struct endpoint *peer_with_key(const struct endpoint *ep, const uint8_t *key)
{
	for (const struct endpoint *o = peers_first(ep->net); o; o = peers_next(ep->net, o))
		if (!memcmp(o->public_key, key, WG_KEY_LEN) && peers_linked(ep, o))
			return o;
	return NULL;
}

/* Adds the keys of every peer EP should have to M; those the link does not have (ACTUAL, or
 * every one when NULL) get their endpoint set. */
static int mark_desired(const struct endpoint *ep, struct marks *m, const struct marks *actual)
{
	int ret = 0;

	for (const struct endpoint *o = peers_first(ep->net); o && !ret; o = peers_next(ep->net, o))
		if (peers_linked(ep, o))
			ret = add_key(m, o->public_key,
				      !actual || find_key(actual, o->public_key) < 0);
	return ret;
}

static void batch_clear(struct batch *b)
{
	free(b->sandbox);
	free(b->remove);
	wgdev_clear(&b->set);
	memset(b, 0, sizeof(*b));
}

/* Turns the marks M of EP's link into B: the entry of each peer EP should have, the removal of
 * the others; with REKEY the whole device instead. A peer whose PSK has not arrived waits (it is
 * marked again when it does). */
static int batch_build(const struct endpoint *ep, const struct marks *m, bool rekey,
		       struct batch *b, char *err)
{
	const struct endpoint *o;
	struct wg_peer *p;
	int ret;

	b->backend = ep->backend;
	b->rekey = rekey;
	memcpy(b->ifname, ep->ifname, IFNAMSIZ);
	memcpy(b->link_public_key, ep->public_key, WG_KEY_LEN);
	b->listen_port = ep->listen_port;
	if (ep->sandbox && !(b->sandbox = strdup(ep->sandbox)))
		return errmsg_set(err, -ENOMEM, "out of memory");
	b->remove = m->n ? calloc(m->n, sizeof(*b->remove)) : NULL;
	if (m->n && !b->remove)
		return errmsg_set(err, -ENOMEM, "out of memory");
	if (rekey) {
		ret = keystore_identity_get(ep->net->d->keys, ep->key_ref, false,
					    b->set.private_key, NULL);
		if (ret)
			return errmsg_set(err, ret, "identity key: %s", keystore_error());
		b->set.has_private_key = true;
		b->set.listen_port = ep->listen_port;
	}
	for (size_t i = 0; i < m->n; i++) {
		o = peer_with_key(ep, m->keys[i]);
		/* A device set replaces every peer: the others go without a word. A renewed peer
		 * goes before it is set again (backends remove first). */
		if (!rekey && (!o || (m->flags[i] & MARK_RENEW)))
			memcpy(b->remove[b->n_remove++], m->keys[i], WG_KEY_LEN);
		if (!o)
			continue;
		p = wgdev_peer_append(&b->set);
		if (!p)
			return errmsg_set(err, -ENOMEM, "out of memory");
		ret = peers_entry(ep, o, p, err);
		if (ret == -EAGAIN) {
			sodium_memzero(p, sizeof(*p));
			b->set.n_peers--;
			continue;
		}
		if (ret)
			return ret;
		/* Roaming: a remote peer's endpoint is what WireGuard learnt, unless it moved. */
		if (o->host && !(m->flags[i] & MARK_MOVED) && !rekey)
			memset(&p->endpoint, 0, sizeof(p->endpoint));
	}
	return 0;
}

/* One line per batch a link took: the peers set (with who they are) and removed. Under the
 * lock, after the batch worked. */
#define LOG_PEERS_MAX  8
#define WG_KEY_B64_LEN sodium_base64_ENCODED_LEN(WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)
static void batch_log(const struct endpoint *ep, const struct batch *b)
{
	char line[1024], name[ENDPOINT_NAME_LEN], key[WG_KEY_B64_LEN];
	size_t len = 0, n = 0;
	const struct endpoint *o;
	int w;

	if (!log_enabled(LOG_LEVEL_INFO) || (!b->set.n_peers && !b->n_remove))
		return;
	line[0] = '\0';
	for (size_t i = 0; i < b->set.n_peers && n < LOG_PEERS_MAX; i++, n++) {
		o = peer_with_key(ep, b->set.peers[i].public_key);
		w = !o		 ? 0
		    : o->outside ? snprintf(line + len, sizeof(line) - len, "%s%s (outside peer)",
					    n ? ", " : "", o->key_ref)
				 : snprintf(line + len, sizeof(line) - len, "%s%s %s",
					    n ? ", " : "", o->key_ref, endpoint_name(o, name));
		len += w > 0 && (size_t)w < sizeof(line) - len ? (size_t)w : 0;
	}
	for (size_t i = 0; i < b->n_remove && n < LOG_PEERS_MAX; i++, n++) {
		sodium_bin2base64(key, sizeof(key), b->remove[i], WG_KEY_LEN,
				  sodium_base64_VARIANT_ORIGINAL);
		w = snprintf(line + len, sizeof(line) - len, "%s-%.8s...", n ? ", " : "", key);
		len += w > 0 && (size_t)w < sizeof(line) - len ? (size_t)w : 0;
	}
	log_info("endpoint %s: link %s: %s%zu peer(s) set, %zu removed: %s%s",
		 endpoint_name(ep, name), ep->ifname, b->rekey ? "new key, " : "", b->set.n_peers,
		 b->n_remove, line, b->set.n_peers + b->n_remove > n ? ", ..." : "");
}

static int batch_apply(const struct batch *b)
{
	struct wg_link_ref ref = { .ifname = b->ifname,
				   .sandbox = b->sandbox,
				   .public_key = b->link_public_key,
				   .listen_port = b->listen_port };

	if (b->rekey)
		return b->backend->device_set(&ref, &b->set);
	return b->backend->peers_apply(&ref, b->set.peers, b->set.n_peers,
				       (const uint8_t(*)[WG_KEY_LEN])b->remove, b->n_remove);
}

/* Reads the peers EP's link has now into ACTUAL; the lock is released meanwhile (EP stays: its
 * link is busy). */
static int read_actual(struct wgd *d, struct endpoint *ep, struct marks *actual)
{
	struct wg_link_ref ref = endpoint_link_ref(ep);
	struct wg_device now = { 0 };
	char *sandbox = ep->sandbox ? strdup(ep->sandbox) : NULL;
	char ifname[IFNAMSIZ];
	uint8_t pub[WG_KEY_LEN];
	int ret;

	if (ep->sandbox && !sandbox)
		return -ENOMEM;
	memcpy(ifname, ep->ifname, IFNAMSIZ);
	memcpy(pub, ep->public_key, WG_KEY_LEN);
	ref.ifname = ifname;
	ref.sandbox = sandbox;
	ref.public_key = pub;
	wgd_unlock(d);
	ret = ep->backend->device_get(&ref, &now);
	wgd_lock(d);
	for (size_t i = 0; !ret && i < now.n_peers; i++)
		ret = add_key(actual, now.peers[i].public_key, 0);
	wgdev_clear(&now);
	free(sandbox);
	return ret;
}

/* Does what L has marked, in one backend call; the lock is held on entry and exit and released
 * for the call. */
static void run(struct peersync *ps, struct peersync_link *l)
{
	struct wgd *d = ps->d;
	struct endpoint *ep = l->ep;
	struct marks m = l->marks, actual = { 0 };
	bool all = l->all, rekey = l->rekey;
	struct batch b = { 0 };
	char err[ERRMSG_LEN] = "";
	unsigned delay;
	int ret = 0;

	l->busy = true;
	ps->busy++;
	memset(&l->marks, 0, sizeof(m));
	l->all = l->rekey = false;
	if (all && !rekey)
		ret = read_actual(d, ep, &actual);
	/* What the link has and what it should have: each is set or removed. */
	for (size_t i = 0; !ret && i < actual.n; i++)
		ret = add_key(&m, actual.keys[i], 0);
	if (!ret && (all || rekey))
		ret = mark_desired(ep, &m, all && !rekey ? &actual : NULL);
	/* Marks made while the lock was released join too. */
	for (size_t i = 0; !ret && i < l->marks.n; i++)
		ret = add_key(&m, l->marks.keys[i], l->marks.flags[i]);
	marks_free(&l->marks);
	marks_free(&actual);
	if (ret)
		errmsg_set(err, ret, "%s", strerror(-ret));
	else
		ret = batch_build(ep, &m, rekey, &b, err);
	if (!ret) {
		wgd_unlock(d);
		ret = batch_apply(&b);
		wgd_lock(d);
		if (ret)
			errmsg_set(err, ret, "%s", strerror(-ret));
		else
			batch_log(ep, &b);
	}
	batch_clear(&b);
	l->busy = false;
	ps->busy--;
	pthread_cond_broadcast(&ps->idle);
	if (ret && ep->joined) {
		for (size_t i = 0; i < m.n; i++)
			if (add_key(&l->marks, m.keys[i], m.flags[i]))
				l->all = true;
		l->rekey |= rekey;
		l->all |= all;
		if (l->attempts++ % PEERSYNC_LOG_EVERY == 0)
			log_warn("endpoint %.12s: programming %zu peer(s) of link %s: %s; trying "
				 "again",
				 ep->id, m.n, ep->ifname, err);
		delay = PEERSYNC_RETRY_MIN_MS << (l->attempts < 6 ? l->attempts - 1 : 5);
		l->due = clock_in_ms(delay < PEERSYNC_RETRY_MAX_MS ? delay : PEERSYNC_RETRY_MAX_MS);
	} else {
		if (!ret && l->attempts)
			log_info("endpoint %.12s: link %s programmed again", ep->id, ep->ifname);
		l->attempts = 0;
		l->due = clock_in_ms(0);
	}
	marks_free(&m);
	if (ep->joined)
		enqueue(ps, l);
}

static void *worker_main(void *arg)
{
	struct peersync *ps = arg;
	struct wgd *d = ps->d;
	struct peersync_link *l;
	struct timespec now;

	wgd_lock(d);
	while (!ps->stopping) {
		l = ps->queue;
		if (!l) {
			wgd_wait(d, &ps->work, NULL);
			continue;
		}
		now = clock_in_ms(0);
		if (clock_before(&now, &l->due)) {
			wgd_wait(d, &ps->work, &l->due);
			continue;
		}
		dequeue(ps, l);
		run(ps, l);
	}
	wgd_unlock(d);
	return NULL;
}

int peersync_new(struct wgd *d, unsigned workers, struct peersync **out)
{
	struct peersync *ps = calloc(1, sizeof(*ps));
	pthread_condattr_t attr;
	int ret = 0;

	*out = NULL;
	if (!ps)
		return -ENOMEM;
	ps->d = d;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&ps->work, &attr);
	pthread_cond_init(&ps->idle, &attr);
	pthread_condattr_destroy(&attr);
	if (workers && !(ps->threads = calloc(workers, sizeof(*ps->threads)))) {
		peersync_free(ps);
		return -ENOMEM;
	}
	for (; ps->n_threads < workers; ps->n_threads++) {
		ret = -pthread_create(&ps->threads[ps->n_threads], NULL, worker_main, ps);
		if (ret) {
			peersync_free(ps);
			return ret;
		}
	}
	*out = ps;
	return 0;
}

void peersync_free(struct peersync *ps)
{
	if (!ps)
		return;
	wgd_lock(ps->d);
	ps->stopping = true;
	pthread_cond_broadcast(&ps->work);
	wgd_unlock(ps->d);
	for (unsigned i = 0; i < ps->n_threads; i++)
		pthread_join(ps->threads[i], NULL);
	free(ps->threads);
	/* The links keep their (emptied) marks until their endpoints are freed. */
	while (ps->queue)
		dequeue(ps, ps->queue);
	pthread_cond_destroy(&ps->work);
	pthread_cond_destroy(&ps->idle);
	free(ps);
}

void peersync_flush(struct wgd *d)
{
	struct peersync *ps = d->sync;
	struct peersync_link *l, *retry = NULL;

	wgd_lock(d);
	while (ps && (l = ps->queue)) {
		dequeue(ps, l);
		run(ps, l);
		/* What failed now waits for its backoff: one try per flush. */
		if (l->queued && l->attempts) {
			dequeue(ps, l);
			l->next = retry;
			retry = l;
		}
	}
	for (; retry; retry = l) {
		l = retry->next;
		enqueue(ps, retry);
	}
	wgd_unlock(d);
}

int peersync_settle(struct wgd *d, int timeout_ms)
{
	struct peersync *ps = d->sync;
	struct timespec deadline = clock_in_ms((unsigned)timeout_ms);
	int ret = 0;

	wgd_lock(d);
	while (ps && !ret && (ps->queue || ps->busy))
		ret = wgd_wait(d, &ps->idle, &deadline);
	wgd_unlock(d);
	return ret;
}
