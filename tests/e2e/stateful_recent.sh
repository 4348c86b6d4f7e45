#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The recent match with real traffic, IPv4 and IPv6, against the kernel (doc/stateful.md).
# Per side (k: the kernel's iptables-legacy, b: bpfilterd): a client namespace with two
# addresses sends UDP to a host namespace whose INPUT uses recent tables the way ufw's "limit"
# does (--set, then --update --seconds --hitcount), plus --rcheck, --remove, --rdest, --mask, a
# revision 0 rule, inversion and a hitcount above the 32 stamps bpfilter keeps. Every outcome depends only on the order of the packets (all
# within --seconds). Then a replace that keeps the table names (the tables and their entries
# survive, as in the kernel) and one that drops a name (that table is destroyed: a later rule
# naming it starts empty). Counters of the rules must equal the kernel's.
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init stateful-recent
bf_require_built
bf_require_cmd python3

read -r -d '' SEND_PY <<'EOF'
import socket, sys
src, ip, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
for i in range(n):
    s.sendto(b"x" * 64, (ip, port))
EOF

for s in k b; do
	bf_netns_add "${s}c" && bf_netns_add "${s}h" || bf_die "namespaces"
	bf_ipv6_quiet "${s}c" "${s}h" || bf_die "sysctls"
	bf_veth "${s}c" c0 "${s}h" h0 10.9.0.2/24 10.9.0.1/24 || bf_die "veth"
	bf_nsexec "${s}c" ip addr add 10.9.0.3/24 dev c0 || bf_die "addr"
	bf_nsexec "${s}c" ip -6 addr add fd09::2/64 dev c0 nodad || bf_die "addr6"
	bf_nsexec "${s}c" ip -6 addr add fd09::3/64 dev c0 nodad || bf_die "addr6"
	bf_nsexec "${s}h" ip -6 addr add fd09::1/64 dev h0 nodad || bf_die "addr6"
done
bf_daemon_start bh || bf_die "bpfilterd does not start"

# The rules' counters (the policies count IPv6 neighbour discovery too).
cmp_rules()
{
	local fam=$1 what=$2 save=ipt_save ksave=kipt_save
	[ "$fam" = 6 ] && save=ip6t_save ksave=kip6t_save
	bf_$ksave kh -c | grep '^\[' >"$BF_TMP/k.rules"
	bf_$save bh -c | grep '^\[' >"$BF_TMP/b.rules"
	if bf_diff "IPv$fam $what" "$BF_TMP/k.rules" "$BF_TMP/b.rules"; then
		bf_pass "IPv$fam $what: $(cut -d" " -f1 "$BF_TMP/b.rules" | tr "\n" " ")"
	else
		bf_fail "IPv$fam $what"
	fi
}

send()
{
	local s
	for s in k b; do
		bf_nsexec "${s}c" python3 -c "$SEND_PY" "$@" || bf_fail "send $* from ${s}c"
	done
}

# $1: full mask of the family; $2: a /24 (/120) mask
rules()
{
	local full=$1 net=$2 keep=${3:-1}
	cat <<RULES
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp --dport 5000 -m recent --set --name DEFAULT --mask $full --rsource
-A INPUT -p udp --dport 5000 -m recent --update --seconds 30 --hitcount 6 --name DEFAULT --mask $full --rsource -j DROP
-A INPUT -p udp --dport 5000 -j ACCEPT
-A INPUT -p udp --dport 5001 -m recent --rcheck --name DEFAULT -j ACCEPT
-A INPUT -p udp --dport 5001 -m recent --set --name NET --mask $net
-A INPUT -p udp --dport 5001 -m recent --rcheck --hitcount 3 --name NET -j DROP
-A INPUT -p udp --dport 5002 -m recent --remove --name DEFAULT
-A INPUT -p udp --dport 5002 -m recent ! --rcheck --name DEFAULT -j ACCEPT
-A INPUT -p udp --dport 5003 -m recent --set --name DST --rdest
-A INPUT -p udp --dport 5003 -m recent --update --hitcount 2 --seconds 60 --reap --name DST --rdest -j DROP
-A INPUT -p udp --dport 5004 -m recent --rcheck --rttl --name DEFAULT -j ACCEPT
-A INPUT -p udp --dport 5006 -m recent --set --name BIG
-A INPUT -p udp --dport 5006 -m recent --rcheck --hitcount 40 --name BIG -j DROP
${keep:+-A INPUT -p udp --dport 5005 -m recent --rcheck --name NET -j ACCEPT}
RULES
	echo COMMIT
}

