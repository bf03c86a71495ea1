#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Removing containers and networks leaves no link, no wireguard-go process and no state behind.

load helpers

setup_file() { docker_setup_file; }
teardown_file() { docker_teardown_file; }
teardown() { docker_teardown; }

no_host_link() { ! ip link show "$1" >/dev/null 2>&1; }
no_wggo() { [ -z "$(wggo_pids)" ]; }
count() { [ -z "$1" ] && echo 0 || wc -l <<<"$1"; }

@test "docker rm -f and docker network rm leave no link, process or state behind" {
	wgnet gone
	ctr_run gone-1 gone
	ctr_run gone-2 gone
	ctr_ping gone-1 "$(ctr_ip gone-2 gone)"
	eid1=$(ctr_eid gone-1 gone)
	eid2=$(ctr_eid gone-2 gone)
	backend=$(ep_info gone-1 gone .Value.backend)
	[ "$(count "$(state_files keys/identity)")" -eq 2 ]
	# Their link's preshared key is derived (keys/link.key), not a file of the pair.
	[ "$(count "$(state_files keys/link)")" -eq 0 ]
	if [ "$backend" = userspace ]; then
		[ "$(count "$(wggo_pids)")" -eq 2 ]
	fi

	docker rm -f gone-1 >/dev/null
	no_host_link "wg-${eid1:0:12}"
	[ "$(count "$(state_files keys/identity)")" -eq 1 ]
	[ "$(count "$(state_files keys/link)")" -eq 0 ]

	docker rm -f gone-2 >/dev/null
	docker network rm gone >/dev/null
	no_host_link "wg-${eid2:0:12}"
	wait_until 10 no_wggo
	[ -z "$(state_files networks keys/identity keys/link)" ]
}

@test "docker network rm of an unused network leaves no state" {
	wgnet empty
	[ "$(count "$(state_files networks)")" -eq 1 ]
	docker network rm empty >/dev/null
	[ -z "$(state_files networks)" ]
}
