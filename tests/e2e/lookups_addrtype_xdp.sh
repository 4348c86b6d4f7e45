#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# lookups_addrtype.sh against `bpfilterd --xdp`: INPUT's addrtype lookups run in the XDP
# programs, and must count as the kernel does there too.
set -u
BF_LOOKUPS_DAEMON_ARGS=--xdp exec "$(dirname "$0")/lookups_addrtype.sh"
