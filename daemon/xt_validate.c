// SPDX-License-Identifier: GPL-2.0-only
/*
 * translate_table and friends, as in net/ipv4/netfilter/ip_tables.c and net/netfilter/x_tables.c:
 * the same checks in the same order with the same errnos, so that a blob the kernel refuses is
 * refused here with the kernel's errno, and one it accepts is accepted. Where the kernel is silent
 * we still log one line, so a refused iptables command can be explained.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "bpfilter/cleanup.h"
#include "../codegen/ext.h"
#include "xt_validate.h"

const struct xt_fam xt_fam_ipv4 = {
	.family = NFPROTO_IPV4,
	.prefix = "ip",
	.entry_size = sizeof(struct ipt_entry),
	.ip_size = sizeof(struct ipt_ip),
	.off_proto = offsetof(struct ipt_entry, ip.proto),
	.off_flags = offsetof(struct ipt_entry, ip.flags),
	.off_invflags = offsetof(struct ipt_entry, ip.invflags),
	.f_mask = IPT_F_MASK,
	.inv_mask = IPT_INV_MASK,
	.inv_proto = IPT_INV_PROTO,
	.f_goto = IPT_F_GOTO,
	.off_target_offset = offsetof(struct ipt_entry, target_offset),
	.off_next_offset = offsetof(struct ipt_entry, next_offset),
	.off_comefrom = offsetof(struct ipt_entry, comefrom),
	.off_counters = offsetof(struct ipt_entry, counters),
};

/* ip6_tables.c: the same pipeline on ip6t_entry (168 bytes), with ip6_checkentry's masks. Only
 * IP6T_F_GOTO changes the graph; IP6T_F_PROTO and IP6T_F_TOS are IP-part flags. */
const struct xt_fam xt_fam_ipv6 = {
	.family = NFPROTO_IPV6,
	.prefix = "ip6",
	.entry_size = sizeof(struct ip6t_entry),
	.ip_size = sizeof(struct ip6t_ip6),
	.off_proto = offsetof(struct ip6t_entry, ipv6.proto),
	.off_flags = offsetof(struct ip6t_entry, ipv6.flags),
	.off_invflags = offsetof(struct ip6t_entry, ipv6.invflags),
	.f_mask = IP6T_F_MASK,
	.inv_mask = IP6T_INV_MASK,
	.inv_proto = IP6T_INV_PROTO,
	.f_goto = IP6T_F_GOTO,
	.off_target_offset = offsetof(struct ip6t_entry, target_offset),
	.off_next_offset = offsetof(struct ip6t_entry, next_offset),
	.off_comefrom = offsetof(struct ip6t_entry, comefrom),
	.off_counters = offsetof(struct ip6t_entry, counters),
};

#define LOG_REJECT(log, ...) bf_logf(log, BF_LOG_INFO, __VA_ARGS__)

/* All-zero IP part and no match: the kernel's unconditional(). */
static bool unconditional(const struct xt_fam *f, const void *e)
{
	static const uint8_t zero[256];

	return xt_e_target_offset(f, e) == f->entry_size && !memcmp(e, zero, f->ip_size);
}

static bool verdict_ok(int verdict)
{
	if (verdict > 0)
		return true;
	/* 0 is a jump to the first entry, which the kernel refuses too. */
	return verdict == -NF_ACCEPT - 1 || verdict == -NF_DROP - 1 || verdict == -NF_QUEUE - 1 ||
	       verdict == XT_RETURN;
}

/* xt_check_entry_match: matches are aligned, at least a header each, and end at the target. */
static int check_entry_match(uint32_t pos, const char *match, const char *target,
			     const struct bf_log *log)
{
	int length = target - match;
	const char *p = match;

	if (length == 0)
		return 0;
	do {
		const struct xt_entry_match *m = (const void *)p;

		if ((p - match) % __alignof__(struct xt_entry_match) ||
		    length < (int)sizeof(struct xt_entry_match) ||
		    m->u.match_size < sizeof(struct xt_entry_match) || m->u.match_size > length) {
			LOG_REJECT(log, "entry at %u: bad match layout at +%td", pos, p - match);
			return -EINVAL;
		}
		length -= m->u.match_size;
		p += m->u.match_size;
	} while (length > 0);
	return 0;
}

