#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# dockerd restarted under running containers. With live-restore the containers and the plugin
# keep running and nothing stops. Without it the engine stops or, after a crash, cleans up the
# containers: its Leave and DeleteEndpoint calls for links that are already gone succeed, and
# containers with a restart policy come back connected, with nothing left of the old endpoints.
# The tests run in order.

load docker

setup_file()
{
	docker_setup_file
	wgnet er --subnet 10.78.2.0/24
}

teardown_file() { docker_teardown_file; }
teardown() { fault_teardown; }

# Since line $1 of the engine's log the plugin answered at least $2 DeleteEndpoint calls, and
# no Leave or DeleteEndpoint with an error.
cleanup_calls_ok()
{
	local log bad
	log=$(tail -n +"$1" "$WGT_ENGINE/dockerd.log" | grep 'plugin=')
	bad=$(grep -E 'warn: NetworkDriver\.(Leave|DeleteEndpoint)' <<<"$log" || true)
	[ -z "$bad" ] || { echo "$bad" >&2; return 1; }
	[ "$(grep -c 'NetworkDriver.DeleteEndpoint: ok' <<<"$log")" -ge "$2" ]
}

# Only the endpoints of the running containers are left: in the state, their keys, their
# processes; and none of the endpoints EID... has a link in the host.
only_running()
{
	local c eid running
	running=$(for c in $(docker ps -q); do
		docker inspect -f '{{range .NetworkSettings.Networks}}{{.EndpointID}}{{end}}' "$c"
	done | sort)
	[ "$(state_eids | sort)" = "$running" ]
	[ "$(find "$WGT_STATE/keys/identity" -type f -printf '%f\n' | sed 's/\.key$//' | sort)" = \
		"$running" ]
	[ "$(count "$(wggo_pids)")" -eq "$(count "$running")" ]
	for eid in "$@"; do no_host_links "$eid"; done
}

@test "live-restore: dockerd SIGTERM and start; containers and plugin keep running, no gap" {
	local pid gap t0
	engine_live_restore "$WGT_ENGINE" on
	kill -HUP "$(cat "$WGT_ENGINE/dockerd.started")"
	wait_until 10 eval '[ "$(docker info -f "{{.LiveRestoreEnabled}}")" = true ]'
	ctr_run er-1 er
	ctr_run er-2 er
	ping_start er-1 "$(ctr_ip er-2 er)"
	sleep 1
	pid=$WGT_PLUGIN_PID
	t0=$EPOCHREALTIME
	engine_restart "$WGT_ENGINE" TERM
	report "live-restore: dockerd restarted in $(ms_since "$t0") ms"
	sleep 1
	gap=$(ping_gap er-1)
	report "live-restore: longest gap without a reply er-1->er-2: $gap ms"
	((gap >= 0 && gap < 1000))
	[ "$(plugin_host_pid "$PLUGIN")" = "$pid" ]
	ctr_run er-3 er
	ctr_ping er-3 "$(ctr_ip er-1 er)"
	ctr_ping er-2 "$(ctr_ip er-3 er)"
	docker rm -f er-1 er-2 er-3 >/dev/null
	only_running
}

@test "no live-restore, dockerd SIGKILL: cleanup calls succeed, restart policy reconnects" {
	local from old t0
	engine_live_restore "$WGT_ENGINE" off
	kill -HUP "$(cat "$WGT_ENGINE/dockerd.started")"
	wait_until 10 eval '[ "$(docker info -f "{{.LiveRestoreEnabled}}")" = false ]'
	ctr_run er-a er --restart always --stop-timeout 1
	ctr_run er-b er --restart always --stop-timeout 1
	ctr_run er-c er --stop-timeout 1
	ctr_ping er-a "$(ctr_ip er-b er)"
	old="$(ctr_eid er-a er) $(ctr_eid er-b er) $(ctr_eid er-c er)"
	from=$(($(wc -l <"$WGT_ENGINE/dockerd.log") + 1))
	t0=$EPOCHREALTIME
	engine_restart "$WGT_ENGINE" KILL
	wait_until 30 eval '[ "$(docker ps -q --filter name=er- | wc -l)" -eq 2 ]'
	report "dockerd SIGKILL: restart-policy containers running again after $(ms_since "$t0") ms"
	wait_until 10 docker exec er-a ping -c 1 -W 1 "$(ctr_ip er-b er)" >/dev/null
	report "dockerd SIGKILL: er-a reaches er-b again after $(ms_since "$t0") ms"
	ctr_ping er-b "$(ctr_ip er-a er)"
	plugin_refresh
	cleanup_calls_ok "$from" 3
	# shellcheck disable=SC2086
	only_running $old
}

@test "no live-restore, dockerd SIGTERM: restart policy reconnects, nothing left behind" {
	local from old t0
	old="$(ctr_eid er-a er) $(ctr_eid er-b er)"
	from=$(($(wc -l <"$WGT_ENGINE/dockerd.log") + 1))
	t0=$EPOCHREALTIME
	engine_restart "$WGT_ENGINE" TERM
	wait_until 30 eval '[ "$(docker ps -q --filter name=er- | wc -l)" -eq 2 ]'
	wait_until 10 docker exec er-a ping -c 1 -W 1 "$(ctr_ip er-b er)" >/dev/null
	report "dockerd SIGTERM: er-a reaches er-b again after $(ms_since "$t0") ms"
	ctr_ping er-b "$(ctr_ip er-a er)"
	plugin_refresh
	cleanup_calls_ok "$from" 2
	# shellcheck disable=SC2086
	only_running $old
}
