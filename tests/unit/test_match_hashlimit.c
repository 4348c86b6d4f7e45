// SPDX-License-Identifier: GPL-2.0-only
/*
 * The hashlimit match (net/netfilter/xt_hashlimit.c): registration, hashlimit_mt_check's
 * errors, and hashlimit_mt_common run with BPF_PROG_TEST_RUN against real bf_hl maps: a burst
 * per source, --hashlimit-above, a source mask, a table shared by two rules and by name per
 * family, a full table (new flows hotdropped), an entry past its expiry starting afresh, and
 * a table destroyed with its last reference. Real traffic against the kernel:
 * tests/e2e/stateful_hashlimit.sh.
 */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/netfilter/xt_hashlimit.h>

#include <bpfilter/cleanup.h>

#include "codegen/extstate.h"
#include "codegen/registry.h"

static const struct bf_log quiet;
static struct bf_hl_reg reg;

static void setup(void)
{
	memset(&reg, 0, sizeof(reg));
	ck_assert_int_eq(bf_hl_maps_create(&quiet, &reg.ents_fd, &reg.tabs_fd, &reg.names_fd), 0);
}

static void teardown(void)
{
	bf_hl_gc_stop(&reg);
	close(reg.ents_fd);
	close(reg.tabs_fd);
	close(reg.names_fd);
}

/* What iptables sends for --hashlimit-upto 1/min (or -above with `above`). */
static struct xt_hashlimit_mtinfo3 info(const char *name, uint32_t mode, uint64_t burst, bool above)
{
	struct xt_hashlimit_mtinfo3 i = {
		.cfg = {.avg = XT_HASHLIMIT_SCALE_v2 * 60,
			.burst = burst,
			.mode = mode | (above ? XT_HASHLIMIT_INVERT : 0),
			.gc_interval = 1000,
			.expire = 10000,
			.srcmask = 32,
			.dstmask = 32},
	};

	strcpy(i.name, name);
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
static void rule_load(struct rule *r, int family, const struct xt_hashlimit_mtinfo3 *i)
{
	memset(r, 0, sizeof(*r));
	mh_rule_init(&r->r);
	mh_rule_add(&r->r, family == NFPROTO_IPV6 ? &bf_match_hashlimit3_6 : &bf_match_hashlimit3,
		    i, sizeof(*i));
	r->model = (struct bf_table_model){.family = family, .n_entries = 1, .entries = &r->r.e};
	ck_assert_int_eq(bf_hl_acquire(&reg, &r->model, &quiet, &r->ids, &r->n_ids), 0);
	mh_map_fds[BF_MAP_HL] = reg.ents_fd;
	mh_map_fds[BF_MAP_HL_TAB] = reg.tabs_fd;
	ck_assert_int_eq(mh_load(family, BF_CTX_TC, &r->r, false, &r->fd, NULL), 0);
}

static void rule_free(struct rule *r)
{
	close(r->fd);
	bf_hl_release(&reg, r->ids, r->n_ids);
	free(r->ids);
}

/* Run a rule on a UDP packet from `src` to `dst`. */
static int run(const struct rule *r, const char *src, const char *dst)
{
	return mh_exec_udp(r->fd, src, dst);
}

static int count_entries(void)
{
	struct bf_hl_key cur, next;
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(reg.ents_fd, prev, &next)) {
		n++;
		cur = next;
		prev = &cur;
	}
	return n;
}

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "hashlimit", 1, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_hashlimit1);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "hashlimit", 3, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_hashlimit3);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "hashlimit", 2, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_hashlimit2_6);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV4, "hashlimit", 0),
			 -EPROTONOSUPPORT);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV6, "hashlimit", 4),
			 -EPROTONOSUPPORT);
	ck_assert_int_eq(bf_match_hashlimit1.size, sizeof(struct xt_hashlimit_mtinfo1));
	ck_assert_int_eq(bf_match_hashlimit3.usersize,
			 offsetof(struct xt_hashlimit_mtinfo3, hinfo));
}
END_TEST

