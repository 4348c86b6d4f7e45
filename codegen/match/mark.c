// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mark match (net/netfilter/xt_mark.c): revision 1, NFPROTO_UNSPEC, matchsize
 * sizeof(struct xt_mark_mtinfo1), no checkentry, no restriction.
 *
 * mark_mt: ((skb->mark & mask) == mark) ^ invert, returned as a bool (invert > 1 always matches).
 *
 * At TC the mark is __sk_buff.mark: only the filter table exists, so nothing between the hook and
 * TC (mangle, CONNMARK) can change it. At XDP there is no skb yet: the mark is 0, as the kernel's
 * freshly built skb will have it at INPUT.
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_mark.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

static int mark_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_mark_mtinfo1 *info = data;
	struct bf_builder *b = ctx->b;
	enum bf_inv inv = bf_inv_kind(info->invert);
	bool eq_matches = inv == BF_INV_PLAIN;

	if (inv == BF_INV_ALWAYS)
		return 0;
	if (ctx->prog_ctx == BF_CTX_XDP || (info->mark & ~info->mask)) {
		/* A constant: the mark is 0 at XDP; mark bits outside the mask never compare equal.
		 */
		bool eq = !(info->mark & ~info->mask) && info->mark == 0;

		if (eq != eq_matches)
			bf_emit_never(b, ctx->miss);
		return bf_builder_err(b);
	}
	bf_comment(b, "mark: (skb->mark & 0x%x) %s 0x%x", info->mask,
		   eq_matches ? "==" : "!=", info->mark);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, offsetof(struct __sk_buff, mark)));
	if (info->mask != UINT32_MAX)
		bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_1, (int32_t)info->mask));
	bf_emit_jmp32_imm(b, eq_matches ? BPF_JNE : BPF_JEQ, BPF_REG_1, (int32_t)info->mark,
			  ctx->miss);
	return bf_builder_err(b);
}

const struct bf_ext bf_match_mark = {
	.kind = BF_EXT_MATCH,
	.name = "mark",
	.revision = 1,
	.family = NFPROTO_UNSPEC,
	.size = sizeof(struct xt_mark_mtinfo1),
	.emit = mark_emit,
};
