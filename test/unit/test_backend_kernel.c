// SPDX-License-Identifier: MIT
/* The kernel backend's plumbing that works without WireGuard in the kernel: finding wireguard
 * links in a sandbox, and failing cleanly. The real thing runs in the VM suite. */
#include "driver/backend_kernel.c"

#include "unit.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

static bool in_private_netns;
static bool kernel_has_wireguard;

/* The port the last link_create reports. */
static uint16_t port;

UNIT_TEST(enter_private_netns)
{
	in_private_netns = unshare(CLONE_NEWNET) == 0;
	if (!in_private_netns)
		fprintf(stderr, "  note: unshare(CLONE_NEWNET): %s; netlink tests skipped\n",
			strerror(errno));
	kernel_has_wireguard = access("/sys/module/wireguard", F_OK) == 0;
	if (in_private_netns && !kernel_has_wireguard) {
		/* creating a link loads the module where there is one (the VM suite) */
		rtnl_link_create_wireguard("wgprobe0", 0);
		rtnl_link_delete("wgprobe0");
		kernel_has_wireguard = access("/sys/module/wireguard", F_OK) == 0;
	}
	if (!kernel_has_wireguard)
		fprintf(stderr,
			"  note: no WireGuard in this kernel; kernel_link_* tests skipped\n");
}

static void put_link(uint8_t *buf, size_t *len, const char *ifname, const char *kind)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *len);
	struct ifinfomsg *ifi;
	struct nlattr *linkinfo;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = 9;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = (int)(*len + 1);
	mnl_attr_put_u32(nlh, IFLA_MTU, 1420);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	if (kind) {
		linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
		mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
		mnl_attr_nest_end(nlh, linkinfo);
	}
	*len += MNL_ALIGN(nlh->nlmsg_len);
}

UNIT_TEST(link_dump_keeps_only_wireguard_links)
{
	static uint8_t buf[8192];
	struct link_names names = { .n = 0 };
	struct nlsock_reply reply = { .seq = 9, .cb = collect_wireguard_link, .data = &names };
	struct nlmsghdr *done;
	size_t len = 0;

	put_link(buf, &len, "lo", NULL);
	put_link(buf, &len, "wg0", "wireguard");
	put_link(buf, &len, "eth0", "veth");
	put_link(buf, &len, "wg1", "wireguard");
	put_link(buf, &len, "tun0", "tun");
	done = mnl_nlmsg_put_header(buf + len);
	done->nlmsg_type = NLMSG_DONE;
	done->nlmsg_seq = 9;
	*(int *)mnl_nlmsg_put_extra_header(done, sizeof(int)) = 0;
	len += done->nlmsg_len;

	nlsock_reply_feed(&reply, buf, len);
	CHECK(reply.done);
	CHECK_EQ_INT(reply.error, 0);
	CHECK_EQ_INT(names.n, 2);
	CHECK(!strcmp(names.name[0], "wg0"));
	CHECK(!strcmp(names.name[1], "wg1"));
}

/* A kind without its NUL (the fuzzer's find): strcmp would read past the attribute. */
UNIT_TEST(a_link_kind_without_its_nul_is_not_read)
{
	static uint8_t buf[8192];
	struct link_names names = { .n = 0 };
	struct nlsock_reply reply = { .seq = 9, .cb = collect_wireguard_link, .data = &names };
	struct nlattr *linkinfo;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = 9;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = 1;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "wg0");
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put(nlh, IFLA_INFO_KIND, 4, "wire");
	mnl_attr_nest_end(nlh, linkinfo);
	nlsock_reply_feed(&reply, buf, MNL_ALIGN(nlh->nlmsg_len));
	CHECK_EQ_INT(names.n, 0);
}

