/* SPDX-License-Identifier: MIT */
/*
 * What the operator follows in the log beyond the engine's calls: the first handshake of every
 * peer of every link, seen by reading the links now and then on a thread of its own. The daemon's
 * lock is held only for a copy of the links and of who each public key is (nothing per pair of
 * endpoints); the pause between two looks grows with what a look costs, so that a host full of
 * links is not kept busy by it.
 */
#ifndef MONITOR_H
#define MONITOR_H

#define MONITOR_INTERVAL_MS 5000 /* at least, between two looks */
#define MONITOR_COST_FACTOR 20	 /* a look takes at most 1/20 of the time */

struct monitor;
struct wgd;

/* Starts looking at D's links into *OUT (stop with monitor_stop). Called without the lock. */
int monitor_start(struct wgd *d, struct monitor **out, char *err);
/* Stops, letting a look in progress end. Accepts NULL. */
void monitor_stop(struct monitor *m);

#endif
