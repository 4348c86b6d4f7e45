# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# bf.sh: the shared helpers of bpfilter's shell tests (modelled on xdp-tools' lib/testing).
# Source it, then call bf_init:
#
#	. "$(dirname "$0")/../lib/bf.sh"
#	bf_init                      # root check, temp dir, `trap bf_cleanup EXIT`
#	bf_netns_add k               # kernel reference namespace
#	bf_netns_add b               # bpfilter namespace
#	bf_daemon_start b            # daemon/bpfilterd inside b, socket $BF_TMP/b.sock
#	bf_cmp k b ipt -A INPUT -p tcp --dport 22 -j ACCEPT    # same command, both sides
#	bf_cmp k b ipt_save -c
#	bf_done                      # prints the summary, exits 0 / 1
#
# Namespaces: a NAME given to any helper is short ("k"); the real namespace is "$BF_PREFIX-k"
# (a full name is accepted too). BF_PREFIX = ${BF_PREFIX_BASE:-bft}-<area>-$$, so every object is
# unique and tests/run can find leaks (it sets BF_PREFIX_BASE). Helpers refuse to run anything in a
# namespace that was not created with bf_netns_add: nothing here touches the root namespace.
#
# Functions (all return 0 on success, non-zero otherwise; none calls exit except bf_skip,
# bf_done, bf_die and bf_require_*):
#	bf_init [AREA]              setup; AREA defaults to the script's name
#	bf_require_root, bf_require_cmd CMD..., bf_require_built
#	bf_netns_add NAME           create + register for cleanup, lo up
#	bf_ns NAME                  print the real namespace name
#	bf_nsexec NAME CMD...       run CMD inside NAME (no shim)
#	bf_veth NS1 IF1 NS2 IF2 [ADDR1/LEN ADDR2/LEN]  veth pair created inside the namespaces
#	bf_tmpdir                   print the test's temp dir ($BF_TMP, removed at exit)
#	bf_daemon_start NAME [ARGS...]  bpfilterd in NAME, waits until its socket answers
#	bf_daemon_launch NAME [ARGS...], bf_daemon_wait NAME  the two halves of bf_daemon_start
#	                            (launch several, then wait for each: they start side by side)
#	bf_daemon_stop NAME         SIGTERM (then SIGKILL after 5 s); returns the daemon's status
#	bf_daemon_log NAME          print the daemon's log
#	bf_sock NAME                print the daemon's socket path
#	bf_ipt / bf_ipt_restore / bf_ipt_save NAME ARGS...   iptables-legacy* through the shim
#	bf_kipt / bf_kipt_restore / bf_kipt_save NAME ARGS... the kernel's iptables-legacy*, no shim
#	bf_ip6t*, bf_kip6t*         the same with ip6tables-legacy*
#	bf_exts                     the registry's extensions: "match|target NAME REV FAMILY" lines
#	bf_capture OUT CMD...       run CMD, stdout > OUT.out, stderr > OUT.err, status > OUT.rc
#	bf_save_filter              stdin -> stdout without iptables-save's date comments
#	bf_diff LABEL EXPECTED GOT  unified diff of two files; 0 if equal, else prints it, returns 1
#	bf_cmp KNS BNS TOOL ARGS... run TOOL (ipt|ipt_restore|ipt_save|ip6t...) with ARGS against the
#	                            kernel in KNS and bpfilter in BNS (stdin is given to both);
#	                            compare stdout (date comments stripped), stderr and status;
#	                            reports bf_pass/bf_fail itself; returns 0 either way (so
#	                            `set -e` does not stop the test) and sets BF_CMP_OK=1/0
#	bf_cmp_state KNS BNS [4|6]  bf_cmp of save -c, save -t filter, -L -v -n -x --line-numbers, -S -v
#	bf_mntns_exec NAME BINDS CMD...  run CMD inside NAME in a private mount namespace, after
#	                            bind-mounting each "SRC DST" line of the file BINDS in order (paths
#	                            without spaces): a tool sees scratch files at its usual paths,
#	                            nothing of it reaches the host's mount table
#	bf_log_all_netns_hold       net.netfilter.nf_log_all_netns = 1 until the test ends (shared with
#	                            the tests that run beside it; the last one restores it)
#	bf_pass MSG, bf_fail MSG    count and print one check ("ok"/"FAIL"); bf_fail does not exit
#	bf_skip MSG                 exit 77 (tests/run prints SKIP)
#	bf_done                     print "N checks, M failed", exit 1 if any failed (else 0)
#
# Environment: BF_LONG=1 / BF_QUICK=1 (set by tests/run --long / --quick), BF_VERBOSE=1 prints
# every command, BF_KEEP_TMP=1 keeps $BF_TMP, BF_TIMEOUT (seconds per iptables command, 60).
# Exit status convention for tests: 0 pass, 77 skip, anything else fail.

