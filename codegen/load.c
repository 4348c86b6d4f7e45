// SPDX-License-Identifier: GPL-2.0-only
/* Loading generated programs, and the small pieces every generated program shares. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/pkt_cls.h>

#include <bpfilter/cleanup.h>
#include <bpfilter/compat.h>

#include "bpf_insn.h"
#include "cg_priv.h"

#define BF_VLOG_SIZE (4u << 20)
#define BF_VLOG_LINES 12

int bf_verdict_accept(enum bf_prog_ctx pctx)
{
	return pctx == BF_CTX_XDP ? XDP_PASS : TC_ACT_OK;
}

int bf_verdict_drop(enum bf_prog_ctx pctx)
{
	return pctx == BF_CTX_XDP ? XDP_DROP : TC_ACT_SHOT;
}

uint64_t bf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bf_obj_name(char out[BPF_OBJ_NAME_LEN], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, BPF_OBJ_NAME_LEN, fmt, ap);
	va_end(ap);
	/* The kernel accepts only these characters (bpf_obj_name_cpy). */
	for (char *p = out; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.')
			*p = '_';
}

int bf_prog_load_counted(enum bpf_prog_type type, const char *name, const struct bpf_insn *insns,
			 size_t n, struct bpf_prog_load_opts *opts, uint32_t *processed)
{
	/* three short lines, written once at the end of the verification */
	char buf[512] = "";
	const char *p;
	int fd;

	opts->log_buf = buf;
	opts->log_size = sizeof(buf);
	opts->log_level = BPF_LOG_STATS;
	fd = bpf_prog_load(type, name, "GPL", insns, n, opts);
	opts->log_buf = NULL;
	opts->log_size = 0;
	opts->log_level = 0;
	if (fd < 0) {
		/* A refusal's messages do not fit in buf, and a full log is an error of its own
		 * (ENOSPC) that hides the verifier's: again without a log, for its errno. */
		*processed = 0;
		fd = bpf_prog_load(type, name, "GPL", insns, n, opts);
		return fd < 0 ? -errno : fd;
	}
	p = strstr(buf, "processed ");
	*processed = p ? (uint32_t)strtoul(p + 10, NULL, 10) : 0;
	return fd;
}

/* Log the first and the last lines of a verifier log: the first say what was loaded, the last
 * say why it was refused. */
static void log_vlog(const struct bf_log *log, const char *name, const char *vlog)
{
	size_t n_lines = 0, line = 0;
	const char *p = vlog;

	for (const char *q = vlog; *q; q++)
		n_lines += *q == '\n';
	while (*p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		if (line < BF_VLOG_LINES || line + BF_VLOG_LINES >= n_lines)
			bf_logf(log, BF_LOG_ERR, "%s: verifier: %.*s", name, len, p);
		else if (line == BF_VLOG_LINES)
			bf_logf(log, BF_LOG_ERR, "%s: verifier: ... (%zu lines)", name, n_lines);
		line++;
		if (!nl)
			break;
		p = nl + 1;
	}
}

static void btf_freep(struct btf **p)
{
	btf__free(*p);
}

/*
 * BTF for a program with subprograms: the verifier allows a tail call in a subprogram only with
 * func_info (one FUNC per subprogram, each `int f(void *ctx)`, the callees static). Fills
 * `fi[0..n_sub]` and returns the BTF, loaded in the kernel, or NULL with errno set.
 */
static struct btf *subprog_btf(const char *name, const uint32_t *starts, size_t n_sub,
			       struct bpf_func_info *fi)
{
	struct btf *btf = btf__new_empty();
	int int_id, ptr_id, proto, f;

	if (!btf)
		return NULL;
	int_id = btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
	ptr_id = btf__add_ptr(btf, 0);
	proto = btf__add_func_proto(btf, int_id);
	if (int_id < 0 || ptr_id < 0 || proto < 0 || btf__add_func_param(btf, "ctx", ptr_id))
		goto err;
	f = btf__add_func(btf, name, BTF_FUNC_GLOBAL, proto);
	if (f < 0)
		goto err;
	fi[0] = (struct bpf_func_info){.insn_off = 0, .type_id = (uint32_t)f};
	for (size_t i = 0; i < n_sub; i++) {
		char fname[32];

		snprintf(fname, sizeof(fname), "sub%zu", i);
		f = btf__add_func(btf, fname, BTF_FUNC_STATIC, proto);
		if (f < 0)
			goto err;
		fi[i + 1] = (struct bpf_func_info){.insn_off = starts[i], .type_id = (uint32_t)f};
	}
	if (btf__load_into_kernel(btf))
		goto err;
	return btf;
err:
	btf__free(btf);
	errno = EINVAL;
	return NULL;
}

