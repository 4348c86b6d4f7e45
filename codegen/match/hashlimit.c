// SPDX-License-Identifier: GPL-2.0-only
/*
 * hashlimit match, revisions 1, 2 and 3, IPv4 and IPv6 (xt_hashlimit.c; doc/stateful.md).
 *
 * Checkentry is hashlimit_mt_check_common after xt_check_proc_name. The tables are named,
 * per family (htable_find_get), shared by the rules naming them and kept across replaces:
 * extstate.h's bf_hl maps, whose registry is below. The table keeps the configuration of the
 * rule that created it and, as in the kernel, decides the hash key (mode, masks), the entry's
 * initial state and its refill (rateinfo_init / rateinfo_recalc with the rule's revision),
 * while the rule decides how the entry is charged (its own mode: bytes, rate-match, invert).
 * The generated code is hashlimit_mt_common with jiffies from bpf_jiffies64() and each entry
 * under its own bpf_spin_lock.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_hashlimit.h>

#include <bpfilter/cleanup.h>

#include "../bpf_insn.h"
#include "../extstate.h"
#include "../registry.h"
#include "common.h"

#define HL_MAX_SIZE 1048576u /* HASHLIMIT_MAX_SIZE */
#define HL_ALL                                                                   \
	(XT_HASHLIMIT_HASH_DIP | XT_HASHLIMIT_HASH_DPT | XT_HASHLIMIT_HASH_SIP | \
	 XT_HASHLIMIT_HASH_SPT | XT_HASHLIMIT_INVERT | XT_HASHLIMIT_BYTES |      \
	 XT_HASHLIMIT_RATE_MATCH)

/* Stack: the key, jiffies and the bytes of the ports, in the emitter's scratch area. */
#define KEY_OFF (-BF_STACK_SCRATCH_OFF)			  /* struct bf_hl_key, 40 bytes */
#define NOW_OFF (KEY_OFF + (int)sizeof(struct bf_hl_key)) /* u64 */
#define PORTS_OFF (NOW_OFF + 8)				  /* 4 bytes */
#define E_OFF(f) ((int16_t)offsetof(struct bf_hl_ent, f))
#define K_OFF(f) ((int16_t)(KEY_OFF + (int)offsetof(struct bf_hl_key, f)))

/* The rule's payload in revision 3's terms (cfg_copy). */
struct hl_rule {
	const char *name;
	size_t name_size;
	struct bf_hl_cfg cfg;
	int revision;
};

static void hl_parse(const void *data, int revision, struct hl_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->revision = revision;
	if (revision == 1) {
		const struct xt_hashlimit_mtinfo1 *i = data;

		r->name = i->name;
		r->name_size = sizeof(i->name);
		r->cfg.mode = i->cfg.mode;
		r->cfg.avg = i->cfg.avg;
		r->cfg.burst = i->cfg.burst;
		r->cfg.size = i->cfg.size;
		r->cfg.max = i->cfg.max;
		r->cfg.gc_interval = i->cfg.gc_interval;
		r->cfg.expire = i->cfg.expire;
		r->cfg.srcmask = i->cfg.srcmask;
		r->cfg.dstmask = i->cfg.dstmask;
	} else {
		/* revisions 2 and 3 share the layout up to the masks; 3 adds interval */
		const struct xt_hashlimit_mtinfo3 *i = data;
		const struct xt_hashlimit_mtinfo2 *i2 = data;

		r->name = i->name;
		r->name_size = sizeof(i->name);
		r->cfg.mode = i2->cfg.mode;
		r->cfg.avg = i2->cfg.avg;
		r->cfg.burst = i2->cfg.burst;
		r->cfg.size = i2->cfg.size;
		r->cfg.max = i2->cfg.max;
		r->cfg.gc_interval = i2->cfg.gc_interval;
		r->cfg.expire = i2->cfg.expire;
		r->cfg.srcmask = i2->cfg.srcmask;
		r->cfg.dstmask = i2->cfg.dstmask;
		if (revision == 3) {
			r->cfg.interval = i->cfg.interval;
			r->cfg.srcmask = i->cfg.srcmask;
			r->cfg.dstmask = i->cfg.dstmask;
		}
	}
}

/* The highest power of two not above x (POW2_BELOW32/64), x > 0. */
static uint64_t pow2_below(uint64_t x)
{
	return x ? 1ull << (63 - __builtin_clzll(x)) : 1;
}

struct hl_k {
	uint32_t hz;
	uint64_t cpj;	 /* CREDITS_PER_JIFFY (revisions 2, 3) */
	uint64_t cpj_v1; /* CREDITS_PER_JIFFY_v1 */
	uint32_t cpjb;	 /* CREDITS_PER_JIFFY_BYTES */
	uint32_t cap_b;	 /* CREDITS_PER_JIFFY_BYTES * HZ */
};

static void hl_consts(uint32_t hz, struct hl_k *k)
{
	k->hz = hz;
	k->cpj = pow2_below(UINT64_MAX / ((uint64_t)hz * 60 * 60 * 24));
	k->cpj_v1 = pow2_below(0xFFFFFFFFu / (hz * 60u * 60u * 24u));
	k->cpjb = (uint32_t)pow2_below(0xFFFFFFFFu / hz);
	k->cap_b = k->cpjb * hz;
}

