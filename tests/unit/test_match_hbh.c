// SPDX-License-Identifier: GPL-2.0-only
/* The hbh and dst matches: hbh_mt6_check and hbh_mt6 (net/ipv6/netfilter/ip6t_hbh.c, one
 * match function for both, on the first hop-by-hop or destination options header). */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/netfilter_ipv6/ip6t_opts.h>

#include "codegen/registry.h"

static int eval_opts(const struct bf_ext *ext, const struct ip6t_opts *info, const struct mh_pkt *p)
{
	struct mh_rule r;
	int tc, xdp;

	mh_rule_init(&r);
	mh_rule_add(&r, ext, info, sizeof(*info));
	tc = mh_eval(NFPROTO_IPV6, BF_CTX_TC, &r, true, p);
	xdp = mh_eval(NFPROTO_IPV6, BF_CTX_XDP, &r, true, p);
	ck_assert_int_eq(tc, xdp);
	return tc;
}

/* An options header of kind `kind` (0 or 60) holding `opts` (olen bytes, padded with Pad1 to
 * a multiple of 8 with the 2-byte header), then UDP; payload cut to `cut` if >= 0. */
static void opts_pkt(struct mh_pkt *p, uint8_t kind, const uint8_t *opts, uint32_t olen, int cut)
{
	uint8_t d[160] = {0};
	uint32_t hl = (2 + olen + 7) / 8 * 8, n;

	d[0] = IPPROTO_UDP;
	d[1] = (uint8_t)(hl / 8 - 1);
	memcpy(d + 2, opts, olen);
	n = hl;
	d[n + 3] = 53;
	d[n + 5] = 8;
	n += 8;
	mh_ipv6(p, kind, "fd00:1::2", "fd00:2::2", d, cut >= 0 ? (uint32_t)cut : n, n);
}

static struct ip6t_opts opts_info(uint8_t flags, uint32_t hdrlen, unsigned int n,
				  const uint16_t *list)
{
	struct ip6t_opts i = {.flags = flags, .hdrlen = hdrlen, .optsnr = (uint8_t)n};

	for (unsigned int k = 0; k < n; k++)
		i.opts[k] = list[k];
	return i;
}

START_TEST(test_check)
{
	struct ip6t_opts i = {0};

	ck_assert_int_eq(bf_match_hbh.check(NULL, &i), 0);
	i.invflags = 2;
	ck_assert_int_eq(bf_match_hbh.check(NULL, &i), -EINVAL);
	ck_assert_int_eq(bf_match_dst.check(NULL, &i), -EINVAL);
	i.invflags = IP6T_OPTS_INV_LEN;
	ck_assert_int_eq(bf_match_dst.check(NULL, &i), 0);
	i.optsnr = IP6T_OPTS_OPTSNR + 1;
	ck_assert_int_eq(bf_match_hbh.check(NULL, &i), -EINVAL);
	/* --hbh-not-strict: "Not strict - not implemented" in the kernel's check */
	i = (struct ip6t_opts){.flags = IP6T_OPTS_OPTS | IP6T_OPTS_NSTRICT};
	ck_assert_int_eq(bf_match_hbh.check(NULL, &i), -EINVAL);
}
END_TEST

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "hbh", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_hbh);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "dst", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_dst);
	ck_assert_int_eq(bf_match_hbh.size, sizeof(struct ip6t_opts));
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "hbh", 0, &e), -ENOENT);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "dst", 0, &e), -ENOENT);
}
END_TEST

START_TEST(test_kind_and_len)
{
	static const uint8_t padn[] = {1, 4, 0, 0, 0, 0};
	struct ip6t_opts any = {0}, len = opts_info(IP6T_OPTS_LEN, 8, 0, NULL);
	struct mh_pkt p;

	opts_pkt(&p, 0, padn, sizeof(padn), -1);
	ck_assert_int_eq(eval_opts(&bf_match_hbh, &any, &p), MH_MATCH);
	ck_assert_int_eq(eval_opts(&bf_match_dst, &any, &p), MH_MISS);
	ck_assert_int_eq(eval_opts(&bf_match_hbh, &len, &p), MH_MATCH);
	opts_pkt(&p, 60, padn, sizeof(padn), -1);
	ck_assert_int_eq(eval_opts(&bf_match_hbh, &any, &p), MH_MISS);
	ck_assert_int_eq(eval_opts(&bf_match_dst, &any, &p), MH_MATCH);
	/* --dst-len is in bytes (ipv6_optlen), not the header's 8-byte units */
	ck_assert_int_eq(eval_opts(&bf_match_dst, &len, &p), MH_MATCH);
	len.hdrlen = 0;
	ck_assert_int_eq(eval_opts(&bf_match_dst, &len, &p), MH_MISS);
	len.invflags = IP6T_OPTS_INV_LEN;
	ck_assert_int_eq(eval_opts(&bf_match_dst, &len, &p), MH_MATCH);
	/* a 24-byte header */
	{
		uint8_t big[22] = {1, 20};

		opts_pkt(&p, 0, big, sizeof(big), -1);
		len = opts_info(IP6T_OPTS_LEN, 24, 0, NULL);
		ck_assert_int_eq(eval_opts(&bf_match_hbh, &len, &p), MH_MATCH);
		len.invflags = IP6T_OPTS_INV_LEN;
		ck_assert_int_eq(eval_opts(&bf_match_hbh, &len, &p), MH_MISS);
	}
}
END_TEST

