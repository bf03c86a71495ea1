#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Dual-stack networks: IPv6 goes through wg0 as well.

load helpers

setup_file() { docker_setup_file; }
teardown_file() { docker_teardown_file; }
teardown() { docker_teardown; }

@test "containers on a dual-stack network ping each other over IPv6 and IPv4" {
	wgnet dual --ipv6 --subnet 10.231.7.0/24 --subnet fd77:7767:7767::/64
	ctr_run dual-1 dual
	ctr_run dual-2 dual
	run docker exec dual-1 ip -6 route
	[[ $output == *"default dev wg0"* ]]
	ctr_ping dual-1 "$(ctr_ip6 dual-2 dual)" -6
	ctr_ping dual-2 "$(ctr_ip6 dual-1 dual)" -6
	ctr_ping dual-1 "$(ctr_ip dual-2 dual)"
}
