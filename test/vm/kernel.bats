#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# What only a kernel with wireguard.ko can show; test/vm/suite runs it inside the VM next to the
# API suite, both with WG_TEST_BACKEND=kernel. The module and two hand-made links first (netns.sh
# in small), then the daemon: links of kind wireguard, a peer added to a link that is already in
# its sandbox, a Join the kernel refuses, bad input, removal, and one network with an endpoint on
# each backend (wg.backend). The tests run in order.

WG_DRIVER=${WG_DRIVER:-$BATS_TEST_DIRNAME/../../build/wireguard-driver}
load ../bats/api/helpers

setup_file() {
	suite_setup
	export NET=$(newid) A=$(newid) B=$(newid) D=$(newid)
	: >"$TMP/links"
	net_create "$NET" 10.78.1.0/24
}

teardown_file() {
	local l
	[[ -d ${TMP:-} ]] || return 0
	side_daemon_stop auto || true
	while read -r l; do ip link del "$l" 2>/dev/null || true; done <"$TMP/links"
	suite_teardown
}

# side_daemon_start NAME BACKEND: another daemon on $TMP/NAME.sock with its own state dir.
side_daemon_start() {
	local sock=$TMP/$1.sock pid i
	"$WG_DRIVER" --socket "$sock" --state-dir "$TMP/$1.state" --backend "$2" --log-level debug \
		</dev/null >>"$TMP/$1.log" 2>&1 3>&- &
	pid=$!
	echo "$pid" >"$TMP/$1.pid"
	for ((i = 0; i < 100; i++)); do
		[[ -S $sock ]] && SOCK=$sock api Plugin.Activate '{}' >/dev/null 2>&1 && return 0
		pid_alive "$pid" || { echo "$1 daemon exited:"; tail -n 20 "$TMP/$1.log"; return 1; } >&2
		sleep 0.1
	done
	echo "$1 daemon did not answer on $sock within 10 s" >&2
	return 1
}

# side_daemon_stop NAME: SIGTERM, then SIGKILL after 10 s.
side_daemon_stop() {
	local pid i
	pid=$(cat "$TMP/$1.pid" 2>/dev/null) || return 0
	rm -f "$TMP/$1.pid"
	pid_alive "$pid" || return 0
	kill -TERM "$pid"
	for ((i = 0; i < 100; i++)); do pid_alive "$pid" || return 0; sleep 0.1; done
	kill -KILL "$pid"
	return 1
}

# kind LABEL LINK: the link kind of LINK in sandbox LABEL ("-" for the host).
kind() {
	local netns=()
	[[ $1 == - ]] || netns=(-n "$NSP-$1")
	ip "${netns[@]}" -d -j link show "$2" | jq -r '.[0].linkinfo.info_kind // "none"'
}

# peer_of PUBKEY: the value for peer PUBKEY in `wg show DEV FIELD` output on stdin.
peer_of() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }'; }

# handshake_with LABEL PUBKEY: wg0 in sandbox LABEL has completed a handshake with PUBKEY.
handshake_with() {
	local hs
	hs=$(n "$1" wg show wg0 latest-handshakes | peer_of "$2")
	[[ $hs =~ ^[1-9][0-9]*$ ]] || { echo "$1: handshake with $2 is '$hs'" >&2; return 1; }
}

# daemon_links LABEL...: the wireguard links in those sandboxes, and the links in the host named
# after our endpoints (other files of the suite may be running next to this one).
daemon_links() {
	local l
	our_links
	for l in "$@"; do
		[[ -e /var/run/netns/$NSP-$l ]] || continue
		ip -n "$NSP-$l" -o link show type wireguard | awk -F': ' -v l="$l" '{ print l ": " $2 }'
	done
}

@test "the VM kernel loads its own wireguard.ko and makes links of kind wireguard" {
	local f l=wgk$BATS_ROOT_PID
	modprobe wireguard
	[[ -d /sys/module/wireguard ]]
	f=$(modinfo -n wireguard)
	[[ $f == "/lib/modules/$(uname -r)/"* ]] || { echo "wireguard.ko from $f" >&2; return 1; }
	echo "$l" >>"$TMP/links"
	ip link add "$l" type wireguard
	assert_eq "$(kind - "$l")" wireguard "kind of $l"
	[[ $(wg show "$l") == "interface: $l"* ]]
	ip link del "$l"
	echo "# kernel $(uname -r), wireguard $(modinfo -F version wireguard)" >&3
}

