// SPDX-License-Identifier: GPL-2.0-only
/*
 * Program builder (builder.h): instructions are appended to a growing buffer; jumps and map loads
 * record a typed fixup naming a label or a map slot. bf_builder_finish() resolves every fixup in
 * one pass over a copy of the buffer, so the builder itself can still be dumped afterwards.
 *
 * Comments live in one string arena (offset 0 is the empty string) indexed per instruction, so a
 * program of 100k instructions with comments costs a few MB, not 100k small allocations.
 */
#include "builder.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpfilter/cleanup.h>

#include "bpf_insn.h"

#define BF_LABEL_UNBOUND UINT32_MAX

enum bf_fixup_kind { BF_FIXUP_JMP, BF_FIXUP_MAP, BF_FIXUP_CALL };

struct bf_fixup {
	enum bf_fixup_kind kind;
	uint32_t insn; /* index of the jump or of the first half of the ld_imm64 */
	uint32_t arg;  /* label id (JMP) or map slot (MAP) */
};

struct bf_builder {
	const struct bf_log *log;
	int err;

	struct bpf_insn *insns;
	uint32_t *comment; /* per instruction: offset in `arena`, 0 for none */
	size_t n, cap;

	uint32_t *label_pos; /* indexed by label id; [0] unused */
	uint32_t n_labels, cap_labels;

	struct bf_fixup *fixups;
	size_t n_fixups, cap_fixups;

	int *map_fds; /* distinct maps loaded by fd (bf_emit_ld_map_fd) */
	size_t n_map_fds, cap_map_fds;

	char *arena;
	size_t arena_len, arena_cap;
	uint32_t pending; /* comment for the next instruction (arena offset), 0 for none */
};

/* Grow *p (elements of size sz) so it holds at least `need`; 0 or -ENOMEM. */
static int grow(void **p, size_t *cap, size_t need, size_t sz)
{
	size_t ncap = *cap ? *cap : 64;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * sz);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

int bf_builder_new(struct bf_builder **out, const struct bf_log *log)
{
	_cleanup_free_ struct bf_builder *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->log = log;
	/* Arena offset 0 is the empty string: "no comment". */
	b->arena = malloc(256);
	if (!b->arena)
		return -ENOMEM;
	b->arena_cap = 256;
	b->arena[0] = '\0';
	b->arena_len = 1;
	*out = TAKE_PTR(b);
	return 0;
}

void bf_builder_free(struct bf_builder *b)
{
	if (!b)
		return;
	free(b->insns);
	free(b->comment);
	free(b->label_pos);
	free(b->fixups);
	free(b->map_fds);
	free(b->arena);
	free(b);
}

int bf_builder_err(const struct bf_builder *b)
{
	return b->err;
}

void bf_builder_set_err(struct bf_builder *b, int err)
{
	if (!b->err && err)
		b->err = err < 0 ? err : -err;
}

size_t bf_builder_len(const struct bf_builder *b)
{
	return b->n;
}

void bf_emit(struct bf_builder *b, struct bpf_insn insn)
{
	size_t cap2 = b->cap;

	if (b->err)
		return;
	if (b->n >= UINT32_MAX - 1) {
		bf_builder_set_err(b, -E2BIG);
		return;
	}
	if (grow((void **)&b->insns, &b->cap, b->n + 1, sizeof(*b->insns)) ||
	    grow((void **)&b->comment, &cap2, b->n + 1, sizeof(*b->comment))) {
		bf_builder_set_err(b, -ENOMEM);
		return;
	}
	/* Both arrays grow in step: the second grow() starts from the old capacity. */
	b->insns[b->n] = insn;
	b->comment[b->n] = b->pending;
	b->pending = 0;
	b->n++;
}

void bf_comment(struct bf_builder *b, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	size_t len, need;
	int r;

	if (b->err)
		return;
	va_start(ap, fmt);
	r = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	len = strlen(buf);
	/* Two comments for one instruction are joined with "; ". */
	need = b->arena_len + len + 3;
	if (grow((void **)&b->arena, &b->arena_cap, need, 1)) {
		bf_builder_set_err(b, -ENOMEM);
		return;
	}
	if (b->pending) {
		/* The pending comment is the last string in the arena: extend it in place. */
		b->arena_len--; /* overwrite its NUL */
		memcpy(b->arena + b->arena_len, "; ", 2);
		b->arena_len += 2;
	} else {
		b->pending = (uint32_t)b->arena_len;
	}
	memcpy(b->arena + b->arena_len, buf, len + 1);
	b->arena_len += len + 1;
}

