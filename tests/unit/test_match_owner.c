// SPDX-License-Identifier: GPL-2.0-only
/*
 * The owner match (net/netfilter/xt_owner.c): registration, owner_check, and owner_mt for a
 * packet without a socket through BPF_PROG_TEST_RUN (a test run's skb has none): the answer is
 * (match ^ invert) == 0. Sockets and their credentials are compared with the kernel in
 * tests/e2e/lookups_owner.sh.
 */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include <bpfilter/cleanup.h>

#include "codegen/registry.h"
#include <linux/netfilter/xt_owner.h>

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "owner", 1, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_owner);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "owner", 1, &e), 0);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "owner", 0, &e), -EPROTOTYPE);
	ck_assert_int_eq(bf_match_owner.size, sizeof(struct xt_owner_match_info));
	ck_assert_uint_eq(bf_match_owner.hooks,
			  (1u << NF_INET_LOCAL_OUT) | (1u << NF_INET_POST_ROUTING));
}
END_TEST

static int check(uint8_t match, uint32_t umin, uint32_t umax, uint32_t gmin, uint32_t gmax)
{
	struct xt_owner_match_info i = {
		.uid_min = umin, .uid_max = umax, .gid_min = gmin, .gid_max = gmax, .match = match};
	struct bf_check_ctx c = {
		.table = "filter", .family = NFPROTO_IPV4, .hook_mask = 1u << NF_INET_LOCAL_OUT};

	return bf_match_owner.check(&c, &i);
}

START_TEST(test_check)
{
	ck_assert_int_eq(check(XT_OWNER_UID, 0, 10, 0, 0), 0);
	ck_assert_int_eq(check(XT_OWNER_UID, 10, 5, 0, 0), -EINVAL);
	ck_assert_int_eq(check(XT_OWNER_UID, 0, UINT32_MAX, 0, 0), -EINVAL);
	ck_assert_int_eq(check(XT_OWNER_GID, 0, 0, 7, 6), -EINVAL);
	ck_assert_int_eq(check(XT_OWNER_GID | XT_OWNER_SUPPL_GROUPS, 0, 0, 6, 7), 0);
	/* ranges of a part not asked for are not checked */
	ck_assert_int_eq(check(XT_OWNER_SOCKET, 10, 5, 7, 6), 0);
	ck_assert_int_eq(check(0x10, 0, 0, 0, 0), -EINVAL);
}
END_TEST

START_TEST(test_no_socket)
{
	for (unsigned int match = 0; match < 16; match++) {
		for (unsigned int inv = 0; inv < 16; inv++) {
			struct xt_owner_match_info i = {.uid_max = 10,
							.gid_max = 10,
							.match = (uint8_t)match,
							.invert = (uint8_t)inv};
			struct mh_rule r;
			struct mh_pkt p;

			mh_ipv4(&p, 17, "10.0.0.1", "10.0.0.2", 0, NULL, 0, 0);
			p.pkt.hook = NF_INET_LOCAL_OUT;
			mh_rule_init(&r);
			mh_rule_add(&r, &bf_match_owner, &i, sizeof(i));
			ck_assert_int_eq(mh_eval(NFPROTO_IPV4, BF_CTX_TC, &r, false, &p),
					 (match ^ inv) == 0 ? MH_MATCH : MH_MISS);
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_owner");
	TCase *tc = tcase_create("owner");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_no_socket);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
