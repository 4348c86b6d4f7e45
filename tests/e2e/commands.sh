#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Every iptables-legacy command form, run in the same order against the kernel (a fresh namespace)
# and against bpfilter (another one): stdout, stderr and exit status must be the same after every
# command, and so must the whole table (save -c) after every command that may change it. Covers
# -A -I -D (spec and number) -R -N -X -E -P -F -Z -L (-v -n -x --line-numbers, CHAIN) -S -C,
# their error cases, -c on rules, iptables-restore (--noflush, -c, --test, -T filter), save -c/-t,
# fail2ban's command sequence, and the counters handshake: counters set by restore -c survive edits
# of other rules, -Z and -Z CHAIN zero them.
set -euo pipefail
. "$(dirname "$0")/../lib/bf.sh"
bf_init commands
bf_require_built

K=k
B=b
bf_netns_add $K
bf_netns_add $B
bf_daemon_start $B || bf_die "bpfilterd does not start"

# c ARGS...: one iptables command on both sides, then the whole table (read-only forms too: they
# must not change it).
c()
{
	bf_cmp $K $B ipt "$@"
	bf_cmp $K $B ipt_save -c
}
# r ARGS... < FILE: iptables-restore on both sides, then the table.
r()
{
	bf_cmp $K $B ipt_restore "$@"
	bf_cmp $K $B ipt_save -c
}

echo "== fresh namespace, read-only forms first"
bf_cmp $K $B ipt_save
c -L
c -S
c -L -n -v
bf_cmp $K $B ipt_save -c

echo "== building a table"
c -N web
c -N web
c -N "$(printf 'x%.0s' {1..28})"
c -N "$(printf 'x%.0s' {1..29})"
c -A INPUT -i lo -j ACCEPT
c -A INPUT -p tcp --dport 22 -j ACCEPT
c -A INPUT -p tcp --dport 80 -j web
c -A INPUT -s 10.0.0.0/8 -p udp --dport 53 -j ACCEPT
c -I INPUT -p icmp --icmp-type echo-request -j ACCEPT
c -I INPUT 3 -s 192.0.2.1 -j DROP
c -I INPUT 7 -d 192.0.2.2 -j DROP
c -I INPUT 99 -j DROP
c -A web -p tcp --dport 80 -m comment --comment "http traffic" -j ACCEPT
c -A web ! -s 198.51.100.0/24 -p tcp --sport 1024:65535 -j RETURN
c -A web -g web2
c -N web2
c -A web -g web2
c -A web2 -o eth+ -j DROP
c -A nosuch -j ACCEPT
c -A INPUT -j nosuchchain
c -v -A OUTPUT -o lo -p udp --sport 53 -j ACCEPT
c -A FORWARD -f -j DROP
c -A FORWARD -p tcp --tcp-flags SYN,ACK SYN -j DROP
c -A FORWARD -p tcp ! --syn -j ACCEPT
c -A FORWARD -p 47 -j ACCEPT

echo "== listing"
c -L -v -n -x --line-numbers
c -L INPUT -n --line-numbers
c -L web -v -n
c -L web2
c -L nosuch
c -L INPUT 2 -n
c -S INPUT
c -S web
c -S INPUT 2
c -S INPUT 50
c -S nosuch
c -S -v
c -n -L OUTPUT -v -x
c -w -L -n

echo "== check"
c -C INPUT -p tcp --dport 22 -j ACCEPT
c -C INPUT -p tcp --dport 23 -j ACCEPT
c -C INPUT -p tcp --dport 22 -j DROP
c -C web -p tcp --dport 80 -m comment --comment "http traffic" -j ACCEPT
c -C nosuch -j ACCEPT

echo "== delete, replace"
c -D INPUT -p tcp --dport 22 -j ACCEPT
c -D INPUT -p tcp --dport 22 -j ACCEPT
c -D INPUT 2
c -D INPUT 50
c -D nosuch 1
c -R INPUT 1 -p icmp --icmp-type echo-reply -j ACCEPT
c -R INPUT 60 -j ACCEPT
c -R web 2 -s 203.0.113.0/24 -j RETURN