/* xt_check_entry_offsets */
static int check_entry_offsets(const struct xt_fam *f, uint32_t pos, const void *e,
			       const struct bf_log *log)
{
	uint32_t to = xt_e_target_offset(f, e), next = xt_e_next_offset(f, e);
	const char *t;

	if (to < f->entry_size || to + sizeof(struct xt_entry_target) > next) {
		LOG_REJECT(log, "entry at %u: bad target_offset %u (next_offset %u)", pos, to,
			   next);
		return -EINVAL;
	}
	t = xt_e_target_raw(f, e);
	if (xt_t_size(t) < sizeof(struct xt_entry_target) || to + xt_t_size(t) > next) {
		LOG_REJECT(log, "entry at %u: bad target size %u", pos, xt_t_size(t));
		return -EINVAL;
	}
	if (xt_is_standard(t)) {
		if (XT_ALIGN(to + sizeof(struct xt_standard_target)) != next) {
			LOG_REJECT(log, "entry at %u: standard target does not end the entry", pos);
			return -EINVAL;
		}
		if (!verdict_ok(xt_std_verdict(t))) {
			LOG_REJECT(log, "entry at %u: bad verdict %d", pos, xt_std_verdict(t));
			return -EINVAL;
		}
	} else if (xt_is_error(t)) {
		const char *errorname = t + offsetof(struct xt_error_target, errorname);

		if (xt_t_size(t) != sizeof(struct xt_error_target) ||
		    strnlen(errorname, XT_FUNCTION_MAXNAMELEN) == XT_FUNCTION_MAXNAMELEN) {
			LOG_REJECT(log, "entry at %u: bad ERROR target", pos);
			return -EINVAL;
		}
	}
	return check_entry_match(pos, (const char *)e + f->entry_size, t, log);
}

/* check_underflow: a policy is an unconditional ACCEPT or DROP. */
static bool check_underflow(const struct xt_fam *f, const void *e)
{
	const char *t = xt_e_target_raw(f, e);
	int v;

	if (!unconditional(f, e) || !xt_is_standard(t))
		return false;
	v = xt_std_verdict(t);
	return v == -NF_DROP - 1 || v == -NF_ACCEPT - 1;
}

/* check_entry_size_and_hooks */
static int check_entry_size_and_hooks(const struct xt_fam *f, const struct xt_repl *repl,
				      char *entry0, uint32_t pos, struct xt_info *info,
				      const struct bf_log *log)
{
	void *e = entry0 + pos;
	uint32_t next;
	int err;

	/* entry0 is 8-aligned, so the kernel's pointer alignment test is one on pos. */
	if (pos % __alignof__(struct ipt_entry) || (uint64_t)pos + f->entry_size >= repl->size) {
		LOG_REJECT(log, "entry at %u: misaligned or truncated", pos);
		return -EINVAL;
	}
	next = xt_e_next_offset(f, e);
	if ((uint64_t)pos + next > repl->size ||
	    next < f->entry_size + sizeof(struct xt_entry_target)) {
		LOG_REJECT(log, "entry at %u: bad next_offset %u", pos, next);
		return -EINVAL;
	}
	if (xt_e_flags(f, e) & ~f->f_mask || xt_e_invflags(f, e) & ~f->inv_mask) {
		LOG_REJECT(log, "entry at %u: unknown flag bits %#x/%#x", pos, xt_e_flags(f, e),
			   xt_e_invflags(f, e));
		return -EINVAL;
	}
	err = check_entry_offsets(f, pos, e, log);
	if (err)
		return err;

	for (unsigned int h = 0; h < XT_NHOOKS; h++) {
		if (!(repl->valid_hooks & (1u << h)))
			continue;
		if (pos == repl->hook_entry[h])
			info->hook_entry[h] = pos;
		if (pos == repl->underflow[h]) {
			if (!check_underflow(f, e)) {
				LOG_REJECT(log,
					   "entry at %u: underflow of hook %u is not an "
					   "unconditional ACCEPT or DROP",
					   pos, h);
				return -EINVAL;
			}
			info->underflow[h] = pos;
		}
	}
	memset(xt_e_counters(f, e), 0, sizeof(struct xt_counters));
	xt_e_set_comefrom(f, e, 0);
	return 0;
}

