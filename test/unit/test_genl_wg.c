// SPDX-License-Identifier: MIT
#include "driver/genl_wg.c"

#include "unit.h"

#include <arpa/inet.h>
#include <linux/genetlink.h>

#define FAMILY	      0x1d
#define SEQ	      4242
#define PORTID	      777
#define MAX_FRAGMENTS 4096
#define MAX_MESSAGES  4096

/* One peer nest as found in a SET_DEVICE message. */
struct fragment {
	uint8_t public_key[WG_KEY_LEN];
	bool has_public_key, has_preshared_key, has_endpoint, has_flags;
	uint8_t preshared_key[WG_KEY_LEN];
	uint8_t endpoint[sizeof(struct sockaddr_in6)];
	size_t endpoint_len;
	uint32_t flags;
	struct wg_allowedip allowedips[8];
	size_t n_allowedips;
	size_t message;
};

struct decoded_message {
	char ifname[IFNAMSIZ];
	bool has_private_key, has_listen_port, has_flags, has_peers;
	uint8_t private_key[WG_KEY_LEN];
	uint16_t listen_port;
	uint32_t flags;
};

/* Every message of one SET_DEVICE change, walked back with mnl_attr_parse. */
struct decoded {
	struct decoded_message msgs[MAX_MESSAGES];
	size_t n_msgs;
	struct fragment frags[MAX_FRAGMENTS];
	size_t n_frags;
	int bad; /* attributes that should not be there or failed validation */
};

static struct decoded dec;

static void fill_key(uint8_t key[WG_KEY_LEN], unsigned seed, uint8_t tag)
{
	for (size_t i = 0; i < WG_KEY_LEN; i++)
		key[i] = (uint8_t)(seed * 31 + i * 7 + tag);
	key[0] = tag;
	key[1] = (uint8_t)seed;
	key[2] = (uint8_t)(seed >> 8);
}

/* Peers with a mix of preshared keys, IPv4/IPv6/no endpoint and 0, 1 or 2 allowed IPs. */
static struct wg_peer *make_peers(size_t n)
{
	struct wg_peer *peers = calloc(n, sizeof(*peers));

	for (size_t i = 0; i < n; i++) {
		struct wg_peer *p = &peers[i];

		fill_key(p->public_key, (unsigned)i, 0x50);
		if (i % 2 == 0) {
			fill_key(p->preshared_key, (unsigned)i, 0x70);
			p->has_preshared_key = true;
		}
		if (i % 3 == 0) {
			p->endpoint.addr4.sin_family = AF_INET;
			p->endpoint.addr4.sin_port = htons(51820 + i);
			p->endpoint.addr4.sin_addr.s_addr = htonl(0x7f000001);
		} else if (i % 3 == 1) {
			p->endpoint.addr6.sin6_family = AF_INET6;
			p->endpoint.addr6.sin6_port = htons(40000 + i);
			p->endpoint.addr6.sin6_addr = in6addr_loopback;
		}
		if (i % 7 != 3) {
			p->allowedips[0].family = AF_INET;
			p->allowedips[0].ip4.s_addr = htonl(0x0a000000 + (uint32_t)i);
			p->allowedips[0].cidr = 32;
			p->n_allowedips = 1;
		}
		if (i % 5 != 4 && i % 7 != 3) {
			p->allowedips[1].family = AF_INET6;
			inet_pton(AF_INET6, "fd00::", &p->allowedips[1].ip6);
			p->allowedips[1].ip6.s6_addr[14] = (uint8_t)(i >> 8);
			p->allowedips[1].ip6.s6_addr[15] = (uint8_t)i;
			p->allowedips[1].cidr = 128;
			p->n_allowedips = 2;
		}
	}
	return peers;
}

static int allowedip_attr_cb(const struct nlattr *attr, void *data)
{
	struct wg_allowedip *ip = data;

	switch (mnl_attr_get_type(attr)) {
	case WGALLOWEDIP_A_FAMILY: ip->family = mnl_attr_get_u16(attr); break;
	case WGALLOWEDIP_A_IPADDR:
		memcpy(&ip->ip6, mnl_attr_get_payload(attr), mnl_attr_get_payload_len(attr));
		break;
	case WGALLOWEDIP_A_CIDR_MASK: ip->cidr = mnl_attr_get_u8(attr); break;
	default: dec.bad++;
	}
	return MNL_CB_OK;
}

static int allowedip_entry_cb(const struct nlattr *attr, void *data)
{
	struct fragment *frag = data;

	if (frag->n_allowedips == 8)
		return MNL_CB_ERROR;
	return mnl_attr_parse_nested(attr, allowedip_attr_cb,
				     &frag->allowedips[frag->n_allowedips++]);
}

