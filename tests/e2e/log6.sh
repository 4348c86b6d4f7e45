#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# LOG for IPv6 with real traffic, against the kernel's ip6tables-legacy: the same rules (prefixes
# differing only in a k/b tag) in two identical topologies with fixed MAC addresses, the same
# deterministic probes (fixed ports, sequence numbers, no automatic flow labels): a TCP SYN with
# options, UDP datagrams with hop-by-hop and destination options headers, a fragmented datagram,
# an echo request, and the ICMPv6 port unreachable a closed port sends back (quoted packet). The
# lines the kernel prints and the lines bpfilterd writes to /dev/kmsg must be identical apart
# from the tag, the fragment identification and the timestamps. As log.sh, nf_log_all_netns is
# set to 1 for the test and restored.
#
#   SIDEc c0 fd00:1::2/64 ---- r0 fd00:1::1/64  SIDEr  r1 fd00:2::1/64 ---- s0 fd00:2::2/64 SIDEs
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init log6
bf_require_built
bf_require_cmd python3 dmesg ip6tables-legacy

# Shared with the tests beside it, restored by the last one (bf.sh); bf_cleanup keeps the
# test's exit status (a trap running a command before it used to make every run pass).
bf_log_all_netns_hold || bf_die "cannot set nf_log_all_netns"
TAG="bfl6$$"

