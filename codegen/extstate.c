// SPDX-License-Identifier: GPL-2.0-only
/*
 * Extension state (extstate.h): the kernel's HZ, and the per-generation map of rule-instance
 * state. See doc/stateful.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <bpf/btf.h>
#include <linux/netfilter/xt_limit.h>
#include <linux/netfilter/xt_recent.h>

#include <bpfilter/cleanup.h>

#include "extstate.h"
#include "registry.h"

/* One reading of /proc/timer_list: the clock ("now at N nsecs") and jiffies, taken together. */
static int timer_list_read(uint64_t *ns, uint64_t *jiffies)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/timer_list", "re");
	char line[256];
	bool have_ns = false;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!have_ns && sscanf(line, "now at %" SCNu64 " nsecs", ns) == 1)
			have_ns = true;
		else if (have_ns && sscanf(line, "jiffies: %" SCNu64, jiffies) == 1)
			return 0;
	}
	return -ENOENT;
}

int bf_kernel_jiffies(uint64_t *jiffies)
{
	uint64_t ns;

	return timer_list_read(&ns, jiffies);
}

int bf_kernel_hz(const struct bf_log *log, uint32_t *hz)
{
	/* The values CONFIG_HZ can take. */
	static const uint32_t known[] = {100, 250, 300, 1000};
	static uint32_t cached;
	uint64_t ns0, j0, ns1, j1;
	double rate, best_d = 1e9;
	uint32_t best = 0;
	int r;

	if (cached) {
		*hz = cached;
		return 0;
	}
	/* HZ is not exported to user space (USER_HZ is): count jiffies over 200 ms. */
	r = timer_list_read(&ns0, &j0);
	if (!r) {
		usleep(200000);
		r = timer_list_read(&ns1, &j1);
	}
	if (r || ns1 <= ns0) {
		bf_logf(log, BF_LOG_ERR, "cannot read the kernel's HZ from /proc/timer_list: %s",
			strerror(r ? -r : EIO));
		return r ? r : -EIO;
	}
	rate = (double)(j1 - j0) * 1e9 / (double)(ns1 - ns0);
	for (size_t i = 0; i < BF_ARRAY_SIZE(known); i++) {
		double d = rate > known[i] ? rate - known[i] : known[i] - rate;

		if (d < best_d) {
			best_d = d;
			best = known[i];
		}
	}
	cached = best;
	*hz = best;
	return 0;
}

/* xt_limit.c: MAX_CPJ = 0xFFFFFFFF / (HZ*60*60*24), and the power of 2 at or below it. */
uint32_t bf_limit_cpj(uint32_t hz)
{
	uint32_t x = 0xFFFFFFFFu / (hz * 60 * 60 * 24);

	x |= x >> 1;
	x |= x >> 2;
	x |= x >> 4;
	x |= x >> 8;
	x |= x >> 16;
	return (x >> 1) + 1;
}

/* user2credits(), in the kernel's u32 arithmetic. */
uint32_t bf_limit_user2credits(uint32_t hz, uint32_t user)
{
	uint32_t cpj = bf_limit_cpj(hz);

	if (user > 0xFFFFFFFFu / (hz * cpj))
		return (user / XT_LIMIT_SCALE) * hz * cpj;
	return (user * hz * cpj) / XT_LIMIT_SCALE;
}

int bf_limit_init(const struct bf_log *log, const void *data, struct bf_limit_state *st,
		  uint32_t *credit_cap, uint32_t *cost)
{
	const struct xt_rateinfo *r = data;
	uint32_t hz, credit;
	int err;

	err = bf_kernel_hz(log, &hz);
	if (err)
		return err;
	/* limit_mt_check: credit full; credit_cap and cost come from the blob unless cost is 0. */
	credit = bf_limit_user2credits(hz, r->avg * r->burst);
	if (st)
		*st = (struct bf_limit_state){.prev = 0, .credit = credit};
	if (r->cost == 0) {
		*credit_cap = credit;
		*cost = bf_limit_user2credits(hz, r->avg);
	} else {
		*credit_cap = r->credit_cap;
		*cost = r->cost;
	}
	return 0;
}

int bf_xrule_match_pos(const struct bf_entry *e, const void *data, uint32_t *pos)
{
	for (uint32_t k = 0; k < e->n_matches; k++) {
		if (e->matches[k].data == data) {
			*pos = k;
			return 0;
		}
	}
	return -ENOENT;
}

