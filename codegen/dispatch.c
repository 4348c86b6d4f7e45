// SPDX-License-Identifier: GPL-2.0-only
/*
 * The per-interface dispatcher (doc/design.md, "Where rules run"): parse the IPv4 header once,
 * fill this CPU's struct bf_pkt (codegen/abi.h), decide which hook the packet meets, and tail-call
 * the family's slot of the root prog array, where the active generation's entry program sits.
 * All of that is a subprogram of a small main function that marks the run in pkt->gen_seq
 * (emit_main; bf_gen_activate waits on it).
 *
 * Registers: R6 ctx, R7 struct bf_pkt * (as abi.h), R8 = IP header length (ihl * 4), R9 = bytes
 * to count (pkt->len); in the main function R9 is gen_seq's addend. Stack of the body (own
 * layout; no emitter runs here; the main function uses fp-8 only):
 *   fp-8      u32 map key
 *   fp-80     64 bytes: the IP header (zero padded to 60 bytes for the checksum), later the
 *             fixed transport header
 *   fp-88     struct bf_lroute_key4 for the local route lookup
 *   fp-160    struct bpf_fib_lookup (64 bytes)
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/icmp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/xt_state.h>

#include <bpfilter/cleanup.h>

#include "abi.h"
#include "bpf_insn.h"
#include "cg_priv.h"
#include "codegen.h"
#include "ct.h"
#include "target/reject_common.h"

#define PKT_OFF(field) ((int16_t)offsetof(struct bf_pkt, field))
#define SKB_OFF(field) ((int16_t)offsetof(struct __sk_buff, field))
#define XDP_OFF(field) ((int16_t)offsetof(struct xdp_md, field))
#define FIB_OFF(field) ((int16_t)(FP_FIB + (int16_t)offsetof(struct bpf_fib_lookup, field)))

/* frag_off bits (include/net/ip.h, not in the UAPI headers) */
#define IP_DF 0x4000
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

#define FP_KEY (-8)
#define FP_HDR (-80)
#define FP_LPM (-88)
#define FP_FIB (-160)

_Static_assert(offsetof(struct bf_pkt, jstack) % 8 == 0, "bf_pkt prefix zeroed by 8 bytes");
_Static_assert(sizeof(struct bpf_fib_lookup) == 64, "fib params fit their stack slot");

struct dctx {
	struct bf_builder *b;
	const struct bf_dispatch_cfg *cfg;
	enum bf_prog_ctx pctx;
	bf_label pass; /* no chain for this packet: let the kernel have it */
	bf_label ipv6; /* start of the IPv6 half */
	/* both halves end there: conntrack (pkt->ct_v6 set), then the family's root slot */
	bf_label track;
	bf_label root; /* after conntrack: the family's root slot */
};

/* See gen.c: a jump the verifier knows is taken (R7 is never NULL) that keeps the next
 * instruction in its control-flow graph. */
static void emit_goto(struct bf_builder *b, bf_label to)
{
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_7, 0, to);
}

/* r0 = load_bytes(ctx, off = r2, fp + fp_off, len = r4); jump to `fail` if it fails. R2, R4
 * set by the caller. */
static void emit_load_bytes(struct dctx *d, int16_t fp_off, bf_label fail)
{
	struct bf_builder *b = d->b;

	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, fp_off));
	bf_emit(b,
		BF_CALL(d->pctx == BF_CTX_XDP ? BPF_FUNC_xdp_load_bytes : BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, fail);
}

static void emit_zero_stack(struct bf_builder *b, int16_t fp_off, int16_t size)
{
	for (int16_t o = 0; o < size; o += 8)
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, (int16_t)(fp_off + o), 0));
}

/* IPv6 goes to its own half, anything else but IPv4 passes. */
static void emit_l3_proto(struct dctx *d)
{
	struct bf_builder *b = d->b;

	if (d->pctx == BF_CTX_TC) {
		bf_comment(b, "if (skb->protocol != htons(ETH_P_IP)) pass");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, SKB_OFF(protocol)));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, htons(ETH_P_IPV6), d->ipv6);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, htons(ETH_P_IP), d->pass);
		return;
	}
	if (d->cfg->l2_len < ETH_HLEN)
		return; /* no Ethernet header: the version nibble decides below */
	bf_comment(b, "if (eth->h_proto != htons(ETH_P_IP)) pass");
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, FP_HDR, 0));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, d->cfg->l2_len - 2));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 2));
	emit_load_bytes(d, FP_HDR, d->pass);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, FP_HDR));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, htons(ETH_P_IPV6), d->ipv6);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, htons(ETH_P_IP), d->pass);
}

/* Copy the IPv4 header to fp-80 and check it as ip_rcv_core() does at ingress. */
static void emit_ipv4_header(struct dctx *d)
{
	struct bf_builder *b = d->b;
	bool ingress = d->cfg->where != BF_DISPATCH_TC_EGRESS;
	bf_label no_opts = bf_label_new(b);

	bf_comment(b, "copy the IPv4 header to fp-80 (zero padded to 64 bytes)");
	emit_zero_stack(b, FP_HDR, 64);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, (int32_t)d->cfg->l2_len));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, (int32_t)sizeof(struct iphdr)));
	emit_load_bytes(d, FP_HDR, d->pass);
	bf_comment(b, "if (iph->version != 4) pass");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR));
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_1));
	bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_2, 4));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, 4, d->pass);
	bf_comment(b, "r8 = iph->ihl * 4; if (r8 < 20) pass");
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 0xf));
	bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_1, 2));
	bf_emit(b, BF_MOV64_REG(BPF_REG_8, BPF_REG_1));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_8, (int32_t)sizeof(struct iphdr), d->pass);
	bf_comment(b, "copy the options: load_bytes(l2 + 20, fp-60, r8 - 20)");
	bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_8, (int32_t)sizeof(struct iphdr), no_opts);
	bf_emit(b, BF_MOV64_REG(BPF_REG_4, BPF_REG_8));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_4, -(int32_t)sizeof(struct iphdr)));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, (int32_t)(d->cfg->l2_len + sizeof(struct iphdr))));
	emit_load_bytes(d, FP_HDR + (int16_t)sizeof(struct iphdr), d->pass);
	bf_label_bind(b, no_opts);

	if (!ingress) {
		/* Locally generated: count skb->len - l2, which also covers GSO packets whose
		 * tot_len does not describe the whole skb. */
		bf_comment(b, "r9 = skb->len - l2_len; if (r9 < r8) pass");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_9, BPF_REG_6, SKB_OFF(len)));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_9, -(int32_t)d->cfg->l2_len));
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_8, BPF_REG_9, d->pass);
		return;
	}
	/* ip_rcv_core: tot_len >= ihl * 4, the packet holds tot_len bytes, header checksum. The
	 * kernel drops what fails here before any hook: pass it and let it. */
	bf_comment(b, "r9 = ntohs(iph->tot_len); if (r9 < r8) pass");
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_9, BPF_REG_10, FP_HDR + 2));
	bf_emit(b, BF_BE(BPF_REG_9, 16));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_8, BPF_REG_9, d->pass);
	if (d->pctx == BF_CTX_XDP) {
		bf_comment(b, "r0 = bpf_xdp_get_buff_len(ctx) - l2_len");
		bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
		bf_emit(b, BF_CALL(BPF_FUNC_xdp_get_buff_len));
	} else {
		bf_comment(b, "r0 = skb->len - l2_len");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_0, BPF_REG_6, SKB_OFF(len)));
	}
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_0, -(int32_t)d->cfg->l2_len));
	bf_comment(b, "if (r0 < tot_len) pass");
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_9, BPF_REG_0, d->pass);
	/* One's complement sum over 60 bytes, as ip_fast_csum: 32-bit words added in 64 bits with
	 * the carries folded back (the zero padding past ihl * 4 adds nothing). Inline, it costs
	 * less than the helper call it replaces (csum_diff, a few ns of every packet). */
	bf_comment(b, "r0 = sum of the 15 words at fp-80; fold to 16 bits; if (r0 != 0xffff) pass");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_0, BPF_REG_10, FP_HDR));
	for (int16_t o = 4; o < 60; o += 4) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, (int16_t)(FP_HDR + o)));
		bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_0, BPF_REG_1));
	}
	for (int k = 0; k < 2; k++) {
		bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_0));
		bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_1, 32));
		bf_emit(b, BF_MOV32_REG(BPF_REG_0, BPF_REG_0));
		bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_0, BPF_REG_1));
	}
	bf_rej_emit_fold(b);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0xffff, d->pass);
}

