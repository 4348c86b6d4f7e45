/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The code generator's interface to the daemon: compile a rule model into a loaded generation,
 * build per-interface dispatchers, switch generations atomically, read counters.
 *
 * Objects:
 *   bf_runtime  maps shared by every generation and dispatcher (packet context, root prog arrays,
 *               ifindex->name, local routes). Lives as long as the daemon's datapath.
 *   bf_gen      one compiled and loaded table: region programs, its prog array, its counters.
 * See doc/design.md, "Datapath".
 */
#ifndef BF_CODEGEN_H
#define BF_CODEGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/netfilter/x_tables.h>

#include "builder.h"
#include "log.h"
#include "model.h"

struct bf_runtime;
struct bf_gen;

int bf_runtime_new(const struct bf_log *log, struct bf_runtime **out);
void bf_runtime_free(struct bf_runtime *rt);
/* fd of a shared map (BF_MAP_CTX, BF_MAP_ROOT, BF_MAP_IFNAME, BF_MAP_LROUTE), or -1. */
int bf_runtime_map_fd(const struct bf_runtime *rt, enum bf_map_slot slot);

/* ifindex -> name map, and the local route trie, kept current by the daemon's ifwatch. */
int bf_runtime_set_ifname(struct bf_runtime *rt, uint32_t ifindex, const char *name);
int bf_runtime_del_ifname(struct bf_runtime *rt, uint32_t ifindex);
/* type: RTN_LOCAL or RTN_BROADCAST. addr in network order. */
int bf_runtime_add_lroute(struct bf_runtime *rt, int family, const void *addr, uint8_t plen);
int bf_runtime_del_lroute(struct bf_runtime *rt, int family, const void *addr, uint8_t plen);

/*
 * The route-type tries the addrtype match reads (codegen/match/addrtype.c): per family an LPM
 * trie over the prefixes of the kernel's local and main routing tables, each with the route the
 * kernel's lookup would pick for that prefix (ifwatch chooses it). Key: bf_lroute_key4/6.
 */
struct bf_rtype {
	uint8_t type; /* RTN_*, as rtnetlink reports it */
	uint8_t flags; /* BF_RTYPE_F_* */
	uint8_t plen; /* the prefix length */
	uint8_t pad;
	uint32_t oif; /* the device of the route's first nexthop, 0 if none */
};

#define BF_RTYPE_F_GATEWAY (1u << 0) /* the route has a gateway (RTF_GATEWAY) */

/* Set (v != NULL) or remove (v == NULL) the route of a prefix in the route-type trie. */
int bf_runtime_set_rtype(struct bf_runtime *rt, int family, const void *addr, uint8_t plen,
			 const struct bf_rtype *v);

struct bf_gen_opts {
	bool xdp_input; /* INPUT runs at XDP; TC ingress does FORWARD only */
};

/* Compile and load (verify) every program of a generation. Nothing is switched in. */
int bf_gen_load(struct bf_runtime *rt, const struct bf_table_model *m,
		const struct bf_gen_opts *opts, struct bf_gen **out);
/*
 * Make `g` the generation every packet uses (one root prog array update per program context),
 * then wait until no packet can still be running the previous one: on return its counters are
 * final. On failure nothing changed.
 */
int bf_gen_activate(struct bf_runtime *rt, struct bf_gen *g);
/* Sum the per-CPU counters of entries [0, n) into out. */
int bf_gen_read_counters(const struct bf_gen *g, uint32_t n, struct xt_counters *out);
/* Packets dropped because a tail call failed (budget exceeded): fail-closed drops. */
int bf_gen_read_errors(const struct bf_gen *g, uint64_t *out);
void bf_gen_free(struct bf_gen *g);

/* For tests (BPF_PROG_TEST_RUN): fd of the TC or XDP entry program, which expects the packet
 * context to be filled already (see bf_dispatch_load for the dispatcher that fills it). */
int bf_gen_entry_fd(const struct bf_gen *g, bool xdp);

enum bf_dispatch_where { BF_DISPATCH_TC_INGRESS, BF_DISPATCH_TC_EGRESS, BF_DISPATCH_XDP };

struct bf_dispatch_cfg {
	enum bf_dispatch_where where;
	uint32_t l2_len; /* bytes before the IP header: 14 for Ethernet (and lo), 0 for ARPHRD_NONE */
	bool xdp_input; /* TC ingress: leave INPUT to XDP */
	/* For tests only: skip the route decision and force this hook (-1: decide normally). */
	int force_hook;
	uint32_t force_oif; /* with force_hook == FORWARD: the out interface */
};

/* Build and load a dispatcher program; the caller attaches it. */
int bf_dispatch_load(struct bf_runtime *rt, const struct bf_dispatch_cfg *cfg, int *prog_fd);

/*
 * Persistence in bpffs (doc/design.md, "Persistence"). Pins are files in a bpffs directory.
 */
/* Pin fd as dir/name, atomically replacing an older pin of that name. */
int bf_pin_obj(int fd, const char *dir, const char *name);
/* Take over the runtime maps pinned in dir (a previous daemon's) in place of rt's own, if all of
 * them are there and have the layout rt's have; *adopted says whether it did. */
int bf_runtime_adopt(struct bf_runtime *rt, const char *dir, bool *adopted);
/* Pin (or re-pin) rt's shared maps in dir; bf_runtime_unpin removes those pins. */
int bf_runtime_pin(struct bf_runtime *rt, const char *dir);
void bf_runtime_unpin(const char *dir);
/* Ids of the programs in every slot of the TC and XDP roots. */
int bf_runtime_root_ids(const struct bf_runtime *rt, uint32_t *ids, size_t max, size_t *n);
/* Pin g's prog arrays, counters and entry programs in dir (created if needed). */
int bf_gen_pin(const struct bf_gen *g, const char *dir);
/* Remove every pin in dir and dir itself; a missing dir is not an error. */
int bf_gen_unpin(const char *dir);
/* Counters of entries [0, n) of the generation pinned in dir (bf_gen_read_counters). */
int bf_gen_read_pinned_counters(const char *dir, uint32_t n, struct xt_counters *out);
/* /proc/net/xt_recent/NAME of this runtime's recent tables (codegen/extstate.h). */
int bf_runtime_recent_read(struct bf_runtime *rt, const char *name, char **text, size_t *len);
int bf_runtime_recent_write(struct bf_runtime *rt, const char *name, const char *in, size_t size,
			    size_t *ret);
/* The daemon exits and leaves its rulesets in force: freeing generations from now on keeps the
 * recent tables (pinned, for the successor) instead of destroying the unreferenced ones. */
void bf_runtime_recent_keep(struct bf_runtime *rt);
/* Ids of the TC and XDP entry programs pinned in dir (0: none). */
int bf_gen_pinned_entry_ids(const char *dir, uint32_t ids[2]);

#endif /* BF_CODEGEN_H */
