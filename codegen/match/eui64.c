// SPDX-License-Identifier: GPL-2.0-only
/*
 * The eui64 match (net/ipv6/netfilter/ip6t_eui64.c): revision 0, NFPROTO_IPV6, matchsize
 * sizeof(int), hooks PRE_ROUTING | LOCAL_IN | FORWARD, no checkentry, no options.
 *
 * eui64_mt6: no complete Ethernet header before the network header and a non-first fragment →
 * hotdrop; an Ethernet header whose h_proto is ETH_P_IPV6 (and an IPv6 header, always the case
 * here) → true if the last 8 bytes of the source address are the modified EUI-64 of h_source
 * (its first 3 bytes with the universal/local bit flipped, ff:fe, its last 3 bytes); else false.
 *
 * Here: the link header is the dispatcher's l2_len bytes before l3_off (14 on Ethernet and lo, as
 * at TC ingress and XDP, where the kernel's mac header is the frame's). An interface without a
 * 14-byte link header: a non-first fragment is dropped as the kernel does; anything else does not
 * match (the kernel would read the bytes at its mac header, which such devices set to the network
 * header).
 */
#include <linux/if_ether.h>
#include <linux/netfilter.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

#define ETH_OFF (-BF_STACK_SCRATCH_OFF)

static int eui64_emit(struct bf_emit_ctx *ctx, const void *data)
{
	struct bf_builder *b = ctx->b;
	bf_label has_l2 = bf_label_new(b);
	/* byte i of the EUI-64: the index of the h_source byte it comes from, -1 for ff/fe */
	static const int src[8] = {0, 1, 2, -1, -1, 3, 4, 5};

	(void)data;
	bf_comment(b, "eui64: a complete Ethernet header before the IPv6 header");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(l3_off)));
	bf_emit_jmp_imm(b, BPF_JGE, BPF_REG_1, ETH_HLEN, has_l2);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(fragoff_h)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, ctx->hotdrop);
	bf_emit_never(b, ctx->miss);
	bf_label_bind(b, has_l2);

	bf_emit_load_pkt(b, ctx->prog_ctx, BF_PKT_OFF(l3_off), -ETH_HLEN, ETH_OFF, ETH_HLEN,
			 ctx->miss);
	bf_comment(b, "h_proto == ETH_P_IPV6");
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, ETH_OFF + 12));
	bf_emit(b, BF_BE(BPF_REG_1, 16));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, ETH_P_IPV6, ctx->miss);
	bf_comment(b, "saddr[8..15] == EUI-64 of h_source");
	for (int i = 0; i < 8; i++) {
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(saddr) + 8 + i));
		if (src[i] < 0) {
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, i == 3 ? 0xff : 0xfe, ctx->miss);
			continue;
		}
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_10, ETH_OFF + ETH_ALEN + src[i]));
		if (i == 0)
			bf_emit(b, BF_ALU32_IMM(BPF_XOR, BPF_REG_2, 0x02));
		bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, ctx->miss);
	}
	return bf_builder_err(b);
}

const struct bf_ext bf_match_eui64 = {
	.kind = BF_EXT_MATCH,
	.name = "eui64",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(int),
	.hooks = (1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_LOCAL_IN) | (1 << NF_INET_FORWARD),
	.emit = eui64_emit,
};
