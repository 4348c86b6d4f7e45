#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Helper of the reliability tests (tests/e2e/{privilege,concurrency,churn}.sh); standard library.

  helper.py udp_send DST PORT N            N datagrams of 64 bytes; prints "sent N"
  helper.py connect_as_is SOCKET           connect to bpfilterd's socket; prints "ok" or the errno name
  helper.py stall SOCKET N SECONDS MODE    N connections that send part of a request (MODE hdr:
                                           10 header bytes; payload: a header announcing 4096
                                           bytes, then 100 of them) and hold them SECONDS; prints
                                           "connected N" once all are, then how many the daemon
                                           closed before then, and when
  helper.py garbage SOCKET N               N connections that send random bytes (and one that
                                           sends a bad magic, one an oversize payload_len, one an
                                           unknown op); prints what each got back
  helper.py names SOCKET                   one TABLE_NAMES request; prints the error (0 = ok)
  helper.py churn B P CYCLES OUT           run inside namespace B (see tests/e2e/churn.sh): per
                                           cycle, a veth pair between P and B is created, traffic
                                           is sent over it from P until the daemon's rule counts
                                           it, and the pair is deleted; one JSON line per cycle
                                           goes to OUT
  helper.py flow P DST PORT PPS STOPFILE   from namespace P, datagrams to DST:PORT at PPS until
                                           STOPFILE exists; prints "sent N"