static int peer_attr_cb(const struct nlattr *attr, void *data)
{
	struct fragment *frag = data;

	switch (mnl_attr_get_type(attr)) {
	case WGPEER_A_PUBLIC_KEY:
		CHECK_EQ_INT(mnl_attr_get_payload_len(attr), WG_KEY_LEN);
		memcpy(frag->public_key, mnl_attr_get_payload(attr), WG_KEY_LEN);
		frag->has_public_key = true;
		break;
	case WGPEER_A_PRESHARED_KEY:
		CHECK_EQ_INT(mnl_attr_get_payload_len(attr), WG_KEY_LEN);
		memcpy(frag->preshared_key, mnl_attr_get_payload(attr), WG_KEY_LEN);
		frag->has_preshared_key = true;
		break;
	case WGPEER_A_ENDPOINT:
		frag->endpoint_len = mnl_attr_get_payload_len(attr);
		memcpy(frag->endpoint, mnl_attr_get_payload(attr), frag->endpoint_len);
		frag->has_endpoint = true;
		break;
	case WGPEER_A_FLAGS:
		CHECK(mnl_attr_validate(attr, MNL_TYPE_U32) == 0);
		frag->flags = mnl_attr_get_u32(attr);
		frag->has_flags = true;
		break;
	case WGPEER_A_ALLOWEDIPS: return mnl_attr_parse_nested(attr, allowedip_entry_cb, frag);
	default: dec.bad++;
	}
	return MNL_CB_OK;
}

static int peer_entry_cb(const struct nlattr *attr, void *data)
{
	struct fragment *frag;

	if (dec.n_frags == MAX_FRAGMENTS)
		return MNL_CB_ERROR;
	frag = &dec.frags[dec.n_frags++];
	frag->message = dec.n_msgs - 1;
	return mnl_attr_parse_nested(attr, peer_attr_cb, frag);
}

static int device_attr_cb(const struct nlattr *attr, void *data)
{
	struct decoded_message *msg = data;

	switch (mnl_attr_get_type(attr)) {
	case WGDEVICE_A_IFNAME:
		CHECK(mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0);
		snprintf(msg->ifname, sizeof(msg->ifname), "%s", mnl_attr_get_str(attr));
		break;
	case WGDEVICE_A_PRIVATE_KEY:
		memcpy(msg->private_key, mnl_attr_get_payload(attr), WG_KEY_LEN);
		msg->has_private_key = true;
		break;
	case WGDEVICE_A_LISTEN_PORT:
		msg->listen_port = mnl_attr_get_u16(attr);
		msg->has_listen_port = true;
		break;
	case WGDEVICE_A_FLAGS:
		msg->flags = mnl_attr_get_u32(attr);
		msg->has_flags = true;
		break;
	case WGDEVICE_A_PEERS:
		msg->has_peers = true;
		return mnl_attr_parse_nested(attr, peer_entry_cb, NULL);
	default: dec.bad++;
	}
	return MNL_CB_OK;
}

