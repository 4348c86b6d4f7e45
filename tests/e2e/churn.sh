#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Interface churn ([reliability]): veth interfaces are created and deleted in a loop (100
# cycles; 1,000 with --long or BF_LONG=1) in bpfilterd's namespace while traffic flows and the
# ruleset is replaced all the time. Checks:
#   - a new interface is filtered as soon as it comes up: every packet that reaches it is either
#     delivered before the rule applies or counted by the rule (DROP) - never one delivered after
#     the first counted one - and, whether replaces run or not, not one packet may get through
#     unfiltered (bpfilterd attaches from a thread of its own, never waiting for a replace being
#     compiled). Two delays are printed (median, 95th percentile, max): RTM_NEWLINK read to
#     dispatchers attached, as bpfilterd measures it (its debug log), and link creation to the
#     first packet the rule counted (fails over 1 s);
#   - a steady flow on a permanent interface loses no count across the replaces and the churn
#     (its ACCEPT rule's counter = packets received on the interface);
#   - no leak in the daemon: open fds (BPF programs and maps among them) back to their level
#     after warm-up, resident memory within 2 MiB (4 MiB with --long) of it, and TC filters only
#     on interfaces that exist.
# tests/run: alone (it measures how fast a new interface is attached)
. "$(dirname "$0")/../lib/bf.sh"
bf_init churn
bf_require_built
bf_require_cmd python3
H="$BF_TOP/tests/e2e/rel/helper.py"

cycles=100
rss_slack=2048
if [ "${1:-}" = --long ] || [ "${BF_LONG:-0}" = 1 ]; then
	cycles=1000
	rss_slack=4096
fi
[ "${BF_QUICK:-0}" = 1 ] && cycles=40
warm=10

bf_netns_add b
bf_netns_add p
for ns in b p; do
	bf_nsexec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	bf_nsexec $ns sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
bf_veth p p0 b b0 10.78.0.2/24 10.78.0.1/24
bf_nsexec p ip neigh replace 10.78.0.1 lladdr "$(bf_nsexec b cat /sys/class/net/b0/address)" dev p0
bf_nsexec b ip neigh replace 10.78.0.2 lladdr "$(bf_nsexec p cat /sys/class/net/p0/address)" dev b0

extra=()
if "$BF_DAEMON" --help | grep -q -- --state-dir; then
	BF_CLEAN_PATHS+=("/sys/fs/bpf/$BF_PREFIX")
	extra+=(--state-dir "$BF_TMP/state" --pin-dir "/sys/fs/bpf/$BF_PREFIX")
fi
# -v: the daemon logs, per new interface, the delay from RTM_NEWLINK to attached.
bf_daemon_start b "${extra[@]}" -v || bf_die "bpfilterd did not start"
dpid=${BF_DAEMON_PID[b]}
sock=$(bf_sock b)

bf_ipt_restore b <<'RULES' || bf_die "initial ruleset refused"
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i b0 -p udp -m udp --dport 9998 -j ACCEPT
-A INPUT -i cb+ -p udp -m udp --dport 9999 -j DROP
COMMIT
RULES

