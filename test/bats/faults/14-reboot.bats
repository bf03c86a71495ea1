#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# A host reboots with the plugin installed and containers with a restart policy on a wireguard
# network: the engine stops, /run is emptied (its exec-root, the sandboxes' namespaces, every
# mount under it), the links and processes are gone, and the engine starts again and enables the
# plugin before any container exists. The engine must come up (an engine whose network plugin
# fails to enable panics at start), the containers come back connected and reach each other,
# and the named keys are the same. The tests run in order on one host.

load host

setup_file()
{
	host_setup_file
	plugin_install LOG_LEVEL=debug
	docker network create -d "$PLUGIN" --subnet 10.79.5.0/24 rb >/dev/null
	docker run -d --name rb-db --restart always --network name=rb,driver-opt=wg.key=db \
		"$IMAGE" sleep 1d >/dev/null
	docker run -d --name rb-web --restart unless-stopped \
		--network name=rb,driver-opt=wg.key=web "$IMAGE" sleep 1d >/dev/null
	docker run -d --name rb-anon --restart always --network rb "$IMAGE" sleep 1d >/dev/null
	# The earlier endpoints learn a new peer after its Join answers (within a second or so):
	# a first handshake can meet a peer that does not know it yet and is retried 5 s later.
	wait_until 15 eval '[ -z "$(mesh rb rb-db rb-web rb-anon)" ]'
	pubkeys rb rb-db rb-web >"$WGT_DIR/keys"
}

teardown_file() { host_teardown_file; }
teardown() { fault_teardown; }

# after_boot HOW T0: what must hold after every reboot; T0 is when it began.
after_boot()
{
	local how=$1 t0=$2 c
	! engine_panicked || false
	[ "$(docker plugin inspect -f '{{.Enabled}}' "$PLUGIN")" = true ]
	plugin_refresh
	for c in rb-db rb-web rb-anon; do
		wait_until 30 eval '[ "$(docker inspect -f "{{.State.Running}}" '"$c"')" = true ]'
	done
	wait_until 15 eval '[ -z "$(mesh rb rb-db rb-web rb-anon)" ]'
	report "$how: containers back and reaching each other $(ms_since "$t0") ms after it began"
	for c in rb-db rb-web rb-anon; do [ "$(ctr_links "$c")" = "lo wg0" ]; done
	[ "$(pubkeys rb rb-db rb-web)" = "$(cat "$WGT_DIR/keys")" ]
	# Nothing is left of the endpoints from before the boot: the engine's cleanup calls came.
	wait_until 10 eval '[ "$(state_eids | sort)" = "$(for c in rb-db rb-web rb-anon; do
		ctr_eid "$c" rb; done | sort)" ]'
	[ "$(count "$(wggo_pids)")" -eq 3 ]
	[ "$(find "$WGT_STATE/keys/identity" -type f | wc -l)" -eq 3 ]
}

@test "reboot: the engine starts, enables the plugin, and the containers come back connected" {
	local t0=$EPOCHREALTIME
	host_reboot "$WGT_HOST"
	after_boot reboot "$t0"
	# What the closing note quotes: the engine's own account of the boot.
	# The plugin's own lines (its daemon's stderr) carry plugin=ID in the engine's log.
	grep -E 'Loading containers: start|wireguard-driver [0-9a-f]|listening on|Daemon has completed' \
		"$WGT_HOST/dockerd.log" | tail -n 4 | cut -c1-200 | sed 's/^/# /' >&3
}

@test "power loss: everything killed, /run emptied; the same at the next boot" {
	local t0=$EPOCHREALTIME
	host_reboot "$WGT_HOST" crash
	after_boot "power loss" "$t0"
	# The endpoints of the lost sandboxes had nothing to re-attach and were cleaned up.
	grep -q 'its sandbox .* is gone, and link wg-.* with it; marked as not joined' \
		"$WGT_HOST/dockerd.log"
}
