/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The typed rule model: what the daemon decodes from a validated x_tables blob and what the code
 * generator compiles. It keeps the blob's entry graph exactly (see doc/design.md, "The rule
 * model"): entries in blob order, each with its decoded IP part, matches and a typed target.
 *
 * The model does not own the IP parts and extension payloads: `ip` and `data` point into the blob
 * kept by the daemon's table store, which outlives the model.
 */
#ifndef BF_MODEL_H
#define BF_MODEL_H

#include <stdint.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

struct bf_ext;

/* Hooks are the kernel's NF_INET_* numbers (PRE_ROUTING 0 ... POST_ROUTING 4). */
#define BF_HOOK_MAX NF_INET_NUMHOOKS

struct bf_match {
	const struct bf_ext *ext; /* registry entry (name, revision, ops) */
	const void *data; /* the payload as iptables sent it, e.g. struct xt_tcp */
	uint16_t data_len; /* payload bytes (match_size - header) */
};

enum bf_target_kind {
	BF_TGT_ACCEPT, /* standard verdict -2 */
	BF_TGT_DROP, /* standard verdict -1 */
	BF_TGT_QUEUE, /* standard verdict -4: no queue listener, so the kernel drops */
	BF_TGT_RETURN, /* standard verdict -5 */
	BF_TGT_JUMP, /* standard verdict >= 0 without IPT_F_GOTO: push, continue at `jump` */
	BF_TGT_GOTO, /* standard verdict >= 0 with IPT_F_GOTO: continue at `jump`, no push */
	BF_TGT_ERROR, /* "ERROR" target: ipt_error drops */
	BF_TGT_EXT, /* an extension target (ext, data) */
};

struct bf_target {
	enum bf_target_kind kind;
	uint32_t jump; /* BF_TGT_JUMP/GOTO: destination entry index */
	const struct bf_ext *ext; /* BF_TGT_EXT */
	const void *data;
	uint16_t data_len;
	const char *error_name; /* BF_TGT_ERROR: user chain name, or "ERROR" for the tail */
};

/* The IP part of an entry: `v4` in an IPv4 table, `v6` in an IPv6 one. */
union bf_entry_ip {
	struct ipt_ip v4;
	struct ip6t_ip6 v6;
};

struct bf_entry {
	uint32_t index; /* position in blob order: the counter slot */
	uint32_t offset; /* byte offset in the blob */
	uint32_t comefrom; /* bitmask of hooks that reach this entry (mark_source_chains) */
	/* The entry's ipt_ip/ip6t_ip6 where it lies (the blob: both start an entry), read only
	 * through the family's member. Not a copy: at 100k rules copies were 13 MB. */
	const union bf_entry_ip *ip;
	uint32_t n_matches;
	struct bf_match *matches;
	struct bf_target target;
};

/* Convenience view of user chains (derived from ERROR entries). */
struct bf_chain {
	const char *name; /* points at the ERROR entry's errorname */
	uint32_t head; /* index of the ERROR entry */
	uint32_t first; /* index of the first entry after it */
};

struct bf_table_model {
	int family; /* NFPROTO_IPV4 or NFPROTO_IPV6 */
	char name[XT_TABLE_MAXNAMELEN];
	uint32_t valid_hooks;
	uint32_t hook_entry[BF_HOOK_MAX]; /* entry index, for valid hooks */
	uint32_t underflow[BF_HOOK_MAX]; /* entry index, for valid hooks */
	uint32_t stacksize; /* number of ERROR entries: the kernel's jump stack size */
	uint32_t n_entries;
	struct bf_entry *entries;
	uint32_t n_chains;
	struct bf_chain *chains;
};

/* Frees the arrays and the model itself (models are always heap-allocated). NULL is fine. */
void bf_table_model_free(struct bf_table_model *m);

#endif /* BF_MODEL_H */
