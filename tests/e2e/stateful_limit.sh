#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The limit match with real traffic, IPv4 and IPv6, against the kernel (doc/stateful.md).
# Per side (k: the kernel's iptables-legacy, b: bpfilterd): a client namespace sends UDP bursts
# to a host namespace whose INPUT limits them. Only outcomes that do not depend on timing are
# compared: a burst sent faster than the refill (1/minute), and a refill to the cap after a
# pause much longer than the time to fill it. Then a replace, which gives every limit rule a
# fresh bucket in the kernel (checkentry) and must here too. Counters of both tables must
# equal the kernel's.
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init stateful-limit
bf_require_built
bf_require_cmd python3

read -r -d '' SEND_PY <<'EOF'
import socket, sys
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(b"x" * 64, (ip, port))
EOF

for s in k b; do
	bf_netns_add "${s}c" && bf_netns_add "${s}h" || bf_die "namespaces"
	bf_ipv6_quiet "${s}c" "${s}h" || bf_die "sysctls"
	bf_veth "${s}c" c0 "${s}h" h0 10.9.0.2/24 10.9.0.1/24 || bf_die "veth"
	bf_nsexec "${s}c" ip -6 addr add fd09::2/64 dev c0 nodad || bf_die "addr6"
	bf_nsexec "${s}h" ip -6 addr add fd09::1/64 dev h0 nodad || bf_die "addr6"
done
bf_daemon_start bh || bf_die "bpfilterd does not start"

# The rules' counters (the policies count IPv6 neighbour discovery too, which is not
# deterministic).
cmp_rules()
{
	local fam=$1 what=$2 save=ipt_save ksave=kipt_save
	[ "$fam" = 6 ] && save=ip6t_save ksave=kip6t_save
	bf_$ksave kh -c | grep '^\[' >"$BF_TMP/k.rules"
	bf_$save bh -c | grep '^\[' >"$BF_TMP/b.rules"
	if bf_diff "IPv$fam $what" "$BF_TMP/k.rules" "$BF_TMP/b.rules"; then
		bf_pass "IPv$fam $what: $(tr '\n' ' ' <"$BF_TMP/b.rules")"
	else
		bf_fail "IPv$fam $what"
	fi
}

send()
{
	local s
	for s in k b; do
		bf_nsexec "${s}c" python3 -c "$SEND_PY" "$@" || bf_fail "send $* from ${s}c"
	done
}

rules()
{
	cat <<RULES
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp --dport 5000 -m limit --limit 1/min --limit-burst 5 -j ACCEPT
-A INPUT -p udp --dport 5000 -j DROP
-A INPUT -p udp --dport 5001 -m limit --limit 2/sec --limit-burst 3 -j ACCEPT
-A INPUT -p udp --dport 5001 -j DROP
-A INPUT -p udp --dport 5002 -m limit --limit 1/hour -m limit --limit 1/hour --limit-burst 2 -j ACCEPT
-A INPUT -p udp --dport 5002 -j DROP
COMMIT
RULES
}

run()
{
	local fam=$1 ip=$2 restore=ipt_restore
	[ "$fam" = 6 ] && restore=ip6t_restore
	rules | bf_cmp kh bh $restore
	send "$ip" 5000 20
	send "$ip" 5001 10
	send "$ip" 5002 10
	cmp_rules "$fam" "bursts"
	# 2/s with a burst of 3 is full again after 1.5 s.
	sleep 2.5
	send "$ip" 5001 10
	send "$ip" 5000 3
	cmp_rules "$fam" "after a refill"
	# A replace gives every limit rule a fresh, full bucket.
	rules | bf_cmp kh bh $restore
	send "$ip" 5000 20
	send "$ip" 5002 10
	cmp_rules "$fam" "after a replace"
}

run 4 10.9.0.1
run 6 fd09::1

# checkentry: burst 0 and an overflowing avg * burst are -ERANGE, as in the kernel.
bf_cmp kh bh ipt -A INPUT -m limit --limit 1/day --limit-burst 10000
bf_cmp kh bh ipt -A INPUT -m limit --limit 10/sec --limit-burst 10000
bf_cmp kh bh ip6t -A INPUT -m limit --limit 1/day --limit-burst 10000
bf_cmp_state kh bh 4
bf_cmp_state kh bh 6
bf_done
