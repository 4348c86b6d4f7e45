# SPDX-License-Identifier: GPL-2.0-only
"""Servers and probes of the real-tool tests (tests/e2e/tool_*.sh); standard library only.

  serve READY SPEC...     SPEC tcp:PORT (listen, never accept: the handshake completes in the
                          kernel and the client's RST removes it, so no FIN ever follows),
                          echo:PORT (TCP, accepts and echoes), udp:PORT (echoes datagrams).
                          IPv4 and, if the host has it, IPv6. Touches READY once bound.
  probe [--src ADDR] SPEC...   SPEC tcp,IP,PORT or udp,IP,PORT; one line per probe:
                          "SPEC connected|reply|refused|timeout|<errno name>". A TCP connect
                          gets 0.7 s (one SYN); an accepted one is aborted with RST. A UDP probe
                          sends one datagram on a connected socket and waits 1 s for the echo or
                          the ICMP error the kernel turns into an errno.
  hold IP PORT SECONDS    one TCP connection to an echo:PORT, a 16-byte exchange every 50 ms;
                          prints "ok/total" (a failed exchange ends the run)
"""
import errno
import os
import select
import socket
import struct
import sys
import time


def family(ip):
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def serve(ready, specs):
    socks = {}
    fams = [socket.AF_INET]
    if os.path.exists("/proc/net/if_inet6"):
        fams.append(socket.AF_INET6)
    for spec in specs:
        kind, port = spec.split(":")
        for fam in fams:
            any_ = "::" if fam == socket.AF_INET6 else "0.0.0.0"
            typ = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
            s = socket.socket(fam, typ)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((any_, int(port)))
            if typ == socket.SOCK_STREAM:
                s.listen(128)
            socks[s] = kind
    open(ready, "w").close()
    # A never-accepting listener stays readable while connections queue: not polled.
    idle = [s for s, k in socks.items() if k == "tcp"]
    for s in idle:
        del socks[s]
    while True:
        if not socks:
            time.sleep(3600)
            continue
        r, _, _ = select.select(list(socks), [], [])
        for s in r:
            kind = socks[s]
            if kind == "udp":
                data, peer = s.recvfrom(65535)
                s.sendto(data, peer)
            elif kind == "echo":
                c, _ = s.accept()
                socks[c] = "conn"
            elif kind == "conn":
                try:
                    data = s.recv(65535)
                except OSError:
                    data = b""
                if data:
                    s.sendall(data)
                else:
                    del socks[s]
                    s.close()


def outcome(exc):
    if isinstance(exc, socket.timeout):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    return errno.errorcode.get(exc.errno, "errno%s" % exc.errno)


def probe(src, specs):
    for spec in specs:
        kind, ip, port = spec.split(",")
        typ = socket.SOCK_DGRAM if kind == "udp" else socket.SOCK_STREAM
        s = socket.socket(family(ip), typ)
        if src:
            s.bind((src, 0))
        # Below the first SYN retransmission (1 s): one SYN, deterministic counters.
        s.settimeout(0.7 if kind == "tcp" else 1.0)
        try:
            s.connect((ip, int(port)))
            if kind == "udp":
                s.send(b"bpfilter probe")
                s.recv(100)
                res = "reply"
            else:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                res = "connected"
        except OSError as e:
            res = outcome(e)
        s.close()
        print(spec, res, flush=True)


def hold(ip, port, seconds):
    s = socket.create_connection((ip, int(port)), timeout=2)
    # `ufw reload` deletes ufw's chains while INPUT's policy is still DROP (ufw-init's
    # ufw_stop: delete_chains, then -P INPUT ACCEPT): with the kernel as with bpfilter, an
    # echo sent in that window is lost and TCP retransmits it (200 ms, then 400, 800...). The window lasts as long as a few iptables commands,
    # which is longer with bpfilter (a replace compiles and verifies programs). What must
    # hold is the connection, not a deadline: every echo answered, none reset.
    s.settimeout(15)
    ok = total = 0
    end = time.time() + float(seconds)
    while time.time() < end:
        total += 1
        msg = b"%016d" % total
        try:
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                c = s.recv(len(msg) - len(got))
                if not c:
                    raise OSError(errno.ECONNRESET, "closed")
                got += c
        except OSError:
            break
        if got == msg:
            ok += 1
        time.sleep(0.05)
    print("%d/%d" % (ok, total))


def main(argv):
    if argv[0] == "serve":
        serve(argv[1], argv[2:])
    elif argv[0] == "probe":
        src = None
        args = argv[1:]
        if args and args[0] == "--src":
            src, args = args[1], args[2:]
        probe(src, args)
    elif argv[0] == "hold":
        hold(*argv[1:4])
    else:
        sys.exit("probe.py: unknown mode " + argv[0])


if __name__ == "__main__":
    main(sys.argv[1:])
