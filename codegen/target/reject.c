// SPDX-License-Identifier: GPL-2.0-only
/*
 * The REJECT target for IPv4 (net/ipv4/netfilter/ipt_REJECT.c: "REJECT" revision 0, NFPROTO_IPV4,
 * table filter, hooks INPUT, FORWARD, OUTPUT). IPv6's ip6t_REJECT is a separate registration (its
 * own file, with the IPv6 datapath).
 *
 * reject_tg() sends a reply and returns NF_DROP. Here the rule stores what to send in
 * pkt->tgt_arg and tail-calls one shared TC program (bf_reject_prog_load(), slot 0 of the
 * runtime's bf_rej_progs), which turns the packet itself into the reply the kernel would build
 * and redirects it:
 *   icmp-*     nf_send_unreach() -> icmp_send(): ICMP_DEST_UNREACH with the code, quoting the IP
 *              packet (header and data) up to 576 bytes of reply in all; a received packet's
 *              IP options are quoted as ip_rcv_options() left them and echoed in the reply's
 *              header (emit_ip_opts_rcv, emit_ip_opts_echo).
 *   tcp-reset  nf_send_reset(): a 40-byte RST.
 * and the kernel's conditions for sending nothing (the packet is dropped in every case): a
 * non-first fragment; a bad checksum where nf_ip_checksum verifies it; for ICMP a packet that was
 * not PACKET_HOST, a broadcast or multicast destination, an ICMP error or unknown ICMP type; for
 * RST a segment with RST set, or shorter than a TCP header.
 *
 * Where the reply goes (doc/design.md, "REJECT"):
 *   INPUT, FORWARD (TC ingress): bpf_fib_lookup() of the route back to the sender gives the out
 *     interface, the MAC addresses and, for ICMP in FORWARD, the source address (the route's
 *     preferred source, what icmp_send() gets from its route lookup). The reply is redirected to
 *     that interface's egress, where the egress dispatcher runs OUTPUT on it (pkt->reply_*), as
 *     ip_local_out() does in the kernel.
 *   OUTPUT (TC egress): the reply is for this host; the kernel sends it out of lo (OUTPUT, out
 *     lo) and it comes back in (INPUT, in lo). It is redirected to lo's ingress: it meets INPUT,
 *     not OUTPUT (differences: OUTPUT counters; the sender's call does not fail with EPERM as
 *     ip_local_out's NF_DROP makes it; the ICMP's source is the packet's destination, not the
 *     local address).
 * REJECT cannot run at XDP: a rule set with REJECT in INPUT and --xdp is refused.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <linux/bpf.h>
#include <linux/icmp.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ipt_REJECT.h>
#include <linux/pkt_cls.h>

#include "../abi.h"
#include "../bpf_insn.h"
#include "../cg_priv.h"
#include "../ext.h"
#include "reject_common.h"
#include "targets.h"

#define PKT_OFF(field) ((int16_t)offsetof(struct bf_pkt, field))
#define SKB_OFF(field) ((int16_t)offsetof(struct __sk_buff, field))
#define FIB_OFF(field) ((int16_t)(FP_FIB + (int16_t)offsetof(struct bpf_fib_lookup, field)))

/* pkt->tgt_arg: the ICMP code, or this for a TCP RST. */
#define REJ_ARG_RST 0x100

/* include/net/ip.h, include/net/icmp.h (not UAPI) */
#define IP_DF 0x4000
#define IPTOS_TOS_MASK 0x1e
#define IPTOS_PREC_INTERNETCONTROL 0xc0
/* icmp_send(): the reply is at most 576 bytes: 20 (IP) + 8 (ICMP) + this much of the packet. */
#define REJ_QUOTE_MAX (576 - 20 - 8)
#define PACKET_HOST 0
#define LOOPBACK_IFINDEX 1

/* Stack of the reject program (its own layout: no emitter runs in it). */
#define FP_ACC (-16)	/* u64 one's complement accumulator */
#define FP_SOFF (-24)	/* u64 sum routine: next offset */
#define FP_SLEN (-32)	/* u64 sum routine: bytes left */
#define FP_MISC (-40)	/* u32 the quote length; u32 at -36: the reply's source address */
#define FP_HDR (-80)	/* 40 bytes: the reply's IP header and ICMP or TCP header */
#define FP_PSEUDO (-96) /* 12 bytes: TCP/UDP pseudo header */
#define FP_MAC (-112)	/* 12 bytes: destination and source MAC of the reply */
#define FP_OTCP (-136)	/* 20 bytes: the offending TCP header */
#define FP_FIB (-200)	/* struct bpf_fib_lookup */
#define FP_BUF (-392)	/* 192 bytes: packet bytes being summed */
#define SUM_CHUNK 192
#define FP_SOPT (-432)	  /* 40 bytes: the packet's IP options */
#define FP_DOPT (-472)	  /* 40 bytes: the reply's IP options (zero padded) */
#define FP_OST (-480)	  /* u8 rr + 1, u8 ts + 1, u8 IPOPT_F_*, u8 reply optlen; u32 midtime */
#define IPOPT_F_RR_ADDR 1 /* struct ip_options: rr_needaddr, ts_needaddr, ts_needtime */
#define IPOPT_F_TS_ADDR 2
#define IPOPT_F_TS_TIME 4

_Static_assert(sizeof(struct bpf_fib_lookup) == 64, "fib params fit their slot");

