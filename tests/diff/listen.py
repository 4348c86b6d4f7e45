#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Listeners of the differential test, one process per namespace.

    listen.py --tcp 22,80 --udp 53 [--family 6] --ready FILE

TCP ports are listened on and never accepted: the kernel completes handshakes by itself and a
connection the client aborts with an RST leaves nothing behind that could send later (the backlog
is far larger than one case's connections). UDP ports echo every datagram back to its sender (unless it
comes from an echo port), so request/response traffic crosses OUTPUT on the answering host. FILE is created once every socket
is bound. Runs until killed.
"""

import argparse
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
    open(a.ready, "w").close()
    while True:
        r, _, _ = select.select(udp, [], [])
        for s in r:
            try:
                data, peer = s.recvfrom(65535)
                # Never answer an echo port: two echoes would bounce a datagram forever.
                if peer[1] not in a.udp:
                    s.sendto(data, peer)
            except OSError:
                # EPERM when OUTPUT drops the answer (kernel side), ICMP errors queued on
                # the socket: neither must stop the echo.
                pass


if __name__ == "__main__":
    main()
