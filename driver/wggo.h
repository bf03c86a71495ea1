/* SPDX-License-Identifier: MIT */
/*
 * Starting one wireguard-go: its program, environment, user, capabilities and descriptors.
 *
 * Each wireguard-go runs as a user of its own (WGGO_UID_FIRST plus a hash of its link's name),
 * with CAP_NET_ADMIN and CAP_NET_BIND_SERVICE only. The kernel counts some resources per user:
 * wireguard-go takes an inotify instance at start (it watches its UAPI socket file, to exit when
 * the file goes), and a user may hold fs.inotify.max_user_instances of them (128 on Debian), so
 * under one user the 129th link of a host would fail. Spread over WGGO_UIDS users the limit is
 * per link's user and a host holds thousands of links; a wireguard-go also has no root to lose.
 */
#ifndef WGGO_H
#define WGGO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* systemd's unused range 0x70000000-0x7fffffff: no account, no container mapping. */
#define WGGO_UID_FIRST 0x7f000000u
#define WGGO_UIDS      4096u
/* A limit below what an idle wireguard-go holds would only make it collect garbage all the
 * time. */
#define WGGO_MEMLIMIT_MIN (8ull << 20)

struct wggo_start {
	const char *program; /* a path, or a name looked up in PATH */
	const char *ifname;
	const char *memlimit; /* GOMEMLIMIT for the child, or NULL */
	uid_t uid;	      /* 0: the daemon's user and capabilities */
	int tun_fd;	      /* attached TUN to serve (WG_TUN_FD), or -1: it opens IFNAME */
	int uapi_fd;	      /* its listening UAPI socket (WG_UAPI_FD) */
};

/* In a managed plugin: lets wireguard-go's users reach the program and its libraries. The
 * plugin's root is its rootfs directory, which the engine makes 0700 (Docker 20.10 and 26); it
 * becomes 0755. Not for a daemon run on the host, whose / is the host's. */
int wggo_open_plugin_root(void);
/* The user the wireguard-go of link IFNAME runs as (0 when the daemon is not root). */
uid_t wggo_uid(const char *ifname);
/* Checks VALUE as a memory limit in GOMEMLIMIT's syntax (an integer of bytes with an optional
 * B, KiB, MiB, GiB or TiB) of at least WGGO_MEMLIMIT_MIN, or "off"; *BYTES gets the limit (0 for
 * off). -EINVAL otherwise. */
int wggo_memlimit_parse(const char *value, uint64_t *bytes);
/* Starts wireguard-go -f IFNAME in the foreground as START asks, in a process group of its own;
 * *PID is the child. Returns once the child runs the program: -ENOENT when there is no such
 * program, -EMFILE when the child's user has no inotify instance left (wggo_limit_explain says
 * which), or the -errno of the step that failed. Borrows START; its descriptors stay the
 * caller's. */
int wggo_spawn(const struct wggo_start *start, pid_t *pid);
/* Writes into BUF what to do about ERR from wggo_spawn for user UID when it is a host limit;
 * false for other errors. */
bool wggo_limit_explain(int err, uid_t uid, char *buf, size_t len);

#endif