START_TEST(test_check)
{
	struct bf_check_ctx c = {.table = "filter", .family = NFPROTO_IPV4, .log = &quiet};
	struct bf_check_ctx c6 = {.table = "filter", .family = NFPROTO_IPV6, .log = &quiet};
	struct xt_hashlimit_mtinfo3 i;
	struct xt_hashlimit_mtinfo1 i1 = {
		.cfg = {.avg = 10000, .burst = 5, .gc_interval = 1000, .expire = 10000}};

	i = info("A", XT_HASHLIMIT_HASH_SIP, 5, false);
	ck_assert_int_eq(bf_match_hashlimit3.check(&c, &i), 0);
	i.cfg.expire = 0;
	ck_assert_int_eq(bf_match_hashlimit3.check(&c, &i), -EINVAL);
	i = info("A", 0, 5, false);
	i.cfg.gc_interval = 0;
	ck_assert_int_eq(bf_match_hashlimit3.check(&c, &i), -EINVAL);
	i = info("", 0, 5, false);
	ck_assert_int_eq(bf_match_hashlimit3.check(&c, &i), -EINVAL);
	i = info("a/b", 0, 5, false);
	ck_assert_int_eq(bf_match_hashlimit3.check(&c, &i), -EINVAL);
	i = info("..", 0, 5, false);
	ck_assert_int_eq(bf_match_hashlimit3.check(&c, &i), -EINVAL);
	memset(i1.name, 'x', sizeof(i1.name));
	ck_assert_int_eq(bf_match_hashlimit1.check(&c, &i1), -ENAMETOOLONG);
	strcpy(i1.name, "ok");
	ck_assert_int_eq(bf_match_hashlimit1.check(&c, &i1), 0);
	i = info("A", 0, 5, false);
	i.cfg.srcmask = 33;
	ck_assert_int_eq(bf_match_hashlimit3.check(&c, &i), -EINVAL);
	i.cfg.srcmask = 128;
	ck_assert_int_eq(bf_match_hashlimit3_6.check(&c6, &i), 0);
	i.cfg.dstmask = 129;
	ck_assert_int_eq(bf_match_hashlimit3_6.check(&c6, &i), -EINVAL);
	i = info("A", 0x80, 5, false);
	ck_assert_int_eq(bf_match_hashlimit3.check(&c, &i), -EINVAL);
	i = info("A", 0, 0, false);
	ck_assert_int_eq(bf_match_hashlimit3.check(&c, &i), -ERANGE);
	i = info("A", XT_HASHLIMIT_RATE_MATCH, 5, false);
	ck_assert_int_eq(bf_match_hashlimit3.check(&c, &i), -EINVAL); /* interval 0 */
	i.cfg.interval = 1;
	ck_assert_int_eq(bf_match_hashlimit3.check(&c, &i), 0);
	i.cfg.avg = 0;
	ck_assert_int_eq(bf_match_hashlimit3.check(&c, &i), -ERANGE);
	i.cfg.avg = 1ull << 32;
	ck_assert_int_eq(bf_match_hashlimit3.check(&c, &i), -ERANGE);
	/* revision 2 has no rate-match: the credit checks apply */
	i = info("A", XT_HASHLIMIT_BYTES, 5, false);
	i.cfg.avg = 1; /* user2credits_byte(1) == 0 */
	ck_assert_int_eq(bf_match_hashlimit3.check(&c, &i), -EINVAL);
}
END_TEST

START_TEST(test_burst_per_source)
{
	struct xt_hashlimit_mtinfo3 up = info("U", XT_HASHLIMIT_HASH_SIP, 3, false);
	struct xt_hashlimit_mtinfo3 ab = info("V", XT_HASHLIMIT_HASH_SIP, 2, true);
	struct rule ru, ra;

	rule_load(&ru, NFPROTO_IPV4, &up);
	rule_load(&ra, NFPROTO_IPV4, &ab);
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(run(&ru, "10.0.0.1", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&ru, "10.0.0.1", "10.0.0.9"), 0);
	ck_assert_int_eq(run(&ru, "10.0.0.1", "10.0.0.8"), 0);
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(run(&ru, "10.0.0.2", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&ru, "10.0.0.2", "10.0.0.9"), 0);
	/* --hashlimit-above: over the limit matches */
	ck_assert_int_eq(run(&ra, "10.0.0.1", "10.0.0.9"), 0);
	ck_assert_int_eq(run(&ra, "10.0.0.1", "10.0.0.9"), 0);
	ck_assert_int_eq(run(&ra, "10.0.0.1", "10.0.0.9"), 1);
	ck_assert_int_eq(count_entries(), 3);
	rule_free(&ru);
	rule_free(&ra);
	ck_assert_int_eq(count_entries(), 0);
}
END_TEST

