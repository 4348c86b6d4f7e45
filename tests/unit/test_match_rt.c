// SPDX-License-Identifier: GPL-2.0-only
/* The rt match: rt_mt6_check and rt_mt6 (net/ipv6/netfilter/ip6t_rt.c), on routing headers
 * found where ipv6_find_hdr(NEXTHDR_ROUTING) finds them. */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/netfilter_ipv6/ip6t_rt.h>

#include "codegen/registry.h"

static int eval_rt(const struct ip6t_rt *info, const struct mh_pkt *p)
{
	struct mh_rule r;
	int tc, xdp;

	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_rt, info, sizeof(*info));
	tc = mh_eval(NFPROTO_IPV6, BF_CTX_TC, &r, true, p);
	xdp = mh_eval(NFPROTO_IPV6, BF_CTX_XDP, &r, true, p);
	ck_assert_int_eq(tc, xdp);
	return tc;
}

/* [hop-by-hop (8 bytes) if hbh] routing header type `type`, segments left `sl`, `naddr`
 * addresses (hdrlen 2 * naddr), reserved word `res`, then UDP; the IPv6 payload is cut to
 * `cut` bytes when cut >= 0. */
static void rt_pkt(struct mh_pkt *p, bool hbh, uint8_t type, uint8_t sl, uint8_t naddr,
		   uint32_t res, int cut)
{
	uint8_t d[200] = {0};
	uint32_t n = 0;

	if (hbh) {
		d[0] = 43;
		d[2] = 1;
		d[3] = 4;
		n = 8;
	}
	d[n] = IPPROTO_UDP;
	d[n + 1] = (uint8_t)(2 * naddr);
	d[n + 2] = type;
	d[n + 3] = sl;
	d[n + 4] = (uint8_t)(res >> 24);
	d[n + 7] = (uint8_t)res;
	n += 8 + 16u * naddr;
	d[n + 1] = 53;
	d[n + 5] = 8;
	n += 8;
	mh_ipv6(p, hbh ? 0 : 43, "fd00:1::2", "fd00:2::2", d, cut >= 0 ? (uint32_t)cut : n, n);
}

START_TEST(test_check)
{
	const struct bf_check_ctx cc = {.table = "filter", .family = NFPROTO_IPV6};
	const struct bf_check_ctx *c = &cc;
	struct ip6t_rt i = {0};

	ck_assert_int_eq(bf_match_rt.check(c, &i), 0);
	i.invflags = IP6T_RT_INV_MASK;
	ck_assert_int_eq(bf_match_rt.check(c, &i), 0);
	i.invflags = 0x08;
	ck_assert_int_eq(bf_match_rt.check(c, &i), -EINVAL);
	/* --rt-0-res needs --rt-type 0, not inverted */
	i = (struct ip6t_rt){.flags = IP6T_RT_RES};
	ck_assert_int_eq(bf_match_rt.check(c, &i), -EINVAL);
	i.flags |= IP6T_RT_TYP;
	ck_assert_int_eq(bf_match_rt.check(c, &i), 0);
	i.rt_type = 2;
	ck_assert_int_eq(bf_match_rt.check(c, &i), -EINVAL);
	i.rt_type = 0;
	i.invflags = IP6T_RT_INV_TYP;
	ck_assert_int_eq(bf_match_rt.check(c, &i), -EINVAL);
	/* the type 0 address list is not compiled: refused, not ignored */
	i = (struct ip6t_rt){.flags = IP6T_RT_TYP | IP6T_RT_FST, .addrnr = 1};
	ck_assert_int_eq(bf_match_rt.check(c, &i), -EOPNOTSUPP);
}
END_TEST

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "rt", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_rt);
	ck_assert_int_eq(bf_match_rt.size, sizeof(struct ip6t_rt));
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "rt", 0, &e), -ENOENT);
}
END_TEST

START_TEST(test_segsleft)
{
	/* segsleft is always tested: the default range is 0:0xFFFFFFFF */
	struct ip6t_rt i = {.segsleft = {0, 0xffffffff}};
	struct mh_pkt p;

	rt_pkt(&p, false, 0, 5, 1, 0, -1);
	ck_assert_int_eq(eval_rt(&i, &p), MH_MATCH);
	i.segsleft[0] = 2;
	i.segsleft[1] = 4;
	ck_assert_int_eq(eval_rt(&i, &p), MH_MISS);
	i.invflags = IP6T_RT_INV_SGS;
	ck_assert_int_eq(eval_rt(&i, &p), MH_MATCH);
	for (uint8_t sl = 0; sl < 8; sl++) {
		rt_pkt(&p, true, 2, sl, 1, 0, -1);
		i.invflags = 0;
		ck_assert_int_eq(eval_rt(&i, &p), sl >= 2 && sl <= 4 ? MH_MATCH : MH_MISS);
		i.invflags = IP6T_RT_INV_SGS;
		ck_assert_int_eq(eval_rt(&i, &p), sl >= 2 && sl <= 4 ? MH_MISS : MH_MATCH);
	}
	/* an empty range, inverted: always */
	i = (struct ip6t_rt){.segsleft = {9, 3}, .invflags = IP6T_RT_INV_SGS};
	ck_assert_int_eq(eval_rt(&i, &p), MH_MATCH);
	i.invflags = 0;
	ck_assert_int_eq(eval_rt(&i, &p), MH_MISS);
}
END_TEST

