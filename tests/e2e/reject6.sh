#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# REJECT for IPv6 with real traffic, against the kernel's ip6tables-legacy (two identical
# topologies: k kernel, b bpfilterd, same names, addresses and MACs):
#
#   SIDEc c0 fd00:1::2/64 ---- r0 fd00:1::1/64  SIDEr  r1 fd00:2::1/64 ---- s0 fd00:2::2/64 SIDEs
#
# The client captures the replies on c0 (AF_PACKET, from the IPv6 header on) and both sides
# must receive the same bytes:
#   INPUT on the server: every --reject-with for UDP probes (ICMPv6 destination unreachable with
#     each code, quoting the datagram; a 1400-byte datagram is quoted up to 1280 bytes of reply),
#     tcp-reset (the RST's bytes for a hand-made SYN with a known sequence number; ECONNREFUSED
#     for connect()), the ICMPv6 default for TCP;
#   FORWARD on the router: the ICMPv6 comes from the router's address, the RST from the server's;
#   OUTPUT on the client: its own UDP socket gets ECONNREFUSED, its TCP connect is refused;
#   no reply where the kernel sends none: an ICMPv6 error and a multicast destination.
# The RST's TCP checksum is compared as "valid" (the kernel's stays CHECKSUM_PARTIAL on a veth:
# the field holds the pseudo-header sum; bpfilter writes the full checksum). The kernel
# rate-limits ICMPv6 errors; bpfilter does not: the kernel sides run with the limits off. Flow
# labels: net.ipv6.auto_flowlabels=0 (the kernel's automatic label is a hash with a boot-time
# secret; bpfilter sends 0).
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init reject6
bf_require_built
bf_require_cmd python3 ss ip6tables-legacy

read -r -d '' RJ_PY <<'EOF'
import os, select, socket, struct, sys, time

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff

def tcp_csum_state(p):
    """valid (full checksum), partial (the pseudo-header sum) or bad."""
    plen = struct.unpack("!H", p[4:6])[0]
    seg = bytearray(p[40:40 + plen])
    ph = p[8:40] + struct.pack("!IxxxB", plen, 6)
    if csum(ph + bytes(seg)) == 0:
        return "valid"
    field = struct.unpack("!H", seg[16:18])[0]
    seg[16:18] = b"\0\0"
    return "partial" if field == (~csum(ph) & 0xffff) else "bad"

def norm(p):
    b = bytearray(p)
    if b[6] == 6 and len(b) >= 60:
        st = tcp_csum_state(p)
        b[56:58] = b"\0\0"
        return b.hex() + " tcp-csum-" + ("ok" if st != "bad" else "bad")
    return b.hex()

def cap():
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x86dd))
    s.bind(("c0", 0))
    return s

def wait(s, match, secs=1.0):
    end = time.monotonic() + secs
    while True:
        left = end - time.monotonic()
        if left <= 0 or not select.select([s], [], [], left)[0]:
            return None
        p, a = s.recvfrom(65535)
        if a[2] == socket.PACKET_OUTGOING:
            continue
        if match(p):
            return p

def icmp_err_for(port):
    def m(p):
        if p[6] != 58 or p[40] >= 128 or len(p) < 48 + 40 + 4:
            return False
        q = p[48:]
        off = 40
        if q[6] in (0, 60):  # one options header before the UDP header
            off += (q[41] + 1) * 8
        return len(q) >= off + 4 and struct.unpack("!H", q[off + 2:off + 4])[0] == int(port)
    return m

