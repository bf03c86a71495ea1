#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# wgctl show: status in wg show's shape with the driver's names beside it, as text and JSON, for
# every network or one endpoint; never a private or preshared key; clear errors; after a restart.

load links

setup_file() {
	suite_setup
	export NET=$(newid) LNET=$(newid) A=$(newid) B=$(newid) C=$(newid)
	net_create "$NET" 10.77.63.0/24 '' '{"wg.keepalive":"15"}'
	ep_up a "$NET" "$A" 10.77.63.2/24
	ep_up b "$NET" "$B" 10.77.63.3/24
	pings a 10.77.63.3
	# A links network where c declares a link to an identity that has no endpoint.
	net_create "$LNET" 10.77.64.0/24 '' '{"wg.policy":"links"}'
	wgctl generate absent >/dev/null
	ep_up_opts c "$LNET" "$C" 10.77.64.2/24 '{"wg.key":"cee","wg.links":"absent"}'
}

teardown_file() { suite_teardown; }

# secrets EID: the private key and the preshared keys of EID's link, one per line.
secrets() {
	wgdev "$1" show private-key
	wgdev "$1" show preshared-keys | awk '{ print $2 }'
}

@test "show: every network, endpoint and peer, in wg show's shape, with handshake and transfer" {
	local out pa pb
	pa=$(pubkey "$A")
	pb=$(pubkey "$B")
	out=$(wgctl show)
	[[ $out == *"network: ${NET:0:12}"* && $out == *"network: ${LNET:0:12}"* ]]
	[[ $out == *"  persistent keepalive: every 15 seconds"* ]]
	[[ $out == *"endpoint: ${A:0:12}"$'\n'"  identity: $A"$'\n'"  public key: $pa"$'\n'"  backend: $WG_TEST_BACKEND"* ]]
	[[ $out == *"  listening port: $(wgdev "$A" show listen-port)"* ]]
	[[ $out == *"  addresses: 10.77.63.2/24"* ]]
	[[ $out == *"  peer: $pb"$'\n'"    identity: $B (endpoint ${B:0:12})"$'\n'"    endpoint: 127.0.0.1:$(wgdev "$B" show listen-port)"$'\n'"    allowed ips: 10.77.63.3/32"$'\n'"    latest handshake: "*" ago"$'\n'"    transfer: "*" received, "*" sent"$'\n'"    persistent keepalive: every 15 seconds"$'\n'"    link: active"* ]]
	[[ $out == *"endpoint: ${C:0:12}"$'\n'"  identity: cee"* ]]
	[[ $out == *"  link to absent: waiting (no live endpoint has this identity)"* ]]
}

@test "show --json NETWORK ENDPOINT: one endpoint, with what wg has for each peer" {
	local out
	out=$(wgctl show --json "${NET:0:5}" "${A:0:8}")
	jq -e --arg n "$NET" --arg a "$A" --arg b "$B" --arg pb "$(pubkey "$B")" \
		--arg backend "$WG_TEST_BACKEND" '
		(.networks | length) == 1 and .networks[0].id == $n and
		.networks[0].policy == "mesh" and .networks[0].psk == true and
		(.networks[0].endpoints | length) == 1 and
		(.networks[0].endpoints[0] | .id == $a and .state == "joined" and .error == null and
		 .backend == $backend and (.peers | length) == 1) and
		(.networks[0].endpoints[0].peers[0] | .public_key == $pb and .identity == $b and
		 .kind == "local" and .endpoint_id == $b and .link == "active" and
		 .latest_handshake > 0 and .rx_bytes > 0 and .tx_bytes > 0 and
		 .allowed_ips == ["10.77.63.3/32"] and .persistent_keepalive == 15)' <<<"$out"
	# By identity (here the endpoint ID, a generated key) and by full ID: the same endpoint.
	assert_eq "$(wgctl show --json "$NET" "$A" | jq -c '.networks[0].endpoints[0].id')" "\"$A\"" "by ID"
	assert_eq "$(wgctl show --json "$LNET" cee | jq -r '.networks[0].endpoints[0].id')" "$C" "by identity"
}

@test "show never gives a private or a preshared key, in text or JSON" {
	local text json s
	text=$(wgctl show)
	json=$(wgctl show --json)
	for e in "$A" "$B" "$C"; do
		while read -r s; do
			[[ -n $s && $s != "(none)" ]] || continue
			[[ $text != *"$s"* && $json != *"$s"* ]] || { echo "secret of ${e:0:12} shown" >&2; return 1; }
		done < <(secrets "$e")
	done
	[[ $(wgdev "$A" show preshared-keys | awk '{ print $2 }') != "(none)" ]]
}

