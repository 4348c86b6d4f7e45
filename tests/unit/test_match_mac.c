// SPDX-License-Identifier: GPL-2.0-only
/* The mac match (net/netfilter/xt_mac.c): registration and mac_mt on the source MAC. */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include <bpfilter/cleanup.h>

#include "codegen/registry.h"
#include <linux/netfilter/xt_mac.h>

static int eval(enum bf_prog_ctx pctx, const struct xt_mac_info *info, const uint8_t *smac,
		uint32_t iif, uint32_t l3_off)
{
	struct mh_rule r;
	struct mh_pkt p;

	mh_ipv4(&p, 47, "10.0.0.1", "10.0.0.2", 0, NULL, 0, 0);
	mh_set_macs(&p, NULL, smac);
	p.pkt.hook = NF_INET_LOCAL_IN;
	p.pkt.iif = iif;
	if (l3_off != MH_L2_LEN) {
		/* a device without link header: the frame still has one (test_run needs it) */
		p.pkt.l3_off = l3_off;
	}
	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_mac, info, sizeof(*info));
	return mh_eval(NFPROTO_IPV4, pctx, &r, false, &p);
}

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "mac", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_mac);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "mac", 0, &e), 0);
	ck_assert_int_eq(bf_match_mac.size, 12);
	ck_assert_uint_eq(bf_match_mac.hooks, (1u << NF_INET_PRE_ROUTING) |
						      (1u << NF_INET_LOCAL_IN) |
						      (1u << NF_INET_FORWARD));
}
END_TEST

START_TEST(test_mac)
{
	static const uint8_t a[6] = {0x42, 0x01, 0x02, 0x03, 0x04, 0x05};
	static const uint8_t others[][6] = {{0x42, 0x01, 0x02, 0x03, 0x04, 0x06},
					    {0x43, 0x01, 0x02, 0x03, 0x04, 0x05},
					    {0x42, 0x01, 0x02, 0x04, 0x04, 0x05},
					    {0x05, 0x04, 0x03, 0x02, 0x01, 0x42}};

	for (int inv = 0; inv < 3; inv++) {
		struct xt_mac_info m = {.invert = inv};

		memcpy(m.srcaddr, a, 6);
		for (int x = 0; x < 2; x++) {
			enum bf_prog_ctx pctx = x ? BF_CTX_XDP : BF_CTX_TC;

			ck_assert_int_eq(eval(pctx, &m, a, 2, MH_L2_LEN),
					 (1 ^ inv) ? MH_MATCH : MH_MISS);
			for (unsigned int o = 0; o < BF_ARRAY_SIZE(others); o++)
				ck_assert_int_eq(eval(pctx, &m, others[o], 2, MH_L2_LEN),
						 inv ? MH_MATCH : MH_MISS);
			/* lo is not Ethernet; no link header: false before the inversion */
			ck_assert_int_eq(eval(pctx, &m, a, 1, MH_L2_LEN), MH_MISS);
			ck_assert_int_eq(eval(pctx, &m, others[0], 1, MH_L2_LEN), MH_MISS);
			ck_assert_int_eq(eval(pctx, &m, others[0], 2, 0), MH_MISS);
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_mac");
	TCase *tc = tcase_create("mac");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_mac);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
