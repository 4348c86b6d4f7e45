#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# traffic_lib.sh: what the real-traffic tests (tests/e2e/traffic_*.sh) share. Source it after
# tests/lib/bf.sh and bf_init. Run directly, it is a test of its own: it builds the topology with
# the kernel's iptables as the only firewall and checks that the traffic generators behave
# deterministically (two identical runs give identical kernel counters), which every counter
# comparison of the other tests relies on.
#
# Topology, built once per SIDE (k: the kernel's iptables-legacy, b: bpfilterd), same names and
# addresses on both sides so that `iptables -L -v -n -x` can be compared byte for byte:
#
#   SIDEc c0 10.1.0.2/24 ---- r0 10.1.0.1/24  SIDEr  r1 10.2.0.1/24 ---- s0 10.2.0.2/24 SIDEs
#   (client, default via 10.1.0.1)          (router, ip_forward=1)     (server, default via 10.2.0.1)
#
# Functions:
#	tr_topo SIDE                build the three namespaces of SIDE
#	tr_py NS CMD ARGS...        the traffic helper (python) inside NS:
#	   connect IP PORT            TCP connect, 0.5 s timeout (one SYN): prints open|timeout|refused;
#	                              an open connection is aborted with RST, so the exchange is
#	                              always SYN, SYN-ACK, ACK, RST
#	   ping IP N [WAIT]           N echo requests, one at a time; prints the replies received
#	   udp_send IP PORT N [PPS]   send N datagrams of 100 bytes (errors, e.g. EPERM, are counted,
#	                              not fatal); prints "sent N errors E"
#	   udp_recv PORT SECONDS      count datagrams received on PORT until SECONDS of silence
#	                              after the first one (or SECONDS without any); prints the count
#	   tcp_listen PORT...         listen on the ports until killed
#	   xt_swap ...                see traffic_atomic.sh
#	tr_bg NS CMD ARGS...        tr_py in the background (its pid is cleaned up at exit); the pid
#	                            is in TR_BG_PID
#	tr_daemon_pid NS            pid of bpfilterd in NS

TR_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

tr_topo()
{
	local s=$1
	bf_netns_add "${s}c" && bf_netns_add "${s}r" && bf_netns_add "${s}s" || return 1
	bf_veth "${s}c" c0 "${s}r" r0 10.1.0.2/24 10.1.0.1/24 || return 1
	bf_veth "${s}r" r1 "${s}s" s0 10.2.0.1/24 10.2.0.2/24 || return 1
	bf_nsexec "${s}c" ip route add default via 10.1.0.1 || return 1
	bf_nsexec "${s}s" ip route add default via 10.2.0.1 || return 1
	bf_nsexec "${s}r" sysctl -qw net.ipv4.ip_forward=1 || return 1
	# No IPv6 on the links: nothing but the test's own IPv4 traffic, and no chatter at all.
	local ns
	for ns in "${s}c" "${s}r" "${s}s"; do
		bf_nsexec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	done
	return 0
}

tr_daemon_pid()
{
	echo "${BF_DAEMON_PID[$(bf__short "$1")]:-}"
}

tr_bg()
{
	local ns=$1
	shift
	bf__own "$ns" || return 1
	ip netns exec "$(bf_ns "$ns")" python3 -c "$TR_PY" "$@" &
	TR_BG_PID=$!
	BF_PIDS+=("$TR_BG_PID")
}

tr_py()
{
	local ns=$1
	shift
	bf__own "$ns" || return 1
	ip netns exec "$(bf_ns "$ns")" timeout -k 5 300 python3 -c "$TR_PY" "$@"
}

# The shim only intercepts what runs with it preloaded: run tr_py with the shim (bpfilter side).
tr_py_shim()
{
	local ns=$1
	shift
	bf__own "$ns" || return 1
	ip netns exec "$(bf_ns "$ns")" timeout -k 5 600 env LD_PRELOAD="$BF_SHIM" \
		BPFILTER_SOCKET="$(bf_sock "$ns")" python3 -c "$TR_PY" "$@"
}

# Wait until `tr_py NS connect` can reach a listener started in the background.
tr_wait_listen()
{
	local ns=$1 port=$2 i
	for ((i = 0; i < 50; i++)); do
		bf_nsexec "$ns" ss -ltnH "sport = :$port" | grep -q LISTEN && return 0
		sleep 0.1
	done
	return 1
}