BF_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BF_DAEMON=${BF_DAEMON:-$BF_TOP/daemon/bpfilterd}
BF_SHIM=${BF_SHIM:-$BF_TOP/compat/iptables/libbpfilter-preload.so}
BF_TIMEOUT=${BF_TIMEOUT:-60}
BF_NPASS=0
BF_NFAIL=0
declare -ga BF_NETNS=() # real names of namespaces to delete
declare -ga BF_PIDS=() # processes to end
declare -ga BF_CLEAN_PATHS=() # files/dirs (e.g. bpffs pins) to remove
declare -gA BF_DAEMON_PID=()
declare -ga BF_CLEAN_HOOKS=() # functions bf_cleanup calls first (no arguments)

bf_die()
{
	echo "FATAL: $*" >&2
	exit 1
}

bf_pass()
{
	BF_NPASS=$((BF_NPASS + 1))
	echo "ok   $*"
}

bf_fail()
{
	BF_NFAIL=$((BF_NFAIL + 1))
	echo "FAIL $*"
}

bf_skip()
{
	echo "SKIP: $*"
	exit 77
}

bf_done()
{
	echo "$((BF_NPASS + BF_NFAIL)) checks, $BF_NFAIL failed"
	if ((BF_NFAIL)); then
		local ns
		for ns in "${!BF_DAEMON_PID[@]}"; do
			echo "--- tail of the daemon log of $ns:"
			tail -n 20 "$BF_TMP/$ns.daemon.log" 2>/dev/null || true
		done
		exit 1
	fi
	exit 0
}

bf_require_root()
{
	[ "$(id -u)" = 0 ] || bf_skip "needs root"
}

bf_require_cmd()
{
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || bf_skip "needs $c"
	done
}

# The daemon and the shim are built by `make`; a test run without them is a failure, not a skip.
bf_require_built()
{
	[ -x "$BF_DAEMON" ] || bf_die "$BF_DAEMON is not built (run make)"
	# The shim is the last word: a sanitizer run preloads the ASan runtime before it.
	[ -f "${BF_SHIM##* }" ] || bf_die "$BF_SHIM is not built (run make)"
}

bf_init()
{
	local area=${1:-$(basename "$0" .sh)}

	area=$(printf '%s' "$area" | tr -c 'a-zA-Z0-9' '-' | cut -c1-10)
	BF_PREFIX="${BF_PREFIX_BASE:-bft}-$area-$$"
	bf_require_root
	bf_require_cmd ip iptables-legacy iptables-legacy-save iptables-legacy-restore timeout
	BF_TMP=$(mktemp -d "/tmp/$BF_PREFIX.XXXXXX")
	# Kernel and shim runs each get their own lock file: neither waits on the system's lock.
	BF_LOCK="$BF_TMP/xtables.lock"
	trap bf_cleanup EXIT
	trap 'exit 130' INT TERM
	[ "${BF_VERBOSE:-0}" = 1 ] && set -x
	return 0
}

bf_tmpdir()
{
	echo "$BF_TMP"
}

# Short name -> namespace name.
bf_ns()
{
	case "$1" in
	"$BF_PREFIX"-*) echo "$1" ;;
	*) echo "$BF_PREFIX-$1" ;;
	esac
}

# Short name of a namespace (for file names).
bf__short()
{
	local full
	full=$(bf_ns "$1")
	echo "${full#"$BF_PREFIX"-}"
}

# Fail unless NAME is one of ours: a typo must never reach the root namespace.
bf__own()
{
	local full n
	full=$(bf_ns "$1")
	for n in "${BF_NETNS[@]}"; do
		[ "$n" = "$full" ] && return 0
	done
	echo "bf.sh: namespace '$1' was not created by bf_netns_add" >&2
	return 1
}