/* A persistent TUN link; 0 without creating anything where /dev/net/tun is missing (the VM). */
static int tun_create(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int fd, ret = 0;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* A "sandbox" namespace holding a TUN (not wireguard) link: the lookup lists it and finds
 * nothing, and the caller's namespace is untouched. */
UNIT_TEST(sandbox_without_the_link)
{
	uint8_t key[WG_KEY_LEN] = { 1, 2, 3 };
	struct link_names names = { .n = 99 };
	struct wg_link_ref ref = { .ifname = "wgnosuch0", .public_key = key };
	char path[64];
	int fd;

	UNIT_SKIP_IF(!in_private_netns, "cannot create a network namespace");
	CHECK_EQ_INT(tun_create("tun0"), 0);
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	CHECK(unshare(CLONE_NEWNET) == 0);

	CHECK_EQ_INT(list_wireguard_links(path, &names), 0);
	CHECK_EQ_INT(names.n, 0);
	CHECK(!backend_kernel.link_exists(&ref));
	ref.sandbox = path;
	CHECK(!backend_kernel.link_exists(&ref));
	ref.sandbox = "/nonexistent/netns";
	CHECK(!backend_kernel.link_exists(&ref));
	ref.ifname = "lo";
	CHECK(backend_kernel.link_exists(&ref));
	close(fd);
}

UNIT_TEST(without_wireguard_everything_fails_cleanly)
{
	uint8_t key[WG_KEY_LEN] = { 4, 5, 6 };
	struct wg_link_ref ref = { .ifname = "wgunit0",
				   .sandbox = "/nonexistent",
				   .public_key = key };
	struct wg_peer peer = { .n_allowedips = 0 };
	struct wg_device dev = { .name = "wgunit0", .listen_port = 51820, .has_private_key = true };
	struct wg_device out;

	UNIT_SKIP_IF(!in_private_netns || kernel_has_wireguard,
		     "this kernel has WireGuard (checked on hosts without it)");
	CHECK_EQ_INT(backend_kernel.link_create(&dev, &port), -EOPNOTSUPP);
	CHECK(!rtnl_link_exists("wgunit0"));
	CHECK_EQ_INT(backend_kernel.link_delete("wgunit0"), 0);
	CHECK_EQ_INT(backend_kernel.peer_set(&ref, &peer), -EPROTONOSUPPORT);
	CHECK_EQ_INT(backend_kernel.peer_remove(&ref, key), -EPROTONOSUPPORT);
	memset(&out, 0xff, sizeof(out));
	CHECK_EQ_INT(backend_kernel.device_get(&ref, &out), -EPROTONOSUPPORT);
	CHECK(out.peers == NULL && out.n_peers == 0);
	wgdev_clear(&out);
	CHECK(!strcmp(backend_kernel.name, "kernel"));
}

/* From here on the kernel's own WireGuard: these run in the VM suite and are skipped here. */

static void make_peer(struct wg_peer *p, unsigned i)
{
	memset(p, 0, sizeof(*p));
	randombytes_buf(p->public_key, WG_KEY_LEN);
	if (i % 2 == 0) {
		randombytes_buf(p->preshared_key, WG_KEY_LEN);
		p->has_preshared_key = true;
	}
	p->endpoint.addr4.sin_family = AF_INET;
	p->endpoint.addr4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->endpoint.addr4.sin_port = htons(20000 + i);
	p->allowedips[0].family = AF_INET;
	p->allowedips[0].ip4.s_addr = htonl(0x0a000000 + i);
	p->allowedips[0].cidr = 32;
	p->allowedips[1].family = AF_INET6;
	inet_pton(AF_INET6, "fd00::", &p->allowedips[1].ip6);
	p->allowedips[1].ip6.s6_addr[14] = (uint8_t)(i >> 8);
	p->allowedips[1].ip6.s6_addr[15] = (uint8_t)i;
	p->allowedips[1].cidr = 128;
	p->n_allowedips = 2;
}

static const struct wg_peer *find_peer(const struct wg_device *dev, const uint8_t *key)
{
	for (size_t i = 0; i < dev->n_peers; i++)
		if (!memcmp(dev->peers[i].public_key, key, WG_KEY_LEN))
			return &dev->peers[i];
	return NULL;
}

static bool has_allowedip(const struct wg_peer *p, const struct wg_allowedip *ip)
{
	for (size_t i = 0; i < p->n_allowedips; i++)
		if (p->allowedips[i].family == ip->family && p->allowedips[i].cidr == ip->cidr &&
		    !memcmp(&p->allowedips[i].ip6, &ip->ip6,
			    ip->family == AF_INET ? sizeof(ip->ip4) : sizeof(ip->ip6)))
			return true;
	return false;
}

static void check_peer(const struct wg_device *dev, const struct wg_peer *want)
{
	const struct wg_peer *got = find_peer(dev, want->public_key);

	CHECK(got != NULL);
	if (!got)
		return;
	CHECK_EQ_INT(got->has_preshared_key, want->has_preshared_key);
	if (want->has_preshared_key)
		CHECK(!memcmp(got->preshared_key, want->preshared_key, WG_KEY_LEN));
	CHECK(!memcmp(&got->endpoint.addr4, &want->endpoint.addr4, sizeof(want->endpoint.addr4)));
	CHECK_EQ_INT(got->n_allowedips, want->n_allowedips);
	for (size_t i = 0; i < want->n_allowedips; i++)
		CHECK(has_allowedip(got, &want->allowedips[i]));
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

/* What Docker does at Join: move the link into the sandbox and rename it there. */
static int link_move(const char *ifname, int netns_fd, const char *newname)
{
	uint8_t buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = (int)if_nametoindex(ifname);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)netns_fd);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, newname);
	return rtnl_talk(NULL, nlh, NULL, NULL);
}

