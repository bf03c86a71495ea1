#!/usr/bin/env bats
# Bad requests through the socket: the Err names the field, the daemon lives, nothing changes on
# disk or on the host, and the next valid call works.

load helpers

setup_file() {
	suite_setup
	export NET=$(newid) EP=$(newid)
	net_create "$NET" 10.77.5.0/24
	ep_create "$NET" "$EP" 10.77.5.2/24
}

teardown_file() { suite_teardown; }

# still_fine: a valid call still answers.
still_fine() {
	[[ $(ep_info "$NET" "$EP" | jq -r .public_key) =~ ^[A-Za-z0-9+/]{43}=$ ]]
}

# expect_err METHOD BODY TEXT...: refused (helpers.bash), and still_fine.
expect_err() { refused "$@" && still_fine; }

# expect_empty METHOD BODY: the answer is exactly {} and nothing changed.
expect_empty() {
	local before
	before=$(snapshot)
	assert_json "$(api "$1" "$2")" '{}' "$1 answer"
	pid_alive "$(daemon_pid)" || { echo "daemon died" >&2; return 1; }
	assert_eq "$(snapshot)" "$before" "state dir, links and children"
	still_fine
}

ids() { echo "{\"NetworkID\":\"$1\",\"EndpointID\":\"$2\"}"; }
join_body() { jq -nc --arg n "$1" --arg e "$2" '{NetworkID:$n, EndpointID:$e, SandboxKey:"", Options:{}}'; }

@test "malformed JSON" {
	expect_err CreateNetwork '{"NetworkID":' "request body: not valid JSON"
	expect_err Join '{"NetworkID" "x"}' "request body: not valid JSON"
}

@test "wrong types name the field" {
	expect_err CreateEndpoint "{\"NetworkID\":\"$NET\",\"EndpointID\":5,
		\"Interface\":{\"Address\":\"10.77.5.9/24\"}}" "EndpointID: expected a string"
	expect_err Join "{\"NetworkID\":\"$NET\",\"EndpointID\":5}" "EndpointID: expected a string"
	expect_err CreateNetwork '{"NetworkID":["x"]}' "NetworkID: expected a string"
}

@test "missing fields are named" {
	expect_err CreateNetwork '{"IPv4Data":[]}' NetworkID
	expect_err CreateEndpoint "{\"NetworkID\":\"$NET\",\"Interface\":{\"Address\":\"10.77.5.9/24\"}}" \
		EndpointID
	expect_err CreateEndpoint "$(ep_json "$NET" "$(newid)" "")" Address
	expect_err Join "{\"NetworkID\":\"$NET\"}" EndpointID
}

@test "IDs that are not 64 lower-case hex are refused" {
	local up
	up=$(newid | tr a-f A-F)
	expect_err CreateEndpoint "$(ep_json "$NET" xyz 10.77.5.9/24)" \
		'EndpointID: expected 64 lower-case hex characters, got "xyz"'
	expect_err CreateEndpoint "$(ep_json "$NET" "$up" 10.77.5.9/24)" EndpointID "$up"
	expect_err CreateNetwork "$(net_json abc 10.77.6.0/24)" NetworkID '"abc"'
}

@test "unknown network or endpoint on CreateEndpoint and Join is an error" {
	local net=$(newid) ep=$(newid)
	# Errors name IDs by their first 12 characters, as the docker CLI shows them.
	expect_err CreateEndpoint "$(ep_json "$net" "$ep" 10.77.5.9/24)" \
		"NetworkID ${net:0:12}: no such network"
	expect_err Join "$(join_body "$net" "$EP")" "NetworkID ${net:0:12}: no such network"
	expect_err Join "$(join_body "$NET" "$ep")" "EndpointID ${ep:0:12}: no such endpoint"
}

@test "unknown IDs on Leave, DeleteEndpoint, DeleteNetwork succeed with {}" {
	local net=$(newid) ep=$(newid)
	expect_empty Leave "$(ids "$net" "$ep")"
	expect_empty Leave "$(ids "$NET" "$ep")"
	expect_empty DeleteEndpoint "$(ids "$net" "$ep")"
	expect_empty DeleteEndpoint "$(ids "$NET" "$ep")"
	expect_empty DeleteNetwork "{\"NetworkID\":\"$net\"}"
	expect_empty FreeNetwork "{\"NetworkID\":\"$net\"}"
	expect_empty RevokeExternalConnectivity "$(ids "$net" "$ep")"
}

@test "other engine calls answer as specified" {
	expect_empty ProgramExternalConnectivity "$(ids "$NET" "$EP" | jq -c '.Options = {}')"
	expect_empty DiscoverNew '{"DiscoveryType":1,"DiscoveryData":{"Address":"10.0.0.1"}}'
	expect_empty DiscoverDelete '{"DiscoveryType":1,"DiscoveryData":{"Address":"10.0.0.1"}}'
	# Only swarm managers call it (global scope); the options are echoed for the workers.
	local body=$(net_json "$NET" 10.77.5.0/24)
	assert_json "$(api AllocateNetwork "$body")" "$(jq -c '{Options: .Options}' <<<"$body")" \
		AllocateNetwork
}

