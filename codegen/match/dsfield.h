/* SPDX-License-Identifier: GPL-2.0-only */
/* The DS field (IPv4 TOS byte, IPv6 traffic class) for the dscp and tos matches. */
#ifndef BF_MATCH_DSFIELD_H
#define BF_MATCH_DSFIELD_H

#include <linux/netfilter.h>

#include "../bpf_insn.h"
#include "common.h"

/* R1 = the DS field. IPv4: bf_pkt.tos. IPv6: the 8 bits after the version nibble. Clobbers
 * R0-R5. */
static inline void bf_emit_dsfield(struct bf_emit_ctx *ctx)
{
	struct bf_builder *b = ctx->b;

	if (ctx->family != NFPROTO_IPV6) {
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(tos)));
		return;
	}
	bf_emit_load_pkt(b, ctx->prog_ctx, BF_PKT_OFF(l3_off), 0, -BF_STACK_SCRATCH_OFF, 2,
			 ctx->miss);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, -BF_STACK_SCRATCH_OFF));
	bf_emit(b, BF_BE(BPF_REG_1, 16));
	bf_emit(b, BF_ALU32_IMM(BPF_RSH, BPF_REG_1, 4));
	bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_1, 0xff));
}

#endif /* BF_MATCH_DSFIELD_H */
