#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# addrtype (IPv4 revision 1 as iptables picks it, IPv6) with real packets, against the kernel:
# two identical topologies, k (iptables-legacy / ip6tables-legacy) and b (bpfilterd), each a host
# H (h0: 10.5.0.1/24, 2001:db8:5::1/64; blackhole, unreachable, prohibit, throw and gateway routes)
# and a peer P that sends hand-made packets to H (TCP RSTs: nothing answers them). Rules count
# every --src-type/--dst-type, with ! and --limit-iface-in/out, in INPUT and OUTPUT; the per-rule
# counters must be the kernel's. Then addresses and an interface are added and removed while the
# ruleset is in force and the same packets are sent again: bpfilter must see the change
# (rtnetlink) as the kernel does.
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init lookups_addrtype
bf_require_built
bf_require_cmd python3

PKTSEND=$BF_TOP/tests/tools/pktsend
[ -x "$PKTSEND" ] || bf_die "$PKTSEND is not built"

TYPES4="UNSPEC UNICAST LOCAL BROADCAST ANYCAST MULTICAST BLACKHOLE UNREACHABLE PROHIBIT THROW NAT XRESOLVE"
TYPES6="UNSPEC UNICAST LOCAL ANYCAST MULTICAST UNREACHABLE"

topo()
{
	local s=$1 h=$1h p=$1p
	bf_netns_add "$h" && bf_netns_add "$p" || return 1
	# No background IPv6 traffic during a measurement: MLD reports go out at once (not at a
	# random time up to a second later), no router solicitations.
	local ns k
	for ns in "$h" "$p"; do
		for k in mldv1_unsolicited_report_interval mldv2_unsolicited_report_interval; do
			bf_nsexec "$ns" sysctl -qw net.ipv6.conf.all.$k=0 net.ipv6.conf.default.$k=0
		done
	done
	# No DAD either: a link-local address that ends DAD joins its groups a second later, which
	# could fall into the first round's counted window on one side only.
	bf_ipv6_quiet "$h" "$p" || return 1
	bf_veth "$h" h0 "$p" p0 10.5.0.1/24 10.5.0.2/24 || return 1
	bf_nsexec "$h" ip addr add 2001:db8:5::1/64 dev h0 nodad || return 1
	bf_nsexec "$p" ip addr add 2001:db8:5::2/64 dev p0 nodad || return 1
	bf_nsexec "$h" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.h0.rp_filter=0
	bf_nsexec "$h" ip route add blackhole 10.9.1.0/24
	bf_nsexec "$h" ip route add unreachable 10.9.2.0/24
	bf_nsexec "$h" ip route add prohibit 10.9.3.0/24
	bf_nsexec "$h" ip route add throw 10.9.4.0/24
	bf_nsexec "$h" ip route add 10.9.5.0/24 via 10.5.0.2
	bf_nsexec "$h" ip -6 route add blackhole 2001:db8:91::/48
	bf_nsexec "$h" ip -6 route add unreachable 2001:db8:92::/48
	bf_nsexec "$h" ip -6 route add 2001:db8:95::/48 via 2001:db8:5::2
	# a second interface with its own address: LOCAL on another device
	bf_nsexec "$h" ip link add d0 type veth peer name d1 && bf_nsexec "$h" ip link set d0 up && bf_nsexec "$h" ip link set d1 up &&
		bf_nsexec "$h" ip addr add 10.7.0.1/24 dev d0 || return 1
	# neighbour entries, so that OUTPUT packets leave without ARP/ND traffic
	local pmac
	pmac=$(bf_nsexec "$p" cat /sys/class/net/p0/address)
	bf_nsexec "$h" ip neigh replace 10.5.0.2 lladdr "$pmac" dev h0 nud permanent
	bf_nsexec "$h" ip -6 neigh replace 2001:db8:5::2 lladdr "$pmac" dev h0 nud permanent
}

# Two IPv4 rulesets: a rule without a target is a jump to the next entry, which costs bpfilter a
# tail call, so a chain that every packet walks whole stays under about 28 such rules.
rules4()
{
	echo "*filter"
	local t
	for t in $TYPES4; do
		echo "-A INPUT -m addrtype --src-type $t"
		echo "-A INPUT -m addrtype --dst-type $t"
		echo "-A OUTPUT -m addrtype --src-type $t"
		echo "-A OUTPUT -m addrtype --dst-type $t"
	done
	echo "COMMIT"
}

rules4b()
{
	echo "*filter"
	local t
	for t in LOCAL BROADCAST UNICAST MULTICAST; do
		echo "-A INPUT -m addrtype ! --dst-type $t"
		echo "-A INPUT -m addrtype --dst-type $t --limit-iface-in"
		echo "-A INPUT -m addrtype ! --dst-type $t --limit-iface-in"
		echo "-A INPUT -m addrtype --src-type $t --limit-iface-in"
		echo "-A OUTPUT -m addrtype --src-type $t --limit-iface-out"
		echo "-A OUTPUT -m addrtype ! --dst-type $t --limit-iface-out"
	done
	echo "-A INPUT -m addrtype --src-type UNICAST,LOCAL --dst-type LOCAL,BROADCAST"
	echo "-A INPUT -m addrtype ! --src-type UNICAST --dst-type LOCAL"
	echo "-A INPUT -m addrtype --src-type UNICAST ! --dst-type BROADCAST,MULTICAST"
	echo "COMMIT"
}

