/* SPDX-License-Identifier: MIT */
/* The libnetwork remote-driver API: a route table from URL path to handler, JSON in and out. */
#ifndef API_H
#define API_H

#include <stddef.h>

struct wgd;

#define API_BODY_MAX (1 << 20)

/* Answers one request for PATH ("/NetworkDriver.Join") with BODY (LEN bytes, not necessarily
 * NUL-terminated, may be empty) for daemon D. Always returns a JSON text, {"Err":"..."} on
 * failure (new, free with free()), or NULL when out of memory. Called from any number of threads
 * at once, without D's lock: each handler takes it only while it reads or changes the model. */
char *api_handle(struct wgd *d, const char *path, const char *body, size_t len);
/* The answer for a request body over API_BODY_MAX bytes (new, free with free()). */
char *api_body_too_large(const char *path);

#endif
