// SPDX-License-Identifier: MIT
/* The UAPI text protocol: exact requests, realistic and malformed replies, and exchanges with a
 * fake wireguard-go on a temporary Unix socket (including one that never answers). */
#include "unit.h"

#include "driver/uapi.c"

#include <pthread.h>
#include <sys/stat.h>

/* RFC 7748 section 6.1: Alice's private and public key, Bob's public key. */
#define ALICE_PRIV "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PUB  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define BOB_PUB	   "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
#define HEX11	   "1111111111111111111111111111111111111111111111111111111111111111"
#define HEX22	   "2222222222222222222222222222222222222222222222222222222222222222"
#define HEX33	   "3333333333333333333333333333333333333333333333333333333333333333"
#define HEX00	   "0000000000000000000000000000000000000000000000000000000000000000"

static void hex_key(const char *hex, uint8_t key[WG_KEY_LEN])
{
	size_t len = 0;

	sodium_hex2bin(key, WG_KEY_LEN, hex, strlen(hex), NULL, &len, NULL);
}

static void add_ip(struct wg_peer *peer, int family, const char *addr, uint8_t cidr)
{
	struct wg_allowedip *aip = &peer->allowedips[peer->n_allowedips++];

	aip->family = (uint16_t)family;
	inet_pton(family, addr, family == AF_INET ? (void *)&aip->ip4 : (void *)&aip->ip6);
	aip->cidr = cidr;
}

/* A device with two peers: Bob (PSK, IPv4 endpoint, v4 + v6 allowed IPs) and one with an IPv6
 * endpoint and no PSK. */
static void sample_device(struct wg_device *dev, struct wg_peer peers[2])
{
	memset(dev, 0, sizeof(*dev));
	memset(peers, 0, 2 * sizeof(*peers));
	hex_key(ALICE_PRIV, dev->private_key);
	dev->has_private_key = true;
	dev->listen_port = 51820;
	hex_key(BOB_PUB, peers[0].public_key);
	hex_key(HEX11, peers[0].preshared_key);
	peers[0].has_preshared_key = true;
	peers[0].endpoint.addr4.sin_family = AF_INET;
	peers[0].endpoint.addr4.sin_port = htons(51821);
	inet_pton(AF_INET, "127.0.0.1", &peers[0].endpoint.addr4.sin_addr);
	add_ip(&peers[0], AF_INET, "10.0.0.2", 32);
	add_ip(&peers[0], AF_INET6, "fd00::2", 128);
	hex_key(HEX22, peers[1].public_key);
	peers[1].endpoint.addr6.sin6_family = AF_INET6;
	peers[1].endpoint.addr6.sin6_port = htons(51822);
	inet_pton(AF_INET6, "fd00::1", &peers[1].endpoint.addr6.sin6_addr);
	add_ip(&peers[1], AF_INET, "10.0.0.3", 32);
	dev->peers = peers;
	dev->n_peers = 2;
}

static const char expected_device_set[] = "set=1\n"
					  "private_key=" ALICE_PRIV "\n"
					  "listen_port=51820\n"
					  "replace_peers=true\n"
					  "public_key=" BOB_PUB "\n"
					  "preshared_key=" HEX11 "\n"
					  "endpoint=127.0.0.1:51821\n"
					  "replace_allowed_ips=true\n"
					  "allowed_ip=10.0.0.2/32\n"
					  "allowed_ip=fd00::2/128\n"
					  "public_key=" HEX22 "\n"
					  "endpoint=[fd00::1]:51822\n"
					  "replace_allowed_ips=true\n"
					  "allowed_ip=10.0.0.3/32\n"
					  "\n";

UNIT_TEST(build_device_with_two_peers)
{
	struct uapi_buf buf = { 0 };
	struct wg_device dev;
	struct wg_peer peers[2];

	sample_device(&dev, peers);
	CHECK_EQ_INT(uapi_build_device_set(&dev, &buf), 0);
	CHECK(buf.data && !strcmp(buf.data, expected_device_set));
	CHECK_EQ_INT(buf.len, strlen(expected_device_set));
	if (buf.data && strcmp(buf.data, expected_device_set))
		fprintf(stderr, "  got:\n%s", buf.data);
	uapi_buf_free(&buf);
	CHECK(buf.data == NULL && buf.len == 0);
}

