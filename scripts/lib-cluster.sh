# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Several simulated Docker hosts on one machine, and the etcd cluster they share. Source it after
# lib-engine.sh; it only defines functions. Everything lives under one directory and in network
# namespaces named after it, and cluster_stop removes all of it.
#
#   cluster_start DIR HOSTS     a bridge, 3 etcd members with TLS, HOSTS simulated hosts (each a
#                               network namespace with its own dockerd: host_start)
#   cluster_stop DIR            end every engine, etcd member and namespace; remove DIR
#   cluster_host_addr I         the underlay address of host I (10.98.0.I)
#   cluster_etcd_addr I         the address of etcd member I (10.98.0.1I)
#   cluster_etcd_endpoints      https://member1:2379,... for ETCD_ENDPOINTS
#   on I CMD...                 CMD with DOCKER_HOST set to host I's engine
#   cluster_etcd_stop DIR I / cluster_etcd_start_member DIR I   one member down and up again
#   etcdctl_c DIR ARGS...       etcdctl against the cluster, with the client certificate
#
# The layout: a bridge in the root namespace, 10.98.0.254/24; etcd member I in namespace
# <tag>e<I> at 10.98.0.1I; host I in namespace <tag>h<I> at 10.98.0.I. Traffic stays between
# these namespaces. Host names in etcd are h<I>.

CLUSTER_NET=10.98.0

cluster_tag() { cat "$1/tag"; }
cluster_host_addr() { echo "$CLUSTER_NET.$1"; }
cluster_etcd_addr() { echo "$CLUSTER_NET.1$1"; }
cluster_etcd_endpoints()
{
	echo "https://$(cluster_etcd_addr 1):2379,https://$(cluster_etcd_addr 2):2379,https://$(cluster_etcd_addr 3):2379"
}

# cluster_netns_add DIR NAME ADDR: namespace NAME on the bridge with ADDR/24.
cluster_netns_add()
{
	local dir=$1 name=$2 addr=$3 tag br
	tag=$(cluster_tag "$dir")
	br=${tag}br
	ip netns add "$name"
	ip link add "${name}v" type veth peer name "${name}b"
	ip link set "${name}b" master "$br" up
	ip link set "${name}v" netns "$name"
	ip -n "$name" link set "${name}v" name eth0
	ip -n "$name" addr add "$addr/24" dev eth0
	ip -n "$name" link set eth0 up
	ip -n "$name" link set lo up
	ip -n "$name" route add default via "$CLUSTER_NET.254"
	echo "$name" >>"$dir/netns"
}

