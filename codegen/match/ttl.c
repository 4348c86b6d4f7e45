// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ttl match and its IPv6 twin hl (net/netfilter/xt_hl.c): "ttl" revision 0 for NFPROTO_IPV4
 * (struct ipt_ttl_info), "hl" revision 0 for NFPROTO_IPV6 (struct ip6t_hl_info, same layout).
 *
 * checkentry: mode > GT → -EINVAL. match: EQ, NE, LT, GT of the header's TTL / hop limit.
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4/ipt_ttl.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

static int ttl_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct ipt_ttl_info *info = data;

	if (info->mode > IPT_TTL_GT) {
		bf_logf(ctx ? ctx->log : NULL, BF_LOG_INFO, "Unknown %s match mode: %d",
			ctx && ctx->family == NFPROTO_IPV6 ? "Hop Limit" : "TTL", info->mode);
		return -EINVAL;
	}
	return 0;
}

static int ttl_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct ipt_ttl_info *info = data;
	struct bf_builder *b = ctx->b;
	uint8_t op;

	switch (info->mode) {
	case IPT_TTL_EQ:
		op = BPF_JNE;
		break;
	case IPT_TTL_NE:
		op = BPF_JEQ;
		break;
	case IPT_TTL_LT:
		if (info->ttl == 0) {
			bf_emit_never(b, ctx->miss);
			return bf_builder_err(b);
		}
		op = BPF_JGE;
		break;
	case IPT_TTL_GT:
		if (info->ttl == UINT8_MAX) {
			bf_emit_never(b, ctx->miss);
			return bf_builder_err(b);
		}
		op = BPF_JLE;
		break;
	default:
		/* the kernel's switch falls out: false */
		bf_emit_never(b, ctx->miss);
		return bf_builder_err(b);
	}
	bf_comment(b, "ttl mode %u %u", info->mode, info->ttl);
	/* IPv6 too: the dispatcher keeps the hop limit in pkt->ttl, already decremented at
	 * FORWARD as ip6_forward() does before the hook (the packet still has the old one). */
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(ttl)));
	/* jump to miss when the relation does not hold */
	bf_emit_jmp_imm(b, op, BPF_REG_1, info->ttl, ctx->miss);
	return bf_builder_err(b);
}

const struct bf_ext bf_match_ttl = {
	.kind = BF_EXT_MATCH,
	.name = "ttl",
	.revision = 0,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct ipt_ttl_info),
	.check = ttl_check,
	.emit = ttl_emit,
};

const struct bf_ext bf_match_hl = {
	.kind = BF_EXT_MATCH,
	.name = "hl",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct ipt_ttl_info), /* struct ip6t_hl_info: mode, hop_limit */
	.check = ttl_check,
	.emit = ttl_emit,
};
