/* SPDX-License-Identifier: MIT */
/*
 * The kernel's WireGuard generic netlink family: resolving it, WG_CMD_SET_DEVICE requests split
 * over as many messages as needed (wireguard-tools' ipc-linux.h kernel_set_device), and
 * WG_CMD_GET_DEVICE dumps merged into one struct wg_device. Devices are looked up by name in the
 * network namespace the socket was opened in.
 */
#ifndef GENL_WG_H
#define GENL_WG_H

#include "nlsock.h"
#include "wgdev.h"

#include <linux/wireguard.h>

/* Request buffer: libmnl's MNL_SOCKET_BUFFER_SIZE on 8 KiB pages, what wg(8) sends. */
#define GENL_WG_SET_SIZE 8192
/* A dump interrupted by a concurrent change is read again, at most this often. */
#define GENL_WG_GET_TRIES 8

struct genl_wg {
	struct nlsock sock;
	uint16_t family;
};

/* One WG_CMD_SET_DEVICE change and its progress through the messages that carry it. Fill the
 * request fields, zero the rest, then call genl_wg_build_set until it returns 0. */
struct genl_wg_set {
	const char *ifname;
	/* WG_KEY_LEN bytes, or NULL to leave the key */
	const uint8_t *private_key;
	/* 0 leaves the port */
	uint16_t listen_port;
	/* WGDEVICE_F_*, sent in the first message only */
	uint32_t device_flags;
	const struct wg_peer *peers;
	size_t n_peers;
	/* the first N_REMOVE of PEERS are removed (WGPEER_F_REMOVE_ME, their keys only); the
	 * kernel takes the peers in order, so a key removed there and set after is renewed */
	size_t n_remove;
	/* WGPEER_F_* for every other peer */
	uint32_t peer_flags;
	/* progress, zero before the first message */
	bool device_sent;
	size_t next_peer, next_allowedip;
	bool peer_started; /* the next peer's first fragment went out: continue it */
};

/* Opens a generic netlink socket in the network namespace file NETNS (NULL: the caller's) and
 * resolves the family "wireguard". -EPROTONOSUPPORT when the kernel has none. Release with
 * genl_wg_close. */
int genl_wg_open(struct genl_wg *wg, const char *netns);
/* Closes WG. Accepts a zeroed or already closed WG. */
void genl_wg_close(struct genl_wg *wg);
/* Applies SET to its device (NLM_F_ACK each message). Borrows SET's keys and peers. */
int genl_wg_set_device(struct genl_wg *wg, struct genl_wg_set *set);
/* Reads device IFNAME into OUT (zeroed first; free with wgdev_clear, also on error). The private
 * key is never copied out. -ENODEV when there is no such device, -E2BIG when a peer has more
 * allowed IPs than struct wg_peer holds. */
int genl_wg_get_device(struct genl_wg *wg, const char *ifname, struct wg_device *out);

/* Builds the next message of SET for FAMILY into BUF (BUFLEN bytes) and records the progress in
 * SET. Returns 1 when more messages must follow, 0 for the last one, -EINVAL for a bad name,
 * -EMSGSIZE when BUFLEN cannot hold the next piece. Unless a peer is removed (WGPEER_F_REMOVE_ME,
 * in the peer flags or among the first N_REMOVE), its preshared key is sent (zeros when it has
 * none: the key is removed) and its first fragment carries WGPEER_F_REPLACE_ALLOWEDIPS if asked. */
int genl_wg_build_set(struct genl_wg_set *set, void *buf, size_t buflen, uint16_t family);
/* Merges one WG_CMD_GET_DEVICE dump message NLH into DEV (a struct wg_device), appending peers
 * and joining a peer continued from the previous message. An nlsock_cb. */
int genl_wg_parse_device(const struct nlmsghdr *nlh, void *dev);

#endif
