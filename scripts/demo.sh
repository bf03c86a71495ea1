#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo: builds the plugin, installs it on the running Docker engine (or on a private one this
# script starts), puts two containers on a WireGuard network, shows them pinging each other with
# their keys and handshakes, then removes everything it created.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib-engine.sh
source scripts/lib-engine.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it may start an engine and reads the plugin's WireGuard sockets)" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/wgdemo.XXXXXX)
engine='' plugin='' image=wgdemo/busybox:$$ net=wgdemo-$$ ctrs=(wgdemo-a-$$ wgdemo-b-$$)
created_plugin=0 created_image=0

cleanup()
{
	set +e
	echo "== cleaning up"
	docker rm -f "${ctrs[@]}" >/dev/null 2>&1
	docker network rm "$net" >/dev/null 2>&1
	if [ "$created_plugin" = 1 ]; then
		docker plugin disable -f "$plugin" >/dev/null 2>&1
		docker plugin rm -f "$plugin" >/dev/null 2>&1
	fi
	[ "$created_image" = 1 ] && docker rmi "$image" >/dev/null 2>&1
	[ -n "$engine" ] && engine_stop "$engine"
	rm -rf "$tmp"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
# The private engine runs with --ip-forward=false, so the client warns on every run; WireGuard
# needs no forwarding.
show() { printf '$ %s\n' "$*"; "$@" 2> >(grep -v 'IPv4 forwarding is disabled' >&2); }

step "dependencies and build"
scripts/install-deps.sh
make -s all plugin

settings="state.source=$tmp"
if [[ ${DOCKER_HOST:-unix://} == unix://* ]] && docker info >/dev/null 2>&1; then
	step "using the running Docker engine (${DOCKER_HOST:-default socket})"
	plugin=wireguard:latest
	# Leave a plugin the user installed alone.
	docker plugin inspect "$plugin" >/dev/null 2>&1 && plugin=wireguard-demo:latest
else
	step "no usable Docker engine: starting a private one under $tmp/engine"
	unset DOCKER_HOST
	engine=$tmp/engine
	engine_start "$engine"
	plugin=wireguard:latest
	settings+=" exec-root.source=$engine/exec"
fi

step "installing the managed plugin $plugin"
created_plugin=1
PLUGIN_SETTINGS=$settings scripts/install-plugin.sh build/plugin "$plugin"
created_image=1
engine_import_busybox "$image"

step "network and containers"
show docker network create -d "$plugin" "$net"
for c in "${ctrs[@]}"; do
	show docker run -d --name "$c" --network "$net" "$image" sleep 3600
done
ctr_field() { docker inspect -f "{{(index .NetworkSettings.Networks \"$net\").$2}}" "$1"; }
show docker exec "${ctrs[0]}" ip -o addr
show docker exec "${ctrs[0]}" ip route

step "pinging over WireGuard"
show docker exec "${ctrs[0]}" ping -c 3 -W 5 "$(ctr_field "${ctrs[1]}" IPAddress)"
show docker exec "${ctrs[1]}" ping -c 3 -W 5 "$(ctr_field "${ctrs[0]}" IPAddress)"

step "endpoints, as the plugin reports them (EndpointOperInfo on its socket)"
id=$(docker plugin inspect -f '{{.Id}}' "$plugin")
nid=$(docker network inspect -f '{{.Id}}' "$net")
for c in "${ctrs[@]}"; do
	printf '%s: ' "$c"
	curl -sS --max-time 5 --unix-socket "/run/docker/plugins/$id/wireguard.sock" \
		-d "{\"NetworkID\":\"$nid\",\"EndpointID\":\"$(ctr_field "$c" EndpointID)\"}" \
		http://plugin/NetworkDriver.EndpointOperInfo |
		jq -c '.Value | {ifname, backend, public_key, listen_port, peers}'
done

step "wg show: public keys and latest handshakes"
pid=$(plugin_host_pid "$plugin")
uapi=/proc/$pid/root/run/wireguard
if compgen -G "$uapi/*.sock" >/dev/null; then
	# Userspace backend: the UAPI sockets live in the plugin's mount namespace. wg only looks in
	# /run/wireguard, so give it one (in a private mount namespace) that links to them.
	unshare -m sh -c 'mount -t tmpfs demo /run && mkdir /run/wireguard &&
		for s in "$1"/*.sock; do ln -s "$s" /run/wireguard/; done && wg show' sh "$uapi"
else
	# Kernel backend: each link is a netdevice inside its container's network namespace.
	for c in "${ctrs[@]}"; do
		echo "-- $c"
		nsenter --net="$(docker inspect -f '{{.NetworkSettings.SandboxKey}}' "$c")" wg show wg0
	done
fi
echo
echo "demo: done; removing the containers, network, image and plugin it created"
