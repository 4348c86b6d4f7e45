// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state match (net/netfilter/xt_state.c, state_mt) on the packet's ctinfo as the
 * dispatcher's tracker decided it (codegen/ct.c, doc/conntrack.md), IPv4 and IPv6. Registered as
 * the kernel registers it: revision 0, NFPROTO_UNSPEC, no restriction; checkentry only takes a
 * reference on the namespace's conntrack, so every payload is accepted. iptables sends
 * `-m state` as conntrack revision 3 and this revision only when the kernel lacks that one.
 */
#include <errno.h>
#include <stddef.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_state.h>

#include "../abi.h"
#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

/* state_mt: (statemask & statebit) != 0; INVALID and UNTRACKED have their own bits. */
static int state_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_state_info *si = data;
	struct bf_builder *b = ctx->b;
	bf_label bit = bf_label_new(b);

	if (ctx->family != NFPROTO_IPV4 && ctx->family != NFPROTO_IPV6)
		return -EOPNOTSUPP;
	bf_comment(b, "state 0x%x (UNTRACKED has its own bit here)", si->statemask);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(ct_state)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, XT_CONNTRACK_STATE_UNTRACKED, bit);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, XT_STATE_UNTRACKED));
	bf_label_bind(b, bit);
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, (int32_t)si->statemask));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, ctx->miss);
	return bf_builder_err(b);
}

_Static_assert(XT_STATE_INVALID == XT_CONNTRACK_STATE_INVALID, "same INVALID bit");
_Static_assert(XT_STATE_BIT(IP_CT_NEW) == XT_CONNTRACK_STATE_BIT(IP_CT_NEW), "same state bits");

const struct bf_ext bf_match_state = {
	.kind = BF_EXT_MATCH,
	.name = "state",
	.revision = 0,
	.family = NFPROTO_UNSPEC,
	.size = sizeof(struct xt_state_info),
	.conntrack = true,
	.emit = state_emit,
};
