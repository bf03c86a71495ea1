#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Containers on a WireGuard network: what they see and whom they reach.

load helpers

setup_file() { docker_setup_file; }
teardown_file() { docker_teardown_file; }
teardown() { docker_teardown; }

@test "three containers each have exactly lo and wg0, with the default route on wg0" {
	wgnet tri
	for c in tri-1 tri-2 tri-3; do
		ctr_run "$c" tri
	done
	for c in tri-1 tri-2 tri-3; do
		run ctr_links "$c"
		[ "$output" = "lo wg0" ]
		run docker exec "$c" ip route
		[[ $output == *"default dev wg0"* ]]
	done
}

@test "three containers reach each other, every pair both ways" {
	wgnet tri
	for c in tri-1 tri-2 tri-3; do
		ctr_run "$c" tri
	done
	for a in tri-1 tri-2 tri-3; do
		for b in tri-1 tri-2 tri-3; do
			[ "$a" = "$b" ] || ctr_ping "$a" "$(ctr_ip "$b" tri)"
		done
	done
}

@test "a container started before another still reaches it, and is reached" {
	wgnet order
	ctr_run early order
	ctr_run late order
	ctr_ping early "$(ctr_ip late order)"
	ctr_ping late "$(ctr_ip early order)"
}

@test "a container that joins after a peer left still reaches the others" {
	wgnet churn
	ctr_run churn-1 churn
	ctr_run churn-2 churn
	docker rm -f churn-2 >/dev/null
	ctr_run churn-3 churn
	ctr_ping churn-1 "$(ctr_ip churn-3 churn)"
	ctr_ping churn-3 "$(ctr_ip churn-1 churn)"
}

@test "wg.psk=off still connects" {
	wgnet nopsk -o wg.psk=off
	ctr_run nopsk-1 nopsk
	ctr_run nopsk-2 nopsk
	ctr_ping nopsk-1 "$(ctr_ip nopsk-2 nopsk)"
	[ -z "$(state_files keys/link)" ]
}
