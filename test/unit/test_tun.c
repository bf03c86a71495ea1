// SPDX-License-Identifier: MIT
/*
 * Persistent TUN devices, in a child in network namespaces of its own (the host's is never
 * touched): create, find by tag (here and in another namespace), attach once, placeholders,
 * renames.
 */
#include "unit.h"

#include "driver/tun.c"

#include <linux/if_tun.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static void scenario_here(void)
{
	struct tun_link link;
	int fd, again, placeholder;

	CHECK_EQ_INT(tun_create("wgt-a"), 0);
	CHECK_EQ_INT(tun_create("wgt-a"), -EEXIST);
	CHECK(rtnl_link_exists("wgt-a"));
	CHECK_EQ_INT(tun_find(NULL, "wgt-a", &link), 0);
	CHECK(!strcmp(link.name, "wgt-a") && link.ifindex > 0 && !link.attached);
	/* Created as plain IFF_TUN, with its packet information header. */
	CHECK_EQ_INT(link.flags, IFF_TUN);
	CHECK_EQ_INT(tun_find(NULL, "wgt-none", &link), -ENODEV);

	fd = tun_attach(NULL, &link);
	CHECK(fd >= 0);
	CHECK_EQ_INT(tun_find(NULL, "wgt-a", &link), 0);
	CHECK(link.attached);
	again = tun_attach(NULL, &link);
	CHECK_EQ_INT(again, -EBUSY);
	if (fd >= 0)
		close(fd);
	/* Persistent: no holder, still there. */
	CHECK_EQ_INT(tun_find(NULL, "wgt-a", &link), 0);
	CHECK(!link.attached);

	CHECK_EQ_INT(tun_placeholder("wgt-a"), -EEXIST);
	placeholder = tun_placeholder("wgt-p");
	CHECK(placeholder >= 0);
	CHECK(rtnl_link_exists("wgt-p"));
	if (placeholder >= 0)
		close(placeholder);
	CHECK(!rtnl_link_exists("wgt-p"));

	/* A rename keeps the tag, and the tag finds it. */
	CHECK_EQ_INT(tun_rename(NULL, link.ifindex, "wg0"), 0);
	CHECK_EQ_INT(tun_find(NULL, "wgt-a", &link), 0);
	CHECK(!strcmp(link.name, "wg0"));
	CHECK_EQ_INT(tun_rename(NULL, link.ifindex, "a-name-far-too-long"), -EINVAL);
	CHECK_EQ_INT(rtnl_link_delete("wg0"), 0);
	CHECK_EQ_INT(tun_find(NULL, "wgt-a", &link), -ENODEV);
}

/* A device moved into another namespace is found and attached from there. */
static void scenario_elsewhere(void)
{
	char path[64], cmd[128];
	int ready[2], hold[2], fd;
	struct tun_link link;
	pid_t other;
	char c = 0;

	CHECK_EQ_INT(tun_create("wgt-b"), 0);
	CHECK(pipe2(ready, O_CLOEXEC) == 0 && pipe2(hold, O_CLOEXEC) == 0);
	other = fork();
	if (other == 0) {
		close(ready[0]);
		close(hold[1]);
		if (unshare(CLONE_NEWNET) || write(ready[1], "r", 1) != 1)
			_exit(1);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	CHECK_EQ_INT(read(ready[0], &c, 1), 1);
	close(ready[0]);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)other);
	snprintf(cmd, sizeof(cmd), "ip link set wgt-b netns %d", (int)other);
	CHECK_EQ_INT(system(cmd), 0);
	CHECK_EQ_INT(tun_find(NULL, "wgt-b", &link), -ENODEV);
	CHECK_EQ_INT(tun_find(path, "wgt-b", &link), 0);
	CHECK_EQ_INT(tun_rename(path, link.ifindex, "wg0"), 0);
	CHECK_EQ_INT(tun_find(path, "wgt-b", &link), 0);
	CHECK(!strcmp(link.name, "wg0"));
	fd = tun_attach(path, &link);
	CHECK(fd >= 0);
	CHECK_EQ_INT(tun_find(path, "wgt-b", &link), 0);
	CHECK(link.attached);
	if (fd >= 0)
		close(fd);
	close(hold[1]);
	CHECK_EQ_INT(waitpid(other, NULL, 0), other);
	/* Its namespace gone, the device went with it. */
	CHECK_EQ_INT(tun_find(path, "wgt-b", &link), -ENOENT);
	CHECK_EQ_INT(tun_find(NULL, "wgt-b", &link), -ENODEV);
}

