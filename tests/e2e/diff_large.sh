#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The differential test on large rulesets (issue [scale]): tests/diff/run --large 5000, about
# 5,000 rules per ruleset in runs of similar rules (nested prefixes, port ranges, inversions,
# user chains) that bpfilter's classifier compiles into lookups, with traffic aimed at the first,
# a middle and the last rule of each chain and at none; every counter must equal the kernel's.
# CI: 3 seeds (about a minute on 2 vCPUs); BF_LONG=1 (tests/run --long): seeds 1-20;
# BF_QUICK=1: seed 1 only.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
seeds=1-3
[ "${BF_QUICK:-0}" = 1 ] && seeds=1
[ "${BF_LONG:-0}" = 1 ] && seeds=1-20
exec "$top/tests/diff/run" --large "${BF_DIFF_LARGE:-5000}" --seeds "$seeds"