static void decode_message(const struct nlmsghdr *nlh, size_t buflen)
{
	const struct genlmsghdr *genl = mnl_nlmsg_get_payload(nlh);
	struct decoded_message *msg = &dec.msgs[dec.n_msgs++];

	CHECK(nlh->nlmsg_len <= buflen);
	CHECK_EQ_INT(nlh->nlmsg_type, FAMILY);
	CHECK_EQ_INT(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	CHECK_EQ_INT(genl->cmd, WG_CMD_SET_DEVICE);
	CHECK_EQ_INT(genl->version, WG_GENL_VERSION);
	CHECK_EQ_INT(mnl_attr_parse(nlh, sizeof(*genl), device_attr_cb, msg), MNL_CB_OK);
}

/* Builds every message of SET with BUFLEN-byte buffers (exactly that size, so the sanitizer
 * sees any overrun) and decodes them. Returns the last build result: 0 or -errno. */
static int build_all(struct genl_wg_set *set, size_t buflen)
{
	int ret;

	memset(&dec, 0, sizeof(dec));
	do {
		uint8_t *buf = malloc(buflen);

		ret = genl_wg_build_set(set, buf, buflen, FAMILY);
		if (ret >= 0)
			decode_message((struct nlmsghdr *)buf, buflen);
		free(buf);
	} while (ret == 1 && dec.n_msgs < MAX_MESSAGES);
	return ret;
}

static bool same_allowedip(const struct wg_allowedip *a, const struct wg_allowedip *b)
{
	size_t len = a->family == AF_INET6 ? sizeof(a->ip6) : sizeof(a->ip4);

	return a->family == b->family && a->cidr == b->cidr && !memcmp(&a->ip6, &b->ip6, len);
}

static size_t endpoint_len(const struct wg_peer *p)
{
	if (p->endpoint.addr.sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (p->endpoint.addr.sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

/* Checks that the decoded fragments, joined, say exactly what SET asked for, and that only a
 * peer's first fragment carries what must not be repeated. */
static void check_reassembly(const struct genl_wg_set *set)
{
	size_t f = 0;

	CHECK(dec.n_msgs >= 1);
	CHECK_EQ_INT(dec.bad, 0);
	for (size_t m = 0; m < dec.n_msgs; m++) {
		CHECK(!strcmp(dec.msgs[m].ifname, set->ifname));
		CHECK_EQ_INT(dec.msgs[m].has_private_key, m == 0 && set->private_key);
		CHECK_EQ_INT(dec.msgs[m].has_listen_port, m == 0 && set->listen_port);
		CHECK_EQ_INT(dec.msgs[m].has_flags, m == 0 && set->device_flags);
	}
	if (set->private_key)
		CHECK(!memcmp(dec.msgs[0].private_key, set->private_key, WG_KEY_LEN));
	if (set->listen_port)
		CHECK_EQ_INT(dec.msgs[0].listen_port, set->listen_port);
	for (size_t p = 0; p < set->n_peers; p++) {
		const struct wg_peer *want = &set->peers[p];
		uint32_t peer_flags = p < set->n_remove ? WGPEER_F_REMOVE_ME : set->peer_flags;
		bool remove = peer_flags & WGPEER_F_REMOVE_ME;
		size_t n_ips = 0, first = f;

		if (f >= dec.n_frags) {
			CHECK(!"peer missing from the messages");
			return;
		}
		/* a removal is one fragment: a renewed key's set that follows is the next peer */
		for (; f < dec.n_frags &&
		       !memcmp(dec.frags[f].public_key, want->public_key, WG_KEY_LEN) &&
		       (f == first || !remove);
		     f++) {
			const struct fragment *got = &dec.frags[f];
			uint32_t flags = peer_flags;

			CHECK(got->has_public_key);
			if (f != first) {
				flags &= ~(uint32_t)WGPEER_F_REPLACE_ALLOWEDIPS;
				CHECK(!got->has_preshared_key);
				CHECK(!got->has_endpoint);
				/* a peer continues only in the next message */
				CHECK_EQ_INT(got->message, dec.frags[f - 1].message + 1);
			}
			CHECK_EQ_INT(got->has_flags, flags != 0);
			CHECK_EQ_INT(got->flags, flags);
			for (size_t i = 0; i < got->n_allowedips; i++, n_ips++)
				CHECK(n_ips < want->n_allowedips &&
				      same_allowedip(&got->allowedips[i],
						     &want->allowedips[n_ips]));
		}
		CHECK(f > first);
		if (f == first)
			return;
		CHECK_EQ_INT(n_ips, remove ? 0 : want->n_allowedips);
		CHECK_EQ_INT(dec.frags[first].has_preshared_key, !remove);
		if (!remove && want->has_preshared_key)
			CHECK(!memcmp(dec.frags[first].preshared_key, want->preshared_key,
				      WG_KEY_LEN));
		if (!remove && !want->has_preshared_key)
			CHECK(sodium_is_zero(dec.frags[first].preshared_key, WG_KEY_LEN));
		CHECK_EQ_INT(dec.frags[first].endpoint_len, remove ? 0 : endpoint_len(want));
		if (!remove && endpoint_len(want))
			CHECK(!memcmp(dec.frags[first].endpoint, &want->endpoint,
				      endpoint_len(want)));
	}
	CHECK_EQ_INT(f, dec.n_frags);
}

UNIT_TEST(set_fits_one_message)
{
	struct wg_peer *peers = make_peers(3);
	uint8_t priv[WG_KEY_LEN];
	struct genl_wg_set set = { .ifname = "wgtest0",
				   .private_key = priv,
				   .listen_port = 51820,
				   .device_flags = WGDEVICE_F_REPLACE_PEERS,
				   .peers = peers,
				   .n_peers = 3,
				   .peer_flags = WGPEER_F_REPLACE_ALLOWEDIPS };

	fill_key(priv, 1, 0x11);
	CHECK_EQ_INT(build_all(&set, GENL_WG_SET_SIZE), 0);
	CHECK_EQ_INT(dec.n_msgs, 1);
	CHECK_EQ_INT(dec.n_frags, 3);
	CHECK_EQ_INT(dec.msgs[0].flags, WGDEVICE_F_REPLACE_PEERS);
	CHECK_EQ_INT(dec.frags[0].endpoint_len, sizeof(struct sockaddr_in));
	CHECK_EQ_INT(dec.frags[1].endpoint_len, sizeof(struct sockaddr_in6));
	CHECK_EQ_INT(dec.frags[2].has_endpoint, false);
	CHECK_EQ_INT(dec.frags[0].n_allowedips, 2);
	check_reassembly(&set);
	free(peers);
}

UNIT_TEST(set_without_peers_has_no_peers_nest)
{
	struct genl_wg_set set = { .ifname = "wgtest0", .listen_port = 1 };

	CHECK_EQ_INT(build_all(&set, GENL_WG_SET_SIZE), 0);
	CHECK_EQ_INT(dec.n_msgs, 1);
	CHECK(!dec.msgs[0].has_peers);
	CHECK(!dec.msgs[0].has_private_key);
	CHECK(!dec.msgs[0].has_flags);
	CHECK_EQ_INT(dec.msgs[0].listen_port, 1);
}

UNIT_TEST(set_splits_many_peers)
{
	struct wg_peer *peers = make_peers(300);
	uint8_t priv[WG_KEY_LEN];
	struct genl_wg_set set = { .ifname = "wgtest0",
				   .private_key = priv,
				   .listen_port = 51820,
				   .peers = peers,
				   .n_peers = 300,
				   .peer_flags = WGPEER_F_REPLACE_ALLOWEDIPS };

	fill_key(priv, 2, 0x11);
	CHECK_EQ_INT(build_all(&set, GENL_WG_SET_SIZE), 0);
	CHECK(dec.n_msgs > 1);
	CHECK(dec.n_frags >= 300);
	check_reassembly(&set);
	free(peers);
}

/* Every buffer size from tiny to roomy: a change either arrives whole, split at any attribute,
 * or is refused with -EMSGSIZE when a single piece cannot fit; it never loops. */
UNIT_TEST(set_splits_at_every_buffer_size)
{
	static const uint32_t flag_sets[] = { 0, WGPEER_F_REPLACE_ALLOWEDIPS, WGPEER_F_REMOVE_ME };
	struct wg_peer *peers = make_peers(12);
	uint8_t priv[WG_KEY_LEN];
	size_t mid_peer_splits = 0;

	fill_key(priv, 3, 0x11);
	for (size_t f = 0; f < sizeof(flag_sets) / sizeof(flag_sets[0]); f++) {
		size_t largest_refused = 0, smallest_accepted = SIZE_MAX;

		for (size_t buflen = 16; buflen <= 900; buflen++) {
			struct genl_wg_set set = { .ifname = "wgtest0",
						   .private_key = priv,
						   .listen_port = 51820,
						   .peers = peers,
						   .n_peers = 12,
						   .peer_flags = flag_sets[f] };
			int ret = build_all(&set, buflen);

			CHECK(dec.n_msgs < MAX_MESSAGES);
			if (ret == -EMSGSIZE) {
				largest_refused =
					buflen > largest_refused ? buflen : largest_refused;
				continue;
			}
			CHECK_EQ_INT(ret, 0);
			smallest_accepted = buflen < smallest_accepted ? buflen : smallest_accepted;
			check_reassembly(&set);
			for (size_t i = 1; i < dec.n_frags; i++)
				if (!memcmp(dec.frags[i].public_key, dec.frags[i - 1].public_key,
					    WG_KEY_LEN))
					mid_peer_splits++;
		}
		/* the largest single piece: a peer's head (key, PSK, IPv6 endpoint, flags) */
		CHECK(largest_refused > 0 && largest_refused < 160);
		CHECK(largest_refused < smallest_accepted);
	}
	CHECK(mid_peer_splits > 0);
	free(peers);
}

UNIT_TEST(set_remove_sends_key_and_flag_only)
{
	struct wg_peer *peers = make_peers(1);
	struct genl_wg_set set = { .ifname = "wg0",
				   .peers = peers,
				   .n_peers = 1,
				   .peer_flags = WGPEER_F_REMOVE_ME };

	CHECK_EQ_INT(build_all(&set, GENL_WG_SET_SIZE), 0);
	CHECK_EQ_INT(dec.n_frags, 1);
	CHECK_EQ_INT(dec.frags[0].flags, WGPEER_F_REMOVE_ME);
	CHECK(!dec.frags[0].has_preshared_key);
	CHECK(!dec.frags[0].has_endpoint);
	CHECK_EQ_INT(dec.frags[0].n_allowedips, 0);
	CHECK(!dec.msgs[0].has_private_key && !dec.msgs[0].has_listen_port);
	free(peers);
}

/* A batch: removals and sets in one change, a renewed key removed before it is set again, each
 * peer with its own flags, split anywhere. */
UNIT_TEST(set_removes_then_sets_in_one_change)
{
	struct wg_peer *peers = make_peers(10);
	size_t splits = 0;

	/* peers[0..3] are removed; peers[3] comes back as peers[4] (same key): renewed */
	memcpy(peers[4].public_key, peers[3].public_key, WG_KEY_LEN);
	for (size_t buflen = 160; buflen <= GENL_WG_SET_SIZE; buflen += buflen < 900 ? 1 : 512) {
		struct genl_wg_set set = { .ifname = "wgtest0",
					   .peers = peers,
					   .n_peers = 10,
					   .n_remove = 4,
					   .peer_flags = WGPEER_F_REPLACE_ALLOWEDIPS };

		CHECK_EQ_INT(build_all(&set, buflen), 0);
		check_reassembly(&set);
		CHECK_EQ_INT(dec.frags[0].flags, WGPEER_F_REMOVE_ME);
		CHECK(!memcmp(dec.frags[3].public_key, peers[3].public_key, WG_KEY_LEN));
		CHECK_EQ_INT(dec.frags[3].flags, WGPEER_F_REMOVE_ME);
		CHECK(!memcmp(dec.frags[4].public_key, peers[3].public_key, WG_KEY_LEN));
		CHECK_EQ_INT(dec.frags[4].flags, WGPEER_F_REPLACE_ALLOWEDIPS);
		splits += dec.n_msgs > 1;
		if (buflen == GENL_WG_SET_SIZE)
			CHECK_EQ_INT(dec.n_msgs, 1);
	}
	CHECK(splits > 0);
	free(peers);
}

UNIT_TEST(set_rejects_bad_names)
{
	uint8_t buf[256];
	struct genl_wg_set set = { .ifname = "a-name-far-too-long" };

	CHECK_EQ_INT(genl_wg_build_set(&set, buf, sizeof(buf), FAMILY), -EINVAL);
	set.ifname = "";
	CHECK_EQ_INT(genl_wg_build_set(&set, buf, sizeof(buf), FAMILY), -EINVAL);
	set.ifname = NULL;
	CHECK_EQ_INT(genl_wg_build_set(&set, buf, sizeof(buf), FAMILY), -EINVAL);
}

/* A synthetic GET_DEVICE dump, laid out as the kernel sends it. */
struct dump {
	uint8_t buf[65536];
	size_t len;
};

static struct nlmsghdr *dump_message(struct dump *d, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(d->buf + d->len);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = PORTID;
	if (type >= NLMSG_MIN_TYPE) {
		genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
		genl->cmd = WG_CMD_GET_DEVICE;
		genl->version = WG_GENL_VERSION;
	}
	return nlh;
}

static void dump_end(struct dump *d, struct nlmsghdr *nlh)
{
	d->len += MNL_ALIGN(nlh->nlmsg_len);
}

static void dump_done(struct dump *d, int code, uint16_t flags)
{
	struct nlmsghdr *nlh = dump_message(d, NLMSG_DONE, NLM_F_MULTI | flags, SEQ);
	int *payload = mnl_nlmsg_put_extra_header(nlh, sizeof(int));

	*payload = code;
	dump_end(d, nlh);
}

static void put_allowedip_nest(struct nlmsghdr *nlh, int family, const char *addr, uint8_t cidr)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, 0);
	uint8_t bytes[16];

	inet_pton(family, addr, bytes);
	mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, cidr);
	mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, (uint16_t)family);
	mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, family == AF_INET ? 4 : 16, bytes);
	mnl_attr_nest_end(nlh, nest);
}

