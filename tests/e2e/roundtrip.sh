#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Round trip of realistic rulesets: the filter blocks of iptables' own dumps
# (../shared/iptables-tests/dumps) and tests/data/*.rules, restored through bpfilter and through
# the kernel's iptables-legacy in a fresh namespace each, then compared: restore's own output and
# status, save -c, save, -L -v -n -x --line-numbers, -S -v.
#
# Which rules bpfilter must take comes from its registry (tests/tools/bf_exts), never from a list
# here. For each ruleset:
#   1. the ruleset without the rules that use extensions outside the registry must round-trip
#      exactly, restored with -c (counters) and again without;
#   2. if the ruleset has such rules, restoring it whole through bpfilter must fail cleanly:
#      iptables-restore's "line N failed" at the COMMIT line, a non-zero status, the table as the
#      kernel still has it (unchanged), and the daemon keeps serving.
set -euo pipefail
. "$(dirname "$0")/../lib/bf.sh"
bf_init roundtrip
bf_require_cmd python3
bf_require_built

dumps=${BF_DUMPS:-$BF_TOP/../shared/iptables-tests/dumps}
[ -d "$dumps" ] || dumps=/work/shared/iptables-tests/dumps
exts="$BF_TMP/exts"
bf_exts >"$exts" || bf_die "tests/tools/bf_exts is not built (run make)"

# split.py FAMILY EXTS IN OUT_SUPPORTED: writes the rules of IN that use only registered
# extensions to OUT_SUPPORTED; prints the unregistered extensions IN uses, one per line.
cat >"$BF_TMP/split.py" <<'EOF'
import shlex, sys

fam, exts, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
have = set()
for l in open(exts):
	kind, name, _rev, f = l.split()
	if int(f) in (0, fam):
		have.add((kind, "" if name == "(standard)" else name))
lines = open(src).read().splitlines()
chains = {l[1:].split()[0] for l in lines if l.startswith(":")}
verdicts = {"ACCEPT", "DROP", "RETURN", "QUEUE"}
alias = {"state": "conntrack"}  # iptables stores -m state as conntrack
out, missing = [], set()
for l in lines:
	toks = shlex.split(l) if l and not l.startswith("#") else []
	if toks and toks[0].startswith("["):
		toks = toks[1:]
	if not toks or toks[0] not in ("-A", "-I"):
		out.append(l)
		continue
	need, target = set(), False
	for i, t in enumerate(toks[:-1]):
		n = toks[i + 1]
		if t in ("-m", "--match"):
			need.add(("match", alias.get(n, n)))
		elif t in ("-j", "--jump", "-g", "--goto"):
			target = True
			need.add(("target", "" if n in chains or n in verdicts else n))
	if not target:
		need.add(("target", ""))
	bad = need - have
	if bad:
		missing |= bad
	else:
		out.append(l)
open(dst, "w").write("\n".join(out) + "\n")
for kind, name in sorted(missing):
	print(f"{kind}:{name or '(standard)'}")
EOF

