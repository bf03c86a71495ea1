// SPDX-License-Identifier: MIT
#include "rtnl.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>

/* Room for the ifinfomsg request with IFNAME, MTU and a LINKINFO nest. */
#define RTNL_REQUEST_SIZE 256

static bool ifname_valid(const char *ifname)
{
	size_t len = strnlen(ifname, IFNAMSIZ);

	return len > 0 && len < IFNAMSIZ;
}

static struct nlmsghdr *link_request(void *buf, uint16_t type, uint16_t flags, const char *ifname)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	/* With ifi_index 0 the kernel finds the link by IFLA_IFNAME. */
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	return nlh;
}

int rtnl_talk(const char *netns, struct nlmsghdr *nlh, nlsock_cb cb, void *data)
{
	struct nlsock sock;
	int ret;

	ret = nlsock_open(&sock, NETLINK_ROUTE, netns);
	if (ret)
		return ret;
	ret = nlsock_talk(&sock, nlh, cb, data);
	nlsock_close(&sock);
	return ret;
}

int rtnl_link_dump(const char *netns, nlsock_cb cb, void *data, void (*start)(void *data))
{
	uint8_t buf[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct ifinfomsg))];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct nlsock sock;
	int ret, tries = 0;

	ret = nlsock_open(&sock, NETLINK_ROUTE, netns);
	if (ret)
		return ret;
	do {
		start(data);
		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = RTM_GETLINK;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
		ifi->ifi_family = AF_UNSPEC;
		ret = nlsock_talk(&sock, nlh, cb, data);
	} while (ret == -EINTR && ++tries < RTNL_DUMP_TRIES);
	nlsock_close(&sock);
	return ret;
}

int rtnl_link_create_wireguard(const char *ifname, uint32_t mtu)
{
	uint8_t buf[RTNL_REQUEST_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *linkinfo;

	if (!ifname_valid(ifname))
		return -EINVAL;
	nlh = link_request(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifname);
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "wireguard");
	mnl_attr_nest_end(nlh, linkinfo);
	/* The kernel answers -EOPNOTSUPP ("Unknown device type") when the kind has no module. */
	return rtnl_talk(NULL, nlh, NULL, NULL);
}

int rtnl_link_set_mtu(const char *ifname, uint32_t mtu)
{
	uint8_t buf[RTNL_REQUEST_SIZE];
	struct nlmsghdr *nlh;

	if (!ifname_valid(ifname) || !mtu)
		return -EINVAL;
	nlh = link_request(buf, RTM_NEWLINK, 0, ifname);
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return rtnl_talk(NULL, nlh, NULL, NULL);
}

int rtnl_link_delete(const char *ifname)
{
	uint8_t buf[RTNL_REQUEST_SIZE];
	int ret;

	if (!ifname_valid(ifname))
		return -EINVAL;
	ret = rtnl_talk(NULL, link_request(buf, RTM_DELLINK, 0, ifname), NULL, NULL);
	return ret == -ENODEV ? 0 : ret;
}

bool rtnl_link_exists(const char *ifname)
{
	uint8_t buf[RTNL_REQUEST_SIZE];

	if (!ifname_valid(ifname))
		return false;
	return rtnl_talk(NULL, link_request(buf, RTM_GETLINK, 0, ifname), NULL, NULL) == 0;
}