"""
import ctypes
import json
import subprocess
import errno
import os
import select
import socket
import struct
import sys
import time

MAGIC = 0x4C465042
REQ = struct.Struct("=IHHiiII")
RSP = struct.Struct("=IHHiII")


def udp_send(dst, port, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    for _ in range(int(n)):
        try:
            s.sendto(b"x" * 64, (dst, int(port)))
            sent += 1
        except OSError:
            pass
    print("sent", sent)


def unix(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def connect_as_is(path):
    try:
        unix(path).close()
        print("ok")
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))


def names(path):
    s = unix(path)
    s.sendall(REQ.pack(MAGIC, 1, 3, 0, 0, 0, 0))
    hdr = b""
    while len(hdr) < RSP.size:
        c = s.recv(RSP.size - len(hdr))
        if not c:
            print("closed")
            return
        hdr += c
    print(RSP.unpack(hdr)[3])


def stall(path, n, seconds, mode):
    conns = []
    for _ in range(int(n)):
        s = unix(path)
        if mode == "hdr":
            s.sendall(REQ.pack(MAGIC, 1, 2, 0, 64, 4096, 4096)[:10])
        else:
            s.sendall(REQ.pack(MAGIC, 1, 2, 0, 64, 4096, 4096) + b"\0" * 100)
        conns.append(s)
    print("connected %d" % len(conns), flush=True)
    t0 = time.monotonic()
    closed = {}
    while time.monotonic() - t0 < float(seconds) and len(closed) < len(conns):
        live = [s for s in conns if s not in closed]
        r, _, _ = select.select(live, [], [], 0.1)
        for s in r:
            try:
                data = s.recv(64)
            except OSError:
                data = b""
            if not data:
                closed[s] = time.monotonic() - t0
    if closed:
        print("closed %d after %.1f-%.1f s" % (len(closed), min(closed.values()), max(closed.values())))
    else:
        print("closed 0")
    for s in conns:
        s.close()


def exchange(path, data):
    s = unix(path, timeout=8)
    try:
        s.sendall(data)
        got = s.recv(RSP.size)
        return "closed" if not got else "answered"
    except socket.timeout:
        return "timeout"
    except (ConnectionResetError, BrokenPipeError):
        return "closed"  # closed with our bytes unread: a reset
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()


def garbage(path, n):
    out = {}
    for i in range(int(n)):
        r = exchange(path, os.urandom(20 + i % 200))
        out[r] = out.get(r, 0) + 1
    print("random:", " ".join("%s=%d" % kv for kv in sorted(out.items())))
    print("bad-magic:", exchange(path, REQ.pack(0x12345678, 1, 1, 0, 64, 84, 0)))
    print("oversize:", exchange(path, REQ.pack(MAGIC, 1, 2, 0, 64, 0xFFFFFFF0, 0xFFFFFFF0)))
    print("unknown-op:", exchange(path, REQ.pack(MAGIC, 1, 9, 0, 64, 0, 0)))


CLONE_NEWNET = 0x40000000


def enter_netns(name):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/var/run/netns/" + name, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns " + name)
    os.close(fd)


def sh(args, stdin=None):
    subprocess.run(args, input=stdin, text=True, check=True, stdout=subprocess.DEVNULL)


def rule_count(port):
    """Packets counted by the INPUT rule for udp dpt:PORT (iptables through the shim; the
    environment has LD_PRELOAD etc. for iptables only, in BF_IPT_ENV)."""
    env = dict(os.environ)
    env.update(json.loads(os.environ["BF_IPT_ENV"]))
    out = subprocess.run(["iptables-legacy", "-w", "60", "-L", "INPUT", "-v", "-x", "-n"],
                         env=env, text=True, check=True, capture_output=True).stdout
    for line in out.splitlines():
        if "dpt:%s" % port in line:
            return int(line.split()[0])
    raise RuntimeError("no rule for port %s in:\n%s" % (port, out))


def rx_packets(dev):
    with open("/sys/class/net/%s/statistics/rx_packets" % dev) as f:
        return int(f.read())


def churn(b, p, cycles, out):
    """Runs in namespace B; sends from a socket opened in P."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    enter_netns(p)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.setns(home, CLONE_NEWNET)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("0.0.0.0", 9999))
    rx.setblocking(False)
    mac_b, mac_p = "02:00:00:00:77:01", "02:00:00:00:77:02"
    counted_before = rule_count(9999)
    with open(out, "w") as log:
        for c in range(int(cycles)):
            cb, cp = "cb%d" % (c % 1000), "cp%d" % (c % 1000)
            t0 = time.monotonic()
            sh(["ip", "-n", p, "link", "add", cp, "address", mac_p, "type", "veth", "peer",
                "name", cb, "address", mac_b, "netns", b])
            t_created = time.monotonic()
            sh(["ip", "-batch", "-"], "addr add 10.77.0.1/30 dev %s\n"
               "neigh replace 10.77.0.2 lladdr %s dev %s nud permanent\n"
               "link set %s up\n" % (cb, mac_p, cb, cb))
            sh(["ip", "-n", p, "-batch", "-"], "addr add 10.77.0.2/30 dev %s\n"
               "neigh replace 10.77.0.1 lladdr %s dev %s nud permanent\n"
               "link set %s up\n" % (cp, mac_b, cp, cp))
            t_up = time.monotonic()
            sent, received, k = [], set(), 0
            deadline = t0 + 3.0
            while time.monotonic() < deadline:
                try:
                    tx.sendto(struct.pack("=II", c, k) + b"y" * 56, ("10.77.0.1", 9999))
                    sent.append(time.monotonic())
                    k += 1
                except OSError:
                    pass  # no route yet: not sent
                time.sleep(0.0002)
                while True:
                    try:
                        d = rx.recv(128)
                    except BlockingIOError:
                        break
                    cc, kk = struct.unpack_from("=II", d)
                    if cc == c:
                        received.add(kk)
                if k % 25 == 0 and sent and rx_packets(cb) - len(received) >= 20:
                    break
            time.sleep(0.05)
            while True:
                try:
                    d = rx.recv(128)
                except BlockingIOError:
                    break
                cc, kk = struct.unpack_from("=II", d)
                if cc == c:
                    received.add(kk)
            arrived = rx_packets(cb)
            sh(["ip", "-n", p, "link", "del", cp])
            counted_now = rule_count(9999)
            counted = counted_now - counted_before
            counted_before = counted_now
            first = len(sent) - arrived  # sends before then were dropped before carrier
            passed = sorted(received)
            contiguous = passed == list(range(first, first + len(passed)))
            f = first + len(passed)  # the first packet the rule saw
            rec = {
                "cycle": c, "sent": len(sent), "arrived": arrived, "passed": len(passed),
                "counted": counted, "contiguous": contiguous,
                "setup_ms": round((t_up - t0) * 1000, 2),
                "create_ms": round((t_created - t0) * 1000, 2),
                "delay_ms": round((sent[f] - t0) * 1000, 2) if f < len(sent) else None,
            }
            log.write(json.dumps(rec) + "\n")
            log.flush()


def flow(p, dst, port, pps, stopfile):
    enter_netns(p)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n, gap = 0, 1.0 / float(pps)
    while not os.path.exists(stopfile):
        try:
            s.sendto(b"f" * 64, (dst, int(port)))
            n += 1
        except OSError:
            pass
        time.sleep(gap)
    print("sent", n)


if __name__ == "__main__":
    cmd = sys.argv[1]
    globals()[cmd](*sys.argv[2:])
