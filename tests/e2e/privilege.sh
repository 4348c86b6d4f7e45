#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Least privilege of a running bpfilterd ([reliability]):
#   - after start-up its capability sets hold exactly the run-time set (daemon/caps.c:
#     cap_net_admin, cap_sys_ptrace, cap_perfmon, cap_bpf): effective = permitted = bounding,
#     inheritable and ambient empty, no_new_privs set;
#   - with only those it still does its whole job: replaces (program loads), counters, traffic
#     filtered on an interface created after the drop (attach), EPERM for a caller without
#     CAP_NET_ADMIN, and a clean exit;
#   - its socket has no group or other permission, in directories it creates 0700, and an unprivileged user can neither
#     connect nor read anything in the state and pin directories.
. "$(dirname "$0")/../lib/bf.sh"
bf_init privilege
bf_require_built
bf_require_cmd setpriv capsh python3
H="$BF_TOP/tests/e2e/rel/helper.py"

want_caps="cap_net_admin,cap_sys_ptrace,cap_perfmon,cap_bpf"

bf_netns_add b
bf_netns_add c
bf_veth c c0 b b0 10.9.0.2/24 10.9.0.1/24
for ns in b c; do bf_nsexec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1; done

# State and pins where tests may put them, if this daemon has them.
extra=()
state=""
pins=""
if "$BF_DAEMON" --help | grep -q -- --state-dir; then
	state="$BF_TMP/state"
	pins="/sys/fs/bpf/$BF_PREFIX"
	BF_CLEAN_PATHS+=("$pins")
	extra+=(--state-dir "$state" --pin-dir "$pins")
fi
# The socket in directories that do not exist yet: the daemon creates them.
sockdir="$BF_TMP/run/deeper"
sock="$sockdir/bpfilterd.sock"
ip netns exec "$(bf_ns b)" "$BF_DAEMON" --socket "$sock" "${extra[@]}" >"$BF_TMP/b.daemon.log" 2>&1 &
pid=$!
BF_PIDS+=("$pid")
BF_DAEMON_PID[b]=$pid
# Up to 60 s: loading the dispatchers takes seconds on a loaded machine, and the checks below
# are about the daemon once it serves.
for ((i = 0; i < 600; i++)); do
	[ -S "$sock" ] && grep -q "listening on" "$BF_TMP/b.daemon.log" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null && [ -S "$sock" ] && grep -q "listening on" "$BF_TMP/b.daemon.log" || {
	cat "$BF_TMP/b.daemon.log"
	bf_die "bpfilterd did not start"
}
ipt() { bf_nsexec b timeout 60 env LD_PRELOAD="$BF_SHIM" BPFILTER_SOCKET="$sock" \
	XTABLES_LOCKFILE="$BF_LOCK" iptables-legacy "$@"; }

# --- capability sets
field() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$pid/status"; }
decode() { capsh --decode="$1" | sed 's/^0x[0-9a-f]*=//'; }
eff=$(field CapEff)
echo "CapEff $eff = $(decode "$eff")"
if [ "$(decode "$eff")" = "$want_caps" ]; then
	bf_pass "effective set is $want_caps"
else
	bf_fail "effective set is $(decode "$eff"), want $want_caps"
fi
for f in CapPrm CapBnd; do
	if [ "$(field $f)" = "$eff" ]; then
		bf_pass "$f equals CapEff"
	else
		bf_fail "$f is $(field $f) ($(decode "$(field $f)")), CapEff $eff"
	fi
done
for f in CapInh CapAmb; do
	if [ "$((16#$(field $f)))" = 0 ]; then bf_pass "$f empty"; else bf_fail "$f is $(field $f)"; fi
done
if [ "$(field NoNewPrivs)" = 1 ]; then bf_pass "no_new_privs set"; else bf_fail "NoNewPrivs $(field NoNewPrivs)"; fi
# Capabilities are per thread: every thread of the daemon (the server, the rtnetlink watch, the
# LOG sink) must hold no more than the main one.
nt=0
bad=""
for t in /proc/"$pid"/task/*; do
	nt=$((nt + 1))
	for f in CapEff CapPrm CapBnd; do
		v=$(sed -n "s/^$f:[[:space:]]*//p" "$t/status")
		[ "$v" = "$eff" ] || bad+=" ${t##*/}:$f=$v"
	done
done
[ -z "$bad" ] && bf_pass "all $nt threads hold the same sets" || bf_fail "threads with other sets:$bad"
grep -q "capabilities dropped; keeping $want_caps" "$BF_TMP/b.daemon.log" &&
	bf_pass "the daemon logs what it kept" || bf_fail "no 'capabilities dropped' log line"

