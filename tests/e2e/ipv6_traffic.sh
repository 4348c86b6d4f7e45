#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Real IPv6 traffic through bpfilter, compared with the kernel's ip6tables-legacy. Per side
# (k: kernel, b: bpfilterd), same names and addresses:
#
#   SIDEc c0 fd00:1::2/64 ---- r0 fd00:1::1/64  SIDEr  r1 fd00:2::1/64 ---- s0 fd00:2::2/64 SIDEs
#
# The server has a ufw-like INPUT (policy DROP; ICMPv6 neighbour discovery accepted with
# hl == 255, rt type 0 dropped, echo-request and tcp :80 accepted), the router FORWARD rules
# on addresses, interfaces and protocols, the client OUTPUT rules. Neighbour discovery must keep
# working under the DROP policy (no static neighbours), and every counter of
# `ip6tables -L -v -n -x` and of `ip6tables-save -c` must be the kernel's.
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init ipv6-trf
bf_require_built
bf_require_cmd python3 ss ip6tables-legacy

topo()
{
	local s=$1 ns
	bf_netns_add "${s}c" && bf_netns_add "${s}r" && bf_netns_add "${s}s" || return 1
	for ns in "${s}c" "${s}r" "${s}s"; do
		# Quiet links: no router solicitations, no DAD, no autoconfiguration.
		bf_nsexec "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0 \
			net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.default.autoconf=0 net.ipv6.conf.all.accept_dad=0 || return 1
	done
	bf_veth "${s}c" c0 "${s}r" r0 || return 1
	bf_veth "${s}r" r1 "${s}s" s0 || return 1
	bf_nsexec "${s}c" ip -6 addr add fd00:1::2/64 dev c0 nodad
	bf_nsexec "${s}r" ip -6 addr add fd00:1::1/64 dev r0 nodad
	bf_nsexec "${s}r" ip -6 addr add fd00:2::1/64 dev r1 nodad
	bf_nsexec "${s}s" ip -6 addr add fd00:2::2/64 dev s0 nodad
	bf_nsexec "${s}c" ip -6 route add default via fd00:1::1 || return 1
	bf_nsexec "${s}s" ip -6 route add default via fd00:2::1 || return 1
	bf_nsexec "${s}r" sysctl -qw net.ipv6.conf.all.forwarding=1 || return 1
	# Neighbour entries stay REACHABLE for the whole test: the kernel draws each device's
	# reachable time at random (15-45 s), so a slow run could see an entry go STALE, then
	# DELAY and probe, on one side only, and the NS/NA counts would differ for no fault.
	for dev in "${s}c:c0" "${s}r:r0" "${s}r:r1" "${s}s:s0"; do
		bf_nsexec "${dev%%:*}" sysctl -qw \
			"net.ipv6.neigh.${dev#*:}.base_reachable_time_ms=3600000" || return 1
	done
}

read -r -d '' PY <<'PYEOF'
import os, socket, struct, sys, time
def connect(ip, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); s.settimeout(0.5)
    try:
        s.connect((ip, int(port)))
    except socket.timeout:
        print("timeout"); return
    except ConnectionRefusedError:
        print("refused"); return
    except OSError as e:
        print("error-%d" % e.errno); return
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
    print("open")
def ping(ip, n, size="56"):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    got = 0
    for seq in range(int(n)):
        s.sendto(struct.pack("!BBHHH", 128, 0, 0, os.getpid() & 0xffff, seq) + bytes(int(size)), (ip, 0))
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            s.settimeout(max(0.01, end - time.monotonic()))
            try:
                d = s.recv(65535)
            except socket.timeout:
                break
            if d[0] == 129 and struct.unpack("!H", d[6:8])[0] == seq:
                got += 1; break
    print(got)