/* A new network namespace, as the engine makes a sandbox, while this thread stays where it is:
 * its fd, and in PATH (64 bytes) a name for it as a SandboxKey gives one. */
static int sandbox_open(char *path)
{
	int here = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), sandbox;

	CHECK(here >= 0 && unshare(CLONE_NEWNET) == 0);
	sandbox = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	CHECK(setns(here, CLONE_NEWNET) == 0);
	close(here);
	snprintf(path, 64, "/proc/self/fd/%d", sandbox);
	return sandbox;
}

UNIT_TEST(kernel_link_lifecycle_in_the_host_namespace)
{
	struct wg_peer peers[3], extra;
	uint8_t remove[2][WG_KEY_LEN];
	struct wg_device dev = { .name = "wgunit1",
				 .listen_port = 51820,
				 .mtu = 1380,
				 .has_private_key = true,
				 .peers = peers,
				 .n_peers = 3 };
	uint8_t public_key[WG_KEY_LEN];
	struct wg_link_ref ref = { .ifname = "wgunit1", .public_key = public_key };
	struct wg_device got;

	UNIT_SKIP_IF(!in_private_netns || !kernel_has_wireguard, "no WireGuard in this kernel");
	randombytes_buf(dev.private_key, WG_KEY_LEN);
	crypto_scalarmult_base(public_key, dev.private_key);
	for (unsigned i = 0; i < 3; i++)
		make_peer(&peers[i], i);

	CHECK_EQ_INT(backend_kernel.link_create(&dev, &port), 0);
	CHECK(rtnl_link_exists("wgunit1"));
	CHECK_EQ_INT(link_mtu("wgunit1"), 1380);
	CHECK_EQ_INT(backend_kernel.link_create(&dev, &port), -EEXIST);
	CHECK(rtnl_link_exists("wgunit1")); /* the failed create left the existing link alone */
	CHECK(backend_kernel.link_exists(&ref));

	CHECK_EQ_INT(backend_kernel.device_get(&ref, &got), 0);
	CHECK(!strcmp(got.name, "wgunit1"));
	CHECK_EQ_INT(got.listen_port, 51820);
	CHECK(!memcmp(got.public_key, public_key, WG_KEY_LEN));
	CHECK(!got.has_private_key && sodium_is_zero(got.private_key, WG_KEY_LEN));
	CHECK_EQ_INT(got.n_peers, 3);
	for (unsigned i = 0; i < 3; i++)
		check_peer(&got, &peers[i]);
	wgdev_clear(&got);

	/* peer_set adds a peer, and replaces an existing peer's allowed IPs */
	make_peer(&extra, 7);
	CHECK_EQ_INT(backend_kernel.peer_set(&ref, &extra), 0);
	peers[1].allowedips[0].ip4.s_addr = htonl(0x0a0000ff);
	peers[1].n_allowedips = 1;
	peers[1].has_preshared_key = false;
	CHECK_EQ_INT(backend_kernel.peer_set(&ref, &peers[1]), 0);
	CHECK_EQ_INT(backend_kernel.device_get(&ref, &got), 0);
	CHECK_EQ_INT(got.n_peers, 4);
	check_peer(&got, &extra);
	check_peer(&got, &peers[1]);
	wgdev_clear(&got);

	CHECK_EQ_INT(backend_kernel.peer_remove(&ref, peers[0].public_key), 0);
	CHECK_EQ_INT(backend_kernel.peer_remove(&ref, peers[0].public_key), 0);
	CHECK_EQ_INT(backend_kernel.device_get(&ref, &got), 0);
	CHECK_EQ_INT(got.n_peers, 3);
	CHECK(find_peer(&got, peers[0].public_key) == NULL);
	wgdev_clear(&got);

	/* One batch: peers[1] renewed (removed, then set with two allowed IPs again), extra
	 * removed, peers[0] back. */
	memcpy(remove[0], peers[1].public_key, WG_KEY_LEN);
	memcpy(remove[1], extra.public_key, WG_KEY_LEN);
	make_peer(&peers[1], 1);
	CHECK_EQ_INT(backend_kernel.peers_apply(&ref, peers, 2,
						(const uint8_t(*)[WG_KEY_LEN])remove, 2),
		     0);
	CHECK_EQ_INT(backend_kernel.device_get(&ref, &got), 0);
	CHECK_EQ_INT(got.n_peers, 3);
	check_peer(&got, &peers[0]);
	check_peer(&got, &peers[1]);
	check_peer(&got, &peers[2]);
	CHECK(find_peer(&got, extra.public_key) == NULL);
	wgdev_clear(&got);

	CHECK_EQ_INT(backend_kernel.link_delete("wgunit1"), 0);
	CHECK(!rtnl_link_exists("wgunit1"));
	CHECK_EQ_INT(backend_kernel.link_delete("wgunit1"), 0);
	CHECK(!backend_kernel.link_exists(&ref));
	CHECK_EQ_INT(backend_kernel.peer_set(&ref, &extra), -ENODEV);
	sodium_memzero(&dev.private_key, WG_KEY_LEN);
}

