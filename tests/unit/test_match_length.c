// SPDX-License-Identifier: GPL-2.0-only
/* The length match (net/netfilter/xt_length.c): registration and length_mt on tot_len. */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include <bpfilter/cleanup.h>

#include "codegen/registry.h"
#include <linux/netfilter/xt_length.h>

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

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "length", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_length);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "length", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_length6);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "length", 1, &e), -ENOENT);
	ck_assert_int_eq(bf_match_length.size, 6);
}
END_TEST

START_TEST(test_length)
{
	static const struct xt_length_info infos[] = {
		{.min = 1, .max = 1},
		{.min = 0, .max = 20},
		{.min = 21, .max = 65535},
		{.min = 0, .max = 65535},
		{.min = 0, .max = 65535, .invert = 1},
		{.min = 40, .max = 100, .invert = 1},
		{.min = 100, .max = 40},
		{.min = 100, .max = 40, .invert = 1},
		{.min = 30, .max = 30, .invert = 3},
	};
	static const uint32_t lens[] = {0, 1, 10, 19, 20, 80, 180};
	struct mh_pkt p;

	for (unsigned int i = 0; i < BF_ARRAY_SIZE(infos); i++) {
		for (unsigned int j = 0; j < BF_ARRAY_SIZE(lens); j++) {
			uint16_t tot = (uint16_t)(20 + lens[j]);
			bool want = (tot >= infos[i].min && tot <= infos[i].max) ^ infos[i].invert;

			ip_pkt(&p, 0, 64, lens[j]);
			ck_assert_int_eq(eval(&bf_match_length, &infos[i], sizeof(infos[i]), &p),
					 want ? MH_MATCH : MH_MISS);
		}
	}
	/* tot_len, not the frame length: trailing bytes past the IP packet do not count */
	mh_ipv4(&p, 47, "10.0.0.1", "10.0.0.2", 0, "abcdefgh", 4, 8);
	ck_assert_int_eq(eval(&bf_match_length, &infos[1], sizeof(infos[1]), &p), MH_MISS);
	ck_assert_int_eq(eval(&bf_match_length, &(struct xt_length_info){.min = 24, .max = 24},
			      sizeof(struct xt_length_info), &p),
			 MH_MATCH);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_length");
	TCase *tc = tcase_create("length");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_length);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
