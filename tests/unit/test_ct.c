// SPDX-License-Identifier: GPL-2.0-only
/*
 * Connection tracking (codegen/ct.c) through BPF_PROG_TEST_RUN: sequences of packets of one
 * host (the server 10.0.0.9) run through an INPUT dispatcher (packets from the client) and an
 * OUTPUT dispatcher (the server's packets), both chains being
 *	-m conntrack --ctstate INVALID     -j DROP
 *	-m conntrack --ctstate ESTABLISHED -j ACCEPT
 *	-m conntrack --ctstate RELATED     -j ACCEPT
 *	-m conntrack --ctstate NEW   [-s S] -j ACCEPT
 *	policy DROP
 * and the state a packet had is read from which rule counted it. The expectations follow the
 * kernel's nf_conntrack_proto_tcp.c tables (tests/e2e/ct_*.sh compares with the kernel itself).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
/* glibc's netinet/in.h (bpf_test.h, via ct_harness.h) before the kernel's linux/in.h */
#include "ct_harness.h"
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/xt_state.h>

#include "codegen/registry.h"
#include "check_main.h"

enum { S_INVALID, S_EST, S_REL, S_NEW, S_POLICY, S_N };
static const char *const names[] = {"INVALID", "ESTABLISHED", "RELATED", "NEW", "policy"};

#define C "10.0.0.1"
#define S "10.0.0.9"

static void chain(struct ct_env *v, unsigned int hook, int k, const char *new_src)
{
	static const uint16_t st[] = {
		XT_CONNTRACK_STATE_INVALID, XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED),
		XT_CONNTRACK_STATE_BIT(IP_CT_RELATED), XT_CONNTRACK_STATE_BIT(IP_CT_NEW)};

	bt_base(&v->t, hook);
	v->first[k] = v->t.m.n_entries;
	for (int s = 0; s < S_POLICY; s++) {
		uint32_t i = bt_rule(&v->t, s == S_INVALID ? BF_TGT_DROP : BF_TGT_ACCEPT, 0);
		struct bf_match *m = &v->m[i];

		v->info[k][s].match_flags = XT_CONNTRACK_STATE;
		v->info[k][s].state_mask = st[s];
		*m = (struct bf_match){.ext = &bf_match_conntrack3,
				       .data = &v->info[k][s],
				       .data_len = sizeof(v->info[k][s])};
		v->t.e[i].n_matches = 1;
		v->t.e[i].matches = m;
		if (s == S_NEW && new_src)
			bt_src(&v->t, i, new_src);
	}
	bt_policy(&v->t, hook, BF_TGT_DROP);
}

static struct ct_env *env_new(const char *new_src)
{
	struct ct_env *v = ct_env_new(NFPROTO_IPV4);

	chain(v, IN, 0, new_src);
	chain(v, OUT, 1, NULL);
	ct_env_load(v, NULL, false);
	return v;
}

/* Ethernet + IPv4 (proto) + l4 bytes. */
static void frame(struct ct_env *v, uint8_t proto, const char *src, const char *dst, const void *l4,
		  uint32_t l4len)
{
	uint8_t *ip = v->f + 14;
	uint16_t c;

	memset(v->f, 0, sizeof(v->f));
	v->f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + l4len) >> 8);
	ip[3] = (uint8_t)(20 + l4len);
	ip[8] = 64;
	ip[9] = proto;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	c = ct_csum16(ip, 20, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	memcpy(ip + 20, l4, l4len);
	v->len = 14 + 20 + l4len;
}

/* A TCP segment; `dir_in`: client -> server (INPUT), else server -> client (OUTPUT). */
static void tcp(struct ct_env *v, bool dir_in, uint8_t flags, uint32_t seq, uint32_t ack,
		uint16_t win, uint16_t payload, uint8_t wscale)
{
	uint8_t l4[160] = {0};
	uint32_t hl = ct_tcp_hdr(l4, dir_in, flags, seq, ack, win, wscale);

	frame(v, IPPROTO_TCP, dir_in ? C : S, dir_in ? S : C, l4, hl + payload);
}

