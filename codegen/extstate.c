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
#include <linux/netfilter/xt_limit.h>

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
