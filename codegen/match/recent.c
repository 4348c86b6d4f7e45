// SPDX-License-Identifier: GPL-2.0-only
/*
 * The recent match (net/netfilter/xt_recent.c): revisions 0 (struct xt_recent_mtinfo, mask all
 * ones) and 1 (struct xt_recent_mtinfo_v1), each registered for NFPROTO_IPV4 and NFPROTO_IPV6.
 *
 * recent_mt_check: flags outside XT_RECENT_VALID_FLAGS, not exactly one of set/remove/rcheck/
 * update, seconds/hitcount/rttl/reap with set or remove, reap without seconds -> -EINVAL; the
 * name as xt_check_proc_name() wants it (-EINVAL, or -ENAMETOOLONG unterminated). Then it finds or
 * creates the named table (which takes the creating rule's mask). bpfilter keeps the last 32 stamps
 * of an entry and counts the rest (codegen/extstate.h): a hitcount above 32 with --seconds, which
 * would need the older stamps, is refused (-EOPNOTSUPP), as is one above 2^24.
 *
 * recent_mt, under the table's bpf_spin_lock (the kernel's recent_lock): the packet's source
 * (or destination) address masked with the table's mask, its TTL (+1 at FORWARD, and at OUTPUT
 * for a packet without skb->sk, e.g. an IPv6 reset to a closed port: "as seen before
 * forwarding"); entry lookup (same family and address, and with --rttl the same TTL unless
 * either is 0); a missing entry with --set is created (the least recently updated
 * entry goes when the table holds ip_list_tot = 100) and the match is true; --set and --remove
 * on an entry are true; --rcheck/--update count the stamps younger than --seconds until
 * --hitcount (0: any stamp) and --reap drops the least recently updated entry if its last
 * stamp is older; --set, and --update when the result is true, add a stamp and the TTL. The
 * result starts at `invert` and every "true" flips it, as in the kernel. Tables and their
 * names: codegen/extstate.h.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_recent.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "../extstate.h"
#include "common.h"

#define ADDR_OFF (-BF_STACK_SCRATCH_OFF) /* 16 bytes: masked address */
#define TTL_OFF (ADDR_OFF + 16)		 /* u64 */
#define R6_OFF (ADDR_OFF + 24)
#define R7_OFF (ADDR_OFF + 32)
#define NOW_OFF (ADDR_OFF + 40)
#define KEY_OFF (ADDR_OFF + 48)

#define NONE 0xffffu
#define T_OFF(f) ((int16_t)offsetof(struct bf_recent_table, f))
#define S_OFF(f) \
	((int16_t)(offsetof(struct bf_recent_table, slot) + offsetof(struct bf_recent_slot, f)))
#define SLOT_SIZE ((int32_t)sizeof(struct bf_recent_slot))

static int recent_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct xt_recent_mtinfo *info = data;
	uint8_t cmd = info->check_set &
		      (XT_RECENT_SET | XT_RECENT_REMOVE | XT_RECENT_CHECK | XT_RECENT_UPDATE);

	if (info->check_set & ~XT_RECENT_VALID_FLAGS) {
		bf_logf(ctx->log, BF_LOG_INFO, "xt_recent: Unsupported user space flags (%08x)",
			info->check_set);
		return -EINVAL;
	}
	if (__builtin_popcount(cmd) != 1)
		return -EINVAL;
	if ((info->check_set & (XT_RECENT_SET | XT_RECENT_REMOVE)) &&
	    (info->seconds || info->hit_count || (info->check_set & XT_RECENT_MODIFIERS)))
		return -EINVAL;
	if ((info->check_set & XT_RECENT_REAP) && !info->seconds)
		return -EINVAL;
	/* xt_check_proc_name(): the name becomes a file in /proc/net/xt_recent */
	if (info->name[0] == '\0')
		return -EINVAL;
	if (strnlen(info->name, XT_RECENT_NAME_LEN) == XT_RECENT_NAME_LEN)
		return -ENAMETOOLONG;
	if (!strcmp(info->name, ".") || !strcmp(info->name, "..") || strchr(info->name, '/'))
		return -EINVAL;
	if ((info->hit_count > BF_RECENT_NSTAMPS && info->seconds) ||
	    info->hit_count > BF_RECENT_HITCOUNT_MAX) {
		bf_logf(ctx->log, BF_LOG_ERR,
			"recent: --hitcount %u%s: bpfilter keeps %u stamps per entry; refused",
			info->hit_count, info->seconds ? " with --seconds" : "", BF_RECENT_NSTAMPS);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* dst = &table->slot[idx] (as a pointer into the table at R8). Clobbers R0. */
static void slot_ptr(struct bf_builder *b, uint8_t dst, uint8_t idx)
{
	bf_emit(b, BF_MOV64_REG(BPF_REG_0, idx));
	bf_emit(b, BF_ALU64_IMM(BPF_MUL, BPF_REG_0, SLOT_SIZE));
	bf_emit(b, BF_MOV64_REG(dst, BPF_REG_8));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, dst, BPF_REG_0));
}

