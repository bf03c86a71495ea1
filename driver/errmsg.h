/* SPDX-License-Identifier: MIT */
/* User-facing error text carried from where a failure is understood to where it is answered. */
#ifndef ERRMSG_H
#define ERRMSG_H

#define ERRMSG_LEN 512

/* Formats a message into ERR (ERRMSG_LEN bytes) and returns CODE (a -errno), so a caller can
 * write `return errmsg_set(err, -EINVAL, "...")`. */
int errmsg_set(char *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