UNIT_TEST(build_peer_set_and_remove)
{
	struct uapi_buf buf = { 0 };
	struct wg_device dev;
	struct wg_peer peers[2];

	sample_device(&dev, peers);
	peers[1].endpoint.addr6.sin6_scope_id = 3;
	CHECK_EQ_INT(uapi_build_peer_set(&peers[1], &buf), 0);
	CHECK(buf.data && !strcmp(buf.data, "set=1\n"
					    "public_key=" HEX22 "\n"
					    "endpoint=[fd00::1%3]:51822\n"
					    "replace_allowed_ips=true\n"
					    "allowed_ip=10.0.0.3/32\n\n"));
	uapi_buf_free(&buf);

	peers[1].endpoint.addr.sa_family = 0;
	peers[1].n_allowedips = 0;
	CHECK_EQ_INT(uapi_build_peer_set(&peers[1], &buf), 0);
	CHECK(buf.data &&
	      !strcmp(buf.data, "set=1\npublic_key=" HEX22 "\nreplace_allowed_ips=true\n\n"));
	uapi_buf_free(&buf);

	CHECK_EQ_INT(uapi_build_peer_remove(peers[0].public_key, &buf), 0);
	CHECK(buf.data && !strcmp(buf.data, "set=1\npublic_key=" BOB_PUB "\nremove=true\n\n"));
	uapi_buf_free(&buf);
}

/* A batch in one request: removals first, then sets; a key in both is renewed. */
UNIT_TEST(build_peers_apply_removes_then_sets)
{
	struct uapi_buf buf = { 0 };
	struct wg_device dev;
	struct wg_peer peers[2];
	uint8_t remove[2][WG_KEY_LEN];

	sample_device(&dev, peers);
	peers[1].endpoint.addr.sa_family = 0;
	peers[1].n_allowedips = 0;
	memcpy(remove[0], peers[0].public_key, WG_KEY_LEN);
	memcpy(remove[1], peers[1].public_key, WG_KEY_LEN);
	CHECK_EQ_INT(uapi_build_peers_apply(&peers[1], 1, (const uint8_t(*)[WG_KEY_LEN])remove, 2,
					    &buf),
		     0);
	CHECK(buf.data && !strcmp(buf.data, "set=1\n"
					    "public_key=" BOB_PUB "\nremove=true\n"
					    "public_key=" HEX22 "\nremove=true\n"
					    "public_key=" HEX22 "\nreplace_allowed_ips=true\n\n"));
	uapi_buf_free(&buf);
	CHECK_EQ_INT(uapi_build_peers_apply(NULL, 0, NULL, 0, &buf), 0);
	CHECK(buf.data && !strcmp(buf.data, "set=1\n\n"));
	uapi_buf_free(&buf);
}

UNIT_TEST(build_rejects_unusable_peers)
{
	struct uapi_buf buf = { 0 };
	struct wg_device dev;
	struct wg_peer peers[2];

	sample_device(&dev, peers);
	peers[0].allowedips[0].cidr = 33;
	CHECK_EQ_INT(uapi_build_peer_set(&peers[0], &buf), -EINVAL);
	uapi_buf_free(&buf);
	peers[0].allowedips[0].cidr = 32;
	peers[0].allowedips[1].family = AF_UNIX;
	CHECK_EQ_INT(uapi_build_device_set(&dev, &buf), -EINVAL);
	uapi_buf_free(&buf);
	peers[0].allowedips[1].family = AF_INET6;
	peers[1].endpoint.addr.sa_family = AF_UNIX;
	CHECK_EQ_INT(uapi_build_peer_set(&peers[1], &buf), -EAFNOSUPPORT);
	uapi_buf_free(&buf);
	peers[1].endpoint.addr.sa_family = AF_INET6;
	peers[1].n_allowedips = WGDEV_MAX_ALLOWEDIPS + 1;
	CHECK_EQ_INT(uapi_build_peer_set(&peers[1], &buf), -EINVAL);
	uapi_buf_free(&buf);
}

