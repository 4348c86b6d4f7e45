// SPDX-License-Identifier: GPL-2.0-only
/*
 * The REJECT target for IPv6 (net/ipv6/netfilter/ip6t_REJECT.c: "REJECT" revision 0, NFPROTO_IPV6,
 * table filter, hooks INPUT, FORWARD, OUTPUT; the replies of net/ipv6/netfilter/nf_reject_ipv6.c).
 *
 * As for IPv4 (reject.c), the rule stores what to send in pkt->tgt_arg and tail-calls a shared TC
 * program, here slot BF_REJECT_SLOT_IPV6 of the runtime's bf_rej_progs (bf_reject6_prog_load()),
 * which turns the packet into the kernel's reply and redirects it:
 *   icmp6-*    nf_send_unreach6() -> icmpv6_send(): ICMPV6_DEST_UNREACH with the code, quoting
 *              the packet from its IPv6 header, up to 1280 bytes of reply in all (the IPv6
 *              minimum MTU); traffic class and flow label 0, the hop limit of the namespace.
 *   tcp-reset  nf_send_reset6(): a 60-byte RST (nf_reject_ip6hdr_put, nf_reject_ip6_tcphdr_put).
 * and the kernel's conditions for sending nothing (the packet is dropped in every case):
 *   icmp6  reject6_csum_ok(): unless the skb's checksum is trusted, an unparsable chain, a
 *          non-first fragment, no byte after the headers, or a bad transport checksum
 *          (nf_ip6_checksum; AH, ESP, GRE, UDP-Lite, SCTP and a zero UDP checksum are not
 *          verified); icmp6_send(): a packet that was not PACKET_HOST, a multicast destination,
 *          an unspecified or multicast source, an ICMPv6 error (or an ICMPv6 header cut short).
 *   RST    a source or destination that is not unicast (multicast, ::), no TCP header (not TCP
 *          after the extension headers, a non-first fragment, fewer than 20 bytes), RST set, a
 *          bad checksum.
 * Where the reply goes is reject.c's scheme: INPUT and FORWARD look the route back up with
 * bpf_fib_lookup() (FORWARD ICMPv6: the route's source address, as icmp6_send's route lookup)
 * and redirect to that interface's egress, where the egress dispatcher runs OUTPUT on it; a
 * link-local sender is answered through the interface the packet came in (bpf_fib_lookup never
 * routes link-local addresses). OUTPUT redirects the reply to lo's ingress (INPUT, in lo): the
 * ICMPv6 comes from the packet's source address (a local address: what the kernel's source
 * selection picks for a local destination), the RST from its destination.
 * Not modelled: icmpv6's rate limits (net.ipv6.icmp.ratelimit, a token bucket per peer of 6
 * errors, and the global limit), automatic flow labels on ICMPv6 errors when
 * net.ipv6.auto_flowlabels asks for them (a hash with a boot-time secret: bpfilter sends 0), a
 * per-interface or per-route hop limit (the namespace's default is used), and ESP or an
 * unknown extension header in the chain, which ipv6_skip_exthdr parses differently.
 * REJECT cannot run at XDP: a rule set with REJECT in INPUT and --xdp is refused.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <linux/bpf.h>
#include <linux/icmpv6.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/netfilter_ipv6/ip6t_REJECT.h>
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

/* pkt->tgt_arg: the ICMPv6 code, or this for a TCP RST. */
#define REJ6_ARG_RST 0x100

/* icmp6_send(): the reply fits the IPv6 minimum MTU: 40 + 8 + this much of the packet. */
#define REJ6_QUOTE_MAX (1280 - 40 - 8)
#define PACKET_HOST 0
#define LOOPBACK_IFINDEX 1
#define NEXTHDR_NONE 59

