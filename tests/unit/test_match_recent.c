// SPDX-License-Identifier: GPL-2.0-only
/*
 * The recent match (net/netfilter/xt_recent.c): registration, recent_mt_check's errors, and
 * recent_mt run with BPF_PROG_TEST_RUN against a real bf_recent table: ufw's --set / --update
 * --seconds --hitcount pair, --rcheck with a mask and a table shared by IPv4 and IPv6 rules,
 * --remove, the 100-entry limit with the least recently updated entry dropped, --seconds against
 * stamps aged in the map, and a table destroyed with its last reference. Real traffic against
 * the kernel: tests/e2e/stateful_recent.sh.
 */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/netfilter/xt_recent.h>

#include <bpfilter/cleanup.h>

#include "codegen/extstate.h"
#include "codegen/registry.h"

static const struct bf_log quiet;
static struct bf_recent_reg reg;

static void setup(void)
{
	memset(&reg, 0, sizeof(reg));
	ck_assert_int_eq(bf_recent_maps_create(&quiet, &reg.tables_fd, &reg.names_fd), 0);
}

static void teardown(void)
{
	close(reg.tables_fd);
	close(reg.names_fd);
}

static struct xt_recent_mtinfo_v1 info(uint8_t flags, const char *name, uint32_t seconds,
				       uint32_t hits)
{
	struct xt_recent_mtinfo_v1 i = {.seconds = seconds,
					.hit_count = hits,
					.check_set = flags,
					.side = XT_RECENT_SOURCE};

	strcpy(i.name, name);
	memset(&i.mask, 0xff, sizeof(i.mask));
	return i;
}

struct rule {
	struct mh_rule r;
	struct bf_table_model model;
	uint32_t *ids, n_ids;
	int fd;
};

/* Acquire the rule's table (as a generation does) and load it: match -> MH_MATCH, miss ->
 * MH_MISS, hotdrop -> MH_HOTDROP. */
static void rule_load(struct rule *r, int family, const struct xt_recent_mtinfo_v1 *i)
{
	memset(r, 0, sizeof(*r));
	mh_rule_init(&r->r);
	mh_rule_add(&r->r, family == NFPROTO_IPV6 ? &bf_match_recent1_6 : &bf_match_recent1, i,
		    sizeof(*i));
	r->model = (struct bf_table_model){.family = family, .n_entries = 1, .entries = &r->r.e};
	ck_assert_int_eq(bf_recent_acquire(&reg, &r->model, &quiet, &r->ids, &r->n_ids), 0);
	mh_map_fds[BF_MAP_RECENT] = reg.tables_fd;
	ck_assert_int_eq(mh_load(family, BF_CTX_TC, &r->r, false, &r->fd, NULL), 0);
}

static void rule_free(struct rule *r)
{
	close(r->fd);
	bf_recent_release(&reg, r->ids, r->n_ids);
	free(r->ids);
}

/* Run a rule on a UDP packet from `src` to `dst`. */
static int run(const struct rule *r, const char *src, const char *dst)
{
	return mh_exec_udp(r->fd, src, dst);
}

static struct bf_recent_table *table(const char *name)
{
	struct bf_recent_table *t = calloc(1, sizeof(*t));
	struct bf_recent_name nm;

	ck_assert_ptr_nonnull(t);
	bf_recent_bind(&reg);
	ck_assert_int_eq(bf_recent_find(name, &nm), 0);
	ck_assert_int_eq(bpf_map_lookup_elem_flags(reg.tables_fd, &nm.id, t, BPF_F_LOCK), 0);
	return t;
}

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "recent", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_recent0);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "recent", 1, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_recent1);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "recent", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_recent0_6);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "recent", 1, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_recent1_6);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV4, "recent", 2),
			 -EPROTONOSUPPORT);
	ck_assert_int_eq(bf_match_recent0.size, sizeof(struct xt_recent_mtinfo));
	ck_assert_int_eq(bf_match_recent1.size, sizeof(struct xt_recent_mtinfo_v1));
}
END_TEST

