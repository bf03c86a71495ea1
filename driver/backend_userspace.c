// SPDX-License-Identifier: MIT
/*
 * The userspace backend: one wireguard-go process per link, configured over its UAPI socket.
 * The socket keeps the creation name after Docker moves and renames the TUN, so every call after
 * link_create finds the link through that name alone.
 *
 * The TUN is persistent (tun.c): when its wireguard-go dies with the daemon or the plugin, the
 * container keeps its wg0, and link_restore hands the device to a new wireguard-go.
 */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rtnl.h"
#include "tun.h"
#include "uapi.h"
#include "wggo.h"

#define USERSPACE_START_TIMEOUT_MS 5000
#define USERSPACE_STOP_TIMEOUT_MS  3000
#define USERSPACE_KILL_TIMEOUT_MS  2000
#define USERSPACE_POLL_MS	   10
/* A wireguard-go answers its first request within this, or is asked again. */
#define USERSPACE_READY_POLL_MS 100
#define USERSPACE_DEFAULT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* A wireguard-go we started; pid 0 while link_create is still bringing it up. */
struct userspace_child {
	char ifname[IFNAMSIZ];
	pid_t pid;
};

static const char *program = "wireguard-go";
static const char *memlimit;
static pthread_mutex_t children_lock = PTHREAD_MUTEX_INITIALIZER;
static struct userspace_child *children;
static size_t n_children, cap_children;

void backend_userspace_set_program(const char *path)
{
	program = path;
}

void backend_userspace_set_memlimit(const char *value)
{
	memlimit = value;
}