# cluster_certs DIR: a CA, a server certificate for every member's address and a client
# certificate without a CN (etcd's gateway refuses client certificates with one when auth is on).
cluster_certs()
{
	local d=$1/tls i san=
	mkdir -p "$d"
	for i in 1 2 3; do san+="${san:+,}IP:$(cluster_etcd_addr "$i")"; done
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj /CN=wgtest-ca -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=etcd \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san") \
		-out "$d/server.crt" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /O=wgnet \
		-keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null
	openssl x509 -req -in "$d/client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile <(printf 'extendedKeyUsage=clientAuth\n') -out "$d/client.crt" 2>/dev/null
	chmod 0600 "$d"/*.key
}

cluster_etcd_start_member()
{
	local dir=$1 i=$2 tag addr cluster= j
	tag=$(cluster_tag "$dir")
	addr=$(cluster_etcd_addr "$i")
	for j in 1 2 3; do cluster+="${cluster:+,}e$j=https://$(cluster_etcd_addr "$j"):2380"; done
	mkdir -p "$dir/etcd$i"
	ip netns exec "${tag}e$i" etcd --name "e$i" --data-dir "$dir/etcd$i/data" \
		--listen-client-urls "https://$addr:2379" --advertise-client-urls "https://$addr:2379" \
		--listen-peer-urls "https://$addr:2380" --initial-advertise-peer-urls "https://$addr:2380" \
		--initial-cluster "$cluster" --initial-cluster-state new \
		--initial-cluster-token "$tag" --enable-v2=false \
		--cert-file "$dir/tls/server.crt" --key-file "$dir/tls/server.key" \
		--trusted-ca-file "$dir/tls/ca.crt" --client-cert-auth \
		--peer-cert-file "$dir/tls/server.crt" --peer-key-file "$dir/tls/server.key" \
		--peer-trusted-ca-file "$dir/tls/ca.crt" --peer-client-cert-auth \
		--auto-compaction-retention 0 >>"$dir/etcd$i/log" 2>&1 </dev/null &
	echo $! >"$dir/etcd$i/pid"
}

cluster_etcd_stop()
{
	local dir=$1 i=$2 pid
	pid=$(cat "$dir/etcd$i/pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null && engine_wait_exit "$pid" 10 || kill -KILL "$pid" 2>/dev/null
	rm -f "$dir/etcd$i/pid"
}

etcdctl_c()
{
	local dir=$1
	shift
	ETCDCTL_API=3 etcdctl --endpoints "$(cluster_etcd_endpoints)" --cacert "$dir/tls/ca.crt" \
		--cert "$dir/tls/client.crt" --key "$dir/tls/client.key" "$@"
}

cluster_etcd_healthy()
{
	etcdctl_c "$1" endpoint health >/dev/null 2>&1
}

# on I CMD...: CMD against host I's engine.
on()
{
	local i=$1
	shift
	DOCKER_HOST="unix://$CLUSTER_DIR/h$i/docker.sock" "$@"
}

cluster_start()
{
	local dir=$1 hosts=$2 tag i
	mkdir -p "$dir"
	# Short: namespace and link names are at most 15 characters.
	tag=wc$(($$ % 100000))
	echo "$tag" >"$dir/tag"
	: >"$dir/netns"
	ip link add "${tag}br" type bridge
	ip addr add "$CLUSTER_NET.254/24" dev "${tag}br"
	ip link set "${tag}br" up
	cluster_certs "$dir"
	for i in 1 2 3; do
		cluster_netns_add "$dir" "${tag}e$i" "$(cluster_etcd_addr "$i")"
		cluster_etcd_start_member "$dir" "$i"
	done
	for i in $(seq 1 "$hosts"); do
		cluster_netns_add "$dir" "${tag}h$i" "$(cluster_host_addr "$i")"
	done
	for i in $(seq 1 50); do
		cluster_etcd_healthy "$dir" && break
		sleep 0.2
	done
	cluster_etcd_healthy "$dir" || { echo "cluster_start: etcd is not healthy" >&2; return 1; }
	# Written first: cluster_stop ends the hosts it lists, those started before one that failed too.
	echo "$hosts" >"$dir/hosts"
	for i in $(seq 1 "$hosts"); do
		host_start "$dir/h$i" "${tag}h$i" || return 1
	done
}

cluster_stop()
{
	local dir=$1 tag i ns
	[ -d "$dir" ] || return 0
	tag=$(cluster_tag "$dir" 2>/dev/null)
	for i in $(seq 1 "$(cat "$dir/hosts" 2>/dev/null || echo 0)"); do
		if [ -S "$dir/h$i/docker.sock" ]; then
			on "$i" docker ps -aq 2>/dev/null | xargs -r env DOCKER_HOST="unix://$dir/h$i/docker.sock" docker rm -f >/dev/null 2>&1
			DOCKER_HOST="unix://$dir/h$i/docker.sock" docker plugin disable -f wireguard:latest >/dev/null 2>&1
		fi
		host_stop "$dir/h$i"
	done
	for i in 1 2 3; do cluster_etcd_stop "$dir" "$i"; done
	while read -r ns; do
		[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	done <"$dir/netns"
	[ -n "$tag" ] && ip link del "${tag}br" 2>/dev/null
	rm -rf "$dir"
}