static uint64_t user2credits(const struct hl_k *k, uint64_t user, int revision)
{
	uint64_t scale = revision == 1 ? XT_HASHLIMIT_SCALE : XT_HASHLIMIT_SCALE_v2;
	uint64_t cpj = revision == 1 ? k->cpj_v1 : k->cpj;

	if (scale >= k->hz * cpj)
		return user / (scale / (k->hz * cpj));
	return user * ((k->hz * cpj) / scale);
}

static uint32_t user2credits_byte(const struct hl_k *k, uint32_t user)
{
	uint64_t us = user;

	us *= (uint64_t)(uint32_t)(k->hz * k->cpjb);
	return (uint32_t)(us >> 32);
}

static uint64_t user2rate(uint64_t user)
{
	return user ? XT_HASHLIMIT_SCALE_v2 / user : 0;
}

static uint64_t user2rate_bytes(uint32_t user)
{
	uint64_t r = user ? UINT32_MAX / user : UINT32_MAX;

	return (r - 1) << XT_HASHLIMIT_BYTE_SHIFT;
}

static uint64_t msecs_to_jiffies(uint32_t hz, uint32_t ms)
{
	return ((uint64_t)ms * hz + 999) / 1000;
}

static int hl_check(const struct bf_check_ctx *ctx, const void *data, int revision)
{
	struct hl_rule r;
	struct hl_k k;
	uint32_t hz;
	int err;

	hl_parse(data, revision, &r);
	/* xt_check_proc_name(): the name becomes a file in /proc/net/ip(6)t_hashlimit */
	if (r.name[0] == '\0')
		return -EINVAL;
	if (strnlen(r.name, r.name_size) == r.name_size)
		return -ENAMETOOLONG;
	if (!strcmp(r.name, ".") || !strcmp(r.name, "..") || strchr(r.name, '/'))
		return -EINVAL;
	if (r.cfg.gc_interval == 0 || r.cfg.expire == 0)
		return -EINVAL;
	if (ctx->family == NFPROTO_IPV4 ? r.cfg.srcmask > 32 || r.cfg.dstmask > 32
					: r.cfg.srcmask > 128 || r.cfg.dstmask > 128)
		return -EINVAL;
	if (r.cfg.mode & ~HL_ALL) {
		bf_logf(ctx->log, BF_LOG_INFO,
			"xt_hashlimit: Unknown mode mask %X, kernel too old?", r.cfg.mode);
		return -EINVAL;
	}
	err = bf_kernel_hz(ctx->log, &hz);
	if (err)
		return err;
	hl_consts(hz, &k);
	if (revision >= 3 && r.cfg.mode & XT_HASHLIMIT_RATE_MATCH) {
		if (r.cfg.avg == 0 || r.cfg.avg > UINT32_MAX) {
			bf_logf(ctx->log, BF_LOG_INFO, "xt_hashlimit: invalid rate");
			return -ERANGE;
		}
		if (r.cfg.interval == 0) {
			bf_logf(ctx->log, BF_LOG_INFO, "xt_hashlimit: invalid interval");
			return -EINVAL;
		}
	} else if (r.cfg.mode & XT_HASHLIMIT_BYTES) {
		if (user2credits_byte(&k, (uint32_t)r.cfg.avg) == 0) {
			bf_logf(ctx->log, BF_LOG_INFO,
				"xt_hashlimit: overflow, rate too high: %llu",
				(unsigned long long)r.cfg.avg);
			return -EINVAL;
		}
	} else if (r.cfg.burst == 0 || user2credits(&k, r.cfg.avg * r.cfg.burst, revision) <
					       user2credits(&k, r.cfg.avg, revision)) {
		bf_logf(ctx->log, BF_LOG_INFO, "xt_hashlimit: overflow, try lower: %llu/%llu",
			(unsigned long long)r.cfg.avg, (unsigned long long)r.cfg.burst);
		return -ERANGE;
	}
	return 0;
}

static int hl_check1(const struct bf_check_ctx *ctx, const void *data)
{
	return hl_check(ctx, data, 1);
}

static int hl_check2(const struct bf_check_ctx *ctx, const void *data)
{
	return hl_check(ctx, data, 2);
}

static int hl_check3(const struct bf_check_ctx *ctx, const void *data)
{
	return hl_check(ctx, data, 3);
}

/* ---- the tables ---- */

static int hl_btf(const struct bf_log *log, struct btf **out, uint32_t *key_id, uint32_t *val_id)
{
	struct btf *btf = btf__new_empty();
	int u32_id, u8_id, lock_id, karr, key, varr, val, err;

	if (!btf)
		return -errno;
	u32_id = btf__add_int(btf, "unsigned int", 4, 0);
	u8_id = btf__add_int(btf, "unsigned char", 1, 0);
	lock_id = btf__add_struct(btf, "bpf_spin_lock", 4);
	err = lock_id < 0 ? lock_id : btf__add_field(btf, "val", u32_id, 0, 0);
	karr = err ? err : btf__add_array(btf, u32_id, u8_id, sizeof(struct bf_hl_key));
	key = karr < 0 ? karr : btf__add_struct(btf, "bf_hl_key", sizeof(struct bf_hl_key));
	err = key < 0 ? key : btf__add_field(btf, "b", karr, 0, 0);
	varr = err ? err : btf__add_array(btf, u32_id, u8_id, sizeof(struct bf_hl_ent) - 4);
	val = varr < 0 ? varr : btf__add_struct(btf, "bf_hl_ent", sizeof(struct bf_hl_ent));
	err = val < 0 ? val : btf__add_field(btf, "lock", lock_id, 0, 0);
	if (!err)
		err = btf__add_field(btf, "rest", varr, 32, 0);
	if (!err && (u32_id < 0 || u8_id < 0))
		err = -EINVAL;
	if (!err)
		err = btf__load_into_kernel(btf);
	if (err) {
		bf_logf(log, BF_LOG_ERR, "cannot build the BTF of bf_hl: %s", strerror(-err));
		btf__free(btf);
		return err;
	}
	*out = btf;
	*key_id = (uint32_t)key;
	*val_id = (uint32_t)val;
	return 0;
}

