// SPDX-License-Identifier: GPL-2.0-only
/* The frag match: frag_mt6_check and frag_mt6 (net/ipv6/netfilter/ip6t_frag.c). */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/netfilter_ipv6/ip6t_frag.h>

#include "codegen/registry.h"

static int eval_frag(const struct ip6t_frag *info, const struct mh_pkt *p)
{
	struct mh_rule r;
	int tc, xdp;

	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_frag, info, sizeof(*info));
	tc = mh_eval(NFPROTO_IPV6, BF_CTX_TC, &r, true, p);
	xdp = mh_eval(NFPROTO_IPV6, BF_CTX_XDP, &r, true, p);
	ck_assert_int_eq(tc, xdp);
	return tc;
}

/* [destination options (8 bytes) if dst] fragment header (offset in 8-byte units, M, id,
 * reserved byte, the two reserved bits), then 8 bytes of UDP; payload cut to `cut` if >= 0. */
static void frag_pkt(struct mh_pkt *p, bool dst, uint16_t off, bool m, uint32_t id, uint8_t res,
		     uint8_t resbits, int cut)
{
	uint8_t d[64] = {0};
	uint32_t n = 0;
	uint16_t fo = (uint16_t)(off << 3 | (resbits & 3) << 1 | (m ? 1 : 0));

	if (dst) {
		d[0] = 44;
		d[2] = 1;
		d[3] = 4;
		n = 8;
	}
	d[n] = IPPROTO_UDP;
	d[n + 1] = res;
	d[n + 2] = (uint8_t)(fo >> 8);
	d[n + 3] = (uint8_t)fo;
	d[n + 4] = (uint8_t)(id >> 24);
	d[n + 5] = (uint8_t)(id >> 16);
	d[n + 6] = (uint8_t)(id >> 8);
	d[n + 7] = (uint8_t)id;
	n += 8;
	d[n + 3] = 53;
	d[n + 5] = 8;
	n += 8;
	mh_ipv6(p, dst ? 60 : 44, "fd00:1::2", "fd00:2::2", d, cut >= 0 ? (uint32_t)cut : n, n);
}

START_TEST(test_check)
{
	struct ip6t_frag i = {0};

	for (unsigned int inv = 0; inv < 256; inv++) {
		i.invflags = (uint8_t)inv;
		ck_assert_int_eq(bf_match_frag.check(NULL, &i), inv & ~0x03u ? -EINVAL : 0);
	}
}
END_TEST

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "frag", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_frag);
	ck_assert_int_eq(bf_match_frag.size, sizeof(struct ip6t_frag));
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "frag", 0, &e), -ENOENT);
}
END_TEST

START_TEST(test_ids)
{
	struct ip6t_frag i = {.ids = {0, 0xffffffff}};
	struct mh_pkt p;

	frag_pkt(&p, false, 0, true, 0xdeadbeef, 0, 0, -1);
	ck_assert_int_eq(eval_frag(&i, &p), MH_MATCH);
	i.ids[0] = i.ids[1] = 0xdeadbeef;
	ck_assert_int_eq(eval_frag(&i, &p), MH_MATCH);
	i.invflags = IP6T_FRAG_INV_IDS;
	ck_assert_int_eq(eval_frag(&i, &p), MH_MISS);
	i = (struct ip6t_frag){.ids = {100, 200}};
	for (uint32_t id = 98; id < 203; id++) {
		frag_pkt(&p, id & 1, (uint16_t)(id & 3), id & 2, id, 0, 0, -1);
		ck_assert_int_eq(eval_frag(&i, &p), id >= 100 && id <= 200 ? MH_MATCH : MH_MISS);
		id += 20;
	}
	/* --fraglen is accepted and never looked at, as in the kernel */
	i = (struct ip6t_frag){.ids = {0, 0xffffffff}, .flags = IP6T_FRAG_LEN, .hdrlen = 99};
	frag_pkt(&p, false, 0, true, 1, 0, 0, -1);
	ck_assert_int_eq(eval_frag(&i, &p), MH_MATCH);
}
END_TEST