/* More peers than one 8 KiB message holds, both ways: SET_DEVICE split on the way in, a
 * multi-message dump on the way out. */
UNIT_TEST(kernel_link_with_many_peers)
{
	const size_t n = 300;
	struct wg_peer *peers = calloc(n, sizeof(*peers));
	struct wg_device dev = { .name = "wgunit2",
				 .has_private_key = true,
				 .peers = peers,
				 .n_peers = n };
	struct wg_link_ref ref = { .ifname = "wgunit2" };
	struct wg_device got;

	if (!in_private_netns || !kernel_has_wireguard)
		free(peers);
	UNIT_SKIP_IF(!in_private_netns || !kernel_has_wireguard, "no WireGuard in this kernel");
	randombytes_buf(dev.private_key, WG_KEY_LEN);
	for (unsigned i = 0; i < n; i++)
		make_peer(&peers[i], i);
	CHECK_EQ_INT(backend_kernel.link_create(&dev, &port), 0);
	CHECK_EQ_INT(backend_kernel.device_get(&ref, &got), 0);
	CHECK_EQ_INT(got.n_peers, n);
	for (unsigned i = 0; i < n; i++)
		check_peer(&got, &peers[i]);
	wgdev_clear(&got);
	CHECK_EQ_INT(backend_kernel.link_delete("wgunit2"), 0);
	sodium_memzero(peers, n * sizeof(*peers));
	free(peers);
}

/* A peer the kernel rejects (IPv4 /40) fails the create, and no link is left behind. */
UNIT_TEST(kernel_link_create_failure_leaves_nothing)
{
	struct wg_peer peer;
	struct wg_device dev = { .name = "wgunit3", .peers = &peer, .n_peers = 1 };

	UNIT_SKIP_IF(!in_private_netns || !kernel_has_wireguard, "no WireGuard in this kernel");
	make_peer(&peer, 1);
	peer.allowedips[0].cidr = 40;
	CHECK_EQ_INT(backend_kernel.link_create(&dev, &port), -EINVAL);
	CHECK(!rtnl_link_exists("wgunit3"));
}

/* After Docker moved the link into the sandbox and renamed it wg0 (next to another wireguard
 * link), the backend finds it there by public key. */
