# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# The scale run of bench/run: N containers started one after the other on one wireguard network,
# interleaved with N on a bridge network (the baseline: what the engine's own cost does as it
# fills up), then removed all at once. Source it; it only defines functions (stats.sh first).
#   scale_run NET BRIDGE_NET IMAGE N PLUGIN
#                                  starts the containers, measures, removes them; sets SC_*
#   scale_report                   prints the figures
#   scale_cleanup                  removes what scale_run left (on an error or a signal)
# What it measures, in SC_*:
#   SC_LAT          `docker run -d` wall time of each container, ms, in start order
#   SC_PLUGIN       the plugin's own share of each: the time its daemon took to answer that
#                   container's CreateEndpoint and Join, ms, from the daemon's debug lines in
#                   the engine's log SC_ENGINE_LOG (the plugin runs with LOG_LEVEL=debug; empty
#                   SC_ENGINE_LOG: not measured)
#   SC_SCRAPE       with all N running, one GET of the plugin's /metrics at SC_METRICS
#                   (host:port; empty: none): "ms bytes series rss_before_kib rss_after_kib"
#   SC_BR_LAT       the same on the bridge network
#   SC_REACH        for every SC_EVERY-th container: ms from its `docker run -d` returning until
#                   the first container gets a ping reply from it (a ping every 20 ms, from the
#                   host's busybox in the first container's network namespace)
#   SC_DAEMON_KB    the plugin daemon's RSS with the N containers running, KiB
#   SC_IDLE         with the N containers running and idle, the CPU over SC_IDLE_S (20) seconds,
#                   in % of one core: "all_wireguard_go daemon whole_machine processes" (idle_cpu)
#   SC_BACKEND_KB   the RSS of every wireguard-go the daemon started, added up, KiB
#   SC_START_MS     all starts, SC_RM_MS removing them all (20 `docker rm -f` at a time)
#   SC_LEFT         links, wireguard-go processes and endpoint files left after the removal
#   SC_STUCK        1 when a `docker rm -f` took longer than SC_RM_TIMEOUT_S (300) seconds: the
#                   engine is stuck (bench/run then asks it why, and sends it no more calls)

SC_PREFIX=wgscale-$$ SC_BR_PREFIX=wgscale-br-$$
SC_LAT=() SC_BR_LAT=() SC_REACH=() SC_PLUGIN=()
SC_METRICS=${SC_METRICS:-} SC_ENGINE_LOG=${SC_ENGINE_LOG:-} SC_SCRAPE=''
SC_DAEMON_KB=- SC_BACKEND_KB=- SC_START_MS=- SC_RM_MS=- SC_LEFT=- SC_N=0 SC_STUCK=0
SC_IDLE_S=${SC_IDLE_S:-20} SC_IDLE='' SC_RM_TIMEOUT_S=${SC_RM_TIMEOUT_S:-300}