START_TEST(test_len_type_res)
{
	struct ip6t_rt i = {.segsleft = {0, 0xffffffff}, .flags = IP6T_RT_LEN, .hdrlen = 40};
	struct mh_pkt p;

	/* --rt-len compares ipv6_optlen(), in bytes: 8 + 16 * naddr */
	rt_pkt(&p, false, 0, 1, 2, 0, -1);
	ck_assert_int_eq(eval_rt(&i, &p), MH_MATCH);
	rt_pkt(&p, false, 0, 1, 1, 0, -1);
	ck_assert_int_eq(eval_rt(&i, &p), MH_MISS);
	i.invflags = IP6T_RT_INV_LEN;
	ck_assert_int_eq(eval_rt(&i, &p), MH_MATCH);
	/* a length no header can have (iptables accepts any 32-bit value) */
	i = (struct ip6t_rt){.segsleft = {0, 0xffffffff}, .flags = IP6T_RT_LEN, .hdrlen = 5000};
	ck_assert_int_eq(eval_rt(&i, &p), MH_MISS);
	i.invflags = IP6T_RT_INV_LEN;
	ck_assert_int_eq(eval_rt(&i, &p), MH_MATCH);

	i = (struct ip6t_rt){.segsleft = {0, 0xffffffff}, .flags = IP6T_RT_TYP, .rt_type = 2};
	rt_pkt(&p, true, 2, 1, 1, 0, -1);
	ck_assert_int_eq(eval_rt(&i, &p), MH_MATCH);
	rt_pkt(&p, true, 0, 1, 1, 0, -1);
	ck_assert_int_eq(eval_rt(&i, &p), MH_MISS);
	i.invflags = IP6T_RT_INV_TYP;
	ck_assert_int_eq(eval_rt(&i, &p), MH_MATCH);

	/* --rt-type 0 --rt-0-res: the reserved word must be zero */
	i = (struct ip6t_rt){.segsleft = {0, 0xffffffff}, .flags = IP6T_RT_TYP | IP6T_RT_RES};
	rt_pkt(&p, false, 0, 1, 1, 0, -1);
	ck_assert_int_eq(eval_rt(&i, &p), MH_MATCH);
	rt_pkt(&p, false, 0, 1, 1, 0x01000000, -1);
	ck_assert_int_eq(eval_rt(&i, &p), MH_MISS);
	rt_pkt(&p, false, 0, 1, 1, 1, -1);
	ck_assert_int_eq(eval_rt(&i, &p), MH_MISS);
}
END_TEST

START_TEST(test_absent_and_short)
{
	static const uint8_t udp[8] = {0, 1, 0, 53, 0, 8, 0, 0};
	static const uint8_t dst_udp[16] = {17, 0, 1, 4, 0, 0, 0, 0, 0, 1, 0, 53, 0, 8, 0, 0};
	struct ip6t_rt i = {.segsleft = {0, 0xffffffff}};
	struct mh_pkt p;

	/* no routing header: -ENOENT, no match, even inverted */
	mh_ipv6(&p, IPPROTO_UDP, "fd00:1::2", "fd00:2::2", udp, 8, 8);
	ck_assert_int_eq(eval_rt(&i, &p), MH_MISS);
	mh_ipv6(&p, 60, "fd00:1::2", "fd00:2::2", dst_udp, 16, 16);
	ck_assert_int_eq(eval_rt(&i, &p), MH_MISS);
	i.invflags = IP6T_RT_INV_SGS;
	ck_assert_int_eq(eval_rt(&i, &p), MH_MISS);
	i.invflags = 0;
	/* the payload ends inside the routing header's first 4 bytes: -EBADMSG, hotdrop */
	for (int cut = 0; cut < 4; cut++) {
		rt_pkt(&p, false, 0, 1, 1, 0, cut);
		ck_assert_int_eq(eval_rt(&i, &p), MH_HOTDROP);
	}
	/* ... or inside the hop-by-hop header before it */
	rt_pkt(&p, true, 0, 1, 1, 0, 1);
	ck_assert_int_eq(eval_rt(&i, &p), MH_HOTDROP);
	/* the 4 bytes are there but not ipv6_optlen(): "packet smaller than its length field";
	 * a 6.18 kernel drops it (crafted packets in tests/diff), not a plain no-match */
	for (int cut = 4; cut < 24; cut += 5) {
		rt_pkt(&p, false, 0, 1, 1, 0, cut);
		ck_assert_int_eq(eval_rt(&i, &p), MH_HOTDROP);
	}
	rt_pkt(&p, false, 0, 1, 1, 0, 24);
	ck_assert_int_eq(eval_rt(&i, &p), MH_MATCH);
	/* the second routing header is not the one looked at */
	{
		uint8_t d[48] = {43, 0, 0, 3, 0, 0, 0, 0, 17, 0, 2, 9, 0, 0, 0, 0};

		i = (struct ip6t_rt){.segsleft = {3, 3}};
		mh_ipv6(&p, 43, "fd00:1::2", "fd00:2::2", d, 24, 24);
		ck_assert_int_eq(eval_rt(&i, &p), MH_MATCH);
		i.segsleft[0] = i.segsleft[1] = 9;
		ck_assert_int_eq(eval_rt(&i, &p), MH_MISS);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_rt");
	TCase *tc = tcase_create("rt");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_segsleft);
	tcase_add_test(tc, test_len_type_res);
	tcase_add_test(tc, test_absent_and_short);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
