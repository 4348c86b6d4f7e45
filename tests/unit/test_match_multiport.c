// SPDX-License-Identifier: GPL-2.0-only
/* The multiport match: registration, multiport_mt_check and multiport_mt's semantics
 * (net/netfilter/xt_multiport.c), run through BPF_PROG_TEST_RUN at TC and XDP. */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter/xt_multiport.h>

#include "codegen/registry.h"

static int eval(const struct xt_multiport_v1 *info, const struct mh_pkt *p)
{
	struct mh_rule r;
	int tc, xdp;

	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_multiport, info, sizeof(*info));
	tc = mh_eval(NFPROTO_IPV4, BF_CTX_TC, &r, false, p);
	xdp = mh_eval(NFPROTO_IPV4, BF_CTX_XDP, &r, false, p);
	ck_assert_int_eq(tc, xdp);
	return tc;
}

/* proto with `len` bytes of transport header carrying the two ports */
static void pkt(struct mh_pkt *p, uint8_t proto, uint16_t sport, uint16_t dport, uint16_t frag,
		uint32_t len)
{
	uint8_t l4[32] = {0};
	uint16_t v;

	v = htons(sport);
	memcpy(l4, &v, 2);
	v = htons(dport);
	memcpy(l4 + 2, &v, 2);
	l4[12] = 0x50;
	mh_ipv4(p, proto, "10.0.0.1", "10.0.0.2", frag, l4, len, sizeof(l4));
}

static int check_with(uint8_t proto, uint8_t invflags, const struct xt_multiport_v1 *info)
{
	union bf_entry_ip ip = {0};
	struct bf_entry e = {.ip = &ip};
	struct bf_check_ctx ctx = {.table = "filter", .family = NFPROTO_IPV4, .entry = &e};

	ip.v4.proto = proto;
	ip.v4.invflags = invflags;
	return bf_match_multiport.check(&ctx, info);
}

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "multiport", 1, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_multiport);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "multiport", 1, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_multiport6);
	/* revision 0 is gone from the kernel; registered per family → ENOENT */
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "multiport", 0, &e), -ENOENT);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV4, "multiport", 1), 0);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV4, "multiport", 0),
			 -EPROTONOSUPPORT);
	ck_assert_int_eq(bf_match_multiport.size, 48);
	ck_assert_int_eq(bf_match_multiport.proto, 0);
	ck_assert_int_eq(bf_match_multiport.hooks, 0);
}
END_TEST

START_TEST(test_check)
{
	struct xt_multiport_v1 m = {.flags = XT_MULTIPORT_SOURCE, .count = 2, .ports = {1, 2}};
	static const uint8_t ok[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IPPROTO_SCTP,
				     IPPROTO_DCCP};

	for (unsigned int proto = 0; proto < 256; proto++) {
		bool good = memchr(ok, (int)proto, sizeof(ok)) != NULL;

		ck_assert_int_eq(check_with((uint8_t)proto, 0, &m), good ? 0 : -EINVAL);
		/* ! -p tcp */
		ck_assert_int_eq(check_with((uint8_t)proto, XT_INV_PROTO, &m), -EINVAL);
		/* other invflags do not matter */
		ck_assert_int_eq(check_with((uint8_t)proto, 0x3f, &m), good ? 0 : -EINVAL);
	}
	for (unsigned int f = 0; f < 256; f++) {
		m.flags = (uint8_t)f;
		ck_assert_int_eq(check_with(IPPROTO_TCP, 0, &m), f <= 2 ? 0 : -EINVAL);
	}
	m.flags = XT_MULTIPORT_EITHER;
	m.count = 15;
	ck_assert_int_eq(check_with(IPPROTO_TCP, 0, &m), 0);
	m.count = 16;
	ck_assert_int_eq(check_with(IPPROTO_TCP, 0, &m), -EINVAL);
	m.count = 0;
	ck_assert_int_eq(check_with(IPPROTO_TCP, 0, &m), 0);
	/* a range flag on the last port has no end */
	m.count = 2;
	m.pflags[1] = 1;
	ck_assert_int_eq(check_with(IPPROTO_TCP, 0, &m), -EINVAL);
	m.pflags[0] = 1; /* 0-1 is a range, the flag on 1 is skipped */
	ck_assert_int_eq(check_with(IPPROTO_TCP, 0, &m), 0);
	m.count = 3;
	m.pflags[0] = 0;
	m.pflags[1] = 1;
	ck_assert_int_eq(check_with(IPPROTO_TCP, 0, &m), 0);
	m.pflags[2] = 1;
	ck_assert_int_eq(check_with(IPPROTO_TCP, 0, &m), 0);
	m.count = 4;
	m.pflags[3] = 1;
	ck_assert_int_eq(check_with(IPPROTO_TCP, 0, &m), -EINVAL);
}
END_TEST

/* ports_match_v1 and the head of multiport_mt, as a reference for random cases */
static int model(const struct xt_multiport_v1 *m, const struct mh_pkt *p, uint16_t src,
		 uint16_t dst)
{
	if (p->pkt.fragoff_h)
		return MH_MISS;
	if (p->pkt.l4_len < 4)
		return MH_HOTDROP;
	for (unsigned int i = 0; i < m->count; i++) {
		uint16_t s = m->ports[i], e = s;

		if (m->pflags[i])
			e = m->ports[++i];
		if ((m->flags != XT_MULTIPORT_DESTINATION && src >= s && src <= e) ||
		    (m->flags != XT_MULTIPORT_SOURCE && dst >= s && dst <= e))
			return (1 ^ m->invert) ? MH_MATCH : MH_MISS;
	}
	return m->invert ? MH_MATCH : MH_MISS;
}

