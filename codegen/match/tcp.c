// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tcp match (net/netfilter/xt_tcpudp.c, tcp_mt), registered like the kernel does: once for
 * NFPROTO_IPV4 and once for NFPROTO_IPV6, revision 0, .proto = IPPROTO_TCP.
 *
 * tcp_mt, in order:
 *   fragoff != 0: no match; on IPv4, fragoff == 1 (the kernel's offset in 8-byte units) is a
 *     hotdrop. (On IPv6 ipv6_find_hdr() reports the offset in bytes, a multiple of 8, so it is
 *     never 1.)
 *   fewer than 20 bytes of TCP header: hotdrop.
 *   source ports, destination ports, then (byte 13 & flg_mask) == flg_cmp, each with inversion.
 *   --tcp-option: doff*4 < 20 → hotdrop; then tcp_find_option() over the doff*4 - 20 option
 *     bytes: none → "invert"; bytes missing from the packet → hotdrop; otherwise the walk below.
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "../abi.h"
#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

#define TCP_HDR_LEN 20
#define TCP_OPT_MAX 40 /* doff is 4 bits: at most 60 - 20 bytes of options */

/* Options are copied to the stack scratch area; tcp_find_option's `_opt` buffer. */
#define OPT_BUF_OFF (-BF_STACK_SCRATCH_OFF)

_Static_assert(TCP_OPT_MAX <= BF_STACK_SCRATCH_SIZE, "tcp options do not fit the scratch area");

static int tcp_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct xt_tcp *info = data;

	/* tcp_mt_check: must specify no unknown invflags. */
	return (info->invflags & ~XT_TCP_INV_MASK) ? -EINVAL : 0;
}

/*
 * tcp_find_option() walks i over the option bytes: op[i] == option → found; op[i] < 2 → i++;
 * else i += op[i + 1] ?: 1. The walk is unrolled over the 40 possible positions with constant
 * stack offsets; R9 holds the position of the next option kind, so position p only acts when
 * R9 == p. R8 holds optlen. A length byte past optlen is never needed: any advance from the
 * last byte ends the walk.
 */
static void emit_option_walk(struct bf_builder *b, uint8_t option, bf_label found,
			     bf_label not_found)
{
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, 0));
	for (int p = 0; p < TCP_OPT_MAX; p++) {
		bf_label next = bf_label_new(b);

		bf_comment(b, "option byte %d", p);
		bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_8, p, not_found);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_9, p, next);
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, OPT_BUF_OFF + p));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, option, found);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_9, p + 1));
		if (p + 1 < TCP_OPT_MAX) {
			/* kinds 0 (EOL) and 1 (NOP) are one byte; the kernel goes on past EOL */
			bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 2, next);
			bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_8, p + 1, not_found);
			bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_10, OPT_BUF_OFF + p + 1));
			/* a length of 0 advances by 1, as R9 already says */
			bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 0, next);
			bf_emit(b, BF_MOV64_REG(BPF_REG_9, BPF_REG_2));
			bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_9, p));
		}
		bf_label_bind(b, next);
	}
	bf_emit_ja(b, not_found);
}

