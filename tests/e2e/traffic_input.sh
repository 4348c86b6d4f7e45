#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# INPUT with real traffic: `-A INPUT -p tcp --dport 22 -j DROP` on the server stops a real TCP
# connect to port 22 while port 80 works, and every counter of `iptables -L -v -n -x` equals what
# the kernel's iptables-legacy shows for the same ruleset and traffic in an identical topology
# (see traffic_lib.sh). BF_TR_DAEMON_ARGS (e.g. --xdp, from traffic_xdp.sh) goes to bpfilterd.
set -u
. "$(dirname "$0")/../lib/bf.sh"
. "$(dirname "$0")/traffic_lib.sh"
bf_init traffic-in
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
bf_daemon_start bs "${dargs[@]}" || bf_die "bpfilterd does not start"
if [[ " ${dargs[*]} " == *" --xdp "* ]]; then
	for ifc in lo s0; do
		if bf_nsexec bs ip link show dev "$ifc" | grep -q 'prog/xdp.* name bf_'; then
			bf_pass "--xdp: a bf_ XDP program is attached to $ifc"
		else
			bf_fail "--xdp: no bf_ XDP program on $ifc"
		fi
	done
fi

# Same traffic on both sides; results (connect outcomes, ping replies) must be the kernel's.
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

both "before any rule, connect to :22" connect 10.2.0.2 22
[ "$TR_K" = open ] || bf_fail "the kernel reference cannot reach :22 without rules"

bf_cmp ks bs ipt_restore <<'RULES'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp --dport 22 -j DROP
-A INPUT -p udp --dport 5001 -j DROP
-A INPUT -p icmp --icmp-type echo-request -j ACCEPT
-A INPUT -i s0 -p tcp --syn -j ACCEPT
-A INPUT -i c0 -j DROP
-A OUTPUT -p tcp --tcp-flags SYN,ACK SYN,ACK -j ACCEPT
-A OUTPUT -o s0 -p icmp -j ACCEPT
COMMIT
RULES

both "with the rule, connect to :22" connect 10.2.0.2 22
[ "$TR_K" = timeout ] || bf_fail "the kernel reference does not drop :22 (${TR_K})"
both "with the rule, connect to :80" connect 10.2.0.2 80
[ "$TR_K" = open ] || bf_fail "the kernel reference cannot reach :80 (${TR_K})"
both "connect to :80 again" connect 10.2.0.2 80
both "udp to :5001" udp_send 10.2.0.2 5001 10
both "ping replies" ping 10.2.0.2 3
both "connect to :22 again" connect 10.2.0.2 22

bf_cmp ks bs ipt -L -v -n -x
bf_cmp ks bs ipt_save -c
bf_done
