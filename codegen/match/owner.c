// SPDX-License-Identifier: GPL-2.0-only
/*
 * The owner match (net/netfilter/xt_owner.c): revision 1, NFPROTO_UNSPEC, matchsize
 * sizeof(struct xt_owner_match_info), hooks LOCAL_OUT | POST_ROUTING, checkentry owner_check.
 *
 * owner_mt: sk = skb_to_full_sk(skb) (a request socket stands for its listener, a time-wait
 * socket for none); no sk or no sk->sk_socket → (match ^ invert) == 0; a socket and
 * `! --socket-exists` → false; no sk_socket->file (kernel sockets: the ICMP and TCP reset senders)
 * → ((match ^ invert) & (UID | GID)) == 0; else the file's f_cred: fsuid in [uid_min, uid_max]
 * must equal !(invert & UID); fsgid (or, with --suppl-groups, any of the supplementary groups) in
 * [gid_min, gid_max] must equal !(invert & GID).
 *
 * At TC egress (OUTPUT) skb->sk is the kernel's socket. Its credentials are read as xt_owner does,
 * through sk->sk_socket->file->f_cred, with bpf_probe_read_kernel() at offsets taken from the
 * running kernel's BTF (/sys/kernel/btf/vmlinux) when the rule is checked: there is no compiler at
 * run time. The supplementary groups are searched by bisection, which is exact because the kernel
 * keeps group_info sorted (groups_sort() before set_groups()) and finds the same answer as
 * xt_owner's linear scan in at most 17 reads (NGROUPS_MAX is 65536). The pointer in
 * __sk_buff->sk is turned into a number by copying it through the stack with the same helper (the
 * verifier forbids arithmetic on socket pointers); both need CAP_PERFMON, which bpfilterd keeps.
 *
 * Ids are compared as the kernel's kuid/kgid, i.e. as seen from the initial user namespace:
 * make_kuid(net->user_ns, id) is the identity for a network namespace of the initial user
 * namespace, the only case owner_check lets a writer of the same user namespace through here.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <bpf/btf.h>
#include <linux/bpf.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_owner.h>

#include "../bpf_insn.h"
#include "../ext.h"
#include "common.h"

/* include/net/tcp_states.h */
#define BF_TCP_TIME_WAIT 6
#define BF_TCP_NEW_SYN_RECV 12

#define SPILL_OFF (-BF_STACK_SCRATCH_OFF) /* the socket pointer, spilled */
#define READ_OFF (SPILL_OFF + 8)	  /* bpf_probe_read_kernel destination */
#define LO_OFF (SPILL_OFF + 16)		  /* bisection: lo, hi, n */
#define HI_OFF (SPILL_OFF + 24)
#define N_OFF (SPILL_OFF + 32)

#define GROUPS_BISECT 17 /* ceil(log2(NGROUPS_MAX + 1)) */

/* Byte offsets of the kernel structures' fields the match reads. */
struct owner_offs {
	int rsk_listener;	      /* struct request_sock */
	int sk_socket;		      /* struct sock */
	int file;		      /* struct socket */
	int f_cred;		      /* struct file */
	int fsuid, fsgid, group_info; /* struct cred */
	int ngroups, gid;	      /* struct group_info */
};

/* Offset in bytes of member `name` of the struct type `id`, looking into anonymous members. */
static int member_off(const struct btf *btf, int id, const char *name)
{
	const struct btf_type *t = btf__type_by_id(btf, (__u32)id);
	const struct btf_member *m;

	if (!t || !btf_is_composite(t))
		return -ENOENT;
	m = btf_members(t);
	for (unsigned int i = 0; i < btf_vlen(t); i++, m++) {
		__u32 bits = btf_member_bit_offset(t, i);
		int sub;

		if (m->name_off) {
			if (!strcmp(btf__name_by_offset(btf, m->name_off), name))
				return bits % 8 ? -EINVAL : (int)(bits / 8);
			continue;
		}
		sub = btf__resolve_type(btf, m->type);
		if (sub < 0)
			continue;
		sub = member_off(btf, sub, name);
		if (sub >= 0)
			return bits % 8 ? -EINVAL : (int)(bits / 8) + sub;
	}
	return -ENOENT;
}

