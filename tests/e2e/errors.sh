#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Error paths of the control plane, each compared with what the kernel's iptables-legacy prints and
# returns, and each followed by a check that bpfilter's table is unchanged (the same as the
# kernel's) and that the daemon still serves:
#   - tables bpfilter does not have (nat, mangle, raw, security): the kernel has them, so the
#     reference is the kernel's answer for a table it does not have either ("bftnosuch"), with
#     the table name substituted;
#   - extensions outside bpfilter's registry (tests/tools/bf_exts): the reference is the kernel's
#     answer for an extension it does not have (match ipvs, target LED), the name substituted;
#   - rules the kernel's checks refuse (jump loops; protocol restrictions of registered matches);
#   - a client without CAP_NET_ADMIN (capsh): EPERM, as from the kernel;
#   - a client in another network namespace changes nothing;
#   - the daemon stopped: iptables through the shim fails, with exactly one line naming the socket.
set -euo pipefail
. "$(dirname "$0")/../lib/bf.sh"
bf_init errors
bf_require_cmd capsh sed
bf_require_built

K=k
B=b
bf_netns_add $K
bf_netns_add $B
bf_netns_add o
bf_daemon_start $B || bf_die "bpfilterd does not start"
exts=$(bf_exts) || bf_die "tests/tools/bf_exts is not built (run make)"
registered() # KIND NAME
{
	awk -v k="$1" -v n="$2" '$1 == k && $2 == n && ($4 == 0 || $4 == 2) { f = 1 } END { exit !f }' \
		<<<"$exts"
}

# The same starting table on both sides: standard targets and user chains only.
bf_cmp $K $B ipt_restore <<'EOF'
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:blocklist - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -j blocklist
-A blocklist -s 192.0.2.0/24 -j DROP
-A blocklist -s 198.51.100.7/32 -j DROP
-A blocklist -j RETURN
COMMIT
EOF

