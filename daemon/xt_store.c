// SPDX-License-Identifier: GPL-2.0-only
/*
 * The table store: do_ipt_get_ctl/do_ipt_set_ctl of net/ipv4/netfilter/ip_tables.c over the
 * tables bpfilter keeps. Per table: the blob as GET_ENTRIES returns it, the decoded model, the
 * current datapath generation and the counter bases (GET_ENTRIES reports base + datapath).
 * Validation lives in xt_validate.c, decoding in xt_decode.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "bpfilter/cleanup.h"
#include "../codegen/ext.h"
#include "mem.h"
#include "xt_decode.h"
#include "xt_store.h"
#include "xt_validate.h"

/* Built-in tables that come into existence on first lookup, like the kernel's templates. Only
 * filter is offered: nat, mangle, raw and security answer ENOENT. */
static const struct xt_template {
	const struct xt_fam *fam;
	const char *name;
	uint32_t valid_hooks;
} templates[] = {
	{&xt_fam_ipv4, "filter",
	 (1u << NF_INET_LOCAL_IN) | (1u << NF_INET_FORWARD) | (1u << NF_INET_LOCAL_OUT)},
	{&xt_fam_ipv6, "filter",
	 (1u << NF_INET_LOCAL_IN) | (1u << NF_INET_FORWARD) | (1u << NF_INET_LOCAL_OUT)},
};

struct xt_table {
	struct xt_table *next;
	const struct xt_fam *fam;
	char name[XT_TABLE_MAXNAMELEN];
	uint32_t valid_hooks;
	void *mem;  /* the allocation that holds blob: blob itself, or a SET_REPLACE request */
	void *blob; /* as GET_ENTRIES returns it, counters zero */
	struct xt_info info;
	/* No model: it is only needed to compile the generation and is freed once loaded (at
	 * 100k rules it is as large as the blob). */
	struct xt_counters *base; /* info.number */
	void *gen;		  /* datapath generation, NULL without a datapath */
	/* While a replace compiles, the old blob is only needed again if the datapath refuses the
	 * new table: it is held packed (blob NULL) meanwhile. See blob_pack. */
	void *packed;
	size_t packed_len;
};

struct xt_store {
	struct xt_datapath dp;
	bool has_dp;
	struct bf_log log;
	struct xt_table *tables; /* in instantiation order */
};

/* A validated, normalized and decoded blob that is not installed yet. */
struct xt_new {
	void *mem; /* holds blob; the caller's (not freed here) if borrowed */
	bool borrowed;
	void *blob;
	struct xt_info info;
	struct bf_table_model *model;
};

static void xt_new_clear(struct xt_new *n)
{
	bf_table_model_free(n->model);
	if (!n->borrowed)
		free(n->mem);
	*n = (struct xt_new){0};
}

/*
 * translate_table on the caller's blob, then the stored form and the model. With `mem` (the
 * malloc'd buffer src lies in) the work is done in place and the store keeps that buffer if the
 * request succeeds: at 100k rules a copy is 18 MB more at the peak of a replace. Otherwise on a
 * private copy.
 */
static int xt_new_build(struct xt_store *s, const struct xt_fam *f, const struct xt_repl *repl,
			const void *src, void *mem, bool decode, struct xt_new *out)
{
	struct xt_new n = {0};
	int err;

	if (mem) {
		n.mem = mem;
		n.borrowed = true;
		n.blob = (void *)src;
	} else {
		n.mem = malloc(repl->size ? repl->size : 1);
		if (!n.mem)
			return -ENOMEM;
		memcpy(n.mem, src, repl->size);
		n.blob = n.mem;
	}
	err = xt_translate_table(f, repl, n.blob, &s->log, &n.info);
	if (!err)
		err = xt_normalize_blob(f, n.blob, n.info.size);
	if (!err && decode)
		err = xt_decode(f, repl->name, repl->valid_hooks, &n.info, n.blob, &n.model);
	if (err) {
		xt_new_clear(&n);
		return err;
	}
	*out = n;
	return 0;
}