int bf_prog_load_insns(const struct bf_log *log, enum bf_prog_ctx pctx, const char *name,
		       const struct bpf_insn *insns, size_t n)
{
	uint32_t processed;

	return bf_prog_load_subprogs(log, pctx, name, insns, n, NULL, 0, &processed);
}

int bf_prog_load_subprogs(const struct bf_log *log, enum bf_prog_ctx pctx, const char *name,
			  const struct bpf_insn *insns, size_t n, const uint32_t *starts,
			  size_t n_sub, uint32_t *processed)
{
	enum bpf_prog_type type = pctx == BF_CTX_XDP ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS;
	LIBBPF_OPTS(bpf_prog_load_opts, opts);
	_cleanup_free_ char *vlog = NULL;
	_cleanup_free_ struct bpf_func_info *fi = NULL;
	__attribute__((cleanup(btf_freep))) struct btf *btf = NULL;
	uint64_t t0 = bf_now_ns();
	int fd, err;

	if (n_sub) {
		fi = calloc(n_sub + 1, sizeof(*fi));
		if (!fi)
			return -ENOMEM;
		btf = subprog_btf(name, starts, n_sub, fi);
		if (!btf) {
			err = -errno;
			bf_logf(log, BF_LOG_ERR, "%s: cannot load the BTF of its subprograms: %s",
				name, strerror(-err));
			return err;
		}
		opts.prog_btf_fd = btf__fd(btf);
		opts.func_info = fi;
		opts.func_info_rec_size = sizeof(*fi);
		opts.func_info_cnt = (uint32_t)(n_sub + 1);
	}
	fd = bf_prog_load_counted(type, name, insns, n, &opts, processed);
	if (fd >= 0) {
		bf_logf(log, BF_LOG_DEBUG, "%s: %zu insns verified in %.1f ms (%u processed)", name,
			n, (double)(bf_now_ns() - t0) / 1e6, *processed);
		return fd;
	}
	err = fd;
	if (err != -EACCES && err != -EINVAL && err != -E2BIG && err != -ENOSPC && err != -EFAULT) {
		bf_logf(log, BF_LOG_ERR, "%s: loading %zu insns: %s", name, n, strerror(-err));
		return err;
	}
	/* Verifier refusal: load again only to get its log. */
	vlog = calloc(1, BF_VLOG_SIZE);
	if (!vlog)
		return err;
	opts.log_buf = vlog;
	opts.log_size = BF_VLOG_SIZE;
	opts.log_level = 1;
	fd = bpf_prog_load(type, name, "GPL", insns, n, &opts);
	if (fd >= 0) {
		/* Should not happen; keep it rather than fail a second way. */
		return fd;
	}
	bf_logf(log, BF_LOG_ERR, "%s: verifier refused %zu insns: %s", name, n, strerror(-err));
	log_vlog(log, name, vlog);
	return err;
}

int bf_builder_load(struct bf_builder *b, const struct bf_log *log, enum bf_prog_ctx pctx,
		    const char *name, const int map_fds[BF_MAP_SLOT_MAX])
{
	uint32_t processed;

	return bf_builder_load_counted(b, log, pctx, name, map_fds, &processed);
}

int bf_builder_load_counted(struct bf_builder *b, const struct bf_log *log,
			    enum bf_prog_ctx pctx, const char *name,
			    const int map_fds[BF_MAP_SLOT_MAX], uint32_t *processed)
{
	_cleanup_free_ struct bpf_insn *insns = NULL;
	uint32_t starts[4];
	size_t n = 0, n_sub;
	int r;

	r = bf_builder_finish(b, map_fds, &insns, &n);
	if (r) {
		bf_logf(log, BF_LOG_ERR, "%s: cannot build program: %s", name, strerror(-r));
		return r;
	}
	n_sub = bf_builder_subprogs(b, starts, BF_ARRAY_SIZE(starts));
	if (n_sub > BF_ARRAY_SIZE(starts))
		return -E2BIG;
	r = bf_prog_load_subprogs(log, pctx, name, insns, n, starts, n_sub, processed);
	if (r < 0)
		bf_builder_dump(b, log);
	return r;
}

void bf_emit_prologue(struct bf_builder *b, bf_label fail)
{
	bf_comment(b, "r6 = ctx");
	bf_emit(b, BF_MOV64_REG(BPF_REG_6, BPF_REG_1));
	bf_comment(b, "*(u32 *)(r10 - 8) = 0");
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, -8, 0));
	bf_comment(b, "r7 = bpf_map_lookup_elem(bf_ctx, &key)");
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_CTX);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, -8));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, fail);
	bf_emit(b, BF_MOV64_REG(BPF_REG_7, BPF_REG_0));
}
