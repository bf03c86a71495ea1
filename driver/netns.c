// SPDX-License-Identifier: MIT
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int netns_socket(const char *path, int domain, int type, int protocol)
{
	int self, target, ret;

	/* thread-self, not self: setns() moves only this thread, and other threads may be in the
	 * middle of their own requests in the host namespace. */
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		ret = -errno;
		goto out_close_self;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		ret = -errno;
		goto out_close_target;
	}
	ret = socket(domain, type | SOCK_CLOEXEC, protocol);
	if (ret < 0)
		ret = -errno;
	/* A thread stranded in a container's namespace would create every later link there; there
	 * is no safe way to continue. */
	if (setns(self, CLONE_NEWNET) < 0)
		abort();
out_close_target:
	close(target);
out_close_self:
	close(self);
	return ret;
}
