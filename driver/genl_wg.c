// SPDX-License-Identifier: MIT
#include "genl_wg.h"

#include <errno.h>
#include <linux/genetlink.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Room for a GET_DEVICE or CTRL_CMD_GETFAMILY request. */
#define GENL_WG_SMALL_SIZE 128

static struct nlmsghdr *genl_request(void *buf, uint16_t family, uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = family == GENL_ID_CTRL ? 1 : WG_GENL_VERSION;
	return nlh;
}

static int family_id_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *attr;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct genlmsghdr))
		return -EBADMSG;
	mnl_attr_for_each (attr, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID &&
		    mnl_attr_validate(attr, MNL_TYPE_U16) == 0)
			*(uint16_t *)data = mnl_attr_get_u16(attr);
	}
	return 0;
}

int genl_wg_open(struct genl_wg *wg, const char *netns)
{
	uint8_t buf[GENL_WG_SMALL_SIZE];
	struct nlmsghdr *nlh;
	int ret;

	wg->family = 0;
	ret = nlsock_open(&wg->sock, NETLINK_GENERIC, netns);
	if (ret)
		return ret;
	nlh = genl_request(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	ret = nlsock_talk(&wg->sock, nlh, family_id_cb, &wg->family);
	if (ret == -ENOENT)
		ret = -EPROTONOSUPPORT;
	else if (!ret && !wg->family)
		ret = -EPROTO;
	if (ret)
		genl_wg_close(wg);
	return ret;
}

void genl_wg_close(struct genl_wg *wg)
{
	nlsock_close(&wg->sock);
	wg->family = 0;
}

static bool put_device(struct nlmsghdr *nlh, size_t buflen, const struct genl_wg_set *set)
{
	if (set->private_key &&
	    !mnl_attr_put_check(nlh, buflen, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, set->private_key))
		return false;
	if (set->listen_port &&
	    !mnl_attr_put_u16_check(nlh, buflen, WGDEVICE_A_LISTEN_PORT, set->listen_port))
		return false;
	if (set->device_flags &&
	    !mnl_attr_put_u32_check(nlh, buflen, WGDEVICE_A_FLAGS, set->device_flags))
		return false;
	return true;
}

static bool put_endpoint(struct nlmsghdr *nlh, size_t buflen, const struct wg_peer *peer)
{
	switch (peer->endpoint.addr.sa_family) {
	case AF_INET:
		return mnl_attr_put_check(nlh, buflen, WGPEER_A_ENDPOINT,
					  sizeof(peer->endpoint.addr4), &peer->endpoint.addr4);
	case AF_INET6:
		return mnl_attr_put_check(nlh, buflen, WGPEER_A_ENDPOINT,
					  sizeof(peer->endpoint.addr6), &peer->endpoint.addr6);
	default: return true;
	}
}

/* The attributes of a peer's first fragment only: repeating them would, for
 * REPLACE_ALLOWEDIPS, drop the allowed IPs the earlier fragments added. */
static bool put_peer_head(struct nlmsghdr *nlh, size_t buflen, uint32_t flags,
			  const struct wg_peer *peer)
{
	static const uint8_t no_key[WG_KEY_LEN];

	if (flags & WGPEER_F_REMOVE_ME)
		return true;
	if (!mnl_attr_put_check(nlh, buflen, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN,
				peer->has_preshared_key ? peer->preshared_key : no_key))
		return false;
	/* A network's keepalive is fixed at its creation: 0 never has to undo another value. */
	if (peer->persistent_keepalive &&
	    !mnl_attr_put_u16_check(nlh, buflen, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
				    peer->persistent_keepalive))
		return false;
	return put_endpoint(nlh, buflen, peer);
}

static bool put_allowedip(struct nlmsghdr *nlh, size_t buflen, const struct wg_allowedip *ip)
{
	size_t len = ip->family == AF_INET6 ? sizeof(ip->ip6) : sizeof(ip->ip4);

	return mnl_attr_put_u16_check(nlh, buflen, WGALLOWEDIP_A_FAMILY, ip->family) &&
	       mnl_attr_put_check(nlh, buflen, WGALLOWEDIP_A_IPADDR, len, &ip->ip6) &&
	       mnl_attr_put_u8_check(nlh, buflen, WGALLOWEDIP_A_CIDR_MASK, ip->cidr);
}

struct set_nests {
	struct nlattr *peers, *peer, *allowedips, *allowedip;
	bool peer_named; /* the open peer nest holds its public key and head: keep it */
};

/* Puts the peer at SET's cursor, advancing the cursor over what fitted. false when the buffer
 * filled up; NESTS then says which nests are open. */
static bool put_peer(struct nlmsghdr *nlh, size_t buflen, struct genl_wg_set *set,
		     struct set_nests *nests)
{
	const struct wg_peer *peer = &set->peers[set->next_peer];
	uint32_t flags = set->next_peer < set->n_remove ? WGPEER_F_REMOVE_ME : set->peer_flags;
	bool first = !set->peer_started;

	nests->peer = mnl_attr_nest_start_check(nlh, buflen, 0);
	if (!nests->peer ||
	    !mnl_attr_put_check(nlh, buflen, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, peer->public_key))
		return false;
	if (!first)
		flags &= ~(uint32_t)WGPEER_F_REPLACE_ALLOWEDIPS;
	if (first && !put_peer_head(nlh, buflen, flags, peer))
		return false;
	if (flags && !mnl_attr_put_u32_check(nlh, buflen, WGPEER_A_FLAGS, flags))
		return false;
	nests->peer_named = true;
	set->peer_started = true;
	if (peer->n_allowedips && !(flags & WGPEER_F_REMOVE_ME)) {
		nests->allowedips = mnl_attr_nest_start_check(nlh, buflen, WGPEER_A_ALLOWEDIPS);
		if (!nests->allowedips)
			return false;
		for (; set->next_allowedip < peer->n_allowedips; set->next_allowedip++) {
			nests->allowedip = mnl_attr_nest_start_check(nlh, buflen, 0);
			if (!nests->allowedip ||
			    !put_allowedip(nlh, buflen, &peer->allowedips[set->next_allowedip]))
				return false;
			mnl_attr_nest_end(nlh, nests->allowedip);
			nests->allowedip = NULL;
		}
		mnl_attr_nest_end(nlh, nests->allowedips);
		nests->allowedips = NULL;
	}
	mnl_attr_nest_end(nlh, nests->peer);
	nests->peer = NULL;
	nests->peer_named = false;
	set->next_peer++;
	set->next_allowedip = 0;
	set->peer_started = false;
	return true;
}

/* Closes what put_peer left open when the buffer filled: a half-written allowed IP, or a peer
 * nest without its public key and head (the kernel rejects a peer without a key), is dropped
 * and goes in the next message. */
static void close_full(struct nlmsghdr *nlh, struct set_nests *nests)
{
	if (nests->allowedip)
		mnl_attr_nest_cancel(nlh, nests->allowedip);
	if (nests->allowedips)
		mnl_attr_nest_end(nlh, nests->allowedips);
	if (nests->peer && nests->peer_named)
		mnl_attr_nest_end(nlh, nests->peer);
	else if (nests->peer)
		mnl_attr_nest_cancel(nlh, nests->peer);
	mnl_attr_nest_end(nlh, nests->peers);
}

int genl_wg_build_set(struct genl_wg_set *set, void *buf, size_t buflen, uint16_t family)
{
	size_t start_peer = set->next_peer, start_ip = set->next_allowedip;
	bool start_started = set->peer_started, progress = false;
	struct set_nests nests = { 0 };
	struct nlmsghdr *nlh;

	if (!set->ifname || !*set->ifname || strlen(set->ifname) >= IFNAMSIZ)
		return -EINVAL;
	if (buflen < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct genlmsghdr)))
		return -EMSGSIZE;
	nlh = genl_request(buf, family, WG_CMD_SET_DEVICE, NLM_F_ACK);
	/* Every message names the device: the kernel handles each one on its own. */
	if (!mnl_attr_put_strz_check(nlh, buflen, WGDEVICE_A_IFNAME, set->ifname))
		return -EMSGSIZE;
	if (!set->device_sent) {
		if (!put_device(nlh, buflen, set))
			return -EMSGSIZE;
		set->device_sent = true;
		progress = true;
	}
	if (set->next_peer >= set->n_peers)
		return 0;
	nests.peers = mnl_attr_nest_start_check(nlh, buflen, WGDEVICE_A_PEERS);
	if (!nests.peers)
		return progress ? 1 : -EMSGSIZE;
	while (set->next_peer < set->n_peers) {
		if (!put_peer(nlh, buflen, set, &nests)) {
			close_full(nlh, &nests);
			progress = progress || set->next_peer != start_peer ||
				   set->next_allowedip != start_ip ||
				   set->peer_started != start_started;
			return progress ? 1 : -EMSGSIZE;
		}
	}
	mnl_attr_nest_end(nlh, nests.peers);
	return 0;
}