int bf_hl_maps_create(const struct bf_log *log, int *ents_fd, int *tabs_fd, int *names_fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	_cleanup_close_ int e = -1, t = -1, nm = -1;
	struct btf *btf = NULL;
	uint32_t key_id = 0, val_id = 0;
	int err;

	err = hl_btf(log, &btf, &key_id, &val_id);
	if (err)
		return err;
	opts.btf_fd = (uint32_t)btf__fd(btf);
	opts.btf_key_type_id = key_id;
	opts.btf_value_type_id = val_id;
	e = bpf_map_create(BPF_MAP_TYPE_HASH, "bf_hl", sizeof(struct bf_hl_key),
			   sizeof(struct bf_hl_ent), BF_HL_ENTRIES, &opts);
	err = e < 0 ? -errno : 0;
	btf__free(btf);
	if (!err) {
		LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_MMAPABLE);

		t = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bf_hl_tab", sizeof(uint32_t),
				   sizeof(struct bf_hl_tab), BF_HL_TABLES, &mo);
		err = t < 0 ? -errno : 0;
	}
	if (!err) {
		nm = bpf_map_create(BPF_MAP_TYPE_HASH, "bf_hl_nm", sizeof(struct bf_hl_name_key),
				    sizeof(struct bf_hl_name), BF_HL_TABLES, NULL);
		err = nm < 0 ? -errno : 0;
	}
	if (err) {
		bf_logf(log, BF_LOG_ERR, "cannot create the hashlimit maps: %s", strerror(-err));
		return err;
	}
	*ents_fd = TAKE_FD(e);
	*tabs_fd = TAKE_FD(t);
	*names_fd = TAKE_FD(nm);
	return 0;
}

static _Thread_local struct bf_hl_reg *hl_bound;

static void hl_gc_start(struct bf_hl_reg *reg);

void bf_hl_bind(struct bf_hl_reg *reg)
{
	hl_bound = reg;
}

static void hl_name_key(struct bf_hl_name_key *k, const char *name, int family)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->name, name, strnlen(name, sizeof(k->name) - 1));
	k->family = (uint8_t)family;
}

int bf_hl_find(const char *name, int family, struct bf_hl_name *out)
{
	struct bf_hl_name_key k;

	if (!hl_bound)
		return -ENOENT;
	hl_name_key(&k, name, family);
	if (bpf_map_lookup_elem(hl_bound->names_fd, &k, out))
		return -errno;
	return 0;
}

static int hl_rev(const struct bf_match *mt)
{
	if (mt->ext == &bf_match_hashlimit1 || mt->ext == &bf_match_hashlimit1_6)
		return 1;
	if (mt->ext == &bf_match_hashlimit2 || mt->ext == &bf_match_hashlimit2_6)
		return 2;
	if (mt->ext == &bf_match_hashlimit3 || mt->ext == &bf_match_hashlimit3_6)
		return 3;
	return 0;
}

/* htable_create's sizing of a new table. */
static void hl_size(struct bf_hl_cfg *c)
{
	if (c->size > HL_MAX_SIZE)
		c->size = HL_MAX_SIZE;
	if (c->max > HL_MAX_SIZE)
		c->max = HL_MAX_SIZE;
	if (!c->size) {
		struct sysinfo si;
		uint64_t ram = 0, page = (uint64_t)sysconf(_SC_PAGESIZE);

		if (!sysinfo(&si))
			ram = (uint64_t)si.totalram * si.mem_unit;
		/* totalram_pages << PAGE_SHIFT over 16384 over sizeof(struct hlist_head) */
		c->size = (uint32_t)((ram / page * page) / 16384 / 8);
		if (ram / page > 1024ull * 1024 * 1024 / page)
			c->size = 8192;
		if (c->size < 16)
			c->size = 16;
	}
	if (c->max == 0)
		c->max = 8 * c->size;
	else if (c->max < c->size)
		c->max = c->size;
}

/* The keys of bf_hl whose table is selected, collected before any is deleted (a deletion
 * would lose the walk's position): *keys malloc'd. */
static int hl_keys(struct bf_hl_reg *reg, const bool sel[BF_HL_TABLES], struct bf_hl_key **keys,
		   size_t *n)
{
	_cleanup_free_ struct bf_hl_key *v = NULL;
	struct bf_hl_key cur, next;
	size_t len = 0, cap = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(reg->ents_fd, prev, &next)) {
		if (next.table < BF_HL_TABLES && sel[next.table]) {
			if (len == cap) {
				size_t ncap = cap ? 2 * cap : 64;
				struct bf_hl_key *nv = realloc(v, ncap * sizeof(*nv));

				if (!nv)
					return -ENOMEM;
				v = nv;
				cap = ncap;
			}
			v[len++] = next;
		}
		cur = next;
		prev = &cur;
	}
	*keys = TAKE_PTR(v);
	*n = len;
	return 0;
}

