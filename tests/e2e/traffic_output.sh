#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# OUTPUT with real traffic: OUTPUT rules on the client stop locally generated traffic (TCP, UDP)
# while other traffic flows. Outcomes and every counter of `iptables -L -v -n -x` on the client
# are compared with the kernel's iptables-legacy in an identical topology (see traffic_lib.sh).
# Known difference, not checked: the kernel reports an OUTPUT drop to the sender (sendto() fails
# with EPERM), a TC egress drop is silent.
set -u
. "$(dirname "$0")/../lib/bf.sh"
. "$(dirname "$0")/traffic_lib.sh"
bf_init traffic-out
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
bf_daemon_start bc "${dargs[@]}" || bf_die "bpfilterd does not start"

both()
{
	local what=$1 k b
	shift
	k=$(tr_py kc "$@")
	b=$(tr_py bc "$@")
	if [ "$k" = "$b" ]; then
		bf_pass "$what: $b (kernel: $k)"
	else
		bf_fail "$what: bpfilter $b, kernel $k"
	fi
	TR_K=$k
}

bf_cmp kc bc ipt_restore <<'RULES'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-N out_tcp
-A OUTPUT -p udp --dport 5001 -j DROP
-A OUTPUT -p tcp -j out_tcp
-A OUTPUT -o c0 -p icmp -j ACCEPT
-A out_tcp -p tcp --dport 22 -j DROP
-A out_tcp -p tcp --dport 80 --syn -j RETURN
-A INPUT -p tcp --tcp-flags SYN,ACK SYN,ACK -j ACCEPT
COMMIT
RULES

# What reaches the server of each side.
for s in k b; do
	ip netns exec "$(bf_ns "${s}s")" python3 -c "$TR_PY" udp_recv 5001 1.5 >"$BF_TMP/recv.$s" &
	BF_PIDS+=("$!")
	eval "pid_$s=$!"
done
tr_wait_ready "$BF_TMP/recv.k" && tr_wait_ready "$BF_TMP/recv.b" || bf_die "udp receivers"
tr_py kc udp_send 10.2.0.2 5001 10 >/dev/null
tr_py bc udp_send 10.2.0.2 5001 10 >/dev/null
# shellcheck disable=SC2154
wait "$pid_k" "$pid_b"
k=$(tail -1 "$BF_TMP/recv.k")
b=$(tail -1 "$BF_TMP/recv.b")
[ "$k" = "$b" ] && bf_pass "udp from the client: $b of 10 arrive (kernel: $k)" ||
	bf_fail "udp from the client: $b of 10 arrive, kernel: $k"
[ "$k" = 0 ] || bf_fail "the kernel reference sends udp :5001 ($k)"

both "connect to :22 (OUTPUT drops the SYN)" connect 10.2.0.2 22
[ "$TR_K" = timeout ] || bf_fail "the kernel reference connects to :22 ($TR_K)"
both "connect to :80" connect 10.2.0.2 80
[ "$TR_K" = open ] || bf_fail "the kernel reference cannot connect to :80 ($TR_K)"
both "ping" ping 10.2.0.2 3

bf_cmp kc bc ipt -L -v -n -x
bf_cmp kc bc ipt_save -c
bf_done