/* table->entries += d */
static void entries_add(struct bf_builder *b, int32_t d)
{
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_0, BPF_REG_8, T_OFF(entries)));
	bf_emit(b, BF_ALU32_IMM(BPF_ADD, BPF_REG_0, d));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_8, BPF_REG_0, T_OFF(entries)));
}

/* slot(R1)->lru = ++table->seq (list_move_tail / list_add_tail on the LRU list) */
static void touch_lru(struct bf_builder *b)
{
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_8, T_OFF(seq)));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_0, 1));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_0, T_OFF(seq)));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_1, BPF_REG_0, S_OFF(lru)));
}

/* Before the lock: TTL, masked address and jiffies on the stack, R8 = the table. */
static void emit_prepare(struct bf_emit_ctx *ctx, const struct xt_recent_mtinfo *info,
			 const struct bf_recent_name *t)
{
	struct bf_builder *b = ctx->b;
	bf_label not_fwd = bf_label_new(b), inc = bf_label_new(b);
	int16_t a = info->side == XT_RECENT_DEST ? BF_PKT_OFF(daddr) : BF_PKT_OFF(saddr);
	int words = ctx->family == NFPROTO_IPV6 ? 4 : 1;

	bf_comment(b,
		   "ttl as seen before forwarding: +1 in FORWARD, and in OUTPUT without skb->sk");
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(ttl)));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, BF_PKT_OFF(hook)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, NF_INET_FORWARD, inc);
	if (ctx->prog_ctx == BF_CTX_TC) {
		bf_label own = bf_label_new(b);

		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, NF_INET_LOCAL_OUT, not_fwd);
		/* REJECT's reply: the kernel's ICMP error has its socket, its reset none */
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, BF_PKT_OFF(flags)));
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_2, BF_PKT_F_REJECT_REPLY, own);
		bf_emit(b,
			BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_6, offsetof(struct __sk_buff, sk)));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 0, inc);
		bf_emit_ja(b, not_fwd);
		bf_label_bind(b, own);
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_2, BPF_REG_7, BF_PKT_OFF(proto)));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, IPPROTO_TCP, inc);
	}
	bf_emit_ja(b, not_fwd);
	bf_label_bind(b, inc);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 1));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 0xff));
	bf_label_bind(b, not_fwd);
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, TTL_OFF));
	bf_comment(b, "address & table mask");
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, ADDR_OFF, 0));
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, ADDR_OFF + 8, 0));
	for (int k = 0; k < words; k++) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(a + 4 * k)));
		bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_1, (int32_t)t->mask[k]));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, (int16_t)(ADDR_OFF + 4 * k)));
	}
	bf_emit(b, BF_CALL(BPF_FUNC_jiffies64));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_0, NOW_OFF));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, KEY_OFF, (int32_t)t->id));
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_RECENT);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, KEY_OFF));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, ctx->miss);
	bf_emit(b, BF_MOV64_REG(BPF_REG_8, BPF_REG_0));
}

/* The entry lookup: table->found = the slot of the packet's entry (NONE if none), and
 * table->lru_idx = the least recently updated slot in use. R6:R7 hold the address. */