/* Remove every entry of table id from bf_hl and zero its count (htable_destroy). */
static void hl_table_flush(struct bf_hl_reg *reg, uint32_t id)
{
	_cleanup_free_ struct bf_hl_key *keys = NULL;
	bool sel[BF_HL_TABLES] = {false};
	struct bf_hl_tab z = {0};
	size_t n = 0;

	sel[id] = true;
	if (!hl_keys(reg, sel, &keys, &n))
		for (size_t i = 0; i < n; i++)
			bpf_map_delete_elem(reg->ents_fd, &keys[i]);
	bpf_map_update_elem(reg->tabs_fd, &id, &z, BPF_ANY);
}

static int hl_table_get(struct bf_hl_reg *reg, const struct bf_match *mt, int family,
			const struct bf_log *log, uint32_t *id)
{
	struct bf_hl_name_key k, cur, next;
	bool used[BF_HL_TABLES] = {false};
	struct bf_hl_name v = {0};
	struct hl_rule r;
	void *prev = NULL;

	hl_parse(mt->data, hl_rev(mt), &r);
	hl_name_key(&k, r.name, family);
	if (!bpf_map_lookup_elem(reg->names_fd, &k, &v)) {
		*id = v.id;
		return 0;
	}
	while (!bpf_map_get_next_key(reg->names_fd, prev, &next)) {
		struct bf_hl_name o;

		if (!bpf_map_lookup_elem(reg->names_fd, &next, &o) && o.id < BF_HL_TABLES)
			used[o.id] = true;
		cur = next;
		prev = &cur;
	}
	for (v.id = 0; v.id < BF_HL_TABLES && used[v.id]; v.id++)
		;
	if (v.id == BF_HL_TABLES) {
		bf_logf(log, BF_LOG_ERR, "xt_hashlimit: %s: more than %u tables", r.name,
			BF_HL_TABLES);
		return -ENOMEM;
	}
	v.cfg = r.cfg;
	hl_size(&v.cfg);
	hl_table_flush(reg, v.id);
	if (bpf_map_update_elem(reg->names_fd, &k, &v, BPF_NOEXIST)) {
		int err = -errno;

		bf_logf(log, BF_LOG_ERR, "xt_hashlimit: cannot create table %s: %s", r.name,
			strerror(-err));
		return err;
	}
	*id = v.id;
	return 0;
}

int bf_hl_acquire(struct bf_hl_reg *reg, const struct bf_table_model *m, const struct bf_log *log,
		  uint32_t **ids, uint32_t *n)
{
	bool held[BF_HL_TABLES] = {false};
	_cleanup_free_ uint32_t *out = NULL;
	uint32_t k = 0;
	int err = 0;

	hl_bound = reg;
	hl_gc_start(reg);
	out = calloc(BF_HL_TABLES, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->n_entries && !err; i++) {
		for (uint32_t j = 0; j < m->entries[i].n_matches && !err; j++) {
			const struct bf_match *mt = &m->entries[i].matches[j];
			uint32_t id;

			if (!hl_rev(mt))
				continue;
			err = hl_table_get(reg, mt, m->family, log, &id);
			if (!err && !held[id]) {
				held[id] = true;
				reg->refs[id]++;
				out[k++] = id;
			}
		}
	}
	if (err) {
		bf_hl_release(reg, out, k);
		return err;
	}
	*ids = TAKE_PTR(out);
	*n = k;
	return 0;
}

void bf_hl_release(struct bf_hl_reg *reg, const uint32_t *ids, uint32_t n)
{
	struct bf_hl_name_key cur, next;
	bool gone[BF_HL_TABLES] = {false}, any = false;
	void *prev = NULL;

	for (uint32_t i = 0; i < n; i++) {
		if (ids[i] >= BF_HL_TABLES || !reg->refs[ids[i]])
			continue;
		if (--reg->refs[ids[i]] == 0) {
			gone[ids[i]] = true;
			any = true;
		}
	}
	if (!any || reg->keep)
		return;
	/* htable_put: the last rule naming a table destroys it, entries and name */
	while (!bpf_map_get_next_key(reg->names_fd, prev, &next)) {
		struct bf_hl_name o;

		if (!bpf_map_lookup_elem(reg->names_fd, &next, &o) && o.id < BF_HL_TABLES &&
		    gone[o.id]) {
			bpf_map_delete_elem(reg->names_fd, &next);
			hl_table_flush(reg, o.id);
			prev = NULL;
			continue;
		}
		cur = next;
		prev = &cur;
	}
}

/* ---- garbage collection (htable_gc / select_gc) ---- */

int bf_hl_gc(struct bf_hl_reg *reg, uint64_t now, bool all)
{
	size_t len = sizeof(struct bf_hl_tab) * BF_HL_TABLES, n = 0;
	_cleanup_free_ struct bf_hl_key *keys = NULL;
	bool due[BF_HL_TABLES] = {false}, any = false;
	struct bf_hl_name_key nk, ncur;
	struct bf_hl_tab *tabs;
	void *prev = NULL;
	uint32_t hz;
	int err;

	if (bf_kernel_hz(NULL, &hz))
		return -EIO;
	while (!bpf_map_get_next_key(reg->names_fd, prev, &nk)) {
		struct bf_hl_name o;

		if (!bpf_map_lookup_elem(reg->names_fd, &nk, &o) && o.id < BF_HL_TABLES) {
			uint64_t *nx = &reg->gc_next[o.id];

			/* the first look at a table starts its period (the kernel's timer starts
			 * when the table is created) */
			if (!*nx)
				*nx = now + msecs_to_jiffies(hz, o.cfg.gc_interval);
			if (all || (int64_t)(now - *nx) >= 0) {
				due[o.id] = any = true;
				*nx = now + msecs_to_jiffies(hz, o.cfg.gc_interval);
			}
		}
		ncur = nk;
		prev = &ncur;
	}
	if (!any)
		return 0;
	err = hl_keys(reg, due, &keys, &n);
	if (err)
		return err;
	tabs = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, reg->tabs_fd, 0);
	if (tabs == MAP_FAILED)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		struct bf_hl_ent e;

		if (!bpf_map_lookup_elem_flags(reg->ents_fd, &keys[i], &e, BPF_F_LOCK) &&
		    (int64_t)(now - e.expires) >= 0 && !bpf_map_delete_elem(reg->ents_fd, &keys[i]))
			__atomic_sub_fetch(&tabs[keys[i].table].count, 1, __ATOMIC_SEQ_CST);
	}
	munmap(tabs, len);
	return 0;
}