/* A peer as get_peer() in the kernel writes it: every attribute, u64 counters after a type-0
 * padding attribute. */
static void put_full_peer(struct nlmsghdr *nlh, const uint8_t key[WG_KEY_LEN],
			  const uint8_t psk[WG_KEY_LEN], const void *endpoint, size_t endpoint_len)
{
	int64_t handshake[2] = { 1700000000, 5 };

	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, key);
	mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN, psk);
	mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(handshake), handshake);
	mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 0);
	mnl_attr_put(nlh, WGPEER_A_UNSPEC, 0, NULL);
	mnl_attr_put_u64(nlh, WGPEER_A_TX_BYTES, 1234);
	mnl_attr_put(nlh, WGPEER_A_UNSPEC, 0, NULL);
	mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, 5678);
	mnl_attr_put_u32(nlh, WGPEER_A_PROTOCOL_VERSION, 1);
	if (endpoint)
		mnl_attr_put(nlh, WGPEER_A_ENDPOINT, endpoint_len, endpoint);
}

static uint8_t key_a[WG_KEY_LEN], key_b[WG_KEY_LEN], key_c[WG_KEY_LEN], psk_a[WG_KEY_LEN];
static uint8_t own_private[WG_KEY_LEN], own_public[WG_KEY_LEN];

