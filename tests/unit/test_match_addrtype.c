// SPDX-License-Identifier: GPL-2.0-only
/*
 * The addrtype match (net/netfilter/xt_addrtype.c): registration of both revisions as the kernel
 * registers them, addrtype_mt_checkentry_v1, and the IPv6 address-type tests that need no route
 * (MULTICAST, UNICAST, UNSPEC: ipv6_addr_type) through BPF_PROG_TEST_RUN. Route-based types are
 * compared with the kernel in tests/e2e/lookups_addrtype.sh.
 */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include <bpfilter/cleanup.h>

#include "codegen/registry.h"
#include <linux/netfilter/xt_addrtype.h>

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "addrtype", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_addrtype);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "addrtype", 1, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_addrtype1);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "addrtype", 1, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_addrtype1);
	/* revision 0 is IPv4's own: IPv6 falls back to NFPROTO_UNSPEC, which has revision 1 */
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "addrtype", 0, &e), -EPROTOTYPE);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV4, "addrtype", 1), 0);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV6, "addrtype", 0),
			 -EPROTONOSUPPORT);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV4, "addrtype", 2),
			 -EPROTONOSUPPORT);
	ck_assert_int_eq(bf_match_addrtype.size, 12);
	ck_assert_int_eq(bf_match_addrtype1.size, 8);
	ck_assert_ptr_null(bf_match_addrtype.check);
}
END_TEST

static int check(int family, uint32_t hooks, uint16_t src, uint16_t dst, uint32_t flags)
{
	struct xt_addrtype_info_v1 i = {.source = src, .dest = dst, .flags = flags};
	struct bf_check_ctx c = {.table = "filter", .family = family, .hook_mask = hooks};

	return bf_match_addrtype1.check(&c, &i);
}

START_TEST(test_check)
{
	const uint32_t in = 1u << NF_INET_LOCAL_IN, out = 1u << NF_INET_LOCAL_OUT,
		       fwd = 1u << NF_INET_FORWARD;

	ck_assert_int_eq(check(NFPROTO_IPV4, fwd, 4, 0,
			       XT_ADDRTYPE_LIMIT_IFACE_IN | XT_ADDRTYPE_LIMIT_IFACE_OUT),
			 -EINVAL);
	ck_assert_int_eq(check(NFPROTO_IPV4, in, 4, 0, XT_ADDRTYPE_LIMIT_IFACE_OUT), -EINVAL);
	ck_assert_int_eq(check(NFPROTO_IPV4, out, 4, 0, XT_ADDRTYPE_LIMIT_IFACE_IN), -EINVAL);
	ck_assert_int_eq(check(NFPROTO_IPV4, in | fwd, 4, 0, XT_ADDRTYPE_LIMIT_IFACE_IN), 0);
	ck_assert_int_eq(check(NFPROTO_IPV4, out | fwd, 4, 0, XT_ADDRTYPE_LIMIT_IFACE_OUT), 0);
	ck_assert_int_eq(check(NFPROTO_IPV4, in, 0xfff, 0xfff, 0), 0);
	ck_assert_int_eq(check(NFPROTO_IPV6, in, XT_ADDRTYPE_BLACKHOLE, 0, 0), -EINVAL);
	ck_assert_int_eq(check(NFPROTO_IPV6, in, 0, XT_ADDRTYPE_PROHIBIT, 0), -EINVAL);
	ck_assert_int_eq(check(NFPROTO_IPV6, in, 0, XT_ADDRTYPE_XRESOLVE, 0), -EINVAL);
	ck_assert_int_eq(check(NFPROTO_IPV6, in, XT_ADDRTYPE_BROADCAST, 0, 0), -EINVAL);
	ck_assert_int_eq(check(NFPROTO_IPV6, in,
			       XT_ADDRTYPE_UNSPEC | XT_ADDRTYPE_UNICAST | XT_ADDRTYPE_LOCAL |
				       XT_ADDRTYPE_ANYCAST | XT_ADDRTYPE_MULTICAST |
				       XT_ADDRTYPE_UNREACHABLE,
			       0, 0),
			 0);
	/* what bpfilter does not model: refused, not skipped */
	ck_assert_int_eq(check(NFPROTO_IPV6, in, XT_ADDRTYPE_LOCAL, 0, XT_ADDRTYPE_LIMIT_IFACE_IN),
			 -EOPNOTSUPP);
	ck_assert_int_eq(
		check(NFPROTO_IPV6, in, XT_ADDRTYPE_MULTICAST, 0, XT_ADDRTYPE_LIMIT_IFACE_IN), 0);
}
END_TEST

static int eval6(const char *saddr, uint16_t src, uint32_t flags)
{
	struct xt_addrtype_info_v1 info = {.source = src, .flags = flags};
	struct mh_rule r;
	struct mh_pkt p;

	mh_ipv6(&p, 59, saddr, "2001:db8::2", NULL, 0, 0);
	p.pkt.hook = NF_INET_LOCAL_IN;
	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_addrtype1, &info, sizeof(info));
	return mh_eval(NFPROTO_IPV6, BF_CTX_TC, &r, false, &p);
}

START_TEST(test_addr_type6)
{
	static const struct {
		const char *addr;
		bool mc, uni, any;
	} a[] = {
		{"ff02::1", true, false, false},	  {"::", false, false, true},
		{"::ffff:10.0.0.1", false, false, false}, {"::1", false, true, false},
		{"::10.0.0.1", false, true, false},	  {"2001:db8::1", false, true, false},
		{"fe80::1", false, true, false},	  {"e000::1", false, true, false},
	};

	for (unsigned int i = 0; i < BF_ARRAY_SIZE(a); i++) {
		for (int inv = 0; inv < 2; inv++) {
			uint32_t f = inv ? XT_ADDRTYPE_INVERT_SOURCE : 0;

			ck_assert_int_eq(eval6(a[i].addr, XT_ADDRTYPE_MULTICAST, f),
					 a[i].mc ^ inv ? MH_MATCH : MH_MISS);
			ck_assert_int_eq(eval6(a[i].addr, XT_ADDRTYPE_UNICAST, f),
					 a[i].uni ^ inv ? MH_MATCH : MH_MISS);
			ck_assert_int_eq(eval6(a[i].addr, XT_ADDRTYPE_UNSPEC, f),
					 a[i].any ^ inv ? MH_MATCH : MH_MISS);
			/* every test of the mask must hold */
			ck_assert_int_eq(
				eval6(a[i].addr, XT_ADDRTYPE_UNICAST | XT_ADDRTYPE_MULTICAST, f),
				inv ? MH_MATCH : MH_MISS);
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_addrtype");
	TCase *tc = tcase_create("addrtype");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_addr_type6);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
