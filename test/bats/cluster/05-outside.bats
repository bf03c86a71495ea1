#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# An outside peer of a cluster network: added on host 1, it peers with the containers of every
# host; its configuration names each host's address; a namespace on the bridge plays the laptop
# with the real wg-quick and reaches all three. Removed on host 1, every host forgets it.

load helpers

setup_file()
{
	cluster_setup_file 3
	for i in 1 2 3; do
		wgnet_on "$i" out
		ctr_on "$i" "x$i" out
	done
	LAP=$(cluster_tag "$CLUSTER_DIR")L
	export LAP CONF=$CLUSTER_DIR/wgl0.conf
	cluster_netns_add "$CLUSTER_DIR" "$LAP" "$CLUSTER_NET.50"
}

teardown_file()
{
	[ ! -f "$CONF" ] || ip netns exec "$LAP" wg-quick down "$CONF" >/dev/null 2>&1
	cluster_teardown_file
}
teardown() { cluster_teardown; }

peers_in_conf() { grep -c '^\[Peer\]' "$CONF"; }

# eid_on I NAME: the endpoint ID of container NAME (host I) on the network "out" (the plugins
# here have no engine access: wgctl show finds endpoints by ID, not by container name).
eid_on() { on "$1" docker inspect -f '{{(index .NetworkSettings.Networks "out").EndpointID}}' "$2"; }

# forgot I PUBKEY: host I's container xI has no peer PUBKEY (any more).
forgot() { ! wgctl_on "$1" show --json out "$(eid_on "$1" "x$1")" | grep -qF "$2"; }

@test "peer add on host 1: a configuration with every host's containers at their host's address" {
	local i port
	wgctl_on 1 peer add laptop --network out >"$CONF"
	cat "$CONF"
	[ "$(peers_in_conf)" -eq 3 ]
	for i in 1 2 3; do
		port=$(wgctl_on "$i" show --json out "$(eid_on "$i" "x$i")" | jq -r '.networks[0].endpoints[0].listen_port')
		grep -qx "Endpoint = $(cluster_host_addr "$i"):$port" "$CONF"
		grep -qx "AllowedIPs = $(ip_on "$i" "x$i" out)/32" "$CONF"
	done
	[ "$(grep -c '^PresharedKey = ' "$CONF")" -eq 3 ]
}

@test "the laptop (wg-quick on wireguard-go) reaches the containers of all three hosts" {
	local i
	ip netns exec "$LAP" env WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go wg-quick up "$CONF"
	for i in 1 2 3; do
		wait_until 10 ip netns exec "$LAP" busybox ping -c 1 -W 2 "$(ip_on "$i" "x$i" out)"
	done
}

@test "host 2 shows it as an outside peer of host 1's; host 2 cannot add one of the same name" {
	local out
	out=$(wgctl_on 2 show --json out "$(eid_on 2 x2)")
	jq -e '.networks[0].endpoints[0].peers[] | select(.identity == "laptop") |
		.kind == "outside" and .host != null and .link == "active"' <<<"$out"
	run wgctl_on 2 peer add laptop --network out --endpoint "$(cluster_host_addr 2)"
	[ "$status" -eq 1 ]
	[[ $output == *laptop* ]]
}

@test "peer rm on host 1: every host's containers forget it" {
	local pub i
	pub=$(wgctl_on 2 show --json out "$(eid_on 2 x2)" | jq -r '.networks[0].endpoints[0].peers[] | select(.identity == "laptop") | .public_key')
	[ -n "$pub" ]
	wgctl_on 1 peer rm laptop
	for i in 1 2 3; do
		wait_until 15 forgot "$i" "$pub"
	done
	! ip netns exec "$LAP" busybox ping -c 1 -W 2 "$(ip_on 2 x2 out)"
}

@test "nothing is left once the containers go: links, wireguard-go, records, addresses" {
	nothing_left
}