# --- it still works with only those: replace (loads programs), traffic, counters
if ipt -A INPUT -p udp --dport 7777 -j DROP && ipt -A INPUT -p udp --dport 7778 -j ACCEPT; then
	bf_pass "replace after the drop"
else
	bf_fail "replace after the drop"
fi
bf_nsexec c python3 "$H" udp_send 10.9.0.1 7777 5 >/dev/null
bf_nsexec c python3 "$H" udp_send 10.9.0.1 7778 3 >/dev/null
got=$(ipt -L INPUT -v -n -x | awk '$3 == "DROP" {d = $1} $3 == "ACCEPT" {a = $1} END {print d "/" a}')
[ "$got" = "5/3" ] && bf_pass "counters on b0: $got" || bf_fail "counters on b0: $got, want 5/3"

# An interface that appears after the drop is attached (TC/XDP attach needs cap_net_admin).
bf_veth c c1 b b1 10.9.1.2/24 10.9.1.1/24
sleep 0.3
bf_nsexec c python3 "$H" udp_send 10.9.1.1 7777 4 >/dev/null
got=$(ipt -L INPUT -v -n -x | awk '$3 == "DROP" {print $1}')
[ "$got" = 9 ] && bf_pass "new interface b1 filtered" || bf_fail "DROP counter $got after b1, want 9"
ipt -F INPUT && ipt -A INPUT -s 10.9.1.2 -j ACCEPT && bf_pass "replace again" || bf_fail "replace again"

# A root caller without CAP_NET_ADMIN: refused, as by the kernel (the peer check reads its /proc).
out=$(bf_nsexec b capsh --drop=cap_net_admin -- -c 'exec "$@"' capsh env LD_PRELOAD="$BF_SHIM" \
	BPFILTER_SOCKET="$sock" XTABLES_LOCKFILE="$BF_LOCK" iptables-legacy -S 2>&1)
case "$out" in
*"Permission denied"*) bf_pass "caller without CAP_NET_ADMIN refused" ;;
*) bf_fail "caller without CAP_NET_ADMIN: $out" ;;
esac
# And one with it (full root): answered, which needs the peer check to work without CAP_KILL.
ipt -S INPUT >/dev/null && bf_pass "root caller answered" || bf_fail "root caller refused"

# --- files: socket 0600, directories it created 0700, nothing readable by others
mode() { stat -c '%a %U' "$1"; }
# (A socket's mode is what its creator's umask leaves: the daemon binds under umask 077.)
m=$(stat -c '%a' "$sock")
[ "$(stat -c %U "$sock")" = root ] && (((8#$m & 8#077) == 0)) && bf_pass "socket $m, root's only" ||
	bf_fail "socket: $(mode "$sock")"
for d in "$sockdir" "$BF_TMP/run"; do
	[ "$(mode "$d")" = "700 root" ] && bf_pass "created dir $(basename "$d") 0700" ||
		bf_fail "$d: $(mode "$d")"
done
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
chmod 0755 "$BF_TMP" # only the daemon's own modes may keep others out
install -m 0644 "$H" "$BF_TMP/helper.py" # the tree may be in a directory closed to others
r=$(bf_nsexec b "${nobody[@]}" /usr/bin/python3 "$BF_TMP/helper.py" connect_as_is "$sock")
[ "$r" = EACCES ] && bf_pass "unprivileged connect: EACCES" || bf_fail "unprivileged connect: $r"
# The same with the directories opened: the socket's own mode must keep others out too.
chmod 0711 "$BF_TMP/run" "$sockdir"
r=$(bf_nsexec b "${nobody[@]}" /usr/bin/python3 "$BF_TMP/helper.py" connect_as_is "$sock")
[ "$r" = EACCES ] && bf_pass "unprivileged connect through open directories: EACCES" ||
	bf_fail "unprivileged connect through open directories: $r"
for d in $state $pins; do
	if [ ! -e "$d" ]; then
		echo "($d does not exist: nothing to check there)"
		continue
	fi
	bad=$(find "$d" -perm /o=rwx 2>/dev/null)
	[ -z "$bad" ] && bf_pass "nothing in $d open to others" || bf_fail "open to others: $bad"
	n=$(find "$d" -type f | wc -l)
	if ((n)); then
		f=$(find "$d" -type f | head -1)
		"${nobody[@]}" cat "$f" >/dev/null 2>&1 && bf_fail "nobody can read $f" ||
			bf_pass "nobody cannot read $(basename "$f") ($n files in $(basename "$d"))"
	fi
done

# --- a clean exit with the reduced set
bf_daemon_stop b && bf_pass "clean exit" || bf_fail "exit status $?"
bf_done
