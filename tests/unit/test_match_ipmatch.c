// SPDX-License-Identifier: GPL-2.0-only
/* The IP part (-s, -d, -i, -o, -p, -f and inversions) against ip_packet_match()
 * (net/ipv4/netfilter/ip_tables.c), run on real frames with BPF_PROG_TEST_RUN. */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "codegen/builder.h"
#include "codegen/ipmatch.h"

static struct mh_rule r;
static struct mh_pkt p;

static int eval(void)
{
	int tc = mh_eval(NFPROTO_IPV4, BF_CTX_TC, &r, true, &p);
	int xdp = mh_eval(NFPROTO_IPV4, BF_CTX_XDP, &r, true, &p);

	ck_assert_int_eq(tc, xdp);
	return tc;
}

static void pkt(const char *s, const char *d, uint8_t proto, uint16_t frag)
{
	uint8_t l4[20] = {0};

	mh_ipv4(&p, proto, s, d, frag, l4, sizeof(l4), sizeof(l4));
}

static void set_addr(struct in_addr *a, struct in_addr *m, const char *addr, int plen)
{
	inet_pton(AF_INET, addr, a);
	m->s_addr = plen ? htonl(~0u << (32 - plen)) : 0;
	a->s_addr &= m->s_addr;
}

/* iptables' -i/-o parsing: "eth+" → name "eth", mask over 3 bytes; "eth0" → mask over the name
 * and its NUL. */
static void set_iface(char name[IFNAMSIZ], unsigned char mask[IFNAMSIZ], const char *arg)
{
	size_t n = strlen(arg);

	memset(name, 0, IFNAMSIZ);
	memset(mask, 0, IFNAMSIZ);
	if (n && arg[n - 1] == '+') {
		memcpy(name, arg, n - 1);
		memset(mask, 0xff, n - 1);
	} else {
		memcpy(name, arg, n);
		memset(mask, 0xff, n + 1 > IFNAMSIZ ? IFNAMSIZ : n + 1);
	}
}

static void setup(void)
{
	mh_rule_init(&r);
	pkt("10.1.2.3", "192.168.7.9", IPPROTO_UDP, 0);
}

START_TEST(test_wildcard)
{
	size_t n0;
	int fd;

	ck_assert(bf_ipmatch_is_wildcard(NFPROTO_IPV4, &r.e));
	ck_assert_int_eq(eval(), MH_MATCH);
	/* an all-wildcard IP part emits no instruction */
	ck_assert_int_eq(mh_load(NFPROTO_IPV4, BF_CTX_TC, &r, false, &fd, &n0), 0);
	close(fd);
	{
		size_t n1;

		ck_assert_int_eq(mh_load(NFPROTO_IPV4, BF_CTX_TC, &r, true, &fd, &n1), 0);
		close(fd);
		ck_assert_uint_eq(n0, n1);
	}
	/* -s 0.0.0.0/0 is a wildcard; "! -s 0.0.0.0/0" never matches */
	r.ip.v4.invflags = IPT_INV_SRCIP;
	ck_assert(!bf_ipmatch_is_wildcard(NFPROTO_IPV4, &r.e));
	ck_assert_int_eq(eval(), MH_MISS);
	/* inversion flags on wildcard interfaces: never */
	r.ip.v4.invflags = IPT_INV_VIA_IN;
	ck_assert_int_eq(eval(), MH_MISS);
	r.ip.v4.invflags = IPT_INV_VIA_OUT;
	ck_assert_int_eq(eval(), MH_MISS);
	/* IPT_INV_PROTO with proto 0 is ignored by the kernel */
	r.ip.v4.invflags = IPT_INV_PROTO;
	ck_assert(bf_ipmatch_is_wildcard(NFPROTO_IPV4, &r.e));
	ck_assert_int_eq(eval(), MH_MATCH);
	/* IPT_INV_FRAG without IPT_F_FRAG: never */
	r.ip.v4.invflags = IPT_INV_FRAG;
	ck_assert(!bf_ipmatch_is_wildcard(NFPROTO_IPV4, &r.e));
	ck_assert_int_eq(eval(), MH_MISS);
	/* IPT_INV_TOS and IPT_F_GOTO play no part in the match */
	r.ip.v4.invflags = IPT_INV_TOS;
	r.ip.v4.flags = IPT_F_GOTO;
	ck_assert(bf_ipmatch_is_wildcard(NFPROTO_IPV4, &r.e));
	ck_assert_int_eq(eval(), MH_MATCH);
	/* an address with a zero mask: (addr & 0) != src */
	r.ip.v4.invflags = 0;
	r.ip.v4.flags = 0;
	r.ip.v4.dst.s_addr = htonl(1);
	ck_assert(!bf_ipmatch_is_wildcard(NFPROTO_IPV4, &r.e));
	ck_assert_int_eq(eval(), MH_MISS);
	r.ip.v4.invflags = IPT_INV_DSTIP;
	ck_assert_int_eq(eval(), MH_MATCH);
}
END_TEST

