// SPDX-License-Identifier: GPL-2.0-only
/* The tcp match: checkentry, registration and the emitted code run on real frames
 * (BPF_PROG_TEST_RUN), against tcp_mt's semantics in net/netfilter/xt_tcpudp.c. */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "codegen/registry.h"

#define FLG_SYN 0x02
#define FLG_ACK 0x10
#define FLG_RST 0x04
#define FLG_FIN 0x01

static struct xt_tcp tcp_any(void)
{
	return (struct xt_tcp){.spts = {0, 0xffff}, .dpts = {0, 0xffff}};
}

/* Evaluate a tcp match alone (IP part wildcard) at TC, and at XDP too, which must agree. */
static int eval_tcp(const struct xt_tcp *info, const struct mh_pkt *p)
{
	struct mh_rule r;
	int tc, xdp;

	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_tcp, info, sizeof(*info));
	tc = mh_eval(NFPROTO_IPV4, BF_CTX_TC, &r, true, p);
	xdp = mh_eval(NFPROTO_IPV4, BF_CTX_XDP, &r, true, p);
	ck_assert_int_eq(tc, xdp);
	return tc;
}

static void tcp_pkt(struct mh_pkt *p, uint16_t sport, uint16_t dport, uint8_t flags,
		    const uint8_t *opts, uint32_t optlen)
{
	uint8_t l4[64];
	uint32_t n = mh_tcphdr(l4, sport, dport, flags, (uint8_t)(20 + optlen), opts, optlen);

	mh_ipv4(p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, n, n);
}

START_TEST(test_check)
{
	struct xt_tcp t = tcp_any();

	for (unsigned int inv = 0; inv < 256; inv++) {
		t.invflags = (uint8_t)inv;
		ck_assert_int_eq(bf_match_tcp.check(NULL, &t), inv & ~0x0fu ? -EINVAL : 0);
		ck_assert_int_eq(bf_match_tcp6.check(NULL, &t), inv & ~0x0fu ? -EINVAL : 0);
	}
}
END_TEST

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "tcp", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_tcp);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "tcp", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_tcp6);
	ck_assert_int_eq(bf_match_tcp.size, 12); /* matchsize, before XT_ALIGN */
	ck_assert_int_eq(bf_match_tcp.proto, IPPROTO_TCP);
	ck_assert_int_eq(bf_match_tcp.family, NFPROTO_IPV4);
	ck_assert_int_eq(bf_match_tcp6.family, NFPROTO_IPV6);
	ck_assert_ptr_null(bf_match_tcp.table);
	ck_assert_int_eq(bf_match_tcp.hooks, 0);
	/* registered only in the family lists: another revision is ENOENT, not EPROTOTYPE */
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "tcp", 1, &e), -ENOENT);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV4, "tcp", 1), -EPROTONOSUPPORT);
	ck_assert_int_eq(bf_ext_find(BF_EXT_TARGET, NFPROTO_IPV4, "tcp", 0, &e), -ENOENT);
}
END_TEST

START_TEST(test_ports)
{
	struct xt_tcp t = tcp_any();
	struct mh_pkt p;

	tcp_pkt(&p, 1234, 80, FLG_SYN, NULL, 0);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);

	t.dpts[0] = t.dpts[1] = 80;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	t.dpts[0] = t.dpts[1] = 81;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
	t.invflags = XT_TCP_INV_DSTPT;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	t.dpts[0] = t.dpts[1] = 80;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);

	/* ranges: bounds are inclusive */
	t = tcp_any();
	t.spts[0] = 1000;
	t.spts[1] = 1234;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	t.spts[1] = 1233;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
	t.spts[0] = 1234;
	t.spts[1] = 2000;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	t.spts[0] = 1235;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
	t.invflags = XT_TCP_INV_SRCPT;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	t.spts[0] = 0;
	t.spts[1] = 1234;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
	t.spts[1] = 1233;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	t.spts[0] = 1235;
	t.spts[1] = 0xffff;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	t.spts[0] = 1234;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);

	/* 0:65535 inverted never matches; an empty range (min > max) never holds */
	t = tcp_any();
	t.invflags = XT_TCP_INV_SRCPT;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
	t = tcp_any();
	t.dpts[0] = 90;
	t.dpts[1] = 70;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
	t.invflags = XT_TCP_INV_DSTPT;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);

	/* port 0 and 65535 */
	tcp_pkt(&p, 0, 65535, 0, NULL, 0);
	t = tcp_any();
	t.spts[1] = 0;
	t.dpts[0] = 65535;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	t.invflags = XT_TCP_INV_SRCPT;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
}
END_TEST