static int reject_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct ipt_reject_info *info = data;
	const struct bf_entry *e = ctx->entry;

	/* reject_tg_check() */
	if (info->with == IPT_ICMP_ECHOREPLY) {
		bf_logf(ctx->log, BF_LOG_INFO, "REJECT: ECHOREPLY no longer supported.");
		return -EINVAL;
	}
	if (info->with == IPT_TCP_RESET &&
	    (e->ip->v4.proto != IPPROTO_TCP || (e->ip->v4.invflags & XT_INV_PROTO))) {
		bf_logf(ctx->log, BF_LOG_INFO, "REJECT: TCP_RESET invalid for non-tcp");
		return -EINVAL;
	}
	return 0;
}

/* reject_tg()'s switch: the ICMP code, REJ_ARG_RST, or -1 (nothing is sent). */
static int reject_arg(uint32_t with)
{
	switch (with) {
	case IPT_ICMP_NET_UNREACHABLE:
		return ICMP_NET_UNREACH;
	case IPT_ICMP_HOST_UNREACHABLE:
		return ICMP_HOST_UNREACH;
	case IPT_ICMP_PROT_UNREACHABLE:
		return ICMP_PROT_UNREACH;
	case IPT_ICMP_PORT_UNREACHABLE:
		return ICMP_PORT_UNREACH;
	case IPT_ICMP_NET_PROHIBITED:
		return ICMP_NET_ANO;
	case IPT_ICMP_HOST_PROHIBITED:
		return ICMP_HOST_ANO;
	case IPT_ICMP_ADMIN_PROHIBITED:
		return ICMP_PKT_FILTERED;
	case IPT_TCP_RESET:
		return REJ_ARG_RST;
	default:
		return -1;
	}
}

static int reject_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct ipt_reject_info *info = data;
	struct bf_builder *b = ctx->b;
	int arg = reject_arg(info->with);

	if (ctx->prog_ctx == BF_CTX_XDP) {
		bf_logf(ctx->log, BF_LOG_ERR,
			"REJECT cannot run at XDP: run INPUT at TC (no --xdp) to use it");
		bf_builder_set_err(b, -EOPNOTSUPP);
		return -EOPNOTSUPP;
	}
	if (arg < 0) {
		bf_comment(b, "REJECT with %u: nothing is sent, DROP", info->with);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_7, 0, ctx->drop);
		return bf_builder_err(b);
	}
	bf_comment(b, "REJECT: pkt->tgt_arg = %#x; tail call the reject program", arg);
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(tgt_arg), arg));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit_ld_map(b, BPF_REG_2, BF_MAP_REJECT_PROGS);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_3, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_tail_call));
	/* No reject program (or no tail call left): the packet is dropped all the same. */
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_7, 0, ctx->drop);
	return bf_builder_err(b);
}

const struct bf_ext bf_target_reject = {
	.kind = BF_EXT_TARGET,
	.name = "REJECT",
	.revision = 0,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct ipt_reject_info),
	.table = "filter",
	.hooks = (1u << NF_INET_LOCAL_IN) | (1u << NF_INET_FORWARD) | (1u << NF_INET_LOCAL_OUT),
	.check = reject_check,
	.emit = reject_emit,
};

/* --- the reject program --- */

static const struct bf_rej_frame frame = {
	.acc = FP_ACC,
	.soff = FP_SOFF,
	.slen = FP_SLEN,
	.buf = FP_BUF,
	.chunk = SUM_CHUNK,
	.tail_mask = 0x1fc,
	.mac = FP_MAC,
	.fib = FP_FIB,
};

/*
 * nf_reject_verify_csum() + nf_ip_checksum(): fall through when the kernel would reply, jump to
 * `bad` when the checksum it verifies is wrong. An skb the kernel trusts (CHECKSUM_UNNECESSARY,
 * which bpf_csum_level() reports, or CHECKSUM_PARTIAL, a packet from a local socket whose
 * checksum field still holds the pseudo-header sum) is not verified. CHECKSUM_PARTIAL is not
 * visible to BPF: a TCP/UDP checksum field equal to the folded pseudo-header sum is taken as one.
 */