START_TEST(test_addresses)
{
	struct ipt_ip *ip = &r.ip.v4;

	set_addr(&ip->src, &ip->smsk, "10.1.2.3", 32);
	ck_assert_int_eq(eval(), MH_MATCH);
	set_addr(&ip->src, &ip->smsk, "10.1.2.4", 32);
	ck_assert_int_eq(eval(), MH_MISS);
	ip->invflags = IPT_INV_SRCIP;
	ck_assert_int_eq(eval(), MH_MATCH);
	set_addr(&ip->src, &ip->smsk, "10.1.0.0", 16);
	ck_assert_int_eq(eval(), MH_MISS);
	ip->invflags = 0;
	ck_assert_int_eq(eval(), MH_MATCH);
	set_addr(&ip->src, &ip->smsk, "10.1.2.2", 31);
	ck_assert_int_eq(eval(), MH_MATCH);
	set_addr(&ip->src, &ip->smsk, "10.1.2.0", 31);
	ck_assert_int_eq(eval(), MH_MISS);
	set_addr(&ip->src, &ip->smsk, "0.0.0.0", 1);
	ck_assert_int_eq(eval(), MH_MATCH);
	set_addr(&ip->src, &ip->smsk, "128.0.0.0", 1);
	ck_assert_int_eq(eval(), MH_MISS);
	/* a non-contiguous mask (iptables accepts -s 10.0.2.0/255.0.255.0) */
	inet_pton(AF_INET, "10.0.2.0", &ip->src);
	inet_pton(AF_INET, "255.0.255.0", &ip->smsk);
	ck_assert_int_eq(eval(), MH_MATCH);
	inet_pton(AF_INET, "10.0.3.0", &ip->src);
	ck_assert_int_eq(eval(), MH_MISS);
	/* src with bits outside its mask never equals the masked address */
	inet_pton(AF_INET, "10.1.2.3", &ip->src);
	inet_pton(AF_INET, "255.255.255.0", &ip->smsk);
	ck_assert_int_eq(eval(), MH_MISS);
	ip->invflags = IPT_INV_SRCIP;
	ck_assert_int_eq(eval(), MH_MATCH);

	/* destination, and both together */
	memset(ip, 0, sizeof(*ip));
	set_addr(&ip->dst, &ip->dmsk, "192.168.0.0", 16);
	ck_assert_int_eq(eval(), MH_MATCH);
	ip->invflags = IPT_INV_DSTIP;
	ck_assert_int_eq(eval(), MH_MISS);
	ip->invflags = 0;
	set_addr(&ip->src, &ip->smsk, "10.0.0.0", 8);
	ck_assert_int_eq(eval(), MH_MATCH);
	ip->invflags = IPT_INV_SRCIP;
	ck_assert_int_eq(eval(), MH_MISS);
	pkt("11.1.2.3", "192.168.7.9", IPPROTO_UDP, 0);
	ck_assert_int_eq(eval(), MH_MATCH);
	pkt("11.1.2.3", "192.169.7.9", IPPROTO_UDP, 0);
	ck_assert_int_eq(eval(), MH_MISS);
}
END_TEST