/* Stack of the program (its own layout: no emitter runs in it). */
#define FP_ACC (-16)	 /* u64 one's complement accumulator */
#define FP_SOFF (-24)	 /* u64 sum routine: next offset */
#define FP_SLEN (-32)	 /* u64 sum routine: bytes left */
#define FP_MISC (-40)	 /* u32 the quote length; u32 at -36: the folded pseudo header sum */
#define FP_SRC (-56)	 /* 16 bytes: the reply's source address */
#define FP_HDR (-120)	 /* 64 bytes: the reply's IPv6 header and ICMPv6 or TCP header */
#define FP_PSEUDO (-160) /* 40 bytes: the IPv6 pseudo header */
#define FP_MAC (-176)	 /* 12 bytes: destination and source MAC of the reply */
#define FP_OTCP (-200)	 /* 20 bytes: the offending TCP header */
#define FP_FIB (-264)	 /* struct bpf_fib_lookup */
#define FP_BUF (-504)	 /* SUM_CHUNK bytes: packet bytes being summed */
#define SUM_CHUNK 240

_Static_assert(sizeof(struct bpf_fib_lookup) == 64, "fib params fit their slot");

static int reject6_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct ip6t_reject_info *info = data;
	const struct bf_entry *e = ctx->entry;

	/* reject_tg6_check() */
	if (info->with == IP6T_ICMP6_ECHOREPLY) {
		bf_logf(ctx->log, BF_LOG_INFO, "REJECT: ECHOREPLY is not supported");
		return -EINVAL;
	}
	if (info->with == IP6T_TCP_RESET &&
	    (!(e->ip->v6.flags & IP6T_F_PROTO) || e->ip->v6.proto != IPPROTO_TCP ||
	     (e->ip->v6.invflags & XT_INV_PROTO))) {
		bf_logf(ctx->log, BF_LOG_INFO, "REJECT: TCP_RESET illegal for non-tcp");
		return -EINVAL;
	}
	return 0;
}

/* reject_tg6()'s switch: the ICMPv6 code, REJ6_ARG_RST, or -1 (nothing is sent). */
static int reject6_arg(uint32_t with)
{
	switch (with) {
	case IP6T_ICMP6_NO_ROUTE:
		return ICMPV6_NOROUTE;
	case IP6T_ICMP6_ADM_PROHIBITED:
		return ICMPV6_ADM_PROHIBITED;
	case IP6T_ICMP6_NOT_NEIGHBOUR:
		return ICMPV6_NOT_NEIGHBOUR;
	case IP6T_ICMP6_ADDR_UNREACH:
		return ICMPV6_ADDR_UNREACH;
	case IP6T_ICMP6_PORT_UNREACH:
		return ICMPV6_PORT_UNREACH;
	case IP6T_ICMP6_POLICY_FAIL:
		return ICMPV6_POLICY_FAIL;
	case IP6T_ICMP6_REJECT_ROUTE:
		return ICMPV6_REJECT_ROUTE;
	case IP6T_TCP_RESET:
		return REJ6_ARG_RST;
	default:
		return -1;
	}
}

static int reject6_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct ip6t_reject_info *info = data;
	struct bf_builder *b = ctx->b;
	int arg = reject6_arg(info->with);

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
	bf_comment(b, "REJECT (IPv6): pkt->tgt_arg = %#x; tail call the reject6 program", arg);
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(tgt_arg), arg));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit_ld_map(b, BPF_REG_2, BF_MAP_REJECT_PROGS);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_3, BF_REJECT_SLOT_IPV6));
	bf_emit(b, BF_CALL(BPF_FUNC_tail_call));
	/* No reject program (or no tail call left): the packet is dropped all the same. */
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_7, 0, ctx->drop);
	return bf_builder_err(b);
}

const struct bf_ext bf_target_reject6 = {
	.kind = BF_EXT_TARGET,
	.name = "REJECT",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct ip6t_reject_info),
	.table = "filter",
	.hooks = (1u << NF_INET_LOCAL_IN) | (1u << NF_INET_FORWARD) | (1u << NF_INET_LOCAL_OUT),
	.check = reject6_check,
	.emit = reject6_emit,
};

/* --- the reject6 program --- */

static const struct bf_rej_frame frame = {
	.acc = FP_ACC,
	.soff = FP_SOFF,
	.slen = FP_SLEN,
	.buf = FP_BUF,
	.chunk = SUM_CHUNK,
	.tail_mask = 0xfc,
	.mac = FP_MAC,
	.fib = FP_FIB,
};

