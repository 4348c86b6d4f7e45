// SPDX-License-Identifier: GPL-2.0-only
/*
 * Generations: one rule model compiled into region programs chained by tail calls, reproducing
 * ipt_do_table() (net/ipv4/netfilter/ip_tables.c) on the model's entry graph. See doc/design.md,
 * "Program structure".
 *
 * A region starts at every hook entry, underflow, jump/goto target, return site (the entry after
 * a JUMP that is not to the next entry) and ERROR entry, and runs linearly to the next start; a
 * region whose code grows past BF_REGION_MAX_INSNS is split at an entry boundary. Region ids are
 * slots of the generation's prog array (one per program context); the jump stack in struct bf_pkt
 * holds region ids of return sites.
 *
 * Registers and stack follow codegen/abi.h: R6 ctx, R7 struct bf_pkt *, R0-R5 scratch, R8-R9 for
 * the emitters, fp-8 the map key.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <bpfilter/cleanup.h>

#include "abi.h"
#include "bpf_insn.h"
#include "cg_priv.h"
#include "classify.h"
#include "codegen.h"
#include "ct.h"
#include "ext.h"
#include "extstate.h"
#include "ipmatch.h"

/* Soft limit on one program's size. Verification time per program grows faster than linearly
 * with its size (measured on 6.18: 10k rules load in 0.7 s with 4096-insn regions, 1.7 s with
 * 8192, 5.6 s with 16384), while every extra region costs a tail call of the 33 a packet may
 * make; 8192 keeps a 20k-rule chain inside the budget. Jump offsets to the program's exit
 * blocks must also fit in 16 bits. */
#define BF_REGION_MAX_INSNS 8192
/* Since verifying a program costs about the square of its size, the same code in programs half
 * as large verifies in about half the time (10k linear rules: 5.0 s of verification with 8192,
 * 2.6 s with 4096, 1.8 s with 2048, but then over the tail-call budget). When a table has enough
 * linear code for it to matter, the layout is first tried with these smaller limits, without
 * loading anything, and the first one whose longest path stays within the tail-call budget is kept.
 */
static const uint32_t bf_region_small_caps[] = {2048, 4096};
/* Entries outside classified runs below which that is not worth a dry pass. */
#define BF_REGION_SMALL_MIN_LINEAR 256
/* Classified runs (classify.c) verify in time linear in their size, so they count against the
 * limit above only for a quarter of their size; a program still stays below this hard limit,
 * which keeps jumps to its exit blocks inside 16 bits. Fewer, larger programs spare tail calls:
 * 100k rules in one chain fit in the 33. */
#define BF_REGION_MAX_INSNS_HARD 28000
/* MAX_TAIL_CALL_CNT in include/linux/bpf.h. */
#define BF_TAIL_CALL_MAX 33
/* Tail calls spent before the first region: dispatcher -> entry program -> hook region. */
#define BF_TAIL_CALLS_BEFORE 2
/* Entries (nested inlined chains included) of a user chain compiled inline at the one jump that
 * enters it (compute_inline): its code is in the caller's program, the jump and its RETURNs
 * are plain branches, so the packet makes no tail call for it. Small enough that the copy is
 * cheap to verify; larger chains keep their own programs. */
#define BF_INLINE_MAX_ENTRIES 32
/* Once classified, a chain that jumps nowhere and is entered from one place is also compiled
 * inline, whatever its number of entries, when its code (runs are a few lookups whatever their
 * length) is at most this long (inline_classified). */
#define BF_INLINE_MAX_INSNS 4096

#define PKT_OFF(field) ((int16_t)offsetof(struct bf_pkt, field))

struct bf_gen {
	const struct bf_log *log;
	uint32_t n_entries;
	int cnt_fd;	 /* bf_cnt: PERCPU_ARRAY of struct bf_counter_val, one per entry */
	int err_fd;	 /* bf_err: PERCPU_ARRAY of one u64: fail-closed drops */
	int progs_fd[2]; /* bf_progs, bf_progs_xdp: region id -> program */
	int cls_fd;	 /* bf_cls: the classifier's array of tries (classify.c), -1 if none */
	int clsx_fd;	 /* bf_clsx: the classifier's exact classes (classify.c), -1 if none */
	int clss_fd;	 /* bf_cls: the classifier's tries with short keys, -1 if none */
	int clsp_fd;	 /* bf_clsp: the classifier's ports array, -1 if none */
	int xrule_fd;	 /* bf_xrule: rule-instance state (extstate.h), -1 if none */
	/* recent tables this generation's rules name (the kernel's table refcnt) */
	struct bf_recent_reg *recent;
	uint32_t *recent_ids;
	uint32_t n_recent;
	/* hashlimit tables, the same way */
	struct bf_hl_reg *hl;
	uint32_t *hl_ids;
	uint32_t n_hl;
	int entry_fd[2]; /* entry programs (TC, XDP); -1 when not built */
	int family;	 /* NFPROTO_IPV4 / NFPROTO_IPV6: which root slot it goes in */
	bool track;	 /* a rule reads the connection: the family is tracked while active */
};

/* Compile state of one generation. */
struct cg {
	struct bf_runtime *rt;
	const struct bf_table_model *m;
	const struct bf_log *log;
	struct bf_gen *g;
	int32_t *region_at;	/* entry -> id of the region starting there, or -1 */
	uint32_t *region_first; /* region id -> first entry */
	uint32_t n_regions;
	uint8_t *reach;		 /* entry -> mask of hooks that may reach it */
	uint32_t *chain_regions; /* per chain label: regions named so far */
	struct bf_classify *cls; /* runs of entries compiled into trie lookups */
	uint8_t *inl;		 /* entry -> 1: a jump whose chain is compiled inline there */
	uint32_t *refs;		 /* entry -> jumps and gotos to it, but to the next entry */
	uint32_t *inl_end;	 /* first entry of an inlined chain -> one past its last */
	uint32_t n_inl;		 /* jumps compiled inline */
	bf_label inl_ret;	 /* while emitting an inlined chain: where its RETURNs go */
	unsigned int inl_depth;	 /* inlined chains being emitted, nested */
	bool inl_chunk;		 /* an inlined chain moved the counters' chunk pointer */
	uint64_t load_ns;	 /* time spent loading (verifier), for the debug log */
	uint64_t cls_ns;	 /* time spent building the classifier's trie */
	uint64_t maps_ns;	 /* creating the generation's maps */
	uint64_t regions_ns;	 /* emitting the regions and waiting for their verification */
	uint32_t n_progs;
	size_t n_insns;
	uint64_t n_processed; /* instructions the verifier walked, over all programs */
	struct loader *ld; /* region programs verified in parallel, NULL: one by one */
	uint32_t cap;	   /* soft limit of a region's weight (BF_REGION_MAX_INSNS or smaller) */
	bool dry;	   /* emit_region() builds the layout only: nothing is loaded */
};

/*
 * Region programs are independent until the switch, and bpf_prog_load() verifies in the calling
 * thread without a global lock for a CAP_BPF caller (bpf_check), so they are loaded by a few
 * threads while the main thread goes on compiling: on 2 CPUs a large table loads in about half
 * the time. Workers do no logging (struct bf_log need not be thread safe): results are logged
 * by the main thread, and a program the verifier refused is loaded again there, one by one,
 * for the verifier's log and the program dump. Outstanding jobs are bounded, so at most a few
 * programs are held in memory.
 */
#define BF_LOAD_THREADS_MAX 4

struct load_job {
	struct bf_builder *b; /* kept for the dump if the verifier refuses it */
	struct bpf_insn *insns;
	size_t n;
	enum bf_prog_ctx pctx;
	char name[BPF_OBJ_NAME_LEN];
	int map_fd;
	uint32_t slot;
	int err; /* 0, or -errno of the load (err_insert: of the prog array update) */
	bool err_insert;
	uint64_t ns;
	uint32_t processed; /* instructions the verifier walked */
};

struct loader {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct load_job **jobs; /* every job of the generation, in submission order */
	size_t n_jobs, cap_jobs, next, n_done;
	bool stop, failed;
	pthread_t th[BF_LOAD_THREADS_MAX];
	unsigned int n_threads;
};

static void load_job_run(struct load_job *j)
{
	enum bpf_prog_type type =
		j->pctx == BF_CTX_XDP ? BPF_PROG_TYPE_XDP : BPF_PROG_TYPE_SCHED_CLS;
	uint64_t t0 = bf_now_ns();
	LIBBPF_OPTS(bpf_prog_load_opts, opts);
	int fd;

	fd = bf_prog_load_counted(type, j->name, j->insns, j->n, &opts, &j->processed);
	j->ns = bf_now_ns() - t0;
	if (fd < 0) {
		j->err = fd;
		return;
	}
	if (bpf_map_update_elem(j->map_fd, &j->slot, &fd, BPF_ANY)) {
		j->err = -errno;
		j->err_insert = true;
	}
	/* The prog array holds the program now. */
	close(fd);
}