bf_label bf_label_new(struct bf_builder *b)
{
	size_t cap = b->cap_labels;
	uint32_t id;

	if (b->err)
		return (bf_label){0};
	id = b->n_labels ? b->n_labels : 1;
	if (id == UINT32_MAX || grow((void **)&b->label_pos, &cap, id + 1, sizeof(uint32_t))) {
		bf_builder_set_err(b, -ENOMEM);
		return (bf_label){0};
	}
	b->cap_labels = (uint32_t)cap;
	b->label_pos[id] = BF_LABEL_UNBOUND;
	b->n_labels = id + 1;
	return (bf_label){id};
}

void bf_label_bind(struct bf_builder *b, bf_label l)
{
	if (b->err)
		return;
	if (!l.id || l.id >= b->n_labels || b->label_pos[l.id] != BF_LABEL_UNBOUND) {
		bf_logf(b->log, BF_LOG_ERR, "builder: label %u is invalid or bound twice", l.id);
		bf_builder_set_err(b, -EINVAL);
		return;
	}
	b->label_pos[l.id] = (uint32_t)b->n;
}

static void add_fixup(struct bf_builder *b, enum bf_fixup_kind kind, uint32_t arg)
{
	if (b->err)
		return;
	if (grow((void **)&b->fixups, &b->cap_fixups, b->n_fixups + 1, sizeof(*b->fixups))) {
		bf_builder_set_err(b, -ENOMEM);
		return;
	}
	b->fixups[b->n_fixups++] =
		(struct bf_fixup){.kind = kind, .insn = (uint32_t)b->n, .arg = arg};
}

static void emit_jmp(struct bf_builder *b, struct bpf_insn insn, bf_label to)
{
	if (b->err)
		return;
	if (!to.id || to.id >= b->n_labels) {
		bf_logf(b->log, BF_LOG_ERR, "builder: jump to invalid label %u", to.id);
		bf_builder_set_err(b, -EINVAL);
		return;
	}
	add_fixup(b, BF_FIXUP_JMP, to.id);
	bf_emit(b, insn);
}

void bf_emit_jmp_imm(struct bf_builder *b, uint8_t op, uint8_t dst, int32_t imm, bf_label to)
{
	emit_jmp(b, BF_INSN(BPF_JMP | BPF_OP(op) | BPF_K, dst, 0, 0, imm), to);
}

void bf_emit_jmp_reg(struct bf_builder *b, uint8_t op, uint8_t dst, uint8_t src, bf_label to)
{
	emit_jmp(b, BF_INSN(BPF_JMP | BPF_OP(op) | BPF_X, dst, src, 0, 0), to);
}

void bf_emit_jmp32_imm(struct bf_builder *b, uint8_t op, uint8_t dst, int32_t imm, bf_label to)
{
	emit_jmp(b, BF_INSN(BPF_JMP32 | BPF_OP(op) | BPF_K, dst, 0, 0, imm), to);
}

void bf_emit_ja(struct bf_builder *b, bf_label to)
{
	emit_jmp(b, BF_INSN(BPF_JMP | BPF_JA, 0, 0, 0, 0), to);
}

void bf_emit_call_label(struct bf_builder *b, bf_label to)
{
	if (b->err)
		return;
	if (!to.id || to.id >= b->n_labels) {
		bf_logf(b->log, BF_LOG_ERR, "builder: call to invalid label %u", to.id);
		bf_builder_set_err(b, -EINVAL);
		return;
	}
	add_fixup(b, BF_FIXUP_CALL, to.id);
	bf_emit(b, BF_INSN(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0));
}

void bf_emit_ld_map(struct bf_builder *b, uint8_t reg, enum bf_map_slot slot)
{
	if (b->err)
		return;
	if ((unsigned int)slot >= BF_MAP_SLOT_MAX) {
		bf_builder_set_err(b, -EINVAL);
		return;
	}
	add_fixup(b, BF_FIXUP_MAP, slot);
	bf_emit(b, BF_LD_IMM64_LO(reg, BPF_PSEUDO_MAP_FD, 0));
	bf_emit(b, BF_LD_IMM64_HI(0));
}

