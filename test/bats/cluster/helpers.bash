# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Cluster suite: simulated hosts (network namespaces on a bridge, each with its own dockerd and the
# managed plugin from build/plugin) and a 3-member etcd cluster with TLS certificates made at test
# time (scripts/lib-cluster.sh). Each file gets its own cluster; its teardown removes everything.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
# shellcheck source=../../../scripts/lib-engine.sh
source "$REPO/scripts/lib-engine.sh"
# shellcheck source=../../../scripts/lib-cluster.sh
source "$REPO/scripts/lib-cluster.sh"

PLUGIN=wireguard:latest
PLUGIN_DIR=${WGT_PLUGIN_DIR:-$REPO/build/plugin}
IMAGE=wgtest/busybox:latest
SUBNET4=10.50.0.0/16
SUBNET6=fd00:50::/64
# A marker only cleartext would carry: 64 bytes of it in hex, as od prints them.
MARKER_TEXT=$(printf 'wireguard-cleartext-marker-%.0s' 1 2 3)

report() { echo "# $*" >&3; }
ms_since() { echo $(((${EPOCHREALTIME/./} - ${1/./}) / 1000)); }

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s until it succeeds.
wait_until()
{
	local i n=$(($1 * 5))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.2
	done
	"$@"
}

# cluster_setup_file HOSTS [SETTING...]: the cluster, the busybox image and the plugin on each
# host with its etcd files (CA, client certificate and key, cluster secret) in its /var/lib.
cluster_setup_file()
{
	local hosts=$1 i
	shift
	[ "$(id -u)" -eq 0 ] || { echo "the cluster suite needs root" >&2; return 1; }
	[ -f "$PLUGIN_DIR/config.json" ] || { echo "no $PLUGIN_DIR: run make plugin" >&2; return 1; }
	CLUSTER_DIR=$(mktemp -d /tmp/wgc.XXXXXX)
	export CLUSTER_DIR HOSTS=$hosts
	cluster_start "$CLUSTER_DIR" "$hosts"
	head -c 32 /dev/urandom | base64 >"$CLUSTER_DIR/cluster.secret"
	for ((i = 1; i <= hosts; i++)); do
		host_etcd_files "$i" "$CLUSTER_DIR/tls/client.crt" "$CLUSTER_DIR/tls/client.key"
		on "$i" engine_import_busybox "$IMAGE"
		plugin_install_on "$i" "$@"
	done
}

cluster_teardown_file()
{
	[ -n "${CLUSTER_DIR:-}" ] || return 0
	cluster_stop "$CLUSTER_DIR"
}

# On a failed test, what the plugins logged.
cluster_teardown()
{
	local i
	[ -n "${BATS_TEST_COMPLETED:-}" ] && return 0
	for ((i = 1; i <= HOSTS; i++)); do
		echo "# h$i plugin log (last 15 lines):"
		grep 'plugin=' "$CLUSTER_DIR/h$i/dockerd.log" | tail -n 15 | cut -c1-260 |
			sed 's/^/#   /'
	done
}