static void emit_verify_csum(struct bf_builder *b, bf_label bad)
{
	bf_label ok = bf_label_new(b), tcpudp = bf_label_new(b), sum = bf_label_new(b);
	bf_label no_partial = bf_label_new(b), partial = bf_label_new(b);
	static const int skip[] = {IPPROTO_GRE, IPPROTO_AH, IPPROTO_ESP, IPPROTO_SCTP,
				   IPPROTO_UDPLITE};

	bf_comment(b, "nf_reject_verify_csum: protocols without a full checksum");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_8, BPF_REG_7, PKT_OFF(proto)));
	for (size_t k = 0; k < sizeof(skip) / sizeof(skip[0]); k++)
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, skip[k], ok);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_8, IPPROTO_UDP, sum);
	bf_comment(b, "udp: a zero checksum is not verified");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len)));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 8, sum);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_off)));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 6));
	bf_rej_emit_fp(b, BPF_REG_3, FP_BUF);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 2));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, bad);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, FP_BUF));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, ok);

	bf_label_bind(b, sum);
	bf_comment(b, "skb_csum_unnecessary: bpf_csum_level(QUERY) >= 0");
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, BPF_CSUM_LEVEL_QUERY));
	bf_emit(b, BF_CALL(BPF_FUNC_csum_level));
	bf_emit_jmp_imm(b, BPF_JSGE, BPF_REG_0, 0, ok);

	bf_comment(b, "acc = tcp/udp ? pseudo header : 0; fp[-40] = its folded sum");
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, FP_ACC, 0));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, FP_MISC, 0));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_8, BPF_REG_7, PKT_OFF(proto)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, IPPROTO_TCP, tcpudp);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_8, IPPROTO_UDP, no_partial);
	bf_label_bind(b, tcpudp);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(saddr)));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FP_PSEUDO));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(daddr)));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FP_PSEUDO + 4));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_PSEUDO + 8, 0));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_8, FP_PSEUDO + 9));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len)));
	bf_emit(b, BF_BE(BPF_REG_1, 16));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, FP_PSEUDO + 10));
	bf_rej_emit_sum_stack(b, &frame, FP_PSEUDO, 12);
	bf_emit(b, BF_MOV64_REG(BPF_REG_0, BPF_REG_0));
	bf_rej_emit_fold(b);
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_0, FP_MISC));
	bf_label_bind(b, no_partial);

	/* __skb_checksum_complete() sums from skb->data, the IP header: a valid header adds
	 * 0xffff (-0), so a sum of zero (no pseudo header and no or all-zero transport bytes, e.g.
	 * a bare 20-byte packet) is valid too; but ip_rcv_options() changed the options (record
	 * route, timestamp) without updating the header's checksum: that change counts, and
	 * such a packet has no reply in practice. */
	bf_comment(b, "acc += the transport segment; valid if it folds to 0xffff or 0");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_off)));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, FP_SOFF));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len)));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, FP_SLEN));
	bf_rej_emit_sum_pkt(b, &frame, bad);
	bf_comment(b, "acc += the IP header's change since its checksum: its options");
	bf_rej_emit_fp(b, BPF_REG_1, FP_DOPT);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 40));
	bf_rej_emit_fp(b, BPF_REG_3, FP_SOPT);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 40));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_5, BPF_REG_10, FP_ACC));
	bf_emit(b, BF_CALL(BPF_FUNC_csum_diff));
	bf_rej_emit_fold(b);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0xffff, ok);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, ok);

	bf_comment(b, "CHECKSUM_PARTIAL: the check field holds the folded pseudo header");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_8, BPF_REG_7, PKT_OFF(proto)));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, 16));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, IPPROTO_TCP, partial);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_8, IPPROTO_UDP, bad);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, 6));
	bf_label_bind(b, partial);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len)));
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_9));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 2));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_2, BPF_REG_1, bad);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_off)));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, BPF_REG_9));
	bf_rej_emit_fp(b, BPF_REG_3, FP_BUF);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 2));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, bad);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, FP_BUF));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_10, FP_MISC));
	bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, bad);
	bf_label_bind(b, ok);
}

/* The reply's IP header at FP_HDR (checksum included). r8 = total length (host order), r9 =
 * id (network order). Source at FP_MISC + 4, destination = the packet's source. */
static void emit_ip_header(struct bf_builder *b, uint8_t tos_from_pkt, int ttl, uint8_t proto,
			   uint16_t frag, bool opts)
{
	if (opts) {
		bf_comment(b, "ihl = 5 + the echoed options' words");
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_OST + 3));
		bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_1, 2));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 0x45));
		bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_1, FP_HDR));
	} else {
		bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR, 0x45));
	}
	if (tos_from_pkt) {
		bf_comment(b, "tos = (iph->tos & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL");
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(tos)));
		bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, IPTOS_TOS_MASK));
		bf_emit(b, BF_ALU64_IMM(BPF_OR, BPF_REG_1, IPTOS_PREC_INTERNETCONTROL));
		bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_1, FP_HDR + 1));
	} else {
		bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 1, 0));
	}
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_8));
	bf_emit(b, BF_BE(BPF_REG_1, 16));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, FP_HDR + 2));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_9, FP_HDR + 4));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 6, frag >> 8));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 7, frag & 0xff));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 8, ttl));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 9, proto));
	bf_emit(b, BF_ST_MEM(BPF_H, BPF_REG_10, FP_HDR + 10, 0));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FP_MISC + 4));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FP_HDR + 12));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(saddr)));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FP_HDR + 16));
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, FP_ACC, 0));
	bf_rej_emit_sum_stack(b, &frame, FP_HDR, 20);
	if (opts)
		bf_rej_emit_sum_stack(b, &frame, FP_DOPT, 40);
	bf_rej_emit_fold(b);
	bf_emit(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_0, 0xffff));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_0, FP_HDR + 10));
}

/*
 * Where the reply goes: FP_MAC (dst, src), the interface in r8... kept at FP_FIB + ifindex, and
 * the source address at FP_MISC + 4. Egress (OUTPUT): the same interface's ingress. Ingress:
 * bpf_fib_lookup of the route back; `want_src`: take the source address from the route (ICMP in
 * FORWARD). Jumps to `none` when there is no route back.
 */
