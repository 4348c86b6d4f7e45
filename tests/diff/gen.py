#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Topology, rulesets and traffic of the differential test (tests/diff/run).

    gen.py topo --prefix P --client NS --router NS --server NS [--family 6]  (bash on stdout)
    gen.py case --seed N --prefix P --out DIR [--scale K] [--family 6] [--large N]

--family 6: the same topology with IPv6 addresses only, ip6tables rulesets and IPv6 traffic
(see "IPv6" below).

`case` writes DIR/router.rules and DIR/server.rules (iptables-restore input for the filter table)
and DIR/traffic (a tests/tools/pktsend script with the roles client, router and server). Everything
is a function of (seed, prefix, scale): the prefix only names the interfaces.

The topology (one copy per side, kernel and bpfilter):

    client ---- c:rc ---- router ---- rs:s ---- server
    10.1.0.2,.3,.130    10.1.0.1 10.2.0.1 \      10.2.0.2,.3
                                 10.3.0.1 rt:t --- 10.3.0.2  (second link, same server)

Replies from the server always leave by `s` (default route), so 10.3.0.2 is reached in on `t` and
answered out on `s`. 10.2.0.9 and 10.3.0.9 are routed by the router to the server (static neighbour
entries) but owned by nobody: the server does not forward, so the packet meets no chain there.

Why the traffic looks the way it does (each point removes a source of run-to-run difference):
- Neighbours are static and IPv6 is off: no ARP, no router solicitations, no DAD.
- ICMP error rate limits, TCP challenge-ACK/out-of-window limits and SYN-ACK retransmissions are
  disabled by sysctl; route error ICMPs (no route) have their own token bucket of 5, so at most 2
  such packets are sent per case.
- Fragments: the kernel reassembles before INPUT while bpfilter's TC datapath sees each fragment
  (doc/design.md, "Fragments"). So fragments are only sent where no filtering host delivers them
  locally: client -> 10.2.0.9/10.3.0.9 (the router FORWARDs them raw, the server does not own the
  address), and router/server -> client (OUTPUT sees them raw before they leave; the client does not
  filter). Datagrams sent to the client are either complete (first + last fragment, so reassembly
  ends at once) or lack their first fragment (so the 30 s reassembly timeout sends no ICMP).
- Locally generated packets stay far below the MTU (OUTPUT sees them before any fragmentation).
- IP options are valid ones only (NOP, EOL, record route, timestamp, router alert): invalid options
  are dropped by ip_rcv_options before INPUT/FORWARD, which bpfilter does not model (not part of
  what the compiler must support yet).
- Unicast destinations always get the router's unicast MAC; no TTL <= 1 (the kernel drops those in
  ip_forward before FORWARD); no martian sources.
- Real connections use fixed source ports 30000+ (crafted packets never use that range) and never
  wait as long as the first retransmission (see pktsend.c).

IPv6 (--family 6): fd00:1::/64 (client), fd00:2::/64 (s), fd00:3::/64 (t), addresses ::1 on the
router, the hosts as in IPv4 (::2, ::3, ::82; ::2, ::3 and ::2 on t), unowned ::9, no route
2001:db8::7. Determinism:
- no link-local addresses (addr_gen_mode 1), no DAD, no router solicitations or advertisements,
  static neighbours: no neighbour discovery at all. MLD reports for the solicited-node groups
  go out at set-up (one, 1 ms after the join), before any rule is loaded.
- ICMPv6 error rate limits off (ratelimit 0 and the per-netns global bucket raised).
- No traffic that the router would forward out of the interface it came in on (redirects
  cannot be turned off in IPv6).
- Without conntrack the kernel does not reassemble before the filter: INPUT and FORWARD see
  each fragment (reassembly happens after LOCAL_IN, in ip6_input_finish), as bpfilter's TC
  datapath does. Fragments are lone (a unique id each: non-first ones never complete, first ones
  would only time out after 60 s, long after the case) or atomic (offset 0, M=0).
- Hop-by-hop headers are only sent whole, with at most 7 bytes of padding in a row and otherwise
  skippable unknown options or a router alert: the kernel parses them in ip6_rcv_core and drops
  bad ones (RFC 8504 limits: more padding) before any hook, which bpfilter does not model.