/* FP_PSEUDO = {src at src_off (stack), dst at dst_off (stack), len (r1, host order), 0, nh (r2)};
 * acc = 0 + its sum. */
static void emit_pseudo6(struct bf_builder *b, int16_t src_off, int16_t dst_off)
{
	bf_emit(b, BF_BE(BPF_REG_1, 32));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, FP_PSEUDO + 32));
	bf_emit(b, BF_BE(BPF_REG_2, 32));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_2, FP_PSEUDO + 36));
	for (int16_t o = 0; o < 16; o += 4) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, (int16_t)(src_off + o)));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, (int16_t)(FP_PSEUDO + o)));
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, (int16_t)(dst_off + o)));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, (int16_t)(FP_PSEUDO + 16 + o)));
	}
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, FP_ACC, 0));
	bf_rej_emit_sum_stack(b, &frame, FP_PSEUDO, 40);
}

/* Copy the packet's address at pkt_off (bf_pkt) to the stack at off. */
static void emit_addr_to_stack(struct bf_builder *b, int16_t pkt_off, int16_t off)
{
	for (int16_t o = 0; o < 16; o += 4) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(pkt_off + o)));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, (int16_t)(off + o)));
	}
}

/*
 * nf_ip6_checksum() of the transport segment: fall through when valid (or trusted), jump to
 * `bad` otherwise. As reject.c: CHECKSUM_UNNECESSARY is what bpf_csum_level() reports, and a
 * TCP/UDP checksum field equal to the folded pseudo header sum is taken as CHECKSUM_PARTIAL.
 * `skip_list`: nf_reject_verify_csum()'s protocols that are not verified (ICMPv6 errors).
 */
static void emit_verify_csum6(struct bf_builder *b, bool skip_list, bf_label bad)
{
	bf_label ok = bf_label_new(b), sum = bf_label_new(b), partial = bf_label_new(b);
	static const int skip[] = {IPPROTO_GRE, IPPROTO_AH, IPPROTO_ESP, IPPROTO_SCTP,
				   IPPROTO_UDPLITE};

	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_8, BPF_REG_7, PKT_OFF(proto)));
	if (skip_list) {
		bf_comment(b, "nf_reject_verify_csum: protocols without a full checksum");
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
	}

	bf_label_bind(b, sum);
	bf_comment(b, "acc = pseudo header (src, dst, l4_len, proto); fp[MISC+4] = folded");
	emit_addr_to_stack(b, PKT_OFF(saddr), FP_HDR);
	emit_addr_to_stack(b, PKT_OFF(daddr), FP_HDR + 16);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len)));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_7, PKT_OFF(proto)));
	emit_pseudo6(b, FP_HDR, FP_HDR + 16);
	bf_rej_emit_fold(b);
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_0, FP_MISC + 4));

	bf_comment(b, "acc += the transport segment; valid if it folds to 0xffff");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_off)));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, FP_SOFF));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len)));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, FP_SLEN));
	bf_rej_emit_sum_pkt(b, &frame, bad);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_10, FP_ACC));
	bf_rej_emit_fold(b);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0xffff, ok);

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
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_10, FP_MISC + 4));
	bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, bad);
	bf_label_bind(b, ok);
}

/*
 * Where the reply goes: FP_MAC (dst, src), the interface at FP_FIB + ifindex, the source address
 * at FP_SRC. Jumps to `none` when there is no route back.
 */