static void *loader_main(void *arg)
{
	struct loader *ld = arg;

	pthread_mutex_lock(&ld->mu);
	for (;;) {
		struct load_job *j;
		size_t k;

		while (ld->next == ld->n_jobs && !ld->stop)
			pthread_cond_wait(&ld->work, &ld->mu);
		if (ld->next == ld->n_jobs)
			break;
		k = ld->next++;
		j = ld->jobs[k];
		pthread_mutex_unlock(&ld->mu);
		load_job_run(j);
		if (!j->err) {
			/* Loaded: only the figures are needed any more. */
			bf_builder_free(j->b);
			free(j->insns);
			j->b = NULL;
			j->insns = NULL;
		}
		pthread_mutex_lock(&ld->mu);
		if (j->err)
			ld->failed = true;
		ld->n_done++;
		pthread_cond_broadcast(&ld->done);
	}
	pthread_mutex_unlock(&ld->mu);
	return NULL;
}

static const char *const hook_names[BF_HOOK_MAX] = {
	"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING",
};

static void gen_closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void bf_gen_free(struct bf_gen *g)
{
	if (!g)
		return;
	/* Closing the prog arrays' last user fds clears them (prog_array_map_clear), which
	 * releases every region program. */
	gen_closefd(&g->entry_fd[0]);
	gen_closefd(&g->entry_fd[1]);
	gen_closefd(&g->progs_fd[0]);
	gen_closefd(&g->progs_fd[1]);
	gen_closefd(&g->cnt_fd);
	gen_closefd(&g->err_fd);
	gen_closefd(&g->cls_fd);
	gen_closefd(&g->clsx_fd);
	gen_closefd(&g->clss_fd);
	gen_closefd(&g->clsp_fd);
	gen_closefd(&g->xrule_fd);
	if (g->recent)
		bf_recent_release(g->recent, g->recent_ids, g->n_recent);
	free(g->recent_ids);
	if (g->hl)
		bf_hl_release(g->hl, g->hl_ids, g->n_hl);
	free(g->hl_ids);
	free(g);
}

int bf_gen_entry_fd(const struct bf_gen *g, bool xdp)
{
	return g->entry_fd[xdp ? BF_CTX_XDP : BF_CTX_TC];
}

/* Whether entry i may let the packet continue at entry i+1 (a miss, XT_CONTINUE, a jump to
 * the next entry, or the return site of a jump). */
static bool may_continue(const struct bf_table_model *m, uint32_t i)
{
	const struct bf_entry *e = &m->entries[i];
	bool always = !e->n_matches && bf_ipmatch_is_wildcard(m->family, e);

	if (!always)
		return true;
	switch (e->target.kind) {
	case BF_TGT_ACCEPT:
	case BF_TGT_DROP:
	case BF_TGT_QUEUE:
	case BF_TGT_ERROR:
	case BF_TGT_RETURN:
	case BF_TGT_GOTO:
		return false;
	case BF_TGT_JUMP:
	case BF_TGT_EXT:
		return true;
	}
	return true;
}

static bool is_push_jump(const struct bf_entry *e)
{
	return e->target.kind == BF_TGT_JUMP && e->target.jump != e->index + 1;
}

static int check_model(const struct bf_table_model *m, const struct bf_log *log)
{
	if (!m->n_entries || !m->valid_hooks)
		return -EINVAL;
	for (unsigned int h = 0; h < BF_HOOK_MAX; h++) {
		if (!(m->valid_hooks & (1u << h)))
			continue;
		if (m->hook_entry[h] >= m->n_entries || m->underflow[h] >= m->n_entries)
			return -EINVAL;
	}
	for (uint32_t i = 0; i < m->n_entries; i++) {
		const struct bf_entry *e = &m->entries[i];

		if (e->index != i) {
			bf_logf(log, BF_LOG_ERR, "gen: entry %u has index %u", i, e->index);
			return -EINVAL;
		}
		if ((e->target.kind == BF_TGT_JUMP || e->target.kind == BF_TGT_GOTO) &&
		    e->target.jump >= m->n_entries) {
			bf_logf(log, BF_LOG_ERR, "gen: entry %u jumps past the table", i);
			return -EINVAL;
		}
		if (is_push_jump(e) && i + 1 >= m->n_entries) {
			bf_logf(log, BF_LOG_ERR, "gen: the last entry jumps: no return site");
			return -EINVAL;
		}
		if (e->target.kind == BF_TGT_EXT && (!e->target.ext || !e->target.ext->emit)) {
			bf_logf(log, BF_LOG_ERR, "gen: entry %u: target %s cannot be compiled", i,
				e->target.ext ? e->target.ext->name : "?");
			return -EOPNOTSUPP;
		}
		for (uint32_t k = 0; k < e->n_matches; k++) {
			if (!e->matches[k].ext || !e->matches[k].ext->emit) {
				bf_logf(log, BF_LOG_ERR,
					"gen: entry %u: match %s cannot be compiled", i,
					e->matches[k].ext ? e->matches[k].ext->name : "?");
				return -EOPNOTSUPP;
			}
		}
	}
	return 0;
}

/* Which hooks may reach each entry: a walk of the entry graph from every hook entry. */
static int compute_reach(struct cg *c)
{
	const struct bf_table_model *m = c->m;
	_cleanup_free_ uint32_t *stack = NULL;

	c->reach = calloc(m->n_entries, 1);
	stack = malloc(sizeof(*stack) * (m->n_entries * 2 + 1));
	if (!c->reach || !stack)
		return -ENOMEM;
	for (unsigned int h = 0; h < BF_HOOK_MAX; h++) {
		uint8_t bit = (uint8_t)(1u << h);
		size_t sp = 0;

		if (!(m->valid_hooks & (1u << h)))
			continue;
		stack[sp++] = m->hook_entry[h];
		while (sp) {
			uint32_t i = stack[--sp];
			const struct bf_entry *e = &m->entries[i];
			uint32_t succ[2];
			unsigned int n_succ = 0;

			if (c->reach[i] & bit)
				continue;
			c->reach[i] |= bit;
			if (may_continue(m, i) && i + 1 < m->n_entries)
				succ[n_succ++] = i + 1;
			if (e->target.kind == BF_TGT_JUMP || e->target.kind == BF_TGT_GOTO)
				succ[n_succ++] = e->target.jump;
			else if (e->target.kind == BF_TGT_RETURN)
				succ[n_succ++] = m->underflow[h];
			for (unsigned int k = 0; k < n_succ; k++)
				if (!(c->reach[succ[k]] & bit))
					stack[sp++] = succ[k];
		}
	}
	return 0;
}

static int add_region(struct cg *c, uint32_t first)
{
	if (c->region_at[first] >= 0)
		return 0;
	/* At most one region per entry, so region_first never needs more than n_entries. */
	c->region_at[first] = (int32_t)c->n_regions;
	c->region_first[c->n_regions++] = first;
	return 0;
}

/*
 * Size of the user chain starting at `first` if it can be compiled inline (0 if not): entered by
 * one push jump and nothing else (no goto, no jump into its middle), ending in an unconditional
 * RETURN, with no goto and no jump but to chains that can be inlined in turn, and at most
 * BF_INLINE_MAX_ENTRIES entries with those. A loop cannot pass validation; `busy` guards anyway.
 */
/* One past the last entry of the user chain whose first entry is `first`: its successor's
 * ERROR head, or the table's trailing ERROR. */
static uint32_t chain_end(const struct bf_table_model *m, uint32_t first)
{
	while (first < m->n_entries && m->entries[first].target.kind != BF_TGT_ERROR)
		first++;
	return first;
}

static uint32_t inline_size(struct cg *c, uint32_t first, const uint32_t *refs,
			    const uint32_t *caller, uint32_t *memo, uint8_t *busy)
{
	const struct bf_table_model *m = c->m;
	uint32_t end = first, total;

	if (first == 0 || first >= m->n_entries ||
	    m->entries[first - 1].target.kind != BF_TGT_ERROR)
		return 0; /* not the first entry of a user chain */
	if (memo[first] != UINT32_MAX)
		return memo[first];
	if (busy[first] || refs[first] != 1 || !is_push_jump(&m->entries[caller[first]]))
		return 0;
	busy[first] = 1;
	end = chain_end(m, first);
	total = end - first;
	if (end == first || end >= m->n_entries ||
	    m->entries[end - 1].target.kind != BF_TGT_RETURN || may_continue(m, end - 1))
		total = 0;
	for (uint32_t j = first; j < end && total && total <= BF_INLINE_MAX_ENTRIES; j++) {
		const struct bf_entry *e = &m->entries[j];
		uint32_t sub;

		if (j > first && refs[j])
			total = 0;
		else if (e->target.kind == BF_TGT_GOTO && e->target.jump != j + 1)
			total = 0;
		else if (is_push_jump(e)) {
			sub = inline_size(c, e->target.jump, refs, caller, memo, busy);
			total = sub ? total + sub : 0;
		}
	}
	if (total > BF_INLINE_MAX_ENTRIES)
		total = 0;
	busy[first] = 0;
	memo[first] = total;
	if (total)
		c->inl_end[first] = end;
	return total;
}

