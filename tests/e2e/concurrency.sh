#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Concurrency and limits of bpfilterd ([reliability]):
#   1. 16 writers, each `iptables -w -A` of 100 rules of its own (they share the xtables lock,
#      as on a host), end with all 1,600 rules; while they run, readers (iptables-save, -S,
#      -L -n, each with a lock file of its own so that nothing orders them with the writers)
#      never see a torn table: every read succeeds and parses, and every writer's rules in it
#      are a prefix of its sequence (each writer adds in order), with counts that never go back.
#   2. During the writes, clients that stall mid-header or mid-payload are closed after the
#      daemon's timeout (BFD_CONN_TIMEOUT_MS, 5 s) without holding anyone up, also when they
#      take every connection slot (BFD_MAX_CONNS, 64); garbage, bad magic, oversize headers and
#      unknown ops get the connection closed; the daemon survives all of it.
#   3. Oversize: a SET_REPLACE blob over the protocol's 256 MiB limit fails with ENOMEM (the
#      kernel's errno for a table over its limit) and a daemon log line naming the limit.
# BF_QUICK=1: 8 writers x 25 rules.
. "$(dirname "$0")/../lib/bf.sh"
bf_init concurrency
bf_require_built
bf_require_cmd python3
H="$BF_TOP/tests/e2e/rel/helper.py"

W=16
N=100
if [ "${BF_QUICK:-0}" = 1 ]; then
	W=8
	N=25
fi

bf_netns_add b
extra=()
if "$BF_DAEMON" --help | grep -q -- --state-dir; then
	BF_CLEAN_PATHS+=("/sys/fs/bpf/$BF_PREFIX")
	extra+=(--state-dir "$BF_TMP/state" --pin-dir "/sys/fs/bpf/$BF_PREFIX")
fi
bf_daemon_start b "${extra[@]}" || bf_die "bpfilterd did not start"
dpid=${BF_DAEMON_PID[b]}
sock=$(bf_sock b)
ipt_own_lock() # LOCKFILE TOOL ARGS...: through the shim, with a lock file of its own
{
	local lock=$1 tool=$2
	shift 2
	ip netns exec "$(bf_ns b)" timeout -k 5 "$BF_TIMEOUT" env LD_PRELOAD="$BF_SHIM" \
		BPFILTER_SOCKET="$sock" XTABLES_LOCKFILE="$lock" "$tool" "$@"
}
bf_ipt b -S >/dev/null || bf_die "first request failed"

# Writer w adds 10.<w+1>.<i/256>.<i%256>/32 for i = 0..N-1, in order.
writer()
{
	local w=$1 i fails=0
	for ((i = 0; i < N; i++)); do
		if ! bf_ipt b -w 120 -A INPUT -s "10.$((w + 1)).$((i / 256)).$((i % 256))/32" -j ACCEPT \
			2>>"$BF_TMP/writer.$w.err"; then
			fails=$((fails + 1))
		fi
	done
	echo "$fails" >"$BF_TMP/writer.$w.fails"
}

# Reader r: one kind of read in a loop until the writers are done; every output is checked by
# check_read (below) afterwards. Reads that fail are kept too.
reader()
{
	local r=$1 kind=$2 k=0 rc
	while [ ! -e "$BF_TMP/writers.done" ]; do
		k=$((k + 1))
		rc=0
		case $kind in
		save) ipt_own_lock "$BF_TMP/lock.r$r" iptables-legacy-save -t filter \
			>"$BF_TMP/read.$r.$k" 2>&1 || rc=$? ;;
		S) ipt_own_lock "$BF_TMP/lock.r$r" iptables-legacy -S INPUT \
			>"$BF_TMP/read.$r.$k" 2>&1 || rc=$? ;;
		L) ipt_own_lock "$BF_TMP/lock.r$r" iptables-legacy -L INPUT -n \
			>"$BF_TMP/read.$r.$k" 2>&1 || rc=$? ;;
		esac
		echo "$kind $rc" >"$BF_TMP/read.$r.$k.rc"
		sleep 0.02
	done
}

t0=$(date +%s.%N)
wpids=()
for ((w = 0; w < W; w++)); do
	writer "$w" &
	wpids+=($!)
done
rpids=()
r=0
for kind in save save S L; do
	reader $r $kind &
	rpids+=($!)
	r=$((r + 1))
done

