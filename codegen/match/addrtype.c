// SPDX-License-Identifier: GPL-2.0-only
/*
 * The addrtype match (net/netfilter/xt_addrtype.c): revision 0 (NFPROTO_IPV4, struct
 * xt_addrtype_info, no checkentry) and revision 1 (NFPROTO_UNSPEC, struct xt_addrtype_info_v1,
 * addrtype_mt_checkentry_v1).
 *
 * IPv4, match_type(): mask & (1 << inet_dev_addr_type(net, dev, addr)), dev NULL (revision 0) or
 * the in/out device (--limit-iface-in/out). __inet_dev_addr_type(): 0.0.0.0 and 255.255.255.255
 * are BROADCAST (ipv4_is_zeronet is addr == 0 since 5.x), 224/4 MULTICAST; otherwise a lookup in
 * the local table, which shares its trie with main until a policy rule is added: no route, or a
 * route whose type is an error (blackhole, unreachable, prohibit, throw, nat, xresolve:
 * fib_props[].error < 0 makes fib_table_lookup fail) is UNICAST, and so is a route whose first
 * nexthop is not on `dev`; else the route's type. Checked against the 6.18 kernel: a source in a
 * blackhole/unreachable/prohibit/throw route matches UNICAST only.
 * `ret &= match ^ invert` on a bool keeps only the low bit: revision 0's u32 invert fields count
 * by their low bit.
 *
 * IPv6, match_type6(): MULTICAST needs a multicast address, UNICAST a unicast one
 * (ipv6_addr_type: not multicast, ::, or ::ffff:0:0/96), UNSPEC ::; if any of LOCAL, ANYCAST,
 * UNREACHABLE is asked, the answer is mask & match_lookup_rt6(): ip6_route_output() failing or a
 * reject route → UNREACHABLE; RTF_LOCAL (dev NULL) → LOCAL; RTF_ANYCAST or the subnet-router
 * anycast address of a connected prefix shorter than /127 → ANYCAST.
 *
 * The route data: bf_rtype/bf_rtype6 (codegen.h), LPM tries of the local and main tables kept by
 * the daemon over rtnetlink. IPv6 with --limit-iface-in/out and LOCAL, ANYCAST or UNREACHABLE is
 * refused: the kernel then asks ipv6_chk_addr() on that device and routes with that oif, which
 * the tries do not model.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/rtnetlink.h>

#include "../bpf_insn.h"
#include "../codegen.h"
#include "../ext.h"
#include "common.h"

#define KEY_OFF (-BF_STACK_SCRATCH_OFF) /* LPM key: prefixlen, then the address */
#define V_TYPE ((int16_t)offsetof(struct bf_rtype, type))
#define V_FLAGS ((int16_t)offsetof(struct bf_rtype, flags))
#define V_PLEN ((int16_t)offsetof(struct bf_rtype, plen))
#define V_OIF ((int16_t)offsetof(struct bf_rtype, oif))

#define ROUTE_MASK (XT_ADDRTYPE_LOCAL | XT_ADDRTYPE_ANYCAST | XT_ADDRTYPE_UNREACHABLE)

/* R0 = bpf_map_lookup_elem(slot, {plen, address at bf_pkt+pkt_off}). Clobbers R0-R5. */
static void emit_lookup(struct bf_builder *b, enum bf_map_slot slot, int16_t pkt_off,
			unsigned int nw)
{
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, KEY_OFF, (int32_t)(nw * 32)));
	for (int16_t w = 0; w < (int16_t)nw; w++) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, pkt_off + 4 * w));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, KEY_OFF + 4 + 4 * w));
	}
	bf_emit_ld_map(b, BPF_REG_1, slot);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, KEY_OFF));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
}

/*
 * R9 = inet_dev_addr_type(net, dev, address at bf_pkt+pkt_off); dev_off: the bf_pkt field with
 * dev's ifindex, or -1 for dev NULL. Clobbers R0-R5.
 */
