#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The state on disk: SIGKILL in the middle of bursts of writes loses nothing acknowledged; a
# corrupt or truncated network file is named, and the other networks keep working; a full disk
# is an API error, never a partial file.

load api

setup_file() {
	suite_setup
	export NET=$(newid) NET2=$(newid) A=$(newid) B=$(newid)
	net_create "$NET" 10.77.24.0/24
	net_create "$NET2" 10.77.25.0/24
	ep_up a "$NET2" "$A" 10.77.25.2/24
	ep_up b "$NET2" "$B" 10.77.25.3/24
}

teardown_file() {
	if [[ -n ${TMP:-} ]] && mountpoint -q "$TMP/small"; then
		daemon_stop || true
		umount "$TMP/small"
	fi
	suite_teardown
}

# burst NID ROUND: creates endpoints on NID, reads their keys, deletes every third one, and
# records in $TMP/acks what the daemon acknowledged; stops at the first call that gets no answer.
burst() {
	local nid=$1 round=$2 i id out prev=
	for ((i = 2; i < 120; i++)); do
		id=$(newid)
		out=$(api CreateEndpoint "$(ep_json "$nid" "$id" "10.77.$((30 + round)).$i/24")") || break
		[[ $out == '{}' ]] && echo "created $id" >>"$TMP/acks"
		out=$(api EndpointOperInfo "{\"NetworkID\":\"$nid\",\"EndpointID\":\"$id\"}") || break
		echo "key $id $(jq -r .Value.public_key <<<"$out")" >>"$TMP/acks"
		if ((i % 3 == 0)) && [[ -n $prev ]]; then
			out=$(api DeleteEndpoint "{\"NetworkID\":\"$nid\",\"EndpointID\":\"$prev\"}") || break
			[[ $out == '{}' ]] && echo "deleted $prev" >>"$TMP/acks"
		fi
		prev=$id
	done
}

# check_acks NID: everything acknowledged on NID is there after the restart, with its key.
check_acks() {
	local what id key out
	while read -r what id key; do
		out=$(api EndpointOperInfo "{\"NetworkID\":\"$1\",\"EndpointID\":\"$id\"}")
		case $what in
		created | key)
			grep -q "^deleted $id" "$TMP/acks" && continue
			[[ $(jq -r '.Err // empty' <<<"$out") == "" ]] ||
				{ echo "acknowledged $id is lost: $out" >&2; return 1; }
			[[ $what == created || $(jq -r .Value.public_key <<<"$out") == "$key" ]] ||
				{ echo "$id: key $key became $out" >&2; return 1; }
			;;
		deleted)
			[[ $(jq -r .Err <<<"$out") == *"no such endpoint"* ]] ||
				{ echo "deleted $id is back: $out" >&2; return 1; }
			;;
		esac
	done <"$TMP/acks"
}

@test "SIGKILL in the middle of bursts of writes loses nothing acknowledged (5 rounds)" {
	local round nid acked=0
	for ((round = 0; round < 5; round++)); do
		nid=$(newid)
		net_create "$nid" "10.77.$((30 + round)).0/24"
		: >"$TMP/acks"
		burst "$nid" "$round" &
		sleep "1.$((RANDOM % 10))"
		daemon_kill9
		wait
		daemon_start
		check_acks "$nid"
		acked=$((acked + $(grep -c '^created\|^deleted' "$TMP/acks")))
		for f in "$STATE"/networks/*.json; do jq -e .endpoints "$f" >/dev/null; done
		assert_eq "$(find "$STATE" -name '.*' -path '*/networks/*')" "" "temp files"
	done
	report "$acked acknowledged creates and deletes over 5 SIGKILLs: none lost"
	pings a 10.77.25.3
}

@test "a corrupt network file is named; the daemon keeps serving the other networks" {
	local out path=$STATE/networks/$NET.json
	daemon_stop
	head -c 40 "$path" >"$path.cut" && mv "$path.cut" "$path"
	daemon_start
	grep -q "state file $path: not valid JSON" "$LOG"
	out=$(api CreateEndpoint "$(ep_json "$NET" "$(newid)" 10.77.24.9/24)")
	[[ $(jq -r .Err <<<"$out") == *"state file $path: not valid JSON"* ]] ||
		{ echo "answered: $out" >&2; return 1; }
	pings a 10.77.25.3
	ep_up c "$NET2" "$(newid)" 10.77.25.4/24
	pings c 10.77.25.2
	# An empty file and a file of the wrong shape are named too.
	daemon_stop
	: >"$path"
	daemon_start
	grep -q "state file $path: not valid JSON" "$LOG"
	daemon_stop
	echo '{"version":1,"id":"x"}' >"$path"
	daemon_start
	[[ $(api CreateEndpoint "$(ep_json "$NET" "$(newid)" 10.77.24.9/24)") == *"state file $path"* ]]
	rm -f "$path"
}

@test "a full disk is an API error; no file is half written and the daemon stays up" {
	local before out nid
	daemon_stop
	mkdir "$TMP/small"
	mount -t tmpfs -o size=512k,mode=0700 wgfaults "$TMP/small"
	cp -a "$STATE/." "$TMP/small/"
	STATE=$TMP/small
	daemon_start
	before=$(cat "$STATE/networks/$NET2.json")
	dd if=/dev/zero of="$STATE/filler" bs=4k 2>/dev/null || true
	nid=$(newid)
	out=$(api CreateNetwork "$(net_json "$nid" 10.77.26.0/24)")
	[[ $(jq -r .Err <<<"$out") == *"No space left on device"* ]] || { echo "$out" >&2; return 1; }
	out=$(api CreateEndpoint "$(ep_json "$NET2" "$(newid)" 10.77.25.9/24)")
	[[ $(jq -r .Err <<<"$out") == *"No space left on device"* ]] || { echo "$out" >&2; return 1; }
	assert_eq "$(cat "$STATE/networks/$NET2.json")" "$before" "the network file"
	assert_eq "$(find "$STATE" -name '.*.XXXXXX' -o -name '.*.json.*' -o -size 0 -type f)" "" \
		"half-written files"
	pings a 10.77.25.3
	rm "$STATE/filler"
	net_create "$nid" 10.77.26.0/24
}
