// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tcpmss match (net/netfilter/xt_tcpmss.c): revision 0, NFPROTO_IPV4 and NFPROTO_IPV6,
 * matchsize sizeof(struct xt_tcpmss_match_info), .proto = IPPROTO_TCP, no checkentry.
 *
 * tcpmss_mt reads the TCP header at the transport offset whatever the fragment offset (a non-first
 * fragment's payload is read as a header), in order:
 *   fewer than 20 bytes → hotdrop; doff*4 < 20 → hotdrop; no options → return invert;
 *   options beyond the packet → hotdrop;
 *   walk: at i, kind 2 with at least 4 bytes left and length byte 4 → return
 *     (mss_min <= mss <= mss_max) ^ invert; kind < 2 → i++; else i += op[i+1] ?: 1;
 *   not found → return invert. (invert is a u8 returned as a bool: > 1 always matches.)
 */
#include <linux/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_tcpmss.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

#define TCP_HDR_LEN 20
#define TCP_OPT_MAX 40
#define OPT_OFF (-BF_STACK_SCRATCH_OFF)

_Static_assert(TCP_OPT_MAX <= BF_STACK_SCRATCH_SIZE, "tcp options do not fit the scratch area");

/*
 * The walk, unrolled over the 40 option positions with constant stack offsets as in tcp.c: R9 is
 * the position of the next option kind, R8 optlen. At the MSS option, R1 = the MSS and jump to
 * `found`.
 */
static void emit_walk(struct bf_builder *b, bf_label found, bf_label not_found)
{
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, 0));
	for (int p = 0; p < TCP_OPT_MAX; p++) {
		bf_label next = bf_label_new(b);
		bf_label advance = bf_label_new(b);

		bf_comment(b, "option byte %d", p);
		bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_8, p, not_found);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_9, p, next);
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, OPT_OFF + p));
		if (p + 4 <= TCP_OPT_MAX) {
			/* kind 2, optlen - p >= 4, length byte 4 */
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 2, advance);
			bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_8, p + 4, advance);
			bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_10, OPT_OFF + p + 1));
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, 4, advance);
			/* byte by byte: the stack does not allow misaligned loads */
			bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, OPT_OFF + p + 2));
			bf_emit(b, BF_ALU32_IMM(BPF_LSH, BPF_REG_1, 8));
			bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_10, OPT_OFF + p + 3));
			bf_emit(b, BF_ALU32_REG(BPF_OR, BPF_REG_1, BPF_REG_2));
			bf_emit_ja(b, found);
		}
		bf_label_bind(b, advance);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_9, p + 1));
		if (p + 1 < TCP_OPT_MAX) {
			/* kinds 0 and 1 are one byte; a length byte past optlen ends the walk
			 * anyway */
			bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 2, next);
			bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_8, p + 1, not_found);
			bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_10, OPT_OFF + p + 1));
			bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 0, next);
			bf_emit(b, BF_MOV64_REG(BPF_REG_9, BPF_REG_2));
			bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_9, p));
		}
		bf_label_bind(b, next);
	}
	bf_emit_ja(b, not_found);
}

static int tcpmss_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_tcpmss_match_info *info = data;
	struct bf_builder *b = ctx->b;
	enum bf_inv inv = bf_inv_kind(info->invert);
	bf_label found = bf_label_new(b), not_found = bf_label_new(b), done = bf_label_new(b);

	bf_comment(b, "tcpmss: fewer than 20 bytes at the transport offset: hotdrop");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(l4_len)));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, TCP_HDR_LEN, ctx->hotdrop);
	bf_comment(b, "doff*4 < 20: hotdrop");
	bf_emit_load_pkt(b, ctx->prog_ctx, BF_PKT_OFF(l4_off), 12, OPT_OFF, 1, ctx->hotdrop);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_8, BPF_REG_10, OPT_OFF));
	bf_emit(b, BF_ALU32_IMM(BPF_RSH, BPF_REG_8, 4));
	bf_emit(b, BF_ALU32_IMM(BPF_LSH, BPF_REG_8, 2));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_8, TCP_HDR_LEN, ctx->hotdrop);
	bf_emit(b, BF_ALU64_IMM(BPF_SUB, BPF_REG_8, TCP_HDR_LEN));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, 0, not_found);
	/* never taken (doff*4 <= 60); bounds the copy for the verifier */
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_8, TCP_OPT_MAX, ctx->hotdrop);
	bf_comment(b, "options beyond the packet: hotdrop");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(l4_len)));
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_8));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, TCP_HDR_LEN));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_2, BPF_REG_1, ctx->hotdrop);
	bf_emit(b, BF_MOV64_REG(BPF_REG_4, BPF_REG_8));
	bf_emit_load_pkt_reg(b, ctx->prog_ctx, BF_PKT_OFF(l4_off), TCP_HDR_LEN, OPT_OFF,
			     ctx->hotdrop);

	emit_walk(b, found, not_found);

	bf_label_bind(b, found);
	bf_comment(b, "mss %s%u:%u", inv == BF_INV_INVERT ? "! " : "", info->mss_min,
		   info->mss_max);
	if (inv != BF_INV_ALWAYS)
		bf_emit_reg_range(b, BPF_REG_1, info->mss_min, info->mss_max, UINT16_MAX,
				  inv == BF_INV_PLAIN, ctx->miss);
	bf_emit_ja(b, done);
	bf_label_bind(b, not_found);
	/* no MSS option: return invert */
	if (inv == BF_INV_PLAIN)
		bf_emit_ja(b, ctx->miss);
	bf_label_bind(b, done);
	return bf_builder_err(b);
}

const struct bf_ext bf_match_tcpmss = {
	.kind = BF_EXT_MATCH,
	.name = "tcpmss",
	.revision = 0,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct xt_tcpmss_match_info),
	.proto = IPPROTO_TCP,
	.emit = tcpmss_emit,
};

const struct bf_ext bf_match_tcpmss6 = {
	.kind = BF_EXT_MATCH,
	.name = "tcpmss",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct xt_tcpmss_match_info),
	.proto = IPPROTO_TCP,
	.emit = tcpmss_emit,
};
