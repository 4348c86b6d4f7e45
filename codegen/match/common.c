// SPDX-License-Identifier: GPL-2.0-only
#include "common.h"

#include "../bpf_insn.h"

void bf_emit_never(struct bf_builder *b, bf_label miss)
{
	bf_comment(b, "never matches");
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, 0));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, miss);
}

enum bf_field bf_port_match_kind(uint16_t min, uint16_t max, bool invert)
{
	/* An empty range holds no port; 0:65535 holds every port. */
	if (min > max)
		return bf_field_const(invert);
	if (min == 0 && max == UINT16_MAX)
		return bf_field_const(!invert);
	return BF_FIELD_EMIT;
}

void bf_emit_port_match(struct bf_builder *b, int16_t pkt_off, uint16_t min, uint16_t max,
			bool invert, bf_label miss)
{
	bf_label out;

	switch (bf_port_match_kind(min, max, invert)) {
	case BF_FIELD_ALWAYS:
		return;
	case BF_FIELD_NEVER:
		bf_emit_never(b, miss);
		return;
	case BF_FIELD_EMIT:
		break;
	}

	bf_comment(b, "port %s%u:%u", invert ? "! " : "", min, max);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, pkt_off));
	bf_emit(b, BF_BE(BPF_REG_1, 16));
	if (min == max) {
		bf_emit_jmp_imm(b, invert ? BPF_JEQ : BPF_JNE, BPF_REG_1, min, miss);
		return;
	}
	if (!invert) {
		if (min > 0)
			bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, min, miss);
		if (max < UINT16_MAX)
			bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_1, max, miss);
		return;
	}
	/* Inverted: the port must be outside [min, max]; at least one bound is not trivial. */
	out = bf_label_new(b);
	if (min > 0)
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, min, out);
	if (max < UINT16_MAX)
		bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_1, max, out);
	bf_emit_ja(b, miss);
	bf_label_bind(b, out);
}

void bf_emit_l4_head(struct bf_builder *b, uint32_t hdr_len, bool hotdrop_frag1, bf_label miss,
		     bf_label hotdrop)
{
	bf_comment(b, "non-first fragment: no match");
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(fragoff_h)));
	if (hotdrop_frag1) {
		bf_comment(b, "fragment at offset 1 (8 bytes): hotdrop");
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 1, hotdrop);
	}
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, miss);
	bf_comment(b, "transport header shorter than %u: hotdrop", hdr_len);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(l4_len)));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, (int32_t)hdr_len, hotdrop);
}

static void load_pkt_call(struct bf_builder *b, enum bf_prog_ctx pctx, int16_t base_off,
			  int32_t add, int16_t stack_off, bf_label fail)
{
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, base_off));
	if (add)
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, add));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, stack_off));
	bf_emit(b, BF_CALL(pctx == BF_CTX_XDP ? BPF_FUNC_xdp_load_bytes : BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, fail);
}

void bf_emit_load_pkt(struct bf_builder *b, enum bf_prog_ctx pctx, int16_t base_off, int32_t add,
		      int16_t stack_off, uint32_t len, bf_label fail)
{
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, (int32_t)len));
	load_pkt_call(b, pctx, base_off, add, stack_off, fail);
}

void bf_emit_load_pkt_reg(struct bf_builder *b, enum bf_prog_ctx pctx, int16_t base_off,
			  int32_t add, int16_t stack_off, bf_label fail)
{
	load_pkt_call(b, pctx, base_off, add, stack_off, fail);
}

void bf_emit_reg_range(struct bf_builder *b, uint8_t reg, uint32_t min, uint32_t max, uint32_t top,
		       bool want, bf_label miss)
{
	bf_label out;

	if (min > max) {
		if (want)
			bf_emit_never(b, miss);
		return;
	}
	if (min == 0 && max >= top) {
		if (!want)
			bf_emit_never(b, miss);
		return;
	}
	if (want) {
		if (min == max) {
			bf_emit_jmp32_imm(b, BPF_JNE, reg, (int32_t)min, miss);
			return;
		}
		if (min > 0)
			bf_emit_jmp32_imm(b, BPF_JLT, reg, (int32_t)min, miss);
		if (max < top)
			bf_emit_jmp32_imm(b, BPF_JGT, reg, (int32_t)max, miss);
		return;
	}
	if (min == max) {
		bf_emit_jmp32_imm(b, BPF_JEQ, reg, (int32_t)min, miss);
		return;
	}
	out = bf_label_new(b);
	if (min > 0)
		bf_emit_jmp32_imm(b, BPF_JLT, reg, (int32_t)min, out);
	if (max < top)
		bf_emit_jmp32_imm(b, BPF_JGT, reg, (int32_t)max, out);
	bf_emit_ja(b, miss);
	bf_label_bind(b, out);
}
