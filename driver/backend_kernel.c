// SPDX-License-Identifier: MIT
/*
 * The kernel backend: links of kind "wireguard" made over rtnetlink, configured over generic
 * netlink. A link is created in the host namespace under the driver's name; Docker then moves it
 * into the container and renames it wg0, so later changes look for it there by public key.
 */
#include "backend.h"

#include "genl_wg.h"
#include "nlsock.h"
#include "rtnl.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* A container on several WireGuard networks has one link per network. */
#define SANDBOX_LINKS_MAX 64

struct link_names {
	char name[SANDBOX_LINKS_MAX][IFNAMSIZ];
	size_t n;
};

/* An operation on the device named IFNAME, through WG's socket. */
typedef int (*link_op)(struct genl_wg *wg, const char *ifname, void *arg);

static int kernel_link_create(const struct wg_device *dev, uint16_t *port)
{
	struct wg_device now = { 0 };
	struct genl_wg_set set = {
		.ifname = dev->name,
		.private_key = dev->has_private_key ? dev->private_key : NULL,
		.listen_port = dev->listen_port,
		.peers = dev->peers,
		.n_peers = dev->n_peers,
	};
	struct genl_wg wg = { 0 };
	int ret;

	ret = rtnl_link_create_wireguard(dev->name, dev->mtu);
	if (ret)
		return ret;
	ret = genl_wg_open(&wg, NULL);
	if (ret)
		goto err_delete_link;
	ret = genl_wg_set_device(&wg, &set);
	/* With port 0 the kernel picked one when it bound the socket: read it back. */
	if (!ret)
		ret = genl_wg_get_device(&wg, dev->name, &now);
	genl_wg_close(&wg);
	if (ret)
		goto err_delete_link;
	*port = now.listen_port;
	wgdev_clear(&now);
	return 0;

err_delete_link:
	wgdev_clear(&now);
	rtnl_link_delete(dev->name);
	return ret;
}

static int kernel_link_delete(const char *ifname)
{
	return rtnl_link_delete(ifname);
}

