#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Connection tracking with real traffic, against the kernel (its conntrack is loaded in the
# reference namespaces by the conntrack rules themselves). Topology of traffic_lib.sh: client ->
# router (FORWARD) -> server (INPUT/OUTPUT), both stateful with policy DROP:
#	ESTABLISHED,RELATED accept, INVALID drop, NEW only for tcp :80 / :7000, udp :5001, ping.
# Real connections (connect, ping, udp to a closed port answered by an ICMP error that must be
# RELATED on the way back through the router), then every counter of both tables must equal the
# kernel's. Then a long-lived TCP connection (an echo exchange every 50 ms) must survive 20
# replaces through iptables-legacy-restore, half of them with a ruleset that no longer accepts
# NEW connections to its port, on both the server and the router: the connection lives on its
# conntrack entry, as in the kernel.
set -u
. "$(dirname "$0")/../lib/bf.sh"
. "$(dirname "$0")/traffic_lib.sh"
bf_init ct-traffic
bf_require_built
bf_require_cmd python3 ss

read -r -d '' ECHO_PY <<'EOF'
import socket, sys, time
if sys.argv[1] == "serve":
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("0.0.0.0", 7000)); l.listen(4)
    while True:
        c, _ = l.accept()
        while True:
            d = c.recv(4096)
            if not d: break
            c.sendall(d)
        c.close()
else:
    ip, n, ready = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    s = socket.create_connection((ip, 7000), timeout=3)
    ok = 0
    open(ready, "w").write("ready\n")
    for i in range(n):
        try:
            s.sendall(b"ping %d\n" % i)
            d = b""
            while not d.endswith(b"\n"):
                d += s.recv(64)
            ok += d == b"ping %d\n" % i
        except OSError as e:
            print("error", i, e, flush=True); break
        time.sleep(0.05)
    print(ok, flush=True)
EOF

for s in k b; do
	tr_topo "$s" || bf_die "topology $s"
	tr_bg "${s}s" tcp_listen 80
	# `ip netns exec` execs python in place: $! is the server itself, which cleanup ends.
	ip netns exec "$(bf_ns "${s}s")" python3 -c "$ECHO_PY" serve </dev/null >/dev/null 2>&1 &
	BF_PIDS+=("$!")
done
for s in k b; do
	tr_wait_listen "${s}s" 80 && tr_wait_listen "${s}s" 7000 || bf_die "listeners"
done
bf_daemon_start bs || bf_die "bpfilterd does not start (server)"
bf_daemon_start br || bf_die "bpfilterd does not start (router)"

server_rules()
{
	cat <<RULES
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT DROP [0:0]
-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -p tcp --dport 80 -m conntrack --ctstate NEW -j ACCEPT
${1:+-A INPUT -p tcp --dport 7000 -m conntrack --ctstate NEW -j ACCEPT}
-A INPUT -p udp --dport 5001 -m state --state NEW -j ACCEPT
-A INPUT -p icmp -m state --state NEW -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A OUTPUT -m state --state ESTABLISHED,RELATED -j ACCEPT
-A OUTPUT -m conntrack --ctstate NEW --ctdir ORIGINAL -j ACCEPT
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
-A FORWARD -p udp --dport 6000 -j REJECT
-A FORWARD -m conntrack --ctstate RELATED -j ACCEPT
-A FORWARD -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j ACCEPT
-A FORWARD -m conntrack --ctstate ESTABLISHED --ctdir ORIGINAL --ctorigsrc 10.1.0.0/24 -j ACCEPT
-A FORWARD -m conntrack --ctstate INVALID -j DROP
-A FORWARD -p tcp -m conntrack --ctstate NEW --ctproto tcp --ctorigdstport 80 -j ACCEPT
${1:+-A FORWARD -p tcp --dport 7000 -m conntrack --ctstate NEW -j ACCEPT}
-A FORWARD -p udp -m conntrack --ctstate NEW --ctproto udp -j ACCEPT
-A FORWARD -p icmp -m conntrack --ctstate NEW --ctexpire 0:10 -j ACCEPT
-A OUTPUT -p icmp -m conntrack --ctstate RELATED --ctdir REPLY
-A OUTPUT -p icmp -m conntrack --ctstate RELATED --ctdir ORIGINAL
-A OUTPUT -p icmp -m conntrack --ctstate RELATED --ctstatus CONFIRMED
-A OUTPUT -p icmp -m conntrack --ctstate RELATED --ctproto udp --ctorigdst 198.51.100.7
-A OUTPUT -p icmp -m conntrack --ctstate INVALID
-A OUTPUT -p icmp -m conntrack --ctstate NEW
COMMIT
RULES
}

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

for ns in kr br; do # every ICMP error of the routers is sent (icmp_ratelimit)
	bf_nsexec "$ns" sysctl -qw net.ipv4.icmp_ratelimit=0
done
server_rules 1 | bf_cmp ks bs ipt_restore
router_rules 1 | bf_cmp kr br ipt_restore

both "connect to :80 (NEW allowed)" connect 10.2.0.2 80
[ "$TR_K" = open ] || bf_fail "the kernel reference cannot reach :80 (${TR_K})"
both "connect to :81 (NEW not allowed)" connect 10.2.0.2 81
[ "$TR_K" = timeout ] || bf_fail "the kernel reference reaches :81 (${TR_K})"
both "ping (echo request NEW, reply ESTABLISHED)" ping 10.2.0.2 3
[ "$TR_K" = 3 ] || bf_fail "the kernel reference: ping ${TR_K}"
both "udp to a closed port (ICMP error RELATED)" udp_send 10.2.0.2 5001 5
# The router's own ICMP errors meet its OUTPUT RELATED to the packet they answer, in the
# reply direction, with its unconfirmed connection (nf_ct_attach in icmp_send): for a packet
# without a route (ip_error, before any filter hook) and for REJECT in FORWARD.
both "udp to a network without a route (the router's ICMP error)" udp_send 198.51.100.7 9 2
both "udp to a port the router rejects (REJECT's ICMP error)" udp_send 10.2.0.2 6000 2
both "connect to :80 again" connect 10.2.0.2 80
both "ping again" ping 10.2.0.2 2

bf_cmp_state ks bs
bf_cmp_state kr br

# A long-lived connection across replaces.
long_lived()
{
	local s=$1 restore=$2 out=$BF_TMP/$1.echo ready=$BF_TMP/$1.ready pid i
	ip netns exec "$(bf_ns "${s}c")" timeout 120 python3 -c "$ECHO_PY" client 10.2.0.2 200 \
		"$ready" >"$out" </dev/null &
	pid=$!
	BF_PIDS+=("$pid")
	tr_wait_ready "$ready" || return 1
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

k=$(long_lived k bf_kipt_restore)
b=$(long_lived b bf_ipt_restore)
if [ "$k" = 200 ] && [ "$b" = 200 ]; then
	bf_pass "long-lived connection across 20 replaces: 200/200 echoes (kernel: $k)"
else
	bf_fail "long-lived connection across 20 replaces: bpfilter '$b', kernel '$k'"
fi
# The last ruleset accepts NEW again: a fresh connection works on both sides.
both "connect to :80 after the replaces" connect 10.2.0.2 80
bf_done
