# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Fault suite, daemon level: the API suite's setup (the daemon on a temp socket and state dir,
# network namespaces as sandboxes, userspace backend) plus crashes, restarts and the measure of
# how long traffic stops.

# shellcheck source=../api/helpers.bash
source "$BATS_TEST_DIRNAME/../api/helpers.bash"

# The daemon is started from a subshell, so no test shell is its parent: the tests kill it, and
# bash would report every such kill in the output.
eval "api_$(declare -f daemon_start)"
daemon_start() { (api_daemon_start); }

# wait_for SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds.
wait_for() {
	local i n=$(($1 * 10))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	"$@"
}

# daemon_kill9: SIGKILL, as a crash; returns once it is gone (at most 5 s).
daemon_kill9() {
	local pid
	pid=$(daemon_pid)
	kill -KILL "$pid" 2>/dev/null || true
	wait_for 5 eval "! pid_alive $pid"
}

# wggo_kill9: SIGKILL every wireguard-go of this file, as when a managed plugin dies with all
# its processes; returns once they are gone.
wggo_kill9() {
	local pid
	for pid in $(our_procs); do kill -KILL "$pid" 2>/dev/null || true; done
	wait_for 5 eval '[[ -z $(our_procs) ]]'
}

count() { [[ -z $1 ]] && echo 0 || wc -l <<<"$1"; }

# ping_start LABEL ADDR: pings ADDR from namespace LABEL every 0.1 s, in the background, into
# $TMP/ping-LABEL (stopped by ping_stop or the suite's teardown).
ping_start() {
	(exec ip netns exec "$NSP-$1" busybox ping -i 0.1 "${2%/*}" >"$TMP/ping-$1" 2>&1 3>&-) &
	echo $! >"$TMP/ping-$1.pid"
}

ping_stop() {
	local pid
	pid=$(cat "$TMP/ping-$1.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
	wait_for 2 eval "! pid_alive $pid"
	rm -f "$TMP/ping-$1.pid"
}

# ping_gap LABEL: the longest time, in ms, without a reply in $TMP/ping-LABEL. A reply's arrival
# is its send time (seq * 100 ms) plus its round trip: late replies to packets that waited for a
# handshake count when they arrived.
ping_gap() {
	sed -n 's/.*seq=\([0-9]*\) .*time=\([0-9.]*\) ms.*/\1 \2/p' "$TMP/ping-$1" |
		awk '{ print $1 * 100 + $2 }' | sort -n |
		awk 'NR > 1 && $1 - prev > gap { gap = $1 - prev } { prev = $1 }
		     END { if (NR < 2) print -1; else printf "%d\n", gap }'
}

# report TEXT: a line in the TAP output (the figures the closing note quotes).
report() { echo "# $*" >&3; }

# ep_ns_link LABEL: "name ifindex" of wg0 inside namespace LABEL.
ns_wg0() { ip -n "$NSP-$1" -o link show wg0 | awk -F': ' '{ print $2 }'; }
