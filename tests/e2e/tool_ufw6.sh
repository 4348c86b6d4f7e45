#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tool_ufw6.sh: Debian's ufw with IPV6=yes through bpfilter (iptables and ip6tables), compared
# with the same ufw driving the kernel's iptables-legacy and ip6tables-legacy; IPv6 probes and
# neighbour discovery across the policy as well (tests/e2e/tools/ufw.sh).
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init tool-ufw6
. "$(dirname "$0")/tools/lib.sh"
# shellcheck disable=SC2034 # read by tools/ufw.sh
TL_SIX=1
. "$TL_DIR/ufw.sh"