echo "== chains and policies"
c -E web www
c -E www INPUT
c -E nosuch other
c -E web2 www
c -P INPUT DROP
c -P FORWARD DROP
c -P OUTPUT ACCEPT
c -P www ACCEPT
c -P INPUT RETURN
c -P nosuch DROP
c -N empty
c -X empty
c -X empty
c -X www
c -X INPUT
c -F www
c -X www
c -F INPUT
c -X www
c -L -n

echo "== counters on rules (-c), -Z"
c -A INPUT -c 10 1000 -p tcp --dport 25 -j ACCEPT
c -I INPUT 1 -c 5 500 -s 192.0.2.9 -j DROP
c -R INPUT 2 -c 7 700 -p tcp --dport 26 -j ACCEPT
c -A OUTPUT -c 3 300 -j ACCEPT
c -L -v -x -n
c -Z INPUT
c -Z INPUT 1
c -Z
c -Z nosuch
c -L -Z -v -x -n
c -F
c -X
c -P INPUT ACCEPT
c -P FORWARD ACCEPT

echo "== fail2ban's command sequence (banaction iptables, -w)"
c -w -N f2b-sshd
c -w -A f2b-sshd -j RETURN
c -w -C INPUT -p tcp --dport 22 -j f2b-sshd
c -w -I INPUT -p tcp --dport 22 -j f2b-sshd
c -w -C INPUT -p tcp --dport 22 -j f2b-sshd
c -w -I f2b-sshd 1 -s 192.0.2.10 -j DROP
c -w -I f2b-sshd 1 -s 192.0.2.11 -j DROP
c -w -C f2b-sshd -s 192.0.2.10 -j DROP
c -w -D f2b-sshd -s 192.0.2.10 -j DROP
c -w -C f2b-sshd -s 192.0.2.10 -j DROP
c -w -D INPUT -p tcp --dport 22 -j f2b-sshd
c -w -F f2b-sshd
c -w -X f2b-sshd

echo "== iptables-restore forms"
data="$BF_TOP/tests/data"
r -c <"$data/server.rules"
r --test <"$data/ufw.rules"
r -T filter -c <"$data/fail2ban.rules"
r -c <"$data/server.rules"
r --noflush <<'EOF'
*filter
:extra - [0:0]
-A INPUT -p tcp --dport 8080 -j extra
-A extra -s 192.0.2.0/24 -j ACCEPT
-I web 1 -p tcp --dport 81 -j ACCEPT
-D admin -p udp -m udp --dport 161 -j ACCEPT
COMMIT
EOF
r --noflush -c <<'EOF'
*filter
:OUTPUT ACCEPT [11:1100]
[9:900] -A OUTPUT -p tcp --dport 443 -j ACCEPT
COMMIT
EOF
r --noflush <<'EOF'
*filter
-A nosuch -j ACCEPT
COMMIT
EOF
r --noflush <<'EOF'
*filter
-D INPUT -p tcp --dport 8080 -j extra
-F extra
-X extra
COMMIT
EOF
r --noflush <<'EOF'
*filter
-A INPUT -j DROP
EOF
bf_cmp $K $B ipt_save -t filter
bf_cmp $K $B ipt_save -c -t filter
bf_cmp_state $K $B

echo "== counters handshake: set by restore -c, kept across unrelated edits"
r -c <"$data/server.rules"
c -A web -j DROP
c -I INPUT 1 -s 192.0.2.77 -j DROP
c -D admin 2
c -R services 3 -p tcp --dport 2222 --syn -j ACCEPT
c -N newchain
c -E newchain renamed
c -A renamed -j RETURN
c -P FORWARD ACCEPT
c -X renamed
r --noflush <<'EOF'
*filter
-A icmp-in -p icmp --icmp-type 13 -j DROP
COMMIT
EOF
bf_cmp_state $K $B
c -Z services
c -Z INPUT 3
bf_cmp_state $K $B
r -c --noflush <<'EOF'
*filter
:INPUT DROP [42:4200]
:web - [0:0]
[100:10000] -A web -p udp -j ACCEPT
COMMIT
EOF
c -Z
bf_cmp_state $K $B
r -c <"$data/server.rules"
bf_cmp_state $K $B

bf_done
