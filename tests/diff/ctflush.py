#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Empty the connection tracking tables between two seeds of the differential test.

    ctflush.py kernel          (inside a namespace) `conntrack -F`: the kernel's table
    ctflush.py bpf PATH...     every entry of each pinned BPF hash map PATH (bpfilter's bf_ct)

tests/diff/run keeps one topology for all the seeds of a run: a seed must start with the state a
fresh namespace has, or it would see the previous seed's connections (the same fixed ports) as
ESTABLISHED. The kernel's table is flushed over ctnetlink (IPCTNL_MSG_CT_DELETE without a tuple,
what conntrack-tools sends; they are not installed here), bpfilter's by deleting every key of its
pinned map with the bpf syscall. Both run only while no traffic flows. Standard library only.
"""

import ctypes
import errno
import os
import socket
import struct
import sys

NETLINK_NETFILTER = 12
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_DELETE = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2

SYS_BPF = {"x86_64": 321, "aarch64": 280}
BPF_MAP_DELETE_ELEM = 3
BPF_MAP_GET_NEXT_KEY = 4
BPF_OBJ_GET = 7


def flush_kernel():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    # nfgenmsg: family AF_UNSPEC (every family), version 0, res_id 0.
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, 0)
    hdr = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE,
                      NLM_F_REQUEST | NLM_F_ACK, 1, 0)
    s.sendto(hdr + body, (0, 0))
    while True:
        data = s.recv(65536)
        off = 0
        while off + 16 <= len(data):
            ln, typ, _, seq, _ = struct.unpack_from("=IHHII", data, off)
            if typ == NLMSG_ERROR and seq == 1:
                err = -struct.unpack_from("=i", data, off + 16)[0]
                # ENOENT: nothing to flush in this namespace.
                if err not in (0, errno.ENOENT):
                    raise OSError(err, "ctnetlink flush: " + os.strerror(err))
                return
            off += (ln + 3) & ~3
            if ln < 16:
                break


def bpf(libc, nr, cmd, attr):
    r = libc.syscall(nr, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    return r, ctypes.get_errno()


def flush_bpf(paths):
    nr = SYS_BPF.get(os.uname().machine)
    if nr is None:
        raise OSError(errno.ENOSYS, "no bpf syscall number for " + os.uname().machine)
    libc = ctypes.CDLL(None, use_errno=True)
    for path in paths:
        p = ctypes.create_string_buffer(path.encode())
        attr = (ctypes.c_uint8 * 128)()
        struct.pack_into("=QII", attr, 0, ctypes.addressof(p), 0, 0)
        fd, e = bpf(libc, nr, BPF_OBJ_GET, attr)
        if fd < 0:
            raise OSError(e, "%s: %s" % (path, os.strerror(e)))
        try:
            ksize = 0
            with open("/proc/self/fdinfo/%d" % fd) as f:
                for line in f:
                    if line.startswith("key_size:"):
                        ksize = int(line.split()[1])
            if not ksize:
                raise OSError(errno.EINVAL, "%s: not a map" % path)
            key = ctypes.create_string_buffer(ksize)
            n = 0
            while True:
                # The first key each time (key = NULL): the walk restarts after a delete.
                ctypes.memset(attr, 0, ctypes.sizeof(attr))
                struct.pack_into("=IIQQ", attr, 0, fd, 0, 0, ctypes.addressof(key))
                r, e = bpf(libc, nr, BPF_MAP_GET_NEXT_KEY, attr)
                if r < 0:
                    if e == errno.ENOENT:
                        break
                    raise OSError(e, "%s: get_next_key: %s" % (path, os.strerror(e)))
                # Every byte past the command's last field must be 0 (CHECK_ATTR).
                ctypes.memset(attr, 0, ctypes.sizeof(attr))
                struct.pack_into("=IIQ", attr, 0, fd, 0, ctypes.addressof(key))
                r, e = bpf(libc, nr, BPF_MAP_DELETE_ELEM, attr)
                if r < 0 and e != errno.ENOENT:
                    raise OSError(e, "%s: delete: %s" % (path, os.strerror(e)))
                n += 1
                if n > 10000000:
                    raise OSError(errno.ELOOP, "%s: entries keep coming" % path)
        finally:
            os.close(fd)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "kernel" and len(sys.argv) == 2:
        flush_kernel()
    elif len(sys.argv) >= 3 and sys.argv[1] == "bpf":
        flush_bpf(sys.argv[2:])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OSError as ex:
        sys.stderr.write("ctflush.py: %s\n" % ex)
        sys.exit(1)
