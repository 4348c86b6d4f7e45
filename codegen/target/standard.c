// SPDX-License-Identifier: GPL-2.0-only
/*
 * The standard target (name ""): a verdict or a jump. Its size and verdict range are checked with
 * the entry layout (xt_check_entry_offsets); the chain compiler emits it, since jumps, RETURN and
 * the jump stack are properties of the entry graph, not of one entry.
 */
#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>

#include "../ext.h"

const struct bf_ext bf_target_standard = {
	.kind = BF_EXT_TARGET,
	.name = XT_STANDARD_TARGET,
	.revision = 0,
	.family = NFPROTO_IPV4,
	.size = sizeof(int),
};

/* ip6_tables.c registers its own standard target for NFPROTO_IPV6. */
const struct bf_ext bf_target_standard6 = {
	.kind = BF_EXT_TARGET,
	.name = XT_STANDARD_TARGET,
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(int),
};