run()
{
	local fam=$1 a=$2 b=$3 h=$4 full=$5 net=$6 restore=ipt_restore
	[ "$fam" = 6 ] && restore=ip6t_restore
	rules "$full" "$net" | bf_cmp kh bh $restore
	send "$a" "$h" 5000 9
	send "$b" "$h" 5000 2
	send "$a" "$h" 5001 1
	send "$b" "$h" 5001 4
	send "$a" "$h" 5004 2
	send "$a" "$h" 5002 1
	send "$a" "$h" 5001 1
	send "$a" "$h" 5003 3
	send "$b" "$h" 5003 1
	send "$a" "$h" 5006 45
	cmp_rules "$fam" "recent tables"
	# Same names: the tables and their entries survive the replace.
	rules "$full" "$net" | bf_cmp kh bh $restore
	send "$b" "$h" 5000 5
	send "$a" "$h" 5005 2
	send "$a" "$h" 5001 1
	cmp_rules "$fam" "after a replace that keeps the names"
	# NET is named by the same rules but not by 5005: still referenced, kept; then a
	# ruleset without any rule naming NET destroys it.
	rules "$full" "$net" "" | sed '/NET/d' | bf_cmp kh bh $restore
	rules "$full" "$net" | bf_cmp kh bh $restore
	send "$a" "$h" 5005 2
	send "$b" "$h" 5000 1
	cmp_rules "$fam" "after the table NET was destroyed"
}

run 4 10.9.0.2 10.9.0.3 10.9.0.1 255.255.255.255 255.255.255.0
run 6 fd09::2 fd09::3 fd09::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00

# /proc/net/xt_recent/NAME: the kernel's lines (jiffies blanked: the two sides' clocks differ by
# the time between their packets; entries sorted: the kernel lists them in hash order), and
# writes of +ADDR, -ADDR and / through a shell's redirection. bpfilter keeps the last 32 stamps
# of an entry (doc/stateful.md): BIG's entries are compared without their stamp lists.
recent_file()
{
	local side=$1 name=$2
	if [ "$side" = k ]; then
		bf_nsexec kh cat "/proc/net/xt_recent/$name"
	else
		bf__shim bh cat "/proc/net/xt_recent/$name"
	fi | sed -E 's/[0-9]{6,}/J/g' | { [ "$name" = BIG ] && sed 's/oldest_pkt: \([0-9]*\) .*/oldest_pkt: \1/' || cat; } | sort
}
recent_write()
{
	local what=$1 name=$2
	bf_nsexec kh bash -c "echo '$what' > /proc/net/xt_recent/$name" || bf_fail "kernel: write $what"
	bf__shim bh bash -c "echo '$what' > /proc/net/xt_recent/$name" || bf_fail "bpfilter: write $what"
}
cmp_file()
{
	recent_file k "$1" >"$BF_TMP/k.file"
	recent_file b "$1" >"$BF_TMP/b.file"
	if bf_diff "/proc/net/xt_recent/$1 $2" "$BF_TMP/k.file" "$BF_TMP/b.file"; then
		bf_pass "/proc/net/xt_recent/$1 $2: $(wc -l <"$BF_TMP/b.file") entries"
	else
		bf_fail "/proc/net/xt_recent/$1 $2"
	fi
}
cmp_file DEFAULT "after the traffic"
cmp_file BIG "after the traffic"
recent_write +10.9.0.7 DEFAULT
recent_write +fd09::7 DEFAULT
recent_write -10.9.0.3 DEFAULT
cmp_file DEFAULT "after +ADDR and -ADDR"
send 10.9.0.3 10.9.0.1 5001 1
send 10.9.0.2 10.9.0.1 5001 1
cmp_rules 4 "rcheck after -ADDR"
recent_write / DEFAULT
cmp_file DEFAULT "after /"
if bf__shim bh cat /proc/net/xt_recent/NOSUCH >/dev/null 2>&1; then
	bf_fail "a table that does not exist can be read"
else
	bf_pass "no file for a table that does not exist"
fi

# checkentry as the kernel.
for args in "--set --name A --seconds 5" "--rcheck --reap --name A" "--rcheck --name ''" \
	"--set --rttl --name A" "--update --seconds 1 --hitcount 20 --name A" "--rcheck --name ." \
	"--rcheck --name a/b"; do
	eval "bf_cmp kh bh ipt -A INPUT -m recent $args"
done
# A hitcount above 32 with --seconds needs more stamps than bpfilter keeps: refused, nothing
# stored (without --seconds it is served).
bf_ipt_save bh -t filter | bf_save_filter >"$BF_TMP/before"
if bf_ipt bh -A INPUT -m recent --rcheck --seconds 9 --hitcount 40 --name A 2>"$BF_TMP/err"; then
	bf_fail "--hitcount 40 --seconds 9 accepted"
else
	bf_pass "--hitcount 40 --seconds 9 refused: $(cat "$BF_TMP/err")"
fi
bf_ipt_save bh -t filter | bf_save_filter >"$BF_TMP/after"
bf_diff "table after the refusal" "$BF_TMP/before" "$BF_TMP/after" && bf_pass "table unchanged"
bf_daemon_log bh | grep -q "hitcount 40 with --seconds: bpfilter keeps 32" && bf_pass "refusal logged" ||
	bf_fail "no log line for the refusal"
bf_done
