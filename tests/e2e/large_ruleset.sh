#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A large ruleset (issue [scale]: 100,000 rules by default, BF_LARGE_N to change it) loads,
# passes traffic and reads back with `iptables-save -c` exactly as the kernel's
# iptables-legacy does, also after one rule is appended and deleted on top of it (the append and
# delete move every counter through SET_REPLACE and SET_ADD_COUNTERS).
#
# The ruleset is bench/gen_ruleset.py's (blocklists, port lists, 5-tuple rules with inversions,
# three user chains): UDP to port 5003 is accepted by the first rule, to port 5001 dropped by the
# last one after every other rule and chain was evaluated, to port 5002 meets INPUT's policy.
# Both sides get the same file and the same datagrams from 10.77.0.1 to 10.77.0.2.
set -u
. "$(dirname "$0")/../lib/bf.sh"
. "$(dirname "$0")/traffic_lib.sh"
bf_init large
bf_require_built
bf_require_cmd python3
N=${BF_LARGE_N:-100000}
BF_TIMEOUT=${BF_TIMEOUT:-600}
RULES=$BF_TMP/rules
"$BF_TOP/bench/gen_ruleset.py" "$N" -o "$RULES" || bf_die "gen_ruleset.py $N"

for s in k b; do
	bf_netns_add "${s}s" || bf_die "namespace ${s}s"
	bf_netns_add "${s}r" || bf_die "namespace ${s}r"
	bf_veth "${s}s" vs "${s}r" vr 10.77.0.1/24 10.77.0.2/24 || bf_die "veth $s"
	# Every accepted datagram gets its port unreachable (OUTPUT counts them): no rate limit,
	# so both sides send the same replies.
	bf_nsexec "${s}r" sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=1000000 \
		net.ipv4.icmp_msgs_burst=1000000 || bf_die "sysctl $s"
done
bf_daemon_start br || bf_die "bpfilterd does not start"

t0=$(date +%s%N)
bf_kipt_restore kr <"$RULES" || bf_die "the kernel refused the ruleset"
t1=$(date +%s%N)
if bf_ipt_restore br <"$RULES"; then
	t2=$(date +%s%N)
	bf_pass "$N rules loaded (kernel $(((t1 - t0) / 1000000)) ms, bpfilter $(((t2 - t1) / 1000000)) ms)"
else
	bf_die "bpfilter refused the $N-rule ruleset: $(bf_daemon_log br | tail -n 3)"
fi

# send PORT COUNT: the same datagrams on both sides.
send()
{
	local s
	for s in k b; do
		tr_py "${s}s" udp_send 10.77.0.2 "$1" "$2" >/dev/null || bf_fail "udp_send $s $1"
	done
}

send 5003 7
send 5001 5
send 5002 3
bf_cmp kr br ipt_save -c

rule=(INPUT -s 192.0.2.99/32 -p tcp -m tcp --dport 9999 -j DROP)
bf_cmp kr br ipt -A "${rule[@]}"
send 5001 2
bf_cmp kr br ipt -D "${rule[@]}"
send 5002 4
bf_cmp kr br ipt_save -c
bf_cmp kr br ipt -L INPUT -v -n -x --line-numbers
# Not a comparison of two empty results: the kernel's last rule dropped the 7 datagrams.
if bf_kipt_save kr -c | grep -e '--comment bench-last' | grep -q '^\[7:'; then
	bf_pass "the traffic reached the last rule (7 packets)"
else
	bf_fail "the kernel's last rule did not count the 7 datagrams"
fi

bf_done