/* xt_check_table_hooks: every valid hook set, entries and underflows strictly increasing. */
static int check_table_hooks(const struct xt_info *info, uint32_t valid_hooks,
			     const struct bf_log *log)
{
	uint32_t max_entry = 0, max_uflow = 0;
	bool check = false;
	const char *err;

	for (unsigned int i = 0; i < XT_NHOOKS; i++) {
		if (!(valid_hooks & (1u << i)))
			continue;
		if (info->hook_entry[i] == XT_NOHOOK || info->underflow[i] == XT_NOHOOK) {
			LOG_REJECT(log, "hook %u: no entry or underflow at an entry start", i);
			return -EINVAL;
		}
		if (check) {
			err = NULL;
			if (max_uflow > info->underflow[i])
				err = "unsorted underflow";
			else if (max_uflow == info->underflow[i])
				err = "duplicate underflow";
			else if (max_entry > info->hook_entry[i])
				err = "unsorted entry";
			else if (max_entry == info->hook_entry[i])
				err = "duplicate entry";
			if (err) {
				LOG_REJECT(log, "%s at hook %u", err, i);
				return -EINVAL;
			}
		}
		max_entry = info->hook_entry[i];
		max_uflow = info->underflow[i];
		check = true;
	}
	return 0;
}

static bool find_jump_offset(const uint32_t *offsets, uint32_t target, uint32_t n)
{
	uint32_t lo = 0, hi = n;

	while (hi > lo) {
		uint32_t m = lo + (hi - lo) / 2;

		if (offsets[m] > target)
			hi = m;
		else if (offsets[m] < target)
			lo = m + 1;
		else
			return true;
	}
	return false;
}

/*
 * mark_source_chains, step for step: a depth-first walk from every hook without recursion, the
 * back pointers kept in the entries' packet counters as the kernel does, the "in progress" bit
 * (1 << NF_INET_NUMHOOKS) in comefrom to find loops. Its outcome (which blobs are loops, every
 * comefrom mask) is visible to iptables, so it is reproduced rather than reinvented.
 */
static bool mark_source_chains(const struct xt_fam *f, const struct xt_info *info,
			       uint32_t valid_hooks, char *entry0, const uint32_t *offsets)
{
	const uint32_t busy = 1u << XT_NHOOKS;

	for (unsigned int hook = 0; hook < XT_NHOOKS; hook++) {
		uint32_t pos = info->hook_entry[hook];
		void *e = entry0 + pos;

		if (!(valid_hooks & (1u << hook)))
			continue;
		xt_e_counters(f, e)->pcnt = pos;

		for (;;) {
			const char *t = xt_e_target_raw(f, e);
			uint32_t cf = xt_e_comefrom(f, e);
			bool visited = cf & (1u << hook);

			if (cf & busy)
				return false;
			xt_e_set_comefrom(f, e, cf | (1u << hook) | busy);

			if ((unconditional(f, e) && xt_is_standard(t) && xt_std_verdict(t) < 0) ||
			    visited) {
				uint32_t oldpos, size;

				/* Return: backtrack through the last big jump. */
				do {
					xt_e_set_comefrom(f, e, xt_e_comefrom(f, e) ^ busy);
					oldpos = pos;
					pos = xt_e_counters(f, e)->pcnt;
					xt_e_counters(f, e)->pcnt = 0;
					if (pos == oldpos)
						goto next;
					e = entry0 + pos;
				} while (oldpos == pos + xt_e_next_offset(f, e));

				/* Move along one. */
				size = xt_e_next_offset(f, e);
				if ((uint64_t)pos + size >= info->size)
					return false;
				e = entry0 + pos + size;
				xt_e_counters(f, e)->pcnt = pos;
				pos += size;
			} else {
				int newpos = xt_is_standard(t) ? xt_std_verdict(t) : -1;

				if (newpos >= 0) {
					/* A jump: it must land on an entry start. */
					if (!find_jump_offset(offsets, newpos, info->number))
						return false;
				} else {
					/* Anything else falls through. */
					if ((uint64_t)pos + xt_e_next_offset(f, e) >= info->size)
						return false;
					newpos = pos + xt_e_next_offset(f, e);
				}
				e = entry0 + newpos;
				xt_e_counters(f, e)->pcnt = pos;
				pos = newpos;
			}
		}
	next:;
	}
	return true;
}

