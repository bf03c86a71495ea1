#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The managed plugin on the kernel backend under a real engine, inside the VM (test/vm/suite).
# What the API suite cannot show is the plugin's own view: its config.json must let it enter a
# running container's namespace (CAP_SYS_ADMIN, the netns mount with slave propagation) to change
# a link Docker has already moved and renamed, for a new peer, a leaving one, or issue 4's
# resolver putting a label's key on the link. A few containers only: every program start costs
# about ten times as much under TCG.

load ../bats/docker/links

setup_file() {
	# The guest mounts no cgroup hierarchy; dockerd and runc need one.
	if [[ ! -e /sys/fs/cgroup/cgroup.controllers ]]; then
		mount -t cgroup2 cgroup2 /sys/fs/cgroup
	fi
	modprobe wireguard
	export WGT_PLUGIN_SETTINGS=WG_BACKEND=kernel
	docker_setup_file
}
teardown_file() { docker_teardown_file; }
teardown() { docker_teardown; }

# sandbox_kind NAME: the link kind of wg0 in container NAME, seen from the host.
sandbox_kind() {
	nsenter --net="$(docker inspect -f '{{.NetworkSettings.SandboxKey}}' "$1")" \
		ip -d -j link show wg0 | jq -r '.[0].linkinfo.info_kind // "none"'
}

@test "plugin on the kernel backend: a container started first gets its later peers; wireguard-go beside it" {
	local pub1 pub2
	wgnet kn
	ctr_run kn-1 kn
	[ "$(ep_info kn-1 kn .Value.backend)" = kernel ]
	[ "$(sandbox_kind kn-1)" = wireguard ]
	[ "$(ctr_links kn-1)" = "lo wg0" ]
	[ -z "$(wggo_pids)" ]
	# kn-1's link is inside its container now: kn-2's Join must reach it there.
	ctr_run kn-2 kn
	pub2=$(ep_info kn-2 kn .Value.public_key)
	[ "$(ep_info kn-1 kn .Value.peers)" = 1 ]
	[ "$(nsenter --net="$(docker inspect -f '{{.NetworkSettings.SandboxKey}}' kn-1)" \
		wg show wg0 peers)" = "$pub2" ]
	ctr_ping kn-1 "$(ctr_ip kn-2 kn)"
	ctr_ping kn-2 "$(ctr_ip kn-1 kn)"
	# kn-3 asks for wireguard-go (EndpointsConfig.DriverOpts, as compose v2 sends it): one
	# network, both backends, under the plugin.
	engine_api POST /containers/create?name=kn-3 "{\"Image\":\"$IMAGE\",
		\"Cmd\":[\"sleep\",\"3600\"],\"HostConfig\":{\"NetworkMode\":\"kn\"},
		\"NetworkingConfig\":{\"EndpointsConfig\":{\"kn\":{\"DriverOpts\":
		{\"wg.backend\":\"userspace\"}}}}}" | jq -e .Id >/dev/null
	engine_api POST /containers/kn-3/start
	[ "$(ep_info kn-3 kn .Value.backend)" = userspace ]
	[ "$(sandbox_kind kn-3)" = tun ]
	[ -n "$(wggo_pids)" ]
	ctr_ping kn-3 "$(ctr_ip kn-1 kn)"
	ctr_ping kn-1 "$(ctr_ip kn-3 kn)"
	docker rm -f kn-3 >/dev/null
	# A leaving peer is removed from the running container's link too.
	docker rm -f kn-2 >/dev/null
	[ -z "$(wggo_pids)" ]
	pub1=$(nsenter --net="$(docker inspect -f '{{.NetworkSettings.SandboxKey}}' kn-1)" \
		wg show wg0 peers)
	[ -z "$pub1" ]
}

@test "plugin on the kernel backend: removal leaves no wireguard link and no state" {
	local links l
	wgnet gone
	ctr_run gone-1 gone
	ctr_run gone-2 gone
	ctr_ping gone-1 "$(ctr_ip gone-2 gone)"
	# By name: test/vm/suite runs an API file beside this one, whose daemon makes kernel links
	# in this same namespace before it moves them (most likely the one link that a check of
	# every wireguard link here found twice, never when this file ran alone).
	links="wg-$(ctr_eid gone-1 gone | cut -c1-12) wg-$(ctr_eid gone-2 gone | cut -c1-12)"
	docker rm -f gone-1 gone-2 >/dev/null
	docker network rm gone >/dev/null
	for l in $links; do
		! ip link show "$l" >/dev/null 2>&1 || { echo "$l is left in the host" >&2; return 1; }
	done
	[ -z "$(state_files networks keys/identity keys/link)" ]
}

@test "plugin on the kernel backend: labels re-key a running container's link (engine resolver)" {
	local pub
	grant_engine_access
	wgnet sec -o wg.policy=links
	ctr_run db sec --label wireguard.key=db
	ctr_run web sec --label wireguard.key=web --label wireguard.links=db
	ctr_run lone sec
	wait_until 60 resolved sec db web lone
	[ "$(ep_info web sec .Value.key)" = web ]
	[ "$(ep_info web sec .Value.backend)" = kernel ]
	# The kernel link inside each container has the key its label names, not the one it was
	# created with.
	for c in db web; do
		pub=$(nsenter --net="$(docker inspect -f '{{.NetworkSettings.SandboxKey}}' "$c")" \
			wg show wg0 public-key)
		[ "$pub" = "$(ep_info "$c" sec .Value.public_key)" ]
		wgctl list | grep -qx "identity $c $pub"
	done
	ctr_ping web "$(ctr_ip db sec)"
	ctr_ping db "$(ctr_ip web sec)"
	no_ctr_ping lone "$(ctr_ip db sec)"
	[ "$(peers lone sec)" = 0 ]
}
