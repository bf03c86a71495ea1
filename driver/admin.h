/* SPDX-License-Identifier: MIT */
/*
 * The wgctl socket: key management for the operator on a socket of its own, apart from the one
 * the engine calls. One request per connection, as text, ended by the client shutting down its
 * side:
 *   request   <command>[ identity|psk <ref>]\n[<base64 key>\n]
 *   reply     ok\n<lines>     or     error <message>\n
 * Commands (admin_cmd.c): list, links, generate, import, delete, export, and for a cluster
 * hosts and forget <host>. Only export answers a secret; every buffer that held one is wiped.
 */
#ifndef ADMIN_H
#define ADMIN_H

#define ADMIN_SOCKET_NAME "wgctl.sock"
#define ADMIN_REQUEST_MAX 16384
#define ADMIN_TIMEOUT_MS  5000

struct admin;
struct wgd;

/* Serves wgctl for daemon D on the Unix socket PATH (mode 0600, a stale socket replaced) on a
 * thread of its own, into *OUT (new, stop with admin_stop; NULL when PATH is NULL or ""). One
 * client at a time, each within ADMIN_TIMEOUT_MS in total. */
int admin_start(struct wgd *d, const char *path, struct admin **out, char *err);
/* Stops serving and removes the socket file. Accepts NULL. */
void admin_stop(struct admin *a);

#endif
