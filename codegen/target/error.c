// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ERROR target: user chain heads and the table's tail. In the kernel (ipt_error) a packet that
 * reaches one is dropped; the chain compiler emits that.
 */
#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>

#include "../ext.h"

const struct bf_ext bf_target_error = {
	.kind = BF_EXT_TARGET,
	.name = XT_ERROR_TARGET,
	.revision = 0,
	.family = NFPROTO_IPV4,
	.size = XT_FUNCTION_MAXNAMELEN,
};

/* ip6_tables.c registers its own ERROR target (ip6t_error) for NFPROTO_IPV6. */
const struct bf_ext bf_target_error6 = {
	.kind = BF_EXT_TARGET,
	.name = XT_ERROR_TARGET,
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = XT_FUNCTION_MAXNAMELEN,
};
