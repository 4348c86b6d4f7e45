#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# IPv6 connections live on their conntrack entries across ruleset replaces, as in the kernel:
# a long-lived TCP connection (an echo exchange every 50 ms) between a client and a server
# through a router must survive 20 replaces through ip6tables-legacy-restore (the shim for
# bpfilter, the kernel's for the reference), half of them with rulesets that no longer accept
# NEW connections to its port, on both the server (INPUT) and the router (FORWARD). Afterwards a
# new connection to that port is refused while such a ruleset is in force, and accepted again
# with the original one, on both sides; the counters must be the kernel's.
#
#   SIDEc c0 fd00:1::2/64 ---- r0 fd00:1::1/64  SIDEr  r1 fd00:2::1/64 ---- s0 fd00:2::2/64 SIDEs
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init ct6-repl
bf_require_built
bf_require_cmd python3 ss ip6tables-legacy ip6tables-legacy-restore

topo()
{
	local s=$1 ns d
	bf_netns_add "${s}c" && bf_netns_add "${s}r" && bf_netns_add "${s}s" || return 1
	for ns in "${s}c" "${s}r" "${s}s"; do
		bf_nsexec "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0 \
			net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.default.autoconf=0 net.ipv6.conf.all.accept_dad=0 || return 1
	done
	bf_veth "${s}c" c0 "${s}r" r0 || return 1
	bf_veth "${s}r" r1 "${s}s" s0 || return 1
	# No neighbour probes whose number would depend on timing (see ct6_traffic.sh).
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
import socket, struct, sys, time
def serve():
    l = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("::", 7000)); l.listen(4)
    while True:
        c, _ = l.accept()
        while True:
            d = c.recv(4096)
            if not d: break
            c.sendall(d)
        c.close()
def client(ip, n, ready):
    s = socket.create_connection((ip, 7000), timeout=3)
    ok = 0
    open(ready, "w").write("ready\n")
    for i in range(int(n)):
        try:
            s.sendall(b"ping %d\n" % i)
            d = b""
            while not d.endswith(b"\n"):
                c = s.recv(64)
                if not c: raise OSError("closed")
                d += c
            ok += d == b"ping %d\n" % i
        except OSError as e:
            print("error", i, e, flush=True); break
        time.sleep(0.05)
    print(ok, flush=True)
def connect(ip, port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); s.settimeout(0.5)
    try:
        s.connect((ip, int(port)))
    except socket.timeout:
        print("timeout"); return
    except OSError as e:
        print("error-%d" % e.errno); return
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
    print("open")
globals()[sys.argv[1]](*sys.argv[2:])
PYEOF

for s in k b; do
	topo "$s" || bf_die "topology $s"
	bf__own "${s}s" || bf_die "namespace"
	# `ip netns exec` execs python in place: $! is the server itself, which cleanup ends.
	ip netns exec "$(bf_ns "${s}s")" python3 -c "$PY" serve </dev/null >/dev/null 2>&1 &
	BF_PIDS+=("$!")
done
for s in k b; do
	for ((i = 0; i < 50; i++)); do
		bf_nsexec "${s}s" ss -ltnH "sport = :7000" | grep -q LISTEN && break
		sleep 0.1
	done
done
sleep 2
bf_daemon_start br || bf_die "bpfilterd does not start (router)"
bf_daemon_start bs || bf_die "bpfilterd does not start (server)"

# $1 non-empty: NEW connections to :7000 are accepted.
server_rules()
{
	cat <<RULES
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -p ipv6-icmp -j ACCEPT
${1:+-A INPUT -p tcp --dport 7000 -m conntrack --ctstate NEW -j ACCEPT}
COMMIT
RULES
}

router_rules()
{
	cat <<RULES
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A FORWARD -m conntrack --ctstate INVALID -j DROP
-A FORWARD -p ipv6-icmp -j ACCEPT
${1:+-A FORWARD -p tcp --dport 7000 -m conntrack --ctstate NEW -j ACCEPT}
COMMIT
RULES
}

server_rules 1 | bf_cmp ks bs ip6t_restore
router_rules 1 | bf_cmp kr br ip6t_restore

long_lived()
{
	local s=$1 restore=$2 out=$BF_TMP/$1.echo ready=$BF_TMP/$1.ready pid i
	bf__own "${s}c" || return 1
	ip netns exec "$(bf_ns "${s}c")" timeout 120 python3 -c "$PY" client fd00:2::2 200 \
		"$ready" >"$out" </dev/null &
	pid=$!
	BF_PIDS+=("$pid")
	for ((i = 0; i < 100; i++)); do
		grep -q ready "$ready" 2>/dev/null && break
		sleep 0.05
	done
	for ((i = 0; i < 20; i++)); do
		if ((i % 2)); then
			server_rules 1 | $restore "${s}s" || return 1
			router_rules 1 | $restore "${s}r" || return 1
		else
			server_rules | $restore "${s}s" || return 1
			router_rules | $restore "${s}r" || return 1
		fi
		sleep 0.2
	done
	wait "$pid"
	cat "$out"
}

k=$(long_lived k bf_kip6t_restore)
b=$(long_lived b bf_ip6t_restore)
if [ "$k" = 200 ] && [ "$b" = 200 ]; then
	bf_pass "long-lived IPv6 connection across 20 replaces: 200/200 echoes (kernel: $k)"
else
	bf_fail "long-lived IPv6 connection across 20 replaces: bpfilter '$b', kernel '$k'"
fi

both()
{
	local what=$1 k b
	shift
	k=$(bf_nsexec kc timeout -k 5 30 python3 -c "$PY" "$@")
	b=$(bf_nsexec bc timeout -k 5 30 python3 -c "$PY" "$@")
	[ "$k" = "$b" ] && bf_pass "$what: $b (kernel: $k)" || bf_fail "$what: bpfilter $b, kernel $k"
	TR_K=$k
}
# The last replace put the rulesets that accept NEW back: a new connection works; without them
# it does not (the established one above lived on its entry only).
both "new connection with NEW accepted" connect fd00:2::2 7000
[ "$TR_K" = open ] || bf_fail "the kernel reference: $TR_K"
server_rules | bf_cmp ks bs ip6t_restore
router_rules | bf_cmp kr br ip6t_restore
both "new connection with NEW not accepted" connect fd00:2::2 7000
[ "$TR_K" = timeout ] || bf_fail "the kernel reference: $TR_K"
for pair in "kr br" "ks bs"; do
	# shellcheck disable=SC2086
	bf_cmp $pair ip6t -L -v -n -x
done
bf_done
