#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# [reliability] and [scale]: the counters iptables hands back with SET_ADD_COUNTERS after a
# replace survive a SIGKILL right after the command, although only one state file is written per
# command (the bases alone go to the counters file, daemon/state.c). Expected values are the
# kernel's: the same commands on iptables-legacy in a namespace of its own.
set -u
. "$(dirname "$0")/../lib/bf.sh"
. "$(dirname "$0")/restart_lib.sh"
bf_init restart-ctr
bf_require_built
rs_init
bf_netns_add k || bf_die "netns"
bf_netns_add b || bf_die "netns"
rs_start b -v || bf_die "bpfilterd does not start"

ruleset()
{
	cat <<'R'
*filter
:INPUT ACCEPT [11:1100]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [5:500]
:blk - [0:0]
[7:700] -A INPUT -p udp --dport 5000 -j ACCEPT
[3:180] -A INPUT -s 10.1.0.0/16 -j blk
[2:120] -A blk -p tcp --dport 22 -j DROP
COMMIT
R
}

# "state written" and "counters written" lines of the daemon's log so far.
writes()
{
	echo "$(bf_daemon_log b | grep -c 'state written') $(bf_daemon_log b | grep -c 'counters written')"
}

restart()
{
	rs_kill b
	rs_start b -v || bf_die "bpfilterd does not restart"
}

# The first request instantiates the table (a state file write of its own).
bf_kipt k -S >/dev/null && bf_ipt b -S >/dev/null || bf_die "-S"
ruleset | bf_kipt_restore k -c || bf_die "kernel restore"
w0=$(writes)
ruleset | bf_ipt_restore b -c || bf_die "restore"
w1=$(writes)
# The replace writes the state file, the counters (non-zero here) the counters file.
[ "$(((${w1% *} - ${w0% *})))/$(((${w1#* } - ${w0#* })))" = 1/1 ] &&
	bf_pass "restore -c: one state file and one counters file write" ||
	bf_fail "restore -c: writes (state counters) $w0 -> $w1"
restart
bf_cmp_state k b

# An append hands back every rule's counters: they must survive a SIGKILL right after it.
bf_kipt k -A INPUT -p tcp --dport 80 -j DROP || bf_die "kernel -A"
w0=$(writes)
bf_ipt b -A INPUT -p tcp --dport 80 -j DROP || bf_die "-A"
w1=$(writes)
[ "$(((${w1% *} - ${w0% *})))/$(((${w1#* } - ${w0#* })))" = 1/1 ] &&
	bf_pass "-A: one state file and one counters file write" ||
	bf_fail "-A: writes (state counters) $w0 -> $w1"
restart
bf_cmp_state k b

# Zero counters (iptables-restore without -c) change no base: no counters file write.
bf_kipt_restore k <<<"$(ruleset | sed 's/^\[[0-9:]*\] //')" || bf_die "kernel restore"
w0=$(writes)
bf_ipt_restore b <<<"$(ruleset | sed 's/^\[[0-9:]*\] //')" || bf_die "restore"
w1=$(writes)
[ "$(((${w1% *} - ${w0% *})))/$(((${w1#* } - ${w0#* })))" = 1/0 ] &&
	bf_pass "restore without -c: one state file write, no counters file" ||
	bf_fail "restore without -c: writes (state counters) $w0 -> $w1"
restart
bf_cmp_state k b

# A counters file of an older state file is ignored: the replace after it reset the bases.
ruleset | bf_kipt_restore k -c || bf_die "kernel restore"
ruleset | bf_ipt_restore b -c || bf_die "restore"
ls "$RS_STATE"/netns-*.state.counters >/dev/null 2>&1 && bf_pass "counters file present" ||
	bf_fail "no counters file in $RS_STATE"
bf_kipt_restore k <<<"$(ruleset | sed 's/^\[[0-9:]*\] //')" || bf_die "kernel restore"
bf_ipt_restore b <<<"$(ruleset | sed 's/^\[[0-9:]*\] //')" || bf_die "restore"
restart
bf_cmp_state k b
bf_done
