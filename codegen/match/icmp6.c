// SPDX-License-Identifier: GPL-2.0-only
/*
 * The icmp6 match (net/ipv6/netfilter/ip6_tables.c, icmp6_match), registered by ip6_tables for
 * NFPROTO_IPV6 only, revision 0, .proto = IPPROTO_ICMPV6.
 *
 * icmp6_match: fragoff != 0 → no match; fewer than 8 bytes (struct icmp6hdr) at the transport
 * offset → hotdrop; then icmp6_type_code_match(): (type matches && min <= code <= max) ^
 * IP6T_ICMP_INV. Unlike icmp there is no "any" type: 0xFF only matches type 255.
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

#define ICMP6_HDR_LEN 8 /* sizeof(struct icmp6hdr) */

static int icmp6_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct ip6t_icmp *info = data;

	(void)ctx;
	/* icmp6_checkentry: must specify no unknown invflags. */
	return (info->invflags & ~IP6T_ICMP_INV) ? -EINVAL : 0;
}

static int icmp6_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct ip6t_icmp *info = data;
	struct bf_builder *b = ctx->b;
	bool invert = info->invflags & IP6T_ICMP_INV;
	uint8_t min = info->code[0], max = info->code[1];
	bf_label no;

	/* The dispatcher found the upper-layer header after the extension headers, as
	 * ipv6_find_hdr() does; pkt->fragoff_h and l4_len describe it. */
	bf_emit_l4_head(b, ICMP6_HDR_LEN, false, ctx->miss, ctx->hotdrop);

	if (min > max) {
		/* An empty code range never holds. */
		if (!invert)
			bf_emit_never(b, ctx->miss);
		return bf_builder_err(b);
	}

	/* `no`: the type/code test is false. */
	no = invert ? bf_label_new(b) : ctx->miss;
	bf_comment(b, "icmp6 %stype %u code %u:%u", invert ? "! " : "", info->type, min, max);
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

const struct bf_ext bf_match_icmp6 = {
	.kind = BF_EXT_MATCH,
	.name = "icmp6",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct ip6t_icmp),
	.proto = IPPROTO_ICMPV6,
	.check = icmp6_check,
	.emit = icmp6_emit,
};
