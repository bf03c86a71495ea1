#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Outside peers (wgctl peer): a namespace plays the laptop, joined to the host by a veth pair, and
# runs the configuration wgctl prints with the real wg-quick on wireguard-go. It reaches the
# containers its network's policy allows and no others; it survives a restart of the daemon; bad
# input changes nothing.

load links

setup_file() {
	suite_setup
	export NET=$(newid) LNET=$(newid) INET=$(newid) A=$(newid) B=$(newid) C=$(newid) D=$(newid)
	export LAP=$NSP-lap LAP2=$NSP-lap2 Q1=wgq1-$BATS_ROOT_PID Q2=wgq2-$BATS_ROOT_PID
	export VIA=10.77.69.1
	# Mesh: a and b; engine IPAM (the peer's address is given).
	net_create "$NET" 10.77.67.0/24
	ep_up a "$NET" "$A" 10.77.67.2/24
	ep_up b "$NET" "$B" 10.77.67.3/24
	# Links: c links to laptop2; d to no one.
	net_create "$LNET" 10.77.68.0/24 '' '{"wg.policy":"links"}'
	wgctl generate laptop2 >/dev/null
	ep_up_opts c "$LNET" "$C" 10.77.68.2/24 '{"wg.key":"cee","wg.links":"laptop2"}'
	ep_up_opts d "$LNET" "$D" 10.77.68.3/24 '{"wg.key":"dee"}'
	# Two laptops, each a namespace behind a veth pair of its own.
	laptop_make "$LAP" 10.77.69.1 10.77.69.2
	laptop_make "$LAP2" 10.77.69.5 10.77.69.6
}

teardown_file() {
	local q
	for q in "$Q1:$LAP" "$Q2:$LAP2"; do
		[[ -f $TMP/${q%%:*}.conf ]] &&
			ip netns exec "${q#*:}" wg-quick down "$TMP/${q%%:*}.conf" >/dev/null 2>&1
	done
	ip link del "${LAP: -12}h" 2>/dev/null || true
	ip link del "${LAP2: -12}h" 2>/dev/null || true
	suite_teardown
}

# laptop_make NS HOST-ADDR LAPTOP-ADDR: namespace NS behind a veth pair (/30) to the host.
laptop_make() {
	local h=${1: -12}h
	ip netns add "$1" && echo "$1" >>"$TMP/netns" && ip -n "$1" link set lo up &&
		ip link add "$h" type veth peer name eth0 netns "$1" &&
		ip addr add "$2/30" dev "$h" && ip link set "$h" up &&
		ip -n "$1" addr add "$3/30" dev eth0 && ip -n "$1" link set eth0 up
}

# up CONF NS: wg-quick up in the laptop's namespace, on wireguard-go.
up() {
	ip netns exec "$2" env WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go \
		wg-quick up "$1" 2>&1
}

# conf_field CONF KEY: the values of KEY in CONF, one per line.
conf_field() { sed -n "s/^$2 = //p" "$1"; }

# lap_ping NS ADDR / lap_no_ping NS ADDR
lap_ping() { ns_pings "$1" "$2" >/dev/null; }
lap_no_ping() { ! ip netns exec "$1" busybox ping -c 2 -W 1 "$2" >/dev/null 2>&1; }

# unchanged: what peer list and the state say now equals what $TMP/before holds.
snapshot() { { wgctl peer list; ls "$STATE/keys/identity"; } | sort; }

@test "peer add prints a wg-quick configuration; wg-quick up reaches every container of a mesh network" {
	local conf=$TMP/$Q1.conf priv
	wgctl peer add laptop --network "$NET" --address 10.77.67.200 --endpoint "$VIA" >"$conf"
	cat "$conf"
	priv=$(conf_field "$conf" PrivateKey)
	[[ $priv =~ ^[A-Za-z0-9+/]{43}=$ ]]
	assert_eq "$(conf_field "$conf" Address)" 10.77.67.200/32 "Address"
	assert_eq "$(grep -c '^\[Peer\]' "$conf")" 2 "peers"
	assert_eq "$(conf_field "$conf" PublicKey | sort | paste -sd' ')" \
		"$(printf '%s\n' "$(pubkey "$A")" "$(pubkey "$B")" | sort | paste -sd' ')" "peer keys"
	grep -qx "Endpoint = $VIA:$(wgdev "$A" show listen-port)" "$conf"
	grep -qx "AllowedIPs = 10.77.67.2/32" "$conf"
	assert_eq "$(conf_field "$conf" PersistentKeepalive | sort -u)" 25 "keepalive"
	# The containers have it as a peer, with the same preshared key and its /32.
	assert_eq "$(psk "$A" "$(wg pubkey <<<"$priv")")" \
		"$(awk -v k="$(pubkey "$A")" '/^PublicKey/ { p = ($3 == k) } p && /^PresharedKey/ { print $3 }' "$conf")" "PSK"
	wgdev "$A" show allowed-ips | grep -q "10.77.67.200/32"
	up "$conf" "$LAP"
	lap_ping "$LAP" 10.77.67.2
	lap_ping "$LAP" 10.77.67.3
	# And the containers reach it back, by its address.
	pings a 10.77.67.200
	wgctl peer list | grep -qx "laptop $NET 10.77.67.200/24 $(wg pubkey <<<"$priv")"
}