#define EXPECT(v, in, st)                                                                      \
	do {                                                                                   \
		int _s = ct_run(v, in, S_N, 1u << S_INVALID | 1u << S_POLICY);                 \
		ck_assert_msg(_s == (st), "line %d: got %s, expected %s", __LINE__, names[_s], \
			      names[st]);                                                      \
	} while (0)

START_TEST(tcp_handshake_data_close)
{
	struct ct_env *v = env_new(NULL);
	uint32_t cs = 1000, ss = 5000;

	tcp(v, true, TH_SYN, cs, 0, 64240, 0, 7);
	EXPECT(v, true, S_NEW);
	tcp(v, true, TH_SYN, cs, 0, 64240, 0, 7); /* retransmitted SYN: still NEW */
	EXPECT(v, true, S_NEW);
	tcp(v, false, TH_SYN | TH_ACK, ss, cs + 1, 65160, 0, 7);
	EXPECT(v, false, S_EST);
	tcp(v, true, TH_ACK, cs + 1, ss + 1, 502, 0, 0);
	EXPECT(v, true, S_EST);
	tcp(v, true, TH_ACK | TH_PSH, cs + 1, ss + 1, 502, 100, 0);
	EXPECT(v, true, S_EST);
	tcp(v, false, TH_ACK | TH_PSH, ss + 1, cs + 101, 509, 50, 0);
	EXPECT(v, false, S_EST);
	/* far beyond what the server's window allows: SEQ over the upper bound */
	tcp(v, true, TH_ACK, cs + 101 + 10000000, ss + 51, 502, 10, 0);
	EXPECT(v, true, S_INVALID);
	/* acknowledging data the server never sent: ACK over the upper bound */
	tcp(v, true, TH_ACK, cs + 101, ss + 51 + 100000, 502, 0, 0);
	EXPECT(v, true, S_INVALID);
	/* an invalid flag combination */
	tcp(v, true, TH_SYN | TH_FIN, cs + 101, 0, 502, 0, 0);
	EXPECT(v, true, S_INVALID);
	/* the connection still works */
	tcp(v, true, TH_ACK, cs + 101, ss + 51, 502, 0, 0);
	EXPECT(v, true, S_EST);
	/* close */
	tcp(v, true, TH_FIN | TH_ACK, cs + 101, ss + 51, 502, 0, 0);
	EXPECT(v, true, S_EST);
	tcp(v, false, TH_FIN | TH_ACK, ss + 51, cs + 102, 509, 0, 0);
	EXPECT(v, false, S_EST);
	tcp(v, true, TH_ACK, cs + 102, ss + 52, 502, 0, 0);
	EXPECT(v, true, S_EST);
	/* TIME_WAIT: a new SYN on the same ports reopens (CLOSE_INIT was seen): NEW */
	tcp(v, true, TH_SYN, cs + 100000, 0, 64240, 0, 7);
	EXPECT(v, true, S_NEW);
	ct_env_free(v);
}
END_TEST

START_TEST(tcp_rst)
{
	struct ct_env *v = env_new(NULL);

	tcp(v, true, TH_SYN, 1, 0, 1000, 0, 0);
	EXPECT(v, true, S_NEW);
	tcp(v, false, TH_SYN | TH_ACK, 7, 2, 1000, 0, 0);
	EXPECT(v, false, S_EST);
	tcp(v, true, TH_ACK, 2, 8, 1000, 0, 0);
	EXPECT(v, true, S_EST);
	tcp(v, false, TH_RST, 8, 0, 0, 0, 0);
	EXPECT(v, false, S_EST);
	/* CLOSE: a data segment afterwards is still in the table (10 s), but ACK in CLOSE
	 * stays CLOSE: ESTABLISHED ctinfo (seen reply) */
	tcp(v, true, TH_ACK, 2, 8, 1000, 0, 0);
	EXPECT(v, true, S_EST);
	ct_env_free(v);
}
END_TEST

