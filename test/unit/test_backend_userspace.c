// SPDX-License-Identifier: MIT
/*
 * The userspace backend against the real wireguard-go, inside private namespaces: a child that
 * is PID 1 of a new PID namespace (so that whatever happens, the kernel kills every wireguard-go
 * when it ends), with its own network namespace and a tmpfs on /var/run for the UAPI sockets.
 * The host namespaces are never touched.
 */
#include "unit.h"

#include "driver/backend_userspace.c"

#include <arpa/inet.h>
#include <dirent.h>
#include <net/if.h>
#include <sched.h>
#include <sodium.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#define TEST_TIMEOUT_MS 90000

struct test_node {
	const char *ifname, *addr;
	uint16_t port;
	uint8_t private_key[WG_KEY_LEN], public_key[WG_KEY_LEN];
};

static uint8_t psk[WG_KEY_LEN];
static struct test_node node_a = { .ifname = "wgua0", .addr = "10.77.0.1", .port = 41001 };
static struct test_node node_b = { .ifname = "wgub0", .addr = "10.77.0.2", .port = 41002 };

static int sandbox_enter(void)
{
	if (unshare(CLONE_NEWNET | CLONE_NEWNS))
		return -errno;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tmpfs", "/var/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		return -errno;
	return 0;
}

static int ifreq_ioctl(unsigned long request, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, request, ifr))
		err = -errno;
	close(fd);
	return err;
}

static int link_up(const char *ifname, const char *addr)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int err = 0;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (addr) {
		sin->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &sin->sin_addr);
		err = ifreq_ioctl(SIOCSIFADDR, &ifr);
		inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
		if (!err)
			err = ifreq_ioctl(SIOCSIFNETMASK, &ifr);
	}
	if (!err)
		err = ifreq_ioctl(SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (!err)
		err = ifreq_ioctl(SIOCSIFFLAGS, &ifr);
	return err;
}

static int link_mtu(const char *ifname)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	return ifreq_ioctl(SIOCGIFMTU, &ifr) ? -1 : ifr.ifr_mtu;
}

static bool socket_file_exists(const char *ifname)
{
	char path[108];
	struct stat st;

	snprintf(path, sizeof(path), UAPI_SOCKET_DIR "/%s.sock", ifname);
	return !lstat(path, &st);
}

static pid_t child_of(const char *ifname)
{
	pid_t pid = 0;
	ssize_t i;

	pthread_mutex_lock(&children_lock);
	i = children_find(ifname);
	if (i >= 0)
		pid = children[i].pid;
	pthread_mutex_unlock(&children_lock);
	return pid;
}

/* Nothing of IFNAME is left: no process in the table, no TUN, no socket file. */
static void check_gone(const char *ifname, pid_t pid)
{
	CHECK_EQ_INT(child_of(ifname), 0);
	CHECK(!rtnl_link_exists(ifname));
	CHECK(!socket_file_exists(ifname));
	if (pid > 0) {
		CHECK(kill(pid, 0) < 0 && errno == ESRCH);
		CHECK(waitpid(pid, NULL, WNOHANG) < 0 && errno == ECHILD);
	}
}

static void peer_of(const struct test_node *node, struct wg_peer *peer)
{
	memset(peer, 0, sizeof(*peer));
	memcpy(peer->public_key, node->public_key, WG_KEY_LEN);
	memcpy(peer->preshared_key, psk, WG_KEY_LEN);
	peer->has_preshared_key = true;
	peer->endpoint.addr4.sin_family = AF_INET;
	peer->endpoint.addr4.sin_port = htons(node->port);
	inet_pton(AF_INET, "127.0.0.1", &peer->endpoint.addr4.sin_addr);
	peer->allowedips[0].family = AF_INET;
	inet_pton(AF_INET, node->addr, &peer->allowedips[0].ip4);
	peer->allowedips[0].cidr = 32;
	peer->allowedips[1].family = AF_INET6;
	inet_pton(AF_INET6, "fd77::1", &peer->allowedips[1].ip6);
	peer->allowedips[1].ip6.s6_addr[15] = (uint8_t)node->port;
	peer->allowedips[1].cidr = 128;
	peer->n_allowedips = 2;
}