ncase=0
# run_case NAME FAMILY FILE
run_case()
{
	local name=$1 fam=$2 file=$3 k b p=ipt prog=iptables full part miss
	ncase=$((ncase + 1))
	k="c$ncase-k"
	b="c$ncase-b"
	if [ "$fam" = 6 ]; then
		p=ip6t
		prog=ip6tables
	fi
	full="$BF_TMP/$name.full"
	part="$BF_TMP/$name.supported"
	# The filter block only: other tables are out of bpfilter's scope (errors.sh covers them).
	awk '/^\*filter/ { on = 1 } on { print } /^COMMIT/ { on = 0 }' "$file" >"$full"
	miss=$(python3 "$BF_TMP/split.py" "$([ "$fam" = 6 ] && echo 10 || echo 2)" "$exts" \
		"$full" "$part")
	echo "== $name (IPv$fam): $(grep -c -e '^-A' -e '^\[.*\] -A' "$full") rules," \
		"$(grep -c -e '^-A' -e '^\[.*\] -A' "$part") with registered extensions;" \
		"unregistered: $(echo ${miss:-none})"
	bf_netns_add "$k"
	bf_netns_add "$b"
	if ! bf_daemon_start "$b"; then
		bf_fail "$name: bpfilterd does not start"
		return 0
	fi

	# Without the standard target the registry has no table for this family at all: the whole
	# block must be refused, and there is nothing to round-trip.
	if grep -q '^target:(standard)$' <<<"$miss"; then
		local out="$BF_TMP/$name.nofamily"
		bf_capture "$out" "bf_${p}_restore" "$b" -c <"$full"
		if [ "$(cat "$out.rc")" != 0 ]; then
			bf_pass "$name: IPv$fam is not in the registry; refused (status $(cat "$out.rc"):" \
				"$(head -n1 "$out.err"))"
		else
			bf_fail "$name: IPv$fam is not in the registry, yet the block was accepted"
		fi
		bf_daemon_stop "$b" || true
		return 0
	fi

	# 1. Exact round trip of the supported part, with counters, then without.
	bf_cmp "$k" "$b" "${p}_restore" -c <"$part"
	bf_cmp_state "$k" "$b" "$fam"
	bf_cmp "$k" "$b" "${p}_restore" <"$part"
	bf_cmp_state "$k" "$b" "$fam"

	# 2. The whole block, when it has rules bpfilter does not take.
	if [ -n "$miss" ]; then
		local out="$BF_TMP/$name.refused" rc commit at
		bf_capture "$out" "bf_${p}_restore" "$b" -c <"$full"
		rc=$(cat "$out.rc")
		commit=$(grep -n '^COMMIT' "$full" | head -n1 | cut -d: -f1)
		# Refused at COMMIT (the daemon's ENOENT), or earlier by iptables itself on a rule
		# with an unregistered extension (it falls back to revision 0, whose options may
		# differ, e.g. recent's --mask).
		at=$(sed -n -e "s/^$prog-restore: line \([0-9]*\) failed$/\1/p" \
			-e 's/^Error occurred at line: \([0-9]*\)$/\1/p' "$out.err" | tail -n1)
		if [ "$rc" != 0 ] && [ -n "$at" ] && { [ "$at" = "$commit" ] ||
			! grep -qxF -- "$(sed -n "${at}p" "$full")" "$part"; }; then
			bf_pass "$name: whole block refused at line $at (status $rc)"
		else
			bf_fail "$name: whole block: expected a refusal (COMMIT is line $commit)," \
				"got status $rc"
			sed 's/^/    stderr: /' "$out.err"
		fi
		# Unchanged: still what the kernel has, which holds the supported part.
		bf_cmp_state "$k" "$b" "$fam"
		if kill -0 "${BF_DAEMON_PID[$b]}" 2>/dev/null &&
			"bf_${p}_save" "$b" >/dev/null 2>&1; then
			bf_pass "$name: daemon still serves after the refusal"
		else
			bf_fail "$name: daemon no longer serves after the refusal"
		fi
		# The data itself must be valid for the kernel, or the refusal above proves nothing.
		if "bf_k${p}_restore" "$k" -c <"$full" >/dev/null 2>&1; then
			bf_pass "$name: the kernel accepts the whole block"
		else
			bf_fail "$name: the kernel refuses the whole block (bad test data)"
		fi
	fi
	bf_daemon_stop "$b" || true
	ip netns del "$(bf_ns "$k")" 2>/dev/null || true
	ip netns del "$(bf_ns "$b")" 2>/dev/null || true
}

for f in "$dumps"/*; do
	[ -f "$f" ] && grep -q '^\*filter' "$f" || continue
	fam=4
	case "$(basename "$f")" in *ip6*) fam=6 ;; esac
	run_case "dump-$(basename "$f")" "$fam" "$f"
done
for f in "$BF_TOP"/tests/data/*.rules; do
	run_case "data-$(basename "$f" .rules)" 4 "$f"
done
((ncase >= 10)) || bf_fail "only $ncase rulesets found"
bf_done
