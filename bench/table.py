#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Print bench/run's results as tables of medians and ratios.

Input: the results file bench/run writes, one measurement per line:
    KEY VALUE          one run's figure (several lines with the same KEY: one per run)
    KEY !REASON        the measurement failed; the cell shows "fail (REASON)"
    KEY =TEXT          an annotation (e.g. a.tc.last.10000.repeat =100000)
Keys:
    a.<tc|xdp>.<shape>.<first|last|none>.<N>   ns/packet (BPF_PROG_TEST_RUN duration) of one
                                       run, with the ruleset of gen_ruleset.py --shape <shape>
    ar.<tc|xdp>.<shape>.<first|last|none>.<N>  the same run's figure divided by the smallest
                                       size's, measured next to it in the same round
    b.<legacy|nft|tc|xdp>.<N>          packets/s of one live round: the median rate of the pair's
                                       slices, scaled by the share the last rule counted
    br.<nft|tc|xdp>.<N>                in one round, the median over its rotation rounds of the
                                       pair's slice rate over iptables-legacy's at the same size
                                       (every pair is flooded in 100 ms slices, in rotation)
    bq.<nft|tc|xdp>.<N>                the same, over the same side's at the smallest size
    c.<restore|append|delete>.<k|b>.<N> seconds of one command (k: kernel, b: bpfilter)
    cr.<restore|append|delete>.<N>     bpfilter's time over the kernel's in the same round
    c.rss.<N>                          bpfilterd's VmHWM, KiB