bf_netns_add()
{
	local full
	full=$(bf_ns "$1")
	ip netns add "$full" || return 1
	BF_NETNS+=("$full")
	ip -n "$full" link set lo up || return 1
	# Every ICMP error is sent. The kernel's rate limits (per peer, and a per-namespace bucket)
	# depend on the time between packets, so on a loaded machine one side of a comparison
	# could answer one packet fewer than the other (CI: an ICMPv6 port unreachable counted in
	# a router's FORWARD on the kernel's side only). bpfilter's REJECT does not rate-limit.
	ip netns exec "$full" sysctl -qw net.ipv4.icmp_ratelimit=0 \
		net.ipv4.icmp_msgs_per_sec=1000000 net.ipv6.icmp.ratelimit=0 >/dev/null
}

# bf_ipv6_quiet NS...: no router solicitations and no DAD on the interfaces made afterwards in
# these namespaces. The kernel sends solicitations at random times after a link comes up, so a
# test counting a host's IPv6 OUTPUT could see one more of them on one side only.
bf_ipv6_quiet()
{
	local ns
	for ns in "$@"; do
		bf_nsexec "$ns" sysctl -qw net.ipv6.conf.default.router_solicitations=0 \
			net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.all.accept_dad=0 >/dev/null || return 1
	done
}

# bf_mld_settle NS...: wait until these namespaces have sent no MLD report for 1 s (at most 5 s).
# Interfaces and addresses made join multicast groups, and the kernel reports them from a socket
# of its own that OUTPUT counts (owner: a socket with a file, as the kernel says). With the report
# interval at 0 they leave at once, but a loaded machine can delay the work into a test's counted
# window on one side only.
bf_mld_settle()
{
	local ns i prev="" now same=0
	# all the namespaces at once: one quiet second for all of them, not one each
	for ((i = 0; i < 50 && same < 10; i++)); do
		now=""
		for ns in "$@"; do
			now+=$(bf_nsexec "$ns" awk '$1 == "Icmp6OutMLDv2Reports" { print $2 }' \
				/proc/net/snmp6)" " || return 1
		done
		if [ "$now" = "$prev" ]; then
			same=$((same + 1))
		else
			same=0
		fi
		prev=$now
		sleep 0.1
	done
}

bf_nsexec()
{
	local ns=$1
	shift
	bf__own "$ns" || return 1
	ip netns exec "$(bf_ns "$ns")" "$@"
}

bf_veth()
{
	local ns1=$1 if1=$2 ns2=$3 if2=$4 a1=${5:-} a2=${6:-}
	bf__own "$ns1" && bf__own "$ns2" || return 1
	# Created from inside ns1 with the peer put straight into ns2: no name ever exists in the
	# root namespace, and deleting either namespace removes the pair.
	ip -n "$(bf_ns "$ns1")" link add "$if1" type veth peer name "$if2" netns "$(bf_ns "$ns2")" ||
		return 1
	if [ -n "$a1" ]; then
		ip -n "$(bf_ns "$ns1")" addr add "$a1" dev "$if1" || return 1
	fi
	if [ -n "$a2" ]; then
		ip -n "$(bf_ns "$ns2")" addr add "$a2" dev "$if2" || return 1
	fi
	ip -n "$(bf_ns "$ns1")" link set "$if1" up && ip -n "$(bf_ns "$ns2")" link set "$if2" up
}

bf_mntns_exec()
{
	local ns=$1 binds=$2
	shift 2
	bf__own "$ns" || return 1
	[ -f "$binds" ] || {
		echo "bf_mntns_exec: no bind list $binds" >&2
		return 1
	}
	# unshare -m makes the mount namespace private (no propagation back to the host) before any
	# bind; a bind that fails stops everything (status 125) rather than run the tool on host paths.
	ip netns exec "$(bf_ns "$ns")" unshare -m --propagation private sh -c '
		b=$1
		shift
		while read -r src dst; do
			[ -n "$src" ] || continue
			mount --bind "$src" "$dst" || { echo "bf_mntns_exec: bind $src $dst failed" >&2; exit 125; }
		done <"$b"
		exec "$@"' bf_mntns_exec "$binds" "$@"
}

