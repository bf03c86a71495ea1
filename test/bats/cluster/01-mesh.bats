#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# One wireguard network on three hosts: every container reaches every other one, over IPv4 and
# IPv6, only through WireGuard; what crosses the underlay is WireGuard UDP, never the payload.

load helpers

setup_file()
{
	cluster_setup_file 3
	for i in 1 2 3; do
		on "$i" docker network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --ipv6 \
			--subnet "$SUBNET4" --subnet "$SUBNET6" -o wg.net=prod prod >/dev/null
	done
	ctr_on 1 a1 prod
	ctr_on 1 a2 prod
	ctr_on 2 b1 prod
	ctr_on 3 c1 prod
}

teardown_file() { cluster_teardown_file; }
teardown() { cluster_teardown; }

# all_pairs FAMILY: every container pings every other one (prints the pairs that fail).
all_pairs()
{
	local fam=$1 from to addr
	for from in 1:a1 1:a2 2:b1 3:c1; do
		for to in 1:a1 1:a2 2:b1 3:c1; do
			[ "$from" = "$to" ] && continue
			if [ "$fam" = 6 ]; then
				addr=$(ip6_on "${to%%:*}" "${to#*:}" prod)
			else
				addr=$(ip_on "${to%%:*}" "${to#*:}" prod)
			fi
			ping_on "${from%%:*}" "${from#*:}" "$addr" || echo "${from#*:} -> ${to#*:}"
		done
	done
}

@test "the addresses are distinct across the hosts and come from the shared subnets" {
	local all
	all=$(for c in 1:a1 1:a2 2:b1 3:c1; do ip_on "${c%%:*}" "${c#*:}" prod; done)
	[ "$(sort -u <<<"$all" | wc -l)" -eq 4 ]
	while read -r a; do [[ $a == 10.50.* ]]; done <<<"$all"
	[[ $(ip6_on 2 b1 prod) == fd00:50::* ]]
	[ "$(store_keys ipam/10.50.0.0_16/ | wc -l)" -eq 4 ]
}

@test "every pair of containers pings over IPv4, across hosts and on one host" {
	local failed
	failed=$(all_pairs 4)
	[ -z "$failed" ] || { echo "failed: $failed" >&2; return 1; }
}

@test "every pair pings over IPv6" {
	[ -z "$(all_pairs 6)" ]
}

@test "each container has lo and wg0 only, the default route on wg0" {
	for c in 1:a1 2:b1 3:c1; do
		[ "$(links_on "${c%%:*}" "${c#*:}")" = "lo wg0" ]
		on "${c%%:*}" docker exec "${c#*:}" ip route | grep -q '^default dev wg0'
	done
}

@test "the underlay carries WireGuard UDP between the hosts, never the payload in clear" {
	local tag pcap=$CLUSTER_DIR/bridge.pcap pid
	tag=$(cluster_tag "$CLUSTER_DIR")
	on 1 docker exec -d a1 nc -l -p 7777
	tcpdump -i "${tag}br" -w "$pcap" -U udp 2>/dev/null &
	pid=$!
	sleep 1
	on 2 docker exec b1 sh -c "echo $MARKER_TEXT | nc -w 2 $(ip_on 1 a1 prod) 7777"
	# The control: the same kind of text sent outside WireGuard, which the capture must see.
	ip netns exec "${tag}h1" bash -c "echo control-$MARKER_TEXT >/dev/udp/$(cluster_host_addr 2)/9"
	sleep 1
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	grep -q "control-$MARKER_TEXT" "$pcap"
	[ "$(grep -c "$MARKER_TEXT" "$pcap")" -eq 1 ]
	# WireGuard between the hosts: data messages (type 4) from h2 to h1.
	tcpdump -r "$pcap" -n -x "src $(cluster_host_addr 2) and dst $(cluster_host_addr 1)" 2>/dev/null |
		grep -q '0x0010:.* 0400 0000'
}

@test "nothing is left once the containers go: links, wireguard-go, records, addresses" {
	nothing_left
}