const char *backend_userspace_program(void)
{
	return program;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Index of IFNAME in the table or -1; children_lock held. */
static ssize_t children_find(const char *ifname)
{
	for (size_t i = 0; i < n_children; i++)
		if (!strcmp(children[i].ifname, ifname))
			return (ssize_t)i;
	return -1;
}

/* children_lock held. */
static void children_drop(size_t i)
{
	children[i] = children[--n_children];
}

/* Claims IFNAME for a link_create in progress: -EEXIST if we already run or start one. */
static int children_reserve(const char *ifname)
{
	int err = 0;

	pthread_mutex_lock(&children_lock);
	if (children_find(ifname) >= 0) {
		err = -EEXIST;
		goto out;
	}
	if (n_children == cap_children) {
		size_t cap = cap_children ? cap_children * 2 : 16;
		struct userspace_child *grown = realloc(children, cap * sizeof(*grown));

		if (!grown) {
			err = -ENOMEM;
			goto out;
		}
		children = grown;
		cap_children = cap;
	}
	snprintf(children[n_children].ifname, IFNAMSIZ, "%s", ifname);
	children[n_children++].pid = 0;
out:
	pthread_mutex_unlock(&children_lock);
	return err;
}

/* Records PID for IFNAME, or forgets IFNAME when PID is 0. */
static void children_settle(const char *ifname, pid_t pid)
{
	ssize_t i;

	pthread_mutex_lock(&children_lock);
	i = children_find(ifname);
	if (i >= 0 && pid)
		children[i].pid = pid;
	else if (i >= 0)
		children_drop((size_t)i);
	pthread_mutex_unlock(&children_lock);
}

/* Removes IFNAME from the table and returns its pid (0 if unknown); -EBUSY while it starts. */
static pid_t children_take(const char *ifname)
{
	pid_t pid = 0;
	ssize_t i;

	pthread_mutex_lock(&children_lock);
	i = children_find(ifname);
	if (i >= 0) {
		pid = children[i].pid ? children[i].pid : -EBUSY;
		if (children[i].pid)
			children_drop((size_t)i);
	}
	pthread_mutex_unlock(&children_lock);
	return pid;
}

/* true once PID has exited and been reaped (or is not our child any more). */
static bool child_reaped(pid_t pid, int *status)
{
	pid_t r;

	do
		r = waitpid(pid, status, WNOHANG);
	while (r < 0 && errno == EINTR);
	return r == pid || (r < 0 && errno == ECHILD);
}

/* Reaps processes that died by themselves, so they neither linger as zombies nor get signalled
 * after their pid is reused. Only our own pids: the daemon may have other children. A waitpid()
 * per link: called where links are made, deleted, read or served anew, not on every change of
 * peers, which a Join makes on every link. */
static void children_reap(void)
{
	pthread_mutex_lock(&children_lock);
	for (size_t i = 0; i < n_children;) {
		int status = 0;

		if (children[i].pid > 0 && child_reaped(children[i].pid, &status)) {
			log_warn("wireguard-go for %s (pid %d) exited by itself, status 0x%x",
				 children[i].ifname, (int)children[i].pid, status);
			children_drop(i);
			continue;
		}
		i++;
	}
	pthread_mutex_unlock(&children_lock);
}

static bool child_wait(pid_t pid, int timeout_ms)
{
	int status;

	for (int waited = 0;; waited += USERSPACE_POLL_MS) {
		if (child_reaped(pid, &status))
			return true;
		if (waited >= timeout_ms)
			return false;
		sleep_ms(USERSPACE_POLL_MS);
	}
}

static void child_stop(const char *ifname, pid_t pid)
{
	kill(pid, SIGTERM);
	if (child_wait(pid, USERSPACE_STOP_TIMEOUT_MS))
		return;
	kill(pid, SIGKILL);
	if (!child_wait(pid, USERSPACE_KILL_TIMEOUT_MS))
		log_error("wireguard-go for %s (pid %d) survived SIGKILL", ifname, (int)pid);
}

/* Starts a wireguard-go for IFNAME as user UID on a UAPI socket made for it; with TUN_FD >= 0 it
 * serves that attached TUN instead of opening IFNAME itself. */
static int child_spawn(const char *ifname, int tun_fd, uid_t uid, pid_t *pid)
{
	struct wggo_start start = { .program = program,
				    .ifname = ifname,
				    .memlimit = memlimit,
				    .uid = uid,
				    .tun_fd = tun_fd };
	int err;

	start.uapi_fd = uapi_listen(ifname, start.uid);
	if (start.uapi_fd < 0)
		return start.uapi_fd;
	err = wggo_spawn(&start, pid);
	/* The child holds the socket now: it dies with the child. */
	close(start.uapi_fd);
	if (err) {
		char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

		if (!uapi_socket_path(ifname, path, sizeof(path)))
			unlink(path);
	}
	return err;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until the new daemon answers on its UAPI socket. Sets *PID to 0 when the child exited
 * (and was reaped) instead. */
static int child_wait_socket(const char *ifname, pid_t *pid)
{
	int64_t deadline = now_ms() + USERSPACE_START_TIMEOUT_MS;
	int status = 0;

	do {
		if (!uapi_wait_ready(ifname, USERSPACE_READY_POLL_MS))
			return 0;
		if (child_reaped(*pid, &status)) {
			log_warn("wireguard-go for %s exited during start, status 0x%x", ifname,
				 status);
			*pid = 0;
			return -EIO;
		}
		/* A refused connection comes back at once. */
		sleep_ms(USERSPACE_POLL_MS);
	} while (now_ms() < deadline);
	return -ETIMEDOUT;
}

/* Starts, as root, a wireguard-go that opens a TUN of its own, and reads the flags it attached
 * with. */
static int probe_tun_flags(uint16_t *flags)
{
	char name[IFNAMSIZ], path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct tun_link tun;
	pid_t pid = 0;
	int err;

	snprintf(name, sizeof(name), "wgprobe%x", (unsigned)getpid() & 0xfffffffu);
	err = uapi_socket_path(name, path, sizeof(path));
	if (!err)
		err = tun_create(name);
	if (err)
		return err;
	err = child_spawn(name, -1, 0, &pid);
	if (!err)
		err = child_wait_socket(name, &pid);
	if (!err)
		err = tun_find(NULL, name, &tun);
	if (!err)
		*flags = tun.flags;
	if (pid)
		child_stop(name, pid);
	unlink(path);
	rtnl_link_delete(name);
	return err;
}

/* The TUN flags of the program (IFF_VNET_HDR when it has offloads), learnt once. A wireguard-go
 * under a user of its own cannot open /dev/net/tun (root's alone on many hosts): the daemon
 * attaches each new link's TUN for it, with the flags the program would have chosen. */
static uint16_t program_tun_flags(void)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static uint16_t flags;
	int err;

	pthread_mutex_lock(&lock);
	if (!flags) {
		/* A try can meet its TUN held by another thread's child that has not exec'd yet. */
		for (int tries = 0; tries < 3; tries++)
			if (!(err = probe_tun_flags(&flags)))
				break;
		if (err) {
			log_warn("%s: cannot learn its TUN flags (%s): its links get no offloads",
				 program, strerror(-err));
			flags = IFF_TUN | IFF_NO_PI;
		} else {
			log_info("%s attaches its TUN %s offloads", program,
				 flags & IFF_VNET_HDR ? "with" : "without");
		}
	}
	pthread_mutex_unlock(&lock);
	return flags;
}

/* Creates the persistent TUN IFNAME and starts its wireguard-go: under the link's own user on the
 * descriptor the TUN was created with (with the program's own flags: attaching anew after a
 * close could find a copy in another thread's child, not yet exec'd), or, for a daemon that is
 * not root, as the daemon, opening it by name. Nothing is left on failure. */
static int link_start(const char *ifname, pid_t *pid)
{
	uid_t uid = wggo_uid(ifname);
	int tun_fd, err;

	if (uid) {
		tun_fd = tun_create_attached(ifname, program_tun_flags());
		if (tun_fd < 0)
			return tun_fd;
		err = child_spawn(ifname, tun_fd, uid, pid);
		close(tun_fd);
	} else {
		err = tun_create(ifname);
		if (err)
			return err;
		err = child_spawn(ifname, -1, 0, pid);
	}
	if (err)
		rtnl_link_delete(ifname);
	return err;
}

static int userspace_link_create(const struct wg_device *dev, uint16_t *port)
{
	struct uapi_buf request = { 0 };
	struct wg_device now = { 0 };
	pid_t pid = 0;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int err;

	err = uapi_socket_path(dev->name, path, sizeof(path));
	if (err)
		return err;
	children_reap();
	err = children_reserve(dev->name);
	if (err)
		return err;
	if (uapi_socket_alive(dev->name)) {
		err = -EEXIST;
		goto err_release;
	}
	err = uapi_build_device_set(dev, &request);
	if (err)
		goto err_release;
	err = link_start(dev->name, &pid);
	if (err)
		goto err_release;
	err = child_wait_socket(dev->name, &pid);
	if (!err)
		err = uapi_set(dev->name, &request);
	/* The port asked for is the port (a set that cannot bind it fails with EADDRINUSE). Port 0
	 * (only in a test): the one wireguard-go bound once up. Not read back otherwise: the answer
	 * lists every peer, at scale 1.5 ms of each Join for 200. */
	now.listen_port = dev->listen_port;
	if (!err && !dev->listen_port)
		err = uapi_get(dev->name, &now);
	if (!err && dev->mtu)
		err = rtnl_link_set_mtu(dev->name, dev->mtu);
	if (err)
		goto err_stop_child;
	*port = now.listen_port;
	wgdev_clear(&now);
	uapi_buf_free(&request);
	children_settle(dev->name, pid);
	return 0;

err_stop_child:
	wgdev_clear(&now);
	if (pid)
		child_stop(dev->name, pid);
	unlink(path);
	rtnl_link_delete(dev->name);
err_release:
	uapi_buf_free(&request);
	children_settle(dev->name, 0);
	return err;
}

static int userspace_link_delete(const char *ifname)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pid_t pid;
	int err;

	err = uapi_socket_path(ifname, path, sizeof(path));
	if (err)
		return err;
	children_reap();
	pid = children_take(ifname);
	if (pid < 0)
		return pid;
	if (pid)
		child_stop(ifname, pid);
	/* For a daemon we did not start (or one that ignored SIGTERM) removing the TUN or the
	 * socket file makes wireguard-go exit by itself. */
	err = rtnl_link_delete(ifname);
	if (unlink(path) && errno != ENOENT && !err)
		err = -errno;
	return err;
}

