#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# --xdp (INPUT at XDP, FORWARD/OUTPUT at TC) must give the same outcomes and the same counters as
# the kernel: the INPUT and FORWARD real-traffic tests, run against `bpfilterd --xdp`.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
rc=0
for t in traffic_input.sh traffic_forward.sh; do
	echo "== $t with bpfilterd --xdp"
	BF_TR_DAEMON_ARGS=--xdp "$dir/$t"
	st=$?
	case $st in
	0) ;;
	77) exit 77 ;;
	*) rc=1 ;;
	esac
done
exit $rc
