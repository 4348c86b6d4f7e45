// SPDX-License-Identifier: GPL-2.0-only
/*
 * IPv6 connection tracking (codegen/ct.c, bf_ct_emit_track6) through BPF_PROG_TEST_RUN:
 * sequences of packets of one host (the server 2001:db8::9) run through an INPUT dispatcher
 * (packets from the client) and an OUTPUT dispatcher (the server's packets) of an ip6tables
 * filter table whose chains are
 *	[a rule under test, ACCEPT]
 *	-m conntrack --ctstate INVALID     -j DROP
 *	-m conntrack --ctstate ESTABLISHED -j ACCEPT
 *	-m conntrack --ctstate RELATED     -j ACCEPT
 *	-m conntrack --ctstate NEW         -j ACCEPT
 *	-m conntrack --ctstate UNTRACKED   -j ACCEPT
 *	policy DROP
 * and the state a packet had is read from which rule counted it. The expectations follow
 * nf_conntrack_proto_icmpv6.c and the kernel's TCP/UDP trackers (tests/e2e/ct6_traffic.sh
 * compares real traffic with the kernel itself).
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

enum { S_PRE, S_INVALID, S_EST, S_REL, S_NEW, S_UNTR, S_POLICY, S_N };
static const char *const names[] = {"rule-under-test", "INVALID", "ESTABLISHED", "RELATED", "NEW",
				    "UNTRACKED",       "policy"};

#define C "2001:db8::1"
#define S "2001:db8::9"

/* A rule under test of another match than conntrack (each test runs in a process of its own). */
static struct bf_match pre_match;

static void chain(struct ct_env *v, unsigned int hook, int k,
		  const struct xt_conntrack_mtinfo3 *pre)
{
	static const uint16_t st[] = {
		0,
		XT_CONNTRACK_STATE_INVALID,
		XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED),
		XT_CONNTRACK_STATE_BIT(IP_CT_RELATED),
		XT_CONNTRACK_STATE_BIT(IP_CT_NEW),
		XT_CONNTRACK_STATE_UNTRACKED,
	};

	bt_base(&v->t, hook);
	v->first[k] = v->t.m.n_entries;
	for (int s = 0; s < S_POLICY; s++) {
		uint32_t i = bt_rule(&v->t, s == S_INVALID ? BF_TGT_DROP : BF_TGT_ACCEPT, 0);
		struct bf_match *m = &v->m[i];

		if (s == S_PRE && pre) {
			v->info[k][s] = *pre;
		} else {
			/* S_PRE without a rule under test: state mask 0 never matches */
			v->info[k][s].match_flags = XT_CONNTRACK_STATE;
			v->info[k][s].state_mask = st[s];
		}
		*m = (struct bf_match){.ext = &bf_match_conntrack3,
				       .data = &v->info[k][s],
				       .data_len = sizeof(v->info[k][s])};
		if (s == S_PRE && k == 0 && pre_match.ext)
			*m = pre_match;
		v->t.e[i].n_matches = 1;
		v->t.e[i].matches = m;
	}
	bt_policy(&v->t, hook, BF_TGT_DROP);
}

static struct ct_env *env_new_opts(const struct xt_conntrack_mtinfo3 *pre, bool xdp)
{
	struct ct_env *v = ct_env_new(NFPROTO_IPV6);
	struct bf_gen_opts go = {.xdp_input = xdp};

	chain(v, IN, 0, pre);
	chain(v, OUT, 1, NULL);
	ct_env_load(v, &go, xdp);
	return v;
}

static struct ct_env *env_new(const struct xt_conntrack_mtinfo3 *pre)
{
	return env_new_opts(pre, false);
}

/* Ethernet + IPv6 (hop limit `hl`) + `ext` (extension headers, the first one's type in
 * `proto`, chained by the caller) + l4 bytes. */
