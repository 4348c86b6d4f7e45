// SPDX-License-Identifier: GPL-2.0-only
/* The icmp match: checkentry, registration and icmp_match's semantics
 * (net/ipv4/netfilter/ip_tables.c). */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <linux/netfilter_ipv4/ip_tables.h>

#include "codegen/registry.h"

static int eval_icmp(const struct ipt_icmp *info, const struct mh_pkt *p)
{
	struct mh_rule r;
	int tc, xdp;

	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_icmp, info, sizeof(*info));
	tc = mh_eval(NFPROTO_IPV4, BF_CTX_TC, &r, true, p);
	xdp = mh_eval(NFPROTO_IPV4, BF_CTX_XDP, &r, true, p);
	ck_assert_int_eq(tc, xdp);
	return tc;
}

static void icmp_pkt(struct mh_pkt *p, uint8_t type, uint8_t code, uint16_t frag, uint32_t len)
{
	uint8_t l4[16] = {type, code, 0, 0, 0, 1, 0, 1};

	mh_ipv4(p, IPPROTO_ICMP, "10.0.0.1", "10.0.0.2", frag, l4, len, sizeof(l4));
}

START_TEST(test_check)
{
	struct ipt_icmp i = {.type = 8, .code = {0, 255}};

	for (unsigned int inv = 0; inv < 256; inv++) {
		i.invflags = (uint8_t)inv;
		ck_assert_int_eq(bf_match_icmp.check(NULL, &i), inv & ~0x01u ? -EINVAL : 0);
	}
}
END_TEST

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "icmp", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_icmp);
	ck_assert_int_eq(bf_match_icmp.size, 4);
	ck_assert_int_eq(bf_match_icmp.proto, IPPROTO_ICMP);
	/* ip_tables registers icmp for IPv4 only */
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "icmp", 0, &e), -ENOENT);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV6, "icmp", 0), -ENOENT);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "icmp", 1, &e), -ENOENT);
}
END_TEST

START_TEST(test_type_code)
{
	struct ipt_icmp i = {.type = 8, .code = {0, 255}};
	struct mh_pkt p;

	icmp_pkt(&p, 8, 0, 0, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MATCH);
	icmp_pkt(&p, 0, 0, 0, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MISS);
	i.invflags = IPT_ICMP_INV;
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MATCH);
	icmp_pkt(&p, 8, 7, 0, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MISS);

	/* type 3 code 3 (port-unreachable) */
	i = (struct ipt_icmp){.type = 3, .code = {3, 3}};
	icmp_pkt(&p, 3, 3, 0, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MATCH);
	icmp_pkt(&p, 3, 2, 0, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MISS);
	icmp_pkt(&p, 3, 4, 0, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MISS);
	i.invflags = IPT_ICMP_INV;
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MATCH);
	icmp_pkt(&p, 3, 3, 0, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MISS);
	icmp_pkt(&p, 4, 3, 0, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MATCH);

	/* code ranges */
	i = (struct ipt_icmp){.type = 3, .code = {2, 5}};
	for (uint8_t c = 0; c < 8; c++) {
		icmp_pkt(&p, 3, c, 0, 8);
		ck_assert_int_eq(eval_icmp(&i, &p), c >= 2 && c <= 5 ? MH_MATCH : MH_MISS);
	}
	i.code[0] = 6; /* empty */
	icmp_pkt(&p, 3, 5, 0, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MISS);
	i.invflags = IPT_ICMP_INV;
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MATCH);
	/* type 255 with code 255 in range */
	i = (struct ipt_icmp){.type = 254, .code = {255, 255}};
	icmp_pkt(&p, 254, 255, 0, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MATCH);
}
END_TEST

START_TEST(test_any)
{
	/* type 0xFF is "any", whatever the code range; inverted it never matches */
	struct ipt_icmp i = {.type = 0xff, .code = {9, 1}};
	struct mh_pkt p;

	icmp_pkt(&p, 13, 200, 0, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MATCH);
	icmp_pkt(&p, 255, 0, 0, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MATCH);
	i.invflags = IPT_ICMP_INV;
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MISS);
	/* "any" still never matches a non-first fragment and still drops a short header */
	i.invflags = 0;
	icmp_pkt(&p, 8, 0, 2, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MISS);
	icmp_pkt(&p, 8, 0, 0, 7);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_HOTDROP);
}
END_TEST

START_TEST(test_fragments_and_short)
{
	struct ipt_icmp i = {.type = 8, .code = {0, 255}};
	struct mh_pkt p;

	icmp_pkt(&p, 8, 0, 0x2000, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MATCH);
	icmp_pkt(&p, 8, 0, 1, 8);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MISS);
	i.invflags = IPT_ICMP_INV;
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MISS);
	i.invflags = 0;
	icmp_pkt(&p, 8, 0, 5, 1);
	ck_assert_int_eq(eval_icmp(&i, &p), MH_MISS);
	/* sizeof(struct icmphdr) is 8: fewer bytes is a hotdrop, even with type/code present */
	for (uint32_t len = 0; len < 8; len++) {
		icmp_pkt(&p, 8, 0, 0, len);
		ck_assert_int_eq(eval_icmp(&i, &p), MH_HOTDROP);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_icmp");
	TCase *tc = tcase_create("icmp");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_type_code);
	tcase_add_test(tc, test_any);
	tcase_add_test(tc, test_fragments_and_short);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
