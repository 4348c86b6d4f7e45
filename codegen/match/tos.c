// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tos match (net/netfilter/xt_dscp.c, tos_mt): the kernel registers revision 1 only (the
 * old ipt_tos revision 0 is gone), NFPROTO_IPV4 and NFPROTO_IPV6, matchsize
 * sizeof(struct xt_tos_match_info), no checkentry.
 *
 * tos_mt: ((dsfield & tos_mask) == tos_value) ^ !!invert.
 */
#include <linux/netfilter.h>
#include <linux/netfilter/xt_dscp.h>

#include "../ext.h"
#include "dsfield.h"

static int tos_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_tos_match_info *info = data;
	struct bf_builder *b = ctx->b;
	bool eq_matches = !info->invert;

	if (info->tos_value & ~info->tos_mask) {
		/* value bits outside the mask never compare equal */
		if (eq_matches)
			bf_emit_never(b, ctx->miss);
		return bf_builder_err(b);
	}
	if (!info->tos_mask) {
		if (!eq_matches)
			bf_emit_never(b, ctx->miss);
		return bf_builder_err(b);
	}
	bf_comment(b, "tos %s0x%02x/0x%02x", info->invert ? "! " : "", info->tos_value,
		   info->tos_mask);
	bf_emit_dsfield(ctx);
	if (info->tos_mask != 0xff)
		bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_1, info->tos_mask));
	bf_emit_jmp_imm(b, eq_matches ? BPF_JNE : BPF_JEQ, BPF_REG_1, info->tos_value, ctx->miss);
	return bf_builder_err(b);
}

const struct bf_ext bf_match_tos = {
	.kind = BF_EXT_MATCH,
	.name = "tos",
	.revision = 1,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct xt_tos_match_info),
	.emit = tos_emit,
};

const struct bf_ext bf_match_tos6 = {
	.kind = BF_EXT_MATCH,
	.name = "tos",
	.revision = 1,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct xt_tos_match_info),
	.emit = tos_emit,
};