int genl_wg_set_device(struct genl_wg *wg, struct genl_wg_set *set)
{
	uint8_t *buf;
	int more, ret;

	buf = malloc(GENL_WG_SET_SIZE);
	if (!buf)
		return -ENOMEM;
	do {
		more = genl_wg_build_set(set, buf, GENL_WG_SET_SIZE, wg->family);
		if (more < 0) {
			ret = more;
			break;
		}
		ret = nlsock_talk(&wg->sock, (struct nlmsghdr *)buf, NULL, NULL);
	} while (!ret && more);
	sodium_memzero(buf, GENL_WG_SET_SIZE);
	free(buf);
	return ret;
}

static int parse_allowedip(const struct nlattr *nest, struct wg_allowedip *ip)
{
	const struct nlattr *attr;
	size_t addr_len = 0;
	bool has_cidr = false;

	memset(ip, 0, sizeof(*ip));
	mnl_attr_for_each_nested (attr, nest) {
		switch (mnl_attr_get_type(attr)) {
		case WGALLOWEDIP_A_FAMILY:
			if (mnl_attr_validate(attr, MNL_TYPE_U16))
				return -EBADMSG;
			ip->family = mnl_attr_get_u16(attr);
			break;
		case WGALLOWEDIP_A_IPADDR:
			addr_len = mnl_attr_get_payload_len(attr);
			if (addr_len != sizeof(ip->ip4) && addr_len != sizeof(ip->ip6))
				return -EBADMSG;
			memcpy(&ip->ip6, mnl_attr_get_payload(attr), addr_len);
			break;
		case WGALLOWEDIP_A_CIDR_MASK:
			if (mnl_attr_validate(attr, MNL_TYPE_U8))
				return -EBADMSG;
			ip->cidr = mnl_attr_get_u8(attr);
			has_cidr = true;
			break;
		}
	}
	if (ip->family == AF_INET && addr_len == sizeof(ip->ip4) && has_cidr && ip->cidr <= 32)
		return 0;
	if (ip->family == AF_INET6 && addr_len == sizeof(ip->ip6) && has_cidr && ip->cidr <= 128)
		return 0;
	return -EBADMSG;
}

