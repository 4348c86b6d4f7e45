#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The rtnetlink watch with real traffic: an interface that appears after bpfilterd started gets
# its dispatchers, a rename is seen by -i matches, a removed interface is no trouble, and a local
# address added later is INPUT (the local route map follows the kernel's local table). Outcomes
# and counters are compared with the kernel's iptables-legacy in an identical topology.
set -u
. "$(dirname "$0")/../lib/bf.sh"
. "$(dirname "$0")/traffic_lib.sh"
bf_init traffic-if
bf_require_built
bf_require_cmd python3 tc

for s in k b; do
	tr_topo "$s" || bf_die "topology $s"
done
bf_daemon_start bs || bf_die "bpfilterd does not start"

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

bf_cmp ks bs ipt_restore <<'RULES'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i s9x -p icmp -j DROP
-A INPUT -i s9 -p icmp -j ACCEPT
-A INPUT -d 10.2.0.77 -p icmp -j ACCEPT
-A INPUT -i s0 -p icmp -j ACCEPT
-A OUTPUT -o s9 -j ACCEPT
-A OUTPUT -o s9x -j ACCEPT
COMMIT
RULES

for s in k b; do
	bf_veth "${s}c" c9 "${s}s" s9 10.3.0.2/24 10.3.0.1/24 || bf_die "new veth on $s"
done
t0=$(date +%s%N)
for ((i = 0; i < 100; i++)); do
	bf_nsexec bs tc filter show dev s9 ingress 2>/dev/null | grep -q 'name bf_' && break
	sleep 0.02
done
if bf_nsexec bs tc filter show dev s9 egress | grep -q 'name bf_'; then
	bf_pass "new interface s9: dispatchers attached (seen after $((($(date +%s%N) - t0) / 1000000)) ms)"
else
	bf_fail "new interface s9: no dispatcher"
fi
both "ping over the new interface" ping 10.3.0.1 2
[ "$TR_K" = 2 ] || bf_fail "kernel reference: ping over s9: $TR_K"

for s in k b; do
	bf_nsexec "${s}s" ip link set s9 down
	bf_nsexec "${s}s" ip link set s9 name s9x
	bf_nsexec "${s}s" ip link set s9x up
done
sleep 0.2
both "ping after renaming s9 to s9x (-i s9x drops)" ping 10.3.0.1 2
[ "$TR_K" = 0 ] || bf_fail "kernel reference: ping over s9x: $TR_K"

for s in k b; do
	bf_nsexec "${s}s" ip link del s9x
	bf_nsexec "${s}s" ip addr add 10.2.0.77/32 dev lo
done
sleep 0.2
both "ping to a local address added later" ping 10.2.0.77 3
[ "$TR_K" = 3 ] || bf_fail "kernel reference: ping 10.2.0.77: $TR_K"
both "ping through s0 after the interface went" ping 10.2.0.2 1

bf_cmp ks bs ipt -L -v -n -x
bf_done