- Extension header chains stay within what the dispatcher walks (7 headers, doc/design.md).
"""

import argparse
import os
import random
import sys

MAC = {
    "c": "02:00:00:00:01:02",
    "rc": "02:00:00:00:01:01",
    "rs": "02:00:00:00:02:01",
    "s": "02:00:00:00:02:02",
    "rt": "02:00:00:00:03:01",
    "t": "02:00:00:00:03:02",
}
CLIENT_ADDRS = ["10.1.0.2", "10.1.0.3", "10.1.0.130"]
ROUTER_ADDRS = ["10.1.0.1", "10.2.0.1", "10.3.0.1"]
SERVER_ADDRS = ["10.2.0.2", "10.2.0.3", "10.3.0.2"]
UNOWNED = ["10.2.0.9", "10.3.0.9"]
NOROUTE = "198.51.100.7"
TCP_OPEN = [22, 80]
UDP_ECHO = [53]
# Sysctls of every namespace (before any interface exists, so `default` reaches them all).
SYSCTL_ALL = [
    "net.ipv6.conf.all.disable_ipv6=1",
    "net.ipv6.conf.default.disable_ipv6=1",
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
    "net.ipv4.conf.all.send_redirects=0",
    "net.ipv4.conf.default.send_redirects=0",
    "net.ipv4.conf.all.accept_redirects=0",
    "net.ipv4.conf.default.accept_redirects=0",
    "net.ipv4.icmp_ratemask=0",
    "net.ipv4.icmp_ratelimit=0",
    "net.ipv4.tcp_synack_retries=0",
    "net.ipv4.tcp_invalid_ratelimit=0",
    "net.ipv4.tcp_challenge_ack_limit=2147483647",
    "net.ipv4.tcp_syncookies=0",
]


SYSCTL_ALL6 = [x for x in SYSCTL_ALL if "disable_ipv6" not in x] + [
    "net.ipv4.icmp_msgs_per_sec=1000000",
    "net.ipv4.icmp_msgs_burst=1000000",
    "net.ipv6.icmp.ratelimit=0",
] + ["net.ipv6.conf.%s.%s" % (w, k) for w in ("all", "default") for k in (
    "accept_dad=0", "dad_transmits=0", "router_solicitations=0", "accept_ra=0", "autoconf=0",
    "addr_gen_mode=1", "mldv1_unsolicited_report_interval=1",
    "mldv2_unsolicited_report_interval=1", "accept_redirects=0", "disable_ipv6=0")]
C6 = ["fd00:1::2", "fd00:1::3", "fd00:1::82"]
R6 = ["fd00:1::1", "fd00:2::1", "fd00:3::1"]
S6 = ["fd00:2::2", "fd00:2::3", "fd00:3::2"]
UNOWNED6 = ["fd00:2::9", "fd00:3::9"]
NOROUTE6 = "2001:db8::7"


CT_SYSCTL = ["net.netfilter.nf_conntrack_tcp_loose=1", "net.netfilter.nf_conntrack_tcp_be_liberal=0",
             "net.netfilter.nf_conntrack_checksum=0",
             "net.netfilter.nf_conntrack_tcp_max_retrans=3"]


def ifnames(prefix):
    return {k: prefix + k for k in MAC}


def topo(a):
    n = ifnames(a.prefix)
    C, R, S = a.client, a.router, a.server
    v6 = a.family == 6
    out = []
    for ns in (C, R, S):
        out.append("ip netns exec %s sysctl -q -w %s" % (ns, " ".join(
            SYSCTL_ALL6 if v6 else SYSCTL_ALL)))
    if getattr(a, "level", "core") == "extended":
        # The kernel's conntrack as bpfilter's tracker assumes it (doc/conntrack.md): loose
        # pickup, no liberal windows, and no checksum verification (bpfilter does not verify;
        # the kernel would skip it for veth/lo anyway, CHECKSUM_UNNECESSARY).
        for ns in (C, R, S):
            out.append("ip netns exec %s sysctl -q -w %s" % (ns, " ".join(CT_SYSCTL)))
        if v6:
            # No automatic flow labels: the kernel's label of an ICMPv6 error (REJECT's too) is
            # a hash keyed by a boot-time secret, which bpfilter cannot compute and sends as 0
            # (doc/design.md, "Known differences"); with 0 here both sides send 0.
            for ns in (C, R, S):
                out.append("ip netns exec %s sysctl -q -w net.ipv6.auto_flowlabels=0" % ns)
    if v6:
        out.append("ip netns exec %s sysctl -q -w net.ipv6.conf.all.forwarding=1" % R)
        out.append("ip netns exec %s sysctl -q -w net.ipv6.conf.all.forwarding=0" % S)
    else:
        out.append("ip netns exec %s sysctl -q -w net.ipv4.ip_forward=1" % R)
        out.append("ip netns exec %s sysctl -q -w net.ipv4.ip_forward=0" % S)
    batch = {C: [], R: [], S: []}
    for (ns1, i1, ns2, i2) in ((R, "rc", C, "c"), (R, "rs", S, "s"), (R, "rt", S, "t")):
        batch[ns1].append("link add %s address %s type veth peer name %s address %s netns %s"
                          % (n[i1], MAC[i1], n[i2], MAC[i2], ns2))
    if v6:
        ca, ra, sa, un = C6, R6, S6, UNOWNED6
        plen, nodad, rtcmd = "/64", " nodad", "route"
    else:
        ca, ra, sa, un = CLIENT_ADDRS, ROUTER_ADDRS, SERVER_ADDRS, UNOWNED
        plen, nodad, rtcmd = "/24", "", "route"
    addrs = [(C, "c", a_ + plen) for a_ in ca]
    addrs += [(R, "rc", ra[0] + plen), (R, "rs", ra[1] + plen), (R, "rt", ra[2] + plen)]
    addrs += [(S, "s", sa[0] + plen), (S, "s", sa[1] + plen), (S, "t", sa[2] + plen)]
    later = {C: [], R: [], S: []}
    for ns, i, ad in addrs:
        later[ns].append("addr add %s dev %s%s" % (ad, n[i], nodad))
    for ns, i in ((C, "c"), (R, "rc"), (R, "rs"), (R, "rt"), (S, "s"), (S, "t")):
        later[ns].append("link set %s up" % n[i])
    neigh = [(C, "c", ra[0], "rc")]
    neigh += [(R, "rc", x, "c") for x in ca]
    neigh += [(R, "rs", x, "s") for x in (sa[0], sa[1], un[0])]
    neigh += [(R, "rt", x, "t") for x in (sa[2], un[1])]
    neigh += [(S, "s", ra[1], "rs"), (S, "t", ra[2], "rt")]
    for ns, i, ip, peer in neigh:
        later[ns].append("neigh replace %s lladdr %s nud permanent dev %s"
                         % (ip, MAC[peer], n[i]))
    later[C].append("%s add default via %s dev %s" % (rtcmd, ra[0], n["c"]))
    later[S].append("%s add default via %s dev %s" % (rtcmd, ra[1], n["s"]))
    # One `ip -batch` per namespace and step: the veths must exist before they are configured.
    for step in (batch, later):
        for ns in (R, C, S):
            if step[ns]:
                out.append("ip -n %s -batch - <<'EOF'\n%s\nEOF" % (ns, "\n".join(step[ns])))
    if v6 and getattr(a, "level", "core") == "extended":
        # The server answers from its link-t address through link t (source routing). Without
        # this the kernel routes a reply from fd00:3::2 by the default route (link s), while
        # bpfilter's REJECT can only send it back where the packet came in: bpf_fib_lookup()
        # refuses lookups on a host without forwarding (doc/design.md, "Known differences").
        out.append("ip -n %s -6 rule add from %s table 100" % (S, sa[2]))
        out.append("ip -n %s -6 route add default via %s dev %s table 100" % (S, ra[2], n["t"]))
    print("set -e")
    print("\n".join(out))


# ---------------------------------------------------------------------------------------------
# Rulesets

PORTS = [0, 22, 53, 80, 443, 1000, 1023, 1024, 5000, 40000, 65535]
COMMON_FLAGS = [("FIN,SYN,RST,ACK", "SYN"), ("ALL", "NONE"), ("ALL", "ALL"), ("FIN,SYN", "FIN,SYN"),
                ("ACK", "ACK"), ("RST", "RST"), ("SYN,ACK", "SYN,ACK"), ("ALL", "FIN,PSH,URG")]
TCP_FLAG_NAMES = ["FIN", "SYN", "RST", "PSH", "ACK", "URG"]
ICMP_TYPES = ["echo-request", "echo-reply", "destination-unreachable", "port-unreachable",
              "host-unreachable", "network-unreachable", "protocol-unreachable", "time-exceeded",
              "timestamp-request", "any", "8", "0", "3/3", "3/2", "11/0", "13/0", "3", "200/5",
              "5", "12"]
PROTOS = ["tcp", "tcp", "tcp", "udp", "udp", "udp", "icmp", "icmp", "6", "17", "1"]
OTHER_RULE_PROTOS = ["47", "sctp", "132", "253", "udplite", "50", "gre"]


class RuleGen:
    def __init__(self, rnd, prefix, role):
        self.r = rnd
        self.role = role
        ifs = ifnames(prefix)
        if role == "router":
            real = [ifs["rc"], ifs["rs"], ifs["rt"], "lo"]
        else:
            real = [ifs["s"], ifs["t"], "lo"]
        # Exact names, prefixes with '+' that match one or several interfaces, a name that is
        # a prefix of real names without '+' (must not match them), names that match nothing.
        self.ifaces = real * 3 + [prefix + "+", prefix + "r+", prefix + "s+", prefix + "rs+",
                                  "lo+", "l+", "+", "eth0", prefix + "x+", prefix + "r",
                                  prefix[:-1] + "+"]
        self.hosts = CLIENT_ADDRS + ROUTER_ADDRS + SERVER_ADDRS + UNOWNED + [
            "127.0.0.1", "10.1.0.255", "224.0.0.1", "255.255.255.255", NOROUTE]
        self.nets = ["10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24", "10.0.0.0/8", "10.1.0.0/25",
                     "10.1.0.128/25", "10.2.0.2/31", "10.1.0.0/30", "10.0.0.0/14",
                     "127.0.0.0/8", "224.0.0.0/4", "0.0.0.0/0", "10.2.0.0/29",
                     "10.1.0.2/255.255.0.255", "0.0.0.2/0.0.0.255", "10.0.0.0/255.252.0.0",
                     "10.1.0.0/16"]

    def chance(self, p):
        return self.r.random() < p

    # The extended level (ExtRuleMixin) adds extension matches and targets; the core level
    # draws nothing here, so its rulesets stay as they were.
    def ext_matches(self, proto, builtin):
        return []

    def ext_target(self, proto, builtin):
        return None

    def neg(self, p=0.25):
        return "! " if self.chance(p) else ""

    def addr(self, near=None):
        """An address or network; `near` lists addresses the chain's traffic uses, preferred so
        that rules hit as well as miss."""
        if near and self.chance(0.5):
            a = self.r.choice(near)
            return a + self.r.choice(["", "", "/32", "/24", "/31", "/30", "/255.255.0.255"])
        if self.chance(0.5):
            return self.r.choice(self.hosts) + ("/32" if self.chance(0.3) else "")
        return self.r.choice(self.nets)

    def port(self):
        if self.chance(0.3):
            a, b = sorted((self.r.choice(PORTS), self.r.choice(PORTS)))
            form = self.r.random()
            if form < 0.15 and a == 0:
                return ":%d" % b
            if form < 0.25 and b == 65535:
                return "%d:" % a
            return "%d:%d" % (a, b)
        return str(self.r.choice(PORTS))

    def flagset(self):
        k = self.r.random()
        if k < 0.1:
            return "ALL"
        if k < 0.15:
            return "NONE"
        n = self.r.randint(1, 4)
        return ",".join(self.r.sample(TCP_FLAG_NAMES, n))

    def tcp(self):
        parts = []
        if self.chance(0.4):
            parts.append("%s--sport %s" % (self.neg(), self.port()))
        if self.chance(0.5):
            parts.append("%s--dport %s" % (self.neg(), self.port()))
        k = self.r.random()
        if k < 0.2:
            parts.append("%s--syn" % self.neg())
        elif k < 0.5:
            if self.chance(0.5):
                mask, comp = self.r.choice(COMMON_FLAGS)
            else:
                mask = self.flagset()
                comp = self.flagset() if self.chance(0.5) else mask
            parts.append("%s--tcp-flags %s %s" % (self.neg(), mask, comp))
        if self.chance(0.3):
            parts.append("%s--tcp-option %d" % (self.neg(),
                         self.r.choice([1, 2, 2, 3, 4, 5, 8, 8, 30, 254])))
        return parts

    def udp(self):
        parts = []
        if self.chance(0.5):
            parts.append("%s--sport %s" % (self.neg(), self.port()))
        if self.chance(0.6):
            parts.append("%s--dport %s" % (self.neg(), self.port()))
        return parts

    def rule(self, chain, builtin, user_chains, later):
        """One rule of `chain`. builtin: INPUT/FORWARD/OUTPUT or None; later: user chains this
        chain may reach (only chains after it, so the graph never loops)."""
        p = ["-A", chain]
        mine = ROUTER_ADDRS if self.role == "router" else SERVER_ADDRS
        others = CLIENT_ADDRS + (SERVER_ADDRS if self.role == "router" else ROUTER_ADDRS)
        near_s = {"INPUT": others, "OUTPUT": mine}.get(builtin, CLIENT_ADDRS + SERVER_ADDRS)
        near_d = {"INPUT": mine, "OUTPUT": others}.get(builtin, SERVER_ADDRS + CLIENT_ADDRS +
                                                       UNOWNED)
        if self.chance(0.3):
            p += [self.neg(0.2) + "-s", self.addr(near_s)]
        if self.chance(0.3):
            p += [self.neg(0.2) + "-d", self.addr(near_d)]
        if builtin != "OUTPUT" and self.chance(0.25):
            p += [self.neg() + "-i", self.r.choice(self.ifaces)]
        if builtin != "INPUT" and self.chance(0.25):
            p += [self.neg() + "-o", self.r.choice(self.ifaces)]
        proto = None
        if self.chance(0.6):
            k = self.r.random()
            proto = (self.r.choice(PROTOS) if k < 0.75 else "all" if k < 0.85 else
                     self.r.choice(OTHER_RULE_PROTOS))
            inv = proto != "all" and self.chance(0.2)
            p += [("! " if inv else "") + "-p", proto]
            if inv:
                proto = None
        if self.chance(0.1):
            p += [self.neg(0.5) + "-f"]
        if proto in ("tcp", "6") and self.chance(0.7):
            ext = self.tcp()
            if ext:
                p += ["-m", "tcp"] + ext
        elif proto in ("udp", "17") and self.chance(0.7):
            ext = self.udp()
            if ext:
                p += ["-m", "udp"] + ext
        elif proto in ("icmp", "1") and self.chance(0.7):
            p += ["-m", "icmp", self.neg() + "--icmp-type", self.r.choice(ICMP_TYPES)]
        p += self.ext_matches(proto, builtin)
        # A rule without any match ends its chain for every packet: keep those rare.
        bare = len(p) == 2 and self.chance(0.8)
        if self.chance(0.1):
            p += ["-m", "comment", "--comment", '"%s rule %d"' % (self.role, self.r.randint(0, 99))]
        if bare:
            return " ".join(p)
        t = self.ext_target(proto, builtin)
        if t:
            return " ".join(p + t)
        k = self.r.random()
        if later and k < 0.3:
            p += ["-g" if self.chance(0.3) else "-j", self.r.choice(later)]
        elif k < 0.5:
            p += ["-j", "ACCEPT"]
        elif k < 0.62:
            p += ["-j", "DROP"]
        elif k < (0.8 if builtin else 0.88):
            p += ["-j", "RETURN"]
        # else: no target, the rule only counts
        return " ".join(p)

    def ruleset(self, scale):
        nuser = self.r.randint(0, 4)
        users = ["%s_c%d" % (self.role[0], i) for i in range(nuser)]
        out = ["*filter"]
        for b in ("INPUT", "FORWARD", "OUTPUT"):
            pol = "DROP" if self.chance(0.2) else "ACCEPT"
            out.append(":%s %s [0:0]" % (b, pol))
        for u in users:
            out.append(":%s - [0:0]" % u)
        for b in ("INPUT", "FORWARD", "OUTPUT"):
            for _ in range(self.r.randint(0, 10 * scale)):
                out.append(self.rule(b, b, users, users))
        for i, u in enumerate(users):
            for _ in range(self.r.randint(0, 6 * scale)):
                out.append(self.rule(u, None, users, users[i + 1:]))
        out.append("COMMIT")
        return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Large rulesets (--large N, IPv4): the classifier's first-match semantics against the kernel

# Spaces the traffic never uses: rules with one field here never match, but their other fields
# overlap the traffic's, so their prefixes and ranges nest with those of rules that do match.
COLD_NETS = ["172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "203.0.113.0/24",
             "11.0.0.0/8", "9.0.0.0/8"]
WARM_NETS = ["10.0.0.0/8", "10.0.0.0/14", "10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16",
             "10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24", "10.1.0.0/25", "10.1.0.128/25",
             "10.2.0.0/30", "10.2.0.2/31", "10.1.0.2/31", "0.0.0.0/1", "8.0.0.0/6"]


class LargeRuleGen(RuleGen):
    """About N rules per ruleset (--large N): the small random ruleset of RuleGen with long
    blocks of classifiable rules inserted in INPUT, FORWARD, OUTPUT and in two big user chains
    that the builtin chains jump to. A block is made of segments of similar rules (a template:
    fields, protocol, inversions), as tools generate them; values are prefixes that nest (warm
    ones over the traffic's addresses, cold ones beside them), port ranges, single ports and
    inversions. About one rule in 40 can match traffic, so packets stop at the first, in the
    middle, at the end of a block or in none of it. RETURN, count-only rules and RuleGen's
    rules are sprinkled in and cut the blocks."""

    def big_addr(self, warm_hosts):
        """A prefix over the traffic's addresses: a host, a fixed net or a random length."""
        r = self.r
        k = r.random()
        # mostly narrow, so that packets get past the first warm rules
        if k < 0.6:
            return r.choice(warm_hosts) + "/32"
        if k < 0.7:
            return r.choice(WARM_NETS)
        return "%s/%d" % (r.choice(warm_hosts), r.randint(16, 31))

    def cold_addr(self):
        """A prefix in a space the traffic never uses, nested with other cold ones."""
        r = self.r
        base, plen = r.choice(COLD_NETS).split("/")
        o = [int(x) for x in base.split(".")]
        o[1] |= r.randint(0, 255) & ~(0xff << (16 - int(plen)) if int(plen) < 16 else 0xff) & 0xff
        o[2], o[3] = r.randint(0, 255), r.randint(0, 255)
        return "%d.%d.%d.%d/%d" % (o[0], o[1], o[2], o[3], r.choice(
            [int(plen), 16, 20, 24, 24, 28, 32, 32, 32]) if int(plen) <= 16 else r.choice(
            [int(plen), 28, 32]))

    def big_port(self):
        r = self.r
        k = r.random()
        ports = [p for p in PORTS if p] + [22, 80, 53, 443]
        if k < 0.5:
            return str(r.choice(ports))
        if k < 0.8:
            a = r.choice(ports + [40000, 40500])
            return "%d:%d" % (a, min(65535, a + r.choice([1, 3, 7, 15, 100, 999, 5000])))
        if k < 0.9:
            return "%d:%d" % (r.randint(1, 30000), r.randint(30000, 65535))
        return str(r.randint(1, 65535))

    def template(self):
        """The shape of a segment of similar rules (a blocklist, a port list...): which fields
        it tests, the protocol, and how often a field is inverted."""
        r = self.r
        fields = []
        if r.random() < 0.7:
            fields.append("s")
        if r.random() < 0.4:
            fields.append("d")
        proto = r.choice(["tcp", "tcp", "udp", "udp", "icmp", None, None])
        if proto in ("tcp", "udp") and r.random() < 0.7:
            fields.append("dport")
        if proto in ("tcp", "udp") and r.random() < 0.25:
            fields.append("sport")
        if not fields:
            fields.append("s")
        icmp = r.choice([None, "echo-request", "3/3"]) if proto == "icmp" else None
        return {"fields": fields, "proto": proto, "inv": r.choice([0, 0, 0.1, 0.3]),
                "syn": proto == "tcp" and r.random() < 0.15, "icmp": icmp}

    def big_rule(self, chain, builtin, t):
        r = self.r
        mine = ROUTER_ADDRS if self.role == "router" else SERVER_ADDRS
        hosts = CLIENT_ADDRS + ROUTER_ADDRS + SERVER_ADDRS + UNOWNED + ["127.0.0.1"]
        near_s = {"INPUT": CLIENT_ADDRS + SERVER_ADDRS, "OUTPUT": mine}.get(builtin, hosts)
        near_d = {"INPUT": mine, "OUTPUT": CLIENT_ADDRS + SERVER_ADDRS}.get(builtin, hosts)
        fields, proto = t["fields"], t["proto"]
        # Most rules get one address from a space the traffic never uses ("cold"): about one
        # rule in 40 can match at all.
        addr_fields = [f for f in fields if f in ("s", "d")]
        cold_field = r.choice(addr_fields) if addr_fields and r.random() > 0.025 else None
        p = ["-A", chain]
        for f in ("s", "d"):
            if f not in fields:
                continue
            if f == cold_field:
                p += ["-" + f, self.cold_addr()]
            else:
                inv = "! " if r.random() < t["inv"] else ""
                p += [inv + "-" + f, self.big_addr(near_s if f == "s" else near_d)]
        if proto:
            p += ["-p", proto]
        if proto in ("tcp", "udp"):
            ext = []
            for f in ("sport", "dport"):
                if f in fields:
                    inv = "! " if r.random() < t["inv"] else ""
                    ext.append("%s--%s %s" % (inv, f, self.big_port()))
            if t["syn"]:
                ext.append("--syn")
            if ext:
                p += ["-m", proto] + ext
        elif proto == "icmp" and t["icmp"]:
            p += ["-m", "icmp", "--icmp-type", t["icmp"]]
        k = r.random()
        if k < 0.47:
            p += ["-j", "ACCEPT"]
        elif k < 0.94:
            p += ["-j", "DROP"]
        elif k < 0.98 and not builtin:
            p += ["-j", "RETURN"]
        elif k < 0.99:
            pass  # count only
        else:
            p += ["-j", "DROP"]
        return " ".join(p)

    def block(self, chain, builtin, later, n):
        """n rules; RuleGen's rules (jumps among them) are rare: a packet may make at most 33
        tail calls in bpfilter (doc/design.md), and each jump taken costs two."""
        out = []
        while len(out) < n:
            # a segment: 1 to 4 templates interleaved (so runs hold several classes), 20 to
            # 300 rules
            ts = [self.template() for _ in range(self.r.randint(1, 4))]
            for _ in range(min(n - len(out), self.r.randint(20, 300))):
                if self.r.random() < 0.002:
                    out.append(self.rule(chain, builtin, [], []))
                else:
                    out.append(self.big_rule(chain, builtin, self.r.choice(ts)))
        return out

    def ruleset_large(self, scale, n):
        r = self.r
        nuser = r.randint(0, 3)
        users = ["%s_c%d" % (self.role[0], i) for i in range(nuser)]
        bigs = ["%s_big%d" % (self.role[0], i) for i in range(2)]
        # jumps go to chains defined later in this list only: no loops
        order = bigs + users
        out = ["*filter"]
        for b in ("INPUT", "FORWARD", "OUTPUT"):
            out.append(":%s %s [0:0]" % (b, "DROP" if self.chance(0.2) else "ACCEPT"))
        for u in order:
            out.append(":%s - [0:0]" % u)
        share = {"INPUT": 0.25, "FORWARD": 0.3, "OUTPUT": 0.1}
        for b in ("INPUT", "FORWARD", "OUTPUT"):
            small = [self.rule(b, b, users, users) for _ in range(r.randint(0, 10 * scale))]
            big = self.block(b, b, order, int(n * share[b]))
            # the big chains are entered from the middle of the block
            cut = r.randint(0, len(big))
            big[cut:cut] = ["-A %s -j %s" % (b, bigs[0])]
            at = r.randint(0, len(small))
            out += small[:at] + big + small[at:]
        for i, u in enumerate(order):
            later = order[i + 1:]
            if u in bigs:
                body = self.block(u, None, later, int(n * (0.2 if u == bigs[0] else 0.15)))
                if u == bigs[0]:
                    cut = r.randint(0, len(body))
                    body[cut:cut] = ["-A %s -j %s" % (u, bigs[1])]
            else:
                body = [self.rule(u, None, users, later) for _ in range(r.randint(0, 6 * scale))]
            out += body
        out.append("COMMIT")
        return "\n".join(out) + "\n"


def aimed_traffic(rnd, prefix, rules, n_aims):
    """Client packets aimed at rules of the router's ruleset (--large): for chains INPUT and
    FORWARD and the big user chains, the first, a middle and the last rule that a client packet
    can match, plus rules drawn at random, each gets a packet built to match it (an earlier rule
    may still take it: the kernel decides); and packets no rule expects (ports nobody lists)."""
    import ipaddress

    ifs = ifnames(prefix)

    def inside(addr, spec, inv):
        a, _, m = spec.partition("/")
        m = m or "32"
        msk = int(ipaddress.ip_address(m)) if "." in m else (0xffffffff << (32 - int(m))) & \
            0xffffffff
        ok = int(ipaddress.ip_address(addr)) & msk == int(ipaddress.ip_address(a)) & msk
        return ok != inv

    def port_ok(port, spec, inv):
        lo, _, hi = spec.partition(":")
        lo = int(lo) if lo else 0
        hi = int(hi) if _ and hi else (65535 if _ else lo)
        return (lo <= port <= hi) != inv

    def build(rule, dsts):
        w = rule.split()
        inv = False
        f = {}
        i = 2
        while i < len(w):
            if w[i] == "!":
                inv = True
                i += 1
                continue
            if w[i] in ("-s", "-d", "-p", "--sport", "--dport", "--icmp-type", "-i", "-o"):
                f[w[i]] = (w[i + 1], inv)
                i += 2
            elif w[i] == "--syn":
                f["--syn"] = ("", inv)
                i += 1
            else:
                i += 1
            inv = False
        if "-o" in f or ("-i" in f and f["-i"] != (ifs["rc"], False)):
            return None
        srcs = [a for a in CLIENT_ADDRS if "-s" not in f or inside(a, *f["-s"])]
        dsts = [a for a in dsts if "-d" not in f or inside(a, *f["-d"])]
        if not srcs or not dsts:
            return None
        proto, pinv = f.get("-p", (None, False))
        if pinv:
            proto = None
        if proto is None:
            proto = rnd.choice(["tcp", "udp"])
        line = ["via=packet", "dev=" + ifs["c"], "dmac=" + MAC["rc"], "src=" + rnd.choice(srcs),
                "dst=" + rnd.choice(dsts), "proto=" + proto]
        if proto in ("tcp", "udp"):
            # never 0, never the source ports of real connections (30000+, pktsend)
            cands = [22, 53, 80, 443, 1000, 1023, 1024, 5000, 40000, 40500, 65535] + [
                x for x in (rnd.randint(1, 65535) for _ in range(20)) if not 30000 <= x < 31000]
            for k in ("--sport", "--dport"):
                ok = [x for x in cands if k not in f or port_ok(x, *f[k])]
                if not ok:
                    return None
                # the edges of a range first: off-by-one errors live there
                line.append("%s=%d" % (k[2:], ok[0] if k in f and rnd.random() < 0.5 else
                                       rnd.choice(ok)))
            if proto == "tcp":
                syn = "--syn" in f and not f["--syn"][1]
                line += ["flags=" + ("S" if syn else rnd.choice(["A", "PA", "S", "SA"])),
                         "seq=%d" % rnd.randint(0, 2**32 - 1)]
        elif proto == "icmp":
            t = f.get("--icmp-type", ("echo-request", False))[0]
            tc = {"echo-request": (8, 0), "echo-reply": (0, 0), "3/3": (3, 3)}.get(t, (8, 0))
            line += ["type=%d" % tc[0], "code=%d" % tc[1], "seq=1"]
        else:
            return None
        line.append("payload=%d" % rnd.choice([0, 16, 100]))
        return "ip " + " ".join(line)

    chains = {"INPUT": ROUTER_ADDRS, "FORWARD": SERVER_ADDRS + UNOWNED}
    by_chain = {}
    for line in rules.splitlines():
        w = line.split()
        if len(w) > 2 and w[0] == "-A":
            by_chain.setdefault(w[1], []).append(line)
    out = []
    for ch, lines in sorted(by_chain.items()):
        dsts = chains.get(ch, SERVER_ADDRS + UNOWNED if "big" in ch else None)
        if dsts is None:
            continue
        pkts = [p for p in (build(x, dsts) for x in lines) if p]
        if not pkts:
            continue
        picks = [pkts[0], pkts[len(pkts) // 2], pkts[-1]]
        picks += [rnd.choice(pkts) for _ in range(n_aims)]
        out += picks
    for _ in range(n_aims):
        dst = rnd.choice(ROUTER_ADDRS + SERVER_ADDRS)
        out.append("ip via=packet dev=%s dmac=%s src=%s dst=%s proto=udp sport=%d dport=%d "
                   "payload=8" % (ifs["c"], MAC["rc"], rnd.choice(CLIENT_ADDRS), dst,
                                  rnd.randint(32000, 39999), rnd.choice([7, 9, 31337, 12345])))
    rnd.shuffle(out)
    return "ns client\n" + "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Traffic

IPOPTS = [
    "01010101",  # NOPs
    "00000000",  # EOL
    "0707040000000001",  # record route, one slot, then NOP
    "070b040000000000000000",  # record route, two slots
    "440c05000000000000000000",  # timestamp, two slots, flag 0
    "94040000",  # router alert
    "0101070704000000000000",  # NOP NOP record route
]
TCP_OPTS = [
    "",
    "020405b4",  # MSS
    "020405b40402080a000000010000000001030307",  # MSS SACKOK TS NOP WS, as in a SYN
    "0101080a0000000200000003",  # NOP NOP TS
    "0303",  # window scale with a short length
    "1e00",  # option 30 with length 0 (the scanner steps by one)
    "08ff",  # length past the header
    "01",
    "00",
    "0402",  # SACK permitted
    "fe04abcd",
]
TCP_FLAGS = ["S", "SA", "A", "R", "RA", "F", "FA", "PA", "SF", "0", "U", "SR", "FSRPAU", "SE",
             "AC", "SEC", "FPU", "0xff"]
ICMP_SEND = [(8, 0), (8, 0), (8, 0), (0, 0), (3, 3), (3, 1), (3, 0), (11, 0), (13, 0), (5, 1),
             (12, 0), (4, 0), (17, 0), (200, 5), (8, 7)]
OTHER_PROTOS = [47, 132, 253, 136, 50]


class TrafficGen:
    def __init__(self, rnd, prefix):
        self.r = rnd
        self.ifs = ifnames(prefix)
        self.ipid = 1000
        self.crafted_ports = [p for p in PORTS if p] + [self.r.randint(40000, 40999)
                                                         for _ in range(4)]
        self.real_port = 30000

    def chance(self, p):
        return self.r.random() < p

    def next_id(self):
        self.ipid += 1
        return self.ipid

    def l4(self, frag_ok):
        """Fields of one packet's transport part."""
        f = []
        k = self.r.random()
        if k < 0.4:
            f += ["proto=tcp", "sport=%d" % self.r.choice(self.crafted_ports),
                  "dport=%d" % self.r.choice(self.crafted_ports + [22, 80, 80]),
                  "flags=%s" % self.r.choice(TCP_FLAGS),
                  "seq=%d" % self.r.randint(0, 2**32 - 1)]
            if self.chance(0.5):
                f.append("ack=%d" % self.r.randint(0, 2**32 - 1))
            opts = self.r.choice(TCP_OPTS)
            if opts:
                f.append("tcpopts=" + opts)
            if self.chance(0.05):
                f.append("doff=%d" % self.r.choice([0, 4, 15]))
            if self.chance(0.07):
                f.append("trunc=%d" % self.r.choice([0, 1, 8, 12, 13, 14, 19]))
        elif k < 0.65:
            f += ["proto=udp", "sport=%d" % self.r.choice(self.crafted_ports),
                  "dport=%d" % self.r.choice(self.crafted_ports + [53, 53])]
            if self.chance(0.07):
                f.append("trunc=%d" % self.r.choice([0, 2, 4, 7]))
        elif k < 0.85:
            t, c = self.r.choice(ICMP_SEND)
            f += ["proto=icmp", "type=%d" % t, "code=%d" % c, "seq=%d" % self.r.randint(0, 99)]
            if self.chance(0.07):
                f.append("trunc=%d" % self.r.choice([0, 1, 2, 3, 7]))
        else:
            f += ["proto=%d" % self.r.choice(OTHER_PROTOS)]
        f.append("payload=%d" % self.r.choice([0, 0, 4, 16, 33, 100, 300]))
        if self.chance(0.1):
            f.append("ipopts=" + self.r.choice(IPOPTS))
        if self.chance(0.1):
            f.append("tos=%d" % self.r.choice([0x10, 0x02, 0xb8]))
        if self.chance(0.03):
            f.append("badl4csum=1")
        return f

    def frag_fields(self, proto_is_tcp):
        """Fragment bits for a lone fragment (only for destinations that never reassemble)."""
        k = self.r.random()
        if k < 0.35:
            return ["mf=1", "frag=0", "id=%d" % self.next_id()]
        off = 1 if proto_is_tcp and self.chance(0.5) else self.r.choice([1, 2, 3, 100, 185])
        return ["mf=%d" % self.r.randint(0, 1), "frag=%d" % off, "id=%d" % self.next_id()]

    def client_pkt(self, dst, frag_ok, bcast=False):
        f = ["via=packet", "dev=" + self.ifs["c"], "dmac=" + (
            "ff:ff:ff:ff:ff:ff" if bcast else MAC["rc"]),
            "src=" + self.r.choice(CLIENT_ADDRS), "dst=" + dst]
        f += self.l4(frag_ok)
        if frag_ok and self.chance(0.3):
            f = [x for x in f if not x.startswith("id=")]
            f += self.frag_fields("proto=tcp" in f)
        else:
            if self.chance(0.3):
                f.append("df=1")
            # Link-level checks that ip_rcv_core makes before any hook; bpfilter leaves such
            # packets to the kernel.
            k = self.r.random()
            if k < 0.03:
                f.append("pad=%d" % self.r.choice([1, 6, 20]))
            elif k < 0.04:
                f.append("badcsum=1")
            elif k < 0.045:
                f.append("totlen=%d" % self.r.choice([19, 2000]))
        return "ip " + " ".join(f)

    def local_pkts(self, src_choices, dst, to_client):
        """Locally generated packets (raw IP_HDRINCL socket: they cross OUTPUT)."""
        base = ["via=hdrincl", "src=" + self.r.choice(src_choices), "dst=" + dst]
        if to_client and self.chance(0.2):
            # A fragmented datagram for the client: complete, or without its first fragment.
            pid = self.next_id()
            proto = self.r.choice(["udp", "253", "tcp", "icmp"])
            first = base + ["proto=" + proto, "id=%d" % pid, "mf=1", "frag=0"]
            if proto == "udp":
                first += ["sport=1000", "dport=5000", "payload=16"]  # 24 bytes of L4
            elif proto == "tcp":
                first += ["sport=1000", "dport=80", "flags=S", "payload=4"]
            elif proto == "icmp":
                first += ["type=8", "payload=16"]
            else:
                first += ["payload=24"]
            last = base + ["proto=" + ("253" if proto == "253" else proto), "id=%d" % pid,
                           "mf=0", "frag=3", "payload=%d" % self.r.choice([4, 20])]
            if proto == "tcp":
                last = [x for x in last if x != "proto=tcp"] + ["proto=6", "flags=A"]
            if self.chance(0.3):
                return ["ip " + " ".join(last)]
            return ["ip " + " ".join(first), "ip " + " ".join(last)]
        return ["ip " + " ".join(base + self.l4(False))]

    def connection(self):
        self.real_port += 1
        kind = self.r.choice(["tcp", "tcp", "udp"])
        pairs = [
            ("client", CLIENT_ADDRS, SERVER_ADDRS),
            ("client", CLIENT_ADDRS, SERVER_ADDRS),
            ("client", CLIENT_ADDRS, ROUTER_ADDRS[:1]),
            ("router", ["10.2.0.1"], SERVER_ADDRS[:2]),
            ("router", ["10.1.0.1"], CLIENT_ADDRS),
            ("server", ["10.2.0.2", "10.2.0.3"], CLIENT_ADDRS),
            ("server", ["10.2.0.2"], ROUTER_ADDRS[1:2]),
        ]
        role, srcs, dsts = self.r.choice(pairs)
        src, dst = self.r.choice(srcs), self.r.choice(dsts)
        if kind == "tcp":
            dport = self.r.choice(TCP_OPEN * 3 + [443])
            data = self.r.choice([0, 0, 10, 200])
            return role, "tcp_connect src=%s sport=%d dst=%s dport=%d data=%d" % (
                src, self.real_port, dst, dport, data)
        dport = self.r.choice(UDP_ECHO * 3 + [5353])
        return role, "udp_request src=%s sport=%d dst=%s dport=%d len=%d" % (
            src, self.real_port, dst, dport, self.r.choice([0, 8, 100]))

    def traffic(self, scale):
        acts = []  # (role, line)
        noroute = 0
        for _ in range(self.r.randint(180, 240) * scale):
            k = self.r.random()
            if k < 0.33:
                acts.append(("client", self.client_pkt(self.r.choice(SERVER_ADDRS), False)))
            elif k < 0.45:
                dst = self.r.choice(ROUTER_ADDRS * 3 + ["10.1.0.255", "224.0.0.1",
                                                        "255.255.255.255"])
                bcast = dst in ("10.1.0.255", "255.255.255.255") and self.chance(0.5)
                acts.append(("client", self.client_pkt(dst, False, bcast)))
            elif k < 0.58:
                acts.append(("client", self.client_pkt(self.r.choice(UNOWNED), True)))
            elif k < 0.59 and noroute < 2:
                noroute += 1
                acts.append(("client", self.client_pkt(NOROUTE, False)))
            elif k < 0.72:
                d = self.r.random()
                if d < 0.5:
                    for line in self.local_pkts(["10.2.0.1", "10.1.0.1"],
                                                self.r.choice(SERVER_ADDRS), False):
                        acts.append(("router", line))
                elif d < 0.8:
                    for line in self.local_pkts(["10.1.0.1"], self.r.choice(CLIENT_ADDRS),
                                                True):
                        acts.append(("router", line))
                elif d < 0.9:
                    for line in self.local_pkts(ROUTER_ADDRS, self.r.choice(ROUTER_ADDRS),
                                                False):
                        acts.append(("router", line))
                else:
                    for line in self.local_pkts(["127.0.0.1"], "127.0.0.1", False):
                        acts.append(("router", line))
            elif k < 0.86:
                d = self.r.random()
                if d < 0.65:
                    for line in self.local_pkts(["10.2.0.2", "10.2.0.3"],
                                                self.r.choice(CLIENT_ADDRS), True):
                        acts.append(("server", line))
                elif d < 0.9:
                    for line in self.local_pkts(["10.2.0.2"], self.r.choice(ROUTER_ADDRS),
                                                False):
                        acts.append(("server", line))
                else:
                    for line in self.local_pkts(SERVER_ADDRS, self.r.choice(SERVER_ADDRS),
                                                False):
                        acts.append(("server", line))
            elif k < 0.93:
                acts.append(self.connection())
            else:
                acts.append(("client", self.client_pkt(self.r.choice(SERVER_ADDRS), False)))
        out, cur = [], None
        for role, line in acts:
            if role != cur:
                out.append("ns " + role)
                cur = role
            out.append(line)
        return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# IPv6

ICMP6_TYPES = ["echo-request", "echo-reply", "destination-unreachable", "port-unreachable",
               "no-route", "address-unreachable", "packet-too-big", "time-exceeded",
               "parameter-problem", "unknown-header-type", "neighbour-solicitation", "128",
               "129", "1/4", "1/3", "3/0", "4/1", "200/5", "4", "2"]
PROTOS6 = ["tcp", "tcp", "tcp", "udp", "udp", "udp", "ipv6-icmp", "icmpv6", "6", "17", "58"]
OTHER_RULE_PROTOS6 = ["47", "sctp", "132", "253", "50", "esp", "ah", "51", "59", "60",
                      "43", "44"]
EXT_MATCHES = ["hl", "rt", "frag", "hbh", "dst", "ipv6header"]


class RuleGen6(RuleGen):
    def __init__(self, rnd, prefix, role):
        super().__init__(rnd, prefix, role)
        self.hosts = C6 + R6 + S6 + UNOWNED6 + ["::1", "ff02::1", NOROUTE6]
        self.nets = ["fd00:1::/64", "fd00:2::/64", "fd00:3::/64", "fd00::/16", "fd00::/8",
                     "fd00:1::/120", "fd00:1::80/121", "fd00:2::2/127", "fd00::/14",
                     "::1/128", "ff00::/8", "::/0", "fd00:2::/125", "fd00:1::2/ffff:0:ffff::ff",
                     "::2/::ff", "fd00:0:0:0:0:0:0:0/ffff:fffc::", "fd00:3::/32"]

    def ext_match(self):
        k = self.r.choice(EXT_MATCHES)
        if k == "hl":
            return ["-m", "hl", "--hl-" + self.r.choice(["eq", "lt", "gt", "eq"]),
                    str(self.r.choice([1, 63, 64, 65, 255]))] if self.chance(0.7) else [
                    "-m", "hl", "!", "--hl-eq", str(self.r.choice([63, 64]))]
        if k == "rt":
            p = ["-m", "rt"]
            if self.chance(0.6):
                p += [self.neg().strip(), "--rt-type", str(self.r.choice([0, 2, 2, 4]))]
            if self.chance(0.5):
                a, b = sorted((self.r.choice([0, 1, 2, 5]), self.r.choice([0, 1, 3, 255])))
                p += [self.neg().strip(), "--rt-segsleft", "%d:%d" % (a, b) if a != b else
                      str(a)]
            if self.chance(0.3):
                p += [self.neg().strip(), "--rt-len", str(self.r.choice([8, 24, 40, 2]))]
            if "--rt-type" in p and p[p.index("--rt-type") + 1] == "0" and \
                    p[p.index("--rt-type") - 1] != "!" and self.chance(0.4):
                p += ["--rt-0-res"]
            return [x for x in p if x]
        if k == "frag":
            p = ["-m", "frag"]
            if self.chance(0.5):
                a = self.r.choice([0, 1, 7, 100, 5000])
                b = self.r.choice([a, a + 10, 4294967295])
                p += [self.neg().strip(), "--fragid", "%d:%d" % (a, b) if b != a else str(a)]
            p += self.r.choice([[], ["--fragfirst"], ["--fragmore"], ["--fraglast"],
                                ["--fragres"], ["--fragfirst", "--fragmore"]])
            return [x for x in p if x]
        if k in ("hbh", "dst"):
            p = ["-m", k]
            if self.chance(0.5):
                p += [self.neg().strip(), "--%s-len" % k, str(self.r.choice([8, 16, 24, 0]))]
            if self.chance(0.4):
                p += ["--%s-opts" % k, self.r.choice(["1:4", "1", "0", "1:12", "0,1:2",
                                                      "30:2", "1:4,0", "5:2"])]
            return [x for x in p if x]
        hs = ["hop", "dst", "route", "frag", "auth", "esp", "none", "prot", "hop-by-hop",
              "ipv6-frag"]
        p = ["-m", "ipv6header"]
        soft = self.chance(0.5)
        names = ",".join(self.r.sample(hs, self.r.randint(1, 3)))
        p += [self.neg().strip() if soft or self.chance(0.5) else "", "--header", names]
        if soft:
            p += ["--soft"]
        return [x for x in p if x]

    def rule(self, chain, builtin, user_chains, later):
        p = ["-A", chain]
        mine = R6 if self.role == "router" else S6
        others = C6 + (S6 if self.role == "router" else R6)
        near_s = {"INPUT": others, "OUTPUT": mine}.get(builtin, C6 + S6)
        near_d = {"INPUT": mine, "OUTPUT": others}.get(builtin, S6 + C6 + UNOWNED6)
        if self.chance(0.3):
            p += [self.neg(0.2) + "-s", self.addr6(near_s)]
        if self.chance(0.3):
            p += [self.neg(0.2) + "-d", self.addr6(near_d)]
        if builtin != "OUTPUT" and self.chance(0.25):
            p += [self.neg() + "-i", self.r.choice(self.ifaces)]
        if builtin != "INPUT" and self.chance(0.25):
            p += [self.neg() + "-o", self.r.choice(self.ifaces)]
        proto = None
        if self.chance(0.6):
            k = self.r.random()
            proto = (self.r.choice(PROTOS6) if k < 0.7 else "all" if k < 0.8 else
                     self.r.choice(OTHER_RULE_PROTOS6))
            inv = proto != "all" and self.chance(0.2)
            p += [("! " if inv else "") + "-p", proto]
            if inv:
                proto = None
        if proto in ("tcp", "6") and self.chance(0.7):
            ext = self.tcp()
            if ext:
                p += ["-m", "tcp"] + ext
        elif proto in ("udp", "17") and self.chance(0.7):
            ext = self.udp()
            if ext:
                p += ["-m", "udp"] + ext
        elif proto in ("ipv6-icmp", "icmpv6", "58") and self.chance(0.7):
            p += ["-m", "icmp6", self.neg() + "--icmpv6-type", self.r.choice(ICMP6_TYPES)]
        if self.chance(0.35):
            p += self.ext_match()
        p += self.ext_matches(proto, builtin)
        bare = len(p) == 2 and self.chance(0.8)
        if self.chance(0.1):
            p += ["-m", "comment", "--comment", '"%s rule %d"' % (self.role, self.r.randint(0, 99))]
        if bare:
            return " ".join(p)
        t = self.ext_target(proto, builtin)
        if t:
            return " ".join(p + t)
        k = self.r.random()
        if later and k < 0.3:
            p += ["-g" if self.chance(0.3) else "-j", self.r.choice(later)]
        elif k < 0.5:
            p += ["-j", "ACCEPT"]
        elif k < 0.62:
            p += ["-j", "DROP"]
        elif k < (0.8 if builtin else 0.88):
            p += ["-j", "RETURN"]
        return " ".join(p)

    def addr6(self, near):
        if near and self.chance(0.5):
            return self.r.choice(near) + self.r.choice(["", "", "/128", "/64", "/127", "/126",
                                                        "/ffff::ffff"])
        if self.chance(0.5):
            return self.r.choice(self.hosts) + ("/128" if self.chance(0.3) else "")
        return self.r.choice(self.nets)


# Extension header chains the client sends (before the upper layer); fragments come separately.
EXT_CHAINS = ["", "", "", "", "hbh", "dst", "hbh,dst", "rt:0:0:1", "rt:0:1:1", "rt:2:1:1",
              "rt:2:0:1", "rt:4:1:0", "hbhopt:1e02abcd010200001e02abcd0000,rt:0:2:2",
              "dst,rt:2:1:1,dst:16", "hbhopt:05020000",
              "dstopt:1e02abcd", "dstopt:00010400000000", "ah", "hbh,ah", "dst:24",
              "rt:0:0:1,rt:2:1:1", "hbh,dst,dst,dst,dst,dst,dst"]
ICMP6_SEND = [(128, 0), (128, 0), (128, 0), (129, 0), (1, 4), (1, 3), (1, 0), (3, 0), (4, 1),
              (2, 0), (200, 5), (128, 7), (135, 0), (4, 0)]


class TrafficGen6(TrafficGen):
    def l4(self, frag_ok):
        f = []
        k = self.r.random()
        if k < 0.35:
            f += ["proto=tcp", "sport=%d" % self.r.choice(self.crafted_ports),
                  "dport=%d" % self.r.choice(self.crafted_ports + [22, 80, 80]),
                  "flags=%s" % self.r.choice(TCP_FLAGS), "seq=%d" % self.r.randint(0, 2**32 - 1)]
            if self.chance(0.5):
                f.append("ack=%d" % self.r.randint(0, 2**32 - 1))
            opts = self.r.choice(TCP_OPTS)
            if opts:
                f.append("tcpopts=" + opts)
            if self.chance(0.07):
                f.append("trunc=%d" % self.r.choice([0, 1, 8, 12, 13, 14, 19]))
        elif k < 0.6:
            f += ["proto=udp", "sport=%d" % self.r.choice(self.crafted_ports),
                  "dport=%d" % self.r.choice(self.crafted_ports + [53, 53])]
            if self.chance(0.07):
                f.append("trunc=%d" % self.r.choice([0, 2, 4, 7]))
        elif k < 0.85:
            t, c = self.r.choice(ICMP6_SEND)
            f += ["proto=icmp6", "type=%d" % t, "code=%d" % c, "seq=%d" % self.r.randint(0, 99)]
            if self.chance(0.07):
                f.append("trunc=%d" % self.r.choice([0, 1, 2, 3, 7]))
        else:
            f += ["proto=%d" % self.r.choice([47, 132, 253, 136, 50, 59])]
        f.append("payload=%d" % self.r.choice([0, 0, 4, 16, 33, 100, 300]))
        if self.chance(0.1):
            f.append("tos=%d" % self.r.choice([0x10, 0x02, 0xb8]))
        if self.chance(0.1):
            f.append("flow=%d" % self.r.randint(1, 0xfffff))
        if self.chance(0.05):
            f.append("ttl=%d" % self.r.choice([2, 63, 255]))
        if self.chance(0.03):
            f.append("badl4csum=1")
        return f

    def ext(self, frag_ok):
        e = self.r.choice(EXT_CHAINS)
        if frag_ok and self.chance(0.25):
            # lone fragments: atomic, first, or non-first (unique ids: never reassembled)
            k = self.r.random()
            off, m = (0, 0) if k < 0.3 else (0, 1) if k < 0.55 else (
                self.r.choice([1, 2, 100, 185]), self.r.randint(0, 1))
            fr = "frag:%d:%d:%d" % (off, m, self.next_id())
            e = ",".join(x for x in (self.r.choice(["", "", "hbh", "dst"]), fr,
                                     self.r.choice(["", "", "dst", "rt:0:0:1"])) if x)
        return ["ext=" + e] if e else []

    def client_pkt(self, dst, frag_ok, mcast=False):
        f = ["via=packet", "dev=" + self.ifs["c"],
             "dmac=" + ("33:33:00:00:00:01" if mcast else MAC["rc"]),
             "src=" + self.r.choice(C6), "dst=" + dst]
        f += self.l4(frag_ok) + self.ext(frag_ok)
        k = self.r.random()
        if k < 0.03:
            f.append("pad=%d" % self.r.choice([1, 6, 20]))
        elif k < 0.05:
            # payload cut inside the headers (a hop-by-hop one: ip6_rcv_core drops it)
            f.append("cut=%d" % self.r.choice([0, 1, 3, 6, 9, 12]))
        elif k < 0.055:
            f.append("plen=%d" % self.r.choice([2000]))
        return "ip6 " + " ".join(f)

    def local_pkts(self, src_choices, dst, to_client):
        base = ["via=hdrincl", "src=" + self.r.choice(src_choices), "dst=" + dst]
        f = base + self.l4(False) + self.ext(to_client)
        return ["ip6 " + " ".join(x for x in f if not x.startswith("ttl=") or True)]

    def connection(self):
        self.real_port += 1
        kind = self.r.choice(["tcp", "tcp", "udp"])
        pairs = [("client", C6, S6), ("client", C6, S6), ("client", C6, R6[:1]),
                 ("router", R6[1:2], S6[:2]), ("router", R6[:1], C6),
                 ("server", S6[:2], C6), ("server", S6[:1], R6[1:2])]
        role, srcs, dsts = self.r.choice(pairs)
        src, dst = self.r.choice(srcs), self.r.choice(dsts)
        if kind == "tcp":
            return role, "tcp_connect src=%s sport=%d dst=%s dport=%d data=%d" % (
                src, self.real_port, dst, self.r.choice(TCP_OPEN * 3 + [443]),
                self.r.choice([0, 0, 10, 200]))
        return role, "udp_request src=%s sport=%d dst=%s dport=%d len=%d" % (
            src, self.real_port, dst, self.r.choice(UDP_ECHO * 3 + [5353]),
            self.r.choice([0, 8, 100]))

    def traffic(self, scale):
        acts = []
        noroute = 0
        for _ in range(self.r.randint(180, 240) * scale):
            k = self.r.random()
            if k < 0.3:
                acts.append(("client", self.client_pkt(self.r.choice(S6), True)))
            elif k < 0.45:
                dst = self.r.choice(R6 * 3 + ["ff02::1"])
                acts.append(("client", self.client_pkt(dst, True, dst == "ff02::1")))
            elif k < 0.56:
                acts.append(("client", self.client_pkt(self.r.choice(UNOWNED6), True)))
            elif k < 0.57 and noroute < 2:
                noroute += 1
                acts.append(("client", self.client_pkt(NOROUTE6, False)))
            elif k < 0.72:
                d = self.r.random()
                if d < 0.5:
                    lines = self.local_pkts(R6[1:2], self.r.choice(S6), False)
                elif d < 0.8:
                    lines = self.local_pkts(R6[:1], self.r.choice(C6), True)
                elif d < 0.9:
                    lines = self.local_pkts(R6, self.r.choice(R6), False)
                else:
                    lines = self.local_pkts(["::1"], "::1", False)
                acts += [("router", x) for x in lines]
            elif k < 0.86:
                d = self.r.random()
                if d < 0.65:
                    lines = self.local_pkts(S6[:2], self.r.choice(C6), True)
                elif d < 0.9:
                    lines = self.local_pkts(S6[:1], self.r.choice(R6[1:2]), False)
                else:
                    lines = self.local_pkts(S6, self.r.choice(S6), False)
                acts += [("server", x) for x in lines]
            elif k < 0.93:
                acts.append(self.connection())
            else:
                acts.append(("client", self.client_pkt(self.r.choice(S6), False)))
        out, cur = [], None
        for role, line in acts:
            if role != cur:
                out.append("ns " + role)
                cur = role
            out.append(line)
        return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Extended level (--level extended): the extensions real firewalls use, with traffic shaped for
# them. One entry per extension: EXT_MATCH[name](g, proto, builtin) returns the iptables
# arguments of one match (or [] when it does not fit the rule: wrong protocol or hook), and
# EXT_TARGET[name](g, proto, builtin) those of a target. g is the RuleGen(6) drawing the rule
# (g.v6, g.role, g.r, g.neg(), g.chance(), the address lists). `builtin` is None in user chains:
# hook-restricted extensions (mac, owner, addrtype's interface limits) stay in built-in chains.
# tests/diff/run passes --exts: the entries bpfilter registers for the family (tests/tools/
# bf_exts), so an extension joins the level when it lands in codegen/registry.c.

def _n(g, p=0.25):
    return ["!"] if g.chance(p) else []


def _proto_l4(proto):
    return {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmp6", "ipv6-icmp": "icmp6",
            "icmpv6": "icmp6"}.get(proto, proto)


def _portspec(g):
    # Ports the traffic uses (real services, crafted ports, real-connection ports 30000+).
    pool = [22, 53, 80, 443, 1000, 1024, 5000, 5353, 40000, 30001, 30005]
    k = g.r.random()
    if k < 0.3:
        a = g.r.choice([0, 22, 53, 1000, 30000, 40000])
        b = min(g.r.choice([a + 10, a + 500, 65535]), 65535)
        # iptables refuses a range of one port in multiport.
        return "%d:%d" % (a, b) if b > a else str(a)
    return str(g.r.choice(pool))


def ext_multiport(g, proto, builtin):
    if _proto_l4(proto) not in ("tcp", "udp"):
        return []
    opt = g.r.choice(["--dports", "--dports", "--sports", "--ports"])
    ports = ",".join(_portspec(g) for _ in range(g.r.randint(1, 4)))
    return ["-m", "multiport"] + _n(g) + [opt, ports]


def ext_iprange(g, proto, builtin):
    if g.v6:
        rngs = ["fd00:1::2-fd00:1::3", "fd00:1::1-fd00:1::ffff", "fd00:2::2-fd00:3::2",
                "fd00:2::3-fd00:2::3", "fd00:1::82-fd00:1::90", "::1-::1"]
    else:
        rngs = ["10.1.0.2-10.1.0.3", "10.1.0.1-10.1.0.200", "10.2.0.2-10.3.0.2",
                "10.2.0.3-10.2.0.3", "10.1.0.130-10.1.0.140", "127.0.0.1-127.0.0.1",
                "10.0.0.0-10.1.255.255"]
    out = ["-m", "iprange"]
    for opt in ("--src-range", "--dst-range"):
        if g.chance(0.6) or opt == "--dst-range" and len(out) == 2:
            out += _n(g) + [opt, g.r.choice(rngs)]
    return out


def ext_mac(g, proto, builtin):
    if builtin not in ("INPUT", "FORWARD"):
        return []
    return ["-m", "mac"] + _n(g) + ["--mac-source", g.r.choice(
        [MAC["c"], MAC["c"], MAC["s"], MAC["t"], MAC["rs"], "02:00:00:00:09:09"])]


def ext_pkttype(g, proto, builtin):
    return ["-m", "pkttype"] + _n(g) + ["--pkt-type", g.r.choice(
        ["unicast", "unicast", "broadcast", "multicast"])]


def ext_length(g, proto, builtin):
    a = g.r.choice([0, 20, 28, 40, 41, 60, 100, 128, 200, 1500])
    b = g.r.choice([a, a + 8, a + 100, 65535])
    return ["-m", "length"] + _n(g) + ["--length", "%d:%d" % (a, b) if b != a else str(a)]


def ext_ttl(g, proto, builtin):
    if g.v6:
        k = g.r.choice(["eq", "lt", "gt", "eq"])
        # Only --hl-eq can be inverted (libip6t_hl).
        return ["-m", "hl"] + (_n(g, 0.3) if k == "eq" else []) + [
            "--hl-" + k, str(g.r.choice([1, 63, 64, 65, 255]))]
    k = g.r.choice(["eq", "lt", "gt", "eq"])
    return ["-m", "ttl"] + (_n(g, 0.3) if k == "eq" else []) + [
        "--ttl-" + k, str(g.r.choice([1, 63, 64, 65, 255]))]


def ext_tos(g, proto, builtin):
    v = g.r.choice(["0x10", "0x02", "0xb8", "0x00", "0x10/0x10", "0xb8/0xfc",
                    "Minimize-Delay", "Normal-Service", "Maximize-Throughput"])
    return ["-m", "tos"] + _n(g) + ["--tos", v]


def ext_dscp(g, proto, builtin):
    if g.chance(0.5):
        return ["-m", "dscp"] + _n(g) + ["--dscp", str(g.r.choice([0, 0x2e, 4, 0x04, 63]))]
    return ["-m", "dscp"] + _n(g) + ["--dscp-class", g.r.choice(["EF", "CS0", "AF11", "BE"])]


def ext_mark(g, proto, builtin):
    return ["-m", "mark"] + _n(g) + ["--mark", g.r.choice(["0", "0x1", "0/0xff", "0x1/0x1",
                                                          "0x0/0x0"])]


def ext_tcpmss(g, proto, builtin):
    if _proto_l4(proto) != "tcp":
        return []
    return ["-m", "tcpmss"] + _n(g) + ["--mss", g.r.choice(
        ["1460", "536:1460", "1440", "0:1000", "1400:65535", "1220"])]


def ext_comment(g, proto, builtin):
    return ["-m", "comment", "--comment", '"ext %s %d"' % (g.role, g.r.randint(0, 99))]


CT_STATES = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"]


def _states(g):
    n = g.r.choice([1, 1, 2, 2, 3])
    return ",".join(g.r.sample(CT_STATES[:4] if g.chance(0.9) else CT_STATES, n))


def ext_state(g, proto, builtin):
    return ["-m", "state"] + _n(g, 0.15) + ["--state", _states(g)]


def ext_conntrack(g, proto, builtin):
    out = ["-m", "conntrack"]
    opts = g.r.sample(["state", "state", "state", "proto", "origsrc", "origdst", "replsrc",
                       "ports", "dir", "status", "expire"], g.r.randint(1, 3))
    hosts = (C6 + R6 + S6) if g.v6 else (CLIENT_ADDRS + ROUTER_ADDRS + SERVER_ADDRS)
    for o in dict.fromkeys(opts):
        if o == "state":
            out += _n(g, 0.15) + ["--ctstate", _states(g)]
        elif o == "proto":
            out += _n(g, 0.15) + ["--ctproto", g.r.choice(["tcp", "udp", "icmp", "6"])]
        elif o in ("origsrc", "origdst", "replsrc"):
            a = g.r.choice(hosts)
            if g.chance(0.3):
                a += "/64" if g.v6 else "/24"
            out += _n(g, 0.15) + ["--ct" + o, a]
        elif o == "ports":
            which = g.r.choice(["--ctorigsrcport", "--ctorigdstport", "--ctreplsrcport",
                                "--ctrepldstport"])
            out += _n(g, 0.15) + [which, g.r.choice(["22", "80", "53", "5353", "30000:31000",
                                                      "1:1023", "40000:65535"])]
        elif o == "dir":
            out += ["--ctdir", g.r.choice(["ORIGINAL", "REPLY"])]
        elif o == "status":
            out += _n(g, 0.15) + ["--ctstatus", g.r.choice(
                ["NONE", "SEEN_REPLY", "ASSURED", "CONFIRMED", "EXPECTED", "ASSURED,SEEN_REPLY"])]
        else:
            # Remaining lifetime in seconds, which falls while the case runs (a minute
            # or more on a loaded machine): only bounds that no timeout crosses in that
            # time decide the same on both sides. ESTABLISHED (5 days) against everything
            # else (at most 600 s), and a value above any timeout.
            out += _n(g, 0.15) + ["--ctexpire", g.r.choice(["1000:500000", "0:400000",
                                                             "432001:4294967295"])]
    return out


ADDRTYPES4 = ["UNICAST", "LOCAL", "BROADCAST", "MULTICAST", "UNSPEC", "BLACKHOLE",
              "UNREACHABLE", "PROHIBIT", "ANYCAST", "THROW", "NAT", "XRESOLVE"]
# ip6t addrtype refuses BLACKHOLE, BROADCAST and PROHIBIT or above (THROW, NAT, XRESOLVE):
# addrtype_mt_checkentry_v1.
ADDRTYPES6 = ["UNICAST", "LOCAL", "MULTICAST", "UNSPEC", "UNREACHABLE", "ANYCAST"]


def ext_addrtype(g, proto, builtin):
    types = ADDRTYPES6 if g.v6 else ADDRTYPES4
    out = ["-m", "addrtype"]
    for opt in ("--src-type", "--dst-type"):
        if g.chance(0.5) or opt == "--dst-type" and len(out) == 2:
            pick = g.r.choice(types[:4]) if g.chance(0.7) else ",".join(
                g.r.sample(types, g.r.randint(1, 3)))
            out += _n(g) + [opt, pick]
    # bpfilter refuses IPv6 LOCAL, ANYCAST and UNREACHABLE with an interface limit (a
    # documented limit: doc/design.md), so those rules never get one.
    if g.v6 and any(t in " ".join(out) for t in ("LOCAL", "ANYCAST", "UNREACHABLE")):
        return out
    if builtin in ("INPUT", "FORWARD") and g.chance(0.2):
        out += ["--limit-iface-in"]
    elif builtin in ("OUTPUT", "FORWARD") and g.chance(0.2):
        out += ["--limit-iface-out"]
    return out


UIDS = [0, 0, 65534, 1000]


def ext_owner(g, proto, builtin):
    if builtin != "OUTPUT":
        return []
    out = ["-m", "owner"]
    for opt in g.r.sample(["uid", "gid", "sock"], g.r.randint(1, 2)):
        if opt == "uid":
            u = g.r.choice(UIDS)
            out += _n(g) + ["--uid-owner", str(u) if g.chance(0.8) else "%d-%d" % (u, u + 10)]
        elif opt == "gid":
            out += _n(g) + ["--gid-owner", str(g.r.choice(UIDS))]
        elif not g.reject_ok():
            out += _n(g) + ["--socket-exists"]
    return out if len(out) > 2 else []


def ext_limit(g, proto, builtin):
    # Refills of one per hour or day: only the burst decides, never the clock.
    # (1/day with a burst overflows the kernel's credit arithmetic: xt_limit refuses it.)
    return ["-m", "limit", "--limit", g.r.choice(["1/hour", "2/hour", "1/hour"]),
            "--limit-burst", str(g.r.randint(1, 8))]


def ext_hashlimit(g, proto, builtin):
    g.nhash = getattr(g, "nhash", 0) + 1
    mode = g.r.choice(["srcip", "dstip", "srcip,dstip", "dstip,dstport", "srcip,srcport"])
    if "port" in mode and _proto_l4(proto) not in ("tcp", "udp"):
        mode = "srcip"
    out = ["-m", "hashlimit", "--hashlimit-%s" % g.r.choice(["upto", "above"]),
           g.r.choice(["1/hour", "3/hour", "1/hour"]), "--hashlimit-burst",
           str(g.r.randint(1, 6)), "--hashlimit-mode", mode,
           "--hashlimit-name", "%s%d" % (g.role[0], g.nhash)]
    if g.chance(0.3):
        out += ["--hashlimit-srcmask", str(g.r.choice([64, 120]) if g.v6 else
                                             g.r.choice([24, 32]))]
    return out


def ext_recent(g, proto, builtin):
    # A few list names per ruleset so that --set and the checks meet; --seconds far beyond the
    # case's duration, so only the hit counts decide.
    name = g.r.choice(["A", "B", "C"])
    out = ["-m", "recent", "--name", name]
    if g.chance(0.3):
        out += ["--rdest"]
    k = g.r.random()
    if k < 0.35:
        return out + ["--set"]
    if k < 0.45:
        return out + _n(g) + ["--remove"]
    out += _n(g) + [g.r.choice(["--rcheck", "--update"])]
    if g.chance(0.5):
        out += ["--seconds", str(g.r.choice([3600, 86400]))]
    if g.chance(0.4):
        out += ["--hitcount", str(g.r.randint(1, 5))]
    if g.chance(0.1):
        out += ["--rttl"]
    return out


def ext_connlimit(g, proto, builtin):
    if _proto_l4(proto) != "tcp":
        return []
    return ["-m", "connlimit", "--connlimit-%s" % g.r.choice(["above", "upto"]),
            str(g.r.randint(0, 3)), "--connlimit-mask", str(g.r.choice([64, 128]) if g.v6
                                                              else g.r.choice([24, 32]))]


EXT_MATCH = {
    "conntrack": ext_conntrack,
    "state": ext_state,
    "multiport": ext_multiport,
    "iprange": ext_iprange,
    "mac": ext_mac,
    "pkttype": ext_pkttype,
    "length": ext_length,
    "ttl": ext_ttl,  # hl in IPv6
    "tos": ext_tos,
    "dscp": ext_dscp,
    "mark": ext_mark,
    "tcpmss": ext_tcpmss,
    "comment": ext_comment,
    "addrtype": ext_addrtype,
    "owner": ext_owner,
    "limit": ext_limit,
    "hashlimit": ext_hashlimit,
    "recent": ext_recent,
    "connlimit": ext_connlimit,
}

REJECT4 = ["icmp-net-unreachable", "icmp-host-unreachable", "icmp-port-unreachable",
           "icmp-proto-unreachable", "icmp-net-prohibited", "icmp-host-prohibited",
           "icmp-admin-prohibited"]
REJECT6 = ["icmp6-no-route", "no-route", "icmp6-adm-prohibited", "adm-prohibited",
           "icmp6-addr-unreachable", "addr-unreach", "icmp6-port-unreachable"]


def ext_reject(g, proto, builtin):
    # Not in OUTPUT (nor in user chains, which OUTPUT may reach): bpfilter sends the reply to
    # a local packet into lo's ingress, without crossing OUTPUT (documented difference,
    # codegen/target/reject.c). Not in a ruleset with owner --socket-exists: the kernel's
    # replies come from its ICMP socket (a socket without a file), bpfilter's from no socket
    # (doc/design.md).
    if builtin not in ("INPUT", "FORWARD") or not g.reject_ok():
        return None
    w = REJECT6 if g.v6 else REJECT4
    if _proto_l4(proto) == "tcp" and g.chance(0.4):
        return ["-j", "REJECT", "--reject-with", "tcp-reset"]
    if g.chance(0.15):
        return ["-j", "REJECT"]
    return ["-j", "REJECT", "--reject-with", g.r.choice(w)]


def ext_log(g, proto, builtin):
    # The prefix starts with @TAG@: tests/diff/run puts a tag per side and seed there, so that
    # the two sides' lines can be told apart in the one kernel log (and the tag is taken out of
    # the saved rules before they are compared).
    g.nlog = getattr(g, "nlog", 0) + 1
    out = ["-j", "LOG", "--log-prefix", '"@TAG@%s%d "' % (g.role[0], g.nlog)]
    if g.chance(0.5):
        out += ["--log-level", str(g.r.choice([0, 1, 2, 3, 4, 5, 6, 7]))]
    for f in ("--log-tcp-sequence", "--log-tcp-options", "--log-ip-options", "--log-uid"):
        if g.chance(0.25):
            out.append(f)
    return out


EXT_TARGET = {"REJECT": ext_reject, "LOG": ext_log}


class ExtRuleMixin:
    """Rule hooks of the extended level: up to two extension matches per rule, and now and then
    an extension target instead of the core ones."""
    exts = ()

    def ext_matches(self, proto, builtin):
        names = [x for x in self.exts if x in EXT_MATCH]
        out = []
        if not names:
            return out
        for _ in range(2):
            if self.chance(0.45):
                m = EXT_MATCH[self.r.choice(names)](self, proto, builtin)
                if m and m[1] not in out:
                    out += m
        return out

    def ext_target(self, proto, builtin):
        names = [x for x in self.exts if x in EXT_TARGET]
        if names and self.chance(0.2):
            return EXT_TARGET[self.r.choice(names)](self, proto, builtin)
        return None

    def reject_ok(self):
        """Per ruleset: REJECT, or owner --socket-exists (see ext_reject)."""
        if not hasattr(self, "_reject_ok"):
            self._reject_ok = self.chance(0.6)
        return self._reject_ok


class ExtRuleGen(ExtRuleMixin, RuleGen):
    v6 = False


class ExtRuleGen6(ExtRuleMixin, RuleGen6):
    v6 = True


class ExtTrafficMixin:
    """Traffic of the extended level: the core traffic without what the kernel's conntrack
    would change (fragments are reassembled before the filter once conntrack is loaded;
    crafted packets to the host's own addresses are re-tracked at PREROUTING after LOCAL_OUT),
    plus more real flows: TCP connections closed with FIN or RST, UDP exchanges, pings, ICMP
    errors for closed ports (RELATED), and connections made under another uid (owner)."""

    def ext_flow(self, v6):
        self.real_port += 1
        c, r, s = (C6, R6, S6) if v6 else (CLIENT_ADDRS, ROUTER_ADDRS, SERVER_ADDRS)
        pairs = [("client", c, s), ("client", c, s), ("client", c, r[:1]),
                 ("router", r[1:2], s[:2]), ("router", r[:1], c), ("server", s[:2], c),
                 ("server", s[:1], r[1:2])]
        role, srcs, dsts = self.r.choice(pairs)
        src, dst = self.r.choice(srcs), self.r.choice(dsts)
        extra = ""
        if role != "client" and self.chance(0.4):
            extra = " uid=65534 gid=65534" if self.chance(0.7) else " uid=1000 gid=1000"
        k = self.r.random()
        if k < 0.55:
            return role, "tcp_connect src=%s sport=%d dst=%s dport=%d data=%d%s%s" % (
                src, self.real_port, dst, self.r.choice(TCP_OPEN * 3 + [443]),
                self.r.choice([0, 10, 200]), " fin=1" if self.chance(0.5) else "", extra)
        if k < 0.85:
            return role, "udp_request src=%s sport=%d dst=%s dport=%d len=%d%s" % (
                src, self.real_port, dst, self.r.choice(UDP_ECHO * 3 + [5353]),
                self.r.choice([0, 8, 100]), extra)
        # A ping: a crafted echo request (the peer's kernel answers it).
        if role == "client":
            f = ["via=packet", "dev=" + self.ifs["c"], "dmac=" + MAC["rc"]]
        else:
            f = ["via=hdrincl"]
        f += ["src=" + src, "dst=" + dst, "proto=" + ("icmp6" if v6 else "icmp"),
              "type=%d" % (128 if v6 else 8), "code=0", "id=%d" % self.next_id(),
              "seq=%d" % self.r.randint(0, 99), "payload=%d" % self.r.choice([0, 16, 56])]
        return role, ("ip6 " if v6 else "ip ") + " ".join(f)

    def traffic(self, scale):
        v6 = isinstance(self, TrafficGen6)
        core = TrafficGen6.traffic if v6 else TrafficGen.traffic
        lines, role = [], None
        for line in core(self, scale).splitlines():
            if line.startswith("ns "):
                role = line[3:]
                continue
            w = line.split()
            if w[0] in ("ip", "ip6") and (
                    any(x.startswith(("frag=", "mf=1")) or x.startswith("ext=") and "frag:"
                        in x for x in w) or
                    role != "client" and self.own(role, w, v6)):
                continue
            # SCTP and GRE have trackers of their own in the kernel, bpfilter tracks them as
            # generic protocols (doc/conntrack.md): a random SCTP packet is INVALID for the
            # kernel and so are the ICMP errors quoting it. ESP and 253 instead.
            line = line.replace(" proto=132 ", " proto=253 ").replace(" proto=47 ", " proto=50 ")
            lines.append((role, line))
            if self.chance(0.15):
                lines.append(self.ext_flow(v6))
        out, cur = [], None
        for role, line in lines:
            if role != cur:
                out.append("ns " + role)
                cur = role
            out.append(line)
        return "\n".join(out) + "\n"

    @staticmethod
    def own(role, w, v6):
        dst = [x[4:] for x in w if x.startswith("dst=")][0]
        mine = {"router": (R6 if v6 else ROUTER_ADDRS),
                "server": (S6 if v6 else SERVER_ADDRS)}[role]
        return dst in mine or dst in ("127.0.0.1", "::1")


class ExtTrafficGen(ExtTrafficMixin, TrafficGen):
    pass


class ExtTrafficGen6(ExtTrafficMixin, TrafficGen6):
    pass


def registered(path, family):
    """The EXT_MATCH/EXT_TARGET entries bpfilter enforces for the family, from the output of
    tests/tools/bf_exts ("match|target NAME REVISION FAMILY", family 0: both)."""
    have = set()
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) == 4 and int(w[3]) in (0, 10 if family == 6 else 2):
                have.add(w[1])
    if family == 6 and "hl" in have:
        have.add("ttl")
    return tuple(x for x in tuple(EXT_MATCH) + tuple(EXT_TARGET) if x in have)


def case(a):
    os.makedirs(a.out, exist_ok=True)
    v6 = a.family == 6
    rg, tg = (RuleGen6, TrafficGen6) if v6 else (RuleGen, TrafficGen)
    tag = "6" if v6 else ""
    if a.level == "extended":
        rg, tg = (ExtRuleGen6, ExtTrafficGen6) if v6 else (ExtRuleGen, ExtTrafficGen)
        if a.exts is not None:
            rg.exts = tuple(x for x in a.exts.split(",") if x)
        elif a.registry:
            rg.exts = registered(a.registry, a.family)
        else:
            rg.exts = tuple(EXT_MATCH) + tuple(EXT_TARGET)
        unknown = [x for x in rg.exts if x not in EXT_MATCH and x not in EXT_TARGET]
        if unknown:
            sys.exit("gen.py: no generator for %s" % ",".join(unknown))
        tag += "x"
    # One stream per product, so changing how one is drawn does not reshuffle the others.
    rr = random.Random("router%s-%d" % (tag, a.seed))
    rs = random.Random("server%s-%d" % (tag, a.seed))
    rt = random.Random("traffic%s-%d" % (tag, a.seed))
    if a.large:
        if v6:
            sys.exit("gen.py: --large is IPv4 only")
        rr = random.Random("router-large%d-%d" % (a.large, a.seed))
        rs = random.Random("server-large%d-%d" % (a.large, a.seed))
        router = LargeRuleGen(rr, a.prefix, "router").ruleset_large(a.scale, a.large)
        with open(os.path.join(a.out, "router.rules"), "w") as f:
            f.write(router)
        with open(os.path.join(a.out, "server.rules"), "w") as f:
            f.write(LargeRuleGen(rs, a.prefix, "server").ruleset_large(a.scale, a.large))
        ra = random.Random("aimed-large%d-%d" % (a.large, a.seed))
        with open(os.path.join(a.out, "traffic"), "w") as f:
            f.write(tg(rt, a.prefix).traffic(a.scale))
            f.write(aimed_traffic(ra, a.prefix, router, 12 * a.scale))
        return
    else:
        with open(os.path.join(a.out, "router.rules"), "w") as f:
            f.write(rg(rr, a.prefix, "router").ruleset(a.scale))
        with open(os.path.join(a.out, "server.rules"), "w") as f:
            f.write(rg(rs, a.prefix, "server").ruleset(a.scale))
    with open(os.path.join(a.out, "traffic"), "w") as f:
        f.write(tg(rt, a.prefix).traffic(a.scale))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("topo")
    t.add_argument("--prefix", required=True)
    t.add_argument("--client", required=True)
    t.add_argument("--router", required=True)
    t.add_argument("--server", required=True)
    t.add_argument("--family", type=int, choices=(4, 6), default=4)
    t.add_argument("--level", choices=("core", "extended"), default="core")
    c = sub.add_parser("case")
    c.add_argument("--seed", type=int, required=True)
    c.add_argument("--prefix", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--scale", type=int, default=1)
    c.add_argument("--family", type=int, choices=(4, 6), default=4)
    c.add_argument("--large", type=int, default=0,
                   help="about N rules per ruleset (IPv4): long classifiable blocks")
    c.add_argument("--level", choices=("core", "extended"), default="core")
    c.add_argument("--exts", help="extended level: comma-separated EXT_MATCH/EXT_TARGET names")
    c.add_argument("--registry", help="extended level without --exts: bf_exts output, the "
                   "entries bpfilter registers for the family are used")
    a = ap.parse_args()
    if len(a.prefix) > 8:
        sys.exit("gen.py: prefix too long for interface names")
    if a.cmd == "topo":
        topo(a)
    else:
        case(a)


if __name__ == "__main__":
    main()
