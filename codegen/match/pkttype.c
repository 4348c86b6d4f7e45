// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pkttype match (net/netfilter/xt_pkttype.c): revision 0, NFPROTO_UNSPEC, matchsize
 * sizeof(struct xt_pkttype_info), no checkentry, no restriction.
 *
 * pkttype_mt: type = skb->pkt_type, except PACKET_LOOPBACK (a looped-back multicast or broadcast
 * copy), which counts as MULTICAST for an IPv4 multicast destination or any IPv6 packet, and as
 * BROADCAST otherwise; then (type == pkttype) ^ invert (an int: invert > 1 always matches).
 *
 * At TC, __sk_buff.pkt_type is the skb's own field, set by eth_type_trans before TC ingress and
 * left alone between LOCAL_OUT and TC egress. At XDP (INPUT) there is no skb: eth_type_trans is
 * replayed on the destination MAC (group bit: the device's broadcast address, ff:ff:ff:ff:ff:ff on
 * Ethernet and all zeros on lo, is broadcast, else multicast; otherwise host: a unicast frame for
 * another host is OTHERHOST, which ip_rcv drops before INPUT).
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_pkttype.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

#define MAC_OFF (-BF_STACK_SCRATCH_OFF)
#define LOOPBACK_IFINDEX 1

/* R1 = the packet type as the kernel computes it. Clobbers R0-R5. */
static void emit_type(struct bf_emit_ctx *ctx)
{
	struct bf_builder *b = ctx->b;
	bf_label done = bf_label_new(b);

	if (ctx->prog_ctx == BF_CTX_XDP) {
		bf_comment(b, "pkt_type from the destination MAC (eth_type_trans)");
		bf_emit_load_pkt(b, ctx->prog_ctx, BF_PKT_OFF(l3_off), -14, MAC_OFF, 6, ctx->miss);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_1, PACKET_HOST));
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_10, MAC_OFF));
		bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_2, 1));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 0, done);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_1, PACKET_MULTICAST));
		/* lo's broadcast address is all zeros: a group address there is multicast */
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, BF_PKT_OFF(iif)));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, LOOPBACK_IFINDEX, done);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_10, MAC_OFF));
		bf_emit_jmp32_imm(b, BPF_JNE, BPF_REG_2, -1, done);
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_2, BPF_REG_10, MAC_OFF + 4));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, 0xffff, done);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_1, PACKET_BROADCAST));
		bf_label_bind(b, done);
		return;
	}
	bf_comment(b, "pkt_type = skb->pkt_type");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, offsetof(struct __sk_buff, pkt_type)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, PACKET_LOOPBACK, done);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, PACKET_MULTICAST));
	if (ctx->family != NFPROTO_IPV6) {
		bf_comment(b, "looped back: multicast if the destination is 224/4, else broadcast");
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_7, BF_PKT_OFF(daddr)));
		bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_2, 0xf0));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 0xe0, done);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_1, PACKET_BROADCAST));
	}
	bf_label_bind(b, done);
}

static int pkttype_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_pkttype_info *info = data;
	struct bf_builder *b = ctx->b;
	enum bf_inv inv = bf_inv_kind((uint32_t)info->invert);

	if (inv == BF_INV_ALWAYS)
		return 0;
	emit_type(ctx);
	bf_comment(b, "pkttype %s%d", inv == BF_INV_INVERT ? "! " : "", info->pkttype);
	/* pkt_type is 3 bits: compare all 32 bits of pkttype, as the kernel's int compare does */
	bf_emit_jmp32_imm(b, inv == BF_INV_PLAIN ? BPF_JNE : BPF_JEQ, BPF_REG_1, info->pkttype,
			  ctx->miss);
	return bf_builder_err(b);
}

const struct bf_ext bf_match_pkttype = {
	.kind = BF_EXT_MATCH,
	.name = "pkttype",
	.revision = 0,
	.family = NFPROTO_UNSPEC,
	.size = sizeof(struct xt_pkttype_info),
	.emit = pkttype_emit,
};
