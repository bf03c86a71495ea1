#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# wg.policy links across hosts, with a compose file per host (examples/cluster/, docker-compose
# 1.29 and labels, read through the plugin's engine access): web on host 2 links to db on
# host 1 and they reach each other; cache on host 3 links to no one and reaches no one. Keys are
# cluster-wide: a reference lives on one host.

load helpers

setup_file()
{
	cluster_setup_file 3 engine.source=/var/run/docker.sock
	on 1 env IMAGE="$IMAGE" docker-compose -p p1 -f "$REPO/examples/cluster/db.yml" up -d 2>/dev/null
	on 2 env IMAGE="$IMAGE" docker-compose -p p2 -f "$REPO/examples/cluster/web.yml" up -d 2>/dev/null
	on 3 env IMAGE="$IMAGE" docker-compose -p p3 -f "$REPO/examples/cluster/cache.yml" up -d 2>/dev/null
}

teardown_file() { cluster_teardown_file; }
teardown() { cluster_teardown; }

cip() { ip_on "$1" "$2" "$3_prod"; }

@test "web (host 2) and db (host 1) reach each other over their link" {
	wait_until 15 ping_once_on 2 p2_web_1 "$(cip 1 p1_db_1 p1)"
	ping_on 1 p1_db_1 "$(cip 2 p2_web_1 p2)"
}

@test "cache (host 3) reaches no one and no one reaches it" {
	! ping_once_on 3 p3_cache_1 "$(cip 1 p1_db_1 p1)" || false
	! ping_once_on 3 p3_cache_1 "$(cip 2 p2_web_1 p2)" || false
	! ping_once_on 2 p2_web_1 "$(cip 3 p3_cache_1 p3)" || false
}

@test "the pair's preshared key is in the store only sealed, and both hosts have the same" {
	local rec
	rec=$(etcdctl_c "$CLUSTER_DIR" get --print-value-only /wgnet/v1/psk/db+web)
	[ "$(jq -r 'keys | length' <<<"$rec")" -eq 2 ]
	[ "$(cmp "$CLUSTER_DIR/h1/var-lib/docker-wireguard/keys/link/db+web.psk" \
		"$CLUSTER_DIR/h2/var-lib/docker-wireguard/keys/link/db+web.psk" && echo same)" = same ]
	! grep -qF "$(cat "$CLUSTER_DIR/h1/var-lib/docker-wireguard/keys/link/db+web.psk")" \
		<(etcdctl_c "$CLUSTER_DIR" get --prefix /wgnet/v1/)
}

@test "a key reference lives on one host: naming db on host 3 says where it is" {
	local out
	on 3 docker network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --subnet 10.61.0.0/16 \
		-o wg.net=other other >/dev/null
	on 1 docker network create -d "$PLUGIN" --ipam-driver "$PLUGIN" --subnet 10.61.0.0/16 \
		-o wg.net=other other >/dev/null
	ctr_on 1 db2 name=other,driver-opt=wg.key=db
	out=$(on 3 docker run -d --name x3 --network name=other,driver-opt=wg.key=db "$IMAGE" sleep 1 2>&1) && return 1
	[[ $out == *'private key of "db" is on host'*"wgctl export db"* ]]
}

@test "wgctl hosts lists the three hosts, alive, with their endpoints" {
	local out
	out=$(wgctl_on 1 hosts)
	[ "$(grep -c ' alive ' <<<"$out")" -eq 3 ]
	grep -q " h1 $(cluster_host_addr 1) alive 2 endpoint(s) (this host)" <<<"$out"
	grep -q " h3 $(cluster_host_addr 3) alive 1 endpoint(s)" <<<"$out"
}

@test "nothing is left once the containers go: links, wireguard-go, records, addresses" {
	nothing_left
}
