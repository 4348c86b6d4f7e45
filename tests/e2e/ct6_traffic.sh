#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# IPv6 connection tracking with real traffic, against the kernel's ip6tables-legacy (its IPv6
# conntrack is loaded in the reference namespaces by the conntrack rules themselves). Per side
# (k: kernel, b: bpfilterd), same names and addresses:
#
#   SIDEc c0 fd00:1::2/64 ---- r0 fd00:1::1/64  SIDEr  r1 fd00:2::1/64 ---- s0 fd00:2::2/64 SIDEs
#
# Client, router and server are stateful with policy DROP (ufw's before6.rules pattern:
# ESTABLISHED,RELATED accepted, INVALID dropped before ICMPv6 is accepted, so neighbour
# discovery, which the kernel leaves UNTRACKED, keeps working with no static neighbours).
# Real traffic: TCP connect to an allowed and a refused port, a TCP echo exchange with data both
# ways and an orderly close (FIN both ways), a UDP exchange, ping6, UDP to a closed port answered
# by an ICMPv6 port unreachable that must be RELATED on its way back through the router and into
# the client. Then every counter of every table must equal the kernel's.
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init ct6-trf
bf_require_built
bf_require_cmd python3 ss ip6tables-legacy

topo()
{
	local s=$1 ns
	bf_netns_add "${s}c" && bf_netns_add "${s}r" && bf_netns_add "${s}s" || return 1
	for ns in "${s}c" "${s}r" "${s}s"; do
		# Quiet links: no router solicitations, no DAD, no autoconfiguration; ICMPv6 errors
		# not rate-limited.
		bf_nsexec "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0 \
			net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.default.autoconf=0 net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.icmp.ratelimit=0 || return 1
	done
	bf_veth "${s}c" c0 "${s}r" r0 || return 1
	bf_veth "${s}r" r1 "${s}s" s0 || return 1
	# A neighbour entry neither expires nor gets probed (STALE -> DELAY -> PROBE after 5 s
	# without confirmation) during the test: the number of ND packets must not depend on how
	# long each side takes.
	for d in "c:c0" "r:r0" "r:r1" "s:s0"; do
		bf_nsexec "${s}${d%%:*}" sysctl -qw \
			"net.ipv6.neigh.${d#*:}.base_reachable_time_ms=600000" \
			"net.ipv6.neigh.${d#*:}.delay_first_probe_time=600" || return 1
	done
	bf_nsexec "${s}c" ip -6 addr add fd00:1::2/64 dev c0 nodad
	bf_nsexec "${s}r" ip -6 addr add fd00:1::1/64 dev r0 nodad
	bf_nsexec "${s}r" ip -6 addr add fd00:2::1/64 dev r1 nodad
	bf_nsexec "${s}s" ip -6 addr add fd00:2::2/64 dev s0 nodad
	bf_nsexec "${s}c" ip -6 route add default via fd00:1::1 || return 1
	bf_nsexec "${s}s" ip -6 route add default via fd00:2::1 || return 1
	bf_nsexec "${s}r" sysctl -qw net.ipv6.conf.all.forwarding=1 || return 1
}

read -r -d '' PY <<'PYEOF'
import errno, os, socket, struct, sys, time
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
def echo(ip, n):
    """n request/response exchanges, then an orderly close: prints the good echoes and 'eof'
    once the server's FIN arrived."""
    s = socket.create_connection((ip, 7000), timeout=3)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ok = 0
    for i in range(int(n)):
        m = b"line %d\n" % i
        s.sendall(m)
        d = b""
        while not d.endswith(b"\n"):
            c = s.recv(64)
            if not c: break
            d += c
        ok += d == m
        time.sleep(0.05)
    s.shutdown(socket.SHUT_WR)
    rest = s.recv(64)
    s.close()
    time.sleep(0.2)
    print(ok, "eof" if rest == b"" else "no-eof")
def serve_echo():
    l = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("::", 7000)); l.listen(4)
    while True:
        c, _ = l.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            d = c.recv(4096)
            if not d: break
            c.sendall(d)
        c.close()
def serve_udp():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::", 5001))
    while True:
        d, a = s.recvfrom(4096)
        s.sendto(d, a)
def udp_echo(ip, n):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.settimeout(1.0)
    got = 0
    for i in range(int(n)):
        s.sendto(b"x" * 100, (ip, 5001))
        try:
            got += len(s.recv(4096)) == 100
        except socket.timeout:
            pass
    print(got)