static void emit_type4(struct bf_builder *b, int16_t pkt_off, int dev_off)
{
	bf_label have = bf_label_new(b);

	bf_comment(b, "r9 = inet_dev_addr_type(addr)");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, pkt_off));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, RTN_BROADCAST));
	bf_emit_jmp32_imm(b, BPF_JEQ, BPF_REG_2, 0, have);
	bf_emit_jmp32_imm(b, BPF_JEQ, BPF_REG_2, -1, have);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, RTN_MULTICAST));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_2));
	/* the first address byte is the low byte of the little-endian load */
	bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_3, 0xf0));
	bf_emit_jmp32_imm(b, BPF_JEQ, BPF_REG_3, 0xe0, have);
	emit_lookup(b, BF_MAP_RTYPE, pkt_off, 1);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, RTN_UNICAST));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, have);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_0, V_TYPE));
	/* fib_props[type].error < 0: the lookup fails */
	bf_emit_jmp_imm(b, BPF_JGE, BPF_REG_1, RTN_BLACKHOLE, have);
	if (dev_off >= 0) {
		bf_label any = bf_label_new(b);

		bf_comment(b, "dev limited: the route's first nexthop must be on it");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, (int16_t)dev_off));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 0, any);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_3, BPF_REG_0, V_OIF));
		bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_3, BPF_REG_2, have);
		bf_label_bind(b, any);
	}
	bf_emit(b, BF_MOV64_REG(BPF_REG_9, BPF_REG_1));
	bf_label_bind(b, have);
}

/* Fall through when (mask & (1 << R9)) != 0 is `want`, else jump to miss. Clobbers R1. */
static void emit_bit_test(struct bf_builder *b, uint16_t mask, bool want, bf_label miss)
{
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, mask));
	bf_emit(b, BF_ALU64_REG(BPF_RSH, BPF_REG_1, BPF_REG_9));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 1));
	bf_emit_jmp_imm(b, want ? BPF_JEQ : BPF_JNE, BPF_REG_1, 0, miss);
}

static void emit_side4(struct bf_emit_ctx *ctx, int16_t pkt_off, uint16_t mask, bool inv,
		       int dev_off)
{
	emit_type4(ctx->b, pkt_off, dev_off);
	emit_bit_test(ctx->b, mask, !inv, ctx->miss);
}

/*
 * Jump to `no` unless the IPv6 address at bf_pkt+pkt_off passes the address-type tests of
 * match_type6 for mask (MULTICAST, UNICAST, UNSPEC). Clobbers R1-R3.
 */
static void emit_addr_type6(struct bf_builder *b, int16_t pkt_off, uint16_t mask, bf_label no)
{
	bf_label uni = bf_label_new(b);

	if (mask & XT_ADDRTYPE_MULTICAST) {
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, pkt_off));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0xff, no);
	}
	if (mask & XT_ADDRTYPE_UNICAST) {
		/* not unicast: multicast, ::, ::ffff:0:0/96 */
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, pkt_off));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0xff, no);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, pkt_off));
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, pkt_off + 4));
		bf_emit(b, BF_ALU64_REG(BPF_OR, BPF_REG_1, BPF_REG_2));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, uni);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, pkt_off + 8));
		bf_emit_jmp32_imm(b, BPF_JEQ, BPF_REG_1, (int32_t)htonl(0x0000ffff), no);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, pkt_off + 12));
		bf_emit(b, BF_ALU64_REG(BPF_OR, BPF_REG_1, BPF_REG_2));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, no);
		bf_label_bind(b, uni);
	}
	if (mask & XT_ADDRTYPE_UNSPEC) {
		for (int16_t w = 0; w < 4; w++) {
			bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, pkt_off + 4 * w));
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, no);
		}
	}
}

/*
 * R9 = match_lookup_rt6(net, NULL, address at bf_pkt+pkt_off) as XT_ADDRTYPE_* bits. Clobbers
 * R0-R5.
 */