UNIT_TEST(kernel_link_found_in_sandbox_by_public_key)
{
	struct wg_peer peer, other_peer;
	struct wg_device dev = { .name = "wgunit4", .listen_port = 51821, .has_private_key = true };
	struct wg_device other = { .name = "wgunit5",
				   .listen_port = 51822,
				   .has_private_key = true };
	uint8_t public_key[WG_KEY_LEN], other_key[WG_KEY_LEN];
	struct wg_link_ref ref = { .ifname = "wgunit4", .public_key = public_key };
	struct wg_device got;
	int sandbox;
	char path[64];

	UNIT_SKIP_IF(!in_private_netns || !kernel_has_wireguard, "no WireGuard in this kernel");
	sandbox = sandbox_open(path);

	randombytes_buf(dev.private_key, WG_KEY_LEN);
	crypto_scalarmult_base(public_key, dev.private_key);
	randombytes_buf(other.private_key, WG_KEY_LEN);
	crypto_scalarmult_base(other_key, other.private_key);
	CHECK_EQ_INT(backend_kernel.link_create(&other, &port), 0);
	CHECK_EQ_INT(backend_kernel.link_create(&dev, &port), 0);
	CHECK_EQ_INT(link_move("wgunit5", sandbox, "wg0"), 0);
	CHECK_EQ_INT(link_move("wgunit4", sandbox, "wg1"), 0);
	CHECK(!rtnl_link_exists("wgunit4"));

	CHECK(!backend_kernel.link_exists(&ref));
	ref.sandbox = path;
	CHECK(backend_kernel.link_exists(&ref));
	make_peer(&peer, 3);
	CHECK_EQ_INT(backend_kernel.peer_set(&ref, &peer), 0);
	CHECK_EQ_INT(backend_kernel.device_get(&ref, &got), 0);
	CHECK(!strcmp(got.name, "wg1"));
	CHECK(!memcmp(got.public_key, public_key, WG_KEY_LEN));
	CHECK_EQ_INT(got.n_peers, 1);
	check_peer(&got, &peer);
	wgdev_clear(&got);
	CHECK_EQ_INT(backend_kernel.peer_remove(&ref, peer.public_key), 0);
	CHECK_EQ_INT(backend_kernel.device_get(&ref, &got), 0);
	CHECK_EQ_INT(got.n_peers, 0);
	wgdev_clear(&got);

	/* the other link was left alone */
	ref.public_key = other_key;
	CHECK_EQ_INT(backend_kernel.device_get(&ref, &got), 0);
	CHECK(!strcmp(got.name, "wg0"));
	CHECK_EQ_INT(got.listen_port, 51822);
	CHECK_EQ_INT(got.n_peers, 0);
	wgdev_clear(&got);
	make_peer(&other_peer, 9);
	memset(other_key, 0x42, WG_KEY_LEN); /* no link has this key */
	CHECK(!backend_kernel.link_exists(&ref));
	CHECK_EQ_INT(backend_kernel.peer_set(&ref, &other_peer), -ENODEV);

	/* the links go with the sandbox */
	close(sandbox);
	sodium_memzero(dev.private_key, WG_KEY_LEN);
	sodium_memzero(other.private_key, WG_KEY_LEN);
}

/* One wg.key on two networks puts two links with the same public key into one container: the
 * port tells them apart. The one looked for is listed second, so a match on the key alone would
 * pick the wrong one. */
UNIT_TEST(kernel_links_with_one_key_found_by_port)
{
	struct wg_device first = { .name = "wgunit6",
				   .listen_port = 51823,
				   .has_private_key = true };
	struct wg_device second = { .name = "wgunit7",
				    .listen_port = 51824,
				    .has_private_key = true };
	uint8_t public_key[WG_KEY_LEN];
	struct wg_link_ref ref = { .ifname = "wgunit7",
				   .public_key = public_key,
				   .listen_port = 51824 };
	struct wg_device got;
	struct wg_peer peer;
	int sandbox;
	char path[64];

	UNIT_SKIP_IF(!in_private_netns || !kernel_has_wireguard, "no WireGuard in this kernel");
	sandbox = sandbox_open(path);
	ref.sandbox = path;

	randombytes_buf(first.private_key, WG_KEY_LEN);
	memcpy(second.private_key, first.private_key, WG_KEY_LEN);
	crypto_scalarmult_base(public_key, first.private_key);
	CHECK_EQ_INT(backend_kernel.link_create(&first, &port), 0);
	CHECK_EQ_INT(backend_kernel.link_create(&second, &port), 0);
	CHECK_EQ_INT(link_move("wgunit6", sandbox, "wg0"), 0);
	CHECK_EQ_INT(link_move("wgunit7", sandbox, "wg1"), 0);

	make_peer(&peer, 4);
	CHECK_EQ_INT(backend_kernel.peer_set(&ref, &peer), 0);
	CHECK_EQ_INT(backend_kernel.device_get(&ref, &got), 0);
	CHECK(!strcmp(got.name, "wg1"));
	CHECK_EQ_INT(got.n_peers, 1);
	wgdev_clear(&got);
	ref.listen_port = 51823;
	CHECK_EQ_INT(backend_kernel.device_get(&ref, &got), 0);
	CHECK(!strcmp(got.name, "wg0"));
	CHECK_EQ_INT(got.n_peers, 0);
	wgdev_clear(&got);
	ref.listen_port = 51825;
	CHECK(!backend_kernel.link_exists(&ref));

	close(sandbox);
	sodium_memzero(first.private_key, WG_KEY_LEN);
	sodium_memzero(second.private_key, WG_KEY_LEN);
}