# host_etcd_files I CERT KEY: the etcd directory of host I (its /var/lib/etcd-files).
host_etcd_files()
{
	local d=$CLUSTER_DIR/h$1/var-lib/etcd-files
	mkdir -p -m 0700 "$d"
	cp "$CLUSTER_DIR/tls/ca.crt" "$d/ca.crt"
	cp "$2" "$d/client.crt"
	cp "$3" "$d/client.key"
	cp "$CLUSTER_DIR/cluster.secret" "$d/cluster.secret"
	chmod 0600 "$d"/*
}

# plugin_install_on I [SETTING...]: create, set and enable the plugin on host I.
plugin_install_on()
{
	local i=$1
	shift
	on "$i" docker plugin create "$PLUGIN" "$PLUGIN_DIR" >/dev/null
	on "$i" docker plugin set "$PLUGIN" ETCD_ENDPOINTS="$(cluster_etcd_endpoints)" \
		etcd.source=/var/lib/etcd-files LOG_LEVEL=debug "$@"
	on "$i" docker plugin enable "$PLUGIN" >/dev/null
}

# plugin_id_on I: the plugin's ID on host I.
plugin_id_on() { on "$1" docker plugin inspect -f '{{.Id}}' "$PLUGIN"; }

# wgctl_on I ARGS...: wgctl against host I's plugin.
wgctl_on()
{
	local i=$1 id
	shift
	id=$(plugin_id_on "$i")
	host_exec "$CLUSTER_DIR/h$i" "$REPO/build/wgctl" -s "/run/docker/plugins/$id/wgctl.sock" "$@"
}

# wgnet_on I NAME [args]: the cluster network NAME on host I (wg.net=NAME).
wgnet_on()
{
	local i=$1 name=$2
	shift 2
	on "$i" docker network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --subnet "$SUBNET4" \
		-o wg.net="$name" "$@" "$name" >/dev/null
}

# ctr_on I NAME NET [docker run args]: a container on host I that stays up.
ctr_on()
{
	local i=$1 name=$2 net=$3 err
	shift 3
	err=$(on "$i" docker run -d --name "$name" --network "$net" "$@" "$IMAGE" sleep 1d 2>&1 \
		>/dev/null) || { echo "$err" >&2; return 1; }
}

ip_on() { on "$1" docker inspect -f "{{(index .NetworkSettings.Networks \"$3\").IPAddress}}" "$2"; }
ip6_on()
{
	on "$1" docker inspect -f "{{(index .NetworkSettings.Networks \"$3\").GlobalIPv6Address}}" "$2"
}

# ping_once_on I CTR ADDR: one reply within 5 s (for the checks that nothing answers, and for
# wait_until, which tries again itself).
ping_once_on() { on "$1" docker exec "$2" ping -c 1 -W 5 "$3" >/dev/null; }

# ping_on I CTR ADDR: a reply within 5 s, three tries: the other hosts learn a new endpoint in
# the background, from the store, and a first handshake that meets a peer not knowing its
# sender yet is retried by WireGuard 5 s later.
ping_on()
{
	local i
	for i in 1 2 3; do ping_once_on "$@" && return 0; done
	return 1
}

# links_on I CTR: the container's interfaces.
links_on()
{
	on "$1" docker exec "$2" ip -o link | awk -F': ' '{ sub(/@.*/, "", $2); printf "%s%s", s, $2; s = " " }'
}

# store_keys PREFIX: the keys under /wgnet/v1/PREFIX in etcd.
store_keys() { etcdctl_c "$CLUSTER_DIR" get --prefix --keys-only "/wgnet/v1/$1" | sed '/^$/d'; }

# cut_store I / heal_store I: host I loses (and gets back) its way to etcd; the other hosts and
# the peers stay reachable.
cut_store()
{
	local tag
	tag=$(cluster_tag "$CLUSTER_DIR")
	ip netns exec "${tag}h$1" iptables -A OUTPUT -p tcp --dport 2379 -j REJECT
}

heal_store()
{
	local tag
	tag=$(cluster_tag "$CLUSTER_DIR")
	ip netns exec "${tag}h$1" iptables -D OUTPUT -p tcp --dport 2379 -j REJECT
}

# host_wg_links I: the wg-* links in host I's namespace.
host_wg_links()
{
	local tag
	tag=$(cluster_tag "$CLUSTER_DIR")
	ip -n "${tag}h$1" -o link | awk -F': ' '$2 ~ /^wg-/ { print $2 }'
}

# no_wg_links I: host I has no wg-* link.
no_wg_links() { [ -z "$(host_wg_links "$1")" ]; }

# no_wggo I: no wireguard-go of host I's plugin runs (they run in its cgroup).
no_wggo()
{
	local id f p
	id=$(plugin_id_on "$1")
	for f in $(grep -l "$id" /proc/[0-9]*/cgroup 2>/dev/null); do
		p=${f#/proc/}
		p=${p%/cgroup}
		[[ $(readlink "/proc/$p/exe" 2>/dev/null) == */wireguard-go ]] && return 1
	done
	return 0
}

# no_records PREFIX: etcd holds no key under /wgnet/v1/PREFIX whose path matches REGEX.
no_records() { ! store_keys "$1" | grep -qE "$2"; }

# nothing_left: every container of every host removed, then nothing of them stays: no wg-*
# link, no wireguard-go, no endpoint record and no address held in the store.
nothing_left()
{
	local i
	for ((i = 1; i <= HOSTS; i++)); do
		on "$i" docker ps -aq | xargs -r env DOCKER_HOST="unix://$CLUSTER_DIR/h$i/docker.sock" \
			docker rm -f >/dev/null
	done
	for ((i = 1; i <= HOSTS; i++)); do
		wait_until 10 no_wg_links "$i" || { echo "host $i: links left: $(host_wg_links "$i")" >&2; return 1; }
		wait_until 10 no_wggo "$i" || { echo "host $i: wireguard-go left" >&2; return 1; }
	done
	wait_until 15 no_records nets/ '/eps/' || { store_keys nets/ >&2; return 1; }
	wait_until 15 no_records ipam/ '.' || { store_keys ipam/ >&2; return 1; }
}
