/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Persisted state ([reliability], doc/design.md "Persistence"): what a restarted bpfilterd needs
 * to take over the tables of its predecessor without a gap. Per table: the last SET_REPLACE as
 * the caller sent it (NULL for a built-in table as instantiated), the counter bases, and the ids
 * of the pinned generations whose datapath counters add to those bases. One file per network
 * namespace, replaced atomically (write, fsync, rename, fsync of the directory).
 */
#ifndef BFD_STATE_H
#define BFD_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/netfilter/x_tables.h>

#include "../codegen/log.h"

struct xt_store;

struct bfd_state_table {
	int family; /* NFPROTO_IPV4 / NFPROTO_IPV6 */
	char name[XT_TABLE_MAXNAMELEN];
	void *payload; /* the last SET_REPLACE (ipt_replace + entries); NULL: built-in table */
	uint32_t payload_len;
	/* The payload is not kept here but taken from the store at every write (the table as the
	 * store holds it replays to the same table): set once the store has the table. */
	bool payload_from_store;
	uint32_t n_entries;
	struct xt_counters *bases; /* n_entries */
	uint64_t *gens;		   /* pinned generations of this table, counters to add */
	uint32_t n_gens;
};

struct bfd_state {
	char *dir;
	char *path;
	char *ctr_path; /* the counters file: bases written since the state file (state.c) */
	const struct bf_log *log;
	uint64_t netns_cookie;
	char boot_id[40];
	uint64_t seq; /* of the state file on disk: incremented at every write */
	struct bfd_state_table *tables;
	uint32_t n_tables;
	const struct xt_store *store; /* for payload_from_store tables; set by the datapath */
	struct bfd_state_prep *prep;  /* bfd_state_prewrite_*: the temporary file written ahead */
	struct bfd_state_prep *prep_mem; /* what prep points to, kept from one replace to the next */
};

/* The cookie of the current network namespace (SO_NETNS_COOKIE): never reused while the
 * machine runs, so it names a namespace's files. */
int bfd_netns_cookie(uint64_t *out);

/* Create dir if needed and load the namespace's state file: a missing file, one of another boot
 * or a damaged one gives an empty state (logged). */
int bfd_state_open(const char *dir, uint64_t netns_cookie, const struct bf_log *log,
		   struct bfd_state **out);
void bfd_state_free(struct bfd_state *st);
/* Write the state atomically: on return it is on disk, or the previous file is intact. */
int bfd_state_write(struct bfd_state *st);
/* Persist the counter bases alone, as atomically: the counters file amends the state file on disk
 * (a few MB at 100k rules, where the state file has the tables too); the next bfd_state_write
 * supersedes it. Writes the state file if there is none yet. */
int bfd_state_write_counters(struct bfd_state *st);
/*
 * A replace's state file, written ahead (doc/design.md, "Persistence"): the state as it will be
 * once the replace of table `name` by payload (ipt_replace + entries, as the store will hold
 * them; another table's request is refused) with generation gen_id has succeeded goes to the
 * temporary file, written (header hash included) by a thread while the caller compiles the
 * generation and switches it in. Nothing is renamed: bfd_state_write() renames that file only if what
 * it would write is exactly that (same length and hash), else it writes as usual. _start fails
 * (nothing started) when the state cannot be predicted; _wait joins the thread, and with !ok (the
 * switch failed) drops the file.
 */
int bfd_state_prewrite_start(struct bfd_state *st, int family, const char *name,
			     const void *payload, uint32_t len, uint64_t gen_id);
void bfd_state_prewrite_wait(struct bfd_state *st, bool ok);
/* The SET_REPLACE the server is serving (its payload, which the store normalizes in place and
 * keeps as the table's blob), for the datapath's bfd_state_prewrite_start; NULL outside one. */
void bfd_state_set_request(const void *payload, uint32_t len);
void bfd_state_request(const void **payload, uint32_t *len);
/* Remove the state file (--flush-on-exit). */
void bfd_state_remove(struct bfd_state *st);

/* The table's entry, created (empty: no payload, no bases) if `create`; NULL if absent. */
struct bfd_state_table *bfd_state_table(struct bfd_state *st, int family, const char *name,
					bool create);
/* Make t a table of n entries with these counter bases (NULL: zero). */
int bfd_state_table_reset(struct bfd_state_table *t, uint32_t n, const struct xt_counters *bases);
int bfd_state_table_set_gens(struct bfd_state_table *t, const uint64_t *ids, uint32_t n);
int bfd_state_table_add_gen(struct bfd_state_table *t, uint64_t id);
/* Drop the payloads read from the file: the store holds those tables now (after a restore). */
void bfd_state_payloads_from_store(struct bfd_state *st);

/* What a request changed in the state. */
enum bfd_state_change {
	BFD_STATE_TABLES, /* a table (write the state file) */
	BFD_STATE_BASES,  /* counter bases only (bfd_state_write_counters is enough) */
	BFD_STATE_NONE,	  /* nothing (SET_ADD_COUNTERS of zeros, as iptables-restore sends) */
};

/* Mirror a successful setsockopt into the state: SET_REPLACE takes the payload from the store
 * from now on (st->store) and zeroes the bases, SET_ADD_COUNTERS adds to the bases (as the
 * store does). *change says what that changed. */
int bfd_state_apply(struct bfd_state *st, int level, int optname, const void *payload, uint32_t len,
		    enum bfd_state_change *change);

/*
 * The server calls bfd_state_after_request() after every successful x_tables request, before it
 * answers: whoever registered a hook (the datapath) persists what changed, so that a success
 * the caller sees is on disk. Without a hook it does nothing.
 */
typedef void (*bfd_state_hook_fn)(void *ctx, struct xt_store *store, bool set, int level,
				  int optname, const void *payload, uint32_t len);
void bfd_state_set_hook(bfd_state_hook_fn fn, void *ctx);
void bfd_state_after_request(struct xt_store *store, bool set, int level, int optname,
			     const void *payload, uint32_t len);

/*
 * Test-only fault injection: with BPFILTERD_TEST_CRASH_AT=NAME (or NAME@N for the N-th time) in
 * the environment, the daemon SIGKILLs itself when it reaches the point NAME of a commit or of
 * the restore. See doc/design.md, "Persistence", for the points. Never set in production.
 */
void bfd_fault_point(const char *name);
/* Points other than "restore-*" count from here on (main calls it once started). */
void bfd_fault_arm(void);

#endif /* BFD_STATE_H */
