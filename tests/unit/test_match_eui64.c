// SPDX-License-Identifier: GPL-2.0-only
/* The eui64 match (net/ipv6/netfilter/ip6t_eui64.c): registration and eui64_mt6. */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include <bpfilter/cleanup.h>

#include "codegen/registry.h"

static const uint8_t mac[6] = {0x42, 0x01, 0x02, 0x03, 0x04, 0x05};

/* An IPv6 packet from saddr with `smac` as the frame's source; frag: a non-first fragment. */
static int eval(enum bf_prog_ctx pctx, const char *saddr, const uint8_t *smac, uint32_t l3_off,
		bool frag)
{
	/* a fragment header: next header TCP, offset 8 bytes when frag */
	uint8_t fh[8] = {6, 0, 0, frag ? 8 : 0, 0, 0, 0, 1};
	int info = 0;
	struct mh_rule r;
	struct mh_pkt p;

	mh_ipv6(&p, 44, saddr, "2001:db8::2", fh, sizeof(fh), sizeof(fh));
	mh_set_macs(&p, NULL, smac);
	mh_fill(&p);
	p.pkt.hook = NF_INET_LOCAL_IN;
	p.pkt.iif = 2;
	if (l3_off != MH_L2_LEN)
		p.pkt.l3_off = l3_off;
	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_eui64, &info, sizeof(info));
	return mh_eval(NFPROTO_IPV6, pctx, &r, false, &p);
}

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "eui64", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_eui64);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "eui64", 0, &e), -ENOENT);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "eui64", 1, &e), -ENOENT);
	ck_assert_int_eq(bf_match_eui64.size, sizeof(int));
	ck_assert_uint_eq(bf_match_eui64.hooks, (1u << NF_INET_PRE_ROUTING) |
							(1u << NF_INET_LOCAL_IN) |
							(1u << NF_INET_FORWARD));
}
END_TEST

START_TEST(test_eui64)
{
	/* 42:01:02:03:04:05 -> 4001:02ff:fe03:0405 */
	static const char *const other[] = {
		"2001:db8::4001:2ff:fe03:406", "2001:db8::4201:2ff:fe03:405",
		"2001:db8::4001:2ff:fe13:405", "2001:db8::4001:2fe:fe03:405",
		"2001:db8::4001:2ff:ff03:405", "2001:db8::1"};

	for (int x = 0; x < 2; x++) {
		enum bf_prog_ctx pctx = x ? BF_CTX_XDP : BF_CTX_TC;

		ck_assert_int_eq(eval(pctx, "2001:db8::4001:2ff:fe03:405", mac, MH_L2_LEN, false),
				 MH_MATCH);
		ck_assert_int_eq(eval(pctx, "fe80::4001:2ff:fe03:405", mac, MH_L2_LEN, true),
				 MH_MATCH);
		for (unsigned int i = 0; i < BF_ARRAY_SIZE(other); i++)
			ck_assert_int_eq(eval(pctx, other[i], mac, MH_L2_LEN, false), MH_MISS);
		/* no link header: a non-first fragment is dropped, anything else misses */
		ck_assert_int_eq(eval(pctx, "2001:db8::4001:2ff:fe03:405", mac, 0, false), MH_MISS);
		ck_assert_int_eq(eval(pctx, "2001:db8::4001:2ff:fe03:405", mac, 0, true),
				 MH_HOTDROP);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_eui64");
	TCase *tc = tcase_create("eui64");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_eui64);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
