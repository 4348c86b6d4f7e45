#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tool_fail2ban.sh: Debian's fail2ban, unmodified, with its iptables-multiport and
# iptables-allports actions (tests/e2e/tools/fail2ban/jail.local), driving bpfilter on one side
# and the kernel's iptables-legacy on the other (tests/e2e/tools/lib.sh). On both: the server
# starts (chains f2b-*, INPUT jumps); `fail2ban-client set JAIL banip` makes the client's
# connections refused at once (ECONNREFUSED within the probe's single SYN); `unbanip` lets it in
# again; failure lines in the watched log ban a second address by themselves; `stop` removes
# every f2b chain. Outputs, probes and rulesets (with counters) must be the same on both sides.
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init tool-f2b
. "$(dirname "$0")/tools/lib.sh"
tl_require fail2ban-server fail2ban-client
bf_require_built
tl_host_mark

for s in k b; do
	tl_topo "$s" || bf_die "topology"
done
bf_daemon_start b || bf_die "bpfilterd does not start"
for s in k b; do
	tl_side "$s" || bf_die "scratch tree of $s"
	tl_scratch "$s" /etc/fail2ban || bf_die "scratch /etc/fail2ban"
	t=$(tl_dir "$s")
	# Only the test's jails: not the host's jail.d (Debian's enables sshd on systemd's journal).
	rm -rf "$t/root/etc/fail2ban/jail.d"/* "$t/root/etc/fail2ban/jail.local" \
		"$t/root/etc/fail2ban/fail2ban.local"
	# (No directory named *.d in the tree: the Makefile includes every *.d file it finds.)
	cp "$TL_DIR/fail2ban/fail2ban.local" "$TL_DIR/fail2ban/jail.local" "$t/root/etc/fail2ban/" &&
		cp "$TL_DIR/fail2ban/filter-bft.conf" "$t/root/etc/fail2ban/filter.d/bft.conf" ||
		bf_die "fixtures"
	mkdir -p "$t/var-lib-fail2ban" "$t/run/fail2ban"
	: >"$t/run/fail2ban/auth.log"
	tl_bind "$s" "$t/var-lib-fail2ban" /var/lib/fail2ban
	tl_serve "$s" tcp:22 tcp:2222 tcp:80 || bf_die "listeners"
done

f2b_start()
{
	local s=$1 i
	# bf_mntns_exec execs down to the server: $! is fail2ban-server itself.
	bf_mntns_exec "$s" "$(tl_dir "$s")/binds" fail2ban-server -f -x </dev/null \
		>"$(tl_dir "$s")/server.out" 2>&1 &
	BF_PIDS+=("$!")
	eval "F2B_PID_$s=$!"
	for ((i = 0; i < 100; i++)); do
		tl_exec "$s" fail2ban-client ping >/dev/null 2>&1 && break
		sleep 0.2
	done
	# The jails start their actions (actionstart) when they start.
	for ((i = 0; i < 50; i++)); do
		tl_exec "$s" fail2ban-client status 2>/dev/null | grep -q 'bft-ap, bft-mp' && break
		sleep 0.2
	done
	tl_exec "$s" fail2ban-client status
}
f2b() { tl_exec "$1" fail2ban-client "${@:2}"; }

probes()
{
	tl_probe "$1" tcp,10.9.0.1,22 tcp,10.9.0.1,2222 tcp,10.9.0.1,80
	tl_probe "$1" --src 10.9.9.2 tcp,10.9.0.1,22 tcp,10.9.0.1,80
}

tl_both "fail2ban-server starts, status" f2b_start
# fail2ban 1.0 runs an action's actionstart on its first ban: nothing yet.
bf_cmp k b ipt_save
tl_both "probes before any ban" probes

tl_both "fail2ban-client set bft-mp banip 10.9.0.2" f2b set bft-mp banip 10.9.0.2
tl_both "probes while banned by bft-mp (22 and 2222 refused at once)" probes
n=$(grep -c . "$(tl_dir b)/calls")
if ((n > 0)) && bf_ipt_save b | grep -q -- '-A INPUT -p tcp -m multiport --dports 22,2222 -j f2b-bft-mp'; then
	bf_pass "fail2ban's actions went through bpfilter's wrappers ($n calls) into bpfilterd"
else
	bf_fail "fail2ban's rules are not in bpfilterd ($n wrapper calls)"
	tl_refusals
fi
tl_both "fail2ban-client set bft-mp unbanip 10.9.0.2" f2b set bft-mp unbanip 10.9.0.2
tl_both "probes after the unban" probes

tl_both "fail2ban-client set bft-ap banip 10.9.0.2" f2b set bft-ap banip 10.9.0.2
tl_both "probes while banned by bft-ap (every tcp port refused)" probes
tl_both "fail2ban-client set bft-ap unbanip 10.9.0.2" f2b set bft-ap unbanip 10.9.0.2
tl_both "probes after the allports unban" probes
bf_cmp k b ipt_save -c

# A ban found in the log, as in real use: 3 failures (maxretry) from 10.9.9.2.
log_ban()
{
	local s=$1 i
	for i in 1 2 3; do
		echo "bft-test authentication failure from 10.9.9.2" >>"$(tl_dir "$s")/run/fail2ban/auth.log"
	done
	for ((i = 0; i < 100; i++)); do
		f2b "$s" status bft-ap | grep -q 'Banned IP list:.*10.9.9.2' &&
			f2b "$s" status bft-mp | grep -q 'Banned IP list:.*10.9.9.2' && break
		sleep 0.2
	done
	f2b "$s" status bft-mp | grep -E 'Currently|Banned'
	f2b "$s" status bft-ap | grep -E 'Currently|Banned'
}
tl_both "three failures in the log ban 10.9.9.2 in both jails" log_ban
tl_both "probes with 10.9.9.2 banned from the log" probes
bf_cmp k b ipt_save

f2b_stop()
{
	local s=$1 pid i
	f2b "$s" stop
	eval "pid=\$F2B_PID_$s"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && echo "fail2ban-server still runs"
	return 0
}
tl_both "fail2ban-client stop" f2b_stop
bf_cmp k b ipt_save
if bf_ipt_save b | grep -q f2b; then
	bf_fail "f2b chains left in bpfilterd after stop"
else
	bf_pass "no f2b chain left in bpfilterd after stop"
fi
tl_both "probes after stop" probes
tl_host_check
bf_done