bf_sock()
{
	echo "$BF_TMP/$(bf__short "$1").sock"
}

bf_daemon_log()
{
	cat "$BF_TMP/$(bf__short "$1").daemon.log" 2>/dev/null
}

# Does the daemon answer a TABLE_NAMES request (include/bpfilter/protocol.h)? Asked from inside the
# namespace: the daemon serves only callers of its own namespace. Reads nothing from any table, so
# it instantiates none (a fresh namespace must stay fresh for the kernel comparison).
bf__sock_answers()
{
	bf_nsexec "$1" timeout 5 python3 - "$(bf_sock "$1")" <<'EOF' >/dev/null 2>&1
import socket, struct, sys
MAGIC = 0x4c465042
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(4)
s.connect(sys.argv[1])
# magic, version, op=TABLE_NAMES(3), level=SOL_IP, optname, optlen, payload_len
s.sendall(struct.pack("=IHHiiII", MAGIC, 1, 3, 0, 0, 0, 0))
hdr = b""
while len(hdr) < 20:
	c = s.recv(20 - len(hdr))
	if not c:
		sys.exit(1)
	hdr += c
magic, version, flags, error, optlen, plen = struct.unpack("=IHHiII", hdr)
sys.exit(0 if magic == MAGIC else 1)
EOF
}

bf_daemon_start()
{
	bf_daemon_launch "$@" && bf_daemon_wait "$1"
}

# The two halves of bf_daemon_start, so that several daemons can start side by side: launch
# each, then wait for each.
bf_daemon_launch()
{
	local ns=$1 short sock log pid
	shift
	bf__own "$ns" || return 1
	short=$(bf__short "$ns")
	sock=$(bf_sock "$ns")
	log="$BF_TMP/$short.daemon.log"
	if [ -n "${BF_DAEMON_PID[$short]:-}" ]; then
		echo "bf_daemon_start: a daemon already runs in $short" >&2
		return 1
	fi
	rm -f "$sock"
	# Test daemons keep their state in the test's temp dir and remove all filtering when they
	# stop, unless a test that exercises persistence sets BF_DAEMON_KEEP_ON_EXIT=1. Arguments
	# given by the caller come last and win.
	local defaults=(--state-dir "$BF_TMP/state.$short")
	[ "${BF_DAEMON_KEEP_ON_EXIT:-0}" = 1 ] || defaults+=(--flush-on-exit)
	# `ip netns exec` execs the command, so $! is the daemon itself.
	ip netns exec "$(bf_ns "$ns")" "$BF_DAEMON" --socket "$sock" "${defaults[@]}" "$@" >>"$log" 2>&1 &
	pid=$!
	BF_PIDS+=("$pid")
	BF_DAEMON_PID[$short]=$pid
}