static int userspace_peers_apply(const struct wg_link_ref *link, const struct wg_peer *set,
				 size_t n_set, const uint8_t (*remove)[WG_KEY_LEN], size_t n_remove)
{
	struct uapi_buf request = { 0 };
	int err;

	if (!n_set && !n_remove)
		return 0;
	err = uapi_build_peers_apply(set, n_set, remove, n_remove, &request);
	if (!err)
		err = uapi_set(link->ifname, &request);
	uapi_buf_free(&request);
	return err;
}

static int userspace_peer_set(const struct wg_link_ref *link, const struct wg_peer *peer)
{
	return userspace_peers_apply(link, peer, 1, NULL, 0);
}

static int userspace_peer_remove(const struct wg_link_ref *link,
				 const uint8_t public_key[WG_KEY_LEN])
{
	return userspace_peers_apply(link, NULL, 0, (const uint8_t(*)[WG_KEY_LEN])public_key, 1);
}

static int userspace_device_set(const struct wg_link_ref *link, const struct wg_device *dev)
{
	struct uapi_buf request = { 0 };
	int err;

	err = uapi_build_device_set(dev, &request);
	if (!err)
		err = uapi_set(link->ifname, &request);
	uapi_buf_free(&request);
	return err;
}

static int userspace_device_get(const struct wg_link_ref *link, struct wg_device *out)
{
	int err;

	children_reap();
	err = uapi_get(link->ifname, out);
	if (!err)
		snprintf(out->name, sizeof(out->name), "%s", link->ifname);
	return err;
}