static bool needs_rule_state(const struct bf_match *mt)
{
	return mt->ext == &bf_match_limit;
}

int bf_xrule_create(const struct bf_table_model *m, const struct bf_log *log, int *fd)
{
	_cleanup_close_ int map = -1;
	uint32_t n = 0;
	int err;

	for (uint32_t i = 0; i < m->n_entries; i++)
		for (uint32_t k = 0; k < m->entries[i].n_matches; k++)
			n += needs_rule_state(&m->entries[i].matches[k]);
	if (!n) {
		*fd = -1;
		return 0;
	}
	map = bpf_map_create(BPF_MAP_TYPE_HASH, "bf_xrule", sizeof(struct bf_xrule_key),
			     sizeof(struct bf_limit_state), n, NULL);
	if (map < 0) {
		err = -errno;
		bf_logf(log, BF_LOG_ERR, "cannot create map bf_xrule: %s", strerror(-err));
		return err;
	}
	for (uint32_t i = 0; i < m->n_entries; i++) {
		const struct bf_entry *e = &m->entries[i];

		for (uint32_t k = 0; k < e->n_matches; k++) {
			struct bf_xrule_key key = {.entry = e->index, .match = k};
			struct bf_limit_state st;
			uint32_t cap, cost;

			if (!needs_rule_state(&e->matches[k]))
				continue;
			err = bf_limit_init(log, e->matches[k].data, &st, &cap, &cost);
			if (err)
				return err;
			if (bpf_map_update_elem(map, &key, &st, BPF_NOEXIST)) {
				err = -errno;
				bf_logf(log, BF_LOG_ERR, "bf_xrule: %s", strerror(-err));
				return err;
			}
		}
	}
	*fd = TAKE_FD(map);
	return 0;
}

/*
 * recent's tables. bf_recent needs BTF for its bpf_spin_lock: built here by hand (no clang at
 * run time): struct bf_recent_table { struct bpf_spin_lock lock; char rest[...]; }.
 */
static int recent_btf(const struct bf_log *log, struct btf **out, uint32_t *key_id,
		      uint32_t *val_id)
{
	struct btf *btf = btf__new_empty();
	int u32_id, u8_id, lock_id, arr_id, tab_id, err;

	if (!btf)
		return -errno;
	u32_id = btf__add_int(btf, "unsigned int", 4, 0);
	u8_id = btf__add_int(btf, "unsigned char", 1, 0);
	lock_id = btf__add_struct(btf, "bpf_spin_lock", 4);
	err = lock_id < 0 ? lock_id : btf__add_field(btf, "val", u32_id, 0, 0);
	arr_id = err ? err : btf__add_array(btf, u32_id, u8_id, sizeof(struct bf_recent_table) - 4);
	tab_id = arr_id < 0
			 ? arr_id
			 : btf__add_struct(btf, "bf_recent_table", sizeof(struct bf_recent_table));
	err = tab_id < 0 ? tab_id : btf__add_field(btf, "lock", lock_id, 0, 0);
	if (!err)
		err = btf__add_field(btf, "rest", arr_id, 32, 0);
	if (!err && (u32_id < 0 || u8_id < 0))
		err = -EINVAL;
	if (!err)
		err = btf__load_into_kernel(btf);
	if (err) {
		bf_logf(log, BF_LOG_ERR, "cannot build the BTF of bf_recent: %s", strerror(-err));
		btf__free(btf);
		return err;
	}
	*out = btf;
	*key_id = (uint32_t)u32_id;
	*val_id = (uint32_t)tab_id;
	return 0;
}

int bf_recent_maps_create(const struct bf_log *log, int *tables_fd, int *names_fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);
	_cleanup_close_ int t = -1, nm = -1;
	struct btf *btf = NULL;
	uint32_t key_id = 0, val_id = 0;
	int err;

	err = recent_btf(log, &btf, &key_id, &val_id);
	if (err)
		return err;
	opts.btf_fd = (uint32_t)btf__fd(btf);
	opts.btf_key_type_id = key_id;
	opts.btf_value_type_id = val_id;
	t = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bf_recent", sizeof(uint32_t),
			   sizeof(struct bf_recent_table), BF_RECENT_TABLES, &opts);
	err = t < 0 ? -errno : 0;
	btf__free(btf); /* the map keeps the kernel's BTF object */
	if (!err) {
		nm = bpf_map_create(BPF_MAP_TYPE_HASH, "bf_recent_nm", BF_RECENT_NAME_LEN,
				    sizeof(struct bf_recent_name), BF_RECENT_TABLES, NULL);
		err = nm < 0 ? -errno : 0;
	}
	if (err) {
		bf_logf(log, BF_LOG_ERR, "cannot create the recent maps: %s", strerror(-err));
		return err;
	}
	*tables_fd = TAKE_FD(t);
	*names_fd = TAKE_FD(nm);
	return 0;
}

