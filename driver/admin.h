/* SPDX-License-Identifier: MIT */
/*
 * The wgctl socket: key management for the operator on a socket of its own, apart from the one
 * the engine calls. One request per connection, as text, ended by the client shutting down its
 * side:
 *   request   <command>[ identity|psk <ref>]\n[<base64 key>\n]
 *   reply     ok\n<lines>     or     error <message>\n
 * Commands (admin_cmd.c): list, links, generate, import, delete, export. Only export answers a
 * secret; every buffer that held one is wiped.
 */
#ifndef ADMIN_H
#define ADMIN_H

#define ADMIN_SOCKET_NAME "wgctl.sock"
#define ADMIN_REQUEST_MAX 1024
#define ADMIN_TIMEOUT_MS  5000

/* Serves wgctl on the Unix socket PATH (mode 0600, a stale file replaced) on its own thread. */
int admin_start(const char *path, char *err);
/* Stops serving and removes the socket file. Accepts a stopped one. */
void admin_stop(void);

#endif
