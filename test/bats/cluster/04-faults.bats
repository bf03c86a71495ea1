#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The store and the hosts failing: an unreachable store, a plugin restart, a host that crashes,
# a partition that heals, a watch that falls behind a compaction, an etcd member lost, a client
# certificate the cluster does not trust. The tests run in order on one cluster.

load helpers

setup_file()
{
	cluster_setup_file 3
	for i in 1 2 3; do wgnet_on "$i" prod; done
	ctr_on 1 aa prod
	ctr_on 2 bb prod
	ctr_on 3 cc prod
	wait_until 10 ping_once_on 1 aa "$(ip_on 2 bb prod)"
}

teardown_file() { cluster_teardown_file; }
teardown() { cluster_teardown; }

# peer_keys_on I CTR: the public keys of the peers of CTR's link on host I (wg show of the
# plugin's UAPI socket, through EndpointOperInfo's count).
peers_on()
{
	local id eid nid
	id=$(plugin_id_on "$1")
	eid=$(on "$1" docker inspect -f '{{.NetworkSettings.Networks.prod.EndpointID}}' "$2")
	nid=$(on "$1" docker network inspect -f '{{.Id}}' prod)
	host_exec "$CLUSTER_DIR/h$1" curl -sS --max-time 5 \
		--unix-socket "/run/docker/plugins/$id/wireguard.sock" \
		-d "{\"NetworkID\":\"$nid\",\"EndpointID\":\"$eid\"}" \
		http://plugin/NetworkDriver.EndpointOperInfo | jq -r .Value.peers
}

@test "store unreachable: traffic flows, a new container fails naming etcd, a release waits" {
	local t0 out
	for i in 1 2 3; do cut_store "$i"; done
	ping_on 1 aa "$(ip_on 2 bb prod)"
	ping_on 3 cc "$(ip_on 1 aa prod)"
	t0=$EPOCHREALTIME
	out=$(on 2 docker run -d --name b2 --network prod "$IMAGE" sleep 1d 2>&1) && return 1
	report "docker run with the store unreachable failed after $(ms_since "$t0") ms"
	[[ $out == *etcd* ]]
	(($(ms_since "$t0") < 20000))
	on 2 docker rm -f b2 >/dev/null 2>&1 || true
	# A container removed meanwhile: its address is released once the store answers.
	ctr_on 3 c2 prod 2>/dev/null && return 1
	t0=$EPOCHREALTIME
	on 3 docker rm -f cc >/dev/null
	report "docker rm with the store unreachable took $(ms_since "$t0") ms"
	grep -q '"pool":"10.50.0.0/16"' "$CLUSTER_DIR/h3/var-lib/docker-wireguard/cluster-releases.json"
	for i in 1 2 3; do heal_store "$i"; done
	wait_until 15 eval '[ "$(store_keys ipam/10.50.0.0_16/ | wc -l)" -eq 2 ]'
	wait_until 15 eval '[ "$(cat "$CLUSTER_DIR/h3/var-lib/docker-wireguard/cluster-releases.json")" = "[]" ]'
	ping_on 1 aa "$(ip_on 2 bb prod)"
}

@test "plugin restart on host 1: same key, peers back, no duplicate address" {
	local key t0 pid
	key=$(wgctl_on 1 list | awk '/^identity/ { print $3 }' | sort)
	pid=$(on 1 plugin_host_pid "$PLUGIN")
	t0=$EPOCHREALTIME
	kill -KILL "$pid"
	wait_until 20 eval 'on 1 plugin_host_pid "$PLUGIN" | grep -qv "^$pid$"'
	wait_until 15 ping_once_on 2 bb "$(ip_on 1 aa prod)"
	report "plugin kill -9 on host 1: b reaches a again $(ms_since "$t0") ms after"
	[ "$(wgctl_on 1 list | awk '/^identity/ { print $3 }' | sort)" = "$key" ]
	ctr_on 1 a2 prod
	[ "$(store_keys ipam/10.50.0.0_16/ | wc -l)" -eq 3 ]
	[ "$(store_keys ipam/10.50.0.0_16/ | sort -u | wc -l)" -eq 3 ]
	wait_until 10 ping_once_on 2 bb "$(ip_on 1 a2 prod)"
}

