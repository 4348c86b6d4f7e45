# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# lib.sh: what the real-tool tests (tests/e2e/tool_*.sh) share. Source it after tests/lib/bf.sh
# and bf_init. Each test runs the same unmodified tool twice, on two identical SIDEs: "k" where
# iptables* are the kernel's iptables-legacy*, and "b" where they are bpfilter's wrappers
# (compat/iptables/bpfilter-*.in, the shim talking to the bpfilterd of that side). Then it
# compares what the tool printed, the rulesets with their counters and what probes got.
#
# Topology of a SIDE (same names and addresses on both sides):
#   SIDEc  c0 10.9.0.2/24 10.9.9.2/24 [fd00:9::2/64]  ----  s0 10.9.0.1/24 10.9.9.1/24 [fd00:9::1/64]  SIDE
#   (client: the probes)                                    (server: the tool, the listeners)
#
# The tool runs in the server namespace inside a private mount namespace (bf_mntns_exec) where:
#   /usr/sbin  is a scratch directory of links to the real /usr/sbin (bound at $T/realsbin),
#              except iptables, iptables-save, iptables-restore, their ip6tables and *-legacy*
#              forms, which are this side's wrappers (ferm prefers the -legacy names, ufw and
#              fail2ban run the plain ones, netfilter-persistent's plugins too);
#   /run       is a scratch directory (tool locks, sockets, pid files);
#   and whatever the test adds with tl_scratch (config and state directories).
# TL_SELFTEST=1 makes side b drive the kernel too (its wrappers and bf_ipt* alike): a run must
# then pass whole, which shows that the test's comparisons are deterministic, whatever bpfilter
# supports yet. Never set by tests/run.
# Every wrapper appends its command line to $T/calls, so a test can show that the tool really
# went through it. Nothing of this reaches the host: its /etc, /usr/sbin and firewall stay as
# they are.
#
# Functions:
#	tl_host_mark, tl_host_check  the host's iptables links, tools' files and mounts unchanged
#	tl_require CMD...           skip unless the tools are installed (scripts/setup installs them)
#	tl_topo SIDE [6]            the two namespaces of SIDE, IPv6 on the link only with 6
#	tl_side SIDE                the scratch tree of SIDE (after bf_daemon_start for b)
#	tl_dir SIDE                 print $T, SIDE's scratch tree
#	tl_scratch SIDE PATH        copy PATH (file or directory) into $T/root and bind it over PATH
#	tl_bind SIDE SRC DST        bind SRC over DST as well
#	tl_overlay SIDE DIR         DIR made a scratch directory of links to the real one (to add
#	                            entries the host lacks); prints the scratch directory
#	tl_exec SIDE CMD...         run CMD in SIDE's mount namespace
#	tl_serve SIDE SPEC...       probe.py serve in SIDE (background, waits until bound)
#	tl_probe SIDE [--src A] SPEC...   probe.py probe from SIDEc
#	tl_ping SIDE ADDR           ping from SIDEc after both ends forgot each other (ARP/NDP
#	                            across the policy), then permanent neighbour entries
#	tl_both LABEL FUNC ARGS...  run "FUNC k ARGS" and "FUNC b ARGS", compare stdout+status: pass
#	                            or fail with the diff
#	tl_cmp_rules [4|6]          compare the rulesets of k and b, counters left out
#	tl_refusals                 print bpfilterd's refusal lines of side b (why a ruleset failed)

TL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TL_PERSIST=${TL_PERSIST:-/usr/local/lib/bpfilter-tests/persistent}
TL_N=0

if [ "${TL_SELFTEST:-0}" = 1 ]; then
	echo "TL_SELFTEST=1: side b is the kernel as well"
	bf__shim() { bf__kern "$@"; }
fi

tl_require()
{
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || bf_skip "needs $c (scripts/setup installs it)"
	done
	bf_require_cmd unshare mount python3 ping
}

# What the host must keep: where its iptables commands lead, the tools' files, and no mount of
# ours in its mount table. tl_host_mark at the start, tl_host_check before bf_done.
tl_host_state()
{
	readlink -f /usr/sbin/iptables /usr/sbin/ip6tables /usr/sbin/iptables-restore \
		/usr/sbin/iptables-legacy /usr/sbin/ip6tables-legacy
	find /etc/ufw /lib/ufw /etc/default/ufw /etc/fail2ban /etc/ferm /var/lib/fail2ban \
		-type f -exec md5sum {} + 2>/dev/null | sort
	ls -d /run/ufw.lock /run/fail2ban /etc/iptables /usr/share/netfilter-persistent 2>/dev/null
	grep -F "$BF_TMP" /proc/self/mountinfo
	return 0
}

tl_host_mark()
{
	tl_host_state >"$BF_TMP/host.before"
}

