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
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
/* glibc's netinet/in.h (bpf_test.h) before the kernel's linux/in.h */
#include "bpf_test.h"
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_state.h>
#include <linux/pkt_cls.h>

#include "codegen/abi.h"
#include "codegen/codegen.h"
#include "codegen/registry.h"

#define IN NF_INET_LOCAL_IN
#define OUT NF_INET_LOCAL_OUT

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

enum { S_INVALID, S_EST, S_REL, S_NEW, S_POLICY, S_N };
static const char *const names[] = {"INVALID", "ESTABLISHED", "RELATED", "NEW", "policy"};

struct env {
	struct bt_log log;
	struct bf_runtime *rt;
	struct bf_gen *g;
	struct bt_model t;
	struct bf_match m[64];
	struct xt_conntrack_mtinfo3 info[S_POLICY];
	uint32_t first[2]; /* first entry of INPUT, OUTPUT */
	int in, out;
	int ifindex; /* a veth in the test's namespace: packets "received" on lo are not tracked
			again */
	uint8_t f[256];
	uint32_t len;
};

static void chain(struct env *v, unsigned int hook, int k, const char *new_src)
{
	static const uint16_t st[] = {
		XT_CONNTRACK_STATE_INVALID, XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED),
		XT_CONNTRACK_STATE_BIT(IP_CT_RELATED), XT_CONNTRACK_STATE_BIT(IP_CT_NEW)};

	bt_base(&v->t, hook);
	v->first[k] = v->t.m.n_entries;
	for (int s = 0; s < S_POLICY; s++) {
		uint32_t i = bt_rule(&v->t, s == S_INVALID ? BF_TGT_DROP : BF_TGT_ACCEPT, 0);
		struct bf_match *m = &v->m[i];

		v->info[s].match_flags = XT_CONNTRACK_STATE;
		v->info[s].state_mask = st[s];
		*m = (struct bf_match){.ext = &bf_match_conntrack3,
				       .data = &v->info[s],
				       .data_len = sizeof(v->info[s])};
		v->t.e[i].n_matches = 1;
		v->t.e[i].matches = m;
		if (s == S_NEW && new_src)
			bt_src(&v->t, i, new_src);
	}
	bt_policy(&v->t, hook, BF_TGT_DROP);
}

static struct env *env_new(const char *new_src)
{
	struct env *v = calloc(1, sizeof(*v));
	struct bf_dispatch_cfg ci = {
		.where = BF_DISPATCH_TC_INGRESS, .l2_len = 14, .force_hook = IN};
	struct bf_dispatch_cfg co = {
		.where = BF_DISPATCH_TC_EGRESS, .l2_len = 14, .force_hook = OUT};

	ck_assert_ptr_nonnull(v);
	/* Each test runs in its own process (CK_FORK): a namespace of its own with a veth
	 * interface to receive on. */
	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
	ck_assert_int_eq(
		system("ip link add bfct0 type veth peer name bfct1 && ip link set bfct0 up"), 0);
	v->ifindex = (int)if_nametoindex("bfct0");
	ck_assert_int_gt(v->ifindex, 1);
	bt_log_init(&v->log);
	ck_assert_int_eq(bf_runtime_new(&v->log.log, &v->rt), 0);
	bt_init(&v->t);
	chain(v, IN, 0, new_src);
	chain(v, OUT, 1, NULL);
	bt_end(&v->t);
	ck_assert_int_eq(bf_gen_load(v->rt, &v->t.m, NULL, &v->g), 0);
	ck_assert_int_eq(bf_gen_activate(v->rt, v->g), 0);
	ck_assert_int_eq(bf_dispatch_load(v->rt, &ci, &v->in), 0);
	ck_assert_int_eq(bf_dispatch_load(v->rt, &co, &v->out), 0);
	return v;
}

static void env_free(struct env *v)
{
	close(v->in);
	close(v->out);
	bf_gen_free(v->g);
	bf_runtime_free(v->rt);
	free(v);
}