START_TEST(test_ifaces)
{
	struct ipt_ip *ip = &r.ip.v4;

	mh_set_ifaces(&p, "eth0", NULL);
	set_iface(ip->iniface, ip->iniface_mask, "eth0");
	ck_assert_int_eq(eval(), MH_MATCH);
	mh_set_ifaces(&p, "eth00", NULL);
	ck_assert_int_eq(eval(), MH_MISS); /* the mask covers the NUL */
	mh_set_ifaces(&p, "eth", NULL);
	ck_assert_int_eq(eval(), MH_MISS);
	set_iface(ip->iniface, ip->iniface_mask, "eth+");
	ck_assert_int_eq(eval(), MH_MATCH);
	mh_set_ifaces(&p, "eth00", NULL);
	ck_assert_int_eq(eval(), MH_MATCH);
	mh_set_ifaces(&p, "et", NULL);
	ck_assert_int_eq(eval(), MH_MISS);
	ip->invflags = IPT_INV_VIA_IN;
	ck_assert_int_eq(eval(), MH_MATCH);
	mh_set_ifaces(&p, "eth1", NULL);
	ck_assert_int_eq(eval(), MH_MISS);
	/* no in interface (OUTPUT): the kernel compares an all-zero name */
	mh_set_ifaces(&p, NULL, "eth1");
	ck_assert_int_eq(eval(), MH_MATCH);
	ip->invflags = 0;
	ck_assert_int_eq(eval(), MH_MISS);

	/* out interface; names in the second 8-byte half; a 15-character name */
	memset(ip, 0, sizeof(*ip));
	set_iface(ip->outiface, ip->outiface_mask, "averylongname12");
	mh_set_ifaces(&p, "lo", "averylongname12");
	ck_assert_int_eq(eval(), MH_MATCH);
	mh_set_ifaces(&p, "lo", "averylongname13");
	ck_assert_int_eq(eval(), MH_MISS);
	set_iface(ip->outiface, ip->outiface_mask, "averylongname1+");
	ck_assert_int_eq(eval(), MH_MATCH);
	set_iface(ip->outiface, ip->outiface_mask, "averylong+");
	mh_set_ifaces(&p, "lo", "averylonX");
	ck_assert_int_eq(eval(), MH_MISS);
	mh_set_ifaces(&p, "lo", "averylong");
	ck_assert_int_eq(eval(), MH_MATCH);
	ip->invflags = IPT_INV_VIA_OUT;
	ck_assert_int_eq(eval(), MH_MISS);
	/* name bytes outside the mask do not count (ifname_compare_aligned masks the XOR) */
	ip->invflags = 0;
	set_iface(ip->outiface, ip->outiface_mask, "veth+");
	ip->outiface[5] = 'Z';
	mh_set_ifaces(&p, "lo", "veth9");
	ck_assert_int_eq(eval(), MH_MATCH);
	/* in and out together */
	set_iface(ip->iniface, ip->iniface_mask, "lo");
	ck_assert_int_eq(eval(), MH_MATCH);
	mh_set_ifaces(&p, "lo0", "veth9");
	ck_assert_int_eq(eval(), MH_MISS);
	/* "-i +": empty mask, matches everything, also with no interface */
	memset(ip, 0, sizeof(*ip));
	set_iface(ip->iniface, ip->iniface_mask, "+");
	mh_set_ifaces(&p, NULL, NULL);
	ck_assert(bf_ipmatch_is_wildcard(NFPROTO_IPV4, &r.e));
	ck_assert_int_eq(eval(), MH_MATCH);
}
END_TEST

START_TEST(test_proto)
{
	struct ipt_ip *ip = &r.ip.v4;

	ip->proto = IPPROTO_UDP;
	ck_assert_int_eq(eval(), MH_MATCH);
	ip->proto = IPPROTO_TCP;
	ck_assert_int_eq(eval(), MH_MISS);
	ip->invflags = IPT_INV_PROTO;
	ck_assert_int_eq(eval(), MH_MATCH);
	ip->proto = IPPROTO_UDP;
	ck_assert_int_eq(eval(), MH_MISS);
	/* proto 255 and a value that does not fit the 8-bit field */
	pkt("10.1.2.3", "192.168.7.9", 255, 0);
	ip->invflags = 0;
	ip->proto = 255;
	ck_assert_int_eq(eval(), MH_MATCH);
	ip->proto = 256 + 255;
	ck_assert_int_eq(eval(), MH_MISS);
	ip->invflags = IPT_INV_PROTO;
	ck_assert_int_eq(eval(), MH_MATCH);
}
END_TEST

