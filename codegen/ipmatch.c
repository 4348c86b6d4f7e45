// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IP part of an IPv4 entry, decided as ip_packet_match() in net/ipv4/netfilter/ip_tables.c:
 *   (saddr & smsk) != src        ^ IPT_INV_SRCIP   → no match
 *   (daddr & dmsk) != dst        ^ IPT_INV_DSTIP   → no match
 *   ifname_compare_aligned(in)   ^ IPT_INV_VIA_IN  → no match (likewise out)
 *   proto && protocol != proto   ^ IPT_INV_PROTO   → no match (proto 0: any, inversion ignored)
 *   (IPT_F_FRAG && !fragoff)     ^ IPT_INV_FRAG    → no match
 * Each test is folded at compile time when its outcome does not depend on the packet: a test that
 * always holds emits nothing; one that never holds makes the whole entry a miss. Note that an
 * inversion flag on a wildcard field (e.g. IPT_INV_FRAG without IPT_F_FRAG) makes the entry
 * never match, exactly as in the kernel.
 */
#include "ipmatch.h"

#include <errno.h>
#include <string.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include <bpfilter/cleanup.h>

#include "abi.h"
#include "bpf_insn.h"
#include "match/common.h"

/* NF_INVF: the test's outcome, inverted when the flag is set. */
static bool inv(const struct ipt_ip *ip, uint8_t flag)
{
	return ip->invflags & flag;
}

static enum bf_field addr_kind(uint32_t addr, uint32_t msk, bool invert)
{
	/* With a zero mask the test is the constant `addr != 0`. */
	if (!msk)
		return bf_field_const(!((addr != 0) ^ invert));
	return BF_FIELD_EMIT;
}

static bool mask_is_zero(const unsigned char mask[IFNAMSIZ])
{
	for (unsigned int i = 0; i < IFNAMSIZ; i++) {
		if (mask[i])
			return false;
	}
	return true;
}

static enum bf_field iface_kind(const unsigned char mask[IFNAMSIZ], bool invert)
{
	/* With a zero mask ifname_compare_aligned() is 0 for every device. */
	if (mask_is_zero(mask))
		return bf_field_const(!invert);
	return BF_FIELD_EMIT;
}

static enum bf_field proto_kind(uint16_t proto, bool invert)
{
	if (!proto)
		return BF_FIELD_ALWAYS;
	/* The protocol field is 8 bits: a larger value never equals it. */
	if (proto > UINT8_MAX)
		return bf_field_const(invert);
	return BF_FIELD_EMIT;
}

static enum bf_field frag_kind(uint8_t flags, bool invert)
{
	if (!(flags & IPT_F_FRAG))
		return bf_field_const(!invert);
	return BF_FIELD_EMIT;
}

static void emit_addr(struct bf_builder *b, const char *what, int16_t off, uint32_t addr,
		      uint32_t msk, bool invert, bf_label miss)
{
	/* Addresses and masks are compared as the kernel does, in network order: a 32-bit load of
	 * the packet field and the ipt_ip field read the same bytes the same way. */
	bf_comment(b, "%s%s", invert ? "! " : "", what);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, off));
	if (msk != UINT32_MAX)
		bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_1, (int32_t)msk));
	bf_emit_jmp32_imm(b, invert ? BPF_JEQ : BPF_JNE, BPF_REG_1, (int32_t)addr, miss);
}

static void emit_imm64(struct bf_builder *b, uint8_t reg, uint64_t v)
{
	bf_emit(b, BF_LD_IMM64_LO(reg, 0, v));
	bf_emit(b, BF_LD_IMM64_HI(v));
}

/* ifname_compare_aligned(): OR over both 8-byte halves of (dev ^ name) & mask, nonzero means
 * "different". Halves whose mask is zero contribute nothing. */
static void emit_iface(struct bf_builder *b, const char *what, int16_t off,
		       const char name[IFNAMSIZ], const unsigned char mask[IFNAMSIZ], bool invert,
		       bf_label miss)
{
	bool first = true;

	bf_comment(b, "%s%s %.16s", invert ? "! " : "", what, name);
	for (unsigned int h = 0; h < IFNAMSIZ / 8; h++) {
		uint64_t n, m;

		memcpy(&n, name + 8 * h, 8);
		memcpy(&m, mask + 8 * h, 8);
		if (!m)
			continue;
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_7, off + 8 * h));
		if (n) {
			emit_imm64(b, BPF_REG_2, n);
			bf_emit(b, BF_ALU64_REG(BPF_XOR, BPF_REG_1, BPF_REG_2));
		}
		if (m != UINT64_MAX) {
			emit_imm64(b, BPF_REG_2, m);
			bf_emit(b, BF_ALU64_REG(BPF_AND, BPF_REG_1, BPF_REG_2));
		}
		if (first)
			bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_1));
		else
			bf_emit(b, BF_ALU64_REG(BPF_OR, BPF_REG_3, BPF_REG_1));
		first = false;
	}
	bf_emit_jmp_imm(b, invert ? BPF_JEQ : BPF_JNE, BPF_REG_3, 0, miss);
}

