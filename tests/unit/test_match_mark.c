// SPDX-License-Identifier: GPL-2.0-only
/* The mark match (net/netfilter/xt_mark.c): registration and mark_mt at TC (skb->mark given to
 * BPF_PROG_TEST_RUN) and at XDP (no skb: mark 0). */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <linux/netfilter/xt_mark.h>

#include <bpfilter/cleanup.h>

#include "codegen/registry.h"

static int eval(enum bf_prog_ctx pctx, const struct xt_mark_mtinfo1 *info, uint32_t mark)
{
	struct mh_rule r;
	struct mh_pkt p;

	mh_ipv4(&p, 47, "10.0.0.1", "10.0.0.2", 0, NULL, 0, 0);
	p.skb_mark = mark;
	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_mark, info, sizeof(*info));
	return mh_eval(NFPROTO_IPV4, pctx, &r, false, &p);
}

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "mark", 1, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_mark);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "mark", 1, &e), 0);
	/* NFPROTO_UNSPEC with another revision → EPROTOTYPE */
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "mark", 0, &e), -EPROTOTYPE);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV4, "mark", 0), -EPROTONOSUPPORT);
	ck_assert_int_eq(bf_match_mark.size, 12);
	ck_assert_ptr_null(bf_match_mark.check);
}
END_TEST

START_TEST(test_tc)
{
	static const uint32_t marks[] = {0, 1, 0x10, 0xfeedcafe, 0xffffffff, 0x0ff0};
	static const struct xt_mark_mtinfo1 infos[] = {
		{.mark = 0, .mask = 0xffffffff},
		{.mark = 1, .mask = 0xffffffff},
		{.mark = 0xfeedcafe, .mask = 0xfeedcafe},
		{.mark = 0, .mask = 0xff0},
		{.mark = 0x10, .mask = 0xff0, .invert = 1},
		{.mark = 0x3, .mask = 0x1}, /* bits outside the mask: never equal */
		{.mark = 0x3, .mask = 0x1, .invert = 1},
		{.mark = 0, .mask = 0, .invert = 0},
		{.mark = 5, .mask = 0xffffffff, .invert = 2},
	};

	for (unsigned int i = 0; i < BF_ARRAY_SIZE(infos); i++) {
		for (unsigned int j = 0; j < BF_ARRAY_SIZE(marks); j++) {
			const struct xt_mark_mtinfo1 *m = &infos[i];
			bool want = ((marks[j] & m->mask) == m->mark) ^ m->invert;

			ck_assert_int_eq(eval(BF_CTX_TC, m, marks[j]), want ? MH_MATCH : MH_MISS);
			want = ((0 & m->mask) == m->mark) ^ m->invert;
			ck_assert_int_eq(eval(BF_CTX_XDP, m, marks[j]), want ? MH_MATCH : MH_MISS);
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_mark");
	TCase *tc = tcase_create("mark");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_tc);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