# --- 2. misbehaving clients while the writers run
sleep 1
probe() # seconds one `iptables -S` takes (its own lock file: only the daemon can delay it)
{
	local a b
	a=$(date +%s.%N)
	ipt_own_lock "$BF_TMP/lock.probe" iptables-legacy -S INPUT >/dev/null 2>&1 || echo fail
	b=$(date +%s.%N)
	awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f\n", b - a }'
}
connected() # FILE...: wait until each stall helper has all its connections open
{
	local f i
	for f in "$@"; do
		for ((i = 0; i < 100; i++)); do
			grep -q '^connected' "$f" 2>/dev/null && break
			sleep 0.1
		done
	done
}
bf_nsexec b python3 "$H" stall "$sock" 20 8 hdr >"$BF_TMP/stall.hdr" &
st1=$!
bf_nsexec b python3 "$H" stall "$sock" 20 8 payload >"$BF_TMP/stall.payload" &
st2=$!
connected "$BF_TMP/stall.hdr" "$BF_TMP/stall.payload"
p=$(probe)
# 40 stalled connections and 16 busy writers: a read must still be answered at once.
if [ "$p" != fail ] && awk -v p="$p" 'BEGIN { exit !(p < 3) }'; then
	bf_pass "a read with 40 stalled clients took ${p}s"
else
	bf_fail "a read with 40 stalled clients: $p"
fi
wait $st1 $st2
for m in hdr payload; do
	res=$(grep -v '^connected' "$BF_TMP/stall.$m")
	echo "stalled mid-$m: $res"
	lo=$(echo "$res" | sed -n 's/^closed 20 after \([0-9.]*\)-.*/\1/p')
	if [ -n "$lo" ] && awk -v a="$lo" 'BEGIN { exit !(a >= 4.5 && a < 7.5) }'; then
		bf_pass "20 clients stalled mid-$m closed by the daemon's timeout ($res)"
	else
		bf_fail "clients stalled mid-$m: $res"
	fi
done

# Every connection slot taken (70 > BFD_MAX_CONNS): the others wait in the backlog until the
# stalled ones time out, then they are served.
bf_nsexec b python3 "$H" stall "$sock" 70 9 hdr >"$BF_TMP/stall.all" &
st3=$!
connected "$BF_TMP/stall.all"
p=$(probe)
wait $st3
echo "all slots stalled: $(grep -v '^connected' "$BF_TMP/stall.all"); a read took ${p}s"
if [ "$p" != fail ] && awk -v p="$p" 'BEGIN { exit !(p < 8) }'; then
	bf_pass "with every slot stalled, a read waited ${p}s (the timeout), then was served"
else
	bf_fail "with every slot stalled, a read: $p"
fi