static int parse_allowedips(const struct nlattr *nest, struct wg_peer *peer)
{
	const struct nlattr *attr;
	int ret;

	mnl_attr_for_each_nested (attr, nest) {
		if (peer->n_allowedips == WGDEV_MAX_ALLOWEDIPS)
			return -E2BIG;
		ret = parse_allowedip(attr, &peer->allowedips[peer->n_allowedips]);
		if (ret)
			return ret;
		peer->n_allowedips++;
	}
	return 0;
}

static void parse_endpoint(const struct nlattr *attr, struct wg_peer *peer)
{
	size_t len = mnl_attr_get_payload_len(attr);
	sa_family_t family;

	if (len < sizeof(family))
		return;
	memcpy(&family, mnl_attr_get_payload(attr), sizeof(family));
	if ((family == AF_INET && len == sizeof(peer->endpoint.addr4)) ||
	    (family == AF_INET6 && len == sizeof(peer->endpoint.addr6)))
		memcpy(&peer->endpoint, mnl_attr_get_payload(attr), len);
}

static int parse_key(const struct nlattr *attr, uint8_t key[WG_KEY_LEN])
{
	if (mnl_attr_get_payload_len(attr) != WG_KEY_LEN)
		return -EBADMSG;
	memcpy(key, mnl_attr_get_payload(attr), WG_KEY_LEN);
	return 0;
}

static int parse_u64(const struct nlattr *attr, uint64_t *out)
{
	if (mnl_attr_validate(attr, MNL_TYPE_U64))
		return -EBADMSG;
	*out = mnl_attr_get_u64(attr);
	return 0;
}

static int parse_peer_attr(const struct nlattr *attr, struct wg_peer *peer, bool *named)
{
	int64_t handshake[2];

	switch (mnl_attr_get_type(attr)) {
	case WGPEER_A_PUBLIC_KEY: *named = true; return parse_key(attr, peer->public_key);
	case WGPEER_A_PRESHARED_KEY:
		if (parse_key(attr, peer->preshared_key))
			return -EBADMSG;
		peer->has_preshared_key = !sodium_is_zero(peer->preshared_key, WG_KEY_LEN);
		return 0;
	case WGPEER_A_ENDPOINT: parse_endpoint(attr, peer); return 0;
	case WGPEER_A_LAST_HANDSHAKE_TIME:
		/* struct __kernel_timespec: two s64, also on 32-bit hosts */
		if (mnl_attr_get_payload_len(attr) != sizeof(handshake))
			return -EBADMSG;
		memcpy(handshake, mnl_attr_get_payload(attr), sizeof(handshake));
		peer->last_handshake_sec = handshake[0];
		return 0;
	case WGPEER_A_RX_BYTES: return parse_u64(attr, &peer->rx_bytes);
	case WGPEER_A_TX_BYTES: return parse_u64(attr, &peer->tx_bytes);
	case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
		if (mnl_attr_validate(attr, MNL_TYPE_U16))
			return -EBADMSG;
		peer->persistent_keepalive = mnl_attr_get_u16(attr);
		return 0;
	case WGPEER_A_ALLOWEDIPS: return parse_allowedips(attr, peer);
	default:
		/* WGPEER_A_UNSPEC is the padding the kernel puts before 64-bit counters. */
		return 0;
	}
}