static void *hl_gc_thread(void *arg)
{
	struct bf_hl_reg *reg = arg;

	while (!__atomic_load_n(&reg->gc_stop, __ATOMIC_ACQUIRE)) {
		uint64_t now;

		if (!bf_kernel_jiffies(&now))
			bf_hl_gc(reg, now, false);
		usleep(50000);
	}
	return NULL;
}

static void hl_gc_start(struct bf_hl_reg *reg)
{
	pthread_t t;

	if (reg->gc_started)
		return;
	__atomic_store_n(&reg->gc_stop, 0, __ATOMIC_RELEASE);
	if (!pthread_create(&t, NULL, hl_gc_thread, reg)) {
		reg->gc_thread = (unsigned long)t;
		reg->gc_started = true;
	}
}

void bf_hl_gc_stop(struct bf_hl_reg *reg)
{
	if (!reg->gc_started)
		return;
	__atomic_store_n(&reg->gc_stop, 1, __ATOMIC_RELEASE);
	pthread_join((pthread_t)reg->gc_thread, NULL);
	reg->gc_started = false;
}

/* ---- code generation ---- */

static void ld_imm64(struct bf_builder *b, uint8_t reg, uint64_t v)
{
	bf_emit(b, BF_LD_IMM64_LO(reg, 0, v));
	bf_emit(b, BF_LD_IMM64_HI(v));
}

/* The maskl() / hashlimit_ipv6_mask() of a prefix, word k, as the bytes sit in memory. */
static uint32_t mask_word(unsigned int plen, int k)
{
	unsigned int lo = 32u * (unsigned int)k;
	uint32_t host;

	if (plen <= lo)
		host = 0;
	else if (plen >= lo + 32)
		host = 0xffffffffu;
	else
		host = ~0u << (32 - (plen - lo));
	return htonl(host);
}

static void emit_addr(struct bf_builder *b, int family, int16_t pkt_off, int16_t key_off,
		      unsigned int plen)
{
	int words = family == NFPROTO_IPV6 ? 4 : 1;

	for (int k = 0; k < words; k++) {
		uint32_t m = mask_word(plen, k);

		if (!m)
			continue;
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(pkt_off + 4 * k)));
		if (m != 0xffffffffu)
			bf_emit(b, BF_ALU32_IMM(BPF_AND, BPF_REG_1, (int32_t)m));
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_10, BPF_REG_1, (int16_t)(key_off + 4 * k)));
	}
}

/* hashlimit_init_dst's ports: proto_ports_offset(), then the 4 bytes there, or hotdrop. */
static void emit_ports(struct bf_emit_ctx *ctx, uint32_t mode)
{
	static const int p0[] = {IPPROTO_TCP, IPPROTO_UDP,  IPPROTO_DCCP,
				 IPPROTO_ESP, IPPROTO_SCTP, IPPROTO_UDPLITE};
	struct bf_builder *b = ctx->b;
	bf_label at0 = bf_label_new(b), at4 = bf_label_new(b), got = bf_label_new(b);
	bf_label none = bf_label_new(b);

	if (ctx->family == NFPROTO_IPV6) {
		/* ipv6_skip_exthdr() < 0 */
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(flags)));
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, BF_PKT_F_X6_NOPROTO, ctx->hotdrop);
	}
	bf_emit(b, BF_LDX_MEM(BPF_B, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(proto)));
	for (size_t i = 0; i < sizeof(p0) / sizeof(p0[0]); i++)
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, p0[i], at0);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_AH, at4);
	bf_emit_ja(b, none);
	/* skb_header_pointer() stops at the IP packet's end (l4_len), not the frame's */
	bf_label_bind(b, at0);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(l4_len)));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 4, ctx->hotdrop);
	bf_emit_load_pkt(b, ctx->prog_ctx, BF_PKT_OFF(l4_off), 0, PORTS_OFF, 4, ctx->hotdrop);
	bf_emit_ja(b, got);
	bf_label_bind(b, at4);
	bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(l4_len)));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 8, ctx->hotdrop);
	bf_emit_load_pkt(b, ctx->prog_ctx, BF_PKT_OFF(l4_off), 4, PORTS_OFF, 4, ctx->hotdrop);
	bf_label_bind(b, got);
	if (mode & XT_HASHLIMIT_HASH_SPT) {
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, PORTS_OFF));
		bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, K_OFF(sport)));
	}
	if (mode & XT_HASHLIMIT_HASH_DPT) {
		bf_emit(b, BF_LDX_MEM(BPF_H, BPF_REG_1, BPF_REG_10, PORTS_OFF + 2));
		bf_emit(b, BF_STX_MEM(BPF_H, BPF_REG_10, BPF_REG_1, K_OFF(dport)));
	}
	bf_label_bind(b, none);
}

