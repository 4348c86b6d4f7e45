// SPDX-License-Identifier: GPL-2.0-only
/*
 * The LOG target (net/netfilter/xt_LOG.c: "LOG" revision 0, registered for NFPROTO_IPV4 and
 * NFPROTO_IPV6, any table and hook). log_tg() hands the packet to nf_log_packet(), which prints
 * one line (nf_log_syslog.c), and returns XT_CONTINUE.
 *
 * Here the rule copies what that line is made of into a record of the runtime's ring buffer
 * (struct bf_log_rec, targets.h): interfaces, the link-layer header, the packet from its IP
 * header on (bounded: every header the kernel prints fits), the mark, the socket's uid/gid when
 * --log-uid asks, the level, the flags and the prefix. The daemon's log sink (daemon/logsink.c)
 * formats the line exactly as the kernel does (IPv4 or IPv6, by the record's family) and writes
 * it to /dev/kmsg. A full ring buffer
 * never stalls the datapath: the record is dropped and the per-CPU bf_log_drops counter counts it.
 * Then the next rule (XT_CONTINUE).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_LOG.h>

#include "../abi.h"
#include "../bpf_insn.h"
#include "../ext.h"
#include "../match/common.h"
#include "targets.h"

#define PKT_OFF(field) ((int16_t)offsetof(struct bf_pkt, field))
#define REC_OFF(field) ((int16_t)offsetof(struct bf_log_rec, field))
#define SKB_OFF(field) ((int16_t)offsetof(struct __sk_buff, field))

_Static_assert(sizeof(((struct xt_log_info *)0)->prefix) <= BF_LOG_PREFIX_LEN,
	       "the prefix fits the record");
_Static_assert(sizeof(struct bf_log_rec) % 8 == 0, "records are 8-byte multiples");

static int log_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct xt_log_info *info = data;

	/* log_tg_check() */
	if (ctx->family != NFPROTO_IPV4 && ctx->family != NFPROTO_IPV6)
		return -EINVAL;
	if (info->level >= 8) {
		bf_logf(ctx->log, BF_LOG_INFO, "LOG: level %u >= 8", info->level);
		return -EINVAL;
	}
	if (info->prefix[sizeof(info->prefix) - 1] != '\0') {
		bf_logf(ctx->log, BF_LOG_INFO, "LOG: prefix is not null-terminated");
		return -EINVAL;
	}
	/* --log-uid reads socket credentials as owner does: refused up front without BTF */
	if (info->logflags & XT_LOG_UID) {
		struct bf_sk_cred_offs o;

		return bf_sk_cred_offsets(ctx->log, &o);
	}
	return 0;
}

/* rec->field (size sz) = pkt->field. r8 = record. */
static void copy_pkt(struct bf_builder *b, uint8_t sz, int16_t pkt_off, int16_t rec_off)
{
	bf_emit(b, BF_LDX_MEM(sz, BPF_REG_1, BPF_REG_7, pkt_off));
	bf_emit(b, BF_STX_MEM(sz, BPF_REG_8, BPF_REG_1, rec_off));
}

/* Scratch stack of --log-uid (codegen/abi.h): the socket pointer, a read, the lookup tuple. */
#define UID_SPILL_OFF (-BF_STACK_SCRATCH_OFF)
#define UID_READ_OFF (UID_SPILL_OFF + 8)
#define UID_TUPLE_OFF (UID_SPILL_OFF + 16)
_Static_assert(sizeof(struct bpf_sock_tuple) <= BF_STACK_SCRATCH_SIZE - 16, "the tuple fits");

#define LOOPBACK_IFINDEX 1
#define BF_IP_MF 0x2000
/* include/net/tcp_states.h */
#define BF_TCP_ESTABLISHED 1
#define BF_TCP_LISTEN 10

/*
 * R1 = *(u64 or u32 *)(R9 + off), read with bpf_probe_read_kernel through the stack; a fault or
 * (for a pointer) NULL jumps to `none`. Clobbers R0-R5.
 */