START_TEST(test_flags)
{
	struct xt_tcp t = tcp_any();
	struct mh_pkt p;

	/* --syn: SYN,RST,ACK,FIN SYN */
	t.flg_mask = FLG_SYN | FLG_RST | FLG_ACK | FLG_FIN;
	t.flg_cmp = FLG_SYN;
	tcp_pkt(&p, 1, 2, FLG_SYN, NULL, 0);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	tcp_pkt(&p, 1, 2, FLG_SYN | 0x08 /* PSH, outside the mask */, NULL, 0);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	tcp_pkt(&p, 1, 2, FLG_SYN | FLG_ACK, NULL, 0);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
	t.invflags = XT_TCP_INV_FLAGS;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	tcp_pkt(&p, 1, 2, FLG_SYN, NULL, 0);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);

	/* mask 0xff (ALL) with cmp NONE, and CWR/ECE bits */
	t = tcp_any();
	t.flg_mask = 0xff;
	t.flg_cmp = 0;
	tcp_pkt(&p, 1, 2, 0, NULL, 0);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	tcp_pkt(&p, 1, 2, 0x80, NULL, 0);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);

	/* cmp bits outside the mask: never equal */
	t.flg_mask = FLG_SYN;
	t.flg_cmp = FLG_SYN | FLG_ACK;
	tcp_pkt(&p, 1, 2, FLG_SYN | FLG_ACK, NULL, 0);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
	t.invflags = XT_TCP_INV_FLAGS;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);

	/* mask 0 with cmp 0 inverted: never */
	t = tcp_any();
	t.invflags = XT_TCP_INV_FLAGS;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
}
END_TEST

START_TEST(test_fragments_and_short)
{
	struct xt_tcp t = tcp_any();
	uint8_t l4[64];
	uint32_t n = mh_tcphdr(l4, 1, 2, FLG_SYN, 20, NULL, 0);
	struct mh_pkt p;

	/* first fragment (MF set, offset 0) is evaluated normally */
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0x2000, l4, n, n);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	/* offset 1: hotdrop; offset 2 and more: no match, even inverted */
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 1, l4, n, n);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_HOTDROP);
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0x2000 | 1, l4, n, n);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_HOTDROP);
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 2, l4, n, n);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0x1fff, l4, n, n);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
	t.invflags = XT_TCP_INV_MASK;
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
	t = tcp_any();

	/* fewer than 20 bytes of TCP header in the IP packet: hotdrop, even when the frame
	 * carries more bytes (padding) */
	for (uint32_t len = 0; len < 20; len++) {
		mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, len, n);
		ck_assert_int_eq(eval_tcp(&t, &p), MH_HOTDROP);
	}
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, 20, 20);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	/* a short fragment at offset 2 is not examined: no match, no drop */
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 2, l4, 4, 4);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
	/* ...at offset 1 it is dropped */
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 1, l4, 4, 4);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_HOTDROP);
}
END_TEST

START_TEST(test_fragments_v6)
{
	/* ipv6_find_hdr() reports the fragment offset in bytes: never 1, so no offset-1 drop. */
	struct xt_tcp t = tcp_any();
	struct mh_rule r;
	uint8_t l4[64];
	uint32_t n = mh_tcphdr(l4, 1, 2, 0, 20, NULL, 0);
	struct mh_pkt p;

	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_tcp6, &t, sizeof(t));
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 1, l4, n, n);
	ck_assert_int_eq(mh_eval(NFPROTO_IPV6, BF_CTX_TC, &r, false, &p), MH_MISS);
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, 10, n);
	ck_assert_int_eq(mh_eval(NFPROTO_IPV6, BF_CTX_TC, &r, false, &p), MH_HOTDROP);
}
END_TEST

/* Option tests: packet with the given option bytes; returns the tcp match for --tcp-option. */
static int opt_eval(uint8_t option, bool invert, const uint8_t *opts, uint32_t optlen)
{
	struct xt_tcp t = tcp_any();
	struct mh_pkt p;

	t.option = option;
	t.invflags = invert ? XT_TCP_INV_OPTION : 0;
	tcp_pkt(&p, 1, 2, FLG_SYN, opts, optlen);
	return eval_tcp(&t, &p);
}