/* Fill struct bf_pkt from the header at fp-80 (R8 = header length, R9 = len). */
static void emit_fill_l3(struct dctx *d)
{
	struct bf_builder *b = d->b;

	bf_comment(b, "memset(pkt, 0, offsetof(struct bf_pkt, jstack))");
	for (int16_t o = 0; o < (int16_t)offsetof(struct bf_pkt, jstack); o += 8)
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_7, o, 0));
	bf_comment(b, "pkt->l3_off = %u; l4_off = l3_off + r8; len = r9; l4_len = r9 - r8",
		   d->cfg->l2_len);
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(l3_off), (int32_t)d->cfg->l2_len));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_8));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, (int32_t)d->cfg->l2_len));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(l4_off)));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_9, PKT_OFF(len)));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_9));
	bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_1, BPF_REG_8));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(l4_len)));
	bf_comment(b, "pkt->saddr[0], daddr[0] = iph->saddr, daddr (network order)");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FP_HDR + 12));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(saddr)));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FP_HDR + 16));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(daddr)));
	bf_comment(b, "pkt->proto, tos, ttl");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR + 9));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_1, PKT_OFF(proto)));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR + 1));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_1, PKT_OFF(tos)));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR + 8));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_1, PKT_OFF(ttl)));
	bf_comment(b, "pkt->ihl_opts = r8 - 20");
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_8));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, -(int32_t)sizeof(struct iphdr)));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_1, PKT_OFF(ihl_opts)));
	bf_comment(b, "r1 = ntohs(iph->frag_off); fragoff_h = r1 & IP_OFFSET; frag_flags_h = "
		      "r1 & (IP_MF | IP_DF)");
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, FP_HDR + 6));
	bf_emit(b, BF_BE(BPF_REG_1, 16));
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_1));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_2, IP_OFFSET));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_7, BPF_REG_2, PKT_OFF(fragoff_h)));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, IP_MF | IP_DF));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_7, BPF_REG_1, PKT_OFF(frag_flags_h)));
}

/* Transport fields, when this is a first fragment and the fixed header is there. R8 = the
 * transport offset from the IP header, R9 = len; icmp_proto: IPPROTO_ICMP or IPPROTO_ICMPV6. */
static void emit_fill_l4(struct dctx *d, int icmp_proto)
{
	struct bf_builder *b = d->b;
	bf_label done = bf_label_new(b), tcp = bf_label_new(b), udp = bf_label_new(b);
	bf_label icmp = bf_label_new(b);
	struct {
		bf_label l;
		int proto;
		int hlen;
	} l4[] = {{tcp, IPPROTO_TCP, 20},
		  {udp, IPPROTO_UDP, 8},
		  {udp, IPPROTO_UDPLITE, 8},
		  {icmp, icmp_proto, 8}};

	bf_comment(b, "if (pkt->fragoff_h) no transport header");
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(fragoff_h)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, done);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(proto)));
	bf_emit(b, BF_MOV64_REG(BPF_REG_4, BPF_REG_9));
	bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_4, BPF_REG_8));
	for (size_t k = 0; k < BF_ARRAY_SIZE(l4); k++) {
		bf_label next = bf_label_new(b);

		bf_comment(b, "proto %d: needs l4_len >= %d", l4[k].proto, l4[k].hlen);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, l4[k].proto, next);
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_4, l4[k].hlen, done);
		bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_8));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, (int32_t)d->cfg->l2_len));
		bf_emit(b, BF_MOV64_IMM(BPF_REG_4, l4[k].hlen));
		emit_load_bytes(d, FP_HDR, done);
		emit_goto(b, l4[k].l);
		bf_label_bind(b, next);
	}
	emit_goto(b, done);

	bf_label_bind(b, tcp);
	bf_comment(b, "tcp: ports, flags (byte 13), doff * 4");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR + 13));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_1, PKT_OFF(tcpflags)));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR + 12));
	bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_1, 4));
	bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_1, 2));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_1, PKT_OFF(tcpdoff)));
	bf_label_bind(b, udp);
	bf_comment(b, "ports (network order); pkt->flags |= BF_PKT_F_L4_OK");
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, FP_HDR));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_7, BPF_REG_1, PKT_OFF(sport)));
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, FP_HDR + 2));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_7, BPF_REG_1, PKT_OFF(dport)));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(flags), BF_PKT_F_L4_OK));
	emit_goto(b, done);
	bf_label_bind(b, icmp);
	bf_comment(b, "icmp: type, code; pkt->flags |= BF_PKT_F_L4_OK");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_1, PKT_OFF(icmp_type)));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR + 1));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_1, PKT_OFF(icmp_code)));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(flags), BF_PKT_F_L4_OK));
	bf_label_bind(b, done);
}

/* r1 = the interface this program runs on. */
static void emit_this_ifindex(struct dctx *d, uint8_t reg)
{
	if (d->pctx == BF_CTX_XDP)
		bf_emit(d->b, BF_LDX_MEM(BPF_W, reg, BPF_REG_6, XDP_OFF(ingress_ifindex)));
	else
		bf_emit(d->b, BF_LDX_MEM(BPF_W, reg, BPF_REG_6, SKB_OFF(ifindex)));
}

