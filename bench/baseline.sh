# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Throughput baseline for bench/run: two wireguard-go TUNs created in the host netns, moved into two
# network namespaces of our own, peered over 127.0.0.1 (their UDP sockets stay in the host netns,
# as the driver's do), iperf3 server in one and client in the other. Source it; it only defines
# functions. What it creates is kept in BL_* so baseline_down can remove exactly that.
#   baseline_up DIR MTU [WIREGUARD_GO [GOMEMLIMIT]]
#                              namespaces, links, keys (in DIR), peers, iperf3 -s; 0 or 1. The
#                              wireguard-go program (default: wireguard-go from PATH) and its
#                              memory limit (default: none)
#   baseline_mbps SECONDS      one iperf3 run from namespace 1 to 0; prints Mbit/s
#   baseline_wggo_pids         the two wireguard-go processes
#   baseline_down              kill what baseline_up started (by PID), delete its namespaces

BL_NS=() BL_LINKS=() BL_PIDS=() BL_WGGO=()
BL_ADDR=(10.233.0.1 10.233.0.2)

# Starts wireguard-go on a new TUN named $1 (foreground mode, so we own its PID); waits for its UAPI socket.
baseline_start_link()
{
	local link=$1 log=$2 prog=$3 limit=$4 i
	local -a env=(env -u GOMEMLIMIT)

	[ -n "$limit" ] && env=(env GOMEMLIMIT="$limit")
	"${env[@]}" "$prog" -f "$link" >"$log" 2>&1 &
	BL_PIDS+=($!) BL_WGGO+=($!)
	BL_LINKS+=("$link")
	for ((i = 0; i < 50; i++)); do
		[ -S "/var/run/wireguard/$link.sock" ] && ip link show "$link" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "baseline: wireguard-go did not create $link; its log:" >&2
	cat "$log" >&2
	return 1
}

baseline_up()
{
	local dir=$1 mtu=$2 prog=${3:-wireguard-go} limit=${4:-} i ns link port
	local -a pub ports

	for i in 0 1; do
		ns=wgbench-$$-$i link=wgb$$n$i
		ip netns add "$ns"
		BL_NS+=("$ns")
		baseline_start_link "$link" "$dir/wireguard-go-$i.log" "$prog" "$limit" || return 1
		(umask 077 && wg genkey >"$dir/key-$i")
		pub[i]=$(wg pubkey <"$dir/key-$i")
		# The listen port is bound here, in the host netns, before the move.
		wg set "$link" private-key "$dir/key-$i"
		ports[i]=$(wg show "$link" listen-port)
		ip link set "$link" netns "$ns"
		ip -n "$ns" link set lo up
		ip -n "$ns" link set "$link" mtu "$mtu" up
		ip -n "$ns" addr add "${BL_ADDR[i]}/24" dev "$link"
	done
	for i in 0 1; do
		port=${ports[1 - i]}
		wg set "${BL_LINKS[i]}" peer "${pub[1 - i]}" allowed-ips "${BL_ADDR[1 - i]}/32" \
			endpoint "127.0.0.1:$port"
	done
	ip netns exec "${BL_NS[0]}" iperf3 -s >"$dir/iperf3-server.log" 2>&1 &
	BL_PIDS+=($!)
}

baseline_mbps()
{
	iperf_retry ip netns exec "${BL_NS[1]}" iperf3 -c "${BL_ADDR[0]}" -t "$1" -J
}

baseline_wggo_pids() { echo "${BL_WGGO[@]}"; }

baseline_down()
{
	local pid ns link

	for pid in "${BL_PIDS[@]}"; do
		if kill "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null || true; fi
	done
	# wireguard-go deletes its TUN when it exits; these only catch a link it left behind.
	for ns in "${BL_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	for link in "${BL_LINKS[@]}"; do
		ip link del "$link" 2>/dev/null || true
	done
	BL_NS=() BL_LINKS=() BL_PIDS=() BL_WGGO=()
	return 0
}
