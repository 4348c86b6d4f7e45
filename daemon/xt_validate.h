/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to the table store: the family description of an x_tables entry and translate_table
 * (net/ipv4/netfilter/ip_tables.c, net/netfilter/x_tables.c), check for check, errno for errno.
 *
 * ipt_entry and ip6t_entry differ only in the size of their IP part; everything after it
 * (nfcache, target_offset, next_offset, comefrom, counters, elems) is the same sequence of fields,
 * so one walker serves both, through the offsets in `struct xt_fam`.
 */
#ifndef BFD_XT_VALIDATE_H
#define BFD_XT_VALIDATE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/netfilter/x_tables.h>

#include "../codegen/log.h"

#define XT_NHOOKS 5	      /* NF_INET_NUMHOOKS */
#define XT_NOHOOK 0xFFFFFFFFu /* the kernel's "impossible value" for an unset hook */
#define XT_MAX_TABLE_SIZE (512u * 1024 * 1024)
#define XT_TABLE_INFO_SIZE 64u /* sizeof(struct xt_table_info) on x86_64 */

struct xt_fam {
	int family;	     /* NFPROTO_IPV4 / NFPROTO_IPV6 */
	const char *prefix;  /* the kernel's xt_prefix: "ip", "ip6" (log lines) */
	uint32_t entry_size; /* sizeof(struct ipt_entry) */
	uint32_t ip_size;    /* sizeof(struct ipt_ip): the "unconditional" comparison */
	uint32_t off_proto, off_flags, off_invflags; /* inside the IP part */
	uint8_t f_mask, inv_mask, inv_proto, f_goto;
	uint32_t off_target_offset, off_next_offset, off_comefrom, off_counters;
};

extern const struct xt_fam xt_fam_ipv4;
extern const struct xt_fam xt_fam_ipv6;

/* The parts of a SET_REPLACE header translate_table reads. */
struct xt_repl {
	const char *name; /* table restrictions are checked against this name */
	uint32_t valid_hooks;
	uint32_t num_entries;
	uint32_t size;
	uint32_t hook_entry[XT_NHOOKS];
	uint32_t underflow[XT_NHOOKS];
};

/* What translate_table leaves in the kernel's struct xt_table_info (byte offsets). */
struct xt_info {
	uint32_t size;
	uint32_t number;
	uint32_t stacksize;
	uint32_t hook_entry[XT_NHOOKS];
	uint32_t underflow[XT_NHOOKS];
};

/*
 * The kernel's translate_table on `entry0` (repl->size bytes, 8-byte aligned, modified in place:
 * counters zeroed, comefrom set by mark_source_chains), then find_check_entry on every entry in
 * blob order against the extension registry. 0 and *info filled, or the kernel's errno, with one
 * log line saying why.
 */
int xt_translate_table(const struct xt_fam *f, const struct xt_repl *repl, void *entry0,
		       const struct bf_log *log, struct xt_info *info);

/* Field access. Callers only use these on entries that lie inside the blob. */
static inline uint16_t xt_e_target_offset(const struct xt_fam *f, const void *e)
{
	uint16_t v;

	memcpy(&v, (const char *)e + f->off_target_offset, sizeof(v));
	return v;
}

static inline uint16_t xt_e_next_offset(const struct xt_fam *f, const void *e)
{
	uint16_t v;

	memcpy(&v, (const char *)e + f->off_next_offset, sizeof(v));
	return v;
}

static inline uint32_t xt_e_comefrom(const struct xt_fam *f, const void *e)
{
	uint32_t v;

	memcpy(&v, (const char *)e + f->off_comefrom, sizeof(v));
	return v;
}

static inline void xt_e_set_comefrom(const struct xt_fam *f, void *e, uint32_t v)
{
	memcpy((char *)e + f->off_comefrom, &v, sizeof(v));
}

static inline struct xt_counters *xt_e_counters(const struct xt_fam *f, void *e)
{
	return (struct xt_counters *)((char *)e + f->off_counters);
}

/* The target header of an entry that passed validation (its offset is then 8-byte aligned). */
static inline const struct xt_entry_target *xt_e_target(const struct xt_fam *f, const void *e)
{
	return (const struct xt_entry_target *)((const char *)e + xt_e_target_offset(f, e));
}

/*
 * The target header while validating. The kernel checks target_offset's alignment only through the
 * extension's size (find_check_entry), after xt_check_entry_offsets and mark_source_chains have
 * read the header: until then it may sit at any offset, so it is read bytewise (xt_t_size, xt_is_*,
 * xt_std_verdict), never through a struct pointer.
 */
static inline const char *xt_e_target_raw(const struct xt_fam *f, const void *e)
{
	return (const char *)e + xt_e_target_offset(f, e);
}

static inline uint16_t xt_t_size(const void *t)
{
	uint16_t v;

	memcpy(&v, (const char *)t + offsetof(struct xt_entry_target, u.target_size), sizeof(v));
	return v;
}

static inline const char *xt_t_name(const void *t)
{
	return (const char *)t + offsetof(struct xt_entry_target, u.user.name);
}

static inline uint8_t xt_e_flags(const struct xt_fam *f, const void *e)
{
	return ((const uint8_t *)e)[f->off_flags];
}

static inline uint8_t xt_e_invflags(const struct xt_fam *f, const void *e)
{
	return ((const uint8_t *)e)[f->off_invflags];
}

static inline uint16_t xt_e_proto(const struct xt_fam *f, const void *e)
{
	uint16_t v;

	memcpy(&v, (const char *)e + f->off_proto, sizeof(v));
	return v;
}

static inline int xt_is_standard(const void *t)
{
	return xt_t_name(t)[0] == '\0';
}

static inline int xt_is_error(const void *t)
{
	/* strcmp semantics: stops at the first difference, so never reads past the field. */
	return strncmp(xt_t_name(t), XT_ERROR_TARGET, sizeof(XT_ERROR_TARGET)) == 0;
}

static inline int xt_std_verdict(const void *t)
{
	int v;

	memcpy(&v, (const char *)t + sizeof(struct xt_entry_target), sizeof(v));
	return v;
}

#endif /* BFD_XT_VALIDATE_H */