# The daemon's fds by kind, and its RSS in KiB. Sampled under the xtables lock that every
# replace holds, so that no replace is half done (a generation being switched holds more fds).
fds() { flock "$BF_LOCK" sh -c 'sleep 0.1; ls -l "$1"' sh "/proc/$dpid/fd" 2>/dev/null | awk 'NR > 1 { n++; if ($NF ~ /bpf-prog/) p++; if ($NF ~ /bpf-map/) m++ } END { printf "%d fds (%d bpf-prog, %d bpf-map)\n", n, p, m }'; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$dpid/status"; }

# Replaces all along, under the xtables lock like any iptables user (libiptc carries every
# rule's counters over).
replacer()
{
	local i=0
	while [ ! -e "$BF_TMP/stop" ]; do
		i=$((i + 1))
		bf_ipt b -w 60 -I INPUT 1 -s "192.0.2.$((i % 250))" -p tcp -j ACCEPT
		if ((i % 5 == 0)); then
			printf '*filter\n:bft%d - [0:0]\n-A bft%d -p tcp --dport %d -j DROP\n-A INPUT -j bft%d\nCOMMIT\n' \
				$i $i $((i % 60000 + 1)) $i | bf_ipt_restore b -w 60 --noflush
			bf_ipt b -w 60 -D INPUT -j "bft$i"
			bf_ipt b -w 60 -F "bft$i"
			bf_ipt b -w 60 -X "bft$i"
		fi
		bf_ipt b -w 60 -D INPUT 1
		echo $i >"$BF_TMP/replaces"
	done
}
python3 "$H" flow "$(bf_ns p)" 10.78.0.1 9998 300 "$BF_TMP/stop" >"$BF_TMP/flow.out" 2>&1 &
flow=$!
BF_PIDS+=("$flow")

ipt_env=$(printf '{"LD_PRELOAD": "%s", "BPFILTER_SOCKET": "%s", "XTABLES_LOCKFILE": "%s"}' \
	"$BF_SHIM" "$sock" "$BF_LOCK")
run_cycles() # N OUT
{
	bf_nsexec b env BF_IPT_ENV="$ipt_env" python3 "$H" churn "$(bf_ns b)" "$(bf_ns p)" "$1" "$2"
}

# Summary of a cycles file: delays, what got through before the rule applied, bad cycles.
summary()
{
	python3 - "$1" "$2" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
want = int(sys.argv[2])
bad = []
delays = []
passed = 0
for r in recs:
    if r["arrived"] != r["passed"] + r["counted"]:
        bad.append("cycle %d: %d arrived, %d delivered + %d counted" % (r["cycle"], r["arrived"], r["passed"], r["counted"]))
    if not r["contiguous"]:
        bad.append("cycle %d: a packet was delivered after the rule had counted one" % r["cycle"])
    if r["delay_ms"] is None or r["counted"] == 0:
        bad.append("cycle %d: the rule never counted (%s)" % (r["cycle"], r))
    else:
        delays.append(r["delay_ms"])
    passed += r["passed"]
delays.sort()
def pct(p):
    return delays[min(len(delays) - 1, int(p * len(delays)))] if delays else float("nan")
setup = sorted(r["setup_ms"] for r in recs)
print("cycles %d/%d" % (len(recs), want))
print("delay ms: median %.1f p95 %.1f max %.1f (link creation to the first counted packet; "
      "setting the link up takes median %.1f)" % (pct(0.5), pct(0.95), delays[-1] if delays else float("nan"), setup[len(setup) // 2] if setup else float("nan")))
print("delivered before the rule applied: %d packets in %d cycles" % (passed, sum(1 for r in recs if r["passed"])))
print("unfiltered %d" % passed)
print("max_delay %s" % (delays[-1] if delays else 1e9))
for b in bad[:10]:
    print("BAD " + b)
print("nbad %d" % len(bad))
PY
}

t0=$(date +%s)
run_cycles $warm "$BF_TMP/warm.jsonl" || bf_die "warm-up cycles failed"
sleep 0.5
fds0=$(fds)
rss0=$(rss)
echo "after $warm warm-up cycles: $fds0, RSS $rss0 KiB"

# With no replace running, the daemon attaches to a new interface while it is still being set
# up: not one packet may get through unfiltered.
quiet=20
run_cycles $quiet "$BF_TMP/quiet.jsonl" || bf_fail "quiet cycles stopped early"
summary "$BF_TMP/quiet.jsonl" $quiet >"$BF_TMP/quiet.summary"
sed 's/^/quiet: /' "$BF_TMP/quiet.summary"
if grep -q "^nbad 0$" "$BF_TMP/quiet.summary" && grep -q "^unfiltered 0$" "$BF_TMP/quiet.summary" &&
	grep -q "^cycles $quiet/" "$BF_TMP/quiet.summary"; then
	bf_pass "no replace running: $quiet new interfaces filtered from their first packet"
else
	bf_fail "no replace running: new interfaces not filtered from their first packet"
fi

# RTM_NEWLINK to attached, as the daemon measured it, for the interfaces of lines FROM.. of its log.
attach_delays() # FROM
{
	bf_daemon_log b | tail -n "+$1" |
		sed -n 's/.*: cb[0-9]* (ifindex [0-9]*): dispatchers attached \([0-9.]*\) ms after RTM_NEWLINK.*/\1/p' |
		sort -n | awk '{ d[NR] = $1 }
			END { if (!NR) { print "none"; exit }
				p = int(NR * 0.95); if (p < 1) p = 1
				printf "%d interfaces, median %.2f ms, p95 %.2f ms, max %.2f ms\n", NR,
					d[int((NR + 1) / 2)], d[p], d[NR] }'
}
echo "RTM_NEWLINK to attached, no replace running: $(attach_delays 1)"
logpos=$(($(bf_daemon_log b | wc -l) + 1))

replacer >"$BF_TMP/replacer.log" 2>&1 &
rep=$!
BF_PIDS+=("$rep")
run_cycles "$cycles" "$BF_TMP/cycles.jsonl" || bf_fail "churn cycles stopped early"
t1=$(date +%s)
touch "$BF_TMP/stop"
wait "$rep" "$flow"
sleep 0.5
fds1=$(fds)
rss1=$(rss)
echo "after $cycles more cycles ($((t1 - t0)) s, $(cat "$BF_TMP/replaces" 2>/dev/null || echo 0) replace rounds): $fds1, RSS $rss1 KiB"

kill -0 "$dpid" 2>/dev/null && bf_pass "daemon alive" || bf_die "daemon died"

# --- per-cycle results, with replaces running: the daemon attaches from its watch thread while
# the request path compiles, so here too not one packet may get through unfiltered.
summary "$BF_TMP/cycles.jsonl" "$cycles" >"$BF_TMP/summary"
cat "$BF_TMP/summary"
delays=$(attach_delays "$logpos")
echo "RTM_NEWLINK to attached, replaces running: $delays"
case "$delays" in
"$cycles interfaces,"*) bf_pass "bpfilterd attached all $cycles new interfaces" ;;
*) bf_fail "bpfilterd's log names $delays attached interfaces, $cycles expected" ;;
esac
[ "$(sed -n 's/^unfiltered //p' "$BF_TMP/summary")" = 0 ] &&
	bf_pass "replaces running: not one packet on a new interface went unfiltered" ||
	bf_fail "replaces running: $(sed -n 's/^unfiltered //p' "$BF_TMP/summary") packets on new interfaces went unfiltered"
[ "$(sed -n 's/^cycles \([0-9]*\)\/.*/\1/p' "$BF_TMP/summary")" = "$cycles" ] &&
	bf_pass "$cycles create/traffic/delete cycles" || bf_fail "cycles: $(head -1 "$BF_TMP/summary")"
[ "$(sed -n 's/^nbad //p' "$BF_TMP/summary")" = 0 ] &&
	bf_pass "every packet on a new interface delivered before the rule applied or counted by it" ||
	bf_fail "new interfaces not filtered exactly (see above)"
maxd=$(sed -n 's/^max_delay //p' "$BF_TMP/summary")
awk -v d="$maxd" 'BEGIN { exit !(d < 1000) }' && bf_pass "filtered within ${maxd} ms of creation, at worst" ||
	bf_fail "a new interface waited ${maxd} ms for its filter"

# --- the steady flow: every packet that reached b0 was counted
sleep 0.3
rx=$(bf_nsexec b cat /sys/class/net/b0/statistics/rx_packets)
cnt=$(bf_ipt b -L INPUT -v -x -n | awk '/dpt:9998/ { print $1 }')
echo "steady flow: $(cat "$BF_TMP/flow.out"), received on b0 $rx, counted $cnt"
[ -n "$cnt" ] && [ "$rx" = "$cnt" ] && ((rx > 0)) &&
	bf_pass "steady flow: all $rx packets counted across the replaces and the churn" ||
	bf_fail "steady flow: received $rx, counted $cnt"

# --- leaks
[ "$fds0" = "$fds1" ] && bf_pass "daemon fds unchanged: $fds1" || bf_fail "daemon fds: $fds0 -> $fds1"
grow=$((rss1 - rss0))
if ldd "$BF_DAEMON" 2>/dev/null | grep -q libasan; then
	# ASan keeps freed memory in quarantine (up to 256 MiB), so RSS says nothing there; its
	# leak checker reports what is not freed at exit instead, and any report fails CI.
	echo "daemon RSS grew by $grow KiB: not checked in an ASan build (LeakSanitizer checks at exit)"
else
	((grow <= rss_slack)) && bf_pass "daemon RSS grew by $grow KiB (limit $rss_slack)" ||
		bf_fail "daemon RSS grew by $grow KiB over $cycles cycles (limit $rss_slack)"
fi
links=$(bf_nsexec b ip -o link show | wc -l)
tcs=0
for d in $(bf_nsexec b ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
	bf_nsexec b tc filter show dev "$d" ingress 2>/dev/null | grep -q bf_ && tcs=$((tcs + 1))
done
leftover=$(bf_nsexec b ip -o link show | grep -c ' cb[0-9]' || true)
[ "$leftover" = 0 ] && [ "$tcs" = "$links" ] &&
	bf_pass "TC dispatchers on the $links remaining interfaces, none left over" ||
	bf_fail "$links links ($leftover churn links left), $tcs with a bf_ TC filter"

bf_daemon_stop b && bf_pass "clean exit" || bf_fail "daemon exit status $?"
bf_done