/* What wireguard-go 0.0.20220316 answers for a device with three peers. */
static const char realistic_get_reply[] = "private_key=" ALICE_PRIV "\n"
					  "listen_port=51820\n"
					  "public_key=" BOB_PUB "\n"
					  "preshared_key=" HEX11 "\n"
					  "protocol_version=1\n"
					  "endpoint=127.0.0.1:51821\n"
					  "last_handshake_time_sec=1700000123\n"
					  "last_handshake_time_nsec=456789012\n"
					  "tx_bytes=1460\n"
					  "rx_bytes=1372\n"
					  "persistent_keepalive_interval=0\n"
					  "allowed_ip=10.0.0.2/32\n"
					  "allowed_ip=fd00::2/128\n"
					  "public_key=" HEX22 "\n"
					  "preshared_key=" HEX00 "\n"
					  "protocol_version=1\n"
					  "endpoint=[fd00::1]:51822\n"
					  "last_handshake_time_sec=0\n"
					  "last_handshake_time_nsec=0\n"
					  "tx_bytes=18446744073709551615\n"
					  "rx_bytes=0\n"
					  "persistent_keepalive_interval=25\n"
					  "allowed_ip=10.0.0.3/32\n"
					  "public_key=" HEX33 "\n"
					  "preshared_key=" HEX00 "\n"
					  "protocol_version=1\n"
					  "last_handshake_time_sec=0\n"
					  "last_handshake_time_nsec=0\n"
					  "tx_bytes=0\n"
					  "rx_bytes=0\n"
					  "persistent_keepalive_interval=0\n"
					  "errno=0\n"
					  "\n";

static void check_realistic_device(const struct wg_device *dev)
{
	uint8_t key[WG_KEY_LEN];
	char addr[INET6_ADDRSTRLEN];

	hex_key(ALICE_PUB, key);
	CHECK(!memcmp(dev->public_key, key, WG_KEY_LEN));
	CHECK(!dev->has_private_key);
	CHECK(sodium_is_zero(dev->private_key, WG_KEY_LEN));
	CHECK_EQ_INT(dev->listen_port, 51820);
	CHECK_EQ_INT(dev->n_peers, 3);
	if (dev->n_peers != 3)
		return;

	hex_key(BOB_PUB, key);
	CHECK(!memcmp(dev->peers[0].public_key, key, WG_KEY_LEN));
	hex_key(HEX11, key);
	CHECK(dev->peers[0].has_preshared_key);
	CHECK(!memcmp(dev->peers[0].preshared_key, key, WG_KEY_LEN));
	CHECK_EQ_INT(dev->peers[0].endpoint.addr.sa_family, AF_INET);
	CHECK_EQ_INT(ntohs(dev->peers[0].endpoint.addr4.sin_port), 51821);
	CHECK_EQ_INT(ntohl(dev->peers[0].endpoint.addr4.sin_addr.s_addr), 0x7f000001);
	CHECK_EQ_INT(dev->peers[0].last_handshake_sec, 1700000123);
	CHECK_EQ_INT(dev->peers[0].tx_bytes, 1460);
	CHECK_EQ_INT(dev->peers[0].rx_bytes, 1372);
	CHECK_EQ_INT(dev->peers[0].n_allowedips, 2);
	CHECK_EQ_INT(dev->peers[0].allowedips[0].family, AF_INET);
	CHECK_EQ_INT(ntohl(dev->peers[0].allowedips[0].ip4.s_addr), 0x0a000002);
	CHECK_EQ_INT(dev->peers[0].allowedips[0].cidr, 32);
	CHECK_EQ_INT(dev->peers[0].allowedips[1].family, AF_INET6);
	inet_ntop(AF_INET6, &dev->peers[0].allowedips[1].ip6, addr, sizeof(addr));
	CHECK(!strcmp(addr, "fd00::2"));
	CHECK_EQ_INT(dev->peers[0].allowedips[1].cidr, 128);

	hex_key(HEX22, key);
	CHECK(!memcmp(dev->peers[1].public_key, key, WG_KEY_LEN));
	CHECK(!dev->peers[1].has_preshared_key);
	CHECK_EQ_INT(dev->peers[1].endpoint.addr.sa_family, AF_INET6);
	CHECK_EQ_INT(ntohs(dev->peers[1].endpoint.addr6.sin6_port), 51822);
	inet_ntop(AF_INET6, &dev->peers[1].endpoint.addr6.sin6_addr, addr, sizeof(addr));
	CHECK(!strcmp(addr, "fd00::1"));
	CHECK_EQ_INT(dev->peers[1].last_handshake_sec, 0);
	CHECK(dev->peers[1].tx_bytes == UINT64_MAX);
	CHECK_EQ_INT(dev->peers[1].n_allowedips, 1);

	hex_key(HEX33, key);
	CHECK(!memcmp(dev->peers[2].public_key, key, WG_KEY_LEN));
	CHECK_EQ_INT(dev->peers[2].endpoint.addr.sa_family, 0);
	CHECK_EQ_INT(dev->peers[2].n_allowedips, 0);
}

