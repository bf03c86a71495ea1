/* SPDX-License-Identifier: MIT */
/* A daemon for unit tests: its state in a temp directory, a given backend as default, no peer
 * workers (test_daemon_call flushes their work after each call, so tests see the end state). */
#ifndef HELPER_DAEMON_H
#define HELPER_DAEMON_H

#include "wgd.h"

#include <jansson.h>

struct backend_ops;

struct test_daemon {
	struct wgd d;
	char dir[64];
};

/* Makes T's daemon in a new temp directory with BACKEND as its default; aborts on failure. */
void test_daemon_init(struct test_daemon *t, const struct backend_ops *backend);
/* Frees T's daemon and removes its directory. */
void test_daemon_destroy(struct test_daemon *t);
/* Frees what T's daemon holds in memory and makes it anew on the same directory and backends, as
 * a restarted daemon; the state is not loaded (state_load does). */
void test_daemon_restart(struct test_daemon *t);
/* Calls METHOD ("NetworkDriver.Join") with BODY and returns the parsed answer (decref it), once
 * the peer programming it queued is done. */
json_t *test_daemon_call(struct test_daemon *t, const char *method, const char *body);

#endif
