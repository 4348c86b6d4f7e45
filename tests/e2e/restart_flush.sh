#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# [reliability] --flush-on-exit: at SIGTERM the daemon removes all filtering (dispatchers, clsact
# qdiscs it created, pins, state file); the next daemon starts from empty tables.
set -u
. "$(dirname "$0")/../lib/bf.sh"
. "$(dirname "$0")/traffic_lib.sh"
. "$(dirname "$0")/restart_lib.sh"
bf_init restart-flush
bf_require_built
rs_init

tr_topo b || bf_die topology
rs_start bs --flush-on-exit || bf_die "bpfilterd does not start"
bf_ipt bs -A INPUT -p udp --dport 5001 -j DROP || bf_die "add"
dir=$(rs_pindir bs)
ctx=$(rs_ctx_id bs)
[ -n "$ctx" ] && [ "$(rs_progs_of_ctx "$ctx")" -gt 0 ] || bf_die "no pinned bf_ctx"
bf_daemon_stop bs || bf_fail "bpfilterd did not stop on SIGTERM"

for ifc in lo s0; do
	if bf_nsexec bs tc filter show dev "$ifc" ingress 2>/dev/null | grep -q 'name bf_' ||
		bf_nsexec bs tc qdisc show dev "$ifc" | grep -q clsact; then
		bf_fail "$ifc: a dispatcher or clsact qdisc left after --flush-on-exit"
	else
		bf_pass "$ifc: no dispatcher, no clsact qdisc"
	fi
done
[ ! -e "$dir" ] && bf_pass "pin directory removed" || bf_fail "pins left: $(ls "$dir")"
[ -z "$(ls -A "$RS_BPFFS/pins" 2>/dev/null)" ] && bf_pass "nothing left on the bpffs" ||
	bf_fail "left on the bpffs: $(ls -A "$RS_BPFFS/pins")"
ls "$RS_STATE"/netns-*.state >/dev/null 2>&1 && bf_fail "state file left" ||
	bf_pass "state file removed"
n=$(rs_progs_of_ctx "$ctx")
[ "$n" = 0 ] && bf_pass "no program of the daemon left" || bf_fail "$n programs still use bf_ctx"

tr_bg bs udp_recv 5001 1 >"$BF_TMP/recv"
tr_wait_ready "$BF_TMP/recv" || bf_die receiver
tr_py bc udp_send 10.2.0.2 5001 10 >/dev/null
wait "$TR_BG_PID"
[ "$(tail -n1 "$BF_TMP/recv")" = 10 ] && bf_pass "no filtering after exit: 10 of 10 arrived" ||
	bf_fail "after exit $(tail -n1 "$BF_TMP/recv") of 10 arrived"

rs_start bs --flush-on-exit || bf_die "bpfilterd does not restart"
bf_ipt bs -S INPUT | grep -q dport && bf_fail "a flushed rule came back" ||
	bf_pass "the next daemon starts with empty tables"
bf_done