UNIT_TEST(parse_realistic_get_reply)
{
	struct wg_device dev;

	CHECK_EQ_INT(uapi_parse_get_reply(realistic_get_reply, &dev), 0);
	check_realistic_device(&dev);
	wgdev_clear(&dev);

	CHECK_EQ_INT(uapi_parse_get_reply("listen_port=1\nfwmark=0\nsome_new_key=x\nerrno=0\n\n",
					  &dev),
		     0);
	CHECK_EQ_INT(dev.listen_port, 1);
	CHECK_EQ_INT(dev.n_peers, 0);
	CHECK(sodium_is_zero(dev.public_key, WG_KEY_LEN));
	wgdev_clear(&dev);
}

static int parse_get(const char *reply)
{
	struct wg_device dev;
	int err = uapi_parse_get_reply(reply, &dev);

	wgdev_clear(&dev);
	return err;
}

UNIT_TEST(parse_malformed_get_replies)
{
	CHECK_EQ_INT(parse_get("listen_port=1\n\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("listen_port=1\nerrno=0\n"), -EPROTO);
	CHECK_EQ_INT(parse_get(""), -EPROTO);
	CHECK_EQ_INT(parse_get("\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("errno=-22\n\n"), -EINVAL);
	CHECK_EQ_INT(parse_get("errno=5\n\n"), -EIO);
	CHECK_EQ_INT(parse_get("errno=x\n\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("errno=\n\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("errno=-99999\n\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("errno=0\nlisten_port=1\n\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("listen_port\nerrno=0\n\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("=1\nerrno=0\n\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("listen_port=65536\nerrno=0\n\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("listen_port=-1\nerrno=0\n\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("private_key=" HEX11 "1\nerrno=0\n\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("public_key=111111111111111111111111111111111111111111111111111"
			       "111111111111x\nerrno=0\n\n"),
		     -EPROTO);
	CHECK_EQ_INT(parse_get("public_key=" HEX11 "\npreshared_key=abc\nerrno=0\n\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("public_key=" HEX11 "\nendpoint=1.2.3.4\nerrno=0\n\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("public_key=" HEX11 "\nendpoint=[::1:5\nerrno=0\n\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("public_key=" HEX11 "\nendpoint=1.2.3.4:70000\nerrno=0\n\n"),
		     -EPROTO);
	CHECK_EQ_INT(parse_get("public_key=" HEX11 "\nallowed_ip=10.0.0.1/33\nerrno=0\n\n"),
		     -EPROTO);
	CHECK_EQ_INT(parse_get("public_key=" HEX11 "\nallowed_ip=10.0.0.1\nerrno=0\n\n"), -EPROTO);
	CHECK_EQ_INT(parse_get("public_key=" HEX11 "\ntx_bytes=18446744073709551616\nerrno=0\n\n"),
		     -EPROTO);
	CHECK_EQ_INT(parse_get("public_key=" HEX11 "\nallowed_ip=10.0.0.1/32\n"
			       "allowed_ip=10.0.0.2/32\nallowed_ip=10.0.0.3/32\nerrno=0\n\n"),
		     -E2BIG);
}

UNIT_TEST(parse_set_replies)
{
	CHECK_EQ_INT(uapi_parse_set_reply("errno=0\n\n"), 0);
	CHECK_EQ_INT(uapi_parse_set_reply("errno=-22\n\n"), -EINVAL);
	CHECK_EQ_INT(uapi_parse_set_reply("errno=-98\n\n"), -EADDRINUSE);
	CHECK_EQ_INT(uapi_parse_set_reply("\n"), -EPROTO);
	CHECK_EQ_INT(uapi_parse_set_reply("errno=0\n"), -EPROTO);
	CHECK_EQ_INT(uapi_parse_set_reply("listen_port=1\nerrno=0\n\n"), -EPROTO);
	CHECK_EQ_INT(uapi_parse_set_reply("errno=0\nerrno=0\n\n"), -EPROTO);
	CHECK_EQ_INT(uapi_parse_set_reply("errno=--1\n\n"), -EPROTO);
}

enum fake_mode { FAKE_ANSWER, FAKE_SILENT, FAKE_HANGUP };

/* A one-connection wireguard-go stand-in listening on DIR/NAME.sock. */
struct fake_server {
	char dir[64], path[108];
	int listen_fd;
	enum fake_mode mode;
	const char *reply;
	char request[4096];
	pthread_t thread;
};

static void *fake_serve(void *arg)
{
	struct fake_server *fs = arg;
	size_t len = 0;
	int fd = accept(fs->listen_fd, NULL, NULL);

	if (fd < 0)
		return NULL;
	while (len < sizeof(fs->request) - 1 && !strstr(fs->request, "\n\n")) {
		ssize_t n = read(fd, fs->request + len, sizeof(fs->request) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		fs->request[len] = '\0';
	}
	/* The client may have gone already (uapi_socket_alive only connects). */
	if (fs->mode == FAKE_ANSWER) {
		send(fd, fs->reply, strlen(fs->reply), MSG_NOSIGNAL);
	} else if (fs->mode == FAKE_SILENT) {
		char c;

		/* Holds the connection open until the client gives up and closes it. */
		while (read(fd, &c, 1) > 0)
			;
	}
	close(fd);
	return NULL;
}

static int fake_start(struct fake_server *fs, enum fake_mode mode, const char *reply)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(fs, 0, sizeof(*fs));
	strcpy(fs->dir, "/tmp/test_uapi.XXXXXX");
	if (!mkdtemp(fs->dir))
		return -errno;
	snprintf(fs->path, sizeof(fs->path), "%s/wgfake0.sock", fs->dir);
	strcpy(sun.sun_path, fs->path);
	fs->mode = mode;
	fs->reply = reply;
	fs->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fs->listen_fd < 0 || bind(fs->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    listen(fs->listen_fd, 4))
		return -errno;
	uapi_dir = fs->dir;
	return -pthread_create(&fs->thread, NULL, fake_serve, fs);
}

static void fake_stop(struct fake_server *fs)
{
	pthread_join(fs->thread, NULL);
	close(fs->listen_fd);
	unlink(fs->path);
	rmdir(fs->dir);
	uapi_dir = UAPI_SOCKET_DIR;
}

UNIT_TEST(round_trip_set_and_get)
{
	struct fake_server fs;
	struct uapi_buf buf = { 0 };
	struct wg_device dev, got;
	struct wg_peer peers[2];

	sample_device(&dev, peers);
	CHECK_EQ_INT(uapi_build_device_set(&dev, &buf), 0);
	CHECK_EQ_INT(fake_start(&fs, FAKE_ANSWER, "errno=0\n\n"), 0);
	CHECK_EQ_INT(uapi_set("wgfake0", &buf), 0);
	fake_stop(&fs);
	CHECK(!strcmp(fs.request, expected_device_set));

	CHECK_EQ_INT(fake_start(&fs, FAKE_ANSWER, "errno=-22\n\n"), 0);
	CHECK_EQ_INT(uapi_set("wgfake0", &buf), -EINVAL);
	fake_stop(&fs);
	uapi_buf_free(&buf);

	CHECK_EQ_INT(fake_start(&fs, FAKE_ANSWER, realistic_get_reply), 0);
	CHECK_EQ_INT(uapi_get("wgfake0", &got), 0);
	fake_stop(&fs);
	CHECK(!strcmp(fs.request, "get=1\n\n"));
	check_realistic_device(&got);
	wgdev_clear(&got);

	CHECK_EQ_INT(fake_start(&fs, FAKE_ANSWER, "errno=0\n\n"), 0);
	CHECK(uapi_socket_alive("wgfake0"));
	fake_stop(&fs);
	CHECK(!uapi_socket_alive("wgfake0"));
}

UNIT_TEST(transport_errors)
{
	struct fake_server fs;
	struct wg_device got;
	struct uapi_buf buf = { 0 };

	CHECK_EQ_INT(fake_start(&fs, FAKE_HANGUP, NULL), 0);
	CHECK_EQ_INT(uapi_get("wgfake0", &got), -ECONNRESET);
	wgdev_clear(&got);
	fake_stop(&fs);

	CHECK_EQ_INT(fake_start(&fs, FAKE_ANSWER, "listen_port=1\n"), 0);
	CHECK_EQ_INT(uapi_get("wgfake0", &got), -ECONNRESET);
	wgdev_clear(&got);
	fake_stop(&fs);

	uapi_dir = "/nonexistent-uapi-dir";
	CHECK_EQ_INT(uapi_get("wgfake0", &got), -ENOENT);
	wgdev_clear(&got);
	CHECK_EQ_INT(uapi_build_peer_remove(got.public_key, &buf), 0);
	CHECK_EQ_INT(uapi_set("wgfake0", &buf), -ENOENT);
	CHECK_EQ_INT(uapi_set("../x", &buf), -EINVAL);
	CHECK_EQ_INT(uapi_set("", &buf), -EINVAL);
	CHECK_EQ_INT(uapi_set("sixteen-chars-xx", &buf), -EINVAL);
	uapi_buf_free(&buf);
	uapi_dir = UAPI_SOCKET_DIR;
}

UNIT_TEST(silent_daemon_times_out)
{
	struct fake_server fs;
	struct wg_device got;
	int64_t start;

	uapi_timeout_ms = 300;
	CHECK_EQ_INT(fake_start(&fs, FAKE_SILENT, NULL), 0);
	start = clock_ms();
	CHECK_EQ_INT(uapi_get("wgfake0", &got), -ETIMEDOUT);
	CHECK(clock_ms() - start >= 290);
	CHECK(clock_ms() - start < 1500);
	wgdev_clear(&got);
	fake_stop(&fs);

	/* The default deadline, against a listener that never even accepts. */
	uapi_timeout_ms = UAPI_TIMEOUT_MS;
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		struct uapi_buf reply = { 0 };
		char dir[] = "/tmp/test_uapi.XXXXXX";
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		CHECK(mkdtemp(dir) != NULL);
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s.sock", dir);
		CHECK_EQ_INT(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
		CHECK_EQ_INT(listen(fd, 1), 0);
		start = clock_ms();
		CHECK_EQ_INT(uapi_transact(sun.sun_path, "get=1\n\n", UAPI_TIMEOUT_MS, &reply),
			     -ETIMEDOUT);
		CHECK(clock_ms() - start >= UAPI_TIMEOUT_MS - 10);
		CHECK(clock_ms() - start < UAPI_TIMEOUT_MS + 1000);
		uapi_buf_free(&reply);
		close(fd);
		unlink(sun.sun_path);
		rmdir(dir);
	}
}

UNIT_MAIN("uapi", UNIT_CASE(build_device_with_two_peers), UNIT_CASE(build_peer_set_and_remove),
	  UNIT_CASE(build_peers_apply_removes_then_sets), UNIT_CASE(build_rejects_unusable_peers),
	  UNIT_CASE(parse_realistic_get_reply), UNIT_CASE(parse_malformed_get_replies),
	  UNIT_CASE(parse_set_replies), UNIT_CASE(round_trip_set_and_get),
	  UNIT_CASE(transport_errors), UNIT_CASE(silent_daemon_times_out))