@test "two sandboxes with hand-made kernel links ping each other with a preshared key" {
	local l i key pub port
	umask 077
	wg genpsk >"$TMP/psk"
	for i in 1 2; do
		l=wgk$BATS_ROOT_PID-$i
		echo "$l" >>"$TMP/links"
		wg genkey >"$TMP/key$i"
		pub[i]=$(wg pubkey <"$TMP/key$i")
		ns_make "k$i"
		ip link add "$l" type wireguard
		wg set "$l" private-key "$TMP/key$i"
		# The UDP socket stays in the namespace the link was made in: here, the VM's.
		ip link set "$l" netns "$NSP-k$i"
		ip -n "$NSP-k$i" link set "$l" name wg0
		ip -n "$NSP-k$i" addr add "10.78.0.$i/24" dev wg0
		ip -n "$NSP-k$i" link set wg0 up
		port[i]=$(n "k$i" wg show wg0 listen-port)
	done
	n k1 wg set wg0 peer "${pub[2]}" preshared-key "$TMP/psk" allowed-ips 10.78.0.2/32 \
		endpoint "127.0.0.1:${port[2]}"
	n k2 wg set wg0 peer "${pub[1]}" preshared-key "$TMP/psk" allowed-ips 10.78.0.1/32 \
		endpoint "127.0.0.1:${port[1]}"
	pings k1 10.78.0.2
	pings k2 10.78.0.1
	handshake_with k1 "${pub[2]}"
	handshake_with k2 "${pub[1]}"
	assert_eq "$(n k1 wg show wg0 preshared-keys | peer_of "${pub[2]}")" "$(cat "$TMP/psk")" PSK
}

@test "the daemon makes kernel links: kind wireguard, backend kernel, no wireguard-go" {
	local info
	ep_up a "$NET" "$A" 10.78.1.2/24
	info=$(ep_info "$NET" "$A")
	assert_eq "$(jq -r .backend <<<"$info")" kernel backend
	assert_eq "$(kind a wg0)" wireguard "kind of wg0 in a"
	assert_eq "$(n a wg show wg0 public-key)" "$(jq -r .public_key <<<"$info")" "public key"
	assert_eq "$(n a wg show wg0 listen-port)" "$(jq -r .listen_port <<<"$info")" "listen port"
	assert_eq "$(our_procs)" "" "wireguard-go processes"
}

@test "a peer added after A moved into its sandbox reaches A's link there (SandboxKey)" {
	local pub_b
	ip link show "$(src "$A")" >/dev/null 2>&1 &&
		{ echo "A's link is still in the host" >&2; return 1; }
	ep_up b "$NET" "$B" 10.78.1.3/24
	pub_b=$(n b wg show wg0 public-key)
	assert_eq "$(n a wg show wg0 peers)" "$pub_b" "A's peers"
	assert_eq "$(n a wg show wg0 allowed-ips | peer_of "$pub_b")" 10.78.1.3/32 \
		"A's allowed IPs for B"
	assert_eq "$(n a wg show wg0 endpoints | peer_of "$pub_b")" \
		"127.0.0.1:$(n b wg show wg0 listen-port)" "A's endpoint for B"
	pings a 10.78.1.3
	pings b 10.78.1.2
	handshake_with a "$pub_b"
	handshake_with b "$(n a wg show wg0 public-key)"
}

@test "a Join the kernel refuses (link name taken) answers Err and leaves nothing behind" {
	local out taken=wg-${D:0:12}
	ep_create "$NET" "$D" 10.78.1.5/24
	ns_make d
	echo "$taken" >>"$TMP/links"
	ip link add "$taken" type dummy
	out=$(api Join "$(jq -nc --arg n "$NET" --arg e "$D" --arg k "/var/run/netns/$NSP-d" \
		'{NetworkID: $n, EndpointID: $e, SandboxKey: $k, Options: {}}')")
	[[ -n $(jq -r '.Err // empty' <<<"$out") ]] || { echo "Join answered $out" >&2; return 1; }
	assert_eq "$(kind - "$taken")" dummy "kind of $taken"
	assert_eq "$(ep_info "$NET" "$D" | jq -r .joined)" false "D joined"
	assert_eq "$(n a wg show wg0 peers | wc -l)" 1 "A's peer count"
	assert_eq "$(n b wg show wg0 peers | wc -l)" 1 "B's peer count"
	assert_eq "$(ep_info "$NET" "$A" | jq -r .peers)" 1 "A's peers in EndpointOperInfo"
	ip link del "$taken"
	join_ep "$NET" "$D" d
	attach d "$D" 10.78.1.5/24
	pings d 10.78.1.2
	assert_eq "$(n a wg show wg0 peers | wc -l)" 2 "A's peer count after the second Join"
}