static void emit_lookup6(struct bf_builder *b, int16_t pkt_off)
{
	bf_label have = bf_label_new(b), not_sr = bf_label_new(b);

	bf_comment(b, "r9 = match_lookup_rt6(addr)");
	emit_lookup(b, BF_MAP_RTYPE6, pkt_off, 4);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, XT_ADDRTYPE_UNREACHABLE));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, have);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_0, V_TYPE));
	/* a reject route's dst carries an error: the lookup fails */
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, RTN_BLACKHOLE, have);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, RTN_UNREACHABLE, have);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, RTN_PROHIBIT, have);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, RTN_THROW, have);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, XT_ADDRTYPE_LOCAL));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, RTN_LOCAL, have);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, XT_ADDRTYPE_ANYCAST));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, RTN_ANYCAST, have);
	/* ipv6_anycast_destination(): the address of a connected prefix shorter than /127
	 * (the trie found that prefix, so the address is the prefix if its host bits are 0) */
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_0, V_FLAGS));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, BF_RTYPE_F_GATEWAY, not_sr);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_4, BPF_REG_0, V_PLEN));
	bf_emit_jmp_imm(b, BPF_JGE, BPF_REG_4, 127, not_sr);
	for (int16_t w = 0; w < 4; w++) {
		bf_label next = bf_label_new(b), shift = bf_label_new(b);

		/* r5 = plen - 32w: bits of this word inside the prefix */
		bf_emit(b, BF_MOV64_REG(BPF_REG_5, BPF_REG_4));
		bf_emit(b, BF_ALU64_IMM(BPF_SUB, BPF_REG_5, 32 * w));
		bf_emit_jmp_imm(b, BPF_JSGE, BPF_REG_5, 32, next);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, pkt_off + 4 * w));
		bf_emit(b, BF_BE(BPF_REG_1, 32));
		bf_emit_jmp_imm(b, BPF_JSGT, BPF_REG_5, 0, shift);
		bf_emit_jmp32_imm(b, BPF_JNE, BPF_REG_1, 0, not_sr);
		bf_emit_ja(b, next);
		bf_label_bind(b, shift);
		bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_5, 31));
		bf_emit(b, BF_ALU32_REG(BPF_LSH, BPF_REG_1, BPF_REG_5));
		bf_emit_jmp32_imm(b, BPF_JNE, BPF_REG_1, 0, not_sr);
		bf_label_bind(b, next);
	}
	bf_emit_ja(b, have);
	bf_label_bind(b, not_sr);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, 0));
	bf_label_bind(b, have);
}

static void emit_side6(struct bf_emit_ctx *ctx, int16_t pkt_off, uint16_t mask, bool inv)
{
	struct bf_builder *b = ctx->b;
	bf_label f = inv ? bf_label_new(b) : ctx->miss;

	emit_addr_type6(b, pkt_off, mask, f);
	if (mask & ROUTE_MASK) {
		emit_lookup6(b, pkt_off);
		bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_9, mask));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_9, 0, f);
	}
	if (inv) {
		/* true, inverted: no match */
		bf_emit_never(b, ctx->miss);
		bf_label_bind(b, f);
	}
}

static int addrtype_v0_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_addrtype_info *info = data;

	if (info->source) {
		bf_comment(ctx->b, "addrtype %s--src-type 0x%x",
			   info->invert_source & 1 ? "! " : "", info->source);
		emit_side4(ctx, BF_PKT_OFF(saddr), info->source, info->invert_source & 1, -1);
	}
	if (info->dest) {
		bf_comment(ctx->b, "addrtype %s--dst-type 0x%x", info->invert_dest & 1 ? "! " : "",
			   info->dest);
		emit_side4(ctx, BF_PKT_OFF(daddr), info->dest, info->invert_dest & 1, -1);
	}
	return bf_builder_err(ctx->b);
}

