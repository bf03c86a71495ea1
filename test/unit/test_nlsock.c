// SPDX-License-Identifier: MIT
/*
 * The netlink reply loop against hostile input: message lengths that libmnl's int arithmetic
 * gets wrong, and datagrams that another socket in the namespace forges. Each case runs in a
 * child under an alarm, so a loop that never ends fails the test instead of hanging it.
 */
#include "driver/nlsock.c"

#include "unit.h"

#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#define SEQ	   4242
#define PORTID	   777
#define CHILD_SKIP 77

struct walk {
	int calls;
	char names[4][IFNAMSIZ];
	int n_names;
};

/* Walks the attributes as the real callbacks do and notes every IFLA_IFNAME. */
static int walk_cb(const struct nlmsghdr *nlh, void *data)
{
	struct walk *walk = data;
	const struct nlattr *attr;

	walk->calls++;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg))
		return 0;
	mnl_attr_for_each (attr, nlh, sizeof(struct ifinfomsg)) {
		if (mnl_attr_get_type(attr) != IFLA_IFNAME ||
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) || walk->n_names == 4)
			continue;
		snprintf(walk->names[walk->n_names++], IFNAMSIZ, "%s", mnl_attr_get_str(attr));
	}
	return 0;
}

/* Runs FN in a child with a 3-second alarm: a crash, a hang or a failed check fails the test;
 * the child exiting with CHILD_SKIP skips it. */
static void run_in_child(void (*fn)(void))
{
	int status = -1;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int before = unit_failed_checks;

		alarm(3);
		fn();
		_exit(unit_skip_reason ? CHILD_SKIP : unit_failed_checks != before ? 1 : 0);
	}
	CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fprintf(stderr, "  child killed by signal %d%s\n", WTERMSIG(status),
			WTERMSIG(status) == SIGALRM ? " (it never returned)" : "");
	if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_SKIP) {
		unit_skip_reason = "cannot create a network namespace";
		return;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Feeds LEN bytes copied to a buffer of exactly that size (so the sanitizer sees any overread)
 * and returns the walk. */
static struct walk feed_exact(struct nlsock_reply *reply, const void *bytes, size_t len)
{
	struct walk walk = { 0 };
	uint8_t *buf = malloc(len);

	memcpy(buf, bytes, len);
	reply->cb = walk_cb;
	reply->data = &walk;
	nlsock_reply_feed(reply, buf, len);
	free(buf);
	return walk;
}

/* A header and one payload byte: 17 bytes, as a hostile sender needs. */
static struct walk feed_17_bytes(struct nlsock_reply *reply, uint32_t nlmsg_len, uint32_t seq)
{
	uint8_t bytes[17] = { 0 };
	struct nlmsghdr nlh = { .nlmsg_len = nlmsg_len,
				.nlmsg_type = RTM_NEWLINK,
				.nlmsg_seq = seq,
				.nlmsg_pid = PORTID };

	memcpy(bytes, &nlh, sizeof(nlh));
	return feed_exact(reply, bytes, sizeof(bytes));
}

/* 2^31 passes libmnl 1.0.4's (int) comparison: the callback would walk 2 GiB past the buffer. */
static void length_past_int_max(void)
{
	struct nlsock_reply reply = { .seq = SEQ, .portid = PORTID };
	struct walk walk = feed_17_bytes(&reply, 0x80000000u, SEQ);

	CHECK_EQ_INT(walk.calls, 0);
	CHECK(reply.done);
	CHECK_EQ_INT(reply.error, -EBADMSG);
}

UNIT_TEST(feed_rejects_a_length_past_int_max)
{
	run_in_child(length_past_int_max);
}

/* 0xffffffff aligns to 0: the loop would advance by nothing, for ever, whether or not the
 * message is ours. */
static void length_aligning_to_zero(void)
{
	struct nlsock_reply reply = { .seq = SEQ, .portid = PORTID };
	struct walk walk = feed_17_bytes(&reply, 0xffffffffu, SEQ - 1);

	CHECK_EQ_INT(walk.calls, 0);
	CHECK(reply.done);
	CHECK_EQ_INT(reply.error, -EBADMSG);

	memset(&reply, 0, sizeof(reply));
	reply.seq = SEQ;
	walk = feed_17_bytes(&reply, 0xffffffffu, SEQ);
	CHECK_EQ_INT(walk.calls, 0);
	CHECK_EQ_INT(reply.error, -EBADMSG);
}

UNIT_TEST(feed_rejects_a_length_that_aligns_to_zero)
{
	run_in_child(length_aligning_to_zero);
}

/* Builds an RTM_NEWLINK message named NAME at BUF + *LEN and advances *LEN past it and its
 * padding. */
static struct nlmsghdr *put_link(uint8_t *buf, size_t *len, const char *name, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *len);

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = PORTID;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	*len += MNL_ALIGN(nlh->nlmsg_len);
	return nlh;
}

static void put_done(uint8_t *buf, size_t *len, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *len);

	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = seq;
	*(int *)mnl_nlmsg_put_extra_header(nlh, sizeof(int)) = 0;
	*len += MNL_ALIGN(nlh->nlmsg_len);
}

/* A message whose length is not a multiple of 4, last in a datagram that lacks its padding: an
 * attribute may reach to the aligned end, which libmnl's walk trusts, past the datagram. */