@test "on a links network the peer reaches only the containers it is linked with" {
	local conf=$TMP/$Q2.conf
	wgctl peer add laptop2 --network "$LNET" --endpoint 10.77.69.5 --address 10.77.68.200 >"$conf"
	assert_eq "$(conf_field "$conf" PublicKey)" "$(pubkey "$C")" "the one peer: c"
	up "$conf" "$LAP2"
	lap_ping "$LAP2" 10.77.68.2
	lap_no_ping "$LAP2" 10.77.68.3
	! peers_of "$D" | grep -q "$(wgctl export laptop2 | wg pubkey)" || false
	# A link declared by the peer (--links) works the other way round.
	wgctl peer add laptop3 --network "$LNET" --links dee --endpoint 10.77.69.5 --address 10.77.68.201 >"$TMP/laptop3.conf"
	assert_eq "$(conf_field "$TMP/laptop3.conf" PublicKey)" "$(pubkey "$D")" "laptop3's one peer: d"
	peers_of "$D" | grep -q "$(wgctl export laptop3 | wg pubkey)"
	wgctl peer rm laptop3
}

@test "peer config follows the network: a container that comes is in it, one that goes is not" {
	local E
	E=$(newid)
	ep_up e "$NET" "$E" 10.77.67.4/24
	wgctl peer config laptop >"$TMP/now.conf"
	conf_field "$TMP/now.conf" PublicKey | grep -qx "$(pubkey "$E")"
	# The laptop takes the new file (routes come with wg-quick up).
	ip netns exec "$LAP" wg-quick down "$TMP/$Q1.conf" 2>&1
	cp "$TMP/now.conf" "$TMP/$Q1.conf"
	up "$TMP/$Q1.conf" "$LAP"
	lap_ping "$LAP" 10.77.67.4
	ep_down e "$NET" "$E"
	wgctl peer config laptop >"$TMP/now.conf"
	assert_eq "$(grep -c '^\[Peer\]' "$TMP/now.conf")" 2 "peers after e left"
}

@test "outside peers survive a restart of the daemon, and keep working" {
	local before
	before=$(wgctl peer list | sort)
	daemon_stop
	daemon_start
	assert_eq "$(wgctl peer list | sort)" "$before" "peer list after the restart"
	wgdev "$A" show allowed-ips | grep -q "10.77.67.200/32"
	lap_ping "$LAP" 10.77.67.2
	wgctl peer config laptop >"$TMP/again.conf"
	assert_eq "$(conf_field "$TMP/again.conf" PrivateKey)" "$(conf_field "$TMP/$Q1.conf" PrivateKey)" "same key"
}

@test "--public-key: nothing secret of the peer is kept, and its configuration leaves PrivateKey to its owner" {
	local priv pub
	priv=$(wg genkey)
	pub=$(wg pubkey <<<"$priv")
	wgctl peer add phone --network "$NET" --public-key "$pub" --address 10.77.67.201 --endpoint "$VIA" >"$TMP/phone.conf"
	grep -qx "# PrivateKey = the private key of public key $pub" "$TMP/phone.conf"
	! grep -q '^PrivateKey' "$TMP/phone.conf" || false
	[[ ! -e $STATE/keys/identity/phone.key ]]
	peers_of "$A" | grep -q "$pub"
	wgctl peer rm phone
	! peers_of "$A" | grep -q "$pub" || false
}

@test "peer rm: the containers forget it, its address and its key go; a new peer may take the name" {
	local pub
	pub=$(wgctl export laptop | wg pubkey)
	wgctl peer rm laptop
	! peers_of "$A" | grep -q "$pub" || false
	! peers_of "$B" | grep -q "$pub" || false
	! wgctl peer list | grep -q '^laptop ' || false
	[[ ! -e $STATE/keys/identity/laptop.key ]]
	run wgctl peer config laptop
	[ "$status" -eq 1 ]
	[[ $output == *"no outside peer laptop (wgctl peer list)"* ]]
	wgctl peer add laptop --network "$NET" --address 10.77.67.200 --endpoint "$VIA" >"$TMP/new.conf"
	[[ $(conf_field "$TMP/new.conf" PrivateKey) != "$(conf_field "$TMP/$Q1.conf" PrivateKey)" ]]
}

