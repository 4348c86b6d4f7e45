// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mac match (net/netfilter/xt_mac.c): revision 0, NFPROTO_UNSPEC, matchsize
 * sizeof(struct xt_mac_info), hooks PRE_ROUTING | LOCAL_IN | FORWARD, no checkentry.
 *
 * mac_mt: no device or a device that is not ARPHRD_ETHER → false; no complete Ethernet header
 * before the network header → false (both before the inversion); else
 * ether_addr_equal(h_source, srcaddr) ^ invert (an int: invert > 1 always matches).
 *
 * Here: the device is the receiving interface (bf_pkt.iif). lo (ifindex 1 in every namespace) is
 * ARPHRD_LOOPBACK; an interface without a 14-byte link header (l3_off, the dispatcher's l2_len)
 * has no Ethernet header. Every other interface with a 14-byte header is taken as Ethernet.
 */
#include <string.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_mac.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

#define MAC_OFF (-BF_STACK_SCRATCH_OFF)
#define LOOPBACK_IFINDEX 1

static int mac_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_mac_info *info = data;
	struct bf_builder *b = ctx->b;
	enum bf_inv inv = bf_inv_kind((uint32_t)info->invert);
	bf_label ne = inv == BF_INV_PLAIN ? ctx->miss : bf_label_new(b);
	uint32_t w;
	uint16_t h;

	bf_comment(b, "mac: no Ethernet header (lo, or no 14-byte link header): no match");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(iif)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, LOOPBACK_IFINDEX, ctx->miss);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, ctx->miss);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(l3_off)));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, ETH_HLEN, ctx->miss);
	if (inv == BF_INV_ALWAYS)
		return bf_builder_err(b);

	bf_comment(b, "mac %s--mac-source %02x:%02x:%02x:%02x:%02x:%02x",
		   inv == BF_INV_INVERT ? "! " : "", info->srcaddr[0], info->srcaddr[1],
		   info->srcaddr[2], info->srcaddr[3], info->srcaddr[4], info->srcaddr[5]);
	/* h_source is at offset 6 of the 14-byte header that ends at l3_off */
	bf_emit_load_pkt(b, ctx->prog_ctx, BF_PKT_OFF(l3_off), -(ETH_HLEN - ETH_ALEN), MAC_OFF,
			 ETH_ALEN, ctx->miss);
	/* the constants in the byte order the loads see the bytes in */
	memcpy(&w, info->srcaddr, 4);
	memcpy(&h, info->srcaddr + 4, 2);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, MAC_OFF));
	bf_emit_jmp32_imm(b, BPF_JNE, BPF_REG_1, (int32_t)w, ne);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, MAC_OFF + 4));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, h, ne);
	if (inv == BF_INV_INVERT) {
		/* equal, inverted: no match */
		bf_emit_never(b, ctx->miss);
		bf_label_bind(b, ne);
	}
	return bf_builder_err(b);
}

const struct bf_ext bf_match_mac = {
	.kind = BF_EXT_MATCH,
	.name = "mac",
	.revision = 0,
	.family = NFPROTO_UNSPEC,
	.size = sizeof(struct xt_mac_info),
	.hooks = (1 << NF_INET_PRE_ROUTING) | (1 << NF_INET_LOCAL_IN) | (1 << NF_INET_FORWARD),
	.emit = mac_emit,
};