static void frame_x(struct ct_env *v, uint8_t proto, const char *src, const char *dst, uint8_t hl,
		    const void *l4, uint32_t l4len)
{
	uint8_t *ip = v->f + 14;

	memset(v->f, 0, sizeof(v->f));
	v->f[12] = 0x86;
	v->f[13] = 0xdd;
	ip[0] = 0x60;
	ip[4] = (uint8_t)(l4len >> 8);
	ip[5] = (uint8_t)l4len;
	ip[6] = proto;
	ip[7] = hl;
	inet_pton(AF_INET6, src, ip + 8);
	inet_pton(AF_INET6, dst, ip + 24);
	ck_assert_uint_le(l4len, sizeof(v->f) - 54);
	memcpy(ip + 40, l4, l4len);
	v->len = 14 + 40 + l4len;
}

static void frame(struct ct_env *v, uint8_t proto, const char *src, const char *dst, const void *l4,
		  uint32_t l4len)
{
	frame_x(v, proto, src, dst, 64, l4, l4len);
}

/* A TCP segment; `dir_in`: client -> server (INPUT), else server -> client (OUTPUT). */
static void tcp(struct ct_env *v, bool dir_in, uint8_t flags, uint32_t seq, uint32_t ack,
		uint16_t win, uint16_t payload, uint8_t wscale)
{
	uint8_t l4[200] = {0};
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
	tcp(v, true, TH_SYN, cs, 0, 64240, 0, 7);
	EXPECT(v, true, S_NEW);
	tcp(v, false, TH_SYN | TH_ACK, ss, cs + 1, 65160, 0, 7);
	EXPECT(v, false, S_EST);
	tcp(v, true, TH_ACK, cs + 1, ss + 1, 502, 0, 0);
	EXPECT(v, true, S_EST);
	tcp(v, true, TH_ACK | TH_PSH, cs + 1, ss + 1, 502, 100, 0);
	EXPECT(v, true, S_EST);
	tcp(v, false, TH_ACK | TH_PSH, ss + 1, cs + 101, 509, 50, 0);
	EXPECT(v, false, S_EST);
	/* beyond the window: INVALID; a bad flag combination: INVALID */
	tcp(v, true, TH_ACK, cs + 101 + 10000000, ss + 51, 502, 10, 0);
	EXPECT(v, true, S_INVALID);
	tcp(v, true, TH_SYN | TH_FIN, cs + 101, 0, 502, 0, 0);
	EXPECT(v, true, S_INVALID);
	tcp(v, true, TH_FIN | TH_ACK, cs + 101, ss + 51, 502, 0, 0);
	EXPECT(v, true, S_EST);
	tcp(v, false, TH_FIN | TH_ACK, ss + 51, cs + 102, 509, 0, 0);
	EXPECT(v, false, S_EST);
	tcp(v, true, TH_ACK, cs + 102, ss + 52, 502, 0, 0);
	EXPECT(v, true, S_EST);
	tcp(v, true, TH_SYN, cs + 100000, 0, 64240, 0, 7);
	EXPECT(v, true, S_NEW);
	ct_env_free(v);
}
END_TEST

START_TEST(tcp_after_extension_headers)
{
	struct ct_env *v = env_new(NULL);
	uint8_t l4[80] = {0};

	/* SYN behind a hop-by-hop header (8 bytes, PadN): tracked by its TCP header */
	tcp(v, true, TH_SYN, 1, 0, 1000, 0, 0);
	l4[0] = IPPROTO_TCP;
	l4[2] = 1; /* PadN, 4 bytes of padding */
	l4[3] = 4;
	memcpy(l4 + 8, v->f + 54, 20);
	frame(v, 0, C, S, l4, 28);
	EXPECT(v, true, S_NEW);
	tcp(v, false, TH_SYN | TH_ACK, 7, 2, 1000, 0, 0);
	EXPECT(v, false, S_EST);
	/* a non-first fragment has no tuple: INVALID */
	memset(l4, 0, sizeof(l4));
	l4[0] = IPPROTO_TCP;
	l4[3] = 8 << 3; /* offset 64 */
	frame(v, 44, C, S, l4, 8 + 16);
	EXPECT(v, true, S_INVALID);
	/* an empty chain (NONE): INVALID */
	frame(v, 59, C, S, l4, 8);
	EXPECT(v, true, S_INVALID);
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
	EXPECT(v, true, S_NEW);
	udp(v, false);
	EXPECT(v, false, S_EST);
	udp(v, true);
	EXPECT(v, true, S_EST);
	udp(v, true);
	v->f[54 + 5] = 200; /* UDP length beyond the packet */
	EXPECT(v, true, S_INVALID);
	ct_env_free(v);
}
END_TEST