/* A peer continued from the previous message repeats only its public key and allowed IPs. */
static int device_add_peer(struct wg_device *dev, const struct wg_peer *peer)
{
	struct wg_peer *last = dev->n_peers ? &dev->peers[dev->n_peers - 1] : NULL;
	struct wg_peer *slot;

	if (last && !memcmp(last->public_key, peer->public_key, WG_KEY_LEN)) {
		if (last->n_allowedips + peer->n_allowedips > WGDEV_MAX_ALLOWEDIPS)
			return -E2BIG;
		memcpy(&last->allowedips[last->n_allowedips], peer->allowedips,
		       peer->n_allowedips * sizeof(peer->allowedips[0]));
		last->n_allowedips += peer->n_allowedips;
		return 0;
	}
	slot = wgdev_peer_append(dev);
	if (!slot)
		return -ENOMEM;
	*slot = *peer;
	return 0;
}

static int parse_peer(const struct nlattr *nest, struct wg_device *dev)
{
	struct wg_peer peer = { 0 };
	const struct nlattr *attr;
	bool named = false;
	int ret = 0;

	mnl_attr_for_each_nested (attr, nest) {
		ret = parse_peer_attr(attr, &peer, &named);
		if (ret)
			goto out;
	}
	ret = named ? device_add_peer(dev, &peer) : -EBADMSG;
out:
	sodium_memzero(&peer, sizeof(peer));
	return ret;
}

static int parse_device_attr(const struct nlattr *attr, struct wg_device *dev)
{
	const struct nlattr *peer;
	int ret;

	switch (mnl_attr_get_type(attr)) {
	case WGDEVICE_A_IFNAME:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) ||
		    mnl_attr_get_payload_len(attr) > sizeof(dev->name))
			return -EBADMSG;
		memcpy(dev->name, mnl_attr_get_str(attr), mnl_attr_get_payload_len(attr));
		return 0;
	case WGDEVICE_A_PUBLIC_KEY: return parse_key(attr, dev->public_key);
	case WGDEVICE_A_LISTEN_PORT:
		if (mnl_attr_validate(attr, MNL_TYPE_U16))
			return -EBADMSG;
		dev->listen_port = mnl_attr_get_u16(attr);
		return 0;
	case WGDEVICE_A_PEERS:
		mnl_attr_for_each_nested (peer, attr) {
			ret = parse_peer(peer, dev);
			if (ret)
				return ret;
		}
		return 0;
	default:
		/* WGDEVICE_A_PRIVATE_KEY is left in the message: nothing here needs it. */
		return 0;
	}
}

int genl_wg_parse_device(const struct nlmsghdr *nlh, void *data)
{
	const struct genlmsghdr *genl = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	int ret;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*genl) || genl->cmd != WG_CMD_GET_DEVICE)
		return -EBADMSG;
	mnl_attr_for_each (attr, nlh, sizeof(*genl)) {
		ret = parse_device_attr(attr, data);
		if (ret)
			return ret;
	}
	return 0;
}

int genl_wg_get_device(struct genl_wg *wg, const char *ifname, struct wg_device *out)
{
	uint8_t buf[GENL_WG_SMALL_SIZE];
	struct nlmsghdr *nlh;
	int ret, tries = 0;

	memset(out, 0, sizeof(*out));
	if (!ifname || !*ifname || strlen(ifname) >= IFNAMSIZ)
		return -EINVAL;
	do {
		wgdev_clear(out);
		nlh = genl_request(buf, wg->family, WG_CMD_GET_DEVICE, NLM_F_DUMP);
		mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
		ret = nlsock_talk(&wg->sock, nlh, genl_wg_parse_device, out);
	} while (ret == -EINTR && ++tries < GENL_WG_GET_TRIES);
	if (ret)
		wgdev_clear(out);
	return ret;
}