def udp(ip, port, n, opt=""):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    if opt == "dst":  # a destination options header with one PadN option
        s.setsockopt(socket.IPPROTO_IPV6, 59, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
    if opt == "hbh":
        s.setsockopt(socket.IPPROTO_IPV6, 54, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
    size = 3000 if opt == "frag" else 100
    for _ in range(int(n)):
        s.sendto(bytes(size), (ip, int(port)))
        time.sleep(0.01)
    print("sent", n)
def listen(*ports):
    ss = []
    for p in ports:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", int(p))); s.listen(64); ss.append(s)
    time.sleep(600)
globals()[sys.argv[1]](*sys.argv[2:])
PYEOF

py() { local ns=$1; shift; bf_nsexec "$ns" timeout -k 5 120 python3 -c "$PY" "$@"; }

for s in k b; do
	topo "$s" || bf_die "topology $s"
	bf__own "${s}s" && ip netns exec "$(bf_ns "${s}s")" python3 -c "$PY" listen 80 22 &
	BF_PIDS+=("$!")
done
for s in k b; do
	for ((i = 0; i < 50; i++)); do
		bf_nsexec "${s}s" ss -ltnH "sport = :80" | grep -q LISTEN && break
		sleep 0.1
	done
done
# Let the links' own start-up chatter (MLD reports) die down before counting anything.
sleep 3
for ns in bc br bs; do
	bf_daemon_start "$ns" || bf_die "bpfilterd does not start in $ns"
done

bf_cmp ks bs ip6t_restore <<'RULES'
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:ufw6-before-input - [0:0]
-A INPUT -j ufw6-before-input
-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT
-A INPUT -p udp -m udp --dport 5001 -j ACCEPT
-A INPUT -m dst --dst-len 8 -j ACCEPT
-A INPUT -m hbh -j ACCEPT
-A INPUT -m frag --fragfirst --fragmore -j ACCEPT
-A INPUT -m frag --fraglast -j ACCEPT
-A INPUT -m ipv6header --header frag --soft -j ACCEPT
-A ufw6-before-input -i lo -j ACCEPT
-A ufw6-before-input -m rt --rt-type 0 -j DROP
-A ufw6-before-input -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-solicitation -m hl --hl-eq 255 -j ACCEPT
-A ufw6-before-input -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-advertisement -m hl --hl-eq 255 -j ACCEPT
-A ufw6-before-input -p ipv6-icmp -m icmp6 --icmpv6-type echo-request -j ACCEPT
-A ufw6-before-input -p ipv6-icmp -m icmp6 --icmpv6-type echo-reply -j ACCEPT
-A ufw6-before-input -p ipv6-icmp -j RETURN
-A ufw6-before-input -s fd00:1::/64 -d fd00:2::2/128 -p udp -m udp --dport 5002 -j DROP
COMMIT
RULES
bf_cmp kr br ip6t_restore <<'RULES'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -i r0 -o r1 -p tcp -m tcp --dport 22 -j DROP
-A FORWARD -s fd00:1::/64 ! -d fd00:3::/64 -p ipv6-icmp -j ACCEPT
-A FORWARD -i r1 -o r0 -p tcp -j ACCEPT
-A FORWARD -p udp -m udp --dport 5002 -j DROP
-A FORWARD ! -p udp -j ACCEPT
-A FORWARD -p all
COMMIT
RULES
bf_cmp kc bc ip6t_restore <<'RULES'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A OUTPUT -o c0 -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-solicitation -j ACCEPT
-A OUTPUT -d fd00:2::2/128 -p tcp -m tcp --dport 22 -j ACCEPT
-A OUTPUT -d fd00:2::/64 -p udp
-A OUTPUT -p ipv6-icmp -m icmp6 --icmpv6-type echo-request -j ACCEPT
COMMIT
RULES

both()
{
	local what=$1 k b
	shift
	k=$(py kc "$@")
	b=$(py bc "$@")
	[ "$k" = "$b" ] && bf_pass "$what: $b (kernel: $k)" || bf_fail "$what: bpfilter $b, kernel $k"
	TR_K=$k
}
both "ping6 the server" ping fd00:2::2 3
[ "$TR_K" = 3 ] || bf_fail "the kernel reference does not answer ping6 ($TR_K)"
both "connect :80" connect fd00:2::2 80
both "connect :22 (dropped in FORWARD)" connect fd00:2::2 22
both "udp :5001" udp fd00:2::2 5001 5
both "udp :5002 (dropped in INPUT/FORWARD)" udp fd00:2::2 5002 5
both "udp :5003 with a destination options header" udp fd00:2::2 5003 4 dst
both "udp :5003 with a hop-by-hop header" udp fd00:2::2 5003 3 hbh
both "ping6 again (neighbour entries in use)" ping fd00:2::2 2
both "ping6 the router" ping fd00:1::1 2
sleep 0.5
# The client's OUTPUT is compared before it sends fragmented datagrams: LOCAL_OUT sees the whole
# datagram (ip6_fragment runs after POST_ROUTING), TC egress sees its fragments (doc/design.md,
# "Fragments"). INPUT and FORWARD see the raw fragments in both (no defragmentation without
# conntrack), so the server's and the router's counters are compared after.
bf_cmp kc bc ip6t -L -v -n -x
both "udp :5004 fragmented (3000 bytes)" udp fd00:2::2 5004 2 frag
sleep 0.5

for pair in "ks bs" "kr br"; do
	# shellcheck disable=SC2086
	bf_cmp $pair ip6t -L -v -n -x
	# shellcheck disable=SC2086
	bf_cmp $pair ip6t_save -c
done
bf_done
