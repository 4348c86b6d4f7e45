// SPDX-License-Identifier: GPL-2.0-only
/*
 * The conntrack match (net/netfilter/xt_conntrack.c, conntrack_mt), on the connection the
 * dispatcher's tracker found (codegen/ct.c, doc/conntrack.md; the state match is in state.c).
 * Registered as the kernel registers it: revisions 1, 2 and 3, NFPROTO_UNSPEC, no restriction;
 * checkentry only takes a reference on the namespace's conntrack, so every payload is accepted.
 * iptables sends `-m state` as conntrack revision 3 (with XT_CONNTRACK_STATE_ALIAS), and `-m state`
 * revision 0 only when the kernel lacks conntrack revision 3.
 *
 * What the packet's connection looks like to these matches (struct bf_pkt):
 *   ct_state  the ctinfo bit (XT_CONNTRACK_STATE_BIT); INVALID (bit 0) means no connection
 *             (nf_ct_get() == NULL). There is no raw table, so never UNTRACKED; no NAT, so
 *             never SNAT/DNAT and the reply tuple is the original one inverted.
 *   ct_dir    the packet's direction
 *   ct_ent    the connection: tuple, protocol, status, deadline
 *   ct_commit 1 while the connection is unconfirmed (the packet that opens it): IPS_CONFIRMED
 *             is not set yet and nf_ct_expires() is 0 for an unconfirmed entry.
 *
 * IPv6 (ip6tables): the same, on the IPv6 tracker's connections; addresses compare on 128 bits
 * (ipv6_masked_addr_cmp), and neighbour discovery / MLD packets are UNTRACKED (no connection,
 * the UNTRACKED state bit), as nf_conntrack_icmpv6_error decides.
 */
#include <errno.h>
#include <stddef.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/xt_conntrack.h>

#include "../abi.h"
#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

#define CE(f) ((int16_t)(offsetof(struct bf_pkt, ct_ent) + offsetof(struct bf_ct_entry, f)))

/* The fields every revision has, in one shape. */
struct ct_info {
	const struct xt_conntrack_mtinfo1 *v1; /* addresses, expiry, l4proto (same offsets) */
	uint8_t rev;
	uint16_t match_flags, invert_flags;
	uint16_t state_mask, status_mask;
	uint16_t port[4], port_high[4]; /* origsrc, origdst, replsrc, repldst (host order) */
};

static void ct_info_of(const void *data, uint8_t rev, struct ct_info *ci)
{
	const struct xt_conntrack_mtinfo1 *i1 = data;
	const struct xt_conntrack_mtinfo2 *i2 = data;
	const struct xt_conntrack_mtinfo3 *i3 = data;
	const uint16_t *be[4] = {&i1->origsrc_port, &i1->origdst_port, &i1->replsrc_port,
				 &i1->repldst_port};

	ci->v1 = i1;
	ci->rev = rev;
	ci->match_flags = i1->match_flags;
	ci->invert_flags = i1->invert_flags;
	if (rev == 1) {
		ci->state_mask = i1->state_mask;
		ci->status_mask = i1->status_mask;
	} else {
		ci->state_mask = i2->state_mask;
		ci->status_mask = i2->status_mask;
	}
	for (int k = 0; k < 4; k++)
		ci->port[k] = *be[k]; /* rev 1/2: network order, compared as is */
	if (rev == 3) {
		ci->port_high[0] = i3->origsrc_port_high;
		ci->port_high[1] = i3->origdst_port_high;
		ci->port_high[2] = i3->replsrc_port_high;
		ci->port_high[3] = i3->repldst_port_high;
	}
}

static int ct_check(const struct bf_check_ctx *ctx, const void *data)
{
	return 0;
}

/* `(test) ^ !(invert)` is false: jump to miss. The test's outcome is "R1 != 0". */
static void miss_unless(struct bf_builder *b, bool invert, bf_label miss)
{
	bf_emit_jmp_imm(b, invert ? BPF_JNE : BPF_JEQ, BPF_REG_1, 0, miss);
}

/* R1 = ((addr at R7+off) ^ addr) & mask == 0 (as 0/1): one word for IPv4, four for IPv6. */
static void emit_addr(struct bf_builder *b, int family, int16_t off, const union nf_inet_addr *addr,
		      const union nf_inet_addr *mask)
{
	bf_label eq = bf_label_new(b), done = bf_label_new(b), ne = bf_label_new(b);
	int words = family == NFPROTO_IPV6 ? 4 : 1;

	for (int w = 0; w < words; w++) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(off + 4 * w)));
		bf_emit(b, BF_ALU32_IMM(BPF_XOR, BPF_REG_1, (int32_t)addr->all[w]));
		bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_1, (int32_t)mask->all[w]));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, ne);
	}
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_7, 0, eq);
	bf_label_bind(b, ne);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, 0));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_7, 0, done);
	bf_label_bind(b, eq);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, 1));
	bf_label_bind(b, done);
}

