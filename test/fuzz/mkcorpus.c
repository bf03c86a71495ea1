// SPDX-License-Identifier: MIT
/*
 * Writes seeds into the harness directories of test/fuzz/corpus/ (test/fuzz/mkcorpus.sh runs it
 * in namespaces of its own making):
 *   mkcorpus genl CORPUS      GET_DEVICE dumps built with the helpers of test_genl_wg.c
 *   mkcorpus netlink CORPUS   the kernel's replies: link dumps around a TUN that tun_create made
 *                             (detached, attached, renamed), errors, the nlctrl family; and
 *                             link dumps with wireguard links, built (this kernel has none)
 *   mkcorpus uapi SOCKET REQUEST OUT   wireguard-go's answer to the UAPI request REQUEST
 */
#include "unit.h"

/* The unit test's helpers without its tests. */
#undef UNIT_MAIN
#define UNIT_MAIN(...)
#pragma GCC diagnostic ignored "-Wunused-function"
#include "test_genl_wg.c"

#include "tun.h"
#include "uapi.h"

#include <limits.h>
#include <linux/rtnetlink.h>

#define FUZZ_TUN "wgfuzz0"

static const char *corpus;

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* Writes the seed NAME into the directory of each harness in the NULL-terminated HARNESSES. */
static void write_seed(const char *const *harnesses, const char *name, const void *buf, size_t len)
{
	char path[PATH_MAX];

	for (; *harnesses; harnesses++) {
		snprintf(path, sizeof(path), "%s/%s/%s", corpus, *harnesses, name);
		write_file(path, buf, len);
	}
}

static const char *const for_genl[] = { "fuzz_genl_wg", "fuzz_nlsock", NULL };
static const char *const for_nlsock[] = { "fuzz_nlsock", NULL };
static const char *const for_links[] = { "fuzz_rtnl_link", "fuzz_wg_links", "fuzz_nlsock", NULL };

/* The dump of build_sample_dump without its stale first message (a harness answers the seq of
 * the first message), closed by NLMSG_DONE. */
static void seed_sample_dump(struct dump *d, const char *name, int done_code, uint16_t done_flags)
{
	size_t stale;

	build_sample_dump(d);
	stale = MNL_ALIGN(((struct nlmsghdr *)d->buf)->nlmsg_len);
	dump_done(d, done_code, done_flags);
	write_seed(for_genl, name, d->buf + stale, d->len - stale);
}

static void genl_seeds(void)
{
	static struct dump d;
	struct nlattr *peers, *peer, *ips;
	struct nlmsghdr *nlh;
	struct nlmsgerr *err;
	uint8_t key[WG_KEY_LEN];

	seed_sample_dump(&d, "get-device", 0, 0);
	seed_sample_dump(&d, "get-device-done-emsgsize", -EMSGSIZE, 0);
	seed_sample_dump(&d, "get-device-interrupted", 0, NLM_F_DUMP_INTR);
	build_sample_dump(&d);
	dump_done(&d, 0, 0);
	write_seed(for_nlsock, "get-device-after-stale", d.buf, d.len);

	d.len = 0;
	nlh = dump_message(&d, NLMSG_ERROR, 0, SEQ);
	err = mnl_nlmsg_put_extra_header(nlh, sizeof(*err));
	err->error = -ENODEV;
	dump_end(&d, nlh);
	write_seed(for_genl, "get-device-enodev", d.buf, d.len);

	/* one peer split over two messages, three allowed IPs in all: -E2BIG */
	d.len = 0;
	fill_key(key, 9, 0x90);
	for (int m = 0; m < 2; m++) {
		nlh = dump_message(&d, FAMILY, NLM_F_MULTI, SEQ);
		peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
		peer = mnl_attr_nest_start(nlh, 0);
		mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, key);
		ips = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
		put_allowedip_nest(nlh, AF_INET, m ? "10.0.0.4" : "10.0.0.5", 32);
		if (m)
			put_allowedip_nest(nlh, AF_INET6, "fd00::4", 128);
		mnl_attr_nest_end(nlh, ips);
		mnl_attr_nest_end(nlh, peer);
		mnl_attr_nest_end(nlh, peers);
		dump_end(&d, nlh);
	}
	dump_done(&d, 0, 0);
	write_seed(for_genl, "get-device-split-peer-e2big", d.buf, d.len);

	d.len = 0;
	for (unsigned m = 0; m < 3; m++) {
		nlh = dump_message(&d, FAMILY, NLM_F_MULTI, SEQ);
		peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
		for (unsigned p = 0; p < 4; p++) {
			peer = mnl_attr_nest_start(nlh, 0);
			fill_key(key, m * 4 + p, 0x33);
			mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, key);
			mnl_attr_nest_end(nlh, peer);
		}
		mnl_attr_nest_end(nlh, peers);
		dump_end(&d, nlh);
	}
	dump_done(&d, 0, 0);
	write_seed(for_genl, "get-device-many-peers", d.buf, d.len);
}

