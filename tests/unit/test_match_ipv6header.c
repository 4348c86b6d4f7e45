// SPDX-License-Identifier: GPL-2.0-only
/* The ipv6header match: ipv6header_mt6_check and ipv6header_mt6
 * (net/ipv6/netfilter/ip6t_ipv6header.c), which walks the chain itself with its own rules. */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/netfilter_ipv6/ip6t_ipv6header.h>

#include "codegen/registry.h"

static int eval_h(uint8_t match, uint8_t inv, bool soft, const struct mh_pkt *p)
{
	struct ip6t_ipv6header_info info = {.matchflags = match, .invflags = inv, .modeflag = soft};
	struct mh_rule r;
	int tc, xdp;

	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_ipv6header, &info, sizeof(info));
	tc = mh_eval(NFPROTO_IPV6, BF_CTX_TC, &r, true, p);
	xdp = mh_eval(NFPROTO_IPV6, BF_CTX_XDP, &r, true, p);
	ck_assert_int_eq(tc, xdp);
	return tc;
}

/* A chain of headers: kinds[] in order (0, 43, 44, 51, 60: 8 bytes each, 44 with offset
 * `fragoff`; 50 or 59 end it), then 8 bytes of `upper`. Payload cut to `cut` if >= 0. */
static void chain_pkt(struct mh_pkt *p, const uint8_t *kinds, unsigned int n, uint8_t upper,
		      uint16_t fragoff, int cut)
{
	uint8_t d[200] = {0};
	uint32_t off = 0;

	for (unsigned int k = 0; k < n; k++) {
		uint8_t next = k + 1 < n ? kinds[k + 1] : upper;

		if (kinds[k] == 50 || kinds[k] == 59)
			break;
		d[off] = next;
		if (kinds[k] == 51)
			d[off + 1] = 0; /* (0 + 2) * 4 = 8 bytes */
		if (kinds[k] == 44) {
			d[off + 2] = (uint8_t)(fragoff >> 5);
			d[off + 3] = (uint8_t)(fragoff << 3);
		}
		off += 8;
	}
	off += 8;
	mh_ipv6(p, n ? kinds[0] : upper, "fd00:1::2", "fd00:2::2", d,
		cut >= 0 ? (uint32_t)cut : off, off);
}

START_TEST(test_check)
{
	struct ip6t_ipv6header_info i = {.matchflags = MASK_HOPOPTS};

	for (unsigned int inv = 0; inv < 256; inv++) {
		i.invflags = (uint8_t)inv;
		i.modeflag = 0;
		/* hard mode: invflags is all or nothing */
		ck_assert_int_eq(bf_match_ipv6header.check(NULL, &i),
				 inv == 0 || inv == 0xff ? 0 : -EINVAL);
		i.modeflag = 1;
		ck_assert_int_eq(bf_match_ipv6header.check(NULL, &i), 0);
	}
}
END_TEST

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "ipv6header", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_ipv6header);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "ipv6header", 0, &e), -ENOENT);
}
END_TEST

START_TEST(test_hard)
{
	static const uint8_t hr[] = {0, 43};
	static const uint8_t hdf[] = {0, 60, 44};
	struct mh_pkt p;

	chain_pkt(&p, NULL, 0, IPPROTO_UDP, 0, -1);
	ck_assert_int_eq(eval_h(MASK_PROTO, 0, false, &p), MH_MATCH);
	ck_assert_int_eq(eval_h(0, 0, false, &p), MH_MISS);
	ck_assert_int_eq(eval_h(MASK_PROTO, 0xff, false, &p), MH_MISS);
	chain_pkt(&p, hr, 2, IPPROTO_TCP, 0, -1);
	ck_assert_int_eq(eval_h(MASK_HOPOPTS | MASK_ROUTING | MASK_PROTO, 0, false, &p), MH_MATCH);
	ck_assert_int_eq(eval_h(MASK_HOPOPTS | MASK_PROTO, 0, false, &p), MH_MISS);
	ck_assert_int_eq(eval_h(MASK_HOPOPTS | MASK_PROTO, 0xff, false, &p), MH_MATCH);
	chain_pkt(&p, hdf, 3, IPPROTO_UDP, 0, -1);
	ck_assert_int_eq(
		eval_h(MASK_HOPOPTS | MASK_DSTOPTS | MASK_FRAGMENT | MASK_PROTO, 0, false, &p),
		MH_MATCH);
	/* unlike ipv6_find_hdr, a non-first fragment does not end the walk */
	chain_pkt(&p, hdf, 3, 60, 100, -1);
	ck_assert_int_eq(eval_h(MASK_HOPOPTS | MASK_DSTOPTS | MASK_FRAGMENT, 0, false, &p),
			 MH_MISS);
}
END_TEST

