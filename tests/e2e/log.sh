#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# LOG with real traffic, against the kernel: the same rules (prefixes differing only in a k/b tag)
# in two identical topologies (traffic_lib.sh, with fixed MAC addresses), the same deterministic
# probes (fixed ports and sequence numbers); the lines the kernel prints and the lines bpfilterd
# writes to /dev/kmsg must be identical apart from the tag, the IP id and the timestamps.
# A kernel LOG rule outside the initial namespace prints only with nf_log_all_netns = 1: it is
# set for the test and restored (bpfilterd follows the same sysctl).
# Known difference: --log-uid on packets of the kernel's own control sockets (ICMP errors, echo
# replies): the kernel prints no UID (no file behind the socket), bpfilter does; the --log-uid
# rule here matches the client's echo requests only.
set -u
. "$(dirname "$0")/../lib/bf.sh"
. "$(dirname "$0")/traffic_lib.sh"
bf_init log
bf_require_built
bf_require_cmd python3 dmesg

# Shared with the tests beside it, restored by the last one (bf.sh); bf_cleanup keeps the
# test's exit status (a trap running a command before it used to make every run pass).
bf_log_all_netns_hold || bf_die "cannot set nf_log_all_netns"
TAG="bfl$$"

read -r -d '' LG_PY <<'EOF'
import socket, struct, sys
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff
def udp(ip, port, sport):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", int(sport)))
    u.sendto(bytes(range(20)), (ip, int(port)))
def syn(src, ip, port, sport, seq):
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    sa = socket.inet_aton(src); da = socket.inet_aton(ip)
    opts = bytes([2, 4, 5, 0xb4, 1, 1, 4, 2])  # MSS 1460, NOP, NOP, SACK permitted
    th = struct.pack("!HHIIBBHHH", int(sport), int(port), int(seq), 0, 7 << 4, 0xc2, 1024, 0, 0) + opts
    c = csum(sa + da + struct.pack("!BBH", 0, 6, len(th)) + th)
    th = th[:16] + struct.pack("!H", c) + th[18:]
    r.sendto(th, (ip, 0))
def ping(ip, ident, seq):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    hdr = struct.pack("!BBHHH", 8, 0, 0, int(ident), int(seq)) + bytes(16)
    s.sendto(hdr[:2] + struct.pack("!H", csum(hdr)) + hdr[4:], (ip, 0))
globals()[sys.argv[1]](*sys.argv[2:])
EOF

lg()
{
	local ns=$1
	shift
	bf__own "$ns" || return 1
	ip netns exec "$(bf_ns "$ns")" timeout -k 5 30 python3 -c "$LG_PY" "$@"
}

for s in k b; do
	tr_topo "$s" || bf_die "topology $s"
	bf_nsexec "${s}c" ip link set c0 address 02:00:00:00:0c:00
	bf_nsexec "${s}r" ip link set r0 address 02:00:00:00:0a:00
	bf_nsexec "${s}r" ip link set r1 address 02:00:00:00:0a:01
	bf_nsexec "${s}s" ip link set s0 address 02:00:00:00:05:00
done
for ns in bs br bc; do
	bf_daemon_start "$ns" || bf_die "bpfilterd does not start in $ns"
done

rules()
{
	local t=$TAG-$1
	cat <<RULES
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -j LOG --log-prefix "$t-a: " --log-level 4 --log-tcp-sequence --log-tcp-options --log-ip-options
-A INPUT -p udp -j LOG --log-prefix "$t-b: " --log-level 6
-A INPUT -p icmp -j LOG --log-prefix "$t-c: " --log-level 7 --log-macdecode
-A INPUT -p udp --dport 5003 -j REJECT
-A FORWARD -j LOG --log-prefix "$t-d: "
-A OUTPUT -p icmp --icmp-type echo-request -j LOG --log-prefix "$t-e: " --log-uid
-A OUTPUT -p icmp ! --icmp-type echo-request -j LOG --log-prefix "$t-g: "
-A OUTPUT -p udp -j LOG --log-prefix "$t-f: " --log-level 1
COMMIT
RULES
}
for n in s r c; do
	rules k | bf_kipt_restore "k$n" || bf_fail "kernel rules in k$n"
	rules b | bf_ipt_restore "b$n" || bf_fail "bpfilter rules in b$n"
done

for s in k b; do
	lg "${s}c" syn 10.1.0.2 10.2.0.2 22 42000 1000
	lg "${s}c" udp 10.2.0.2 5003 42001
	lg "${s}c" ping 10.2.0.2 77 1
	lg "${s}s" udp 10.1.0.2 9 42002
done
sleep 1.5

# The lines of each side, tag removed, IP ids masked, in order of the rule letter and text.
lines()
{
	dmesg -t | grep -a "$TAG-$1-" | sed -e "s/$TAG-$1-/TAG-/" -e 's/ ID=[0-9]* / ID=* /g' | sort
}
lines k >"$BF_TMP/k.log"
lines b >"$BF_TMP/b.log"
nk=$(wc -l <"$BF_TMP/k.log")
((nk >= 8)) || bf_fail "the kernel printed only $nk lines"
if diff -u "$BF_TMP/k.log" "$BF_TMP/b.log" >"$BF_TMP/log.diff"; then
	bf_pass "$nk LOG lines identical to the kernel's"
else
	bf_fail "LOG lines differ from the kernel's:"
	sed 's/^/    /' "$BF_TMP/log.diff"
fi
for l in a b c d e f g; do
	k=$(grep -c "TAG-$l:" "$BF_TMP/k.log")
	b=$(grep -c "TAG-$l:" "$BF_TMP/b.log")
	[ "$k" = "$b" ] && bf_pass "rule $l: $b lines on both" || bf_fail "rule $l: bpfilter $b, kernel $k"
done
bf_done