static int field_off(const struct btf *btf, const char *type, const char *name, int *out,
		     const struct bf_log *log)
{
	int id = btf__find_by_name_kind(btf, type, BTF_KIND_STRUCT);
	int off = id < 0 ? id : member_off(btf, id, name);

	if (off < 0) {
		bf_logf(log, BF_LOG_INFO, "owner: struct %s has no field %s in the kernel's BTF",
			type, name);
		return -EOPNOTSUPP;
	}
	*out = off;
	return 0;
}

/* The offsets, read from the running kernel's BTF once. */
static int owner_offsets(const struct bf_log *log, const struct owner_offs **out)
{
	static struct owner_offs offs;
	static int state; /* 0: not read, 1: read, < 0: the error */
	struct btf *btf;
	int r;

	if (state == 0) {
		btf = btf__load_vmlinux_btf();
		if (!btf) {
			bf_logf(log, BF_LOG_INFO,
				"owner: the kernel's BTF is not available (%s): socket "
				"credentials cannot be read",
				strerror(errno));
			state = -EOPNOTSUPP;
		} else {
			int common = 0, listener = 0;

			/* rsk_listener is __req_common.skc_listener (include/net/request_sock.h) */
			r = field_off(btf, "request_sock", "__req_common", &common, log);
			if (!r)
				r = field_off(btf, "sock_common", "skc_listener", &listener, log);
			offs.rsk_listener = common + listener;
			if (!r)
				r = field_off(btf, "sock", "sk_socket", &offs.sk_socket, log);
			if (!r)
				r = field_off(btf, "socket", "file", &offs.file, log);
			if (!r)
				r = field_off(btf, "file", "f_cred", &offs.f_cred, log);
			if (!r)
				r = field_off(btf, "cred", "fsuid", &offs.fsuid, log);
			if (!r)
				r = field_off(btf, "cred", "fsgid", &offs.fsgid, log);
			if (!r)
				r = field_off(btf, "cred", "group_info", &offs.group_info, log);
			if (!r)
				r = field_off(btf, "group_info", "ngroups", &offs.ngroups, log);
			if (!r)
				r = field_off(btf, "group_info", "gid", &offs.gid, log);
			btf__free(btf);
			state = r ? r : 1;
		}
	}
	if (state < 0)
		return state;
	*out = &offs;
	return 0;
}

int bf_sk_cred_offsets(const struct bf_log *log, struct bf_sk_cred_offs *out)
{
	const struct owner_offs *o;
	int r = owner_offsets(log, &o);

	if (r)
		return r;
	*out = (struct bf_sk_cred_offs){.sk_socket = o->sk_socket,
					.file = o->file,
					.f_cred = o->f_cred,
					.fsuid = o->fsuid,
					.fsgid = o->fsgid};
	return 0;
}

/* R1 = (u32 or u64) *(R8 + off), read with bpf_probe_read_kernel; a fault jumps to `fail`.
 * Clobbers R0-R5. */
static void emit_read(struct bf_builder *b, int off, uint32_t size, bf_label fail)
{
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, READ_OFF, 0));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, READ_OFF));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, (int32_t)size));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_8));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, off));
	bf_emit(b, BF_CALL(BPF_FUNC_probe_read_kernel));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, fail);
	bf_emit(b, BF_LDX_MEM(size == 8 ? BPF_DW : BPF_W, BPF_REG_1, BPF_REG_10, READ_OFF));
}

/* Falls through when the constant outcome is true, else jumps to miss. */
static void emit_const(struct bf_builder *b, bool v, bf_label miss)
{
	if (!v)
		bf_emit_never(b, miss);
}

/*
 * Jump to `yes` if a supplementary group of the group_info at R8 lies in [min, max]: lower bound
 * of min by bisection over the sorted gids, then a compare with max. Clobbers R0-R5.
 */
