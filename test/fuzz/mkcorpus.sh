#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: test/fuzz/mkcorpus.sh MKCORPUS    (as root; `make fuzz-corpus` builds MKCORPUS and runs it)
# Writes the generated seeds of test/fuzz/corpus/ again; regression cases (regress-*) and any
# other file are left alone. Everything runs in network and mount namespaces of its own, which
# go away with it, so the host's links and /run are never touched:
#   fuzz_genl_wg     GET_DEVICE dumps built with the helpers of test/unit/test_genl_wg.c
#   fuzz_rtnl_link   the kernel's link dumps around a TUN that tun_create made
#   fuzz_wg_links    the same, and dumps with wireguard links (built: this kernel has none)
#   fuzz_nlsock      both, and the kernel's errors and nlctrl family
#   fuzz_uapi        wireguard-go's answers: two devices with a handshake between them over
#                    127.0.0.1, a peer on [::1] and one with a zone; an empty device; set answers
#   fuzz_keyfile     keys as the keystore and `wg genkey` write them, and as an operator might
set -euo pipefail
mkcorpus=$(realpath "$1")
cd "$(dirname "$0")/../.." || exit 1
corpus=$PWD/test/fuzz/corpus
for h in fuzz_genl_wg fuzz_rtnl_link fuzz_wg_links fuzz_nlsock fuzz_uapi fuzz_keyfile; do
	mkdir -p "$corpus/$h"
done

"$mkcorpus" genl "$corpus"
unshare --net bash -euc '
	ip link add fz-a type veth peer name fz-b
	"$1" netlink "$2"' - "$mkcorpus" "$corpus"

# wireguard-go in its own namespaces: its sockets in a /run of their own, its UDP on loopback.
unshare --net --mount --propagation private bash -euc '
	mkcorpus=$1 out=$2/fuzz_uapi pids=()
	trap "kill \${pids[*]} 2>/dev/null; wait" EXIT
	mount -t tmpfs tmpfs /run
	ip link set lo up
	for i in 0 1 2; do
		WG_PROCESS_FOREGROUND=1 wireguard-go -f wgfuzz$i >/dev/null 2>&1 &
		pids+=($!)
	done
	for i in 0 1 2; do
		for _ in $(seq 50); do [ -S /run/wireguard/wgfuzz$i.sock ] && break; sleep 0.1; done
	done
	k0=$(wg genkey) k1=$(wg genkey) k2=$(wg genkey) psk=$(wg genpsk)
	wg set wgfuzz0 private-key <(echo "$k0") listen-port 51830 \
		peer "$(wg pubkey <<<"$k1")" preshared-key <(echo "$psk") endpoint 127.0.0.1:51831 \
		allowed-ips 10.77.0.2/32,fd00:77::2/128 persistent-keepalive 1 \
		peer "$(wg pubkey <<<"$k2")" endpoint "[::1]:51999" allowed-ips 10.77.0.3/32 \
		peer "$(wg pubkey <<<"$(wg genkey)")" endpoint "[fe80::1%lo]:51998"
	wg set wgfuzz1 private-key <(echo "$k1") listen-port 51831 \
		peer "$(wg pubkey <<<"$k0")" preshared-key <(echo "$psk") endpoint 127.0.0.1:51830 \
		allowed-ips 10.77.0.1/32
	ip link set wgfuzz0 up
	ip link set wgfuzz1 up
	for _ in $(seq 100); do
		[ "$(wg show wgfuzz0 latest-handshakes | awk "NR == 1 { print \$2 }")" != 0 ] && break
		sleep 0.1
	done
	"$mkcorpus" uapi /run/wireguard/wgfuzz0.sock $'\''get=1\n\n'\'' "$out/get-three-peers"
	"$mkcorpus" uapi /run/wireguard/wgfuzz1.sock $'\''get=1\n\n'\'' "$out/get-handshake"
	"$mkcorpus" uapi /run/wireguard/wgfuzz2.sock $'\''get=1\n\n'\'' "$out/get-empty"
	"$mkcorpus" uapi /run/wireguard/wgfuzz2.sock $'\''set=1\nlisten_port=51832\n\n'\'' \
		"$out/set-ok"
	"$mkcorpus" uapi /run/wireguard/wgfuzz2.sock $'\''set=1\nprivate_key=zz\n\n'\'' \
		"$out/set-invalid"' - "$mkcorpus" "$corpus"

umask 077 # wg warns of keys written to files others can read
key=$(wg genkey)
echo "$key" >"$corpus/fuzz_keyfile/genkey"
wg genpsk >"$corpus/fuzz_keyfile/genpsk"
printf '%s' "$key" >"$corpus/fuzz_keyfile/no-newline"
printf '%s\r\n' "$key" >"$corpus/fuzz_keyfile/crlf"
printf '%s \t\n\n' "$key" >"$corpus/fuzz_keyfile/trailing-space"
printf ' %s\n' "$key" >"$corpus/fuzz_keyfile/leading-space"
printf '%s\n' "${key%?}" >"$corpus/fuzz_keyfile/short"
