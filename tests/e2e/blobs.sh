#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Malformed (and oddly valid) x_tables requests: tests/tools/xtblob sends each of its cases once
# to the kernel (scratch namespace) and once to bpfilterd (through the preload shim, which forwards
# the tool's own get/setsockopt calls); the answers must be the same, line for line. The kernel's
# output is the expected result: nothing is written down here.
#
# Both tables start from the same small ruleset, restored with counters. After every case, on both
# sides, iptables-legacy-save -c must still print exactly that ruleset (a failed request changes
# nothing; xtblob undoes a successful one), and bpfilterd must still be running and serving.
# Environment: BF_BLOB_CASES="case ..." runs only these cases (names from `xtblob --list`).
set -euo pipefail
. "$(dirname "$0")/../lib/bf.sh"
bf_init blobs
bf_require_built

xtblob="$BF_TOP/tests/tools/xtblob"
[ -x "$xtblob" ] || bf_die "$xtblob is not built (run make)"

bf_netns_add k
bf_netns_add b
bf_daemon_start b || bf_die "bpfilterd does not start"

# Core matches only, a user chain, a jump and counters: what the cases must leave untouched.
cat >"$BF_TMP/start.rules" <<'EOF'
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:web - [0:0]
[5:500] -A INPUT -i lo -j ACCEPT
[2:120] -A INPUT -s 192.0.2.0/24 -j web
-A OUTPUT -d 198.51.100.1/32 -j DROP
[1:60] -A web -p udp -j ACCEPT
-A web -s 192.0.2.7/32 -j RETURN
-A web -j DROP
COMMIT
EOF
bf_cmp k b ipt_restore -c <"$BF_TMP/start.rules"
bf_kipt_save k -c | bf_save_filter >"$BF_TMP/k.start"
bf_ipt_save b -c | bf_save_filter >"$BF_TMP/b.start"
bf_diff "starting table (save -c)" "$BF_TMP/k.start" "$BF_TMP/b.start" ||
	bf_fail "the two sides do not start from the same table"

xk()
{
	ip netns exec "$(bf_ns k)" timeout -k 5 "$BF_TIMEOUT" env -u LD_PRELOAD -u BPFILTER_SOCKET \
		"$xtblob" "$@"
}

xb()
{
	ip netns exec "$(bf_ns b)" timeout -k 5 "$BF_TIMEOUT" env LD_PRELOAD="$BF_SHIM" \
		BPFILTER_SOCKET="$(bf_sock b)" "$xtblob" "$@"
}

if [ -n "${BF_BLOB_CASES:-}" ]; then
	read -r -a cases <<<"$BF_BLOB_CASES"
else
	mapfile -t cases < <("$xtblob" --list)
fi
((${#cases[@]} > 0)) || bf_die "xtblob lists no case"

: >"$BF_TMP/k.all"
: >"$BF_TMP/b.all"
nsame=0
ndiff=0
for c in "${cases[@]}"; do
	krc=0
	brc=0
	kout=$(xk "$c" 2>&1) || krc=$?
	bout=$(xb "$c" 2>&1) || brc=$?
	printf '%s\n' "$kout" >>"$BF_TMP/k.all"
	printf '%s\n' "$bout" >>"$BF_TMP/b.all"
	problems=()
	if [ "$kout" != "$bout" ] || [ "$krc" != "$brc" ]; then
		problems+=("answer differs: kernel '${kout#"$c": }' (status $krc)," \
			"bpfilter '${bout#"$c": }' (status $brc)")
		ndiff=$((ndiff + 1))
	else
		nsame=$((nsame + 1))
	fi
	if ! bf_kipt_save k -c 2>&1 | bf_save_filter | cmp -s - "$BF_TMP/k.start"; then
		# The reference itself changed: xtblob failed to undo the case (a bug in xtblob).
		problems+=("kernel table changed")
		bf_kipt_restore k -c <"$BF_TMP/start.rules" || true
	fi
	if ! kill -0 "${BF_DAEMON_PID[b]}" 2>/dev/null; then
		problems+=("bpfilterd died")
	elif ! bf_ipt_save b -c >"$BF_TMP/b.now" 2>&1; then
		problems+=("bpfilterd no longer serves: $(tail -n1 "$BF_TMP/b.now")")
	elif ! bf_save_filter <"$BF_TMP/b.now" | cmp -s - "$BF_TMP/b.start"; then
		problems+=("bpfilter table changed:")
		problems+=("$(bf_save_filter <"$BF_TMP/b.now" | diff -u "$BF_TMP/b.start" - |
			tail -n +3 | sed 's/^/      /' || true)")
		bf_ipt_restore b -c <"$BF_TMP/start.rules" || true
	fi
	if ((${#problems[@]} == 0)); then
		bf_pass "$kout"
	else
		bf_fail "$c: ${problems[*]}"
	fi
	if [ -z "${BF_DAEMON_PID[b]:-}" ] || ! kill -0 "${BF_DAEMON_PID[b]}" 2>/dev/null; then
		# Later answers would all differ for the same reason: start a fresh daemon.
		echo "--- restarting bpfilterd after $c; its log:"
		bf_daemon_log b | tail -n 20 | sed 's/^/    /'
		bf_daemon_stop b || true
		bf_daemon_start b || bf_die "bpfilterd does not restart"
		bf_ipt_restore b -c <"$BF_TMP/start.rules" || true
	fi
done

# Everything on the bpfilter side must have gone to bpfilterd: the kernel's own x_tables in that
# namespace were never asked for a table (a call that slipped past the shim would create one).
if [ -z "$(bf_nsexec b cat /proc/net/ip_tables_names)" ]; then
	bf_pass "no kernel x_tables table was created in the bpfilter namespace"
else
	bf_fail "kernel tables exist in the bpfilter namespace: $(bf_nsexec b cat /proc/net/ip_tables_names | tr '\n' ' ')"
fi

echo "cases: ${#cases[@]}, same answer as the kernel: $nsame, different: $ndiff"
bf_diff "xtblob output" "$BF_TMP/k.all" "$BF_TMP/b.all" || true
bf_done
