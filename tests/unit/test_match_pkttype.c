// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pkttype match (net/netfilter/xt_pkttype.c). At TC the type is the skb's: BPF_PROG_TEST_RUN
 * runs eth_type_trans on the frame for the loopback device (address 00:00:00:00:00:00), so the
 * destination MAC chooses it. At XDP it is derived from the destination MAC the same way.
 */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>

#include <bpfilter/cleanup.h>

#include "codegen/registry.h"
#include <linux/if_packet.h>
#include <linux/netfilter/xt_pkttype.h>

static int eval(enum bf_prog_ctx pctx, const struct xt_pkttype_info *info, const uint8_t *dmac,
		uint32_t iif)
{
	struct mh_rule r;
	struct mh_pkt p;

	mh_ipv4(&p, 47, "10.0.0.1", "10.0.0.2", 0, NULL, 0, 0);
	mh_set_macs(&p, dmac, NULL);
	p.pkt.iif = iif;
	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_pkttype, info, sizeof(*info));
	return mh_eval(NFPROTO_IPV4, pctx, &r, false, &p);
}

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "pkttype", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_pkttype);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "pkttype", 0, &e), 0);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "pkttype", 1, &e), -EPROTOTYPE);
	ck_assert_int_eq(bf_match_pkttype.size, 8);
}
END_TEST

START_TEST(test_types)
{
	static const uint8_t host[6] = {0}, bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			     mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01},
			     almost[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
	/* type on an Ethernet device, and on lo (broadcast address 00:00:00:00:00:00) */
	static const struct {
		const uint8_t *mac;
		int eth, lo;
	} cases[] = {{host, PACKET_HOST, PACKET_HOST},
		     {bcast, PACKET_BROADCAST, PACKET_MULTICAST},
		     {mcast, PACKET_MULTICAST, PACKET_MULTICAST},
		     {almost, PACKET_MULTICAST, PACKET_MULTICAST}};

	for (unsigned int c = 0; c < BF_ARRAY_SIZE(cases); c++) {
		for (int t = 0; t < 8; t++) {
			for (int inv = 0; inv < 3; inv++) {
				struct xt_pkttype_info i = {.pkttype = t, .invert = inv};
				int tc = eval(BF_CTX_TC, &i, cases[c].mac, 1);

				/* test_run runs eth_type_trans for lo: the kernel's own answer */
				ck_assert_int_eq(tc,
						 ((cases[c].lo == t) ^ inv) ? MH_MATCH : MH_MISS);
				/* XDP replays it, for lo and for an Ethernet device */
				ck_assert_int_eq(eval(BF_CTX_XDP, &i, cases[c].mac, 1), tc);
				ck_assert_int_eq(eval(BF_CTX_XDP, &i, cases[c].mac, 2),
						 ((cases[c].eth == t) ^ inv) ? MH_MATCH : MH_MISS);
			}
		}
	}
	/* a value beyond 8 bits is no type */
	ck_assert_int_eq(eval(BF_CTX_TC, &(struct xt_pkttype_info){.pkttype = 0x100}, host, 1),
			 MH_MISS);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_pkttype");
	TCase *tc = tcase_create("pkttype");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_types);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
