// SPDX-License-Identifier: MIT
/* rtnetlink helpers and netns sockets, in network namespaces this process makes for itself and
 * that vanish with it. Needs root (unshare); without it the tests say so and pass. */
#include "driver/rtnl.c"

#include "netns.h"
#include "unit.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static bool in_private_netns;

UNIT_TEST(enter_private_netns)
{
	in_private_netns = unshare(CLONE_NEWNET) == 0;
	if (!in_private_netns)
		fprintf(stderr, "  note: unshare(CLONE_NEWNET): %s; rtnl tests skipped\n",
			strerror(errno));
}

/* A persistent TUN link, or a wireguard link where /dev/net/tun is missing (the VM). */
static int scratch_link_create(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int fd, ret = 0;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return rtnl_link_create_wireguard(name, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int link_mtu(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd, mtu = -1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd >= 0 && ioctl(fd, SIOCGIFMTU, &ifr) == 0)
		mtu = ifr.ifr_mtu;
	if (fd >= 0)
		close(fd);
	return mtu;
}

static ino_t netns_inode(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_ino : 0;
}

UNIT_TEST(exists_and_delete_tolerate_missing_links)
{
	UNIT_SKIP_IF(!in_private_netns, "cannot create a network namespace");
	CHECK(rtnl_link_exists("lo"));
	CHECK(!rtnl_link_exists("nosuch0"));
	CHECK_EQ_INT(rtnl_link_delete("nosuch0"), 0);
	CHECK(!rtnl_link_exists(""));
	CHECK(!rtnl_link_exists("a-name-far-too-long"));
	CHECK_EQ_INT(rtnl_link_delete("a-name-far-too-long"), -EINVAL);
}

UNIT_TEST(create_wireguard)
{
	int ret;

	UNIT_SKIP_IF(!in_private_netns, "cannot create a network namespace");
	CHECK_EQ_INT(rtnl_link_create_wireguard("lo", 0), -EEXIST);
	CHECK_EQ_INT(rtnl_link_create_wireguard("a-name-far-too-long", 0), -EINVAL);
	ret = rtnl_link_create_wireguard("wgunit0", 1380);
	if (access("/sys/module/wireguard", F_OK)) {
		CHECK_EQ_INT(ret, -EOPNOTSUPP);
		CHECK(!rtnl_link_exists("wgunit0"));
		return;
	}
	CHECK_EQ_INT(ret, 0);
	CHECK(rtnl_link_exists("wgunit0"));
	CHECK_EQ_INT(link_mtu("wgunit0"), 1380);
	CHECK_EQ_INT(rtnl_link_create_wireguard("wgunit0", 0), -EEXIST);
	CHECK_EQ_INT(rtnl_link_delete("wgunit0"), 0);
	CHECK(!rtnl_link_exists("wgunit0"));
}

UNIT_TEST(set_mtu_and_delete_a_link)
{
	UNIT_SKIP_IF(!in_private_netns, "cannot create a network namespace");
	CHECK_EQ_INT(scratch_link_create("rtunit0"), 0);
	CHECK(rtnl_link_exists("rtunit0"));
	CHECK_EQ_INT(rtnl_link_set_mtu("rtunit0", 1300), 0);
	CHECK_EQ_INT(link_mtu("rtunit0"), 1300);
	CHECK_EQ_INT(rtnl_link_set_mtu("nosuch0", 1300), -ENODEV);
	CHECK_EQ_INT(rtnl_link_set_mtu("rtunit0", 0), -EINVAL);
	CHECK_EQ_INT(rtnl_link_delete("rtunit0"), 0);
	CHECK(!rtnl_link_exists("rtunit0"));
}

/* A socket opened through netns_socket() sees the other namespace's links, and the thread is
 * back in its own namespace afterwards. */
UNIT_TEST(netns_socket_talks_to_the_other_namespace)
{
	uint8_t buf[RTNL_REQUEST_SIZE];
	char path[64];
	ino_t here;
	struct nlsock sock;
	int fd;

	UNIT_SKIP_IF(!in_private_netns, "cannot create a network namespace");
	CHECK_EQ_INT(scratch_link_create("inner0"), 0);
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	CHECK(unshare(CLONE_NEWNET) == 0);
	here = netns_inode("/proc/thread-self/ns/net");
	CHECK(!rtnl_link_exists("inner0"));

	CHECK_EQ_INT(nlsock_open(&sock, NETLINK_ROUTE, path), 0);
	CHECK_EQ_INT(netns_inode("/proc/thread-self/ns/net"), here);
	CHECK_EQ_INT(nlsock_talk(&sock, link_request(buf, RTM_GETLINK, 0, "inner0"), NULL, NULL),
		     0);
	CHECK_EQ_INT(nlsock_talk(&sock, link_request(buf, RTM_GETLINK, 0, "nosuch0"), NULL, NULL),
		     -ENODEV);
	nlsock_close(&sock);

	CHECK_EQ_INT(netns_socket("/nonexistent/netns", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE),
		     -ENOENT);
	CHECK_EQ_INT(netns_socket("/dev/null", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE), -EINVAL);
	CHECK_EQ_INT(netns_inode("/proc/thread-self/ns/net"), here);
	close(fd);
}

UNIT_MAIN("rtnl", UNIT_CASE(enter_private_netns),
	  UNIT_CASE(exists_and_delete_tolerate_missing_links), UNIT_CASE(create_wireguard),
	  UNIT_CASE(set_mtu_and_delete_a_link),
	  UNIT_CASE(netns_socket_talks_to_the_other_namespace))
