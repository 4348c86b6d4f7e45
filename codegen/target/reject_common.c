// SPDX-License-Identifier: GPL-2.0-only
/*
 * The emitters both reject programs share (reject_common.h): reject.c (IPv4) and reject6.c
 * (IPv6) build their replies differently but sum and send them alike.
 */
#include <stddef.h>
#include <stdio.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>

#include "../abi.h"
#include "../bpf_insn.h"
#include "../cg_priv.h"
#include "reject_common.h"

#define PKT_OFF(field) ((int16_t)offsetof(struct bf_pkt, field))
#define SKB_OFF(field) ((int16_t)offsetof(struct __sk_buff, field))
#define LOOPBACK_IFINDEX 1

void bf_rej_emit_fp(struct bf_builder *b, uint8_t reg, int16_t off)
{
	bf_emit(b, BF_MOV64_REG(reg, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, reg, off));
}

void bf_rej_emit_fold(struct bf_builder *b)
{
	bf_emit(b, BF_MOV32_REG(BPF_REG_0, BPF_REG_0));
	for (int k = 0; k < 2; k++) {
		bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_0));
		bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_1, 16));
		bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_0, 0xffff));
		bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_0, BPF_REG_1));
	}
}

void bf_rej_emit_sum_stack(struct bf_builder *b, const struct bf_rej_frame *f, int16_t off,
			   int32_t len)
{
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, 0));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 0));
	bf_rej_emit_fp(b, BPF_REG_3, off);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, len));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_5, BPF_REG_10, f->acc));
	bf_emit(b, BF_CALL(BPF_FUNC_csum_diff));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_0, f->acc));
}

void bf_rej_emit_sum_pkt(struct bf_builder *b, const struct bf_rej_frame *f, bf_label fail)
{
	bf_label loop = bf_label_new(b), tail = bf_label_new(b), done = bf_label_new(b);

	bf_comment(b, "sum the packet's bytes [soff, soff + slen)");
	bf_label_bind(b, loop);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_8, BPF_REG_10, f->slen));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_8, 0xffff, fail);
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_8, f->chunk, tail);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_10, f->soff));
	bf_rej_emit_fp(b, BPF_REG_3, f->buf);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, f->chunk));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, fail);
	bf_rej_emit_sum_stack(b, f, f->buf, f->chunk);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_10, f->soff));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, f->chunk));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, f->soff));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_8, -f->chunk));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_8, f->slen));
	bf_emit_ja(b, loop);

	bf_label_bind(b, tail);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, 0, done);
	bf_comment(b, "the last bytes, zero padded to a multiple of 4");
	for (int16_t o = 0; o < f->chunk; o += 8)
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, (int16_t)(f->buf + o), 0));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_10, f->soff));
	bf_rej_emit_fp(b, BPF_REG_3, f->buf);
	bf_emit(b, BF_MOV64_REG(BPF_REG_4, BPF_REG_8));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, fail);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, 0));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 0));
	bf_rej_emit_fp(b, BPF_REG_3, f->buf);
	bf_emit(b, BF_MOV64_REG(BPF_REG_4, BPF_REG_8));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_4, 3));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_4, f->tail_mask));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_5, BPF_REG_10, f->acc));
	bf_emit(b, BF_CALL(BPF_FUNC_csum_diff));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_0, f->acc));
	bf_label_bind(b, done);
}

void bf_rej_emit_cut(struct bf_builder *b, uint8_t len_reg, bf_label drop)
{
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, len_reg));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_3, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_change_tail));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
}

void bf_rej_emit_put_reply(struct bf_builder *b, int32_t base, int16_t hdr, int32_t len,
			   bf_label drop)
{
	bf_label cut = bf_label_new(b);

	bf_comment(b, "r3 = l4_off - l3_off - %d: options or extension headers", base);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_3, BPF_REG_7, PKT_OFF(l4_off)));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_3, BPF_REG_1));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, -base));
	bf_emit_jmp_imm(b, BPF_JSLE, BPF_REG_3, 0, cut);
	bf_comment(b, "adjust_room(-r3, NET): the transport header follows the base header");
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 0));
	bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_2, BPF_REG_3));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_3, BPF_ADJ_ROOM_NET));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_adjust_room));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	bf_label_bind(b, cut);

	bf_comment(b, "change_tail(l3_off + %d); store the headers", len);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_8, len));
	bf_rej_emit_cut(b, BPF_REG_8, drop);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l3_off)));
	bf_rej_emit_fp(b, BPF_REG_3, hdr);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, len));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_5, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_store_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
}

void bf_rej_emit_send(struct bf_builder *b, const struct bf_rej_frame *f, bf_label drop)
{
	int16_t fib_ifindex = (int16_t)(f->fib + (int16_t)offsetof(struct bpf_fib_lookup, ifindex));
	bf_label no_mac = bf_label_new(b), out = bf_label_new(b), lo = bf_label_new(b);

	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, ETH_HLEN, no_mac);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 0));
	bf_rej_emit_fp(b, BPF_REG_3, f->mac);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, 12));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_5, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_skb_store_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, drop);
	bf_label_bind(b, no_mac);

	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(hook)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, NF_INET_LOCAL_OUT, out);
	bf_comment(b, "pkt->reply_{ifindex,len}: the egress dispatcher runs OUTPUT on it");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, fib_ifindex));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(reply_ifindex)));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, SKB_OFF(len)));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(reply_len)));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, fib_ifindex));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_redirect));
	bf_emit(b, BF_EXIT());

	bf_label_bind(b, out);
	/* The kernel routes the reply to this host through lo: OUTPUT (out lo), then INPUT (in
	 * lo). It is redirected to lo's ingress: INPUT (in lo) only, since an egress redirect
	 * would keep the packet's output route, which the receive path then cannot use. Raw IP
	 * devices (no Ethernet header for lo): the same interface's ingress. */
	bf_comment(b, "OUTPUT: the reply is local: redirect(lo, ingress); raw IP: same ifindex");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, SKB_OFF(ifindex)));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_3, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_3, ETH_HLEN, lo);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, LOOPBACK_IFINDEX));
	bf_label_bind(b, lo);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, BPF_F_INGRESS));
	bf_emit(b, BF_CALL(BPF_FUNC_redirect));
	bf_emit(b, BF_EXIT());
}

int bf_rej_sysctl_ttl(const char *path, int def)
{
	FILE *f = fopen(path, "re");
	int v = def;

	if (f) {
		if (fscanf(f, "%d", &v) != 1 || v < 1 || v > 255)
			v = def;
		fclose(f);
	}
	return v;
}