/* Which push jumps enter a chain that is compiled inline at the jump (inline_size). */
static int compute_inline(struct cg *c)
{
	const struct bf_table_model *m = c->m;
	uint32_t n = m->n_entries, *refs;
	_cleanup_free_ uint32_t *caller = calloc(n, sizeof(*caller));
	_cleanup_free_ uint32_t *memo = malloc(sizeof(*memo) * n);
	_cleanup_free_ uint8_t *busy = calloc(n, 1);

	c->inl = calloc(n, 1);
	c->inl_end = calloc(n, sizeof(*c->inl_end));
	c->refs = refs = calloc(n, sizeof(*refs));
	if (!refs || !caller || !memo || !busy || !c->inl || !c->inl_end)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const struct bf_entry *e = &m->entries[i];

		memo[i] = UINT32_MAX;
		if ((e->target.kind == BF_TGT_JUMP || e->target.kind == BF_TGT_GOTO) &&
		    e->target.jump != i + 1) {
			refs[e->target.jump]++;
			caller[e->target.jump] = i;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct bf_entry *e = &m->entries[i];

		if (is_push_jump(e) && inline_size(c, e->target.jump, refs, caller, memo, busy)) {
			c->inl[i] = 1;
			c->n_inl++;
		}
	}
	return 0;
}

/* Static region starts, numbered in entry order. Splits are added while emitting. */
static int compute_regions(struct cg *c)
{
	const struct bf_table_model *m = c->m;
	_cleanup_free_ uint8_t *start = calloc(m->n_entries, 1);

	c->region_at = malloc(sizeof(*c->region_at) * m->n_entries);
	c->region_first = malloc(sizeof(*c->region_first) * m->n_entries);
	if (!start || !c->region_at || !c->region_first)
		return -ENOMEM;
	for (unsigned int h = 0; h < BF_HOOK_MAX; h++) {
		if (!(m->valid_hooks & (1u << h)))
			continue;
		start[m->hook_entry[h]] = 1;
		start[m->underflow[h]] = 1;
	}
	for (uint32_t i = 0; i < m->n_entries; i++) {
		const struct bf_entry *e = &m->entries[i];

		c->region_at[i] = -1;
		if (e->target.kind == BF_TGT_ERROR)
			start[i] = 1;
		if (c->inl[i])
			continue; /* the chain's code and the way back are in this region */
		/* A jump or goto to the next entry is a plain continue (iptables encodes a rule
		 * without a target that way): it must not cost a region, hence a tail call. */
		if ((e->target.kind == BF_TGT_JUMP || e->target.kind == BF_TGT_GOTO) &&
		    e->target.jump != i + 1)
			start[e->target.jump] = 1;
		if (is_push_jump(e) && i + 1 < m->n_entries)
			start[i + 1] = 1;
	}
	/* Entry 0 always starts a region, so every entry belongs to one. */
	start[0] = 1;
	for (uint32_t i = 0; i < m->n_entries; i++)
		if (start[i])
			add_region(c, i);
	return 0;
}

/* One past the last entry of region r. */
static uint32_t region_end(const struct cg *c, uint32_t r)
{
	uint32_t i = c->region_first[r] + 1;

	while (i < c->m->n_entries && c->region_at[i] < 0)
		i++;
	return i;
}

/* The region containing entry i. */
static uint32_t region_of(const struct cg *c, uint32_t i)
{
	while (c->region_at[i] < 0)
		i--;
	return (uint32_t)c->region_at[i];
}

/* Name of the chain entry i belongs to, and its slot in chain_regions. */
static const char *chain_of(const struct cg *c, uint32_t i, uint32_t *slot)
{
	const struct bf_table_model *m = c->m;
	const char *name = "r";
	uint32_t best = 0;
	bool found = false;

	for (unsigned int h = 0; h < BF_HOOK_MAX; h++) {
		if ((m->valid_hooks & (1u << h)) && m->hook_entry[h] <= i && i <= m->underflow[h]) {
			*slot = h;
			return hook_names[h];
		}
	}
	for (uint32_t k = 0; k < m->n_chains; k++) {
		if (m->chains[k].head <= i && (!found || m->chains[k].head >= best)) {
			best = m->chains[k].head;
			name = m->chains[k].name;
			*slot = BF_HOOK_MAX + k;
			found = true;
		}
	}
	if (!found)
		*slot = BF_HOOK_MAX + m->n_chains;
	return name;
}

/*
 * An unconditional jump that keeps the next instruction in the verifier's control-flow graph:
 * R7 is this CPU's struct bf_pkt, a map value pointer already checked against NULL, so the
 * verifier knows the branch is always taken (is_branch_taken: reg_not_null) and
 * never explores the fall-through, yet check_cfg() does not see the code after it (e.g. a rule
 * after an unconditional ACCEPT) as unreachable, which it would refuse after a plain `ja`.
 */
static void emit_goto(struct bf_builder *b, bf_label to)
{
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_7, 0, to);
}

/* The opposite: a branch the verifier knows is never taken, which only makes `to` reachable
 * in the control-flow graph. */
static void emit_cfg_edge(struct bf_builder *b, bf_label to)
{
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_7, 0, to);
}

/* Labels every program of a generation shares (bound once, at its end). */
struct prog_labels {
	bf_label accept, drop, hotdrop, fail;
};

/* New labels and the prologue (R6, R7). The tail blocks may have no other reference, so
 * they get a never-taken edge here: the verifier refuses unreachable code. */
static void begin_prog(struct bf_builder *b, struct prog_labels *l)
{
	l->accept = bf_label_new(b);
	l->drop = bf_label_new(b);
	l->hotdrop = bf_label_new(b);
	l->fail = bf_label_new(b);
	bf_emit_prologue(b, l->fail);
	bf_comment(b, "(never taken: keeps the exits in the CFG)");
	emit_cfg_edge(b, l->accept);
	emit_cfg_edge(b, l->drop);
}

/* The common tail: verdict exits and the fail-closed path (a tail call that returned, or a map
 * lookup that cannot fail but the verifier wants checked). */
static void emit_prog_tail(struct bf_builder *b, enum bf_prog_ctx pctx, struct prog_labels *l)
{
	bf_label skip = bf_label_new(b);

	bf_label_bind(b, l->accept);
	bf_ct_emit_commit(b); /* a new connection is confirmed when accepted */
	bf_comment(b, "return ACCEPT");
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, bf_verdict_accept(pctx)));
	bf_emit(b, BF_EXIT());

	bf_label_bind(b, l->drop);
	bf_label_bind(b, l->hotdrop);
	bf_comment(b, "return DROP");
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, bf_verdict_drop(pctx)));
	bf_emit(b, BF_EXIT());

	bf_label_bind(b, l->fail);
	bf_comment(b, "tail call failed: errors[0]++, DROP (fail closed)");
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, -8, 0));
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_ERRORS);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, -8));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, skip);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_0, 0));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 1));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_0, BPF_REG_1, 0));
	bf_label_bind(b, skip);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, bf_verdict_drop(pctx)));
	bf_emit(b, BF_EXIT());
}

/* bpf_tail_call(ctx, progs, r3 or imm); falls to `fail` if it returns. */
static void emit_tail_call_imm(struct bf_builder *b, uint32_t region, bf_label fail)
{
	bf_comment(b, "tail call region %u", region);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
	bf_emit_ld_map(b, BPF_REG_2, BF_MAP_PROGS);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_3, (int32_t)region));
	bf_emit(b, BF_CALL(BPF_FUNC_tail_call));
	emit_goto(b, fail);
}

/*
 * Counters live in chunks of BF_CNT_CHUNK entries: the value of slot k of bf_cnt holds entries
 * [k * BF_CNT_CHUNK, (k + 1) * BF_CNT_CHUNK). A region looks a chunk up once, where it starts
 * or where a new chunk begins, and keeps the pointer at fp-88 (below the stack abi.h gives
 * emitters): one helper call per chunk instead of one per entry, because the verifier patches
 * every inlined map lookup in O(program size), which made per-entry lookups quadratic.
 */
static void emit_cnt_chunk(struct bf_builder *b, uint32_t i, bf_label fail)
{
	bf_comment(b, "fp[-88] = &bf_cnt[%u] (entries %u..)", i / BF_CNT_CHUNK,
		   i / BF_CNT_CHUNK * BF_CNT_CHUNK);
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, -8, (int32_t)(i / BF_CNT_CHUNK)));
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_COUNTERS);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, -8));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, fail);
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_0, FP_CNT));
}

/* counters[i].packets += 1; counters[i].bytes += pkt->len (this CPU's copy: plain adds). */
static void emit_count(struct bf_builder *b, uint32_t i)
{
	int16_t off = (int16_t)((i % BF_CNT_CHUNK) * sizeof(struct bf_counter_val));

	bf_comment(b, "counters[%u]: packets++, bytes += pkt->len", i);
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_10, FP_CNT));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_1, off));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 1));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_1, BPF_REG_2, off));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_3, BPF_REG_7, PKT_OFF(len)));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_1, (int16_t)(off + 8)));
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, BPF_REG_3));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_1, BPF_REG_2, (int16_t)(off + 8)));
}

/* RETURN with an empty stack: continue at the underflow of the packet's hook. */
static void emit_underflow(struct cg *c, struct bf_builder *b, uint32_t i, bf_label fail)
{
	const struct bf_table_model *m = c->m;

	bf_comment(b, "stack empty: continue at the hook's underflow");
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(hook)));
	for (unsigned int h = 0; h < BF_HOOK_MAX; h++) {
		bf_label next;

		if (!(m->valid_hooks & (1u << h)) || !(c->reach[i] & (1u << h)))
			continue;
		next = bf_label_new(b);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, (int32_t)h, next);
		emit_tail_call_imm(b, (uint32_t)c->region_at[m->underflow[h]], fail);
		bf_label_bind(b, next);
	}
	emit_goto(b, fail);
}

