#!/usr/bin/env bash
# bpfilter-alternatives register/unregister, against a scratch update-alternatives root (never the
# machine's database): register selects the wrappers for iptables, iptables-restore and
# iptables-save, and for ip6tables and its slaves; unregister restores each group's previous
# selection, manual or auto, independently.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
R=$(mktemp -d /tmp/bft-alt-$$.XXXXXX)
trap 'rm -rf "$R"' EXIT
fails=0
check() { # NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then echo "PASS $1"; else echo "FAIL $1: expected '$2', got '$3'"; fails=$((fails + 1)); fi
}

mkdir -p "$R"/etc/alternatives "$R"/var/lib/dpkg/alternatives "$R"/var/log "$R"/usr/sbin "$R"/usr/local/sbin
for g in iptables ip6tables; do
	for f in $g-legacy $g-legacy-restore $g-legacy-save $g-nft $g-nft-restore $g-nft-save; do
		install -m 0755 /dev/null "$R/usr/sbin/$f"
	done
	for w in bpfilter-$g bpfilter-$g-restore bpfilter-$g-save; do
		install -m 0755 /dev/null "$R/usr/local/sbin/$w"
	done
done
sed -e "s|@SBINDIR@|/usr/local/sbin|g" "$top/compat/iptables/bpfilter-alternatives.in" >"$R/alt"
chmod +x "$R/alt"
ua=(update-alternatives --root "$R" --log "$R/var/log/alt.log")
alt=("$R/alt" --root "$R" --log "$R/var/log/alt.log")
# The groups as Debian's iptables package registers them.
for g in iptables ip6tables; do
	for v in legacy:10 nft:20; do
		"${ua[@]}" --install /usr/sbin/$g $g "/usr/sbin/$g-${v%:*}" "${v#*:}" \
			--slave /usr/sbin/$g-restore $g-restore "/usr/sbin/$g-${v%:*}-restore" \
			--slave /usr/sbin/$g-save $g-save "/usr/sbin/$g-${v%:*}-save" >/dev/null
	done
done
value() { "${ua[@]}" --query "$1" | sed -n 's/^Value: //p'; }
status() { "${ua[@]}" --query "$1" | sed -n 's/^Status: //p'; }
machine() { for g in iptables ip6tables; do update-alternatives --query $g 2>/dev/null | grep -E '^(Status|Value)' || true; done; }
machine_before=$(machine)

# mode of iptables / mode of ip6tables: each group keeps its own previous selection.
for modes in manual:manual auto:auto manual:auto auto:manual; do
	m4=${modes%:*} m6=${modes#*:}
	set_mode() { # GROUP MODE
		if [ "$2" = manual ]; then "${ua[@]}" --set "$1" "/usr/sbin/$1-legacy" >/dev/null
		else "${ua[@]}" --auto "$1" >/dev/null; fi
	}
	set_mode iptables "$m4"
	set_mode ip6tables "$m6"
	declare -A before_value before_status
	for g in iptables ip6tables; do
		before_value[$g]=$(value $g) before_status[$g]=$(status $g)
	done
	"${alt[@]}" register >/dev/null
	for g in iptables ip6tables; do
		t="$modes: $g"
		check "$t: register selects the wrapper" /usr/local/sbin/bpfilter-$g "$(readlink "$R/etc/alternatives/$g")"
		check "$t: $g-restore follows" /usr/local/sbin/bpfilter-$g-restore "$(readlink "$R/etc/alternatives/$g-restore")"
		check "$t: $g-save follows" /usr/local/sbin/bpfilter-$g-save "$(readlink "$R/etc/alternatives/$g-save")"
		check "$t: the link is the group's" "/etc/alternatives/$g" "$(readlink "$R/usr/sbin/$g")"
	done
	"${alt[@]}" register >/dev/null
	check "$modes: register is idempotent (iptables)" /usr/local/sbin/bpfilter-iptables "$(value iptables)"
	check "$modes: register is idempotent (ip6tables)" /usr/local/sbin/bpfilter-ip6tables "$(value ip6tables)"
	st=$("${alt[@]}" status)
	check "$modes: status shows both groups" "2" "$(grep -c 'link currently points to /usr/local/sbin/bpfilter-ip*6*tables$' <<<"$st" || true)"
	"${alt[@]}" unregister >/dev/null
	for g in iptables ip6tables; do
		t="$modes: $g"
		check "$t: unregister restores the selection" "${before_value[$g]}" "$(value $g)"
		check "$t: unregister restores the mode" "${before_status[$g]}" "$(status $g)"
		check "$t: the wrapper is gone from the group" "" "$("${ua[@]}" --list $g | grep bpfilter || true)"
	done
done
check "the machine's alternatives are untouched" "$machine_before" "$(machine)"
[ "$fails" = 0 ]
