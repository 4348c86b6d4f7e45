// SPDX-License-Identifier: GPL-2.0-only
/*
 * The hbh and dst matches (net/ipv6/netfilter/ip6t_hbh.c, one match function for both):
 * revision 0, NFPROTO_IPV6, struct ip6t_opts.
 *
 * hbh_mt6: ipv6_find_hdr(NEXTHDR_HOP or NEXTHDR_DEST) fails → no match (hotdrop unless -ENOENT);
 * the 2-byte ipv6_opt_hdr missing → hotdrop; the packet shorter than ipv6_optlen() → hotdrop (as
 * a 6.18 kernel does with a crafted packet: tests/diff);
 * IP6T_OPTS_LEN: hdrlen equal ^ IP6T_OPTS_INV_LEN; IP6T_OPTS_OPTS: the first `optsnr` options
 * must be, in order, the listed types (and lengths, unless 0xFF), walked as the kernel walks
 * them. The list is known at compile time, so the walk is unrolled.
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv6/ip6t_opts.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"
#include "exthdr.h"

#define OPTS_SCRATCH (-BF_STACK_SCRATCH_OFF)

static int hbh_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct ip6t_opts *info = data;

	(void)ctx;
	/* hbh_mt6_check */
	if (info->invflags & ~IP6T_OPTS_INV_MASK)
		return -EINVAL;
	if (info->optsnr > IP6T_OPTS_OPTSNR)
		return -EINVAL;
	if (info->flags & IP6T_OPTS_NSTRICT)
		return -EINVAL;
	return 0;
}

/* One option of the strict list: R8 = its offset, R9 = bytes left in the header. */
static void emit_opt(struct bf_emit_ctx *ctx, uint16_t opt, bool last)
{
	struct bf_builder *b = ctx->b;
	uint8_t type = opt >> 8, spec_len = opt & 0xff;

	bf_comment(b, "option type %u length %u", type, spec_len);
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_9, 1, ctx->miss);
	bf_emit_x6_load(b, ctx->prog_ctx, 0, OPTS_SCRATCH, 1, ctx->miss);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, OPTS_SCRATCH));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, type, ctx->miss);
	if (type) {
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_9, 2, ctx->miss);
		bf_emit_x6_load(b, ctx->prog_ctx, 1, OPTS_SCRATCH, 1, ctx->miss);
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, OPTS_SCRATCH));
		if (spec_len != 0xff)
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, spec_len, ctx->miss);
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 2));
	} else {
		bf_emit(b, BF_MOV64_IMM(BPF_REG_1, 1)); /* Pad1 */
	}
	if (!last) {
		/* the next option must start inside the packet and the header */
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, BF_PKT_OFF(len)));
		bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_2, BPF_REG_8));
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_1, BPF_REG_2, ctx->miss);
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_1, BPF_REG_9, ctx->miss);
	}
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_8, BPF_REG_1));
	bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_9, BPF_REG_1));
}

static int opts_emit(struct bf_emit_ctx *ctx, const void *data, int16_t x6_off)
{
	const struct ip6t_opts *info = data;
	struct bf_builder *b = ctx->b;

	bf_emit_x6_find(b, x6_off, ctx->miss, ctx->hotdrop);
	bf_emit_x6_load(b, ctx->prog_ctx, 0, OPTS_SCRATCH, 2, ctx->hotdrop);
	bf_emit_x6_optlen(b, OPTS_SCRATCH, ctx->hotdrop);
	if (info->flags & IP6T_OPTS_LEN) {
		bf_comment(b, "length %s%u", info->invflags & IP6T_OPTS_INV_LEN ? "! " : "",
			   info->hdrlen);
		bf_emit_x6_eq(b, BPF_REG_9, info->hdrlen, 12, info->invflags & IP6T_OPTS_INV_LEN,
			      ctx->miss);
	}
	if (!(info->flags & IP6T_OPTS_OPTS))
		return bf_builder_err(b);
	bf_comment(b, "options start 2 bytes in");
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_8, 2));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_9, -2));
	for (unsigned int i = 0; i < info->optsnr && i < IP6T_OPTS_OPTSNR; i++)
		emit_opt(ctx, info->opts[i], i + 1 == info->optsnr);
	return bf_builder_err(b);
}

static int hbh_emit(struct bf_emit_ctx *ctx, const void *data)
{
	return opts_emit(ctx, data, BF_PKT_OFF(x6_hbh));
}

static int dst_emit(struct bf_emit_ctx *ctx, const void *data)
{
	return opts_emit(ctx, data, BF_PKT_OFF(x6_dst));
}

const struct bf_ext bf_match_hbh = {
	.kind = BF_EXT_MATCH,
	.name = "hbh",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct ip6t_opts),
	.check = hbh_check,
	.emit = hbh_emit,
};

const struct bf_ext bf_match_dst = {
	.kind = BF_EXT_MATCH,
	.name = "dst",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct ip6t_opts),
	.check = hbh_check,
	.emit = dst_emit,
};