bf_nsexec b python3 "$H" garbage "$sock" 200 >"$BF_TMP/garbage" 2>&1
cat "$BF_TMP/garbage"
if [ "$(cat "$BF_TMP/garbage")" = "random: closed=200
bad-magic: closed
oversize: closed
unknown-op: closed" ]; then
	bf_pass "garbage, bad magic, oversize and unknown ops: connection closed"
else
	bf_fail "garbage clients: $(tr '\n' ' ' <"$BF_TMP/garbage")"
fi
grep -q "bad request (payload too large)" "$BF_TMP/b.daemon.log" &&
	bf_pass "oversize header logged as such" || bf_fail "no 'payload too large' log line"

# --- 1. wait for the writers, stop the readers, check everything
for p in "${wpids[@]}"; do wait "$p"; done
touch "$BF_TMP/writers.done"
for p in "${rpids[@]}"; do wait "$p"; done
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

kill -0 "$dpid" 2>/dev/null && bf_pass "daemon alive after all of it" || bf_fail "daemon died"
fails=$(cat "$BF_TMP"/writer.*.fails | awk '{ s += $1 } END { print s }')
[ "$fails" = 0 ] && bf_pass "$((W * N)) writes by $W writers in ${secs}s, none failed" ||
	{ bf_fail "$fails writes failed"; cat "$BF_TMP"/writer.*.err | sort | uniq -c | head; }

# Every read: it succeeded, it parses completely for its kind, each writer's rules in it are a
# prefix of that writer's sequence, and a reader's rule count never goes back. Then the final
# table. Prints "reads N bad M" and the first problems.
cat >"$BF_TMP/check.py" <<'PY'
import glob, os, re, sys
tmp, W, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
RULE = {
    "save": re.compile(r"^-A INPUT -s (10\.\d+\.\d+\.\d+)/32 -j ACCEPT$"),
    "S": re.compile(r"^-A INPUT -s (10\.\d+\.\d+\.\d+)/32 -j ACCEPT$"),
    "L": re.compile(r"^ACCEPT +(?:all|0) +-- +(10\.\d+\.\d+\.\d+) +0\.0\.0\.0/0 *$"),
}
OTHER = {
    "save": re.compile(r"^(\*filter|:(INPUT|FORWARD|OUTPUT) ACCEPT \[\d+:\d+\]|# .*)$"),
    "S": re.compile(r"^-P INPUT ACCEPT$"),
    "L": re.compile(r"^(Chain INPUT \(policy ACCEPT\)|target +prot opt source +destination *)$"),
}
END = {"save": "COMMIT", "S": "-P INPUT ACCEPT", "L": "Chain INPUT (policy ACCEPT)"}

def parse(kind, text):
    """Rules as (writer, index), or an error string."""
    rules, complete = [], False
    for line in text.splitlines():
        m = RULE[kind].match(line)
        if m:
            a = [int(x) for x in m.group(1).split(".")]
            rules.append((a[1] - 1, a[2] * 256 + a[3]))
        elif line == END[kind]:
            complete = True
        elif not OTHER[kind].match(line):
            return "unexpected line %r" % line
    return rules if complete else "incomplete output"

def check(rules):
    per = {}
    for w, i in rules:
        per.setdefault(w, []).append(i)
    for w, idx in per.items():
        if sorted(idx) != list(range(len(idx))):
            return "writer %d: rules %s are not a prefix" % (w, sorted(idx)[:12])
    return None

bad, n, last, msgs = 0, 0, {}, []
rcs = glob.glob(os.path.join(tmp, "read.*.*.rc"))
rcs.sort(key=lambda p: tuple(int(x) for x in p.split(".")[-3:-1]))
for rc in rcs:
    f = rc[:-3]
    r = f.split(".")[-2]
    kind, status = open(rc).read().split()
    n += 1
    text = open(f).read()
    if status != "0":
        bad += 1
        msgs.append("%s (%s) failed with %s: %s" % (f, kind, status, text[:200]))
        continue
    rules = parse(kind, text)
    err = rules if isinstance(rules, str) else check(rules)
    if not err and len(rules) < last.get(r, 0):
        err = "%d rules after %d in an earlier read" % (len(rules), last[r])
    if err:
        bad += 1
        msgs.append("%s (%s): %s" % (f, kind, err))
        continue
    last[r] = len(rules)
print("reads %d bad %d" % (n, bad))
for m in msgs[:10]:
    print("  " + m)
final = parse("save", open(os.path.join(tmp, "final")).read())
if isinstance(final, str):
    print("final: " + final)
else:
    err = check(final)
    counts = {}
    for w, i in final:
        counts[w] = counts.get(w, 0) + 1
    ok = not err and len(final) == W * N and all(counts.get(w) == N for w in range(W))
    print("final %s %d rules%s" % ("ok" if ok else "bad", len(final), (": " + err) if err else ""))
PY
bf_ipt_save b -t filter >"$BF_TMP/final"
python3 "$BF_TMP/check.py" "$BF_TMP" "$W" "$N" >"$BF_TMP/check.out"
cat "$BF_TMP/check.out"
read -r _ nread _ bad <"$BF_TMP/check.out"
if [ "$bad" = 0 ] && ((nread > 0)); then
	bf_pass "$nread concurrent reads (save, -S, -L), none torn, counts never went back"
else
	bf_fail "$bad of $nread concurrent reads failed, were torn or went back"
fi
if grep -q "^final ok $((W * N)) rules$" "$BF_TMP/check.out"; then
	bf_pass "the final table holds all $((W * N)) rules, $N of each writer"
else
	bf_fail "final table: $(grep '^final' "$BF_TMP/check.out")"
fi

# --- 3. a table over the protocol limit, through the shim: ENOMEM and a clear log line
out=$(ip netns exec "$(bf_ns b)" timeout 120 env LD_PRELOAD="$BF_SHIM" BPFILTER_SOCKET="$sock" \
	python3 - <<'PY' 2>&1
import errno, socket, struct
size = 300 << 20
hdr = struct.pack("=32sIII5I5IIQ", b"filter", 0xE, 5, size, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0)
buf = bytearray(len(hdr) + size)
buf[:len(hdr)] = hdr
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
try:
    s.setsockopt(socket.SOL_IP, 64, bytes(buf))
    print("accepted")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
PY
)
if [ "$out" = ENOMEM ] && grep -q "exceeds bpfilter's limit" "$BF_TMP/b.daemon.log"; then
	bf_pass "a 300 MiB table: ENOMEM, and the daemon says why"
else
	bf_fail "a 300 MiB table: '$out'; log: $(grep -i limit "$BF_TMP/b.daemon.log" | tail -1)"
fi
bf_ipt b -S INPUT | grep -c '^-A' | grep -qx $((W * N)) && bf_pass "table unchanged by it" ||
	bf_fail "table changed by a refused replace"

bf_daemon_stop b && bf_pass "clean exit" || bf_fail "daemon exit status $?"
bf_done
