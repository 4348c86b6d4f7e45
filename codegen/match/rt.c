// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rt match (net/ipv6/netfilter/ip6t_rt.c): revision 0, NFPROTO_IPV6, struct ip6t_rt.
 *
 * rt_mt6: ipv6_find_hdr(NEXTHDR_ROUTING) fails → no match (hotdrop unless -ENOENT); the 4-byte
 * ipv6_rt_hdr missing → hotdrop; the packet shorter than ipv6_optlen() → hotdrop (what a 6.18
 * kernel does with a crafted packet, although the source reads "return false"); then
 * segments_left in segsleft[0..1] ^ IP6T_RT_INV_SGS (always tested), IP6T_RT_LEN: hdrlen equal ^
 * INV_LEN, IP6T_RT_TYP: type equal ^ INV_TYP, IP6T_RT_RES: the type 0 reserved word is zero.
 * The type 0 address lists (IP6T_RT_FST, --rt-0-addrs) are not compiled: refused at check time.
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv6/ip6t_rt.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"
#include "exthdr.h"

#define RT_SCRATCH (-BF_STACK_SCRATCH_OFF)

static int rt_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct ip6t_rt *info = data;

	/* rt_mt6_check */
	if (info->invflags & ~IP6T_RT_INV_MASK)
		return -EINVAL;
	if ((info->flags & (IP6T_RT_RES | IP6T_RT_FST_MASK)) &&
	    (!(info->flags & IP6T_RT_TYP) || info->rt_type != 0 ||
	     (info->invflags & IP6T_RT_INV_TYP)))
		return -EINVAL;
	if (info->flags & IP6T_RT_FST_MASK) {
		bf_logf(ctx->log, BF_LOG_INFO, "rt: --rt-0-addrs is not supported by bpfilter");
		return -EOPNOTSUPP;
	}
	return 0;
}

static int rt_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct ip6t_rt *info = data;
	struct bf_builder *b = ctx->b;

	bf_emit_x6_find(b, BF_PKT_OFF(x6_rt), ctx->miss, ctx->hotdrop);
	bf_emit_x6_load(b, ctx->prog_ctx, 0, RT_SCRATCH, 4, ctx->hotdrop);
	bf_emit_x6_optlen(b, RT_SCRATCH, ctx->hotdrop);

	bf_comment(b, "segments left %s%u:%u", info->invflags & IP6T_RT_INV_SGS ? "! " : "",
		   info->segsleft[0], info->segsleft[1]);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, RT_SCRATCH + 3));
	bf_emit_reg_range(b, BPF_REG_1, info->segsleft[0], info->segsleft[1], UINT8_MAX,
			  !(info->invflags & IP6T_RT_INV_SGS), ctx->miss);
	if (info->flags & IP6T_RT_LEN) {
		bf_comment(b, "length %s%u", info->invflags & IP6T_RT_INV_LEN ? "! " : "",
			   info->hdrlen);
		bf_emit_x6_eq(b, BPF_REG_9, info->hdrlen, 12, info->invflags & IP6T_RT_INV_LEN,
			      ctx->miss);
	}
	if (info->flags & IP6T_RT_TYP) {
		bf_comment(b, "type %s%u", info->invflags & IP6T_RT_INV_TYP ? "! " : "",
			   info->rt_type);
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, RT_SCRATCH + 2));
		bf_emit_x6_eq(b, BPF_REG_1, info->rt_type, 8, info->invflags & IP6T_RT_INV_TYP,
			      ctx->miss);
	}
	if (info->flags & IP6T_RT_RES) {
		bf_comment(b, "type 0 reserved word is zero");
		bf_emit_x6_load(b, ctx->prog_ctx, 4, RT_SCRATCH, 4, ctx->hotdrop);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, RT_SCRATCH));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, ctx->miss);
	}
	return bf_builder_err(b);
}

const struct bf_ext bf_match_rt = {
	.kind = BF_EXT_MATCH,
	.name = "rt",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct ip6t_rt),
	.check = rt_check,
	.emit = rt_emit,
};