static void emit_scan(struct bf_builder *b, int family, bool rttl)
{
	bf_label loop = bf_label_new(b), next = bf_label_new(b), done = bf_label_new(b);
	bf_label nolru = bf_label_new(b), ttl_ok = bf_label_new(b);

	bf_comment(b, "recent_entry_lookup over the table's slots");
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_8, T_OFF(found), NONE));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_8, T_OFF(lru_idx), NONE));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_5, -1));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 0));
	bf_label_bind(b, loop);
	bf_emit_jmp_imm(b, BPF_JGE, BPF_REG_2, BF_RECENT_ENTRIES, done);
	slot_ptr(b, BPF_REG_1, BPF_REG_2);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_1, S_OFF(lru)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, next);
	bf_emit_jmp_reg(b, BPF_JGE, BPF_REG_0, BPF_REG_5, nolru);
	bf_emit(b, BF_MOV64_REG(BPF_REG_5, BPF_REG_0));
	/* indexes go through the table, not registers, so the verifier does not tell apart
	 * every (slot, iteration) pair */
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_8, BPF_REG_2, T_OFF(lru_idx)));
	bf_label_bind(b, nolru);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_0, BPF_REG_8, T_OFF(found)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, NONE, next);
	bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_0, BPF_REG_1, S_OFF(family)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, family, next);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_1, S_OFF(addr)));
	bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_0, BPF_REG_6, next);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_1, S_OFF(addr) + 8));
	bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_0, BPF_REG_7, next);
	if (rttl) {
		bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_0, BPF_REG_1, S_OFF(ttl)));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, ttl_ok);
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_3, BPF_REG_10, TTL_OFF));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_3, 0, ttl_ok);
		bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_0, BPF_REG_3, next);
	}
	bf_label_bind(b, ttl_ok);
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_8, BPF_REG_2, T_OFF(found)));
	bf_label_bind(b, next);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 1));
	bf_emit_ja(b, loop);
	bf_label_bind(b, done);
}

/* recent_entry_init into a free slot, or the least recently updated one when the table is
 * full; the result flips. */
static void emit_init(struct bf_builder *b, int family, bf_label out)
{
	bf_label find_free = bf_label_new(b), floop = bf_label_new(b), ffound = bf_label_new(b);
	bf_label fill = bf_label_new(b);

	bf_comment(b, "recent_entry_init");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_0, BPF_REG_8, T_OFF(entries)));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_0, BF_RECENT_ENTRIES, find_free);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_3, BPF_REG_8, T_OFF(lru_idx)));
	bf_emit_jmp_imm(b, BPF_JGE, BPF_REG_3, BF_RECENT_ENTRIES, out);
	slot_ptr(b, BPF_REG_1, BPF_REG_3);
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_1, S_OFF(lru), 0));
	entries_add(b, -1);
	bf_emit_ja(b, fill);
	bf_label_bind(b, find_free);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 0));
	bf_label_bind(b, floop);
	bf_emit_jmp_imm(b, BPF_JGE, BPF_REG_2, BF_RECENT_ENTRIES, out);
	slot_ptr(b, BPF_REG_1, BPF_REG_2);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_1, S_OFF(lru)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, ffound);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 1));
	bf_emit_ja(b, floop);
	bf_label_bind(b, ffound);
	bf_label_bind(b, fill);
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_1, BPF_REG_6, S_OFF(addr)));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_1, BPF_REG_7, S_OFF(addr) + 8));
	bf_emit(b, BF_ST_MEM(BPF_H, BPF_REG_1, S_OFF(family), family));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_10, TTL_OFF));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_1, BPF_REG_0, S_OFF(ttl)));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_1, S_OFF(index), 1));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_1, S_OFF(nstamps), 1));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_10, NOW_OFF));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_1, BPF_REG_0, S_OFF(stamps)));
	touch_lru(b);
	entries_add(b, 1);
	bf_emit(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_9, 1));
	bf_emit_ja(b, out);
}

/* --rcheck / --update over the entry at R1: count the stamps; R5 = jiffies - seconds * HZ. */
static void emit_hits(struct bf_builder *b, const struct xt_recent_mtinfo *info)
{
	bf_label loop = bf_label_new(b), next = bf_label_new(b), done = bf_label_new(b);

	bf_comment(b, "hits: seconds %u hitcount %u", info->seconds, info->hit_count);
	if (!info->seconds) {
		/* every stamp counts: true when there are hit_count of them (any, for 0) */
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_0, BPF_REG_1, S_OFF(nstamps)));
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_0,
				(int32_t)(info->hit_count ? info->hit_count : 1), done);
		bf_emit(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_9, 1));
		bf_label_bind(b, done);
		return;
	}
	/* hits live in the table, not in a register, for the same reason as the indexes */
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_8, T_OFF(hits), 0));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 0));
	bf_label_bind(b, loop);
	bf_emit_jmp_imm(b, BPF_JGE, BPF_REG_2, BF_RECENT_NSTAMPS, done);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_0, BPF_REG_1, S_OFF(nstamps)));
	bf_emit_jmp_reg(b, BPF_JGE, BPF_REG_2, BPF_REG_0, done);
	if (info->seconds) {
		/* time_after(time, stamp): (long)(stamp - time) < 0 */
		bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_2));
		bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_3, 3));
		bf_emit(b, BF_MOV64_REG(BPF_REG_0, BPF_REG_1));
		bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_0, BPF_REG_3));
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_0, S_OFF(stamps)));
		bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_0, BPF_REG_5));
		bf_emit_jmp_imm(b, BPF_JSLT, BPF_REG_0, 0, next);
	}
	if (info->hit_count) {
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_4, BPF_REG_8, T_OFF(hits)));
		bf_emit(b, BF_ALU32_IMM(BPF_ADD, BPF_REG_4, 1));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_8, BPF_REG_4, T_OFF(hits)));
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_4, (int32_t)info->hit_count, next);
	}
	bf_emit(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_9, 1));
	bf_emit_ja(b, done);
	bf_label_bind(b, next);
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 1));
	bf_emit_ja(b, loop);
	bf_label_bind(b, done);
}