static int node_create(const struct test_node *node, const struct test_node *peer_node,
		       uint32_t mtu)
{
	struct wg_peer peer;
	struct wg_device dev = { .listen_port = node->port, .mtu = mtu, .has_private_key = true };
	int err;

	snprintf(dev.name, sizeof(dev.name), "%s", node->ifname);
	memcpy(dev.private_key, node->private_key, WG_KEY_LEN);
	if (peer_node) {
		peer_of(peer_node, &peer);
		dev.peers = &peer;
		dev.n_peers = 1;
	}
	err = backend_userspace.link_create(&dev, &(uint16_t){ 0 });
	sodium_memzero(&dev, sizeof(dev));
	return err;
}

static void check_config(const struct test_node *node, const struct test_node *peer_node)
{
	struct wg_link_ref ref = { node->ifname, NULL, node->public_key, node->port };
	struct wg_device dev;

	CHECK_EQ_INT(backend_userspace.device_get(&ref, &dev), 0);
	CHECK(!strcmp(dev.name, node->ifname));
	CHECK(!dev.has_private_key && sodium_is_zero(dev.private_key, WG_KEY_LEN));
	CHECK(!memcmp(dev.public_key, node->public_key, WG_KEY_LEN));
	CHECK_EQ_INT(dev.listen_port, node->port);
	CHECK_EQ_INT(dev.n_peers, 1);
	if (dev.n_peers == 1) {
		struct wg_peer *p = &dev.peers[0];

		CHECK(!memcmp(p->public_key, peer_node->public_key, WG_KEY_LEN));
		CHECK(p->has_preshared_key && !memcmp(p->preshared_key, psk, WG_KEY_LEN));
		CHECK_EQ_INT(p->endpoint.addr.sa_family, AF_INET);
		CHECK_EQ_INT(ntohs(p->endpoint.addr4.sin_port), peer_node->port);
		CHECK_EQ_INT(p->n_allowedips, 2);
	}
	wgdev_clear(&dev);
}

/* The environment is exactly the one built for it, and LEAK_FD (no O_CLOEXEC) did not reach it. */
static void check_child_process(pid_t pid, int leak_fd)
{
	char path[64], env[4096];
	struct stat leak, st;
	struct dirent *de;
	ssize_t n;
	DIR *dir;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	n = fd >= 0 ? read(fd, env, sizeof(env) - 1) : -1;
	if (fd >= 0)
		close(fd);
	CHECK(n > 0);
	if (n > 0) {
		env[n] = '\0';
		CHECK(!strcmp(env, "WG_PROCESS_FOREGROUND=1"));
		CHECK(!strcmp(env + strlen(env) + 1, "LOG_LEVEL=error"));
	}
	CHECK_EQ_INT(fstat(leak_fd, &leak), 0);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	CHECK(dir != NULL);
	while (dir && (de = readdir(dir))) {
		if (!fstatat(dirfd(dir), de->d_name, &st, 0))
			CHECK(st.st_dev != leak.st_dev || st.st_ino != leak.st_ino);
	}
	if (dir)
		closedir(dir);
}

/* The child's environment holds VAR (a NAME=VALUE string). */
static void check_child_env(pid_t pid, const char *var)
{
	char path[64], env[4096];
	bool found = false;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, env, sizeof(env) - 1) : -1;
	if (fd >= 0)
		close(fd);
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(env + i) + 1) {
		env[n] = '\0';
		found = found || !strcmp(env + i, var);
	}
	CHECK(found);
}

