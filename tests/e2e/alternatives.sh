#!/usr/bin/env bash
# bpfilter-alternatives register/unregister, against a scratch update-alternatives root (never the
# machine's database): register selects the wrappers for iptables, iptables-restore and
# iptables-save; unregister restores the previous selection, manual or auto.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
R=$(mktemp -d /tmp/bft-alt-$$.XXXXXX)
trap 'rm -rf "$R"' EXIT
fails=0
check() { # NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then echo "PASS $1"; else echo "FAIL $1: expected '$2', got '$3'"; fails=$((fails + 1)); fi
}

mkdir -p "$R"/etc/alternatives "$R"/var/lib/dpkg/alternatives "$R"/var/log "$R"/usr/sbin "$R"/usr/local/sbin
for f in iptables-legacy iptables-legacy-restore iptables-legacy-save iptables-nft iptables-nft-restore iptables-nft-save; do
	install -m 0755 /dev/null "$R/usr/sbin/$f"
done
for w in bpfilter-iptables bpfilter-iptables-restore bpfilter-iptables-save; do
	install -m 0755 /dev/null "$R/usr/local/sbin/$w"
done
sed -e "s|@SBINDIR@|/usr/local/sbin|g" "$top/compat/iptables/bpfilter-alternatives.in" >"$R/alt"
chmod +x "$R/alt"
ua=(update-alternatives --root "$R" --log "$R/var/log/alt.log")
alt=("$R/alt" --root "$R" --log "$R/var/log/alt.log")
# The group as Debian's iptables package registers it.
for v in legacy:10 nft:20; do
	"${ua[@]}" --install /usr/sbin/iptables iptables "/usr/sbin/iptables-${v%:*}" "${v#*:}" \
		--slave /usr/sbin/iptables-restore iptables-restore "/usr/sbin/iptables-${v%:*}-restore" \
		--slave /usr/sbin/iptables-save iptables-save "/usr/sbin/iptables-${v%:*}-save" >/dev/null
done
value() { "${ua[@]}" --query iptables | sed -n 's/^Value: //p'; }
status() { "${ua[@]}" --query iptables | sed -n 's/^Status: //p'; }
machine_before=$(update-alternatives --query iptables 2>/dev/null | grep -E '^(Status|Value)' || true)

for mode in manual auto; do
	if [ $mode = manual ]; then "${ua[@]}" --set iptables /usr/sbin/iptables-legacy >/dev/null
	else "${ua[@]}" --auto iptables >/dev/null; fi
	before_value=$(value) before_status=$(status)
	"${alt[@]}" register >/dev/null
	check "$mode: register selects the wrapper" /usr/local/sbin/bpfilter-iptables "$(readlink "$R/etc/alternatives/iptables")"
	check "$mode: iptables-restore follows" /usr/local/sbin/bpfilter-iptables-restore "$(readlink "$R/etc/alternatives/iptables-restore")"
	check "$mode: iptables-save follows" /usr/local/sbin/bpfilter-iptables-save "$(readlink "$R/etc/alternatives/iptables-save")"
	"${alt[@]}" register >/dev/null
	check "$mode: register is idempotent" /usr/local/sbin/bpfilter-iptables "$(value)"
	"${alt[@]}" unregister >/dev/null
	check "$mode: unregister restores the selection" "$before_value" "$(value)"
	check "$mode: unregister restores the mode" "$before_status" "$(status)"
	check "$mode: the wrapper is gone from the group" "" "$("${ua[@]}" --list iptables | grep bpfilter || true)"
done
check "the machine's alternatives are untouched" "$machine_before" \
	"$(update-alternatives --query iptables 2>/dev/null | grep -E '^(Status|Value)' || true)"
[ "$fails" = 0 ]
