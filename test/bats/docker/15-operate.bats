#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Operating the plugin: wgctl show with container and network names (the plugin reads the
# engine), /metrics scraped by a real Prometheus (Debian's) and checked by promtool, and the log
# lines an operator follows (each engine call with its duration, link changes, first handshakes).

load helpers

# free_port: a TCP port of 127.0.0.1 nothing listens on now.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

setup_file() {
	METRICS_PORT=$(free_port)
	export METRICS_PORT
	WGT_PLUGIN_SETTINGS="METRICS_ADDR=127.0.0.1:$METRICS_PORT" docker_setup_file
	docker plugin disable "$PLUGIN" >/dev/null
	docker plugin set "$PLUGIN" engine.source="$WGT_ENGINE/docker.sock"
	docker plugin enable "$PLUGIN" >/dev/null
	WGT_PLUGIN_PID=$(plugin_host_pid "$PLUGIN")
	export WGT_PLUGIN_PID WGCTL_SOCKET=/run/docker/plugins/$WGT_PLUGIN_ID/wgctl.sock
	wgnet wgop --subnet 10.77.80.0/24
	ctr_run op-a wgop
	ctr_run op-b wgop
	ctr_ping op-a "$(ctr_ip op-b wgop)"
}

teardown_file() {
	local pid
	# A Prometheus that a failed test left running: by the PID it wrote.
	pid=$(cat "$WGT_DIR/prometheus.pid" 2>/dev/null) && kill "$pid" 2>/dev/null
	docker rm -f op-a op-b >/dev/null 2>&1
	docker network rm wgop >/dev/null 2>&1
	docker_teardown_file
}

teardown() {
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		echo "# plugin log (last 30 lines):"
		grep "plugin=$WGT_PLUGIN_ID" "$WGT_ENGINE/dockerd.log" | tail -n 30 | sed 's/^/#   /'
	fi
}

wgctl() { "$REPO/build/wgctl" "$@"; }
plugin_log() { grep "plugin=$WGT_PLUGIN_ID" "$WGT_ENGINE/dockerd.log"; }
metrics() { curl -sS --max-time 10 "http://127.0.0.1:$METRICS_PORT/metrics"; }

@test "wgctl show names the network and the containers, and finds an endpoint by container name" {
	local out a b
	a=$(ctr_eid op-a wgop)
	b=$(ctr_eid op-b wgop)
	wait_until 10 bash -c "$REPO/build/wgctl show wgop | grep -q 'container: op-b'"
	out=$(wgctl show wgop op-a)
	echo "$out"
	[[ $out == "network: wgop ($(net_id wgop | cut -c1-12))"* ]]
	[[ $out == *"endpoint: ${a:0:12}"$'\n'"  container: op-a"* ]]
	[[ $out == *"    identity: $b (container op-b, endpoint ${b:0:12})"* ]]
	[[ $out == *"    latest handshake: "* && $out == *"    link: active"* ]]
	[[ $out != *"endpoint: ${b:0:12}"* ]]
	[ "$(wgctl show --json wgop op-b | jq -r '.networks[0].endpoints[0].peers[0].container')" = op-a ]
}

@test "/metrics: the exposition format (promtool), per-peer bytes and handshakes, endpoints, API calls" {
	local m
	m=$(metrics)
	promtool check metrics <<<"$m"
	grep -E '^wireguard_received_bytes_total\{network="wgop",network_id="[0-9a-f]{12}",container="op-a",endpoint="[0-9a-f]{12}",identity="[0-9a-f]{64}",peer_identity="[0-9a-f]{64}",peer_container="op-b",peer_kind="local"\} [1-9][0-9]*$' <<<"$m"
	grep -E '^wireguard_latest_handshake_seconds\{network="wgop".*container="op-b".*peer_container="op-a".*\} [1-9][0-9]{9}$' <<<"$m"
	grep -qx 'wireguard_endpoints{network="wgop",network_id="'"$(net_id wgop | cut -c1-12)"'",backend="userspace"} 2' <<<"$m"
	grep -qx 'wireguard_peers{network="wgop",network_id="'"$(net_id wgop | cut -c1-12)"'",link="active"} 2' <<<"$m"
	grep -E '^wireguard_api_requests_total\{route="NetworkDriver.Join",result="ok"\} [2-9]' <<<"$m"
	grep -E '^wireguard_api_request_duration_seconds_bucket\{route="NetworkDriver.Join",le="\+Inf"\} [2-9]' <<<"$m"
	# Nothing secret: no key of the plugin's keystore appears.
	for f in $(find "$WGT_STATE/keys" -type f -name '*.key' -o -type f -name '*.psk'); do
		! grep -qF "$(head -c 44 "$f")" <<<"$m" || false
	done
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/other")" = 404 ]
}