static void emit_route_back(struct bf_builder *b, bool icmp, bf_label none)
{
	bf_label out = bf_label_new(b), call = bf_label_new(b), lookup = bf_label_new(b);
	bf_label swap = bf_label_new(b), done = bf_label_new(b);

	bf_comment(b, "swapped MACs by default: fp[MAC] = eth->h_source, eth->h_dest");
	for (int16_t o = 0; o < 16; o += 8)
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, (int16_t)(FP_MAC + o), 0));
	for (int16_t o = 0; o < 64; o += 8)
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, (int16_t)(FP_FIB + o), 0));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, ETH_HLEN, lookup);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 6));
	bf_rej_emit_fp(b, BPF_REG_3, FP_MAC);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 6));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, none);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 0));
	bf_rej_emit_fp(b, BPF_REG_3, FP_MAC + 6);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 6));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, none);

	bf_label_bind(b, lookup);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, SKB_OFF(ifindex)));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FIB_OFF(ifindex)));
	bf_comment(b, "source: RST and INPUT: the packet's destination; OUTPUT ICMP: its source");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(daddr)));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FP_MISC + 4));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(hook)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, NF_INET_LOCAL_OUT, out);

	/* Not BPF_FIB_LOOKUP_OUTPUT: that takes ifindex as the output interface and finds no
	 * route when the sender is reached through another one; the kernel's reply route
	 * (icmp_route_lookup, ip_route_me_harder) has no output interface. */
	bf_comment(b, "bpf_fib_lookup(from this interface, dst = the packet's source)");
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FIB_OFF(family), AF_INET));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(saddr)));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FIB_OFF(ipv4_dst)));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 0));
	if (icmp) {
		bf_label not_fwd = bf_label_new(b);

		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, NF_INET_FORWARD, not_fwd);
		bf_comment(b, "FORWARD: icmp_send picks the route's preferred source");
		bf_emit(b, BF_MOV64_IMM(BPF_REG_4, BPF_FIB_LOOKUP_SRC));
		bf_emit_ja(b, call);
		bf_label_bind(b, not_fwd);
	}
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(daddr)));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FIB_OFF(ipv4_src)));
	bf_label_bind(b, call);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_rej_emit_fp(b, BPF_REG_2, FP_FIB);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_3, (int32_t)sizeof(struct bpf_fib_lookup)));
	bf_emit(b, BF_CALL(BPF_FUNC_fib_lookup));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_NO_NEIGH, swap);
	/* bpf_fib_lookup() refuses to work from an interface without forwarding (a host, not a
	 * router): the reply leaves by the interface the packet came in, to the MAC it came
	 * from. ifindex is still the in-interface's then. */
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_FWD_DISABLED, swap);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, BPF_FIB_LKUP_RET_SUCCESS, none);
	bf_comment(b, "MACs from the neighbour table");
	for (int16_t o = 0; o < 6; o += 2) {
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, (int16_t)(FIB_OFF(dmac) + o)));
		bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, (int16_t)(FP_MAC + o)));
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, (int16_t)(FIB_OFF(smac) + o)));
		bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, (int16_t)(FP_MAC + 6 + o)));
	}
	bf_label_bind(b, swap);
	if (icmp) {
		bf_label keep = bf_label_new(b);

		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(hook)));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, NF_INET_FORWARD, keep);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FIB_OFF(ipv4_src)));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, none);
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FP_MISC + 4));
		bf_label_bind(b, keep);
	}
	bf_emit_ja(b, done);

	bf_label_bind(b, out);
	bf_comment(b, "OUTPUT: through lo, whose address is all zeros");
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, FP_MAC, 0));
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, FP_MAC + 8, 0));
	/* The kernel's ICMP comes from the local address itself (the local route's preferred
	 * source) and keeps its output route through lo. A packet redirected to lo's ingress is
	 * routed again, and a local source address is a martian there: the reply comes from
	 * the packet's destination instead, as a RST does. */
	bf_label_bind(b, done);
}

/* FORWARD runs after ip_forward() decremented the TTL (ip_decrease_ttl: checksum updated
 * incrementally): the quoted header says so. TC sees the packet before; do it here. */
static void emit_forward_ttl(struct bf_builder *b, bf_label drop)
{
	bf_label skip = bf_label_new(b);

	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(hook)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, NF_INET_FORWARD, skip);
	bf_comment(b, "FORWARD: quoted ttl - 1, checksum += 0x0100 (RFC 1624)");
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 8));
	bf_rej_emit_fp(b, BPF_REG_3, FP_BUF);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 4));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_BUF));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, skip);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, -1));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_1, FP_BUF));
	/* the checksum, big endian: + 0x0100, end-around carry */
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, FP_BUF + 2));
	bf_emit(b, BF_BE(BPF_REG_1, 16));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 0x0100));
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_1));
	bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_2, 16));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 0xffff));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_1, BPF_REG_2));
	bf_emit(b, BF_BE(BPF_REG_1, 16));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, FP_BUF + 2));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 8));
	bf_rej_emit_fp(b, BPF_REG_3, FP_BUF);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 4));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_5, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_store_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	bf_label_bind(b, skip);
}

/* reg = fp + base + idx: a pointer into a stack buffer at a variable (bounded) index. */
static void emit_fp_idx(struct bf_builder *b, uint8_t reg, int16_t base, uint8_t idx)
{
	bf_rej_emit_fp(b, reg, base);
	bf_emit(b, BF_ALU64_REG(BPF_ADD, reg, idx));
}

/* The 4 bytes at fp + from to the address in r2 (byte by byte: r2 need not be aligned). */
static void emit_put4(struct bf_builder *b, int16_t from)
{
	for (int16_t k = 0; k < 4; k++) {
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_0, BPF_REG_10, (int16_t)(from + k)));
		bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_2, BPF_REG_0, k));
	}
}

/* fp[OST + byte] |= bit. Clobbers r0. */
static void emit_ost_or(struct bf_builder *b, int16_t byte, int32_t bit)
{
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_0, BPF_REG_10, (int16_t)(FP_OST + byte)));
	bf_emit(b, BF_ALU64_IMM(BPF_OR, BPF_REG_0, bit));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_0, (int16_t)(FP_OST + byte)));
}

/* Jump to `to` if fp[OST + 2] & bit is clear. Clobbers r0. */
static void emit_ost_clear(struct bf_builder *b, int32_t bit, bf_label to)
{
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_0, BPF_REG_10, FP_OST + 2));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_0, bit));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, to);
}

/*
 * The ip_options_compile() of ip_rcv_options() on the options at FP_SOPT, as the kernel ran it
 * when the packet arrived, before any hook (the quoted header shows it): record route and
 * timestamp (flags 0 and 1) get the address of this host (spec_dst: the reply's source, FP_MISC +
 * 4) and the time in their next slot, or the timestamp's overflow count grows. Walks options
 * of the lengths the kernel accepted (it drops the others before the hooks); stops at
 * anything else. r8 = index, r9 = options length.
 */
