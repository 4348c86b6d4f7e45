// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ipv6header match (net/ipv6/netfilter/ip6t_ipv6header.c): revision 0, NFPROTO_IPV6,
 * struct ip6t_ipv6header_info. It walks the chain itself, with its own rules (ESP ends the walk,
 * a non-first fragment does not), collecting a mask of the header kinds seen:
 *   soft (modeflag): !((seen ^ matchflags ^ invflags) & matchflags)
 *   hard: seen == matchflags, or != when invflags (0 or 0xFF, checked)
 * The walk is unrolled for BF_IP6H_WALK_MAX headers; a longer chain hotdrops (fail closed).
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv6/ip6t_ipv6header.h>

#include <bpfilter/cleanup.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"
#include "exthdr.h"

#define BF_IP6H_WALK_MAX 8
#define IP6H_SCRATCH (-BF_STACK_SCRATCH_OFF)
#define IP6H_SEEN (-BF_STACK_SCRATCH_OFF + 8) /* u64: the mask of headers seen */

static int ipv6header_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct ip6t_ipv6header_info *info = data;

	(void)ctx;
	if (!info->modeflag && info->invflags != 0x00 && info->invflags != 0xFF)
		return -EINVAL;
	return 0;
}

static void emit_seen_or(struct bf_builder *b, uint32_t mask)
{
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_10, IP6H_SEEN));
	bf_emit(b, BF_ALU64_IMM(BPF_OR, BPF_REG_1, (int32_t)mask));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, IP6H_SEEN));
}

static int ipv6header_emit(struct bf_emit_ctx *ctx, const void *data)
{
	static const struct {
		int nexthdr;
		uint32_t mask;
	} kinds[] = {{0, MASK_HOPOPTS},
		     {43, MASK_ROUTING},
		     {44, MASK_FRAGMENT},
		     {51, MASK_AH},
		     {60, MASK_DSTOPTS}};
	const struct ip6t_ipv6header_info *info = data;
	struct bf_builder *b = ctx->b;
	bf_label done = bf_label_new(b), esp = bf_label_new(b), none = bf_label_new(b);
	bf_label proto = bf_label_new(b), eval = bf_label_new(b);

	bf_comment(b, "r9 = ip6h->nexthdr; r8 = 40; seen = 0");
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, IP6H_SEEN, 0));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_8, 0));
	bf_emit_x6_load(b, ctx->prog_ctx, 6, IP6H_SCRATCH, 1, ctx->hotdrop);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_9, BPF_REG_10, IP6H_SCRATCH));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_8, 40));
	for (int i = 0; i < BF_IP6H_WALK_MAX; i++) {
		bf_label next = bf_label_new(b), ext = bf_label_new(b);

		for (size_t k = 0; k < BF_ARRAY_SIZE(kinds); k++)
			bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_9, kinds[k].nexthdr, ext);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_9, 59, none);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_9, 50, done);
		bf_label_bind(b, ext);
		bf_comment(b, "fewer than 2 bytes left: no match");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(len)));
		bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_1, BPF_REG_8));
		bf_emit_jmp_imm(b, BPF_JSLT, BPF_REG_1, 2, ctx->miss);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_9, 50, esp);
		bf_emit_x6_load(b, ctx->prog_ctx, 0, IP6H_SCRATCH, 2, ctx->hotdrop);
		for (size_t k = 0; k < BF_ARRAY_SIZE(kinds); k++) {
			bf_label skip = bf_label_new(b);

			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_9, kinds[k].nexthdr, skip);
			emit_seen_or(b, kinds[k].mask);
			bf_label_bind(b, skip);
		}
		bf_comment(b, "r1 = header length");
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, IP6H_SCRATCH + 1));
		bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_1));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 1));
		bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_1, 3));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_9, 51, next);
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 2));
		bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_2, 2));
		bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_2));
		bf_label_bind(b, next);
		{
			bf_label nf = bf_label_new(b);

			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_9, 44, nf);
			bf_emit(b, BF_MOV64_IMM(BPF_REG_1, 8));
			bf_label_bind(b, nf);
		}
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_9, BPF_REG_10, IP6H_SCRATCH));
		bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_8, BPF_REG_1));
		bf_comment(b, "past the end of the packet: evaluate");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(len)));
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_8, BPF_REG_1, done);
	}
	bf_comment(b, "longer chain than the walk follows: fail closed");
	bf_emit_ja(b, ctx->hotdrop);

	bf_label_bind(b, esp);
	emit_seen_or(b, MASK_ESP);
	bf_emit_ja(b, eval);
	bf_label_bind(b, none);
	emit_seen_or(b, MASK_NONE);
	bf_emit_ja(b, eval);
	bf_label_bind(b, done);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_9, 59, eval);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_9, 50, eval);
	bf_label_bind(b, proto);
	emit_seen_or(b, MASK_PROTO);
	bf_label_bind(b, eval);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_10, IP6H_SEEN));
	if (info->modeflag) {
		bf_comment(b, "soft: !((seen ^ %#x ^ %#x) & %#x)", info->matchflags, info->invflags,
			   info->matchflags);
		bf_emit(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_1,
					(int32_t)(info->matchflags ^ info->invflags)));
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, info->matchflags, ctx->miss);
	} else {
		bf_comment(b, "hard: seen %s %#x", info->invflags ? "!=" : "==", info->matchflags);
		bf_emit_jmp_imm(b, info->invflags ? BPF_JEQ : BPF_JNE, BPF_REG_1, info->matchflags,
				ctx->miss);
	}
	return bf_builder_err(b);
}

const struct bf_ext bf_match_ipv6header = {
	.kind = BF_EXT_MATCH,
	.name = "ipv6header",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct ip6t_ipv6header_info),
	.check = ipv6header_check,
	.emit = ipv6header_emit,
};
