#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# BPF objects of the datapath: bpftool shows recognisable names (bf_*), 1,000 replaces (a direct
# SET_REPLACE loop through the shim, plus iptables-legacy-restore runs) leave no program, map, pin
# or fd behind, and stopping the daemon removes its filters, qdisc, XDP programs and every object.
# Objects are attributed to the daemon under test (other daemons may run at the same time): the
# programs and maps it holds fds to, and every program that uses its bf_ctx map (a leaked
# generation's programs still do).
set -u
. "$(dirname "$0")/../lib/bf.sh"
. "$(dirname "$0")/traffic_lib.sh"
bf_init traffic-ob
bf_require_built
bf_require_cmd python3 bpftool tc

NREP=1000
NRESTORE=50
[ "${BF_QUICK:-0}" = 1 ] && NREP=200 && NRESTORE=10

tr_topo b || bf_die topology

# "PROGS MAPS FDS CTX_ID BAD_NAMES" for daemon PID, or for a former daemon's bf_ctx map id.
objs()
{
	python3 - "$@" <<'PY'
import json, os, subprocess, sys
pid, ctx_arg = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "")
held_maps, held_progs, nfd = set(), set(), 0
if pid != "-":
    for fd in os.listdir("/proc/%s/fdinfo" % pid):
        nfd += 1
        try:
            txt = open("/proc/%s/fdinfo/%s" % (pid, fd)).read()
        except OSError:
            continue
        for line in txt.splitlines():
            k, _, v = line.partition(":")
            if k == "map_id":
                held_maps.add(int(v))
            elif k == "prog_id":
                held_progs.add(int(v))
progs = json.loads(subprocess.check_output(["bpftool", "-j", "prog", "show"]) or b"[]")
maps = {m["id"]: m for m in json.loads(subprocess.check_output(["bpftool", "-j", "map", "show"]) or b"[]")}
ctx = {i for i in held_maps if maps.get(i, {}).get("name") == "bf_ctx"}
if ctx_arg:
    ctx |= {int(ctx_arg)}
ours = [p for p in progs if p["id"] in held_progs or set(p.get("map_ids", [])) & ctx]
our_maps = (held_maps | {i for p in ours for i in p.get("map_ids", [])}) & set(maps)
bad = sorted({p.get("name", "?") for p in ours if not p.get("name", "").startswith("bf_")} |
             {maps[i].get("name", "?") for i in our_maps if not maps[i].get("name", "").startswith("bf_")})
names = sorted({p.get("name", "?") for p in ours}) + sorted({maps[i].get("name", "?") for i in our_maps})
print(len(ours), len(our_maps), nfd, ",".join(map(str, sorted(ctx))) or "-", ",".join(bad) or "-",
      " ".join(names))
PY
}

# Objects are freed after an RCU grace period: read until two readings agree.
objs_stable()
{
	local a b i
	a=$(objs "$@")
	for ((i = 0; i < 20; i++)); do
		sleep 0.2
		b=$(objs "$@")
		[ "$a" = "$b" ] && break
		a=$b
	done
	echo "$a"
}

pins()
{
	find /sys/fs/bpf -mindepth 1 2>/dev/null | sort
}

ruleset()
{
	cat <<RULES
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-N chain_$1
-A INPUT -p udp --dport 5001 -j $2
-A INPUT -p tcp --dport 22 -j chain_$1
-A FORWARD -p icmp -j ACCEPT
-A OUTPUT -p tcp --sport 22 -j ACCEPT
-A chain_$1 -s 10.1.0.0/16 -j RETURN
-A chain_$1 -j DROP
COMMIT
RULES
}

pins_before=$(pins)
bf_daemon_start bs || bf_die "bpfilterd does not start"
pid=$(tr_daemon_pid bs)

ruleset a ACCEPT | bf_ipt_restore bs || bf_fail "restore a"
tr_py_shim bs xt_get "$BF_TMP/a" || bf_fail "xt_get a"
ruleset b DROP | bf_ipt_restore bs || bf_fail "restore b"
tr_py_shim bs xt_get "$BF_TMP/b" || bf_fail "xt_get b"

