#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Bad key references, unknown links, duplicate live references and malformed wg.links: each is
# refused with an Err that names the problem, and nothing changes on disk or on the host.

load links

setup_file() {
	suite_setup
	export NET=$(newid) DB=$(newid) WEB=$(newid) PLAIN=$(newid)
	net_create "$NET" 10.77.61.0/24 '' '{"wg.policy":"links"}'
	wgctl generate --psk p1 >/dev/null
	wgctl generate --psk p2 >/dev/null
	wgctl generate c2 >/dev/null
	ep_create "$NET" "$DB" 10.77.61.3/24 "" "$(opts '{"wg.key":"db"}')"
	ep_create "$NET" "$WEB" 10.77.61.2/24 "" "$(opts '{"wg.key":"web","wg.links":"db:p1,c2:p1"}')"
	ep_create "$NET" "$PLAIN" 10.77.61.4/24
}

teardown_file() { suite_teardown; }

# new_ep OPTIONS: a CreateEndpoint body for a fresh endpoint with these wg.* options.
new_ep() { ep_json "$NET" "$(newid)" 10.77.61.9/24 "" "$(opts "$1")"; }

@test "bad key references are refused and named" {
	local ref
	for ref in ../etc/passwd Web '' 'a b' -x .x 'db/..' "$(printf 'x%.0s' {1..65})"; do
		refused CreateEndpoint "$(new_ep "$(jq -nc --arg r "$ref" '{"wg.key": $r}')")" \
			Options.wg.key "is not a key reference" "a-z 0-9 . _ -"
	done
	refused CreateEndpoint "$(new_ep '{"wg.key":"cache","wg.links":"DB"}')" \
		Options.wg.links '"DB" is not a key reference'
	refused CreateEndpoint "$(new_ep '{"wg.key":"cache","wg.links":"db:../p1"}')" \
		Options.wg.links "preshared key after ':' is not a key reference"
}

@test "malformed wg.links are refused and the entry is named" {
	refused CreateEndpoint "$(new_ep '{"wg.key":"c1","wg.links":"db,,web"}')" \
		Options.wg.links "an empty entry"
	refused CreateEndpoint "$(new_ep '{"wg.key":"c1","wg.links":"db,"}')" \
		Options.wg.links "an empty entry"
	refused CreateEndpoint "$(new_ep '{"wg.key":"c1","wg.links":"db:"}')" \
		Options.wg.links 'entry "db:"'
	refused CreateEndpoint "$(new_ep '{"wg.key":"c1","wg.links":":p1"}')" \
		Options.wg.links 'entry ":p1"'
	refused CreateEndpoint "$(new_ep '{"wg.key":"c1","wg.links":"db:p1:p2"}')" \
		Options.wg.links "more than one ':'"
	refused CreateEndpoint "$(new_ep '{"wg.key":"c1","wg.links":"db web"}')" \
		Options.wg.links 'entry "db web"'
	refused CreateEndpoint "$(new_ep '{"wg.key":"c1","wg.links":"db,db"}')" \
		Options.wg.links '"db" is listed twice'
	refused CreateEndpoint "$(new_ep '{"wg.key":"c1","wg.links":"db,c1"}')" \
		Options.wg.links "cannot link to itself"
	refused CreateEndpoint "$(new_ep '{"wg.key":"c1","wg.links":5}')" \
		"Options.wg.links: expected a string"
}

@test "unknown links are refused: no such identity, no such preshared key" {
	refused CreateEndpoint "$(new_ep '{"wg.key":"c1","wg.links":"db,dv"}')" \
		'link to "dv": no identity has that key reference' "wgctl generate dv"
	refused CreateEndpoint "$(new_ep '{"wg.key":"c1","wg.links":"db:nosuch"}')" \
		'link to "db": no preshared key "nosuch"' "wgctl generate --psk nosuch"
	refused CreateEndpoint "$(new_ep '{"wg.key":"c1","wg.link":"db"}')" \
		'"wg.link": unknown endpoint option' wg.key wg.links
}

@test "a second live endpoint with the same key on the network is refused" {
	local net2=$(newid)
	refused CreateEndpoint "$(new_ep '{"wg.key":"db"}')" \
		'key "db" is in use by endpoint '"${DB:0:12}"
	# On another network the same key may be live; the key generated for an endpoint without
	# wg.key may not be named anywhere else.
	net_create "$net2" 10.77.63.0/24
	ep_create "$net2" "$(newid)" 10.77.63.3/24 "" "$(opts '{"wg.key":"db"}')"
	refused CreateEndpoint "$(ep_json "$net2" "$(newid)" 10.77.63.4/24 "" \
		"$(opts "{\"wg.key\":\"$PLAIN\"}")")" \
		"\"$PLAIN\" is the key generated for endpoint ${PLAIN:0:12}"
}

@test "two ends that name different preshared keys for their link are refused" {
	refused CreateEndpoint "$(new_ep '{"wg.key":"c2","wg.links":"web:p2"}')" \
		'link to "web" names preshared key "p2" but endpoint '"${WEB:0:12}"' declares that link with "p1"'
}

@test "a bad wg.policy is refused and lists the known options" {
	refused CreateNetwork "$(net_json "$(newid)" 10.77.62.0/24 '' '{"wg.policy":"star"}')" \
		'option "wg.policy": expected mesh or links'
	refused CreateNetwork "$(net_json "$(newid)" 10.77.62.0/24 '' '{"wg.polcy":"links"}')" \
		'"wg.polcy": unknown' "wg.policy (mesh|links)"
	refused CreateNetwork "$(net_json "$NET" 10.77.61.0/24)" "exists already with other options"
}

@test "after all that, a valid endpoint is created and the state survives a restart" {
	local c=$(newid)
	ep_create "$NET" "$c" 10.77.61.9/24 "" "$(opts '{"wg.key":"c1","wg.links":"db, web:p1"}')"
	assert_eq "$(ep_info "$NET" "$c" | jq -c '[.key, .links, .pending]')" '["c1","db,web:p1",false]' \
		"EndpointOperInfo"
	daemon_stop
	daemon_start
	assert_eq "$(ep_info "$NET" "$c" | jq -c '[.key, .links, .pending]')" '["c1","db,web:p1",false]' \
		"EndpointOperInfo after a restart"
	assert_eq "$(ep_info "$NET" "$WEB" | jq -c '[.key, .links]')" '["web","db:p1,c2:p1"]' "web"
	assert_eq "$(jq -r .policy "$STATE/networks/$NET.json")" links "policy in the state file"
}