@test "bad input on a network with kernel links: refused, nothing changed there, the next call works" {
	local peers_a
	peers_a=$(n a wg show wg0 peers | sort)
	refused CreateEndpoint "$(ep_json "$NET" "$(newid)" 10.78.1.300/24)" Interface.Address
	refused CreateEndpoint "$(ep_json "$NET" "$(newid)" 10.78.1.2/24)" \
		"address 10.78.1.2/24 is used by endpoint ${A:0:12}"
	refused CreateEndpoint "$(ep_json "$NET" "$(newid)" 10.78.1.9/24 "" '{"wg.backend":"x"}')" \
		"Options.wg.backend: expected" kernel userspace
	refused Join "{\"NetworkID\":\"$NET\",\"EndpointID\":\"$(newid)\",\"SandboxKey\":\"\"}" \
		EndpointID
	assert_eq "$(n a wg show wg0 peers | sort)" "$peers_a" "A's peers"
	pings a 10.78.1.3
}

@test "removal leaves no link, even when a sandbox went away first" {
	local e l i left
	# D's sandbox disappears with its link, as when a container dies; the others leave as usual.
	ip netns del "$NSP-d"
	for e in "$A:a" "$B:b" "$D:d"; do
		l=${e#*:}
		e=${e%:*}
		assert_json "$(leave_ep "$NET" "$e")" '{}' "Leave $l"
		detach "$l" "$e"
		assert_json "$(delete_ep "$NET" "$e")" '{}' "DeleteEndpoint $l"
	done
	assert_json "$(api_ok DeleteNetwork "{\"NetworkID\":\"$NET\"}")" '{}' DeleteNetwork
	# A namespace is dismantled asynchronously after `ip netns del`.
	for ((i = 0; i < 50; i++)); do
		left=$(daemon_links a b d)
		[[ -z $left ]] && break
		sleep 0.1
	done
	assert_eq "$left" "" "links left"
	assert_eq "$(ls -A "$STATE/networks")" "" "networks/"
	assert_eq "$(ls -A "$STATE/keys/identity")" "" "keys/identity/"
	assert_eq "$(ls -A "$STATE/keys/link")" "" "keys/link/"
}

@test "backend auto chooses the kernel here" {
	local net=$(newid) e=$(newid) info
	side_daemon_start auto auto
	SOCK=$TMP/auto.sock net_create "$net" 10.78.3.0/24
	SOCK=$TMP/auto.sock ep_create "$net" "$e" 10.78.3.2/24
	info=$(SOCK=$TMP/auto.sock ep_info "$net" "$e")
	assert_eq "$(jq -r .backend <<<"$info")" kernel "backend"
	[[ -n $(jq -r '.backend_reason // empty' <<<"$info") ]]
	SOCK=$TMP/auto.sock delete_ep "$net" "$e"
	SOCK=$TMP/auto.sock api_ok DeleteNetwork "{\"NetworkID\":\"$net\"}"
	side_daemon_stop auto
}

@test "interop: one network, a kernel and a wireguard-go endpoint, both set up by the daemon" {
	local net=$(newid) k=$(newid) u=$(newid) kpub upub ulink psk
	# The network asks for wireguard-go; k asks for the kernel for itself.
	net_create "$net" 10.78.2.0/24 "" '{"wg.backend":"userspace"}'
	ns_make k && ep_create "$net" "$k" 10.78.2.2/24 "" '{"wg.backend":"kernel"}' &&
		join_ep "$net" "$k" k && attach k "$k" 10.78.2.2/24
	ep_up u "$net" "$u" 10.78.2.3/24
	assert_eq "$(ep_info "$net" "$k" | jq -r .backend)" kernel "backend of k"
	assert_eq "$(ep_info "$net" "$u" | jq -r .backend)" userspace "backend of u"
	[[ $(ep_info "$net" "$u" | jq -r .backend_reason) == *wg.backend* ]]
	assert_eq "$(kind k wg0)" wireguard "kind of wg0 in k"
	assert_eq "$(kind u wg0)" tun "kind of wg0 in u"
	assert_eq "$(our_procs | wc -l)" 1 "wireguard-go processes"
	ulink=$(src "$u")
	kpub=$(n k wg show wg0 public-key)
	upub=$(wg show "$ulink" public-key)
	assert_eq "$(ep_info "$net" "$k" | jq -r .public_key)" "$kpub" "k's public key"
	assert_eq "$(ep_info "$net" "$u" | jq -r .public_key)" "$upub" "u's public key"
	# Each side as the daemon programmed it: key, preshared key, allowed IPs, endpoint.
	assert_eq "$(n k wg show wg0 peers)" "$upub" "k's peers"
	assert_eq "$(wg show "$ulink" peers)" "$kpub" "u's peers"
	assert_eq "$(n k wg show wg0 allowed-ips | peer_of "$upub")" 10.78.2.3/32 "k's allowed IPs"
	assert_eq "$(wg show "$ulink" allowed-ips | peer_of "$kpub")" 10.78.2.2/32 "u's allowed IPs"
	assert_eq "$(n k wg show wg0 endpoints | peer_of "$upub")" \
		"127.0.0.1:$(wg show "$ulink" listen-port)" "k's endpoint for u"
	assert_eq "$(wg show "$ulink" endpoints | peer_of "$kpub")" \
		"127.0.0.1:$(n k wg show wg0 listen-port)" "u's endpoint for k"
	psk=$(n k wg show wg0 preshared-keys | peer_of "$upub")
	[[ $psk =~ ^[A-Za-z0-9+/]{43}=$ ]] || { echo "k's PSK for u: '$psk'" >&2; return 1; }
	assert_eq "$(wg show "$ulink" preshared-keys | peer_of "$kpub")" "$psk" "u's PSK for k"
	pings k 10.78.2.3
	pings u 10.78.2.2
	handshake_with k "$upub"
	[[ $(wg show "$ulink" latest-handshakes | peer_of "$kpub") =~ ^[1-9][0-9]*$ ]]
	echo "$net $k $u" >"$TMP/mixed"
}

@test "interop: restarted with another default backend, each endpoint keeps its own; a newcomer reaches both" {
	local net k u c cpub e
	read -r net k u <"$TMP/mixed"
	daemon_stop
	# An operator switching WG_BACKEND: the endpoints stay on what serves their links.
	WG_TEST_BACKEND=userspace daemon_start
	[[ $(ep_info "$net" "$k" | jq -r .backend_reason) == *wg.backend* ]]
	assert_eq "$(ep_info "$net" "$k" | jq -r .backend)" kernel "backend of k"
	assert_eq "$(ep_info "$net" "$u" | jq -r .backend)" userspace "backend of u"
	assert_eq "$(our_procs | wc -l)" 1 "wireguard-go processes"
	# c (the network's wireguard-go) must be added to u over UAPI and to k over netlink.
	c=$(newid)
	ep_up c "$net" "$c" 10.78.2.4/24
	cpub=$(ep_info "$net" "$c" | jq -r .public_key)
	assert_eq "$(n k wg show wg0 allowed-ips | peer_of "$cpub")" 10.78.2.4/32 "k's peer c"
	assert_eq "$(wg show "$(src "$u")" allowed-ips | peer_of "$cpub")" 10.78.2.4/32 \
		"u's peer c"
	pings c 10.78.2.2
	pings c 10.78.2.3
	pings k 10.78.2.4
	for e in "$k:k" "$u:u" "$c:c"; do
		leave_ep "$net" "${e%:*}" && detach "${e#*:}" "${e%:*}" && delete_ep "$net" "${e%:*}"
	done
	api_ok DeleteNetwork "{\"NetworkID\":\"$net\"}"
	assert_eq "$(our_procs)" "" "wireguard-go processes"
	assert_eq "$(daemon_links k u c)" "" "links left"
}

@test "the kernel backend's unit tests run here for real, none skipped" {
	local bin=$REPO/build/unit/test_backend_kernel out
	[ -x "$bin" ] || { echo "build/unit/test_backend_kernel not built: make unit-build" >&2; return 1; }
	out=$("$bin" 2>&1)
	echo "$out"
	# Only the check for kernels without WireGuard may skip here.
	if grep -E '^not ok|# SKIP' <<<"$out" | grep -v 'this kernel has WireGuard'; then
		return 1
	fi
}