static void emit_option(struct bf_emit_ctx *ctx, uint8_t option, bool invert)
{
	struct bf_builder *b = ctx->b;
	bf_label found = bf_label_new(b);
	bf_label not_found = bf_label_new(b);
	bf_label done = bf_label_new(b);

	bf_comment(b, "--tcp-option %s%u", invert ? "! " : "", option);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_8, BPF_REG_7, BF_PKT_OFF(tcpdoff)));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_8, TCP_HDR_LEN, ctx->hotdrop);
	bf_emit(b, BF_ALU64_IMM(BPF_SUB, BPF_REG_8, TCP_HDR_LEN));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, 0, not_found);
	/* Never taken (doff*4 <= 60); it bounds the copy length for the verifier. */
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_8, TCP_OPT_MAX, ctx->hotdrop);
	bf_comment(b, "options beyond the packet: hotdrop");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(l4_len)));
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_8));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, TCP_HDR_LEN));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_2, BPF_REG_1, ctx->hotdrop);

	bf_comment(b, "copy the options to the stack");
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, BF_PKT_OFF(l4_off)));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, TCP_HDR_LEN));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, OPT_BUF_OFF));
	bf_emit(b, BF_MOV64_REG(BPF_REG_4, BPF_REG_8));
	bf_emit(b, BF_CALL(ctx->prog_ctx == BF_CTX_XDP ? BPF_FUNC_xdp_load_bytes
						       : BPF_FUNC_skb_load_bytes));
	/* The length was checked against l4_len; a failure here means the bytes are not there,
	 * which the kernel answers with a hotdrop too. */
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, ctx->hotdrop);

	emit_option_walk(b, option, found, not_found);

	bf_label_bind(b, not_found);
	if (invert)
		bf_emit_ja(b, done);
	else
		bf_emit_ja(b, ctx->miss);
	bf_label_bind(b, found);
	if (invert)
		bf_emit_ja(b, ctx->miss);
	bf_label_bind(b, done);
}

static enum bf_field flags_kind(uint8_t mask, uint8_t cmp, bool invert)
{
	/* Bits of cmp outside mask can never be equal; a zero mask compares 0 with cmp. */
	if (cmp & ~mask)
		return bf_field_const(invert);
	if (!mask)
		return bf_field_const(!invert);
	return BF_FIELD_EMIT;
}

static int tcp_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_tcp *info = data;
	struct bf_builder *b = ctx->b;
	bool inv_flags = info->invflags & XT_TCP_INV_FLAGS;
	enum bf_field k;

	bf_emit_l4_head(b, TCP_HDR_LEN, ctx->family == NFPROTO_IPV4, ctx->miss, ctx->hotdrop);

	k = bf_port_match_kind(info->spts[0], info->spts[1], info->invflags & XT_TCP_INV_SRCPT);
	if (k == BF_FIELD_NEVER) {
		bf_emit_never(b, ctx->miss);
		return bf_builder_err(b);
	}
	bf_emit_port_match(b, BF_PKT_OFF(sport), info->spts[0], info->spts[1],
			   info->invflags & XT_TCP_INV_SRCPT, ctx->miss);

	k = bf_port_match_kind(info->dpts[0], info->dpts[1], info->invflags & XT_TCP_INV_DSTPT);
	if (k == BF_FIELD_NEVER) {
		bf_emit_never(b, ctx->miss);
		return bf_builder_err(b);
	}
	bf_emit_port_match(b, BF_PKT_OFF(dport), info->dpts[0], info->dpts[1],
			   info->invflags & XT_TCP_INV_DSTPT, ctx->miss);

	k = flags_kind(info->flg_mask, info->flg_cmp, inv_flags);
	if (k == BF_FIELD_NEVER) {
		bf_emit_never(b, ctx->miss);
		return bf_builder_err(b);
	}
	if (k == BF_FIELD_EMIT) {
		bf_comment(b, "--tcp-flags %s0x%02x 0x%02x", inv_flags ? "! " : "", info->flg_mask,
			   info->flg_cmp);
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(tcpflags)));
		if (info->flg_mask != 0xff)
			bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_1, info->flg_mask));
		bf_emit_jmp_imm(b, inv_flags ? BPF_JEQ : BPF_JNE, BPF_REG_1, info->flg_cmp,
				ctx->miss);
	}

	if (info->option)
		emit_option(ctx, info->option, info->invflags & XT_TCP_INV_OPTION);
	return bf_builder_err(b);
}

const struct bf_ext bf_match_tcp = {
	.kind = BF_EXT_MATCH,
	.name = "tcp",
	.revision = 0,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct xt_tcp),
	.proto = IPPROTO_TCP,
	.check = tcp_check,
	.emit = tcp_emit,
};

const struct bf_ext bf_match_tcp6 = {
	.kind = BF_EXT_MATCH,
	.name = "tcp",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct xt_tcp),
	.proto = IPPROTO_TCP,
	.check = tcp_check,
	.emit = tcp_emit,
};