static void emit_suppl(struct bf_builder *b, const struct owner_offs *o, uint32_t min, uint32_t max,
		       bf_label yes, bf_label fail)
{
	bf_label done = bf_label_new(b), no = bf_label_new(b);

	bf_comment(b, "n = group_info->ngroups; lower bound of gid_min in gid[0..n)");
	emit_read(b, o->ngroups, 4, fail);
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, N_OFF));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, HI_OFF));
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, LO_OFF, 0));
	for (int i = 0; i < GROUPS_BISECT; i++) {
		bf_label up = bf_label_new(b), next = bf_label_new(b);

		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_10, LO_OFF));
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_10, HI_OFF));
		bf_emit_jmp_reg(b, BPF_JGE, BPF_REG_1, BPF_REG_2, done);
		bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_1, BPF_REG_2));
		bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_1, 1));
		/* the verifier needs a bound on the index */
		bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 0x1ffff));
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, READ_OFF));
		bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_1));
		bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_3, 2));
		bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_3, BPF_REG_8));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, o->gid));
		/* keep mid: READ_OFF is overwritten by the read */
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_9, BPF_REG_10, READ_OFF));
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, READ_OFF, 0));
		bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_10));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, READ_OFF));
		bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 4));
		bf_emit(b, BF_CALL(BPF_FUNC_probe_read_kernel));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, fail);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_10, READ_OFF));
		bf_emit_jmp32_imm(b, BPF_JLT, BPF_REG_1, (int32_t)min, up);
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_9, HI_OFF));
		bf_emit_ja(b, next);
		bf_label_bind(b, up);
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_9, 1));
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_9, LO_OFF));
		bf_label_bind(b, next);
	}
	bf_label_bind(b, done);
	bf_comment(b, "lo < n && gid[lo] <= gid_max");
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_10, LO_OFF));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_10, N_OFF));
	bf_emit_jmp_reg(b, BPF_JGE, BPF_REG_1, BPF_REG_2, no);
	bf_emit(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 0x1ffff));
	bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_1, 2));
	bf_emit(b, BF_MOV64_REG(BPF_REG_9, BPF_REG_8));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_8, BPF_REG_1));
	emit_read(b, o->gid, 4, fail);
	bf_emit(b, BF_MOV64_REG(BPF_REG_8, BPF_REG_9));
	bf_emit_jmp32_imm(b, BPF_JLE, BPF_REG_1, (int32_t)max, yes);
	bf_label_bind(b, no);
}

