// SPDX-License-Identifier: GPL-2.0-only
/*
 * The icmp match (net/ipv4/netfilter/ip_tables.c, icmp_match), registered by ip_tables for
 * NFPROTO_IPV4 only, revision 0, .proto = IPPROTO_ICMP.
 *
 * icmp_match: fragoff != 0 → no match; fewer than 8 bytes (struct icmphdr) → hotdrop; then
 * icmp_type_code_match(): (type == 0xFF || (type matches && min <= code <= max)) ^ IPT_ICMP_INV.
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4/ip_tables.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

#define ICMP_HDR_LEN 8 /* sizeof(struct icmphdr) */
#define ICMP_TYPE_ANY 0xFF

static int icmp_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct ipt_icmp *info = data;

	/* icmp_checkentry: must specify no unknown invflags. */
	return (info->invflags & ~IPT_ICMP_INV) ? -EINVAL : 0;
}

static int icmp_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct ipt_icmp *info = data;
	struct bf_builder *b = ctx->b;
	bool invert = info->invflags & IPT_ICMP_INV;
	uint8_t min = info->code[0], max = info->code[1];
	bf_label no;

	bf_emit_l4_head(b, ICMP_HDR_LEN, false, ctx->miss, ctx->hotdrop);

	if (info->type == ICMP_TYPE_ANY || min > max) {
		/* "any" always holds; an empty code range never does. */
		if ((info->type == ICMP_TYPE_ANY) == invert)
			bf_emit_never(b, ctx->miss);
		return bf_builder_err(b);
	}

	/* `no`: the type/code test is false. */
	no = invert ? bf_label_new(b) : ctx->miss;
	bf_comment(b, "icmp %stype %u code %u:%u", invert ? "! " : "", info->type, min, max);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(icmp_type)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, info->type, no);
	if (min > 0 || max < UINT8_MAX)
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(icmp_code)));
	if (min > 0)
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, min, no);
	if (max < UINT8_MAX)
		bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_1, max, no);
	if (invert) {
		bf_emit_ja(b, ctx->miss);
		bf_label_bind(b, no);
	}
	return bf_builder_err(b);
}

const struct bf_ext bf_match_icmp = {
	.kind = BF_EXT_MATCH,
	.name = "icmp",
	.revision = 0,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct ipt_icmp),
	.proto = IPPROTO_ICMP,
	.check = icmp_check,
	.emit = icmp_emit,
};