tl_host_check()
{
	tl_host_state >"$BF_TMP/host.after"
	if bf_diff "the host's tools and mounts" "$BF_TMP/host.before" "$BF_TMP/host.after"; then
		bf_pass "host untouched: /usr/sbin/iptables* lead where they did, the tools' files and mounts unchanged"
	else
		bf_fail "the host changed"
	fi
}

tl_dir()
{
	echo "$BF_TMP/tl.$1"
}

tl_topo()
{
	local s=$1 six=${2:-} ns
	bf_netns_add "$s" && bf_netns_add "${s}c" || return 1
	for ns in "$s" "${s}c"; do
		if [ "$six" = 6 ]; then
			# No router solicitations or DAD waits: only the test's own traffic.
			bf_nsexec "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0
			bf_nsexec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
		else
			bf_nsexec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
			bf_nsexec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
		fi
	done
	bf_veth "${s}c" c0 "$s" s0 10.9.0.2/24 10.9.0.1/24 || return 1
	bf_nsexec "${s}c" ip addr add 10.9.9.2/24 dev c0 || return 1
	bf_nsexec "$s" ip addr add 10.9.9.1/24 dev s0 || return 1
	if [ "$six" = 6 ]; then
		bf_nsexec "${s}c" ip addr add fd00:9::2/64 dev c0 nodad || return 1
		bf_nsexec "$s" ip addr add fd00:9::1/64 dev s0 nodad || return 1
	fi
	return 0
}

# One wrapper: NAME is what the tool runs, REAL the -legacy binary it ends in.
tl__wrapper()
{
	local t=$1 side=$2 name=$3 real=$4 in
	if [ "$side" = k ] || [ "${TL_SELFTEST:-0}" = 1 ]; then
		cat >"$t/sbin/$name" <<-W
			#!/bin/sh
			echo "$name \$*" >>"$t/calls"
			unset LD_PRELOAD BPFILTER_SOCKET
			export XTABLES_LOCKFILE="$BF_LOCK.k"
			exec "$t/realsbin/$real" "\$@"
		W
	else
		# bpfilter's own wrapper when the tree has it (bpfilter-iptables.in etc.), made to
		# exec the real binary (/usr/sbin/*-legacy is this wrapper inside the namespace).
		in="$BF_TOP/compat/iptables/bpfilter-${real/-legacy/}.in"
		if [ -f "$in" ]; then
			sed -e "s|@SHIM@|$BF_SHIM|g" -e "s|/usr/sbin/|$t/realsbin/|g" "$in" >"$t/bpfilter-$real"
		else
			printf '#!/bin/sh\nexport LD_PRELOAD="%s"\nexec "%s" "$@"\n' "$BF_SHIM" \
				"$t/realsbin/$real" >"$t/bpfilter-$real"
		fi
		chmod 755 "$t/bpfilter-$real"
		cat >"$t/sbin/$name" <<-W
			#!/bin/sh
			echo "$name \$*" >>"$t/calls"
			export BPFILTER_SOCKET="$(bf_sock "$side")" XTABLES_LOCKFILE="$BF_LOCK"
			exec "$t/bpfilter-$real" "\$@"
		W
	fi
	chmod 755 "$t/sbin/$name"
}

tl_side()
{
	local s=$1 t e fam sfx
	t=$(tl_dir "$s")
	mkdir -p "$t/realsbin" "$t/sbin" "$t/run" "$t/root" || return 1
	: >"$t/calls"
	for e in /usr/sbin/*; do
		ln -s "$t/realsbin/${e##*/}" "$t/sbin/${e##*/}"
	done
	for fam in iptables ip6tables; do
		for sfx in "" -save -restore; do
			rm -f "$t/sbin/$fam$sfx" "$t/sbin/$fam-legacy$sfx"
			tl__wrapper "$t" "$s" "$fam$sfx" "$fam-legacy$sfx"
			tl__wrapper "$t" "$s" "$fam-legacy$sfx" "$fam-legacy$sfx"
		done
	done
	printf '%s %s\n' /usr/sbin "$t/realsbin" "$t/sbin" /usr/sbin "$t/run" /run >"$t/binds"
}

tl_bind()
{
	echo "$2 $3" >>"$(tl_dir "$1")/binds"
}

tl_scratch()
{
	local t
	t=$(tl_dir "$1")
	mkdir -p "$t/root$(dirname "$2")" || return 1
	cp -a "$2" "$t/root$2" || return 1
	tl_bind "$1" "$t/root$2" "$2"
}

# A directory the host lacks a path in (e.g. /etc/iptables, /usr/share/netfilter-persistent when
# those packages are not installed): DIR becomes a scratch directory of links to the real
# entries (bound at $T/realDIR), where the test adds its own; prints the scratch directory.
tl_overlay()
{
	local s=$1 d=$2 t e
	t=$(tl_dir "$s")
	mkdir -p "$t/real$d" "$t/ov$d" || return 1
	for e in "$d"/* "$d"/.[!.]*; do
		[ -e "$e" ] || [ -L "$e" ] || continue
		ln -s "$t/real$d/${e##*/}" "$t/ov$d/${e##*/}"
	done
	tl_bind "$s" "$d" "$t/real$d"
	tl_bind "$s" "$t/ov$d" "$d"
	echo "$t/ov$d"
}

