# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# ufw.sh: the body of tool_ufw.sh (TL_SIX=0: IPV6=no) and tool_ufw6.sh (TL_SIX=1: IPV6=yes, and
# every probe is made over IPv6 as well). Debian's ufw, unmodified, configured the same way on
# both sides (lib.sh: k drives the kernel's iptables-legacy, b drives bpfilter), then:
#   - every ufw command prints the same and exits the same;
#   - probes from the client get the same outcome (connected / refused / timeout / reply), with
#     a `limit`ed port refusing quick connections past ufw's recent --hitcount 6;
#   - the rulesets are equal, counters included (iptables-save -c, ip6tables-save -c);
#   - a TCP connection established before `ufw reload` keeps working through it;
#   - `ufw status verbose`, `ufw reload`, `ufw disable` work the same (all open afterwards).
# bpfilter refusing a rule ufw needs (e.g. before these extensions exist) makes this test fail and
# prints bpfilterd's refusal.

tl_require ufw
bf_require_built
tl_host_mark

six=${TL_SIX:-0}
for s in k b; do
	if ((six)); then
		tl_topo "$s" 6 || bf_die "topology"
		bf_nsexec "${s}c" ip addr add fd00:9:9::2/64 dev c0 nodad || bf_die "address"
		bf_nsexec "$s" ip addr add fd00:9:9::1/64 dev s0 nodad || bf_die "address"
	else
		tl_topo "$s" || bf_die "topology"
	fi
done
bf_daemon_start b || bf_die "bpfilterd does not start"
for s in k b; do
	tl_side "$s" || bf_die "scratch tree of $s"
	for p in /etc/ufw /lib/ufw /etc/default/ufw; do
		tl_scratch "$s" "$p" || bf_die "scratch copy of $p"
	done
	t=$(tl_dir "$s")
	if ((six)); then
		sed -i 's/^IPV6=.*/IPV6=yes/' "$t/root/etc/default/ufw"
	else
		sed -i 's/^IPV6=.*/IPV6=no/' "$t/root/etc/default/ufw"
	fi
	# A fresh host: ufw shipped disabled, whatever the host's copy says.
	sed -i 's/^ENABLED=.*/ENABLED=no/' "$t/root/etc/ufw/ufw.conf"
	tl_serve "$s" echo:22 tcp:23 tcp:80 tcp:2222 tcp:3306 tcp:8080 udp:53 udp:69 ||
		bf_die "listeners"
done

ufw_() { tl_exec "$1" ufw "${@:2}"; }

# The rules are written to user.rules while ufw is off; `enable` then loads everything at once
# through iptables-restore, and the rule added afterwards goes in live with iptables -I.
tl_both "ufw default deny incoming" ufw_ default deny incoming
tl_both "ufw allow 22/tcp" ufw_ allow 22/tcp
tl_both "ufw allow from a subnet to 8080/tcp" ufw_ allow from 10.9.9.0/24 to any port 8080 proto tcp
((six)) && tl_both "ufw allow from an IPv6 subnet to 8080/tcp" \
	ufw_ allow from fd00:9:9::/64 to any port 8080 proto tcp
tl_both "ufw deny 3306/tcp" ufw_ deny 3306/tcp
tl_both "ufw limit 2222/tcp" ufw_ limit 2222/tcp
tl_both "ufw reject 23/tcp" ufw_ reject 23/tcp
tl_both "ufw logging on" ufw_ logging on
tl_both "ufw --force enable" ufw_ --force enable
tl_both "ufw allow 53/udp (live)" ufw_ allow 53/udp
tl_both "ufw status verbose" ufw_ status verbose

n=$(wc -l <"$(tl_dir b)/calls")
if ((n > 0)); then
	bf_pass "ufw ran bpfilter's wrappers ($n iptables calls)"
else
	bf_fail "ufw did not run bpfilter's wrappers"
fi

probes()
{
	local s=$1 ip=10.9.0.1 sub=10.9.9.2
	if [ "${2:-4}" = 6 ]; then
		ip=fd00:9::1
		sub=fd00:9:9::2
	fi
	tl_ping "$s" "$ip"
	tl_probe "$s" "tcp,$ip,22" "tcp,$ip,80" "tcp,$ip,3306" "tcp,$ip,8080" "tcp,$ip,23" \
		"udp,$ip,53" "udp,$ip,69"
	tl_probe "$s" --src "$sub" "tcp,$ip,8080"
}

limit_probes()
{
	local ip=10.9.0.1 i specs=()
	[ "${2:-4}" = 6 ] && ip=fd00:9::1
	for ((i = 0; i < 8; i++)); do
		specs+=("tcp,$ip,2222")
	done
	tl_probe "$1" "${specs[@]}"
}

tl_both "IPv4 probes while enabled" probes 4
tl_both "IPv4 limit: 8 quick connections to 2222" limit_probes 4
if ((six)); then
	tl_both "IPv6 probes while enabled" probes 6
	tl_both "IPv6 limit: 8 quick connections to 2222" limit_probes 6
fi
bf_cmp k b ipt_save -c
((six)) && bf_cmp k b ip6t_save -c

# An established connection through `ufw reload` (which replaces every ufw chain).
reload_hold()
{
	local s=$1 f
	f="$(tl_dir "$s")/hold"
	bf_nsexec "${s}c" timeout 60 python3 "$TL_DIR/probe.py" hold 10.9.0.1 22 3 >"$f" 2>&1 &
	local pid=$!
	sleep 0.5
	ufw_ "$s" reload
	echo "reload status $?"
	wait "$pid"
	# Every exchange answered (the count itself depends on timing).
	awk -F/ '$1 == $2 && $1 > 10 { print "established connection: every echo answered"; next }
		{ print "established connection broke: " $0 }' "$f"
}
tl_both "ufw reload with an established TCP connection" reload_hold
tl_both "ufw status verbose after reload" ufw_ status verbose
# From here the amount of traffic (echoes during the reload) depends on timing: rules only.
tl_cmp_rules 4
((six)) && tl_cmp_rules 6

tl_both "ufw disable" ufw_ disable
tl_both "ufw status verbose when disabled" ufw_ status verbose
tl_both "IPv4 probes when disabled" probes 4
((six)) && tl_both "IPv6 probes when disabled" probes 6
tl_cmp_rules 4
((six)) && tl_cmp_rules 6
tl_host_check
bf_done