def udp_closed(ip, port, n):
    """datagrams to a closed port: prints how many ICMPv6 port unreachable came back (each one
    shows as ECONNREFUSED on the next operation of a connected socket)."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.connect((ip, int(port)))
    s.settimeout(0.5)
    refused = 0
    for i in range(int(n)):
        s.send(b"y" * 100)
        try:
            s.recv(64)
        except ConnectionRefusedError:
            refused += 1
        except socket.timeout:
            pass
    print(refused)
def udp_err(ip, port, n, hops):
    """datagrams with a hop limit: prints the error each one brought back (IPV6_RECVERR, so
    the non-fatal no route and time exceeded are reported too), or 'none'."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.connect((ip, int(port)))
    s.setsockopt(socket.IPPROTO_IPV6, 25, 1)  # IPV6_RECVERR
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, int(hops))
    s.settimeout(0.5)
    out = []
    for i in range(int(n)):
        s.send(b"z" * 60)
        try:
            s.recv(64); out.append("data")
        except socket.timeout:
            out.append("none")
        except OSError as e:
            out.append(errno.errorcode.get(e.errno, str(e.errno)))
    print(" ".join(out))
def ping(ip, n):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    got = 0
    for seq in range(int(n)):
        s.sendto(struct.pack("!BBHHH", 128, 0, 0, os.getpid() & 0xffff, seq) + bytes(56), (ip, 0))
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
bg()
{
	local ns=$1
	shift
	bf__own "$ns" || return 1
	# `ip netns exec` execs python in place: $! is the server itself, which cleanup ends.
	ip netns exec "$(bf_ns "$ns")" python3 -c "$PY" "$@" </dev/null >/dev/null 2>&1 &
	BF_PIDS+=("$!")
}

for s in k b; do
	topo "$s" || bf_die "topology $s"
	bg "${s}s" listen 80 81
	bg "${s}s" serve_echo
	bg "${s}s" serve_udp
done
for s in k b; do
	for p in 80 7000; do
		for ((i = 0; i < 50; i++)); do
			bf_nsexec "${s}s" ss -ltnH "sport = :$p" | grep -q LISTEN && break
			sleep 0.1
		done
	done
done
# Let the links' own start-up chatter (MLD reports) die down before counting anything.
sleep 3
for ns in bc br bs; do
	bf_daemon_start "$ns" || bf_die "bpfilterd does not start in $ns"
done

