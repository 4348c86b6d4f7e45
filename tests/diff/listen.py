#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Listeners of the differential test, one process per namespace.

    listen.py --tcp 22,80 --udp 53 [--family 6] [--control PATH] --ready FILE

TCP ports are listened on and never accepted: the kernel completes handshakes by itself and a
connection the client aborts with an RST leaves nothing behind that could send later (the backlog
is far larger than one case's connections). UDP ports echo every datagram back to its sender (unless it
comes from an echo port), so request/response traffic crosses OUTPUT on the answering host. FILE is created once every socket
is bound. Runs until killed.

--control PATH: a unix seqpacket socket. Each message on a connection to it is answered once every
datagram already queued on the UDP sockets has been echoed: pktsend --sync waits on it, so an
echo cannot leave after packets sent later (the echo is the one reply that depends on when this
process is scheduled).
"""

import argparse
import os
import select
import socket


def ports(s):
    return [int(x) for x in s.split(",") if x]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tcp", type=ports, default=[])
    ap.add_argument("--udp", type=ports, default=[])
    ap.add_argument("--ready", required=True)
    ap.add_argument("--family", type=int, choices=(4, 6), default=4)
    ap.add_argument("--control")
    a = ap.parse_args()
    fam, any_addr = ((socket.AF_INET6, "::") if a.family == 6 else (socket.AF_INET, "0.0.0.0"))
    keep, udp = [], []
    for p in a.tcp:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((any_addr, p))
        s.listen(1024)
        keep.append(s)
    for p in a.udp:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((any_addr, p))
        udp.append(s)
    ctl, conns = None, []
    if a.control:
        if os.path.exists(a.control):
            os.unlink(a.control)
        ctl = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ctl.bind(a.control)
        ctl.listen(16)
    open(a.ready, "w").close()

    def echo(s, block):
        """Echo one datagram; False when none was queued (non-blocking)."""
        try:
            data, peer = s.recvfrom(65535, 0 if block else socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            # ICMP errors queued on the socket: they must not stop the echo.
            return True
        # Never answer an echo port: two echoes would bounce a datagram forever.
        if peer[1] not in a.udp:
            try:
                s.sendto(data, peer)
            except OSError:
                # EPERM when OUTPUT drops the answer (kernel side).
                pass
        return True

    while True:
        r, _, _ = select.select(udp + conns + ([ctl] if ctl else []), [], [])
        for s in r:
            if s is ctl:
                conns.append(ctl.accept()[0])
            elif s in conns:
                if not s.recv(16):
                    conns.remove(s)
                    s.close()
                    continue
                for u in udp:
                    while echo(u, False):
                        pass
                s.send(b"k")
            else:
                echo(s, True)


if __name__ == "__main__":
    main()
