// SPDX-License-Identifier: GPL-2.0-only
/*
 * The dscp match (net/netfilter/xt_dscp.c): revision 0, NFPROTO_IPV4 and NFPROTO_IPV6, matchsize
 * sizeof(struct xt_dscp_info).
 *
 * dscp_mt_check: dscp > 0x3f → -EDOM. dscp_mt: ((dsfield >> 2) == dscp) ^ !!invert.
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_dscp.h>

#include "../ext.h"
#include "dsfield.h"

static int dscp_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct xt_dscp_info *info = data;

	if (info->dscp > XT_DSCP_MAX) {
		bf_logf(ctx ? ctx->log : NULL, BF_LOG_INFO, "dscp %x out of range", info->dscp);
		return -EDOM;
	}
	return 0;
}

static int dscp_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_dscp_info *info = data;
	struct bf_builder *b = ctx->b;

	bf_comment(b, "dscp %s0x%02x", info->invert ? "! " : "", info->dscp);
	bf_emit_dsfield(ctx);
	bf_emit(b, BF_ALU32_IMM(BPF_RSH, BPF_REG_1, XT_DSCP_SHIFT));
	bf_emit_jmp_imm(b, info->invert ? BPF_JEQ : BPF_JNE, BPF_REG_1, info->dscp, ctx->miss);
	return bf_builder_err(b);
}

const struct bf_ext bf_match_dscp = {
	.kind = BF_EXT_MATCH,
	.name = "dscp",
	.revision = 0,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct xt_dscp_info),
	.check = dscp_check,
	.emit = dscp_emit,
};

const struct bf_ext bf_match_dscp6 = {
	.kind = BF_EXT_MATCH,
	.name = "dscp",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct xt_dscp_info),
	.check = dscp_check,
	.emit = dscp_emit,
};
