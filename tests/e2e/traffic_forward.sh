#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# FORWARD with real traffic: FORWARD rules on the router filter what it forwards between client
# and server, and not the router's own traffic (which meets OUTPUT/INPUT). Outcomes and every
# counter of `iptables -L -v -n -x` on the router are compared with the kernel's iptables-legacy in
# an identical topology (see traffic_lib.sh). BF_TR_DAEMON_ARGS goes to bpfilterd.
set -u
. "$(dirname "$0")/../lib/bf.sh"
. "$(dirname "$0")/traffic_lib.sh"
bf_init traffic-fw
bf_require_built
bf_require_cmd python3 ss
read -r -a dargs <<<"${BF_TR_DAEMON_ARGS:-}"

for s in k b; do
	tr_topo "$s" || bf_die "topology $s"
	tr_bg "${s}s" tcp_listen 22 80
done
for s in k b; do
	tr_wait_listen "${s}s" 22 && tr_wait_listen "${s}s" 80 || bf_die "listeners"
done
bf_daemon_start br "${dargs[@]}" || bf_die "bpfilterd does not start"

# Run "$@" on side k and side b (namespace suffix given as the first argument).
both()
{
	local what=$1 ns=$2 k b
	shift 2
	k=$(tr_py "k$ns" "$@")
	b=$(tr_py "b$ns" "$@")
	if [ "$k" = "$b" ]; then
		bf_pass "$what: $b (kernel: $k)"
	else
		bf_fail "$what: bpfilter $b, kernel $k"
	fi
	TR_K=$k
}

# UDP to the server from NS (c: client, forwarded; r: the router itself): how many arrive.
udp_through()
{
	local what=$1 from=$2 s k b
	for s in k b; do
		# A fresh file: a stale "ready" would let the sender start before the bind.
		rm -f "$BF_TMP/recv.$s"
		ip netns exec "$(bf_ns "${s}s")" python3 -c "$TR_PY" udp_recv 5001 1.5 \
			>"$BF_TMP/recv.$s" &
		BF_PIDS+=("$!")
		eval "pid_$s=$!"
	done
	tr_wait_ready "$BF_TMP/recv.k" && tr_wait_ready "$BF_TMP/recv.b" || bf_die "udp receivers"
	tr_py "k$from" udp_send 10.2.0.2 5001 10 >/dev/null
	tr_py "b$from" udp_send 10.2.0.2 5001 10 >/dev/null
	# shellcheck disable=SC2154
	wait "$pid_k" "$pid_b"
	k=$(tail -1 "$BF_TMP/recv.k")
	b=$(tail -1 "$BF_TMP/recv.b")
	if [ "$k" = "$b" ]; then
		bf_pass "$what: $b of 10 datagrams arrive (kernel: $k)"
	else
		bf_fail "$what: $b of 10 datagrams arrive, kernel: $k"
	fi
	TR_K=$k
}

bf_cmp kr br ipt_restore <<'RULES'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p icmp -j ACCEPT
-A FORWARD -p udp --dport 5001 -j DROP
-A FORWARD -p icmp -j ACCEPT
-A FORWARD -i r0 -o r1 -p tcp --dport 80 -j ACCEPT
-A FORWARD -p tcp --dport 22 -j DROP
-A FORWARD -i r1 -o r0 -p tcp -j ACCEPT
-A OUTPUT -p udp --dport 5001 -j ACCEPT
-A OUTPUT -o r1 -p icmp -j ACCEPT
COMMIT
RULES

udp_through "udp client -> server (FORWARD drops)" c
[ "$TR_K" = 0 ] || bf_fail "the kernel reference forwards udp :5001 ($TR_K)"
udp_through "udp router -> server (its own traffic: OUTPUT, not FORWARD)" r
[ "$TR_K" = 10 ] || bf_fail "the kernel reference drops the router's own udp ($TR_K)"
both "forwarded connect to :22" c connect 10.2.0.2 22
[ "$TR_K" = timeout ] || bf_fail "the kernel reference forwards :22 ($TR_K)"
both "forwarded connect to :80" c connect 10.2.0.2 80
[ "$TR_K" = open ] || bf_fail "the kernel reference drops :80 ($TR_K)"
both "the router's own connect to :22" r connect 10.2.0.2 22
[ "$TR_K" = open ] || bf_fail "the kernel reference drops the router's own :22 ($TR_K)"
both "forwarded ping" c ping 10.2.0.2 3
both "the router's own ping" r ping 10.2.0.2 2

bf_cmp kr br ipt -L -v -n -x
bf_cmp kr br ipt_save -c
bf_done