/* recent_entry_reap(t, time): the least recently updated entry goes if its last stamp is
 * older than time. Jumps to `gone` when that was the packet's own entry (R1), which the kernel
 * would then update after freeing it: here nothing is updated. */
static void emit_reap(struct bf_builder *b, bf_label gone)
{
	bf_label done = bf_label_new(b);

	bf_comment(b, "recent_entry_reap");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_3, BPF_REG_8, T_OFF(lru_idx)));
	bf_emit_jmp_imm(b, BPF_JGE, BPF_REG_3, BF_RECENT_ENTRIES, done);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_3));
	bf_emit(b, BF_ALU64_IMM(BPF_MUL, BPF_REG_2, SLOT_SIZE));
	bf_emit(b, BF_MOV64_REG(BPF_REG_4, BPF_REG_8));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_4, BPF_REG_2));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_4, S_OFF(index)));
	bf_emit(b, BF_ALU64_IMM(BPF_SUB, BPF_REG_2, 1));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_2, BF_RECENT_NSTAMPS - 1));
	bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_2, 3));
	bf_emit(b, BF_MOV64_REG(BPF_REG_0, BPF_REG_4));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_0, BPF_REG_2));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_0, S_OFF(stamps)));
	bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_0, BPF_REG_5));
	bf_emit_jmp_imm(b, BPF_JSGE, BPF_REG_0, 0, done);
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_4, S_OFF(lru), 0));
	entries_add(b, -1);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_0, BPF_REG_8, T_OFF(found)));
	bf_emit_jmp_reg(b, BPF_JEQ, BPF_REG_0, BPF_REG_3, gone);
	bf_label_bind(b, done);
}

/* recent_entry_update + e->ttl = ttl, on the entry at R1. */
static void emit_update(struct bf_builder *b)
{
	bf_label nogrow = bf_label_new(b);

	bf_comment(b, "recent_entry_update");
	/* e->index &= nstamps_max_mask; e->stamps[e->index++] = jiffies */
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_0, BPF_REG_1, S_OFF(index)));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_8, T_OFF(nstamps_max_mask)));
	bf_emit(b, BF_ALU32_REG(BPF_AND, BPF_REG_0, BPF_REG_2));
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_0));
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_2, BF_RECENT_NSTAMPS - 1));
	bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_2, 3));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_1));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_3, BPF_REG_2));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_4, BPF_REG_10, NOW_OFF));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_3, BPF_REG_4, S_OFF(stamps)));
	bf_emit(b, BF_ALU32_IMM(BPF_ADD, BPF_REG_0, 1));
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_1, BPF_REG_0, S_OFF(index)));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_1, S_OFF(nstamps)));
	bf_emit_jmp_reg(b, BPF_JGE, BPF_REG_2, BPF_REG_0, nogrow);
	bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_1, BPF_REG_0, S_OFF(nstamps)));
	bf_label_bind(b, nogrow);
	touch_lru(b);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_10, TTL_OFF));
	bf_emit(b, BF_STX_MEM(BPF_B, BPF_REG_1, BPF_REG_0, S_OFF(ttl)));
}