/* Message 1: the device and peer A with one allowed IP; message 2: peer A continued with a
 * second allowed IP, then peer B; message 3: peer C. A stale message of another request sits in
 * front. */
static void build_sample_dump(struct dump *d)
{
	static const uint8_t zero[WG_KEY_LEN];
	struct sockaddr_in a_endpoint = { .sin_family = AF_INET,
					  .sin_port = htons(51821),
					  .sin_addr.s_addr = htonl(0x7f000001) };
	struct sockaddr_in6 b_endpoint = { .sin6_family = AF_INET6,
					   .sin6_port = htons(51822),
					   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct nlattr *peers, *peer, *ips;
	struct nlmsghdr *nlh;

	fill_key(key_a, 1, 0xa0);
	fill_key(key_b, 2, 0xb0);
	fill_key(key_c, 3, 0xc0);
	fill_key(psk_a, 4, 0xd0);
	fill_key(own_private, 5, 0xe0);
	fill_key(own_public, 6, 0xf0);
	d->len = 0;

	nlh = dump_message(d, FAMILY, NLM_F_MULTI, SEQ - 1);
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "stale");
	dump_end(d, nlh);

	nlh = dump_message(d, FAMILY, NLM_F_MULTI, SEQ);
	mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, 51820);
	mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, 0);
	mnl_attr_put_u32(nlh, WGDEVICE_A_IFINDEX, 7);
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "wg0");
	mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, own_private);
	mnl_attr_put(nlh, WGDEVICE_A_PUBLIC_KEY, WG_KEY_LEN, own_public);
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	put_full_peer(nlh, key_a, psk_a, &a_endpoint, sizeof(a_endpoint));
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	put_allowedip_nest(nlh, AF_INET, "10.0.0.2", 32);
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
	dump_end(d, nlh);

	nlh = dump_message(d, FAMILY, NLM_F_MULTI, SEQ);
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, key_a);
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	put_allowedip_nest(nlh, AF_INET6, "fd00::2", 128);
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
	peer = mnl_attr_nest_start(nlh, 0);
	put_full_peer(nlh, key_b, zero, &b_endpoint, sizeof(b_endpoint));
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	put_allowedip_nest(nlh, AF_INET, "10.0.0.3", 32);
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
	dump_end(d, nlh);

	nlh = dump_message(d, FAMILY, NLM_F_MULTI, SEQ);
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	put_full_peer(nlh, key_c, zero, NULL, 0);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
	dump_end(d, nlh);
}

