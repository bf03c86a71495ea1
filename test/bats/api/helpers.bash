# SPDX-License-Identifier: MIT
# Shared setup for the API suite: the daemon on a temp socket and state dir (userspace backend, no
# engine), network namespaces as sandboxes, and the steps libnetwork takes after Join: move, down,
# rename to DstPrefix+0, address (IPv6 nodad), up, connected routes.
# Every namespace, link and process made here carries this run's IDs and is removed by
# suite_teardown.

REPO=$(cd "${BASH_SOURCE[0]%/*}/../../.." && pwd)
WG_DRIVER=${WG_DRIVER:-$REPO/build/wireguard-driver}
[[ $WG_DRIVER == /* ]] || WG_DRIVER=$PWD/$WG_DRIVER
WG_TEST_BACKEND=${WG_TEST_BACKEND:-userspace}
SUITE=${BATS_TEST_FILENAME##*/}
NSP=wgapi-$BATS_ROOT_PID-${SUITE%%-*}

# suite_setup: fresh temp dir and a running daemon (call from setup_file).
suite_setup() {
	[[ $EUID -eq 0 ]] || { echo "the API suite needs root" >&2; return 1; }
	[[ -x $WG_DRIVER ]] || { echo "no daemon at $WG_DRIVER (run make)" >&2; return 1; }
	TMP=$(mktemp -d /tmp/wgapi.XXXXXX)
	export TMP SOCK=$TMP/driver.sock STATE=$TMP/state LOG=$TMP/daemon.log
	: >"$TMP/ids"
	: >"$TMP/netns"
	daemon_start
}

# suite_teardown: stop the daemon, then remove every namespace, process, link and socket of ours.
# Fails when a sanitizer (the api-asan suite's build) reported anything in the daemon's log: a
# leak or a runtime error is only told at exit.
suite_teardown() {
	local ns id pid i rc=0
	[[ -d ${TMP:-} ]] || return 0
	daemon_stop || true
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG" 2>/dev/null; then
		echo "# the daemon's sanitizer report:" >&3
		grep -E -A 30 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG" | head -n 80 |
			sed 's/^/#   /' >&3
		rc=1
	fi
	while read -r ns; do ip netns del "$ns" 2>/dev/null || true; done <"$TMP/netns"
	for pid in $(our_procs); do kill -TERM "$pid" 2>/dev/null || true; done
	for ((i = 0; i < 30; i++)); do [[ -z $(our_procs) ]] && break; sleep 0.1; done
	for pid in $(our_procs); do kill -KILL "$pid" 2>/dev/null || true; done
	while read -r id; do
		ip link del "wg-${id:0:12}" 2>/dev/null || true
		rm -f "/var/run/wireguard/wg-${id:0:12}.sock"
	done <"$TMP/ids"
	[[ -n ${WGAPI_KEEP:-} ]] || rm -rf "$TMP"
	return "$rc"
}

# On a failed test, show the end of the daemon's log with the test's output.
teardown() {
	[[ -n ${BATS_TEST_COMPLETED:-} || ! -f ${LOG:-} ]] || { echo "--- daemon log:"; tail -n 25 "$LOG"; }
}

daemon_pid() { cat "$TMP/daemon.pid"; }

# free_port: a TCP port of 127.0.0.1 nothing listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pid_alive() { local s; s=$(ps -o stat= -p "$1") && [[ $s != Z* ]]; }

# daemon_start: start the daemon and wait up to 10 s for Plugin.Activate to answer
# (the engine disables a managed plugin that is not listening after about 9 s).
daemon_start() {
	local pid i
	"$WG_DRIVER" --socket "$SOCK" --state-dir "$STATE" --backend "$WG_TEST_BACKEND" \
		--log-level debug </dev/null >>"$LOG" 2>&1 3>&- &
	pid=$!
	echo "$pid" >"$TMP/daemon.pid"
	for ((i = 0; i < 100; i++)); do
		[[ -S $SOCK ]] && api Plugin.Activate '{}' >/dev/null 2>&1 && return 0
		pid_alive "$pid" || { echo "daemon exited at start:"; tail -n 20 "$LOG"; return 1; } >&2
		sleep 0.1
	done
	echo "daemon did not answer on $SOCK within 10 s" >&2
	return 1
}

# daemon_stop: SIGTERM and up to 10 s to exit; fails (after SIGKILL) if it did not.
daemon_stop() {
	local pid i
	pid=$(daemon_pid 2>/dev/null) || return 0
	pid_alive "$pid" || return 0
	kill -TERM "$pid"
	for ((i = 0; i < 100; i++)); do pid_alive "$pid" || return 0; sleep 0.1; done
	kill -KILL "$pid"
	echo "daemon $pid still alive 10 s after SIGTERM" >&2
	return 1
}

# newid: a fresh 64 lower-case hex ID, as the engine sends; remembered for cleanup.
newid() {
	local id
	id=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	echo "$id" >>"$TMP/ids"
	echo "$id"
}

ids_regex() { [[ -s $TMP/ids ]] && cut -c1-12 "$TMP/ids" | paste -sd'|'; }

# our_links: host links named after one of this file's endpoint IDs.
our_links() {
	local re
	re=$(ids_regex) || return 0
	ip -o link | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | grep -E "^wg-($re)$" || true
}

# our_procs: wireguard-go processes serving one of this file's links.
our_procs() {
	local re f pid
	re=$(ids_regex) || return 0
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[[ $(cat "/proc/$pid/comm" 2>/dev/null) == wireguard-go ]] || continue
		[[ $(tr '\0' ' ' <"$f" 2>/dev/null) =~ wg-($re) ]] && echo "$pid"
	done
	return 0
}

# Requests as dockerd makes them: POST, no Content-Type, its Accept, a body that ends in \n.
CURL_ENGINE=(--silent --show-error --max-time 30 -X POST -H 'Content-Type:'
	     -H 'Accept: application/vnd.docker.plugins.v1.2+json')

# api METHOD JSON: POST JSON (or @file) to /NetworkDriver.METHOD, or to /METHOD when it holds a
# dot; prints the body. Fails unless the answer is HTTP 200. Every answer is kept in $TMP/answers.
api() {
	local path=$1 body=$2 out code
	[[ $path == *.* ]] || path=NetworkDriver.$path
	[[ -z $body || $body == @* ]] || body+=$'\n'
	out=$(curl "${CURL_ENGINE[@]}" --unix-socket "$SOCK" --data-binary "$body" \
		-w '\n%{http_code}' "http://x/$path") || return 1
	code=${out##*$'\n'}
	out=${out%$'\n'*}
	printf '%s\n' "$out" >>"$TMP/answers"
	[[ $code == 200 ]] || { echo "$path: HTTP $code: $out" >&2; return 1; }
	printf '%s\n' "$out"
}

# api_ok METHOD JSON: api, and the answer must be a JSON object without Err.
api_ok() {
	local out
	out=$(api "$1" "$2") || return 1
	jq -e 'type == "object" and (has("Err") | not)' >/dev/null 2>&1 <<<"$out" ||
		{ echo "$1 $2" >&2; echo "  answered: $out" >&2; return 1; }
	printf '%s\n' "$out"
}

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() {
	[[ $1 == "$2" ]] || { echo "$3: expected '$2', got '$1'" >&2; return 1; }
}

# assert_json ACTUAL EXPECTED WHAT: equal as JSON (key order and spacing ignored).
assert_json() {
	assert_eq "$(jq -cS . <<<"$1" 2>&1)" "$(jq -cS . <<<"$2")" "$3"
}

# Engine-style option labels that the driver must ignore.
ENGINE_OPTS='{"com.docker.network.endpoint.exposedports":[],"com.docker.network.portmap":[]}'

# net_json NID POOL4 [POOL6] [GENERIC]: a CreateNetwork body as the engine sends it.
net_json() {
	local p4=$2 p6=${3:-} gen=${4:-'{}'} g6=
	[[ -z $p6 ]] || g6=${p6%::/*}::1/${p6#*/}
	jq -nc --arg id "$1" --arg p4 "$p4" --arg g4 "${p4%.0/*}.1/${p4#*/}" --arg p6 "$p6" \
		--arg g6 "$g6" --argjson gen "$gen" '
		{NetworkID: $id,
		 Options: {"com.docker.network.enable_ipv6": ($p6 != ""),
			   "com.docker.network.generic": $gen},
		 IPv4Data: [{AddressSpace: "LocalDefault", Pool: $p4, Gateway: $g4}],
		 IPv6Data: (if $p6 == "" then []
			    else [{AddressSpace: "LocalDefault", Pool: $p6, Gateway: $g6}] end)}'
}

# ep_json NID EID ADDR [ADDR6] [OPTIONS] [MAC]: a CreateEndpoint body.
ep_json() {
	jq -nc --arg n "$1" --arg e "$2" --arg a "$3" --arg a6 "${4:-}" \
		--argjson o "${5:-$ENGINE_OPTS}" --arg mac "${6:-}" \
		'{NetworkID: $n, EndpointID: $e, Options: $o,
		  Interface: {Address: $a, AddressIPv6: $a6, MacAddress: $mac}}'
}

# net_create NID POOL4 [POOL6] [GENERIC]
net_create() {
	local out
	out=$(api_ok CreateNetwork "$(net_json "$@")") || return 1
	assert_json "$out" '{}' "CreateNetwork answer"
}

# ep_create NID EID ADDR [ADDR6]
ep_create() {
	local out
	out=$(api_ok CreateEndpoint "$(ep_json "$@")") || return 1
	assert_json "$out" '{}' "CreateEndpoint answer"
}

# join_ep NID EID LABEL: Join with the namespace as SandboxKey; the answer goes to $TMP/join-EID.
join_ep() {
	api_ok Join "$(jq -nc --arg n "$1" --arg e "$2" --arg k "/var/run/netns/$NSP-$3" \
		--argjson o "$ENGINE_OPTS" '{NetworkID: $n, EndpointID: $e, SandboxKey: $k, Options: $o}')" \
		>"$TMP/join-$2"
}

# leave_ep NID EID / delete_ep NID EID (print the answer) / ep_info NID EID (prints .Value)
leave_ep() { api_ok Leave "{\"NetworkID\":\"$1\",\"EndpointID\":\"$2\"}"; }
delete_ep() { api_ok DeleteEndpoint "{\"NetworkID\":\"$1\",\"EndpointID\":\"$2\"}"; }
ep_info() {
	api_ok EndpointOperInfo "{\"NetworkID\":\"$1\",\"EndpointID\":\"$2\"}" | jq -c .Value
}

# src EID: the SrcName the daemon gave in its Join answer (the UAPI name `wg show` uses).
src() { jq -r .InterfaceName.SrcName "$TMP/join-$1"; }
pubkey() { wgdev "$1" show public-key; }

# wgdev EID show|set ARG...: `wg show` or `wg set` on EID's link wherever it is. A kernel link
# is found by name in the namespace it is in (wg0 once attached); wireguard-go keeps its UAPI
# socket under the SrcName, in the host.
wgdev() {
	local e=$1 cmd=$2
	shift 2
	if [[ $WG_TEST_BACKEND == kernel && -f $TMP/ns-$e ]]; then
		ip netns exec "$(cat "$TMP/ns-$e")" wg "$cmd" wg0 "$@"
	else
		wg "$cmd" "$(src "$e")" "$@"
	fi
}

# ns_make LABEL: namespace $NSP-LABEL with lo up, as the engine makes a sandbox.
ns_make() {
	ip netns add "$NSP-$1" && echo "$NSP-$1" >>"$TMP/netns" && ip -n "$NSP-$1" link set lo up
}

# n LABEL CMD...: run CMD inside namespace LABEL.
n() { local ns=$NSP-$1; shift; ip netns exec "$ns" "$@"; }

# attach LABEL EID ADDR [ADDR6]: what libnetwork does with the Join answer.
attach() {
	local ns=$NSP-$1 ans=$TMP/join-$2 src dst r
	src=$(jq -r .InterfaceName.SrcName "$ans") || return 1
	dst=$(jq -r .InterfaceName.DstPrefix "$ans")0 || return 1
	ip link set "$src" netns "$ns" &&
		ip -n "$ns" link set "$src" down &&
		ip -n "$ns" link set "$src" name "$dst" &&
		ip -n "$ns" addr add "$3" dev "$dst" || return 1
	if [[ -n ${4:-} ]]; then ip -n "$ns" addr add "$4" dev "$dst" nodad || return 1; fi
	ip -n "$ns" link set "$dst" up && echo "$ns" >"$TMP/ns-$2" || return 1
	for r in $(jq -r '.StaticRoutes[]? | select(.RouteType == 1) | .Destination' "$ans"); do
		ip -n "$ns" route add "$r" dev "$dst" || return 1
	done
}

# detach LABEL EID: the link back to the host under its SrcName, as at sandbox removal
# (libnetwork ignores a link that is already gone).
detach() {
	local ns=$NSP-$1 src
	src=$(src "$2")
	ip -n "$ns" link show wg0 >/dev/null 2>&1 || return 0
	ip -n "$ns" link set wg0 down && ip -n "$ns" link set wg0 name "$src" &&
		ip -n "$ns" link set "$src" netns $$ && rm -f "$TMP/ns-$2"
}

# ep_up LABEL NID EID ADDR [ADDR6]: a sandbox, CreateEndpoint, Join, attach.
ep_up() {
	ns_make "$1" && ep_create "$2" "$3" "$4" "${5:-}" && join_ep "$2" "$3" "$1" &&
		attach "$1" "$3" "$4" "${5:-}"
}

# ns_pings NS ADDR [-6]: namespace NS reaches ADDR, a ping a second until one is answered, 15
# at most. The earlier endpoints learn a new peer in the background, and on a loaded machine a
# first packet can come before that: no handshake starts, or the one that starts meets a side
# that does not know it yet and WireGuard retries it 5 s later (README, Failures). The bound
# covers two such retries; how fast it goes is the benchmark's business, not this check's.
ns_pings() {
	local i
	for ((i = 1; i < 15; i++)); do
		ip netns exec "$1" busybox ping ${3:-} -c 1 -W 1 "${2%/*}" >/dev/null 2>&1 && return 0
	done
	ip netns exec "$1" busybox ping ${3:-} -c 1 -W 1 "${2%/*}"
}

# pings LABEL ADDR [-6]: ns_pings from the namespace of LABEL.
pings() { ns_pings "$NSP-$1" "$2" "${3:-}"; }

# peer_field EID FIELD PUBKEY: the `wg show` FIELD value of EID's link for one peer.
peer_field() { wgdev "$1" show "$2" | awk -v k="$3" '$1 == k { $1 = ""; sub(/^ /, ""); print }'; }

# mtu LABEL: the MTU of wg0 inside the sandbox.
mtu() { ip -n "$NSP-$1" -j link show wg0 | jq -r '.[0].mtu'; }

# snapshot: the state dir (names, modes, contents, keys included), our links, the daemon's children.
snapshot() {
	(cd "$STATE" && find . -printf '%p %m\n' | sort && find . -type f -exec sha256sum {} + | sort)
	our_links
	pgrep -P "$(daemon_pid)" | sort
}

# refused METHOD BODY TEXT...: an Err that contains every TEXT, the daemon alive and nothing
# changed on disk or on the host.
refused() {
	local method=$1 body=$2 before out err t
	shift 2
	before=$(snapshot)
	out=$(api "$method" "$body") || return 1
	err=$(jq -r '.Err // empty' <<<"$out" 2>/dev/null)
	[[ -n $err ]] || { echo "$method ${body:0:200}: no Err; answered: $out" >&2; return 1; }
	for t in "$@"; do
		[[ $err == *"$t"* ]] || { echo "$method: Err '$err' does not mention '$t'" >&2; return 1; }
	done
	pid_alive "$(daemon_pid)" || { echo "daemon died" >&2; return 1; }
	assert_eq "$(snapshot)" "$before" "state dir, links and children"
}
