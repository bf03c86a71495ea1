/* SPDX-License-Identifier: MIT */
/*
 * The daemon: everything one instance of the driver knows, in one object that every handler is
 * handed. Nothing the daemon knows lives in a file-scope variable, so two daemons live side by
 * side in one process (the tests simulate two hosts that way) and a fuzz harness makes a fresh
 * one per input.
 *
 * One lock guards the model: the networks, their endpoints and the state files that mirror
 * them. It is held only while the model changes or is read, never across a process start, a
 * wait for a socket, a netlink round trip into another namespace or a call to the engine: the
 * engine gives every call a bounded time, and no call may wait on another container's start.
 * Functions that need it say so with wgd_assert_locked(), which aborts when it is not held by the
 * calling thread (the kernel's lockdep_assert_held()).
 */
#ifndef WGD_H
#define WGD_H

#include "api.h"
#include "backends.h"
#include "state.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct cluster;
struct endpoint;
struct keystore;
struct network;
struct peersync;

struct wgd {
	pthread_mutex_t lock;
	pthread_t owner; /* valid while held */
	bool held;
	struct network *networks; /* in creation order */
	struct state state;
	struct keystore *keys;
	struct backends backends;
	/* Called under the lock for an endpoint that joined and waits for its container's links
	 * and labels (engine.c); NULL: no endpoint waits. */
	void (*resolve)(void *ctx, const struct endpoint *ep);
	void *resolve_ctx;
	struct peersync *sync;	 /* programs the peers of the links (peersync.h) */
	struct cluster *cluster; /* the hosts this one shares cluster networks with, or NULL */
	char cluster_error[512]; /* why there is none although ETCD_ENDPOINTS is set */
	json_t *ipam_local;	 /* this host's addresses when there is no cluster (ipam.c) */
	/* The UDP ports links listen on (WG_PORTS); 0-0: any the kernel picks. */
	uint16_t port_min, port_max;
	struct api_stats api_stats; /* what the engine's calls cost (api.h) */
};

struct wgd_config {
	const char *state_dir;	     /* created 0700; keys in STATE_DIR/keys */
	unsigned sync_workers;	     /* threads that program peers (0: peersync_flush does it) */
	uint16_t port_min, port_max; /* WG_PORTS; 0-0: the kernel picks */
};

#define WGD_SYNC_WORKERS 4

/* Makes D an empty daemon after CFG (borrowed): no network, no backend. 0 or -errno with the
 * reason in ERR (ERRMSG_LEN). Release with wgd_destroy. */
int wgd_init(struct wgd *d, const struct wgd_config *cfg, char *err);
/* Frees what D holds in memory (networks, endpoints, keystore); links, processes and files stay.
 * Accepts a D that wgd_init failed on or never saw (zeroed). */
void wgd_destroy(struct wgd *d);

void wgd_lock(struct wgd *d);
void wgd_unlock(struct wgd *d);
/* pthread_cond_wait on COND with D's lock, which the caller holds; with DEADLINE
 * (CLOCK_MONOTONIC, COND made for that clock), -ETIMEDOUT once it passed. */
int wgd_wait(struct wgd *d, pthread_cond_t *cond, const struct timespec *deadline);
/* Aborts with a message naming FUNC unless the calling thread holds D's lock (HELD), or unless
 * it does not (!HELD: for functions that take it themselves and would deadlock). */
void wgd_assert_held(const struct wgd *d, bool held, const char *func);
#define wgd_assert_locked(d)   wgd_assert_held((d), true, __func__)
#define wgd_assert_unlocked(d) wgd_assert_held((d), false, __func__)

#endif