START_TEST(test_frag)
{
	struct ipt_ip *ip = &r.ip.v4;

	/* -f: non-first fragments only */
	ip->flags = IPT_F_FRAG;
	pkt("10.1.2.3", "192.168.7.9", IPPROTO_UDP, 0);
	ck_assert_int_eq(eval(), MH_MISS);
	pkt("10.1.2.3", "192.168.7.9", IPPROTO_UDP, 0x2000); /* first fragment: MF, offset 0 */
	ck_assert_int_eq(eval(), MH_MISS);
	pkt("10.1.2.3", "192.168.7.9", IPPROTO_UDP, 1);
	ck_assert_int_eq(eval(), MH_MATCH);
	pkt("10.1.2.3", "192.168.7.9", IPPROTO_UDP, 0x2000 | 0x1fff);
	ck_assert_int_eq(eval(), MH_MATCH);
	pkt("10.1.2.3", "192.168.7.9", IPPROTO_UDP, 0x4000); /* DF only */
	ck_assert_int_eq(eval(), MH_MISS);
	/* ! -f */
	ip->invflags = IPT_INV_FRAG;
	ck_assert_int_eq(eval(), MH_MATCH);
	pkt("10.1.2.3", "192.168.7.9", IPPROTO_UDP, 2);
	ck_assert_int_eq(eval(), MH_MISS);
}
END_TEST

START_TEST(test_all_fields)
{
	struct ipt_ip *ip = &r.ip.v4;

	set_addr(&ip->src, &ip->smsk, "10.1.0.0", 16);
	set_addr(&ip->dst, &ip->dmsk, "192.168.7.9", 32);
	set_iface(ip->iniface, ip->iniface_mask, "veth+");
	set_iface(ip->outiface, ip->outiface_mask, "eth1");
	ip->proto = IPPROTO_UDP;
	ip->flags = IPT_F_FRAG;
	ip->invflags = IPT_INV_FRAG | IPT_INV_VIA_OUT;
	mh_set_ifaces(&p, "veth3", "eth2");
	ck_assert_int_eq(eval(), MH_MATCH);
	mh_set_ifaces(&p, "veth3", "eth1");
	ck_assert_int_eq(eval(), MH_MISS);
	ip->invflags = IPT_INV_FRAG;
	ck_assert_int_eq(eval(), MH_MATCH);
	ip->invflags = 0;
	ck_assert_int_eq(eval(), MH_MISS);
}
END_TEST

START_TEST(test_ipv6)
{
	union bf_entry_ip ip = {0};
	struct bf_entry e = {.ip = &ip};

	/* ip6_packet_match is emitted (its semantics are checked against the kernel with real
	 * traffic by tests/e2e/ipv6_traffic.sh); an all-zero IPv6 part is the only wildcard. */
	ck_assert(bf_ipmatch_is_wildcard(NFPROTO_IPV6, &e));
	ip.v6.proto = IPPROTO_TCP;
	ip.v6.flags = IP6T_F_PROTO;
	ck_assert(!bf_ipmatch_is_wildcard(NFPROTO_IPV6, &e));
	{
		struct bf_builder *b = NULL;
		struct bf_emit_ctx ctx = {.family = NFPROTO_IPV6};

		ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
		ctx.b = b;
		ctx.miss = bf_label_new(b);
		ctx.hotdrop = bf_label_new(b);
		ck_assert_int_eq(bf_emit_ipmatch(&ctx, &e), 0);
		ck_assert_uint_gt(bf_builder_len(b), 0);
		ctx.family = NFPROTO_ARP;
		ck_assert_int_eq(bf_emit_ipmatch(&ctx, &e), -EOPNOTSUPP);
		bf_builder_free(b);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_ipmatch");
	TCase *tc = tcase_create("ipmatch");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_wildcard);
	tcase_add_test(tc, test_addresses);
	tcase_add_test(tc, test_ifaces);
	tcase_add_test(tc, test_proto);
	tcase_add_test(tc, test_frag);
	tcase_add_test(tc, test_all_fields);
	tcase_add_test(tc, test_ipv6);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
