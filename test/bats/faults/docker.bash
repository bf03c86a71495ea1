# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Fault suite, engine level: the Docker suite's private engine and managed plugin (built by
# make plugin), plus plugin and engine restarts and the measure of how long traffic stops.
# The containers of a file live across its tests; the file's teardown removes everything.

# shellcheck source=../docker/helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/../docker/helpers.bash"

# The settings docker_setup_file installs the plugin with, for a reinstall (an upgrade).
fault_settings() { echo "state.source=$WGT_DIR exec-root.source=$WGT_ENGINE/exec LOG_LEVEL=debug"; }

# On a failed test, what the plugin logged (the engine keeps it in its own log).
fault_teardown()
{
	[ -n "${BATS_TEST_COMPLETED:-}" ] && return 0
	echo "# plugin log (last 30 lines):"
	grep 'plugin=' "$WGT_ENGINE/dockerd.log" | tail -n 30 | cut -c1-300 | sed 's/^/#   /'
}

# plugin_refresh: the plugin's ID and driver PID now (a restart changes the PID, an upgrade
# both), for plugin_call, wggo_pids and the checks.
plugin_refresh()
{
	WGT_PLUGIN_ID=$(docker plugin inspect -f '{{.Id}}' "$PLUGIN")
	WGT_PLUGIN_PID=$(plugin_host_pid "$PLUGIN")
	export WGT_PLUGIN_ID WGT_PLUGIN_PID
	[ -n "$WGT_PLUGIN_PID" ]
}

report() { echo "# $*" >&3; }
ms_since() { echo $(((${EPOCHREALTIME/./} - ${1/./}) / 1000)); }
count() { [ -z "$1" ] && echo 0 || wc -l <<<"$1"; }

# ping_start NAME ADDR: NAME pings ADDR every 0.1 s into its /tmp/ping.log.
ping_start()
{
	docker exec "$1" sh -c "ping -i 0.1 $2 >/tmp/ping.log 2>&1 & echo \$! >/tmp/ping.pid"
}

# ping_gap NAME: stops NAME's ping; prints the longest time in ms without a reply (a reply
# arrives at its send time, seq * 100 ms, plus its round trip), or -1 with fewer than 2 replies.
ping_gap()
{
	docker exec "$1" sh -c 'kill $(cat /tmp/ping.pid); cat /tmp/ping.log' |
		sed -n 's/.*seq=\([0-9]*\) .*time=\([0-9.]*\) ms.*/\1 \2/p' |
		awk '{ print $1 * 100 + $2 }' | sort -n |
		awk 'NR > 1 && $1 - prev > gap { gap = $1 - prev } { prev = $1 }
		     END { if (NR < 2) print -1; else printf "%d\n", gap }'
}

# pubkeys NET NAME...: the public key of each container's endpoint, one a line.
pubkeys()
{
	local net=$1 c
	shift
	for c in "$@"; do ep_info "$c" "$net" .Value.public_key; done
}

# no_host_links EID...: none of these endpoints has a link in the host namespace.
no_host_links()
{
	local e
	for e in "$@"; do
		! ip link show "wg-${e:0:12}" >/dev/null 2>&1 ||
			{ echo "link wg-${e:0:12} left in the host" >&2; return 1; }
	done
}

# state_eids: the endpoint IDs in the plugin's state.
state_eids() { cat "$WGT_STATE"/networks/*.json 2>/dev/null | jq -r '.endpoints[].id'; }

# mesh NET NAME...: every container pings every other one (one exec per container, all at
# once); prints the pairs that failed.
mesh()
{
	local net=$1 c ips
	shift
	ips=$(for c in "$@"; do ctr_ip "$c" "$net"; done)
	for c in "$@"; do
		docker exec "$c" sh -c "me=\$(ip -o -4 addr show wg0 | awk '{ sub(/\/.*/, \"\", \$4); print \$4 }')
			for ip in $(echo $ips); do
				[ \"\$ip\" = \"\$me\" ] && continue
				ping -c 1 -W 3 \$ip >/dev/null 2>&1 || echo \"$c -> \$ip\"
			done" &
	done
	wait
}
