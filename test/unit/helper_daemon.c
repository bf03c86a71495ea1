// SPDX-License-Identifier: MIT
#include "helper_daemon.h"

#include "api.h"
#include "backend.h"
#include "errmsg.h"
#include "peersync.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void start(struct test_daemon *t, const struct backend_ops *backend)
{
	struct wgd_config cfg = { .state_dir = t->dir, .sync_workers = 0 };
	char err[ERRMSG_LEN];

	if (wgd_init(&t->d, &cfg, err)) {
		fprintf(stderr, "test daemon in %s: %s\n", t->dir, err);
		abort();
	}
	if (backend)
		backends_set_default(&t->d.backends, backend, "fake: unit test");
}

void test_daemon_init(struct test_daemon *t, const struct backend_ops *backend)
{
	memset(t, 0, sizeof(*t));
	strcpy(t->dir, "/tmp/unit-daemon-XXXXXX");
	if (!mkdtemp(t->dir))
		abort();
	start(t, backend);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void test_daemon_destroy(struct test_daemon *t)
{
	wgd_destroy(&t->d);
	nftw(t->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

void test_daemon_restart(struct test_daemon *t)
{
	struct backends kept = t->d.backends;

	wgd_destroy(&t->d);
	start(t, NULL);
	t->d.backends = kept;
}

json_t *test_daemon_call(struct test_daemon *t, const char *method, const char *body)
{
	char path[128], *text;
	json_t *j;

	snprintf(path, sizeof(path), "/%s", method);
	text = api_handle(&t->d, path, body, strlen(body));
	peersync_flush(&t->d);
	j = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	return j;
}