static struct nlsock_reply sample_reply(struct wg_device *dev)
{
	struct nlsock_reply reply = { .seq = SEQ,
				      .portid = PORTID,
				      .cb = genl_wg_parse_device,
				      .data = dev };

	memset(dev, 0, sizeof(*dev));
	return reply;
}

UNIT_TEST(get_dump_is_merged_into_one_device)
{
	static struct dump d;
	struct wg_device dev;
	struct nlsock_reply reply = sample_reply(&dev);
	struct in_addr ip4;
	struct in6_addr ip6;
	size_t half;

	build_sample_dump(&d);
	half = d.len;
	dump_done(&d, 0, 0);
	/* in two reads: the reply is not over before NLMSG_DONE */
	nlsock_reply_feed(&reply, d.buf, half);
	CHECK(!reply.done);
	CHECK_EQ_INT(reply.error, 0);
	nlsock_reply_feed(&reply, d.buf + half, d.len - half);
	CHECK(reply.done);
	CHECK_EQ_INT(reply.error, 0);

	CHECK(!strcmp(dev.name, "wg0"));
	CHECK_EQ_INT(dev.listen_port, 51820);
	CHECK(!memcmp(dev.public_key, own_public, WG_KEY_LEN));
	CHECK(!dev.has_private_key);
	CHECK(sodium_is_zero(dev.private_key, WG_KEY_LEN));
	CHECK_EQ_INT(dev.n_peers, 3);
	if (dev.n_peers != 3)
		goto out;

	CHECK(!memcmp(dev.peers[0].public_key, key_a, WG_KEY_LEN));
	CHECK(dev.peers[0].has_preshared_key);
	CHECK(!memcmp(dev.peers[0].preshared_key, psk_a, WG_KEY_LEN));
	CHECK_EQ_INT(dev.peers[0].last_handshake_sec, 1700000000);
	CHECK_EQ_INT(dev.peers[0].tx_bytes, 1234);
	CHECK_EQ_INT(dev.peers[0].rx_bytes, 5678);
	CHECK_EQ_INT(dev.peers[0].endpoint.addr4.sin_family, AF_INET);
	CHECK_EQ_INT(ntohs(dev.peers[0].endpoint.addr4.sin_port), 51821);
	CHECK_EQ_INT(dev.peers[0].n_allowedips, 2);
	inet_pton(AF_INET, "10.0.0.2", &ip4);
	inet_pton(AF_INET6, "fd00::2", &ip6);
	CHECK_EQ_INT(dev.peers[0].allowedips[0].family, AF_INET);
	CHECK_EQ_INT(dev.peers[0].allowedips[0].cidr, 32);
	CHECK(dev.peers[0].allowedips[0].ip4.s_addr == ip4.s_addr);
	CHECK_EQ_INT(dev.peers[0].allowedips[1].family, AF_INET6);
	CHECK_EQ_INT(dev.peers[0].allowedips[1].cidr, 128);
	CHECK(!memcmp(&dev.peers[0].allowedips[1].ip6, &ip6, sizeof(ip6)));

	CHECK(!memcmp(dev.peers[1].public_key, key_b, WG_KEY_LEN));
	CHECK(!dev.peers[1].has_preshared_key);
	CHECK_EQ_INT(dev.peers[1].endpoint.addr6.sin6_family, AF_INET6);
	CHECK_EQ_INT(ntohs(dev.peers[1].endpoint.addr6.sin6_port), 51822);
	CHECK_EQ_INT(dev.peers[1].n_allowedips, 1);

	CHECK(!memcmp(dev.peers[2].public_key, key_c, WG_KEY_LEN));
	CHECK_EQ_INT(dev.peers[2].endpoint.addr.sa_family, 0);
	CHECK_EQ_INT(dev.peers[2].n_allowedips, 0);
out:
	wgdev_clear(&dev);
}

