// SPDX-License-Identifier: GPL-2.0-only
/*
 * The addrtype match (net/netfilter/xt_addrtype.c): registration of both revisions as the kernel
 * registers them, addrtype_mt_checkentry_v1, and through BPF_PROG_TEST_RUN the IPv6
 * address-type tests (MULTICAST, UNICAST, UNSPEC: ipv6_addr_type) and both families' route
 * answers from hand-filled route-type tries (inet_dev_addr_type with and without a device,
 * revision 0's low-bit inversion, match_lookup_rt6). The tries as the daemon fills them from the
 * kernel's tables are compared with the kernel in tests/e2e/lookups_addrtype.sh.
 */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include <bpfilter/cleanup.h>

#include <bpf/bpf.h>
#include <linux/rtnetlink.h>

#include "codegen/codegen.h"
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

struct lpm4 {
	uint32_t plen;
	uint8_t addr[4];
};

struct lpm6 {
	uint32_t plen;
	uint8_t addr[16];
};

static void route(int fd, int family, const char *addr, uint32_t plen, uint8_t type, uint32_t oif,
		  bool gw)
{
	struct bf_rtype v = {.type = type,
			     .plen = (uint8_t)plen,
			     .oif = oif,
			     .flags = gw ? BF_RTYPE_F_GATEWAY : 0};
	struct lpm6 k = {.plen = plen};

	ck_assert_int_eq(inet_pton(family, addr, k.addr), 1);
	ck_assert_int_eq(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
}

static int tries(void)
{
	int fd4 = bpf_map_create(
		BPF_MAP_TYPE_LPM_TRIE, "t_rtype", sizeof(struct lpm4), sizeof(struct bf_rtype), 64,
		&(struct bpf_map_create_opts){.sz = sizeof(struct bpf_map_create_opts),
					      .map_flags = BPF_F_NO_PREALLOC});
	int fd6 = bpf_map_create(
		BPF_MAP_TYPE_LPM_TRIE, "t_rtype6", sizeof(struct lpm6), sizeof(struct bf_rtype), 64,
		&(struct bpf_map_create_opts){.sz = sizeof(struct bpf_map_create_opts),
					      .map_flags = BPF_F_NO_PREALLOC});

	if (fd4 < 0 || fd6 < 0)
		return -errno;
	route(fd4, AF_INET, "10.0.0.1", 32, RTN_LOCAL, 2, false);
	route(fd4, AF_INET, "10.0.0.255", 32, RTN_BROADCAST, 2, false);
	route(fd4, AF_INET, "10.0.0.0", 24, RTN_UNICAST, 2, false);
	route(fd4, AF_INET, "10.9.1.0", 24, RTN_BLACKHOLE, 0, false);
	route(fd4, AF_INET, "10.9.3.0", 24, RTN_PROHIBIT, 0, false);
	route(fd4, AF_INET, "10.7.0.1", 32, RTN_LOCAL, 3, false);
	route(fd6, AF_INET6, "2001:db8:5::1", 128, RTN_LOCAL, 2, false);
	route(fd6, AF_INET6, "2001:db8:5::", 64, RTN_UNICAST, 2, false);
	route(fd6, AF_INET6, "2001:db8:95::", 48, RTN_UNICAST, 2, true);
	route(fd6, AF_INET6, "2001:db8:91::", 48, RTN_BLACKHOLE, 0, false);
	route(fd6, AF_INET6, "2001:db8:7::7", 128, RTN_ANYCAST, 2, false);
	route(fd6, AF_INET6, "ff00::", 8, RTN_MULTICAST, 2, false);
	route(fd6, AF_INET6, "2001:db8:a::", 127, RTN_UNICAST, 2, false);
	route(fd6, AF_INET6, "2001:db8:b::", 100, RTN_UNICAST, 2, false);
	mh_map_fds[BF_MAP_RTYPE] = fd4;
	mh_map_fds[BF_MAP_RTYPE6] = fd6;
	return 0;
}

static int eval4(const char *saddr, const void *info, bool v0, uint32_t iif)
{
	struct mh_rule r;
	struct mh_pkt p;

	mh_ipv4(&p, 47, saddr, "10.0.0.1", 0, NULL, 0, 0);
	p.pkt.hook = NF_INET_LOCAL_IN;
	p.pkt.iif = iif;
	mh_rule_init(&r);
	if (v0)
		mh_rule_add(&r, &bf_match_addrtype, info, sizeof(struct xt_addrtype_info));
	else
		mh_rule_add(&r, &bf_match_addrtype1, info, sizeof(struct xt_addrtype_info_v1));
	return mh_eval(NFPROTO_IPV4, BF_CTX_TC, &r, false, &p);
}

START_TEST(test_type4)
{
	static const struct {
		const char *addr;
		int type, type_dev2; /* RTN_* without a device, and limited to ifindex 2 */
	} a[] = {
		{"0.0.0.0", RTN_BROADCAST, RTN_BROADCAST},
		{"255.255.255.255", RTN_BROADCAST, RTN_BROADCAST},
		{"0.1.2.3", RTN_UNICAST, RTN_UNICAST}, /* ipv4_is_zeronet is addr == 0 */
		{"224.0.0.1", RTN_MULTICAST, RTN_MULTICAST},
		{"239.255.0.9", RTN_MULTICAST, RTN_MULTICAST},
		{"10.0.0.1", RTN_LOCAL, RTN_LOCAL},
		{"10.0.0.255", RTN_BROADCAST, RTN_BROADCAST},
		{"10.0.0.7", RTN_UNICAST, RTN_UNICAST},
		{"10.9.1.1", RTN_UNICAST, RTN_UNICAST}, /* blackhole: the lookup fails */
		{"10.9.3.1", RTN_UNICAST, RTN_UNICAST}, /* prohibit */
		{"10.7.0.1", RTN_LOCAL, RTN_UNICAST},	/* on another device */
		{"192.0.2.1", RTN_UNICAST, RTN_UNICAST},
	};

	ck_assert_int_eq(tries(), 0);
	for (unsigned int i = 0; i < BF_ARRAY_SIZE(a); i++) {
		for (int t = 0; t <= RTN_XRESOLVE; t++) {
			struct xt_addrtype_info_v1 v1 = {.source = (uint16_t)(1 << t)};
			struct xt_addrtype_info_v1 in = {.source = (uint16_t)(1 << t),
							 .flags = XT_ADDRTYPE_LIMIT_IFACE_IN};

			ck_assert_int_eq(eval4(a[i].addr, &v1, false, 2),
					 t == a[i].type ? MH_MATCH : MH_MISS);
			ck_assert_int_eq(eval4(a[i].addr, &in, false, 2),
					 t == a[i].type_dev2 ? MH_MATCH : MH_MISS);
			v1.flags = XT_ADDRTYPE_INVERT_SOURCE;
			ck_assert_int_eq(eval4(a[i].addr, &v1, false, 2),
					 t != a[i].type ? MH_MATCH : MH_MISS);
			/* revision 0: `bool &= match ^ u32` keeps the low bit of invert */
			for (uint32_t inv = 0; inv < 4; inv++) {
				struct xt_addrtype_info v0 = {.source = (uint16_t)(1 << t),
							      .invert_source = inv};

				ck_assert_int_eq(eval4(a[i].addr, &v0, true, 2),
						 (t == a[i].type) ^ (inv & 1) ? MH_MATCH : MH_MISS);
			}
		}
	}
}
END_TEST

START_TEST(test_lookup6)
{
	static const struct {
		const char *addr;
		uint16_t bits; /* match_lookup_rt6(): LOCAL, ANYCAST, UNREACHABLE */
	} a[] = {
		{"2001:db8:5::1", XT_ADDRTYPE_LOCAL},
		{"2001:db8:5::", XT_ADDRTYPE_ANYCAST}, /* subnet-router anycast */
		{"2001:db8:5::2", 0},
		{"2001:db8:95::", 0}, /* a gateway route: no anycast */
		{"2001:db8:91::1", XT_ADDRTYPE_UNREACHABLE},
		{"2001:db8:99::1", XT_ADDRTYPE_UNREACHABLE}, /* no route */
		{"2001:db8:7::7", XT_ADDRTYPE_ANYCAST},
		{"2001:db8:a::", 0}, /* /127: no subnet-router anycast */
		{"2001:db8:b::", XT_ADDRTYPE_ANYCAST},
		{"2001:db8:b::1", 0},
		{"2001:db8:b::800:0", 0},
		{"ff02::1", 0},
	};
	static const uint16_t masks[] = {XT_ADDRTYPE_LOCAL, XT_ADDRTYPE_ANYCAST,
					 XT_ADDRTYPE_UNREACHABLE};

	ck_assert_int_eq(tries(), 0);
	for (unsigned int i = 0; i < BF_ARRAY_SIZE(a); i++) {
		for (unsigned int m = 0; m < BF_ARRAY_SIZE(masks); m++) {
			ck_assert_int_eq(eval6(a[i].addr, masks[m], 0),
					 a[i].bits & masks[m] ? MH_MATCH : MH_MISS);
			ck_assert_int_eq(eval6(a[i].addr, masks[m], XT_ADDRTYPE_INVERT_SOURCE),
					 a[i].bits & masks[m] ? MH_MISS : MH_MATCH);
		}
		ck_assert_int_eq(eval6(a[i].addr, XT_ADDRTYPE_LOCAL | XT_ADDRTYPE_ANYCAST, 0),
				 a[i].bits & (XT_ADDRTYPE_LOCAL | XT_ADDRTYPE_ANYCAST) ? MH_MATCH
										       : MH_MISS);
	}
	/* a route type with UNICAST: both must hold */
	ck_assert_int_eq(eval6("2001:db8:5::1", XT_ADDRTYPE_LOCAL | XT_ADDRTYPE_UNICAST, 0),
			 MH_MATCH);
	ck_assert_int_eq(eval6("ff02::1", XT_ADDRTYPE_UNREACHABLE | XT_ADDRTYPE_MULTICAST, 0),
			 MH_MISS);
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
	tcase_add_test(tc, test_type4);
	tcase_add_test(tc, test_lookup6);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
