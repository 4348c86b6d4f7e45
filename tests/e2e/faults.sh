#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Bad pointers in x_tables calls (doc/protocol.md, "Faults"): the same calls, from a small ctypes
# client, against the kernel and through the shim, must give the same result and errno. The
# shim sends a SET_REPLACE straight from the caller's memory and receives a getsockopt's answer
# straight into it, so a fault there must still be the kernel's EFAULT (and nothing applied):
#   - GET_INFO / GET_ENTRIES into a buffer whose end is unreadable (PROT_NONE);
#   - SET_REPLACE of a table whose last bytes are unreadable: EFAULT, the table unchanged;
#   - the same table ending right before the unreadable page: replaced; and its old counters
#     written to an unwritable address: the kernel ignores that fault, so must the shim;
#   - SET_ADD_COUNTERS with unreadable counters.
set -euo pipefail
. "$(dirname "$0")/../lib/bf.sh"
bf_init faults
bf_require_built

bf_netns_add k
bf_netns_add b
bf_daemon_start b || bf_die "bpfilterd does not start"
rules='*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -s 192.0.2.1/32 -j DROP
-A INPUT -p tcp --dport 22 -j ACCEPT
COMMIT'
bf_kipt_restore k <<<"$rules" || bf_die "kernel restore"
bf_ipt_restore b <<<"$rules" || bf_die "bpfilter restore"

cat >"$BF_TMP/faults.py" <<'PY'
import ctypes, errno, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.getsockopt.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                            ctypes.c_void_p]
libc.setsockopt.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                            ctypes.c_uint]
PAGE = 4096
GET_INFO, GET_ENTRIES, SET_REPLACE, SET_ADD_COUNTERS = 64, 65, 64, 65

def area(n):
    """n readable+writable bytes followed by a PROT_NONE page; returns the address of the end."""
    pages = (n + PAGE - 1) // PAGE + 1
    a = libc.mmap(None, pages * PAGE, 3, 0x22, -1, 0)
    assert a not in (None, ctypes.c_void_p(-1).value)
    assert libc.mprotect(a + (pages - 1) * PAGE, PAGE, 0) == 0
    return a + (pages - 1) * PAGE

s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
fd = s.fileno()

def get(opt, addr, n):
    ln = ctypes.c_uint(n)
    r = libc.getsockopt(fd, 0, opt, addr, ctypes.byref(ln))
    return (r, ctypes.get_errno() if r else 0, ln.value)

def put(opt, addr, n):
    r = libc.setsockopt(fd, 0, opt, addr, n)
    return (r, ctypes.get_errno() if r else 0)

out = []
# GET_INFO with the name readable but the rest of the 84 bytes not.
end = area(84)
ctypes.memmove(end - 40, b"filter".ljust(32, b"\0"), 32)
out.append(("info-tail", get(GET_INFO, end - 40, 84)))
info = ctypes.create_string_buffer(b"filter".ljust(84, b"\0"), 84)
out.append(("info", get(GET_INFO, info, 84)))
valid, = struct.unpack_from("I", info.raw, 32)
num, size = struct.unpack_from("II", info.raw, 76)
hooks = struct.unpack_from("5I", info.raw, 36)
under = struct.unpack_from("5I", info.raw, 56)
# GET_ENTRIES: header readable, the answer's last bytes land on the bad page.
n = 40 + size
end = area(n)
ctypes.memmove(end - n + 100, struct.pack("32sI", b"filter", size), 36)
out.append(("entries-tail", get(GET_ENTRIES, end - n + 100, n)))
buf = ctypes.create_string_buffer(n)
ctypes.memmove(buf, struct.pack("32sI", b"filter", size), 36)
out.append(("entries", get(GET_ENTRIES, buf, n)))
blob = buf.raw[40:40 + size]
# SET_REPLACE: ipt_replace (96 bytes) + the same entries, counters pointer supplied.
ctrs = ctypes.create_string_buffer(16 * num)
def repl(ctr_addr):
    return struct.pack("32sIII5I5IIQ", b"filter", valid, num, size, *hooks, *under, num,
                       ctr_addr) + blob
r = repl(ctypes.addressof(ctrs))
end = area(len(r))
ctypes.memmove(end - len(r) + 16, r, len(r) - 16)
out.append(("replace-tail", put(SET_REPLACE, end - len(r) + 16, len(r))))
ctypes.memmove(end - len(r), r, len(r))
out.append(("replace-whole", put(SET_REPLACE, end - len(r), len(r))))
bad = area(16)  # the PROT_NONE page itself: counters written there fault
r2 = repl(bad)
ctypes.memmove(end - len(r2), r2, len(r2))
out.append(("replace-bad-counters", put(SET_REPLACE, end - len(r2), len(r2))))
# SET_ADD_COUNTERS: xt_counters_info (40 bytes) + num counters, the last one unreadable.
c = struct.pack("32sI4x", b"filter", num) + bytes(16 * num)
end = area(len(c))
ctypes.memmove(end - len(c) + 8, c, len(c) - 8)
out.append(("add-counters-tail", put(SET_ADD_COUNTERS, end - len(c) + 8, len(c))))
for name, res in out:
    print(name, " ".join(errno.errorcode.get(x, str(x)) if i == 1 and x else str(x)
                         for i, x in enumerate(res)))
PY

run() # NS [shim]
{
	if [ "${2:-}" = shim ]; then
		bf_nsexec "$1" env LD_PRELOAD="$BF_SHIM" BPFILTER_SOCKET="$(bf_sock "$1")" \
			/usr/bin/python3 "$BF_TMP/faults.py"
	else
		bf_nsexec "$1" env -u LD_PRELOAD /usr/bin/python3 "$BF_TMP/faults.py"
	fi
}
kout=$(run k 2>&1) || bf_die "the client failed on the kernel: $kout"
bout=$(run b shim 2>&1) || bf_die "the client failed through the shim: $bout"
echo "kernel:"
sed 's/^/  /' <<<"$kout"
if [ "$kout" = "$bout" ]; then
	bf_pass "every call: the kernel's result and errno"
else
	bf_fail "results differ from the kernel's"
	diff <(echo "$kout") <(echo "$bout") || true
fi
grep -q "^replace-tail -1 EFAULT" <<<"$bout" && bf_pass "unreadable table tail: EFAULT" ||
	bf_fail "unreadable table tail: $(grep replace-tail <<<"$bout")"
grep -q "^replace-whole 0" <<<"$bout" && bf_pass "table ending at the bad page: replaced" ||
	bf_fail "table ending at the bad page: $(grep replace-whole <<<"$bout")"
bf_cmp k b ipt_save -c
bf_done
