#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Network creation through the managed plugin, and the errors users see for bad options.

load helpers

setup_file() { docker_setup_file; }
teardown_file() { docker_teardown_file; }
teardown() { docker_teardown; }

@test "docker network create -d wireguard:latest makes a network the engine lists" {
	wgnet wgnet1
	run docker network inspect -f '{{.Driver}} {{.Scope}}' wgnet1
	[ "$status" -eq 0 ]
	[ "$output" = "$PLUGIN local" ]
	docker network rm wgnet1
	[ -z "$(state_files networks)" ]
}

@test "an unknown option fails and lists the known ones" {
	run docker network create -d "$PLUGIN" -o wg.foo=1 badopt
	[ "$status" -ne 0 ]
	[[ $output == *'"wg.foo"'*unknown*'known options'*wg.psk*com.docker.network.driver.mtu* ]]
	run docker network inspect badopt
	[ "$status" -ne 0 ]
}

@test "an MTU out of range fails and names the option" {
	run docker network create -d "$PLUGIN" -o com.docker.network.driver.mtu=100 badmtu
	[ "$status" -ne 0 ]
	[[ $output == *com.docker.network.driver.mtu*1280* ]]
	run docker network create -d "$PLUGIN" -o com.docker.network.driver.mtu=big badmtu
	[ "$status" -ne 0 ]
	[[ $output == *com.docker.network.driver.mtu* ]]
}

@test "wg.backend: the network's choice serves its containers; one this host cannot run is refused" {
	wgnet usnet -o wg.backend=userspace
	ctr_run us-1 usnet
	[ "$(ep_info us-1 usnet .Value.backend)" = userspace ]
	if ip link add "wgt$$" type wireguard 2>/dev/null; then
		ip link del "wgt$$"
		skip "this kernel has WireGuard: the kernel suite runs the kernel backend"
	fi
	run docker network create -d "$PLUGIN" -o wg.backend=kernel knet
	[ "$status" -ne 0 ]
	[[ $output == *option*wg.backend*'the kernel backend cannot run on this host'*CONFIG_WIREGUARD* ]]
	run docker network inspect knet
	[ "$status" -ne 0 ]
	# An endpoint asking for it: the connect fails, the container keeps its network.
	ctr_run us-2 usnet
	wgnet usnet2
	run docker network connect --driver-opt wg.backend=kernel usnet2 us-2
	[ "$status" -ne 0 ]
	[[ $output == *'Options.wg.backend: the kernel backend cannot run on this host'* ]]
	[ "$(ctr_links us-2)" = "lo wg0" ]
	ctr_ping us-2 "$(ctr_ip us-1 usnet)"
}

@test "the MTU option reaches wg0 inside the container" {
	wgnet mtunet -o com.docker.network.driver.mtu=1300
	ctr_run mtu-1 mtunet
	run docker exec mtu-1 cat /sys/class/net/wg0/mtu
	[ "$output" = 1300 ]
}

@test "a container with a MAC address (docker run --mac-address) fails with a clear message" {
	wgnet macnet
	# The request a 20.10 client sends for `docker run --mac-address`; a newer client refuses to
	# send it to a 20.10 engine (per-network MAC needs API 1.44), so send it ourselves.
	id=$(engine_api POST /containers/create "{\"Image\":\"$IMAGE\",\"Cmd\":[\"true\"],
		\"MacAddress\":\"02:42:ac:11:00:02\",\"HostConfig\":{\"NetworkMode\":\"macnet\"}}" |
		jq -er .Id)
	run engine_api POST "/containers/$id/start"
	[[ $output == *"a WireGuard link has no MAC address"* ]]
	run docker inspect -f '{{.State.Running}}' "$id"
	[ "$output" = false ]
}
