// SPDX-License-Identifier: MIT
#include "udpport.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDPPORT_TRIES 64

/* Binds a dual-stack socket to port 0 and returns the port the kernel chose, falling back to
 * IPv4 alone on hosts without IPv6. WireGuard binds both families on the same port. */
static int ephemeral_port(uint16_t *out)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	struct sockaddr_storage got;
	socklen_t len = sizeof(got);
	int off = 0, fd, ret = 0;

	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		if (bind(fd, (struct sockaddr *)&a6, sizeof(a6)) < 0)
			ret = -errno;
	} else {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) < 0)
			ret = -errno;
	}
	if (!ret && getsockname(fd, (struct sockaddr *)&got, &len) < 0)
		ret = -errno;
	if (!ret)
		*out = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
						       : ((struct sockaddr_in *)&got)->sin_port);
	close(fd);
	return ret;
}

int udpport_pick(bool (*taken)(uint16_t port, void *ctx), void *ctx, uint16_t *out)
{
	uint16_t port = 0; /* set by ephemeral_port when it succeeds; gcc cannot tell */
	int ret;

	for (int i = 0; i < UDPPORT_TRIES; i++) {
		ret = ephemeral_port(&port);
		if (ret)
			return ret;
		if (!taken(port, ctx)) {
			*out = port;
			return 0;
		}
	}
	return -EADDRINUSE;
}