static int recent_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_recent_mtinfo *info = data;
	struct bf_builder *b = ctx->b;
	struct bf_recent_name t;
	bf_label out, have, update;
	uint32_t hz;
	int err;

	err = bf_recent_find(info->name, &t);
	if (!err)
		err = bf_kernel_hz(ctx->log, &hz);
	if (err) {
		bf_logf(ctx->log, BF_LOG_ERR, "recent: no table %.200s: %s", info->name,
			strerror(-err));
		bf_builder_set_err(b, err);
		return err;
	}
	out = bf_label_new(b);
	have = bf_label_new(b);
	update = bf_label_new(b);
	bf_comment(b, "recent %.32s (table %u) flags %#x", info->name, t.id, info->check_set);
	emit_prepare(ctx, info, &t);
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_6, R6_OFF));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_7, R7_OFF));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_6, BPF_REG_10, ADDR_OFF));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_7, BPF_REG_10, ADDR_OFF + 8));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, info->invert ? 1 : 0));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_8));
	bf_emit(b, BF_CALL(BPF_FUNC_spin_lock));

	emit_scan(b, ctx->family, info->check_set & XT_RECENT_TTL);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_3, BPF_REG_8, T_OFF(found)));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_3, BF_RECENT_ENTRIES, have);
	if (info->check_set & XT_RECENT_SET)
		emit_init(b, ctx->family, out);
	else
		bf_emit_ja(b, out);

	bf_label_bind(b, have);
	slot_ptr(b, BPF_REG_1, BPF_REG_3);
	if (info->check_set & XT_RECENT_SET) {
		bf_emit(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_9, 1));
		bf_emit_ja(b, update);
	} else if (info->check_set & XT_RECENT_REMOVE) {
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_1, S_OFF(lru), 0));
		entries_add(b, -1);
		bf_emit(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_9, 1));
		bf_emit_ja(b, out);
	} else {
		/* time = jiffies - info->seconds * HZ, the product in unsigned int */
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_5, BPF_REG_10, NOW_OFF));
		bf_emit(b, BF_MOV32_IMM(BPF_REG_0, (int32_t)(info->seconds * hz)));
		bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_5, BPF_REG_0));
		emit_hits(b, info);
		if (info->check_set & XT_RECENT_REAP)
			emit_reap(b, out);
		if (info->check_set & XT_RECENT_UPDATE)
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_9, 0, update);
		bf_emit_ja(b, out);
	}
	if (info->check_set & (XT_RECENT_SET | XT_RECENT_UPDATE)) {
		bf_label_bind(b, update);
		emit_update(b);
	}

	bf_label_bind(b, out);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_8));
	bf_emit(b, BF_CALL(BPF_FUNC_spin_unlock));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_6, BPF_REG_10, R6_OFF));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_7, BPF_REG_10, R7_OFF));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_9, 0, ctx->miss);
	return bf_builder_err(b);
}

const struct bf_ext bf_match_recent0 = {
	.kind = BF_EXT_MATCH,
	.name = "recent",
	.revision = 0,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct xt_recent_mtinfo),
	.check = recent_check,
	.emit = recent_emit,
	/* The table scan under the table's spin lock is costly to verify: one program of 14
	 * recent rules exceeded the verifier's jump history ("sequence of 8193 jumps"). */
	.region_weight = BF_EXT_WEIGHT_LOCKED,
};

const struct bf_ext bf_match_recent0_6 = {
	.kind = BF_EXT_MATCH,
	.name = "recent",
	.revision = 0,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct xt_recent_mtinfo),
	.check = recent_check,
	.emit = recent_emit,
	/* The table scan under the table's spin lock is costly to verify: one program of 14
	 * recent rules exceeded the verifier's jump history ("sequence of 8193 jumps"). */
	.region_weight = BF_EXT_WEIGHT_LOCKED,
};

const struct bf_ext bf_match_recent1 = {
	.kind = BF_EXT_MATCH,
	.name = "recent",
	.revision = 1,
	.family = NFPROTO_IPV4,
	.size = sizeof(struct xt_recent_mtinfo_v1),
	.check = recent_check,
	.emit = recent_emit,
	/* The table scan under the table's spin lock is costly to verify: one program of 14
	 * recent rules exceeded the verifier's jump history ("sequence of 8193 jumps"). */
	.region_weight = BF_EXT_WEIGHT_LOCKED,
};

const struct bf_ext bf_match_recent1_6 = {
	.kind = BF_EXT_MATCH,
	.name = "recent",
	.revision = 1,
	.family = NFPROTO_IPV6,
	.size = sizeof(struct xt_recent_mtinfo_v1),
	.check = recent_check,
	.emit = recent_emit,
	/* The table scan under the table's spin lock is costly to verify: one program of 14
	 * recent rules exceeded the verifier's jump history ("sequence of 8193 jumps"). */
	.region_weight = BF_EXT_WEIGHT_LOCKED,
};