/*
 * A blob is mostly zero (names and masks padded with zeros, zero counters): packed as a bitmap of
 * its non-zero 32-bit words followed by those words, it is 4-5x smaller (bench/gen_ruleset.py:
 * 18 MB -> 4 MB at 100k rules). Only used for the old blob while a replace compiles, where the
 * raw one would be 18 MB of the peak.
 */
#define BLOB_PACK_MIN (64u << 10)

static int blob_pack(const void *blob, uint32_t size, void **out, size_t *outlen)
{
	const uint32_t *w = blob;
	size_t n = size / 4, nz = 0, bm = ((n + 7) / 8 + 3) & ~(size_t)3;
	uint32_t *vals;
	uint8_t *p;

	if (size % 4)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		nz += !!w[i];
	/* The bitmap, padded so that the words after it are aligned. */
	p = calloc(1, bm + nz * 4 + 1);
	if (!p)
		return -ENOMEM;
	vals = (uint32_t *)(p + bm);
	for (size_t i = 0, k = 0; i < n; i++) {
		if (!w[i])
			continue;
		p[i / 8] |= 1u << (i % 8);
		vals[k++] = w[i];
	}
	*out = p;
	*outlen = bm + nz * 4;
	return 0;
}

static int blob_unpack(const void *packed, size_t len, uint32_t size, void **out)
{
	size_t n = size / 4, bm = ((n + 7) / 8 + 3) & ~(size_t)3, k = 0;
	const uint8_t *p = packed;
	const uint32_t *vals = (const uint32_t *)(p + bm);
	uint32_t *w;

	if (len < bm)
		return -EINVAL;
	w = calloc(1, size ? size : 1);
	if (!w)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!(p[i / 8] & (1u << (i % 8))))
			continue;
		if (bm + (k + 1) * 4 > len) {
			free(w);
			return -EINVAL;
		}
		w[i] = vals[k++];
	}
	*out = w;
	return 0;
}