static int addrtype_v1_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_addrtype_info_v1 *info = data;
	bool inv_s = info->flags & XT_ADDRTYPE_INVERT_SOURCE;
	bool inv_d = info->flags & XT_ADDRTYPE_INVERT_DEST;
	int dev_off = -1;

	if (info->flags & XT_ADDRTYPE_LIMIT_IFACE_IN)
		dev_off = BF_PKT_OFF(iif);
	else if (info->flags & XT_ADDRTYPE_LIMIT_IFACE_OUT)
		dev_off = BF_PKT_OFF(oif);

	if (info->source) {
		bf_comment(ctx->b, "addrtype %s--src-type 0x%x", inv_s ? "! " : "", info->source);
		if (ctx->family == NFPROTO_IPV6)
			emit_side6(ctx, BF_PKT_OFF(saddr), info->source, inv_s);
		else
			emit_side4(ctx, BF_PKT_OFF(saddr), info->source, inv_s, dev_off);
	}
	if (info->dest) {
		bf_comment(ctx->b, "addrtype %s--dst-type 0x%x", inv_d ? "! " : "", info->dest);
		if (ctx->family == NFPROTO_IPV6)
			emit_side6(ctx, BF_PKT_OFF(daddr), info->dest, inv_d);
		else
			emit_side4(ctx, BF_PKT_OFF(daddr), info->dest, inv_d, dev_off);
	}
	return bf_builder_err(ctx->b);
}

static int addrtype_v1_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct xt_addrtype_info_v1 *info = data;
	uint32_t types = (uint32_t)info->source | info->dest;

	if (info->flags & XT_ADDRTYPE_LIMIT_IFACE_IN && info->flags & XT_ADDRTYPE_LIMIT_IFACE_OUT) {
		bf_logf(ctx->log, BF_LOG_INFO,
			"addrtype: both incoming and outgoing interface limitation cannot be "
			"selected");
		return -EINVAL;
	}
	if (ctx->hook_mask & ((1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_LOCAL_IN)) &&
	    info->flags & XT_ADDRTYPE_LIMIT_IFACE_OUT) {
		bf_logf(ctx->log, BF_LOG_INFO,
			"addrtype: output interface limitation not valid in PREROUTING and INPUT");
		return -EINVAL;
	}
	if (ctx->hook_mask & ((1 << NF_INET_POST_ROUTING) | (1 << NF_INET_LOCAL_OUT)) &&
	    info->flags & XT_ADDRTYPE_LIMIT_IFACE_IN) {
		bf_logf(ctx->log, BF_LOG_INFO,
			"addrtype: input interface limitation not valid in POSTROUTING and OUTPUT");
		return -EINVAL;
	}
	if (ctx->family != NFPROTO_IPV6)
		return 0;
	if (types & XT_ADDRTYPE_BLACKHOLE) {
		bf_logf(ctx->log, BF_LOG_INFO, "addrtype: ipv6 BLACKHOLE matching not supported");
		return -EINVAL;
	}
	if (types >= XT_ADDRTYPE_PROHIBIT) {
		bf_logf(ctx->log, BF_LOG_INFO,
			"addrtype: ipv6 PROHIBIT (THROW, NAT ..) matching not supported");
		return -EINVAL;
	}
	if (types & XT_ADDRTYPE_BROADCAST) {
		bf_logf(ctx->log, BF_LOG_INFO,
			"addrtype: ipv6 does not support BROADCAST matching");
		return -EINVAL;
	}
	if (info->flags & (XT_ADDRTYPE_LIMIT_IFACE_IN | XT_ADDRTYPE_LIMIT_IFACE_OUT) &&
	    types & ROUTE_MASK) {
		bf_logf(ctx->log, BF_LOG_INFO,
			"addrtype: IPv6 LOCAL, ANYCAST or UNREACHABLE with --limit-iface-in/out is "
			"not supported by bpfilter (per-device address and route lookups)");
		return -EOPNOTSUPP;
	}
	return 0;
}

const struct bf_ext bf_match_addrtype = {
	.kind = BF_EXT_MATCH,
	.name = "addrtype",
	.revision = 0,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct xt_addrtype_info),
	.emit = addrtype_v0_emit,
};

const struct bf_ext bf_match_addrtype1 = {
	.kind = BF_EXT_MATCH,
	.name = "addrtype",
	.revision = 1,
	.family = NFPROTO_UNSPEC,
	.size = sizeof(struct xt_addrtype_info_v1),
	.check = addrtype_v1_check,
	.emit = addrtype_v1_emit,
};