@test "show: a network or an endpoint that is not there is named in the error, and the next call works" {
	run wgctl show nosuchnet
	[ "$status" -eq 1 ]
	[[ $output == *'network "nosuchnet": no wireguard network of this host has that ID, name or wg.net name'* ]]
	run wgctl show "$NET" nosuch
	[ "$status" -eq 1 ]
	[[ $output == *'endpoint "nosuch": network '"${NET:0:12}"' has no endpoint on this host'* ]]
	run wgctl show "$NET" a b c
	[ "$status" -eq 2 ]
	[[ $output == *"Usage: wgctl show"* ]]
	wgctl show "$NET" >/dev/null
}

@test "show after a restart of the daemon: the same endpoints and peers, the links read again" {
	local before after
	before=$(wgctl show --json "$NET" | jq -c '[.networks[0].endpoints[] | {id, public_key, peers: [.peers[] | {public_key, link}]}]')
	daemon_stop
	daemon_start
	after=$(wgctl show --json "$NET" | jq -c '[.networks[0].endpoints[] | {id, public_key, peers: [.peers[] | {public_key, link}]}]')
	assert_eq "$after" "$before" "endpoints and peers after the restart"
}

# metrics_at PORT: the daemon's /metrics on 127.0.0.1:PORT.
metrics_at() { curl -sf --max-time 10 "http://127.0.0.1:$1/metrics"; }

# restart_with METRICS_ADDR [METRICS_PEERS]: the daemon stopped and started again with these.
restart_with() {
	local rc=0
	daemon_stop
	export METRICS_ADDR=$1 METRICS_PEERS=${2:-}
	daemon_start || rc=$?
	unset METRICS_ADDR METRICS_PEERS
	return "$rc"
}

@test "/metrics: per peer and per endpoint; METRICS_PEERS=off: per endpoint only; a bad value: no metrics" {
	local port m ep_a head len
	port=$(free_port)
	ep_a='network="'${NET:0:12}'",network_id="'${NET:0:12}'",container="",endpoint="'${A:0:12}'",identity="'$A'"'
	restart_with "127.0.0.1:$port"
	pings a 10.77.63.3
	m=$(metrics_at "$port")
	promtool check metrics <<<"$m"
	grep -q "^wireguard_sent_bytes_total{$ep_a,peer_identity=\"$B\",peer_container=\"\",peer_kind=\"local\"} [1-9]" <<<"$m"
	grep -qx "wireguard_endpoint_peers{$ep_a} 1" <<<"$m"
	grep -q "^wireguard_endpoint_received_bytes{$ep_a} [1-9]" <<<"$m"
	grep -Eq "^wireguard_endpoint_latest_handshake_seconds\{.*endpoint=\"${B:0:12}\".*\} [1-9][0-9]{9}$" <<<"$m"
	# HEAD: the headers alone, with the length of the answer (served from its parts as read).
	head=$(curl -sfI --max-time 10 "http://127.0.0.1:$port/metrics" | tr -d '\r')
	grep -qx 'Content-Type: text/plain; version=0.0.4; charset=utf-8' <<<"$head"
	len=$(awk 'tolower($1) == "content-length:" { print $2 }' <<<"$head")
	[ "$len" -gt ${#m} ]

	restart_with "127.0.0.1:$port" off
	m=$(metrics_at "$port")
	promtool check metrics <<<"$m"
	! grep -q '^wireguard_sent_bytes_total\|^wireguard_received_bytes_total\|^wireguard_latest_handshake_seconds' <<<"$m" || false
	grep -qx "wireguard_endpoint_peers{$ep_a} 1" <<<"$m"
	grep -q "^wireguard_endpoint_sent_bytes{$ep_a} [1-9]" <<<"$m"
	grep -q '^wireguard_peers{.*link="active"} 2$' <<<"$m"

	# Like a bad METRICS_ADDR: said in the log, no metrics; the engine's socket serves.
	restart_with "127.0.0.1:$port" yes
	grep -q 'METRICS_PEERS "yes": expected on (a series per peer of each endpoint) or off (per endpoint only); no metrics' "$LOG"
	! metrics_at "$port" || false
	wgctl show "$NET" >/dev/null
	daemon_stop
	daemon_start
}

@test "show when the daemon is not there: says so" {
	run "$WGCTL" -s "$TMP/nosuch.sock" show
	[ "$status" -eq 1 ]
	[[ $output == *"nosuch.sock: No such file or directory (is the driver running? -s names its wgctl socket)"* ]]
}