@test "host 3 crashes: its peers leave the others within the lease time; its addresses stay" {
	local t0 n before
	ctr_on 3 c3 prod
	wait_until 10 eval '[ "$(peers_on 1 aa)" -eq 3 ]'
	before=$(store_keys ipam/10.50.0.0_16/ | wc -l)
	t0=$EPOCHREALTIME
	host_end "$CLUSTER_DIR/h3" KILL
	wait_until 30 eval '[ "$(peers_on 1 aa)" -eq 2 ]'
	n=$(ms_since "$t0")
	report "host 3 killed: its peer left host 1's link after $n ms (lease TTL 10 s)"
	((n < 16000))
	# Cut off or dead, the store cannot tell: its addresses stay reserved...
	[ "$(store_keys ipam/10.50.0.0_16/ | wc -l)" -eq "$before" ]
	[ "$(wgctl_on 1 hosts | grep -c ' gone ')" -eq 1 ]
	# ...until it is forgotten, gone for good.
	wgctl_on 1 host forget h3 | grep -q 'forgot host .*: 1 address'
	[ "$(store_keys ipam/10.50.0.0_16/ | wc -l)" -eq $((before - 1)) ]
}

@test "partition: host 2 loses the store past its lease, then heals and converges" {
	local t0 n
	cut_store 2
	wait_until 30 eval '[ "$(peers_on 1 aa)" -eq 1 ]'
	report "host 2 cut from the store: dropped by host 1 once its lease ran out"
	t0=$EPOCHREALTIME
	heal_store 2
	wait_until 30 eval '[ "$(peers_on 1 aa)" -eq 2 ]'
	wait_until 10 ping_once_on 1 aa "$(ip_on 2 bb prod)"
	n=$(ms_since "$t0")
	report "partition healed: host 1 reaches b again $n ms after"
	[ "$(store_keys ipam/10.50.0.0_16/ | sort -u | wc -l)" -eq "$(store_keys ipam/10.50.0.0_16/ | wc -l)" ]
}

@test "a watch behind a compaction re-lists and converges" {
	local rev
	cut_store 1
	ctr_on 2 b4 prod
	on 2 docker rm -f b4 >/dev/null
	ctr_on 2 b5 prod
	rev=$(etcdctl_c "$CLUSTER_DIR" endpoint status -w json | jq -r '.[0].Status.header.revision')
	etcdctl_c "$CLUSTER_DIR" compact "$rev" >/dev/null
	heal_store 1
	wait_until 20 ping_once_on 1 aa "$(ip_on 2 b5 prod)"
	grep -q 'records read at revision' "$CLUSTER_DIR/h1/dockerd.log"
}

@test "an etcd member lost, quorum kept: containers still start and reach across" {
	cluster_etcd_stop "$CLUSTER_DIR" 1
	ctr_on 2 b6 prod
	wait_until 15 ping_once_on 1 aa "$(ip_on 2 b6 prod)"
	cluster_etcd_start_member "$CLUSTER_DIR" 1
}

@test "a client certificate the cluster does not trust: a clear error at start, wg.net refused" {
	local d=$CLUSTER_DIR/other out
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj /CN=other-ca -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /O=x \
		-keyout "$d/client.key" -out "$d/client.csr" 2>/dev/null
	openssl x509 -req -in "$d/client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 1 -out "$d/client.crt" 2>/dev/null
	# Host 3 crashed above; started again (or first ended, when this test runs alone).
	host_end "$CLUSTER_DIR/h3" TERM
	host_start "$CLUSTER_DIR/h3"
	on 3 docker plugin disable -f "$PLUGIN" >/dev/null
	host_etcd_files 3 "$d/client.crt" "$d/client.key"
	on 3 docker plugin enable "$PLUGIN" >/dev/null
	wait_until 10 grep -q 'client certificate.*refused' "$CLUSTER_DIR/h3/dockerd.log"
	out=$(on 3 docker network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --subnet 10.55.0.0/16 \
		-o wg.net=fresh fresh 2>&1) && return 1
	[[ $out == *'client certificate'*'refused'* ]]
}