START_TEST(test_check)
{
	struct bf_check_ctx c = {.table = "filter", .family = NFPROTO_IPV4, .log = &quiet};
	struct xt_recent_mtinfo_v1 i;

	i = info(XT_RECENT_SET, "A", 0, 0);
	ck_assert_int_eq(bf_match_recent1.check(&c, &i), 0);
	i = info(XT_RECENT_SET | XT_RECENT_CHECK, "A", 0, 0);
	ck_assert_int_eq(bf_match_recent1.check(&c, &i), -EINVAL);
	i = info(0, "A", 0, 0);
	ck_assert_int_eq(bf_match_recent1.check(&c, &i), -EINVAL);
	i = info(XT_RECENT_SET, "A", 5, 0);
	ck_assert_int_eq(bf_match_recent1.check(&c, &i), -EINVAL);
	i = info(XT_RECENT_REMOVE | XT_RECENT_TTL, "A", 0, 0);
	ck_assert_int_eq(bf_match_recent1.check(&c, &i), -EINVAL);
	i = info(XT_RECENT_CHECK | XT_RECENT_REAP, "A", 0, 0);
	ck_assert_int_eq(bf_match_recent1.check(&c, &i), -EINVAL);
	i = info(XT_RECENT_CHECK | 0x40, "A", 0, 0);
	ck_assert_int_eq(bf_match_recent1.check(&c, &i), -EINVAL);
	i = info(XT_RECENT_CHECK, "", 0, 0);
	ck_assert_int_eq(bf_match_recent1.check(&c, &i), -EINVAL);
	i = info(XT_RECENT_CHECK, "..", 0, 0);
	ck_assert_int_eq(bf_match_recent1.check(&c, &i), -EINVAL);
	i = info(XT_RECENT_CHECK, "a", 0, 0);
	memset(i.name, 'a', sizeof(i.name));
	ck_assert_int_eq(bf_match_recent1.check(&c, &i), -ENAMETOOLONG);
	i = info(XT_RECENT_CHECK, "A", 0, 999);
	ck_assert_int_eq(bf_match_recent1.check(&c, &i), 0);
	i = info(XT_RECENT_CHECK, "A", 10, 32);
	ck_assert_int_eq(bf_match_recent1.check(&c, &i), 0);
	i = info(XT_RECENT_CHECK, "A", 10, 33);
	ck_assert_int_eq(bf_match_recent1.check(&c, &i), -EOPNOTSUPP);
}
END_TEST

/* ufw's "limit": --set, then --update --seconds 30 --hitcount 6 drops from the 6th packet. */
START_TEST(test_ufw_limit)
{
	struct xt_recent_mtinfo_v1 si = info(XT_RECENT_SET, "DEFAULT", 0, 0);
	struct xt_recent_mtinfo_v1 ui = info(XT_RECENT_UPDATE, "DEFAULT", 30, 6);
	struct rule set, upd;

	rule_load(&set, NFPROTO_IPV4, &si);
	rule_load(&upd, NFPROTO_IPV4, &ui);
	for (int k = 1; k <= 10; k++) {
		ck_assert_int_eq(run(&set, "10.0.0.1", "10.0.0.9"), 1);
		ck_assert_int_eq(run(&upd, "10.0.0.1", "10.0.0.9"), k >= 6);
		/* another source has its own entry */
		ck_assert_int_eq(run(&upd, "10.0.0.2", "10.0.0.9"), 0);
	}
	{
		_cleanup_free_ struct bf_recent_table *t = table("DEFAULT");

		ck_assert_uint_eq(t->entries, 1);
		ck_assert_uint_eq(t->nstamps_max_mask, 31);
		/* 10 --set stamps and 5 true --update stamps */
		for (int s = 0; s < BF_RECENT_ENTRIES; s++)
			if (t->slot[s].lru)
				ck_assert_uint_eq(t->slot[s].nstamps, 15);
	}
	rule_free(&upd);
	rule_free(&set);
}
END_TEST