static void icmp6(struct ct_env *v, bool dir_in, uint8_t type, uint8_t code, const void *body,
		  uint32_t blen)
{
	uint8_t l4[400] = {0};

	l4[0] = type;
	l4[1] = code;
	l4[4] = 0x12; /* id */
	l4[5] = 0x34;
	l4[7] = 1; /* sequence */
	if (body)  /* else blen zero bytes */
		memcpy(l4 + 8, body, blen);
	frame(v, IPPROTO_ICMPV6, dir_in ? C : S, dir_in ? S : C, l4, 8 + blen);
}

START_TEST(icmp6_echo_node_info_nd)
{
	struct ct_env *v = env_new(NULL);
	static const uint8_t untracked[] = {130, 131, 132, 133, 134, 135, 136, 143};

	/* a reply without a request: INVALID */
	icmp6(v, false, 129, 0, NULL, 0);
	EXPECT(v, false, S_INVALID);
	icmp6(v, true, 128, 0, NULL, 0);
	EXPECT(v, true, S_NEW);
	icmp6(v, false, 129, 0, NULL, 0);
	EXPECT(v, false, S_EST);
	icmp6(v, true, 128, 0, NULL, 0);
	EXPECT(v, true, S_EST);
	/* node information query / reply */
	icmp6(v, false, 140, 0, NULL, 0);
	EXPECT(v, false, S_INVALID);
	icmp6(v, true, 139, 0, NULL, 0);
	EXPECT(v, true, S_NEW);
	icmp6(v, false, 140, 0, NULL, 0);
	EXPECT(v, false, S_EST);
	/* neighbour discovery and MLD are never tracked */
	for (size_t k = 0; k < sizeof(untracked); k++) {
		icmp6(v, true, untracked[k], 0, NULL, 16);
		EXPECT(v, true, S_UNTR);
		icmp6(v, false, untracked[k], 0, NULL, 16);
		EXPECT(v, false, S_UNTR);
	}
	/* informational types without an inverse, a redirect without options: INVALID */
	icmp6(v, true, 138, 0, NULL, 0);
	EXPECT(v, true, S_INVALID);
	icmp6(v, true, 200, 0, NULL, 0);
	EXPECT(v, true, S_INVALID);
	icmp6(v, true, 137, 0, NULL, 32);
	EXPECT(v, true, S_INVALID);
	/* a truncated ICMPv6 header: INVALID */
	icmp6(v, true, 128, 0, NULL, 0);
	v->len -= 4;
	v->f[14 + 5] = 4;
	EXPECT(v, true, S_INVALID);
	ct_env_free(v);
}
END_TEST

START_TEST(icmp6_errors_related)
{
	struct ct_env *v = env_new(NULL);
	uint8_t q[120], t[200];

	/* the client's UDP flow, then a port unreachable from the server quoting it */
	udp(v, true);
	EXPECT(v, true, S_NEW);
	memcpy(q, v->f + 14, 40 + 28);
	icmp6(v, false, 1, 4, q, 40 + 28);
	EXPECT(v, false, S_REL);
	/* a packet too big towards the server quoting the server's reply: RELATED too */
	udp(v, false);
	EXPECT(v, false, S_EST);
	memcpy(q, v->f + 14, 40 + 28);
	icmp6(v, true, 2, 0, q, 40 + 28);
	EXPECT(v, true, S_REL);
	/* the error must go to the quoted packet's source: the same quote sent the other way */
	icmp6(v, false, 2, 0, q, 40 + 28);
	EXPECT(v, false, S_INVALID);
	/* quoting a flow nobody opened: INVALID */
	memcpy(q, v->f + 14, 40 + 28);
	q[40] ^= 0xff;
	icmp6(v, true, 1, 4, q, 40 + 28);
	EXPECT(v, true, S_INVALID);
	/* the quoted packet has a destination options header before UDP: skipped */
	udp(v, true);
	memcpy(q, v->f + 14, 40);
	q[6] = 60;
	memset(q + 40, 0, 8);
	q[40] = IPPROTO_UDP;
	q[42] = 1; /* PadN */
	q[43] = 4;
	memcpy(q + 48, v->f + 54, 28);
	icmp6(v, false, 3, 0, q, 48 + 28);
	EXPECT(v, false, S_REL);
	/* a quoted echo request (time exceeded for a ping): RELATED */
	icmp6(v, true, 128, 0, NULL, 0);
	EXPECT(v, true, S_NEW);
	memcpy(t, v->f + 14, 48);
	icmp6(v, false, 3, 0, t, 48);
	EXPECT(v, false, S_REL);
	/* an error quoting a truncated header: INVALID */
	icmp6(v, false, 1, 4, q, 30);
	EXPECT(v, false, S_INVALID);
	ct_env_free(v);
}
END_TEST