static bool userspace_link_exists(const struct wg_link_ref *link)
{
	struct wg_device dev;
	int err;

	children_reap();
	err = uapi_get(link->ifname, &dev);
	wgdev_clear(&dev);
	return !err;
}

/* A wireguard-go serves LINK already (one a previous daemon started, which outlived it). It
 * keeps its sessions, unless its key or port are not DEV's (that daemon died between starting
 * and configuring it): then it gets DEV whole. */
static int adopt(const struct wg_link_ref *link, const struct wg_device *dev, bool *restarted)
{
	struct wg_device now;
	bool same;
	int err;

	err = uapi_get(link->ifname, &now);
	same = !err && now.listen_port == dev->listen_port &&
	       !memcmp(now.public_key, link->public_key, WG_KEY_LEN);
	wgdev_clear(&now);
	if (err || same)
		return err;
	*restarted = true;
	return userspace_device_set(link, dev);
}

/* Where LINK's TUN is now: in the host under its name (not moved yet, or moved back), else in
 * its sandbox under the name Docker gave it. *NETNS is NULL for the host. */
static int locate(const struct wg_link_ref *link, struct tun_link *tun, const char **netns)
{
	int err;

	*netns = NULL;
	err = tun_find(NULL, link->ifname, tun);
	if (err != -ENODEV || !link->sandbox)
		return err;
	*netns = link->sandbox;
	err = tun_find(link->sandbox, link->ifname, tun);
	/* A sandbox that is gone took its links with it. */
	return err == -ENOENT ? -ENODEV : err;
}

