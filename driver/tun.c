// SPDX-License-Identifier: MIT
#include "tun.h"

#include "netns.h"
#include "nlsock.h"
#include "rtnl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define TUN_CLONE_DEVICE "/dev/net/tun"
/* Room for an ifinfomsg request with a name and an alias. */
#define TUN_REQUEST_SIZE 256

/* Opens /dev/net/tun in NETNS and attaches it to NAME with FLAGS; returns the descriptor. */
static int tun_open(const char *netns, const char *name, uint16_t flags)
{
	struct ifreq ifr = { .ifr_flags = (short)flags };
	int fd, ret;

	if (strnlen(name, IFNAMSIZ) == IFNAMSIZ || !*name)
		return -EINVAL;
	fd = netns_open(netns, TUN_CLONE_DEVICE, O_RDWR);
	if (fd < 0)
		return fd;
	memcpy(ifr.ifr_name, name, strlen(name) + 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static struct nlmsghdr *link_request(void *buf, int ifindex)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nlh;
}

int tun_create_attached(const char *ifname, uint16_t flags)
{
	uint8_t buf[TUN_REQUEST_SIZE];
	struct nlmsghdr *nlh;
	int fd, ret;

	fd = tun_open(NULL, ifname, flags | IFF_TUN_EXCL);
	if (fd < 0)
		return fd == -EBUSY ? -EEXIST : fd;
	if (ioctl(fd, TUNSETPERSIST, 1) < 0) {
		ret = -errno;
		/* Not persistent: it goes with the descriptor. */
		close(fd);
		return ret;
	}
	nlh = link_request(buf, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	mnl_attr_put_strz(nlh, IFLA_IFALIAS, ifname);
	ret = rtnl_talk(NULL, nlh, NULL, NULL);
	if (ret) {
		close(fd);
		rtnl_link_delete(ifname);
		return ret;
	}
	return fd;
}

int tun_create(const char *ifname)
{
	/* Plain IFF_TUN: wireguard-go attaches with the flags of its own version, which then stay
	 * with the device for whoever attaches next. */
	int fd = tun_create_attached(ifname, IFF_TUN);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

struct tun_search {
	const char *tag;
	struct tun_link *out;
	bool found;
};

struct tun_info {
	const char *kind;
	const struct nlattr *data;
};

static int linkinfo_cb(const struct nlattr *attr, void *arg)
{
	struct tun_info *info = arg;

	/* MNL_TYPE_STRING would not check the NUL that strcmp() needs. */
	if (mnl_attr_get_type(attr) == IFLA_INFO_KIND &&
	    !mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
		info->kind = mnl_attr_get_str(attr);
	else if (mnl_attr_get_type(attr) == IFLA_INFO_DATA)
		info->data = attr;
	return MNL_CB_OK;
}

static int tun_data_cb(const struct nlattr *attr, void *arg)
{
	struct tun_link *link = arg;
	uint16_t type = mnl_attr_get_type(attr);
	uint8_t v;

	if (mnl_attr_validate(attr, MNL_TYPE_U8))
		return MNL_CB_OK;
	v = mnl_attr_get_u8(attr);
	switch (type) {
	case IFLA_TUN_TYPE: link->flags |= v & (IFF_TUN | IFF_TAP); break;
	case IFLA_TUN_PI: link->flags |= v ? 0 : IFF_NO_PI; break;
	case IFLA_TUN_VNET_HDR: link->flags |= v ? IFF_VNET_HDR : 0; break;
	case IFLA_TUN_MULTI_QUEUE: link->flags |= v ? IFF_MULTI_QUEUE : 0; break;
	}
	return MNL_CB_OK;
}

static int tun_link_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct tun_search *search = arg;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const char *name = NULL, *alias = NULL;
	struct tun_info info = { 0 };
	const struct nlattr *attr;
	bool carrier = false;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return -EBADMSG;
	if (search->found)
		return 0;
	mnl_attr_for_each (attr, nlh, sizeof(*ifi)) {
		uint16_t type = mnl_attr_get_type(attr);

		if (type == IFLA_IFNAME && !mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
			name = mnl_attr_get_str(attr);
		else if (type == IFLA_IFALIAS && !mnl_attr_validate(attr, MNL_TYPE_NUL_STRING))
			alias = mnl_attr_get_str(attr);
		else if (type == IFLA_LINKINFO)
			mnl_attr_parse_nested(attr, linkinfo_cb, &info);
		/* A TUN has a carrier exactly while a descriptor is attached to it. */
		else if (type == IFLA_CARRIER && !mnl_attr_validate(attr, MNL_TYPE_U8))
			carrier = mnl_attr_get_u8(attr);
	}
	if (!name || !alias || strcmp(alias, search->tag) || !info.kind ||
	    strcmp(info.kind, "tun") || !info.data || strlen(name) >= IFNAMSIZ)
		return 0;
	memset(search->out, 0, sizeof(*search->out));
	strcpy(search->out->name, name);
	search->out->ifindex = ifi->ifi_index;
	search->out->attached = carrier;
	mnl_attr_parse_nested(info.data, tun_data_cb, search->out);
	search->found = true;
	return 0;
}

static void search_start(void *data)
{
	((struct tun_search *)data)->found = false;
}

int tun_find(const char *netns, const char *tag, struct tun_link *out)
{
	struct tun_search search = { .tag = tag, .out = out };
	int ret;

	ret = rtnl_link_dump(netns, tun_link_cb, &search, search_start);
	if (!ret && !search.found)
		ret = -ENODEV;
	return ret;
}

int tun_attach(const char *netns, const struct tun_link *link)
{
	return tun_open(netns, link->name, link->flags);
}

int tun_placeholder(const char *ifname)
{
	int fd = tun_open(NULL, ifname, IFF_TUN | IFF_TUN_EXCL);

	return fd == -EBUSY ? -EEXIST : fd;
}

int tun_rename(const char *netns, int ifindex, const char *name)
{
	uint8_t buf[TUN_REQUEST_SIZE];
	struct nlmsghdr *nlh;

	if (strnlen(name, IFNAMSIZ) == IFNAMSIZ || !*name)
		return -EINVAL;
	nlh = link_request(buf, ifindex);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return rtnl_talk(netns, nlh, NULL, NULL);
}
