#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# [reliability] crash consistency: bpfilterd SIGKILLed at every step of a replace (test-only fault
# injection, BPFILTERD_TEST_CRASH_AT, doc/design.md "Persistence") and of its own restore, then
# at random moments while iptables-restore runs in a loop. After each restart exactly one of the
# two rulesets is in the table AND in force (a probe packet moves the counter of the table's own
# DROP rule), a replace whose state file was renamed in is the one kept, and no generation, pin
# or program is left over (pinned generations and the programs using the namespace's bf_ctx
# map, compared with a clean start).
set -u
. "$(dirname "$0")/../lib/bf.sh"
. "$(dirname "$0")/traffic_lib.sh"
. "$(dirname "$0")/restart_lib.sh"
bf_init restart-crash
bf_require_built
rs_init

# Random kills on top of the kill at every named step (which always all run): 4 in the default
# run (CI: the named steps are where the commit order is decided, the random ones add timing
# coverage), 50 with --long (or BF_LONG=1, tests/run --long).
NKILL=4
if [ "${1:-}" = --long ] || [ "${BF_LONG:-0}" = 1 ]; then
	NKILL=50
fi
[ "${BF_QUICK:-0}" = 1 ] && NKILL=2

tr_topo b || bf_die topology

ruleset()
{
	echo '*filter'
	echo ':INPUT ACCEPT [0:0]'
	echo ':FORWARD ACCEPT [0:0]'
	echo ':OUTPUT ACCEPT [0:0]'
	if [ "$1" = A ]; then
		echo '-A INPUT -p udp --dport 5001 -j DROP'
	else
		echo ':chain_b - [0:0]'
		echo '-A INPUT -p udp -j chain_b'
		echo '-A chain_b -p udp --dport 5002 -j DROP'
		echo '-A chain_b -p udp --dport 5003 -j DROP'
	fi
	echo 'COMMIT'
}

# A or B from the table's rules, "mix" otherwise.
table_is()
{
	local s
	s=$(bf_ipt bs -S | grep -- '^-A' | tr '\n' ' ')
	case "$s" in
	"-A INPUT -p udp -m udp --dport 5001 -j DROP ") echo A ;;
	"-A INPUT -p udp -j chain_b -A chain_b -p udp -m udp --dport 5002 -j DROP -A chain_b -p udp -m udp --dport 5003 -j DROP ") echo B ;;
	*) echo "mix: $s" ;;
	esac
}

# Packets counted by the table's DROP rule for 5001 (A) or 5002 (B).
drop_count()
{
	bf_ipt bs -L -v -n -x | awk -v p="dpt:$1" '$0 ~ p {print $1}'
}

# In force: one probe to 5001 and one to 5002 move the counter of the table's own rule.
in_force_is()
{
	local t=$1 port c0 c1
	[ "$t" = A ] && port=5001 || port=5002
	c0=$(drop_count "$port")
	tr_py bc udp_send 10.2.0.2 5001 1 >/dev/null
	tr_py bc udp_send 10.2.0.2 5002 1 >/dev/null
	c1=$(drop_count "$port")
	[ $((c1 - c0)) = 1 ] && echo "$t" || echo "not $t ($c0 -> $c1)"
}

declare -A NPROGS
check()
{
	local what=$1 want=${2:-} t f g n
	t=$(table_is)
	f=$(in_force_is "$t")
	g=$(rs_gens bs)
	n=$(rs_progs_stable "$CTX")
	if [[ "$t" != mix* ]] && [ "$f" = "$t" ] && { [ -z "$want" ] || [ "$t" = "$want" ]; } &&
		[ "$g" = 1 ] && [ "$n" = "${NPROGS[$t]}" ]; then
		bf_pass "$what: ruleset $t in the table and in force, 1 generation, $n programs"
	else
		bf_fail "$what: table $t (want ${want:-A or B}), in force $f, $g generations, $n programs (clean: ${NPROGS[$t]:-?})"
	fi
}

rs_start bs || bf_die "bpfilterd does not start"
CTX=$(rs_ctx_id bs)
for r in B A; do
	ruleset $r | bf_ipt_restore bs || bf_die "restore $r"
	NPROGS[$r]=$(rs_progs_stable "$CTX")
done
echo "     programs using bf_ctx $CTX after a clean start: A ${NPROGS[A]}, B ${NPROGS[B]}"
check "clean start" A

# 1. Each step of a replace from A to B. Before the state file is renamed in, A must come back;
# after, B.
for p in gen-pinned before-switch after-switch state-tmp-written state-renamed state-committed; do
	rs_kill bs
	export BPFILTERD_TEST_CRASH_AT=$p
	rs_start bs || bf_die "bpfilterd does not start with a fault at $p"
	unset BPFILTERD_TEST_CRASH_AT
	pid=$(tr_daemon_pid bs)
	ruleset B | bf_ipt_restore bs 2>/dev/null
	sleep 0.2
	if kill -0 "$pid" 2>/dev/null; then
		bf_fail "$p: the daemon did not crash there"
	fi
	rs_kill bs
	rs_start bs || bf_die "bpfilterd does not restart after a crash at $p"
	case $p in
	state-renamed | state-committed) check "SIGKILL at $p" B ;;
	*) check "SIGKILL at $p" A ;;
	esac
	ruleset A | bf_ipt_restore bs || bf_die "restore A"
done

# 2. Each step of the restore itself (the daemon dies while starting).
for p in restore-recorded restore-switched; do
	rs_kill bs
	export BPFILTERD_TEST_CRASH_AT=$p
	rs_start bs 2>/dev/null && bf_fail "$p: the daemon did not crash there"
	unset BPFILTERD_TEST_CRASH_AT
	rs_kill bs
	rs_start bs || bf_die "bpfilterd does not restart after a crash at $p"
	check "SIGKILL at $p" A
done

# 3. SIGKILL at a random moment while iptables-restore replaces A and B in a loop.
for ((i = 0; i < NKILL; i++)); do
	(
		while :; do
			ruleset B | bf_ipt_restore bs
			ruleset A | bf_ipt_restore bs
		done
	) >/dev/null 2>&1 &
	loop=$!
	sleep "0.$((RANDOM % 400 + 50))"
	rs_kill bs
	kill "$loop" 2>/dev/null
	wait "$loop" 2>/dev/null
	rs_start bs || bf_die "bpfilterd does not restart ($i)"
	check "random SIGKILL $i"
done
bf_done
