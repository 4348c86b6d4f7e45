#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# owner (xt_owner revision 1) with real sockets, against the kernel: two identical topologies, k
# (iptables-legacy / ip6tables-legacy) and b (bpfilterd), each a host H and a peer P on a veth.
# On H, processes of other uids, gids and supplementary groups (setpriv) send UDP datagrams and
# open TCP connections to P; a listener of another uid answers P's connections (SYN-ACKs belong
# to a request socket, which counts as its listener); P's probes to closed ports make H's kernel
# sockets answer (ICMP errors, TCP resets: a socket without a file). Each sender sends a distinct
# number of packets. OUTPUT counts them with --uid-owner, --gid-owner (ranges, !), --suppl-groups
# and --socket-exists; the per-rule counters must be the kernel's.
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init lookups_owner
bf_require_built
bf_require_cmd setpriv
# the system interpreter: other uids must be able to run it
PY=/usr/bin/python3
[ -x $PY ] || bf_skip "needs $PY"

read -r -d '' OW_PY <<'EOF'
import socket, sys, time
what = sys.argv[1]
if what == "udp":
    fam = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    for i in range(int(sys.argv[4])):
        s.sendto(b"x" * 32, (sys.argv[2], int(sys.argv[3])))
elif what == "tcp":
    fam = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect((sys.argv[2], int(sys.argv[3])))
    except OSError:
        pass
elif what == "listen":
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[2])))
    s.listen(16)
    print("ready", flush=True)
    time.sleep(120)
EOF

topo()
{
	local h=$1h p=$1p ns
	bf_netns_add "$h" && bf_netns_add "$p" || return 1
	for ns in "$h" "$p"; do
		bf_nsexec "$ns" sysctl -qw net.ipv6.conf.all.mldv2_unsolicited_report_interval=0 \
			net.ipv6.conf.default.mldv2_unsolicited_report_interval=0 \
			net.ipv6.conf.all.router_solicitations=0 \
			net.ipv6.conf.default.router_solicitations=0
		# every probe to a closed port is answered
		bf_nsexec "$ns" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0
	done
	bf_veth "$h" h0 "$p" p0 10.5.0.1/24 10.5.0.2/24 || return 1
	bf_nsexec "$h" ip addr add 2001:db8:5::1/64 dev h0 nodad || return 1
	bf_nsexec "$p" ip addr add 2001:db8:5::2/64 dev p0 nodad || return 1
	local pmac hmac
	pmac=$(bf_nsexec "$p" cat /sys/class/net/p0/address)
	hmac=$(bf_nsexec "$h" cat /sys/class/net/h0/address)
	bf_nsexec "$h" ip neigh replace 10.5.0.2 lladdr "$pmac" dev h0 nud permanent
	bf_nsexec "$h" ip -6 neigh replace 2001:db8:5::2 lladdr "$pmac" dev h0 nud permanent
	bf_nsexec "$p" ip neigh replace 10.5.0.1 lladdr "$hmac" dev p0 nud permanent
	bf_nsexec "$p" ip -6 neigh replace 2001:db8:5::1 lladdr "$hmac" dev p0 nud permanent
	# a listener of uid 1500 on H
	bf__own "$h" || return 1
	ip netns exec "$(bf_ns "$h")" setpriv --reuid 1500 --regid 1500 --clear-groups \
		$PY -c "$OW_PY" listen 8080 >"$BF_TMP/$h.listen" &
	BF_PIDS+=("$!")
}