/* The child runs as UID with CAP_NET_ADMIN and CAP_NET_BIND_SERVICE alone. */
static void check_child_user(pid_t pid, uid_t uid)
{
	char path[64], line[256], want[64];
	bool uid_ok = false, caps_ok = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	snprintf(want, sizeof(want), "Uid:\t%u\t%u\t%u\t%u\n", uid, uid, uid, uid);
	f = fopen(path, "re");
	CHECK(f != NULL);
	while (f && fgets(line, sizeof(line), f)) {
		uid_ok = uid_ok || !strcmp(line, want);
		caps_ok = caps_ok || !strcmp(line, "CapEff:\t0000000000001400\n");
	}
	if (f)
		fclose(f);
	CHECK(uid >= WGGO_UID_FIRST && uid < WGGO_UID_FIRST + WGGO_UIDS);
	CHECK(uid_ok);
	CHECK(caps_ok);
}

/* Sends datagrams into A's tunnel until both sides report a handshake and B received data. */
static void check_handshake(void)
{
	struct wg_link_ref ref_a = { node_a.ifname, NULL, node_a.public_key, node_a.port };
	struct wg_link_ref ref_b = { node_b.ifname, NULL, node_b.public_key, node_b.port };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(9) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool done = false;

	inet_pton(AF_INET, node_b.addr, &dst.sin_addr);
	CHECK(fd >= 0);
	for (int i = 0; i < 100 && !done && fd >= 0; i++) {
		struct wg_device a, b;

		sendto(fd, "ping", 4, 0, (struct sockaddr *)&dst, sizeof(dst));
		sleep_ms(50);
		if (!backend_userspace.device_get(&ref_a, &a) &&
		    !backend_userspace.device_get(&ref_b, &b) && a.n_peers == 1 && b.n_peers == 1)
			done = a.peers[0].last_handshake_sec > 0 &&
			       b.peers[0].last_handshake_sec > 0 && b.peers[0].rx_bytes > 0 &&
			       a.peers[0].tx_bytes > 0;
		wgdev_clear(&a);
		wgdev_clear(&b);
	}
	CHECK(done);
	if (fd >= 0)
		close(fd);
}