/* Sends the request NLH on a new socket of BUS in this namespace and writes the datagrams of
 * the kernel's reply, one after the other, as the seed NAME. */
static void capture(int bus, struct nlmsghdr *nlh, const char *const *harnesses, const char *name)
{
	static uint8_t all[1 << 20];
	struct nlsock_reply reply = { 0 };
	struct nlsock sock;
	size_t len = 0;
	ssize_t n;

	if (nlsock_open(&sock, bus, NULL)) {
		perror("nlsock_open");
		exit(1);
	}
	reply.seq = nlh->nlmsg_seq = ++sock.seq;
	reply.portid = sock.portid;
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(sock.nl, nlh, nlh->nlmsg_len) < 0) {
		perror("mnl_socket_sendto");
		exit(1);
	}
	while (!reply.done) {
		n = mnl_socket_recvfrom(sock.nl, sock.buf, NLSOCK_RECV_SIZE);
		if (n < 0 || len + (size_t)n > sizeof(all)) {
			perror("mnl_socket_recvfrom");
			exit(1);
		}
		memcpy(all + len, sock.buf, (size_t)n);
		len += (size_t)n;
		nlsock_reply_feed(&reply, sock.buf, (size_t)n);
	}
	nlsock_close(&sock);
	write_seed(harnesses, name, all, len);
}

static struct nlmsghdr *link_message(uint8_t *buf, uint16_t type, uint16_t flags, const char *name)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nlh;
}

static struct nlmsghdr *family_message(uint8_t *buf, const char *name)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = GENL_ID_CTRL;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = CTRL_CMD_GETFAMILY;
	genl->version = 1;
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name);
	return nlh;
}

/* Appends to D an RTM_NEWLINK message of a dump: link NAME of kind KIND (none when NULL). */
static void dump_link(struct dump *d, int ifindex, const char *name, const char *kind)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(d->buf + d->len);
	struct ifinfomsg *ifi;
	struct nlattr *linkinfo;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = SEQ;
	nlh->nlmsg_pid = PORTID;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put_u32(nlh, IFLA_MTU, 1420);
	if (kind) {
		linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
		mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
		mnl_attr_nest_end(nlh, linkinfo);
	}
	dump_end(d, nlh);
}

/* Link dumps as the kernel backend reads a sandbox's, built, as this host's kernel has no
 * wireguard kind to capture: lo, two wireguard links (wg0 and one not yet renamed) and a veth;
 * then what the backend must not take whole: a wireguard link whose name does not fit IFNAMSIZ
 * (which no kernel sends), and more wireguard links than SANDBOX_LINKS_MAX (64). */
