/* SPDX-License-Identifier: MIT */
/*
 * A WireGuard device configuration as the driver programs it, independent of the backend
 * (kernel generic netlink or wireguard-go's UAPI socket). Keys are raw 32-byte values.
 */
#ifndef WGDEV_H
#define WGDEV_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define WG_KEY_LEN	     32
#define WGDEV_MAX_ALLOWEDIPS 2 /* one /32 and one /128 per peer: enough for this driver */

struct wg_allowedip {
	uint16_t family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr ip4;
		struct in6_addr ip6;
	};
	uint8_t cidr;
};

/* Where a peer's UDP socket is; addr.sa_family == 0: nowhere known. */
union wg_endpoint {
	struct sockaddr addr;
	struct sockaddr_in addr4;
	struct sockaddr_in6 addr6;
};

struct wg_peer {
	uint8_t public_key[WG_KEY_LEN];
	uint8_t preshared_key[WG_KEY_LEN];
	bool has_preshared_key;
	union wg_endpoint endpoint; /* family 0: leave it as it is (roaming keeps what it learnt) */
	uint16_t persistent_keepalive; /* seconds; 0: off */
	struct wg_allowedip allowedips[WGDEV_MAX_ALLOWEDIPS];
	size_t n_allowedips;
	/* Filled by device_get only. */
	int64_t last_handshake_sec;
	uint64_t rx_bytes, tx_bytes;
};

struct wg_device {
	char name[IFNAMSIZ];
	uint8_t private_key[WG_KEY_LEN];
	bool has_private_key;
	uint8_t public_key[WG_KEY_LEN]; /* filled by device_get only */
	uint16_t listen_port;
	uint32_t mtu; /* 0: leave the backend default; used by link_create only */
	struct wg_peer *peers;
	size_t n_peers;
};

/* Appends a zeroed peer to DEV's array and returns it; NULL when out of memory. The array must
 * be empty or grown by this function alone: its capacity is derived from n_peers. */
struct wg_peer *wgdev_peer_append(struct wg_device *dev);
/* Wipes the keys in DEV and frees its peer array (not DEV itself). Accepts NULL. */
void wgdev_clear(struct wg_device *dev);

#endif
