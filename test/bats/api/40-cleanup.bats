#!/usr/bin/env bats
# Secrets on disk and in logs, persistence across a restart, and nothing left after the deletes.
# The tests run in order on the same two endpoints.

load helpers

setup_file() {
	suite_setup
	export NET=$(newid) A=$(newid) B=$(newid)
	net_create "$NET" 10.77.4.0/24
	ep_up a "$NET" "$A" 10.77.4.2/24
	ep_up b "$NET" "$B" 10.77.4.3/24
}

teardown_file() { suite_teardown; }

# no_secret_in KEY FILE...: neither the base64 nor the hex form of KEY is in any FILE.
no_secret_in() {
	local b64=$1 hex
	shift
	hex=$(base64 -d <<<"$b64" | od -An -tx1 | tr -d ' \n')
	[[ ${#hex} == 64 ]] || { echo "not a key: '$b64'" >&2; return 1; }
	! grep -rlF -e "$b64" "$@" && ! grep -rliF -e "$hex" "$@"
}

@test "keys/ is 0700 and key files are 0600 while endpoints exist" {
	assert_eq "$(stat -c %a "$STATE/keys")" 700 "mode of keys/"
	assert_eq "$(stat -c %a "$STATE/keys/identity/$A.key")" 600 "mode of A's key"
	assert_eq "$(stat -c %a "$STATE/keys/identity/$B.key")" 600 "mode of B's key"
	# The link's preshared key is derived from link.key, not stored per pair.
	assert_eq "$(find "$STATE/keys/link" -name '*.psk' | wc -l)" 0 "PSK files"
	assert_eq "$(stat -c %a "$STATE/keys/link.key")" 600 "mode of link.key"
	assert_eq "$(find "$STATE/keys" -type f ! -perm 600)" "" "key files not 0600"
}

@test "DeleteNetwork with endpoints left fails and keeps the network" {
	local out
	out=$(api DeleteNetwork "{\"NetworkID\":\"$NET\"}")
	[[ -n $(jq -r '.Err // empty' <<<"$out") ]] || { echo "answered: $out" >&2; return 1; }
	[[ -f $STATE/networks/$NET.json ]]
	pings a 10.77.4.3
}

@test "no private key or PSK in the daemon log, any API answer or networks/" {
	local k
	[[ -s $LOG && -s $TMP/answers ]]
	for k in "$(wgdev "$A" show private-key)" "$(wgdev "$B" show private-key)" \
		"$(peer_field "$A" preshared-keys "$(pubkey "$B")")"; do
		no_secret_in "$k" "$LOG" "$TMP/answers" "$STATE/networks"
	done
}

@test "state survives SIGTERM and a restart: same public keys" {
	local pub_a pub_b old
	pub_a=$(ep_info "$NET" "$A" | jq -r .public_key)
	pub_b=$(ep_info "$NET" "$B" | jq -r .public_key)
	old=$(daemon_pid)
	daemon_stop
	pid_alive "$old" && { echo "daemon $old still alive" >&2; return 1; }
	daemon_start
	assert_eq "$(ep_info "$NET" "$A" | jq -r .public_key)" "$pub_a" "A's public key"
	assert_eq "$(ep_info "$NET" "$B" | jq -r .public_key)" "$pub_b" "B's public key"
}

@test "Leave, DeleteEndpoint, DeleteNetwork leave no link, process, state or key" {
	local e l i
	for e in "$A:a" "$B:b"; do
		l=${e#*:}
		e=${e%:*}
		assert_json "$(leave_ep "$NET" "$e")" '{}' Leave
		detach "$l" "$e"
		assert_json "$(delete_ep "$NET" "$e")" '{}' DeleteEndpoint
	done
	assert_json "$(api_ok DeleteNetwork "{\"NetworkID\":\"$NET\"}")" '{}' DeleteNetwork
	assert_eq "$(our_links)" "" "links left on the host"
	for ((i = 0; i < 30; i++)); do
		[[ -z $(pgrep -P "$(daemon_pid)") && -z $(our_procs) ]] && break
		sleep 0.1
	done
	assert_eq "$(pgrep -a -P "$(daemon_pid)")" "" "children of the daemon"
	assert_eq "$(our_procs)" "" "wireguard-go processes for our links"
	assert_eq "$(ls -A "$STATE/networks")" "" "networks/"
	assert_eq "$(ls -A "$STATE/keys/identity")" "" "keys/identity/"
	assert_eq "$(ls -A "$STATE/keys/link")" "" "keys/link/"
}