static _Thread_local struct bf_recent_reg *recent_bound;

void bf_recent_bind(struct bf_recent_reg *reg)
{
	recent_bound = reg;
}

int bf_recent_find(const char *name, struct bf_recent_name *out)
{
	char key[BF_RECENT_NAME_LEN] = {0};

	if (!recent_bound)
		return -ENOENT;
	strncpy(key, name, sizeof(key) - 1);
	if (bpf_map_lookup_elem(recent_bound->names_fd, key, out))
		return -errno;
	return 0;
}

static bool is_recent(const struct bf_match *mt)
{
	return mt->ext == &bf_match_recent0 || mt->ext == &bf_match_recent1 ||
	       mt->ext == &bf_match_recent0_6 || mt->ext == &bf_match_recent1_6;
}

/* recent_mt_check's nstamp_mask for a rule (ip_pkt_list_tot is not 0). */
static uint32_t recent_nstamp_mask(uint32_t hit_count)
{
	uint32_t n = hit_count < BF_RECENT_PKT_LIST ? BF_RECENT_PKT_LIST : hit_count, p = 1;

	while (p < n)
		p <<= 1;
	return p - 1;
}

/* Write a table empty with this mask, under its lock (recent_table_flush). */
static int recent_table_reset(struct bf_recent_reg *reg, uint32_t id, uint32_t mask)
{
	_cleanup_free_ struct bf_recent_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->nstamps_max_mask = mask;
	if (bpf_map_update_elem(reg->tables_fd, &id, t, BPF_F_LOCK))
		return -errno;
	return 0;
}

/* The table of one match: found, or created with the match's mask (recent_mt_check). */
static int recent_table_get(struct bf_recent_reg *reg, const struct bf_match *mt,
			    const struct bf_log *log, uint32_t *id)
{
	const struct xt_recent_mtinfo_v1 *info = mt->data;
	char key[BF_RECENT_NAME_LEN] = {0}, cur[BF_RECENT_NAME_LEN], next[BF_RECENT_NAME_LEN];
	uint32_t nmask = recent_nstamp_mask(info->hit_count);
	bool used[BF_RECENT_TABLES] = {false};
	struct bf_recent_name v = {0};
	void *prev = NULL;
	int err;

	memcpy(key, info->name, strnlen(info->name, sizeof(key) - 1));
	if (!bpf_map_lookup_elem(reg->names_fd, key, &v)) {
		_cleanup_free_ struct bf_recent_table *t = calloc(1, sizeof(*t));

		if (!t)
			return -ENOMEM;
		err = bpf_map_lookup_elem_flags(reg->tables_fd, &v.id, t, BPF_F_LOCK) ? -errno : 0;
		/* A rule that wants more stamps flushes the table (recent_mt_check). */
		if (!err && nmask > t->nstamps_max_mask)
			err = recent_table_reset(reg, v.id, nmask);
		if (err) {
			bf_logf(log, BF_LOG_ERR, "xt_recent: table %s: %s", info->name,
				strerror(-err));
			return err;
		}
		*id = v.id;
		return 0;
	}
	while (!bpf_map_get_next_key(reg->names_fd, prev, next)) {
		struct bf_recent_name o;

		if (!bpf_map_lookup_elem(reg->names_fd, next, &o) && o.id < BF_RECENT_TABLES)
			used[o.id] = true;
		memcpy(cur, next, sizeof(cur));
		prev = cur;
	}
	for (v.id = 0; v.id < BF_RECENT_TABLES && used[v.id]; v.id++)
		;
	if (v.id == BF_RECENT_TABLES) {
		bf_logf(log, BF_LOG_ERR, "xt_recent: %s: more than %u tables", info->name,
			BF_RECENT_TABLES);
		return -ENOMEM;
	}
	/* Revision 0 has no mask: all ones (recent_mt_check_v0). */
	if (mt->ext == &bf_match_recent1 || mt->ext == &bf_match_recent1_6)
		memcpy(v.mask, &info->mask, sizeof(v.mask));
	else
		memset(v.mask, 0xff, sizeof(v.mask));
	err = recent_table_reset(reg, v.id, nmask);
	if (!err && bpf_map_update_elem(reg->names_fd, key, &v, BPF_NOEXIST))
		err = -errno;
	if (err) {
		bf_logf(log, BF_LOG_ERR, "xt_recent: cannot create table %s: %s", info->name,
			strerror(-err));
		return err;
	}
	*id = v.id;
	return 0;
}

