#!/usr/bin/env bash
# make install honours DESTDIR and installs a usable set: daemon, shim, wrappers (with their paths
# substituted), alternatives helper, man pages that render without warnings, the systemd unit.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
d=$(mktemp -d /tmp/bft-install-$$.XXXXXX)
trap 'rm -rf "$d"' EXIT
fails=0
ok() { echo "PASS $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }

make -C "$top" -s install DESTDIR="$d" >/dev/null
eval "$(sed -n 's/^\(prefix\|exec_prefix\|sbindir\|libdir\|datarootdir\|mandir\|systemdsystemunitdir\) = \(.*\)$/\1="\2"/p' "$top/config.mk" | sed 's/\${\([a-z_]*\)}/$\1/g')"
for f in "$sbindir/bpfilterd" "$sbindir/bpfilter-iptables" "$sbindir/bpfilter-iptables-restore" \
	"$sbindir/bpfilter-iptables-save" "$sbindir/bpfilter-alternatives" \
	"$sbindir/bpfilter-ip6tables" "$sbindir/bpfilter-ip6tables-restore" "$sbindir/bpfilter-ip6tables-save" \
	"$libdir/bpfilter/libbpfilter-preload.so" "$mandir/man8/bpfilterd.8" \
	"$mandir/man8/bpfilter-iptables.8" "$systemdsystemunitdir/bpfilterd.service"; do
	if [ -f "$d$f" ]; then ok "installed $f"; else bad "missing $f"; fi
done
if grep -q '@[A-Z]*@' "$d$sbindir"/bpfilter-* "$d$systemdsystemunitdir/bpfilterd.service"; then
	bad "unsubstituted @VAR@ in installed scripts"
else
	ok "paths substituted"
fi
for w in iptables iptables-restore iptables-save ip6tables ip6tables-restore ip6tables-save; do
	f=$d$sbindir/bpfilter-$w
	grep -q "LD_PRELOAD=\"$libdir/bpfilter/libbpfilter-preload.so" "$f" && ok "bpfilter-$w preloads the installed shim" ||
		bad "bpfilter-$w does not name $libdir/bpfilter/libbpfilter-preload.so"
	# the wrapper runs the matching legacy tool: shown with a stand-in that prints its name
	mkdir -p "$d/stub"
	printf '#!/bin/sh\necho "$(basename "$0") $*"\n' >"$d/stub/${w%%-*}-legacy${w#${w%%-*}}"
	chmod +x "$d/stub/${w%%-*}-legacy${w#${w%%-*}}"
	got=$(sed -e "s|/usr/sbin/|$d/stub/|" "$f" | env -u LD_PRELOAD sh -s -- -V 2>/dev/null || true)
	if [ "$got" = "${w%%-*}-legacy${w#${w%%-*}} -V" ]; then ok "bpfilter-$w runs ${w%%-*}-legacy${w#${w%%-*}}"; else bad "bpfilter-$w runs: $got"; fi
done
grep -q "^ExecStart=$sbindir/bpfilterd" "$d$systemdsystemunitdir/bpfilterd.service" && ok "unit starts the installed daemon" ||
	bad "unit ExecStart"
for m in "$d$mandir"/man8/*.8; do
	w=$(groff -man -Tutf8 -ww -z "$m" 2>&1 || true)
	if [ -z "$w" ]; then ok "$(basename "$m") renders cleanly"; else bad "$(basename "$m"): $w"; fi
done
"$d$sbindir/bpfilterd" --help >/dev/null && ok "installed bpfilterd runs" || bad "installed bpfilterd --help"
[ "$fails" = 0 ]