static void emit_opts_compile(struct bf_builder *b)
{
	bf_label walk = bf_label_new(b), end = bf_label_new(b), notnop = bf_label_new(b);
	bf_label next = bf_label_new(b), rr = bf_label_new(b), ts = bf_label_new(b);
	bf_label ts_only = bf_label_new(b), ts_addr = bf_label_new(b), ts_over = bf_label_new(b);

	bf_emit(b, BF_MOV64_IMM(BPF_REG_8, 0));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_9, BPF_REG_7, PKT_OFF(ihl_opts)));
	bf_label_bind(b, walk);
	bf_emit_jmp_reg(b, BPF_JGE, BPF_REG_8, BPF_REG_9, end);
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_8, 37, end);
	emit_fp_idx(b, BPF_REG_1, FP_SOPT, BPF_REG_8);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_1, 0));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 0 /* IPOPT_END */, end);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, 1 /* IPOPT_NOOP */, notnop);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_8, 1));
	bf_emit_ja(b, walk);
	bf_label_bind(b, notnop);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_3, BPF_REG_1, 1));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_3, 2, end);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 7 /* IPOPT_RR */, rr);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 0x44 /* IPOPT_TIMESTAMP */, ts);
	bf_label_bind(b, next);
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_8, BPF_REG_3));
	bf_emit_ja(b, walk);

	bf_label_bind(b, rr);
	bf_comment(b, "record route: spec_dst in the next slot, pointer += 4 (rr_needaddr)");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_4, BPF_REG_10, FP_OST));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_4, 0, end);
	bf_emit(b, BF_MOV64_REG(BPF_REG_4, BPF_REG_8));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_4, 1));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_4, FP_OST));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_4, BPF_REG_1, 2));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_4, 4, end);
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_4, BPF_REG_3, next);
	bf_emit(b, BF_MOV64_REG(BPF_REG_5, BPF_REG_4));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_5, 3));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_5, BPF_REG_3, end);
	bf_emit(b, BF_MOV64_REG(BPF_REG_5, BPF_REG_8));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_5, BPF_REG_4));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_5, -1));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_5, 36, end);
	emit_fp_idx(b, BPF_REG_2, FP_SOPT, BPF_REG_5);
	emit_put4(b, FP_MISC + 4);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_4, 4));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_1, BPF_REG_4, 2));
	emit_ost_or(b, 2, IPOPT_F_RR_ADDR);
	bf_emit_ja(b, next);

	bf_label_bind(b, ts);
	bf_comment(b, "timestamp: time (and address) in the next slot, or overflow + 1");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_4, BPF_REG_10, FP_OST + 1));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_4, 0, end);
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_8, 36, end);
	bf_emit(b, BF_MOV64_REG(BPF_REG_4, BPF_REG_8));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_4, 1));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_4, FP_OST + 1));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_3, 4, end);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_4, BPF_REG_1, 2));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_4, 5, end);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_5, BPF_REG_1, 3));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_5, 0xf));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_4, BPF_REG_3, ts_over);
	bf_emit(b, BF_MOV64_REG(BPF_REG_0, BPF_REG_4));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_0, 3));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_0, BPF_REG_3, end);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_5, 0 /* IPOPT_TS_TSONLY */, ts_only);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_5, 1 /* IPOPT_TS_TSANDADDR */, ts_addr);
	/* IPOPT_TS_PRESPEC: the kernel fills the slot only when its address is local; taken as
	 * never (doc/design.md, "REJECT"). Other flags: left alone, as the kernel does. */
	bf_emit_ja(b, next);

	bf_label_bind(b, ts_only);
	bf_emit(b, BF_MOV64_REG(BPF_REG_0, BPF_REG_8));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_0, BPF_REG_4));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_0, -1));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_0, 36, end);
	emit_fp_idx(b, BPF_REG_2, FP_SOPT, BPF_REG_0);
	emit_put4(b, FP_OST + 4);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_4, 4));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_1, BPF_REG_4, 2));
	emit_ost_or(b, 2, IPOPT_F_TS_TIME);
	bf_emit_ja(b, next);

	bf_label_bind(b, ts_addr);
	bf_emit(b, BF_MOV64_REG(BPF_REG_0, BPF_REG_4));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_0, 7));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_0, BPF_REG_3, end);
	bf_emit(b, BF_MOV64_REG(BPF_REG_0, BPF_REG_8));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_0, BPF_REG_4));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_0, -1));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_0, 32, end);
	emit_fp_idx(b, BPF_REG_2, FP_SOPT, BPF_REG_0);
	emit_put4(b, FP_MISC + 4);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 4));
	emit_put4(b, FP_OST + 4);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_4, 8));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_1, BPF_REG_4, 2));
	emit_ost_or(b, 2, IPOPT_F_TS_ADDR | IPOPT_F_TS_TIME);
	bf_emit_ja(b, next);

	bf_label_bind(b, ts_over);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_5, 3 /* IPOPT_TS_PRESPEC */, next);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_0, BPF_REG_1, 3));
	bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_0, 4));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 15, end);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_0, 1));
	bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_0, 4));
	bf_emit(b, BF_ALU64_REG(BPF_OR, BPF_REG_0, BPF_REG_5));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_1, BPF_REG_0, 3));
	bf_emit_ja(b, next);

	bf_label_bind(b, end);
}

