#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The hashlimit match with real traffic, IPv4 and IPv6, against the kernel (doc/stateful.md).
# Per side (k: the kernel's iptables-legacy, b: bpfilterd): a client namespace with several
# addresses sends UDP bursts from chosen source ports to a host namespace whose INPUT limits
# them per flow. Only outcomes that do not depend on timing are compared: bursts sent much
# faster than the refill (1/min), upto and above, srcip/srcport/dstport modes, a source mask,
# a table shared by two rules, byte mode, rate-match, a full table (new flows hotdropped), an
# entry that expired (and was collected) starting afresh, then a replace (the named tables and
# their entries survive it in the kernel) and a replace without the rules (the tables go).
# Last, bpfilterd is stopped and then killed: its successor adopts the pinned tables, so the
# flows keep counting as the kernel's (which has nothing to restart) do.
# Counters of the rules must equal the kernel's.
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init stateful-hashlimit
bf_require_built
bf_require_cmd python3
. "$(dirname "$0")/traffic_lib.sh"
. "$(dirname "$0")/restart_lib.sh"
rs_init

read -r -d '' SEND_PY <<'EOF'
import socket, sys
ip, port, n, src, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
size = int(sys.argv[6]) if len(sys.argv) > 6 else 64
s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((src, sport))
for i in range(n):
    s.sendto(b"x" * size, (ip, port))
EOF

for s in k b; do
	bf_netns_add "${s}c" && bf_netns_add "${s}h" || bf_die "namespaces"
	bf_ipv6_quiet "${s}c" "${s}h" || bf_die "sysctls"
	bf_veth "${s}c" c0 "${s}h" h0 10.9.0.2/24 10.9.0.1/24 || bf_die "veth"
	for a in 3 4 5; do
		bf_nsexec "${s}c" ip addr add 10.9.0.$a/24 dev c0 || bf_die "addr"
	done
	bf_nsexec "${s}c" ip addr add 10.9.7.2/16 dev c0 || bf_die "addr"
	bf_nsexec "${s}h" ip addr add 10.9.7.1/16 dev h0 || bf_die "addr"
	for a in 2 3 4 5; do
		bf_nsexec "${s}c" ip -6 addr add fd09::$a/64 dev c0 nodad || bf_die "addr6"
	done
	bf_nsexec "${s}c" ip -6 addr add fd09:0:0:1::2/48 dev c0 nodad || bf_die "addr6"
	bf_nsexec "${s}h" ip -6 addr add fd09::1/48 dev h0 nodad || bf_die "addr6"
done
rs_start bh || bf_die "bpfilterd does not start"

cmp_rules()
{
	local fam=$1 what=$2 save=ipt_save ksave=kipt_save
	[ "$fam" = 6 ] && save=ip6t_save ksave=kip6t_save
	bf_$ksave kh -c | grep '^\[' >"$BF_TMP/k.rules"
	bf_$save bh -c | grep '^\[' >"$BF_TMP/b.rules"
	if bf_diff "IPv$fam $what" "$BF_TMP/k.rules" "$BF_TMP/b.rules"; then
		bf_pass "IPv$fam $what: $(grep -o '^\[[0-9:]*\]' "$BF_TMP/b.rules" | tr '\n' ' ')"
	else
		bf_fail "IPv$fam $what"
	fi
}

# send DST DPORT N SRC SPORT [SIZE]
send()
{
	local s
	for s in k b; do
		bf_nsexec "${s}c" python3 -c "$SEND_PY" "$@" || bf_fail "send $* from ${s}c"
	done
}

rules()
{
	local m=$1
	cat <<RULES
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp --dport 5000 -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 3 --hashlimit-mode srcip --hashlimit-name hA -j ACCEPT
-A INPUT -p udp --dport 5000 -j DROP
-A INPUT -p udp --dport 5001 -m hashlimit --hashlimit-above 1/min --hashlimit-burst 2 --hashlimit-mode srcip,srcport --hashlimit-name hB -j DROP
-A INPUT -p udp --dport 5001 -j ACCEPT
-A INPUT -p udp --dport 5002 -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 4 --hashlimit-mode srcip --hashlimit-srcmask $m --hashlimit-name hC -j ACCEPT
-A INPUT -p udp --dport 5002 -j DROP
-A INPUT -p udp --dport 5003 -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name hD -j ACCEPT
-A INPUT -p udp --dport 5004 -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 5 --hashlimit-mode srcip --hashlimit-name hD -j ACCEPT
-A INPUT -p udp --dport 5003:5004 -j DROP
-A INPUT -p udp --dport 5005 -m hashlimit --hashlimit-upto 1kb/min --hashlimit-burst 2kb --hashlimit-mode srcip --hashlimit-name hE -j ACCEPT
-A INPUT -p udp --dport 5005 -j DROP
-A INPUT -p udp --dport 5006 -m hashlimit --hashlimit-upto 6/min --hashlimit-burst 3 --hashlimit-mode srcip --hashlimit-name hF --hashlimit-rate-match --hashlimit-rate-interval 60 -j ACCEPT
-A INPUT -p udp --dport 5006 -j DROP
-A INPUT -p udp --dport 5007 -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 1 --hashlimit-mode srcport --hashlimit-name hG --hashlimit-htable-size 16 --hashlimit-htable-max 16 -j ACCEPT
-A INPUT -p udp --dport 5007 -j DROP
-A INPUT -p udp --dport 5008 -m hashlimit --hashlimit-upto 1/min --hashlimit-burst 2 --hashlimit-mode srcip,dstport --hashlimit-name hH --hashlimit-htable-expire 1000 --hashlimit-htable-gcinterval 300 -j ACCEPT
-A INPUT -p udp --dport 5008 -j DROP
-A INPUT -p udp --dport 5009 -m hashlimit --hashlimit-upto 1/hour --hashlimit-burst 2 --hashlimit-name hI -j ACCEPT
-A INPUT -p udp --dport 5009 -j DROP
COMMIT
RULES
}