/* pkt->{iif,oif}name = bf_ifname[pkt->{iif,oif}] when there is one. */
static void emit_ifname(struct dctx *d, int16_t idx_off, int16_t name_off)
{
	struct bf_builder *b = d->b;
	bf_label skip = bf_label_new(b);

	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, idx_off));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, skip);
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FP_KEY));
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_IFNAME);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, FP_KEY));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, skip);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_0, 0));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_7, BPF_REG_1, name_off));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_0, 8));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_7, BPF_REG_1, (int16_t)(name_off + 8)));
	bf_label_bind(b, skip);
}

/* Set pkt->hook and the interfaces, then go to `go`. */
static void emit_set_hook(struct dctx *d, unsigned int hook, bf_label go)
{
	struct bf_builder *b = d->b;

	bf_comment(b, "pkt->hook = %u", hook);
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(hook), (int32_t)hook));
	emit_this_ifindex(d, BPF_REG_1);
	if (hook == NF_INET_LOCAL_OUT || hook == NF_INET_POST_ROUTING)
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(oif)));
	else
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(iif)));
	emit_goto(b, go);
}

/*
 * REJECT's reply (codegen/target/reject.c, reject6.c) at the egress dispatcher, or the ICMP
 * error the kernel sends before the filter (emit_icmp_error_ahead). The kernel attaches the
 * rejected packet's conntrack to the RST or ICMP error it sends (nf_ct_attach), as
 * IP_CT_RELATED_REPLY for a packet of the original direction, IP_CT_RELATED for a reply: OUTPUT
 * sees it RELATED, in the other direction, with its connection's tuple (unconfirmed if the
 * packet opened it: ct_commit stays set for the matches, and bf_ct_emit_commit never inserts
 * for a RELATED packet, as ipv4_confirm skips IP_CT_RELATED_REPLY), and conntrack does not look
 * at it again. pkt still holds the rejected packet's ct fields: bpf_redirect runs this program
 * on the same CPU before the ingress program's caller returns. A rejected packet without a
 * conntrack (INVALID, UNTRACKED) attaches nothing: its reply goes to `out` and is tracked as any
 * packet.
 */
static void emit_reject_reply(struct dctx *d, bf_label reply, bf_label out, bool v6)
{
	struct bf_builder *b = d->b;
	bf_label go = bf_label_new(b);

	bf_label_bind(b, reply);
	bf_comment(b, "pkt->flags |= BF_PKT_F_REJECT_REPLY");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(flags)));
	bf_emit(b, BF_ALU32_IMM(BPF_OR, BPF_REG_1, BF_PKT_F_REJECT_REPLY));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(flags)));
	bf_comment(b, "if (pkt->ct_state & (INVALID | UNTRACKED)) track the reply as any packet");
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(ct_state)));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, XT_STATE_INVALID | XT_STATE_UNTRACKED, out);
	emit_set_hook(d, NF_INET_LOCAL_OUT, go);
	bf_label_bind(b, go);
	emit_ifname(d, PKT_OFF(iif), PKT_OFF(iifname));
	emit_ifname(d, PKT_OFF(oif), PKT_OFF(oifname));
	bf_comment(b, "pkt->ct_v6 = %d; pkt->ct_state = RELATED; pkt->ct_dir ^= 1", v6);
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_7, PKT_OFF(ct_v6), v6));
	bf_emit(b, BF_ST_MEM(BPF_H, BPF_REG_7, PKT_OFF(ct_state), XT_STATE_BIT(IP_CT_RELATED)));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(ct_dir)));
	bf_emit(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_1, 1));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_1, PKT_OFF(ct_dir)));
	emit_goto(b, d->root);
}

/* Ingress: local destination -> INPUT, forwarded -> FORWARD (with the fib's out interface),
 * anything else passes without a chain. */
static void emit_ingress_decision(struct dctx *d, bf_label go)
{
	struct bf_builder *b = d->b;
	bool want_input = d->pctx == BF_CTX_XDP || !d->cfg->xdp_input;
	bf_label local = bf_label_new(b), fwd = bf_label_new(b), nofwd = bf_label_new(b);
	bf_label icmperr = bf_label_new(b);

	bf_comment(b, "r1 = daddr; limited broadcast or multicast: local");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(daddr)));
	bf_emit_jmp32_imm(b, BPF_JEQ, BPF_REG_1, (int32_t)0xffffffff, local);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_7, PKT_OFF(daddr)));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_2, 0xf0));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 0xe0, local);
	bf_comment(b, "if (bpf_map_lookup_elem(bf_lroute, {32, daddr})) local");
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, FP_LPM, 32));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FP_LPM + 4));
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_LROUTE);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, FP_LPM));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, local);

	if (d->pctx == BF_CTX_XDP) {
		/* Forwarded packets meet FORWARD at TC ingress. */
		emit_goto(b, d->pass);
	} else {
		/*
		 * net/core/filter.c bpf_ipv4_fib_lookup(): SUCCESS, and NO_NEIGH (route found,
		 * no resolved neighbour yet), both set params->ifindex to the route's device
		 * before returning; FWD_DISABLED, BLACKHOLE, UNREACHABLE, PROHIBIT, NOT_FWDED
		 * mean ip_forward will not run. At TC, FRAG_NEEDED comes from the skb MTU check
		 * after a successful lookup (ifindex set): ip_forward then sends an ICMP error
		 * before FORWARD when DF is set, and fragments after FORWARD otherwise.
		 */
		bf_comment(b, "r0 = bpf_fib_lookup(ctx, &params, 64, 0)");
		emit_zero_stack(b, FP_FIB, (int16_t)sizeof(struct bpf_fib_lookup));
		bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FIB_OFF(family), AF_INET));
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(proto)));
		bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_1, FIB_OFF(l4_protocol)));
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(sport)));
		bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, FIB_OFF(sport)));
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(dport)));
		bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, FIB_OFF(dport)));
		emit_this_ifindex(d, BPF_REG_1);
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FIB_OFF(ifindex)));
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(tos)));
		bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_1, FIB_OFF(tos)));
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(saddr)));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FIB_OFF(ipv4_src)));
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(daddr)));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FIB_OFF(ipv4_dst)));
		bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
		bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, FP_FIB));
		bf_emit(b, BF_MOV64_IMM(BPF_REG_3, (int32_t)sizeof(struct bpf_fib_lookup)));
		bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 0));
		bf_emit(b, BF_CALL(BPF_FUNC_fib_lookup));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_SUCCESS, fwd);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_NO_NEIGH, fwd);
		/* No route (ip_route_input -> ip_error): -ENETUNREACH, -EHOSTUNREACH, -EACCES. */
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_NOT_FWDED, icmperr);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_UNREACHABLE, icmperr);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_PROHIBIT, icmperr);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, BPF_FIB_LKUP_RET_FRAG_NEEDED, nofwd);
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(frag_flags_h)));
		/* DF: ip_forward sends time exceeded (ttl <= 1) or fragmentation needed */
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IP_DF, icmperr);
		bf_label_bind(b, fwd);
		/* ip_forward() drops a packet whose TTL expires here before FORWARD (time
		 * exceeded), and FORWARD sees the TTL already decremented (ip_decrease_ttl). */
		bf_comment(b, "ttl <= 1: not forwarded (time exceeded); FORWARD sees ttl - 1");
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(ttl)));
		bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_1, 1, icmperr);
		bf_emit(b, BF_ALU64_IMM(BPF_SUB, BPF_REG_1, 1));
		bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_1, PKT_OFF(ttl)));
		bf_comment(b, "FORWARD: iif = this interface, oif = params.ifindex");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FIB_OFF(ifindex)));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(oif)));
		emit_set_hook(d, NF_INET_FORWARD, go);

		bf_label_bind(b, icmperr);
		/* The kernel answers with icmp_send() before any filter hook (ip_error,
		 * ip_forward's time exceeded), after conntrack tracked the packet at PREROUTING;
		 * the error carries that conntrack (nf_ct_attach). Track it here as PREROUTING
		 * (pkt->hook 0: no chain) and announce the error to the egress dispatcher. */
		bf_comment(b, "icmp_send() before the filter: PACKET_HOST only; track, no chain");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, SKB_OFF(pkt_type)));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, PACKET_HOST, nofwd);
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(hook), NF_INET_PRE_ROUTING));
		bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_7, PKT_OFF(ct_v6), 0));
		emit_goto(b, d->track);
		bf_label_bind(b, nofwd);
		emit_goto(b, d->pass);
	}

	bf_label_bind(b, local);
	if (want_input)
		emit_set_hook(d, NF_INET_LOCAL_IN, go);
	else
		emit_goto(b, d->pass); /* INPUT runs at XDP */
}