static int owner_emit(struct bf_emit_ctx *ctx, const void *data)
{
	const struct xt_owner_match_info *info = data;
	struct bf_builder *b = ctx->b;
	uint8_t match = info->match, inv = info->invert;
	bf_label nosk = bf_label_new(b), nofile = bf_label_new(b), end = bf_label_new(b);
	bf_label not_req = bf_label_new(b);
	const struct owner_offs *o;
	int r;

	r = owner_offsets(ctx->log, &o);
	if (r)
		return r;
	bf_comment(b, "owner match 0x%x invert 0x%x", match, inv);
	if (ctx->prog_ctx != BF_CTX_TC) {
		/* only OUTPUT may hold it, and OUTPUT runs at TC egress */
		bf_emit_never(b, ctx->miss);
		return bf_builder_err(b);
	}
	bf_comment(b, "sk = skb_to_full_sk(skb)");
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_6, offsetof(struct __sk_buff, sk)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, nosk);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_9, BPF_REG_1, offsetof(struct bpf_sock, state)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_9, BF_TCP_TIME_WAIT, nosk);
	/* the pointer as a number: copied through the stack */
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_1, SPILL_OFF));
	bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, READ_OFF, 0));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, READ_OFF));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 8));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, SPILL_OFF));
	bf_emit(b, BF_CALL(BPF_FUNC_probe_read_kernel));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, ctx->miss);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_8, BPF_REG_10, READ_OFF));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_9, BF_TCP_NEW_SYN_RECV, not_req);
	bf_comment(b, "a request socket: its listener");
	emit_read(b, o->rsk_listener, 8, ctx->miss);
	bf_emit(b, BF_MOV64_REG(BPF_REG_8, BPF_REG_1));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, 0, nosk);
	bf_label_bind(b, not_req);
	bf_comment(b, "sk->sk_socket");
	emit_read(b, o->sk_socket, 8, ctx->miss);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, nosk);
	bf_emit(b, BF_MOV64_REG(BPF_REG_8, BPF_REG_1));
	if (match & inv & XT_OWNER_SOCKET) {
		bf_comment(b, "a socket and ! --socket-exists");
		bf_emit_never(b, ctx->miss);
	}
	bf_comment(b, "sk_socket->file");
	emit_read(b, o->file, 8, ctx->miss);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, nofile);
	bf_emit(b, BF_MOV64_REG(BPF_REG_8, BPF_REG_1));
	bf_comment(b, "file->f_cred");
	emit_read(b, o->f_cred, 8, ctx->miss);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, ctx->miss);
	bf_emit(b, BF_MOV64_REG(BPF_REG_8, BPF_REG_1));
	if (match & XT_OWNER_UID) {
		bf_comment(b, "%s--uid-owner %u-%u", inv & XT_OWNER_UID ? "! " : "", info->uid_min,
			   info->uid_max);
		emit_read(b, o->fsuid, 4, ctx->miss);
		bf_emit_reg_range(b, BPF_REG_1, info->uid_min, info->uid_max, UINT32_MAX,
				  !(inv & XT_OWNER_UID), ctx->miss);
	}
	if (match & XT_OWNER_GID) {
		bool want = !(inv & XT_OWNER_GID);
		bf_label in = bf_label_new(b), out = bf_label_new(b);

		bf_comment(b, "%s--gid-owner %u-%u%s", want ? "" : "! ", info->gid_min,
			   info->gid_max, match & XT_OWNER_SUPPL_GROUPS ? " --suppl-groups" : "");
		emit_read(b, o->fsgid, 4, ctx->miss);
		bf_emit_jmp32_imm(b, BPF_JLT, BPF_REG_1, (int32_t)info->gid_min, out);
		bf_emit_jmp32_imm(b, BPF_JLE, BPF_REG_1, (int32_t)info->gid_max, in);
		bf_label_bind(b, out);
		if (match & XT_OWNER_SUPPL_GROUPS) {
			bf_label none = bf_label_new(b);

			emit_read(b, o->group_info, 8, ctx->miss);
			bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, none);
			bf_emit(b, BF_MOV64_REG(BPF_REG_8, BPF_REG_1));
			emit_suppl(b, o, info->gid_min, info->gid_max, in, ctx->miss);
			bf_label_bind(b, none);
		}
		/* not in the range: the match holds only if inverted; in it, only if not */
		bf_emit_ja(b, want ? ctx->miss : end);
		bf_label_bind(b, in);
		if (!want)
			bf_emit_ja(b, ctx->miss);
		else
			bf_emit_ja(b, end);
	} else {
		bf_emit_ja(b, end);
	}

	bf_label_bind(b, nofile);
	bf_comment(b, "no file: ((match ^ invert) & (UID | GID)) == 0");
	emit_const(b, !((match ^ inv) & (XT_OWNER_UID | XT_OWNER_GID)), ctx->miss);
	bf_emit_ja(b, end);
	bf_label_bind(b, nosk);
	bf_comment(b, "no socket: (match ^ invert) == 0");
	emit_const(b, !(match ^ inv), ctx->miss);
	bf_label_bind(b, end);
	return bf_builder_err(b);
}

static int owner_check(const struct bf_check_ctx *ctx, const void *data)
{
	const struct xt_owner_match_info *info = data;
	const struct owner_offs *o;

	if (info->match & ~XT_OWNER_MASK)
		return -EINVAL;
	/* make_kuid() in the initial user namespace: only (uid_t)-1 is invalid */
	if (info->match & XT_OWNER_UID &&
	    (info->uid_min == UINT32_MAX || info->uid_max == UINT32_MAX ||
	     info->uid_max < info->uid_min))
		return -EINVAL;
	if (info->match & XT_OWNER_GID &&
	    (info->gid_min == UINT32_MAX || info->gid_max == UINT32_MAX ||
	     info->gid_max < info->gid_min))
		return -EINVAL;
	/* what bpfilter needs to read socket credentials at all */
	return owner_offsets(ctx->log, &o);
}

const struct bf_ext bf_match_owner = {
	.kind = BF_EXT_MATCH,
	.name = "owner",
	.revision = 1,
	.family = NFPROTO_UNSPEC,
	.size = sizeof(struct xt_owner_match_info),
	.hooks = (1 << NF_INET_LOCAL_OUT) | (1 << NF_INET_POST_ROUTING),
	.check = owner_check,
	.emit = owner_emit,
};