static int emit_inline(struct cg *c, struct bf_builder *b, enum bf_prog_ctx pctx, uint32_t i,
		       const struct prog_labels *l);

static int emit_target(struct cg *c, struct bf_builder *b, struct bf_emit_ctx *ctx, uint32_t i,
		       const struct prog_labels *l)
{
	const struct bf_table_model *m = c->m;
	const struct bf_entry *e = &m->entries[i];
	uint32_t limit = m->stacksize < BF_JSTACK_MAX ? m->stacksize : BF_JSTACK_MAX;
	bf_label under;

	switch (e->target.kind) {
	case BF_TGT_ACCEPT:
		bf_comment(b, "ACCEPT");
		emit_goto(b, l->accept);
		break;
	case BF_TGT_DROP:
	case BF_TGT_QUEUE: /* no queue listener: nf_queue fails, the kernel drops */
	case BF_TGT_ERROR: /* ipt_error */
		bf_comment(b, "DROP");
		emit_goto(b, l->drop);
		break;
	case BF_TGT_JUMP:
		if (e->target.jump == i + 1) {
			/* The kernel does not push for a jump to the next entry. */
			bf_comment(b, "jump to the next entry: continue");
			bf_emit_ja(b, ctx->cont);
			break;
		}
		if (c->inl[i])
			return emit_inline(c, b, ctx->prog_ctx, i, l);
		/* A deeper stack than the table's stacksize drops, as ipt_do_table does. The
		 * bound also keeps the store inside jstack for the verifier. */
		bf_comment(b, "jump to entry %u: if (pkt->jsp >= %u) DROP", e->target.jump, limit);
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(jsp)));
		bf_emit_jmp_imm(b, BPF_JGE, BPF_REG_1, (int32_t)limit, l->drop);
		bf_comment(b, "pkt->jstack[pkt->jsp++] = region %d", c->region_at[i + 1]);
		bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_1));
		bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_2, 2));
		bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, BPF_REG_7));
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_2, PKT_OFF(jstack), c->region_at[i + 1]));
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 1));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(jsp)));
		emit_tail_call_imm(b, (uint32_t)c->region_at[e->target.jump], l->fail);
		break;
	case BF_TGT_GOTO:
		if (e->target.jump == i + 1) {
			bf_comment(b, "goto the next entry: continue");
			bf_emit_ja(b, ctx->cont);
			break;
		}
		bf_comment(b, "goto entry %u", e->target.jump);
		emit_tail_call_imm(b, (uint32_t)c->region_at[e->target.jump], l->fail);
		break;
	case BF_TGT_RETURN:
		if (c->inl_depth) {
			bf_comment(b, "RETURN from the inlined chain");
			emit_goto(b, c->inl_ret);
			break;
		}
		under = bf_label_new(b);
		bf_comment(b, "RETURN: if (!pkt->jsp) underflow");
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(jsp)));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, under);
		bf_comment(b, "r3 = pkt->jstack[--pkt->jsp]");
		bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, -1));
		bf_emit_jmp_imm(b, BPF_JGE, BPF_REG_1, BF_JSTACK_MAX, l->fail);
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_7, BPF_REG_1, PKT_OFF(jsp)));
		bf_emit(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_1, 2));
		bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_1, BPF_REG_7));
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_3, BPF_REG_1, PKT_OFF(jstack)));
		bf_comment(b, "tail call the return site");
		bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_6));
		bf_emit_ld_map(b, BPF_REG_2, BF_MAP_PROGS);
		bf_emit(b, BF_CALL(BPF_FUNC_tail_call));
		emit_goto(b, l->fail);
		bf_label_bind(b, under);
		emit_underflow(c, b, i, l->fail);
		break;
	case BF_TGT_EXT:
		return e->target.ext->emit(ctx, e->target.data);
	}
	return bf_builder_err(b);
}

static int emit_entry(struct cg *c, struct bf_builder *b, enum bf_prog_ctx pctx, uint32_t i,
		      bf_label next, const struct prog_labels *l)
{
	const struct bf_entry *e = &c->m->entries[i];
	struct bf_emit_ctx ctx = {
		.b = b,
		.family = c->m->family,
		.prog_ctx = pctx,
		.entry = e,
		.miss = next,
		.hotdrop = l->hotdrop,
		.drop = l->drop,
		.accept = l->accept,
		.cont = next,
		.log = c->log,
	};
	int r;

	bf_comment(b, "entry %u", i);
	r = bf_emit_ipmatch(&ctx, e);
	if (r)
		return r;
	for (uint32_t k = 0; k < e->n_matches; k++) {
		r = e->matches[k].ext->emit(&ctx, e->matches[k].data);
		if (r)
			return r;
	}
	emit_count(b, i);
	return emit_target(c, b, &ctx, i, l);
}

static void gen_map_fds(const struct cg *c, enum bf_prog_ctx pctx, int fds[BF_MAP_SLOT_MAX])
{
	bf_runtime_map_fds(c->rt, pctx, fds);
	fds[BF_MAP_COUNTERS] = c->g->cnt_fd;
	fds[BF_MAP_ERRORS] = c->g->err_fd;
	fds[BF_MAP_PROGS] = c->g->progs_fd[pctx];
	fds[BF_MAP_CLASSIFY] = c->g->cls_fd;
	fds[BF_MAP_CLASSIFY_EXACT] = c->g->clsx_fd;
	fds[BF_MAP_CLASSIFY_SHORT] = c->g->clss_fd;
	fds[BF_MAP_CLASSIFY_PORTS] = c->g->clsp_fd;
	fds[BF_MAP_XRULE] = c->g->xrule_fd;
}

static int loader_start(struct cg *c)
{
	cpu_set_t cpus;
	long ncpu = 1;
	struct loader *ld;

	/* The CPUs this process may run on (taskset, cpusets), not all of the machine's. */
	if (!sched_getaffinity(0, sizeof(cpus), &cpus))
		ncpu = CPU_COUNT(&cpus);

	if (ncpu < 2)
		return 0; /* nothing to gain: load one by one */
	ld = calloc(1, sizeof(*ld));
	if (!ld)
		return -ENOMEM;
	pthread_mutex_init(&ld->mu, NULL);
	pthread_cond_init(&ld->work, NULL);
	pthread_cond_init(&ld->done, NULL);
	for (long i = 0; i < ncpu && i < BF_LOAD_THREADS_MAX; i++) {
		if (pthread_create(&ld->th[ld->n_threads], NULL, loader_main, ld))
			break;
		ld->n_threads++;
	}
	if (!ld->n_threads) {
		/* No thread could start: load one by one. */
		pthread_cond_destroy(&ld->work);
		pthread_cond_destroy(&ld->done);
		pthread_mutex_destroy(&ld->mu);
		free(ld);
		return 0;
	}
	c->ld = ld;
	return 0;
}

/* Hand a finished program to the loader threads (which take b). */
static int loader_submit(struct cg *c, struct bf_builder **b, enum bf_prog_ctx pctx,
			 const char *name, int map_fd, uint32_t slot)
{
	struct loader *ld = c->ld;
	int fds[BF_MAP_SLOT_MAX];
	struct load_job *j;
	int r;

	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	gen_map_fds(c, pctx, fds);
	r = bf_builder_finish(*b, fds, &j->insns, &j->n);
	if (r) {
		bf_logf(c->log, BF_LOG_ERR, "%s: cannot build program: %s", name, strerror(-r));
		free(j);
		return r;
	}
	j->b = TAKE_PTR(*b);
	j->pctx = pctx;
	snprintf(j->name, sizeof(j->name), "%s", name);
	j->map_fd = map_fd;
	j->slot = slot;

	pthread_mutex_lock(&ld->mu);
	while (ld->n_jobs - ld->n_done >= 2 * (size_t)ld->n_threads && !ld->failed)
		pthread_cond_wait(&ld->done, &ld->mu);
	if (ld->failed) {
		r = -ECANCELED; /* loader_finish() reports the failure itself */
	} else if (ld->n_jobs == ld->cap_jobs) {
		size_t ncap = ld->cap_jobs ? ld->cap_jobs * 2 : 64;
		struct load_job **p = reallocarray(ld->jobs, ncap, sizeof(*p));

		if (p) {
			ld->jobs = p;
			ld->cap_jobs = ncap;
		} else {
			r = -ENOMEM;
		}
	}
	if (!r) {
		ld->jobs[ld->n_jobs++] = j;
		pthread_cond_signal(&ld->work);
	}
	pthread_mutex_unlock(&ld->mu);
	if (r) {
		bf_builder_free(j->b);
		free(j->insns);
		free(j);
	}
	return r;
}

