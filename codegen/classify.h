/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * First-match classifier: runs of consecutive ACCEPT/DROP entries compiled into LPM trie lookups
 * that return the first entry of the run the packet matches (codegen/classify.c has the details).
 * Private to the code generator (gen.c).
 */
#ifndef BF_CLASSIFY_H
#define BF_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "builder.h"
#include "ext.h"
#include "log.h"
#include "model.h"

struct bf_classify;

/* Labels the run's code leaves through (the program's shared exits). */
struct bf_classify_labels {
	bf_label accept, drop, hotdrop, fail;
	bf_label next; /* no entry of the run matched: continue after it */
};

/*
 * Find the runs of `m` (none crosses a region start, except at the return site of one of its
 * jumps, nor a jump marked in `inlined`, which may be NULL) and build a trie for each class of each
 * run, or take the run's tries from the cache of the last table compiled when the run is the same
 * (relative to its first entry). The tries go in the generation's array of tries, the exact
 * classes' keys in its hash.
 */
int bf_classify_new(const struct bf_table_model *m, const int32_t *region_at,
		    const uint8_t *inlined, const struct bf_log *log, struct bf_classify **out);
void bf_classify_free(struct bf_classify *cl);

/* The generation's array of tries (BF_MAP_CLASSIFY, -1 if no trie); the classifier keeps owning
 * it. */
int bf_classify_map_fd(const struct bf_classify *cl);
/* The array of tries with short keys (BF_MAP_CLASSIFY_SHORT, -1 if none); the classifier keeps
 * owning it. */
int bf_classify_short_fd(const struct bf_classify *cl);
/* The array of the exact classes of one port (BF_MAP_CLASSIFY_PORTS, -1 if none), the same way. */
int bf_classify_ports_fd(const struct bf_classify *cl);
/* The hash of the classes without prefix fields (BF_MAP_CLASSIFY_EXACT, -1 if none); the
 * classifier keeps owning it. */
int bf_classify_exact_fd(const struct bf_classify *cl);

/* One past the last entry of the run starting at entry i, or 0 if no run starts there. */
uint32_t bf_classify_run_end(const struct bf_classify *cl, uint32_t i);

/* Emit the run starting at entry `first`: it ends in a jump to one of `l`'s labels. Uses
 * R1-R5, R8, the map key scratch at fp-8 and the stack below fp-88 (abi.h). 0 or -errno. */
int bf_classify_emit_run(struct bf_classify *cl, struct bf_builder *b, enum bf_prog_ctx pctx,
			 uint32_t first, const struct bf_classify_labels *l);

/* After the last bf_classify_emit_run() of a table: fill the array of tries if a program looks
 * tries up there (one with too many maps), and keep it for the next table. 0 or -errno. */
int bf_classify_finish(struct bf_classify *cl, const struct bf_log *log);

/* Totals for logs and tests: entries inside runs, runs, tries, tries that came from the cache. */
void bf_classify_stats(const struct bf_classify *cl, uint32_t *n_entries, uint32_t *n_runs,
		       uint32_t *n_tries, uint32_t *n_reused);

/* Close the cached tries (tests; a daemon keeps them for its next replace). */
void bf_classify_cache_clear(void);

/* For tests and measurements: compile everything linearly (false) or not (true, the default). */
void bf_classify_set_enabled(bool on);
/* For tests: at most n tries loaded by fd per program, the others looked up in the array of tries
 * (0: all of them; the default and the maximum is the verifier's budget). */
void bf_classify_set_direct_max(unsigned int n);

#endif /* BF_CLASSIFY_H */