/*
 * IPv6. The header is checked as ip6_rcv_core() does at ingress (version, payload length against
 * the packet, multicast source); the extension headers are walked once, as ipv6_find_hdr() walks
 * them, recording where each kind first appears (bf_pkt.x6_*) for the rt/frag/hbh/dst matches, and
 * where the upper-layer header starts (l4_off, proto) for ip6_packet_match() and the transport
 * matches. ipv6_find_hdr() has no bound; this walk stops after BF_X6_WALK_MAX headers and then
 * treats the chain as truncated (-EBADMSG: entries that look for a header hotdrop, fail closed).
 */
#define BF_X6_WALK_MAX 8
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_NONE 59
#define NEXTHDR_DEST 60
#define IP6_MF 0x0001
#define IP6_OFFSET 0xfff8
#define FP_LPM6 (-184) /* struct bf_lroute_key6 (20 bytes) */

_Static_assert(sizeof(struct bf_lroute_key6) <= 24, "IPv6 trie key fits its stack slot");

/* Jump to `to` when reg holds one of the extension headers ipv6_ext_hdr() walks through (NONE
 * excluded: it ends the walk like an upper-layer protocol). */
static void emit_jmp_if_ext(struct bf_builder *b, uint8_t reg, bf_label to)
{
	static const int ext[] = {NEXTHDR_HOP, NEXTHDR_ROUTING, NEXTHDR_FRAGMENT, NEXTHDR_AUTH,
				  NEXTHDR_DEST};

	for (size_t i = 0; i < BF_ARRAY_SIZE(ext); i++)
		bf_emit_jmp_imm(b, BPF_JEQ, reg, ext[i], to);
}

/* Copy the fixed header to fp-80, check it, fill the L3 part of bf_pkt. R9 = len on return. */
static void emit_ipv6_header(struct dctx *d)
{
	struct bf_builder *b = d->b;
	bool ingress = d->cfg->where != BF_DISPATCH_TC_EGRESS;

	bf_comment(b, "copy the IPv6 header to fp-80");
	emit_zero_stack(b, FP_HDR, 40);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, (int32_t)d->cfg->l2_len));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 40));
	emit_load_bytes(d, FP_HDR, d->pass);
	bf_comment(b, "if (ip6h->version != 6) pass");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR));
	bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_1, 4));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 6, d->pass);
	if (ingress) {
		bf_label sized = bf_label_new(b);

		/* ip6_rcv_core: the kernel drops these before any hook; a jumbogram (payload
		 * length 0 with a hop-by-hop header) is left to it, unfiltered. */
		bf_comment(b, "r9 = ntohs(payload_len) + 40; jumbogram: pass");
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_9, BPF_REG_10, FP_HDR + 4));
		bf_emit(b, BF_BE(BPF_REG_9, 16));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_9, 0, sized);
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR + 6));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, NEXTHDR_HOP, d->pass);
		bf_label_bind(b, sized);
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_9, 40));
		if (d->pctx == BF_CTX_XDP) {
			bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
			bf_emit(b, BF_CALL(BPF_FUNC_xdp_get_buff_len));
		} else {
			bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_0, BPF_REG_6, SKB_OFF(len)));
		}
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_0, -(int32_t)d->cfg->l2_len));
		bf_comment(b, "if (r0 < r9) pass (truncated); multicast source: pass");
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_9, BPF_REG_0, d->pass);
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR + 8));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0xff, d->pass);
		{
			bf_label nohbh = bf_label_new(b);

			/* ipv6_parse_hopopts() drops a hop-by-hop header that is not whole
			 * inside the payload before any hook (checked against a 6.18 kernel). */
			bf_comment(b, "hop-by-hop not whole (r9 < 40 + optlen): pass");
			bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR + 6));
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, NEXTHDR_HOP, nohbh);
			bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_9, 48, d->pass);
			bf_emit(b, BF_MOV64_IMM(BPF_REG_2, (int32_t)d->cfg->l2_len + 40));
			bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 2));
			emit_load_bytes(d, FP_HDR + 40, d->pass);
			bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR + 41));
			bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 1));
			bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_1, 3));
			bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 40));
			bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_1, BPF_REG_9, d->pass);
			bf_label_bind(b, nohbh);
		}
	} else {
		bf_comment(b, "r9 = skb->len - l2_len; if (r9 < 40) pass");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_9, BPF_REG_6, SKB_OFF(len)));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_9, -(int32_t)d->cfg->l2_len));
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_9, 40, d->pass);
	}

	bf_comment(b, "memset(pkt, 0, offsetof(struct bf_pkt, jstack)); l3_off, len");
	for (int16_t o = 0; o < (int16_t)offsetof(struct bf_pkt, jstack); o += 8)
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_7, o, 0));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(l3_off), (int32_t)d->cfg->l2_len));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_9, PKT_OFF(len)));
	bf_comment(b, "saddr, daddr (network order)");
	for (int16_t w = 0; w < 4; w++) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FP_HDR + 8 + 4 * w));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(saddr) + 4 * w));
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FP_HDR + 24 + 4 * w));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(daddr) + 4 * w));
	}
	bf_comment(b, "ttl = hop limit; tos = traffic class");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR + 7));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_1, PKT_OFF(ttl)));
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, FP_HDR));
	bf_emit(b, BF_BE(BPF_REG_1, 16));
	bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_1, 4));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_1, PKT_OFF(tos)));
}

