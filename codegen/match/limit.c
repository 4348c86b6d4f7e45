// SPDX-License-Identifier: GPL-2.0-only
/*
 * The limit match (net/netfilter/xt_limit.c): revision 0, NFPROTO_UNSPEC, matchsize
 * sizeof(struct xt_rateinfo), usersize offsetof(struct xt_rateinfo, prev).
 *
 * limit_mt_check: burst 0, or user2credits(avg * burst) < user2credits(avg) (u32 arithmetic,
 * so an overflowing product) -> -ERANGE. It allocates the rule's state with credit full
 * (user2credits(avg * burst)) and prev = jiffies; credit_cap and cost are computed unless the
 * blob's cost is not 0, in which case the blob's credit_cap and cost are used as they are.
 *
 * limit_mt, lock-free as in the kernel:
 *	if (credit < cost && prev == jiffies) return false;
 *	do {
 *		now = jiffies;
 *		credit_increase += (now - xchg(&prev, now)) * CREDITS_PER_JIFFY;  (u32)
 *		old = credit; new = old + credit_increase;                         (u32, wraps)
 *		if (new > credit_cap) new = credit_cap;
 *		ret = new >= cost; if (ret) new -= cost;
 *	} while (cmpxchg(&credit, old, new) != old);
 * The state is the generation's bf_xrule entry of this (entry, match) (codegen/extstate.h),
 * filled when the generation is built: the first packet's prev is its own jiffies, which is
 * what the kernel computes too unless the blob's credit_cap exceeds the initial credit. The
 * retry loop is unrolled BF_LIMIT_TRIES times; a packet that loses every race does not match.
 */
#include <errno.h>
#include <stddef.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_limit.h>

#include "../bpf_insn.h"
#include "../extstate.h"
#include "../ext.h"
#include "common.h"

#define BF_LIMIT_TRIES 8
#define KEY_OFF (-BF_STACK_SCRATCH_OFF) /* struct bf_xrule_key */
#define INC_OFF (KEY_OFF + 8)		/* u32 credit_increase */

#define ST_PREV ((int16_t)offsetof(struct bf_limit_state, prev))
#define ST_CREDIT ((int16_t)offsetof(struct bf_limit_state, credit))

#define BF_ATOMIC(sz, d, s, o, op) BF_INSN(BPF_STX | BPF_SIZE(sz) | BPF_ATOMIC, d, s, o, op)

static int limit_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct xt_rateinfo *r = data;
	uint32_t hz;
	int err;

	err = bf_kernel_hz(ctx->log, &hz);
	if (err)
		return err;
	if (r->burst == 0 ||
	    bf_limit_user2credits(hz, r->avg * r->burst) < bf_limit_user2credits(hz, r->avg)) {
		bf_logf(ctx->log, BF_LOG_INFO, "xt_limit: Overflow, try lower: %u/%u", r->avg,
			r->burst);
		return -ERANGE;
	}
	return 0;
}

static int limit_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_rateinfo *r = data;
	struct bf_builder *b = ctx->b;
	bf_label slow, done;
	uint32_t pos, cap, cost, hz;
	int err;

	err = bf_xrule_match_pos(ctx->entry, data, &pos);
	if (!err)
		err = bf_limit_init(ctx->log, data, NULL, &cap, &cost);
	if (!err)
		err = bf_kernel_hz(ctx->log, &hz);
	if (err) {
		bf_builder_set_err(b, err);
		return err;
	}
	slow = bf_label_new(b);
	done = bf_label_new(b);

	bf_comment(b, "limit avg %u burst %u: cap %u cost %u", r->avg, r->burst, cap, cost);
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, KEY_OFF, (int32_t)ctx->entry->index));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, KEY_OFF + 4, (int32_t)pos));
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_XRULE);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, KEY_OFF));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, ctx->miss);
	bf_emit(b, BF_MOV64_REG(BPF_REG_8, BPF_REG_0));

	bf_comment(b, "fast path: credit < cost && prev == jiffies -> no match");
	bf_emit(b, BF_CALL(BPF_FUNC_jiffies64));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_8, ST_CREDIT));
	bf_emit_jmp32_imm(b, BPF_JGE, BPF_REG_1, (int32_t)cost, slow);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_8, ST_PREV));
	bf_emit_jmp_reg(b, BPF_JEQ, BPF_REG_1, BPF_REG_0, ctx->miss);
	bf_label_bind(b, slow);
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, INC_OFF, 0));

	for (int t = 0; t < BF_LIMIT_TRIES; t++) {
		bf_label fresh = bf_label_new(b), capped = bf_label_new(b);
		bf_label poor = bf_label_new(b);

		bf_comment(b, "try %d: now = jiffies; inc += (now - xchg(&prev, now)) * %u", t,
			   bf_limit_cpj(hz));
		bf_emit(b, BF_CALL(BPF_FUNC_jiffies64));
		bf_emit(b, BF_MOV64_REG(BPF_REG_9, BPF_REG_0));
		bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_0));
		bf_emit(b, BF_ATOMIC(BPF_DW, BPF_REG_8, BPF_REG_1, ST_PREV, BPF_XCHG));
		/* prev 0: the rule's first packet, prev is now */
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, fresh);
		bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_9));
		bf_label_bind(b, fresh);
		bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_9));
		bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_2, BPF_REG_1));
		bf_emit(b, BF_ALU64_IMM(BPF_MUL, BPF_REG_2, (int32_t)bf_limit_cpj(hz)));
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_3, BPF_REG_10, INC_OFF));
		bf_emit(b, BF_ALU32_REG(BPF_ADD, BPF_REG_3, BPF_REG_2));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_3, INC_OFF));
		bf_comment(b, "new = min(old + inc, cap)");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_0, BPF_REG_8, ST_CREDIT));
		bf_emit(b, BF_MOV32_REG(BPF_REG_1, BPF_REG_0));
		bf_emit(b, BF_MOV32_REG(BPF_REG_4, BPF_REG_0));
		bf_emit(b, BF_ALU32_REG(BPF_ADD, BPF_REG_4, BPF_REG_3));
		bf_emit_jmp32_imm(b, BPF_JLE, BPF_REG_4, (int32_t)cap, capped);
		bf_emit(b, BF_MOV32_IMM(BPF_REG_4, (int32_t)cap));
		bf_label_bind(b, capped);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_5, 0));
		bf_emit_jmp32_imm(b, BPF_JLT, BPF_REG_4, (int32_t)cost, poor);
		bf_emit(b, BF_ALU32_IMM(BPF_SUB, BPF_REG_4, (int32_t)cost));
		bf_emit(b, BF_MOV64_IMM(BPF_REG_5, 1));
		bf_label_bind(b, poor);
		bf_comment(b, "cmpxchg(&credit, old, new) == old -> done");
		bf_emit(b, BF_ATOMIC(BPF_W, BPF_REG_8, BPF_REG_4, ST_CREDIT, BPF_CMPXCHG));
		bf_emit_jmp_reg(b, BPF_JEQ, BPF_REG_0, BPF_REG_1, done);
	}
	/* Every try lost a race: no match (cannot loop without bound in BPF). */
	bf_emit_never(b, ctx->miss);
	bf_label_bind(b, done);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_5, 0, ctx->miss);
	return bf_builder_err(b);
}

const struct bf_ext bf_match_limit = {
	.kind = BF_EXT_MATCH,
	.name = "limit",
	.revision = 0,
	.family = NFPROTO_UNSPEC,
	.size = sizeof(struct xt_rateinfo),
	.usersize = offsetof(struct xt_rateinfo, prev),
	.check = limit_check,
	.emit = limit_emit,
};