START_TEST(test_option)
{
	/* MSS(2, len 4), NOP, NOP, SACK_PERM(4, len 2), NOP, WSCALE(3, len 3), NOP x2, TS(8, 10) */
	static const uint8_t syn_opts[] = {2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7,
					   1, 1, 8,    10,   0, 0, 0, 1, 0, 0, 0, 0};
	uint8_t opts[40];

	ck_assert_int_eq(opt_eval(2, false, syn_opts, sizeof(syn_opts)), MH_MATCH);
	ck_assert_int_eq(opt_eval(4, false, syn_opts, sizeof(syn_opts)), MH_MATCH);
	ck_assert_int_eq(opt_eval(3, false, syn_opts, sizeof(syn_opts)), MH_MATCH);
	ck_assert_int_eq(opt_eval(8, false, syn_opts, sizeof(syn_opts)), MH_MATCH);
	ck_assert_int_eq(opt_eval(1, false, syn_opts, sizeof(syn_opts)), MH_MATCH);
	ck_assert_int_eq(opt_eval(8, true, syn_opts, sizeof(syn_opts)), MH_MISS);
	/* 5 appears only inside option data (MSS 0x05b4 is 0x05, 0xb4): not an option kind */
	ck_assert_int_eq(opt_eval(5, false, syn_opts, sizeof(syn_opts)), MH_MISS);
	ck_assert_int_eq(opt_eval(5, true, syn_opts, sizeof(syn_opts)), MH_MATCH);
	ck_assert_int_eq(opt_eval(0xb4, false, syn_opts, sizeof(syn_opts)), MH_MISS);
	/* the timestamp value holds a byte 1 and zeros: only seen as data */
	ck_assert_int_eq(opt_eval(10, false, syn_opts, sizeof(syn_opts)), MH_MISS);

	/* no options at all: "invert" */
	ck_assert_int_eq(opt_eval(2, false, NULL, 0), MH_MISS);
	ck_assert_int_eq(opt_eval(2, true, NULL, 0), MH_MATCH);

	/* EOL does not stop the walk in the kernel: kind 0, then kind 2 at byte 1 */
	memset(opts, 0, sizeof(opts));
	opts[1] = 2;
	opts[2] = 4;
	ck_assert_int_eq(opt_eval(2, false, opts, 4), MH_MATCH);
	ck_assert_int_eq(opt_eval(0, true, opts, 4), MH_MATCH); /* option 0: no test at all */

	/* length 0 and length 1 advance by one byte */
	memcpy(opts, (uint8_t[]){30, 0, 31, 1, 32, 2, 0, 0}, 8);
	ck_assert_int_eq(opt_eval(31, false, opts, 8), MH_MATCH);
	ck_assert_int_eq(opt_eval(32, false, opts, 8), MH_MATCH);
	/* length 1 at byte 3 is then read as a kind: NOP */
	ck_assert_int_eq(opt_eval(1, false, opts, 8), MH_MATCH);
	ck_assert_int_eq(opt_eval(2, false, opts, 8), MH_MISS); /* byte 5 is 32's length */

	/* a length running past the options ends the walk */
	memcpy(opts, (uint8_t[]){30, 200, 8, 2}, 4);
	ck_assert_int_eq(opt_eval(8, false, opts, 4), MH_MISS);
	ck_assert_int_eq(opt_eval(30, false, opts, 4), MH_MATCH);

	/* option as the very last byte (position 39 of 40) */
	memset(opts, 1, sizeof(opts));
	opts[39] = 99;
	ck_assert_int_eq(opt_eval(99, false, opts, 40), MH_MATCH);
	ck_assert_int_eq(opt_eval(99, true, opts, 40), MH_MISS);
	/* a multi-byte option whose length byte would be past the end */
	opts[39] = 98;
	ck_assert_int_eq(opt_eval(99, false, opts, 40), MH_MISS);
	ck_assert_int_eq(opt_eval(98, false, opts, 40), MH_MATCH);
	/* an option reached by a jump that lands exactly on the last byte */
	memset(opts, 0, sizeof(opts));
	opts[0] = 50;
	opts[1] = 39;
	opts[39] = 77;
	ck_assert_int_eq(opt_eval(77, false, opts, 40), MH_MATCH);
	opts[1] = 38; /* lands on an EOL at 38, which steps on to 39 */
	ck_assert_int_eq(opt_eval(77, false, opts, 40), MH_MATCH);
	opts[1] = 37; /* 37: EOL, 38: EOL, 39: 77 */
	ck_assert_int_eq(opt_eval(77, false, opts, 40), MH_MATCH);
	opts[38] = 51;
	opts[39] = 77; /* at 38 kind 51, length 77: past the end */
	ck_assert_int_eq(opt_eval(77, false, opts, 40), MH_MISS);
	ck_assert_int_eq(opt_eval(51, false, opts, 40), MH_MATCH);
	/* the kind is found at a position only a chain of jumps reaches */
	memset(opts, 0, sizeof(opts));
	for (int i = 0; i + 3 < 40; i += 3) {
		opts[i] = 60;
		opts[i + 1] = 3;
		opts[i + 2] = 61;
	}
	opts[39] = 61;
	ck_assert_int_eq(opt_eval(61, false, opts, 40), MH_MATCH);
	opts[39] = 0;
	ck_assert_int_eq(opt_eval(61, false, opts, 40), MH_MISS);
}
END_TEST