static int linkinfo_kind_cb(const struct nlattr *attr, void *data)
{
	if (mnl_attr_get_type(attr) == IFLA_INFO_KIND &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		*(const char **)data = mnl_attr_get_str(attr);
	return MNL_CB_OK;
}

static int collect_wireguard_link(const struct nlmsghdr *nlh, void *data)
{
	struct link_names *names = data;
	const char *ifname = NULL, *kind = NULL;
	const struct nlattr *attr;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return 0;
	mnl_attr_for_each (attr, nlh, sizeof(struct ifinfomsg)) {
		if (mnl_attr_get_type(attr) == IFLA_IFNAME &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			ifname = mnl_attr_get_str(attr);
		else if (mnl_attr_get_type(attr) == IFLA_LINKINFO)
			mnl_attr_parse_nested(attr, linkinfo_kind_cb, &kind);
	}
	if (!ifname || !kind || strcmp(kind, "wireguard") || strlen(ifname) >= IFNAMSIZ ||
	    names->n == SANDBOX_LINKS_MAX)
		return 0;
	strcpy(names->name[names->n++], ifname);
	return 0;
}

static void forget_names(void *data)
{
	((struct link_names *)data)->n = 0;
}

/* Lists the links of kind wireguard in the network namespace file NETNS. */
static int list_wireguard_links(const char *netns, struct link_names *names)
{
	return rtnl_link_dump(netns, collect_wireguard_link, names, forget_names);
}

/* Finds, among the wireguard links in LINK's sandbox, the one whose device has LINK's public
 * key and port, through WG (a socket opened in the sandbox); writes its name into IFNAME. When
 * none has the key, the one link with LINK's port is it: every link's socket is in the host
 * namespace, so no two share a port, and a link whose new key never reached it (a daemon
 * stopped between an identity change and its programming) is still found by it. */
static int sandbox_find_link(const struct wg_link_ref *link, struct genl_wg *wg,
			     char ifname[IFNAMSIZ])
{
	struct link_names names;
	struct wg_device dev;
	size_t by_port = 0, by_port_at = 0;
	bool key, port;
	int ret;

	ret = list_wireguard_links(link->sandbox, &names);
	if (ret)
		return ret;
	for (size_t i = 0; i < names.n; i++) {
		ret = genl_wg_get_device(wg, names.name[i], &dev);
		key = !ret && !sodium_memcmp(dev.public_key, link->public_key, WG_KEY_LEN);
		port = !ret && link->listen_port && dev.listen_port == link->listen_port;
		wgdev_clear(&dev);
		if (key && (port || !link->listen_port)) {
			memcpy(ifname, names.name[i], IFNAMSIZ);
			return 0;
		}
		if (port && by_port++ == 0)
			by_port_at = i;
	}
	if (by_port != 1)
		return -ENODEV;
	memcpy(ifname, names.name[by_port_at], IFNAMSIZ);
	return 0;
}

/* Runs OP on LINK: by its creation name in the host namespace, else inside its sandbox. */
static int link_apply(const struct wg_link_ref *link, link_op op, void *arg)
{
	char ifname[IFNAMSIZ];
	struct genl_wg wg;
	int ret;

	ret = genl_wg_open(&wg, NULL);
	if (ret)
		return ret;
	ret = op(&wg, link->ifname, arg);
	genl_wg_close(&wg);
	if (ret != -ENODEV || !link->sandbox || !link->public_key)
		return ret;
	ret = genl_wg_open(&wg, link->sandbox);
	if (ret)
		return ret == -ENOENT ? -ENODEV : ret;
	ret = sandbox_find_link(link, &wg, ifname);
	if (!ret)
		ret = op(&wg, ifname, arg);
	genl_wg_close(&wg);
	return ret;
}

struct peer_change {
	const struct wg_peer *peer;
	uint32_t flags; /* WGPEER_F_* */
};

static int op_peer_change(struct genl_wg *wg, const char *ifname, void *arg)
{
	const struct peer_change *change = arg;
	struct genl_wg_set set = {
		.ifname = ifname,
		.peers = change->peer,
		.n_peers = 1,
		.peer_flags = change->flags,
	};

	return genl_wg_set_device(wg, &set);
}

static int op_device_get(struct genl_wg *wg, const char *ifname, void *arg)
{
	return genl_wg_get_device(wg, ifname, arg);
}

static int op_device_set(struct genl_wg *wg, const char *ifname, void *arg)
{
	const struct wg_device *dev = arg;
	struct genl_wg_set set = {
		.ifname = ifname,
		.private_key = dev->has_private_key ? dev->private_key : NULL,
		.listen_port = dev->listen_port,
		.device_flags = WGDEVICE_F_REPLACE_PEERS,
		.peers = dev->peers,
		.n_peers = dev->n_peers,
		.peer_flags = WGPEER_F_REPLACE_ALLOWEDIPS,
	};

	return genl_wg_set_device(wg, &set);
}

static int kernel_peer_set(const struct wg_link_ref *link, const struct wg_peer *peer)
{
	struct peer_change change = { .peer = peer, .flags = WGPEER_F_REPLACE_ALLOWEDIPS };

	return link_apply(link, op_peer_change, &change);
}

static int kernel_peer_remove(const struct wg_link_ref *link, const uint8_t public_key[WG_KEY_LEN])
{
	struct wg_peer peer = { 0 };
	struct peer_change change = { .peer = &peer, .flags = WGPEER_F_REMOVE_ME };

	memcpy(peer.public_key, public_key, WG_KEY_LEN);
	return link_apply(link, op_peer_change, &change);
}

/* One WG_CMD_SET_DEVICE for the whole batch (split over messages by genl_wg_set_device): the
 * removals first, then the peers to set, in one peers list with flags of their own. */
static int op_peers_apply(struct genl_wg *wg, const char *ifname, void *arg)
{
	struct genl_wg_set set = *(const struct genl_wg_set *)arg;

	set.ifname = ifname;
	return genl_wg_set_device(wg, &set);
}

static int kernel_peers_apply(const struct wg_link_ref *link, const struct wg_peer *set,
			      size_t n_set, const uint8_t (*remove)[WG_KEY_LEN], size_t n_remove)
{
	struct genl_wg_set change = { .n_peers = n_remove + n_set,
				      .n_remove = n_remove,
				      .peer_flags = WGPEER_F_REPLACE_ALLOWEDIPS };
	struct wg_peer *peers;
	int ret;

	if (!change.n_peers)
		return 0;
	peers = calloc(change.n_peers, sizeof(*peers));
	if (!peers)
		return -ENOMEM;
	for (size_t i = 0; i < n_remove; i++)
		memcpy(peers[i].public_key, remove[i], WG_KEY_LEN);
	if (n_set)
		memcpy(&peers[n_remove], set, n_set * sizeof(*set));
	change.peers = peers;
	ret = link_apply(link, op_peers_apply, &change);
	sodium_memzero(peers, change.n_peers * sizeof(*peers));
	free(peers);
	return ret;
}

static int kernel_device_get(const struct wg_link_ref *link, struct wg_device *out)
{
	memset(out, 0, sizeof(*out));
	return link_apply(link, op_device_get, out);
}

static int kernel_device_set(const struct wg_link_ref *link, const struct wg_device *dev)
{
	return link_apply(link, op_device_set, (void *)dev);
}

static bool kernel_link_exists(const struct wg_link_ref *link)
{
	char ifname[IFNAMSIZ];
	struct genl_wg wg;
	int ret;

	if (rtnl_link_exists(link->ifname))
		return true;
	if (!link->sandbox || !link->public_key || genl_wg_open(&wg, link->sandbox))
		return false;
	ret = sandbox_find_link(link, &wg, ifname);
	genl_wg_close(&wg);
	return ret == 0;
}

const struct backend_ops backend_kernel = {
	.name = "kernel",
	.link_create = kernel_link_create,
	.link_delete = kernel_link_delete,
	.peer_set = kernel_peer_set,
	.peer_remove = kernel_peer_remove,
	.peers_apply = kernel_peers_apply,
	.device_get = kernel_device_get,
	.link_exists = kernel_link_exists,
	.device_set = kernel_device_set,
};
