/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xtables extension modules. One file per extension under codegen/match/ and codegen/target/,
 * each ending in one `const struct bf_ext` definition, all listed in the explicit array in
 * codegen/registry.c and looked up by kind, family, name and revision.
 *
 * The same entry serves the daemon's validation (the kernel's xt_check_match/xt_check_target:
 * size, table, hooks, proto, then checkentry) and code generation (emit).
 */
#ifndef BF_EXT_H
#define BF_EXT_H

#include <stdbool.h>
#include <stdint.h>

#include "builder.h"
#include "log.h"
#include "model.h"

enum bf_ext_kind { BF_EXT_MATCH, BF_EXT_TARGET };

enum bf_prog_ctx { BF_CTX_TC, BF_CTX_XDP };

/* What checkentry sees: the kernel's struct xt_mtchk_param / xt_tgchk_param. */
struct bf_check_ctx {
	const char *table; /* "filter" */
	int family; /* NFPROTO_IPV4 / NFPROTO_IPV6 */
	uint32_t hook_mask; /* the entry's comefrom */
	const struct bf_entry *entry; /* ip part (proto, invflags) of the entry */
	const struct bf_log *log; /* say why a check failed, as the kernel's pr_info does */
};

/* What emit sees. Registers and stack: codegen/abi.h. */
struct bf_emit_ctx {
	struct bf_builder *b;
	int family;
	enum bf_prog_ctx prog_ctx;
	const struct bf_entry *entry;
	bf_label miss; /* match: jump here when the packet does not match */
	bf_label hotdrop; /* match: jump here to drop the packet at once (the kernel's hotdrop) */
	bf_label drop; /* target: jump here for the verdict DROP */
	bf_label accept; /* target: jump here for the verdict ACCEPT */
	bf_label cont; /* target: jump here for XT_CONTINUE (next entry) */
	const struct bf_log *log;
};

struct bf_ext {
	enum bf_ext_kind kind;
	const char *name;
	uint8_t revision;
	/* The kernel's registration family: NFPROTO_UNSPEC, NFPROTO_IPV4 or NFPROTO_IPV6. It decides
	 * EPROTOTYPE versus ENOENT for an unknown revision (xt_find_match). */
	uint8_t family;
	uint16_t size; /* the kernel's matchsize/targetsize (before XT_ALIGN) */
	uint16_t usersize; /* bytes GET_ENTRIES copies back; 0 means `size` */
	const char *table; /* restriction, NULL for any */
	uint32_t hooks; /* restriction as a hook mask, 0 for any */
	uint16_t proto; /* restriction, 0 for any */
	/* bpfilter enforces this extension only for this family (0: every family it is registered
	 * for). The registration keeps the kernel's answers to revision queries; SET_REPLACE refuses
	 * the extension in another family (-EOPNOTSUPP, logged) instead of storing what the datapath
	 * cannot do. */
	uint8_t enforced_family;
	/* Extra weight of one use against the region size limit (codegen/gen.c), for code that
	 * costs the verifier far more than its length (e.g. branches under a spin lock): a
	 * region holding many such rules fails with "the sequence of jumps is too complex". */
	uint16_t region_weight;
#define BF_EXT_WEIGHT_LOCKED 4096 /* half a region's budget: two such rules per program */
	/* The extension reads the packet's connection: its checkentry takes the family's
	 * conntrack (nf_ct_netns_get), and the dispatchers run the tracker for a family only
	 * while its active table has such a rule (struct bf_cfg, codegen/abi.h). */
	bool conntrack;
	/* checkentry: 0 or -errno. NULL means always fine. */
	int (*check)(const struct bf_check_ctx *ctx, const void *data);
	/* Code generation. A match falls through when it matches; a target ends in a jump to one of
	 * the ctx labels (or an exit). 0 or -errno (also reflected in the builder's sticky error). */
	int (*emit)(struct bf_emit_ctx *ctx, const void *data);
};

/*
 * Look up by kind/family/name/revision with the kernel's errors:
 * 0 (found, *out set), -ENOENT (no such name, or another revision only in the family list),
 * -EPROTOTYPE (the name exists under NFPROTO_UNSPEC with another revision). See xt_find_match.
 */
int bf_ext_find(enum bf_ext_kind kind, int family, const char *name, uint8_t revision,
		const struct bf_ext **out);

/*
 * The GET_REVISION answer (xt_find_revision): 0 if this revision exists, -EPROTONOSUPPORT if the
 * name exists with other revisions, -ENOENT if the name is unknown.
 */
int bf_ext_revision(enum bf_ext_kind kind, int family, const char *name, uint8_t revision);

/* Iterate the registry (for tests and docs): NULL past the end. */
const struct bf_ext *bf_ext_at(unsigned int i);

#endif /* BF_EXT_H */