int bf_recent_acquire(struct bf_recent_reg *reg, const struct bf_table_model *m,
		      const struct bf_log *log, uint32_t **ids, uint32_t *n)
{
	bool held[BF_RECENT_TABLES] = {false};
	_cleanup_free_ uint32_t *out = NULL;
	uint32_t k = 0;
	int err = 0;

	recent_bound = reg;
	out = calloc(BF_RECENT_TABLES, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->n_entries && !err; i++) {
		for (uint32_t j = 0; j < m->entries[i].n_matches && !err; j++) {
			const struct bf_match *mt = &m->entries[i].matches[j];
			uint32_t id;

			if (!is_recent(mt))
				continue;
			err = recent_table_get(reg, mt, log, &id);
			if (!err && !held[id]) {
				held[id] = true;
				reg->refs[id]++;
				out[k++] = id;
			}
		}
	}
	if (err) {
		bf_recent_release(reg, out, k);
		return err;
	}
	*ids = TAKE_PTR(out);
	*n = k;
	return 0;
}

void bf_recent_release(struct bf_recent_reg *reg, const uint32_t *ids, uint32_t n)
{
	char cur[BF_RECENT_NAME_LEN], next[BF_RECENT_NAME_LEN];
	void *prev = NULL;
	bool gone[BF_RECENT_TABLES] = {false}, any = false;

	for (uint32_t i = 0; i < n; i++) {
		if (ids[i] >= BF_RECENT_TABLES || !reg->refs[ids[i]])
			continue;
		if (--reg->refs[ids[i]] == 0) {
			gone[ids[i]] = true;
			any = true;
		}
	}
	if (!any || reg->keep)
		return;
	/* recent_mt_destroy: the last rule naming a table takes it away, entries and name. */
	while (!bpf_map_get_next_key(reg->names_fd, prev, next)) {
		struct bf_recent_name o;

		if (!bpf_map_lookup_elem(reg->names_fd, next, &o) && o.id < BF_RECENT_TABLES &&
		    gone[o.id]) {
			bpf_map_delete_elem(reg->names_fd, next);
			prev = NULL; /* start over: the walk's position is gone */
			continue;
		}
		memcpy(cur, next, sizeof(cur));
		prev = cur;
	}
}

/*
 * /proc/net/xt_recent/NAME (recent_seq_show, recent_mt_proc_write), for the daemon's control
 * request. The table is read and written back under its lock (BPF_F_LOCK), one step each: a
 * packet that updates the table between the two is overwritten, where the kernel holds
 * recent_lock across the whole write.
 */
static int recent_ctl_table(struct bf_recent_reg *reg, const char *name, uint32_t *id,
			    struct bf_recent_table **t)
{
	char key[BF_RECENT_NAME_LEN] = {0};
	struct bf_recent_name v;

	if (!name[0] || strnlen(name, sizeof(key)) == sizeof(key))
		return -ENOENT;
	memcpy(key, name, strlen(name));
	if (bpf_map_lookup_elem(reg->names_fd, key, &v))
		return errno == ENOENT ? -ENOENT : -errno;
	*t = calloc(1, sizeof(**t));
	if (!*t)
		return -ENOMEM;
	if (bpf_map_lookup_elem_flags(reg->tables_fd, &v.id, *t, BPF_F_LOCK)) {
		int err = -errno;

		free(*t);
		*t = NULL;
		return err;
	}
	*id = v.id;
	return 0;
}

