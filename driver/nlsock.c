// SPDX-License-Identifier: MIT
#include "nlsock.h"

#include "netns.h"

#include <errno.h>
#include <linux/netlink.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int socket_in(const char *netns, int bus)
{
	int fd;

	if (netns)
		return netns_socket(netns, AF_NETLINK, SOCK_RAW, bus);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, bus);
	return fd < 0 ? -errno : fd;
}

int nlsock_open(struct nlsock *sock, int bus, const char *netns)
{
	struct timeval timeout = { .tv_sec = NLSOCK_TIMEOUT_SEC };
	int fd, one = 1, ret;

	memset(sock, 0, sizeof(*sock));
	fd = socket_in(netns, bus);
	if (fd < 0)
		return fd;
	sock->nl = mnl_socket_fdopen(fd);
	if (!sock->nl) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0)
		goto err_errno;
	/* Error acks then carry only the request's header, not its keys. Older kernels lack the
	 * option; the buffer is wiped anyway. */
	mnl_socket_setsockopt(sock->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(sock->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err_errno;
	sock->portid = mnl_socket_get_portid(sock->nl);
	sock->seq = (uint32_t)time(NULL);
	sock->buf = malloc(NLSOCK_RECV_SIZE);
	if (!sock->buf) {
		errno = ENOMEM;
		goto err_errno;
	}
	return 0;

err_errno:
	ret = -errno;
	nlsock_close(sock);
	return ret;
}

void nlsock_close(struct nlsock *sock)
{
	if (sock->buf) {
		sodium_memzero(sock->buf, NLSOCK_RECV_SIZE);
		free(sock->buf);
	}
	if (sock->nl)
		mnl_socket_close(sock->nl);
	memset(sock, 0, sizeof(*sock));
}

static int error_message_code(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*err))
		return -EBADMSG;
	return err->error <= 0 ? err->error : -err->error;
}

static int done_message_code(const struct nlmsghdr *nlh)
{
	int code;

	/* The payload is the dump's result; very old kernels send none. */
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(code))
		return 0;
	memcpy(&code, mnl_nlmsg_get_payload(nlh), sizeof(code));
	return code <= 0 ? code : -code;
}

static void reply_feed_one(struct nlsock_reply *reply, const struct nlmsghdr *nlh)
{
	int ret = 0;

	/* Set when the kernel's object changed mid-dump, on data messages and on NLMSG_DONE. */
	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		ret = -EINTR;
	switch (nlh->nlmsg_type) {
	case NLMSG_NOOP: break;
	case NLMSG_ERROR:
		ret = ret ? ret : error_message_code(nlh);
		reply->done = true;
		break;
	case NLMSG_DONE:
		ret = ret ? ret : done_message_code(nlh);
		reply->done = true;
		break;
	case NLMSG_OVERRUN:
		ret = -ENOBUFS;
		reply->done = true;
		break;
	default:
		if (!ret && !reply->error && reply->cb && nlh->nlmsg_type >= NLMSG_MIN_TYPE)
			ret = reply->cb(nlh, reply->data);
		break;
	}
	if (ret && !reply->error)
		reply->error = ret;
}

void nlsock_reply_feed(struct nlsock_reply *reply, const void *buf, size_t len)
{
	const struct nlmsghdr *nlh = buf;
	int rest = len > INT32_MAX ? INT32_MAX : (int)len;

	for (; !reply->done && mnl_nlmsg_ok(nlh, rest); nlh = mnl_nlmsg_next(nlh, &rest)) {
		/* Leftovers of an earlier request on this socket, or not addressed to us. */
		if (nlh->nlmsg_seq != reply->seq)
			continue;
		if (nlh->nlmsg_pid && reply->portid && nlh->nlmsg_pid != reply->portid)
			continue;
		reply_feed_one(reply, nlh);
	}
	if (!reply->done && rest > 0) {
		/* A truncated message: nothing after it can be trusted. */
		if (!reply->error)
			reply->error = -EBADMSG;
		reply->done = true;
	}
}

int nlsock_talk(struct nlsock *sock, struct nlmsghdr *nlh, nlsock_cb cb, void *data)
{
	struct nlsock_reply reply = { .portid = sock->portid, .cb = cb, .data = data };
	ssize_t n;

	reply.seq = ++sock->seq;
	nlh->nlmsg_seq = reply.seq;
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(sock->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while (!reply.done) {
		n = mnl_socket_recvfrom(sock->nl, sock->buf, NLSOCK_RECV_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		nlsock_reply_feed(&reply, sock->buf, (size_t)n);
	}
	return reply.error;
}
