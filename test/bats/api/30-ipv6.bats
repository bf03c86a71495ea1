#!/usr/bin/env bats
# Dual-stack network: the Join answer routes ::/0 too and IPv6 crosses the tunnel.

load helpers

setup_file() {
	suite_setup
	export NET=$(newid) A=$(newid) B=$(newid)
	net_create "$NET" 10.77.3.0/24 fd00:77:3::/64
	ep_up a "$NET" "$A" 10.77.3.2/24 fd00:77:3::2/64
	ep_up b "$NET" "$B" 10.77.3.3/24 fd00:77:3::3/64
}

teardown_file() { suite_teardown; }

@test "Join answers connected routes for 0.0.0.0/0 and ::/0" {
	assert_json "$(jq -c '.StaticRoutes | sort_by(.Destination)' "$TMP/join-$A")" \
		'[{"Destination":"0.0.0.0/0","RouteType":1},{"Destination":"::/0","RouteType":1}]' \
		StaticRoutes
	assert_eq "$(jq -r .DisableGatewayService "$TMP/join-$A")" true DisableGatewayService
}

@test "sandbox has an IPv6 default route dev wg0" {
	[[ $(ip -n "$NSP-a" -6 route show default) == "default dev wg0"* ]]
}

@test "peers allow the /32 and the /128" {
	assert_eq "$(peer_field "$A" allowed-ips "$(pubkey "$B")" | tr ' ' '\n' | sort |
		paste -sd' ')" "10.77.3.3/32 fd00:77:3::3/128" "A's allowed IPs for B"
}

@test "ping -6 both ways" {
	pings a fd00:77:3::3 -6
	pings b fd00:77:3::2 -6
}

@test "IPv4 still works on the dual-stack network" {
	pings a 10.77.3.3
}
