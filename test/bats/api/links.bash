# SPDX-License-Identifier: MIT
# Helpers for the API suite's files on keys and links (60 and up): endpoints with wg.* options,
# the wgctl CLI on the daemon's wgctl socket, and checks that a refused request changed nothing.

load helpers

WGCTL=${WGCTL:-$(dirname "$WG_DRIVER")/wgctl}

# wgctl ARGS...: the CLI on this file's daemon (its wgctl socket sits beside the engine's).
wgctl() { "$WGCTL" -s "$TMP/wgctl.sock" "$@"; }

# opts JSON: endpoint options as the engine sends them, the engine's own labels included.
opts() { jq -c --argjson e "$ENGINE_OPTS" '$e + .' <<<"$1"; }

# ep_up_opts LABEL NID EID ADDR OPTIONS: ep_up with endpoint options (wg.key, wg.links).
ep_up_opts() {
	ns_make "$1" && ep_create "$2" "$3" "$4" "" "$(opts "$5")" && join_ep "$2" "$3" "$1" &&
		attach "$1" "$3" "$4"
}

# ep_down LABEL NID EID: what the engine does when the container goes: link back, Leave, Delete.
ep_down() { detach "$1" "$3" && leave_ep "$2" "$3" >/dev/null && delete_ep "$2" "$3" >/dev/null; }

# no_ping LABEL ADDR: not a single echo reply.
no_ping() {
	! n "$1" busybox ping -c 2 -W 1 "${2%/*}" >/dev/null 2>&1 ||
		{ echo "$1 reached ${2%/*}" >&2; return 1; }
}

# peers_of EID: the public keys `wg show` lists as peers of EID's link, sorted, one line.
peers_of() { wgdev "$1" show peers | sort | paste -sd' '; }

# handshake EID PUBKEY: the peer's latest handshake time on EID's link ("" when it is no peer).
handshake() { peer_field "$1" latest-handshakes "$2"; }

# psk EID PUBKEY: the preshared key EID's link has for that peer.
psk() { peer_field "$1" preshared-keys "$2"; }

