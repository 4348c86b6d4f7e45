/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to the code generator's core (runtime.c, gen.c, dispatch.c, load.c): the runtime's
 * layout, program loading, and the emit helpers every generated program shares. Not part of the
 * interface to the daemon (codegen.h).
 */
#ifndef BF_CG_PRIV_H
#define BF_CG_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>

#include "abi.h"
#include "builder.h"
#include "codegen.h"
#include "ext.h"
#include "extstate.h"
#include "log.h"

struct bpf_prog_load_opts;

struct bf_runtime {
	const struct bf_log *log;
	int ctx_fd;	 /* bf_ctx: PERCPU_ARRAY, 1 x struct bf_pkt */
	int root_fd;	 /* bf_root: PROG_ARRAY (TC), slot 0 = the active generation's entry */
	int root_xdp_fd; /* bf_root_xdp: PROG_ARRAY (XDP) */
	int ifname_fd;	 /* bf_ifname: HASH ifindex -> char[16] */
	int lroute_fd;	 /* bf_lroute: LPM_TRIE of local/broadcast IPv4 destinations */
	int lroute6_fd;	 /* bf_lroute6: LPM_TRIE of local/anycast IPv6 destinations */
	int sync_fd;	 /* bf_sync: ARRAY_OF_MAPS, updated only to wait for an RCU grace period */
	int sync_inner_fd; /* the one inner map bf_sync holds */
	int ct_fd;	   /* bf_ct: LRU_HASH of connections (ct.c), kept across generations */
	int cfg_fd; /* bf_cfg: ARRAY, 1 x struct bf_cfg (abi.h): which families are tracked */
	/* Duplicates of the entry programs currently in the root slots (-1: none), so a failed
	 * activation can put back what was there. */
	int active_fd[2];
	int active6_fd[2]; /* the same for the IPv6 root slot (BF_ROOT_SLOT_IPV6) */
	/* Targets (codegen/target/targets.h): REJECT's program, LOG's ring buffer. */
	int rej_progs_fd; /* bf_rej_progs: PROG_ARRAY, slot 0 = the reject program */
	int log_rb_fd;	  /* bf_log_rb: RINGBUF of struct bf_log_rec */
	int log_drops_fd; /* bf_log_drops: PERCPU_ARRAY, records lost to a full ring buffer */
	/* addrtype (codegen.h, struct bf_rtype): LPM tries of the local and main routing tables */
	int rtype_fd;
	int rtype6_fd;
	/* recent's named tables (extstate.h): maps and the generations' references */
	struct bf_recent_reg recent;
	/* hashlimit's named tables (extstate.h) */
	struct bf_hl_reg hl;
};

/* Slots of the root prog arrays: one entry program per family's table. */
#define BF_ROOT_SLOT_IPV4 0
#define BF_ROOT_SLOT_IPV6 1
#define BF_ROOT_SLOTS 2

/* Key of bf_lroute: the kernel's struct bpf_lpm_trie_key with a 4-byte IPv4 address. IPv6 will get
 * a second trie with a 16-byte key. */
struct bf_lroute_key4 {
	uint32_t prefixlen;
	uint8_t addr[4];
};

/* Key of bf_lroute6: a 16-byte IPv6 address. */
struct bf_lroute_key6 {
	uint32_t prefixlen;
	uint8_t addr[16];
};

#define BF_IFNAME_LEN 16

/* Counters: slot k of a generation's bf_cnt holds entries [k * BF_CNT_CHUNK, (k + 1) *
 * BF_CNT_CHUNK), one struct bf_counter_val each (16 KiB per CPU, under the per-CPU value limit
 * of 32 KiB). Chain programs keep the current chunk's pointer at FP_CNT (codegen/gen.c). */
#define BF_CNT_CHUNK 1024u
#define FP_CNT (-88)

struct bf_counter_val {
	uint64_t packets;
	uint64_t bytes;
};

/* Load a finished program; on a verifier failure load again with a log and report its first
 * and last lines through `log`. Returns the fd or -errno. */
int bf_prog_load_insns(const struct bf_log *log, enum bf_prog_ctx pctx, const char *name,
		       const struct bpf_insn *insns, size_t n);
/* The same for a program with subprograms starting at starts[0..n_sub) (BTF func_info);
 * *processed: the instructions the verifier walked (see bf_prog_load_counted). */
int bf_prog_load_subprogs(const struct bf_log *log, enum bf_prog_ctx pctx, const char *name,
			  const struct bpf_insn *insns, size_t n, const uint32_t *starts,
			  size_t n_sub, uint32_t *processed);
/* bpf_prog_load() asking the verifier for its statistics: *processed is the number of
 * instructions it walked over all paths (0 if it did not say), which is what its time grows
 * with; a program whose paths never join again walks its code many times over. Thread safe,
 * logs nothing; opts' log fields are used and left cleared. The fd or -errno. */
int bf_prog_load_counted(enum bpf_prog_type type, const char *name, const struct bpf_insn *insns,
			 size_t n, struct bpf_prog_load_opts *opts, uint32_t *processed);

/* Finish the builder with these map fds and load it: fd or -errno. */
int bf_builder_load(struct bf_builder *b, const struct bf_log *log, enum bf_prog_ctx pctx,
		    const char *name, const int map_fds[BF_MAP_SLOT_MAX]);
/* The same, with the verifier's count of walked instructions in *processed. */
int bf_builder_load_counted(struct bf_builder *b, const struct bf_log *log,
			    enum bf_prog_ctx pctx, const char *name,
			    const int map_fds[BF_MAP_SLOT_MAX], uint32_t *processed);

/* Verdict return codes per program context. */
int bf_verdict_accept(enum bf_prog_ctx pctx);
int bf_verdict_drop(enum bf_prog_ctx pctx);

/*
 * Prologue of every chain program (abi.h): R6 = ctx, R7 = bf_ctx[0]. A lookup failure (cannot
 * happen for index 0 of an array) jumps to `fail`.
 */
void bf_emit_prologue(struct bf_builder *b, bf_label fail);

/* Wait for an RCU grace period (see runtime.c). */
int bf_runtime_sync(struct bf_runtime *rt);
/* Wait until no CPU runs a generation entered before the root switch (runtime.c). */
int bf_runtime_quiesce(struct bf_runtime *rt);

/* Fill the map-slot table for programs of one context. */
void bf_runtime_map_fds(const struct bf_runtime *rt, enum bf_prog_ctx pctx,
			int map_fds[BF_MAP_SLOT_MAX]);

/* CLOCK_MONOTONIC in ns, for the debug log's phase timings. */
uint64_t bf_now_ns(void);

/* Make a kernel object name (BPF_OBJ_NAME_LEN, [A-Za-z0-9_.]) from a printf format. */
void bf_obj_name(char out[BPF_OBJ_NAME_LEN], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* BF_CG_PRIV_H */
