// SPDX-License-Identifier: GPL-2.0-only
/* The icmp6 match: checkentry, registration and icmp6_match's semantics
 * (net/ipv6/netfilter/ip6_tables.c), on packets whose ICMPv6 header follows extension headers. */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "codegen/registry.h"

static int eval_icmp6(const struct ip6t_icmp *info, const struct mh_pkt *p)
{
	struct mh_rule r;
	int tc, xdp;

	mh_rule_init(&r);
	/* -p ipv6-icmp, as iptables requires for -m icmp6 */
	r.ip.v6.flags = IP6T_F_PROTO;
	r.ip.v6.proto = IPPROTO_ICMPV6;
	mh_rule_add(&r, &bf_match_icmp6, info, sizeof(*info));
	tc = mh_eval(NFPROTO_IPV6, BF_CTX_TC, &r, true, p);
	xdp = mh_eval(NFPROTO_IPV6, BF_CTX_XDP, &r, true, p);
	ck_assert_int_eq(tc, xdp);
	return tc;
}

/* ICMPv6 after `pre` bytes of extension headers (the first's kind in nh0), `len` bytes of it. */
static void icmp6_pkt(struct mh_pkt *p, uint8_t nh0, const uint8_t *pre, uint32_t prelen,
		      uint8_t type, uint8_t code, uint32_t len)
{
	uint8_t d[128] = {0};

	if (prelen) /* pre may be NULL */
		memcpy(d, pre, prelen);
	d[prelen] = type;
	d[prelen + 1] = code;
	d[prelen + 7] = 1;
	mh_ipv6(p, prelen ? nh0 : IPPROTO_ICMPV6, "fd00:1::2", "fd00:2::2", d, prelen + len,
		prelen + 16);
}

static void plain(struct mh_pkt *p, uint8_t type, uint8_t code, uint32_t len)
{
	icmp6_pkt(p, 0, NULL, 0, type, code, len);
}

START_TEST(test_check)
{
	struct ip6t_icmp i = {.type = 128, .code = {0, 255}};

	for (unsigned int inv = 0; inv < 256; inv++) {
		i.invflags = (uint8_t)inv;
		ck_assert_int_eq(bf_match_icmp6.check(NULL, &i), inv & ~0x01u ? -EINVAL : 0);
	}
}
END_TEST

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "icmp6", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_icmp6);
	ck_assert_int_eq(bf_match_icmp6.size, 4);
	ck_assert_int_eq(bf_match_icmp6.proto, IPPROTO_ICMPV6);
	/* ip6_tables registers icmp6 for IPv6 only */
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "icmp6", 0, &e), -ENOENT);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "icmp6", 1, &e), -ENOENT);
}
END_TEST

START_TEST(test_type_code)
{
	struct ip6t_icmp i = {.type = 128, .code = {0, 255}};
	struct mh_pkt p;

	plain(&p, 128, 0, 8);
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MATCH);
	plain(&p, 129, 0, 8);
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MISS);
	i.invflags = IP6T_ICMP_INV;
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MATCH);
	plain(&p, 128, 9, 8);
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MISS);

	/* port-unreachable: 1/4 */
	i = (struct ip6t_icmp){.type = 1, .code = {4, 4}};
	for (uint8_t c = 0; c < 8; c++) {
		plain(&p, 1, c, 8);
		ck_assert_int_eq(eval_icmp6(&i, &p), c == 4 ? MH_MATCH : MH_MISS);
	}
	i.invflags = IP6T_ICMP_INV;
	plain(&p, 1, 3, 8);
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MATCH);
	plain(&p, 1, 4, 8);
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MISS);

	/* an empty code range never holds; inverted it always does */
	i = (struct ip6t_icmp){.type = 1, .code = {5, 2}};
	plain(&p, 1, 3, 8);
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MISS);
	i.invflags = IP6T_ICMP_INV;
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MATCH);
}
END_TEST

START_TEST(test_no_any)
{
	/* Unlike icmp, type 255 is not "any": it matches type 255 only. */
	struct ip6t_icmp i = {.type = 0xff, .code = {0, 255}};
	struct mh_pkt p;

	plain(&p, 128, 0, 8);
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MISS);
	plain(&p, 255, 3, 8);
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MATCH);
}
END_TEST

START_TEST(test_after_ext_headers)
{
	/* hop-by-hop (8 bytes, PadN) -> destination options (16 bytes) -> ICMPv6 */
	static const uint8_t chain[] = {60, 0, 1, 4, 0, 0, 0, 0, 58, 1, 1, 12,
					0,  0, 0, 0, 0, 0, 0, 0, 0,  0, 0, 0};
	/* a first fragment (offset 0, M) -> ICMPv6; a non-first one (offset 8) */
	static const uint8_t frag0[] = {58, 0, 0, 1, 0, 0, 0, 7};
	static const uint8_t frag1[] = {58, 0, 0, 8, 0, 0, 0, 7};
	/* a non-first fragment followed by another extension header: no upper layer */
	static const uint8_t frag1x[] = {60, 0, 0, 8, 0, 0, 0, 7};
	struct ip6t_icmp i = {.type = 128, .code = {0, 255}};
	struct mh_pkt p;

	icmp6_pkt(&p, 0, chain, sizeof(chain), 128, 0, 8);
	ck_assert_int_eq(p.pkt.proto, IPPROTO_ICMPV6);
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MATCH);
	icmp6_pkt(&p, 0, chain, sizeof(chain), 129, 0, 8);
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MISS);
	icmp6_pkt(&p, 44, frag0, sizeof(frag0), 128, 0, 8);
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MATCH);
	/* icmp6_match: a non-first fragment never matches, inverted or not */
	icmp6_pkt(&p, 44, frag1, sizeof(frag1), 128, 0, 8);
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MISS);
	i.invflags = IP6T_ICMP_INV;
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_MISS);
	/* ip6_packet_match: ipv6_find_hdr(-1) fails with *fragoff 0: hotdrop */
	icmp6_pkt(&p, 44, frag1x, sizeof(frag1x), 128, 0, 8);
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_HOTDROP);
}
END_TEST

START_TEST(test_short)
{
	static const uint8_t hbh[] = {58, 0, 1, 4, 0, 0, 0, 0};
	struct ip6t_icmp i = {.type = 128, .code = {0, 255}};
	struct mh_pkt p;

	/* fewer than sizeof(struct icmp6hdr) bytes: hotdrop, with or without a header before */
	for (uint32_t len = 0; len < 8; len++) {
		plain(&p, 128, 0, len);
		ck_assert_int_eq(eval_icmp6(&i, &p), MH_HOTDROP);
		icmp6_pkt(&p, 0, hbh, sizeof(hbh), 128, 0, len);
		ck_assert_int_eq(eval_icmp6(&i, &p), MH_HOTDROP);
	}
	/* a hop-by-hop header cut short: no upper layer found at all, hotdrop */
	icmp6_pkt(&p, 0, hbh, 1, 128, 0, 0);
	ck_assert_int_eq(eval_icmp6(&i, &p), MH_HOTDROP);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_icmp6");
	TCase *tc = tcase_create("icmp6");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_type_code);
	tcase_add_test(tc, test_no_any);
	tcase_add_test(tc, test_after_ext_headers);
	tcase_add_test(tc, test_short);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
