#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Policy links: only linked identities peer. web links db, worker links db through a named
# preshared key, cache links nothing.

load links

setup_file() {
	suite_setup
	export NET=$(newid) WEB=$(newid) DB=$(newid) CACHE=$(newid) WORKER=$(newid)
	net_create "$NET" 10.77.60.0/24 '' '{"wg.policy":"links"}'
	wgctl generate --psk shared
	ep_up_opts db "$NET" "$DB" 10.77.60.3/24 '{"wg.key":"db"}'
	ep_up_opts web "$NET" "$WEB" 10.77.60.2/24 '{"wg.key":"web","wg.links":"db"}'
	ep_up_opts cache "$NET" "$CACHE" 10.77.60.4/24 '{"wg.key":"cache"}'
	ep_up_opts worker "$NET" "$WORKER" 10.77.60.5/24 '{"wg.key":"worker","wg.links":"db:shared"}'
}

teardown_file() { suite_teardown; }

@test "web and db reach each other; cache reaches no one and no one reaches it" {
	pings web 10.77.60.3
	pings db 10.77.60.2
	no_ping web 10.77.60.4
	no_ping db 10.77.60.4
	no_ping cache 10.77.60.2
	no_ping cache 10.77.60.3
	# Linked to db, not to each other.
	no_ping web 10.77.60.5
	no_ping worker 10.77.60.2
}

@test "the peer sets follow the links; EndpointOperInfo says so" {
	assert_eq "$(peers_of "$WEB")" "$(pubkey "$DB")" "peers of web"
	assert_eq "$(peers_of "$DB")" "$(printf '%s\n' "$(pubkey "$WEB")" "$(pubkey "$WORKER")" |
		sort | paste -sd' ')" "peers of db"
	assert_eq "$(peers_of "$CACHE")" "" "peers of cache"
	assert_eq "$(ep_info "$NET" "$WEB" | jq -c '[.key, .links, .peers, .pending]')" \
		'["web","db",1,false]' "web's EndpointOperInfo"
	assert_eq "$(ep_info "$NET" "$CACHE" | jq -c '[.key, .links, .peers]')" '["cache","",0]' \
		"cache's EndpointOperInfo"
}

@test "cache cannot complete a handshake with web even when it knows web's key and port" {
	local web_pub cache_pub port
	web_pub=$(pubkey "$WEB") cache_pub=$(pubkey "$CACHE")
	port=$(wgdev "$WEB" show listen-port)
	# What a cache that learnt web's key would configure: web has no peer for cache, so it
	# drops the handshake initiation and cache's handshake time stays 0.
	wgdev "$CACHE" set peer "$web_pub" endpoint "127.0.0.1:$port" allowed-ips 10.77.60.2/32
	no_ping cache 10.77.60.2
	assert_eq "$(handshake "$CACHE" "$web_pub")" 0 "cache's handshake with web"
	assert_eq "$(handshake "$WEB" "$cache_pub")" "" "web's entry for cache"
	wgdev "$CACHE" set peer "$web_pub" remove
	# Meanwhile the linked pair has a handshake.
	pings web 10.77.60.3
	[[ $(handshake "$WEB" "$(pubkey "$DB")") =~ ^[1-9][0-9]*$ ]]
}

@test "the PSKs on both sides of a link are equal, and differ between links" {
	local web_db db_web worker_db db_worker
	web_db=$(psk "$WEB" "$(pubkey "$DB")")
	db_web=$(psk "$DB" "$(pubkey "$WEB")")
	worker_db=$(psk "$WORKER" "$(pubkey "$DB")")
	db_worker=$(psk "$DB" "$(pubkey "$WORKER")")
	[[ $web_db =~ ^[A-Za-z0-9+/]{43}=$ ]] || { echo "web->db PSK '$web_db'" >&2; return 1; }
	assert_eq "$db_web" "$web_db" "db->web PSK"
	assert_eq "$db_worker" "$worker_db" "db->worker PSK"
	[[ $worker_db != "$web_db" ]]
	# worker's link names its preshared key: it is the one wgctl manages as "shared".
	assert_eq "$worker_db" "$(wgctl export --psk shared)" "the named PSK"
	pings worker 10.77.60.3
}

@test "wgctl links lists each link with its PSK reference and state" {
	local short=${NET:0:12}
	assert_eq "$(wgctl links)" "$short db web db+web active
$short db worker shared active" "wgctl links"
}

@test "a link to an identity with no live endpoint becomes active when it joins" {
	local early=$(newid) late=$(newid)
	wgctl generate late >/dev/null
	ep_up_opts early "$NET" "$early" 10.77.60.6/24 '{"wg.key":"early","wg.links":"late"}'
	assert_eq "$(peers_of "$early")" "" "peers of early before late joins"
	wgctl links | grep -qx "${NET:0:12} early late early+late waiting"
	ep_up_opts late "$NET" "$late" 10.77.60.7/24 '{"wg.key":"late"}'
	assert_eq "$(peers_of "$early")" "$(pubkey "$late")" "peers of early"
	pings early 10.77.60.7
	pings late 10.77.60.6
	wgctl links | grep -qx "${NET:0:12} early late early+late active"
	no_ping late 10.77.60.3
}

@test "re-creating web without its link cuts web-db; web keeps its identity" {
	local old_pub web2=$(newid)
	pings web 10.77.60.3
	old_pub=$(pubkey "$WEB")
	ep_down web "$NET" "$WEB"
	# A named identity outlives its endpoint; the key of its link is derived from the two
	# public keys (keys/link.key), so it comes back with the identity.
	wgctl list | grep -qx "identity web $old_pub"
	[[ -f $STATE/keys/link.key && ! -e $STATE/keys/link/db+web.psk ]]
	ep_create "$NET" "$web2" 10.77.60.2/24 "" "$(opts '{"wg.key":"web"}')"
	join_ep "$NET" "$web2" web
	attach web "$web2" 10.77.60.2/24
	assert_eq "$(pubkey "$web2")" "$old_pub" "web's public key"
	assert_eq "$(peers_of "$web2")" "" "peers of the new web"
	[[ $(peers_of "$DB") != *"$old_pub"* ]]
	no_ping web 10.77.60.3
	no_ping db 10.77.60.2
	pings worker 10.77.60.3
}
