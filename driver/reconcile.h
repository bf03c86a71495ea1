/* SPDX-License-Identifier: MIT */
/*
 * The start after a restart, a crash or a reboot: the persisted endpoints (state.c) against the
 * links that exist. The engine replays nothing, so the daemon puts back what it can:
 *   - an endpoint that is not joined has no link: one left by a crash in the middle of a Join is
 *     deleted;
 *   - a joined endpoint's link is served again (the userspace backend gives its persistent TUN,
 *     wherever it is, to a new wireguard-go) with the same key and port; a link that is gone (a
 *     reboot, a container that went while the daemon was down) makes its endpoint not joined,
 *     and the engine's Leave and DeleteEndpoint for it then succeed;
 *   - every joined link gets exactly the peers it may reach now, and the peers of a link served
 *     anew drop their old sessions with it, so traffic both ways resumes at once.
 */
#ifndef RECONCILE_H
#define RECONCILE_H

struct wgd;

/* Reconciles every network D loaded with its links, each through its endpoint's backend, logging
 * what it changes and what it cannot do; never fails the start. Call it, without D's lock, before
 * the engine can call the daemon: it takes the lock while it reads or changes the model, not
 * while it talks to a backend. */
void reconcile_endpoints(struct wgd *d);

#endif