static void emit_port(struct bf_builder *b, const struct ct_info *ci, int k, int16_t off,
		      uint16_t flag, bf_label miss)
{
	bool inv = ci->invert_flags & flag;

	if (!(ci->match_flags & flag))
		return;
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, off));
	if (ci->rev != 3) {
		/* tuple->src.u.all == info->port, both in network order */
		bf_emit_jmp_imm(b, inv ? BPF_JEQ : BPF_JNE, BPF_REG_1, ci->port[k], miss);
		return;
	}
	bf_emit(b, BF_BE(BPF_REG_1, 16));
	bf_emit_reg_range(b, BPF_REG_1, ci->port[k], ci->port_high[k], UINT16_MAX, !inv, miss);
}

static int conntrack_emit_info(struct bf_emit_ctx *ctx, const struct ct_info *ci)
{
	struct bf_builder *b = ctx->b;
	const struct xt_conntrack_mtinfo1 *i = ci->v1;
	uint16_t mf = ci->match_flags, inv = ci->invert_flags;
	bf_label has_ct = bf_label_new(b), end = bf_label_new(b);

	if (ctx->family != NFPROTO_IPV4 && ctx->family != NFPROTO_IPV6)
		return -EOPNOTSUPP;
	bf_comment(b, "conntrack rev %u: flags 0x%x invert 0x%x", ci->rev, mf, inv);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_8, BPF_REG_7, BF_PKT_OFF(ct_state)));
	if (mf & XT_CONNTRACK_STATE) {
		bf_comment(b, "--ctstate %s0x%x", inv & XT_CONNTRACK_STATE ? "! " : "",
			   ci->state_mask);
		bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_8));
		bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, ci->state_mask));
		miss_unless(b, inv & XT_CONNTRACK_STATE, ctx->miss);
	}
	bf_comment(b, "no connection (INVALID, UNTRACKED): %s",
		   mf & XT_CONNTRACK_STATE ? "match" : "no match");
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_8,
				XT_CONNTRACK_STATE_INVALID | XT_CONNTRACK_STATE_UNTRACKED));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, 0, has_ct);
	if (mf & XT_CONNTRACK_STATE)
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_7, 0, end);
	else
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_7, 0, ctx->miss);
	bf_label_bind(b, has_ct);

	if (mf & XT_CONNTRACK_DIRECTION) {
		bf_comment(b, "--ctdir");
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(ct_dir)));
		/* (dir == ORIGINAL) ^ !(invert): invert set means REPLY wanted */
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1,
				inv & XT_CONNTRACK_DIRECTION ? IP_CT_DIR_REPLY : IP_CT_DIR_ORIGINAL,
				ctx->miss);
	}
	/* No NAT: the reply tuple is the original one inverted. */
	if (mf & XT_CONNTRACK_ORIGSRC) {
		emit_addr(b, ctx->family, CE(orig_src), &i->origsrc_addr, &i->origsrc_mask);
		miss_unless(b, inv & XT_CONNTRACK_ORIGSRC, ctx->miss);
	}
	if (mf & XT_CONNTRACK_ORIGDST) {
		emit_addr(b, ctx->family, CE(orig_dst), &i->origdst_addr, &i->origdst_mask);
		miss_unless(b, inv & XT_CONNTRACK_ORIGDST, ctx->miss);
	}
	if (mf & XT_CONNTRACK_REPLSRC) {
		emit_addr(b, ctx->family, CE(orig_dst), &i->replsrc_addr, &i->replsrc_mask);
		miss_unless(b, inv & XT_CONNTRACK_REPLSRC, ctx->miss);
	}
	if (mf & XT_CONNTRACK_REPLDST) {
		emit_addr(b, ctx->family, CE(orig_src), &i->repldst_addr, &i->repldst_mask);
		miss_unless(b, inv & XT_CONNTRACK_REPLDST, ctx->miss);
	}
	if (mf & XT_CONNTRACK_PROTO) {
		bf_comment(b, "--ctproto %s%u", inv & XT_CONNTRACK_PROTO ? "! " : "", i->l4proto);
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, CE(proto)));
		bf_emit_jmp_imm(b, inv & XT_CONNTRACK_PROTO ? BPF_JEQ : BPF_JNE, BPF_REG_1,
				i->l4proto, ctx->miss);
	}
	emit_port(b, ci, 0, CE(orig_sport), XT_CONNTRACK_ORIGSRC_PORT, ctx->miss);
	emit_port(b, ci, 1, CE(orig_dport), XT_CONNTRACK_ORIGDST_PORT, ctx->miss);
	emit_port(b, ci, 2, CE(repl_sport), XT_CONNTRACK_REPLSRC_PORT, ctx->miss);
	emit_port(b, ci, 3, CE(repl_dport), XT_CONNTRACK_REPLDST_PORT, ctx->miss);
	if (mf & XT_CONNTRACK_STATUS) {
		bf_label conf = bf_label_new(b);

		bf_comment(b, "--ctstatus: an unconfirmed connection lacks IPS_CONFIRMED");
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, CE(status)));
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_7, BF_PKT_OFF(ct_commit)));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 0, conf);
		bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, ~IPS_CONFIRMED));
		bf_label_bind(b, conf);
		bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, ci->status_mask));
		miss_unless(b, inv & XT_CONNTRACK_STATUS, ctx->miss);
	}
	if (mf & XT_CONNTRACK_EXPIRES) {
		bf_label zero = bf_label_new(b), have = bf_label_new(b), in = bf_label_new(b);
		bf_label test = bf_label_new(b);

		bf_comment(b, "--ctexpire %u:%u: seconds left (0 while unconfirmed)",
			   i->expires_min, i->expires_max);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_8, 0));
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(ct_commit)));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, zero);
		bf_emit(b, BF_CALL(BPF_FUNC_ktime_get_ns));
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_8, BPF_REG_7, CE(expires)));
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_8, BPF_REG_0, have);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_8, 0));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_7, 0, zero);
		bf_label_bind(b, have);
		bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_8, BPF_REG_0));
		bf_emit(b, BF_LD_IMM64_LO(BPF_REG_1, 0, 1000000000ull));
		bf_emit(b, BF_LD_IMM64_HI(1000000000ull));
		bf_emit(b, BF_ALU64_REG(BPF_DIV, BPF_REG_8, BPF_REG_1));
		bf_label_bind(b, zero);
		/* (min <= e && e <= max) ^ !invert false: miss. 64-bit compares: e < 2^32 here. */
		bf_emit(b, BF_MOV64_IMM(BPF_REG_1, 0));
		bf_emit(b, BF_LD_IMM64_LO(BPF_REG_2, 0, (uint64_t)i->expires_min));
		bf_emit(b, BF_LD_IMM64_HI((uint64_t)i->expires_min));
		bf_emit_jmp_reg(b, BPF_JLT, BPF_REG_8, BPF_REG_2, test);
		bf_emit(b, BF_LD_IMM64_LO(BPF_REG_2, 0, (uint64_t)i->expires_max));
		bf_emit(b, BF_LD_IMM64_HI((uint64_t)i->expires_max));
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_8, BPF_REG_2, test);
		bf_label_bind(b, in);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_1, 1));
		bf_label_bind(b, test);
		miss_unless(b, inv & XT_CONNTRACK_EXPIRES, ctx->miss);
	}
	bf_label_bind(b, end);
	return bf_builder_err(b);
}

