#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# ip6tables-legacy, -restore and -save through bpfilter against the kernel's ip6_tables, in two
# scratch namespaces (k: the kernel, b: bpfilterd):
#  - the initial filter table: GET_INFO and GET_ENTRIES byte for byte (tests/tools/xt6dump);
#  - /proc/net/ip6_tables_names before and after the first lookup;
#  - the filter part of ../shared/iptables-tests/dumps/ipt-save-fedora27-ip6tables: the kernel
#    accepts it all, and so must bpfilter: the same restore result, save output and blob
#  - rule edits (-A/-I/-D/-R/-N/-X/-P/-Z) with IPv6 addresses, masks, interfaces, protocols and
#    the IPv6 extensions bpfilter accepts, each compared with the kernel (status, output).
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init ipv6-ctl
bf_require_built
bf_require_cmd ip6tables-legacy ip6tables-legacy-save ip6tables-legacy-restore
xt6dump="$BF_TOP/tests/tools/xt6dump"
[ -x "$xt6dump" ] || bf_die "$xt6dump is not built (run make)"
dump=${BF_DUMP:-$BF_TOP/../shared/iptables-tests/dumps/ipt-save-fedora27-ip6tables}
[ -f "$dump" ] || dump=/work/shared/iptables-tests/dumps/ipt-save-fedora27-ip6tables

bf_netns_add k
bf_netns_add b
bf_daemon_start b || bf_die "bpfilterd does not start"

names()
{
	if [ "$1" = k ]; then
		bf_nsexec k cat /proc/net/ip6_tables_names
	else
		bf_nsexec b env LD_PRELOAD="$BF_SHIM" BPFILTER_SOCKET="$(bf_sock b)" \
			cat /proc/net/ip6_tables_names
	fi
}

blobs()
{
	local what=$1
	bf_nsexec k "$xt6dump" -z >"$BF_TMP/blob.k" 2>&1
	bf_nsexec b env LD_PRELOAD="$BF_SHIM" BPFILTER_SOCKET="$(bf_sock b)" "$xt6dump" -z \
		>"$BF_TMP/blob.b" 2>&1
	if bf_diff "$what" "$BF_TMP/blob.k" "$BF_TMP/blob.b"; then
		bf_pass "$what: GET_INFO/GET_ENTRIES identical ($(grep -c '^blob' "$BF_TMP/blob.b") lines)"
	else
		bf_fail "$what: the blobs differ"
	fi
}

[ "$(names k)" = "$(names b)" ] && bf_pass "ip6_tables_names before any lookup: '$(names b)'" ||
	bf_fail "ip6_tables_names before any lookup: kernel '$(names k)', bpfilter '$(names b)'"
blobs "initial filter table"
grep -q "^info 000050: 58 03 00 00" "$BF_TMP/blob.b" && bf_pass "initial table size is 856" ||
	bf_fail "initial table size is not 856: $(grep '^info 000050' "$BF_TMP/blob.b")"
[ "$(names k)" = "$(names b)" ] && bf_pass "ip6_tables_names after the lookup: '$(names b)'" ||
	bf_fail "ip6_tables_names after: kernel '$(names k)', bpfilter '$(names b)'"
# Only filter exists in bpfilter (as for IPv4): nat answers ENOENT, iptables' usual message.
if bf_ip6t b -t nat -L -n 2>&1 | grep -q "does not exist"; then
	bf_pass "ip6tables -t nat: table does not exist"
else
	bf_fail "ip6tables -t nat: $(bf_ip6t b -t nat -L -n 2>&1 | head -2)"
fi
bf_cmp k b ip6t -L -n -v

# The whole filter part of the Fedora dump (conntrack, REJECT, user chains): bpfilter takes it
# as the kernel does.
sed -n '/^\*filter/,/^COMMIT/p' "$dump" >"$BF_TMP/fedora.filter"
echo "$(grep -c '^-A' "$BF_TMP/fedora.filter") rules in the Fedora filter table"
bf_cmp k b ip6t_restore <"$BF_TMP/fedora.filter"
bf_cmp k b ip6t_save -t filter
blobs "Fedora filter table"