/* Wait for every submitted program, log the results, free the loader: 0 or the first error. */
static int loader_finish(struct cg *c)
{
	struct loader *ld = c->ld;
	int err = 0;

	if (!ld)
		return 0;
	c->ld = NULL;
	pthread_mutex_lock(&ld->mu);
	ld->stop = true;
	pthread_cond_broadcast(&ld->work);
	pthread_mutex_unlock(&ld->mu);
	for (unsigned int i = 0; i < ld->n_threads; i++)
		pthread_join(ld->th[i], NULL);
	for (size_t k = 0; k < ld->n_jobs; k++) {
		struct load_job *j = ld->jobs[k];

		c->n_progs++;
		c->n_insns += j->n;
		c->n_processed += j->processed;
		c->load_ns += j->ns;
		if (!j->err) {
			bf_logf(c->log, BF_LOG_DEBUG, "%s: %zu insns verified in %.1f ms (%u processed)",
				j->name, j->n, (double)j->ns / 1e6, j->processed);
		} else if (!err) {
			err = j->err;
			if (j->err_insert) {
				bf_logf(c->log, BF_LOG_ERR, "%s: cannot insert in prog array: %s",
					j->name, strerror(-err));
			} else {
				/* Again, alone and with the verifier's log. */
				int fd = bf_prog_load_insns(c->log, j->pctx, j->name, j->insns,
							    j->n);

				if (fd >= 0)
					close(fd);
				bf_builder_dump(j->b, c->log);
			}
		}
		bf_builder_free(j->b);
		free(j->insns);
		free(j);
	}
	free(ld->jobs);
	pthread_cond_destroy(&ld->work);
	pthread_cond_destroy(&ld->done);
	pthread_mutex_destroy(&ld->mu);
	free(ld);
	return err;
}

/* Load a program and put it in slot `slot` of `map_fd`; the prog array keeps it alive. With
 * the loader threads running and no fd to keep, the load is only submitted (*b taken). */
static int load_into(struct cg *c, struct bf_builder **bp, enum bf_prog_ctx pctx, const char *name,
		     int map_fd, uint32_t slot, int *keep_fd)
{
	struct bf_builder *b = *bp;
	int fds[BF_MAP_SLOT_MAX];
	_cleanup_close_ int fd = -1;
	uint64_t t0 = bf_now_ns();
	uint32_t processed = 0;

	if (c->ld && !keep_fd && map_fd >= 0)
		return loader_submit(c, bp, pctx, name, map_fd, slot);
	gen_map_fds(c, pctx, fds);
	c->n_insns += bf_builder_len(b);
	fd = bf_builder_load_counted(b, c->log, pctx, name, fds, &processed);
	c->n_processed += processed;
	c->load_ns += bf_now_ns() - t0;
	c->n_progs++;
	if (fd < 0)
		return fd;
	if (map_fd >= 0 && bpf_map_update_elem(map_fd, &slot, &fd, BPF_ANY)) {
		int err = -errno;

		bf_logf(c->log, BF_LOG_ERR, "%s: cannot insert in prog array: %s", name,
			strerror(-err));
		return err;
	}
	if (keep_fd)
		*keep_fd = TAKE_FD(fd);
	return 0;
}

/*
 * Emit entry *ip, or the classified run (segment) that starts there, with *ip left on its last
 * entry; `weight` grows by its cost against the region limit. Code only jumps forward, to the
 * next entry or out of the program, so the counters' chunk pointer set for an entry holds for
 * the following ones until `need_chunk` says otherwise.
 */
static int emit_seq(struct cg *c, struct bf_builder *b, enum bf_prog_ctx pctx, uint32_t *ip,
		    const struct prog_labels *l, bool *need_chunk, size_t *weight)
{
	const struct bf_table_model *m = c->m;
	uint32_t i = *ip, run_end = bf_classify_run_end(c->cls, i);
	bf_label next = bf_label_new(b);
	size_t at = bf_builder_len(b);
	int err;

	if (run_end) {
		/* A classified run counts by index (its own chunk lookup), so the chunk pointer is
		 * set again after it. */
		struct bf_classify_labels cl = {
			.accept = l->accept,
			.drop = l->drop,
			.hotdrop = l->hotdrop,
			.fail = l->fail,
			.next = next,
		};

		err = bf_classify_emit_run(c->cls, b, pctx, i, &cl);
		*weight += (bf_builder_len(b) - at) / 4;
		if (!err)
			err = bf_builder_err(b);
		if (err) {
			bf_logf(c->log, BF_LOG_ERR, "gen: cannot compile entries %u..%u: %s", i,
				run_end - 1, strerror(-err));
			return err;
		}
		bf_label_bind(b, next);
		*need_chunk = true;
		*ip = run_end - 1;
		return 0;
	}
	if (*need_chunk || !(i % BF_CNT_CHUNK))
		emit_cnt_chunk(b, i, l->fail);
	*need_chunk = false;
	c->inl_chunk = false;
	err = emit_entry(c, b, pctx, i, next, l);
	*weight += bf_builder_len(b) - at;
	for (uint32_t k = 0; k < m->entries[i].n_matches; k++)
		*weight += m->entries[i].matches[k].ext->region_weight;
	if (!err)
		err = bf_builder_err(b);
	if (err) {
		bf_logf(c->log, BF_LOG_ERR, "gen: cannot compile entry %u: %s", i, strerror(-err));
		return err;
	}
	bf_label_bind(b, next);
	/* The way back from an inlined chain meets the caller's miss path here. */
	if (c->inl_chunk)
		*need_chunk = true;
	c->inl_chunk = false;
	return 0;
}

/*
 * The chain entry i jumps to, compiled inline (compute_inline): its entries in order, its
 * RETURNs a branch to the end of its code, where the caller's next entry follows, as the
 * kernel's RETURN pops back to it. No jump stack push: nothing can RETURN past it.
 */
static int emit_inline(struct cg *c, struct bf_builder *b, enum bf_prog_ctx pctx, uint32_t i,
		       const struct prog_labels *l)
{
	uint32_t first = c->m->entries[i].target.jump, end = c->inl_end[first];
	bf_label saved = c->inl_ret;
	bool need_chunk = true;
	size_t weight = 0;
	int err = 0;

	bf_comment(b, "jump to entry %u: its chain inline (entries %u..%u)", first, first, end - 1);
	c->inl_ret = bf_label_new(b);
	c->inl_depth++;
	for (uint32_t j = first; j < end && !err; j++)
		err = emit_seq(c, b, pctx, &j, l, &need_chunk, &weight);
	c->inl_depth--;
	bf_label_bind(b, c->inl_ret);
	c->inl_ret = saved;
	c->inl_chunk = true;
	return err ? err : bf_builder_err(b);
}

/*
 * After classification: a push jump to a chain that jumps nowhere (no jump, no goto), ends in an
 * unconditional RETURN and is entered from nowhere else, whose code is at most
 * BF_INLINE_MAX_INSNS long (emitted once into a scratch builder to know), is compiled inline too,
 * and the regions are laid out again. Classification does not depend on it: the chain's runs
 * start after its ERROR head either way, and a run of the caller may keep the jump as a hole,
 * because a chain without jumps has no run with holes to overwrite the result the run keeps at
 * this jump stack depth.
 */
static int inline_classified(struct cg *c)
{
	const struct bf_table_model *m = c->m;
	const uint32_t *refs = c->refs;
	uint32_t n = m->n_entries, added = 0;
	int err = 0;

	for (uint32_t i = 0; i < n && !err; i++) {
		const struct bf_entry *e = &m->entries[i];
		uint32_t first = e->target.jump, end;
		struct bf_builder *b = NULL;
		struct prog_labels l;
		bool need_chunk = true, ok = true;
		size_t weight = 0, len;

		if (!is_push_jump(e) || c->inl[i] || first == 0 || refs[first] != 1 ||
		    m->entries[first - 1].target.kind != BF_TGT_ERROR)
			continue;
		end = chain_end(m, first);
		for (uint32_t j = first; j < end; j++) {
			const struct bf_entry *f = &m->entries[j];

			if ((j > first && refs[j]) ||
			    ((f->target.kind == BF_TGT_JUMP || f->target.kind == BF_TGT_GOTO) &&
			     f->target.jump != j + 1))
				ok = false;
		}
		if (!ok || end == first || end >= n ||
		    m->entries[end - 1].target.kind != BF_TGT_RETURN || may_continue(m, end - 1))
			continue;
		err = bf_builder_new(&b, c->log);
		if (err)
			break;
		begin_prog(b, &l);
		c->inl_ret = bf_label_new(b);
		c->inl_depth++;
		for (uint32_t j = first; j < end && !err; j++)
			err = emit_seq(c, b, BF_CTX_TC, &j, &l, &need_chunk, &weight);
		c->inl_depth--;
		c->inl_ret = (bf_label){0}; /* the scratch builder's label */
		len = bf_builder_len(b);
		bf_builder_free(b);
		if (err)
			break;
		if (len > BF_INLINE_MAX_INSNS)
			continue;
		c->inl[i] = 1;
		c->inl_end[first] = end;
		c->n_inl++;
		added++;
	}
	if (err || !added)
		return err;
	free(c->region_at);
	free(c->region_first);
	c->region_at = NULL;
	c->region_first = NULL;
	c->n_regions = 0;
	return compute_regions(c);
}

/*
 * Build and load region r for one program context. With `split`, a region whose code grows past
 * BF_REGION_MAX_INSNS ends early and the rest becomes a new region (the TC pass decides; the XDP
 * pass reuses the same regions).
 */