static void emit_kread(struct bf_builder *b, int off, uint32_t size, bf_label none)
{
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, UID_READ_OFF, 0));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, UID_READ_OFF));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, (int32_t)size));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_9));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, off));
	bf_emit(b, BF_CALL(BPF_FUNC_probe_read_kernel));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, none);
	bf_emit(b, BF_LDX_MEM(size == 8 ? BPF_DW : BPF_W, BPF_REG_1, BPF_REG_10, UID_READ_OFF));
	if (size == 8)
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, none);
}

/* The full socket pointer in R0 (referenced by R9) as a number in R1, through the stack (the
 * verifier forbids arithmetic on socket pointers); then the reference is released. */
static void emit_sk_number(struct bf_builder *b, bf_label release_none)
{
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_0, UID_SPILL_OFF));
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, UID_READ_OFF, 0));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, UID_READ_OFF));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 8));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, UID_SPILL_OFF));
	bf_emit(b, BF_CALL(BPF_FUNC_probe_read_kernel));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, release_none);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_9));
	bf_emit(b, BF_CALL(BPF_FUNC_sk_release));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_10, UID_READ_OFF));
}

/*
 * INPUT: the socket early demux would give the packet (ip_rcv_finish_core/ip6_rcv_finish_core:
 * tcp_v4/v6_early_demux, udp_v4/v6_early_demux), looked up in this namespace with the tuple at
 * UID_TUPLE_OFF. proto: IPPROTO_TCP, or IPPROTO_UDP with `connected` for a unicast packet
 * (__udp4_lib_demux_lookup: only a connected socket bound to the destination) or without for
 * a multicast one (__udp4_lib_mcast_demux_lookup). Jumps to `have` with the socket's address in
 * R1, or to `none`. Clobbers R0-R5, R9.
 */
static void emit_demux(struct bf_emit_ctx *ctx, int proto, bool connected, bf_label have,
		       bf_label none)
{
	struct bf_builder *b = ctx->b;
	bool v6 = ctx->family == NFPROTO_IPV6;
	bf_label release_none = bf_label_new(b);

	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, UID_TUPLE_OFF));
	bf_emit(b,
		BF_MOV64_IMM(BPF_REG_3, v6 ? (int32_t)sizeof(((struct bpf_sock_tuple *)0)->ipv6)
					   : (int32_t)sizeof(((struct bpf_sock_tuple *)0)->ipv4)));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, -1)); /* BPF_F_CURRENT_NETNS */
	bf_emit(b, BF_MOV64_IMM(BPF_REG_5, 0));
	bf_emit(b,
		BF_CALL(proto == IPPROTO_TCP ? BPF_FUNC_skc_lookup_tcp : BPF_FUNC_sk_lookup_udp));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, none);
	bf_emit(b, BF_MOV64_REG(BPF_REG_9, BPF_REG_0));
	/* a listener is what the lookup found after the established table: no early demux */
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_9, offsetof(struct bpf_sock, state)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, BF_TCP_LISTEN, release_none);
	if (connected) {
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, BF_TCP_ESTABLISHED, release_none);
		for (int i = 0; i < (v6 ? 4 : 1); i++) {
			bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_9,
					      v6 ? (int16_t)(offsetof(struct bpf_sock, src_ip6) +
							     4 * i)
						 : (int16_t)offsetof(struct bpf_sock, src_ip4)));
			bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7,
					      (int16_t)(PKT_OFF(daddr) + 4 * i)));
			bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, release_none);
		}
	}
	/* request and time-wait sockets have no owner (sk_fullsock) */
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_9));
	bf_emit(b, BF_CALL(BPF_FUNC_sk_fullsock));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, release_none);
	emit_sk_number(b, release_none);
	bf_emit_ja(b, have);
	bf_label_bind(b, release_none);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_9));
	bf_emit(b, BF_CALL(BPF_FUNC_sk_release));
	bf_emit_ja(b, none);
}