n=0
# subst_cmp LABEL FROM TO KCMD... -- BCMD...: run KCMD (kernel) and BCMD (bpfilter) with the same
# stdin, replace FROM by TO in the kernel's stdout/stderr, compare those and the status.
subst_cmp()
{
	local label=$1 from=$2 to=$3 kc=() bc=() d ok=1
	shift 3
	while (($#)) && [ "$1" != -- ]; do
		kc+=("$1")
		shift
	done
	shift
	bc=("$@")
	n=$((n + 1))
	d="$BF_TMP/subst.$n"
	mkdir -p "$d"
	cat >"$d/in"
	bf_capture "$d/k" "${kc[@]}" <"$d/in"
	bf_capture "$d/b" "${bc[@]}" <"$d/in"
	for f in out err; do
		sed "s/$from/$to/g" "$d/k.$f" | bf_save_filter >"$d/k.$f.s"
		bf_save_filter <"$d/b.$f" >"$d/b.$f.s"
		bf_diff "$f of $label" "$d/k.$f.s" "$d/b.$f.s" || ok=0
	done
	if [ "$(cat "$d/k.rc")" != "$(cat "$d/b.rc")" ]; then
		echo "--- status of $label: kernel $(cat "$d/k.rc"), bpfilter $(cat "$d/b.rc")"
		ok=0
	fi
	if ((ok)); then
		bf_pass "$label (status $(cat "$d/b.rc"))"
	else
		bf_fail "$label"
	fi
}

unchanged()
{
	bf_cmp $K $B ipt_save -c
	bf_cmp $K $B ipt -L -v -n -x --line-numbers
}

echo "== tables bpfilter does not have"
X=bftnosuch
for t in nat mangle raw security; do
	subst_cmp "-t $t -L" $X $t bf_kipt $K -t $X -L -- bf_ipt $B -t $t -L </dev/null
	subst_cmp "-t $t -S" $X $t bf_kipt $K -t $X -S -- bf_ipt $B -t $t -S </dev/null
	subst_cmp "-t $t -A" $X $t bf_kipt $K -t $X -A OUTPUT -j ACCEPT -- \
		bf_ipt $B -t $t -A OUTPUT -j ACCEPT </dev/null
	subst_cmp "-t $t -N" $X $t bf_kipt $K -t $X -N foo -- bf_ipt $B -t $t -N foo </dev/null
	subst_cmp "-t $t -F" $X $t bf_kipt $K -t $X -F -- bf_ipt $B -t $t -F </dev/null
	subst_cmp "save -t $t" $X $t bf_kipt_save $K -t $X -- bf_ipt_save $B -t $t </dev/null
	printf '*%s\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j ACCEPT\nCOMMIT\n' $t >"$BF_TMP/r.$t"
	sed "s/^\*$t/*$X/" "$BF_TMP/r.$t" >"$BF_TMP/r.$t.k"
	subst_cmp "restore *$t" $X $t bf_kipt_restore $K "$BF_TMP/r.$t.k" -- \
		bf_ipt_restore $B "$BF_TMP/r.$t" </dev/null
	subst_cmp "restore --noflush *$t" $X $t bf_kipt_restore $K -n "$BF_TMP/r.$t.k" -- \
		bf_ipt_restore $B -n "$BF_TMP/r.$t" </dev/null
	unchanged
done
# The plain save lists only the tables that exist: filter, not the ones asked for above.
bf_cmp $K $B ipt_save

echo "== extensions outside the registry"
# NAME|KIND|bpfilter's rule (the kernel's reference rule uses ipvs or LED instead)
for spec in "conntrack|match|-m conntrack --ctstate NEW -j ACCEPT" \
	"multiport|match|-p tcp -m multiport --dports 22,80 -j ACCEPT" \
	"limit|match|-m limit --limit 3/min -j ACCEPT" \
	"addrtype|match|-m addrtype --dst-type LOCAL -j ACCEPT" \
	"REJECT|target|-j REJECT" \
	"LOG|target|-j LOG --log-prefix x"; do
	IFS='|' read -r name kind rule <<<"$spec"
	if registered "$kind" "$name"; then
		echo "($kind $name is registered: its refusal is not tested here)"
		continue
	fi
	if [ "$kind" = match ]; then
		ref=ipvs
		kref=(-m ipvs --ipvs -j ACCEPT)
	else
		ref=LED
		kref=(-j LED --led-trigger-id x)
	fi
	read -r -a brule <<<"$rule"
	subst_cmp "-A INPUT $rule" $ref "$name" bf_kipt $K -A INPUT "${kref[@]}" -- \
		bf_ipt $B -A INPUT "${brule[@]}" </dev/null
	unchanged
	subst_cmp "-I blocklist 1 $rule" $ref "$name" bf_kipt $K -I blocklist 1 "${kref[@]}" -- \
		bf_ipt $B -I blocklist 1 "${brule[@]}" </dev/null
	unchanged
	printf '*filter\n-A INPUT %s\nCOMMIT\n' "${kref[*]}" >"$BF_TMP/x.k"
	printf '*filter\n-A INPUT %s\nCOMMIT\n' "$rule" >"$BF_TMP/x.b"
	subst_cmp "restore --noflush with $kind $name" $ref "$name" \
		bf_kipt_restore $K --noflush "$BF_TMP/x.k" -- \
		bf_ipt_restore $B --noflush "$BF_TMP/x.b" </dev/null
	unchanged
done

echo "== rules the kernel's checks refuse"
bf_cmp $K $B ipt -N loop1
bf_cmp $K $B ipt -N loop2
bf_cmp $K $B ipt -A loop2 -j loop1
bf_cmp $K $B ipt -A INPUT -j loop1
bf_cmp $K $B ipt -F loop2
bf_cmp $K $B ipt -A INPUT -j loop1
bf_cmp $K $B ipt -A loop1 -j loop2
bf_cmp $K $B ipt -A loop2 -j loop1
bf_cmp $K $B ipt -A loop1 -j loop1
bf_cmp $K $B ipt -A loop2 -g loop1
unchanged
bf_cmp $K $B ipt_restore --noflush <<'EOF'
*filter
-A loop1 -j loop2
-A loop2 -j INPUT
COMMIT
EOF
unchanged
bf_cmp $K $B ipt -A FORWARD -j loop2
bf_cmp $K $B ipt -A loop2 -j loop2
bf_cmp $K $B ipt -D INPUT -j loop1
bf_cmp $K $B ipt -F loop1
bf_cmp $K $B ipt -X loop1
bf_cmp $K $B ipt -X loop2
unchanged
registered match tcp && bf_cmp $K $B ipt -A INPUT -m tcp --dport 1 -j ACCEPT
registered match tcp && bf_cmp $K $B ipt -A INPUT ! -p tcp -m tcp --dport 1 -j ACCEPT
registered match udp && bf_cmp $K $B ipt -A INPUT -p tcp -m udp --dport 1 -j ACCEPT
registered match icmp && bf_cmp $K $B ipt -A INPUT -p udp -m icmp --icmp-type 8 -j ACCEPT
registered target REJECT && bf_cmp $K $B ipt -A INPUT -p udp -j REJECT --reject-with tcp-reset
unchanged

echo "== no CAP_NET_ADMIN"
# capsh drops the capability from the bounding set; bash then runs the command without it.
noadmin_k()
{
	bf_nsexec $K capsh --drop=cap_net_admin -- -c 'exec "$@"' capsh timeout 60 env -u LD_PRELOAD \
		XTABLES_LOCKFILE="$BF_LOCK.k" "$@"
}
noadmin_b()
{
	bf_nsexec $B capsh --drop=cap_net_admin -- -c 'exec "$@"' capsh timeout 60 \
		env LD_PRELOAD="$BF_SHIM" BPFILTER_SOCKET="$(bf_sock $B)" XTABLES_LOCKFILE="$BF_LOCK" "$@"
}
for args in "-L -n" "-S" "-A INPUT -j ACCEPT" "-F" "-P INPUT DROP" "-N x" "-C INPUT -i lo -j ACCEPT"; do
	read -r -a a <<<"$args"
	subst_cmp "without CAP_NET_ADMIN: iptables $args" "^$" "" \
		noadmin_k iptables-legacy "${a[@]}" -- noadmin_b iptables-legacy "${a[@]}" </dev/null
	unchanged
done
subst_cmp "without CAP_NET_ADMIN: iptables-save" "^$" "" \
	noadmin_k iptables-legacy-save -- noadmin_b iptables-legacy-save </dev/null
printf '*filter\n-A INPUT -j DROP\nCOMMIT\n' |
	subst_cmp "without CAP_NET_ADMIN: iptables-restore" "^$" "" \
		noadmin_k iptables-legacy-restore --noflush -- noadmin_b iptables-legacy-restore --noflush
unchanged

echo "== a client in another network namespace"
rc=0
bf_nsexec o timeout 60 env LD_PRELOAD="$BF_SHIM" BPFILTER_SOCKET="$(bf_sock $B)" \
	XTABLES_LOCKFILE="$BF_LOCK" iptables-legacy -A INPUT -j DROP >"$BF_TMP/o.out" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
	bf_pass "a client of another namespace is refused (status $rc: $(head -n1 "$BF_TMP/o.out"))"
else
	bf_fail "a client of another namespace changed the table (status 0)"
fi
unchanged

echo "== daemon stopped"
bf_daemon_stop $B || true
sock=$(bf_sock $B)
down()
{
	local label=$1 rc=0 lines
	shift
	"$@" >"$BF_TMP/down.out" 2>"$BF_TMP/down.err" </dev/null || rc=$?
	lines=$(grep -cF -- "$sock" "$BF_TMP/down.err" || true)
	if [ "$rc" != 0 ] && [ "$lines" = 1 ]; then
		bf_pass "daemon stopped: $label fails (status $rc) with one line naming the socket"
	else
		bf_fail "daemon stopped: $label: status $rc, $lines line(s) naming $sock"
		sed 's/^/    stderr: /' "$BF_TMP/down.err"
	fi
}
down "iptables -L" bf_ipt $B -L -n
down "iptables -A" bf_ipt $B -A INPUT -j ACCEPT
down "iptables-save" bf_ipt_save $B
down "iptables-save -t filter" bf_ipt_save $B -t filter
printf '*filter\nCOMMIT\n' >"$BF_TMP/empty.rules"
down "iptables-restore" bf_ipt_restore $B "$BF_TMP/empty.rules"

bf_done
