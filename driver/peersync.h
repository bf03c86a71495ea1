/* SPDX-License-Identifier: MIT */
/*
 * Programs the peers of the daemon's links apart from the engine's calls. A call that changes who
 * peers with whom (a Join, a Leave, a resolution) only marks, under the daemon's lock, the peers
 * it concerns on each link and returns: the engine never waits for the other links. Workers then
 * bring each marked link to what the model says: one worker per link at a time, links in
 * parallel, outside the lock, every peer marked on a link in one backend call. Marking a peer means
 * "make it what the model says now": set when the two endpoints are peers, removed otherwise, so
 * a mark that comes late or twice does no harm. A backend call that fails is retried, with backoff.
 *
 * Everything here is called with the daemon's lock held, except where a comment says otherwise.
 */
#ifndef PEERSYNC_H
#define PEERSYNC_H

#include "wgdev.h"

#include <stdbool.h>
#include <stddef.h>

struct endpoint;
struct peersync;
struct wgd;

/* The backoff of a failed link, and how often it is logged while it keeps failing. */
#define PEERSYNC_RETRY_MIN_MS 100
#define PEERSYNC_RETRY_MAX_MS 5000
#define PEERSYNC_LOG_EVERY    12

/* Starts WORKERS threads (0: none; the work is done by peersync_flush) for daemon D, into *OUT
 * (new, free with peersync_free). Called without the lock. */
int peersync_new(struct wgd *d, unsigned workers, struct peersync **out);
/* Stops the workers, letting a backend call in progress end, and frees PS; the work still queued
 * is dropped. Accepts NULL. Called without the lock. */
void peersync_free(struct peersync *ps);

/* Marks peer PUBLIC_KEY of EP's link. A peer of another host keeps the endpoint WireGuard has
 * for it (roaming, NAT); peersync_touch_moved also sets it: the peer is new to the link, or its
 * host advertises another address. A peer of this host always gets its loopback endpoint. */
void peersync_touch(struct endpoint *ep, const uint8_t public_key[WG_KEY_LEN]);
void peersync_touch_moved(struct endpoint *ep, const uint8_t public_key[WG_KEY_LEN]);
/* Marks every peer EP's link has or should have: the link's peers are read back from the backend
 * and compared (a link served anew, or one whose calls failed). */
void peersync_touch_all(struct endpoint *ep);
/* Marks EP's link for its private key and exactly its peers in one call, replacing the others
 * (its identity changed: every session it had is void anyway). */
void peersync_rekey(struct endpoint *ep);
/* Marks peer PUBLIC_KEY on every joined endpoint of EP's network but EP: EP (of that key)
 * came, went, or changed what its peers must know of it. */
void peersync_touch_others(struct endpoint *ep, const uint8_t public_key[WG_KEY_LEN]);
void peersync_touch_others_moved(struct endpoint *ep, const uint8_t public_key[WG_KEY_LEN]);
/* The same, the peer removed first in the same call: its sessions are void (its link was served
 * anew), and a fresh entry makes the next packet start a handshake instead of waiting for
 * WireGuard's retry. */
void peersync_touch_others_renew(struct endpoint *ep, const uint8_t public_key[WG_KEY_LEN]);
/* EP's link is no longer to be programmed (it left, or goes): its marks are dropped, and this
 * waits, releasing the lock meanwhile, until no worker uses the link. */
void peersync_forget(struct endpoint *ep);
/* Frees what EP's link has marked, when no worker can use it any more (after peersync_forget,
 * or once the workers stopped). Called with or without the lock. */
void peersync_release(struct endpoint *ep);
/* Peers marked on EP's link and not programmed yet. */
size_t peersync_pending(const struct endpoint *ep);

/* Called without the lock: does all the work queued so far (due or not) in the calling thread,
 * until none is left; what keeps failing is left queued. For tests and fuzzing, with 0 workers. */
void peersync_flush(struct wgd *d);
/* Called without the lock: waits until nothing is queued or in progress, or TIMEOUT_MS; 0 or
 * -ETIMEDOUT. */
int peersync_settle(struct wgd *d, int timeout_ms);

#endif