@test "unknown option wg.foo is an error that lists the known options" {
	expect_err CreateNetwork "$(net_json "$(newid)" 10.77.6.0/24 '' '{"wg.foo":"1"}')" \
		'"wg.foo"' unknown wg.psk com.docker.network.driver.mtu
	expect_err CreateNetwork "$(net_json "$(newid)" 10.77.6.0/24 '' '{"wg.psk":"maybe"}')" \
		wg.psk
	expect_err CreateEndpoint "$(ep_json "$NET" "$(newid)" 10.77.5.9/24 '' '{"wg.foo":"1"}')" \
		'"wg.foo"' unknown
}

@test "wg.backend: an unknown name, a wrong type, a backend this host cannot run" {
	expect_err CreateNetwork "$(net_json "$(newid)" 10.77.6.0/24 "" '{"wg.backend":"bogus"}')" \
		'option "wg.backend": expected' kernel userspace '"bogus"'
	expect_err CreateEndpoint "$(ep_json "$NET" "$(newid)" 10.77.5.9/24 "" '{"wg.backend":"bogus"}')" \
		"Options.wg.backend: expected" kernel userspace
	expect_err CreateEndpoint "$(ep_json "$NET" "$(newid)" 10.77.5.9/24 "" '{"wg.backend":1}')" \
		"Options.wg.backend: expected a string"
	if ip link add "wgt$$" type wireguard 2>/dev/null; then
		ip link del "wgt$$"
		skip "this kernel has WireGuard: the kernel suite runs both backends"
	fi
	expect_err CreateEndpoint "$(ep_json "$NET" "$(newid)" 10.77.5.9/24 "" '{"wg.backend":"kernel"}')" \
		"Options.wg.backend: the kernel backend cannot run on this host" CONFIG_WIREGUARD
	expect_err CreateNetwork "$(net_json "$(newid)" 10.77.6.0/24 "" '{"wg.backend":"kernel"}')" \
		'option "wg.backend": the kernel backend cannot run on this host'
}

@test "MTU must be a number from 1280 to 65455" {
	local m net
	for m in abc 100 1279 65456 70000 ''; do
		expect_err CreateNetwork "$(net_json "$(newid)" 10.77.6.0/24 '' \
			"{\"com.docker.network.driver.mtu\":\"$m\"}")" com.docker.network.driver.mtu
	done
	for m in 1280 65455; do
		net=$(newid)
		net_create "$net" 10.77.6.0/24 '' "{\"com.docker.network.driver.mtu\":\"$m\"}"
		assert_json "$(api DeleteNetwork "{\"NetworkID\":\"$net\"}")" '{}' DeleteNetwork
	done
}

@test "a MAC address is refused and named" {
	expect_err CreateEndpoint \
		"$(ep_json "$NET" "$(newid)" 10.77.5.9/24 '' '{}' 02:42:ac:11:00:02)" MacAddress
}

@test "a bad Address or AddressIPv6 is named" {
	local a
	for a in banana 10.77.5.300/24 10.77.5.9/33 10.77.5.9 fd00::9/64; do
		expect_err CreateEndpoint "$(ep_json "$NET" "$(newid)" "$a")" Address
	done
	expect_err CreateEndpoint "$(ep_json "$NET" "$(newid)" 10.77.5.9/24 fd00::zz/64)" \
		AddressIPv6
}

@test "CreateNetwork again: same options {}, other options an error" {
	expect_empty CreateNetwork "$(net_json "$NET" 10.77.5.0/24)"
	expect_err CreateNetwork "$(net_json "$NET" 10.77.5.0/24 '' '{"wg.psk":"off"}')"
}

@test "a body over 1 MiB is refused and the daemon answers the next call" {
	local f=$TMP/big.json
	{ printf '{"NetworkID":"'; head -c 1100000 /dev/zero | tr '\0' a; printf '"}\n'; } >"$f"
	expect_err CreateNetwork "@$f" "request body: larger than 1048576 bytes"
	assert_json "$(api Plugin.Activate '')" '{"Implements":["NetworkDriver","IpamDriver"]}' Activate
}

@test "an unknown method answers Err with HTTP 200" {
	expect_err Foo.Bar '{}' "unknown method /Foo.Bar"
}

@test "keep-alive: two requests on one connection both answer" {
	local out
	out=$(curl "${CURL_ENGINE[@]}" --unix-socket "$SOCK" -v --data-binary '' -w '\n' \
		http://x/Plugin.Activate http://x/NetworkDriver.GetCapabilities 2>"$TMP/curl.err")
	assert_json "$(sed -n 1p <<<"$out")" '{"Implements":["NetworkDriver","IpamDriver"]}' "first answer"
	assert_json "$(sed -n 2p <<<"$out")" '{"Scope":"local","ConnectivityScope":"local"}' \
		"second answer"
	grep -qi "re-using existing connection" "$TMP/curl.err" ||
		{ echo "curl opened a second connection:" >&2; cat "$TMP/curl.err" >&2; return 1; }
}

@test "a bad WG_GO_MEMLIMIT stops the daemon at start with the setting named" {
	for bad in 4MiB 64MB lots; do
		run env WG_GO_MEMLIMIT="$bad" "$WG_DRIVER" --socket "$TMP/memlimit.sock" \
			--state-dir "$TMP/memlimit-state"
		[ "$status" -eq 2 ]
		[[ $output == *"memory limit \"$bad\" (WG_GO_MEMLIMIT): expected off or a size of at least 8MiB"* ]]
		[ ! -e "$TMP/memlimit.sock" ]
	done
}
