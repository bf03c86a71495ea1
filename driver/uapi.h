/* SPDX-License-Identifier: MIT */
/*
 * The cross-platform WireGuard UAPI text protocol (wireguard-go's /var/run/wireguard/NAME.sock):
 * building set=1 requests, parsing replies, and one request/reply exchange per connection with
 * an overall deadline so a stuck daemon cannot hang the caller.
 */
#ifndef UAPI_H
#define UAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wgdev.h"

#define UAPI_SOCKET_DIR "/var/run/wireguard"
#define UAPI_TIMEOUT_MS 2000
#define UAPI_REPLY_MAX	(1 << 20)

/* Growable NUL-terminated text that may hold keys; zero-initialise, release with uapi_buf_free. */
struct uapi_buf {
	char *data;
	size_t len, cap;
};

/* Wipes and frees BUF's storage (not BUF itself) and resets it to empty. Accepts NULL. */
void uapi_buf_free(struct uapi_buf *buf);

/* Appends to OUT a set=1 request that configures DEV from scratch: private key (if any), listen
 * port, replace_peers, then exactly DEV's peers. Borrows DEV. -EINVAL on an unusable peer. */
int uapi_build_device_set(const struct wg_device *dev, struct uapi_buf *out);
/* Appends to OUT a set=1 request adding or updating PEER and replacing its allowed IPs. */
int uapi_build_peer_set(const struct wg_peer *peer, struct uapi_buf *out);
/* Appends to OUT a set=1 request removing the peer with PUBLIC_KEY. */
int uapi_build_peer_remove(const uint8_t public_key[WG_KEY_LEN], struct uapi_buf *out);
/* Appends to OUT one set=1 request that removes the N_REMOVE peers of REMOVE, then adds or
 * updates the N_SET peers of SET (their allowed IPs replaced): a key in both is renewed. */
int uapi_build_peers_apply(const struct wg_peer *set, size_t n_set,
			   const uint8_t (*remove)[WG_KEY_LEN], size_t n_remove,
			   struct uapi_buf *out);

/* Parses a set reply: 0, the daemon's error as -errno, or -EPROTO when REPLY is malformed. */
int uapi_parse_set_reply(const char *reply);
/* Parses a get reply into OUT (zeroed first; free with wgdev_clear even on error). The public key
 * is derived from the private key, which is wiped (has_private_key stays false). Returns 0, the
 * daemon's error as -errno, -EPROTO on malformed text, -E2BIG on more allowed IPs than a peer
 * holds. */
int uapi_parse_get_reply(const char *reply, struct wg_device *out);

/* Sends REQUEST on the UAPI socket at PATH and reads the reply up to its blank line into REPLY
 * (release with uapi_buf_free even on error), all within TIMEOUT_MS: -ETIMEDOUT otherwise. */
int uapi_transact(const char *path, const char *request, int timeout_ms, struct uapi_buf *reply);
/* Sends the set request REQUEST to IFNAME's daemon; 0 or -errno (transport or daemon). */
int uapi_set(const char *ifname, const struct uapi_buf *request);
/* Reads IFNAME's device from its daemon into OUT (free with wgdev_clear even on error). */
int uapi_get(const char *ifname, struct wg_device *out);
/* Creates IFNAME's UAPI socket, listening, for a wireguard-go to serve (WG_UAPI_FD): mode 0600,
 * owned by UID (that wireguard-go watches the file, which takes read access), replacing a stale
 * file; the directory is made 0755 when missing. Returns the descriptor (close-on-exec) or
 * -errno. */
int uapi_listen(const char *ifname, uid_t uid);
/* Asks IFNAME's daemon for its device and waits up to TIMEOUT_MS for the answer: 0 once it
 * answers (a socket made by uapi_listen accepts connections before its daemon serves them). */
int uapi_wait_ready(const char *ifname, int timeout_ms);
/* true when IFNAME's UAPI socket accepts a connection. */
bool uapi_socket_alive(const char *ifname);
/* Writes IFNAME's UAPI socket path into PATH; -EINVAL for a bad name, -ENAMETOOLONG. */
int uapi_socket_path(const char *ifname, char *path, size_t size);

#endif