static void textify_hooks(char *buf, size_t size, uint32_t mask)
{
	static const char *const names[] = {"PREROUTING", "INPUT",	 "FORWARD",
					    "OUTPUT",	  "POSTROUTING", "BROUTING"};
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < BF_ARRAY_SIZE(names); i++) {
		int res;

		if (!(mask & (1u << i)) || len >= size)
			continue;
		res = snprintf(buf + len, size - len, "%s%s", len ? "/" : "", names[i]);
		if (res > 0)
			len += res;
	}
}

/*
 * xt_request_find_match/target then xt_check_match/target: lookup, size, table, hooks, proto,
 * checkentry. `hdr` is the match or target header (same layout for both).
 */
static int find_check_ext(const struct xt_fam *f, enum bf_ext_kind kind, const char *table,
			  const struct bf_entry *entry, const struct xt_entry_match *hdr,
			  uint8_t inv_proto, const struct bf_log *log)
{
	const char *what = kind == BF_EXT_MATCH ? "match" : "target";
	const char *name = hdr->u.user.name;
	const struct bf_ext *ext = NULL;
	struct bf_check_ctx ctx;
	char used[64], allow[64];
	uint16_t user_size;
	int err;

	if (strnlen(name, XT_EXTENSION_MAXNAMELEN) == XT_EXTENSION_MAXNAMELEN) {
		LOG_REJECT(log, "entry %u: %s name is not NUL-terminated", entry->index, what);
		return -EINVAL;
	}
	err = bf_ext_find(kind, f->family, name, hdr->u.user.revision, &ext);
	if (err == -ENOENT) {
		LOG_REJECT(log, "extension %s rev %u is not supported by bpfilter", name,
			   hdr->u.user.revision);
		return err;
	}
	if (err) {
		LOG_REJECT(log, "extension %s rev %u: only other revisions are supported (%s)",
			   name, hdr->u.user.revision, strerror(-err));
		return err;
	}

	user_size = hdr->u.match_size - sizeof(*hdr);
	if (XT_ALIGN(ext->size) != user_size) {
		bf_logf(log, BF_LOG_ERR,
			"%s_tables: %s.%u %s: invalid size %zu (kernel) != (user) %u", f->prefix,
			ext->name, ext->revision, what, (size_t)XT_ALIGN(ext->size), user_size);
		return -EINVAL;
	}
	if (ext->table && strcmp(ext->table, table)) {
		LOG_REJECT(log, "%s_tables: %s %s: only valid in %s table, not %s", f->prefix,
			   ext->name, what, ext->table, table);
		return -EINVAL;
	}
	if (ext->hooks && (entry->comefrom & ~ext->hooks)) {
		textify_hooks(used, sizeof(used), entry->comefrom);
		textify_hooks(allow, sizeof(allow), ext->hooks);
		LOG_REJECT(log, "%s_tables: %s %s: used from hooks %s, but only %s from %s",
			   f->prefix, ext->name, what, used,
			   kind == BF_EXT_MATCH ? "valid" : "usable", allow);
		return -EINVAL;
	}
	if (ext->proto && (ext->proto != xt_e_proto(f, entry->ip) || inv_proto)) {
		LOG_REJECT(log, "%s_tables: %s %s: only valid for protocol %u", f->prefix,
			   ext->name, what, ext->proto);
		return -EINVAL;
	}
	if (ext->enforced_family && ext->enforced_family != f->family) {
		LOG_REJECT(log, "%s_tables: %s %s is not supported by bpfilter in this family yet",
			   f->prefix, ext->name, what);
		return -EOPNOTSUPP;
	}
	if (ext->check) {
		ctx = (struct bf_check_ctx){
			.table = table,
			.family = f->family,
			.hook_mask = entry->comefrom,
			.entry = entry,
			.log = log,
		};
		err = ext->check(&ctx, hdr->data);
		if (err < 0) {
			LOG_REJECT(log, "%s_tables: %s %s: check failed: %s", f->prefix, ext->name,
				   what, strerror(-err));
			return err;
		}
		if (err > 0) {
			LOG_REJECT(log, "%s_tables: %s %s: check returned %d", f->prefix, ext->name,
				   what, err);
			return -EIO;
		}
	}
	return 0;
}

