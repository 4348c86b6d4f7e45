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

/* The map slot of the generation's classifier trie: the last extension slot, which no extension
 * module uses (builder.h has no slot of its own for it). */

struct bf_classify;

/* Labels the run's code leaves through (the program's shared exits). */
struct bf_classify_labels {
	bf_label accept, drop, hotdrop, fail;
	bf_label next; /* no entry of the run matched: continue after it */
};

/*
 * Find the runs of `m` (none crosses a region start: region_at[i] >= 0 marks one) and build the
 * trie that serves them. With no run, *out is still set and its map fd is -1.
 */
int bf_classify_new(const struct bf_table_model *m, const int32_t *region_at,
		    const struct bf_log *log, struct bf_classify **out);
void bf_classify_free(struct bf_classify *cl);

/* The trie's fd (-1 if no run); the classifier keeps owning it. */
int bf_classify_map_fd(const struct bf_classify *cl);
/* The hash of the classes without prefix fields (-1 if none); the classifier keeps owning it. */
int bf_classify_exact_fd(const struct bf_classify *cl);

/* One past the last entry of the run starting at entry i, or 0 if no run starts there. */
uint32_t bf_classify_run_end(const struct bf_classify *cl, uint32_t i);

/* Emit the run starting at entry `first`: it ends in a jump to one of `l`'s labels. Uses
 * R1-R5, R8, the map key scratch at fp-8 and the stack below fp-88 (abi.h). 0 or -errno. */
int bf_classify_emit_run(const struct bf_classify *cl, struct bf_builder *b, enum bf_prog_ctx pctx,
			 uint32_t first, const struct bf_classify_labels *l);

/* Totals for logs and tests: entries inside runs, runs. */
void bf_classify_stats(const struct bf_classify *cl, uint32_t *n_entries, uint32_t *n_runs);

/* For tests and measurements: compile everything linearly (false) or not (true, the default). */
void bf_classify_set_enabled(bool on);

#endif /* BF_CLASSIFY_H */