static void emit_route_back6(struct bf_builder *b, bool icmp, bf_label none)
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
	bf_comment(b, "source: RST and INPUT: the packet's destination");
	emit_addr_to_stack(b, PKT_OFF(daddr), FP_SRC);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(hook)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, NF_INET_LOCAL_OUT, out);

	bf_comment(b, "a link-local sender: back through the interface it came in");
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(saddr)));
	bf_emit(b, BF_BE(BPF_REG_1, 16));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 0xffc0));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0xfe80, swap);

	bf_comment(b, "bpf_fib_lookup(AF_INET6, output, dst = the packet's source)");
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FIB_OFF(family), AF_INET6));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FIB_OFF(l4_protocol),
			     icmp ? IPPROTO_ICMPV6 : IPPROTO_TCP));
	for (int16_t o = 0; o < 16; o += 4) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(PKT_OFF(saddr) + o)));
		bf_emit(b,
			BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, (int16_t)(FIB_OFF(ipv6_dst) + o)));
	}
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, BPF_FIB_LOOKUP_OUTPUT));
	if (icmp) {
		bf_label not_fwd = bf_label_new(b);

		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, NF_INET_FORWARD, not_fwd);
		bf_comment(b, "FORWARD: icmp6_send's route picks the source address");
		bf_emit(b, BF_MOV64_IMM(BPF_REG_4, BPF_FIB_LOOKUP_OUTPUT | BPF_FIB_LOOKUP_SRC));
		bf_emit_ja(b, call);
		bf_label_bind(b, not_fwd);
	}
	for (int16_t o = 0; o < 16; o += 4) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(PKT_OFF(daddr) + o)));
		bf_emit(b,
			BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, (int16_t)(FIB_OFF(ipv6_src) + o)));
	}
	bf_label_bind(b, call);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_rej_emit_fp(b, BPF_REG_2, FP_FIB);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_3, (int32_t)sizeof(struct bpf_fib_lookup)));
	bf_emit(b, BF_CALL(BPF_FUNC_fib_lookup));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, BPF_FIB_LKUP_RET_NO_NEIGH, swap);
	/* A host (no forwarding on the interface): bpf_fib_lookup() refuses; the reply leaves by
	 * the interface the packet came in, to the MAC it came from. */
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
		bf_comment(b, "FORWARD: the source is the route's (none: no reply)");
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_10, FIB_OFF(ipv6_src)));
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_10, FIB_OFF(ipv6_src) + 8));
		bf_emit(b, BF_ALU64_REG(BPF_OR, BPF_REG_2, BPF_REG_1));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 0, none);
		for (int16_t o = 0; o < 16; o += 4) {
			bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10,
					      (int16_t)(FIB_OFF(ipv6_src) + o)));
			bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, (int16_t)(FP_SRC + o)));
		}
		bf_label_bind(b, keep);
	}
	bf_emit_ja(b, done);

	bf_label_bind(b, out);
	bf_comment(b, "OUTPUT: through lo, whose address is all zeros");
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, FP_MAC, 0));
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, FP_MAC + 8, 0));
	if (icmp) {
		bf_comment(b, "OUTPUT ICMPv6: to a local address, from that same address");
		emit_addr_to_stack(b, PKT_OFF(saddr), FP_SRC);
	}
	bf_label_bind(b, done);
}

/* The reply's IPv6 header at FP_HDR: version 6, traffic class and flow label 0
 * (nf_reject_ip6hdr_put; the ICMPv6 socket's), payload length plen, next header nh, hop limit,
 * source FP_SRC, destination the packet's source. */
static void emit_ip6_header(struct bf_builder *b, int plen, uint8_t nh, int hl)
{
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, FP_HDR, 0x60));
	if (plen >= 0) {
		bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 4, (plen >> 8) & 0xff));
		bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 5, plen & 0xff));
	} else {
		bf_comment(b, "payload length = 8 + quote");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FP_MISC));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 8));
		bf_emit(b, BF_BE(BPF_REG_1, 16));
		bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, FP_HDR + 4));
	}
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 6, nh));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 7, hl));
	for (int16_t o = 0; o < 16; o += 4) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, (int16_t)(FP_SRC + o)));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, (int16_t)(FP_HDR + 8 + o)));
	}
	emit_addr_to_stack(b, PKT_OFF(saddr), FP_HDR + 24);
}

/* Jump to `drop` unless the packet's address at pkt_off is unicast in ipv6_addr_type()'s
 * sense: not multicast, not ::, not v4-mapped. */
static void emit_need_unicast(struct bf_builder *b, int16_t pkt_off, bf_label drop)
{
	bf_label ok = bf_label_new(b);

	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, pkt_off));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0xff, drop);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_7, pkt_off));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, ok);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(pkt_off + 8)));
	bf_emit_jmp32_imm(b, BPF_JEQ, BPF_REG_1, (int32_t)0xffff0000u, drop); /* htonl(0xffff) */
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, ok);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(pkt_off + 12)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, drop);
	bf_label_bind(b, ok);
}

