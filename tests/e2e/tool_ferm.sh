#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tool_ferm.sh: Debian's ferm, unmodified, applying a typical host policy
# (tests/e2e/tools/ferm.conf) through bpfilter on one side and through the kernel's
# iptables-legacy on the other (tests/e2e/tools/lib.sh; ferm runs iptables-legacy-save and
# -restore). Then: same ruleset, same probe outcomes (TCP rejected at once, UDP's ICMP error,
# the admin chain for one source only), same counters; `ferm --flush` opens everything again.
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init tool-ferm
. "$(dirname "$0")/tools/lib.sh"
tl_require ferm
bf_require_built
tl_host_mark

for s in k b; do
	tl_topo "$s" || bf_die "topology"
done
bf_daemon_start b || bf_die "bpfilterd does not start"
for s in k b; do
	tl_side "$s" || bf_die "scratch tree of $s"
	tl_scratch "$s" /etc/ferm || bf_die "scratch /etc/ferm"
	t=$(tl_dir "$s")
	rm -rf "$t/root/etc/ferm/ferm.d"/*
	cp "$TL_DIR/ferm.conf" "$t/root/etc/ferm/ferm.conf"
	tl_serve "$s" tcp:22 tcp:80 tcp:443 tcp:8005 tcp:25 tcp:113 tcp:9100 udp:53 udp:161 ||
		bf_die "listeners"
done

ferm_() { tl_exec "$1" ferm "${@:2}"; }

probes()
{
	local ip=10.9.0.1
	tl_ping "$1" "$ip"
	tl_probe "$1" "tcp,$ip,22" "tcp,$ip,80" "tcp,$ip,443" "tcp,$ip,8005" "tcp,$ip,25" \
		"tcp,$ip,113" "tcp,$ip,9100" "udp,$ip,53" "udp,$ip,161"
	tl_probe "$1" --src 10.9.9.2 "tcp,$ip,9100" "udp,$ip,161" "tcp,$ip,25"
}

tl_both "ferm /etc/ferm/ferm.conf" ferm_ /etc/ferm/ferm.conf
n=$(grep -c . "$(tl_dir b)/calls")
if grep -q 'iptables-legacy-restore' "$(tl_dir b)/calls"; then
	bf_pass "ferm ran bpfilter's wrappers ($n calls: $(cut -d' ' -f1 "$(tl_dir b)/calls" | sort -u | tr '\n' ' '))"
else
	bf_fail "ferm did not run bpfilter's iptables-legacy-restore wrapper"
fi
bf_cmp k b ipt_save
tl_both "probes under the ferm policy" probes
bf_cmp k b ipt_save -c
# Applying the same file again replaces the ruleset (counters start again on both sides).
tl_both "ferm again, same file" ferm_ /etc/ferm/ferm.conf
bf_cmp k b ipt_save
tl_both "ferm --flush" ferm_ --flush /etc/ferm/ferm.conf
bf_cmp k b ipt_save
tl_both "probes after the flush" probes
tl_host_check
bf_done
