/* SPDX-License-Identifier: MIT */
/*
 * The netlink request/reply loop shared by rtnetlink and generic netlink: a libmnl socket opened
 * in the caller's or another network namespace, one request at a time, replies fed to a callback
 * until the ack or NLMSG_DONE.
 */
#ifndef NLSOCK_H
#define NLSOCK_H

#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kernel sizes dump messages up to 32 KiB once a reader offers that much; a smaller buffer
 * would truncate them. */
#define NLSOCK_RECV_SIZE 32768
/* The kernel answers at once; the bound only guards the daemon against a lost reply. */
#define NLSOCK_TIMEOUT_SEC 5

struct nlsock {
	struct mnl_socket *nl;
	uint32_t portid, seq;
	uint8_t *buf; /* NLSOCK_RECV_SIZE bytes; wiped on close since replies may carry keys */
};

/* Handles one data message of a reply; returns 0 or -errno, which ends the reply. */
typedef int (*nlsock_cb)(const struct nlmsghdr *nlh, void *data);

/* State of one reply while its messages arrive. */
struct nlsock_reply {
	uint32_t seq, portid;
	nlsock_cb cb; /* may be NULL */
	void *data;
	int error; /* first error: the kernel's, the callback's, or -EINTR for NLM_F_DUMP_INTR */
	bool done; /* the ack, an error or NLMSG_DONE arrived */
};

/* Opens a netlink socket of BUS (NETLINK_ROUTE, NETLINK_GENERIC) in the network namespace file
 * NETNS, or in the caller's when NETNS is NULL. Release with nlsock_close. */
int nlsock_open(struct nlsock *sock, int bus, const char *netns);
/* Closes SOCK and wipes its buffer. Accepts a zeroed or already closed SOCK. */
void nlsock_close(struct nlsock *sock);
/* Sends the request NLH (its seq is set here, NLM_F_ACK added) and passes every data message of
 * the reply to CB; datagrams not sent by the kernel are dropped. Returns 0, the kernel's -errno,
 * CB's -errno, -EINTR when a dump was interrupted by a concurrent change (the reply is read to
 * its end first), -EBADMSG for a malformed reply, or -ETIMEDOUT. */
int nlsock_talk(struct nlsock *sock, struct nlmsghdr *nlh, nlsock_cb cb, void *data);
/* Feeds the LEN bytes of messages in BUF to REPLY: messages for another seq or port are
 * skipped, and after an error only the end of the reply is looked for. A malformed message (a
 * length shorter than its header or running past LEN with its padding) ends the reply with
 * -EBADMSG; CB sees only messages that lie whole, padding included, inside BUF. */
void nlsock_reply_feed(struct nlsock_reply *reply, const void *buf, size_t len);

#endif
