// SPDX-License-Identifier: GPL-2.0-only
/* The tos (revision 1) and dscp matches (net/netfilter/xt_dscp.c). */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include <bpfilter/cleanup.h>

#include "codegen/registry.h"
#include <linux/netfilter/xt_dscp.h>

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

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "tos", 1, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_tos);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "tos", 0, &e), -ENOENT);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV4, "tos", 0), -EPROTONOSUPPORT);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "tos", 1, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_tos6);
	ck_assert_int_eq(bf_match_tos.size, 3);
	ck_assert_ptr_null(bf_match_tos.check);
}
END_TEST

START_TEST(test_tos)
{
	static const uint8_t vals[] = {0, 0x02, 0x10, 0x0f, 0x3f, 0xb8, 0xff};
	struct mh_pkt p;

	for (unsigned int inv = 0; inv < 3; inv++) {
		for (unsigned int i = 0; i < BF_ARRAY_SIZE(vals); i++) {
			for (unsigned int k = 0; k < BF_ARRAY_SIZE(vals); k++) {
				struct xt_tos_match_info t = {.tos_mask = vals[k],
							      .tos_value = vals[i],
							      .invert = (uint8_t)inv};

				for (unsigned int j = 0; j < BF_ARRAY_SIZE(vals); j++) {
					bool want = ((vals[j] & t.tos_mask) == t.tos_value) ^ !!inv;

					ip_pkt(&p, vals[j], 64, 8);
					ck_assert_int_eq(eval(&bf_match_tos, &t, sizeof(t), &p),
							 want ? MH_MATCH : MH_MISS);
				}
			}
		}
	}
}
END_TEST

START_TEST(test_dscp_check)
{
	for (unsigned int d = 0; d < 256; d++) {
		struct xt_dscp_info i = {.dscp = (uint8_t)d};

		ck_assert_int_eq(bf_match_dscp.check(NULL, &i), d <= 0x3f ? 0 : -EDOM);
		ck_assert_int_eq(bf_match_dscp6.check(NULL, &i), d <= 0x3f ? 0 : -EDOM);
	}
	ck_assert_int_eq(bf_match_dscp.size, 2);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV4, "dscp", 0), 0);
}
END_TEST

START_TEST(test_dscp)
{
	static const uint8_t tos[] = {0, 0x01, 0x03, 0x04, 0xb8, 0xbb, 0xfc, 0xff};
	static const uint8_t dscp[] = {0, 1, 0x2e, 0x3f};
	struct mh_pkt p;

	for (unsigned int inv = 0; inv < 3; inv++) {
		for (unsigned int i = 0; i < BF_ARRAY_SIZE(dscp); i++) {
			struct xt_dscp_info d = {.dscp = dscp[i], .invert = (uint8_t)inv};

			for (unsigned int j = 0; j < BF_ARRAY_SIZE(tos); j++) {
				bool want = ((tos[j] >> 2) == d.dscp) ^ !!inv;

				ip_pkt(&p, tos[j], 64, 8);
				ck_assert_int_eq(eval(&bf_match_dscp, &d, sizeof(d), &p),
						 want ? MH_MATCH : MH_MISS);
			}
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_tos");
	TCase *tc = tcase_create("tos");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_tos);
	tcase_add_test(tc, test_dscp_check);
	tcase_add_test(tc, test_dscp);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