int bf_recent_ctl_read(struct bf_recent_reg *reg, const char *name, char **text, size_t *len)
{
	_cleanup_free_ struct bf_recent_table *t = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t cap = 0, n = 0;
	FILE *f;
	uint32_t id;
	int err;

	err = recent_ctl_table(reg, name, &id, &t);
	if (err)
		return err;
	f = open_memstream(&buf, &cap);
	if (!f)
		return -errno;
	for (uint32_t s = 0; s < BF_RECENT_ENTRIES; s++) {
		const struct bf_recent_slot *e = &t->slot[s];
		const uint8_t *a = (const uint8_t *)e->addr;
		uint32_t last = (e->index - 1) & t->nstamps_max_mask;

		if (!e->lru)
			continue;
		if (e->family == NFPROTO_IPV4) {
			fprintf(f, "src=%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
		} else {
			fprintf(f, "src=");
			for (int k = 0; k < 16; k += 2)
				fprintf(f, "%s%02x%02x", k ? ":" : "", a[k], a[k + 1]);
		}
		fprintf(f, " ttl: %u last_seen: %" PRIu64 " oldest_pkt: %u", e->ttl,
			e->stamps[last % BF_RECENT_NSTAMPS], e->index);
		/* Only the last 32 stamps are kept (extstate.h). */
		for (uint32_t i = 0; i < e->nstamps && i < BF_RECENT_NSTAMPS; i++)
			fprintf(f, "%s %" PRIu64, i ? "," : "", e->stamps[i]);
		fputc('\n', f);
	}
	if (fclose(f))
		return -ENOMEM;
	n = cap;
	*text = TAKE_PTR(buf);
	*len = n;
	return 0;
}

/* Under no lock of ours: the caller writes the table back with BPF_F_LOCK. */
static void recent_ctl_update(struct bf_recent_table *t, struct bf_recent_slot *e, uint64_t now)
{
	e->index &= t->nstamps_max_mask;
	e->stamps[e->index % BF_RECENT_NSTAMPS] = now;
	e->index++;
	if (e->index > e->nstamps)
		e->nstamps = e->index;
	e->lru = ++t->seq;
}

int bf_recent_ctl_write(struct bf_recent_reg *reg, const char *name, const char *in, size_t size,
			size_t *ret)
{
	/* sizeof("+b335:1d35:1e55:dead:c0de:1715:5afe:c0de") */
	char buf[41], addr_txt[41];
	_cleanup_free_ struct bf_recent_table *t = NULL;
	struct bf_recent_slot *e = NULL, *lru = NULL;
	uint64_t addr[2] = {0, 0}, ns, now;
	bool add;
	uint16_t family;
	uint32_t id;
	size_t alen;
	int err;

	err = recent_ctl_table(reg, name, &id, &t);
	if (err)
		return err;
	if (size == 0) {
		*ret = 0;
		return 0;
	}
	if (size > sizeof(buf))
		size = sizeof(buf);
	memcpy(buf, in, size);
	if (buf[0] == '/') {
		err = recent_table_reset(reg, id, t->nstamps_max_mask);
		if (!err)
			*ret = size;
		return err;
	}
	if (buf[0] != '+' && buf[0] != '-')
		return -EINVAL;
	add = buf[0] == '+';
	/* in4_pton / in6_pton: the text up to size - 1 bytes or a '\n' */
	alen = size - 1;
	memcpy(addr_txt, buf + 1, alen);
	addr_txt[alen] = '\0';
	addr_txt[strcspn(addr_txt, "\n")] = '\0';
	family = memchr(buf + 1, ':', size - 1) ? NFPROTO_IPV6 : NFPROTO_IPV4;
	if (inet_pton(family == NFPROTO_IPV6 ? AF_INET6 : AF_INET, addr_txt, addr) != 1)
		return -EINVAL;
	err = timer_list_read(&ns, &now);
	if (err)
		return err;
	for (uint32_t s = 0; s < BF_RECENT_ENTRIES; s++) {
		struct bf_recent_slot *x = &t->slot[s];

		if (!x->lru)
			continue;
		if (!lru || x->lru < lru->lru)
			lru = x;
		if (!e && x->family == family && !memcmp(x->addr, addr, sizeof(addr)))
			e = x;
	}
	if (!e && add) {
		/* recent_entry_init with ttl 0 */
		if (t->entries >= BF_RECENT_ENTRIES && lru) {
			lru->lru = 0;
			t->entries--;
		}
		for (uint32_t s = 0; s < BF_RECENT_ENTRIES && !e; s++)
			if (!t->slot[s].lru)
				e = &t->slot[s];
		memset(e, 0, sizeof(*e));
		memcpy(e->addr, addr, sizeof(addr));
		e->family = family;
		e->stamps[0] = now;
		e->nstamps = 1;
		e->index = 1;
		e->lru = ++t->seq;
		t->entries++;
	} else if (e && add) {
		recent_ctl_update(t, e, now);
	} else if (e) {
		e->lru = 0;
		t->entries--;
	}
	if (bpf_map_update_elem(reg->tables_fd, &id, t, BPF_F_LOCK))
		return -errno;
	*ret = size;
	return 0;
}
