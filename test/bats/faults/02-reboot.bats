#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# A host reboot, simulated: the state directory survives, every link, process, namespace and
# UAPI socket is gone. The daemon starts clean, the engine's cleanup calls succeed, and
# endpoints re-created with the same key references get the same identities.

load api

setup_file() {
	suite_setup
	export NET=$(newid) WEB=$(newid) DB=$(newid) ANON=$(newid)
	net_create "$NET" 10.77.22.0/24
}

teardown_file() { suite_teardown; }

# named_up LABEL EID ADDR KEY: a sandbox, CreateEndpoint with wg.key=KEY, Join, attach.
named_up() {
	ns_make "$1" && ep_create "$NET" "$2" "$3" "" "{\"wg.key\":\"$4\"}" &&
		join_ep "$NET" "$2" "$1" && attach "$1" "$2" "$3"
}

@test "after a reboot the endpoints are not joined, nothing runs, and cleanup succeeds" {
	named_up web "$WEB" 10.77.22.2/24 web
	named_up db "$DB" 10.77.22.3/24 db
	ep_up anon "$NET" "$ANON" 10.77.22.4/24
	pings web 10.77.22.3
	for e in "$WEB" "$DB"; do ep_info "$NET" "$e" | jq -r .public_key; done >"$TMP/keys"
	: >"$STATE/networks/.$NET.json.Ab12Cd"

	daemon_kill9
	wggo_kill9
	for ns in web db anon; do ip netns del "$NSP-$ns"; done
	rm -f /var/run/wireguard/wg-"${WEB:0:12}".sock /var/run/wireguard/wg-"${DB:0:12}".sock \
		/var/run/wireguard/wg-"${ANON:0:12}".sock
	daemon_start

	for e in "$WEB" "$DB" "$ANON"; do
		assert_eq "$(ep_info "$NET" "$e" | jq -r .joined)" false "joined after the reboot"
	done
	grep -q "endpoint ${WEB:0:12}: its sandbox .* is gone, and link wg-${WEB:0:12} with it" "$LOG"
	assert_eq "$(our_links)" "" "links"
	assert_eq "$(our_procs)" "" "wireguard-go processes"
	assert_eq "$(ls -A "$STATE/networks")" "$NET.json" "networks/ (the temp file is removed)"
	# What the engine does for the containers it had: Leave, DeleteEndpoint.
	for e in "$WEB" "$DB" "$ANON"; do
		assert_json "$(leave_ep "$NET" "$e")" '{}' Leave
		assert_json "$(delete_ep "$NET" "$e")" '{}' DeleteEndpoint
	done
	assert_eq "$(jq -c .endpoints "$STATE/networks/$NET.json")" '[]' "endpoints in the state"
	[[ ! -e $STATE/keys/identity/$ANON.key ]]
}

@test "re-created with the same key references, the endpoints have the same identities" {
	local web2 db2
	web2=$(newid)
	db2=$(newid)
	named_up web2 "$web2" 10.77.22.2/24 web
	named_up db2 "$db2" 10.77.22.3/24 db
	assert_eq "$(for e in "$web2" "$db2"; do ep_info "$NET" "$e" | jq -r .public_key; done)" \
		"$(cat "$TMP/keys")" "public keys"
	pings web2 10.77.22.3
	pings db2 10.77.22.2
}
