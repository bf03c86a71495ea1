// SPDX-License-Identifier: MIT
#include "wgd.h"

#include "errmsg.h"
#include "ipam.h"
#include "keystore.h"
#include "log.h"
#include "network.h"
#include "peersync.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wgd_init(struct wgd *d, const struct wgd_config *cfg, char *err)
{
	char keys[PATH_MAX];
	int ret;

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->api_stats.lock, NULL);
	d->port_min = cfg->port_min;
	d->port_max = cfg->port_max;
	ret = state_init(&d->state, cfg->state_dir, err);
	if (ret)
		return ret;
	if (snprintf(keys, sizeof(keys), "%s/keys", cfg->state_dir) >= (int)sizeof(keys))
		return errmsg_set(err, -ENAMETOOLONG, "state directory %s: path too long",
				  cfg->state_dir);
	ret = keystore_open(keys, &d->keys);
	if (ret)
		return errmsg_set(err, ret, "%s", keystore_error());
	ret = peersync_new(d, cfg->sync_workers, &d->sync);
	if (ret)
		return errmsg_set(err, ret, "peer programming: %s", strerror(-ret));
	return 0;
}

void wgd_destroy(struct wgd *d)
{
	peersync_free(d->sync);
	d->sync = NULL;
	network_finalise(d);
	ipam_finalise(d);
	state_finalise(&d->state);
	keystore_close(d->keys);
	d->keys = NULL;
	pthread_mutex_destroy(&d->api_stats.lock);
	pthread_mutex_destroy(&d->lock);
}

static void mark_held(struct wgd *d, bool held)
{
	/* Atomic: other threads read these while the owner changes them. */
	if (held)
		__atomic_store_n(&d->owner, pthread_self(), __ATOMIC_RELAXED);
	__atomic_store_n(&d->held, held, __ATOMIC_RELAXED);
}

void wgd_lock(struct wgd *d)
{
	wgd_assert_unlocked(d);
	pthread_mutex_lock(&d->lock);
	mark_held(d, true);
}

void wgd_unlock(struct wgd *d)
{
	wgd_assert_locked(d);
	mark_held(d, false);
	pthread_mutex_unlock(&d->lock);
}

int wgd_wait(struct wgd *d, pthread_cond_t *cond, const struct timespec *deadline)
{
	int ret;

	wgd_assert_locked(d);
	mark_held(d, false);
	ret = deadline ? pthread_cond_timedwait(cond, &d->lock, deadline)
		       : pthread_cond_wait(cond, &d->lock);
	mark_held(d, true);
	return -ret;
}

void wgd_assert_held(const struct wgd *d, bool held, const char *func)
{
	bool mine = __atomic_load_n(&d->held, __ATOMIC_RELAXED) &&
		    pthread_equal(__atomic_load_n(&d->owner, __ATOMIC_RELAXED), pthread_self());

	if (mine == held)
		return;
	log_error("%s: called %s the daemon lock", func, held ? "without" : "with");
	abort();
}
