# SPDX-License-Identifier: MIT
# Docker suite: each test file gets a private engine (scripts/lib-engine.sh), a busybox image and
# the managed plugin from build/plugin, with its state in a temp dir. Never the user's engine.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
# shellcheck source=../../../scripts/lib-engine.sh
source "$REPO/scripts/lib-engine.sh"

PLUGIN=wireguard:latest
PLUGIN_DIR=${WGT_PLUGIN_DIR:-$REPO/build/plugin}
IMAGE=wgtest/busybox:latest
# 64 bytes of the ping pattern in `od -tx1` form: what cleartext payload looks like on the wire.
MARKER_BYTE=a5
MARKER=$(printf "$MARKER_BYTE %.0s" {1..64})
MARKER=${MARKER% }

docker_setup_file()
{
	[ "$(id -u)" -eq 0 ] || { echo "the Docker suite needs root" >&2; return 1; }
	[ -f "$PLUGIN_DIR/config.json" ] || { echo "no $PLUGIN_DIR: run make plugin" >&2; return 1; }
	WGT_DIR=$(mktemp -d /tmp/wgd.XXXXXX)
	# The plugin makes its state directory in state.source, and the exec-root's netns/ exists
	# only once a container ran: nothing is prepared for it.
	export WGT_DIR WGT_STATE=$WGT_DIR/docker-wireguard WGT_ENGINE=$WGT_DIR/engine
	engine_start "$WGT_ENGINE"
	engine_import_busybox "$IMAGE"
	# WGT_PLUGIN_SETTINGS: more `docker plugin set` values (the kernel suite adds WG_BACKEND).
	PLUGIN_SETTINGS="state.source=$WGT_DIR exec-root.source=$WGT_ENGINE/exec LOG_LEVEL=debug ${WGT_PLUGIN_SETTINGS:-}" \
		"$REPO/scripts/install-plugin.sh" "$PLUGIN_DIR" "$PLUGIN" >/dev/null
	WGT_PLUGIN_ID=$(docker plugin inspect -f '{{.Id}}' "$PLUGIN")
	WGT_PLUGIN_PID=$(plugin_host_pid "$PLUGIN")
	export WGT_PLUGIN_ID WGT_PLUGIN_PID
	[ -n "$WGT_PLUGIN_PID" ] || { echo "plugin $PLUGIN: no driver process" >&2; return 1; }
}

docker_teardown_file()
{
	[ -n "${WGT_DIR:-}" ] || return 0
	# Bounded: an engine a test left stuck is stopped all the same.
	if [ -S "$WGT_ENGINE/docker.sock" ]; then
		timeout 60 docker plugin disable -f "$PLUGIN" >/dev/null 2>&1
		timeout 60 docker plugin rm -f "$PLUGIN" >/dev/null 2>&1
	fi
	engine_stop "$WGT_ENGINE"
	rm -rf "$WGT_DIR"
}

# Per test: remove every container and wireguard network (the engine is ours alone); on failure
# show what the plugin logged, which the engine keeps in its own log.
docker_teardown()
{
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		echo "# plugin log (last 30 lines):"
		grep "plugin=$WGT_PLUGIN_ID" "$WGT_ENGINE/dockerd.log" | tail -n 30 | sed 's/^/#   /'
	fi
	docker ps -aq | xargs -r timeout 120 docker rm -f >/dev/null
	docker network ls -q --filter "driver=$PLUGIN" | xargs -r timeout 60 docker network rm >/dev/null
}

# wgnet NAME [docker network create args...]
wgnet()
{
	local name=$1
	shift
	docker network create -d "$PLUGIN" "$@" "$name" >/dev/null
}

# ctr_run NAME NET [docker run args...]: a container that stays up until the test removes it.
ctr_run()
{
	local name=$1 net=$2 err
	shift 2
	# Quiet on success: the client warns that IPv4 forwarding is off, which is our choice.
	err=$(docker run -d --name "$name" --network "$net" "$@" "$IMAGE" sleep 3600 2>&1 >/dev/null) ||
		{ echo "$err" >&2; return 1; }
}

