/* SPDX-License-Identifier: GPL-2.0-only */
/* Instruction constructors for struct bpf_insn. Jumps are not here: they go through labels
 * (builder.h), so no code ever writes a raw jump offset. */
#ifndef BF_BPF_INSN_H
#define BF_BPF_INSN_H

#include <linux/bpf.h>

#define BF_INSN(c, d, s, o, i)                                                                    \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

/* ALU */
#define BF_ALU64_REG(op, d, s) BF_INSN(BPF_ALU64 | BPF_OP(op) | BPF_X, d, s, 0, 0)
#define BF_ALU64_IMM(op, d, i) BF_INSN(BPF_ALU64 | BPF_OP(op) | BPF_K, d, 0, 0, i)
#define BF_ALU32_REG(op, d, s) BF_INSN(BPF_ALU | BPF_OP(op) | BPF_X, d, s, 0, 0)
#define BF_ALU32_IMM(op, d, i) BF_INSN(BPF_ALU | BPF_OP(op) | BPF_K, d, 0, 0, i)
#define BF_MOV64_REG(d, s) BF_INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define BF_MOV64_IMM(d, i) BF_INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define BF_MOV32_REG(d, s) BF_INSN(BPF_ALU | BPF_MOV | BPF_X, d, s, 0, 0)
#define BF_MOV32_IMM(d, i) BF_INSN(BPF_ALU | BPF_MOV | BPF_K, d, 0, 0, i)
/* Byte swap to big endian (network order) of the low `bits` bits. */
#define BF_BE(d, bits) BF_INSN(BPF_ALU | BPF_END | BPF_TO_BE, d, 0, 0, bits)

/* Memory: size is BPF_B, BPF_H, BPF_W or BPF_DW. */
#define BF_LDX_MEM(sz, d, s, o) BF_INSN(BPF_LDX | BPF_SIZE(sz) | BPF_MEM, d, s, o, 0)
#define BF_STX_MEM(sz, d, s, o) BF_INSN(BPF_STX | BPF_SIZE(sz) | BPF_MEM, d, s, o, 0)
#define BF_ST_MEM(sz, d, o, i) BF_INSN(BPF_ST | BPF_SIZE(sz) | BPF_MEM, d, 0, o, i)
/* *(u64 *)(d + o) += s, atomically */
#define BF_ATOMIC_ADD64(d, s, o) BF_INSN(BPF_STX | BPF_DW | BPF_ATOMIC, d, s, o, BPF_ADD)

/* Calls and exit */
#define BF_CALL(helper) BF_INSN(BPF_JMP | BPF_CALL, 0, 0, 0, helper)
#define BF_EXIT() BF_INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* The two halves of a 64-bit immediate load (emit both, in order). */
#define BF_LD_IMM64_LO(d, s, v) BF_INSN(BPF_LD | BPF_DW | BPF_IMM, d, s, 0, (__u32)(v))
#define BF_LD_IMM64_HI(v) BF_INSN(0, 0, 0, 0, (__u32)((__u64)(v) >> 32))

#endif /* BF_BPF_INSN_H */