# prom_value QUERY: the value of the first series Prometheus answers for QUERY ("" when none).
prom_value() {
	curl -sS --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
		jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}

# prom_positive QUERY: Prometheus has a value above 0 for QUERY.
prom_positive() { local v; v=$(prom_value "$1"); [[ -n $v ]] && awk -v v="$v" 'BEGIN { exit !(v > 0) }'; }

@test "a real Prometheus scrapes the plugin and answers a query on its bytes" {
	local d=$WGT_DIR/prometheus
	PROM_PORT=$(free_port)
	mkdir -p "$d"
	cat >"$d/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: wireguard
    static_configs:
      - targets: ["127.0.0.1:$METRICS_PORT"]
EOF
	promtool check config "$d/prometheus.yml"
	prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/data" \
		--web.listen-address="127.0.0.1:$PROM_PORT" >"$d/log" 2>&1 &
	PROM_PID=$!
	echo "$PROM_PID" >"$WGT_DIR/prometheus.pid"
	wait_until 60 prom_positive 'wireguard_received_bytes_total{container="op-a",peer_container="op-b"}' ||
		{ tail -n 20 "$d/log"; false; }
	[ "$(prom_value 'up{job="wireguard"}')" = 1 ]
	[ "$(prom_value 'sum(wireguard_endpoints{network="wgop"})')" = 2 ]
	kill "$PROM_PID"
	wait "$PROM_PID" 2>/dev/null || true
	rm -f "$WGT_DIR/prometheus.pid"
}

@test "the log: each engine call with its duration, each link change and first handshake with names" {
	local a
	a=$(ctr_eid op-a wgop)
	plugin_log | grep -E 'debug: NetworkDriver.Join: ok \([0-9.]+ ms\)'
	plugin_log | grep -F "info: endpoint ${a:0:12}: container op-a on network wgop"
	# A container that comes: the others' links log it, with its name once known.
	ctr_run op-c wgop
	ctr_ping op-c "$(ctr_ip op-a wgop)"
	wait_until 20 bash -c "grep 'plugin=$WGT_PLUGIN_ID' '$WGT_ENGINE/dockerd.log' | grep -qE 'info: endpoint ${a:0:12} \(op-a\): first handshake with peer [0-9a-f]{64} \(op-c\)'"
	plugin_log | grep -E "info: endpoint ${a:0:12} \(op-a\): link wg-[0-9a-f]{12}: 1 peer\(s\) set, 0 removed: [0-9a-f]{64} [0-9a-f]{12}"
	docker rm -f op-c >/dev/null
	wait_until 10 bash -c "grep 'plugin=$WGT_PLUGIN_ID' '$WGT_ENGINE/dockerd.log' | grep -qE 'info: endpoint [0-9a-f]{12} \(op-c\): (left|deleted)'"
	plugin_log | grep -E "info: endpoint ${a:0:12} \(op-a\): link wg-[0-9a-f]{12}: 0 peer\(s\) set, 1 removed"
}

@test "engine_diagnose: a stuck engine's goroutines, and Docker 20.10's libnetwork deadlock named" {
	local out
	# This engine is well: its dump is found and shows no deadlock; it still answers afterwards.
	out=$(engine_diagnose "$WGT_ENGINE")
	echo "$out"
	[[ $out == *"no known deadlock in its goroutines ($WGT_ENGINE/exec/goroutine-stacks-"*".log)" ]]
	docker ps >/dev/null
	# The deadlock as a real engine wrote it (bench/run, 400 containers removed 20 at a time).
	engine_deadlock "$REPO/test/bats/docker/fixtures/libnetwork-deadlock.goroutines"
	# Without the goroutine that holds the controller's lock there is no cycle.
	awk 'BEGIN { RS = ""; ORS = "\n\n" } !/^goroutine 71 /' \
		"$REPO/test/bats/docker/fixtures/libnetwork-deadlock.goroutines" >"$WGT_DIR/no-cycle"
	! engine_deadlock "$WGT_DIR/no-cycle" || false
	# Nor when the same goroutines wait for less than a minute (a busy engine).
	sed 's/, 5 minutes\]/]/' "$REPO/test/bats/docker/fixtures/libnetwork-deadlock.goroutines" \
		>"$WGT_DIR/short-waits"
	! engine_deadlock "$WGT_DIR/short-waits" || false
	! engine_deadlock "$(sed -n 's/.*(\(.*\))$/\1/p' <<<"$out")" || false
}