/* rateinfo_init(dh, hinfo, revision) on the entry at R8; R1 = now. */
static void emit_init(struct bf_builder *b, const struct bf_hl_cfg *tc, int rev,
		      const struct hl_k *k)
{
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_1, E_OFF(prev)));
	if (rev >= 3 && tc->mode & XT_HASHLIMIT_RATE_MATCH) {
		uint64_t rate, burst;

		if (tc->mode & XT_HASHLIMIT_BYTES) {
			rate = user2rate_bytes((uint32_t)tc->avg);
			burst = tc->burst ? tc->burst * rate : rate;
		} else {
			rate = user2rate(tc->avg);
			burst = tc->burst + rate;
		}
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_8, E_OFF(f0), (int32_t)tc->interval));
		bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_8, E_OFF(f0) + 4, 0));
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_8, E_OFF(f1), 0));
		ld_imm64(b, BPF_REG_2, rate);
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_2, E_OFF(f2)));
		ld_imm64(b, BPF_REG_2, burst);
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_2, E_OFF(f3)));
	} else if (tc->mode & XT_HASHLIMIT_BYTES) {
		ld_imm64(b, BPF_REG_2, k->cap_b);
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_2, E_OFF(f0)));
		ld_imm64(b, BPF_REG_2, user2credits_byte(k, (uint32_t)tc->avg));
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_2, E_OFF(f2)));
		ld_imm64(b, BPF_REG_2, tc->burst);
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_2, E_OFF(f1)));
	} else {
		uint64_t credit = user2credits(k, tc->avg * tc->burst, rev);

		ld_imm64(b, BPF_REG_2, credit);
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_2, E_OFF(f0)));
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_2, E_OFF(f1)));
		ld_imm64(b, BPF_REG_2, user2credits(k, tc->avg, rev));
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_2, E_OFF(f2)));
	}
}

/* rateinfo_recalc(dh, now, hinfo->cfg.mode, revision) on the entry at R8; R1 = now. */
static void emit_recalc(struct bf_builder *b, const struct bf_hl_cfg *tc, int rev,
			const struct hl_k *k, bf_label done)
{
	bf_label clamp = bf_label_new(b);

	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_8, E_OFF(prev)));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_1));
	bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_3, BPF_REG_2)); /* delta */
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_3, 0, done);
	if (rev >= 3 && tc->mode & XT_HASHLIMIT_RATE_MATCH) {
		bf_label gt = bf_label_new(b), st = bf_label_new(b);

		/* u64 interval = dh->rateinfo.interval * HZ: a product in unsigned int */
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_4, BPF_REG_8, E_OFF(f0)));
		bf_emit(b, BF_ALU32_IMM(BPF_MUL, BPF_REG_4, (int32_t)k->hz));
		bf_emit_jmp_reg(b, BPF_JLT, BPF_REG_3, BPF_REG_4, done);
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_1, E_OFF(prev)));
		/* prev_window = current_rate * interval > delta * rate */
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_5, BPF_REG_8, E_OFF(f1)));
		bf_emit(b, BF_ALU64_REG(BPF_MUL, BPF_REG_5, BPF_REG_4));
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_8, E_OFF(f2)));
		bf_emit(b, BF_ALU64_REG(BPF_MUL, BPF_REG_0, BPF_REG_3));
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_5, BPF_REG_0, gt);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 0));
		bf_emit_ja(b, st);
		bf_label_bind(b, gt);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_2, 1));
		bf_label_bind(b, st);
		bf_emit(b, BF_STX_MEM(BPF_W, BPF_REG_8, BPF_REG_2, E_OFF(f0) + 4));
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_8, E_OFF(f1), 0));
		bf_emit_ja(b, done);
		return;
	}
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_1, E_OFF(prev)));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_4, BPF_REG_8, E_OFF(f0)));
	if (tc->mode & XT_HASHLIMIT_BYTES) {
		bf_label noovf = bf_label_new(b);

		bf_emit(b, BF_MOV64_REG(BPF_REG_5, BPF_REG_3));
		bf_emit(b, BF_ALU64_IMM(BPF_MUL, BPF_REG_5, (int32_t)k->cpjb));
		bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_5, BPF_REG_4));
		ld_imm64(b, BPF_REG_2, k->cap_b);
		/* tmp >= credit after the addition: it wrapped, the bucket is full */
		bf_emit_jmp_reg(b, BPF_JLT, BPF_REG_4, BPF_REG_5, noovf);
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_2, E_OFF(f0)));
		bf_emit_ja(b, done);
		bf_label_bind(b, noovf);
		bf_emit(b, BF_MOV64_REG(BPF_REG_4, BPF_REG_5));
	} else {
		ld_imm64(b, BPF_REG_5, rev == 1 ? k->cpj_v1 : k->cpj);
		bf_emit(b, BF_ALU64_REG(BPF_MUL, BPF_REG_5, BPF_REG_3));
		bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_4, BPF_REG_5));
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_8, E_OFF(f1)));
	}
	/* R4 = credit, R2 = cap */
	bf_emit_jmp_reg(b, BPF_JLE, BPF_REG_4, BPF_REG_2, clamp);
	bf_emit(b, BF_MOV64_REG(BPF_REG_4, BPF_REG_2));
	bf_label_bind(b, clamp);
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_4, E_OFF(f0)));
	bf_emit_ja(b, done);
}