/* Record r9 in pkt->field unless a header of that kind was found before. */
static void emit_x6_record(struct bf_builder *b, int kind, int16_t off)
{
	bf_label skip = bf_label_new(b);

	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_8, kind, skip);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, off));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, skip);
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_7, BPF_REG_9, off));
	bf_label_bind(b, skip);
}

/*
 * The extension header walk. R8 = next header, R9 = its offset from the IPv6 header. Ends at
 * `l4` (R8 = upper-layer protocol or NONE, R9 = its offset), or at `nol4` with pkt->flags and, for
 * a non-first fragment, proto/fragoff_h/l4_off set.
 */
static void emit_ipv6_walk(struct dctx *d, bf_label l4, bf_label nol4)
{
	struct bf_builder *b = d->b;
	bf_label trunc = bf_label_new(b), noproto = bf_label_new(b);

	bf_comment(b, "r8 = ip6h->nexthdr; r9 = 40");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_8, BPF_REG_10, FP_HDR + 6));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, 40));
	for (int i = 0; i < BF_X6_WALK_MAX; i++) {
		bf_label ext = bf_label_new(b), sized = bf_label_new(b), not4 = bf_label_new(b);
		bf_label notfrag = bf_label_new(b), lenset = bf_label_new(b);
		bf_label upper = bf_label_new(b);

		bf_comment(b, "extension header %d: not one (or NONE): the upper layer", i);
		emit_jmp_if_ext(b, BPF_REG_8, ext);
		emit_goto(b, l4);
		bf_label_bind(b, ext);
		bf_comment(b, "fewer than 2 bytes left: -EBADMSG; copy up to 8 bytes to fp-80");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(len)));
		bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_9));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 2));
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_2, BPF_REG_1, trunc);
		bf_emit(b, BF_MOV64_REG(BPF_REG_4, BPF_REG_1));
		bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_4, BPF_REG_9));
		bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_4, 8, sized);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 8));
		bf_label_bind(b, sized);
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_4, 2, trunc);
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, FP_HDR, 0));
		bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_9));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, (int32_t)d->cfg->l2_len));
		emit_load_bytes(d, FP_HDR, trunc);
		bf_comment(b, "routing and fragment headers are read 4 bytes deep first");
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, NEXTHDR_ROUTING, not4);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_8, NEXTHDR_FRAGMENT, notfrag);
		bf_label_bind(b, not4);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(len)));
		bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_1, BPF_REG_9));
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 4, trunc);
		bf_label_bind(b, notfrag);
		emit_x6_record(b, NEXTHDR_HOP, PKT_OFF(x6_hbh));
		emit_x6_record(b, NEXTHDR_DEST, PKT_OFF(x6_dst));
		emit_x6_record(b, NEXTHDR_ROUTING, PKT_OFF(x6_rt));
		emit_x6_record(b, NEXTHDR_FRAGMENT, PKT_OFF(x6_frag));

		bf_comment(b, "r1 = the header's length");
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_HDR + 1));
		bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_1));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 1));
		bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_1, 3));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_8, NEXTHDR_AUTH, lenset);
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 2));
		bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_2, 2));
		bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_2));
		bf_label_bind(b, lenset);
		{
			bf_label first = bf_label_new(b);

			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_8, NEXTHDR_FRAGMENT, first);
			bf_emit(b, BF_MOV64_IMM(BPF_REG_1, 8));
			bf_comment(b,
				   "fragment: r2 = ntohs(frag_off); MF; offset != 0 ends the walk");
			bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_2, BPF_REG_10, FP_HDR + 2));
			bf_emit(b, BF_BE(BPF_REG_2, 16));
			bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_2));
			bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_3, IP6_MF));
			bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_3, 13)); /* as IP_MF */
			bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_7, BPF_REG_3, PKT_OFF(frag_flags_h)));
			bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_2, IP6_OFFSET));
			bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 0, first);
			bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_2, 3));
			bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_7, BPF_REG_2, PKT_OFF(fragoff_h)));
			/* ipv6_find_hdr(-1): the fragment's next header if it is the upper layer,
			 * else -ENOENT with *fragoff still 0 (so ip6_packet_match hotdrops). */
			bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_10, FP_HDR));
			emit_jmp_if_ext(b, BPF_REG_2, noproto);
			bf_label_bind(b, upper);
			bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_2, PKT_OFF(proto)));
			bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_9));
			bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, (int32_t)d->cfg->l2_len + 8));
			bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(l4_off)));
			emit_goto(b, nol4);
			bf_label_bind(b, first);
		}
		bf_comment(b, "r8 = hdr->nexthdr; r9 += r1");
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_8, BPF_REG_10, FP_HDR));
		bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_9, BPF_REG_1));
	}
	bf_comment(b, "more extension headers than the walk follows: as truncated");
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_7, 0, trunc);

	bf_label_bind(b, trunc);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(flags)));
	bf_emit(b, BF_ALU32_IMM(BPF_OR, BPF_REG_1, BF_PKT_F_X6_TRUNC | BF_PKT_F_X6_NOPROTO));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(flags)));
	emit_goto(b, nol4);
	bf_label_bind(b, noproto);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(flags)));
	bf_emit(b, BF_ALU32_IMM(BPF_OR, BPF_REG_1, BF_PKT_F_X6_NOPROTO));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(flags)));
	emit_goto(b, nol4);
}