static int emit_region(struct cg *c, enum bf_prog_ctx pctx, uint32_t r, bool split)
{
	const struct bf_table_model *m = c->m;
	struct bf_builder *b = NULL;
	struct prog_labels l;
	uint32_t first = c->region_first[r], end = region_end(c, r), i, slot = 0;
	char name[BPF_OBJ_NAME_LEN];
	bool need_chunk = true;
	size_t weight = 0;
	const char *chain;
	int err;

	err = bf_builder_new(&b, c->log);
	if (err)
		return err;
	begin_prog(b, &l);

	for (i = first; i < end; i++) {
		err = emit_seq(c, b, pctx, &i, &l, &need_chunk, &weight);
		if (err)
			goto out;
		if (split && i + 1 < end &&
		    (weight >= c->cap || bf_builder_len(b) >= BF_REGION_MAX_INSNS_HARD)) {
			add_region(c, i + 1);
			i++;
			break;
		}
	}
	/* Falling off the region's last entry: continue in the region that follows. */
	if (i < m->n_entries)
		emit_tail_call_imm(b, (uint32_t)c->region_at[i], l.fail);
	else
		emit_goto(b, l.drop); /* past the table's end: cannot happen with a valid blob */
	emit_prog_tail(b, pctx, &l);
	if (c->dry) {
		err = bf_builder_err(b);
		goto out;
	}

	chain = chain_of(c, first, &slot);
	bf_obj_name(name, "bf_%.8s_%u", chain, c->chain_regions[slot]++);
	err = load_into(c, &b, pctx, name, c->g->progs_fd[pctx], r, NULL);
out:
	bf_builder_free(b);
	return err;
}

/* The entry program of one context: dispatch on pkt->hook to the hook's first region. */
static int emit_entry_prog(struct cg *c, enum bf_prog_ctx pctx)
{
	const struct bf_table_model *m = c->m;
	struct bf_builder *b = NULL;
	struct prog_labels l;
	int err;

	err = bf_builder_new(&b, c->log);
	if (err)
		return err;
	begin_prog(b, &l);
	bf_comment(b, "pkt->jsp = 0");
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_7, PKT_OFF(jsp), 0));
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(hook)));
	for (unsigned int h = 0; h < BF_HOOK_MAX; h++) {
		bf_label next;

		if (!(m->valid_hooks & (1u << h)))
			continue;
		/* At XDP only INPUT runs. */
		if (pctx == BF_CTX_XDP && h != NF_INET_LOCAL_IN)
			continue;
		next = bf_label_new(b);
		bf_comment(b, "if (pkt->hook == %s)", hook_names[h]);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, (int32_t)h, next);
		emit_tail_call_imm(b, (uint32_t)c->region_at[m->hook_entry[h]], l.fail);
		bf_label_bind(b, next);
	}
	/* A hook this table does not have: the kernel's table is not registered there. */
	emit_goto(b, l.accept);
	emit_prog_tail(b, pctx, &l);
	err = load_into(c, &b, pctx, pctx == BF_CTX_XDP ? "bf_entry_xdp" : "bf_entry", -1, 0,
			&c->g->entry_fd[pctx]);
	bf_builder_free(b);
	return err;
}

/*
 * The most tail calls from the start of region r until its chain level returns or decides,
 * with the jump stack empty (`empty`) or not. Saturates at `cap`: past it the exact number does
 * not matter. The entry graph has no loops (the kernel's mark_source_chains refuses them); a
 * loop here would only stop the walk (`busy`).
 */
struct budget {
	struct cg *c;
	uint8_t *memo_set, *busy;
	uint8_t *memo;
	unsigned int cap;
};

static unsigned int cost(struct budget *bd, uint32_t r, bool empty, unsigned int depth);

static unsigned int sat(struct budget *bd, unsigned int v)
{
	return v > bd->cap ? bd->cap : v;
}

static unsigned int cost_uncached(struct budget *bd, uint32_t r, bool empty, unsigned int depth)
{
	struct cg *c = bd->c;
	const struct bf_table_model *m = c->m;
	uint32_t end = region_end(c, r);
	unsigned int best = 0, v;

	for (uint32_t i = c->region_first[r]; i < end; i++) {
		const struct bf_entry *e = &m->entries[i];

		v = 0;
		if (c->inl[i]) {
			/* compiled inline: no tail call, and no goto nor jump but inline ones */
		} else if (is_push_jump(e)) {
			v = 1 + cost(bd, region_of(c, e->target.jump), false, depth + 1);
			if (i + 1 < m->n_entries)
				v += cost(bd, region_of(c, i + 1), empty, depth + v);
		} else if (e->target.kind == BF_TGT_GOTO) {
			v = 1 + cost(bd, region_of(c, e->target.jump), empty, depth + 1);
		} else if (e->target.kind == BF_TGT_RETURN) {
			v = 1;
			if (empty) {
				for (unsigned int h = 0; h < BF_HOOK_MAX; h++) {
					unsigned int u;

					if (!(m->valid_hooks & (1u << h)) ||
					    !(c->reach[i] & (1u << h)))
						continue;
					u = 1 + cost(bd, region_of(c, m->underflow[h]), true,
						     depth + 1);
					v = u > v ? u : v;
				}
			}
		}
		best = sat(bd, v > best ? v : best);
	}
	if (end < m->n_entries && may_continue(m, end - 1)) {
		v = 1 + cost(bd, region_of(c, end), empty, depth + 1);
		best = sat(bd, v > best ? v : best);
	}
	return best;
}

static unsigned int cost(struct budget *bd, uint32_t r, bool empty, unsigned int depth)
{
	size_t k = (size_t)r * 2 + empty;
	unsigned int v;

	if (bd->memo_set[k])
		return bd->memo[k];
	if (bd->busy[k])
		return 0; /* a loop: cannot happen with a validated table */
	if (depth > bd->cap)
		return bd->cap; /* this path is already over budget */
	bd->busy[k] = 1;
	v = cost_uncached(bd, r, empty, depth);
	bd->busy[k] = 0;
	bd->memo[k] = (uint8_t)v;
	bd->memo_set[k] = 1;
	return v;
}

/* The most tail calls a packet of any hook may need (saturated at 64). Logs a warning for a
 * hook over the kernel's limit when `warn`. */
static int check_budget(struct cg *c, bool warn, unsigned int *worst)
{
	const struct bf_table_model *m = c->m;
	size_t n = (size_t)c->n_regions * 2;
	_cleanup_free_ uint8_t *memo = calloc(n, 1);
	_cleanup_free_ uint8_t *memo_set = calloc(n, 1);
	_cleanup_free_ uint8_t *busy = calloc(n, 1);
	struct budget bd = {.c = c, .memo = memo, .memo_set = memo_set, .busy = busy, .cap = 64};

	if (!memo || !memo_set || !busy)
		return -ENOMEM;
	*worst = 0;
	for (unsigned int h = 0; h < BF_HOOK_MAX; h++) {
		unsigned int v;

		if (!(m->valid_hooks & (1u << h)))
			continue;
		v = BF_TAIL_CALLS_BEFORE + cost(&bd, region_of(c, m->hook_entry[h]), true, 0);
		*worst = v > *worst ? v : *worst;
		if (warn && v > BF_TAIL_CALL_MAX)
			bf_logf(c->log, BF_LOG_WARN,
				"%s: a packet may need %s%u tail calls in %s (the kernel allows "
				"%u): "
				"such packets are dropped and counted as errors",
				m->name, v >= bd.cap ? ">= " : "", v, hook_names[h],
				BF_TAIL_CALL_MAX);
	}
	return 0;
}

/* Forget the regions that splitting added (the static ones are the first n_static). */
static void reset_splits(struct cg *c, uint32_t n_static)
{
	for (uint32_t r = n_static; r < c->n_regions; r++)
		c->region_at[c->region_first[r]] = -1;
	c->n_regions = n_static;
}

/*
 * Choose the regions' size limit (c->cap) and, with a smaller one than BF_REGION_MAX_INSNS, the
 * layout: the TC pass is built without loading for each smaller limit in turn, and the first
 * layout whose longest path fits in the tail-call budget is kept (*fixed = true, regions
 * recorded). Otherwise the usual limit, and the real pass splits as it goes.
 */
static int choose_layout(struct cg *c, bool *fixed)
{
	uint32_t n_static = c->n_regions, n_cls = 0, n_runs = 0, n_tries = 0, n_reused = 0;
	int err = 0;

	*fixed = false;
	c->cap = BF_REGION_MAX_INSNS;
	bf_classify_stats(c->cls, &n_cls, &n_runs, &n_tries, &n_reused);
	if (c->m->n_entries - n_cls < BF_REGION_SMALL_MIN_LINEAR)
		return 0;
	for (size_t k = 0; k < BF_ARRAY_SIZE(bf_region_small_caps) && !err; k++) {
		unsigned int worst = 0;

		c->cap = bf_region_small_caps[k];
		c->dry = true;
		for (uint32_t r = 0; r < c->n_regions && !err; r++)
			err = emit_region(c, BF_CTX_TC, r, true);
		c->dry = false;
		if (!err)
			err = check_budget(c, false, &worst);
		if (!err && worst <= BF_TAIL_CALL_MAX) {
			bf_logf(c->log, BF_LOG_DEBUG,
				"%s: regions of at most %u insns: %u regions, at most %u tail "
				"calls",
				c->m->name, c->cap, c->n_regions, worst);
			*fixed = true;
			return 0;
		}
		reset_splits(c, n_static);
	}
	c->cap = BF_REGION_MAX_INSNS;
	return err;
}

