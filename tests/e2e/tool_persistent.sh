#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tool_persistent.sh: netfilter-persistent with iptables-persistent's plugin, unmodified
# (unpacked by scripts/setup: ufw's package Breaks theirs), loading the rules.v4 of a real
# server (tests/e2e/tools/rules.v4) through bpfilter on one side and through the kernel's
# iptables-legacy on the other (tests/e2e/tools/lib.sh). Then: the kernel saves the file back as
# it was, bpfilter saves it back as the kernel does; probes and counters agree; `save` writes the
# same rules.v4 on both sides; `flush` opens everything again.
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init tool-pers
. "$(dirname "$0")/tools/lib.sh"
[ -x "$TL_PERSIST/usr/sbin/netfilter-persistent" ] ||
	bf_skip "needs netfilter-persistent unpacked in $TL_PERSIST (scripts/setup does it)"
tl_require run-parts
bf_require_built
tl_host_mark

for s in k b; do
	tl_topo "$s" || bf_die "topology"
done
bf_daemon_start b || bf_die "bpfilterd does not start"
for s in k b; do
	tl_side "$s" || bf_die "scratch tree of $s"
	t=$(tl_dir "$s")
	ln -s "$TL_PERSIST/usr/sbin/netfilter-persistent" "$t/sbin/netfilter-persistent"
	share=$(tl_overlay "$s" /usr/share) || bf_die "overlay /usr/share"
	ln -s "$TL_PERSIST/usr/share/netfilter-persistent" "$share/netfilter-persistent"
	etc=$(tl_overlay "$s" /etc) || bf_die "overlay /etc"
	rm -f "$etc/iptables" "$etc/default"
	mkdir -p "$etc/iptables" "$etc/default"
	cp -a /etc/default/. "$etc/default/"
	cp "$TL_PERSIST/etc/default/netfilter-persistent" "$etc/default/"
	cp "$TL_DIR/rules.v4" "$etc/iptables/rules.v4"
	tl_serve "$s" tcp:22 tcp:80 tcp:443 tcp:8005 tcp:25 tcp:113 udp:53 udp:161 udp:69 ||
		bf_die "listeners"
done

np() { tl_exec "$1" netfilter-persistent "${@:2}"; }

probes()
{
	local ip=10.9.0.1
	tl_ping "$1" "$ip"
	tl_probe "$1" "tcp,$ip,22" "tcp,$ip,80" "tcp,$ip,443" "tcp,$ip,8005" "tcp,$ip,25" \
		"tcp,$ip,113" "udp,$ip,53" "udp,$ip,161" "udp,$ip,69"
	tl_probe "$1" --src 10.9.9.2 "udp,$ip,161" "tcp,$ip,22"
}

tl_both "netfilter-persistent start" np start
n=$(grep -c . "$(tl_dir b)/calls")
if grep -q '^iptables-restore' "$(tl_dir b)/calls"; then
	bf_pass "netfilter-persistent ran bpfilter's iptables-restore wrapper ($n calls)"
else
	bf_fail "netfilter-persistent did not run bpfilter's iptables-restore wrapper"
fi
# The fixture is written in iptables-save's order: the kernel saves it back unchanged.
grep -v '^#' "$TL_DIR/rules.v4" >"$BF_TMP/rules.v4.exp"
bf_kipt_save k | bf_save_filter >"$BF_TMP/rules.v4.k"
if bf_diff "rules.v4 saved back by the kernel" "$BF_TMP/rules.v4.exp" "$BF_TMP/rules.v4.k"; then
	bf_pass "the kernel saves rules.v4 back unchanged"
else
	bf_fail "the kernel does not save rules.v4 back unchanged (fixture out of order?)"
fi
bf_cmp k b ipt_save
tl_both "probes under rules.v4" probes
bf_cmp k b ipt_save -c

saved()
{
	np "$1" save || return
	grep -v '^#' "$(tl_dir "$1")/ov/etc/iptables/rules.v4"
}
tl_both "netfilter-persistent save: the rules.v4 written" saved
tl_both "netfilter-persistent flush" np flush
bf_cmp k b ipt_save
tl_both "probes after the flush" probes
tl_both "netfilter-persistent reload (the saved file)" np reload
bf_cmp k b ipt_save
tl_host_check
bf_done