START_TEST(test_mask_shared_family)
{
	struct xt_hashlimit_mtinfo3 m = info("M", XT_HASHLIMIT_HASH_SIP, 2, false);
	struct xt_hashlimit_mtinfo3 other = info("M", XT_HASHLIMIT_HASH_DIP, 9, false);
	struct rule a, b, six;
	struct bf_hl_name nm;

	m.cfg.srcmask = 24;
	rule_load(&a, NFPROTO_IPV4, &m);
	/* the second rule finds the table: its own mode and burst do not count */
	rule_load(&b, NFPROTO_IPV4, &other);
	ck_assert_int_eq(run(&a, "10.0.0.1", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&b, "10.0.0.2", "10.0.0.7"), 1);
	ck_assert_int_eq(run(&a, "10.0.0.3", "10.0.0.9"), 0);
	ck_assert_int_eq(run(&b, "10.0.1.3", "10.0.0.9"), 1);
	/* the same name in IPv6 is another table, with its own config (htable_find_get) */
	m.cfg.srcmask = 64;
	rule_load(&six, NFPROTO_IPV6, &m);
	ck_assert_int_eq(bf_hl_find("M", NFPROTO_IPV6, &nm), 0);
	ck_assert_int_eq(nm.cfg.srcmask, 64);
	ck_assert_int_eq(run(&six, "fd00::1", "fd00::9"), 1);
	ck_assert_int_eq(run(&six, "fd00::2", "fd00::9"), 1);
	ck_assert_int_eq(run(&six, "fd00::3", "fd00::9"), 0);
	ck_assert_int_eq(run(&six, "fd00:0:0:1::3", "fd00::9"), 1);
	rule_free(&a);
	ck_assert_int_eq(bf_hl_find("M", NFPROTO_IPV4, &nm), 0);
	rule_free(&b);
	ck_assert_int_eq(bf_hl_find("M", NFPROTO_IPV4, &nm), -ENOENT);
	rule_free(&six);
	ck_assert_int_eq(count_entries(), 0);
}
END_TEST

START_TEST(test_full_and_expiry)
{
	struct xt_hashlimit_mtinfo3 f = info("F", XT_HASHLIMIT_HASH_SIP, 1, false);
	struct bf_hl_key cur, next;
	struct bf_hl_name nm;
	struct bf_hl_tab tab;
	void *prev = NULL;
	uint64_t now;
	char a[32];
	struct rule r;

	f.cfg.size = 16;
	f.cfg.max = 3; /* below the size: the size (htable_create) */
	rule_load(&r, NFPROTO_IPV4, &f);
	bf_hl_gc_stop(&reg); /* collections below are the test's own */
	ck_assert_int_eq(bf_hl_find("F", NFPROTO_IPV4, &nm), 0);
	ck_assert_int_eq(nm.cfg.max, 16);
	for (int k = 1; k <= 16; k++) {
		snprintf(a, sizeof(a), "10.1.0.%d", k);
		ck_assert_int_eq(run(&r, a, "10.0.0.9"), 1);
		ck_assert_int_eq(run(&r, a, "10.0.0.9"), 0);
	}
	/* count >= max: no entry for a new flow, the packet is dropped */
	ck_assert_int_eq(run(&r, "10.1.1.1", "10.0.0.9"), MH_HOTDROP);
	ck_assert_int_eq(count_entries(), 16);
	/* entries past their expiry: refilled until collected, as in the kernel */
	while (!bpf_map_get_next_key(reg.ents_fd, prev, &next)) {
		struct bf_hl_ent e;

		ck_assert_int_eq(bpf_map_lookup_elem_flags(reg.ents_fd, &next, &e, BPF_F_LOCK), 0);
		e.expires -= 1000000;
		ck_assert_int_eq(bpf_map_update_elem(reg.ents_fd, &next, &e, BPF_F_LOCK), 0);
		cur = next;
		prev = &cur;
	}
	ck_assert_int_eq(run(&r, "10.1.0.1", "10.0.0.9"), 0);
	ck_assert_int_eq(run(&r, "10.1.1.1", "10.0.0.9"), MH_HOTDROP);
	/* the collector takes the 15 expired entries away and counts them out: room again */
	ck_assert_int_eq(bf_kernel_jiffies(&now), 0);
	ck_assert_int_eq(bf_hl_gc(&reg, now, true), 0);
	ck_assert_int_eq(count_entries(), 1);
	ck_assert_int_eq(bpf_map_lookup_elem(reg.tabs_fd, &nm.id, &tab), 0);
	ck_assert_int_eq(tab.count, 1);
	ck_assert_int_eq(run(&r, "10.1.1.1", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&r, "10.1.2.1", "10.0.0.9"), 1);
	ck_assert_int_eq(run(&r, "10.1.0.2", "10.0.0.9"), 1); /* collected: a fresh bucket */
	ck_assert_int_eq(run(&r, "10.1.0.1", "10.0.0.9"), 0); /* not collected (refreshed) */
	rule_free(&r);
	ck_assert_int_eq(count_entries(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_hashlimit");
	TCase *tc = tcase_create("hashlimit");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_burst_per_source);
	tcase_add_test(tc, test_mask_shared_family);
	tcase_add_test(tc, test_full_and_expiry);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
