#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# On the host, container traffic is WireGuard UDP on lo; the payload never appears in cleartext.

load helpers

setup_file() { docker_setup_file; }
teardown_file() { docker_teardown_file; }

setup()
{
	TCPDUMP_PID=
}

teardown()
{
	[ -z "$TCPDUMP_PID" ] || { kill "$TCPDUMP_PID" 2>/dev/null; wait "$TCPDUMP_PID"; }
	docker_teardown
}

# capture_start PCAP FILTER...: tcpdump on lo into PCAP, returning once it is capturing. Other
# work on this machine may load lo heavily: the filter keeps the capture to what the test reads.
# -Z root: as user tcpdump it could not write into the test's private temp dir; immediate mode:
# without it packets wait in the ring buffer up to a second and may miss the stop.
capture_start()
{
	local pcap=$1
	shift
	tcpdump -Z root -i lo -nn -s 0 -B 8192 --immediate-mode -U -w "$pcap" "$@" 2>"$pcap.log" &
	TCPDUMP_PID=$!
	wait_until 5 grep -q 'listening on' "$pcap.log"
}

capture_stop()
{
	sleep 0.3
	kill -INT "$TCPDUMP_PID"
	wait "$TCPDUMP_PID" || true
	TCPDUMP_PID=
}

# wg_data_packets PCAP PORT: WireGuard transport-data messages (type 4, three zero bytes, at least
# a 16-byte header and a 16-byte tag) sent to PORT.
wg_data_packets()
{
	tcpdump -r "$1" -nn "udp dst port $2 and udp[4:2] >= 40 and udp[8:4] = 0x04000000" 2>/dev/null |
		wc -l
}

@test "the capture finds the marker when it is sent in cleartext (control)" {
	pcap=$BATS_TEST_TMPDIR/control.pcap
	capture_start "$pcap" icmp
	busybox ping -c 1 -s 200 -p "$MARKER_BYTE" 127.0.0.1 >/dev/null
	capture_stop
	[ "$(marker_count "$pcap")" -ge 1 ]
}

@test "pings between containers cross lo only as WireGuard data, never in cleartext" {
	wgnet enc
	ctr_run enc-1 enc
	ctr_run enc-2 enc
	port1=$(ep_info enc-1 enc .Value.listen_port)
	port2=$(ep_info enc-2 enc .Value.listen_port)
	pcap=$BATS_TEST_TMPDIR/enc.pcap
	# Any cleartext leak onto lo would be ICMP; the encrypted form is UDP between the two links.
	capture_start "$pcap" icmp or udp port "$port1" or udp port "$port2"
	docker exec enc-1 ping -c 3 -s 200 -p "$MARKER_BYTE" -W 5 "$(ctr_ip enc-2 enc)" >/dev/null
	capture_stop
	[ "$(marker_count "$pcap")" -eq 0 ]
	[ "$(wg_data_packets "$pcap" "$port2")" -ge 3 ]
	[ "$(wg_data_packets "$pcap" "$port1")" -ge 3 ]
}