/* Back to a raw blob after a replace that did not happen. */
static int table_unpack(struct xt_table *t)
{
	void *raw = NULL;
	int err;

	if (!t->packed)
		return 0;
	err = blob_unpack(t->packed, t->packed_len, t->info.size, &raw);
	if (err)
		return err;
	t->mem = t->blob = raw;
	free(t->packed);
	t->packed = NULL;
	return 0;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Datapath counters of entries [0, n) of gen: zero without a datapath. */
static int dp_read(struct xt_store *s, void *gen, uint32_t n, struct xt_counters *out)
{
	memset(out, 0, sizeof(*out) * n);
	if (!s->has_dp || !n)
		return 0;
	return s->dp.read(s->dp.ctx, gen, n, out);
}

static int dp_switch(struct xt_store *s, const struct bf_table_model *m, void **gen)
{
	void *g = NULL;
	int err;

	if (!s->has_dp) {
		*gen = NULL;
		return 0;
	}
	err = s->dp.prepare(s->dp.ctx, m, &g);
	if (err)
		return err;
	err = s->dp.commit(s->dp.ctx, m, g);
	if (err) {
		s->dp.release(s->dp.ctx, g);
		return err;
	}
	*gen = g;
	return 0;
}

static void table_free(struct xt_store *s, struct xt_table *t)
{
	if (!t)
		return;
	if (s->has_dp && t->gen)
		s->dp.release(s->dp.ctx, t->gen);
	free(t->mem);
	free(t->packed);
	free(t->base);
	free(t);
}

/* The kernel's initial table (xt_alloc_initial_table): an ACCEPT policy per valid hook in hook
 * order, then the ERROR tail. */
static int initial_blob(const struct xt_fam *f, uint32_t valid_hooks, struct xt_repl *repl,
			void **out)
{
	uint32_t std = f->entry_size + XT_ALIGN(sizeof(struct xt_standard_target));
	uint32_t tail = f->entry_size + XT_ALIGN(sizeof(struct xt_error_target));
	uint32_t n = __builtin_popcount(valid_hooks & ((1u << XT_NHOOKS) - 1));
	uint32_t pos = 0;
	char *blob;

	repl->valid_hooks = valid_hooks;
	repl->num_entries = n + 1;
	repl->size = n * std + tail;
	blob = calloc(1, repl->size);
	if (!blob)
		return -ENOMEM;
	for (unsigned int h = 0; h < XT_NHOOKS; h++) {
		struct xt_standard_target *st;
		uint16_t to = f->entry_size, no = std;

		repl->hook_entry[h] = repl->underflow[h] = 0;
		if (!(valid_hooks & (1u << h)))
			continue;
		repl->hook_entry[h] = repl->underflow[h] = pos;
		memcpy(blob + pos + f->off_target_offset, &to, sizeof(to));
		memcpy(blob + pos + f->off_next_offset, &no, sizeof(no));
		st = (void *)(blob + pos + f->entry_size);
		st->target.u.user.target_size = sizeof(*st);
		st->verdict = -NF_ACCEPT - 1;
		pos += std;
	}
	{
		struct xt_error_target *et = (void *)(blob + pos + f->entry_size);
		uint16_t to = f->entry_size, no = tail;

		memcpy(blob + pos + f->off_target_offset, &to, sizeof(to));
		memcpy(blob + pos + f->off_next_offset, &no, sizeof(no));
		et->target.u.user.target_size = sizeof(*et);
		strcpy(et->target.u.user.name, XT_ERROR_TARGET);
		strcpy(et->errorname, XT_ERROR_TARGET);
	}
	*out = blob;
	return 0;
}

static int table_instantiate(struct xt_store *s, const struct xt_template *tp,
			     struct xt_table **out)
{
	_cleanup_free_ void *src = NULL;
	struct xt_repl repl = {.name = tp->name};
	struct xt_new n = {0};
	struct xt_table *t;
	int err;

	err = initial_blob(tp->fam, tp->valid_hooks, &repl, &src);
	if (err)
		return err;
	err = xt_new_build(s, tp->fam, &repl, src, NULL, true, &n);
	if (err) {
		bf_logf(&s->log, BF_LOG_ERR, "initial %s table refused: %s", tp->name,
			strerror(-err));
		return err;
	}
	t = calloc(1, sizeof(*t));
	if (t)
		t->base = calloc(n.info.number, sizeof(*t->base));
	if (!t || !t->base) {
		free(t);
		xt_new_clear(&n);
		return -ENOMEM;
	}
	err = dp_switch(s, n.model, &t->gen);
	if (err) {
		bf_logf(&s->log, BF_LOG_ERR, "loading the initial %s table failed: %s", tp->name,
			strerror(-err));
		free(t->base);
		free(t);
		xt_new_clear(&n);
		return err;
	}
	t->fam = tp->fam;
	snprintf(t->name, sizeof(t->name), "%s", tp->name);
	t->valid_hooks = tp->valid_hooks;
	t->mem = TAKE_PTR(n.mem);
	t->blob = n.blob;
	t->info = n.info;
	xt_new_clear(&n);

	/* Append: /proc/net/ip_tables_names lists tables in the order they appeared. */
	for (struct xt_table **p = &s->tables;; p = &(*p)->next) {
		if (!*p) {
			*p = t;
			break;
		}
	}
	*out = t;
	return 0;
}

/* xt_find_table_lock: an existing table, or a template instantiated now; else -ENOENT. */
static int table_find(struct xt_store *s, const struct xt_fam *f, const char *name,
		      struct xt_table **out)
{
	for (struct xt_table *t = s->tables; t; t = t->next) {
		if (t->fam == f && !strcmp(t->name, name)) {
			*out = t;
			return 0;
		}
	}
	for (size_t i = 0; i < BF_ARRAY_SIZE(templates); i++) {
		if (templates[i].fam == f && !strcmp(templates[i].name, name))
			return table_instantiate(s, &templates[i], out);
	}
	return -ENOENT;
}

int xt_store_new(const struct xt_datapath *dp, const struct bf_log *log, struct xt_store **out)
{
	struct xt_store *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	if (dp) {
		if (!dp->prepare || !dp->commit || !dp->read || !dp->release) {
			free(s);
			return -EINVAL;
		}
		s->dp = *dp;
		s->has_dp = true;
	}
	if (log)
		s->log = *log;
	*out = s;
	return 0;
}

void xt_store_free(struct xt_store *s)
{
	if (!s)
		return;
	while (s->tables) {
		struct xt_table *t = s->tables;

		s->tables = t->next;
		table_free(s, t);
	}
	free(s);
}

static const struct xt_fam *fam_of_level(int level)
{
	if (level == SOL_IP)
		return &xt_fam_ipv4;
	return level == SOL_IPV6 ? &xt_fam_ipv6 : NULL;
}

/* ip6_tables registers its GET_REVISION optnames at 68/69 (66/67 are IPV6_RECVTCLASS and
 * IPV6_TCLASS); map them onto the IPv4 numbers the switches below use. Any other optname keeps
 * its value, so that SOL_IPV6 66/67 still answer ENOPROTOOPT. */
static int std_optname(const struct xt_fam *f, int optname)
{
	if (f->family != NFPROTO_IPV6)
		return optname;
	switch (optname) {
	case IP6T_SO_GET_REVISION_MATCH:
		return IPT_SO_GET_REVISION_MATCH;
	case IP6T_SO_GET_REVISION_TARGET:
		return IPT_SO_GET_REVISION_TARGET;
	case IPT_SO_GET_REVISION_MATCH:
	case IPT_SO_GET_REVISION_TARGET:
		return -1;
	default:
		return optname;
	}
}

static int get_info(struct xt_store *s, const struct xt_fam *f, const void *in, uint32_t inlen,
		    uint32_t optlen, void **out, uint32_t *outlen)
{
	char name[XT_TABLE_MAXNAMELEN];
	struct ipt_getinfo *info;
	struct xt_table *t;
	int err;

	if (optlen != sizeof(*info))
		return -EINVAL;
	if (inlen < sizeof(name))
		return -EFAULT;
	memcpy(name, in, sizeof(name));
	name[sizeof(name) - 1] = '\0';
	err = table_find(s, f, name, &t);
	if (err)
		return err;

	info = calloc(1, sizeof(*info));
	if (!info)
		return -ENOMEM;
	info->valid_hooks = t->valid_hooks;
	memcpy(info->hook_entry, t->info.hook_entry, sizeof(info->hook_entry));
	memcpy(info->underflow, t->info.underflow, sizeof(info->underflow));
	info->num_entries = t->info.number;
	info->size = t->info.size;
	strcpy(info->name, name);
	*out = info;
	*outlen = sizeof(*info);
	return 0;
}

/* c[i] += t's base of entry i, for every entry of t. */
static void add_bases(const struct xt_table *t, struct xt_counters *c)
{
	for (uint32_t i = 0; i < t->info.number; i++) {
		c[i].pcnt += t->base[i].pcnt;
		c[i].bcnt += t->base[i].bcnt;
	}
}

/* The current counters of t: base + datapath. */
static int table_counters(struct xt_store *s, struct xt_table *t, struct xt_counters **out)
{
	struct xt_counters *c = calloc(t->info.number ? t->info.number : 1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	err = dp_read(s, t->gen, t->info.number, c);
	if (err) {
		free(c);
		return err;
	}
	add_bases(t, c);
	*out = c;
	return 0;
}

static int get_entries(struct xt_store *s, const struct xt_fam *f, const void *in, uint32_t inlen,
		       uint32_t optlen, void **out, uint32_t *outlen)
{
	_cleanup_free_ struct xt_counters *counters = NULL;
	struct ipt_get_entries get;
	struct xt_table *t;
	char *buf, *blob;
	uint32_t pos, i;
	int err;

	if (optlen < sizeof(get))
		return -EINVAL;
	if (inlen < sizeof(get))
		return -EFAULT;
	memcpy(&get, in, sizeof(get));
	if ((uint64_t)optlen != sizeof(get) + (uint64_t)get.size)
		return -EINVAL;
	get.name[sizeof(get.name) - 1] = '\0';
	err = table_find(s, f, get.name, &t);
	if (err)
		return err;
	if (get.size != t->info.size) {
		bf_logf(&s->log, BF_LOG_DEBUG, "GET_ENTRIES %s: size %u, table has %u", get.name,
			get.size, t->info.size);
		return -EAGAIN;
	}
	err = table_unpack(t);
	if (!err)
		err = table_counters(s, t, &counters);
	if (err)
		return err;

	buf = malloc(sizeof(get) + t->info.size);
	if (!buf)
		return -ENOMEM;
	bfd_prefault(buf, sizeof(get) + t->info.size);
	/* The kernel writes only entrytable[]: the header goes back as the caller sent it. */
	memcpy(buf, in, sizeof(get));
	blob = buf + sizeof(get);
	memcpy(blob, t->blob, t->info.size);
	for (pos = 0, i = 0; pos < t->info.size; pos += xt_e_next_offset(f, blob + pos), i++)
		memcpy(xt_e_counters(f, blob + pos), &counters[i], sizeof(counters[i]));
	*out = buf;
	*outlen = sizeof(get) + t->info.size;
	return 0;
}

static int get_revision(const struct xt_fam *f, enum bf_ext_kind kind, const void *in,
			uint32_t inlen, uint32_t optlen)
{
	struct xt_get_revision rev;

	if (optlen != sizeof(rev))
		return -EINVAL;
	if (inlen < sizeof(rev))
		return -EFAULT;
	memcpy(&rev, in, sizeof(rev));
	rev.name[sizeof(rev.name) - 1] = '\0';
	return bf_ext_revision(kind, f->family, rev.name, rev.revision);
}

int xt_store_getsockopt(struct xt_store *s, int level, int optname, const void *in, uint32_t inlen,
			uint32_t optlen, void **out, uint32_t *outlen, uint32_t *new_optlen)
{
	const struct xt_fam *f = fam_of_level(level);
	void *buf = NULL;
	uint32_t len = 0;
	int err;

	if (!f)
		return -ENOPROTOOPT;
	switch (std_optname(f, optname)) {
	case IPT_SO_GET_INFO:
		err = get_info(s, f, in, inlen, optlen, &buf, &len);
		break;
	case IPT_SO_GET_ENTRIES:
		err = get_entries(s, f, in, inlen, optlen, &buf, &len);
		break;
	case IPT_SO_GET_REVISION_MATCH:
		err = get_revision(f, BF_EXT_MATCH, in, inlen, optlen);
		break;
	case IPT_SO_GET_REVISION_TARGET:
		err = get_revision(f, BF_EXT_TARGET, in, inlen, optlen);
		break;
	default:
		return -ENOPROTOOPT;
	}
	if (err)
		return err;
	/* Success never changes *optlen (ip_getsockopt puts back the length it was given). */
	*out = buf;
	*outlen = len;
	*new_optlen = optlen;
	return 0;
}

/* do_replace, __do_replace and xt_replace_table. `take`: see xt_store_setsockopt_take. */
static int set_replace(struct xt_store *s, const struct xt_fam *f, const void *in, uint32_t len,
		       void **take, void **out, uint32_t *outlen)
{
	struct ipt_replace tmp;
	struct xt_repl repl;
	struct xt_new n = {0};
	struct xt_counters *old, *base;
	struct xt_table *t;
	void *gen = NULL;
	struct timespec t0;
	double ms_build, ms_alloc, ms_switch;
	int err;

	if (len < sizeof(tmp)) {
		bf_logf(&s->log, BF_LOG_INFO, "SET_REPLACE: %u bytes, shorter than the header",
			len);
		return -EINVAL;
	}
	memcpy(&tmp, in, sizeof(tmp));
	tmp.name[sizeof(tmp.name) - 1] = '\0';
	if (tmp.num_counters >= INT_MAX / sizeof(struct xt_counters) || tmp.num_counters == 0) {
		bf_logf(&s->log, BF_LOG_INFO, "SET_REPLACE %s: bad num_counters %u", tmp.name,
			tmp.num_counters);
		return tmp.num_counters ? -ENOMEM : -EINVAL;
	}
	if ((uint64_t)len < (uint64_t)tmp.size + sizeof(tmp)) {
		bf_logf(&s->log, BF_LOG_INFO, "SET_REPLACE %s: size %u does not fit in %u bytes",
			tmp.name, tmp.size, len);
		return -EINVAL;
	}
	/* xt_alloc_table_info */
	if ((uint64_t)tmp.size + XT_TABLE_INFO_SIZE >= XT_MAX_TABLE_SIZE) {
		bf_logf(&s->log, BF_LOG_INFO, "SET_REPLACE %s: size %u is too large", tmp.name,
			tmp.size);
		return -ENOMEM;
	}

	repl = (struct xt_repl){
		.name = tmp.name,
		.valid_hooks = tmp.valid_hooks,
		.num_entries = tmp.num_entries,
		.size = tmp.size,
	};
	memcpy(repl.hook_entry, tmp.hook_entry, sizeof(repl.hook_entry));
	memcpy(repl.underflow, tmp.underflow, sizeof(repl.underflow));
	/* translate_table runs before the table lookup: a bad blob for an unknown table is
	 * EINVAL/ELOOP, not ENOENT. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = xt_new_build(s, f, &repl, (const char *)in + sizeof(tmp), take ? *take : NULL, false,
			   &n);
	if (err)
		return err;
	ms_build = ms_since(&t0);

	/* xt_counters_alloc */
	if ((uint64_t)tmp.num_counters * sizeof(struct xt_counters) > XT_MAX_TABLE_SIZE) {
		err = -ENOMEM;
		goto err_new;
	}
	err = table_find(s, f, tmp.name, &t);
	if (err) {
		bf_logf(&s->log, BF_LOG_INFO, "SET_REPLACE: no table %s", tmp.name);
		goto err_new;
	}
	err = table_unpack(t); /* a previous replace failed and could not unpack it */
	if (err)
		goto err_new;
	if (tmp.valid_hooks != t->valid_hooks) {
		bf_logf(&s->log, BF_LOG_INFO, "SET_REPLACE %s: valid_hooks %#x, the table has %#x",
			tmp.name, tmp.valid_hooks, t->valid_hooks);
		err = -EINVAL;
		goto err_new;
	}
	if (tmp.num_counters != t->info.number) {
		bf_logf(&s->log, BF_LOG_INFO, "SET_REPLACE %s: num_counters %u, the table has %u",
			tmp.name, tmp.num_counters, t->info.number);
		err = -EAGAIN;
		goto err_new;
	}

	old = calloc(t->info.number ? t->info.number : 1, sizeof(*old));
	base = calloc(n.info.number ? n.info.number : 1, sizeof(*base));
	if (!old || !base) {
		free(old);
		free(base);
		err = -ENOMEM;
		goto err_new;
	}
	if (t->info.size >= BLOB_PACK_MIN &&
	    !blob_pack(t->blob, t->info.size, &t->packed, &t->packed_len)) {
		free(t->mem);
		t->mem = t->blob = NULL;
	}
	/* The model last: it is as large as the blob, and only the compilation needs it. Decoding
	 * fails only for lack of memory once translate_table passed. */
	ms_alloc = ms_since(&t0);
	err = xt_decode(f, repl.name, repl.valid_hooks, &n.info, n.blob, &n.model);
	ms_build += ms_since(&t0) - ms_alloc;
	ms_alloc = ms_since(&t0);
	if (!err)
		err = dp_switch(s, n.model, &gen);
	if (err) {
		bf_logf(&s->log, BF_LOG_ERR, "SET_REPLACE %s: %s the table: %s", tmp.name,
			n.model ? "the datapath refused" : "cannot decode", strerror(-err));
		/* If memory is short now, GET_ENTRIES and the next replace retry. */
		if (table_unpack(t))
			bf_logf(&s->log, BF_LOG_WARN, "SET_REPLACE %s: cannot unpack the table yet",
				tmp.name);
		free(old);
		free(base);
		goto err_new;
	}
	ms_switch = ms_since(&t0);
	bf_table_model_free(TAKE_PTR(n.model)); /* loaded: not needed any more */
	/* The new generation runs; the previous one is quiescent and its counters final. Like the
	 * kernel after the swap, nothing can fail the call any more. */
	if (dp_read(s, t->gen, t->info.number, old)) {
		bf_logf(&s->log, BF_LOG_WARN,
			"SET_REPLACE %s: reading the old counters failed, reporting bases only",
			tmp.name);
		memset(old, 0, t->info.number * sizeof(*old));
	}
	add_bases(t, old);
	if (s->has_dp && t->gen)
		s->dp.release(s->dp.ctx, t->gen);
	free(t->mem);
	free(t->packed);
	t->packed = NULL;
	free(t->base);
	t->mem = TAKE_PTR(n.mem);
	t->blob = n.blob;
	if (n.borrowed)
		*take = NULL; /* the table's now */
	t->info = n.info;
	t->base = base;
	t->gen = gen;

	*out = old;
	*outlen = tmp.num_counters * sizeof(*old);
	/* Where a replace spends its time (doc/design.md, "Control plane cost"). */
	bf_logf(&s->log, BF_LOG_DEBUG,
		"SET_REPLACE %s: %u entries: validate+decode %.1f ms, datapath %.1f ms, total %.1f "
		"ms",
		tmp.name, n.info.number, ms_build, ms_switch - ms_alloc, ms_since(&t0));
	return 0;

err_new:
	xt_new_clear(&n);
	return err;
}

/* do_add_counters and xt_copy_counters. */
static int set_add_counters(struct xt_store *s, const struct xt_fam *f, const void *in,
			    uint32_t len)
{
	struct xt_counters_info tmp;
	const char *src = (const char *)in + sizeof(tmp);
	struct xt_table *t;
	int err;

	if (len <= sizeof(tmp)) {
		bf_logf(&s->log, BF_LOG_INFO, "SET_ADD_COUNTERS: %u bytes, no counters", len);
		return -EINVAL;
	}
	memcpy(&tmp, in, sizeof(tmp));
	tmp.name[sizeof(tmp.name) - 1] = '\0';
	if ((uint64_t)tmp.num_counters * sizeof(struct xt_counters) != len - sizeof(tmp)) {
		bf_logf(&s->log, BF_LOG_INFO, "SET_ADD_COUNTERS %s: %u counters in %u bytes",
			tmp.name, tmp.num_counters, len);
		return -EINVAL;
	}
	/* xt_find_table_lock: like the kernel's, this lookup instantiates a built-in table. */
	err = table_find(s, f, tmp.name, &t);
	if (err)
		return err;
	if (tmp.num_counters != t->info.number) {
		bf_logf(&s->log, BF_LOG_INFO, "SET_ADD_COUNTERS %s: %u counters, the table has %u",
			tmp.name, tmp.num_counters, t->info.number);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < tmp.num_counters; i++) {
		struct xt_counters c;

		memcpy(&c, src + i * sizeof(c), sizeof(c));
		t->base[i].pcnt += c.pcnt;
		t->base[i].bcnt += c.bcnt;
	}
	return 0;
}

static int setsockopt_common(struct xt_store *s, int level, int optname, const void *in,
			     uint32_t len, void **take, void **out, uint32_t *outlen)
{
	const struct xt_fam *f = fam_of_level(level);
	void *buf = NULL;
	uint32_t blen = 0;
	int err;

	if (!f)
		return -ENOPROTOOPT;
	switch (optname) {
	case IPT_SO_SET_REPLACE:
		err = set_replace(s, f, in, len, take, &buf, &blen);
		break;
	case IPT_SO_SET_ADD_COUNTERS:
		err = set_add_counters(s, f, in, len);
		break;
	default:
		return -ENOPROTOOPT;
	}
	if (err)
		return err;
	*out = buf;
	*outlen = blen;
	return 0;
}

int xt_store_setsockopt(struct xt_store *s, int level, int optname, const void *in, uint32_t len,
			void **out, uint32_t *outlen)
{
	return setsockopt_common(s, level, optname, in, len, NULL, out, outlen);
}

int xt_store_setsockopt_take(struct xt_store *s, int level, int optname, void **in, uint32_t len,
			     void **out, uint32_t *outlen)
{
	struct ipt_replace h;

	/* Keeping a request much longer than its table (optlen may exceed size) would pin the
	 * difference: copy those instead. */
	if (optname == IPT_SO_SET_REPLACE && len >= sizeof(h)) {
		memcpy(&h, *in, sizeof(h));
		if ((uint64_t)len - sizeof(h) > (uint64_t)h.size + 4096)
			return setsockopt_common(s, level, optname, *in, len, NULL, out, outlen);
	}
	return setsockopt_common(s, level, optname, *in, len, in, out, outlen);
}

int xt_store_table_image(const struct xt_store *s, int family, const char *name,
			 struct ipt_replace *hdr, const void **entries, uint32_t *size)
{
	for (const struct xt_table *t = s->tables; t; t = t->next) {
		if (t->fam->family != family || strcmp(t->name, name))
			continue;
		if (!t->blob)
			return -ENOMEM; /* packed and not unpacked after a failed replace */
		*hdr = (struct ipt_replace){
			.valid_hooks = t->valid_hooks,
			.num_entries = t->info.number,
			.size = t->info.size,
			.num_counters = t->info.number,
		};
		snprintf(hdr->name, sizeof(hdr->name), "%s", t->name);
		memcpy(hdr->hook_entry, t->info.hook_entry, sizeof(hdr->hook_entry));
		memcpy(hdr->underflow, t->info.underflow, sizeof(hdr->underflow));
		*entries = t->blob;
		*size = t->info.size;
		return 0;
	}
	return -ENOENT;
}

int xt_store_table_names(struct xt_store *s, int family, char **text, size_t *len)
{
	size_t n = 0;
	char *buf;

	for (struct xt_table *t = s->tables; t; t = t->next)
		if (t->fam->family == family)
			n += strlen(t->name) + 1;
	buf = malloc(n + 1);
	if (!buf)
		return -ENOMEM;
	n = 0;
	for (struct xt_table *t = s->tables; t; t = t->next) {
		if (t->fam->family != family)
			continue;
		n += sprintf(buf + n, "%s\n", t->name);
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

int xt_store_recent(struct xt_store *s, bool write, const char *name, const void *in, uint32_t len,
		    void **out, uint32_t *outlen, uint32_t *written)
{
	if (!s->dp.recent)
		return -ENOENT;
	return s->dp.recent(s->dp.ctx, write, name, in, len, out, outlen, written);
}