/* fp[DOPT + r9 ..] = fp[SOPT + r8 ..], r3 bytes. Clobbers r0, r1, r2, r5. */
static void emit_opt_copy(struct bf_builder *b, bf_label fail)
{
	bf_label loop = bf_label_new(b), done = bf_label_new(b);

	bf_emit(b, BF_MOV64_IMM(BPF_REG_5, 0));
	bf_label_bind(b, loop);
	bf_emit_jmp_reg(b, BPF_JGE, BPF_REG_5, BPF_REG_3, done);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_8));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, BPF_REG_5));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_2, 39, fail);
	emit_fp_idx(b, BPF_REG_0, FP_SOPT, BPF_REG_2);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_0, 0));
	bf_emit(b, BF_MOV64_REG(BPF_REG_0, BPF_REG_9));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_0, BPF_REG_5));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_0, 39, fail);
	emit_fp_idx(b, BPF_REG_1, FP_DOPT, BPF_REG_0);
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_1, BPF_REG_2, 0));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_5, 1));
	bf_emit_ja(b, loop);
	bf_label_bind(b, done);
}

/* r2 = fp + DOPT + r9 + r4 - back (checked to leave 4 bytes), or jump to fail. Clobbers r0. */
static void emit_dopt_slot(struct bf_builder *b, int32_t back, bf_label fail)
{
	bf_emit(b, BF_MOV64_REG(BPF_REG_0, BPF_REG_9));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_0, BPF_REG_4));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_0, back, fail);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_0, -back));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_0, 36, fail);
	emit_fp_idx(b, BPF_REG_2, FP_DOPT, BPF_REG_0);
}

/*
 * icmp_send() -> __ip_options_echo() then ip_options_build(): the reply's options at FP_DOPT,
 * their length at FP_OST + 3. Record route then timestamp, copied from the packet's (as
 * emit_opts_compile left them), with room taken for the reply's own slot, which gets the
 * reply's source address (and the time); padded with EOL to 4 bytes. Where the kernel's echo
 * fails (-EINVAL), it sends nothing: jump to `fail`. Source routes never reach a hook
 * (accept_source_route is off by default: ip_rcv_options drops them); CIPSO is not modelled.
 */
static void emit_opts_echo(struct bf_builder *b, bf_label fail)
{
	bf_label ts = bf_label_new(b), rr_addr = bf_label_new(b), rr_done = bf_label_new(b);
	bf_label pad = bf_label_new(b), ts_done = bf_label_new(b), no_addr = bf_label_new(b);
	bf_label no_time = bf_label_new(b), no_put_addr = bf_label_new(b);

	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, 0));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_8, BPF_REG_10, FP_OST));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, 0, ts);
	bf_comment(b, "record route: copied; rr_needaddr and room: pointer + 4, our address");
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_8, -1));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_8, 37, fail);
	emit_fp_idx(b, BPF_REG_1, FP_SOPT, BPF_REG_8);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_3, BPF_REG_1, 1));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_4, BPF_REG_1, 2));
	emit_opt_copy(b, fail);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_0, BPF_REG_10, FP_OST + 2));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_0, IPOPT_F_RR_ADDR, rr_addr);
	bf_emit_ja(b, rr_done);
	bf_label_bind(b, rr_addr);
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_4, BPF_REG_3, rr_done);
	bf_emit(b, BF_MOV64_REG(BPF_REG_0, BPF_REG_4));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_0, 3));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_0, BPF_REG_3, fail);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_4, 4));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_4, FP_DOPT + 2));
	emit_dopt_slot(b, 5, fail);
	emit_put4(b, FP_MISC + 4);
	bf_label_bind(b, rr_done);
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_9, BPF_REG_3));

	bf_label_bind(b, ts);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_8, BPF_REG_10, FP_OST + 1));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, 0, pad);
	bf_comment(b, "timestamp: copied; room: pointer past our address and time slots");
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_8, -1));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_8, 36, fail);
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_9, 36, fail);
	emit_fp_idx(b, BPF_REG_1, FP_SOPT, BPF_REG_8);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_3, BPF_REG_1, 1));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_4, BPF_REG_1, 2));
	emit_opt_copy(b, fail);
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_4, BPF_REG_3, ts_done);
	emit_ost_clear(b, IPOPT_F_TS_ADDR, no_addr);
	bf_emit(b, BF_MOV64_REG(BPF_REG_0, BPF_REG_4));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_0, 3));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_0, BPF_REG_3, fail);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_4, 4));
	bf_label_bind(b, no_addr);
	/* ts_needtime is set here for flags 0 and 1 only (not PRESPEC): the reply needs it. */
	emit_ost_clear(b, IPOPT_F_TS_TIME, no_time);
	bf_emit(b, BF_MOV64_REG(BPF_REG_0, BPF_REG_4));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_0, 3));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_0, BPF_REG_3, fail);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_4, 4));
	bf_label_bind(b, no_time);
	emit_fp_idx(b, BPF_REG_1, FP_DOPT, BPF_REG_9);
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_1, BPF_REG_4, 2));
	bf_comment(b, "ip_options_build: our address at pointer - 9, the time at pointer - 5");
	emit_ost_clear(b, IPOPT_F_TS_ADDR, no_put_addr);
	emit_dopt_slot(b, 9, fail);
	emit_put4(b, FP_MISC + 4);
	bf_label_bind(b, no_put_addr);
	emit_ost_clear(b, IPOPT_F_TS_TIME, ts_done);
	emit_dopt_slot(b, 5, fail);
	emit_put4(b, FP_OST + 4);
	bf_label_bind(b, ts_done);
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_9, BPF_REG_3));

	bf_label_bind(b, pad);
	bf_comment(b, "padded with IPOPT_END to 4 bytes (the buffer is zeroed)");
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_9, 3));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_9, ~3));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_9, 40, fail);
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_9, FP_OST + 3));
}

/*
 * The IP options of a received packet (INPUT, FORWARD: ip_rcv_options() ran) as the kernel left
 * them at FP_SOPT, as they were at FP_DOPT (the header checksum still covers those: see
 * emit_verify_csum). All zero for OUTPUT (a raw or local packet has no compiled options in
 * IPCB) and without options.
 */