# Wait until a background `udp_recv` writing to FILE has bound its socket (start it on a file
# that did not exist).
tr_wait_ready()
{
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q ready "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

read -r -d '' TR_PY <<'EOF'
import ctypes, errno, os, select, socket, struct, sys, time

def connect(ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect((ip, int(port)))
    except socket.timeout:
        print("timeout"); return
    except ConnectionRefusedError:
        print("refused"); return
    except OSError as e:
        print("error-%s" % errno.errorcode.get(e.errno, e.errno)); return
    # Abort: RST instead of a FIN exchange whose packet count depends on timing.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print("open")

def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff

def ping(ip, n, wait="0.5"):
    """n ICMP echo requests (56 data bytes, like ping), one at a time, each waiting up to `wait`
    seconds for its reply; prints the number of replies."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident, got = os.getpid() & 0xffff, 0
    for seq in range(int(n)):
        data = bytes(range(56))
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = struct.pack("!BBHHH", 8, 0, _csum(hdr + data), ident, seq) + data
        try:
            s.sendto(pkt, (ip, 0))
        except OSError:
            time.sleep(float(wait))
            continue
        end = time.monotonic() + float(wait)
        while True:
            left = end - time.monotonic()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                break
            r = s.recv(2048)
            ihl = (r[0] & 15) * 4
            t, _, _, i, q = struct.unpack_from("!BBHHH", r, ihl)
            if t == 0 and i == ident and q == seq:
                got += 1
                break
    print(got)

def udp_send(ip, port, n, pps="0"):
    n, pps = int(n), float(pps)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"x" * 100
    errs = 0
    t0 = time.monotonic()
    for i in range(n):
        if pps > 0:
            d = t0 + i / pps - time.monotonic()
            if d > 0:
                time.sleep(d)
        try:
            s.sendto(payload, (ip, int(port)))
        except OSError:
            errs += 1
    print("sent %d errors %d" % (n, errs))

def udp_recv(port, secs):
    secs = float(secs)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
    s.bind(("0.0.0.0", int(port)))
    print("ready", flush=True)
    n = 0
    while True:
        r, _, _ = select.select([s], [], [], secs)
        if not r:
            break
        while True:
            try:
                s.recv(2048, socket.MSG_DONTWAIT)
                n += 1
            except BlockingIOError:
                break
    print(n, flush=True)

def tcp_listen(*ports):
    socks = []
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(p)))
        s.listen(128)
        socks.append(s)
    # Never accept: a server that closes sends a FIN racing the client's RST; connections left
    # in the accept queue are simply reset.
    while True:
        time.sleep(3600)

# x_tables through get/setsockopt, exactly as libiptc does it (the shim intercepts the same calls
# when preloaded). Layouts: linux/netfilter_ipv4/ip_tables.h on x86_64.
libc = ctypes.CDLL(None, use_errno=True)
IPT_SO_SET_REPLACE, IPT_SO_SET_ADD_COUNTERS = 64, 65
IPT_SO_GET_INFO, IPT_SO_GET_ENTRIES = 64, 65
SOL_IP = 0

def _gso(fd, opt, buf):
    ln = ctypes.c_uint32(len(buf))
    b = ctypes.create_string_buffer(bytes(buf), len(buf))
    if libc.getsockopt(fd, SOL_IP, opt, b, ctypes.byref(ln)) < 0:
        e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
    return b.raw[:ln.value]

def get_table(fd, name=b"filter"):
    info = _gso(fd, IPT_SO_GET_INFO, name.ljust(32, b"\0") + bytes(84 - 32))
    valid, = struct.unpack_from("I", info, 32)
    hook = struct.unpack_from("5I", info, 36)
    under = struct.unpack_from("5I", info, 56)
    num, size = struct.unpack_from("II", info, 76)
    ent = _gso(fd, IPT_SO_GET_ENTRIES, name.ljust(32, b"\0") + struct.pack("I4x", size) + bytes(size))
    blob = ent[40:40 + size]
    return dict(valid=valid, hook=hook, under=under, num=num, size=size, blob=blob)

def entry_offsets(blob):
    offs, o = [], 0
    while o < len(blob):
        offs.append(o)
        nxt, = struct.unpack_from("H", blob, o + 90)
        o += nxt
    return offs

def counters(t):
    return [struct.unpack_from("QQ", t["blob"], o + 96) for o in entry_offsets(t["blob"])]

def replace(fd, t, num_old, name=b"filter"):
    """SET_REPLACE with table t; returns the old table's counters (num_old entries), read by the
    kernel (or daemon) at the moment of the switch."""
    old = ctypes.create_string_buffer(16 * max(num_old, 1))
    blob = bytearray(t["blob"])
    for o in entry_offsets(blob):
        struct.pack_into("QQ", blob, o + 96, 0, 0)
    hdr = name.ljust(32, b"\0") + struct.pack("III", t["valid"], t["num"], t["size"])
    hdr += struct.pack("5I", *t["hook"]) + struct.pack("5I", *t["under"])
    hdr += struct.pack("<IQ", num_old, ctypes.addressof(old))
    buf = ctypes.create_string_buffer(hdr + bytes(blob), len(hdr) + len(blob))
    if libc.setsockopt(fd, SOL_IP, IPT_SO_SET_REPLACE, buf, len(buf)) < 0:
        e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
    return [struct.unpack_from("QQ", old.raw, 16 * i) for i in range(num_old)]

def xt_get(path):
    """Save the current filter table (layout + counters) to path."""
    fd = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    t = get_table(fd.fileno())
    import pickle
    with open(path, "wb") as f:
        pickle.dump(t, f)

def xt_swap(path_a, path_b, n, out, done_file):
    """The current table must be b. Replace the filter table at least n times, alternating the
    saved tables a and b (starting with a), and until done_file is non-empty (the sender's report) plus 0.3 s for what is still
    in flight ("-": no sender).
    Every replace returns the final counters of the table it replaces; sum them per (table,
    entry), add the counters of the last table at the end. Writes "a|b index packets bytes"
    lines, "replaces N", "generations_with_packets N" and "seconds S" to out."""
    import pickle
    ts = [pickle.load(open(p, "rb")) for p in (path_a, path_b)]
    sk = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    fd = sk.fileno()
    cur = get_table(fd)
    tot = [[[0, 0] for _ in range(t["num"])] for t in ts]
    # The table in place when we start must be b (saved last): its counters count too.
    active, busy = 1, 0
    t0 = time.monotonic()
    n = int(n)
    i = 0
    done_at = None
    while i < n or done_at is None or time.monotonic() < done_at:
        if done_file == "-":
            done_at = 0
        elif done_at is None and os.path.exists(done_file) and os.path.getsize(done_file) > 0:
            done_at = time.monotonic() + 0.3
        nxt = i % 2
        old = replace(fd, ts[nxt], cur["num"])
        if any(p for p, b in old):
            busy += 1
        for k, (p, b) in enumerate(old):
            tot[active][k][0] += p; tot[active][k][1] += b
        active, cur = nxt, ts[nxt]
        i += 1
    dt = time.monotonic() - t0
    final = counters(get_table(fd))
    for k, (p, b) in enumerate(final):
        tot[active][k][0] += p; tot[active][k][1] += b
    with open(out, "w") as f:
        for w, name in enumerate("ab"):
            for k, (p, b) in enumerate(tot[w]):
                f.write("%s %d %d %d\n" % (name, k, p, b))
        f.write("replaces %d\ngenerations_with_packets %d\nseconds %.3f\n" % (i, busy, dt))

cmds = dict(ping=ping, connect=connect, udp_send=udp_send, udp_recv=udp_recv, tcp_listen=tcp_listen,
            xt_get=xt_get, xt_swap=xt_swap)
cmds[sys.argv[1]](*sys.argv[2:])
EOF

# Run directly: the kernel-only self test.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	. "$TR_LIB_DIR/../lib/bf.sh"
	bf_init traffic-lib
	bf_require_cmd python3 ss
	tr_topo k || bf_die "topology"
	tr_bg ks tcp_listen 80
	tr_wait_listen ks 80 || bf_die "listener"
	out=$(tr_py kc connect 10.2.0.2 80)
	[ "$out" = open ] && bf_pass "client reaches server:80 through the router" ||
		bf_fail "client connect to server:80: $out"
	out=$(tr_py kc connect 10.2.0.2 81)
	[ "$out" = refused ] && bf_pass "closed port refused" || bf_fail "connect to :81: $out"
	bf_kipt_restore ks <<'RULES'
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp --dport 22 -j DROP
-A INPUT -p udp --dport 5001 -j DROP
COMMIT
RULES
	# Twice the same traffic: the counters must double exactly, else comparing counters
	# between two topologies would be meaningless.
	run_traffic()
	{
		tr_py kc connect 10.2.0.2 22 >/dev/null
		tr_py kc connect 10.2.0.2 80 >/dev/null
		tr_py kc udp_send 10.2.0.2 5001 7 >/dev/null
		tr_py kc ping 10.2.0.2 2 >/dev/null
	}
	run_traffic
	# Rule counters, then policy counters ("(policy ACCEPT 3 packets, 164 bytes)").
	tr_numbers() { awk -v d="$1" 'NF && $1 ~ /^[0-9]+$/ {print $1/d, $2/d}
		/policy/ {print $5/d, $7/d}' | tr '\n' ' '; }
	c1=$(bf_kipt ks -L -v -n -x | tr_numbers 1)
	run_traffic
	c2=$(bf_kipt ks -L -v -n -x | tr_numbers 2)
	[ "$c1" = "$c2" ] && [ -n "$c1" ] &&
		bf_pass "kernel counters are reproducible: [$c1] per run" ||
		bf_fail "kernel counters not reproducible: run 1 [$c1], half of 2 runs [$c2]"
	bf_done
fi