# Rule edits with the IP part and the IPv6 extensions, one command at a time.
while IFS= read -r line; do
	[ -z "$line" ] && continue
	# shellcheck disable=SC2086
	bf_cmp k b ip6t $line
done <<'CMDS'
-F
-X
-N ufw6-before-input
-A INPUT -j ufw6-before-input
-A ufw6-before-input -i lo -j ACCEPT
-A ufw6-before-input -m rt --rt-type 0 -j DROP
-A ufw6-before-input -p ipv6-icmp -m icmp6 --icmpv6-type 135 -m hl --hl-eq 255 -j ACCEPT
-A ufw6-before-input -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-advertisement -m hl --hl-eq 255 -j ACCEPT
-A ufw6-before-input -p ipv6-icmp -m icmp6 --icmpv6-type echo-request -j ACCEPT
-A ufw6-before-input -p ipv6-icmp -m icmp6 --icmpv6-type destination-unreachable -j ACCEPT
-A ufw6-before-input -p ipv6-icmp -m icmp6 ! --icmpv6-type 1/3 -j ACCEPT
-A ufw6-before-input -s fe80::/10 -d fe80::/10 -p udp -m udp --sport 547 --dport 546 -j ACCEPT
-A ufw6-before-input -s 2001:db8::1/128 ! -d 2001:db8:1::/48 -i veth+ -o eth0 -p tcp --dport 22 -j DROP
-I ufw6-before-input 2 ! -p udp -j RETURN
-A ufw6-before-input -p all -j RETURN
-A ufw6-before-input ! -s ::/0 -j DROP
-A ufw6-before-input -m frag --fragid 1:42 --fragfirst -j DROP
-A ufw6-before-input -m frag ! --fragid 7 --fragmore -j DROP
-A ufw6-before-input -m hbh --hbh-len 8 -j DROP
-A ufw6-before-input -m hbh --hbh-opts 1:4,5:2 -j DROP
-A ufw6-before-input -m dst ! --dst-len 16 -j DROP
-A ufw6-before-input -m ipv6header --header hop-by-hop,dst --soft -j DROP
-A ufw6-before-input -m rt --rt-type 0 --rt-segsleft 1:23 --rt-len 42 --rt-0-res -j DROP
-A ufw6-before-input -p tcp -m tcp --tcp-flags SYN,ACK SYN -m multiport --dports 80,443 -j ACCEPT
-A ufw6-before-input -m icmp --icmp-type 8 -j ACCEPT
-A ufw6-before-input -p ipv6-icmp -m icmp6 --icmpv6-type 8 -j ACCEPT
-A ufw6-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A ufw6-before-input -m conntrack --ctstate INVALID -j DROP
-A ufw6-before-input -m state --state UNTRACKED -j ACCEPT
-D ufw6-before-input 3
-R ufw6-before-input 1 -i lo+ -j ACCEPT
-P INPUT DROP
-P FORWARD DROP
-Z
-S
-L -n -v -x --line-numbers
CMDS
bf_cmp k b ip6t_save -t filter
blobs "after the rule edits"

# Refused cleanly by bpfilter (accepted by the kernel): the table must stay as it was.
bf_ip6t_save b -t filter | grep -v '^#' >"$BF_TMP/before"
while IFS= read -r line; do
	# shellcheck disable=SC2086
	if bf_ip6t b $line >"$BF_TMP/ref.out" 2>&1; then
		bf_fail "accepted, expected a refusal: $line"
	else
		bf_pass "refused: $line: $(head -1 "$BF_TMP/ref.out")"
	fi
done <<'CMDS'
-A INPUT -m rt --rt-type 0 --rt-0-addrs ::1,::2 -j DROP
CMDS
bf_ip6t_save b -t filter | grep -v '^#' >"$BF_TMP/after"
bf_diff "table after the refusals" "$BF_TMP/before" "$BF_TMP/after" &&
	bf_pass "the refusals left the table as it was" || bf_fail "a refusal changed the table"
bf_done
