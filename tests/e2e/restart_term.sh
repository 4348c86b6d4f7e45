#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# [reliability] SIGTERM and restart (an upgrade): by default the rulesets stay in force while no
# daemon runs; the next daemon shows the same rules (iptables-save -c, counters given with -c
# included) with counters no lower, and the packets sent while no daemon ran were filtered and
# counted.
set -u
. "$(dirname "$0")/../lib/bf.sh"
. "$(dirname "$0")/traffic_lib.sh"
. "$(dirname "$0")/restart_lib.sh"
bf_init restart-term
bf_require_built
rs_init

tr_topo b || bf_die topology
rs_start bs || bf_die "bpfilterd does not start"
bf_ipt_restore bs -c <<'EOF' || bf_die "restore"
*filter
:INPUT ACCEPT [10:1000]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [5:500]
:chain_a - [0:0]
-A INPUT -p udp --dport 5000 -j chain_a
[7:700] -A INPUT -p udp --dport 5001 -j DROP
-A chain_a -s 10.1.0.0/24 -j ACCEPT
-A chain_a -j DROP
COMMIT
EOF
tr_py bc udp_send 10.2.0.2 5000 50 >/dev/null
tr_py bc udp_send 10.2.0.2 5001 50 >/dev/null
rs_save bs >"$BF_TMP/before"

bf_daemon_stop bs || bf_fail "bpfilterd did not stop on SIGTERM"
bf_nsexec bs tc filter show dev s0 ingress | grep -q 'name bf_' &&
	bf_pass "after SIGTERM the dispatchers stay attached (default)" ||
	bf_fail "after SIGTERM no dispatcher on s0"
# While no daemon runs: filtered and counted by what is pinned.
tr_bg bs udp_recv 5001 1 >"$BF_TMP/recv"
tr_wait_ready "$BF_TMP/recv" || bf_die receiver
tr_py bc udp_send 10.2.0.2 5001 30 >/dev/null
tr_py bc udp_send 10.2.0.2 5000 20 >/dev/null
wait "$TR_BG_PID"
[ "$(tail -n1 "$BF_TMP/recv")" = 0 ] && bf_pass "without a daemon, dropped packets stay dropped" ||
	bf_fail "without a daemon, $(tail -n1 "$BF_TMP/recv") dropped packets got through"

rs_start bs || bf_die "bpfilterd does not restart"
rs_save bs >"$BF_TMP/after"
strip() { sed -E 's/\[[0-9]+:[0-9]+\]//' "$1"; }
bf_diff "rules after the restart" <(strip "$BF_TMP/before") <(strip "$BF_TMP/after") &&
	bf_pass "iptables-save shows the same rules"
# Counters, line by line: no lower, and the 50 packets sent meanwhile counted exactly.
python3 - "$BF_TMP/before" "$BF_TMP/after" <<'PY' && bf_pass "counters no lower; the packets sent without a daemon are counted" || bf_fail "counters"
import re, sys
b, a = (open(f).read().splitlines() for f in sys.argv[1:3])
ok = True
exp_add = {"--dport 5000 -j chain_a": (20, 2560), "--dport 5001 -j DROP": (30, 3840),
           "-s 10.1.0.0/24 -j ACCEPT": (20, 2560)}
for lb, la in zip(b, a):
    mb, ma = re.search(r"\[(\d+):(\d+)\]", lb), re.search(r"\[(\d+):(\d+)\]", la)
    if not mb:
        continue
    pb, bb, pa, ba = map(int, mb.groups() + ma.groups())
    want = next((v for k, v in exp_add.items() if k in lb), None)
    if pa < pb or ba < bb:
        print("lower:", lb, "->", la); ok = False
    if want and (pa - pb, ba - bb) != want:
        print("counted", (pa - pb, ba - bb), "want", want, ":", lb); ok = False
    print("    ", lb, "->", la)
sys.exit(0 if ok else 1)
PY
[ "$(rs_gens bs)" = 1 ] && bf_pass "one generation pinned" || bf_fail "$(rs_gens bs) generations pinned"
bf_done
