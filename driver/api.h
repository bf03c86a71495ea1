/* SPDX-License-Identifier: MIT */
/* The libnetwork remote-driver API: a route table from URL path to handler, JSON in and out. */
#ifndef API_H
#define API_H

#include <stddef.h>

#define API_BODY_MAX (1 << 20)

/* Answers one request for PATH ("/NetworkDriver.Join") with BODY (LEN bytes, not necessarily
 * NUL-terminated, may be empty). Always returns a JSON text, {"Err":"..."} on failure (new, free
 * with free()), or NULL when out of memory. Calls are serialised. */
char *api_handle(const char *path, const char *body, size_t len);
/* The answer for a request body over API_BODY_MAX bytes (new, free with free()). */
char *api_body_too_large(const char *path);
/* The lock that serialises the handlers. Any other thread takes it before it touches networks or
 * endpoints, and never calls the engine while it holds it (the engine may be waiting on us). */
void api_lock(void);
void api_unlock(void);

#endif