START_TEST(test_flags)
{
	struct ip6t_frag i = {.ids = {0, 0xffffffff}, .flags = IP6T_FRAG_FST};
	struct mh_pkt p;

	frag_pkt(&p, false, 0, true, 1, 0, 0, -1);
	ck_assert_int_eq(eval_frag(&i, &p), MH_MATCH);
	/* a non-first fragment still has its fragment header found (ipv6_find_hdr(44)) */
	frag_pkt(&p, false, 185, true, 1, 0, 0, -1);
	ck_assert_int_eq(eval_frag(&i, &p), MH_MISS);
	i.flags = IP6T_FRAG_MF;
	ck_assert_int_eq(eval_frag(&i, &p), MH_MATCH);
	i.flags = IP6T_FRAG_NMF;
	ck_assert_int_eq(eval_frag(&i, &p), MH_MISS);
	frag_pkt(&p, true, 185, false, 1, 0, 0, -1);
	ck_assert_int_eq(eval_frag(&i, &p), MH_MATCH);
	i.flags = IP6T_FRAG_MF;
	ck_assert_int_eq(eval_frag(&i, &p), MH_MISS);

	/* --fragres: the reserved byte and the two reserved bits are zero */
	i.flags = IP6T_FRAG_RES;
	frag_pkt(&p, false, 3, true, 1, 0, 0, -1);
	ck_assert_int_eq(eval_frag(&i, &p), MH_MATCH);
	frag_pkt(&p, false, 3, true, 1, 1, 0, -1);
	ck_assert_int_eq(eval_frag(&i, &p), MH_MISS);
	frag_pkt(&p, false, 3, true, 1, 0, 1, -1);
	ck_assert_int_eq(eval_frag(&i, &p), MH_MISS);
	frag_pkt(&p, false, 3, true, 1, 0, 2, -1);
	ck_assert_int_eq(eval_frag(&i, &p), MH_MISS);
	/* all of them at once */
	i.flags = IP6T_FRAG_RES | IP6T_FRAG_FST | IP6T_FRAG_NMF;
	frag_pkt(&p, false, 0, false, 7, 0, 0, -1);
	ck_assert_int_eq(eval_frag(&i, &p), MH_MATCH);
	frag_pkt(&p, false, 0, true, 7, 0, 0, -1);
	ck_assert_int_eq(eval_frag(&i, &p), MH_MISS);
}
END_TEST

START_TEST(test_absent_and_short)
{
	static const uint8_t udp[8] = {0, 1, 0, 53, 0, 8, 0, 0};
	struct ip6t_frag i = {.ids = {0, 0xffffffff}};
	struct mh_pkt p;

	mh_ipv6(&p, IPPROTO_UDP, "fd00:1::2", "fd00:2::2", udp, 8, 8);
	ck_assert_int_eq(eval_frag(&i, &p), MH_MISS);
	i.invflags = IP6T_FRAG_INV_IDS;
	ck_assert_int_eq(eval_frag(&i, &p), MH_MISS);
	i.invflags = 0;
	/* fewer than 4 bytes of fragment header: ipv6_find_hdr says -EBADMSG: hotdrop */
	for (int cut = 0; cut < 4; cut++) {
		frag_pkt(&p, false, 0, true, 1, 0, 0, cut);
		ck_assert_int_eq(eval_frag(&i, &p), MH_HOTDROP);
	}
	/* 4 to 7 bytes: found, but the 8-byte frag_hdr is not there: hotdrop */
	for (int cut = 4; cut < 8; cut++) {
		frag_pkt(&p, false, 0, true, 1, 0, 0, cut);
		ck_assert_int_eq(eval_frag(&i, &p), MH_HOTDROP);
	}
	frag_pkt(&p, false, 0, true, 1, 0, 0, 8);
	ck_assert_int_eq(eval_frag(&i, &p), MH_MATCH);
	/* the destination options header before it cut short: hotdrop */
	frag_pkt(&p, true, 0, true, 1, 0, 0, 1);
	ck_assert_int_eq(eval_frag(&i, &p), MH_HOTDROP);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_frag");
	TCase *tc = tcase_create("frag");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_ids);
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_absent_and_short);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
