// SPDX-License-Identifier: GPL-2.0-only
#include "exthdr.h"

#include "../bpf_insn.h"
#include "common.h"

void bf_emit_x6_find(struct bf_builder *b, int16_t x6_off, bf_label miss, bf_label hotdrop)
{
	bf_label found = bf_label_new(b);

	bf_comment(b, "r8 = offset of the header (0: not found)");
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_8, BPF_REG_7, x6_off));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_8, 0, found);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(flags)));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, BF_PKT_F_X6_TRUNC, hotdrop);
	bf_emit_ja(b, miss);
	bf_label_bind(b, found);
}

void bf_emit_x6_load(struct bf_builder *b, enum bf_prog_ctx pctx, int32_t add, int16_t stack_off,
		     uint32_t len, bf_label fail)
{
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, BF_PKT_OFF(l3_off)));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, BPF_REG_8));
	if (add)
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, add));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, stack_off));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, (int32_t)len));
	bf_emit(b, BF_CALL(pctx == BF_CTX_XDP ? BPF_FUNC_xdp_load_bytes : BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, fail);
}

void bf_emit_x6_optlen(struct bf_builder *b, int16_t stack_off, bf_label miss)
{
	bf_comment(b, "r9 = (hdrlen + 1) * 8; if (len - r8 < r9) no match");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_9, BPF_REG_10, (int16_t)(stack_off + 1)));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_9, 1));
	bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_9, 3));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(len)));
	bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_1, BPF_REG_8));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_9, BPF_REG_1, miss);
}

void bf_emit_x6_eq(struct bf_builder *b, uint8_t reg, uint32_t val, unsigned int bits, bool invert,
		   bf_label miss)
{
	if (bits < 32 && val >> bits) {
		/* never equal */
		if (!invert)
			bf_emit_never(b, miss);
		return;
	}
	bf_emit_jmp32_imm(b, invert ? BPF_JEQ : BPF_JNE, reg, (int32_t)val, miss);
}