static void cg_clear(struct cg *c)
{
	free(c->inl);
	free(c->inl_end);
	free(c->refs);
	free(c->region_at);
	free(c->region_first);
	free(c->reach);
	free(c->chain_regions);
	bf_classify_free(c->cls);
}

static int gen_maps(struct cg *c, bool xdp)
{
	const struct bf_table_model *m = c->m;
	struct bf_gen *g = c->g;

	g->cnt_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "bf_cnt", sizeof(uint32_t),
				   sizeof(struct bf_counter_val) * BF_CNT_CHUNK,
				   (m->n_entries + BF_CNT_CHUNK - 1) / BF_CNT_CHUNK, NULL);
	if (g->cnt_fd < 0)
		return -errno;
	g->err_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "bf_err", sizeof(uint32_t),
				   sizeof(uint64_t), 1, NULL);
	if (g->err_fd < 0)
		return -errno;
	/* Stateful matches' state is per generation, as checkentry allocates it per replace. */
	{
		int r = bf_xrule_create(m, c->log, &g->xrule_fd);

		if (r)
			return r;
	}
	/* At most one region per entry. */
	g->progs_fd[BF_CTX_TC] =
		bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, "bf_progs", sizeof(uint32_t),
			       sizeof(uint32_t), m->n_entries, NULL);
	if (g->progs_fd[BF_CTX_TC] < 0)
		return -errno;
	if (xdp) {
		g->progs_fd[BF_CTX_XDP] =
			bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, "bf_progs_xdp", sizeof(uint32_t),
				       sizeof(uint32_t), m->n_entries, NULL);
		if (g->progs_fd[BF_CTX_XDP] < 0)
			return -errno;
	}
	return 0;
}

static int gen_compile(struct cg *c, bool xdp)
{
	unsigned int worst = 0;
	bool fixed = false;
	uint64_t t0 = bf_now_ns();
	int err;

	err = gen_maps(c, xdp);
	c->maps_ns = bf_now_ns() - t0;
	if (err) {
		bf_logf(c->log, BF_LOG_ERR, "gen: cannot create maps: %s", strerror(-err));
		return err;
	}
	err = compute_reach(c);
	if (!err)
		err = compute_inline(c);
	if (!err)
		err = compute_regions(c);
	if (!err) {
		t0 = bf_now_ns();
		err = bf_classify_new(c->m, c->region_at, c->inl, c->log, &c->cls);
		c->cls_ns = bf_now_ns() - t0;
	}
	if (!err)
		err = inline_classified(c);
	if (err)
		return err;
	if (bf_classify_map_fd(c->cls) >= 0) {
		c->g->cls_fd = fcntl(bf_classify_map_fd(c->cls), F_DUPFD_CLOEXEC, 3);
		if (c->g->cls_fd < 0)
			return -errno;
	}
	if (bf_classify_short_fd(c->cls) >= 0) {
		c->g->clss_fd = fcntl(bf_classify_short_fd(c->cls), F_DUPFD_CLOEXEC, 3);
		if (c->g->clss_fd < 0)
			return -errno;
	}
	if (bf_classify_ports_fd(c->cls) >= 0) {
		c->g->clsp_fd = fcntl(bf_classify_ports_fd(c->cls), F_DUPFD_CLOEXEC, 3);
		if (c->g->clsp_fd < 0)
			return -errno;
	}
	if (bf_classify_exact_fd(c->cls) >= 0) {
		c->g->clsx_fd = fcntl(bf_classify_exact_fd(c->cls), F_DUPFD_CLOEXEC, 3);
		if (c->g->clsx_fd < 0)
			return -errno;
	}
	c->chain_regions = calloc(BF_HOOK_MAX + c->m->n_chains + 1, sizeof(uint32_t));
	if (!c->chain_regions)
		return -ENOMEM;
	t0 = bf_now_ns();
	err = choose_layout(c, &fixed);
	if (!err)
		err = loader_start(c);
	if (err)
		return err;
	/* n_regions grows while the TC pass splits long regions (unless the layout is fixed). */
	for (uint32_t r = 0; r < c->n_regions && !err; r++)
		err = emit_region(c, BF_CTX_TC, r, !fixed);
	if (xdp && !err) {
		memset(c->chain_regions, 0, (BF_HOOK_MAX + c->m->n_chains + 1) * sizeof(uint32_t));
		for (uint32_t r = 0; r < c->n_regions && !err; r++) {
			/* Only what INPUT can reach runs at XDP. */
			if (!(c->reach[c->region_first[r]] & (1u << NF_INET_LOCAL_IN)))
				continue;
			err = emit_region(c, BF_CTX_XDP, r, false);
		}
	}
	/* Every region program is in its prog array before the entry programs exist. */
	{
		int lerr = loader_finish(c);

		if (lerr && (!err || err == -ECANCELED))
			err = lerr;
	}
	c->regions_ns = bf_now_ns() - t0;
	if (!err)
		err = bf_classify_finish(c->cls, c->log);
	if (err)
		return err;
	err = emit_entry_prog(c, BF_CTX_TC);
	if (!err && xdp)
		err = emit_entry_prog(c, BF_CTX_XDP);
	if (!err)
		err = check_budget(c, true, &worst);
	return err;
}

/* A rule with an extension that takes the family's conntrack (struct bf_ext.conntrack). */
static bool model_needs_conntrack(const struct bf_table_model *m)
{
	for (uint32_t i = 0; i < m->n_entries; i++)
		for (uint32_t j = 0; j < m->entries[i].n_matches; j++)
			if (m->entries[i].matches[j].ext->conntrack)
				return true;
	return false;
}

int bf_gen_load(struct bf_runtime *rt, const struct bf_table_model *m,
		const struct bf_gen_opts *opts, struct bf_gen **out)
{
	bool xdp = opts && opts->xdp_input && (m->valid_hooks & (1u << NF_INET_LOCAL_IN));
	struct cg c = {.rt = rt, .m = m, .log = rt->log};
	struct bf_gen *g;
	uint64_t t0;
	int err;

	err = check_model(m, rt->log);
	if (err)
		return err;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->log = rt->log;
	g->n_entries = m->n_entries;
	g->family = m->family;
	g->track = model_needs_conntrack(m);
	g->cnt_fd = g->err_fd = g->cls_fd = g->xrule_fd = -1;
	g->clsx_fd = g->clss_fd = g->clsp_fd = -1;
	g->progs_fd[0] = g->progs_fd[1] = g->entry_fd[0] = g->entry_fd[1] = -1;
	c.g = g;

	/* recent_mt_check: find or create the named tables before anything uses them. */
	err = bf_recent_acquire(&rt->recent, m, rt->log, &g->recent_ids, &g->n_recent);
	if (!err)
		g->recent = &rt->recent;
	/* hashlimit_mt_check: the same for hashlimit's tables (htable_find_get / htable_create) */
	if (!err)
		err = bf_hl_acquire(&rt->hl, m, rt->log, &g->hl_ids, &g->n_hl);
	if (!err)
		g->hl = &rt->hl;
	t0 = bf_now_ns();
	if (!err)
		err = gen_compile(&c, xdp);
	if (!err) {
		uint32_t n_cls = 0, n_runs = 0, n_tries = 0, n_reused = 0;

		bf_classify_stats(c.cls, &n_cls, &n_runs, &n_tries, &n_reused);
		bf_logf(rt->log, BF_LOG_DEBUG,
			"%s: %u entries in %u regions, %u of them in %u classified runs (%u tries, "
			"%u reused), %u chains inline%s",
			m->name, m->n_entries, c.n_regions, n_cls, n_runs, n_tries, n_reused,
			c.n_inl, xdp ? " (INPUT also at XDP)" : "");
		bf_logf(rt->log, BF_LOG_DEBUG,
			"%s: compiled in %.1f ms: maps %.1f ms, classifier %.1f ms, regions %.1f "
			"ms "
			"(wall), %u programs, %zu insns (%" PRIu64 " processed by the verifier), "
			"%.1f ms of it loading (verifier)",
			m->name, (double)(bf_now_ns() - t0) / 1e6, (double)c.maps_ns / 1e6,
			(double)c.cls_ns / 1e6, (double)c.regions_ns / 1e6, c.n_progs, c.n_insns,
			c.n_processed, (double)c.load_ns / 1e6);
	}
	cg_clear(&c);
	if (err) {
		bf_gen_free(g);
		return err;
	}
	*out = g;
	return 0;
}

/* Point root slot k of one context at prog_fd (or empty it with -1). */
static int set_root(int root_fd, uint32_t k, int prog_fd)
{

	if (prog_fd < 0) {
		if (bpf_map_delete_elem(root_fd, &k) && errno != ENOENT)
			return -errno;
		return 0;
	}
	if (bpf_map_update_elem(root_fd, &k, &prog_fd, BPF_ANY))
		return -errno;
	return 0;
}

/*
 * Turn tracking of one family on or off (struct bf_cfg). Only the daemon writes bf_cfg, one
 * thread at a time: read, change the bit, write back.
 */