static void emit_ip_opts_rcv(struct bf_builder *b, bf_label drop)
{
	bf_label done = bf_label_new(b);

	for (int16_t o = 0; o < 40; o += 8) {
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, (int16_t)(FP_SOPT + o), 0));
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, (int16_t)(FP_DOPT + o), 0));
	}
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, FP_OST, 0));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(hook)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, NF_INET_LOCAL_OUT, done);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_4, BPF_REG_7, PKT_OFF(ihl_opts)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_4, 0, done);
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_4, 40, done);
	bf_comment(b, "the options to fp[SOPT] and fp[DOPT]; midtime: ms since midnight UTC (TAI)");
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 20));
	bf_rej_emit_fp(b, BPF_REG_3, FP_SOPT);
	bf_emit(b, BF_CALL(BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	for (int16_t o = 0; o < 40; o += 8) {
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_10, (int16_t)(FP_SOPT + o)));
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, (int16_t)(FP_DOPT + o)));
	}
	bf_emit(b, BF_CALL(BPF_FUNC_ktime_get_tai_ns));
	bf_emit(b, BF_ALU64_IMM(BPF_DIV, BPF_REG_0, 1000000));
	bf_emit(b, BF_ALU64_IMM(BPF_MOD, BPF_REG_0, 86400000));
	bf_emit(b, BF_BE(BPF_REG_0, 32));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_0, FP_OST + 4));
	emit_opts_compile(b);
	bf_label_bind(b, done);
}

/*
 * The options of emit_ip_opts_rcv back into the packet (the quote shows them), and the reply's
 * echo of them (FP_DOPT, length at FP_OST + 3; zero without options).
 */
static void emit_ip_opts_echo(struct bf_builder *b, bf_label drop)
{
	bf_label done = bf_label_new(b);

	for (int16_t o = 0; o < 40; o += 8)
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, (int16_t)(FP_DOPT + o), 0));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(hook)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, NF_INET_LOCAL_OUT, done);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_4, BPF_REG_7, PKT_OFF(ihl_opts)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_4, 0, done);
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_4, 40, done);
	bf_comment(b, "the options as the kernel left them, back into the packet (the quote)");
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 20));
	bf_rej_emit_fp(b, BPF_REG_3, FP_SOPT);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_5, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_store_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	emit_opts_echo(b, drop);
	bf_label_bind(b, done);
}

static void emit_unreach(struct bf_builder *b, int ttl, bf_label drop)
{
	bf_label not_icmp = bf_label_new(b);

	bf_comment(b, "icmp_send: PACKET_HOST only; not to broadcast or multicast");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, SKB_OFF(pkt_type)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, PACKET_HOST, drop);
	bf_comment(b, "never an error about an ICMP error (or an unknown ICMP type)");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(proto)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, IPPROTO_ICMP, not_icmp);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, drop);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_off)));
	bf_rej_emit_fp(b, BPF_REG_3, FP_BUF);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 1));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_BUF));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_1, NR_ICMP_TYPES, drop);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, ICMP_DEST_UNREACH, drop);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, ICMP_SOURCE_QUENCH, drop);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, ICMP_REDIRECT, drop);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, ICMP_TIME_EXCEEDED, drop);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, ICMP_PARAMETERPROB, drop);
	bf_label_bind(b, not_icmp);

	emit_route_back(b, true, drop);
	emit_ip_opts_rcv(b, drop);
	emit_verify_csum(b, drop);
	emit_ip_opts_echo(b, drop);

	bf_comment(b, "q = min(pkt->len, 548 - reply optlen): fp[MISC] ; change_tail(l3_off + q)");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_8, BPF_REG_7, PKT_OFF(len)));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_10, FP_OST + 3));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, REJ_QUOTE_MAX));
	bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_1, BPF_REG_2));
	bf_label skip = bf_label_new(b);
	bf_emit_jmp_reg(b, BPF_JLE, BPF_REG_8, BPF_REG_1, skip);
	bf_emit(b, BF_MOV64_REG(BPF_REG_8, BPF_REG_1));
	bf_label_bind(b, skip);
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_8, FP_MISC));
	bf_rej_emit_cut(b, BPF_REG_8, drop);

	emit_forward_ttl(b, drop);
	bf_comment(b, "acc = sum of the quoted bytes");
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, FP_ACC, 0));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, FP_SOFF));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FP_MISC));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, FP_SLEN));
	bf_rej_emit_sum_pkt(b, &frame, drop);
	bf_comment(b, "ICMP header: type 3, code, checksum over header and quote");
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 20, ICMP_DEST_UNREACH));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(tgt_arg)));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_1, FP_HDR + 21));
	bf_emit(b, BF_ST_MEM(BPF_H, BPF_REG_10, FP_HDR + 22, 0));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, FP_HDR + 24, 0));
	bf_rej_emit_sum_stack(b, &frame, FP_HDR + 20, 8);
	bf_rej_emit_fold(b);
	bf_emit(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_0, 0xffff));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_0, FP_HDR + 22));

	bf_comment(b, "IP header: id = random (ip_select_ident), no DF (the ICMP socket's)");
	bf_emit(b, BF_CALL(BPF_FUNC_get_prandom_u32));
	bf_emit(b, BF_MOV64_REG(BPF_REG_9, BPF_REG_0));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_8, BPF_REG_10, FP_MISC));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_8, 28));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_OST + 3));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_8, BPF_REG_1));
	emit_ip_header(b, 1, ttl, IPPROTO_ICMP, 0, true);

	bf_comment(b, "adjust_room(+28 + optlen, MAC): room for the new headers; store them");
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_10, FP_OST + 3));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 28));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_3, BPF_ADJ_ROOM_MAC));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_adjust_room));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l3_off)));
	bf_rej_emit_fp(b, BPF_REG_3, FP_HDR);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 20));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_5, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_store_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	bf_label no_opts = bf_label_new(b);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_4, BPF_REG_10, FP_OST + 3));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_4, 0, no_opts);
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_4, 40, drop);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 20));
	bf_rej_emit_fp(b, BPF_REG_3, FP_DOPT);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_5, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_store_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	bf_label_bind(b, no_opts);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_3, BPF_REG_10, FP_OST + 3));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, BPF_REG_3));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 20));
	bf_rej_emit_fp(b, BPF_REG_3, FP_HDR + 20);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 8));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_5, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_store_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	bf_rej_emit_send(b, &frame, drop);
}