/*
 * --log-uid: nf_log_dump_sk_uid_gid(net, m, skb->sk) prints "UID= GID=" (the fsuid and fsgid of
 * the socket's file) only for a full socket whose sk_socket has a file: not for request or
 * time-wait sockets, nor for the kernel's own sockets (the ICMP sender, TCP's reset and ACK
 * sender), which have a struct socket but no file.
 * Which socket the kernel's skb->sk is at the hook:
 * - OUTPUT: the sender's, as TC egress sees it in __sk_buff->sk.
 * - FORWARD: none (ip_rcv_core orphans the skb, ip_forward drops one that has a socket). At TC
 *   ingress __sk_buff->sk may still be the sending socket of another namespace (veth keeps it).
 * - INPUT: the socket early demux finds (the same orphaned skb, then ip_rcv_finish_core), except
 *   for packets looped back through lo, which already carry their route.
 * The credentials are read as xt_owner reads them (codegen/match/owner.c).
 */
static int emit_uid(struct bf_emit_ctx *ctx)
{
	struct bf_builder *b = ctx->b;
	bool v6 = ctx->family == NFPROTO_IPV6;
	bf_label none = bf_label_new(b), have = bf_label_new(b), out_sk = bf_label_new(b);
	bf_label tcp = bf_label_new(b), udp = bf_label_new(b), l4_ok = bf_label_new(b);
	struct bf_sk_cred_offs o;
	int r;

	r = bf_sk_cred_offsets(ctx->log, &o);
	if (r)
		return r;

	bf_comment(b, "--log-uid: the socket of skb->sk at the hook, if it has a file");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(hook)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, NF_INET_LOCAL_OUT, out_sk);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, NF_INET_LOCAL_IN, none);

	bf_comment(b, "INPUT: early demux (not for lo, not for fragments)");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(iif)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, LOOPBACK_IFINDEX, none);
	if (v6) {
		/* ip6_rcv_finish_core looks at the fixed header's next header only */
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_off)));
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l3_off)));
		bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_1, BPF_REG_2));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 40, none);
	} else {
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(fragoff_h)));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, none);
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(frag_flags_h)));
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, BF_IP_MF, none);
	}
	/* pskb_may_pull(transport header) */
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(flags)));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, BF_PKT_F_L4_OK, l4_ok);
	bf_emit_ja(b, none);
	bf_label_bind(b, l4_ok);
	bf_comment(b, "the tuple as the packet has it");
	for (int i = 0; i < (v6 ? 4 : 1); i++) {
		bf_emit(b,
			BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(PKT_OFF(saddr) + 4 * i)));
		bf_emit(b,
			BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, (int16_t)(UID_TUPLE_OFF + 4 * i)));
		bf_emit(b,
			BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(PKT_OFF(daddr) + 4 * i)));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1,
				      (int16_t)(UID_TUPLE_OFF + (v6 ? 16 : 4) + 4 * i)));
	}
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(sport)));
	bf_emit(b,
		BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, (int16_t)(UID_TUPLE_OFF + (v6 ? 32 : 8))));
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(dport)));
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1,
			      (int16_t)(UID_TUPLE_OFF + (v6 ? 34 : 10))));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_6, SKB_OFF(pkt_type)));
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(proto)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_TCP, tcp);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_UDP, udp);
	bf_emit_ja(b, none);

	bf_label_bind(b, tcp);
	{
		/* tcp_v4/v6_early_demux: PACKET_HOST, doff >= 5, __inet_lookup_established */
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, PACKET_HOST, none);
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(tcpdoff)));
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 20, none);
		emit_demux(ctx, IPPROTO_TCP, false, have, none);
	}

	bf_label_bind(b, udp);
	{
		bf_label host = bf_label_new(b);

		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, PACKET_HOST, host);
		/* udp_v6_early_demux: PACKET_HOST only. udp_v4_early_demux: a multicast group the
		 * interface joined (only those reach INPUT, tests/diff/README.md), one socket. */
		if (v6) {
			bf_emit_ja(b, none);
		} else {
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, PACKET_MULTICAST, none);
			emit_demux(ctx, IPPROTO_UDP, false, have, none);
		}
		bf_label_bind(b, host);
		emit_demux(ctx, IPPROTO_UDP, true, have, none);
	}

	bf_label_bind(b, out_sk);
	/* REJECT's reply is the rejected skb rewritten: its skb->sk is the rejected packet's
	 * sender (veth keeps it across namespaces), where the kernel's reply has the ICMP socket
	 * (no file) or none. */
	bf_comment(b, "OUTPUT: not REJECT's reply; skb->sk, a full socket");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(flags)));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, BF_PKT_F_REJECT_REPLY, none);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_6, SKB_OFF(sk)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, none);
	bf_emit(b, BF_CALL(BPF_FUNC_sk_fullsock));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, none);
	/* not referenced: nothing to release, the number is read directly */
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_0, UID_SPILL_OFF));
	bf_emit(b, BF_MOV64_REG(BPF_REG_9, BPF_REG_10));
	emit_kread(b, UID_SPILL_OFF, 8, none);

	bf_label_bind(b, have);
	bf_comment(b, "sk->sk_socket->file->f_cred: fsuid, fsgid");
	bf_emit(b, BF_MOV64_REG(BPF_REG_9, BPF_REG_1));
	emit_kread(b, o.sk_socket, 8, none);
	bf_emit(b, BF_MOV64_REG(BPF_REG_9, BPF_REG_1));
	emit_kread(b, o.file, 8, none);
	bf_emit(b, BF_MOV64_REG(BPF_REG_9, BPF_REG_1));
	emit_kread(b, o.f_cred, 8, none);
	bf_emit(b, BF_MOV64_REG(BPF_REG_9, BPF_REG_1));
	emit_kread(b, o.fsuid, 4, none);
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_8, BPF_REG_1, REC_OFF(uid)));
	emit_kread(b, o.fsgid, 4, none);
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_8, BPF_REG_1, REC_OFF(gid)));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_8, REC_OFF(info), BF_LOG_REC_UID));
	bf_label_bind(b, none);
	return bf_builder_err(b);
}

