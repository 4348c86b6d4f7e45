#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# restart_lib.sh: what the [reliability] restart tests (tests/e2e/restart_*.sh) share. Source it
# after tests/lib/bf.sh, bf_init and traffic_lib.sh. Run directly, it is a test of its own: a
# daemon with persistence pins its runtime and one generation per table, writes its state file,
# and a second daemon in the same namespace adopts the same maps.
#
# Every daemon gets its own pins and state, never the default paths: a private bpffs instance
# mounted at RS_BPFFS (outside the test's temporary directory, unmounted at exit) and a state
# directory in it. `ip netns exec` gives its command a fresh /sys, so a bpffs under /sys/fs/bpf
# would not be shared between two daemons of a test: the pins live on RS_BPFFS instead.
#
#	rs_init               mount the bpffs, set RS_ARGS, chain the cleanup before bf_cleanup
#	rs_start NS [ARGS]    bf_daemon_start NS with RS_ARGS
#	rs_kill NS            SIGKILL the daemon of NS and reap it
#	rs_pindir NS          the daemon's pin directory (netns-<cookie>)
#	rs_gens NS            number of generation directories pinned for NS
#	rs_ctx_id NS          id of the bf_ctx map pinned for NS
#	rs_progs_of_ctx ID    number of programs that use map ID (dispatchers + generations)
#	rs_progs_stable ID    the same, once it no longer changes
#	rs_save NS            iptables-save -c of NS without comments

rs_cleanup()
{
	local rc=$?
	# Lazily: the daemons still running keep their copy until bf_cleanup ends them.
	if [ -n "${RS_BPFFS:-}" ]; then
		umount -l "$RS_BPFFS" 2>/dev/null
		rmdir "$RS_BPFFS" 2>/dev/null
	fi
	(exit "$rc")
	bf_cleanup
}

rs_init()
{
	bf_require_cmd bpftool python3 mount umount
	RS_BPFFS=$(mktemp -d "/tmp/$BF_PREFIX-bpffs.XXXXXX")
	trap rs_cleanup EXIT
	mount -t bpf bpf "$RS_BPFFS" || bf_die "cannot mount a bpffs at $RS_BPFFS"
	RS_STATE="$RS_BPFFS.state"
	BF_CLEAN_PATHS+=("$RS_STATE")
	RS_ARGS=(--pin-dir "$RS_BPFFS/pins" --state-dir "$RS_STATE")
}

# Persistence tests need the daemon to leave its rulesets in force when it stops.
BF_DAEMON_KEEP_ON_EXIT=1

rs_start()
{
	local ns=$1
	shift
	bf_daemon_start "$ns" "${RS_ARGS[@]}" "$@"
}

rs_kill()
{
	local short pid
	short=$(bf__short "$1")
	pid=${BF_DAEMON_PID[$short]:-}
	[ -n "$pid" ] || return 0
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "BF_DAEMON_PID[$short]"
	return 0
}

rs_cookie()
{
	bf_nsexec "$1" python3 -c '
import socket, struct
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
print(struct.unpack("Q", s.getsockopt(socket.SOL_SOCKET, 71, 8))[0])'
}

rs_pindir()
{
	echo "$RS_BPFFS/pins/netns-$(rs_cookie "$1")"
}

rs_gens()
{
	find "$(rs_pindir "$1")" -maxdepth 1 -name 'gen-*' 2>/dev/null | wc -l
}

rs_ctx_id()
{
	bpftool -j map show pinned "$(rs_pindir "$1")/ctx" 2>/dev/null |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}

rs_progs_of_ctx()
{
	bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
want = int(sys.argv[1])
print(sum(1 for p in json.load(sys.stdin) if want in p.get("map_ids", [])))' "$1"
}

# rs_progs_of_ctx once it stops moving (freed programs go after an RCU grace period).
rs_progs_stable()
{
	local a b i
	a=$(rs_progs_of_ctx "$1")
	for ((i = 0; i < 30; i++)); do
		sleep 0.2
		b=$(rs_progs_of_ctx "$1")
		[ "$a" = "$b" ] && break
		a=$b
	done
	echo "$a"
}

rs_save()
{
	bf_ipt_save "$1" -c | bf_save_filter
}

# Run directly: the basics of persistence.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	. "$(dirname "$0")/../lib/bf.sh"
	bf_init restart-lib
	bf_require_built
	rs_init
	bf_netns_add p || bf_die "netns"
	rs_start p || bf_die "bpfilterd does not start"
	bf_ipt p -A INPUT -p udp --dport 9 -j DROP || bf_fail "add a rule"
	dir=$(rs_pindir p)
	for f in ctx root root_xdp ifname lroute; do
		[ -e "$dir/$f" ] && bf_pass "runtime map $f pinned" || bf_fail "no pin $dir/$f"
	done
	[ "$(rs_gens p)" = 1 ] && bf_pass "one generation pinned" ||
		bf_fail "$(rs_gens p) generations pinned"
	ls "$RS_STATE"/netns-*.state >/dev/null 2>&1 && bf_pass "state file written" ||
		bf_fail "no state file in $RS_STATE"
	ctx=$(rs_ctx_id p)
	rs_kill p
	rs_start p || bf_die "bpfilterd does not restart"
	[ "$(rs_ctx_id p)" = "$ctx" ] && bf_pass "the restarted daemon adopted the pinned maps" ||
		bf_fail "bf_ctx $ctx became $(rs_ctx_id p)"
	bf_ipt p -S INPUT | grep -q -- '--dport 9 -j DROP' && bf_pass "rule restored" ||
		bf_fail "rule not restored"
	[ "$(rs_gens p)" = 1 ] && bf_pass "one generation pinned after restart" ||
		bf_fail "$(rs_gens p) generations pinned after restart"
	bf_done
fi