norules()
{
	printf '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n'
}

# bursts DST SRC1 SRC2 SRC3 OTHERNET
bursts()
{
	local ip=$1 a=$2 b=$3 c=$4 far=$5 p
	send "$ip" 5000 6 "$a" 41000
	send "$ip" 5000 6 "$b" 41000
	send "$ip" 5000 2 "$c" 41000
	send "$ip" 5001 5 "$a" 41001
	send "$ip" 5001 5 "$a" 41002
	send "$ip" 5001 1 "$b" 41001
	send "$ip" 5002 3 "$a" 41003
	send "$ip" 5002 3 "$b" 41003
	send "$ip" 5002 3 "$far" 41003
	send "$ip" 5003 4 "$a" 41004
	send "$ip" 5004 4 "$a" 41004
	send "$ip" 5004 2 "$b" 41004
	send "$ip" 5005 30 "$a" 41005
	send "$ip" 5005 5 "$b" 41005 1000
	send "$ip" 5006 12 "$a" 41006
	for p in $(seq 42000 42019); do
		send "$ip" 5007 2 "$a" "$p"
	done
	send "$ip" 5008 5 "$a" 41008
	send "$ip" 5009 3 "$a" 41009
	send "$ip" 5009 3 "$b" 41010
}

run()
{
	local fam=$1 ip=$2 a=$3 b=$4 c=$5 far=$6 m=$7 restore=ipt_restore
	[ "$fam" = 6 ] && restore=ip6t_restore
	rules "$m" | bf_cmp kh bh $restore
	bursts "$ip" "$a" "$b" "$c" "$far"
	cmp_rules "$fam" "bursts"
	# hH's entries expire after 1 s and the kernel collects them every 0.3 s: afresh.
	sleep 2
	send "$ip" 5008 5 "$a" 41008
	cmp_rules "$fam" "after an expiry"
	# A replace with the same names keeps the tables and their entries (htable_find_get).
	rules "$m" | bf_cmp kh bh $restore
	send "$ip" 5000 3 "$a" 41000
	send "$ip" 5003 2 "$a" 41004
	send "$ip" 5009 2 "$b" 41010
	send "$ip" 5007 1 "$a" 42019
	cmp_rules "$fam" "after a replace"
	# Without the rules the tables go; back again, every flow starts with a full bucket.
	norules | bf_cmp kh bh $restore
	rules "$m" | bf_cmp kh bh $restore
	send "$ip" 5000 5 "$a" 41000
	send "$ip" 5009 3 "$b" 41010
	cmp_rules "$fam" "after the tables went"
	# The tables and their entries survive a restart of bpfilterd (pinned maps).
	bf_daemon_stop bh || bf_fail "stop"
	rs_start bh || bf_die "bpfilterd does not restart"
	send "$ip" 5000 2 "$a" 41000
	send "$ip" 5009 1 "$b" 41010
	send "$ip" 5003 2 "$b" 41004
	cmp_rules "$fam" "after a daemon restart"
	rs_kill bh
	rs_start bh || bf_die "bpfilterd does not start after a kill"
	send "$ip" 5000 1 "$a" 41000
	send "$ip" 5003 4 "$b" 41004
	cmp_rules "$fam" "after a daemon kill"
}

run 4 10.9.0.1 10.9.0.2 10.9.0.3 10.9.0.4 10.9.7.2 24
run 6 fd09::1 fd09::2 fd09::3 fd09::4 fd09:0:0:1::2 64

# checkentry
bf_cmp kh bh ipt -A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-name x --hashlimit-htable-expire 0
bf_cmp kh bh ipt -A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-name x --hashlimit-htable-gcinterval 0
bf_cmp kh bh ipt -A INPUT -m hashlimit --hashlimit-upto 1/day --hashlimit-burst 10000 --hashlimit-name x
bf_cmp kh bh ipt -A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-name x --hashlimit-rate-match --hashlimit-rate-interval 0
bf_cmp kh bh ipt -A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-name ..
bf_cmp kh bh ip6t -A INPUT -m hashlimit --hashlimit-upto 1/sec --hashlimit-name y --hashlimit-mode srcip --hashlimit-srcmask 129
bf_cmp_state kh bh 4
# IPv6: the policies also count neighbour discovery, whose timing differs; the rules are
# compared above.
bf_cmp kh bh ip6t -S
bf_done
