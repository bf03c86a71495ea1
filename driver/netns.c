// SPDX-License-Identifier: MIT
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *docker_dir = NETNS_DOCKER_DIR;

int netns_resolve(const char *path, char *out, size_t size)
{
	const char *base = strrchr(path, '/');
	int n;

	if (!access(path, F_OK) || !base || !base[1]) {
		n = snprintf(out, size, "%s", path);
		return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
	}
	/* An engine with another exec-root sends its own path; the plugin sees the same files
	 * through its netns mount, at the default place. */
	n = snprintf(out, size, "%s%s", docker_dir, base);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	if (access(out, F_OK)) {
		snprintf(out, size, "%s", path);
		return -ENOENT;
	}
	return 0;
}

/* Moves the calling thread into the namespace file PATH; *SELF gets its own namespace back for
 * netns_leave. thread-self, not self: setns() moves only this thread, and other threads may be
 * in the middle of their own requests in the host namespace. */
static int netns_enter(const char *path, int *self)
{
	char resolved[PATH_MAX];
	int target, ret;

	ret = netns_resolve(path, resolved, sizeof(resolved));
	if (ret)
		return ret;
	*self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*self < 0)
		return -errno;
	target = open(resolved, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		ret = -errno;
		goto err_close_self;
	}
	ret = setns(target, CLONE_NEWNET) < 0 ? -errno : 0;
	close(target);
	if (ret)
		goto err_close_self;
	return 0;

err_close_self:
	close(*self);
	return ret;
}

static void netns_leave(int self)
{
	/* A thread stranded in a container's namespace would create every later link there; there
	 * is no safe way to continue. */
	if (setns(self, CLONE_NEWNET) < 0)
		abort();
	close(self);
}

int netns_socket(const char *path, int domain, int type, int protocol)
{
	int self, ret;

	ret = netns_enter(path, &self);
	if (ret)
		return ret;
	ret = socket(domain, type | SOCK_CLOEXEC, protocol);
	if (ret < 0)
		ret = -errno;
	netns_leave(self);
	return ret;
}

int netns_open(const char *path, const char *file, int flags)
{
	int self, ret;

	if (!path) {
		ret = open(file, flags | O_CLOEXEC);
		return ret < 0 ? -errno : ret;
	}
	ret = netns_enter(path, &self);
	if (ret)
		return ret;
	ret = open(file, flags | O_CLOEXEC);
	if (ret < 0)
		ret = -errno;
	netns_leave(self);
	return ret;
}

bool netns_exists(const char *path)
{
	char resolved[PATH_MAX];

	return path && !netns_resolve(path, resolved, sizeof(resolved));
}
