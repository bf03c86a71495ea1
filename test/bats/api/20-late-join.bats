#!/usr/bin/env bats
# An endpoint already inside its sandbox gains a peer that joins later, and loses it on Leave.
# The tests run in order: each one is the next step of the same story.

load helpers

setup_file() {
	suite_setup
	export NET=$(newid) A=$(newid) B=$(newid)
	net_create "$NET" 10.77.2.0/24
}

teardown_file() { suite_teardown; }

@test "A joins alone and moves into its sandbox: no peers" {
	ep_up a "$NET" "$A" 10.77.2.2/24
	assert_eq "$(ep_info "$NET" "$A" | jq -r .peers)" 0 "A peers"
	assert_eq "$(wgdev "$A" show peers)" "" "wg show A peers"
}

@test "B joins later: A, already in its sandbox, gets B as a peer" {
	ep_up b "$NET" "$B" 10.77.2.3/24
	assert_eq "$(ep_info "$NET" "$A" | jq -r .peers)" 1 "A peers"
	assert_eq "$(ep_info "$NET" "$B" | jq -r .peers)" 1 "B peers"
	assert_eq "$(wgdev "$A" show peers)" "$(pubkey "$B")" "wg show A peers"
	assert_eq "$(peer_field "$A" allowed-ips "$(pubkey "$B")")" 10.77.2.3/32 \
		"A's allowed IPs for B"
	assert_eq "$(peer_field "$A" endpoints "$(pubkey "$B")")" \
		"127.0.0.1:$(wgdev "$B" show listen-port)" "A's endpoint for B"
	assert_eq "$(peer_field "$B" allowed-ips "$(pubkey "$A")")" 10.77.2.2/32 \
		"B's allowed IPs for A"
}

@test "A and B ping both ways" {
	pings a 10.77.2.3
	pings b 10.77.2.2
}

@test "Leave of B removes B from A's peers" {
	local pub_b
	pub_b=$(pubkey "$B")
	leave_ep "$NET" "$B"
	[[ $(wgdev "$A" show peers) != *"$pub_b"* ]] ||
		{ echo "A still lists B ($pub_b) after Leave" >&2; return 1; }
	assert_eq "$(ep_info "$NET" "$A" | jq -r .peers)" 0 "A peers"
}