static void emit_reset(struct bf_builder *b, int ttl, bf_label drop)
{
	bf_label ack = bf_label_new(b), hdr = bf_label_new(b);

	bf_comment(b, "nf_reject_ip_tcphdr_get: a TCP header, no RST, valid checksum");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(proto)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, IPPROTO_TCP, drop);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len)));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 20, drop);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_off)));
	bf_rej_emit_fp(b, BPF_REG_3, FP_OTCP);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 20));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_OTCP + 13));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, 0x04, drop);
	emit_route_back(b, false, drop);
	emit_ip_opts_rcv(b, drop);
	emit_verify_csum(b, drop);

	bf_comment(b, "TCP header: ports swapped, doff 5, window 0");
	for (int16_t o = 20; o < 40; o += 4)
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, (int16_t)(FP_HDR + o), 0));
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, FP_OTCP + 2));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, FP_HDR + 20));
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, FP_OTCP));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, FP_HDR + 22));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 32, 5 << 4));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_OTCP + 13));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, 0x10, ack);
	bf_comment(b, "no ACK: ack_seq = seq + syn + fin + payload, flags RST|ACK");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_10, FP_OTCP + 4));
	bf_emit(b, BF_BE(BPF_REG_2, 32));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_1));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_3, 0x01));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, BPF_REG_3));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_1));
	bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_3, 1));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_3, 0x01));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, BPF_REG_3));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_3, BPF_REG_7, PKT_OFF(l4_len)));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, BPF_REG_3));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_3, BPF_REG_10, FP_OTCP + 12));
	bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_3, 4));
	bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_3, 2));
	bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_2, BPF_REG_3));
	bf_emit(b, BF_BE(BPF_REG_2, 32));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_2, FP_HDR + 28));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 33, 0x14));
	bf_emit_ja(b, hdr);
	bf_label_bind(b, ack);
	bf_comment(b, "ACK: seq = ack_seq, flags RST");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_10, FP_OTCP + 8));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_2, FP_HDR + 24));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 33, 0x04));
	bf_label_bind(b, hdr);

	bf_comment(b, "IP header: tos 0, id 0, DF (nf_reject_iphdr_put)");
	bf_emit(b, BF_MOV64_IMM(BPF_REG_8, 40));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, 0));
	emit_ip_header(b, 0, ttl, IPPROTO_TCP, IP_DF, false);
	bf_comment(b, "TCP checksum: pseudo header + 20 bytes");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FP_HDR + 12));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FP_PSEUDO));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FP_HDR + 16));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FP_PSEUDO + 4));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_PSEUDO + 8, 0));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_PSEUDO + 9, IPPROTO_TCP));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_PSEUDO + 10, 0));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_PSEUDO + 11, 20));
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, FP_ACC, 0));
	bf_rej_emit_sum_stack(b, &frame, FP_PSEUDO, 12);
	bf_rej_emit_sum_stack(b, &frame, FP_HDR + 20, 20);
	bf_rej_emit_fold(b);
	bf_emit(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_0, 0xffff));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_0, FP_HDR + 36));

	bf_rej_emit_put_reply(b, 20, FP_HDR, 40, drop);
	bf_rej_emit_send(b, &frame, drop);
}

int bf_reject_prog_load(const struct bf_log *log, const int map_fds[BF_MAP_SLOT_MAX])
{
	struct bf_builder *b = NULL;
	bf_label drop, fail, rst;
	/* the replies' TTL: ip4_dst_hoplimit() without a route metric */
	int ttl = bf_rej_sysctl_ttl("/proc/sys/net/ipv4/ip_default_ttl", 64);
	int fd, err;

	err = bf_builder_new(&b, log);
	if (err)
		return err;
	drop = bf_label_new(b);
	fail = bf_label_new(b);
	rst = bf_label_new(b);
	bf_emit_prologue(b, fail);

	bf_comment(b, "only the first fragment gets a reply; never a GSO packet (see doc)");
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(fragoff_h)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, drop);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, SKB_OFF(gso_size)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, drop);
	bf_comment(b,
		   "no reply to a broadcast or multicast destination (RTCF_BROADCAST|MULTICAST)");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(daddr)));
	bf_emit_jmp32_imm(b, BPF_JEQ, BPF_REG_1, (int32_t)0xffffffff, drop);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(daddr)));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 0xf0));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0xe0, drop);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(tgt_arg)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, REJ_ARG_RST, rst);
	emit_unreach(b, ttl, drop);
	bf_label_bind(b, rst);
	emit_reset(b, ttl, drop);

	bf_label_bind(b, fail);
	bf_label_bind(b, drop);
	bf_comment(b, "no reply: the packet is dropped");
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, TC_ACT_SHOT));
	bf_emit(b, BF_EXIT());

	fd = bf_builder_load(b, log, BF_CTX_TC, "bf_reject", map_fds);
	bf_builder_free(b);
	return fd;
}