# engine_api METHOD PATH [JSON]: the engine's answer to a raw API 1.41 request.
engine_api()
{
	curl -sS --max-time 60 --unix-socket "$WGT_ENGINE/docker.sock" -X "$1" \
		-H 'Content-Type: application/json' ${3:+-d "$3"} "http://engine/v1.41$2"
}

# ctr_net_field NAME NET FIELD: a field of the container's endpoint on NET (IPAddress, EndpointID...).
ctr_net_field()
{
	docker inspect -f "{{(index .NetworkSettings.Networks \"$2\").$3}}" "$1"
}

ctr_ip() { ctr_net_field "$1" "$2" IPAddress; }
ctr_ip6() { ctr_net_field "$1" "$2" GlobalIPv6Address; }
ctr_eid() { ctr_net_field "$1" "$2" EndpointID; }
net_id() { docker network inspect -f '{{.Id}}' "$1"; }

# ctr_ping FROM ADDR [ping args...]: an echo reply within 5 s (the first one waits for a
# handshake), three tries: a first handshake that meets a peer still learning of FROM (the
# others learn a new endpoint in the background) is retried by WireGuard 5 s later.
ctr_ping()
{
	local from=$1 addr=$2 i
	shift 2
	for i in 1 2 3; do
		docker exec "$from" ping -c 1 -W 5 "$@" "$addr" >/dev/null && return 0
	done
	echo "ping $from -> $addr failed" >&2
	return 1
}

# ctr_links NAME: interface names inside the container, space separated.
ctr_links()
{
	docker exec "$1" ip -o link | awk -F': ' '{ sub(/@.*/, "", $2); printf "%s%s", s, $2; s = " " }'
}

# in_engine_ns CMD...: CMD where the engine's /run/docker/plugins is: in a simulated host's mount
# namespace (WGT_HOST, test/bats/faults/host.bash), else here.
in_engine_ns()
{
	if [ -n "${WGT_HOST:-}" ]; then
		host_exec "$WGT_HOST" "$@"
	else
		"$@"
	fi
}

# plugin_call METHOD JSON: the daemon's answer, straight from its socket on the host side.
plugin_call()
{
	in_engine_ns curl -sS --max-time 5 \
		--unix-socket "/run/docker/plugins/$WGT_PLUGIN_ID/wireguard.sock" \
		-d "$2" "http://plugin/NetworkDriver.$1"
}

# ep_info NAME NET [jq filter]: EndpointOperInfo of the container's endpoint on NET.
ep_info()
{
	plugin_call EndpointOperInfo \
		"{\"NetworkID\":\"$(net_id "$2")\",\"EndpointID\":\"$(ctr_eid "$1" "$2")\"}" |
		jq -er "${3:-.Value}"
}

# wggo_pids: wireguard-go processes the plugin started (they run in its cgroup).
wggo_pids()
{
	local f p

	for f in $(grep -l "$WGT_PLUGIN_ID" /proc/[0-9]*/cgroup 2>/dev/null); do
		p=${f#/proc/}
		p=${p%/cgroup}
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = /usr/bin/wireguard-go ] && echo "$p"
	done
	return 0
}

# state_files SUBDIR...: files left in the plugin's state dir under the given subdirectories.
state_files()
{
	local d
	for d in "$@"; do
		[ -d "$WGT_STATE/$d" ] && find "$WGT_STATE/$d" -type f
	done
	return 0
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s until it succeeds.
wait_until()
{
	local i n=$(($1 * 5))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.2
	done
	"$@"
}

# marker_count PCAP: how many times the cleartext ping payload appears in the capture.
marker_count()
{
	od -An -v -tx1 "$1" | tr -s ' \n' '  ' | grep -o "$MARKER" | wc -l
}
