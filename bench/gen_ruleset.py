#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Generate a benchmark ruleset of exactly N rules (N = 1: the "last" rule alone) as an iptables-restore file (filter table).

The same file is loaded into the kernel's iptables-legacy, iptables-nft and bpfilter.

Test traffic (bench/run, bench_testrun, bench_flood): UDP 10.77.0.1:40000 -> 10.77.0.2, received
on the INPUT hook of the receiver.
  dport 5003  "first": matches rule 1 (ACCEPT, comment bench-first)
  dport 5001  "last":  matches rule N, the last rule of INPUT (DROP, comment bench-last); this is
              the live-throughput traffic, counted by that rule's counter
  dport 5002  "none":  matches no rule, ends at INPUT's policy (ACCEPT)
Every other rule is built so that it can never match any of the three, and the three user
chains are entered by all of them (unconditional jumps), so "last" and "none" are evaluated
against every one of the N rules, jumps included.

Rule shapes, in equal shares (seeded PRNG: the same N always gives the same file):
  INPUT, direct:  destination prefix drops, source+tcp port drops, anti-spoofing (! -i lo -s
                  127.0.0.0/8), interface-bound prefix drops
  blocklist:      source address (/32) and prefix (/8../28) drops
  ports:          per-port accept lists: tcp dport, udp dport (outside 5000:5010), udp to an
                  address and port
  mixed:          5-tuple rules with inversions (! -d, ! -s, ! --dport, ! --sport,
                  ! --tcp-flags) and icmp types