read -r p0 m0 f0 ctx bad names < <(objs_stable "$pid")
echo "     daemon $pid: $p0 programs, $m0 maps, $f0 fds; bf_ctx map id $ctx"
echo "     names: $names"
if [ "$p0" -gt 0 ] && [ "$m0" -gt 0 ] && [ "$ctx" != - ] && [ "$bad" = - ]; then
	bf_pass "bpftool shows the daemon's programs and maps, all named bf_*"
else
	bf_fail "objects of the daemon: progs $p0 maps $m0 ctx $ctx, not named bf_*: $bad"
fi
for m in bf_ctx bf_root bf_cnt bf_progs bf_lroute bf_ifname; do
	[[ " $names " == *" $m "* ]] && bf_pass "map $m is there" || bf_fail "no map named $m"
done
for ifc in lo s0; do
	if bf_nsexec bs tc filter show dev "$ifc" ingress | grep -q 'name bf_' &&
		bf_nsexec bs tc filter show dev "$ifc" egress | grep -q 'name bf_'; then
		bf_pass "TC ingress and egress dispatchers on $ifc"
	else
		bf_fail "no bf_ TC dispatcher on $ifc"
	fi
done

t0=$(date +%s.%N)
tr_py_shim bs xt_swap "$BF_TMP/a" "$BF_TMP/b" "$NREP" "$BF_TMP/swap" - ||
	bf_fail "replace loop"
for ((i = 0; i < NRESTORE; i++)); do
	ruleset a ACCEPT | bf_ipt_restore bs || bf_fail "restore a ($i)"
	ruleset b DROP | bf_ipt_restore bs || bf_fail "restore b ($i)"
done
t1=$(date +%s.%N)
n=$(awk '$1 == "replaces" {print $2}' "$BF_TMP/swap")
echo "     $n direct replaces + $((2 * NRESTORE)) restores in $(echo "$t1 - $t0" | bc) s"
[ "${n:-0}" -ge "$NREP" ] && bf_pass "$n replaces through SET_REPLACE" || bf_fail "replaces: $n"

read -r p1 m1 f1 ctx1 bad1 _ < <(objs_stable "$pid")
if [ "$p1/$m1/$f1/$ctx1" = "$p0/$m0/$f0/$ctx" ]; then
	bf_pass "after the replaces: the same $p1 programs, $m1 maps, $f1 fds"
else
	bf_fail "after the replaces: programs $p0 -> $p1, maps $m0 -> $m1, fds $f0 -> $f1"
fi
[ "$bad1" = - ] || bf_fail "objects not named bf_*: $bad1"

bf_daemon_stop bs || bf_fail "bpfilterd did not stop cleanly"
read -r p2 m2 _ _ _ _ < <(objs_stable - "$ctx")
[ "$p2/$m2" = 0/0 ] && bf_pass "after stop: no program or map of the daemon left" ||
	bf_fail "after stop: $p2 programs, $m2 maps left"
for ifc in lo s0; do
	if bf_nsexec bs tc qdisc show dev "$ifc" | grep -q clsact; then
		bf_fail "after stop: clsact qdisc left on $ifc"
	else
		bf_pass "after stop: no clsact qdisc on $ifc"
	fi
done
pins_after=$(pins)
new_pins=$(comm -13 <(echo "$pins_before") <(echo "$pins_after") | grep -i -e bpfilter -e "$BF_PREFIX" -e '/bf' || true)
[ -z "$new_pins" ] && bf_pass "no bpffs pin left" || bf_fail "pins left: $new_pins"

# --xdp: XDP programs attached, and removed at stop.
bf_daemon_start bs --xdp || bf_die "bpfilterd --xdp does not start"
for ifc in lo s0; do
	bf_nsexec bs ip link show dev "$ifc" | grep -q 'prog/xdp.* name bf_' &&
		bf_pass "--xdp: bf_ XDP program on $ifc" || bf_fail "--xdp: no XDP program on $ifc"
done
bf_daemon_stop bs || bf_fail "bpfilterd --xdp did not stop cleanly"
for ifc in lo s0; do
	bf_nsexec bs ip link show dev "$ifc" | grep -q 'prog/xdp' &&
		bf_fail "--xdp: XDP program left on $ifc after stop" ||
		bf_pass "--xdp: nothing left on $ifc after stop"
done
bf_done