/* Ingress: multicast or a local/anycast destination -> INPUT; forwarded -> FORWARD. */
static void emit_ingress_decision6(struct dctx *d, bf_label go)
{
	struct bf_builder *b = d->b;
	bool want_input = d->pctx == BF_CTX_XDP || !d->cfg->xdp_input;
	bf_label local = bf_label_new(b), fwd = bf_label_new(b), icmperr = bf_label_new(b);

	bf_comment(b, "multicast (ff00::/8): local");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(daddr)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0xff, local);
	bf_comment(b, "if (bpf_map_lookup_elem(bf_lroute6, {128, daddr})) local");
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, FP_LPM6, 128));
	for (int16_t w = 0; w < 4; w++) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(daddr) + 4 * w));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FP_LPM6 + 4 + 4 * w));
	}
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_LROUTE6);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, FP_LPM6));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, local);

	if (d->pctx == BF_CTX_XDP) {
		emit_goto(b, d->pass);
	} else {
		/*
		 * The route comes first (ip6_rcv_finish -> ip6_route_input): no route sends
		 * "no route" (ip6_pkt_drop) whatever the hop limit. ip6_forward() then drops before
		 * FORWARD when the hop limit is 1 or less (time exceeded) and when the packet is
		 * too big for the route (FRAG_NEEDED: IPv6 routers never fragment, "packet too
		 * big"). bpf_ipv6_fib_lookup() answers FWD_DISABLED when forwarding is off and
		 * refuses link-local addresses (rt6_need_strict): those pass, not modelled.
		 */
		bf_comment(b, "link-local source or destination: not modelled, pass");
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(saddr)));
		bf_emit(b, BF_BE(BPF_REG_1, 16));
		bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 0xffc0));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0xfe80, d->pass);
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(daddr)));
		bf_emit(b, BF_BE(BPF_REG_1, 16));
		bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 0xffc0));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0xfe80, d->pass);
		bf_comment(b, "r0 = bpf_fib_lookup(ctx, &params, 64, 0) (AF_INET6)");
		emit_zero_stack(b, FP_FIB, (int16_t)sizeof(struct bpf_fib_lookup));
		bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FIB_OFF(family), AF_INET6));
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(proto)));
		bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_1, FIB_OFF(l4_protocol)));
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(sport)));
		bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, FIB_OFF(sport)));
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(dport)));
		bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, FIB_OFF(dport)));
		emit_this_ifindex(d, BPF_REG_1);
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FIB_OFF(ifindex)));
		bf_comment(b, "flowinfo = htonl(tclass << 20)");
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(tos)));
		bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_1, 20));
		bf_emit(b, BF_BE(BPF_REG_1, 32));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FIB_OFF(flowinfo)));
		for (int16_t w = 0; w < 4; w++) {
			bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(saddr) + 4 * w));
			bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1,
					      FIB_OFF(ipv6_src) + 4 * w));
			bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(daddr) + 4 * w));
			bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1,
					      FIB_OFF(ipv6_dst) + 4 * w));
		}
		bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
		bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, FP_FIB));
		bf_emit(b, BF_MOV64_IMM(BPF_REG_3, (int32_t)sizeof(struct bpf_fib_lookup)));
		bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 0));
		bf_emit(b, BF_CALL(BPF_FUNC_fib_lookup));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_SUCCESS, fwd);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_NO_NEIGH, fwd);
		/* No route: fib6_null_entry, unreachable, throw (ip6_pkt_discard), prohibit. */
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_NOT_FWDED, icmperr);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_UNREACHABLE, icmperr);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_PROHIBIT, icmperr);
		/* Too big: time exceeded or packet too big, an error either way. */
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_FRAG_NEEDED, icmperr);
		emit_goto(b, d->pass);
		bf_label_bind(b, fwd);
		/* ip6_forward() decrements the hop limit before FORWARD. */
		bf_comment(b, "hop limit <= 1: time exceeded; FORWARD sees hop limit - 1");
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(ttl)));
		bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_1, 1, icmperr);
		bf_emit(b, BF_ALU64_IMM(BPF_SUB, BPF_REG_1, 1));
		bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_1, PKT_OFF(ttl)));
		bf_comment(b, "FORWARD: iif = this interface, oif = params.ifindex");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FIB_OFF(ifindex)));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(oif)));
		emit_set_hook(d, NF_INET_FORWARD, go);

		bf_label_bind(b, icmperr);
		/* As IPv4 (emit_ingress_decision): icmpv6_send() before any filter hook, after
		 * conntrack tracked the packet at PREROUTING; the error carries that conntrack
		 * (nf_ct_attach in icmpv6_send). ip6_forward and icmp6_send skip other pkt_types.
		 */
		bf_comment(b, "icmpv6_send() before the filter: PACKET_HOST only; track, no chain");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, SKB_OFF(pkt_type)));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, PACKET_HOST, d->pass);
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(hook), NF_INET_PRE_ROUTING));
		bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_7, PKT_OFF(ct_v6), 1));
		emit_goto(b, d->track);
	}

	bf_label_bind(b, local);
	if (want_input)
		emit_set_hook(d, NF_INET_LOCAL_IN, go);
	else
		emit_goto(b, d->pass);
}

/* The IPv6 half of the dispatcher, from `d->ipv6` to the tail call of the IPv6 root slot. */
static void emit_ipv6_dispatcher(struct dctx *d)
{
	struct bf_builder *b = d->b;
	const struct bf_dispatch_cfg *cfg = d->cfg;
	bf_label go = bf_label_new(b), l4 = bf_label_new(b), nol4 = bf_label_new(b), reply = {0},
		 out = {0};
	bf_label inside = bf_label_new(b);

	bf_label_bind(b, d->ipv6);
	emit_ipv6_header(d);
	emit_ipv6_walk(d, l4, nol4);

	bf_label_bind(b, l4);
	bf_comment(b, "upper layer r8 at r9: proto, l4_off, l4_len (0 past the end)");
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_7, BPF_REG_8, PKT_OFF(proto)));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_9));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, (int32_t)cfg->l2_len));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(l4_off)));
	bf_emit(b, BF_MOV64_REG(BPF_REG_8, BPF_REG_9));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_9, BPF_REG_7, PKT_OFF(len)));
	bf_emit_jmp_reg(b, BPF_JGE, BPF_REG_9, BPF_REG_8, inside);
	emit_goto(b, nol4);
	bf_label_bind(b, inside);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_9));
	bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_1, BPF_REG_8));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(l4_len)));
	/* R8 = transport offset from l3, R9 = len: what emit_fill_l4 expects. */
	emit_fill_l4(d, IPPROTO_ICMPV6);

	bf_label_bind(b, nol4);
	if (cfg->force_hook >= 0) {
		if (cfg->force_hook == NF_INET_FORWARD)
			bf_emit(b,
				BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(oif), (int32_t)cfg->force_oif));
		emit_set_hook(d, (unsigned int)cfg->force_hook, go);
	} else if (cfg->where == BF_DISPATCH_TC_EGRESS) {
		bf_label fwd = bf_label_new(b);

		out = bf_label_new(b);
		reply = bf_label_new(b);
		/* REJECT's reply, redirected here from ingress (codegen/target/reject6.c): OUTPUT,
		 * as ip6_local_out in the kernel. Consumed once. */
		bf_comment(b, "REJECT reply: pkt->reply_ifindex == ifindex && reply_len == len");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(reply_ifindex)));
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(reply_ifindex), 0));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, fwd);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_6, SKB_OFF(ifindex)));
		bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, fwd);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(reply_len)));
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_6, SKB_OFF(len)));
		bf_emit_jmp_reg(b, BPF_JEQ, BPF_REG_1, BPF_REG_2, reply);
		bf_label_bind(b, fwd);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, SKB_OFF(ingress_ifindex)));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, d->pass);
		bf_label_bind(b, out);
		emit_set_hook(d, NF_INET_LOCAL_OUT, go);
	} else {
		emit_ingress_decision6(d, go);
	}

	bf_label_bind(b, go);
	emit_ifname(d, PKT_OFF(iif), PKT_OFF(iifname));
	emit_ifname(d, PKT_OFF(oif), PKT_OFF(oifname));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_7, PKT_OFF(ct_v6), 1));
	emit_goto(b, d->track);
	if (reply.id)
		emit_reject_reply(d, reply, out, true);
}