/* The charge of hashlimit_mt_common with the rule's mode: R9 = 1 under the limit, 0 over. */
static void emit_charge(struct bf_builder *b, uint32_t mode, const struct hl_k *k)
{
	bf_label over = bf_label_new(b), out = bf_label_new(b);

	if (mode & XT_HASHLIMIT_RATE_MATCH) {
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_8, E_OFF(f1)));
		if (mode & XT_HASHLIMIT_BYTES) {
			bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_7, BF_PKT_OFF(len)));
			bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_1, BPF_REG_2));
		} else {
			bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 1));
		}
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_1, E_OFF(f1)));
		bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_2, BPF_REG_8, E_OFF(f0) + 4));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, 0, over);
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_8, E_OFF(f3)));
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_1, BPF_REG_2, over);
		bf_emit(b, BF_MOV64_IMM(BPF_REG_9, 1));
		bf_emit_ja(b, out);
	} else {
		if (mode & XT_HASHLIMIT_BYTES) {
			bf_label capped = bf_label_new(b), norefill = bf_label_new(b);

			/* hashlimit_byte_cost(skb->len, dh) */
			bf_emit(b, BF_LDX_MEM(BPF_W, BPF_REG_1, BPF_REG_7, BF_PKT_OFF(len)));
			bf_emit(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_1, XT_HASHLIMIT_BYTE_SHIFT));
			bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 1));
			bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_8, E_OFF(f2)));
			bf_emit(b, BF_ALU64_REG(BPF_MUL, BPF_REG_1, BPF_REG_2));
			ld_imm64(b, BPF_REG_3, k->cap_b);
			bf_emit_jmp_reg(b, BPF_JLE, BPF_REG_1, BPF_REG_3, capped);
			bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_3));
			bf_label_bind(b, capped);
			bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_8, E_OFF(f0)));
			bf_emit_jmp_reg(b, BPF_JGE, BPF_REG_2, BPF_REG_1, norefill);
			bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_4, BPF_REG_8, E_OFF(f1)));
			bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_4, 0, norefill);
			bf_emit(b, BF_ALU64_IMM(BPF_SUB, BPF_REG_4, 1));
			bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_4, E_OFF(f1)));
			bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_3, E_OFF(f0)));
			bf_label_bind(b, norefill);
			bf_emit(b, BF_MOV32_REG(BPF_REG_1, BPF_REG_1)); /* (u32) tmp */
		} else {
			bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_8, E_OFF(f2)));
		}
		bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_2, BPF_REG_8, E_OFF(f0)));
		bf_emit_jmp_reg(b, BPF_JLT, BPF_REG_2, BPF_REG_1, over);
		bf_emit(b, BF_ALU64_REG(BPF_SUB, BPF_REG_2, BPF_REG_1));
		bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_2, E_OFF(f0)));
		bf_emit(b, BF_MOV64_IMM(BPF_REG_9, 1));
		bf_emit_ja(b, out);
	}
	bf_label_bind(b, over);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_9, 0));
	bf_label_bind(b, out);
}

