/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * State of the stateful matches (doc/stateful.md, doc/design.md "Extension state"), with the
 * kernel's lifetimes:
 *  - rule-instance state (limit): the kernel's checkentry allocates it for every rule of every
 *    table replace. Here each generation owns one hash map, bf_xrule, keyed by (entry index,
 *    match position) and filled when the generation is built: a replace starts afresh.
 *  - named tables (recent): shared by every rule naming them and kept across replaces (the
 *    kernel finds them by name). They live in runtime maps, pinned with the others.
 */
#ifndef BF_EXTSTATE_H
#define BF_EXTSTATE_H

#include <stdint.h>

#include "builder.h"
#include "ext.h"
#include "log.h"
#include "model.h"

/* Map slots, taken from the top of the extension range (classify and ct use the last two). */
#define BF_MAP_XRULE ((enum bf_map_slot)(BF_MAP_SLOT_MAX - 4)) /* generation: HASH */

struct bf_xrule_key {
	uint32_t entry; /* entry index in the table */
	uint32_t match; /* position of the match in the entry */
};

/* limit's state: struct xt_limit_priv. prev == 0 means "not hit yet": the first packet takes
 * its own jiffies as prev (jiffies64 never is 0: it starts at INITIAL_JIFFIES). */
struct bf_limit_state {
	uint64_t prev; /* jiffies */
	uint32_t credit;
	uint32_t pad;
};

/* The kernel's HZ (CONFIG_HZ), measured once from /proc/timer_list: 0 or -errno. */
int bf_kernel_hz(const struct bf_log *log, uint32_t *hz);

/* limit's CREDITS_PER_JIFFY and user2credits() for a given HZ. */
uint32_t bf_limit_cpj(uint32_t hz);
uint32_t bf_limit_user2credits(uint32_t hz, uint32_t user);

/* The initial state of one limit match, and the credit_cap / cost limit_mt uses. */
int bf_limit_init(const struct bf_log *log, const void *data, struct bf_limit_state *st,
		  uint32_t *credit_cap, uint32_t *cost);

/* The position of the match whose payload is `data` in `e` (the second half of the key). */
int bf_xrule_match_pos(const struct bf_entry *e, const void *data, uint32_t *pos);

/*
 * The rule-instance state map of a generation compiled from m, filled with every stateful
 * match's initial state: its fd in *fd, or -1 when no entry needs one. 0 or -errno.
 */
int bf_xrule_create(const struct bf_table_model *m, const struct bf_log *log, int *fd);

#endif /* BF_EXTSTATE_H */