static void emit_unreach6(struct bf_builder *b, int hl, bf_label drop)
{
	bf_label trusted = bf_label_new(b), skip = bf_label_new(b), not_icmp = bf_label_new(b);
	bf_label nofwd = bf_label_new(b);

	bf_comment(b, "reject6_csum_ok: skb_csum_unnecessary -> no further checks");
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, BPF_CSUM_LEVEL_QUERY));
	bf_emit(b, BF_CALL(BPF_FUNC_csum_level));
	bf_emit_jmp_imm(b, BPF_JSGE, BPF_REG_0, 0, trusted);
	bf_comment(b, "ipv6_skip_exthdr fails, a non-first fragment, nothing after the headers");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(flags)));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, BF_PKT_F_X6_NOPROTO, drop);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(fragoff_h)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, drop);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(proto)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, NEXTHDR_NONE, drop);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, drop);
	emit_verify_csum6(b, true, drop);
	bf_label_bind(b, trusted);

	bf_comment(b, "icmp6_send: PACKET_HOST only; not to multicast; from a unicast source");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, SKB_OFF(pkt_type)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, PACKET_HOST, drop);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(daddr)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0xff, drop);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(saddr)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0xff, drop);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_7, PKT_OFF(saddr)));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_7, PKT_OFF(saddr) + 8));
	bf_emit(b, BF_ALU64_REG(BPF_OR, BPF_REG_1, BPF_REG_2));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, drop);
	bf_comment(b, "is_ineligible: an ICMPv6 error, or an ICMPv6 header cut short");
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(fragoff_h)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, not_icmp);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(proto)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, IPPROTO_ICMPV6, not_icmp);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, drop);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_off)));
	bf_rej_emit_fp(b, BPF_REG_3, FP_BUF);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 1));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_10, FP_BUF));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, ICMPV6_INFOMSG_MASK, drop);
	bf_label_bind(b, not_icmp);

	emit_route_back6(b, true, drop);

	bf_comment(b, "q = min(pkt->len, %d): fp[MISC]; change_tail(l3_off + q)", REJ6_QUOTE_MAX);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_8, BPF_REG_7, PKT_OFF(len)));
	bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_8, REJ6_QUOTE_MAX, skip);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_8, REJ6_QUOTE_MAX));
	bf_label_bind(b, skip);
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_8, FP_MISC));
	bf_rej_emit_cut(b, BPF_REG_8, drop);

	/* FORWARD runs after ip6_forward() decremented the hop limit: the quote says so. */
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(hook)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, NF_INET_FORWARD, nofwd);
	bf_comment(b, "FORWARD: the quoted hop limit is pkt->ttl (already decremented)");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(ttl)));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_1, FP_BUF));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 7));
	bf_rej_emit_fp(b, BPF_REG_3, FP_BUF);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 1));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_5, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_store_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	bf_label_bind(b, nofwd);

	bf_comment(b, "IPv6 and ICMPv6 headers; checksum: pseudo header + header + quote");
	emit_ip6_header(b, -1, IPPROTO_ICMPV6, hl);
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 40, ICMPV6_DEST_UNREACH));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(tgt_arg)));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_10, BPF_REG_1, FP_HDR + 41));
	bf_emit(b, BF_ST_MEM(BPF_H, BPF_REG_10, FP_HDR + 42, 0));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, FP_HDR + 44, 0));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FP_MISC));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 8));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, IPPROTO_ICMPV6));
	emit_pseudo6(b, FP_HDR + 8, FP_HDR + 24);
	bf_rej_emit_sum_stack(b, &frame, FP_HDR + 40, 8);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, FP_SOFF));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, FP_MISC));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, FP_SLEN));
	bf_rej_emit_sum_pkt(b, &frame, drop);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_10, FP_ACC));
	bf_rej_emit_fold(b);
	bf_emit(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_0, 0xffff));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_0, FP_HDR + 42));

	bf_comment(b, "adjust_room(+48, MAC): room for the new headers; store them");
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 48));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_3, BPF_ADJ_ROOM_MAC));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_adjust_room));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l3_off)));
	bf_rej_emit_fp(b, BPF_REG_3, FP_HDR);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 48));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_5, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_store_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	bf_rej_emit_send(b, &frame, drop);
}

