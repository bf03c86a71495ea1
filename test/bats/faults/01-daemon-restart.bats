#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The daemon restarted under running sandboxes: SIGKILL, SIGTERM, and SIGKILL of the daemon and
# of every wireguard-go (what a managed plugin's death does). Networks and endpoints come back
# from the state, keys do not change, no link or process is leaked or duplicated, traffic
# resumes within 5 s of the restart, and new endpoints still join. The tests run in order.

load api

setup_file() {
	suite_setup
	export NET=$(newid) A=$(newid) B=$(newid) C=$(newid)
	net_create "$NET" 10.77.21.0/24
	ep_up a "$NET" "$A" 10.77.21.2/24
	ep_up b "$NET" "$B" 10.77.21.3/24
	for e in "$A" "$B"; do ep_info "$NET" "$e" | jq -r .public_key; done >"$TMP/keys"
}

teardown_file() {
	ping_stop a
	ping_stop b
	suite_teardown
}

# Every endpoint keeps its key, and each of LABELS:ID has one wireguard-go and its wg0.
check_intact() {
	local want=$1 e
	assert_eq "$(for e in "$A" "$B"; do ep_info "$NET" "$e" | jq -r .public_key; done)" \
		"$(cat "$TMP/keys")" "public keys"
	assert_eq "$(count "$(our_procs)")" "$want" "wireguard-go processes"
	assert_eq "$(our_procs | xargs -r ps -o args= -p | sort | uniq -d)" "" "duplicates"
	assert_eq "$(our_links)" "" "links left in the host"
	assert_eq "$(ns_wg0 a)" wg0 "a's link"
	assert_eq "$(ns_wg0 b)" wg0 "b's link"
}

@test "SIGKILL of the daemon: wireguard-go keeps serving, the new daemon takes it over" {
	local before
	before=$(our_procs | sort)
	daemon_kill9
	pings a 10.77.21.3
	daemon_start
	assert_eq "$(our_procs | sort)" "$before" "the same processes"
	check_intact 2
	[[ $(ep_info "$NET" "$A" | jq -r .peers) == 1 ]]
	pings b 10.77.21.2
}

@test "SIGTERM of the daemon leaves the links served; a restart takes them over" {
	local before
	before=$(our_procs | sort)
	daemon_stop
	pings a 10.77.21.3
	daemon_start
	assert_eq "$(our_procs | sort)" "$before" "the same processes"
	check_intact 2
}

@test "SIGKILL of the daemon and of every wireguard-go: traffic resumes within 5 s of the restart" {
	local t0 back gap_ab gap_ba
	ping_start a 10.77.21.3
	ping_start b 10.77.21.2
	sleep 1
	t0=$(date +%s%N)
	daemon_kill9
	wggo_kill9
	daemon_start
	back=$((($(date +%s%N) - t0) / 1000000))
	pings a 10.77.21.3
	report "daemon + wireguard-go SIGKILL: restart in $back ms," \
		"traffic in $((($(date +%s%N) - t0) / 1000000)) ms"
	sleep 1
	ping_stop a
	ping_stop b
	gap_ab=$(ping_gap a)
	gap_ba=$(ping_gap b)
	report "longest gap without a reply: a->b ${gap_ab} ms, b->a ${gap_ba} ms"
	# The kills and the start are the machine's time; from the start on, 5 s at most.
	((gap_ab >= 0 && gap_ab < back + 5000 && gap_ba >= 0 && gap_ba < back + 5000))
	check_intact 2
	grep -q "link wg-${A:0:12} served again" "$LOG"
}

@test "after the restarts a new endpoint joins and reaches the others, both ways" {
	ep_up c "$NET" "$C" 10.77.21.4/24
	pings c 10.77.21.2
	pings b 10.77.21.4
	[[ $(ep_info "$NET" "$A" | jq -r .peers) == 2 ]]
}

@test "a link the state does not join (a crash in the middle of a Join) is deleted at start" {
	local d
	d=$(newid)
	ep_create "$NET" "$d" 10.77.21.5/24
	ip tuntap add dev "wg-${d:0:12}" mode tun
	daemon_kill9
	daemon_start
	assert_eq "$(our_links)" "" "links left in the host"
	delete_ep "$NET" "$d" >/dev/null
}

@test "a sandbox that went while the daemon was down: not joined, Leave and Delete succeed" {
	daemon_kill9
	ip netns del "$NSP-c"
	daemon_start
	assert_eq "$(ep_info "$NET" "$C" | jq -r .joined)" false "C joined"
	assert_json "$(leave_ep "$NET" "$C")" '{}' Leave
	assert_json "$(delete_ep "$NET" "$C")" '{}' DeleteEndpoint
	[[ $(ep_info "$NET" "$A" | jq -r .peers) == 1 ]]
	pings a 10.77.21.3
	check_intact 2
}

@test "a container removed while the daemon was down: its endpoint is deleted at start" {
	local e out
	e=$(newid)
	ep_up e "$NET" "$e" 10.77.21.6/24
	daemon_kill9
	# What the engine does at removal: the link back to the host, the sandbox gone; its
	# DeleteEndpoint found no daemon.
	detach e "$e"
	ip netns del "$NSP-e"
	daemon_start
	out=$(api EndpointOperInfo "{\"NetworkID\":\"$NET\",\"EndpointID\":\"$e\"}")
	[[ $(jq -r .Err <<<"$out") == *"no such endpoint"* ]]
	assert_json "$(delete_ep "$NET" "$e")" '{}' DeleteEndpoint
	assert_eq "$(our_links)" "" "links left in the host"
	wait_for 5 eval '[[ $(count "$(our_procs)") == 2 ]]'
	[[ ! -e $STATE/keys/identity/$e.key ]]
	pings a 10.77.21.3
}

@test "a sandbox removed under a link served anew (its process pins the namespace): it ends" {
	local pid
	# Since the third test, A's wireguard-go holds a descriptor opened inside sandbox a.
	pid=$(pgrep -x -f "wireguard-go -f wg-${A:0:12}")
	[[ -n $pid ]]
	daemon_kill9
	ip netns del "$NSP-a"
	daemon_start
	assert_eq "$(ep_info "$NET" "$A" | jq -r .joined)" false "A joined"
	wait_for 5 eval "! pid_alive $pid"
	assert_eq "$(count "$(our_procs)")" 1 "wireguard-go processes"
	grep -q "endpoint ${A:0:12}: its sandbox .* is gone" "$LOG"
}
