#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tool_ufw.sh: Debian's ufw (IPV6=no) through bpfilter, compared with the same ufw driving the
# kernel's iptables-legacy: commands, probes, counters, reload, disable (tests/e2e/tools/ufw.sh).
set -u
. "$(dirname "$0")/../lib/bf.sh"
bf_init tool-ufw
. "$(dirname "$0")/tools/lib.sh"
# shellcheck disable=SC2034 # read by tools/ufw.sh
TL_SIX=0
. "$TL_DIR/ufw.sh"
