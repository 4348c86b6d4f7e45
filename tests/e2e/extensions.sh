#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# iptables' own extension vectors (../shared/iptables-tests/extensions: iptables.t, libipt_*.t,
# libxt_*.t with iptables; libip6t_*.t with ip6tables), run as iptables-test.py runs them: for
# each test line and each chain, `iptables -A CHAIN [-t TABLE] RULE`, `iptables-save -t TABLE`, look for "-A CHAIN SAVED", then
# `iptables -D` the rule. Done once against the kernel (iptables-legacy in a scratch namespace, the
# reference) and once against bpfilter (the shim and bpfilterd in another namespace), both at the
# same time, each side in one helper process that runs the whole list (tests/e2e/ext/tvec.py).
#
# Per line and chain the outcome is (add status, rule found in the save output, delete status,
# table unchanged). Rules whose extensions are all in bpfilter's registry (listed by
# tests/tools/bf_exts, never by hand here) must give the kernel's outcome; any other rule must be
# refused by bpfilter with an ordinary iptables error and leave the table as it was.
# Environment: BF_EXT_FILES="libxt_tcp.t ..." limits the run to these files.
set -euo pipefail
. "$(dirname "$0")/../lib/bf.sh"
bf_init extensions
bf_require_cmd python3 ip6tables-legacy ip6tables-legacy-save
bf_require_built

tdir=${BF_EXT_DIR:-$BF_TOP/../shared/iptables-tests/extensions}
[ -d "$tdir" ] || tdir=/work/shared/iptables-tests/extensions
tvec="$BF_TOP/tests/e2e/ext/tvec.py"
bfexts="$BF_TOP/tests/tools/bf_exts"
[ -x "$bfexts" ] || bf_die "$bfexts is not built (run make)"

files=()
if [ -n "${BF_EXT_FILES:-}" ]; then
	for f in $BF_EXT_FILES; do
		files+=("$tdir/$f")
	done
else
	for f in "$tdir"/iptables.t "$tdir"/libipt_*.t "$tdir"/libxt_*.t "$tdir"/libip6t_*.t; do
		[ -f "$f" ] && files+=("$f")
	done
fi
((${#files[@]})) || bf_die "no .t files in $tdir"

"$bfexts" >"$BF_TMP/exts"
echo "registered extensions: $(awk '{ printf "%s%s/%s", (NR > 1 ? " " : ""), $1, $2 }' \
	"$BF_TMP/exts")"
python3 "$tvec" plan "${files[@]}" >"$BF_TMP/plan"
echo "${#files[@]} files, $(grep -c '"kind": "test"' "$BF_TMP/plan") line/chain items"

bf_netns_add k
bf_netns_add b
bf_daemon_start b || bf_die "bpfilterd does not start"

start=$SECONDS
# `ip netns exec` execs python, so $! is the runner itself and cleanup can end it.
ip netns exec "$(bf_ns k)" python3 "$tvec" run "$BF_TMP/plan" "$BF_TMP/kernel" --timeout "$BF_TIMEOUT" \
	--env XTABLES_LOCKFILE="$BF_LOCK.k" &
kpid=$!
BF_PIDS+=("$kpid")
ip netns exec "$(bf_ns b)" python3 "$tvec" run "$BF_TMP/plan" "$BF_TMP/bpf" --timeout "$BF_TIMEOUT" \
	--env LD_PRELOAD="$BF_SHIM" --env BPFILTER_SOCKET="$(bf_sock b)" \
	--env XTABLES_LOCKFILE="$BF_LOCK" &
bpid=$!
BF_PIDS+=("$bpid")
krc=0
brc=0
wait "$kpid" || krc=$?
wait "$bpid" || brc=$?
echo "both sides ran in $((SECONDS - start)) s"
((krc == 0)) || bf_fail "kernel side runner exited with $krc"
((brc == 0)) || bf_fail "bpfilter side runner exited with $brc"

if python3 "$tvec" compare "$BF_TMP/plan" "$BF_TMP/kernel" "$BF_TMP/bpf" "$BF_TMP/exts"; then
	bf_pass "extension vectors: bpfilter agrees with the kernel or refuses cleanly"
else
	bf_fail "extension vectors: mismatches above"
fi

# Everything on the bpfilter side must have gone to bpfilterd: the kernel's own x_tables in that
# namespace were never asked for a table (a call that slipped past the shim would create one).
ktables=$(bf_nsexec b cat /proc/net/ip_tables_names /proc/net/ip6_tables_names 2>/dev/null)
if [ -z "$ktables" ]; then
	bf_pass "no kernel x_tables table was created in the bpfilter namespace"
else
	bf_fail "kernel tables exist in the bpfilter namespace: $(echo "$ktables" | tr '\n' ' ')"
fi

# The daemon must have survived every refusal.
if kill -0 "${BF_DAEMON_PID[b]}" 2>/dev/null && bf_ipt_save b >/dev/null 2>&1 &&
	bf_ip6t_save b >/dev/null 2>&1; then
	bf_pass "bpfilterd still serves after the run"
else
	bf_fail "bpfilterd no longer serves after the run"
fi
bf_done