# status_kb PID FIELD: FIELD of /proc/PID/status in KiB (0 when PID is gone).
status_kb() { awk -v f="$2:" '$1 == f { print $2; n = 1 } END { if (!n) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# KiB of RSS of PID, and its peak since it started.
rss_kb() { status_kb "$1" VmRSS; }
hwm_kb() { status_kb "$1" VmHWM; }

# The wireguard-go processes the plugin daemon PID started (its children).
backend_pids() { { ps -o pid= --ppid "$1" || true; } | awk '{ print $1 }'; }

sum_rss_kb()
{
	local p sum=0

	for p in "$@"; do
		sum=$((sum + $(rss_kb "$p")))
	done
	echo "$sum"
}

# CPU time (user + system) of the PIDs given, in clock ticks, added up; a PID gone counts 0. One
# read of all their stat files, so that every PID's window is the same at 1,000 of them. The
# fields are counted after the command name's ")", which may hold spaces.
cpu_ticks()
{
	local p
	local -a files=()

	for p in "$@"; do
		files+=("/proc/$p/stat")
	done
	((${#files[@]})) || { echo 0; return 0; }
	cat "${files[@]}" 2>/dev/null | awk '{ sub(/.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}

# Ticks the whole machine spent busy (user, nice, system, irq, softirq), all cores added up.
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }

# With the containers running and nothing asked of them: the CPU over SC_IDLE_S seconds of every
# wireguard-go the daemon (PID) started, of the daemon and of the whole machine, in % of one
# core, and how many wireguard-go there are. Its own sleep costs nothing: what it sees is the
# idle cost of what runs (wireguard-go's timers, the daemon's monitor reading every link, the
# engine's shims).
idle_cpu()
{
	local daemon=$1 hz w0 d0 m0 w1 d1 m1
	local -a wg

	mapfile -t wg < <(backend_pids "$daemon")
	hz=$(getconf CLK_TCK)
	w0=$(cpu_ticks "${wg[@]}") d0=$(cpu_ticks "$daemon") m0=$(machine_ticks)
	sleep "$SC_IDLE_S"
	w1=$(cpu_ticks "${wg[@]}") d1=$(cpu_ticks "$daemon") m1=$(machine_ticks)
	awk -v w=$((w1 - w0)) -v d=$((d1 - d0)) -v m=$((m1 - m0)) -v hz="$hz" -v s="$SC_IDLE_S" \
		-v n="${#wg[@]}" 'BEGIN { f = 100 / hz / s; printf "%.1f %.1f %.1f %d\n", w * f, d * f, m * f, n }'
}

# The idle line of the report, from "wg daemon machine n" as idle_cpu prints it.
idle_report()
{
	local -a v

	read -r -a v <<<"$1"
	printf '               idle, CPU over %d s in %% of one core: %d wireguard-go %s (%s ms/s each), daemon %s, whole machine %s\n' \
		"$SC_IDLE_S" "${v[3]}" "${v[0]}" \
		"$(awk -v w="${v[0]}" -v n="${v[3]}" 'BEGIN { printf "%.2f", n ? w * 10 / n : 0 }')" \
		"${v[1]}" "${v[2]}"
}

# ms until FROM_PID's network namespace gets a ping reply from ADDR; 5000 when none came.
reach_ms()
{
	local from=$1 addr=$2 t0=${EPOCHREALTIME/[.,]/}
	# ping ends on SIGPIPE once grep has its line: only grep's status counts.
	local -
	set +o pipefail

	if nsenter -t "$from" -n busybox ping -i 0.02 -w 5 "$addr" 2>/dev/null |
		grep -m 1 -q 'bytes from'; then
		echo $(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
	else
		echo 5000
	fi
}

# The daemon's time for each CreateEndpoint + Join in the engine's log after line FROM, ms, one
# per line in call order (the scale run's containers start one after the other).
plugin_call_ms()
{
	tail -n "+$(($1 + 1))" "$SC_ENGINE_LOG" |
		grep -oE 'debug: NetworkDriver\.(CreateEndpoint|Join): ok \([0-9.]+ ms\)' |
		awk '{ gsub(/[(]/, "", $4); v += $4 } /Join/ { printf "%.1f\n", v; v = 0 }'
}

# One GET of the plugin's /metrics with N endpoints: its time, size and series, and the daemon
# PID's RSS before and after and its peak after (VmHWM: the answer's text is built in memory
# before it is sent, and the daemon had never held as much before).
scrape_once()
{
	local daemon=$1 out before t

	out=$(mktemp)
	before=$(rss_kb "$daemon")
	t=$(elapsed_ms curl -sf --max-time 60 -o "$out" "http://$SC_METRICS/metrics") || t=failed
	SC_SCRAPE="$t $(stat -c %s "$out") $(grep -vc '^#' "$out") $before $(rss_kb "$daemon")"
	SC_SCRAPE+=" $(hwm_kb "$daemon")"
	rm -f "$out"
}

scale_start()
{
	local net=$1 br_net=$2 image=$3 n=$4 every=$5 i name t first_pid=0 addr t0 wg_ms=0 from=0

	[ -z "$SC_ENGINE_LOG" ] || from=$(wc -l <"$SC_ENGINE_LOG")
	for ((i = 1; i <= n; i++)); do
		name=$SC_PREFIX-$i
		t0=${EPOCHREALTIME/[.,]/}
		t=$(elapsed_ms docker run -d --name "$name" --network "$net" "$image" sleep 1d)
		wg_ms=$((wg_ms + (${EPOCHREALTIME/[.,]/} - t0) / 1000))
		SC_LAT+=("$t")
		SC_BR_LAT+=("$(elapsed_ms docker run -d --name "$SC_BR_PREFIX-$i" --network "$br_net" \
			"$image" sleep 1d)")
		SC_N=$i
		if [ "$i" -eq 1 ]; then
			first_pid=$(docker inspect -f '{{.State.Pid}}' "$name")
		elif ((i % every == 0)); then
			addr=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$name")
			SC_REACH+=("$(reach_ms "$first_pid" "$addr")")
		fi
		((i % 20 == 0)) && log "scale: $i/$n started, last docker run $t ms" || true
	done
	SC_START_MS=$wg_ms
	if [ -n "$SC_ENGINE_LOG" ]; then
		sleep 2 # the plugin's lines reach the engine's log a moment later
		mapfile -t SC_PLUGIN < <(plugin_call_ms "$from")
	fi
}

# scale_rm PREFIX: removes the containers named PREFIX-*, 20 `docker rm -f` of 10 at a time, each
# given SC_RM_TIMEOUT_S: Docker 20.10 can deadlock when many containers leave at once (README,
# Troubleshooting), and the run then says so instead of waiting for ever. 1 (and SC_STUCK=1) when
# one timed out.
scale_rm()
{
	docker ps -aq --filter "name=^$1-" |
		xargs -r -n 10 -P 20 timeout "$SC_RM_TIMEOUT_S" docker rm -f >/dev/null && return 0
	SC_STUCK=1 SC_RM_MS=- SC_LEFT="not measured: a docker rm -f did not return within $SC_RM_TIMEOUT_S s"
	return 1
}

scale_remove()
{
	local net=$1 daemon=$2 t0 links=0 procs eps i eid
	local -a names

	# The links of our endpoints by name (wg-<12 hex of the endpoint>), not other engines' links.
	mapfile -t names < <(docker ps -aq --filter "name=^$SC_PREFIX-" |
		xargs -r docker inspect -f "{{(index .NetworkSettings.Networks \"$net\").EndpointID}}")
	scale_rm "$SC_BR_PREFIX" || return 0
	t0=${EPOCHREALTIME/[.,]/}
	scale_rm "$SC_PREFIX" || return 0
	SC_RM_MS=$(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
	# wireguard-go exits a moment after its link goes: count what is still there after 10 s.
	for ((i = 0; i < 50; i++)); do
		procs=$(backend_pids "$daemon" | wc -l)
		[ "$procs" -eq 0 ] && break
		sleep 0.2
	done
	for eid in "${names[@]}"; do
		ip link show "wg-${eid:0:12}" >/dev/null 2>&1 && links=$((links + 1))
	done
	eps=$(docker ps -aq --filter "name=^$SC_PREFIX-" | wc -l)
	SC_LEFT="$links links, $procs wireguard-go, $eps containers"
}

scale_run()
{
	local net=$1 br_net=$2 image=$3 n=$4 plugin=$5 every daemon

	every=$((n / 40 > 1 ? n / 40 : 1))
	daemon=$(plugin_host_pid "$plugin")
	log "scale: starting $n containers on $net and $n on $br_net, interleaved (reachability from the first every $every)"
	scale_start "$net" "$br_net" "$image" "$n" "$every"
	SC_DAEMON_KB=$(rss_kb "$daemon")
	# shellcheck disable=SC2046
	SC_BACKEND_KB=$(sum_rss_kb $(backend_pids "$daemon"))
	log "scale: the CPU of the idle containers' backends over $SC_IDLE_S s"
	SC_IDLE=$(idle_cpu "$daemon")
	[ -z "$SC_METRICS" ] || scrape_once "$daemon"
	log "scale: removing the $n containers, 20 at a time"
	scale_remove "$net" "$daemon"
}

scale_cleanup()
{
	docker ps -aq --filter "name=^$SC_PREFIX-" | xargs -r -n 20 docker rm -f >/dev/null 2>&1
	docker ps -aq --filter "name=^$SC_BR_PREFIX-" | xargs -r -n 20 docker rm -f >/dev/null 2>&1
	return 0
}

# Medians of the ten deciles of the numbers given, space separated.
decile_medians()
{
	local d n=$# from to out=()
	local -a v=("$@")

	for ((d = 0; d < 10; d++)); do
		from=$((d * n / 10)) to=$(((d + 1) * n / 10))
		((to > from)) || to=$((from + 1))
		out+=("$(median "${v[@]:from:to-from}")")
	done
	echo "${out[*]}"
}

scale_report()
{
	local dec br pl sc first last mib_per_ep

	[ "${#SC_LAT[@]}" -ge 10 ] || { printf '  scale        not run (needs >= 10 containers)\n'; return 0; }
	read -r -a dec <<<"$(decile_medians "${SC_LAT[@]}")"
	read -r -a br <<<"$(decile_medians "${SC_BR_LAT[@]}")"
	first=${dec[0]} last=${dec[9]}
	mib_per_ep=$(awk -v kb="$SC_BACKEND_KB" -v n="$SC_N" 'BEGIN { printf "%.1f", kb / 1024 / n }')
	printf '  scale        %d containers on one network, docker run -d (ms) by decile: %s\n' \
		"$SC_N" "${dec[*]}"
	printf '               bridge baseline (as many, interleaved): %s\n' "${br[*]}"
	printf '               last / first decile %s (target <= 1.5); bridge %s\n' \
		"$(ratio "$last" "$first")" "$(ratio "${br[9]}" "${br[0]}")"
	printf '               wireguard / bridge by decile: %s\n' "$(for ((d = 0; d < 10; d++)); do
		ratio "${dec[d]}" "${br[d]}"; done | paste -sd' ')"
	if [ "${#SC_PLUGIN[@]}" -ge 10 ]; then
		read -r -a pl <<<"$(decile_medians "${SC_PLUGIN[@]}")"
		printf '               the daemon'"'"'s CreateEndpoint + Join (ms) by decile: %s (last / first %s; %d of %d)\n' \
			"${pl[*]}" "$(ratio "${pl[9]}" "${pl[0]}")" "${#SC_PLUGIN[@]}" "$SC_N"
	fi
	printf '               reachable from the first: median %s ms, max %s ms of %d samples (target <= 1000)\n' \
		"$(median "${SC_REACH[@]}")" "$(printf '%s\n' "${SC_REACH[@]}" | sort -n | tail -n 1)" \
		"${#SC_REACH[@]}"
	printf '               RSS: daemon %d MiB, wireguard-go %d MiB in all = %s MiB per endpoint\n' \
		$((SC_DAEMON_KB / 1024)) $((SC_BACKEND_KB / 1024)) "$mib_per_ep"
	[ -z "$SC_IDLE" ] || idle_report "$SC_IDLE"
	if [ -n "$SC_SCRAPE" ]; then
		read -r -a sc <<<"$SC_SCRAPE"
		printf '               one GET /metrics with %d endpoints: %s ms, %s KiB, %s series; daemon RSS %d -> %d MiB, peak %d MiB\n' \
			"$SC_N" "${sc[0]}" $((sc[1] / 1024)) "${sc[2]}" $((sc[3] / 1024)) $((sc[4] / 1024)) \
			$((sc[5] / 1024))
	fi
	if [ "$SC_STUCK" = 1 ]; then
		printf '               start all %.1f s, remove all: %s\n' \
			"$(awk -v m="$SC_START_MS" 'BEGIN { print m / 1000 }')" "$SC_LEFT"
		return 0
	fi
	printf '               start all %.1f s, remove all %.1f s (ratio %s, target < 1); left: %s\n' \
		"$(awk -v m="$SC_START_MS" 'BEGIN { print m / 1000 }')" \
		"$(awk -v m="$SC_RM_MS" 'BEGIN { print m / 1000 }')" \
		"$(ratio "$SC_RM_MS" "$SC_START_MS")" "$SC_LEFT"
}