static int hl_emit(struct bf_emit_ctx *ctx, const void *data, int rev)
{
	struct bf_builder *b = ctx->b;
	bf_label have = bf_label_new(b), relook = bf_label_new(b), room = bf_label_new(b);
	bf_label init = bf_label_new(b), charge = bf_label_new(b);
	struct bf_hl_name t;
	struct hl_rule r;
	struct hl_k k;
	uint32_t hz, mode;
	uint64_t exp_j;
	int err;

	hl_parse(data, rev, &r);
	err = bf_hl_find(r.name, ctx->family, &t);
	if (!err)
		err = bf_kernel_hz(ctx->log, &hz);
	if (err) {
		bf_logf(ctx->log, BF_LOG_ERR, "hashlimit: no table %.255s: %s", r.name,
			strerror(-err));
		bf_builder_set_err(b, err);
		return err;
	}
	hl_consts(hz, &k);
	mode = t.cfg.mode;
	exp_j = msecs_to_jiffies(hz, t.cfg.expire);
	bf_comment(b, "hashlimit %.32s (table %u) rev %d mode %#x", r.name, t.id, rev, r.cfg.mode);

	/* hashlimit_init_dst with the table's mode and masks */
	for (int16_t off = 0; off < (int16_t)sizeof(struct bf_hl_key); off += 8)
		bf_emit(b, BF_ST_MEM(BPF_DW, BPF_REG_10, (int16_t)(KEY_OFF + off), 0));
	bf_emit(b, BF_ST_MEM(BPF_W, BPF_REG_10, K_OFF(table), (int32_t)t.id));
	if (mode & XT_HASHLIMIT_HASH_DIP)
		emit_addr(b, ctx->family, BF_PKT_OFF(daddr), K_OFF(dst), t.cfg.dstmask);
	if (mode & XT_HASHLIMIT_HASH_SIP)
		emit_addr(b, ctx->family, BF_PKT_OFF(saddr), K_OFF(src), t.cfg.srcmask);
	if (mode & (XT_HASHLIMIT_HASH_SPT | XT_HASHLIMIT_HASH_DPT))
		emit_ports(ctx, mode);

	bf_emit(b, BF_CALL(BPF_FUNC_jiffies64));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_10, BPF_REG_0, NOW_OFF));
	/* dsthash_find */
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_HL);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, KEY_OFF));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, have);

	/* dsthash_alloc_init: count >= cfg.max → no entry → hotdrop */
	bf_comment(b, "dsthash_alloc_init, max %u", t.cfg.max);
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_HL_TAB);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, K_OFF(table)));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, ctx->hotdrop);
	bf_emit(b, BF_MOV64_REG(BPF_REG_9, BPF_REG_0));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, 1));
	bf_emit(b, BF_INSN(BPF_STX | BPF_DW | BPF_ATOMIC, BPF_REG_9, BPF_REG_1,
			   (int16_t)offsetof(struct bf_hl_tab, count), BPF_ADD | BPF_FETCH));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, (int32_t)t.cfg.max, room);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, -1));
	bf_emit(b,
		BF_ATOMIC_ADD64(BPF_REG_9, BPF_REG_1, (int16_t)offsetof(struct bf_hl_tab, count)));
	bf_emit_ja(b, ctx->hotdrop);
	bf_label_bind(b, room);
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_HL);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, KEY_OFF));
	bf_emit(b, BF_MOV64_REG(BPF_REG_3, BPF_REG_9));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, (int32_t)offsetof(struct bf_hl_tab, zero)));
	bf_emit(b, BF_MOV64_IMM(BPF_REG_4, BPF_NOEXIST));
	bf_emit(b, BF_CALL(BPF_FUNC_map_update_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, relook);
	/* another CPU created it first (the kernel's race), or no memory */
	bf_emit(b, BF_MOV64_IMM(BPF_REG_1, -1));
	bf_emit(b,
		BF_ATOMIC_ADD64(BPF_REG_9, BPF_REG_1, (int16_t)offsetof(struct bf_hl_tab, count)));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, -EEXIST, ctx->hotdrop);
	bf_label_bind(b, relook);
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_HL);
	bf_emit(b, BF_MOV64_REG(BPF_REG_2, BPF_REG_10));
	bf_emit(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, KEY_OFF));
	bf_emit(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, ctx->hotdrop);

	bf_label_bind(b, have);
	bf_emit(b, BF_MOV64_REG(BPF_REG_8, BPF_REG_0));
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_8));
	bf_emit(b, BF_CALL(BPF_FUNC_spin_lock));
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_1, BPF_REG_10, NOW_OFF));
	/* dh->expires = now + msecs_to_jiffies(expire). An entry past its expiry that the
	 * collector has not taken yet is refilled, as in the kernel. */
	ld_imm64(b, BPF_REG_3, exp_j);
	bf_emit(b, BF_ALU64_REG(BPF_ADD, BPF_REG_3, BPF_REG_1));
	bf_emit(b, BF_STX_MEM(BPF_DW, BPF_REG_8, BPF_REG_3, E_OFF(expires)));
	/* prev == 0: created by this packet or another one (the kernel's race) not initialised */
	bf_emit(b, BF_LDX_MEM(BPF_DW, BPF_REG_0, BPF_REG_8, E_OFF(prev)));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, init);
	emit_recalc(b, &t.cfg, rev, &k, charge);
	bf_label_bind(b, init);
	emit_init(b, &t.cfg, rev, &k);
	bf_label_bind(b, charge);
	emit_charge(b, r.cfg.mode, &k);
	bf_emit(b, BF_MOV64_REG(BPF_REG_1, BPF_REG_8));
	bf_emit(b, BF_CALL(BPF_FUNC_spin_unlock));
	/* under the limit matches, unless --hashlimit-above (XT_HASHLIMIT_INVERT) */
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_9, r.cfg.mode & XT_HASHLIMIT_INVERT ? 1 : 0, ctx->miss);
	return bf_builder_err(b);
}

static int hl_emit1(struct bf_emit_ctx *ctx, const void *data)
{
	return hl_emit(ctx, data, 1);
}

static int hl_emit2(struct bf_emit_ctx *ctx, const void *data)
{
	return hl_emit(ctx, data, 2);
}

static int hl_emit3(struct bf_emit_ctx *ctx, const void *data)
{
	return hl_emit(ctx, data, 3);
}

#define HL_EXT(rev, fam, type, chk, em)                                                    \
	{                                                                                  \
		.kind = BF_EXT_MATCH, .name = "hashlimit", .revision = rev, .family = fam, \
		.size = sizeof(struct type), .usersize = offsetof(struct type, hinfo),     \
		.check = chk, .emit = em,                                                  \
	}

const struct bf_ext bf_match_hashlimit1 =
	HL_EXT(1, NFPROTO_IPV4, xt_hashlimit_mtinfo1, hl_check1, hl_emit1);
const struct bf_ext bf_match_hashlimit2 =
	HL_EXT(2, NFPROTO_IPV4, xt_hashlimit_mtinfo2, hl_check2, hl_emit2);
const struct bf_ext bf_match_hashlimit3 =
	HL_EXT(3, NFPROTO_IPV4, xt_hashlimit_mtinfo3, hl_check3, hl_emit3);
const struct bf_ext bf_match_hashlimit1_6 =
	HL_EXT(1, NFPROTO_IPV6, xt_hashlimit_mtinfo1, hl_check1, hl_emit1);
const struct bf_ext bf_match_hashlimit2_6 =
	HL_EXT(2, NFPROTO_IPV6, xt_hashlimit_mtinfo2, hl_check2, hl_emit2);
const struct bf_ext bf_match_hashlimit3_6 =
	HL_EXT(3, NFPROTO_IPV6, xt_hashlimit_mtinfo3, hl_check3, hl_emit3);