START_TEST(test_option_malformed)
{
	struct xt_tcp t = tcp_any();
	uint8_t l4[80], opts[40];
	struct mh_pkt p;
	uint32_t n;

	t.option = 2;
	memset(opts, 1, sizeof(opts));
	opts[0] = 2;
	opts[1] = 4;

	/* doff*4 < 20 with an option test: hotdrop; without one, the header is still fine */
	for (uint8_t doff = 0; doff < 20; doff += 4) {
		n = mh_tcphdr(l4, 1, 2, 0, doff, NULL, 0);
		mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, n, n);
		ck_assert_int_eq(eval_tcp(&t, &p), MH_HOTDROP);
		t.option = 0;
		ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
		t.option = 2;
	}

	/* options announced by doff but not in the IP packet: hotdrop (frame padding does not
	 * count) */
	n = mh_tcphdr(l4, 1, 2, 0, 24, opts, 40);
	for (uint32_t len = 20; len < 24; len++) {
		mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, len, n);
		ck_assert_int_eq(eval_tcp(&t, &p), MH_HOTDROP);
	}
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, 24, n);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);
	n = mh_tcphdr(l4, 1, 2, 0, 60, opts, 40);
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, 59, n);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_HOTDROP);
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, 60, n);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MATCH);

	/* ports are tested before options: a port miss never drops */
	t.dpts[0] = t.dpts[1] = 3;
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, 59, n);
	ck_assert_int_eq(eval_tcp(&t, &p), MH_MISS);
}
END_TEST

START_TEST(test_verifier_size)
{
	/* every test at once: ports both inverted, flags, an option; loads at TC and XDP */
	struct xt_tcp t = {.spts = {10, 20},
			   .dpts = {30, 40},
			   .option = 8,
			   .flg_mask = 0x3f,
			   .flg_cmp = 0x02,
			   .invflags = XT_TCP_INV_MASK};
	struct mh_rule r;
	size_t n;
	int fd;

	mh_rule_init(&r);
	mh_rule_add(&r, &bf_match_tcp, &t, sizeof(t));
	mh_rule_add(&r, &bf_match_tcp, &t, sizeof(t));
	ck_assert_int_eq(mh_load(NFPROTO_IPV4, BF_CTX_TC, &r, true, &fd, &n), 0);
	close(fd);
	ck_assert_int_eq(mh_load(NFPROTO_IPV4, BF_CTX_XDP, &r, true, &fd, &n), 0);
	close(fd);
}
END_TEST

static Suite *tcp_suite(void)
{
	Suite *s = suite_create("match_tcp");
	TCase *tc = tcase_create("tcp");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_ports);
	tcase_add_test(tc, test_flags);
	tcase_add_test(tc, test_fragments_and_short);
	tcase_add_test(tc, test_fragments_v6);
	tcase_add_test(tc, test_option);
	tcase_add_test(tc, test_option_malformed);
	tcase_add_test(tc, test_verifier_size);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tcp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
