/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The table store: the kernel's x_tables, as seen from get/setsockopt. It validates blobs as
 * translate_table does, keeps the current blob, model and counter bases of each table, and drives
 * the datapath through `struct xt_datapath`. See doc/design.md, "The x_tables contract".
 *
 * Every function returns 0 or a negative errno, the one the kernel's setsockopt/getsockopt would
 * set for the same request. The capability check (EPERM) is the server's, before any of this.
 */
#ifndef BF_XT_STORE_H
#define BF_XT_STORE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>

#include "../codegen/log.h"
#include "../codegen/model.h"

/* The datapath as the store sees it. `gen` is opaque. */
struct xt_datapath {
	void *ctx;
	/* Compile and load the model; nothing takes effect yet. */
	int (*prepare)(void *ctx, const struct bf_table_model *m, void **gen);
	/* Switch every packet to gen; on return the previous gen of this table is quiescent. */
	int (*commit)(void *ctx, const struct bf_table_model *m, void *gen);
	/* Sum of the datapath counters of entries [0, n) of gen. */
	int (*read)(void *ctx, void *gen, uint32_t n, struct xt_counters *out);
	void (*release)(void *ctx, void *gen);
	/* Optional: /proc/net/xt_recent/NAME (doc/protocol.md, BPFILTER_OP_RECENT). Read: *out
	 * (malloc'd) is the file's text; write: *written is what write() returns. */
	int (*recent)(void *ctx, bool write, const char *name, const void *in, uint32_t len,
		      void **out, uint32_t *outlen, uint32_t *written);
};

struct xt_store;

int xt_store_new(const struct xt_datapath *dp, const struct bf_log *log, struct xt_store **out);
void xt_store_free(struct xt_store *s);

/*
 * getsockopt(level, optname): `in` holds the first `inlen` bytes of the caller's buffer, `optlen`
 * is the caller's *optlen. On success *out (malloc'd, caller frees) holds *outlen bytes to copy to
 * the caller's buffer and *new_optlen the value for *optlen.
 */
int xt_store_getsockopt(struct xt_store *s, int level, int optname, const void *in, uint32_t inlen,
			uint32_t optlen, void **out, uint32_t *outlen, uint32_t *new_optlen);

/*
 * setsockopt(level, optname, in, len). For SET_REPLACE, on success *out (malloc'd) holds the old
 * counters (num_counters x struct xt_counters) to write to ipt_replace.counters; otherwise
 * *out is NULL and *outlen 0.
 */
int xt_store_setsockopt(struct xt_store *s, int level, int optname, const void *in, uint32_t len,
			void **out, uint32_t *outlen);
/*
 * The same with a request the caller malloc'd: the store may work on it in place (its bytes after
 * the header may change either way) and keeps it as the table's blob when a SET_REPLACE
 * succeeds, setting *in to NULL; *in stays readable until the table next changes. Saves a copy
 * of the table at the peak of a replace.
 */
int xt_store_setsockopt_take(struct xt_store *s, int level, int optname, void **in, uint32_t len,
			     void **out, uint32_t *outlen);

/*
 * The table as a SET_REPLACE would recreate it: the header (ip6t_replace has the same layout;
 * num_counters = num_entries, no counters pointer) and the stored entries, *size bytes borrowed
 * from the store until the table next changes. -ENOENT if the table does not exist. Lets the
 * state file (daemon/state.c) be written from the store's copy instead of a second one.
 */
int xt_store_table_image(const struct xt_store *s, int family, const char *name,
			 struct ipt_replace *hdr, const void **entries, uint32_t *size);

/* Text of /proc/net/ip_tables_names (family NFPROTO_IPV4) or ip6_tables_names (NFPROTO_IPV6). */
int xt_store_table_names(struct xt_store *s, int family, char **text, size_t *len);
/* The datapath's recent control (xt_datapath.recent); -ENOENT without one. */
int xt_store_recent(struct xt_store *s, bool write, const char *name, const void *in, uint32_t len,
		    void **out, uint32_t *outlen, uint32_t *written);

#endif /* BF_XT_STORE_H */
