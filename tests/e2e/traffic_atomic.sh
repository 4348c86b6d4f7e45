#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Atomic replace under traffic. While the client streams a bounded number of UDP datagrams to the
# server, the server's filter table is replaced hundreds of times, alternating ruleset A (the
# datagrams meet `-p udp --dport 5001 -j ACCEPT`) and ruleset B (`... -j DROP`). Every
# SET_REPLACE returns the final counters of the table it replaces (the handshake libiptc uses to
# carry counters over), so summing them over all replaces plus the last table's counters must
# account for every datagram exactly once: A + B = sent, and A = what the server received.
# The same test runs against the kernel's iptables-legacy first: it is the oracle that the
# invariant holds (and that the traffic is not lost elsewhere).
set -u
. "$(dirname "$0")/../lib/bf.sh"
. "$(dirname "$0")/traffic_lib.sh"
bf_init traffic-at
bf_require_built
bf_require_cmd python3

N=${BF_TR_PACKETS:-20000}
PPS=4000
MIN_REPLACES=300
[ "${BF_QUICK:-0}" = 1 ] && N=8000 && MIN_REPLACES=100

for s in k b; do
	tr_topo "$s" || bf_die "topology $s"
done
bf_daemon_start bs || bf_die "bpfilterd does not start"

ruleset()
{
	cat <<RULES
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp --dport 5001 -j $1
COMMIT
RULES
}

run_side()
{
	local s=$1 py restore sent recv a ap ab bp bb n busy dt pid
	if [ "$s" = k ]; then
		py=tr_py
		restore=bf_kipt_restore
	else
		py=tr_py_shim
		restore=bf_ipt_restore
	fi
	ruleset ACCEPT | $restore "${s}s" || return 1
	$py "${s}s" xt_get "$BF_TMP/$s.a" || return 1
	ruleset DROP | $restore "${s}s" || return 1
	$py "${s}s" xt_get "$BF_TMP/$s.b" || return 1

	ip netns exec "$(bf_ns "${s}s")" python3 -c "$TR_PY" udp_recv 5001 3 >"$BF_TMP/$s.recv" &
	pid=$!
	BF_PIDS+=("$pid")
	tr_wait_ready "$BF_TMP/$s.recv" || return 1
	tr_py "${s}c" udp_send 10.2.0.2 5001 "$N" "$PPS" >"$BF_TMP/$s.sent" &
	BF_PIDS+=("$!")
	$py "${s}s" xt_swap "$BF_TMP/$s.a" "$BF_TMP/$s.b" "$MIN_REPLACES" "$BF_TMP/$s.swap" \
		"$BF_TMP/$s.sent" ||
		return 1
	wait "$pid"
	sent=$(awk '{print $2}' "$BF_TMP/$s.sent")
	recv=$(tail -1 "$BF_TMP/$s.recv")
	read -r ap ab < <(awk '$1 == "a" && $2 == 0 {print $3, $4}' "$BF_TMP/$s.swap")
	read -r bp bb < <(awk '$1 == "b" && $2 == 0 {print $3, $4}' "$BF_TMP/$s.swap")
	n=$(awk '$1 == "replaces" {print $2}' "$BF_TMP/$s.swap")
	busy=$(awk '$1 == "generations_with_packets" {print $2}' "$BF_TMP/$s.swap")
	dt=$(awk '$1 == "seconds" {print $2}' "$BF_TMP/$s.swap")
	local side="bpfilter"
	[ "$s" = k ] && side="kernel"
	echo "     $side: sent $sent, received $recv; $n replaces in $dt s, $busy generations saw" \
		"packets; ACCEPT rule $ap pkts $ab bytes, DROP rule $bp pkts $bb bytes"
	if [ "$((ap + bp))" = "$sent" ] && [ "$sent" = "$N" ]; then
		bf_pass "$side: ACCEPT + DROP rule packets = datagrams sent ($sent)"
	else
		bf_fail "$side: ACCEPT $ap + DROP $bp != sent $sent"
	fi
	# Every datagram is counted with the same length, whichever rule met it.
	if [ "$sent" -gt 0 ] && [ "$(((ab + bb) % sent))" = 0 ] && [ "$ab" = "$((ap * (ab + bb) / sent))" ]; then
		bf_pass "$side: bytes are consistent ($((ab + bb)) = $sent x $(((ab + bb) / sent)))"
	else
		bf_fail "$side: bytes: ACCEPT $ab + DROP $bb for $sent datagrams"
	fi
	if [ "$ap" = "$recv" ]; then
		bf_pass "$side: ACCEPT rule packets = datagrams received ($recv)"
	else
		bf_fail "$side: ACCEPT rule $ap, server received $recv"
	fi
	if [ "$n" -ge "$MIN_REPLACES" ] && [ "$busy" -ge $((MIN_REPLACES / 2)) ] && [ "$ap" -gt 0 ] &&
		[ "$bp" -gt 0 ]; then
		bf_pass "$side: $n replaces under traffic, $busy generations met packets"
	else
		bf_fail "$side: the replaces did not overlap the traffic ($n replaces, $busy busy)"
	fi
}

run_side k
run_side b
bf_done