void bf_emit_ld_map_value(struct bf_builder *b, uint8_t reg, enum bf_map_slot slot, uint32_t off)
{
	if (b->err)
		return;
	if ((unsigned int)slot >= BF_MAP_SLOT_MAX) {
		bf_builder_set_err(b, -EINVAL);
		return;
	}
	/* The map fixup fills imm (the fd); the second half's imm is the offset in the value. */
	add_fixup(b, BF_FIXUP_MAP, slot);
	bf_emit(b, BF_LD_IMM64_LO(reg, BPF_PSEUDO_MAP_VALUE, 0));
	bf_emit(b, BF_INSN(0, 0, 0, 0, off));
}

void bf_builder_use_map_fd(struct bf_builder *b, int fd)
{
	if (b->err)
		return;
	if (fd < 0) {
		bf_builder_set_err(b, -EBADF);
		return;
	}
	if (bf_builder_has_map_fd(b, fd))
		return;
	if (grow((void **)&b->map_fds, &b->cap_map_fds, b->n_map_fds + 1, sizeof(*b->map_fds))) {
		bf_builder_set_err(b, -ENOMEM);
		return;
	}
	b->map_fds[b->n_map_fds++] = fd;
}

void bf_emit_ld_map_fd(struct bf_builder *b, uint8_t reg, int fd)
{
	bf_builder_use_map_fd(b, fd);
	if (b->err)
		return;
	bf_emit(b, BF_LD_IMM64_LO(reg, BPF_PSEUDO_MAP_FD, fd));
	bf_emit(b, BF_LD_IMM64_HI(0));
}

bool bf_builder_has_map_fd(const struct bf_builder *b, int fd)
{
	for (size_t i = 0; i < b->n_map_fds; i++)
		if (b->map_fds[i] == fd)
			return true;
	return false;
}

size_t bf_builder_n_map_fds(const struct bf_builder *b)
{
	return b->n_map_fds;
}

/* Offset of a jump at `insn` to label `id`: 0 or -errno. */
static int jmp_off(const struct bf_builder *b, uint32_t insn, uint32_t id, int16_t *off)
{
	uint32_t pos = b->label_pos[id];
	int64_t d;

	if (pos == BF_LABEL_UNBOUND || pos >= b->n)
		return -ENOENT;
	d = (int64_t)pos - ((int64_t)insn + 1);
	if (d < INT16_MIN || d > INT16_MAX)
		return -E2BIG;
	*off = (int16_t)d;
	return 0;
}

int bf_builder_finish(struct bf_builder *b, const int map_fds[BF_MAP_SLOT_MAX],
		      struct bpf_insn **insns, size_t *n)
{
	_cleanup_free_ struct bpf_insn *out = NULL;
	int r;

	if (b->err)
		return b->err;
	if (!b->n)
		return -ENODATA;
	out = malloc(b->n * sizeof(*out));
	if (!out)
		return -ENOMEM;
	memcpy(out, b->insns, b->n * sizeof(*out));

	for (size_t i = 0; i < b->n_fixups; i++) {
		const struct bf_fixup *f = &b->fixups[i];

		if (f->kind == BF_FIXUP_JMP) {
			int16_t off;

			r = jmp_off(b, f->insn, f->arg, &off);
			if (r) {
				bf_logf(b->log, BF_LOG_ERR, "builder: insn %u: jump to label %u %s",
					f->insn, f->arg,
					r == -E2BIG ? "does not fit in 16 bits" : "is not bound");
				return r;
			}
			out[f->insn].off = off;
		} else if (f->kind == BF_FIXUP_CALL) {
			uint32_t pos = b->label_pos[f->arg];

			/* imm is 32 bits: any offset inside the program fits. */
			if (pos == BF_LABEL_UNBOUND || pos >= b->n) {
				bf_logf(b->log, BF_LOG_ERR,
					"builder: insn %u: call to label %u is not bound", f->insn,
					f->arg);
				return -ENOENT;
			}
			out[f->insn].imm = (int32_t)((int64_t)pos - ((int64_t)f->insn + 1));
		} else {
			if (!map_fds || map_fds[f->arg] < 0) {
				bf_logf(b->log, BF_LOG_ERR,
					"builder: insn %u: no fd for map slot %u", f->insn, f->arg);
				return -EBADF;
			}
			out[f->insn].imm = map_fds[f->arg];
		}
	}
	*insns = TAKE_PTR(out);
	*n = b->n;
	return 0;
}