static int log_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_log_info *info = data;
	struct bf_builder *b = ctx->b;
	bool xdp = ctx->prog_ctx == BF_CTX_XDP;
	int load = xdp ? BPF_FUNC_xdp_load_bytes : BPF_FUNC_skb_load_bytes;
	bf_label full = bf_label_new(b), submit = bf_label_new(b), no_mac = bf_label_new(b);
	bf_label no_data = bf_label_new(b), cap_ok = bf_label_new(b);
	char prefix[BF_LOG_PREFIX_LEN] = {0};

	memcpy(prefix, info->prefix, sizeof(info->prefix));
	prefix[sizeof(info->prefix) - 1] = '\0';

	bf_comment(b, "LOG \"%s\" level %u flags %#x: r8 = ringbuf_reserve(bf_log_rb)", prefix,
		   info->level, info->logflags);
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_LOG_RB);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, (int32_t)sizeof(struct bf_log_rec)));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_3, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_ringbuf_reserve));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, full);
	bf_emit(b, BF_MOV64_REG(BPF_REG_8, BPF_REG_0));

	bf_comment(b, "family, hook, level, flags, interfaces, length");
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_8, REC_OFF(family), ctx->family));
	copy_pkt(b, BPF_B, PKT_OFF(hook), REC_OFF(hook));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_8, REC_OFF(level), info->level));
	bf_emit(b, BF_ST_MEM(BPF_B, BPF_REG_8, REC_OFF(logflags), info->logflags));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_8, REC_OFF(info), 0));
	copy_pkt(b, BPF_W, PKT_OFF(iif), REC_OFF(iif));
	copy_pkt(b, BPF_W, PKT_OFF(oif), REC_OFF(oif));
	for (int16_t o = 0; o < 16; o += 8) {
		copy_pkt(b, BPF_DW, (int16_t)(PKT_OFF(iifname) + o),
			 (int16_t)(REC_OFF(iifname) + o));
		copy_pkt(b, BPF_DW, (int16_t)(PKT_OFF(oifname) + o),
			 (int16_t)(REC_OFF(oifname) + o));
	}
	copy_pkt(b, BPF_W, PKT_OFF(len), REC_OFF(pkt_len));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_8, REC_OFF(uid), 0));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_8, REC_OFF(gid), 0));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_8, REC_OFF(pad), 0));
	if (xdp) {
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_8, REC_OFF(mark), 0));
	} else {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_6, SKB_OFF(mark)));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_8, BPF_REG_1, REC_OFF(mark)));
	}
	for (int o = 0; o < BF_LOG_PREFIX_LEN; o += 4) {
		int32_t w;

		memcpy(&w, prefix + o, 4);
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_8, (int16_t)(REC_OFF(prefix) + o), w));
	}

	if (!xdp && (info->logflags & XT_LOG_UID)) {
		int r = emit_uid(ctx);

		if (r)
			return r;
	}

	bf_comment(b, "the link-layer header: l3_off bytes (at most %u)", BF_LOG_MAC_MAX);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_4, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit(b, BF_ST_MEM(BPF_H, BPF_REG_8, REC_OFF(mac_len), 0));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_4, 0, no_mac);
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_4, BF_LOG_MAC_MAX, no_mac);
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_8, BPF_REG_4, REC_OFF(mac_len)));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 0));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_8));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, REC_OFF(mac)));
	bf_emit(b, BF_CALL(load));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, no_mac);
	bf_emit(b, BF_ST_MEM(BPF_H, BPF_REG_8, REC_OFF(mac_len), 0));
	bf_label_bind(b, no_mac);

	bf_comment(b, "the packet from its IP header: min(pkt->len, %u) bytes", BF_LOG_DATA_MAX);
	bf_emit(b, BF_ST_MEM(BPF_H, BPF_REG_8, REC_OFF(cap_len), 0));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_4, BPF_REG_7, PKT_OFF(len)));
	bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_4, BF_LOG_DATA_MAX, cap_ok);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, BF_LOG_DATA_MAX));
	bf_label_bind(b, cap_ok);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_4, 0, no_data);
	bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_8, BPF_REG_4, REC_OFF(cap_len)));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l3_off)));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_8));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, REC_OFF(data)));
	bf_emit(b, BF_CALL(load));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, submit);
	bf_emit(b, BF_ST_MEM(BPF_H, BPF_REG_8, REC_OFF(cap_len), 0));
	bf_label_bind(b, no_data);
	bf_label_bind(b, submit);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_8));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 0));
	bf_emit(b, BF_CALL(BPF_FUNC_ringbuf_submit));
	bf_emit_ja(b, ctx->cont);

	bf_label_bind(b, full);
	bf_comment(b, "ring buffer full: bf_log_drops[0]++ (this CPU's)");
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, -8, 0));
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_LOG_DROPS);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, -8));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, ctx->cont);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_0, 0));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 1));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_0, BPF_REG_1, 0));
	bf_emit_ja(b, ctx->cont);
	return bf_builder_err(b);
}

const struct bf_ext bf_target_log = {
	.kind = BF_EXT_TARGET,
	.name = "LOG",
	.revision = 0,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct xt_log_info),
	.check = log_check,
	.emit = log_emit,
};

const struct bf_ext bf_target_log6 = {
	.kind = BF_EXT_TARGET,
	.name = "LOG",
	.revision = 0,
	.family = NFPROTO_IPV6,
	/* The same record; the log sink formats it as nf_log_ip6_packet() by its family. */
	.size = sizeof(struct xt_log_info),
	.check = log_check,
	.emit = log_emit,
};