/* What the engine resolver does once a container's wireguard.key label is known (issue 4): the
 * link already in its sandbox takes the new key and exactly the new peers, and keeps its port;
 * without a private key only the peers change. */
UNIT_TEST(kernel_device_set_in_sandbox_rekeys_and_replaces_peers)
{
	struct wg_peer peers[3];
	struct wg_device dev = { .name = "wgunit8",
				 .listen_port = 51826,
				 .has_private_key = true,
				 .peers = peers,
				 .n_peers = 2 };
	struct wg_device want = { .listen_port = 51826, .has_private_key = true };
	uint8_t old_key[WG_KEY_LEN], new_key[WG_KEY_LEN];
	struct wg_link_ref ref = { .ifname = "wgunit8",
				   .public_key = old_key,
				   .listen_port = 51826 };
	struct wg_device got;
	int sandbox;
	char path[64];

	UNIT_SKIP_IF(!in_private_netns || !kernel_has_wireguard, "no WireGuard in this kernel");
	sandbox = sandbox_open(path);
	ref.sandbox = path;
	for (unsigned i = 0; i < 3; i++)
		make_peer(&peers[i], 10 + i);
	randombytes_buf(dev.private_key, WG_KEY_LEN);
	crypto_scalarmult_base(old_key, dev.private_key);
	CHECK_EQ_INT(backend_kernel.link_create(&dev, &port), 0);
	CHECK_EQ_INT(link_move("wgunit8", sandbox, "wg0"), 0);

	/* new key; peers 1 and 2 instead of 0 and 1 */
	randombytes_buf(want.private_key, WG_KEY_LEN);
	crypto_scalarmult_base(new_key, want.private_key);
	want.peers = &peers[1];
	want.n_peers = 2;
	CHECK_EQ_INT(backend_kernel.device_set(&ref, &want), 0);
	/* No link has the old key any more; by its port (the one link with it) it is still found,
	 * as a link whose new key never reached it must be. */
	CHECK(backend_kernel.link_exists(&ref));
	ref.listen_port = 0;
	CHECK(!backend_kernel.link_exists(&ref));
	ref.listen_port = 51826;
	ref.public_key = new_key;
	CHECK_EQ_INT(backend_kernel.device_get(&ref, &got), 0);
	CHECK(!strcmp(got.name, "wg0"));
	CHECK(!memcmp(got.public_key, new_key, WG_KEY_LEN));
	CHECK_EQ_INT(got.listen_port, 51826);
	CHECK_EQ_INT(got.n_peers, 2);
	CHECK(find_peer(&got, peers[0].public_key) == NULL);
	check_peer(&got, &peers[1]);
	check_peer(&got, &peers[2]);
	wgdev_clear(&got);

	/* no private key: the key stays, the peers become exactly peer 0 */
	want.has_private_key = false;
	want.peers = &peers[0];
	want.n_peers = 1;
	CHECK_EQ_INT(backend_kernel.device_set(&ref, &want), 0);
	CHECK_EQ_INT(backend_kernel.device_get(&ref, &got), 0);
	CHECK(!memcmp(got.public_key, new_key, WG_KEY_LEN));
	CHECK_EQ_INT(got.n_peers, 1);
	check_peer(&got, &peers[0]);
	wgdev_clear(&got);

	close(sandbox);
	sodium_memzero(dev.private_key, WG_KEY_LEN);
	sodium_memzero(want.private_key, WG_KEY_LEN);
}

UNIT_MAIN("backend_kernel", UNIT_CASE(enter_private_netns),
	  UNIT_CASE(link_dump_keeps_only_wireguard_links),
	  UNIT_CASE(a_link_kind_without_its_nul_is_not_read), UNIT_CASE(sandbox_without_the_link),
	  UNIT_CASE(without_wireguard_everything_fails_cleanly),
	  UNIT_CASE(kernel_link_lifecycle_in_the_host_namespace),
	  UNIT_CASE(kernel_link_with_many_peers),
	  UNIT_CASE(kernel_link_create_failure_leaves_nothing),
	  UNIT_CASE(kernel_link_found_in_sandbox_by_public_key),
	  UNIT_CASE(kernel_links_with_one_key_found_by_port),
	  UNIT_CASE(kernel_device_set_in_sandbox_rekeys_and_replaces_peers))