START_TEST(test_none_esp_ah)
{
	static const uint8_t none[] = {0, 59};
	static const uint8_t esp[] = {51, 50};
	struct mh_pkt p;

	/* hop-by-hop then "no next header": NONE, no PROTO */
	chain_pkt(&p, none, 2, 59, 0, -1);
	ck_assert_int_eq(eval_h(MASK_HOPOPTS | MASK_NONE, 0, false, &p), MH_MATCH);
	ck_assert_int_eq(eval_h(MASK_NONE, 0, true, &p), MH_MATCH);
	ck_assert_int_eq(eval_h(MASK_PROTO, 0, true, &p), MH_MISS);
	/* AH (length in 4-byte units + 2) then ESP: ESP ends the walk */
	chain_pkt(&p, esp, 2, 50, 0, -1);
	ck_assert_int_eq(eval_h(MASK_AH | MASK_ESP, 0, false, &p), MH_MATCH);
	ck_assert_int_eq(eval_h(MASK_AH | MASK_ESP | MASK_PROTO, 0, false, &p), MH_MISS);
}
END_TEST

START_TEST(test_soft)
{
	static const uint8_t hr[] = {0, 43};
	struct mh_pkt p;

	chain_pkt(&p, hr, 2, IPPROTO_UDP, 0, -1);
	/* soft: every header named must be there (others may be too) */
	ck_assert_int_eq(eval_h(MASK_HOPOPTS, 0, true, &p), MH_MATCH);
	ck_assert_int_eq(eval_h(MASK_ROUTING | MASK_PROTO, 0, true, &p), MH_MATCH);
	ck_assert_int_eq(eval_h(MASK_FRAGMENT, 0, true, &p), MH_MISS);
	ck_assert_int_eq(eval_h(MASK_HOPOPTS | MASK_FRAGMENT, 0, true, &p), MH_MISS);
	/* inverted ones must be absent */
	ck_assert_int_eq(eval_h(MASK_FRAGMENT, MASK_FRAGMENT, true, &p), MH_MATCH);
	ck_assert_int_eq(eval_h(MASK_HOPOPTS | MASK_FRAGMENT, MASK_FRAGMENT, true, &p), MH_MATCH);
	ck_assert_int_eq(eval_h(MASK_HOPOPTS, MASK_HOPOPTS, true, &p), MH_MISS);
}
END_TEST

START_TEST(test_short)
{
	static const uint8_t hr[] = {0, 43};
	struct mh_pkt p;

	/* the payload ends before the second header's 2 bytes: no match (not a drop) */
	chain_pkt(&p, hr, 2, IPPROTO_UDP, 0, 9);
	ck_assert_int_eq(eval_h(MASK_HOPOPTS | MASK_ROUTING | MASK_PROTO, 0, false, &p), MH_MISS);
	ck_assert_int_eq(eval_h(MASK_HOPOPTS | MASK_ROUTING | MASK_PROTO, 0xff, false, &p),
			 MH_MISS);
	ck_assert_int_eq(eval_h(0, 0, true, &p), MH_MISS);
	/* exactly at the end of the last extension header: the upper layer counts */
	chain_pkt(&p, hr, 2, IPPROTO_UDP, 0, 16);
	ck_assert_int_eq(eval_h(MASK_HOPOPTS | MASK_ROUTING | MASK_PROTO, 0, false, &p), MH_MATCH);
	/* a header whose length runs past the end: the walk stops, PROTO is set */
	{
		uint8_t d[16] = {43, 0, 0, 0, 0, 0, 0, 0, 17, 6};

		mh_ipv6(&p, 0, "fd00:1::2", "fd00:2::2", d, 16, 16);
		ck_assert_int_eq(eval_h(MASK_HOPOPTS | MASK_ROUTING | MASK_PROTO, 0, false, &p),
				 MH_MATCH);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_ipv6header");
	TCase *tc = tcase_create("ipv6header");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_hard);
	tcase_add_test(tc, test_none_esp_ah);
	tcase_add_test(tc, test_soft);
	tcase_add_test(tc, test_short);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
