/* SPDX-License-Identifier: MIT */
/* User-facing error text carried from where a failure is understood to where it is answered. */
#ifndef ERRMSG_H
#define ERRMSG_H

#include <stdarg.h>
#include <stddef.h>

#define ERRMSG_LEN 512

/* Formats a message into ERR (ERRMSG_LEN bytes) and returns CODE (a -errno), so a caller can
 * write `return errmsg_set(err, -EINVAL, "...")`. */
int errmsg_set(char *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The one formatter of every error text: FMT into BUF (SIZE bytes), cut at its end on a
 * character boundary (a message cut inside a multi-byte character is no longer UTF-8, and jansson
 * refuses it: the engine would read "out of memory"). */
void errmsg_vformat(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
