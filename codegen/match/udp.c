// SPDX-License-Identifier: GPL-2.0-only
/*
 * The udp match (net/netfilter/xt_tcpudp.c, udp_mt), registered like the kernel does: once for
 * NFPROTO_IPV4 and once for NFPROTO_IPV6, revision 0, .proto = IPPROTO_UDP.
 *
 * udp_mt: fragoff != 0 → no match; fewer than 8 bytes of UDP header → hotdrop; then source and
 * destination port ranges, each with its inversion.
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "../ext.h"
#include "common.h"

#define UDP_HDR_LEN 8

static int udp_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct xt_udp *info = data;

	/* udp_mt_check: must specify no unknown invflags. */
	return (info->invflags & ~XT_UDP_INV_MASK) ? -EINVAL : 0;
}

static int udp_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_udp *info = data;
	struct bf_builder *b = ctx->b;
	bool inv_s = info->invflags & XT_UDP_INV_SRCPT;
	bool inv_d = info->invflags & XT_UDP_INV_DSTPT;

	bf_emit_l4_head(b, UDP_HDR_LEN, false, ctx->miss, ctx->hotdrop);
	if (bf_port_match_kind(info->spts[0], info->spts[1], inv_s) == BF_FIELD_NEVER ||
	    bf_port_match_kind(info->dpts[0], info->dpts[1], inv_d) == BF_FIELD_NEVER) {
		bf_emit_never(b, ctx->miss);
		return bf_builder_err(b);
	}
	bf_emit_port_match(b, BF_PKT_OFF(sport), info->spts[0], info->spts[1], inv_s, ctx->miss);
	bf_emit_port_match(b, BF_PKT_OFF(dport), info->dpts[0], info->dpts[1], inv_d, ctx->miss);
	return bf_builder_err(b);
}

const struct bf_ext bf_match_udp = {
	.kind = BF_EXT_MATCH,
	.name = "udp",
	.revision = 0,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct xt_udp),
	.proto = IPPROTO_UDP,
	.check = udp_check,
	.emit = udp_emit,
};

const struct bf_ext bf_match_udp6 = {
	.kind = BF_EXT_MATCH,
	.name = "udp",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct xt_udp),
	.proto = IPPROTO_UDP,
	.check = udp_check,
	.emit = udp_emit,
};
