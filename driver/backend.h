/* SPDX-License-Identifier: MIT */
/*
 * The two ways of driving a WireGuard link: the kernel module (rtnetlink + generic netlink) and
 * wireguard-go (a TUN device configured over its UAPI socket). The endpoint lifecycle talks only
 * to this table.
 *
 * Links are created in the host network namespace under a name the driver chooses (<= 15 chars);
 * Docker later moves them into a sandbox and renames them (wg0). Functions that change a link
 * that may already be inside a sandbox get the sandbox path (SandboxKey, a netns file) and the
 * link's public key and port, which identify it wherever it is; the kernel backend needs them, the
 * userspace backend finds the link through the UAPI socket named after the original name.
 * All functions return 0 or -errno.
 */
#ifndef BACKEND_H
#define BACKEND_H

#include "wgdev.h"

struct wg_link_ref {
	const char *ifname;	   /* name the link was created with, in the host netns */
	const char *sandbox;	   /* netns path the link may have moved to, or NULL */
	const uint8_t *public_key; /* WG_KEY_LEN bytes: identifies the link inside the sandbox */
	/* With the public key, identifies it among links of the same key: a container on two
	 * networks with one wg.key has two, never on the same port. 0: any port. */
	uint16_t listen_port;
};

struct backend_ops {
	const char *name; /* "kernel" or "userspace" */
	/* Creates link DEV->name in the host netns with DEV's key, port, MTU and peers; with port 0
	 * the kernel picks one. *PORT gets the port the link listens on. Borrows DEV. On failure
	 * nothing is left behind: -EEXIST if a link of that name exists, -EADDRINUSE if the port
	 * is taken. */
	int (*link_create)(const struct wg_device *dev, uint16_t *port);
	/* Deletes the link (host netns) and anything backing it; 0 if it is already gone. */
	int (*link_delete)(const char *ifname);
	/* Adds PEER to the link, or updates it (replacing its allowed IPs). Borrows PEER. */
	int (*peer_set)(const struct wg_link_ref *link, const struct wg_peer *peer);
	/* Removes the peer with PUBLIC_KEY from the link; 0 if it was not there. */
	int (*peer_remove)(const struct wg_link_ref *link, const uint8_t public_key[WG_KEY_LEN]);
	/* Removes the N_REMOVE peers of REMOVE (those not there are no error), then sets the N_SET
	 * peers of SET (each added or updated, its allowed IPs replaced), in as few calls as the
	 * backend needs: a peer in both is renewed. Borrows all. */
	int (*peers_apply)(const struct wg_link_ref *link, const struct wg_peer *set, size_t n_set,
			   const uint8_t (*remove)[WG_KEY_LEN], size_t n_remove);
	/* Reads the link's device state into OUT (free with wgdev_clear). The private key is not
	 * returned (has_private_key false). */
	int (*device_get)(const struct wg_link_ref *link, struct wg_device *out);
	/* true when the link still exists (in the host netns or in the sandbox). */
	bool (*link_exists)(const struct wg_link_ref *link);
	/* Reconfigures the existing link from DEV: its private key (when DEV has one), listen port
	 * and exactly DEV's peers, removing any other; DEV->name and mtu are not used. LINK's
	 * public key is the one the link has now. Borrows DEV. */
	int (*device_set)(const struct wg_link_ref *link, const struct wg_device *dev);
	/* At start, for a link the state says is joined: makes sure it is served, with DEV's key
	 * and port. When it had to be served anew, it gets DEV whole (peers too) and *RESTARTED is
	 * set: its peers still hold sessions it no longer has. -ENODEV when the link is gone. NULL
	 * when a link needs nothing to be served (link_exists tells). Borrows DEV. */
	int (*link_restore)(const struct wg_link_ref *link, const struct wg_device *dev,
			    bool *restarted);
	/* When ERR, from link_create or link_restore of IFNAME, means a limit of the host was
	 * reached: writes into BUF which one and the command that raises it, and returns true.
	 * NULL when the backend knows of none. */
	bool (*limit_explain)(const char *ifname, int err, char *buf, size_t len);
};

extern const struct backend_ops backend_kernel;
extern const struct backend_ops backend_userspace;

/* Sets the wireguard-go program the userspace backend runs ("wireguard-go" from PATH by
 * default). Borrows PATH for the life of the process: like the processes it starts, the program
 * is the process's, not one daemon's. */
void backend_userspace_set_program(const char *path);
/* Sets the memory limit of every wireguard-go the userspace backend starts from now on (their
 * GOMEMLIMIT, checked by wggo_memlimit_parse; NULL or "": none). Borrows VALUE like the
 * program's path. */
void backend_userspace_set_memlimit(const char *value);
/* The wireguard-go program the userspace backend runs. */
const char *backend_userspace_program(void);
/* Forgets the wireguard-go processes the userspace backend started without stopping them: their
 * links keep working, and the next daemon takes them over (link_restore). */
void backend_userspace_finalise(void);

#endif
