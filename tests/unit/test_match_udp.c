// SPDX-License-Identifier: GPL-2.0-only
/* The udp match: checkentry, registration and udp_mt's semantics (net/netfilter/xt_tcpudp.c). */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "codegen/registry.h"

static struct xt_udp udp_any(void)
{
	return (struct xt_udp){.spts = {0, 0xffff}, .dpts = {0, 0xffff}};
}

static int eval_udp(const struct xt_udp *info, const struct mh_pkt *p)
{
	struct mh_rule r;
	int tc, xdp;

	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_udp, info, sizeof(*info));
	tc = mh_eval(NFPROTO_IPV4, BF_CTX_TC, &r, true, p);
	xdp = mh_eval(NFPROTO_IPV4, BF_CTX_XDP, &r, true, p);
	ck_assert_int_eq(tc, xdp);
	return tc;
}

static void udp_pkt(struct mh_pkt *p, uint16_t sport, uint16_t dport, uint16_t frag, uint32_t len)
{
	uint8_t l4[16] = {0};
	uint16_t v;

	v = htons(sport);
	memcpy(l4, &v, 2);
	v = htons(dport);
	memcpy(l4 + 2, &v, 2);
	v = htons(16);
	memcpy(l4 + 4, &v, 2);
	mh_ipv4(p, IPPROTO_UDP, "10.0.0.1", "10.0.0.2", frag, l4, len, sizeof(l4));
}

START_TEST(test_check)
{
	struct xt_udp u = udp_any();

	for (unsigned int inv = 0; inv < 256; inv++) {
		u.invflags = (uint8_t)inv;
		ck_assert_int_eq(bf_match_udp.check(NULL, &u), inv & ~0x03u ? -EINVAL : 0);
		ck_assert_int_eq(bf_match_udp6.check(NULL, &u), inv & ~0x03u ? -EINVAL : 0);
	}
}
END_TEST

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "udp", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_udp);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "udp", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_udp6);
	ck_assert_int_eq(bf_match_udp.size, 10); /* sizeof(struct xt_udp), before XT_ALIGN */
	ck_assert_int_eq(bf_match_udp.proto, IPPROTO_UDP);
	ck_assert_int_eq(bf_match_udp6.proto, IPPROTO_UDP);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "udp", 1, &e), -ENOENT);
}
END_TEST

START_TEST(test_ports)
{
	struct xt_udp u = udp_any();
	struct mh_pkt p;

	udp_pkt(&p, 53, 5353, 0, 16);
	ck_assert_int_eq(eval_udp(&u, &p), MH_MATCH);
	u.spts[0] = u.spts[1] = 53;
	ck_assert_int_eq(eval_udp(&u, &p), MH_MATCH);
	u.dpts[0] = 5000;
	u.dpts[1] = 5352;
	ck_assert_int_eq(eval_udp(&u, &p), MH_MISS);
	u.invflags = XT_UDP_INV_DSTPT;
	ck_assert_int_eq(eval_udp(&u, &p), MH_MATCH);
	u.invflags = XT_UDP_INV_DSTPT | XT_UDP_INV_SRCPT;
	ck_assert_int_eq(eval_udp(&u, &p), MH_MISS);
	u.spts[0] = u.spts[1] = 54;
	ck_assert_int_eq(eval_udp(&u, &p), MH_MATCH);
	u.dpts[1] = 5353;
	ck_assert_int_eq(eval_udp(&u, &p), MH_MISS);
	/* byte order: 0x0102 versus 0x0201 */
	u = udp_any();
	udp_pkt(&p, 0x0102, 1, 0, 16);
	u.spts[0] = u.spts[1] = 0x0201;
	ck_assert_int_eq(eval_udp(&u, &p), MH_MISS);
	u.spts[0] = u.spts[1] = 0x0102;
	ck_assert_int_eq(eval_udp(&u, &p), MH_MATCH);
	/* inverted full range never matches, inverted empty range always */
	u = udp_any();
	u.invflags = XT_UDP_INV_SRCPT;
	ck_assert_int_eq(eval_udp(&u, &p), MH_MISS);
	u.spts[0] = 2;
	u.spts[1] = 1;
	ck_assert_int_eq(eval_udp(&u, &p), MH_MATCH);
}
END_TEST

START_TEST(test_fragments_and_short)
{
	struct xt_udp u = udp_any();
	struct mh_pkt p;

	udp_pkt(&p, 1, 2, 0x2000, 16); /* first fragment */
	ck_assert_int_eq(eval_udp(&u, &p), MH_MATCH);
	udp_pkt(&p, 1, 2, 1, 16); /* no offset-1 special case for udp */
	ck_assert_int_eq(eval_udp(&u, &p), MH_MISS);
	udp_pkt(&p, 1, 2, 2, 16);
	ck_assert_int_eq(eval_udp(&u, &p), MH_MISS);
	u.invflags = XT_UDP_INV_MASK;
	ck_assert_int_eq(eval_udp(&u, &p), MH_MISS);
	u = udp_any();
	udp_pkt(&p, 1, 2, 3, 2); /* short, but not examined */
	ck_assert_int_eq(eval_udp(&u, &p), MH_MISS);
	for (uint32_t len = 0; len < 8; len++) {
		udp_pkt(&p, 1, 2, 0, len);
		ck_assert_int_eq(eval_udp(&u, &p), MH_HOTDROP);
	}
	udp_pkt(&p, 1, 2, 0, 8);
	ck_assert_int_eq(eval_udp(&u, &p), MH_MATCH);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_udp");
	TCase *tc = tcase_create("udp");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_ports);
	tcase_add_test(tc, test_fragments_and_short);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