def udp_probe(ip, port, sport, size="20", opt=""):
    """A datagram from sport; print the ICMPv6 error that quotes it, from its IPv6 header."""
    c = cap()
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.bind(("::", int(sport)))
    if opt == "dst":  # IPV6_DSTOPTS: one PadN option
        u.setsockopt(socket.IPPROTO_IPV6, 59, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
    if opt == "hbh":  # IPV6_HOPOPTS
        u.setsockopt(socket.IPPROTO_IPV6, 54, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
    u.sendto(bytes(i & 0xff for i in range(int(size))), (ip, int(port)))
    p = wait(c, icmp_err_for(port))
    print(norm(p) if p else "none")

def udp_connected(ip, port):
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.connect((ip, int(port)))
    u.settimeout(1.0)
    try:
        u.send(b"hello")
        sent = "ok"
    except OSError as e:
        sent = "errno-%d" % e.errno
    try:
        u.recv(100)
        got = "data"
    except ConnectionRefusedError:
        got = "refused"
    except socket.timeout:
        got = "timeout"
    except OSError as e:
        got = "errno-%d" % e.errno
    print(sent, got)

def syn_probe(src, ip, port, sport, seq, payload="0", want="rst", opt=""):
    """A hand-made SYN (raw socket) with a known sequence number; print the RST (or the
    ICMPv6 error that quotes it). opt "dst24": behind a 24-byte destination options header."""
    c = cap()
    r = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_TCP)
    if opt == "dst24":  # IPV6_DSTOPTS: one PadN option of 20 bytes
        r.setsockopt(socket.IPPROTO_IPV6, 59, bytes([0, 2, 1, 20]) + bytes(20))
    sa = socket.inet_pton(socket.AF_INET6, src); da = socket.inet_pton(socket.AF_INET6, ip)
    th = struct.pack("!HHIIBBHHH", int(sport), int(port), int(seq), 0, 5 << 4, 2, 1024, 0, 0)
    th += bytes(int(payload))
    k = csum(sa + da + struct.pack("!IxxxB", len(th), 6) + th)
    th = th[:16] + struct.pack("!H", k) + th[18:]
    r.sendto(th, (ip, 0))
    def m(p):
        if p[6] != 6 or len(p) < 60:
            return False
        sp, dp = struct.unpack("!HH", p[40:44])
        return sp == int(port) and dp == int(sport) and p[53] & 4
    def mi(p):
        return p[6] == 58 and p[40] == 1 and len(p) >= 92 and p[54] == 6 and \
            struct.unpack("!H", p[90:92])[0] == int(port)
    p = wait(c, mi if want == "icmp" else m)
    print(norm(p) if p else "none")

def icmp_err_probe(ip, port):
    """An ICMPv6 error (destination unreachable quoting a made-up UDP packet) to a REJECTed
    port: never answered."""
    c = cap()
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    inner = struct.pack("!IHBB", 6 << 28, 8, 17, 64) + socket.inet_pton(socket.AF_INET6, ip) + \
        socket.inet_pton(socket.AF_INET6, "fd00:1::2") + struct.pack("!HHHH", int(port), int(port), 8, 0)
    s.sendto(struct.pack("!BBHI", 1, 4, 0, 0) + inner, (ip, 0))
    p = wait(c, lambda p: p[6] == 58 and p[40] == 1 and p[41] != 4)
    print(norm(p) if p else "none")

def mcast_probe(port):
    """A datagram to ff02::1 on c0: REJECT sends nothing for a multicast destination."""
    c = cap()
    u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex("c0"))
    try:
        u.sendto(b"x" * 20, ("ff02::1", int(port), 0, socket.if_nametoindex("c0")))
    except OSError:
        pass  # the kernel's NF_DROP in OUTPUT fails the call (EPERM); TC cannot
    p = wait(c, icmp_err_for(port))
    print(norm(p) if p else "none")

globals()[sys.argv[1]](*sys.argv[2:])
EOF

rj()
{
	local ns=$1
	shift
	bf__own "$ns" || return 1
	ip netns exec "$(bf_ns "$ns")" timeout -k 5 60 python3 -c "$RJ_PY" "$@"
}

# Same probe from the client of both sides: the outputs must be equal.
both()
{
	local what=$1 k b
	shift
	k=$(rj kc "$@")
	b=$(rj bc "$@")
	if [ "$k" = "$b" ]; then
		bf_pass "$what: ${b:0:60}${b:+...}${b##* }"
	else
		bf_fail "$what: bpfilter and kernel replies differ"
		echo "    kernel:   $k"
		echo "    bpfilter: $b"
	fi
	RJ_K=$k
}

