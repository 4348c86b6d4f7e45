#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# [reliability] SIGKILL of bpfilterd under a steady UDP stream, then a restart: no packet that the
# ruleset drops reaches the receiver while the daemon is dead or starting (receiver-side counts),
# none that it accepts is lost, and the counters after the restart account for every packet
# sent, exactly: nothing lost, nothing counted twice.
set -u
. "$(dirname "$0")/../lib/bf.sh"
. "$(dirname "$0")/traffic_lib.sh"
. "$(dirname "$0")/restart_lib.sh"
bf_init restart-kill
bf_require_built
rs_init

N=4000
PPS=1000
[ "${BF_QUICK:-0}" = 1 ] && N=2000

tr_topo b || bf_die topology
rs_start bs || bf_die "bpfilterd does not start"
bf_ipt_restore bs <<'EOF' || bf_die "restore"
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp --dport 5000 -j ACCEPT
-A INPUT -p udp --dport 5001 -j DROP
COMMIT
EOF
before=$(rs_save bs)

# Counters of the two rules: "pkts bytes pkts bytes".
counts()
{
	bf_ipt bs -L INPUT -v -n -x | awk '/udp dpt:/ {printf "%s %s ", $1, $2}'
}

for p in 5000 5001; do
	tr_bg bs udp_recv "$p" 3 >"$BF_TMP/recv$p"
	tr_wait_ready "$BF_TMP/recv$p" || bf_die "receiver $p"
done
tr_bg bc udp_send 10.2.0.2 5000 "$N" "$PPS" >"$BF_TMP/send5000"
s0=$TR_BG_PID
tr_bg bc udp_send 10.2.0.2 5001 "$N" "$PPS" >"$BF_TMP/send5001"
s1=$TR_BG_PID

# Kill a quarter into the stream, restart at once, then once more while the stream runs.
sleep "$(echo "$N / $PPS / 4" | bc -l)"
rs_kill bs
t0=$(date +%s.%N)
rs_start bs || bf_die "bpfilterd does not restart"
t1=$(date +%s.%N)
echo "     restart took $(echo "$t1 - $t0" | bc) s"
sleep 0.5
rs_kill bs
rs_start bs || bf_die "bpfilterd does not restart (2)"
wait "$s0" "$s1"
sleep 3.5
r0=$(tail -n1 "$BF_TMP/recv5000")
r1=$(tail -n1 "$BF_TMP/recv5001")
echo "     sent $N to each port; received 5000: $r0, 5001: $r1"
[ "$r1" = 0 ] && bf_pass "no dropped-port packet got through across two SIGKILLs" ||
	bf_fail "$r1 packets to the dropped port got through"
[ "$r0" = "$N" ] && bf_pass "every accepted packet arrived" ||
	bf_fail "accepted port: $r0 of $N arrived"

read -r p0 b0 p1 b1 <<<"$(counts)"
echo "     counters: accept $p0/$b0, drop $p1/$b1"
[ "$p0" = "$N" ] && [ "$b0" = $((N * 128)) ] &&
	bf_pass "ACCEPT rule counted $p0 packets, $b0 bytes: exactly what was sent" ||
	bf_fail "ACCEPT rule: $p0 packets $b0 bytes, sent $N ($((N * 128)) bytes)"
[ "$p1" = "$N" ] && [ "$b1" = $((N * 128)) ] &&
	bf_pass "DROP rule counted $p1 packets, $b1 bytes: exactly what was sent" ||
	bf_fail "DROP rule: $p1 packets $b1 bytes, sent $N ($((N * 128)) bytes)"

after=$(rs_save bs)
diff <(echo "$before" | sed -E 's/\[[0-9]+:[0-9]+\]//') <(echo "$after" | sed -E 's/\[[0-9]+:[0-9]+\]//') >/dev/null &&
	bf_pass "iptables-save shows the same rules after the restarts" ||
	bf_fail "rules differ: $(diff <(echo "$before") <(echo "$after"))"
[ "$(rs_gens bs)" = 1 ] && bf_pass "one generation pinned" ||
	bf_fail "$(rs_gens bs) generations pinned"
bf_done
