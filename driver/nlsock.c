// SPDX-License-Identifier: MIT
#include "nlsock.h"

#include "netns.h"

#include <errno.h>
#include <limits.h>
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

/* The bytes the message NLH takes at the head of REST bytes, its padding included, or 0 when it
 * is malformed. libmnl 1.0.4 is no help here: mnl_nlmsg_ok compares the length as an int, so
 * 2^31 or more passes and mnl_nlmsg_next then steps back or, at 0xffffffff, not at all; and its
 * attribute walks read up to the aligned end and hold lengths in an int. */
static size_t message_span(const struct nlmsghdr *nlh, size_t rest)
{
	size_t len, pad;

	if (rest < sizeof(*nlh))
		return 0;
	len = nlh->nlmsg_len;
	pad = (NLMSG_ALIGNTO - len % NLMSG_ALIGNTO) % NLMSG_ALIGNTO;
	if (len < sizeof(*nlh) || len > rest || pad > rest - len || len > INT_MAX - NLMSG_ALIGNTO)
		return 0;
	return len + pad;
}

void nlsock_reply_feed(struct nlsock_reply *reply, const void *buf, size_t len)
{
	const uint8_t *pos = buf;
	size_t rest = len, span;

	while (!reply->done && rest) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)pos;

		span = message_span(nlh, rest);
		if (!span) {
			/* Nothing from here on can be trusted. */
			if (!reply->error)
				reply->error = -EBADMSG;
			reply->done = true;
			return;
		}
		pos += span;
		rest -= span;
		/* Leftovers of an earlier request on this socket, or not addressed to us. */
		if (nlh->nlmsg_seq != reply->seq)
			continue;
		if (nlh->nlmsg_pid && reply->portid && nlh->nlmsg_pid != reply->portid)
			continue;
		reply_feed_one(reply, nlh);
	}
}

static int64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the next datagram the kernel sent to SOCK into its buffer; returns its length or -errno.
 * Any socket of the namespace with CAP_NET_ADMIN there (root in a container) can write to our
 * port as well: what it sends is dropped and does not extend the wait for the kernel. */
static ssize_t recv_from_kernel(struct nlsock *sock)
{
	int64_t deadline = clock_ms() + NLSOCK_TIMEOUT_SEC * 1000;
	struct iovec iov = { .iov_base = sock->buf, .iov_len = NLSOCK_RECV_SIZE };
	struct sockaddr_nl from;
	struct msghdr msg = { .msg_name = &from, .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	for (;;) {
		msg.msg_namelen = sizeof(from);
		n = recvmsg(mnl_socket_get_fd(sock->nl), &msg, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		if (msg.msg_namelen == sizeof(from) && from.nl_family == AF_NETLINK && !from.nl_pid)
			return msg.msg_flags & MSG_TRUNC ? -ENOSPC : n;
		if (clock_ms() >= deadline)
			return -ETIMEDOUT;
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
		n = recv_from_kernel(sock);
		if (n < 0)
			return (int)n;
		nlsock_reply_feed(&reply, sock->buf, (size_t)n);
	}
	return reply.error;
}