START_TEST(test_option_list)
{
	/* Pad1, router alert (type 5, length 2), PadN of 1 */
	static const uint8_t o[] = {0, 5, 2, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0};
	struct mh_pkt p;
	struct ip6t_opts i;

	opts_pkt(&p, 60, o, sizeof(o), -1);
	/* the list must be a prefix of the header's options, in order */
	i = opts_info(IP6T_OPTS_OPTS, 0, 1, (const uint16_t[]){0x0000});
	ck_assert_int_eq(eval_opts(&bf_match_dst, &i, &p), MH_MATCH);
	i = opts_info(IP6T_OPTS_OPTS, 0, 2, (const uint16_t[]){0x0000, 0x0502});
	ck_assert_int_eq(eval_opts(&bf_match_dst, &i, &p), MH_MATCH);
	/* a length of 0xFF: any length */
	i = opts_info(IP6T_OPTS_OPTS, 0, 3, (const uint16_t[]){0x0000, 0x05ff, 0x0101});
	ck_assert_int_eq(eval_opts(&bf_match_dst, &i, &p), MH_MATCH);
	i = opts_info(IP6T_OPTS_OPTS, 0, 2, (const uint16_t[]){0x0000, 0x0503});
	ck_assert_int_eq(eval_opts(&bf_match_dst, &i, &p), MH_MISS);
	i = opts_info(IP6T_OPTS_OPTS, 0, 1, (const uint16_t[]){0x0502});
	ck_assert_int_eq(eval_opts(&bf_match_dst, &i, &p), MH_MISS);
	/* the list goes on after the header's options: the walk stops, no match */
	i = opts_info(IP6T_OPTS_OPTS, 0, 6,
		      (const uint16_t[]){0x0000, 0x0502, 0x0101, 0x0000, 0x0000, 0x0000});
	ck_assert_int_eq(eval_opts(&bf_match_dst, &i, &p), MH_MATCH);
	i = opts_info(IP6T_OPTS_OPTS, 0, 11,
		      (const uint16_t[]){0x0000, 0x0502, 0x0101, 0x0000, 0x0000, 0x0000, 0x0000,
					 0x0000, 0x0000, 0x0000, 0x0000});
	ck_assert_int_eq(eval_opts(&bf_match_dst, &i, &p), MH_MISS);
	/* with --dst-len: both must hold */
	i = opts_info(IP6T_OPTS_OPTS | IP6T_OPTS_LEN, 16, 1, (const uint16_t[]){0x0000});
	ck_assert_int_eq(eval_opts(&bf_match_dst, &i, &p), MH_MATCH);
	i.hdrlen = 8;
	ck_assert_int_eq(eval_opts(&bf_match_dst, &i, &p), MH_MISS);
}
END_TEST

START_TEST(test_absent_and_short)
{
	static const uint8_t padn[] = {1, 4, 0, 0, 0, 0};
	static const uint8_t udp[8] = {0, 1, 0, 53, 0, 8, 0, 0};
	struct ip6t_opts any = {0};
	struct mh_pkt p;

	mh_ipv6(&p, IPPROTO_UDP, "fd00:1::2", "fd00:2::2", udp, 8, 8);
	ck_assert_int_eq(eval_opts(&bf_match_hbh, &any, &p), MH_MISS);
	ck_assert_int_eq(eval_opts(&bf_match_dst, &any, &p), MH_MISS);
	/* fewer than 2 bytes of the header: -EBADMSG, hotdrop */
	opts_pkt(&p, 0, padn, sizeof(padn), 1);
	ck_assert_int_eq(eval_opts(&bf_match_hbh, &any, &p), MH_HOTDROP);
	ck_assert_int_eq(eval_opts(&bf_match_dst, &any, &p), MH_HOTDROP);
	opts_pkt(&p, 60, padn, sizeof(padn), 0);
	ck_assert_int_eq(eval_opts(&bf_match_dst, &any, &p), MH_HOTDROP);
	/* 2 to 7 bytes: shorter than its length field: a 6.18 kernel drops it */
	for (int cut = 2; cut < 8; cut++) {
		opts_pkt(&p, 60, padn, sizeof(padn), cut);
		ck_assert_int_eq(eval_opts(&bf_match_dst, &any, &p), MH_HOTDROP);
	}
	opts_pkt(&p, 60, padn, sizeof(padn), 8);
	ck_assert_int_eq(eval_opts(&bf_match_dst, &any, &p), MH_MATCH);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_hbh");
	TCase *tc = tcase_create("hbh");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_kind_and_len);
	tcase_add_test(tc, test_option_list);
	tcase_add_test(tc, test_absent_and_short);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