/*
 * The IP part of an IPv6 entry, as ip6_packet_match() in net/ipv6/netfilter/ip6_tables.c:
 *   ipv6_masked_addr_cmp(saddr, smsk, src) ^ IP6T_INV_SRCIP → no match (likewise dst); the
 *     comparison is ((a ^ b) & m) over 16 bytes, so a zero mask always compares equal
 *   ifname_compare_aligned(in/out) ^ IP6T_INV_VIA_IN/OUT → no match
 *   only with IP6T_F_PROTO: the upper-layer protocol after the extension headers
 *     (ipv6_find_hdr(-1)): failure → hotdrop; == proto → match unless IP6T_INV_PROTO;
 *     otherwise proto != 0 without IP6T_INV_PROTO → no match
 * The traffic class (IP6T_F_TOS, tos) is not looked at; IP6T_F_GOTO belongs to the graph.
 */
static bool inv6(const struct ip6t_ip6 *ip, uint8_t flag)
{
	return ip->invflags & flag;
}

static enum bf_field addr6_kind(const struct in6_addr *msk, bool invert)
{
	static const struct in6_addr zero;

	if (!memcmp(msk, &zero, sizeof(zero)))
		return bf_field_const(!invert);
	return BF_FIELD_EMIT;
}

static void emit_addr6(struct bf_builder *b, const char *what, int16_t off,
		       const struct in6_addr *addr, const struct in6_addr *msk, bool invert,
		       bf_label miss)
{
	bf_label differ = invert ? bf_label_new(b) : miss;

	bf_comment(b, "%s%s (masked 16-byte compare)", invert ? "! " : "", what);
	for (int16_t w = 0; w < 4; w++) {
		uint32_t a = addr->s6_addr32[w], m = msk->s6_addr32[w];

		if (!m)
			continue;
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(off + 4 * w)));
		if (m != UINT32_MAX)
			bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_1, (int32_t)m));
		bf_emit_jmp32_imm(b, BPF_JNE, BPF_REG_1, (int32_t)(a & m), differ);
	}
	if (invert) {
		/* every word equal: the inverted test fails */
		bf_emit_ja(b, miss);
		bf_label_bind(b, differ);
	}
}

static int emit_ipmatch6(struct bf_emit_ctx *ctx, const struct bf_entry *e)
{
	const struct ip6t_ip6 *ip = &e->ip->v6;
	struct bf_builder *b = ctx->b;
	enum bf_field k[4];

	k[0] = addr6_kind(&ip->smsk, inv6(ip, IP6T_INV_SRCIP));
	k[1] = addr6_kind(&ip->dmsk, inv6(ip, IP6T_INV_DSTIP));
	k[2] = iface_kind(ip->iniface_mask, inv6(ip, IP6T_INV_VIA_IN));
	k[3] = iface_kind(ip->outiface_mask, inv6(ip, IP6T_INV_VIA_OUT));
	/* The tests before the protocol have no side effect: one that never holds decides. */
	for (unsigned int i = 0; i < BF_ARRAY_SIZE(k); i++) {
		if (k[i] == BF_FIELD_NEVER) {
			bf_emit_never(b, ctx->miss);
			return bf_builder_err(b);
		}
	}
	if (k[0] == BF_FIELD_EMIT)
		emit_addr6(b, "-s", BF_PKT_OFF(saddr), &ip->src, &ip->smsk,
			   inv6(ip, IP6T_INV_SRCIP), ctx->miss);
	if (k[1] == BF_FIELD_EMIT)
		emit_addr6(b, "-d", BF_PKT_OFF(daddr), &ip->dst, &ip->dmsk,
			   inv6(ip, IP6T_INV_DSTIP), ctx->miss);
	if (k[2] == BF_FIELD_EMIT)
		emit_iface(b, "-i", BF_PKT_OFF(iifname), ip->iniface, ip->iniface_mask,
			   inv6(ip, IP6T_INV_VIA_IN), ctx->miss);
	if (k[3] == BF_FIELD_EMIT)
		emit_iface(b, "-o", BF_PKT_OFF(oifname), ip->outiface, ip->outiface_mask,
			   inv6(ip, IP6T_INV_VIA_OUT), ctx->miss);
	if (ip->flags & IP6T_F_PROTO) {
		bool invert = inv6(ip, IP6T_INV_PROTO);

		bf_comment(b, "%s-p %u: no upper-layer header found → hotdrop", invert ? "! " : "",
			   ip->proto);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(flags)));
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, BF_PKT_F_X6_NOPROTO, ctx->hotdrop);
		if (ip->proto > UINT8_MAX) {
			/* never equal to the 8-bit header value */
			if (!invert)
				bf_emit_never(b, ctx->miss);
		} else if (invert) {
			bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(proto)));
			bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, ip->proto, ctx->miss);
		} else if (ip->proto) {
			bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(proto)));
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, ip->proto, ctx->miss);
		}
	}
	return bf_builder_err(b);
}

