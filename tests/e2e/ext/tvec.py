#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Helper of tests/e2e/extensions.sh: iptables' extension vectors (*.t), run as iptables' own
iptables-test.py runs them (-A CHAIN RULE, iptables-save, look for "-A CHAIN SAVED", delete).
As there, libip6t_*.t files run with ip6tables, the others with iptables.

  tvec.py plan FILE...                       the test items, one JSON object a line
  tvec.py run PLAN OUT [--env K=V]... [--timeout S]
                                             run every item in the current network namespace;
                                             K=V go to the iptables processes only
  tvec.py compare PLAN KERNEL BPF EXTS       compare both runs, print the summary, exit 1 on a
                                             mismatch (EXTS: the output of tests/tools/bf_exts)

An item is one test line in one chain. Its outcome, the same on both sides for every extension
bpfilter registers: (add status, expected rule in the save output, delete status, table unchanged
after the add). For a rule that uses any other extension, bpfilter must refuse the add with an
ordinary iptables error and store nothing.
"""
import json
import os
import re
import shlex
import subprocess
import sys

VERDICTS = {"ACCEPT", "DROP", "RETURN", "QUEUE"}
# iptables stores these under another extension name (libxt_state.c, libxt_NOTRACK.c).
ALIASES = {("match", "state"): ("match", "conntrack"), ("target", "NOTRACK"): ("target", "CT")}


def plan(files):
    for path in files:
        table, chains = "", []
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if not line.strip() or line[0] == "#":
                    continue
                if line[0] == ":":
                    chains = line[1:].strip().split(",")
                    continue
                if line[0] == "*":
                    table = line[1:].strip()
                    continue
                base = {"file": os.path.basename(path), "line": lineno, "table": table or "filter",
                        "family": family(path)}
                if line[0] in "@%":
                    yield dict(base, kind="cmd", cmd=line[1:].strip())
                    continue
                item = line.split(";")
                if len(item) < 3:
                    yield dict(base, kind="broken", text=line)
                    continue
                variant = item[3].strip() if len(item) > 3 else ""
                if variant == "NFT":  # nft-only vector: not the legacy backend
                    continue
                res = item[2].strip()
                for chain in chains:
                    saved = item[0] if item[1] == "=" else item[1]
                    yield dict(base, kind="test", chain=chain, rule=item[0],
                               saved=chain + " " + saved, res=res, explicit_table=bool(table))


def family(path):
    """6 for the files iptables-test.py runs with ip6tables, else 4."""
    name = os.path.basename(path)
    return 6 if name.startswith("libip6t_") or name == "ip6tables.t" else 4


def tool(fam, save=False):
    return ("ip6tables-legacy" if fam == 6 else "iptables-legacy") + ("-save" if save else "")


def strip_counters_arg(args):
    # As iptables-test.py's delete_rule: -D refuses -c/--set-counters.
    out = list(args)
    for i, a in enumerate(out):
        if a in ("-c", "--set-counters"):
            out.pop(i)
            if i < len(out) and "," in out.pop(i):
                break
            if i < len(out) and out[i].isnumeric():
                out.pop(i)
            break
    return out


def normalize(save_text):
    """iptables-save output without the date comments and counters: what the table holds."""
    lines = []
    for l in save_text.splitlines():
        if l.startswith("#"):
            continue
        lines.append(re.sub(r" \[\d+:\d+\]$", "", l))
    return "\n".join(lines)


class Runner:
    def __init__(self, env, timeout):
        self.env = dict(os.environ)
        for k in ("LD_PRELOAD", "BPFILTER_SOCKET"):
            self.env.pop(k, None)
        self.env.update(env)
        self.timeout = timeout
        self.baseline = {}

    def call(self, argv, shell=False):
        try:
            p = subprocess.run(argv, env=self.env, shell=shell, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, errors="replace",
                               timeout=self.timeout)
            return p.returncode if p.returncode >= 0 else 128 - p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            return 124, "", "timeout after %ss: %s" % (self.timeout, e)

    def save(self, table, fam=4):
        rc, out, err = self.call([tool(fam, True), "-t", table])
        return rc, out

    def test(self, it):
        table, chain = it["table"], it["chain"]
        fam = it.get("family", 4)
        ipt = tool(fam)
        try:
            args = shlex.split(it["rule"])
        except ValueError as e:
            return {"add": -1, "err": "unparsable rule: %s" % e}
        tflag = ["-t", table] if it["explicit_table"] else []
        if (fam, table) not in self.baseline:
            self.baseline[(fam, table)] = normalize(self.save(table, fam)[1])
        add_rc, _, add_err = self.call([ipt, "-A", chain] + tflag + args)
        save_rc, out = self.save(table, fam)
        found = ("\n-A %s\n" % it["saved"]) in out
        unchanged = normalize(out) == self.baseline[(fam, table)]
        # The rules the add left in the table (for the extensions it used).
        before = set(self.baseline[(fam, table)].splitlines())
        rules = [l for l in out.splitlines() if l.startswith("-A ") and l not in before]
        del_rc = None
        if add_rc == 0:
            del_rc, _, _ = self.call([ipt, "-D", chain] + tflag + strip_counters_arg(args))
            if del_rc != 0:
                self.call([ipt, "-t", table, "-F", chain])
        return {"add": add_rc, "found": found, "del": del_rc, "unchanged": unchanged,
                "save": save_rc, "rules": rules, "err": add_err.strip()[-300:]}


def run(plan_path, out_path, env, timeout):
    r = Runner(env, timeout)
    with open(plan_path) as f, open(out_path, "w") as out:
        for n, l in enumerate(f):
            it = json.loads(l)
            if it["kind"] == "cmd":
                # As iptables-test.py: "iptables ..." runs the iptables under test; anything
                # else (nfacct, nfct) through the shell. Either may change a table.
                cmd = it["cmd"]
                if cmd.startswith("iptables "):
                    rc, _, _ = r.call(["iptables-legacy"] + shlex.split(cmd[len("iptables "):]))
                elif cmd.startswith("ip6tables "):
                    rc, _, _ = r.call(["ip6tables-legacy"] +
                                      shlex.split(cmd[len("ip6tables "):]))
                else:
                    rc, _, _ = r.call(cmd, shell=True)
                r.baseline.clear()
                res = {"cmd": rc}
            elif it["kind"] == "test":
                res = r.test(it)
            else:
                res = {}
            res["n"] = n
            out.write(json.dumps(res) + "\n")
            out.flush()


def extensions(it, results):
    """Extensions an item uses: named in the rule, or shown by either side's save output."""
    need = set()
    texts = [it["rule"]] + [" ".join(x.get("rules", [])) for x in results]
    for text in texts:
        try:
            toks = shlex.split(text)
        except ValueError:
            toks = text.split()
        for i, t in enumerate(toks[:-1]):
            n = toks[i + 1]
            if t in ("-m", "--match"):
                k = ("match", n)
            elif t in ("-j", "--jump", "-g", "--goto"):
                k = ("target", "" if n in VERDICTS else n)
            else:
                continue
            need.add(ALIASES.get(k, k))
    need.add(("target", ""))
    return need