rules6()
{
	echo "*filter"
	local t
	for t in $TYPES6; do
		echo "-A INPUT -m addrtype --src-type $t"
		echo "-A INPUT -m addrtype --dst-type $t"
		echo "-A INPUT -m addrtype ! --src-type $t"
		echo "-A OUTPUT -m addrtype --src-type $t"
		echo "-A OUTPUT -m addrtype --dst-type $t"
	done
	echo "-A INPUT -m addrtype --src-type UNICAST,UNREACHABLE"
	echo "-A INPUT -m addrtype --dst-type MULTICAST,LOCAL"
	echo "-A INPUT -m addrtype --dst-type LOCAL,ANYCAST,UNREACHABLE"
	echo "-A INPUT -m addrtype --dst-type MULTICAST --limit-iface-in"
	echo "-A INPUT -m addrtype ! --src-type UNSPEC --limit-iface-in"
	echo "COMMIT"
}

# send SIDE: the same packets on both sides (P -> H at the link layer, H's own packets through
# raw sockets so they cross OUTPUT)
send()
{
	local s=$1 hmac
	hmac=$(bf_nsexec "$s"h cat /sys/class/net/h0/address)
	{
		echo "ns p"
		local src dst
		for src in 10.9.1.1 10.9.2.1 10.9.3.1 10.9.4.1 10.9.5.1 10.5.0.2 10.5.0.255 0.1.2.3 \
			8.8.8.8 10.6.0.9 10.7.0.9; do
			echo "ip via=packet dev=p0 dmac=$hmac src=$src dst=10.5.0.1 proto=tcp sport=1 dport=9 flags=R"
		done
		for dst in 10.5.0.1 10.5.0.255 255.255.255.255 224.0.0.1 10.7.0.1 10.7.0.255 10.6.0.1 \
			10.6.0.255; do
			echo "ip via=packet dev=p0 dmac=$hmac src=10.5.0.2 dst=$dst proto=tcp sport=1 dport=9 flags=R"
		done
		for src in 2001:db8:5::2 fe80::2 :: 2001:db8:91::1 2001:db8:92::1 2001:db8:95::1 \
			2001:db8:99::1 2001:db8:5:: 2001:db8:6::9; do
			echo "ip6 via=packet dev=p0 dmac=$hmac src=$src dst=2001:db8:5::1 proto=tcp sport=1 dport=9 flags=R"
		done
		for dst in 2001:db8:5::1 ff02::1 2001:db8:6::1; do
			echo "ip6 via=packet dev=p0 dmac=$hmac src=2001:db8:5::2 dst=$dst proto=tcp sport=1 dport=9 flags=R"
		done
		echo "ns h"
		for src in 10.5.0.1 10.9.1.1 10.9.5.1 10.7.0.1 10.6.0.1 0.0.0.0; do
			for dst in 10.5.0.2 10.9.5.1; do
				echo "ip via=hdrincl src=$src dst=$dst proto=tcp sport=1 dport=9 flags=R"
			done
		done
		for src in 2001:db8:5::1 2001:db8:91::1 2001:db8:6::1; do
			echo "ip6 via=hdrincl src=$src dst=2001:db8:5::2 proto=tcp sport=1 dport=9 flags=R"
		done
	} | "$PKTSEND" --ns p="$(bf_ns "$s"p)" --ns h="$(bf_ns "$s"h)" --settle 200 - >/dev/null ||
		bf_fail "pktsend on side $s"
}

# One round: both IPv4 rulesets in turn, with the IPv6 one, the same packets each time.
round()
{
	local r
	for r in rules4 rules4b; do
		$r | bf_cmp kh bh ipt_restore
		rules6 | bf_cmp kh bh ip6t_restore
		send k
		send b
		bf_cmp_state kh bh 4
		bf_cmp_state kh bh 6
	done
}

topo k || bf_die "topology k"
topo b || bf_die "topology b"
bf_mld_settle kh bh kp bp || bf_die "MLD"
# shellcheck disable=SC2086 # BF_LOOKUPS_DAEMON_ARGS: lookups_addrtype_xdp.sh sets --xdp
bf_daemon_start bh ${BF_LOOKUPS_DAEMON_ARGS:-} || bf_die "daemon"

# refused by checkentry, as the kernel does
bf_cmp kh bh ipt -A INPUT -m addrtype --dst-type LOCAL --limit-iface-out
bf_cmp kh bh ipt -A OUTPUT -m addrtype --dst-type LOCAL --limit-iface-in
bf_cmp kh bh ip6t -A INPUT -m addrtype --dst-type BROADCAST
bf_cmp kh bh ip6t -A INPUT -m addrtype --dst-type BLACKHOLE
bf_cmp kh bh ip6t -A INPUT -m addrtype --dst-type PROHIBIT

round

# Addresses added while the ruleset is in force: 10.6.0.1/24 and 2001:db8:6::1/64 on h0,
# 10.7.0.1 moved to h0; then sent again.
for s in k b; do
	bf_nsexec "$s"h ip addr add 10.6.0.1/24 dev h0
	bf_nsexec "$s"h ip addr add 2001:db8:6::1/64 dev h0 nodad
	bf_nsexec "$s"h ip addr del 10.7.0.1/24 dev d0
	bf_nsexec "$s"h ip addr add 10.7.0.1/24 dev h0
done
sleep 1
# the new IPv6 address joins its solicited-node group: its MLD reports leave from OUTPUT
bf_mld_settle kh bh || bf_die "MLD"
round

# ... and removed again, with the second interface; a blackhole route in their place.
for s in k b; do
	bf_nsexec "$s"h ip addr del 10.6.0.1/24 dev h0
	bf_nsexec "$s"h ip addr del 2001:db8:6::1/64 dev h0
	bf_nsexec "$s"h ip link del d0
	bf_nsexec "$s"h ip route add blackhole 10.6.0.0/24
done
sleep 1
bf_mld_settle kh bh || bf_die "MLD"
round

bf_done