static uint16_t csum16(const uint8_t *p, unsigned int len, uint32_t sum)
{
	for (unsigned int i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ethernet + IPv4 (proto) + l4 bytes. */
static void frame(struct env *v, uint8_t proto, const char *src, const char *dst, const void *l4,
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
	c = csum16(ip, 20, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	memcpy(ip + 20, l4, l4len);
	v->len = 14 + 20 + l4len;
}

static void put32(uint8_t *p, uint32_t x)
{
	p[0] = (uint8_t)(x >> 24);
	p[1] = (uint8_t)(x >> 16);
	p[2] = (uint8_t)(x >> 8);
	p[3] = (uint8_t)x;
}

#define C "10.0.0.1"
#define S "10.0.0.9"

/* A TCP segment; `dir_in`: client -> server (INPUT), else server -> client (OUTPUT). */
static void tcp(struct env *v, bool dir_in, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t win,
		uint16_t payload, uint8_t wscale)
{
	uint8_t l4[160] = {0};
	uint32_t hl = wscale ? 24 : 20;

	l4[0] = dir_in ? 0x9c : 0x00; /* client port 40000, server port 80 */
	l4[1] = dir_in ? 0x40 : 80;
	l4[2] = dir_in ? 0x00 : 0x9c;
	l4[3] = dir_in ? 80 : 0x40;
	put32(l4 + 4, seq);
	put32(l4 + 8, ack);
	l4[12] = (uint8_t)((hl / 4) << 4);
	l4[13] = flags;
	l4[14] = (uint8_t)(win >> 8);
	l4[15] = (uint8_t)win;
	if (wscale) {
		l4[20] = 1; /* NOP */
		l4[21] = 3; /* window scale */
		l4[22] = 3;
		l4[23] = wscale;
	}
	frame(v, IPPROTO_TCP, dir_in ? C : S, dir_in ? S : C, l4, hl + payload);
}

/* Which rule of the packet's chain counted it. */
static int run_state(struct env *v, bool dir_in)
{
	struct xt_counters before[BT_MAX_ENTRIES], after[BT_MAX_ENTRIES];
	uint32_t first = v->first[dir_in ? 0 : 1];
	int r, found = -1;

	ck_assert_int_eq(bf_gen_read_counters(v->g, v->t.m.n_entries, before), 0);
	{
		struct __sk_buff skb = {.ifindex = (uint32_t)v->ifindex};
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = v->f, .data_size_in = v->len,
			    .ctx_in = &skb, .ctx_size_in = sizeof(skb));

		r = bpf_prog_test_run_opts(dir_in ? v->in : v->out, &o);
		ck_assert_int_eq(r, 0);
		r = (int)o.retval;
	}
	ck_assert_int_ge(r, 0);
	ck_assert_int_eq(bf_gen_read_counters(v->g, v->t.m.n_entries, after), 0);
	for (int s = 0; s < S_N; s++) {
		if (after[first + s].pcnt != before[first + s].pcnt) {
			ck_assert_msg(found < 0, "two rules counted one packet");
			found = s;
		}
	}
	ck_assert_msg(found >= 0, "no rule counted the packet");
	ck_assert_int_eq(r, found == S_INVALID || found == S_POLICY ? TC_ACT_SHOT : TC_ACT_OK);
	return found;
}

#define EXPECT(v, in, st)                                                                      \
	do {                                                                                   \
		int _s = run_state(v, in);                                                     \
		ck_assert_msg(_s == (st), "line %d: got %s, expected %s", __LINE__, names[_s], \
			      names[st]);                                                      \
	} while (0)

START_TEST(tcp_handshake_data_close)
{
	struct env *v = env_new(NULL);
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
	env_free(v);
}
END_TEST

START_TEST(tcp_rst)
{
	struct env *v = env_new(NULL);

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
	env_free(v);
}
END_TEST

START_TEST(tcp_dropped_syn_leaves_nothing)
{
	/* NEW is only accepted from 10.0.0.2: the client's SYN meets the policy DROP */
	struct env *v = env_new("10.0.0.2");

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
	env_free(v);
}
END_TEST

static void udp(struct env *v, bool dir_in)
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
	struct env *v = env_new(NULL);

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
	env_free(v);
}
END_TEST

static void icmp(struct env *v, bool dir_in, uint8_t type, uint8_t code, const void *quote,
		 uint32_t qlen)
{
	uint8_t l4[128] = {0};
	uint16_t c;

	l4[0] = type;
	l4[1] = code;
	l4[4] = 0x12; /* id */
	l4[5] = 0x34;
	l4[7] = 1; /* sequence */
	if (qlen) /* quote may be NULL for no quote */
		memcpy(l4 + 8, quote, qlen);
	c = csum16(l4, 8 + qlen, 0);
	l4[2] = (uint8_t)(c >> 8);
	l4[3] = (uint8_t)c;
	frame(v, IPPROTO_ICMP, dir_in ? C : S, dir_in ? S : C, l4, 8 + qlen);
}

START_TEST(icmp_echo_and_errors)
{
	struct env *v = env_new(NULL);
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
	env_free(v);
}
END_TEST

START_TEST(state_match_and_replace)
{
	struct env *v = env_new(NULL);
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
	env_free(v);
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
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