UNIT_TEST(persistent_tun_devices)
{
	int status = -1;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET)) {
			perror("  unshare(CLONE_NEWNET)");
			_exit(1);
		}
		scenario_here();
		scenario_elsewhere();
		exit(unit_failed_checks ? 1 : 0);
	}
	CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* An RTM_NEWLINK message for a TUN as a link dump carries it: index 7, its name, the alias TAG,
 * a carrier, and IFLA_LINKINFO with kind KIND (KIND_LEN bytes: the kernel counts the NUL). */
static struct nlmsghdr *put_tun_message(uint8_t *buf, const char *tag, const char *kind,
					size_t kind_len)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlattr *linkinfo, *data;
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = 7;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "wg0");
	mnl_attr_put_strz(nlh, IFLA_IFALIAS, tag);
	mnl_attr_put_u8(nlh, IFLA_CARRIER, 1);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put(nlh, IFLA_INFO_KIND, kind_len, kind);
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u8(nlh, IFLA_TUN_TYPE, IFF_TUN);
	mnl_attr_put_u8(nlh, IFLA_TUN_PI, 0);
	mnl_attr_put_u8(nlh, IFLA_TUN_VNET_HDR, 0);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return nlh;
}

UNIT_TEST(link_message_names_the_tagged_tun)
{
	uint8_t buf[512];
	struct tun_link link;
	struct tun_search search = { .tag = "wgt-a", .out = &link };
	struct nlmsghdr *nlh = put_tun_message(buf, "wgt-a", "tun", sizeof("tun"));

	CHECK_EQ_INT(tun_link_cb(nlh, &search), 0);
	CHECK(search.found);
	CHECK(!strcmp(link.name, "wg0"));
	CHECK_EQ_INT(link.ifindex, 7);
	CHECK_EQ_INT(link.flags, IFF_TUN | IFF_NO_PI);
	CHECK(link.attached);

	search.found = false;
	search.tag = "wgt-b";
	CHECK_EQ_INT(tun_link_cb(nlh, &search), 0);
	CHECK(!search.found);
}

/* A message too short for its struct ifinfomsg is malformed, not a link to look into. */
UNIT_TEST(link_message_shorter_than_its_header_is_refused)
{
	uint8_t buf[512];
	struct tun_link link;
	struct tun_search search = { .tag = "wgt-a", .out = &link };
	struct nlmsghdr *nlh = put_tun_message(buf, "wgt-a", "tun", sizeof("tun"));

	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + sizeof(struct ifinfomsg) - 4;
	CHECK_EQ_INT(tun_link_cb(nlh, &search), -EBADMSG);
	CHECK(!search.found);
}

/* IFLA_INFO_KIND without its NUL: read as a C string it runs into whatever follows. */
UNIT_TEST(link_kind_must_be_terminated)
{
	uint8_t buf[512];
	struct tun_link link;
	struct tun_search search = { .tag = "wgt-a", .out = &link };
	struct nlmsghdr *nlh = put_tun_message(buf, "wgt-a", "tun", strlen("tun"));

	CHECK_EQ_INT(tun_link_cb(nlh, &search), 0);
	CHECK(!search.found);
}

UNIT_MAIN("tun", UNIT_CASE(persistent_tun_devices), UNIT_CASE(link_message_names_the_tagged_tun),
	  UNIT_CASE(link_message_shorter_than_its_header_is_refused),
	  UNIT_CASE(link_kind_must_be_terminated))