read -r -d '' LG_PY <<'EOF'
import socket, struct, sys, time
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff
def udp(ip, port, sport, opt="", size="20"):
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.bind(("::", int(sport)))
    if opt == "dst":  # IPV6_DSTOPTS: one PadN option
        u.setsockopt(socket.IPPROTO_IPV6, 59, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
    if opt == "hbh":  # IPV6_HOPOPTS
        u.setsockopt(socket.IPPROTO_IPV6, 54, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
    u.sendto(bytes(i & 0xff for i in range(int(size))), (ip, int(port)))
def syn(src, ip, port, sport, seq):
    r = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_TCP)
    sa = socket.inet_pton(socket.AF_INET6, src); da = socket.inet_pton(socket.AF_INET6, ip)
    opts = bytes([2, 4, 5, 0xa0, 1, 1, 4, 2])  # MSS 1440, NOP, NOP, SACK permitted
    th = struct.pack("!HHIIBBHHH", int(sport), int(port), int(seq), 0, 7 << 4, 0xc2, 1024, 0, 0) + opts
    c = csum(sa + da + struct.pack("!IxxxB", len(th), 6) + th)
    th = th[:16] + struct.pack("!H", c) + th[18:]
    r.sendto(th, (ip, 0))
def ping(ip, ident, seq):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.sendto(struct.pack("!BBHHH", 128, 0, 0, int(ident), int(seq)) + bytes(16), (ip, 0))
    time.sleep(0.2)
globals()[sys.argv[1]](*sys.argv[2:])
EOF

lg()
{
	local ns=$1
	shift
	bf__own "$ns" || return 1
	ip netns exec "$(bf_ns "$ns")" timeout -k 5 30 python3 -c "$LG_PY" "$@"
}

topo()
{
	local s=$1 ns
	bf_netns_add "${s}c" && bf_netns_add "${s}r" && bf_netns_add "${s}s" || return 1
	for ns in "${s}c" "${s}r" "${s}s"; do
		# Quiet links, and flow labels that do not depend on a per-namespace secret.
		bf_nsexec "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0 \
			net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.default.autoconf=0 net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.auto_flowlabels=0 || return 1
	done
	bf_veth "${s}c" c0 "${s}r" r0 || return 1
	bf_veth "${s}r" r1 "${s}s" s0 || return 1
	bf_nsexec "${s}c" ip link set c0 address 02:00:00:00:0c:00
	bf_nsexec "${s}r" ip link set r0 address 02:00:00:00:0a:00
	bf_nsexec "${s}r" ip link set r1 address 02:00:00:00:0a:01
	bf_nsexec "${s}s" ip link set s0 address 02:00:00:00:05:00
	bf_nsexec "${s}c" ip -6 addr add fd00:1::2/64 dev c0 nodad
	bf_nsexec "${s}r" ip -6 addr add fd00:1::1/64 dev r0 nodad
	bf_nsexec "${s}r" ip -6 addr add fd00:2::1/64 dev r1 nodad
	bf_nsexec "${s}s" ip -6 addr add fd00:2::2/64 dev s0 nodad
	bf_nsexec "${s}c" ip -6 route add default via fd00:1::1 || return 1
	bf_nsexec "${s}s" ip -6 route add default via fd00:2::1 || return 1
	bf_nsexec "${s}r" sysctl -qw net.ipv6.conf.all.forwarding=1 || return 1
}

for s in k b; do
	topo "$s" || bf_die "topology $s"
done
for ns in bs br bc; do
	bf_daemon_start "$ns" || bf_die "bpfilterd does not start in $ns"
done

rules()
{
	local t=$TAG-$1
	cat <<RULES
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -j LOG --log-prefix "$t-a: " --log-level 4 --log-tcp-sequence --log-tcp-options --log-ip-options
-A INPUT -p udp -j LOG --log-prefix "$t-b: " --log-level 6 --log-ip-options
-A INPUT -p udp --dport 5004 -j LOG --log-prefix "$t-i: "
-A INPUT -p ipv6-icmp --icmpv6-type echo-request -j LOG --log-prefix "$t-c: " --log-level 7 --log-macdecode
-A INPUT -p ipv6-icmp --icmpv6-type destination-unreachable -j LOG --log-prefix "$t-h: " --log-ip-options
-A FORWARD -p tcp -j LOG --log-prefix "$t-d: "
-A FORWARD -p udp -j LOG --log-prefix "$t-d: " --log-ip-options
-A FORWARD -p ipv6-icmp --icmpv6-type echo-request -j LOG --log-prefix "$t-d: "
-A FORWARD -p ipv6-icmp --icmpv6-type destination-unreachable -j LOG --log-prefix "$t-d: "
-A OUTPUT -p ipv6-icmp --icmpv6-type echo-request -j LOG --log-prefix "$t-e: " --log-uid
-A OUTPUT -p ipv6-icmp --icmpv6-type destination-unreachable -j LOG --log-prefix "$t-g: "
-A OUTPUT -p udp --dport 9 -j LOG --log-prefix "$t-f: " --log-level 1
COMMIT
RULES
}
for n in s r c; do
	rules k | bf_kip6t_restore "k$n" || bf_fail "kernel rules in k$n"
	rules b | bf_ip6t_restore "b$n" || bf_fail "bpfilter rules in b$n"
done

for s in k b; do
	lg "${s}c" syn fd00:1::2 fd00:2::2 22 42000 1000
	lg "${s}c" udp fd00:2::2 5003 42001
	lg "${s}c" udp fd00:2::2 5004 42003 dst
	lg "${s}c" udp fd00:2::2 5004 42004 hbh
	lg "${s}c" udp fd00:2::2 5004 42005 "" 3000
	lg "${s}c" ping fd00:2::2 77 1
	lg "${s}s" udp fd00:1::2 9 42002
done
sleep 1.5

# The lines of each side, tag removed, fragment ids masked, in order of the rule letter and text.
lines()
{
	dmesg -t | grep -a "$TAG-$1-" | sed -e "s/$TAG-$1-/TAG-/" -e 's/ ID:[0-9a-f]\{8\} / ID:* /g' | sort
}
lines k >"$BF_TMP/k.log"
lines b >"$BF_TMP/b.log"
nk=$(wc -l <"$BF_TMP/k.log")
((nk >= 15)) || bf_fail "the kernel printed only $nk lines"
if diff -u "$BF_TMP/k.log" "$BF_TMP/b.log" >"$BF_TMP/log.diff"; then
	bf_pass "$nk LOG lines identical to the kernel's"
else
	bf_fail "LOG lines differ from the kernel's:"
	sed 's/^/    /' "$BF_TMP/log.diff"
fi
for l in a b c d e f g h i; do
	k=$(grep -c "TAG-$l:" "$BF_TMP/k.log")
	b=$(grep -c "TAG-$l:" "$BF_TMP/b.log")
	((k > 0)) || bf_fail "rule $l: the kernel printed nothing"
	[ "$k" = "$b" ] && bf_pass "rule $l: $b lines on both" || bf_fail "rule $l: bpfilter $b, kernel $k"
done
[ -n "${BF_LOG6_SHOW:-}" ] && cat "$BF_TMP/k.log"
bf_done
