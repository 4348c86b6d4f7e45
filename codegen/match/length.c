// SPDX-License-Identifier: GPL-2.0-only
/*
 * The length match (net/netfilter/xt_length.c): revision 0, registered for NFPROTO_IPV4 and
 * NFPROTO_IPV6, matchsize sizeof(struct xt_length_info), no checkentry.
 *
 * length_mt: pktlen = ntohs(iph->tot_len); (min <= pktlen <= max) ^ invert (a bool: invert > 1
 * always matches). The header's tot_len is read, not the skb length: they differ for BIG TCP
 * super-packets (tot_len 0) and at egress. length_mt6: the u16 sum payload_len + 40.
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_length.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

#define LEN_OFF (-BF_STACK_SCRATCH_OFF)

static int length_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_length_info *info = data;
	struct bf_builder *b = ctx->b;
	enum bf_inv inv = bf_inv_kind(info->invert);

	if (inv == BF_INV_ALWAYS)
		return 0;
	bf_comment(b, "length %s%u:%u", inv == BF_INV_INVERT ? "! " : "", info->min, info->max);
	if (ctx->family == NFPROTO_IPV6) {
		/* payload_len at offset 4 of the IPv6 header */
		bf_emit_load_pkt(b, ctx->prog_ctx, BF_PKT_OFF(l3_off), 4, LEN_OFF, 2, ctx->miss);
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, LEN_OFF));
		bf_emit(b, BF_BE(BPF_REG_1, 16));
		bf_emit(b, BF_ALU32_IMM(BPF_ADD, BPF_REG_1, 40));
		bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_1, 0xffff));
	} else {
		/* tot_len at offset 2; the dispatcher checked that the IP header is there */
		bf_emit_load_pkt(b, ctx->prog_ctx, BF_PKT_OFF(l3_off), 2, LEN_OFF, 2, ctx->miss);
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, LEN_OFF));
		bf_emit(b, BF_BE(BPF_REG_1, 16));
	}
	bf_emit_reg_range(b, BPF_REG_1, info->min, info->max, UINT16_MAX, inv == BF_INV_PLAIN,
			  ctx->miss);
	return bf_builder_err(b);
}

const struct bf_ext bf_match_length = {
	.kind = BF_EXT_MATCH,
	.name = "length",
	.revision = 0,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct xt_length_info),
	.emit = length_emit,
};

const struct bf_ext bf_match_length6 = {
	.kind = BF_EXT_MATCH,
	.name = "length",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct xt_length_info),
	.emit = length_emit,
};