static void wg_links_seeds(void)
{
	static const char *const harnesses[] = { "fuzz_wg_links", "fuzz_nlsock", NULL };
	static struct dump d;
	char name[IFNAMSIZ];

	d.len = 0;
	dump_link(&d, 1, "lo", NULL);
	dump_link(&d, 5, "wg0", "wireguard");
	dump_link(&d, 6, "wg-0123456789ab", "wireguard");
	dump_link(&d, 7, "eth0", "veth");
	dump_done(&d, 0, 0);
	write_seed(harnesses, "link-dump-wireguard", d.buf, d.len);

	d.len = 0;
	dump_link(&d, 5, "wg0", "wireguard");
	dump_link(&d, 6, "wg-0123456789abcdef", "wireguard");
	dump_done(&d, 0, 0);
	write_seed(harnesses, "link-dump-wireguard-name-too-long", d.buf, d.len);

	d.len = 0;
	for (int i = 0; i < 70; i++) {
		snprintf(name, sizeof(name), "wg%d", i);
		dump_link(&d, 10 + i, name, "wireguard");
	}
	dump_done(&d, 0, 0);
	write_seed(harnesses, "link-dump-wireguard-70", d.buf, d.len);
}

static void netlink_seeds(void)
{
	uint8_t buf[256];
	struct tun_link link;
	struct nlattr *linkinfo;
	struct nlmsghdr *nlh;
	int fd;

	if (tun_create(FUZZ_TUN) || tun_find(NULL, FUZZ_TUN, &link)) {
		fprintf(stderr, "mkcorpus: cannot create the TUN %s\n", FUZZ_TUN);
		exit(1);
	}
	capture(NETLINK_ROUTE, link_message(buf, RTM_GETLINK, NLM_F_DUMP, NULL), for_links,
		"link-dump");
	fd = tun_attach(NULL, &link);
	capture(NETLINK_ROUTE, link_message(buf, RTM_GETLINK, NLM_F_DUMP, NULL), for_links,
		"link-dump-attached");
	if (fd >= 0)
		close(fd);
	tun_rename(NULL, link.ifindex, "wg0");
	capture(NETLINK_ROUTE, link_message(buf, RTM_GETLINK, NLM_F_DUMP, NULL), for_links,
		"link-dump-renamed");
	capture(NETLINK_ROUTE, link_message(buf, RTM_GETLINK, 0, "wg0"), for_links, "link-get");
	capture(NETLINK_ROUTE, link_message(buf, RTM_GETLINK, 0, "nosuch0"), for_links,
		"link-get-enodev");
	nlh = link_message(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, "wgnew0");
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "wireguard");
	mnl_attr_nest_end(nlh, linkinfo);
	capture(NETLINK_ROUTE, nlh, for_nlsock, "link-create-wireguard");
	capture(NETLINK_GENERIC, family_message(buf, "nlctrl"), for_nlsock, "family-nlctrl");
	capture(NETLINK_GENERIC, family_message(buf, WG_GENL_NAME), for_nlsock, "family-wireguard");
	wg_links_seeds();
}

static void uapi_seed(const char *path, const char *request, const char *out)
{
	struct uapi_buf reply = { 0 };
	int err = uapi_transact(path, request, UAPI_TIMEOUT_MS, &reply);

	if (err) {
		fprintf(stderr, "mkcorpus: %s: %s\n", path, strerror(-err));
		exit(1);
	}
	write_file(out, reply.data, reply.len);
	uapi_buf_free(&reply);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "genl")) {
		corpus = argv[2];
		genl_seeds();
	} else if (argc == 3 && !strcmp(argv[1], "netlink")) {
		corpus = argv[2];
		netlink_seeds();
	} else if (argc == 5 && !strcmp(argv[1], "uapi")) {
		uapi_seed(argv[2], argv[3], argv[4]);
	} else {
		fprintf(stderr, "usage: %s genl|netlink CORPUS | uapi SOCKET REQUEST OUT\n",
			argv[0]);
		return 2;
	}
	return 0;
}
