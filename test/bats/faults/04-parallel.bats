#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Concurrent API calls, as an engine starting and removing many containers at once makes them:
# the daemon serialises them, every answer comes within a few seconds, and the result is the
# same as one call after the other.

load api

N=12

setup_file() {
	suite_setup
	export NET=$(newid)
	net_create "$NET" 10.77.27.0/24
	for ((i = 1; i <= N; i++)); do newid; done >"$TMP/eps"
}

teardown_file() { suite_teardown; }

# timed METHOD JSON: api, with the call's duration in ms appended to $TMP/times.
timed() {
	local t0=$EPOCHREALTIME out
	out=$(api "$@") || return 1
	echo $(((${EPOCHREALTIME/./} - ${t0/./}) / 1000)) >>"$TMP/times"
	jq -e 'has("Err") | not' >/dev/null <<<"$out" || { echo "$1: $out" >&2; return 1; }
	printf '%s\n' "$out"
}

# up I EID: sandbox I, CreateEndpoint, Join and attach, each call timed.
up() {
	local addr=10.77.27.$(($1 + 1))/24
	ns_make "p$1" &&
		timed CreateEndpoint "$(ep_json "$NET" "$2" "$addr")" >/dev/null &&
		timed Join "$(jq -nc --arg n "$NET" --arg e "$2" --arg k "/var/run/netns/$NSP-p$1" \
			'{NetworkID: $n, EndpointID: $e, SandboxKey: $k, Options: {}}')" >"$TMP/join-$2" &&
		attach "p$1" "$2" "$addr"
}

@test "$N sandboxes joined at once all reach each other; no call took more than 5 s" {
	local i eid pids=() a b fails=0 t0=$EPOCHREALTIME
	i=0
	while read -r eid; do
		i=$((i + 1))
		up "$i" "$eid" &
		pids+=($!)
	done <"$TMP/eps"
	for i in "${pids[@]}"; do wait "$i"; done
	report "$N joins at once: $(((${EPOCHREALTIME/./} - ${t0/./}) / 1000)) ms; slowest call" \
		"$(sort -n "$TMP/times" | tail -1) ms"
	(($(sort -n "$TMP/times" | tail -1) < 5000))
	assert_eq "$(ls "$STATE/keys/identity" | wc -l)" "$N" "identities"
	assert_eq "$(jq '[.endpoints[] | select(.joined)] | length' "$STATE/networks/$NET.json")" \
		"$N" "joined endpoints in the state"
	assert_eq "$(jq '[.endpoints[].listen_port] | unique | length' \
		"$STATE/networks/$NET.json")" "$N" "distinct listen ports"
	assert_eq "$(count "$(our_procs)")" "$N" "wireguard-go processes"
	while read -r eid; do
		assert_eq "$(ep_info "$NET" "$eid" | jq -r .peers)" $((N - 1)) "peers of ${eid:0:12}"
	done <"$TMP/eps"
	for ((a = 1; a <= N; a++)); do
		for ((b = 1; b <= N; b++)); do
			((a == b)) && continue
			pings "p$a" "10.77.27.$((b + 1))" >/dev/null ||
				{ echo "p$a -> p$b failed" >&2; fails=$((fails + 1)); }
		done
	done
	assert_eq "$fails" 0 "pairs that failed"
}

@test "$N Leave and DeleteEndpoint at once leave no link, process, key or state" {
	local i eid pids=()
	: >"$TMP/times"
	i=0
	while read -r eid; do
		i=$((i + 1))
		(timed Leave "{\"NetworkID\":\"$NET\",\"EndpointID\":\"$eid\"}" >/dev/null &&
			detach "p$i" "$eid" &&
			timed DeleteEndpoint "{\"NetworkID\":\"$NET\",\"EndpointID\":\"$eid\"}" \
				>/dev/null) &
		pids+=($!)
	done <"$TMP/eps"
	for i in "${pids[@]}"; do wait "$i"; done
	(($(sort -n "$TMP/times" | tail -1) < 5000))
	assert_eq "$(jq -c .endpoints "$STATE/networks/$NET.json")" '[]' "endpoints in the state"
	assert_eq "$(our_links)" "" "links"
	wait_for 5 eval '[[ -z $(our_procs) ]]'
	# link.key is the host's link secret (local preshared keys are derived from it): it stays.
	assert_eq "$(find "$STATE/keys" -type f ! -path "$STATE/keys/link.key")" "" "key files"
}
