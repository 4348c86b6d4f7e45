// SPDX-License-Identifier: GPL-2.0-only
/* The tcpmss match (net/netfilter/xt_tcpmss.c): registration, and tcpmss_mt on random and
 * malformed option lists against a transcription of its walk. */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter/xt_tcpmss.h>

#include "codegen/registry.h"

static int eval(const struct xt_tcpmss_match_info *info, const struct mh_pkt *p)
{
	struct mh_rule r;
	int tc, xdp;

	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_tcpmss, info, sizeof(*info));
	tc = mh_eval(NFPROTO_IPV4, BF_CTX_TC, &r, false, p);
	xdp = mh_eval(NFPROTO_IPV4, BF_CTX_XDP, &r, false, p);
	ck_assert_int_eq(tc, xdp);
	return tc;
}

/* tcpmss_mt over the IP payload (l4, l4_len bytes) */
static int model(const struct xt_tcpmss_match_info *info, const uint8_t *l4, uint32_t l4_len)
{
	uint32_t optlen, i;
	const uint8_t *op;

	if (l4_len < 20 || (l4[12] >> 4) * 4 < 20)
		return MH_HOTDROP;
	optlen = (l4[12] >> 4) * 4u - 20;
	if (!optlen)
		return info->invert ? MH_MATCH : MH_MISS;
	if (l4_len < 20 + optlen)
		return MH_HOTDROP;
	op = l4 + 20;
	for (i = 0; i < optlen;) {
		if (op[i] == 2 && optlen - i >= 4 && op[i + 1] == 4) {
			uint16_t mss = (uint16_t)(op[i + 2] << 8 | op[i + 3]);

			return ((mss >= info->mss_min && mss <= info->mss_max) ^ info->invert)
				       ? MH_MATCH
				       : MH_MISS;
		}
		if (op[i] < 2)
			i++;
		else
			i += op[i + 1] ? op[i + 1] : 1;
	}
	return info->invert ? MH_MATCH : MH_MISS;
}

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "tcpmss", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_tcpmss);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "tcpmss", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_tcpmss6);
	ck_assert_int_eq(bf_match_tcpmss.size, 6);
	ck_assert_int_eq(bf_match_tcpmss.proto, IPPROTO_TCP);
}
END_TEST

START_TEST(test_simple)
{
	const uint8_t opts[] = {1, 1, 2, 4, 0x05, 0xb4}; /* NOP NOP MSS 1460 */
	struct xt_tcpmss_match_info m = {.mss_min = 1460, .mss_max = 1460};
	uint8_t l4[64];
	uint32_t n = mh_tcphdr(l4, 1, 2, 0x02, 28, opts, sizeof(opts));
	struct mh_pkt p;

	l4[n++] = 0;
	l4[n++] = 0;
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, n, n);
	ck_assert_int_eq(eval(&m, &p), MH_MATCH);
	m.invert = 1;
	ck_assert_int_eq(eval(&m, &p), MH_MISS);
	m.mss_min = 1461;
	m.mss_max = 65535;
	ck_assert_int_eq(eval(&m, &p), MH_MATCH);
	/* a non-first fragment is read as a header too */
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 3, l4, n, n);
	ck_assert_int_eq(eval(&m, &p), MH_MATCH);
	/* options cut by the IP length: hotdrop */
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, 25, n);
	ck_assert_int_eq(eval(&m, &p), MH_HOTDROP);
}
END_TEST

START_TEST(test_random)
{
	srand(42);
	for (unsigned int n = 0; n < 400; n++) {
		struct xt_tcpmss_match_info m = {0};
		uint8_t l4[60];
		uint32_t len;
		struct mh_pkt p;

		for (unsigned int j = 0; j < sizeof(l4); j++)
			l4[j] = (uint8_t)(rand() % 2 ? rand() % 6 : rand());
		l4[12] = (uint8_t)((rand() % 8 ? 5 + rand() % 11 : rand() % 5) << 4);
		len = rand() % 6 ? (l4[12] >> 4) * 4u : (uint32_t)(rand() % 60);
		if (len > sizeof(l4))
			len = sizeof(l4);
		m.mss_min = (uint16_t)(rand() % 3 ? rand() % 1024 : rand());
		m.mss_max = (uint16_t)(rand() % 3 ? m.mss_min + rand() % 2048 : rand());
		m.invert = (uint8_t)(rand() % 4 == 0 ? rand() % 3 : 0);
		mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, len, len);
		ck_assert_int_eq(eval(&m, &p), model(&m, l4, len));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_tcpmss");
	TCase *tc = tcase_create("tcpmss");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_simple);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