UNIT_TEST(get_dump_interrupted_reports_eintr_at_its_end)
{
	static struct dump d;
	struct wg_device dev;
	struct nlsock_reply reply = sample_reply(&dev);
	struct nlmsghdr *nlh;

	build_sample_dump(&d);
	nlh = dump_message(&d, FAMILY, NLM_F_MULTI | NLM_F_DUMP_INTR, SEQ);
	mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "changed");
	dump_end(&d, nlh);
	nlsock_reply_feed(&reply, d.buf, d.len);
	CHECK_EQ_INT(reply.error, -EINTR);
	CHECK(!reply.done); /* read on to NLMSG_DONE so the socket is ready for the retry */
	d.len = 0;
	dump_done(&d, 0, NLM_F_DUMP_INTR);
	nlsock_reply_feed(&reply, d.buf, d.len);
	CHECK(reply.done);
	CHECK_EQ_INT(reply.error, -EINTR);
	CHECK(!strcmp(dev.name, "wg0"));
	wgdev_clear(&dev);
}

UNIT_TEST(get_dump_done_carries_the_error)
{
	static struct dump d;
	struct wg_device dev;
	struct nlsock_reply reply = sample_reply(&dev);

	d.len = 0;
	dump_done(&d, -EMSGSIZE, 0);
	nlsock_reply_feed(&reply, d.buf, d.len);
	CHECK(reply.done);
	CHECK_EQ_INT(reply.error, -EMSGSIZE);
	wgdev_clear(&dev);
}

UNIT_TEST(get_error_ack_ends_the_reply)
{
	static struct dump d;
	struct wg_device dev;
	struct nlsock_reply reply = sample_reply(&dev);
	struct nlmsghdr *nlh;
	struct nlmsgerr *err;

	d.len = 0;
	nlh = dump_message(&d, NLMSG_ERROR, 0, SEQ);
	err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err));
	err->error = -ENODEV;
	dump_end(&d, nlh);
	nlsock_reply_feed(&reply, d.buf, d.len);
	CHECK(reply.done);
	CHECK_EQ_INT(reply.error, -ENODEV);
	CHECK_EQ_INT(dev.n_peers, 0);
	wgdev_clear(&dev);
}

UNIT_TEST(get_truncated_message_is_an_error)
{
	static struct dump d;
	struct wg_device dev;
	struct nlsock_reply reply = sample_reply(&dev);

	build_sample_dump(&d);
	nlsock_reply_feed(&reply, d.buf, d.len - 10);
	CHECK(reply.done);
	CHECK_EQ_INT(reply.error, -EBADMSG);
	wgdev_clear(&dev);
}