static void missing_padding(void)
{
	uint8_t buf[256] = { 0 };
	struct nlsock_reply reply = { .seq = SEQ, .portid = PORTID };
	struct nlmsghdr *nlh;
	struct nlattr *attr;
	size_t len = 0;
	struct walk walk;

	put_link(buf, &len, "one0", SEQ);
	nlh = put_link(buf, &len, "two0", SEQ);
	attr = (struct nlattr *)((uint8_t *)nlh + MNL_NLMSG_HDRLEN + sizeof(struct ifinfomsg));
	attr->nla_len = 12;
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + sizeof(struct ifinfomsg) + 9;
	walk = feed_exact(&reply, buf, len - 3);
	CHECK_EQ_INT(walk.calls, 1);
	CHECK_EQ_INT(walk.n_names, 1);
	CHECK(reply.done);
	CHECK_EQ_INT(reply.error, -EBADMSG);
}

UNIT_TEST(feed_rejects_a_last_message_without_its_padding)
{
	run_in_child(missing_padding);
}

/* Shorter than a header, or a header that claims less than itself. */
static void short_messages(void)
{
	uint8_t buf[64] = { 0 };
	struct nlsock_reply reply = { .seq = SEQ };
	size_t len = 0;
	struct walk walk;

	put_link(buf, &len, "one0", SEQ);
	walk = feed_exact(&reply, buf, len + 8);
	CHECK_EQ_INT(walk.calls, 1);
	CHECK_EQ_INT(reply.error, -EBADMSG);

	memset(&reply, 0, sizeof(reply));
	reply.seq = SEQ;
	walk = feed_17_bytes(&reply, 8, SEQ);
	CHECK_EQ_INT(walk.calls, 0);
	CHECK(reply.done);
	CHECK_EQ_INT(reply.error, -EBADMSG);
}

UNIT_TEST(feed_rejects_short_messages)
{
	run_in_child(short_messages);
}

UNIT_TEST(feed_walks_a_well_formed_dump)
{
	uint8_t buf[512] = { 0 };
	struct nlsock_reply reply = { .seq = SEQ, .portid = PORTID };
	size_t len = 0;
	struct walk walk;

	put_link(buf, &len, "stale0", SEQ - 1);
	put_link(buf, &len, "one0", SEQ);
	put_link(buf, &len, "two0", SEQ);
	put_done(buf, &len, SEQ);
	walk = feed_exact(&reply, buf, len);
	CHECK(reply.done);
	CHECK_EQ_INT(reply.error, 0);
	CHECK_EQ_INT(walk.calls, 2);
	CHECK_EQ_INT(walk.n_names, 2);
	CHECK(!strcmp(walk.names[0], "one0") && !strcmp(walk.names[1], "two0"));
}

/* Another socket in the namespace (root in a container, say) writes a reply with the right seq
 * and port into the daemon's socket before the kernel answers: only the kernel's counts. */
static void forged_reply(void)
{
	uint8_t buf[256] = { 0 }, request[256];
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nlh, *err_nlh;
	struct ifinfomsg *ifi;
	struct nlmsgerr *err;
	struct walk walk = { 0 };
	struct nlsock sock;
	size_t len = 0;
	int forger;

	if (unshare(CLONE_NEWNET)) {
		unit_skip_reason = "cannot create a network namespace";
		return;
	}
	CHECK_EQ_INT(nlsock_open(&sock, NETLINK_ROUTE, NULL), 0);
	forger = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	CHECK(forger >= 0);

	put_link(buf, &len, "forged0", sock.seq + 1);
	((struct nlmsghdr *)buf)->nlmsg_pid = sock.portid;
	err_nlh = mnl_nlmsg_put_header(buf + len);
	err_nlh->nlmsg_type = NLMSG_ERROR;
	err_nlh->nlmsg_seq = sock.seq + 1;
	err_nlh->nlmsg_pid = sock.portid;
	err = mnl_nlmsg_put_extra_header(err_nlh, sizeof(*err));
	err->error = -EACCES;
	len += err_nlh->nlmsg_len;
	to.nl_pid = sock.portid;
	CHECK_EQ_INT(sendto(forger, buf, len, 0, (struct sockaddr *)&to, sizeof(to)), len);

	nlh = mnl_nlmsg_put_header(request);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "lo");
	CHECK_EQ_INT(nlsock_talk(&sock, nlh, walk_cb, &walk), 0);
	CHECK_EQ_INT(walk.n_names, 1);
	CHECK(!strcmp(walk.names[0], "lo"));
	close(forger);
	nlsock_close(&sock);
}

UNIT_TEST(talk_ignores_datagrams_not_from_the_kernel)
{
	run_in_child(forged_reply);
}

UNIT_MAIN("nlsock", UNIT_CASE(feed_rejects_a_length_past_int_max),
	  UNIT_CASE(feed_rejects_a_length_that_aligns_to_zero),
	  UNIT_CASE(feed_rejects_a_last_message_without_its_padding),
	  UNIT_CASE(feed_rejects_short_messages), UNIT_CASE(feed_walks_a_well_formed_dump),
	  UNIT_CASE(talk_ignores_datagrams_not_from_the_kernel))
