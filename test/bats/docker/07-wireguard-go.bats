#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The wireguard-go processes of the userspace backend: each under a user of its own with
# CAP_NET_ADMIN only, WG_GO_MEMLIMIT as its GOMEMLIMIT, and, with the wireguard-go the plugin
# ships, TUN offloads on, also on a TUN handed to a new wireguard-go after a plugin restart.

load helpers

setup_file()
{
	WGT_PLUGIN_SETTINGS="${WGT_PLUGIN_SETTINGS:-} WG_GO_MEMLIMIT=48MiB" docker_setup_file
}
teardown_file() { docker_teardown_file; }
teardown() { docker_teardown; }

status_field() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
in_ctr() { nsenter -t "$(docker inspect -f '{{.State.Pid}}' "$1")" -n "${@:2}"; }
# offloads CTR: the TUN of CTR's wg0 has a virtio-net header and segmentation offload on.
offloads()
{
	in_ctr "$1" ip -d link show wg0 | grep -q 'vnet_hdr on' &&
		in_ctr "$1" ethtool -k wg0 | grep -q '^tcp-segmentation-offload: on'
}
userspace_only() { [ "$(ep_info "$1" "$2" .Value.backend)" = userspace ] || skip "kernel backend"; }

@test "each wireguard-go runs as a user of its own, with CAP_NET_ADMIN and GOMEMLIMIT from WG_GO_MEMLIMIT" {
	wgnet wggo
	ctr_run wggo-1 wggo
	ctr_run wggo-2 wggo
	userspace_only wggo-1 wggo
	ctr_ping wggo-1 "$(ctr_ip wggo-2 wggo)"
	pids=$(wggo_pids)
	[ "$(wc -l <<<"$pids")" -eq 2 ]
	uids=()
	for p in $pids; do
		tr '\0' '\n' <"/proc/$p/environ" | grep -qx 'GOMEMLIMIT=48MiB'
		uid=$(status_field "$p" Uid)
		[ "$uid" -ge $((0x7f000000)) ] && [ "$uid" -lt $((0x7f000000 + 4096)) ]
		[ "$(status_field "$p" CapEff)" = 0000000000001400 ]
		uids+=("$uid")
	done
	[ "${uids[0]}" != "${uids[1]}" ]
}

@test "the shipped wireguard-go turns TUN offloads on, and keeps them after a plugin restart" {
	case $(cat "$PLUGIN_DIR/wireguard-go.version" 2>/dev/null) in
	0.0.2022*) skip "the plugin ships a wireguard-go without offloads" ;;
	esac
	command -v ethtool >/dev/null || skip "no ethtool"
	wgnet offl
	ctr_run offl-1 offl
	ctr_run offl-2 offl
	userspace_only offl-1 offl
	ctr_ping offl-1 "$(ctr_ip offl-2 offl)"
	offloads offl-1
	offloads offl-2

	# Every wireguard-go dies with the plugin; the new daemon hands each TUN to a new one.
	docker plugin disable -f "$PLUGIN" >/dev/null
	docker plugin enable "$PLUGIN" >/dev/null
	ctr_ping offl-1 "$(ctr_ip offl-2 offl)"
	offloads offl-1
	offloads offl-2
	for p in $(wggo_pids); do
		tr '\0' '\n' <"/proc/$p/environ" | grep -qx 'WG_TUN_FD=3'
	done
}