START_TEST(test_ports)
{
	struct xt_multiport_v1 m = {
		.flags = XT_MULTIPORT_SOURCE,
		.count = 3,
		.ports = {53, 1024, 65535},
		.pflags = {0, 1, 0},
	};
	struct mh_pkt p;

	pkt(&p, IPPROTO_TCP, 53, 80, 0, 20);
	ck_assert_int_eq(eval(&m, &p), MH_MATCH);
	pkt(&p, IPPROTO_TCP, 80, 53, 0, 20);
	ck_assert_int_eq(eval(&m, &p), MH_MISS);
	m.flags = XT_MULTIPORT_DESTINATION;
	ck_assert_int_eq(eval(&m, &p), MH_MATCH);
	m.invert = 1;
	ck_assert_int_eq(eval(&m, &p), MH_MISS);
	pkt(&p, IPPROTO_TCP, 80, 80, 0, 20);
	ck_assert_int_eq(eval(&m, &p), MH_MATCH);
	m.invert = 2; /* a bool result: always true */
	ck_assert_int_eq(eval(&m, &p), MH_MATCH);
	pkt(&p, IPPROTO_TCP, 80, 53, 0, 20);
	ck_assert_int_eq(eval(&m, &p), MH_MATCH);
	m.invert = 0;
	m.flags = XT_MULTIPORT_EITHER;
	pkt(&p, IPPROTO_SCTP, 2000, 1, 0, 12);
	ck_assert_int_eq(eval(&m, &p), MH_MATCH);
	pkt(&p, IPPROTO_DCCP, 1, 1023, 0, 4); /* 4 bytes are enough */
	ck_assert_int_eq(eval(&m, &p), MH_MISS);
	/* short: hotdrop, even when the invert makes any answer true */
	pkt(&p, IPPROTO_TCP, 53, 53, 0, 3);
	ck_assert_int_eq(eval(&m, &p), MH_HOTDROP);
	m.invert = 7;
	ck_assert_int_eq(eval(&m, &p), MH_HOTDROP);
	/* non-first fragments never match, first ones do */
	pkt(&p, IPPROTO_TCP, 53, 53, 1, 20);
	ck_assert_int_eq(eval(&m, &p), MH_MISS);
	m.invert = 1;
	ck_assert_int_eq(eval(&m, &p), MH_MISS);
	m.invert = 0;
	pkt(&p, IPPROTO_TCP, 53, 53, 0x2000, 20);
	ck_assert_int_eq(eval(&m, &p), MH_MATCH);
	/* no ports at all: invert decides */
	m.count = 0;
	ck_assert_int_eq(eval(&m, &p), MH_MISS);
	m.invert = 1;
	ck_assert_int_eq(eval(&m, &p), MH_MATCH);
}
END_TEST

START_TEST(test_every_port)
{
	/* 0:65535 is always true: the program must still load (an unconditional jump over the
	 * rest of the rule left code the verifier found unreachable, and it refused the table). */
	struct xt_multiport_v1 m = {
		.flags = XT_MULTIPORT_DESTINATION,
		.count = 2,
		.ports = {0, 65535},
		.pflags = {1, 0},
	};
	struct mh_pkt p;

	pkt(&p, IPPROTO_TCP, 1, 2, 0, 20);
	ck_assert_int_eq(eval(&m, &p), MH_MATCH);
	m.invert = 1;
	ck_assert_int_eq(eval(&m, &p), MH_MISS);
	m.invert = 0;
	m.flags = XT_MULTIPORT_EITHER;
	ck_assert_int_eq(eval(&m, &p), MH_MATCH);
}
END_TEST

START_TEST(test_random)
{
	uint32_t seed = 7;

	for (unsigned int n = 0; n < 300; n++) {
		struct xt_multiport_v1 m = {0};
		struct mh_pkt p;
		uint16_t src, dst;

		seed = seed * 1103515245u + 12345u;
		srand(seed);
		m.flags = (uint8_t)(rand() % 3);
		m.count = (uint8_t)(rand() % 16);
		m.invert = (uint8_t)(rand() % 5 == 0 ? rand() % 3 : 0);
		for (unsigned int i = 0; i < m.count; i++) {
			m.ports[i] = (uint16_t)(rand() % 4 ? rand() % 100 : rand());
			if (i + 1 < m.count && rand() % 3 == 0) {
				m.pflags[i] = 1;
				m.ports[++i] = (uint16_t)(rand() % 4 ? rand() % 100 : rand());
			}
		}
		src = (uint16_t)(rand() % 2 ? rand() % 100 : rand());
		dst = (uint16_t)(rand() % 2 ? rand() % 100 : rand());
		pkt(&p, rand() % 2 ? IPPROTO_UDP : IPPROTO_TCP, src, dst,
		    (uint16_t)(rand() % 8 == 0 ? rand() % 3 : 0), (uint32_t)(rand() % 8 ? 20 : 3));
		ck_assert_int_eq(eval(&m, &p), model(&m, &p, src, dst));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_multiport");
	TCase *tc = tcase_create("multiport");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_ports);
	tcase_add_test(tc, test_random);
	tcase_add_test(tc, test_every_port);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
