// SPDX-License-Identifier: GPL-2.0-only
/* The iprange match (net/netfilter/xt_iprange.c, revision 1): iprange_mt4. */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include <bpfilter/cleanup.h>

#include "codegen/registry.h"
#include <linux/netfilter/xt_iprange.h>

static int eval(const struct xt_iprange_mtinfo *info, const char *src, const char *dst)
{
	struct mh_rule r;
	struct mh_pkt p;
	int tc, xdp;

	mh_ipv4(&p, 47, src, dst, 0, NULL, 0, 0);
	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_iprange, info, sizeof(*info));
	tc = mh_eval(NFPROTO_IPV4, BF_CTX_TC, &r, false, &p);
	xdp = mh_eval(NFPROTO_IPV4, BF_CTX_XDP, &r, false, &p);
	ck_assert_int_eq(tc, xdp);
	return tc;
}

static uint32_t ip(const char *s)
{
	uint32_t a;

	inet_pton(AF_INET, s, &a);
	return a;
}

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "iprange", 1, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_iprange);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "iprange", 0, &e), -ENOENT);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "iprange", 1, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_iprange6);
	ck_assert_int_eq(bf_match_iprange.size, 68);
}
END_TEST

START_TEST(test_ranges)
{
	static const char *const addrs[] = {
		"0.0.0.0",  "1.1.1.0", "1.1.1.1",   "1.1.1.5",	       "1.1.1.10",
		"1.1.1.11", "1.2.0.0", "128.0.0.1", "255.255.255.255", "127.255.255.255"};
	static const char *const ranges[][2] = {{"1.1.1.1", "1.1.1.10"},
						{"0.0.0.0", "1.1.1.5"},
						{"1.1.1.5", "255.255.255.255"},
						{"1.1.1.10", "1.1.1.1"}, /* empty */
						{"127.255.255.255", "128.0.0.1"}};

	for (unsigned int r = 0; r < BF_ARRAY_SIZE(ranges); r++) {
		for (unsigned int fl = 0; fl < 64; fl++) {
			struct xt_iprange_mtinfo m = {.flags = (uint8_t)fl};

			/* the src and dst ranges differ: dst is the next range */
			m.src_min.ip = ip(ranges[r][0]);
			m.src_max.ip = ip(ranges[r][1]);
			m.dst_min.ip = ip(ranges[(r + 1) % BF_ARRAY_SIZE(ranges)][0]);
			m.dst_max.ip = ip(ranges[(r + 1) % BF_ARRAY_SIZE(ranges)][1]);
			for (unsigned int i = 0; i < BF_ARRAY_SIZE(addrs); i++) {
				const char *s = addrs[i],
					   *d = addrs[(i * 7 + fl) % BF_ARRAY_SIZE(addrs)];
				bool want = true, mm;

				if (fl & IPRANGE_SRC) {
					mm = ntohl(ip(s)) < ntohl(m.src_min.ip) ||
					     ntohl(ip(s)) > ntohl(m.src_max.ip);
					if (mm ^ !!(fl & IPRANGE_SRC_INV))
						want = false;
				}
				if (fl & IPRANGE_DST) {
					mm = ntohl(ip(d)) < ntohl(m.dst_min.ip) ||
					     ntohl(ip(d)) > ntohl(m.dst_max.ip);
					if (mm ^ !!(fl & IPRANGE_DST_INV))
						want = false;
				}
				ck_assert_int_eq(eval(&m, s, d), want ? MH_MATCH : MH_MISS);
			}
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_iprange");
	TCase *tc = tcase_create("iprange");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_ranges);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