static void emit_reset6(struct bf_builder *b, int hl, bf_label drop)
{
	bf_label ack = bf_label_new(b), hdr = bf_label_new(b);

	bf_comment(b, "nf_send_reset6: unicast source and destination");
	emit_need_unicast(b, PKT_OFF(saddr), drop);
	emit_need_unicast(b, PKT_OFF(daddr), drop);
	bf_comment(b, "nf_reject_ip6_tcphdr_get: TCP after the headers, 20 bytes, no RST");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(flags)));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, BF_PKT_F_X6_NOPROTO, drop);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(fragoff_h)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, drop);
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
	{
		bf_label trusted = bf_label_new(b);

		bf_comment(b, "nf_ip6_checksum: skb_csum_unnecessary or a valid sum");
		bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
		bf_emit(b, BF_MOV64_IMM(BPF_REG_2, BPF_CSUM_LEVEL_QUERY));
		bf_emit(b, BF_CALL(BPF_FUNC_csum_level));
		bf_emit_jmp_imm(b, BPF_JSGE, BPF_REG_0, 0, trusted);
		emit_verify_csum6(b, false, drop);
		bf_label_bind(b, trusted);
	}
	emit_route_back6(b, false, drop);

	bf_comment(b, "TCP header: ports swapped, doff 5, window 0");
	for (int16_t o = 40; o < 60; o += 4)
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, (int16_t)(FP_HDR + o), 0));
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, FP_OTCP + 2));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, FP_HDR + 40));
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, FP_OTCP));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, FP_HDR + 42));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 52, 5 << 4));
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
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_2, FP_HDR + 48));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 53, 0x14));
	bf_emit_ja(b, hdr);
	bf_label_bind(b, ack);
	bf_comment(b, "ACK: seq = ack_seq, flags RST");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_10, FP_OTCP + 8));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_2, FP_HDR + 44));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_10, FP_HDR + 53, 0x04));
	bf_label_bind(b, hdr);

	bf_comment(b, "IPv6 header (nf_reject_ip6hdr_put); TCP checksum");
	emit_ip6_header(b, 20, IPPROTO_TCP, hl);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, 20));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, IPPROTO_TCP));
	emit_pseudo6(b, FP_HDR + 8, FP_HDR + 24);
	bf_rej_emit_sum_stack(b, &frame, FP_HDR + 40, 20);
	bf_rej_emit_fold(b);
	bf_emit(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_0, 0xffff));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_0, FP_HDR + 56));

	bf_rej_emit_put_reply(b, 40, FP_HDR, 60, drop);
	bf_rej_emit_send(b, &frame, drop);
}

int bf_reject6_prog_load(const struct bf_log *log, const int map_fds[BF_MAP_SLOT_MAX])
{
	struct bf_builder *b = NULL;
	bf_label drop, fail, rst;
	/* the replies' hop limit: ip6_dst_hoplimit() without a route metric is the interface's
	 * hop_limit, which new interfaces take from conf/default */
	int hl = bf_rej_sysctl_ttl("/proc/sys/net/ipv6/conf/default/hop_limit", 64);
	int fd, err;

	err = bf_builder_new(&b, log);
	if (err)
		return err;
	drop = bf_label_new(b);
	fail = bf_label_new(b);
	rst = bf_label_new(b);
	bf_emit_prologue(b, fail);

	bf_comment(b, "never a GSO packet (see reject.c)");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, SKB_OFF(gso_size)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, drop);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(tgt_arg)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, REJ6_ARG_RST, rst);
	emit_unreach6(b, hl, drop);
	bf_label_bind(b, rst);
	emit_reset6(b, hl, drop);

	bf_label_bind(b, fail);
	bf_label_bind(b, drop);
	bf_comment(b, "no reply: the packet is dropped");
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, TC_ACT_SHOT));
	bf_emit(b, BF_EXIT());

	fd = bf_builder_load(b, log, BF_CTX_TC, "bf_reject6", map_fds);
	bf_builder_free(b);
	return fd;
}