UNIT_TEST(get_peer_with_too_many_allowedips_is_e2big)
{
	static struct dump d;
	struct wg_device dev;
	struct nlsock_reply reply = sample_reply(&dev);
	struct nlattr *peers, *peer, *ips;
	struct nlmsghdr *nlh;

	build_sample_dump(&d);
	nlh = dump_message(&d, FAMILY, NLM_F_MULTI, SEQ);
	peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
	peer = mnl_attr_nest_start(nlh, 0);
	mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, key_c);
	ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
	put_allowedip_nest(nlh, AF_INET, "10.0.0.4", 32);
	put_allowedip_nest(nlh, AF_INET, "10.0.0.5", 32);
	put_allowedip_nest(nlh, AF_INET, "10.0.0.6", 32);
	mnl_attr_nest_end(nlh, ips);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, peers);
	dump_end(&d, nlh);
	dump_done(&d, 0, 0);
	nlsock_reply_feed(&reply, d.buf, d.len);
	CHECK(reply.done);
	CHECK_EQ_INT(reply.error, -E2BIG);
	wgdev_clear(&dev);
}

/* Many peers, several per message: the peer array grows past its first sizes. */
UNIT_TEST(get_many_peers_grow_the_array)
{
	static struct dump d;
	struct wg_device dev;
	struct nlsock_reply reply = sample_reply(&dev);
	uint8_t key[WG_KEY_LEN];

	d.len = 0;
	for (unsigned m = 0; m < 10; m++) {
		struct nlmsghdr *nlh = dump_message(&d, FAMILY, NLM_F_MULTI, SEQ);
		struct nlattr *peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);

		for (unsigned p = 0; p < 7; p++) {
			struct nlattr *peer = mnl_attr_nest_start(nlh, 0);

			fill_key(key, m * 7 + p, 0x33);
			mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, key);
			mnl_attr_nest_end(nlh, peer);
		}
		mnl_attr_nest_end(nlh, peers);
		dump_end(&d, nlh);
	}
	dump_done(&d, 0, 0);
	nlsock_reply_feed(&reply, d.buf, d.len);
	CHECK_EQ_INT(reply.error, 0);
	CHECK_EQ_INT(dev.n_peers, 70);
	for (unsigned i = 0; i < dev.n_peers; i++) {
		fill_key(key, i, 0x33);
		CHECK(!memcmp(dev.peers[i].public_key, key, WG_KEY_LEN));
	}
	wgdev_clear(&dev);
}

static struct nlmsghdr *family_reply(uint8_t *buf, uint16_t id)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = GENL_ID_CTRL;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_NEWFAMILY;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
	mnl_attr_put_u16(nlh, CTRL_ATTR_FAMILY_ID, id);
	return nlh;
}

UNIT_TEST(family_reply_gives_the_id)
{
	uint8_t buf[128];
	uint16_t family = 0;

	CHECK_EQ_INT(family_id_cb(family_reply(buf, FAMILY), &family), 0);
	CHECK_EQ_INT(family, FAMILY);
}

/* A message too short for its struct genlmsghdr is malformed, whichever reply it is in. */
UNIT_TEST(messages_shorter_than_their_header_are_refused)
{
	uint8_t buf[128];
	struct nlmsghdr *nlh = family_reply(buf, FAMILY);
	struct wg_device dev = { 0 };
	uint16_t family = 0;

	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 2;
	CHECK_EQ_INT(family_id_cb(nlh, &family), -EBADMSG);
	CHECK_EQ_INT(family, 0);
	nlh->nlmsg_type = FAMILY;
	CHECK_EQ_INT(genl_wg_parse_device(nlh, &dev), -EBADMSG);
	CHECK_EQ_INT(dev.n_peers, 0);
}

UNIT_MAIN("genl_wg", UNIT_CASE(set_fits_one_message),
	  UNIT_CASE(set_without_peers_has_no_peers_nest), UNIT_CASE(set_splits_many_peers),
	  UNIT_CASE(set_splits_at_every_buffer_size), UNIT_CASE(set_remove_sends_key_and_flag_only),
	  UNIT_CASE(set_removes_then_sets_in_one_change), UNIT_CASE(set_rejects_bad_names),
	  UNIT_CASE(get_dump_is_merged_into_one_device),
	  UNIT_CASE(get_dump_interrupted_reports_eintr_at_its_end),
	  UNIT_CASE(get_dump_done_carries_the_error), UNIT_CASE(get_error_ack_ends_the_reply),
	  UNIT_CASE(get_truncated_message_is_an_error),
	  UNIT_CASE(get_peer_with_too_many_allowedips_is_e2big),
	  UNIT_CASE(get_many_peers_grow_the_array), UNIT_CASE(family_reply_gives_the_id),
	  UNIT_CASE(messages_shorter_than_their_header_are_refused))
