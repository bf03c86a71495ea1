/* SPDX-License-Identifier: MIT */
/* The libnetwork remote-driver API: a route table from URL path to handler, JSON in and out. */
#ifndef API_H
#define API_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct wgd;

#define API_BODY_MAX (1 << 20)

/* What the engine's calls cost, for the metrics: per route, the calls that succeeded and failed
 * and a latency histogram (upper bounds in api_latency_bounds, seconds; the last is +Inf). */
#define API_ROUTES_MAX	    24
#define API_LATENCY_BUCKETS 13
struct api_stats {
	pthread_mutex_t lock;
	uint64_t ok[API_ROUTES_MAX], failed[API_ROUTES_MAX];
	uint64_t buckets[API_ROUTES_MAX][API_LATENCY_BUCKETS]; /* not cumulative */
	double seconds[API_ROUTES_MAX];			       /* their sum */
};
extern const double api_latency_bounds[API_LATENCY_BUCKETS - 1];
/* The routes, by index in the stats: their names ("NetworkDriver.Join"), NULL past the last. */
const char *api_route_name(size_t i);
/* A copy of D's stats (taken under their lock). */
void api_stats_read(struct wgd *d, struct api_stats *out);

/* Answers one request for PATH ("/NetworkDriver.Join") with BODY (LEN bytes, not necessarily
 * NUL-terminated, may be empty) for daemon D. Always returns a JSON text, {"Err":"..."} on
 * failure (new, free with free()), or NULL when out of memory. Called from any number of threads
 * at once, without D's lock: each handler takes it only while it reads or changes the model. */
char *api_handle(struct wgd *d, const char *path, const char *body, size_t len);
/* The answer for a request body over API_BODY_MAX bytes (new, free with free()). */
char *api_body_too_large(const char *path);

#endif
