// SPDX-License-Identifier: GPL-2.0-only
/* The comment match (net/netfilter/xt_comment.c): NFPROTO_UNSPEC, always matches. */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <unistd.h>
#include <linux/netfilter/xt_comment.h>

#include "codegen/registry.h"

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_match_comment.size, 256);
	ck_assert_int_eq(bf_match_comment.usersize, 0);
	ck_assert_int_eq(bf_match_comment.family, NFPROTO_UNSPEC);
	ck_assert_int_eq(bf_match_comment.proto, 0);
	ck_assert_ptr_null(bf_match_comment.table);
	ck_assert_ptr_null(bf_match_comment.check);
	/* found through the NFPROTO_UNSPEC retry from either family */
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "comment", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_comment);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "comment", 0, &e), 0);
	/* another revision of an UNSPEC extension: EPROTOTYPE */
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "comment", 1, &e), -EPROTOTYPE);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV4, "comment", 1),
			 -EPROTONOSUPPORT);
}
END_TEST

START_TEST(test_always_matches)
{
	struct xt_comment_info c = {.comment = "hello"};
	struct mh_rule r;
	struct mh_pkt p;
	uint8_t l4[8] = {0};
	size_t n0, n1;
	int fd;

	mh_rule_init(&r);
	ck_assert_int_eq(mh_load(NFPROTO_IPV4, BF_CTX_TC, &r, true, &fd, &n0), 0);
	close(fd);
	mh_rule_add(&r, &bf_match_comment, &c, sizeof(c));
	ck_assert_int_eq(mh_load(NFPROTO_IPV4, BF_CTX_TC, &r, true, &fd, &n1), 0);
	close(fd);
	ck_assert_uint_eq(n0, n1); /* emits nothing */

	mh_ipv4(&p, IPPROTO_UDP, "1.2.3.4", "5.6.7.8", 2, l4, 0, 0);
	ck_assert_int_eq(mh_eval(NFPROTO_IPV4, BF_CTX_TC, &r, true, &p), MH_MATCH);
	mh_ipv4(&p, 47, "1.2.3.4", "5.6.7.8", 0, l4, 8, 8);
	ck_assert_int_eq(mh_eval(NFPROTO_IPV4, BF_CTX_XDP, &r, true, &p), MH_MATCH);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_comment");
	TCase *tc = tcase_create("comment");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_always_matches);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