START_TEST(icmp6_redirect_related)
{
	struct ct_env *v = env_new(NULL);
	uint8_t r[200] = {0};

	/* the server's UDP flow to the client; a router redirects it (to the server) */
	udp(v, false);
	EXPECT(v, false, S_NEW);
	/* target, destination (16 + 16), then the redirected header option: type 4, length in
	 * 8-byte units, 6 reserved bytes, the quoted packet */
	inet_pton(AF_INET6, "fe80::2", r);
	inet_pton(AF_INET6, C, r + 16);
	r[32] = 4;
	r[33] = (uint8_t)((8 + 40 + 28) / 8 + 1);
	memcpy(r + 40, v->f + 14, 40 + 28);
	{
		uint8_t l4[300] = {0};

		l4[0] = 137;
		memcpy(l4 + 8, r, 40 + 40 + 28);
		frame_x(v, IPPROTO_ICMPV6, "fe80::1", S, 255, l4, 8 + 40 + 40 + 28);
		EXPECT(v, true, S_REL);
		/* a hop limit other than 255: INVALID */
		frame_x(v, IPPROTO_ICMPV6, "fe80::1", S, 64, l4, 8 + 40 + 40 + 28);
		EXPECT(v, true, S_INVALID);
		/* not from a link-local address: INVALID */
		frame_x(v, IPPROTO_ICMPV6, C, S, 255, l4, 8 + 40 + 40 + 28);
		EXPECT(v, true, S_INVALID);
	}
	ct_env_free(v);
}
END_TEST

START_TEST(conntrack_options_ipv6)
{
	struct xt_conntrack_mtinfo3 pre = {0};
	struct ct_env *v;

	/* -m conntrack --ctstate ESTABLISHED --ctorigsrc 2001:db8::/64 --ctrepldst ! 2001:db8::2
	 *  --ctproto udp --ctdir ORIGINAL --ctorigdstport 53 --ctstatus SEEN_REPLY */
	pre.match_flags = XT_CONNTRACK_STATE | XT_CONNTRACK_ORIGSRC | XT_CONNTRACK_REPLDST |
			  XT_CONNTRACK_PROTO | XT_CONNTRACK_DIRECTION | XT_CONNTRACK_ORIGDST_PORT |
			  XT_CONNTRACK_STATUS;
	pre.invert_flags = XT_CONNTRACK_REPLDST;
	pre.state_mask = XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED);
	inet_pton(AF_INET6, "2001:db8::", &pre.origsrc_addr);
	memset(&pre.origsrc_mask, 0xff, 8);
	inet_pton(AF_INET6, "2001:db8::2", &pre.repldst_addr);
	memset(&pre.repldst_mask, 0xff, 16);
	pre.l4proto = IPPROTO_UDP;
	pre.origdst_port = 53;
	pre.origdst_port_high = 53;
	pre.status_mask = IPS_SEEN_REPLY;
	v = env_new(&pre);

	udp(v, true);
	EXPECT(v, true, S_NEW);
	udp(v, false);
	EXPECT(v, false, S_EST);
	udp(v, true); /* ESTABLISHED, original direction, all the tests hold */
	EXPECT(v, true, S_PRE);
	/* the same from another client (2001:db8:1::1): --ctorigsrc fails */
	udp(v, true);
	inet_pton(AF_INET6, "2001:db8:1::1", v->f + 22);
	EXPECT(v, true, S_NEW);
	udp(v, false);
	inet_pton(AF_INET6, "2001:db8:1::1", v->f + 38);
	EXPECT(v, false, S_EST);
	udp(v, true);
	inet_pton(AF_INET6, "2001:db8:1::1", v->f + 22);
	EXPECT(v, true, S_EST);
	ct_env_free(v);
}
END_TEST