int bf_emit_ipmatch(struct bf_emit_ctx *ctx, const struct bf_entry *e)
{
	const struct ipt_ip *ip = &e->ip->v4;
	struct bf_builder *b = ctx->b;
	enum bf_field k[6];

	if (ctx->family == NFPROTO_IPV6)
		return emit_ipmatch6(ctx, e);
	if (ctx->family != NFPROTO_IPV4) {
		bf_logf(ctx->log, BF_LOG_ERR, "ipmatch: family %d is not supported", ctx->family);
		bf_builder_set_err(b, -EOPNOTSUPP);
		return -EOPNOTSUPP;
	}

	k[0] = addr_kind(ip->src.s_addr, ip->smsk.s_addr, inv(ip, IPT_INV_SRCIP));
	k[1] = addr_kind(ip->dst.s_addr, ip->dmsk.s_addr, inv(ip, IPT_INV_DSTIP));
	k[2] = iface_kind(ip->iniface_mask, inv(ip, IPT_INV_VIA_IN));
	k[3] = iface_kind(ip->outiface_mask, inv(ip, IPT_INV_VIA_OUT));
	k[4] = proto_kind(ip->proto, inv(ip, IPT_INV_PROTO));
	k[5] = frag_kind(ip->flags, inv(ip, IPT_INV_FRAG));

	/* ip_packet_match() has no side effect, so one test that never holds decides alone. */
	for (unsigned int i = 0; i < BF_ARRAY_SIZE(k); i++) {
		if (k[i] == BF_FIELD_NEVER) {
			bf_emit_never(b, ctx->miss);
			return bf_builder_err(b);
		}
	}

	if (k[0] == BF_FIELD_EMIT)
		emit_addr(b, "-s", BF_PKT_OFF(saddr[0]), ip->src.s_addr, ip->smsk.s_addr,
			  inv(ip, IPT_INV_SRCIP), ctx->miss);
	if (k[1] == BF_FIELD_EMIT)
		emit_addr(b, "-d", BF_PKT_OFF(daddr[0]), ip->dst.s_addr, ip->dmsk.s_addr,
			  inv(ip, IPT_INV_DSTIP), ctx->miss);
	if (k[2] == BF_FIELD_EMIT)
		emit_iface(b, "-i", BF_PKT_OFF(iifname), ip->iniface, ip->iniface_mask,
			   inv(ip, IPT_INV_VIA_IN), ctx->miss);
	if (k[3] == BF_FIELD_EMIT)
		emit_iface(b, "-o", BF_PKT_OFF(oifname), ip->outiface, ip->outiface_mask,
			   inv(ip, IPT_INV_VIA_OUT), ctx->miss);
	if (k[4] == BF_FIELD_EMIT) {
		bool invert = inv(ip, IPT_INV_PROTO);

		bf_comment(b, "%s-p %u", invert ? "! " : "", ip->proto);
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(proto)));
		bf_emit_jmp_imm(b, invert ? BPF_JEQ : BPF_JNE, BPF_REG_1, ip->proto, ctx->miss);
	}
	if (k[5] == BF_FIELD_EMIT) {
		bool invert = inv(ip, IPT_INV_FRAG);

		/* "isfrag" is the fragment offset: only non-first fragments are fragments. */
		bf_comment(b, "%s-f", invert ? "! " : "");
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(fragoff_h)));
		bf_emit_jmp_imm(b, invert ? BPF_JNE : BPF_JEQ, BPF_REG_1, 0, ctx->miss);
	}
	return bf_builder_err(b);
}

bool bf_ipmatch_is_wildcard(int family, const struct bf_entry *e)
{
	const struct ipt_ip *ip = &e->ip->v4;

	if (family == NFPROTO_IPV6) {
		static const struct ip6t_ip6 zero;

		/* An all-zero ip6t_ip6 matches every packet in ip6_packet_match(). */
		return !memcmp(&e->ip->v6, &zero, sizeof(zero));
	}
	if (family != NFPROTO_IPV4)
		return false;
	return addr_kind(ip->src.s_addr, ip->smsk.s_addr, inv(ip, IPT_INV_SRCIP)) ==
		       BF_FIELD_ALWAYS &&
	       addr_kind(ip->dst.s_addr, ip->dmsk.s_addr, inv(ip, IPT_INV_DSTIP)) ==
		       BF_FIELD_ALWAYS &&
	       iface_kind(ip->iniface_mask, inv(ip, IPT_INV_VIA_IN)) == BF_FIELD_ALWAYS &&
	       iface_kind(ip->outiface_mask, inv(ip, IPT_INV_VIA_OUT)) == BF_FIELD_ALWAYS &&
	       proto_kind(ip->proto, inv(ip, IPT_INV_PROTO)) == BF_FIELD_ALWAYS &&
	       frag_kind(ip->flags, inv(ip, IPT_INV_FRAG)) == BF_FIELD_ALWAYS;
}
