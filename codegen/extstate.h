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

/* The kernel's jiffies now, from /proc/timer_list: 0 or -errno. */
int bf_kernel_jiffies(uint64_t *jiffies);

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

/*
 * hashlimit's named tables (xt_hashlimit.c, doc/stateful.md). A table is found by name and
 * family (htable_find_get) and keeps the configuration of the rule that created it. Its
 * entries, of every table, live in the runtime's HASH bf_hl keyed by (table id, the masked
 * dsthash_dst); bf_hl_tab holds each table's entry count (the kernel's ht->count, checked
 * against cfg.max before a new entry) and a zeroed entry to insert from; bf_hl_nm maps
 * (name, family) to the table id and its configuration. All three are pinned: tables survive
 * replaces and restarts, and the last rule naming a table takes it away with its entries.
 */
#define BF_HL_TABLES 64
#define BF_HL_ENTRIES (1u << 20) /* bf_hl's capacity, every table together (HASHLIMIT_MAX_SIZE) */
#define BF_HL_NAME_LEN 255	 /* NAME_MAX */

struct bf_hl_key {
	uint32_t table;
	uint16_t sport; /* network order */
	uint16_t dport;
	uint32_t src[4]; /* masked, network order; IPv4 in src[0] */
	uint32_t dst[4];
};

/* struct dsthash_ent's lock, expires and rateinfo, with the kernel's union laid out the same
 * way (credit/credit_cap/cost over interval,prev_window/current_rate/rate/burst): a rule whose
 * mode differs from its table's reads the other interpretation, as in the kernel. */
struct bf_hl_ent {
	uint32_t lock; /* struct bpf_spin_lock */
	uint32_t pad;
	uint64_t expires; /* jiffies */
	uint64_t prev;	  /* jiffies; 0: not initialised yet */
	uint64_t f0;	  /* credit | interval (low 32 bits), prev_window (high 32 bits) */
	uint64_t f1;	  /* credit_cap | current_rate */
	uint64_t f2;	  /* cost | rate */
	uint64_t f3;	  /* burst */
};

struct bf_hl_tab {
	uint64_t count;			/* entries in bf_hl for this table */
	struct bf_hl_ent zero;		/* never written: the value a new entry starts from */
};

struct bf_hl_name_key {
	char name[BF_HL_NAME_LEN];
	uint8_t family;
};

/* The table's configuration (struct hashlimit_cfg3 after htable_create's sizing). */
struct bf_hl_cfg {
	uint64_t avg;
	uint64_t burst;
	uint32_t mode;
	uint32_t size;
	uint32_t max;
	uint32_t gc_interval;
	uint32_t expire;
	uint32_t interval;
	uint8_t srcmask;
	uint8_t dstmask;
	uint8_t pad[6];
};

struct bf_hl_name {
	uint32_t id;
	uint32_t pad;
	struct bf_hl_cfg cfg;
};

struct bf_hl_reg {
	int ents_fd;
	int tabs_fd; /* BPF_F_MMAPABLE: the collector decrements counts in place */
	int names_fd;
	uint32_t refs[BF_HL_TABLES];
	bool keep; /* as bf_recent_reg.keep */
	/* The garbage collector (htable_gc): a thread started by the first bf_hl_acquire. */
	bool gc_started;
	int gc_stop; /* set atomically to end the thread */
	uint64_t gc_next[BF_HL_TABLES]; /* jiffies of each table's next collection */
	unsigned long gc_thread;	/* pthread_t */
};

/* Create bf_hl (with the BTF of its spin lock), bf_hl_tab and bf_hl_nm. */
int bf_hl_maps_create(const struct bf_log *log, int *ents_fd, int *tabs_fd, int *names_fd);
/* As bf_recent_acquire / bf_recent_release, for hashlimit's tables (hashlimit_mt_check). */
int bf_hl_acquire(struct bf_hl_reg *reg, const struct bf_table_model *m, const struct bf_log *log,
		  uint32_t **ids, uint32_t *n);
void bf_hl_release(struct bf_hl_reg *reg, const uint32_t *ids, uint32_t n);
/*
 * htable_gc for every table whose time has come at jiffies `now` (all of them with `all`):
 * entries with time_after_eq(now, expires) are removed and counted out. 0 or -errno.
 */
int bf_hl_gc(struct bf_hl_reg *reg, uint64_t now, bool all);
/* Stop the collector thread (runtime teardown). */
void bf_hl_gc_stop(struct bf_hl_reg *reg);
/* The emitter's lookup in the bound registry. */
int bf_hl_find(const char *name, int family, struct bf_hl_name *out);
void bf_hl_bind(struct bf_hl_reg *reg);

#endif /* BF_EXTSTATE_H */
