/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 on a Unix socket (libmicrohttpd): gathers each request body, bounded, and hands it to
 * api_handle. Keep-alive connections work as the engine's Go client expects. */
#ifndef HTTP_H
#define HTTP_H

/* Listens on the Unix socket PATH (replacing a stale socket file, mode 0600) and serves requests
 * on an internal thread. */
int http_start(const char *path, char *err);
/* Stops serving and removes the socket file. */
void http_stop(void);

#endif