tl_exec()
{
	local s=$1
	shift
	bf_mntns_exec "$s" "$(tl_dir "$s")/binds" timeout -k 5 120 "$@"
}

tl_serve()
{
	local s=$1 ready i
	shift
	ready="$(tl_dir "$s")/serve.ready"
	mkdir -p "$(tl_dir "$s")" || return 1
	rm -f "$ready"
	bf__own "$s" || return 1
	# ip netns exec execs python: $! is the listener itself, ended by bf_cleanup.
	ip netns exec "$(bf_ns "$s")" python3 "$TL_DIR/probe.py" serve "$ready" "$@" </dev/null \
		>"$ready.log" 2>&1 &
	BF_PIDS+=("$!")
	for ((i = 0; i < 50; i++)); do
		[ -e "$ready" ] && return 0
		sleep 0.1
	done
	echo "tl_serve: listeners of $s not ready" >&2
	return 1
}

# Neighbour discovery (ARP, NDP) across the policy, then no more of it: both ends forget each
# other (nud all), the client pings ADDR, and both ends then get permanent entries, so that no
# later unicast probe (NUD, whose timing varies) moves an ICMPv6 counter. Prints the ping's
# outcome.
tl_ping()
{
	local s=$1 ip=$2 cmac smac a r="no reply"
	bf_nsexec "${s}c" ip neigh flush dev c0 nud all
	bf_nsexec "$s" ip neigh flush dev s0 nud all
	bf_nsexec "${s}c" ping -c 1 -W 1 "$ip" >/dev/null 2>&1 && r=ok
	echo "ping $ip $r"
	cmac=$(bf_nsexec "${s}c" cat /sys/class/net/c0/address)
	smac=$(bf_nsexec "$s" cat /sys/class/net/s0/address)
	for a in 10.9.0.1 10.9.9.1 fd00:9::1 fd00:9:9::1; do
		bf_nsexec "${s}c" ip neigh replace "$a" lladdr "$smac" dev c0 nud permanent 2>/dev/null
	done
	for a in 10.9.0.2 10.9.9.2 fd00:9::2 fd00:9:9::2; do
		bf_nsexec "$s" ip neigh replace "$a" lladdr "$cmac" dev s0 nud permanent 2>/dev/null
	done
	return 0
}

tl_probe()
{
	local s=$1
	shift
	bf_nsexec "${s}c" timeout 60 python3 "$TL_DIR/probe.py" probe "$@"
}

tl_both()
{
	local label=$1 f=$2 d
	shift 2
	TL_N=$((TL_N + 1))
	d="$BF_TMP/both.$TL_N"
	mkdir -p "$d"
	bf_capture "$d/k" "$f" k "$@"
	bf_capture "$d/b" "$f" b "$@"
	echo "status $(cat "$d/k.rc")" >>"$d/k.out"
	echo "status $(cat "$d/b.rc")" >>"$d/b.out"
	if bf_diff "$label" "$d/k.out" "$d/b.out"; then
		bf_pass "$label ($(tr '\n' ' ' <"$d/k.out" | cut -c1-100))"
		return 0
	fi
	echo "    stderr kernel: $(head -c 600 "$d/k.err")"
	echo "    stderr bpfilter: $(head -c 600 "$d/b.err")"
	bf_fail "$label"
	tl_refusals
	return 1
}

# The rulesets of both sides without any counter (iptables-save prints the chains' even without
# -c): for comparisons after traffic whose amount depends on timing.
tl_cmp_rules()
{
	local p=ipt label=iptables-save
	if [ "${1:-4}" = 6 ]; then
		p=ip6t
		label=ip6tables-save
	fi
	"bf_k${p}_save" k | bf_save_filter | sed 's/\[[0-9]*:[0-9]*\]/[-]/' >"$BF_TMP/rules.k"
	"bf_${p}_save" b | bf_save_filter | sed 's/\[[0-9]*:[0-9]*\]/[-]/' >"$BF_TMP/rules.b"
	if bf_diff "$label (counters left out)" "$BF_TMP/rules.k" "$BF_TMP/rules.b"; then
		bf_pass "$label: same rules (counters left out)"
	else
		bf_fail "$label: rules differ"
	fi
}

# bpfilterd logs why it refuses a ruleset (an extension or option it cannot enforce): each
# distinct line is printed once, after the first failure it may explain.
TL_SHOWN="$BF_TMP/refusals.shown"
tl_refusals()
{
	touch "$TL_SHOWN"
	bf_daemon_log b | grep -i -E 'refus|unsupported|not supported' |
		grep -v 'cannot read its network namespace' | sort -u |
		grep -v -x -F -f "$TL_SHOWN" | tee -a "$TL_SHOWN" | sed 's/^/    refusal: /'
	return 0
}