/* find_check_entry: the matches in order, then the target. */
static int find_check_entry(const struct xt_fam *f, const char *table, const char *entry0,
			    uint32_t pos, uint32_t index, const struct bf_log *log)
{
	const char *e = entry0 + pos;
	uint32_t to = xt_e_target_offset(f, e);
	uint8_t inv_proto = xt_e_invflags(f, e) & f->inv_proto;
	struct bf_entry entry = {
		.index = index,
		.offset = pos,
		.comefrom = xt_e_comefrom(f, e),
		.ip = (const void *)e, /* the entry starts with its ipt_ip/ip6t_ip6 */
	};
	int err;

	for (uint32_t i = f->entry_size; i < to;) {
		const struct xt_entry_match *m = (const void *)(e + i);

		err = find_check_ext(f, BF_EXT_MATCH, table, &entry, m, inv_proto, log);
		if (err)
			return err;
		i += m->u.match_size;
	}
	return find_check_ext(f, BF_EXT_TARGET, table, &entry, (const void *)(e + to), inv_proto,
			      log);
}

int xt_translate_table(const struct xt_fam *f, const struct xt_repl *repl, void *entry0,
		       const struct bf_log *log, struct xt_info *info)
{
	_cleanup_free_ uint32_t *offsets = NULL;
	struct xt_info ni = {.size = repl->size, .number = repl->num_entries};
	uint32_t pos, i, cap;
	char *base = entry0;
	int err;

	for (i = 0; i < XT_NHOOKS; i++) {
		ni.hook_entry[i] = XT_NOHOOK;
		ni.underflow[i] = XT_NOHOOK;
	}

	/* xt_alloc_entry_offsets. No more entries than fit in `size` can be walked, so the array
	 * is capped there: a larger num_entries fails the count check below, as in the kernel. */
	if (repl->num_entries > XT_MAX_TABLE_SIZE / sizeof(uint32_t))
		return -ENOMEM;
	cap = repl->size / (f->entry_size + sizeof(struct xt_entry_target)) + 1;
	offsets = calloc(repl->num_entries < cap ? repl->num_entries : cap, sizeof(*offsets));
	if (!offsets && repl->num_entries)
		return -ENOMEM;

	for (pos = 0, i = 0; pos < repl->size; pos += xt_e_next_offset(f, base + pos), i++) {
		err = check_entry_size_and_hooks(f, repl, base, pos, &ni, log);
		if (err)
			return err;
		if (i < repl->num_entries && i < cap)
			offsets[i] = pos;
		if (xt_is_error(xt_e_target_raw(f, base + pos)))
			ni.stacksize++;
	}
	if (i != repl->num_entries) {
		LOG_REJECT(log, "%u entries in the blob, num_entries says %u", i,
			   repl->num_entries);
		return -EINVAL;
	}
	err = check_table_hooks(&ni, repl->valid_hooks, log);
	if (err)
		return err;
	if (!mark_source_chains(f, &ni, repl->valid_hooks, base, offsets)) {
		LOG_REJECT(log, "loop, or a jump or fall-through that lands outside an entry");
		return -ELOOP;
	}

	for (pos = 0, i = 0; pos < repl->size; pos += xt_e_next_offset(f, base + pos), i++) {
		err = find_check_entry(f, repl->name, base, pos, i, log);
		if (err)
			return err;
	}
	*info = ni;
	return 0;
}