# The server: ufw's before6.rules pattern, then its services.
bf_cmp ks bs ip6t_restore <<'RULES'
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT DROP [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m rt --rt-type 0 -j DROP
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-solicitation -m hl --hl-eq 255 -j ACCEPT
-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-advertisement -m hl --hl-eq 255 -j ACCEPT
-A INPUT -p ipv6-icmp -m icmp6 --icmpv6-type echo-request -j ACCEPT
-A INPUT -p tcp -m tcp --dport 80 -m conntrack --ctstate NEW -j ACCEPT
-A INPUT -p tcp -m tcp --dport 7000 -m conntrack --ctstate NEW --ctorigsrc fd00:1::/64 -j ACCEPT
-A INPUT -p udp -m state --state NEW -j ACCEPT
-A OUTPUT -o lo -j ACCEPT
-A OUTPUT -m state --state ESTABLISHED,RELATED -j ACCEPT
-A OUTPUT -m conntrack --ctstate UNTRACKED -j ACCEPT
-A OUTPUT -m conntrack --ctstate INVALID -j DROP
-A OUTPUT -m conntrack --ctstate NEW --ctdir ORIGINAL -j ACCEPT
COMMIT
RULES
# The router: FORWARD is stateful, with the other conntrack options.
bf_cmp kr br ip6t_restore <<'RULES'
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate RELATED -p ipv6-icmp -j ACCEPT
-A FORWARD -m conntrack --ctstate ESTABLISHED --ctdir REPLY --ctstatus SEEN_REPLY -j ACCEPT
-A FORWARD -m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL --ctorigsrc fd00:1::/64 --ctrepldst fd00:1::2 -j ACCEPT
-A FORWARD -m conntrack --ctstate ESTABLISHED -j ACCEPT
-A FORWARD -m conntrack --ctstate INVALID -j DROP
-A FORWARD -p tcp -m conntrack --ctstate NEW --ctorigsrcport 1024:65535 --ctreplsrcport 80 --ctrepldstport 1024:65535 --ctorigdstport 80 -j ACCEPT
-A FORWARD -p tcp -m conntrack --ctstate NEW --ctproto tcp --ctorigdstport 80 -j ACCEPT
-A FORWARD -p tcp -m conntrack --ctstate NEW --ctorigdst fd00:2::2 --ctorigdstport 7000 -j ACCEPT
-A FORWARD -p udp -m conntrack --ctstate NEW --ctproto udp --ctreplsrc fd00:2::/64 -j ACCEPT
-A FORWARD -p ipv6-icmp -m conntrack --ctstate NEW --ctexpire 0:10 -j ACCEPT
-A OUTPUT -p ipv6-icmp -m conntrack --ctstate RELATED --ctdir REPLY
-A OUTPUT -p ipv6-icmp -m conntrack --ctstate RELATED --ctdir ORIGINAL
-A OUTPUT -p ipv6-icmp -m conntrack --ctstate RELATED --ctstatus CONFIRMED
-A OUTPUT -p ipv6-icmp -m conntrack --ctstate RELATED --ctproto udp --ctorigdst fd00:99::7
-A OUTPUT -p ipv6-icmp -m conntrack --ctstate RELATED --ctproto udp --ctorigdst fd00:2::2
-A OUTPUT -p ipv6-icmp -m conntrack --ctstate INVALID
-A OUTPUT -p ipv6-icmp -m conntrack --ctstate NEW
COMMIT
RULES
# The client: stateful INPUT, everything out.
bf_cmp kc bc ip6t_restore <<'RULES'
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -p ipv6-icmp -j ACCEPT
-A OUTPUT -m conntrack --ctstate NEW -j ACCEPT
-A OUTPUT -m conntrack --ctstate UNTRACKED -j ACCEPT
-A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED
-A OUTPUT -m state --state INVALID,UNTRACKED
-A OUTPUT -m conntrack ! --ctstate NEW,ESTABLISHED,RELATED
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
both "ping6 the server (neighbour discovery under DROP, echo NEW then ESTABLISHED)" ping fd00:2::2 3
[ "$TR_K" = 3 ] || bf_fail "the kernel reference does not answer ping6 ($TR_K)"
both "connect :80 (NEW allowed)" connect fd00:2::2 80
[ "$TR_K" = open ] || bf_fail "the kernel reference cannot reach :80 ($TR_K)"
both "connect :81 (NEW not allowed)" connect fd00:2::2 81
[ "$TR_K" = timeout ] || bf_fail "the kernel reference reaches :81 ($TR_K)"
both "tcp echo: data both ways, FIN both ways" echo fd00:2::2 5
[ "$TR_K" = "5 eof" ] || bf_fail "the kernel reference: tcp echo ($TR_K)"
both "udp exchange (reply ESTABLISHED)" udp_echo fd00:2::2 4
[ "$TR_K" = 4 ] || bf_fail "the kernel reference: udp exchange ($TR_K)"
both "udp to a closed port (ICMPv6 port unreachable RELATED)" udp_closed fd00:2::2 5009 3
[ "$TR_K" = 3 ] || bf_fail "the kernel reference: port unreachable ($TR_K)"
# The router's own ICMPv6 errors meet its OUTPUT RELATED to the packet they answer, in the
# reply direction, with its unconfirmed connection (nf_ct_attach in icmpv6_send): no route
# (ip6_pkt_drop, before any filter hook, whatever the hop limit) and a hop limit that expires
# (ip6_forward's time exceeded, before FORWARD).
both "udp to a network without a route (the router's no route)" udp_err fd00:99::7 9 2 64
[ "$TR_K" = "ENETUNREACH ENETUNREACH" ] || bf_fail "the kernel reference: no route ($TR_K)"
both "udp without a route and hop limit 1 (still no route)" udp_err fd00:99::7 9 1 1
both "udp with hop limit 1 (the router's time exceeded)" udp_err fd00:2::2 5001 2 1
[ "$TR_K" = "EHOSTUNREACH EHOSTUNREACH" ] || bf_fail "the kernel reference: time exceeded ($TR_K)"
both "ping6 again" ping fd00:2::2 2
both "connect :80 again" connect fd00:2::2 80
sleep 0.5

# The scenario must exercise what it claims: in the kernel reference, the RELATED rule of the
# router, the UNTRACKED (neighbour discovery) rule of the server's OUTPUT and the ESTABLISHED
# rules counted packets (the equality with bpfilter is checked below).
exercised()
{
	local ns=$1 rule=$2 n
	n=$(bf_kip6t_save "$ns" -c | grep -F -- "$rule" | sed -n 's/^\[\([0-9]*\):.*/\1/p' | head -1)
	if [ "${n:-0}" -gt 0 ]; then
		bf_pass "kernel reference: $n packets on '$rule' in $ns"
	else
		bf_fail "kernel reference: no packet on '$rule' in $ns"
	fi
}
exercised kr "-A FORWARD -p ipv6-icmp -m conntrack --ctstate RELATED -j ACCEPT"
exercised ks "-A OUTPUT -m conntrack --ctstate UNTRACKED -j ACCEPT"
exercised kc "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
exercised kr "--ctstate ESTABLISHED --ctstatus SEEN_REPLY --ctdir REPLY -j ACCEPT"
exercised kr "-A OUTPUT -p ipv6-icmp -m conntrack --ctstate RELATED --ctdir REPLY"
exercised kr "--ctstate RELATED --ctproto 17 --ctorigdst fd00:99::7"

for pair in "kc bc" "kr br" "ks bs"; do
	# shellcheck disable=SC2086
	bf_cmp $pair ip6t -L -v -n -x
	# shellcheck disable=SC2086
	bf_cmp $pair ip6t_save -c
done
echo "bpfilter's counters (router):"
bf_ip6t_save br -c | grep '^\[' | sed 's/^/    /'
bf_done
