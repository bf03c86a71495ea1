#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Three sandboxes on one network: answers, reachability, handshakes, what the container sees,
# MTU and preshared keys.

load helpers

setup_file() {
	suite_setup
	export NET=$(newid) A=$(newid) B=$(newid) C=$(newid)
	net_create "$NET" 10.77.1.0/24
	ep_up a "$NET" "$A" 10.77.1.2/24
	ep_up b "$NET" "$B" 10.77.1.3/24
	ep_up c "$NET" "$C" 10.77.1.4/24
}

teardown_file() { suite_teardown; }

@test "Activate and GetCapabilities (empty bodies, as the engine sends) answer" {
	assert_json "$(api Plugin.Activate '')" '{"Implements":["NetworkDriver","IpamDriver"]}' Activate
	assert_json "$(api GetCapabilities '')" '{"Scope":"local","ConnectivityScope":"local"}' \
		GetCapabilities
}

@test "Join answers SrcName, DstPrefix, a connected default route, no gateway service" {
	assert_json "$(cat "$TMP/join-$A")" "{\"InterfaceName\":{\"SrcName\":\"wg-${A:0:12}\",
		\"DstPrefix\":\"wg\"}, \"StaticRoutes\":[{\"Destination\":\"0.0.0.0/0\",\"RouteType\":1}],
		\"DisableGatewayService\":true}" "Join answer"
}

@test "all six ordered pairs ping" {
	pings a 10.77.1.3
	pings a 10.77.1.4
	pings b 10.77.1.2
	pings b 10.77.1.4
	pings c 10.77.1.2
	pings c 10.77.1.3
}

@test "EndpointOperInfo and wg show agree; every peer has a handshake" {
	local e p info hs
	pings a 10.77.1.3 && pings a 10.77.1.4 && pings b 10.77.1.4
	for e in "$A" "$B" "$C"; do
		info=$(ep_info "$NET" "$e")
		assert_eq "$(jq -r .ifname <<<"$info")" "wg-${e:0:12}" ifname
		assert_eq "$(jq -r .backend <<<"$info")" "$WG_TEST_BACKEND" backend
		assert_eq "$(jq -r .joined <<<"$info")" true joined
		assert_eq "$(jq -r .peers <<<"$info")" 2 peers
		assert_eq "$(jq -r .public_key <<<"$info")" "$(pubkey "$e")" public_key
		assert_eq "$(jq -r .listen_port <<<"$info")" "$(wgdev "$e" show listen-port)" \
			listen_port
		assert_eq "$(wgdev "$e" show peers | wc -l)" 2 "wg show peers of ${e:0:12}"
		for p in "$A" "$B" "$C"; do
			[[ $p != "$e" ]] || continue
			hs=$(peer_field "$e" latest-handshakes "$(pubkey "$p")")
			[[ $hs =~ ^[1-9][0-9]*$ ]] ||
				{ echo "${e:0:12}: handshake with ${p:0:12} is '$hs'" >&2; return 1; }
		done
	done
}

@test "each sandbox has exactly lo and wg0, default dev wg0, MTU 1420" {
	local l
	for l in a b c; do
		assert_eq "$(ip -n "$NSP-$l" -o link | awk -F': ' '{print $2}' | paste -sd' ')" \
			"lo wg0" "links in $l"
		[[ $(ip -n "$NSP-$l" route show default) == "default dev wg0"* ]]
		assert_eq "$(mtu "$l")" 1420 "MTU in $l"
	done
}

@test "com.docker.network.driver.mtu sets the MTU of wg0" {
	local net=$(newid) m=$(newid)
	net_create "$net" 10.77.11.0/24 '' '{"com.docker.network.driver.mtu":"1380"}'
	ep_up m "$net" "$m" 10.77.11.2/24
	assert_eq "$(mtu m)" 1380 "MTU"
}

@test "each pair shares its own preshared key" {
	local ab ba ac bc
	ab=$(peer_field "$A" preshared-keys "$(pubkey "$B")")
	ba=$(peer_field "$B" preshared-keys "$(pubkey "$A")")
	ac=$(peer_field "$A" preshared-keys "$(pubkey "$C")")
	bc=$(peer_field "$B" preshared-keys "$(pubkey "$C")")
	[[ $ab =~ ^[A-Za-z0-9+/]{43}=$ ]] || { echo "A->B PSK: '$ab'" >&2; return 1; }
	assert_eq "$ba" "$ab" "B->A PSK"
	assert_eq "$(peer_field "$C" preshared-keys "$(pubkey "$A")")" "$ac" "C->A PSK"
	assert_eq "$(peer_field "$C" preshared-keys "$(pubkey "$B")")" "$bc" "C->B PSK"
	[[ $ab != "$ac" && $ab != "$bc" && $ac != "$bc" && $ac != "(none)" && $bc != "(none)" ]]
}

@test "wg.psk=off: no preshared keys, still reachable" {
	local net=$(newid) p=$(newid) q=$(newid)
	net_create "$net" 10.77.12.0/24 '' '{"wg.psk":"off"}'
	ep_up p "$net" "$p" 10.77.12.2/24
	ep_up q "$net" "$q" 10.77.12.3/24
	assert_eq "$(peer_field "$p" preshared-keys "$(pubkey "$q")")" "(none)" "p->q PSK"
	assert_eq "$(peer_field "$q" preshared-keys "$(pubkey "$p")")" "(none)" "q->p PSK"
	pings p 10.77.12.3
	pings q 10.77.12.2
}
