#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# eui64 (ip6t_eui64) with real frames, against the kernel: two identical topologies, k
# (ip6tables-legacy) and b (bpfilterd), a host H and a peer P on a veth with the same MAC
# addresses on both sides. P sends IPv6 packets whose source is or is not the modified EUI-64 of
# its MAC (and of another MAC), whole or as fragments; INPUT counts them with -m eui64; the
# per-rule counters must be the kernel's.
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init lookups_eui64
bf_require_built

PKTSEND=$BF_TOP/tests/tools/pktsend
[ -x "$PKTSEND" ] || bf_die "$PKTSEND is not built"
PMAC=42:01:02:03:04:05
HMAC=42:01:02:03:04:06

topo()
{
	local h=$1h p=$1p ns
	bf_netns_add "$h" && bf_netns_add "$p" || return 1
	for ns in "$h" "$p"; do
		bf_nsexec "$ns" sysctl -qw net.ipv6.conf.all.mldv2_unsolicited_report_interval=0 \
			net.ipv6.conf.default.mldv2_unsolicited_report_interval=0 \
			net.ipv6.conf.all.router_solicitations=0 \
			net.ipv6.conf.default.router_solicitations=0
	done
	bf_veth "$h" h0 "$p" p0 || return 1
	bf_nsexec "$h" ip link set h0 address $HMAC
	bf_nsexec "$p" ip link set p0 address $PMAC
	bf_nsexec "$h" ip addr add 2001:db8:5::1/64 dev h0 nodad || return 1
	bf_nsexec "$p" ip addr add 2001:db8:5::2/64 dev p0 nodad || return 1
}

send()
{
	local s=$1 src
	{
		echo "ns p"
		# 42:01:02:03:04:05 -> 4001:2ff:fe03:405
		for src in 2001:db8:5:0:4001:2ff:fe03:405 fe80::4001:2ff:fe03:405 \
			2001:db8:5:0:4201:2ff:fe03:405 2001:db8:5:0:4001:2ff:fe03:406 \
			2001:db8:5::2; do
			echo "ip6 via=packet dev=p0 dmac=$HMAC src=$src dst=2001:db8:5::1 proto=tcp sport=1 dport=9 flags=R"
			echo "ip6 via=packet dev=p0 dmac=$HMAC src=$src dst=2001:db8:5::1 proto=udp sport=1 dport=9 ext=frag:0:1:7 payload=16"
			echo "ip6 via=packet dev=p0 dmac=$HMAC src=$src dst=2001:db8:5::1 proto=udp sport=1 dport=9 ext=frag:2:0:7 payload=16"
		done
	} | "$PKTSEND" --ns p="$(bf_ns "$s"p)" --settle 200 - >/dev/null || bf_fail "pktsend on side $s"
}

topo k || bf_die "topology k"
topo b || bf_die "topology b"
bf_mld_settle kh bh kp bp || bf_die "MLD"
bf_daemon_start bh || bf_die "daemon"

bf_cmp kh bh ip6t_restore <<'EOF2'
*filter
-A INPUT -m eui64
-A INPUT -p tcp -m eui64
-A INPUT -s 2001:db8:5::/64 -m eui64
-A INPUT -m frag --fragid 7 -m eui64
COMMIT
EOF2
# hooks: PREROUTING, INPUT, FORWARD only
bf_cmp kh bh ip6t -A OUTPUT -m eui64
sleep 0.5
send k
send b
bf_cmp_state kh bh 6
c=$(bf_kip6t kh -L INPUT -v -n -x | awk '$0 ~ /eui64/ {print $1; exit}')
if [ "${c:-0}" -gt 0 ]; then
	bf_pass "the kernel counted $c packets with an EUI-64 source"
else
	bf_fail "the kernel counted no packet with an EUI-64 source"
fi

bf_done