/*
 * The tail of emit_icmp_error_ahead, both families: with the fib parameters at FP_FIB (the
 * packet's source as destination), the error's way out; then announce it to egress:
 * reply_len = l2 + hdr + min(len, max - hdr) (the error's headers and the quote that fits
 * icmp_send's 576 or icmpv6_send's 1280 bytes), reply_ifindex. Ends at d->pass.
 */
static void emit_announce_error(struct dctx *d, int32_t hdr, int32_t max)
{
	struct bf_builder *b = d->b;
	bf_label found = bf_label_new(b), len = bf_label_new(b);

	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, FP_FIB));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_3, (int32_t)sizeof(struct bpf_fib_lookup)));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_fib_lookup));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_SUCCESS, found);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, BPF_FIB_LKUP_RET_NO_NEIGH, d->pass);
	bf_label_bind(b, found);
	bf_comment(b, "reply_len = l2 + hdr + min(len, max - hdr); reply_ifindex");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(len)));
	bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_1, max - hdr, len);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, max - hdr));
	bf_label_bind(b, len);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, hdr));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_1, BPF_REG_2));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(reply_len)));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FIB_OFF(ifindex)));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(reply_ifindex)));
	emit_goto(b, d->pass);
}

/*
 * The IPv6 form of emit_icmp_error_ahead (emit_ingress_decision6: no route, hop limit, too big):
 * icmp6_send() answers nothing for an unspecified source (a multicast one never gets here),
 * an ICMPv6 error or a header cut before its type (is_ineligible). A fragment is left out:
 * nf_defrag_ipv6 holds it for reassembly before conntrack, which is not modelled here. The
 * error is 40 + 8 + min(len, IPV6_MIN_MTU - 48) bytes, routed to the packet's source.
 */
static void emit_icmp6_error_ahead(struct dctx *d)
{
	struct bf_builder *b = d->b;
	bf_label not_icmp = bf_label_new(b);

	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(x6_frag)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, d->pass);
	bf_comment(b, "saddr == ::: no error");
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_7, PKT_OFF(saddr)));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_7, PKT_OFF(saddr) + 8));
	bf_emit(b, BF_ALU64_REG(BPF_OR, BPF_REG_1, BPF_REG_2));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, d->pass);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(proto)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, IPPROTO_ICMPV6, not_icmp);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(flags)));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, BF_PKT_F_L4_OK));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, d->pass); /* (a truncated header: not modelled) */
	bf_comment(b, "an ICMPv6 error (type < 128): no error");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(icmp_type)));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 128, d->pass);
	bf_label_bind(b, not_icmp);
	bf_comment(b, "bpf_fib_lookup(AF_INET6, dst = the packet's source): the error's interface");
	emit_zero_stack(b, FP_FIB, (int16_t)sizeof(struct bpf_fib_lookup));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FIB_OFF(family), AF_INET6));
	emit_this_ifindex(d, BPF_REG_1);
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FIB_OFF(ifindex)));
	for (int16_t w = 0; w < 4; w++) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(saddr) + 4 * w));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FIB_OFF(ipv6_dst) + 4 * w));
	}
	emit_announce_error(d, 48, 1280);
}

/*
 * A packet the kernel answers with an ICMP error before any filter hook (pkt->hook is
 * NF_INET_PRE_ROUTING, emit_ingress_decision), now tracked: no chain. The kernel's error is
 * sent from within this packet's receive path, so the egress dispatcher on this CPU sees it
 * next, as it sees REJECT's reply: pkt->reply_{ifindex,len} announce it, and it meets OUTPUT
 * RELATED to this packet's connection (emit_reject_reply). The announcement is dropped where
 * icmp_send() sends nothing (not the first fragment, an ICMP error or unknown type, no route
 * back) or its length is not known here (IP options: the reply echoes them; the tracker
 * clears it at the next packet anyway, should a rate limit keep the error from being sent).
 */
static void emit_icmp_error_ahead(struct dctx *d)
{
	struct bf_builder *b = d->b;
	bf_label chains = bf_label_new(b), not_icmp = bf_label_new(b);
	bf_label v6 = bf_label_new(b);

	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(hook)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, NF_INET_PRE_ROUTING, chains);
	bf_comment(b, "icmp_send()'s conditions; the error's length and way out");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(ct_v6)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, v6);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(fragoff_h)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, d->pass);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(ihl_opts)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, d->pass);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(proto)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, IPPROTO_ICMP, not_icmp);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(flags)));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, BF_PKT_F_L4_OK));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, d->pass); /* (a truncated header: not modelled) */
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(icmp_type)));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_1, NR_ICMP_TYPES, d->pass);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, ICMP_DEST_UNREACH, d->pass);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, ICMP_SOURCE_QUENCH, d->pass);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, ICMP_REDIRECT, d->pass);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, ICMP_TIME_EXCEEDED, d->pass);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, ICMP_PARAMETERPROB, d->pass);
	bf_label_bind(b, not_icmp);
	bf_comment(b, "bpf_fib_lookup(dst = the packet's source): the error's interface");
	emit_zero_stack(b, FP_FIB, (int16_t)sizeof(struct bpf_fib_lookup));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FIB_OFF(family), AF_INET));
	emit_this_ifindex(d, BPF_REG_1);
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FIB_OFF(ifindex)));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(saddr)));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FIB_OFF(ipv4_dst)));
	emit_announce_error(d, 28, 576);

	bf_label_bind(b, v6);
	emit_icmp6_error_ahead(d);
	bf_label_bind(b, chains);
}

/*
 * Both halves end here: connection tracking before the chains, as nf_conntrack_in
 * (codegen/ct.c: one tracker for both families, verified once), then the family's root slot.
 */