START_TEST(tcp_dropped_syn_leaves_nothing)
{
	/* NEW is only accepted from 10.0.0.2: the client's SYN meets the policy DROP */
	struct ct_env *v = env_new("10.0.0.2");

	tcp(v, true, TH_SYN, 1, 0, 1000, 0, 0);
	EXPECT(v, true, S_POLICY);
	/* no connection: a SYN/ACK from the server cannot open one (sIV) */
	tcp(v, false, TH_SYN | TH_ACK, 7, 2, 1000, 0, 0);
	EXPECT(v, false, S_INVALID);
	/* a bare ACK picks a connection up in the middle: NEW */
	tcp(v, false, TH_ACK, 8, 2, 1000, 0, 0);
	EXPECT(v, false, S_NEW);
	tcp(v, true, TH_ACK, 2, 8, 1000, 0, 0);
	EXPECT(v, true, S_EST);
	ct_env_free(v);
}
END_TEST

static void udp(struct ct_env *v, bool dir_in)
{
	uint8_t l4[28] = {0};

	l4[0] = dir_in ? 0x13 : 0x00; /* 5000 <-> 53 */
	l4[1] = dir_in ? 0x88 : 53;
	l4[2] = dir_in ? 0x00 : 0x13;
	l4[3] = dir_in ? 53 : 0x88;
	l4[5] = sizeof(l4);
	frame(v, IPPROTO_UDP, dir_in ? C : S, dir_in ? S : C, l4, sizeof(l4));
}

START_TEST(udp_both_directions)
{
	struct ct_env *v = env_new(NULL);

	udp(v, true);
	EXPECT(v, true, S_NEW);
	udp(v, true);
	EXPECT(v, true, S_NEW); /* no reply yet */
	udp(v, false);
	EXPECT(v, false, S_EST);
	udp(v, true);
	EXPECT(v, true, S_EST);
	/* a truncated UDP length field: INVALID */
	udp(v, true);
	v->f[14 + 20 + 5] = 200;
	EXPECT(v, true, S_INVALID);
	ct_env_free(v);
}
END_TEST

static void icmp(struct ct_env *v, bool dir_in, uint8_t type, uint8_t code, const void *quote,
		 uint32_t qlen)
{
	uint8_t l4[128] = {0};
	uint16_t c;

	l4[0] = type;
	l4[1] = code;
	l4[4] = 0x12; /* id */
	l4[5] = 0x34;
	l4[7] = 1; /* sequence */
	if (qlen)  /* quote may be NULL for no quote */
		memcpy(l4 + 8, quote, qlen);
	c = ct_csum16(l4, 8 + qlen, 0);
	l4[2] = (uint8_t)(c >> 8);
	l4[3] = (uint8_t)c;
	frame(v, IPPROTO_ICMP, dir_in ? C : S, dir_in ? S : C, l4, 8 + qlen);
}

START_TEST(icmp_echo_and_errors)
{
	struct ct_env *v = env_new(NULL);
	uint8_t q[28];

	/* an echo reply without a request: INVALID */
	icmp(v, false, 0, 0, NULL, 0);
	EXPECT(v, false, S_INVALID);
	icmp(v, true, 8, 0, NULL, 0);
	EXPECT(v, true, S_NEW);
	icmp(v, false, 0, 0, NULL, 0);
	EXPECT(v, false, S_EST);

	/* the client's UDP flow, then a port unreachable from the server quoting it */
	udp(v, true);
	EXPECT(v, true, S_NEW);
	memcpy(q, v->f + 14, sizeof(q));
	icmp(v, false, 3, 3, q, sizeof(q));
	EXPECT(v, false, S_REL);
	/* quoting a flow nobody opened: INVALID */
	q[20] ^= 0xff;
	icmp(v, false, 3, 3, q, sizeof(q));
	EXPECT(v, false, S_INVALID);
	ct_env_free(v);
}
END_TEST

START_TEST(state_match_and_replace)
{
	struct ct_env *v = env_new(NULL);
	struct bf_gen *g2 = NULL;

	tcp(v, true, TH_SYN, 1, 0, 1000, 0, 0);
	EXPECT(v, true, S_NEW);
	tcp(v, false, TH_SYN | TH_ACK, 7, 2, 1000, 0, 0);
	EXPECT(v, false, S_EST);
	/* a new generation of the same table: the connection survives the switch */
	ck_assert_int_eq(bf_gen_load(v->rt, &v->t.m, NULL, &g2), 0);
	ck_assert_int_eq(bf_gen_activate(v->rt, g2), 0);
	bf_gen_free(v->g);
	v->g = g2;
	tcp(v, true, TH_ACK, 2, 8, 1000, 0, 0);
	EXPECT(v, true, S_EST);
	ct_env_free(v);
}
END_TEST

