// SPDX-License-Identifier: GPL-2.0-only
/*
 * The multiport match (net/netfilter/xt_multiport.c). The kernel registers revision 1 only, for
 * NFPROTO_IPV4 and NFPROTO_IPV6, matchsize sizeof(struct xt_multiport_v1), no proto restriction
 * (checkentry does it).
 *
 * multiport_mt_check → -EINVAL unless: proto is tcp, udp, udplite, sctp or dccp and not inverted;
 * flags is SOURCE, DESTINATION or EITHER; count <= 15; no range flag on the last port.
 *
 * multiport_mt: fragoff != 0 → no match; fewer than 4 bytes at the transport offset → hotdrop;
 * then ports_match_v1(): the first port or range that holds returns `true ^ invert`, none returns
 * `invert` (both as a bool, so an invert other than 0/1 always matches).
 */
#include <errno.h>
#include <linux/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_multiport.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

#define PORTS_OFF (-BF_STACK_SCRATCH_OFF)

static bool proto_ok(uint16_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_SCTP || proto == IPPROTO_DCCP;
}

static int multiport_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct xt_multiport_v1 *info = data;
	uint16_t proto;
	uint8_t invflags;

	if (ctx->family == NFPROTO_IPV6) {
		proto = ctx->entry->ip->v6.proto;
		invflags = ctx->entry->ip->v6.invflags;
	} else {
		proto = ctx->entry->ip->v4.proto;
		invflags = ctx->entry->ip->v4.invflags;
	}
	if (!proto_ok(proto) || (invflags & XT_INV_PROTO)) {
		bf_logf(ctx->log, BF_LOG_INFO,
			"multiport: needs -p tcp, udp, udplite, sctp or dccp, not inverted");
		return -EINVAL;
	}
	if (info->flags != XT_MULTIPORT_SOURCE && info->flags != XT_MULTIPORT_DESTINATION &&
	    info->flags != XT_MULTIPORT_EITHER) {
		bf_logf(ctx->log, BF_LOG_INFO, "multiport: unknown flags %u", info->flags);
		return -EINVAL;
	}
	if (info->count > XT_MULTI_PORTS) {
		bf_logf(ctx->log, BF_LOG_INFO, "multiport: %u ports, at most %u", info->count,
			XT_MULTI_PORTS);
		return -EINVAL;
	}
	/* multiport_valid_ranges: a range needs a second port */
	for (unsigned int i = 0; i < info->count; i++) {
		if (!info->pflags[i])
			continue;
		if (i == info->count - 1u) {
			bf_logf(ctx->log, BF_LOG_INFO, "multiport: range without an end");
			return -EINVAL;
		}
		i++;
	}
	return 0;
}

/* Jump to `hit` if the port in `reg` (host order) is in [s, e]. */
static void emit_in_range(struct bf_builder *b, uint8_t reg, uint16_t s, uint16_t e, bf_label hit)
{
	bf_label no;

	if (s > e)
		return;
	if (s == e) {
		bf_emit_jmp_imm(b, BPF_JEQ, reg, s, hit);
		return;
	}
	if (s == 0 && e == UINT16_MAX) {
		/* Every port: always taken, but conditional, so that the code after it stays in
		 * the verifier's control-flow graph (an unconditional jump left it unreachable,
		 * and the verifier refused the program). */
		bf_emit(b, BF_MOV64_IMM(BPF_REG_0, 0));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, hit);
		return;
	}
	no = bf_label_new(b);
	if (s > 0)
		bf_emit_jmp_imm(b, BPF_JLT, reg, s, no);
	if (e < UINT16_MAX)
		bf_emit_jmp_imm(b, BPF_JGT, reg, e, no);
	bf_emit_ja(b, hit);
	bf_label_bind(b, no);
}

static int multiport_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_multiport_v1 *info = data;
	struct bf_builder *b = ctx->b;
	enum bf_inv inv = bf_inv_kind(info->invert);
	unsigned int count = info->count > XT_MULTI_PORTS ? XT_MULTI_PORTS : info->count;
	bf_label hit;

	/* fragoff != 0 → miss; fewer than 4 bytes of transport header → hotdrop */
	bf_emit_l4_head(b, 4, false, ctx->miss, ctx->hotdrop);
	if (inv == BF_INV_ALWAYS)
		return bf_builder_err(b);

	/* The dispatcher fills sport/dport for tcp/udp only, with a full header: read them here. */
	bf_comment(b, "multiport: ports at the transport offset");
	bf_emit_load_pkt(b, ctx->prog_ctx, BF_PKT_OFF(l4_off), 0, PORTS_OFF, 4, ctx->hotdrop);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_8, BPF_REG_10, PORTS_OFF));
	bf_emit(b, BF_BE(BPF_REG_8, 16));
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_9, BPF_REG_10, PORTS_OFF + 2));
	bf_emit(b, BF_BE(BPF_REG_9, 16));

	/* A hit returns true ^ invert: inverted, a hit is a miss and the fall-through a match. */
	hit = inv == BF_INV_INVERT ? ctx->miss : bf_label_new(b);
	for (unsigned int i = 0; i < count; i++) {
		uint16_t s = info->ports[i], e = s;

		/* check() guarantees a range never starts at the last port */
		if (info->pflags[i] && i + 1 < count)
			e = info->ports[++i];
		bf_comment(b, "multiport %u:%u", s, e);
		if (info->flags != XT_MULTIPORT_DESTINATION)
			emit_in_range(b, BPF_REG_8, s, e, hit);
		if (info->flags != XT_MULTIPORT_SOURCE)
			emit_in_range(b, BPF_REG_9, s, e, hit);
	}
	if (inv == BF_INV_PLAIN) {
		bf_emit_never(b, ctx->miss);
		bf_label_bind(b, hit);
	}
	return bf_builder_err(b);
}

const struct bf_ext bf_match_multiport = {
	.kind = BF_EXT_MATCH,
	.name = "multiport",
	.revision = 1,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct xt_multiport_v1),
	.check = multiport_check,
	.emit = multiport_emit,
};

const struct bf_ext bf_match_multiport6 = {
	.kind = BF_EXT_MATCH,
	.name = "multiport",
	.revision = 1,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct xt_multiport_v1),
	.check = multiport_check,
	.emit = multiport_emit,
};
