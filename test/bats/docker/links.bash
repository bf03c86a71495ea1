# SPDX-License-Identifier: MIT
# Helpers for the Docker suite's files on keys and links (10 and up).

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash"

WGCTL=${WGCTL:-$REPO/build/wgctl}

# grant_engine_access: what an operator does for compose 1.x links and labels. The engine socket
# of this file's private engine becomes the plugin's /run/docker.sock (settable while disabled).
grant_engine_access()
{
	docker plugin disable -f "$PLUGIN" >/dev/null &&
		docker plugin set "$PLUGIN" engine.source="$WGT_ENGINE/docker.sock" &&
		docker plugin enable "$PLUGIN" >/dev/null || return 1
	WGT_PLUGIN_PID=$(plugin_host_pid "$PLUGIN")
	export WGT_PLUGIN_PID
}

# wgctl ARGS...: the CLI on the managed plugin's wgctl socket.
wgctl() { "$WGCTL" -s "/run/docker/plugins/$WGT_PLUGIN_ID/wgctl.sock" "$@"; }

# no_ctr_ping FROM ADDR: not a single echo reply.
no_ctr_ping()
{
	! docker exec "$1" ping -c 2 -W 1 "$2" >/dev/null 2>&1 ||
		{ echo "ping $1 -> $2 got an answer" >&2; return 1; }
}

# resolved NET CONTAINER...: every container's endpoint on NET has its key and links.
resolved()
{
	local net=$1 c
	shift
	for c in "$@"; do
		[ "$(ep_info "$c" "$net" .Value.pending 2>/dev/null)" = false ] || return 1
	done
}

# peers NAME NET: how many peers the container's endpoint has.
peers() { ep_info "$1" "$2" .Value.peers; }