static int conntrack_emit1(struct bf_emit_ctx *ctx, const void *data)
{
	struct ct_info ci;

	ct_info_of(data, 1, &ci);
	return conntrack_emit_info(ctx, &ci);
}

static int conntrack_emit2(struct bf_emit_ctx *ctx, const void *data)
{
	struct ct_info ci;

	ct_info_of(data, 2, &ci);
	return conntrack_emit_info(ctx, &ci);
}

static int conntrack_emit3(struct bf_emit_ctx *ctx, const void *data)
{
	struct ct_info ci;

	ct_info_of(data, 3, &ci);
	return conntrack_emit_info(ctx, &ci);
}

const struct bf_ext bf_match_conntrack1 = {
	.kind = BF_EXT_MATCH,
	.name = "conntrack",
	.revision = 1,
	.family = NFPROTO_UNSPEC,
	.size = sizeof(struct xt_conntrack_mtinfo1),
	.conntrack = true,
	.check = ct_check,
	.emit = conntrack_emit1,
};

const struct bf_ext bf_match_conntrack2 = {
	.kind = BF_EXT_MATCH,
	.name = "conntrack",
	.revision = 2,
	.family = NFPROTO_UNSPEC,
	.size = sizeof(struct xt_conntrack_mtinfo2),
	.conntrack = true,
	.check = ct_check,
	.emit = conntrack_emit2,
};

const struct bf_ext bf_match_conntrack3 = {
	.kind = BF_EXT_MATCH,
	.name = "conntrack",
	.revision = 3,
	.family = NFPROTO_UNSPEC,
	.size = sizeof(struct xt_conntrack_mtinfo3),
	.conntrack = true,
	.check = ct_check,
	.emit = conntrack_emit3,
};