size_t bf_builder_subprogs(const struct bf_builder *b, uint32_t *starts, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n_fixups; i++) {
		uint32_t pos;
		size_t j;

		if (b->fixups[i].kind != BF_FIXUP_CALL)
			continue;
		pos = b->label_pos[b->fixups[i].arg];
		for (j = 0; j < n && starts[j] != pos; j++)
			;
		if (j < n)
			continue;
		if (n < max)
			starts[n] = pos;
		n++;
	}
	/* In instruction order, as func_info wants them. */
	for (size_t i = 1; i < n && i < max; i++)
		for (size_t j = i; j > 0 && starts[j - 1] > starts[j]; j--) {
			uint32_t t = starts[j];

			starts[j] = starts[j - 1];
			starts[j - 1] = t;
		}
	return n;
}

static const char *const map_slot_names[BF_MAP_SLOT_MAX] = {
	[BF_MAP_CTX] = "ctx",
	[BF_MAP_COUNTERS] = "counters",
	[BF_MAP_PROGS] = "progs",
	[BF_MAP_ROOT] = "root",
	[BF_MAP_IFNAME] = "ifname",
	[BF_MAP_LROUTE] = "lroute",
	[BF_MAP_ERRORS] = "errors",
	[BF_MAP_LROUTE6] = "lroute6",
	[BF_MAP_REJECT_PROGS] = "reject_progs",
	[BF_MAP_LOG_RB] = "log_rb",
	[BF_MAP_LOG_DROPS] = "log_drops",
	[BF_MAP_RTYPE] = "rtype",
	[BF_MAP_RTYPE6] = "rtype6",
	[BF_MAP_XRULE] = "xrule",
	[BF_MAP_RECENT] = "recent",
	[BF_MAP_HL] = "hl",
	[BF_MAP_HL_TAB] = "hl_tab",
	[BF_MAP_CT] = "ct",
	[BF_MAP_CLASSIFY] = "classify",
	[BF_MAP_CLASSIFY_EXACT] = "classify_exact",
	[BF_MAP_CLASSIFY_SHORT] = "classify_short",
	[BF_MAP_CLASSIFY_PORTS] = "classify_ports",
};

void bf_builder_dump(const struct bf_builder *b, const struct bf_log *log)
{
	size_t k = 0;

	bf_logf(log, BF_LOG_DEBUG, "program: %zu insns%s", b->n, b->err ? " (error)" : "");
	for (size_t i = 0; i < b->n; i++) {
		const struct bpf_insn *in = &b->insns[i];
		char target[48] = "";

		/* Fixups are recorded in instruction order: walk them alongside. Show jump targets
		 * as absolute instruction numbers and map loads by slot name. */
		while (k < b->n_fixups && b->fixups[k].insn < i)
			k++;
		if (k < b->n_fixups && b->fixups[k].insn == i) {
			const struct bf_fixup *f = &b->fixups[k];
			uint32_t pos;

			if (f->kind == BF_FIXUP_JMP || f->kind == BF_FIXUP_CALL) {
				pos = b->label_pos[f->arg];
				if (pos == BF_LABEL_UNBOUND)
					snprintf(target, sizeof(target), " -> L%u (unbound)",
						 f->arg);
				else
					snprintf(target, sizeof(target), " -> %u", pos);
			} else {
				snprintf(target, sizeof(target), " map %s", map_slot_names[f->arg]);
			}
		}
		bf_logf(log, BF_LOG_DEBUG, "%5zu: %02x %x %x %6d %11d%s%s%s", i, in->code,
			in->dst_reg, in->src_reg, in->off, in->imm, target,
			b->comment[i] ? "  ; " : "", b->arena + b->comment[i]);
	}
}
