// SPDX-License-Identifier: GPL-2.0-only
/* The ttl match (net/netfilter/xt_hl.c): registration, ttl_mt_check and ttl_mt. */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include <bpfilter/cleanup.h>

#include "codegen/registry.h"
#include <linux/netfilter_ipv4/ipt_ttl.h>

/* A GRE packet of `len` bytes of payload, with the given TOS and TTL. */
static void ip_pkt(struct mh_pkt *p, uint8_t tos, uint8_t ttl, uint32_t len)
{
	static const uint8_t payload[200];

	mh_ipv4(p, 47, "10.0.0.1", "10.0.0.2", 0, payload, len, len);
	p->frame[MH_L2_LEN + 1] = tos;
	p->frame[MH_L2_LEN + 8] = ttl;
	mh_fill(p);
}

/* TC and XDP must agree. */
static int eval(const struct bf_ext *ext, const void *info, uint16_t size, const struct mh_pkt *p)
{
	struct mh_rule r;
	int tc, xdp;

	mh_rule_init(&r);
	mh_rule_add(&r, ext, info, size);
	tc = mh_eval(NFPROTO_IPV4, BF_CTX_TC, &r, false, p);
	xdp = mh_eval(NFPROTO_IPV4, BF_CTX_XDP, &r, false, p);
	ck_assert_int_eq(tc, xdp);
	return tc;
}

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "ttl", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_ttl);
	/* ttl is IPv4 only, hl IPv6 only */
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "ttl", 0, &e), -ENOENT);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "hl", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_hl);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "hl", 0, &e), -ENOENT);
	ck_assert_int_eq(bf_match_ttl.size, 2);
}
END_TEST

START_TEST(test_check)
{
	struct bf_check_ctx ctx = {.family = NFPROTO_IPV4};

	for (unsigned int mode = 0; mode < 256; mode++) {
		struct ipt_ttl_info t = {.mode = (uint8_t)mode, .ttl = 1};

		ck_assert_int_eq(bf_match_ttl.check(&ctx, &t), mode <= IPT_TTL_GT ? 0 : -EINVAL);
	}
}
END_TEST

START_TEST(test_ttl)
{
	static const uint8_t ttls[] = {0, 1, 63, 64, 65, 254, 255};
	struct mh_pkt p;

	for (unsigned int mode = 0; mode <= IPT_TTL_GT; mode++) {
		for (unsigned int i = 0; i < BF_ARRAY_SIZE(ttls); i++) {
			for (unsigned int j = 0; j < BF_ARRAY_SIZE(ttls); j++) {
				struct ipt_ttl_info t = {.mode = (uint8_t)mode, .ttl = ttls[i]};
				uint8_t v = ttls[j];
				bool want = mode == IPT_TTL_EQ	 ? v == t.ttl
					    : mode == IPT_TTL_NE ? v != t.ttl
					    : mode == IPT_TTL_LT ? v < t.ttl
								 : v > t.ttl;

				ip_pkt(&p, 0, v, 8);
				ck_assert_int_eq(eval(&bf_match_ttl, &t, sizeof(t), &p),
						 want ? MH_MATCH : MH_MISS);
			}
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_ttl");
	TCase *tc = tcase_create("ttl");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_ttl);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