/* Swap the active generation for one of v's model with no conntrack rule: every rule of both
 * chains matches anything, and INPUT's first one (INVALID -j DROP before) accepts. */
static void activate_without_ct(struct ct_env *v)
{
	struct bf_gen *g = NULL;
	uint32_t n[2 * S_POLICY];
	enum bf_target_kind k0 = v->t.e[v->first[0]].target.kind;

	for (int k = 0; k < 2; k++)
		for (int s = 0; s < S_POLICY; s++) {
			n[k * S_POLICY + s] = v->t.e[v->first[k] + s].n_matches;
			v->t.e[v->first[k] + s].n_matches = 0;
		}
	v->t.e[v->first[0]].target.kind = BF_TGT_ACCEPT;
	ck_assert_int_eq(bf_gen_load(v->rt, &v->t.m, NULL, &g), 0);
	for (int k = 0; k < 2; k++)
		for (int s = 0; s < S_POLICY; s++)
			v->t.e[v->first[k] + s].n_matches = n[k * S_POLICY + s];
	v->t.e[v->first[0]].target.kind = k0;
	ck_assert_int_eq(bf_gen_activate(v->rt, g), 0);
	bf_gen_free(v->g);
	v->g = g;
}

static void activate_again(struct ct_env *v)
{
	struct bf_gen *g = NULL;

	ck_assert_int_eq(bf_gen_load(v->rt, &v->t.m, NULL, &g), 0);
	ck_assert_int_eq(bf_gen_activate(v->rt, g), 0);
	bf_gen_free(v->g);
	v->g = g;
}

/*
 * The kernel tracks a family only while a rule needs it (nf_ct_netns_get): a SYN accepted by a
 * table without conntrack rules opens nothing, so once such rules are back, the server's SYN/ACK
 * starts no connection (tcp_new: INVALID). The same SYN/ACK after a tracked SYN is ESTABLISHED.
 */
START_TEST(tracking_follows_rules)
{
	struct ct_env *v = env_new(NULL);

	activate_without_ct(v);
	tcp(v, true, TH_SYN, 1, 0, 1000, 0, 0);
	ck_assert_int_eq(ct_run(v, true, S_N, 1u << S_POLICY), S_INVALID); /* rule 0 accepts */
	activate_again(v);
	tcp(v, false, TH_SYN | TH_ACK, 7, 2, 1000, 0, 0);
	EXPECT(v, false, S_INVALID);
	/* tracked again: a new handshake */
	tcp(v, true, TH_SYN, 100, 0, 1000, 0, 0);
	EXPECT(v, true, S_NEW);
	tcp(v, false, TH_SYN | TH_ACK, 700, 101, 1000, 0, 0);
	EXPECT(v, false, S_EST);
	tcp(v, true, TH_ACK, 101, 701, 1000, 0, 0);
	EXPECT(v, true, S_EST);
	/* off again: the connection goes on unseen, far past the windows the tracker knew */
	activate_without_ct(v);
	tcp(v, true, TH_ACK, 5000101, 701, 1000, 0, 0);
	ck_assert_int_eq(ct_run(v, true, S_N, 1u << S_POLICY), S_INVALID);
	/* on again: the windows are learnt from the next packets (nf_ct_tcp_fixup), so the
	 * connection is still ESTABLISHED, where the old windows would make it INVALID */
	activate_again(v);
	tcp(v, false, TH_ACK, 900701, 5000101, 1000, 0, 0);
	EXPECT(v, false, S_EST);
	tcp(v, true, TH_ACK, 5000101, 900701, 1000, 0, 0);
	EXPECT(v, true, S_EST);
	ct_env_free(v);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ct");
	TCase *tc = tcase_create("ct");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, tcp_handshake_data_close);
	tcase_add_test(tc, tcp_rst);
	tcase_add_test(tc, tcp_dropped_syn_leaves_nothing);
	tcase_add_test(tc, udp_both_directions);
	tcase_add_test(tc, icmp_echo_and_errors);
	tcase_add_test(tc, state_match_and_replace);
	tcase_add_test(tc, tracking_follows_rules);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return bf_check_run(suite());
}
