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
#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_LOG.h>

#include "../abi.h"
#include "../bpf_insn.h"
#include "../ext.h"
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
	return 0;
}

/* rec->field (size sz) = pkt->field. r8 = record. */
static void copy_pkt(struct bf_builder *b, uint8_t sz, int16_t pkt_off, int16_t rec_off)
{
	bf_emit(b, BF_LDX_MEM(sz, BPF_REG_1, BPF_REG_7, pkt_off));
	bf_emit(b, BF_STX_MEM(sz, BPF_REG_8, BPF_REG_1, rec_off));
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
		bf_label no_sk = bf_label_new(b);

		/* nf_log_dump_sk_uid_gid(): only a full socket has an owner. The gid is the
		 * current task's, which is the sender for packets sent synchronously. */
		bf_comment(b, "--log-uid: if (skb->sk && bpf_sk_fullsock(skb->sk)) uid, gid");
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_6, SKB_OFF(sk)));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, no_sk);
		bf_emit(b, BF_CALL(BPF_FUNC_sk_fullsock));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, no_sk);
		bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
		bf_emit(b, BF_CALL(BPF_FUNC_get_socket_uid));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_8, BPF_REG_0, REC_OFF(uid)));
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_8, REC_OFF(info), BF_LOG_REC_UID));
		bf_label_bind(b, no_sk);
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