static int set_tracking(struct bf_runtime *rt, uint32_t slot, bool on, bool *changed)
{
	struct bf_cfg cfg;
	uint32_t k = 0, bit = 1u << slot;

	*changed = false;
	if (bpf_map_lookup_elem(rt->cfg_fd, &k, &cfg))
		return -errno;
	if (!!(cfg.track & bit) == on)
		return 0;
	if (on) {
		uint32_t n = 0;
		int r = bf_ct_fixup_tcp(rt->ct_fd, slot == BF_ROOT_SLOT_IPV6, &n);

		if (r)
			return r;
		if (n)
			bf_logf(rt->log, BF_LOG_DEBUG,
				"gen: %u established TCP connections learn their windows again", n);
	}
	cfg.track = on ? cfg.track | bit : cfg.track & ~bit;
	if (bpf_map_update_elem(rt->cfg_fd, &k, &cfg, BPF_ANY))
		return -errno;
	*changed = true;
	bf_logf(rt->log, BF_LOG_DEBUG, "gen: connection tracking of IPv%c %s", slot ? '6' : '4',
		on ? "on" : "off");
	return 0;
}

int bf_gen_activate(struct bf_runtime *rt, struct bf_gen *g)
{
	_cleanup_close_ int dup_tc = -1;
	_cleanup_close_ int dup_xdp = -1;
	uint32_t slot = g->family == NFPROTO_IPV6 ? BF_ROOT_SLOT_IPV6 : BF_ROOT_SLOT_IPV4;
	int *active = g->family == NFPROTO_IPV6 ? rt->active6_fd : rt->active_fd;
	uint64_t t0 = bf_now_ns(), t1;
	bool changed;
	int err;

	/*
	 * A generation that reads connections is switched in only once every packet that can reach
	 * it has been through the tracker: tracking on, then wait for the runs that started before
	 * (they may have read "off"). The reverse order when tracking stops: switch, then off.
	 */
	if (g->track) {
		err = set_tracking(rt, slot, true, &changed);
		if (!err && changed)
			err = bf_runtime_quiesce(rt);
		if (err) {
			bf_logf(rt->log, BF_LOG_ERR, "gen: cannot turn connection tracking on: %s",
				strerror(-err));
			return err;
		}
	}
	dup_tc = fcntl(g->entry_fd[BF_CTX_TC], F_DUPFD_CLOEXEC, 3);
	if (dup_tc < 0)
		return -errno;
	if (g->entry_fd[BF_CTX_XDP] >= 0) {
		dup_xdp = fcntl(g->entry_fd[BF_CTX_XDP], F_DUPFD_CLOEXEC, 3);
		if (dup_xdp < 0)
			return -errno;
	}
	/* XDP first: if TC then fails, the XDP slot is put back as it was. */
	err = set_root(rt->root_xdp_fd, slot, g->entry_fd[BF_CTX_XDP]);
	if (err) {
		bf_logf(rt->log, BF_LOG_ERR, "gen: cannot switch the XDP root: %s", strerror(-err));
		return err;
	}
	err = set_root(rt->root_fd, slot, g->entry_fd[BF_CTX_TC]);
	if (err) {
		bf_logf(rt->log, BF_LOG_ERR, "gen: cannot switch the TC root: %s", strerror(-err));
		set_root(rt->root_xdp_fd, slot, active[BF_CTX_XDP]);
		return err;
	}
	gen_closefd(&active[BF_CTX_TC]);
	gen_closefd(&active[BF_CTX_XDP]);
	active[BF_CTX_TC] = TAKE_FD(dup_tc);
	active[BF_CTX_XDP] = TAKE_FD(dup_xdp);
	/* Now wait until no packet runs the previous generation (runtime.c). */
	t1 = bf_now_ns();
	err = bf_runtime_quiesce(rt);
	if (err)
		bf_logf(rt->log, BF_LOG_ERR,
			"gen: switched, but cannot wait for the previous generation: %s",
			strerror(-err));
	else
		bf_logf(rt->log, BF_LOG_DEBUG, "gen: switched in %.1f ms, quiescent after %.2f ms",
			(double)(t1 - t0) / 1e6, (double)(bf_now_ns() - t1) / 1e6);
	if (!g->track) {
		/* Not an error of the switch: tracking on costs time per packet, nothing else. */
		int r = set_tracking(rt, slot, false, &changed);

		if (r)
			bf_logf(rt->log, BF_LOG_WARN,
				"gen: cannot turn connection tracking off: %s", strerror(-r));
	}
	return err;
}

/* Sum one per-CPU value array of `ncpu` copies of `nwords` u64 into out. */
static void sum_percpu(const uint64_t *v, int ncpu, unsigned int nwords, uint64_t *out)
{
	for (unsigned int w = 0; w < nwords; w++)
		out[w] = 0;
	for (int cpu = 0; cpu < ncpu; cpu++)
		for (unsigned int w = 0; w < nwords; w++)
			out[w] += v[(size_t)cpu * nwords + w];
}

int bf_gen_read_counters(const struct bf_gen *g, uint32_t n, struct xt_counters *out)
{
	const size_t words = BF_CNT_CHUNK * 2; /* u64 per CPU copy of one chunk */
	int ncpu = libbpf_num_possible_cpus();
	_cleanup_free_ uint64_t *vals = NULL;
	_cleanup_free_ struct xt_counters *tmp = NULL;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	if (n > g->n_entries)
		return -EINVAL;
	if (!n)
		return 0;
	vals = malloc(sizeof(uint64_t) * words * (size_t)ncpu);
	tmp = calloc(n, sizeof(*tmp));
	if (!vals || !tmp)
		return -ENOMEM;
	for (uint32_t k = 0; k * BF_CNT_CHUNK < n; k++) {
		uint32_t base = k * BF_CNT_CHUNK;

		if (bpf_map_lookup_elem(g->cnt_fd, &k, vals))
			return -errno;
		for (int cpu = 0; cpu < ncpu; cpu++) {
			const uint64_t *v = vals + (size_t)cpu * words;

			for (uint32_t j = 0; j < BF_CNT_CHUNK && base + j < n; j++) {
				tmp[base + j].pcnt += v[2 * j];
				tmp[base + j].bcnt += v[2 * j + 1];
			}
		}
	}
	memcpy(out, tmp, sizeof(*tmp) * n);
	return 0;
}

int bf_gen_read_errors(const struct bf_gen *g, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	_cleanup_free_ uint64_t *vals = NULL;
	uint32_t k = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = malloc(sizeof(uint64_t) * (size_t)ncpu);
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(g->err_fd, &k, vals))
		return -errno;
	sum_percpu(vals, ncpu, 1, out);
	return 0;
}

/*
 * Persistence (doc/design.md, "Persistence"): a generation's objects pinned in a directory of
 * its own, so that it keeps filtering and counting without the daemon. The prog arrays must be
 * pinned (the kernel clears a PROG_ARRAY when its last user reference goes); the counters and
 * the entry programs are pinned so that a restarted daemon can read the final counters and tell
 * whether a root slot still runs this generation.
 */
int bf_gen_pin(const struct bf_gen *g, const char *dir)
{
	const struct {
		const char *name;
		int fd;
	} objs[] = {
		{"progs", g->progs_fd[BF_CTX_TC]},
		{"progs_xdp", g->progs_fd[BF_CTX_XDP]},
		{"cnt", g->cnt_fd},
		{"err", g->err_fd},
		{"entry", g->entry_fd[BF_CTX_TC]},
		{"entry_xdp", g->entry_fd[BF_CTX_XDP]},
	};
	uint64_t t0 = bf_now_ns();
	int r;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	for (size_t i = 0; i < BF_ARRAY_SIZE(objs); i++) {
		if (objs[i].fd < 0)
			continue;
		r = bf_pin_obj(objs[i].fd, dir, objs[i].name);
		if (r) {
			bf_logf(g->log, BF_LOG_ERR, "cannot pin %s/%s: %s", dir, objs[i].name,
				strerror(-r));
			return r;
		}
	}
	bf_logf(g->log, BF_LOG_DEBUG, "gen: pinned in %.1f ms", (double)(bf_now_ns() - t0) / 1e6);
	return 0;
}

int bf_gen_unpin(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) && errno != ENOENT && !r)
			r = -errno;
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT && !r)
		r = -errno;
	return r;
}

int bf_gen_read_pinned_counters(const char *dir, uint32_t n, struct xt_counters *out)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	struct bf_gen g = {.cnt_fd = -1};
	char path[PATH_MAX];
	int r;

	if (snprintf(path, sizeof(path), "%s/cnt", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	g.cnt_fd = bpf_obj_get(path);
	if (g.cnt_fd < 0)
		return -errno;
	r = bpf_obj_get_info_by_fd(g.cnt_fd, &info, &len) ? -errno : 0;
	if (!r && (info.type != BPF_MAP_TYPE_PERCPU_ARRAY ||
		   info.value_size != sizeof(struct bf_counter_val) * BF_CNT_CHUNK))
		r = -EINVAL; /* another layout: not ours to read */
	if (!r) {
		g.n_entries = info.max_entries * BF_CNT_CHUNK;
		r = bf_gen_read_counters(&g, n, out);
	}
	close(g.cnt_fd);
	return r;
}

int bf_gen_pinned_entry_ids(const char *dir, uint32_t ids[2])
{
	static const char *const names[2] = {"entry", "entry_xdp"};

	for (int i = 0; i < 2; i++) {
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info);
		char path[PATH_MAX];
		_cleanup_close_ int fd = -1;

		ids[i] = 0;
		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path))
			return -ENAMETOOLONG;
		fd = bpf_obj_get(path);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			return -errno;
		ids[i] = info.id;
	}
	return 0;
}