rules()
{
	echo "*filter"
	echo "-A OUTPUT -m owner --uid-owner 0"
	echo "-A OUTPUT -m owner --uid-owner 1000"
	echo "-A OUTPUT -m owner --uid-owner 1000-2000"
	echo "-A OUTPUT -m owner ! --uid-owner 1000"
	echo "-A OUTPUT -m owner --gid-owner 1000"
	echo "-A OUTPUT -m owner ! --gid-owner 1000-1600"
	echo "-A OUTPUT -m owner --gid-owner 2500-2600 --suppl-groups"
	echo "-A OUTPUT -m owner --gid-owner 3007 --suppl-groups"
	echo "-A OUTPUT -m owner ! --gid-owner 3007 --suppl-groups"
	echo "-A OUTPUT -m owner --gid-owner 2999 --suppl-groups"
	echo "-A OUTPUT -m owner --gid-owner 100-2999 --suppl-groups"
	echo "-A OUTPUT -m owner --socket-exists"
	echo "-A OUTPUT -m owner ! --socket-exists"
	echo "-A OUTPUT -m owner --uid-owner 1500 --gid-owner 1500"
	echo "-A OUTPUT -m owner --socket-exists ! --uid-owner 0-999"
	echo "-A OUTPUT -m owner ! --socket-exists ! --uid-owner 0"
	echo "-A OUTPUT -p tcp -m owner --uid-owner 1500"
	echo "COMMIT"
}

# as USER:GROUP[:GROUPS] run the python helper inside NS
as()
{
	local ns=$1 u=$2 g=$3 groups=$4
	shift 4
	local gr=(--clear-groups)
	[ -n "$groups" ] && gr=(--groups "$groups")
	bf__own "$ns" || return 1
	ip netns exec "$(bf_ns "$ns")" setpriv --reuid "$u" --regid "$g" "${gr[@]}" \
		$PY -c "$OW_PY" "$@" || bf_fail "as $u:$g($groups) in $ns: $*"
}

send()
{
	local s=$1 h=$1h p=$1p dst
	many=$(seq -s, 3001 2 3041) # 21 groups, 3007 among them, 2999 not
	for dst in 10.5.0.2 2001:db8:5::2; do
		as "$h" 0 0 "" udp "$dst" 9 1
		as "$h" 1000 1000 "" udp "$dst" 9 2
		as "$h" 1500 2500 "100,3001" udp "$dst" 9 3
		as "$h" 3000 3000 "$many" udp "$dst" 9 4
		as "$h" 1000 1600 "2999" udp "$dst" 9 5
		as "$h" 1000 1000 "" tcp "$dst" 9
	done
	# P: a connection to uid 1500's listener (SYN-ACK, then ACK/FIN from H), closed ports
	# (kernel sockets answer: RST, ICMP port unreachable)
	as "$p" 0 0 "" tcp 10.5.0.1 8080
	as "$p" 0 0 "" tcp 10.5.0.1 9
	as "$p" 0 0 "" udp 10.5.0.1 9 2
	as "$p" 0 0 "" udp 2001:db8:5::1 9 3
	sleep 0.5
}

topo k || bf_die "topology k"
topo b || bf_die "topology b"
bf_mld_settle kh bh kp bp || bf_die "MLD"
bf_daemon_start bh || bf_die "daemon"

for f in 4 6; do
	if [ $f = 4 ]; then
		rules | bf_cmp kh bh ipt_restore
	else
		rules | bf_cmp kh bh ip6t_restore
	fi
done
# the kernel's checks: OUTPUT and POSTROUTING only, valid ranges
bf_cmp kh bh ipt -A INPUT -m owner --uid-owner 0
bf_cmp kh bh ipt -A OUTPUT -m owner --uid-owner 10-5
bf_cmp kh bh ip6t -A FORWARD -m owner --socket-exists

sleep 0.5
send k
send b
bf_cmp_state kh bh 4
bf_cmp_state kh bh 6
# the test means something only if the owners were told apart
c=$(bf_kipt kh -L OUTPUT -v -n -x | awk '/ owner UID match 1000$/ && !/!/ {print $1}')
if [ "${c:-0}" -gt 0 ]; then
	bf_pass "the kernel counted $c packets of uid 1000"
else
	bf_fail "the kernel counted no packet of uid 1000"
fi
c=$(bf_kipt kh -L OUTPUT -v -n -x | awk '/GID match 3007 incl/ && !/!/ {print $1}')
if [ "${c:-0}" -gt 0 ]; then
	bf_pass "the kernel counted $c packets of supplementary group 3007"
else
	bf_fail "the kernel counted no packet of supplementary group 3007"
fi

bf_done
