/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 on a Unix socket (libmicrohttpd): gathers each request body, bounded, and hands it to
 * api_handle. Keep-alive connections work as the engine's Go client expects; each connection has
 * a thread of its own, so calls for different containers proceed at once. */
#ifndef HTTP_H
#define HTTP_H

#include <sys/types.h>

struct http;
struct wgd;

/* Binds and listens on the Unix socket PATH with MODE, replacing a socket file no one answers on
 * (never a file of another kind). Returns the listening descriptor or -errno with ERR set. */
int http_listen(const char *path, mode_t mode, char *err);
/* Serves daemon D's API on the Unix socket PATH (mode 0600) into *OUT (new, stop with
 * http_stop). */
int http_start(struct wgd *d, const char *path, struct http **out, char *err);
/* Stops serving, waiting for the calls in progress, and removes the socket file. Accepts NULL. */
void http_stop(struct http *h);

#endif
