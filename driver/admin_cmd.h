/* SPDX-License-Identifier: MIT */
/* The wgctl commands: keys by reference in the keystore, and the links of live endpoints. */
#ifndef ADMIN_CMD_H
#define ADMIN_CMD_H

#include <stddef.h>

/* A reply being built. It may hold a secret (export): admin_text_free wipes it. */
struct admin_text {
	char *data;
	size_t len, cap;
};

/* Appends to T (which stays NUL-terminated); -ENOMEM. */
int admin_text_printf(struct admin_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int admin_text_append(struct admin_text *t, const char *s, size_t n);
/* Wipes and frees T's storage and empties it. */
void admin_text_free(struct admin_text *t);

struct wgd;

/* Runs request REQ (NUL-terminated, see admin.h; modified while parsed) for daemon D and appends
 * the reply's lines to OUT. Called without D's lock: the key commands take it, the cluster's
 * (hosts, forget) ask the store without it. 0, or -errno with the message in ERR. */
int admin_cmd_run(struct wgd *d, char *req, struct admin_text *out, char *err);

#endif