Every figure shown is the median of the runs of its key; ratios are computed from medians of
this same run, (a)'s X/@N and (b)'s /legacy and /@N as the medians of the per-round ratios
(ar.*, br.*, bq.*, cr.*) when there are some.
"""
import statistics
import sys


def load(path):
    vals, fails, notes = {}, {}, {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            key, _, v = line.partition(" ")
            if v.startswith("!"):
                fails.setdefault(key, v[1:])
            elif v.startswith("="):
                notes[key] = v[1:]
            else:
                vals.setdefault(key, []).append(float(v))
    return vals, fails, notes


class R:
    def __init__(self, path):
        self.vals, self.fails, self.notes = load(path)

    def med(self, key):
        v = self.vals.get(key)
        return statistics.median(v) if v and key not in self.fails else None

    def n(self, key):
        return len(self.vals.get(key, []))

    def cell(self, key, fmt):
        if key in self.fails:
            return "fail (%s)" % self.fails[key]
        m = self.med(key)
        if m is None:
            return "-"
        return fmt(m)


def ratio(a, b, fmt="%.2fx"):
    if a is None or b is None or b == 0:
        return "-"
    return fmt % (a / b)


def fmt_ns(v):
    return "%.0f" % v if v >= 100 else "%.1f" % v


def fmt_pps(v):
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e3:
        return "%.1fk" % (v / 1e3)
    return "%.0f" % v


def fmt_s(v):
    if v >= 10:
        return "%.1f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.3f" % v


def show(title, head, rows, notes=()):
    widths = [len(h) for h in head]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    print(title)
    line = "  ".join(h.rjust(widths[i]) for i, h in enumerate(head))
    print("  " + line)
    print("  " + "-" * len(line))
    for r in rows:
        print("  " + "  ".join(c.rjust(widths[i]) for i, c in enumerate(r)))
    for n in notes:
        print("  " + n)
    print()


def table_a(r, sizes, modes, shapes):
    pkts = ("first", "last", "none")
    base = sizes[0]
    for m in modes:
        head = ["shape", "rules"] + list(pkts) + ["%s/@%d" % (p, base) for p in pkts]
        if "all" in shapes:
            head += ["kernel last (b)", "kernel filter (b)"]
        rows, reduced = [], []
        for sh in shapes:
            for n in sizes:
                row = [sh, str(n)]
                for p in pkts:
                    k = "a.%s.%s.%s.%d" % (m, sh, p, n)
                    c = r.cell(k, fmt_ns)
                    rep = r.notes.get(k + ".repeat")
                    if rep and r.notes.get(k + ".reduced") == "1" and k not in r.fails:
                        c += "*"
                        reduced.append("%s=%s" % (k[2:], rep))
                    row.append(c)
                for p in pkts:
                    k = "a.%s.%s.%s.%d" % (m, sh, p, n)
                    kb = "a.%s.%s.%s.%d" % (m, sh, p, base)
                    per_round = r.med("ar.%s.%s.%s.%d" % (m, sh, p, n))
                    if k in r.fails or kb in r.fails:
                        row.append("-")
                    elif n == base and r.med(k) is not None:
                        row.append("1.00x")
                    elif per_round is not None:
                        row.append("%.2fx" % per_round)
                    else:
                        row.append(ratio(r.med(k), r.med(kb)))
                if "all" in shapes:
                    kl = r.med("b.legacy.%d" % n) if sh == "all" else None
                    k1 = r.med("b.legacy.1")
                    if sh != "all":
                        row += ["", ""]
                    else:
                        row.append(fmt_ns(1e9 / kl) if kl else r.cell("b.legacy.%d" % n, fmt_ns))
                        if kl and k1:
                            d = 1e9 / kl - 1e9 / k1
                            # Below the run-to-run noise of the live test: say so rather than
                            # print a negative cost.
                            row.append(fmt_ns(d) if d > 0 else "<0 (noise)")
                        else:
                            row.append("-")
                rows.append(row)
        notes = [
            "ns/packet: BPF_PROG_TEST_RUN duration of the dispatcher bpfilterd attached to the",
            "receiving veth (tc: TC ingress; xdp: the XDP program of bpfilterd --xdp), median of 5",
            "rounds; first/last: the packet matches rule 1 / rule N; none: no rule (policy).",
            "X/@%d: cost of packet X relative to the same shape's %d-rule ruleset: every size is" % (base, base),
            "loaded at once and measured in turn in each round, the ratio taken within the round",
            "(the machine's speed drifts between rounds), the median of the rounds' ratios shown.",
            "shapes (bench/gen_ruleset.py --shape): all = every shape mixed with 3 user chains",
            "(the ruleset of (b) and (c)); blocklist = -s addresses and prefixes; ports = per-port",
            "accept lists; tuple = 5-tuple rules with inversions; chains = the kinds spread over",
            "4 user chains entered in turn (at every size).",
        ]
        if "all" in shapes:
            notes += [
                "kernel: there is no BPF program to run; derived from live throughput (b) of",
                "iptables-legacy: 'last' = 1e9/pps (the whole receive path), 'filter' = that minus",
                "the same with a 1-rule ruleset (the cost of the rules in front of the match).",
            ]
        if reduced:
            notes.append("* repeat lowered below 1e6 to bound the run time: " + ", ".join(reduced))
        show("(a) datapath cost per packet, ns, bpfilter %s" % m.upper(), head, rows, notes)


def table_b(r, sizes, sides):
    names = {"legacy": "iptables-legacy", "nft": "iptables-nft", "tc": "bpfilter TC",
             "xdp": "bpfilter XDP"}
    head = ["rules"]
    base = sizes[0] if sizes else None
    for s in sides:
        head.append(names[s])
        if s != "legacy":
            head.append("/legacy")
        if s in ("tc", "xdp") and base is not None:
            head.append("/@%d" % base)
    rows = []
    for n in [1] + sizes:
        if not any(("b.%s.%d" % (s, n)) in r.vals or ("b.%s.%d" % (s, n)) in r.fails
                   for s in sides):
            continue
        row = [str(n)]
        kl = r.med("b.legacy.%d" % n)
        for s in sides:
            k = "b.%s.%d" % (s, n)
            row.append(r.cell(k, fmt_pps))
            if s != "legacy":
                rr = r.med("br.%s.%d" % (s, n))
                row.append("%.2fx" % rr if rr is not None else ratio(r.med(k), kl))
            if s in ("tc", "xdp") and base is not None:
                v, vb = r.med(k), r.med("b.%s.%d" % (s, base))
                rq = r.med("bq.%s.%d" % (s, n))
                if n == 1:
                    row.append("")
                elif rq is not None:
                    row.append("%.0f%%" % (100 * rq))
                else:
                    row.append(ratio(100 * v, vb, "%.0f%%") if v is not None else "-")
        rows.append(row)
    show("(b) live throughput, packets/s counted by the last rule (UDP flood over a veth, "
         "sender on one CPU)", head, rows,
         ["median of %s runs; /legacy = ratio to the kernel's iptables-legacy: the median of"
          % (r.notes.get("b.runs", "?")),
          "the rounds' ratios (in a round, every pair is flooded in 100 ms slices, in rotation, and",
          "ratios are taken between slices of the same rotation); /@%s = bpfilter's rate as a"
          % base,
          "share of its own rate with %s rules, taken the same way." % base])


def table_c(r, sizes):
    head = ["rules", "restore kern", "restore bpf", "ratio", "-A kern", "-A bpf", "ratio",
            "-D kern", "-D bpf", "ratio", "bpfilterd RSS"]
    rows = []
    for n in sizes:
        row = [str(n)]
        for op in ("restore", "append", "delete"):
            k, b = "c.%s.k.%d" % (op, n), "c.%s.b.%d" % (op, n)
            rr = r.med("cr.%s.%d" % (op, n))
            row += [r.cell(k, fmt_s), r.cell(b, fmt_s),
                    "%.2fx" % rr if rr is not None else ratio(r.med(b), r.med(k))]
        row.append(r.cell("c.rss.%d" % n, lambda v: "%.1f MiB" % (v / 1024)))
        rows.append(row)
    show("(c) control plane, seconds (wall clock of the iptables-legacy command, kernel vs "
         "through the shim)", head, rows,
         ["median of %s runs; restore: iptables-legacy-restore of the N-rule file into an "
          "empty table;" % r.notes.get("c.runs", "?"),
          "ratio: the median of the rounds' ratios (a round times the kernel and bpfilter one",
          "right after the other);",
          "-A/-D: one rule appended to / deleted from INPUT on top of the N rules;",
          "RSS: bpfilterd's peak resident set (VmHWM) after all of the size's runs "
          "(a fresh daemon per size)."])


def main():
    if len(sys.argv) < 2:
        print("usage: table.py RESULTS", file=sys.stderr)
        return 2
    r = R(sys.argv[1])
    sizes = [int(x) for x in r.notes.get("sizes", "").split()]
    sides = r.notes.get("sides", "legacy nft tc xdp").split()
    parts = r.notes.get("parts", "abc")
    if "a" in parts:
        table_a(r, sizes, [m for m in ("tc", "xdp") if m in sides],
                r.notes.get("shapes", "all").split())
    if "b" in parts:
        table_b(r, sizes, sides)
    if "c" in parts:
        table_c(r, sizes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