topo()
{
	local s=$1 ns
	bf_netns_add "${s}c" && bf_netns_add "${s}r" && bf_netns_add "${s}s" || return 1
	for ns in "${s}c" "${s}r" "${s}s"; do
		bf_nsexec "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0 \
			net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.default.autoconf=0 net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.auto_flowlabels=0 net.ipv6.icmp.ratelimit=0 \
			net.ipv4.icmp_msgs_per_sec=100000 || return 1
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

listen()
{
	bf__own "$1" || return 1
	ip netns exec "$(bf_ns "$1")" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 80)); s.listen(16)
# never accept: a server that closes sends a FIN racing the RST of the client
while True:
    time.sleep(3600)' &
	BF_PIDS+=("$!")
}

connect()
{
	bf__own "$1" || return 1
	ip netns exec "$(bf_ns "$1")" timeout -k 5 30 python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET6); s.settimeout(1.0)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
    print("open")
except socket.timeout:
    print("timeout")
except ConnectionRefusedError:
    print("refused")
except OSError as e:
    print("error-%d" % e.errno)' "$2" "$3"
}

for s in k b; do
	topo "$s" || bf_die "topology $s"
	listen "${s}s"
done
for ns in bs br bc; do
	bf_daemon_start "$ns" || bf_die "bpfilterd does not start in $ns"
done
for s in k b; do
	for _ in $(seq 50); do
		bf_nsexec "${s}s" ss -ltnH "sport = :80" | grep -q LISTEN && break
		sleep 0.1
	done
done

bf_cmp ks bs ip6t_restore <<'RULES'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp --dport 5000 -j REJECT --reject-with icmp6-no-route
-A INPUT -p udp --dport 5001 -j REJECT --reject-with icmp6-adm-prohibited
-A INPUT -p udp --dport 5002 -j REJECT --reject-with icmp6-addr-unreachable
-A INPUT -p udp --dport 5003 -j REJECT --reject-with icmp6-port-unreachable
-A INPUT -p udp --dport 5004 -j REJECT --reject-with icmp6-policy-fail
-A INPUT -p udp --dport 5005 -j REJECT --reject-with icmp6-reject-route
-A INPUT -p udp --dport 5006 -j REJECT
-A INPUT -p ipv6-icmp --icmpv6-type destination-unreachable -j REJECT
-A INPUT -p tcp --dport 22 -j REJECT --reject-with tcp-reset
-A INPUT -p tcp --dport 23 -j REJECT
COMMIT
RULES
bf_cmp kr br ip6t_restore <<'RULES'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p udp --dport 6000 -j REJECT
-A FORWARD -p tcp --dport 24 -j REJECT --reject-with tcp-reset
COMMIT
RULES
# The client's rules go through the wrappers (compat/iptables/bpfilter-ip6tables*.in, with the
# build's shim), as an installed system runs them; with a LOG rule as well.
for w in bpfilter-ip6tables-restore bpfilter-ip6tables-save; do
	sed -e "s|@SHIM@|$BF_SHIM|g" "$BF_TOP/compat/iptables/$w.in" >"$BF_TMP/$w"
	chmod +x "$BF_TMP/$w"
done
wrap()
{
	local ns=$1
	shift
	bf__own "$ns" || return 1
	ip netns exec "$(bf_ns "$ns")" timeout -k 5 30 env -u LD_PRELOAD BPFILTER_SOCKET="$(bf_sock "$ns")" \
		XTABLES_LOCKFILE="$BF_LOCK" "$@"
}
C_RULES='*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A OUTPUT -p udp -m udp --dport 7000 -j REJECT --reject-with icmp6-port-unreachable
-A OUTPUT -p udp -m udp --dport 7001 -j REJECT --reject-with icmp6-port-unreachable
-A OUTPUT -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset
-A OUTPUT -p tcp -m tcp --dport 26 -j LOG --log-prefix "rj6: " --log-tcp-sequence
COMMIT'
bf_kip6t_restore kc <<<"$C_RULES" || bf_fail "kernel rules in kc"
if wrap bc "$BF_TMP/bpfilter-ip6tables-restore" <<<"$C_RULES"; then
	bf_pass "bpfilter-ip6tables-restore sets REJECT and LOG rules"