/* Starts a wireguard-go on TUN_FD (attached to LINK's TUN) and configures it with DEV; *PID is
 * the running child, or 0. */
static int serve(const struct wg_link_ref *link, int tun_fd, const struct wg_device *dev,
		 pid_t *pid)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int err;

	err = uapi_socket_path(link->ifname, path, sizeof(path));
	if (err)
		return err;
	err = child_spawn(link->ifname, tun_fd, wggo_uid(link->ifname), pid);
	if (!err)
		err = child_wait_socket(link->ifname, pid);
	/* The first answer on the socket also means the child has looked its TUN up by name. */
	if (!err)
		err = userspace_device_set(link, dev);
	if (err && *pid) {
		child_stop(link->ifname, *pid);
		*pid = 0;
		unlink(path);
	}
	return err;
}

/* No process serves LINK: its persistent TUN goes to a new wireguard-go. wireguard-go looks its
 * TUN up by name in its own (the host's) namespace, so a TUN inside a sandbox is renamed there to
 * the link's name for as long as the child starts, with a placeholder of that name in the host;
 * renaming an up link needs Linux 6.2 or later (-EBUSY before). */
static int reattach(const struct wg_link_ref *link, const struct wg_device *dev, bool *restarted)
{
	int tun_fd, placeholder = -1, err, undo;
	struct tun_link tun;
	const char *netns;
	pid_t pid = 0;

	err = children_reserve(link->ifname);
	if (err)
		return err;
	err = locate(link, &tun, &netns);
	if (err)
		goto out_release;
	tun_fd = tun_attach(netns, &tun);
	if (tun_fd < 0) {
		err = tun_fd;
		goto out_release;
	}
	if (netns) {
		err = tun_rename(netns, tun.ifindex, link->ifname);
		if (err)
			goto out_close_tun;
		placeholder = tun_placeholder(link->ifname);
		if (placeholder < 0) {
			err = placeholder;
			goto out_rename_back;
		}
	}
	err = serve(link, tun_fd, dev, &pid);
	/* In the host, the child's start reset the MTU of the device it found there. */
	if (!err && !netns && dev->mtu)
		err = rtnl_link_set_mtu(link->ifname, dev->mtu);
	if (!err)
		*restarted = true;
	if (placeholder >= 0)
		close(placeholder);
out_rename_back:
	if (netns && (undo = tun_rename(netns, tun.ifindex, tun.name)))
		log_error("link %s: renaming it back to %s in %s: %s", link->ifname, tun.name,
			  netns, strerror(-undo));
out_close_tun:
	close(tun_fd);
out_release:
	if (err && pid) {
		child_stop(link->ifname, pid);
		pid = 0;
	}
	children_settle(link->ifname, pid);
	return err;
}

static int userspace_link_restore(const struct wg_link_ref *link, const struct wg_device *dev,
				  bool *restarted)
{
	*restarted = false;
	children_reap();
	if (uapi_socket_alive(link->ifname))
		return adopt(link, dev, restarted);
	return reattach(link, dev, restarted);
}

static bool userspace_limit_explain(const char *ifname, int err, char *buf, size_t len)
{
	return wggo_limit_explain(err, wggo_uid(ifname), buf, len);
}

void backend_userspace_finalise(void)
{
	pthread_mutex_lock(&children_lock);
	free(children);
	children = NULL;
	n_children = 0;
	cap_children = 0;
	pthread_mutex_unlock(&children_lock);
}

const struct backend_ops backend_userspace = {
	.name = "userspace",
	.link_create = userspace_link_create,
	.link_delete = userspace_link_delete,
	.peer_set = userspace_peer_set,
	.peer_remove = userspace_peer_remove,
	.peers_apply = userspace_peers_apply,
	.device_get = userspace_device_get,
	.link_exists = userspace_link_exists,
	.device_set = userspace_device_set,
	.link_restore = userspace_link_restore,
	.limit_explain = userspace_limit_explain,
};
