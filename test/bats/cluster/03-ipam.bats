#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Addresses and network identity across hosts: containers started at once on every host get
# distinct addresses; a host whose settings differ is refused with both values; a wg.net network
# needs the plugin's IPAM; removing containers gives their addresses and records back.

load helpers

setup_file()
{
	cluster_setup_file 3
	for i in 1 2 3; do wgnet_on "$i" prod; done
}

teardown_file() { cluster_teardown_file; }
teardown() { cluster_teardown; }

@test "3 x 10 containers started at once get 30 distinct addresses, and reach across" {
	local i j t0=$EPOCHREALTIME addrs
	for i in 1 2 3; do
		for j in $(seq 1 10); do
			ctr_on "$i" "p$i-$j" prod &
		done
	done
	wait
	report "30 containers on 3 hosts started in $(ms_since "$t0") ms"
	addrs=$(for i in 1 2 3; do for j in $(seq 1 10); do ip_on "$i" "p$i-$j" prod; done; done)
	[ "$(grep -c . <<<"$addrs")" -eq 30 ]
	[ "$(sort -u <<<"$addrs" | wc -l)" -eq 30 ]
	[ "$(store_keys ipam/10.50.0.0_16/ | wc -l)" -eq 30 ]
	wait_until 10 ping_once_on 1 p1-1 "$(ip_on 3 p3-10 prod)"
	ping_on 3 p3-10 "$(ip_on 2 p2-5 prod)"
}

@test "a host that creates the network with other settings is refused, naming both values" {
	local out
	on 1 docker network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --subnet 10.51.0.0/16 \
		-o wg.net=second second >/dev/null
	out=$(on 2 docker network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --subnet 10.51.0.0/16 \
		-o wg.net=second -o wg.policy=links second 2>&1) && return 1
	[[ $out == *'network second exists in the cluster with policy mesh, not links'* ]]
	out=$(on 2 docker network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --subnet 10.53.0.0/16 \
		-o wg.net=second second 2>&1) && return 1
	[[ $out == *'subnet4 10.51.0.0/16, not 10.53.0.0/16'* ]]
	# One cluster network per name on a host.
	out=$(on 1 docker network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --subnet 10.51.0.0/16 \
		-o wg.net=second again 2>&1) && return 1
	[[ $out == *'is cluster network second already'* ]]
	# And the next call works.
	on 2 docker network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --subnet 10.51.0.0/16 \
		-o wg.net=second second >/dev/null
}

@test "a wg.net network with the engine's IPAM is refused with the command to use" {
	local out
	out=$(on 1 docker network create -d "$PLUGIN" --subnet 10.52.0.0/16 -o wg.net=x x 2>&1) &&
		return 1
	[[ $out == *'--ipam-driver wireguard:latest --subnet SUBNET -o wg.net=x'* ]]
}

@test "removed containers give their addresses and their records back" {
	local i j
	for i in 1 2 3; do
		for j in $(seq 1 10); do on "$i" docker rm -f "p$i-$j" >/dev/null & done
	done
	wait
	wait_until 10 eval '[ -z "$(store_keys ipam/10.50.0.0_16/)" ]'
	wait_until 10 eval '[ -z "$(store_keys nets/prod/eps/)" ]'
	for i in 1 2 3; do [ -z "$(host_wg_links "$i")" ]; done
}

@test "nothing is left once the containers go: links, wireguard-go, records, addresses" {
	nothing_left
}