else
	bf_fail "bpfilter-ip6tables-restore"
fi
k=$(bf_kip6t_save kc | bf_save_filter)
b=$(wrap bc "$BF_TMP/bpfilter-ip6tables-save" | bf_save_filter)
[ -n "$b" ] && [ "$k" = "$b" ] && bf_pass "bpfilter-ip6tables-save prints the kernel's ruleset" ||
	bf_fail "bpfilter-ip6tables-save:"$'\n'"$b"$'\n'"kernel:"$'\n'"$k"
t=$(ip netns exec "$(bf_ns bc)" cat /proc/net/ip6_tables_names 2>/dev/null)
[ -z "$t" ] && bf_pass "no kernel ip6_tables table in the bpfilter client namespace" ||
	bf_fail "the wrapper reached the kernel's ip6_tables: $t"

# INPUT: every ICMPv6 code, quoting the datagram.
for p in 5000 5001 5002 5003 5004 5005 5006; do
	both "INPUT udp :$p" udp_probe fd00:2::2 "$p" $((41000 + p - 5000))
	[ "$RJ_K" != none ] || bf_fail "the kernel sent no ICMPv6 for :$p"
done
both "INPUT udp :5003, 1400 bytes (quote cut at 1280)" udp_probe fd00:2::2 5003 41100 1400
[ ${#RJ_K} = 2560 ] && bf_pass "the kernel's reply is 1280 bytes" || bf_fail "kernel reply of ${#RJ_K} hex digits"
both "INPUT udp :5003 with a destination options header" udp_probe fd00:2::2 5003 41101 20 dst
[ "$RJ_K" != none ] || bf_fail "the kernel sent no ICMPv6 for the dst-options datagram"
both "INPUT udp :5003 with a hop-by-hop header" udp_probe fd00:2::2 5003 41102 20 hbh
[ "$RJ_K" != none ] || bf_fail "the kernel sent no ICMPv6 for the hop-by-hop datagram"
# Fragments: nf_ip6_checksum cannot verify a fragment's UDP checksum, a non-first fragment has
# no transport header: the kernel answers none of them (no reassembly without conntrack).
both "INPUT udp :5003, 3000 bytes in fragments: no reply" udp_probe fd00:2::2 5003 41103 3000
[ "$RJ_K" = none ] || bf_fail "the kernel answered a fragment"
both "INPUT: no reply to an ICMPv6 error" icmp_err_probe fd00:2::2 5009
[ "$RJ_K" = none ] || bf_fail "the kernel answered an ICMPv6 error"
k=$(connect kc fd00:2::2 22)
b=$(connect bc fd00:2::2 22)
[ "$k" = refused ] && [ "$b" = refused ] && bf_pass "INPUT tcp-reset: connect refused on both" ||
	bf_fail "INPUT tcp-reset: bpfilter $b, kernel $k"
both "INPUT tcp-reset: the RST for a SYN (seq 1000)" syn_probe fd00:1::2 fd00:2::2 22 42000 1000
[ "$RJ_K" != none ] || bf_fail "the kernel sent no RST"
both "INPUT tcp-reset: the RST for a SYN with 10 bytes" syn_probe fd00:1::2 fd00:2::2 22 42001 5000 10
# connect() itself is not compared: an error that arrives while connect() still holds the
# socket lock is only a soft error (TcpExtLockDroppedIcmps), and the reply at TC is fast
# enough to hit that window.
both "INPUT icmp6-port-unreachable for a SYN" syn_probe fd00:1::2 fd00:2::2 23 42002 3000 0 icmp
[ "$RJ_K" != none ] || bf_fail "the kernel sent no ICMPv6 for tcp :23"

# FORWARD: the ICMPv6 comes from the router's address.
both "FORWARD udp :6000 (from the router)" udp_probe fd00:2::2 6000 43000
[ "$RJ_K" != none ] || bf_fail "the kernel router sent no ICMPv6"
both "FORWARD tcp-reset: the RST" syn_probe fd00:1::2 fd00:2::2 24 43001 77
# The RST (60 bytes) is shorter than the SYN's headers when extension headers come first: they
# go before the packet is cut (bpf_skb_change_tail() cannot cut below the transport header
# the sender set).
both "INPUT tcp-reset: the RST for a SYN behind 24 bytes of destination options" \
	syn_probe fd00:1::2 fd00:2::2 22 42003 1000 0 rst dst24
[ "$RJ_K" != none ] || bf_fail "the kernel sent no RST behind destination options"
both "FORWARD tcp-reset: the RST for a SYN behind 24 bytes of destination options" \
	syn_probe fd00:1::2 fd00:2::2 24 43002 78 0 rst dst24
[ "$RJ_K" != none ] || bf_fail "the kernel router sent no RST"
k=$(connect kc fd00:2::2 24)
b=$(connect bc fd00:2::2 24)
[ "$k" = refused ] && [ "$b" = refused ] && bf_pass "FORWARD tcp-reset: refused on both" ||
	bf_fail "FORWARD tcp-reset: bpfilter $b, kernel $k"

# OUTPUT: the reply is for the client itself. The kernel's send() fails with EPERM; at TC it
# cannot (known difference, doc/design.md): the ICMPv6's effect, the next recv(), is compared.
k=$(rj kc udp_connected fd00:2::2 7000)
b=$(rj bc udp_connected fd00:2::2 7000)
[ "${k#* }" = refused ] && [ "${b#* }" = refused ] &&
	bf_pass "OUTPUT udp :7000: recv() refused on both (send: kernel ${k% *}, bpfilter ${b% *})" ||
	bf_fail "OUTPUT udp :7000: bpfilter '$b', kernel '$k'"
both "OUTPUT: no reply to a multicast destination" mcast_probe 7001
[ "$RJ_K" = none ] || bf_fail "the kernel answered a multicast destination"
k=$(connect kc fd00:2::2 25)
b=$(connect bc fd00:2::2 25)
[ "$k" = "$b" ] && bf_pass "OUTPUT tcp-reset: connect $b on both" ||
	bf_fail "OUTPUT tcp-reset: bpfilter $b, kernel $k"

# Not rejected: still works.
k=$(connect kc fd00:2::2 80)
b=$(connect bc fd00:2::2 80)
[ "$k" = open ] && [ "$b" = open ] && bf_pass ":80 still open on both" || bf_fail ":80: bpfilter $b, kernel $k"

# The REJECT rules' counters must be the kernel's. Policy counters are not compared: they count
# neighbour discovery, whose timing differs between the sides; and in OUTPUT the kernel's replies
# to the client's own packets also traverse its OUTPUT chain (out lo), where bpfilter's go
# straight to lo's ingress (known difference, codegen/target/reject6.c).
for c in "ks bs INPUT" "kr br FORWARD" "kc bc OUTPUT"; do
	set -- $c
	k=$(bf_kip6t "$1" -L "$3" -v -n -x | grep REJECT)
	b=$(bf_ip6t "$2" -L "$3" -v -n -x | grep REJECT)
	n=$(grep -c . <<<"$k")
	[ -n "$k" ] && [ "$k" = "$b" ] && bf_pass "$3: the $n REJECT rules count as the kernel's" ||
		bf_fail "$3 REJECT counters: bpfilter"$'\n'"$b"$'\n'"kernel"$'\n'"$k"
done
bf_done