bf_daemon_wait()
{
	local ns=$1 short sock log pid i st
	short=$(bf__short "$ns")
	sock=$(bf_sock "$ns")
	log="$BF_TMP/$short.daemon.log"
	pid=${BF_DAEMON_PID[$short]:-}
	[ -n "$pid" ] || {
		echo "bf_daemon_wait: no daemon launched in $short" >&2
		return 1
	}
	for ((i = 0; i < 100; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			st=0
			wait "$pid" 2>/dev/null || st=$?
			echo "bf_daemon_start: bpfilterd exited with status $st in $short; its log:" >&2
			sed 's/^/  | /' "$log" >&2
			unset "BF_DAEMON_PID[$short]"
			return 1
		fi
		if [ -S "$sock" ] && bf__sock_answers "$ns"; then
			return 0
		fi
		sleep 0.1
	done
	echo "bf_daemon_start: $sock does not answer after 10 s; daemon log:" >&2
	sed 's/^/  | /' "$log" >&2
	return 1
}

bf_daemon_stop()
{
	local short pid i rc=0
	short=$(bf__short "$1")
	pid=${BF_DAEMON_PID[$short]:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "bf_daemon_stop: bpfilterd ($pid) ignored SIGTERM for 5 s, killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
		rc=1
	fi
	wait "$pid" 2>/dev/null || rc=$?
	unset "BF_DAEMON_PID[$short]"
	return "$rc"
}

# iptables-legacy{,-restore,-save} through the shim, talking to the daemon of NAME. A timeout
# guards against a reply that would make libiptc retry forever (GET_ENTRIES EAGAIN).
bf__shim()
{
	local ns=$1 tool=$2
	shift 2
	bf__own "$ns" || return 1
	ip netns exec "$(bf_ns "$ns")" timeout -k 5 "$BF_TIMEOUT" env LD_PRELOAD="$BF_SHIM" \
		BPFILTER_SOCKET="$(bf_sock "$ns")" XTABLES_LOCKFILE="$BF_LOCK" "$tool" "$@"
}

bf__kern()
{
	local ns=$1 tool=$2
	shift 2
	bf__own "$ns" || return 1
	ip netns exec "$(bf_ns "$ns")" timeout -k 5 "$BF_TIMEOUT" env -u LD_PRELOAD \
		-u BPFILTER_SOCKET XTABLES_LOCKFILE="$BF_LOCK.k" "$tool" "$@"
}

bf_ipt() { bf__shim "$1" iptables-legacy "${@:2}"; }
bf_ipt_restore() { bf__shim "$1" iptables-legacy-restore "${@:2}"; }
bf_ipt_save() { bf__shim "$1" iptables-legacy-save "${@:2}"; }
bf_kipt() { bf__kern "$1" iptables-legacy "${@:2}"; }
bf_kipt_restore() { bf__kern "$1" iptables-legacy-restore "${@:2}"; }
bf_kipt_save() { bf__kern "$1" iptables-legacy-save "${@:2}"; }
bf_ip6t() { bf__shim "$1" ip6tables-legacy "${@:2}"; }
bf_ip6t_restore() { bf__shim "$1" ip6tables-legacy-restore "${@:2}"; }
bf_ip6t_save() { bf__shim "$1" ip6tables-legacy-save "${@:2}"; }
bf_kip6t() { bf__kern "$1" ip6tables-legacy "${@:2}"; }
bf_kip6t_restore() { bf__kern "$1" ip6tables-legacy-restore "${@:2}"; }
bf_kip6t_save() { bf__kern "$1" ip6tables-legacy-save "${@:2}"; }

# The extensions bpfilter accepts, from codegen/registry.c: "match|target NAME REV FAMILY" lines.
bf_exts()
{
	"$BF_TOP/tests/tools/bf_exts"
}

bf_capture()
{
	local out=$1 rc=0
	shift
	"$@" >"$out.out" 2>"$out.err" || rc=$?
	echo "$rc" >"$out.rc"
	return 0
}

bf_save_filter()
{
	grep -v -e '^# Generated by ' -e '^# Completed on ' || true
}

bf_diff()
{
	local label=$1 exp=$2 got=$3
	if diff -q "$exp" "$got" >/dev/null 2>&1; then
		return 0
	fi
	echo "--- $label: kernel (-) vs bpfilter (+)"
	diff -u --label kernel --label bpfilter "$exp" "$got" | sed 's/^/    /'
	return 1
}

BF_CMP_N=0
bf_cmp()
{
	local kns=$1 bns=$2 tool=$3 d k b ok=1 in
	shift 3
	case "$tool" in
	ipt | ipt_restore | ipt_save | ip6t | ip6t_restore | ip6t_save) ;;
	*)
		BF_CMP_OK=0
		bf_fail "bf_cmp: unknown tool $tool"
		return 0
		;;
	esac
	BF_CMP_N=$((BF_CMP_N + 1))
	d="$BF_TMP/cmp.$BF_CMP_N"
	mkdir -p "$d"
	k="$d/k"
	b="$d/b"
	in="$d/stdin"
	if [[ "$tool" == *_restore ]]; then
		cat >"$in"
	else
		: >"$in"
	fi
	bf_capture "$k" "bf_k$tool" "$kns" "$@" <"$in"
	bf_capture "$b" "bf_$tool" "$bns" "$@" <"$in"
	bf_save_filter <"$k.out" >"$k.outf"
	bf_save_filter <"$b.out" >"$b.outf"
	local what="${tool/_/-} $*"
	bf_diff "stdout of $what" "$k.outf" "$b.outf" || ok=0
	bf_diff "stderr of $what" "$k.err" "$b.err" || ok=0
	if [ "$(cat "$k.rc")" != "$(cat "$b.rc")" ]; then
		echo "--- status of $what: kernel $(cat "$k.rc"), bpfilter $(cat "$b.rc")"
		ok=0
	fi
	BF_CMP_OK=$ok
	if ((ok)); then
		bf_pass "$what (status $(cat "$k.rc"))"
	else
		bf_fail "$what"
	fi
	return 0
}

# Compare the whole visible state of the filter table in KNS (kernel) and BNS (bpfilter):
# save -c, save, -L -v -n -x --line-numbers, -S -v (counters). FAMILY 4 (default) or 6.
bf_cmp_state()
{
	local kns=$1 bns=$2 p=ipt
	[ "${3:-4}" = 6 ] && p=ip6t
	bf_cmp "$kns" "$bns" "${p}_save" -c
	bf_cmp "$kns" "$bns" "${p}_save" -t filter
	bf_cmp "$kns" "$bns" "$p" -L -v -n -x --line-numbers
	bf_cmp "$kns" "$bns" "$p" -S -v
}

# nf_log_all_netns is global, and tests that compare LOG lines run side by side (tests/run --jobs,
# several work trees on one machine): each test holds it at 1 while it runs and the last holder
# to leave restores the value from before the first. Holders are pids listed under a lock, so the
# hold of a test that was killed lapses (the next hold or release drops it).
BF_ALLNS=/proc/sys/net/netfilter/nf_log_all_netns
BF_ALLNS_STATE=/run/bf-tests-nf_log_all_netns

bf__allns_update()
{
	local op=$1 p live=()
	if [ -f "$BF_ALLNS_STATE.pids" ]; then
		while read -r p; do
			[ -n "$p" ] && [ "$p" != "$$" ] && kill -0 "$p" 2>/dev/null && live+=("$p")
		done <"$BF_ALLNS_STATE.pids"
	fi
	if [ "$op" = hold ]; then
		# The value to restore is read only when nobody holds it (a lapsed hold's saved
		# value stays: the sysctl may still carry its 1).
		((${#live[@]})) || [ -f "$BF_ALLNS_STATE.saved" ] ||
			cat "$BF_ALLNS" >"$BF_ALLNS_STATE.saved" || return 1
		live+=("$$")
		printf '%s\n' "${live[@]}" >"$BF_ALLNS_STATE.pids"
		echo 1 >"$BF_ALLNS"
	elif ((${#live[@]})); then
		printf '%s\n' "${live[@]}" >"$BF_ALLNS_STATE.pids"
	else
		[ -f "$BF_ALLNS_STATE.saved" ] && cat "$BF_ALLNS_STATE.saved" >"$BF_ALLNS"
		rm -f "$BF_ALLNS_STATE.saved" "$BF_ALLNS_STATE.pids"
	fi
}

bf_log_all_netns_hold()
{
	[ -w "$BF_ALLNS" ] || modprobe nf_log_syslog 2>/dev/null
	[ -w "$BF_ALLNS" ] || {
		echo "bf.sh: $BF_ALLNS is missing" >&2
		return 1
	}
	(
		flock 9 && bf__allns_update hold
	) 9>>"$BF_ALLNS_STATE.lock" || return 1
	BF_CLEAN_HOOKS+=(bf_log_all_netns_release)
}

bf_log_all_netns_release()
{
	(
		flock 9 && bf__allns_update release
	) 9>>"$BF_ALLNS_STATE.lock"
}

bf_cleanup()
{
	local rc=$? pid ns p
	trap - EXIT
	set +e
	# After the status is taken: a hook's own status must not replace the test's.
	for p in "${BF_CLEAN_HOOKS[@]}"; do
		"$p"
	done
	for pid in "${BF_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${BF_PIDS[@]}"; do
		for ((p = 0; p < 30; p++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ns in "${BF_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	for p in "${BF_CLEAN_PATHS[@]}"; do
		rm -rf -- "$p"
	done
	if [ -n "${BF_TMP:-}" ] && [ "${BF_KEEP_TMP:-0}" != 1 ]; then
		rm -rf -- "$BF_TMP"
	elif [ -n "${BF_TMP:-}" ]; then
		echo "kept $BF_TMP" >&2
	fi
	exit "$rc"
}