/* Other protocols: the generic tracker; ICMP (v4) inside IPv6: refused by the kernel's icmp
 * tracker (INVALID). */
START_TEST(generic_and_icmp_over_ipv6)
{
	struct ct_env *v = env_new(NULL);
	uint8_t l4[16] = {8, 0, 0, 0, 0x12, 0x34, 0, 1};

	frame(v, IPPROTO_ICMP, C, S, l4, 8);
	EXPECT(v, true, S_INVALID);
	frame(v, IPPROTO_GRE, C, S, l4, 16);
	EXPECT(v, true, S_NEW);
	frame(v, IPPROTO_GRE, C, S, l4, 16);
	EXPECT(v, true, S_NEW);
	frame(v, IPPROTO_GRE, S, C, l4, 16);
	EXPECT(v, false, S_EST);
	frame(v, IPPROTO_GRE, C, S, l4, 16);
	EXPECT(v, true, S_EST);
	ct_env_free(v);
}
END_TEST

/* -m state revision 0 (iptables uses it when conntrack revision 3 is missing): UNTRACKED has its
 * own bit there (XT_STATE_UNTRACKED), INVALID too. */
START_TEST(state_match_untracked)
{
	static const struct xt_state_info si = {.statemask = XT_STATE_UNTRACKED | XT_STATE_INVALID};
	struct ct_env *v;

	pre_match = (struct bf_match){.ext = &bf_match_state, .data = &si, .data_len = sizeof(si)};
	v = env_new(NULL);
	icmp6(v, true, 135, 0, NULL, 16); /* neighbour solicitation: UNTRACKED */
	EXPECT(v, true, S_PRE);
	icmp6(v, true, 129, 0, NULL, 0); /* a reply without request: INVALID */
	EXPECT(v, true, S_PRE);
	icmp6(v, true, 128, 0, NULL, 0);
	EXPECT(v, true, S_NEW);
	ct_env_free(v);
}
END_TEST

/* INPUT tracked at XDP (--xdp), OUTPUT at TC egress: one table for both. */
START_TEST(xdp_input)
{
	struct ct_env *v = env_new_opts(NULL, true);
	uint8_t q[120];

	icmp6(v, true, 128, 0, NULL, 0);
	EXPECT(v, true, S_NEW);
	icmp6(v, false, 129, 0, NULL, 0);
	EXPECT(v, false, S_EST);
	icmp6(v, true, 128, 0, NULL, 0);
	EXPECT(v, true, S_EST);
	icmp6(v, true, 135, 0, NULL, 16);
	EXPECT(v, true, S_UNTR);
	udp(v, false);
	EXPECT(v, false, S_NEW);
	memcpy(q, v->f + 14, 40 + 28);
	icmp6(v, true, 1, 4, q, 40 + 28);
	EXPECT(v, true, S_REL);
	tcp(v, true, TH_SYN, 1, 0, 1000, 0, 0);
	EXPECT(v, true, S_NEW);
	tcp(v, false, TH_SYN | TH_ACK, 7, 2, 1000, 0, 0);
	EXPECT(v, false, S_EST);
	tcp(v, true, TH_ACK, 2, 8, 1000, 0, 0);
	EXPECT(v, true, S_EST);
	ct_env_free(v);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ct6");
	TCase *tc = tcase_create("ct6");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, tcp_handshake_data_close);
	tcase_add_test(tc, tcp_after_extension_headers);
	tcase_add_test(tc, udp_both_directions);
	tcase_add_test(tc, icmp6_echo_node_info_nd);
	tcase_add_test(tc, icmp6_errors_related);
	tcase_add_test(tc, icmp6_redirect_related);
	tcase_add_test(tc, conntrack_options_ipv6);
	tcase_add_test(tc, xdp_input);
	tcase_add_test(tc, generic_and_icmp_over_ipv6);
	tcase_add_test(tc, state_match_untracked);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return bf_check_run(suite());
}