/* --remove, inversion, and one table for both families. */
START_TEST(test_remove_invert_families)
{
	struct xt_recent_mtinfo_v1 si = info(XT_RECENT_SET, "T", 0, 0);
	struct xt_recent_mtinfo_v1 ci = info(XT_RECENT_CHECK, "T", 0, 0);
	struct xt_recent_mtinfo_v1 ri = info(XT_RECENT_REMOVE, "T", 0, 0);
	struct rule set, chk, nchk, rm, chk6;

	rule_load(&set, NFPROTO_IPV4, &si);
	rule_load(&chk, NFPROTO_IPV4, &ci);
	ci.invert = 1;
	rule_load(&nchk, NFPROTO_IPV4, &ci);
	ci.invert = 0;
	rule_load(&rm, NFPROTO_IPV4, &ri);
	rule_load(&chk6, NFPROTO_IPV6, &ci);
	ck_assert_int_eq(run(&chk, "10.0.0.1", "10.0.0.9"), 0);
	ck_assert_int_eq(run(&nchk, "10.0.0.1", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&set, "10.0.0.1", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&chk, "10.0.0.1", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&nchk, "10.0.0.1", "10.0.0.9"), 0);
	/* same table, other family: no entry for ::ffff:... or anything else */
	ck_assert_int_eq(run(&chk6, "fd00::1", "fd00::9"), 0);
	ck_assert_int_eq(run(&rm, "10.0.0.1", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&rm, "10.0.0.1", "10.0.0.9"), 0);
	ck_assert_int_eq(run(&chk, "10.0.0.1", "10.0.0.9"), 0);
	rule_free(&chk6);
	rule_free(&rm);
	rule_free(&nchk);
	rule_free(&chk);
	rule_free(&set);
}
END_TEST

/* ip_list_tot: the 101st address takes the place of the least recently updated one. */
START_TEST(test_lru)
{
	struct xt_recent_mtinfo_v1 si = info(XT_RECENT_SET, "L", 0, 0);
	struct xt_recent_mtinfo_v1 ci = info(XT_RECENT_CHECK, "L", 0, 0);
	struct rule set, chk;
	char a[32];

	rule_load(&set, NFPROTO_IPV4, &si);
	rule_load(&chk, NFPROTO_IPV4, &ci);
	for (int k = 0; k < 100; k++) {
		snprintf(a, sizeof(a), "10.1.0.%d", k);
		ck_assert_int_eq(run(&set, a, "10.0.0.9"), 1);
	}
	/* 10.1.0.0 becomes the most recent; 10.1.0.1 is now the oldest */
	ck_assert_int_eq(run(&set, "10.1.0.0", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&set, "10.2.0.0", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&chk, "10.1.0.1", "10.0.0.9"), 0);
	ck_assert_int_eq(run(&chk, "10.1.0.0", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&chk, "10.1.0.2", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&chk, "10.2.0.0", "10.0.0.9"), 1);
	{
		_cleanup_free_ struct bf_recent_table *t = table("L");

		ck_assert_uint_eq(t->entries, 100);
	}
	rule_free(&chk);
	rule_free(&set);
}
END_TEST

/* --seconds against stamps aged by hand; the table goes with its last reference. */
START_TEST(test_seconds_and_destroy)
{
	struct xt_recent_mtinfo_v1 si = info(XT_RECENT_SET, "S", 0, 0);
	struct xt_recent_mtinfo_v1 ci = info(XT_RECENT_CHECK, "S", 10, 2);
	struct bf_recent_name nm;
	struct rule set, chk;
	uint32_t hz;

	ck_assert_int_eq(bf_kernel_hz(&quiet, &hz), 0);
	rule_load(&set, NFPROTO_IPV4, &si);
	rule_load(&chk, NFPROTO_IPV4, &ci);
	ck_assert_int_eq(run(&set, "10.0.0.1", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&set, "10.0.0.1", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&chk, "10.0.0.1", "10.0.0.9"), 1);
	{
		_cleanup_free_ struct bf_recent_table *t = table("S");

		bf_recent_find("S", &nm);
		for (int s = 0; s < BF_RECENT_ENTRIES; s++)
			if (t->slot[s].lru)
				t->slot[s].stamps[0] -= 11 * hz; /* one of two stamps too old */
		ck_assert_int_eq(bpf_map_update_elem(reg.tables_fd, &nm.id, t, BPF_F_LOCK), 0);
	}
	ck_assert_int_eq(run(&chk, "10.0.0.1", "10.0.0.9"), 0);
	ck_assert_int_eq(run(&set, "10.0.0.1", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&chk, "10.0.0.1", "10.0.0.9"), 1);
	rule_free(&chk);
	ck_assert_int_eq(bf_recent_find("S", &nm), 0);
	rule_free(&set);
	ck_assert_int_eq(bf_recent_find("S", &nm), -ENOENT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_recent");
	TCase *tc = tcase_create("recent");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_ufw_limit);
	tcase_add_test(tc, test_remove_invert_families);
	tcase_add_test(tc, test_lru);
	tcase_add_test(tc, test_seconds_and_destroy);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