static void scenario_two_links(void)
{
	struct wg_link_ref ref_a = { node_a.ifname, NULL, node_a.public_key, node_a.port };
	struct wg_link_ref ref_b = { node_b.ifname, NULL, node_b.public_key, node_b.port };
	struct wg_device dev;
	struct wg_peer peer;
	pid_t pid_a, pid_b;
	int leak_fd;

	/* Neither the daemon's LOG_LEVEL nor a descriptor without O_CLOEXEC may reach the child. */
	setenv("LOG_LEVEL", "debug", 1);
	leak_fd = open("/var/run/leak-check", O_RDWR | O_CREAT, 0600);
	CHECK(leak_fd >= 0);

	backend_userspace_set_memlimit("48MiB");
	CHECK_EQ_INT(node_create(&node_a, &node_b, 1380), 0);
	backend_userspace_set_memlimit(NULL);
	CHECK_EQ_INT(node_create(&node_b, &node_a, 0), 0);
	CHECK_EQ_INT(node_create(&node_a, NULL, 0), -EEXIST);
	pid_a = child_of(node_a.ifname);
	pid_b = child_of(node_b.ifname);
	CHECK(pid_a > 0 && pid_b > 0);
	check_child_process(pid_a, leak_fd);
	close(leak_fd);
	unsetenv("LOG_LEVEL");
	check_child_env(pid_a, "GOMEMLIMIT=48MiB");
	check_child_env(pid_a, "WG_UAPI_FD=4");
	check_child_env(pid_a, "WG_TUN_FD=3");
	check_child_user(pid_a, wggo_uid(node_a.ifname));
	check_child_user(pid_b, wggo_uid(node_b.ifname));

	CHECK(rtnl_link_exists(node_a.ifname));
	CHECK(socket_file_exists(node_a.ifname));
	CHECK_EQ_INT(link_mtu(node_a.ifname), 1380);
	CHECK_EQ_INT(link_mtu(node_b.ifname), 1420);
	CHECK(backend_userspace.link_exists(&ref_a));
	check_config(&node_a, &node_b);
	check_config(&node_b, &node_a);

	CHECK_EQ_INT(link_up(node_a.ifname, node_a.addr), 0);
	/* B gets no address: 10.77.0.2 would be local and never enter A's tunnel. */
	CHECK_EQ_INT(link_up(node_b.ifname, NULL), 0);
	check_handshake();

	CHECK_EQ_INT(backend_userspace.peer_remove(&ref_a, node_b.public_key), 0);
	CHECK_EQ_INT(backend_userspace.device_get(&ref_a, &dev), 0);
	CHECK_EQ_INT(dev.n_peers, 0);
	wgdev_clear(&dev);
	CHECK_EQ_INT(backend_userspace.peer_remove(&ref_a, node_b.public_key), 0);

	peer_of(&node_b, &peer);
	CHECK_EQ_INT(backend_userspace.peer_set(&ref_a, &peer), 0);
	peer.n_allowedips = 1;
	peer.has_preshared_key = false;
	CHECK_EQ_INT(backend_userspace.peer_set(&ref_a, &peer), 0);
	CHECK_EQ_INT(backend_userspace.device_get(&ref_a, &dev), 0);
	CHECK_EQ_INT(dev.n_peers, 1);
	if (dev.n_peers == 1) {
		CHECK_EQ_INT(dev.peers[0].n_allowedips, 1);
		CHECK(dev.peers[0].has_preshared_key);
	}
	wgdev_clear(&dev);

	/* B's process dies by itself: the next operation reaps it and the link is reported gone. */
	CHECK_EQ_INT(kill(pid_b, SIGKILL), 0);
	for (int i = 0; i < 100 && child_of(node_b.ifname); i++) {
		sleep_ms(20);
		CHECK_EQ_INT(backend_userspace.device_get(&ref_a, &dev), 0);
		wgdev_clear(&dev);
	}
	CHECK_EQ_INT(child_of(node_b.ifname), 0);
	CHECK(waitpid(pid_b, NULL, WNOHANG) < 0 && errno == ECHILD);
	CHECK(!backend_userspace.link_exists(&ref_b));
	CHECK_EQ_INT(backend_userspace.device_get(&ref_b, &dev), -ECONNREFUSED);
	wgdev_clear(&dev);
	CHECK_EQ_INT(backend_userspace.link_delete(node_b.ifname), 0);
	check_gone(node_b.ifname, pid_b);

	CHECK_EQ_INT(backend_userspace.link_delete(node_a.ifname), 0);
	check_gone(node_a.ifname, pid_a);
	CHECK(!backend_userspace.link_exists(&ref_a));
	CHECK_EQ_INT(backend_userspace.link_delete(node_a.ifname), 0);
	CHECK_EQ_INT(backend_userspace.peer_set(&ref_a, &peer), -ENOENT);
	sodium_memzero(&peer, sizeof(peer));
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char cmd[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* What Docker does to a link (move it into the sandbox, rename it wg0) does not hide it from the
 * backend, and link_delete still removes it from there. */
static void scenario_moved_link(void)
{
	struct wg_link_ref ref_a = { node_a.ifname, NULL, node_a.public_key, node_a.port };
	struct wg_device dev;
	struct wg_peer peer;
	uint8_t remove[2][WG_KEY_LEN];
	int ready[2], hold[2];
	pid_t sandbox, pid_a;
	char c = 0;

	CHECK_EQ_INT(node_create(&node_a, &node_b, 0), 0);
	pid_a = child_of(node_a.ifname);
	CHECK_EQ_INT(pipe2(ready, O_CLOEXEC), 0);
	CHECK_EQ_INT(pipe2(hold, O_CLOEXEC), 0);
	/* A process in a network namespace of its own, until HOLD closes. */
	sandbox = fork();
	if (sandbox == 0) {
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
	CHECK(sandbox > 0);
	CHECK_EQ_INT(read(ready[0], &c, 1), 1);
	close(ready[0]);
	CHECK_EQ_INT(run("ip link set %s netns %d", node_a.ifname, (int)sandbox), 0);
	CHECK_EQ_INT(run("nsenter -t %d -n ip link set %s name wg0", (int)sandbox, node_a.ifname),
		     0);
	CHECK(!rtnl_link_exists(node_a.ifname));

	CHECK(backend_userspace.link_exists(&ref_a));
	CHECK_EQ_INT(backend_userspace.peer_remove(&ref_a, node_b.public_key), 0);
	peer_of(&node_b, &peer);
	peer.n_allowedips = 1;
	CHECK_EQ_INT(backend_userspace.peer_set(&ref_a, &peer), 0);
	CHECK_EQ_INT(backend_userspace.device_get(&ref_a, &dev), 0);
	CHECK_EQ_INT(dev.n_peers, 1);
	CHECK(!memcmp(dev.public_key, node_a.public_key, WG_KEY_LEN));
	wgdev_clear(&dev);

	/* One request renews B (removed, then set with both allowed IPs) and removes a peer the
	 * link never had. */
	memcpy(remove[0], node_b.public_key, WG_KEY_LEN);
	memset(remove[1], 0x42, WG_KEY_LEN);
	peer.n_allowedips = 2;
	CHECK_EQ_INT(backend_userspace.peers_apply(&ref_a, &peer, 1,
						   (const uint8_t(*)[WG_KEY_LEN])remove, 2),
		     0);
	CHECK_EQ_INT(backend_userspace.device_get(&ref_a, &dev), 0);
	CHECK_EQ_INT(dev.n_peers, 1);
	CHECK(dev.n_peers == 1 && dev.peers[0].n_allowedips == 2);
	wgdev_clear(&dev);

	CHECK_EQ_INT(backend_userspace.link_delete(node_a.ifname), 0);
	check_gone(node_a.ifname, pid_a);
	/* The persistent TUN stays, unserved, until the sandbox goes (Docker moves a link back to
	 * the host before DeleteEndpoint). */
	CHECK(run("nsenter -t %d -n ip link show wg0 >/dev/null", (int)sandbox) == 0);
	close(hold[1]);
	CHECK_EQ_INT(waitpid(sandbox, NULL, 0), sandbox);
	sodium_memzero(&peer, sizeof(peer));
}

/* Every failure after the spawn leaves nothing behind. */
static void scenario_failures(void)
{
	CHECK_EQ_INT(node_create(&node_a, &node_b, 70000), -EINVAL);
	check_gone(node_a.ifname, 0);

	backend_userspace_set_program("/nonexistent/wireguard-go");
	CHECK_EQ_INT(node_create(&node_a, &node_b, 0), -ENOENT);
	check_gone(node_a.ifname, 0);
	backend_userspace_set_program("/bin/false");
	CHECK_EQ_INT(node_create(&node_a, &node_b, 0), -EIO);
	check_gone(node_a.ifname, 0);
	backend_userspace_set_program("wireguard-go");

	CHECK_EQ_INT(node_create(&node_a, NULL, 0), 0);
	CHECK_EQ_INT(node_create(&node_b, NULL, 0), 0);
	CHECK_EQ_INT(backend_userspace.link_delete(node_a.ifname), 0);
	CHECK_EQ_INT(backend_userspace.link_delete(node_b.ifname), 0);
	check_gone(node_a.ifname, 0);
	check_gone(node_b.ifname, 0);
	CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
}

/* LINK restored with NODE's key, port and its peer PEER_NODE; *RESTARTED as link_restore says. */
static int node_restore(const struct test_node *node, const struct test_node *peer_node,
			uint32_t mtu, const char *sandbox, bool *restarted)
{
	struct wg_link_ref ref = { node->ifname, sandbox, node->public_key, node->port };
	struct wg_device dev = { .listen_port = node->port, .mtu = mtu, .has_private_key = true };
	struct wg_peer peer;
	int err;

	snprintf(dev.name, sizeof(dev.name), "%s", node->ifname);
	memcpy(dev.private_key, node->private_key, WG_KEY_LEN);
	peer_of(peer_node, &peer);
	dev.peers = &peer;
	dev.n_peers = 1;
	err = backend_userspace.link_restore(&ref, &dev, restarted);
	sodium_memzero(&dev, sizeof(dev));
	sodium_memzero(&peer, sizeof(peer));
	return err;
}

static pid_t sandbox_start(int *hold_fd)
{
	int ready[2], hold[2];
	pid_t pid;
	char c = 0;

	if (pipe2(ready, O_CLOEXEC) || pipe2(hold, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
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
	if (pid < 0 || read(ready[0], &c, 1) != 1)
		pid = -1;
	close(ready[0]);
	*hold_fd = hold[1];
	return pid;
}

/* What restarts do: the wireguard-go of a link dies (with the daemon or the plugin) and the
 * persistent TUN, in the host or inside a sandbox as wg0, is served again by a new one; a
 * running one is taken over as it is. */
static void scenario_restore(void)
{
	struct wg_link_ref ref_a = { node_a.ifname, NULL, node_a.public_key, node_a.port };
	struct wg_link_ref ref_b = { node_b.ifname, NULL, node_b.public_key, node_b.port };
	char sandbox_ns[64];
	struct wg_device dev;
	struct wg_peer peer;
	bool restarted;
	pid_t sandbox, pid_a, pid_b, pid;
	int hold = -1;

	CHECK_EQ_INT(node_create(&node_a, &node_b, 1380), 0);
	CHECK_EQ_INT(node_create(&node_b, &node_a, 0), 0);
	pid_a = child_of(node_a.ifname);
	pid_b = child_of(node_b.ifname);
	CHECK_EQ_INT(link_up(node_a.ifname, node_a.addr), 0);

	/* Running: taken over, the same process, nothing restarted. */
	CHECK_EQ_INT(node_restore(&node_a, &node_b, 1380, NULL, &restarted), 0);
	CHECK(!restarted && child_of(node_a.ifname) == pid_a);

	/* In the host, its process killed: a new one on the same TUN, the MTU kept. */
	CHECK_EQ_INT(kill(pid_a, SIGKILL), 0);
	CHECK_EQ_INT(waitpid(pid_a, NULL, 0), pid_a);
	CHECK(!backend_userspace.link_exists(&ref_a));
	CHECK(rtnl_link_exists(node_a.ifname));
	CHECK_EQ_INT(node_restore(&node_a, &node_b, 1380, NULL, &restarted), 0);
	CHECK(restarted);
	pid = child_of(node_a.ifname);
	CHECK(pid > 0 && pid != pid_a);
	CHECK_EQ_INT(link_mtu(node_a.ifname), 1380);
	check_config(&node_a, &node_b);

	/* Inside a sandbox as wg0, up: found by its tag, served, and still wg0 afterwards. */
	sandbox = sandbox_start(&hold);
	CHECK(sandbox > 0);
	snprintf(sandbox_ns, sizeof(sandbox_ns), "/proc/%d/ns/net", (int)sandbox);
	CHECK_EQ_INT(run("ip link set %s netns %d", node_b.ifname, (int)sandbox), 0);
	CHECK_EQ_INT(run("nsenter -t %d -n ip link set %s name wg0", (int)sandbox, node_b.ifname),
		     0);
	CHECK_EQ_INT(run("nsenter -t %d -n ip link set wg0 up", (int)sandbox), 0);
	CHECK_EQ_INT(kill(pid_b, SIGKILL), 0);
	CHECK_EQ_INT(waitpid(pid_b, NULL, 0), pid_b);
	CHECK_EQ_INT(node_restore(&node_b, &node_a, 0, sandbox_ns, &restarted), 0);
	CHECK(restarted && child_of(node_b.ifname) > 0);
	CHECK_EQ_INT(run("nsenter -t %d -n ip link show wg0 >/dev/null", (int)sandbox), 0);
	CHECK(!rtnl_link_exists(node_b.ifname));
	check_config(&node_b, &node_a);
	check_child_env(child_of(node_b.ifname), "WG_TUN_FD=3");
	/* A's session with the old B is stale: renewing the peer makes A handshake at once. */
	peer_of(&node_b, &peer);
	CHECK_EQ_INT(backend_userspace.peer_remove(&ref_a, node_b.public_key), 0);
	CHECK_EQ_INT(backend_userspace.peer_set(&ref_a, &peer), 0);
	sodium_memzero(&peer, sizeof(peer));
	check_handshake();

	/* A daemon that stops forgets its children without stopping them; the next takes over. */
	pid = child_of(node_b.ifname);
	backend_userspace_finalise();
	CHECK(children == NULL && n_children == 0);
	CHECK(kill(pid, 0) == 0);
	CHECK_EQ_INT(node_restore(&node_b, &node_a, 0, sandbox_ns, &restarted), 0);
	CHECK(!restarted);
	/* A port that is not the expected one (a crash before the configuration): set again. */
	node_b.port++;
	CHECK_EQ_INT(node_restore(&node_b, &node_a, 0, sandbox_ns, &restarted), 0);
	CHECK(restarted);
	CHECK_EQ_INT(backend_userspace.device_get(&ref_b, &dev), 0);
	CHECK_EQ_INT(dev.listen_port, node_b.port);
	wgdev_clear(&dev);
	node_b.port--;

	/* The sandbox gone: the descriptor the new wireguard-go got there keeps its namespace, so
	 * the link is deleted as a reconcile does (the socket file removed, the process exits),
	 * and then it is gone. */
	close(hold);
	CHECK_EQ_INT(waitpid(sandbox, NULL, 0), sandbox);
	CHECK_EQ_INT(backend_userspace.link_delete(node_b.ifname), 0);
	/* Still our child, though forgotten: reaped here. */
	for (int i = 0; i < 100 && waitpid(pid, NULL, WNOHANG) == 0; i++)
		sleep_ms(20);
	CHECK(kill(pid, 0) < 0 && errno == ESRCH);
	CHECK_EQ_INT(node_restore(&node_b, &node_a, 0, sandbox_ns, &restarted), -ENODEV);
	CHECK_EQ_INT(backend_userspace.link_delete(node_b.ifname), 0);
	CHECK_EQ_INT(backend_userspace.link_delete(node_a.ifname), 0);
	check_gone(node_a.ifname, 0);
	CHECK_EQ_INT(node_restore(&node_a, &node_b, 1380, NULL, &restarted), -ENODEV);
}

static void node_keys(struct test_node *node)
{
	randombytes_buf(node->private_key, WG_KEY_LEN);
	crypto_scalarmult_base(node->public_key, node->private_key);
}

/* PID 1 of the new PID namespace. */
static int sandbox_main(void)
{
	int err;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	err = sandbox_enter();
	if (err) {
		fprintf(stderr, "  sandbox: %s\n", strerror(-err));
		return 1;
	}
	log_set_level(LOG_LEVEL_ERROR);
	CHECK_EQ_INT(link_up("lo", NULL), 0);
	CHECK_EQ_INT(sodium_init() >= 0, 1);
	node_keys(&node_a);
	node_keys(&node_b);
	randombytes_buf(psk, sizeof(psk));
	scenario_two_links();
	scenario_moved_link();
	scenario_failures();
	scenario_restore();
	backend_userspace_finalise();
	return unit_failed_checks ? 1 : 0;
}

/* Creates the PID namespace and waits for its init; exits with its status. */
static void pidns_main(void)
{
	pid_t init;
	int status;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(CLONE_NEWPID)) {
		perror("  unshare(CLONE_NEWPID)");
		_exit(1);
	}
	init = fork();
	if (init < 0)
		_exit(1);
	/* exit, not _exit: under SANITIZE=1 the leak check runs in the sandbox too. */
	if (init == 0)
		exit(sandbox_main());
	while (waitpid(init, &status, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 2);
}

UNIT_TEST(links_with_real_wireguard_go)
{
	int status = -1;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		pidns_main();
	for (int waited = 0; pid > 0; waited += 50) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (waited >= TEST_TIMEOUT_MS) {
			fprintf(stderr, "  sandbox did not finish in %d ms\n", TEST_TIMEOUT_MS);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		sleep_ms(50);
	}
	CHECK(WIFEXITED(status));
	CHECK_EQ_INT(WEXITSTATUS(status), 0);
}

UNIT_MAIN("backend_userspace", UNIT_CASE(links_with_real_wireguard_go))