@test "a network with this plugin's IPAM gives the peer its address" {
	local out conf=$TMP/auto.conf
	out=$(api_ok CreateNetwork "$(jq -c '.IPv4Data[0].AddressSpace = "wireguard"' <<<"$(net_json "$INET" 10.77.70.0/24)")")
	wgctl peer add auto --network "$INET" --endpoint "$VIA" >"$conf"
	assert_eq "$(conf_field "$conf" Address)" 10.77.70.2/32 "Address (the first after the gateway)"
	# The pool knows it is taken: the next request gets another.
	out=$(api IpamDriver.RequestAddress '{"PoolID":"wg:10.77.70.0/24","Address":"","Options":{}}')
	assert_eq "$(jq -r .Address <<<"$out")" 10.77.70.3/24 "next address"
	wgctl peer rm auto
	out=$(api IpamDriver.RequestAddress '{"PoolID":"wg:10.77.70.0/24","Address":"10.77.70.2","Options":{}}')
	assert_eq "$(jq -r .Address <<<"$out")" 10.77.70.2/24 "the peer's address, given back"
}

@test "a network with an outside peer is not deleted; an endpoint cannot take its address or name; its key is not deleted" {
	local E out
	wgctl peer add keep --network "$INET" --address 10.77.70.210 --endpoint "$VIA" >/dev/null
	out=$(api DeleteNetwork "{\"NetworkID\":\"$INET\"}")
	[[ $(jq -r .Err <<<"$out") == *"outside peer keep is on it (wgctl peer rm keep first)"* ]]
	E=$(newid)
	out=$(api CreateEndpoint "$(ep_json "$INET" "$E" 10.77.70.210/24)")
	[[ $(jq -r .Err <<<"$out") == *"address 10.77.70.210/24 is used by outside peer keep"* ]]
	out=$(api CreateEndpoint "$(ep_json "$INET" "$E" 10.77.70.211/24 '' "$(opts '{"wg.key":"keep"}')")")
	[[ $(jq -r .Err <<<"$out") == *'"keep" is the identity of an outside peer'* ]]
	run wgctl delete keep
	[[ $output == *"identity keep is in use by outside peer keep"* ]]
	wgctl peer rm keep
	api_ok DeleteNetwork "{\"NetworkID\":\"$INET\"}" >/dev/null
}

@test "bad input names the field and changes nothing; the next call works" {
	local before
	before=$(snapshot)
	check() {
		run wgctl peer add "$@"
		[ "$status" -ne 0 ] || { echo "accepted: $*" >&2; return 1; }
		[[ $output == *"$EXPECT"* ]] || { echo "for $*: $output" >&2; return 1; }
		assert_eq "$(snapshot)" "$before" "after: $*"
	}
	EXPECT='peer add: "Bad" is not a key reference' check 'Bad' --network "$NET" --address 10.77.67.9
	EXPECT='network "nosuch": no wireguard network' check p1 --network nosuch --address 10.77.67.9 --endpoint "$VIA"
	EXPECT='expected an address of the network'"'"'s subnet 10.77.67.0/24' check p1 --network "$NET" --address 10.9.9.9 --endpoint "$VIA"
	EXPECT='--address "nope": expected an IPv4 or IPv6 address' check p1 --network "$NET" --address nope --endpoint "$VIA"
	EXPECT="address 10.77.67.2/24 is used by endpoint ${A:0:12}" check p1 --network "$NET" --address 10.77.67.2 --endpoint "$VIA"
	EXPECT="takes its addresses from the engine's IPAM" check p1 --network "$NET" --endpoint "$VIA"
	EXPECT="--public-key: expected a base64 32-byte public key" check p1 --network "$NET" --public-key xyz --address 10.77.67.9 --endpoint "$VIA"
	EXPECT='link to "ghost": no identity has that key reference' check p1 --network "$NET" --links ghost --address 10.77.67.9 --endpoint "$VIA"
	EXPECT="--endpoint: give the address or DNS name" check p1 --network "$NET" --address 10.77.67.9
	EXPECT='--endpoint "a b": expected one word' check p1 --network "$NET" --address 10.77.67.9 --endpoint "a b"
	EXPECT="peer laptop: exists already" check laptop --network "$NET" --address 10.77.67.9 --endpoint "$VIA"
	EXPECT="peer cee: the identity is in use by an endpoint" check cee --network "$LNET" --address 10.77.68.9 --endpoint "$VIA"
	EXPECT="Usage: wgctl peer add" check p1 --address 10.77.67.9
	# A name that is no key reference is named as such, quoted, in peer config and peer rm too.
	for cmd in config rm; do
		run wgctl peer "$cmd" $'Bad\xc4'
		[ "$status" -ne 0 ]
		[[ $output == *"peer $cmd: \"Bad\\xc4\" is not a key reference"* ]] || {
			echo "peer $cmd: $output" >&2
			return 1
		}
	done
	assert_eq "$(snapshot)" "$before" "after peer config and peer rm of a bad name"
	run wgctl peer rm p1
	[[ $output == *"no outside peer p1 (wgctl peer list)"* ]]
	# A configuration is secret: not to a terminal.
	run script -qec "$WGCTL -s $TMP/wgctl.sock peer config laptop2" /dev/null
	[[ $output == *"refusing to print a configuration with secret keys to a terminal"* ]]
	wgctl peer add p1 --network "$NET" --address 10.77.67.9 --endpoint "$VIA" >/dev/null
	wgctl peer rm p1
	assert_eq "$(snapshot)" "$before" "after add and rm"
}
