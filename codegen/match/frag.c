// SPDX-License-Identifier: GPL-2.0-only
/*
 * The frag match (net/ipv6/netfilter/ip6t_frag.c): revision 0, NFPROTO_IPV6, struct ip6t_frag.
 *
 * frag_mt6: ipv6_find_hdr(NEXTHDR_FRAGMENT) fails → no match (hotdrop unless -ENOENT); the
 * 8-byte frag_hdr missing → hotdrop; then identification in ids[0..1] ^ IP6T_FRAG_INV_IDS (always
 * tested), IP6T_FRAG_RES: reserved byte and bits 1-2 zero, IP6T_FRAG_FST: offset 0,
 * IP6T_FRAG_MF: M set, IP6T_FRAG_NMF: M clear. --fraglen (IP6T_FRAG_LEN) is accepted and not
 * tested, as in the kernel.
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv6/ip6t_frag.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"
#include "exthdr.h"

#define FRAG_SCRATCH (-BF_STACK_SCRATCH_OFF)

static int frag_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct ip6t_frag *info = data;

	(void)ctx;
	return (info->invflags & ~IP6T_FRAG_INV_MASK) ? -EINVAL : 0;
}

static int frag_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct ip6t_frag *info = data;
	struct bf_builder *b = ctx->b;

	bf_emit_x6_find(b, BF_PKT_OFF(x6_frag), ctx->miss, ctx->hotdrop);
	/* skb_header_pointer() sees the packet trimmed to its payload length; at TC the frame
	 * may hold more (link padding): the 8 bytes must be inside the IPv6 packet. */
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(len)));
	bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_1, BPF_REG_8));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 8, ctx->hotdrop);
	bf_emit_x6_load(b, ctx->prog_ctx, 0, FRAG_SCRATCH, 8, ctx->hotdrop);

	bf_comment(b, "id %s%u:%u", info->invflags & IP6T_FRAG_INV_IDS ? "! " : "", info->ids[0],
		   info->ids[1]);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FRAG_SCRATCH + 4));
	bf_emit(b, BF_BE(BPF_REG_1, 32));
	bf_emit_reg_range(b, BPF_REG_1, info->ids[0], info->ids[1], UINT32_MAX,
			  !(info->invflags & IP6T_FRAG_INV_IDS), ctx->miss);
	/* r2 = ntohs(frag_off) */
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_2, BPF_REG_10, FRAG_SCRATCH + 2));
	bf_emit(b, BF_BE(BPF_REG_2, 16));
	if (info->flags & IP6T_FRAG_RES) {
		bf_comment(b, "reserved fields are zero");
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FRAG_SCRATCH + 1));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, ctx->miss);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_2, 0x6, ctx->miss);
	}
	if (info->flags & IP6T_FRAG_FST) {
		bf_comment(b, "first fragment: offset 0");
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_2, 0xfff8, ctx->miss);
	}
	if (info->flags & IP6T_FRAG_MF) {
		bf_label ok = bf_label_new(b);

		bf_comment(b, "more fragments");
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_2, 0x1, ok);
		bf_emit_ja(b, ctx->miss);
		bf_label_bind(b, ok);
	}
	if (info->flags & IP6T_FRAG_NMF) {
		bf_comment(b, "last fragment");
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_2, 0x1, ctx->miss);
	}
	return bf_builder_err(b);
}

const struct bf_ext bf_match_frag = {
	.kind = BF_EXT_MATCH,
	.name = "frag",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct ip6t_frag),
	.check = frag_check,
	.emit = frag_emit,
};
