#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# docker-compose 1.29 with links: and wireguard.* labels (examples/compose-links.yml) and
# `docker run --link`, on wg.policy=links networks, with the plugin given engine access.

load links

setup_file()
{
	docker_setup_file
	grant_engine_access
}
teardown_file() { docker_teardown_file; }
teardown()
{
	compose down -t 1 >/dev/null 2>&1
	docker_teardown
}

compose() { IMAGE=$IMAGE docker-compose -p wgl -f "$REPO/examples/compose-links.yml" "$@"; }

SERVICES="db web worker cache"

all_resolved() { resolved wgl_secure wgl_db_1 wgl_web_1 wgl_worker_1 wgl_cache_1; }

@test "compose links and labels: web and worker reach db, cache reaches no one" {
	local s
	compose up -d 2>/dev/null
	wait_until 30 all_resolved
	for s in $SERVICES; do
		[ "$(ep_info "wgl_${s}_1" wgl_secure .Value.key)" = "$s" ]
	done
	[ "$(ep_info wgl_web_1 wgl_secure .Value.links)" = db ]
	[ "$(ep_info wgl_worker_1 wgl_secure .Value.links)" = db ]
	# The engine's embedded DNS answers for the service names; WireGuard decides who answers.
	ctr_ping wgl_web_1 db
	ctr_ping wgl_db_1 web
	ctr_ping wgl_worker_1 db
	ctr_ping wgl_db_1 worker
	no_ctr_ping wgl_web_1 cache
	no_ctr_ping wgl_cache_1 db
	no_ctr_ping wgl_db_1 cache
	no_ctr_ping wgl_web_1 worker
	[ "$(peers wgl_web_1 wgl_secure)" = 1 ]
	[ "$(peers wgl_db_1 wgl_secure)" = 2 ]
	[ "$(peers wgl_cache_1 wgl_secure)" = 0 ]
}

@test "docker-compose down && up keeps the same public key for the same reference" {
	local s before=() after=()
	compose up -d 2>/dev/null
	wait_until 30 all_resolved
	for s in $SERVICES; do
		before+=("$(ep_info "wgl_${s}_1" wgl_secure .Value.public_key)")
		# wgctl shows the same public key under the reference.
		wgctl list | grep -qx "identity $s ${before[-1]}"
	done
	compose down -t 1 2>/dev/null
	[ -z "$(state_files networks)" ]
	for s in $SERVICES; do
		[ -f "$WGT_STATE/keys/identity/$s.key" ]
	done
	# Their links' preshared keys are derived from the public keys and link.key.
	[ -f "$WGT_STATE/keys/link.key" ]
	compose up -d 2>/dev/null
	wait_until 30 all_resolved
	for s in $SERVICES; do
		after+=("$(ep_info "wgl_${s}_1" wgl_secure .Value.public_key)")
	done
	[ "${after[*]}" = "${before[*]}" ]
	ctr_ping wgl_web_1 db
	no_ctr_ping wgl_cache_1 web
}

@test "docker run --link links two containers; a third one is not reached" {
	wgnet runlinks -o wg.policy=links
	ctr_run rl-db runlinks
	ctr_run rl-web runlinks --link rl-db
	ctr_run rl-other runlinks
	wait_until 30 resolved runlinks rl-db rl-web rl-other
	ctr_ping rl-web "$(ctr_ip rl-db runlinks)"
	ctr_ping rl-db "$(ctr_ip rl-web runlinks)"
	no_ctr_ping rl-other "$(ctr_ip rl-db runlinks)"
	no_ctr_ping rl-web "$(ctr_ip rl-other runlinks)"
	# Without a label the key is generated for the endpoint and goes with it.
	[ "$(ep_info rl-web runlinks .Value.key)" = "$(ctr_eid rl-web runlinks)" ]
}

@test "on a mesh network the labels still name the keys, and everyone peers" {
	wgnet labelmesh
	ctr_run lm-1 labelmesh --label wireguard.key=lm-one
	ctr_run lm-2 labelmesh
	wait_until 30 resolved labelmesh lm-1 lm-2
	[ "$(ep_info lm-1 labelmesh .Value.key)" = lm-one ]
	ctr_ping lm-1 "$(ctr_ip lm-2 labelmesh)"
	ctr_ping lm-2 "$(ctr_ip lm-1 labelmesh)"
}

@test "the README shows examples/compose-links.yml as it is" {
	python3 -c 'import sys; sys.exit(open(sys.argv[1]).read() not in open(sys.argv[2]).read())' \
		"$REPO/examples/compose-links.yml" "$REPO/README.md"
}