--shape SHAPE generates one shape alone for the per-shape datapath cost (bench/run (a)):
blocklist, ports or tuple (the "mixed" rules) between the first and the last rule of INPUT, or
chains: the same kinds spread over 4 user chains entered one after the other.
Only extensions bpfilter registers are used (tcp, udp, icmp, comment, standard targets).
"""
import argparse
import ipaddress
import random
import sys

FIRST_PORT, LAST_PORT, NONE_PORT = 5003, 5001, 5002
SRC, DST = "10.77.0.1", "10.77.0.2"
# Ports the test traffic uses (and its source port range) are never used by a filler rule.
RESERVED = range(5000, 5011)


def rand_first_octet(r):
    # Public-looking unicast space, never 0/8, 10/8 (the test network), 127/8 or >= 224.
    while True:
        o = r.randint(1, 223)
        if o not in (10, 127):
            return o


def rand_addr(r):
    return "%d.%d.%d.%d" % (rand_first_octet(r), r.randint(0, 255), r.randint(0, 255),
                            r.randint(1, 254))


def rand_prefix(r, lo=8, hi=28):
    plen = r.randint(lo, hi)
    net = ipaddress.ip_network("%s/%d" % (rand_addr(r), plen), strict=False)
    return str(net)


def rand_port(r):
    while True:
        p = r.randint(1, 65535)
        if p not in RESERVED and p != 40000:
            return p


def shape_direct(r, i):
    k = i % 4
    if k == 0:
        return "-d %s -j DROP" % rand_prefix(r, 16, 28)
    if k == 1:
        return "-s %s -p tcp -m tcp --dport %d -j DROP" % (rand_prefix(r, 20, 32), rand_port(r))
    if k == 2:
        return "! -i lo -s 127.0.0.0/8 -j DROP"
    return "-i eth%d -s %s -j DROP" % (r.randint(1, 9), rand_prefix(r, 12, 24))


def shape_blocklist(r, i):
    if r.random() < 0.7:
        return "-s %s/32 -j DROP" % rand_addr(r)
    return "-s %s -j DROP" % rand_prefix(r)


def shape_ports(r, i):
    x = r.random()
    if x < 0.5:
        return "-p tcp -m tcp --dport %d -j ACCEPT" % rand_port(r)
    if x < 0.8:
        return "-p udp -m udp --dport %d -j ACCEPT" % rand_port(r)
    return "-d %s/32 -p udp -m udp --dport %d -j ACCEPT" % (rand_addr(r), rand_port(r))


def shape_mixed(r, i):
    k = i % 6
    if k == 0:
        a, b = rand_port(r), rand_port(r)
        return "-s %s ! -d %s -p tcp -m tcp --sport %d --dport %d -j DROP" % (
            rand_prefix(r, 16, 30), rand_prefix(r, 8, 24), a, b)
    if k == 1:
        return "! -s 10.0.0.0/8 -p udp -m udp --dport %d -j DROP" % rand_port(r)
    if k == 2:
        return "-s %s -p udp -m udp ! --dport %d:%d -j DROP" % (
            rand_prefix(r, 16, 30), RESERVED.start, RESERVED.stop - 1)
    if k == 3:
        # Privileged source ports only; the test traffic comes from 40000.
        return "-s 10.77.0.0/16 -p udp -m udp ! --sport 1024:65535 -j DROP"
    if k == 4:
        return "-s %s -p tcp -m tcp ! --tcp-flags SYN,RST,ACK SYN -j DROP" % rand_prefix(r)
    return "-s %s -p icmp -m icmp --icmp-type %d -j DROP" % (rand_prefix(r), r.choice((0, 3, 8, 11)))


SHAPES = ("all", "blocklist", "ports", "tuple", "chains")


def generate_shape(n, seed, shape, first, last):
    """One shape alone (bench (a)): INPUT = first, N-2 rules of the shape, last; "chains": the
    rules spread over 4 user chains that INPUT enters one after the other."""
    r = random.Random("%s-%d-%d" % (shape, seed, n))
    fill = n - 2
    makers = {"blocklist": shape_blocklist, "ports": shape_ports, "tuple": shape_mixed}
    out = ["# bpfilter benchmark ruleset: %d rules, shape %s (bench/gen_ruleset.py %d --shape %s"
           " --seed %d)" % (n, shape, n, shape, seed),
           "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    if shape != "chains":
        out.append("-A INPUT %s" % first)
        out += ["-A INPUT %s" % makers[shape](r, i) for i in range(fill)]
        out.append("-A INPUT %s" % last)
    else:
        # The same number of chains at every size: the cost of entering them is not a cost
        # of the number of rules.
        k = min(4, fill)
        chains = ["bench_c%d" % i for i in range(k)]
        out += [":%s - [0:0]" % c for c in chains]
        out.append("-A INPUT %s" % first)
        out += ["-A INPUT -j %s" % c for c in chains]
        out.append("-A INPUT %s" % last)
        kinds = (shape_blocklist, shape_ports, shape_mixed)
        for i in range(fill - k):
            c = i % k
            out.append("-A %s %s" % (chains[c], kinds[c % 3](r, i // k)))
    out.append("COMMIT")
    assert sum(1 for x in out if x.startswith("-A ")) == n
    return "\n".join(out) + "\n"


def generate(n, seed, shape="all"):
    if n < 1:
        raise ValueError("a ruleset needs at least 1 rule")
    if shape not in SHAPES:
        raise ValueError("unknown shape %s" % shape)
    if shape != "all" and n < 2:
        raise ValueError("a shape needs at least 2 rules")
    r = random.Random(seed * 1000003 + n)
    first = ("-s %s/32 -p udp -m udp --dport %d -m comment --comment bench-first -j ACCEPT"
             % (SRC, FIRST_PORT))
    last = ("-s %s/32 -d %s/32 -p udp -m udp --dport %d -m comment --comment bench-last -j DROP"
            % (SRC, DST, LAST_PORT))
    if shape != "all":
        return generate_shape(n, seed, shape, first, last)
    if n == 1:
        # The baseline of the live test: the counting rule alone.
        return "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n" \
            "-A INPUT %s\nCOMMIT\n" % last
    fill = n - 2
    chains = ["bench_blocklist", "bench_ports", "bench_mixed"] if fill >= 6 else []
    body = fill - len(chains)
    groups = {"direct": [], "bench_blocklist": [], "bench_ports": [], "bench_mixed": []}
    order = ["direct"] + chains
    makers = {"direct": shape_direct, "bench_blocklist": shape_blocklist,
              "bench_ports": shape_ports, "bench_mixed": shape_mixed}
    for i in range(body):
        g = order[i % len(order)]
        groups[g].append(makers[g](r, len(groups[g])))

    direct = groups["direct"]
    # INPUT: first, direct rules interleaved with the three jumps, last.
    parts = [direct[k * len(direct) // 4:(k + 1) * len(direct) // 4] for k in range(4)]
    inp = [first] + parts[0]
    for k, c in enumerate(chains):
        inp.append("-j %s" % c)
        inp += parts[k + 1]
    if not chains:
        inp += parts[1] + parts[2] + parts[3]
    inp.append(last)

    out = ["# bpfilter benchmark ruleset: %d rules (bench/gen_ruleset.py %d --seed %d)" % (n, n, seed),
           "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    out += [":%s - [0:0]" % c for c in chains]
    out += ["-A INPUT %s" % x for x in inp]
    for c in chains:
        out += ["-A %s %s" % (c, x) for x in groups[c]]
    out.append("COMMIT")
    total = len(inp) + sum(len(groups[c]) for c in chains)
    assert total == n, (total, n)
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("n", type=int, help="number of rules (>= 1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shape", default="all", choices=SHAPES,
                    help="all: every shape mixed, user chains included (the default); or one "
                    "shape alone in INPUT (chains: spread over user chains)")
    ap.add_argument("-o", "--output", help="file to write (default stdout)")
    a = ap.parse_args()
    try:
        text = generate(a.n, a.seed, a.shape)
    except ValueError as e:
        print("gen_ruleset: %s" % e, file=sys.stderr)
        return 2
    if a.output:
        with open(a.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
