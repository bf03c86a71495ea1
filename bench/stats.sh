# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Small measuring helpers for bench/run. Source it; it only defines functions.
#   median N...           median of the numbers (mean of the middle two for an even count)
#   percentile P N...     the P-th percentile of the numbers, nearest rank (0: least, 100: most)
#   ratio A B             A / B with two decimals
#   quiet CMD...          runs CMD; shows its output (on stderr) only if it fails
#   elapsed_ms CMD...     quiet CMD; prints its wall time in ms
#   iperf_retry CMD...    runs an `iperf3 -c ... -J` command, retrying while the server is not up
#                         yet; prints the received throughput in Mbit/s

median()
{
	printf '%s\n' "$@" | sort -n |
		awk '{ v[NR] = $1 } END { print int((NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) + 0.5) }'
}

ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", (b > 0 ? a / b : 0) }'
}

quiet()
{
	local out

	out=$("$@" 2>&1) || { echo "$out" >&2; return 1; }
}

elapsed_ms()
{
	local t0=${EPOCHREALTIME/[.,]/}

	quiet "$@"
	echo $(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
}

iperf_retry()
{
	local try out

	for ((try = 1; try <= 10; try++)); do
		if out=$("$@" 2>&1) && jq -e '.end.sum_received.bits_per_second > 0' <<<"$out" >/dev/null 2>&1; then
			jq -r '.end.sum_received.bits_per_second / 1e6 | floor' <<<"$out"
			return 0
		fi
		sleep 1
	done
	echo "iperf3 failed 10 times: $*; last output:" >&2
	echo "$out" | tail -n 5 >&2
	return 1
}

percentile()
{
	local p=$1
	shift
	printf '%s\n' "$@" | sort -n |
		awk -v p="$p" '{ v[NR] = $1 } END { r = p * NR / 100; r = (r > int(r) ? int(r) + 1 : r); print v[r < 1 ? 1 : r] }'
}