def outcome(x):
    if "add" not in x:
        return "(not run)"
    s = "add=%d found=%s" % (x["add"], "yes" if x.get("found") else "no")
    if x.get("del") is not None:
        s += " del=%d" % x["del"]
    s += " table=%s" % ("unchanged" if x.get("unchanged") else "changed")
    return s


def key(x):
    return (x.get("add"), x.get("found"), x.get("del"), x.get("unchanged"))


def compare(plan_path, kpath, bpath, exts_path):
    have = {4: set(), 6: set()}
    for l in open(exts_path):
        kind, name, _rev, fam = l.split()
        # NFPROTO_UNSPEC serves both; NFPROTO_IPV4 = 2, NFPROTO_IPV6 = 10
        for f, nf in ((4, 2), (6, 10)):
            if int(fam) in (0, nf):
                have[f].add((kind, "" if name == "(standard)" else name))
    items = [json.loads(l) for l in open(plan_path)]
    kres = [json.loads(l) for l in open(kpath)]
    bres = [json.loads(l) for l in open(bpath)]
    lines, nitems, same, refused, tdiff = set(), 0, 0, 0, 0
    mism = []
    for n, it in enumerate(items):
        if it["kind"] != "test":
            continue
        nitems += 1
        lines.add((it["file"], it["line"]))
        k = kres[n] if n < len(kres) else {}
        b = bres[n] if n < len(bres) else {}
        where = "%s:%d %s%s" % (it["file"], it["line"],
                                "-t %s " % it["table"] if it["explicit_table"] else "",
                                it["chain"])
        if "add" in k and (k["add"] == 0 and k.get("found")) != (it["res"] == "OK"):
            tdiff += 1
        missing = extensions(it, [k, b]) - have[it.get("family", 4)]
        # bpfilter keeps only the filter table: a vector of another table (owner's mangle,
        # eui64's raw) must be refused as an unknown table is, whatever its extensions.
        if it["table"] != "filter":
            missing.add(("table", "table " + it["table"]))
        if not missing:
            if "add" in k and "add" in b and key(k) == key(b):
                same += 1
            else:
                mism.append("%s: %s\n    kernel:   %s\n    bpfilter: %s%s" % (
                    where, it["rule"], outcome(k), outcome(b),
                    "\n    bpfilter said: " + b["err"] if b.get("err") else ""))
        else:
            clean = "add" in b and 0 < b["add"] < 124 and b.get("unchanged")
            if clean:
                refused += 1
            else:
                mism.append("%s: %s\n    uses %s, not in bpfilter's registry: must be refused"
                            " with nothing stored\n    kernel:   %s\n    bpfilter: %s" % (
                                where, it["rule"],
                                ",".join(sorted(n or "(standard)" for _, n in missing)),
                                outcome(k), outcome(b)))
    for m in mism:
        print("MISMATCH " + m)
    print("test lines run:            %d (%d line/chain items)" % (len(lines), nitems))
    print("same outcome as kernel:    %d items (registered extensions)" % same)
    print("refused cleanly:           %d items (other extensions)" % refused)
    print("mismatches:                %d" % len(mism))
    print("kernel differs from .t:    %d items (informative: the kernel is the reference)" %
          tdiff)
    return 1 if mism or nitems == 0 else 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "plan":
        for it in plan(argv[2:]):
            print(json.dumps(it))
        return 0
    if len(argv) >= 4 and argv[1] == "run":
        env, timeout, rest = {}, 60, argv[4:]
        while rest:
            if rest[0] == "--env" and len(rest) > 1:
                k, _, v = rest[1].partition("=")
                env[k] = v
                rest = rest[2:]
            elif rest[0] == "--timeout" and len(rest) > 1:
                timeout = float(rest[1])
                rest = rest[2:]
            else:
                break
        run(argv[2], argv[3], env, timeout)
        return 0
    if len(argv) == 6 and argv[1] == "compare":
        return compare(*argv[2:6])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
