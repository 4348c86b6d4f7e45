#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# recent's named tables survive a restart of bpfilterd (doc/stateful.md): a daemon with
# persistence records entries through traffic and /proc/net/xt_recent, is stopped (SIGTERM, rules
# left in force) or killed (SIGKILL), and its successor adopts the pinned tables: the control
# file shows the same entries and the rules keep counting against them. No kernel reference:
# the kernel has no daemon to restart; its behaviour across a replace is tests/e2e/
# stateful_recent.sh.
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init stateful-restart
bf_require_built
. "$(dirname "$0")/traffic_lib.sh"
. "$(dirname "$0")/restart_lib.sh"
rs_init

read -r -d '' SEND_PY <<'EOF'
import socket, sys
src, ip, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
for i in range(n):
    s.sendto(b"x" * 64, (ip, port))
EOF

bf_netns_add bc && bf_netns_add bh || bf_die "namespaces"
bf_veth bc c0 bh h0 10.9.0.2/24 10.9.0.1/24 || bf_die "veth"
rs_start bh || bf_die "bpfilterd does not start"

bf_ipt_restore bh <<'RULES' || bf_fail "restore"
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp --dport 5000 -m recent --set --name DEFAULT --mask 255.255.255.255 --rsource
-A INPUT -p udp --dport 5000 -m recent --update --seconds 600 --hitcount 6 --name DEFAULT --mask 255.255.255.255 --rsource -j DROP
-A INPUT -p udp --dport 5001 -m recent --rcheck --name DEFAULT -j ACCEPT
COMMIT
RULES
bf_nsexec bc python3 -c "$SEND_PY" 10.9.0.2 10.9.0.1 5000 4 || bf_fail "send"
bf__shim bh bash -c 'echo +10.9.0.77 > /proc/net/xt_recent/DEFAULT' || bf_fail "write"
file() { bf__shim bh cat /proc/net/xt_recent/DEFAULT | sort; }
file >"$BF_TMP/before"
grep -q "src=10.9.0.2 .* oldest_pkt: 4 " "$BF_TMP/before" && grep -q "src=10.9.0.77 " "$BF_TMP/before" &&
	bf_pass "entries recorded: $(wc -l <"$BF_TMP/before")" || bf_fail "entries: $(cat "$BF_TMP/before")"

restart()
{
	if [ "$1" = kill ]; then rs_kill bh; else bf_daemon_stop bh || bf_fail "stop"; fi
	rs_start bh || bf_die "bpfilterd does not restart"
	file >"$BF_TMP/after"
	bf_diff "entries after $1" "$BF_TMP/before" "$BF_TMP/after" && bf_pass "entries survive $1"
}
restart stop
# Two more hits make 6 within --seconds: the 2nd packet is dropped by the update rule.
bf_nsexec bc python3 -c "$SEND_PY" 10.9.0.2 10.9.0.1 5000 2 || bf_fail "send"
file >"$BF_TMP/before"
restart kill
bf_nsexec bc python3 -c "$SEND_PY" 10.9.0.2 10.9.0.1 5001 1 || bf_fail "send"
rs_save bh | grep -- '--dport' >"$BF_TMP/rules"
# set: 4 + 2 (this daemon's counters carry the predecessors'), update: 1 drop, rcheck: 1
if grep -q '^\[6:' "$BF_TMP/rules" && grep -q '^\[1:.*--update' "$BF_TMP/rules" &&
	grep -q '^\[1:.*--rcheck' "$BF_TMP/rules"; then
	bf_pass "rules count against the adopted table: $(cut -d' ' -f1 "$BF_TMP/rules" | tr '\n' ' ')"
else
	bf_fail "counters: $(cat "$BF_TMP/rules")"
fi
bf_done
