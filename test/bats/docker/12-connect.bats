#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# docker network connect --driver-opt: a running container joins a second wireguard network with
# an endpoint option (the CLI keeps case here, unlike docker run --network name=...,driver-opt=).

load helpers

setup_file() { docker_setup_file; }
teardown_file() { docker_teardown_file; }
teardown() { docker_teardown; }

@test "network connect --driver-opt wg.key: wg1 in a running container, same key when re-created" {
	local pub
	wgnet first --subnet 10.241.0.0/24
	wgnet second --subnet 10.242.0.0/24
	ctr_run c1 first
	ctr_run c2 first
	docker network connect --driver-opt wg.key=conn-one second c1
	docker network connect --driver-opt wg.key=conn-two second c2
	[ "$(ctr_links c1)" = "lo wg0 wg1" ]
	ctr_ping c1 "$(ctr_ip c2 second)"
	ctr_ping c2 "$(ctr_ip c1 second)"
	[ "$(ep_info c1 second .Value.key)" = conn-one ]
	pub=$(ep_info c1 second .Value.public_key)
	docker rm -f c1 >/dev/null
	ctr_run c1 first
	docker network connect --driver-opt wg.key=conn-one second c1
	[ "$(ep_info c1 second .Value.public_key)" = "$pub" ]
	ctr_ping c2 "$(ctr_ip c1 second)"
}
