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

#include <stdbool.h>
#include <stdint.h>

#include "builder.h"
#include "ext.h"
#include "log.h"
#include "model.h"

/* Map slots, taken from the top of the extension range (classify and ct use the last two). */

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

/*
 * recent's named tables (xt_recent.c). The kernel's module parameters: ip_list_tot = 100
 * entries per table (the least recently updated one is dropped for a new one) and
 * ip_pkt_list_tot = 20: a table keeps nstamps_max_mask + 1 stamps per entry, 32 unless a rule
 * with a larger --hitcount asks for roundup_pow_of_two(hitcount) (the table is then flushed,
 * as the kernel does). Stamps are appended in time order, so the last 32 decide every test
 * with a hitcount up to 32; above that, without --seconds, only their number matters (kept
 * exactly); a hitcount above 32 with --seconds is refused. Every table is one value of the
 * runtime's ARRAY map bf_recent, with a bpf_spin_lock (the kernel's recent_lock) and its
 * entries in fixed slots; names map to tables in the runtime's HASH bf_recent_nm. Both are
 * pinned: tables survive replaces and restarts.
 */
#define BF_RECENT_TABLES 64
#define BF_RECENT_ENTRIES 100		  /* ip_list_tot */
#define BF_RECENT_PKT_LIST 20		  /* ip_pkt_list_tot */
#define BF_RECENT_NSTAMPS 32		  /* stamps kept per entry */
#define BF_RECENT_HITCOUNT_MAX (1u << 24) /* larger: refused */
#define BF_RECENT_NAME_LEN 200

struct bf_recent_slot {
	uint64_t addr[2]; /* masked address, network order; IPv4 in the first 4 bytes */
	uint64_t lru;	  /* position in the LRU order (larger: more recent); 0: free slot */
	uint16_t family;  /* NFPROTO_IPV4 / NFPROTO_IPV6 */
	uint8_t ttl;
	uint8_t pad;
	uint32_t index;	  /* the kernel's e->index: stamps written, modulo the table's mask + 1 */
	uint32_t nstamps; /* the kernel's e->nstamps (up to the mask + 1) */
	uint32_t pad2;
	uint64_t stamps[BF_RECENT_NSTAMPS]; /* jiffies; stamp k of the kernel's ring at k % 32 */
};

struct bf_recent_table {
	uint32_t lock; /* struct bpf_spin_lock */
	uint32_t entries;
	uint64_t seq;	  /* last LRU position given */
	uint32_t found;	  /* scratch under the lock: slot of the packet's entry */
	uint32_t lru_idx; /* scratch under the lock: least recently updated slot */
	uint32_t free_idx;
	uint32_t hits; /* scratch under the lock: stamps counted */
	uint32_t nstamps_max_mask;
	uint32_t pad;
	struct bf_recent_slot slot[BF_RECENT_ENTRIES];
};

/* Value of bf_recent_nm (key: the name, NUL padded to BF_RECENT_NAME_LEN). */
struct bf_recent_name {
	uint32_t id;	  /* key of the table in bf_recent */
	uint32_t mask[4]; /* the creating rule's --mask (union nf_inet_addr): the table's, as in
			   * the kernel, for both families */
};

/* Create the two runtime maps (bf_recent with its BTF for the spin lock, bf_recent_nm). */
int bf_recent_maps_create(const struct bf_log *log, int *tables_fd, int *names_fd);

/* Tables in use by loaded generations (the kernel's refcnt), per runtime. */
struct bf_recent_reg {
	int tables_fd;
	int names_fd;
	uint32_t refs[BF_RECENT_TABLES];
	/* The daemon exits leaving its rulesets in force: releases keep the tables, which the
	 * successor adopts with the other pinned maps. */
	bool keep;
};

/*
 * Take a reference on the table of every recent match of m (creating the missing ones, as
 * recent_mt_check does); the ids taken are returned in *ids (malloc'd) / *n for the release.
 * Also makes `reg` the one the recent emitter looks names up in (this thread).
 */
int bf_recent_acquire(struct bf_recent_reg *reg, const struct bf_table_model *m,
		      const struct bf_log *log, uint32_t **ids, uint32_t *n);
/* Drop the references; a table nobody refers to any more is destroyed, entries and name. */
void bf_recent_release(struct bf_recent_reg *reg, const uint32_t *ids, uint32_t n);
/* The recent emitter's lookup: the table of `name` in the bound registry. */
int bf_recent_find(const char *name, struct bf_recent_name *out);
/*
 * /proc/net/xt_recent/NAME: the file's text (malloc'd), or a write of `size` bytes as the
 * kernel takes it (+ADDR, -ADDR, /), *ret = the bytes write() returns. -ENOENT: no such table.
 */
int bf_recent_ctl_read(struct bf_recent_reg *reg, const char *name, char **text, size_t *len);
int bf_recent_ctl_write(struct bf_recent_reg *reg, const char *name, const char *in, size_t size,
			size_t *ret);
/* Bind a registry for bf_recent_find (unit tests; bf_recent_acquire does it). */
void bf_recent_bind(struct bf_recent_reg *reg);

#endif /* BF_EXTSTATE_H */