static void emit_track_and_root(struct dctx *d)
{
	struct bf_builder *b = d->b;

	_Static_assert(BF_ROOT_SLOT_IPV4 == 0 && BF_ROOT_SLOT_IPV6 == 1, "root slot = ct_v6");
	bf_label_bind(b, d->track);
	bf_ct_emit_track(b, d->pctx, d->cfg->where != BF_DISPATCH_TC_EGRESS);
	if (d->cfg->where == BF_DISPATCH_TC_INGRESS && d->cfg->force_hook < 0)
		emit_icmp_error_ahead(d);
	bf_label_bind(b, d->root);
	bf_comment(b, "pkt->jsp = 0; tail call root[pkt->ct_v6]; no generation: pass");
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(jsp), 0));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit_ld_map(b, BPF_REG_2, BF_MAP_ROOT);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_3, BPF_REG_7, PKT_OFF(ct_v6)));
	bf_emit(b, BF_CALL(BPF_FUNC_tail_call));
	emit_goto(b, d->pass);
}

/*
 * The program's main function: the dispatcher's body runs as a subprogram, so the generation it
 * tail-calls returns here, and pkt->gen_seq is odd while it runs. As the kernel's
 * xt_write_recseq_begin/end, a nested run (REJECT's reply at egress, inside the ingress run)
 * finds it odd and leaves it alone (addend 0). Atomic adds are full barriers: the switch's
 * reader (bf_runtime_quiesce) sees this CPU's odd value, or this CPU sees the new root slot.
 * A tail call in a subprogram needs the frames above it under 256 bytes: this one uses 8.
 */
static void emit_main(struct dctx *d, bf_label body)
{
	struct bf_builder *b = d->b;
	bf_label nopkt = bf_label_new(b);

	bf_emit_prologue(b, nopkt);
	bf_comment(b, "r9 = ~pkt->gen_seq & 1; pkt->gen_seq += r9 (atomic)");
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_9, BPF_REG_7, PKT_OFF(gen_seq)));
	bf_emit(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_9, 1));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_9, 1));
	bf_emit(b, BF_ATOMIC_ADD64(BPF_REG_7, BPF_REG_9, PKT_OFF(gen_seq)));
	bf_comment(b, "r0 = dispatch(ctx, pkt)");
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_7));
	bf_emit_call_label(b, body);
	bf_comment(b, "pkt->gen_seq += r9 (atomic)");
	bf_emit(b, BF_ATOMIC_ADD64(BPF_REG_7, BPF_REG_9, PKT_OFF(gen_seq)));
	bf_emit(b, BF_EXIT());
	bf_comment(b, "no bf_ctx (the verifier's case: key 0 of an array always exists): pass");
	bf_label_bind(b, nopkt);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, bf_verdict_accept(d->pctx)));
	bf_emit(b, BF_EXIT());
}

static void emit_dispatcher(struct dctx *d)
{
	struct bf_builder *b = d->b;
	const struct bf_dispatch_cfg *cfg = d->cfg;
	bf_label go = bf_label_new(b), reply = {0}, out = {0};
	bf_label body = bf_label_new(b);

	emit_main(d, body);
	/* The body, dispatch(ctx, pkt): the main function looked bf_ctx up already. */
	bf_label_bind(b, body);
	bf_emit(b, BF_MOV64_REG(BPF_REG_6, BPF_REG_1));
	bf_emit(b, BF_MOV64_REG(BPF_REG_7, BPF_REG_2));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, FP_KEY, 0));
	emit_l3_proto(d);
	emit_ipv4_header(d);
	emit_fill_l3(d);
	emit_fill_l4(d, IPPROTO_ICMP);

	if (cfg->force_hook >= 0) {
		if (cfg->force_hook == NF_INET_FORWARD) {
			bf_emit(b,
				BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(oif), (int32_t)cfg->force_oif));
		}
		emit_set_hook(d, (unsigned int)cfg->force_hook, go);
	} else if (cfg->where == BF_DISPATCH_TC_EGRESS) {
		bf_label fwd = bf_label_new(b);

		out = bf_label_new(b);
		reply = bf_label_new(b);

		/* REJECT's reply, redirected here from ingress (codegen/target/reject.c): the
		 * kernel sends it with ip_local_out, through OUTPUT. Consumed once. */
		bf_comment(b, "REJECT reply: pkt->reply_ifindex == ifindex && reply_len == len");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(reply_ifindex)));
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(reply_ifindex), 0));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, fwd);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_6, SKB_OFF(ifindex)));
		bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, fwd);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(reply_len)));
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_6, SKB_OFF(len)));
		bf_emit_jmp_reg(b, BPF_JEQ, BPF_REG_1, BPF_REG_2, reply);
		bf_label_bind(b, fwd);
		bf_comment(b, "if (skb->ingress_ifindex) forwarded: FORWARD already ran");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, SKB_OFF(ingress_ifindex)));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, d->pass);
		bf_label_bind(b, out);
		emit_set_hook(d, NF_INET_LOCAL_OUT, go);
	} else {
		emit_ingress_decision(d, go);
	}

	bf_label_bind(b, go);
	bf_comment(b, "interface names");
	emit_ifname(d, PKT_OFF(iif), PKT_OFF(iifname));
	emit_ifname(d, PKT_OFF(oif), PKT_OFF(oifname));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_7, PKT_OFF(ct_v6), 0));
	emit_goto(b, d->track);
	if (reply.id)
		emit_reject_reply(d, reply, out, false);

	emit_ipv6_dispatcher(d);
	emit_track_and_root(d);

	bf_label_bind(b, d->pass);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, bf_verdict_accept(d->pctx)));
	bf_emit(b, BF_EXIT());
}

int bf_dispatch_load(struct bf_runtime *rt, const struct bf_dispatch_cfg *cfg, int *prog_fd)
{
	enum bf_prog_ctx pctx = cfg->where == BF_DISPATCH_XDP ? BF_CTX_XDP : BF_CTX_TC;
	static const char *const names[] = {"bf_disp_in", "bf_disp_out", "bf_disp_xdp"};
	struct bf_builder *b = NULL;
	int fds[BF_MAP_SLOT_MAX];
	struct dctx d;
	int fd, err;

	if ((unsigned int)cfg->where > BF_DISPATCH_XDP || cfg->l2_len > 64 ||
	    cfg->force_hook >= BF_HOOK_MAX)
		return -EINVAL;
	if (pctx == BF_CTX_XDP && cfg->l2_len != ETH_HLEN)
		return -EOPNOTSUPP; /* XDP runs on Ethernet-like devices only */
	err = bf_builder_new(&b, rt->log);
	if (err)
		return err;
	d = (struct dctx){
		.b = b,
		.cfg = cfg,
		.pctx = pctx,
		.pass = bf_label_new(b),
		.ipv6 = bf_label_new(b),
		.track = bf_label_new(b),
		.root = bf_label_new(b),
	};
	emit_dispatcher(&d);
	bf_runtime_map_fds(rt, pctx, fds);
	fd = bf_builder_load(b, rt->log, pctx, names[cfg->where], fds);
	bf_builder_free(b);
	if (fd < 0)
		return fd;
	*prog_fd = fd;
	return 0;
}
