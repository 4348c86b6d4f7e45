// SPDX-License-Identifier: GPL-2.0-only
/*
 * The first-match classifier (codegen/classify.c), run with BPF_PROG_TEST_RUN (needs root).
 * Two oracles: verdicts and counters worked out by hand for small tables, and, for random tables,
 * the linear code generator (bf_classify_set_enabled(false)) on the same packets: every verdict
 * and every entry's counter must be the same.
 */
#include "bpf_test.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/if_ether.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/pkt_cls.h>

#include <bpfilter/cleanup.h>

#include "codegen/classify.h"
#include "codegen/codegen.h"
#include "codegen/registry.h"

#define IN NF_INET_LOCAL_IN

struct env {
	struct bt_log log;
	struct bf_runtime *rt;
	struct bt_model t;
	/* match storage for the model: one match (plus data) per entry at most */
	struct bf_match mt[BT_MAX_ENTRIES];
	union {
		struct xt_tcp tcp;
		struct xt_udp udp;
		struct ipt_icmp icmp;
	} md[BT_MAX_ENTRIES];
	int in;
};

static struct env *env_new(void)
{
	struct env *v = calloc(1, sizeof(*v));

	ck_assert_ptr_nonnull(v);
	bt_log_init(&v->log);
	ck_assert_int_eq(bf_runtime_new(&v->log.log, &v->rt), 0);
	bt_init(&v->t);
	v->in = -1;
	return v;
}

static void env_free(struct env *v)
{
	if (v->in >= 0)
		close(v->in);
	bf_runtime_free(v->rt);
	free(v);
	bf_classify_set_enabled(true);
	bf_classify_set_direct_max(~0u);
	bf_classify_cache_clear(); /* the next table starts without cached tries */
}

static int disp_in(struct env *v)
{
	struct bf_dispatch_cfg cfg = {
		.where = BF_DISPATCH_TC_INGRESS, .l2_len = 14, .force_hook = IN};

	if (v->in < 0)
		ck_assert_int_eq(bf_dispatch_load(v->rt, &cfg, &v->in), 0);
	return v->in;
}

/* Load the model with or without the classifier; returns how many entries it classified. */
static struct bf_gen *load(struct env *v, bool classify, uint32_t *n_cls)
{
	struct bf_gen *g = NULL;
	const char *p;
	uint32_t n = 0, regions = 0;

	bf_classify_set_enabled(classify);
	v->log.all[0] = 0;
	ck_assert_int_eq(bf_gen_load(v->rt, &v->t.m, NULL, &g), 0);
	ck_assert_int_eq(bf_gen_activate(v->rt, g), 0);
	p = strstr(v->log.all, "entries in ");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p, "entries in %u regions, %u of them", &regions, &n), 2);
	if (n_cls)
		*n_cls = n;
	return g;
}

static void set_addr(struct in_addr *a, struct in_addr *m, const char *s, unsigned int plen)
{
	ck_assert_int_eq(inet_pton(AF_INET, s, a), 1);
	m->s_addr = plen ? htonl(~0u << (32 - plen)) : 0;
	a->s_addr &= m->s_addr;
}

static void src(struct env *v, uint32_t i, const char *s, unsigned int plen)
{
	set_addr(&v->t.ip[i].v4.src, &v->t.ip[i].v4.smsk, s, plen);
}

static void dst(struct env *v, uint32_t i, const char *s, unsigned int plen)
{
	set_addr(&v->t.ip[i].v4.dst, &v->t.ip[i].v4.dmsk, s, plen);
}

static void udp_ports(struct env *v, uint32_t i, uint16_t dlo, uint16_t dhi, uint8_t inv)
{
	struct xt_udp *u = &v->md[i].udp;

	memset(u, 0, sizeof(*u));
	u->spts[1] = UINT16_MAX;
	u->dpts[0] = dlo;
	u->dpts[1] = dhi;
	u->invflags = inv;
	v->t.ip[i].v4.proto = IPPROTO_UDP;
	v->mt[i] = (struct bf_match){.ext = &bf_match_udp, .data = u, .data_len = sizeof(*u)};
	v->t.e[i].matches = &v->mt[i];
	v->t.e[i].n_matches = 1;
}

/* Ethernet + IPv4 + a transport header of `l4len` bytes (tcp 20, udp 8, icmp 8 when whole). */
struct pkt {
	const char *src, *dst;
	uint8_t proto;
	uint16_t sport, dport; /* icmp: type, code */
	uint8_t tcpflags;
	uint16_t fragoff;
	uint16_t l4len;
};

static uint32_t frame(uint8_t *f, const struct pkt *p)
{
	uint8_t *ip = f + ETH_HLEN, *l4 = ip + 20;
	uint16_t tot = (uint16_t)(20 + p->l4len), c;
	uint32_t s = 0;

	memset(f, 0, ETH_HLEN + 60 + 20);
	memset(f, 0x02, 12);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[6] = (uint8_t)(p->fragoff >> 8);
	ip[7] = (uint8_t)p->fragoff;
	ip[8] = 64;
	ip[9] = p->proto;
	inet_pton(AF_INET, p->src, ip + 12);
	inet_pton(AF_INET, p->dst, ip + 16);
	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	c = (uint16_t)~s;
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	if (p->proto == IPPROTO_ICMP) {
		l4[0] = (uint8_t)p->sport;
		l4[1] = (uint8_t)p->dport;
	} else {
		l4[0] = (uint8_t)(p->sport >> 8);
		l4[1] = (uint8_t)p->sport;
		l4[2] = (uint8_t)(p->dport >> 8);
		l4[3] = (uint8_t)p->dport;
		if (p->proto == IPPROTO_TCP) {
			l4[12] = 5 << 4;
			l4[13] = p->tcpflags;
		} else {
			l4[4] = 0;
			l4[5] = 8;
		}
	}
	return ETH_HLEN + tot;
}

static int send_pkt(struct env *v, const struct pkt *p)
{
	uint8_t f[128];
	uint32_t len = frame(f, p);

	return bt_run(disp_in(v), f, len);
}

static void counters(struct env *v, struct bf_gen *g, struct xt_counters *c)
{
	ck_assert_int_eq(bf_gen_read_counters(g, v->t.m.n_entries, c), 0);
}

/* Overlapping prefixes in both orders, duplicates, port lists and ranges, an exact destination
 * with a source prefix, a truncated header (hotdrop) and an earlier match that beats it. */
START_TEST(first_match_by_hand)
{
	struct env *v = env_new();
	struct xt_counters c[32], lc[32];
	uint32_t e[12], pol, n_cls = 0;
	struct bf_gen *g, *lg;
	struct pkt p = {.dst = "10.9.0.8", .proto = IPPROTO_UDP, .sport = 1000, .l4len = 8};
	struct {
		const char *src, *dst;
		uint16_t dport, l4len;
		int verdict;
		int entry; /* -1: policy, -2: hotdrop (nothing counted) */
	} cases[] = {
		{"10.1.2.3", "10.9.0.8", 99, 8, TC_ACT_SHOT, 0}, /* /16 before the /24 */
		{"10.2.3.4", "10.9.0.8", 99, 8, TC_ACT_OK, 2},	 /* /32 before its /16 */
		{"10.2.9.9", "10.9.0.8", 99, 8, TC_ACT_SHOT, 3},
		{"10.7.0.1", "10.9.0.8", 53, 8, TC_ACT_OK, 5},
		{"10.3.0.1", "10.9.0.8", 53, 8, TC_ACT_OK, 5}, /* e7 also holds, later */
		{"10.3.0.1", "10.9.0.8", 54, 8, TC_ACT_SHOT, 6},
		{"10.3.0.1", "10.9.0.8", 58, 8, TC_ACT_SHOT, 7}, /* --dport 58, -s 10.3/16 */
		{"10.4.0.1", "10.9.0.9", 99, 8, TC_ACT_SHOT, 8},
		{"10.4.0.1", "10.9.0.8", 99, 8, TC_ACT_OK, -1},
		{"10.5.0.2", "10.9.0.8", 99, 8, TC_ACT_SHOT, 10},
		{"10.7.0.1", "10.9.0.8", 53, 4, TC_ACT_SHOT, -2}, /* truncated: e5 hotdrops */
		{"10.1.0.1", "10.9.0.8", 53, 4, TC_ACT_SHOT, 0},  /* e0 comes first */
	};
	uint64_t want[32] = {0};

	bt_base(&v->t, IN);
	for (int k = 0; k < 12; k++)
		e[k] = bt_rule(&v->t, BF_TGT_DROP, 0);
	src(v, e[0], "10.1.0.0", 16);
	src(v, e[1], "10.1.2.0", 24);
	v->t.e[e[1]].target.kind = BF_TGT_ACCEPT;
	src(v, e[2], "10.2.3.4", 32);
	v->t.e[e[2]].target.kind = BF_TGT_ACCEPT;
	src(v, e[3], "10.2.0.0", 16);
	src(v, e[4], "10.2.3.4", 32);
	udp_ports(v, e[5], 53, 53, 0);
	v->t.e[e[5]].target.kind = BF_TGT_ACCEPT;
	udp_ports(v, e[6], 50, 57, 0);
	udp_ports(v, e[7], 58, 58, 0);
	src(v, e[7], "10.3.0.0", 16);
	src(v, e[8], "10.4.0.0", 16);
	dst(v, e[8], "10.9.0.9", 32);
	src(v, e[9], "10.5.0.1", 32);
	src(v, e[10], "10.5.0.2", 32);
	src(v, e[11], "10.5.0.3", 32);
	pol = bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	bt_end(&v->t);

	g = load(v, true, &n_cls);
	ck_assert_uint_eq(n_cls, 12);
	for (size_t k = 0; k < BF_ARRAY_SIZE(cases); k++) {
		p.src = cases[k].src;
		p.dst = cases[k].dst;
		p.dport = cases[k].dport;
		p.l4len = cases[k].l4len;
		ck_assert_msg(send_pkt(v, &p) == cases[k].verdict, "case %zu", k);
		if (cases[k].entry >= 0)
			want[e[cases[k].entry]]++;
		else if (cases[k].entry == -1)
			want[pol]++;
	}
	counters(v, g, c);
	for (uint32_t i = 0; i < v->t.m.n_entries; i++)
		ck_assert_msg(c[i].pcnt == want[i], "entry %u: %llu packets, want %llu", i,
			      (unsigned long long)c[i].pcnt, (unsigned long long)want[i]);

	/* The linear code agrees. */
	lg = load(v, false, &n_cls);
	ck_assert_uint_eq(n_cls, 0);
	for (size_t k = 0; k < BF_ARRAY_SIZE(cases); k++) {
		p.src = cases[k].src;
		p.dst = cases[k].dst;
		p.dport = cases[k].dport;
		p.l4len = cases[k].l4len;
		ck_assert_msg(send_pkt(v, &p) == cases[k].verdict, "linear, case %zu", k);
	}
	counters(v, lg, lc);
	for (uint32_t i = 0; i < v->t.m.n_entries; i++) {
		ck_assert_uint_eq(lc[i].pcnt, c[i].pcnt);
		ck_assert_uint_eq(lc[i].bcnt, c[i].bcnt);
	}
	bf_gen_free(g);
	bf_gen_free(lg);
	env_free(v);
}
END_TEST

/* Random tables over a small universe of addresses and ports, so that prefixes overlap and
 * packets hit many entries; entries the classifier cannot take (RETURN, --tcp-option) cut runs. */
static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

/*
 * Entries come in blocks of 60 with one flavour each, so that runs form and each kind of guard
 * is inside runs: 0 plain (prefixes, protocols, single ports), 1 inverted source, 2 inverted
 * destination, 3 interfaces, 4 -f, 5 icmp types, 6 tcp/udp ranges, flags, source ports and
 * inverted ports, 7 everything at once (with RETURN and --tcp-option, which cut runs).
 */
/* Entry i, shaped as the pos-th random entry of its table. */
static void random_entry(struct env *v, uint64_t *s, uint32_t i, uint32_t pos)
{
	struct bf_entry *e = &v->t.e[i];
	static const unsigned int splen[] = {16, 22, 24, 24, 26, 28, 30, 32, 32, 32};
	static const unsigned int dplen[] = {24, 30, 32};
	unsigned int fl = pos / 60 % 8;
	bool all = fl == 7;
	char a[32];
	uint32_t x = rnd(s) % 100;

	e->target.kind = rnd(s) % 2 ? BF_TGT_ACCEPT : BF_TGT_DROP;
	if (all && x < 4)
		e->target.kind = BF_TGT_RETURN;
	else if (x < 3)
		e->target.kind = BF_TGT_QUEUE;
	if (fl == 1 || (all && rnd(s) % 10 == 0)) {
		src(v, i, rnd(s) % 2 ? "10.0.1.0" : "10.0.2.0", 24);
		v->t.ip[i].v4.invflags |= IPT_INV_SRCIP;
	} else if (fl != 2 || rnd(s) % 2) {
		snprintf(a, sizeof(a), "10.0.%u.%u", rnd(s) % 4, rnd(s) % 4 * 64);
		src(v, i, a, splen[rnd(s) % BF_ARRAY_SIZE(splen)]);
	}
	if (fl == 2 || (all && rnd(s) % 10 == 0)) {
		dst(v, i, rnd(s) % 2 ? "10.9.0.0" : "10.9.0.4", 30);
		v->t.ip[i].v4.invflags |= IPT_INV_DSTIP;
	} else if (rnd(s) % 10 < 3) {
		snprintf(a, sizeof(a), "10.9.0.%u", rnd(s) % 8);
		dst(v, i, a, fl == 0 ? 32 : dplen[rnd(s) % BF_ARRAY_SIZE(dplen)]);
	}
	if (fl == 3 || (all && rnd(s) % 10 == 0)) {
		strcpy(v->t.ip[i].v4.iniface, "eth9");
		memset(v->t.ip[i].v4.iniface_mask, 0xff, 5);
		if (rnd(s) % 2)
			v->t.ip[i].v4.invflags |= IPT_INV_VIA_IN;
	}
	if ((fl == 4 && rnd(s) % 2) || (all && rnd(s) % 20 == 0)) {
		v->t.ip[i].v4.flags |= IPT_F_FRAG;
		if (rnd(s) % 2)
			v->t.ip[i].v4.invflags |= IPT_INV_FRAG;
	}
	x = rnd(s) % 100;
	if (fl == 5)
		x = 40 + x % 10;
	if (x < 30) {
		return;
	} else if (x < 40) {
		v->t.ip[i].v4.proto = 47;
		return;
	} else if (x < 50) {
		struct ipt_icmp *ic = &v->md[i].icmp;

		v->t.ip[i].v4.proto = IPPROTO_ICMP;
		if (!(fl == 5 || all) || rnd(s) % 3 == 0)
			return;
		memset(ic, 0, sizeof(*ic));
		ic->type = (uint8_t)(rnd(s) % 3 ? rnd(s) % 2 * 8 : 0xff);
		ic->code[0] = 0;
		ic->code[1] = (uint8_t)(rnd(s) % 2 ? 0xff : 1);
		ic->invflags = rnd(s) % 5 ? 0 : IPT_ICMP_INV;
		v->mt[i] = (struct bf_match){
			.ext = &bf_match_icmp, .data = ic, .data_len = sizeof(*ic)};
	} else {
		bool tcp = x < 75, rich = fl == 6 || all;
		uint16_t lo = (uint16_t)(20 + rnd(s) % 8), hi = lo;
		uint8_t inv = 0;
		uint16_t slo = 0, shi = UINT16_MAX;

		v->t.ip[i].v4.proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
		if (rnd(s) % 5 == 0)
			return;
		switch (rich ? rnd(s) % 8 : 7) {
		case 0:
			hi = lo + 3;
			break;
		case 1:
			lo = 0;
			hi = UINT16_MAX;
			break;
		case 2:
			hi = 60000;
			break;
		case 3:
			inv = XT_TCP_INV_DSTPT;
			break;
		case 4:
			slo = shi = 1000;
			break;
		default:
			break;
		}
		if (tcp) {
			struct xt_tcp *t = &v->md[i].tcp;

			memset(t, 0, sizeof(*t));
			t->spts[0] = slo;
			t->spts[1] = shi;
			t->dpts[0] = lo;
			t->dpts[1] = hi;
			t->invflags = inv;
			if (rich && rnd(s) % 5 == 0) {
				t->flg_mask = 0x12;
				t->flg_cmp = 0x02;
			}
			if (all && rnd(s) % 30 == 0)
				t->option = 2;
			v->mt[i] = (struct bf_match){
				.ext = &bf_match_tcp, .data = t, .data_len = sizeof(*t)};
		} else {
			struct xt_udp *u = &v->md[i].udp;

			memset(u, 0, sizeof(*u));
			u->spts[0] = slo;
			u->spts[1] = shi;
			u->dpts[0] = lo;
			u->dpts[1] = hi;
			u->invflags = inv ? XT_UDP_INV_DSTPT : 0;
			v->mt[i] = (struct bf_match){
				.ext = &bf_match_udp, .data = u, .data_len = sizeof(*u)};
		}
	}
	e->matches = &v->mt[i];
	e->n_matches = 1;
}

/* Entries whose classes have no prefix field (exact ports, hosts): the classifier's hash. */
static void random_exact_entry(struct env *v, uint64_t *s, uint32_t i)
{
	static const uint8_t last[] = {0, 1, 64, 128, 200};
	struct bf_entry *e = &v->t.e[i];
	uint32_t x = rnd(s) % 4;
	char a[32];

	e->target.kind = rnd(s) % 2 ? BF_TGT_ACCEPT : BF_TGT_DROP;
	if (x == 0 || x == 3) {
		snprintf(a, sizeof(a), "10.%u.%u.%u", rnd(s) % 2, rnd(s) % 4,
			 last[rnd(s) % BF_ARRAY_SIZE(last)]);
		src(v, i, a, 32);
	}
	if (x == 1 || x == 3) {
		snprintf(a, sizeof(a), "10.9.0.%u", rnd(s) % 8);
		dst(v, i, a, 32);
	}
	if (x == 0)
		return;
	if (rnd(s) % 2) {
		struct xt_tcp *t = &v->md[i].tcp;

		memset(t, 0, sizeof(*t));
		t->spts[0] = rnd(s) % 4 ? 0 : 1000;
		t->spts[1] = t->spts[0] ? 1000 : UINT16_MAX;
		t->dpts[0] = t->dpts[1] = (uint16_t)(18 + rnd(s) % 14);
		v->t.ip[i].v4.proto = IPPROTO_TCP;
		v->mt[i] =
			(struct bf_match){.ext = &bf_match_tcp, .data = t, .data_len = sizeof(*t)};
	} else {
		udp_ports(v, i, 0, 0, 0);
		v->md[i].udp.dpts[0] = v->md[i].udp.dpts[1] = (uint16_t)(18 + rnd(s) % 14);
	}
	e->matches = &v->mt[i];
	e->n_matches = 1;
}

static void random_pkt(uint64_t *s, struct pkt *p, char *sa, char *da)
{
	static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, 47};
	static const uint8_t last[] = {0, 1, 63, 64, 65, 128, 130, 192, 200, 255};
	uint32_t x;

	snprintf(sa, 32, "10.%u.%u.%u", rnd(s) % 8 ? 0 : 1, rnd(s) % 4,
		 last[rnd(s) % BF_ARRAY_SIZE(last)]);
	snprintf(da, 32, "10.9.0.%u", rnd(s) % 8);
	memset(p, 0, sizeof(*p));
	p->src = sa;
	p->dst = da;
	p->proto = protos[rnd(s) % 4];
	p->sport = (uint16_t)(rnd(s) % 2 ? 1000 : 40000);
	p->dport = (uint16_t)(18 + rnd(s) % 14);
	p->tcpflags = (uint8_t)rnd(s);
	if (p->proto == IPPROTO_ICMP) {
		p->sport = (uint16_t)(rnd(s) % 5 * 4);
		p->dport = (uint16_t)(rnd(s) % 3);
	}
	p->l4len = p->proto == IPPROTO_TCP ? 20 : 8;
	x = rnd(s) % 20;
	if (x == 0)
		p->fragoff = 1;
	else if (x == 1)
		p->fragoff = 5;
	else if (x == 2)
		p->fragoff = 0x2000; /* MF, first fragment */
	if (rnd(s) % 12 == 0)
		p->l4len = (uint16_t)(rnd(s) % 8);
}

/* Make entry i a jump to `to` (its matches stay: a conditional jump). */
static void make_jump(struct env *v, uint32_t i, uint32_t to)
{
	v->t.e[i].target.kind = BF_TGT_JUMP;
	v->t.e[i].target.jump = to;
}

/*
 * With `jumps`, some entries of INPUT become jumps (conditional or not) to two user chains, A
 * (which jumps to B in turn) and B, of random entries, and some become rules without target
 * (a jump to the next entry): runs then span jumps (classify.c, holes). With `shift`, the
 * table starts with that many count-only entries (a jump to the next entry), which start no
 * run (a run starts with a classified entry): the runs are those of the table without them,
 * that many entries further.
 */
/* The log of the last classified load of random_table_lead(). */
static char cls_log[sizeof(((struct bt_log *)0)->all)];

static void random_table_lead(struct env *v, uint64_t seed, uint32_t n, uint32_t n_pkts,
			      bool jumps, bool exact, uint32_t shift, uint32_t lead,
			      uint32_t *n_tries, uint32_t *n_reused)
{
	uint32_t jmp[BT_MAX_ENTRIES], n_jmp = 0;
	struct xt_counters *c = calloc(BT_MAX_ENTRIES, sizeof(*c));
	struct xt_counters *lc = calloc(BT_MAX_ENTRIES, sizeof(*lc));
	int *verdict = calloc(n_pkts, sizeof(int));
	uint64_t s = seed;
	uint32_t n_cls = 0;
	struct bf_gen *g, *lg;
	char sa[32], da[32];
	struct pkt p;

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(lc);
	ck_assert_ptr_nonnull(verdict);
	bt_init(&v->t);
	bt_base(&v->t, IN);
	for (uint32_t k = 0; k < shift; k++)
		bt_rule(&v->t, BF_TGT_JUMP, v->t.m.n_entries + 1);
	if (lead) {
		/* A run of its own before the table's runs (a tcp option test ends it): they
		 * become runs 1, 2, ..., which name their exact keys in the hash. */
		uint64_t ls = seed ^ 0xa5a5;
		uint32_t i;

		for (uint32_t k = 0; k < lead; k++)
			random_exact_entry(v, &ls, bt_rule(&v->t, BF_TGT_DROP, 0));
		i = bt_rule(&v->t, BF_TGT_ACCEPT, 0);
		memset(&v->md[i].tcp, 0, sizeof(v->md[i].tcp));
		v->md[i].tcp.spts[1] = v->md[i].tcp.dpts[1] = UINT16_MAX;
		v->md[i].tcp.option = 200;
		v->t.ip[i].v4.proto = IPPROTO_TCP;
		v->mt[i] = (struct bf_match){
			.ext = &bf_match_tcp, .data = &v->md[i].tcp, .data_len = sizeof(v->md[i].tcp)};
		v->t.e[i].matches = &v->mt[i];
		v->t.e[i].n_matches = 1;
		shift += lead + 1;
	}
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = bt_rule(&v->t, BF_TGT_DROP, 0), x;

		if (exact)
			random_exact_entry(v, &s, i);
		else
			random_entry(v, &s, i, i - shift); /* the same table, moved */
		x = jumps ? rnd(&s) % 40 : 40;
		if (x < 4) {
			if (x < 2) { /* unconditional */
				v->t.e[i].n_matches = 0;
				memset(&v->t.ip[i].v4, 0, sizeof(v->t.ip[i].v4));
			}
			jmp[n_jmp++] = i;
		} else if (x < 6) {
			make_jump(v, i, i + 1);
		}
	}
	bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	if (jumps) {
		uint32_t a = bt_chain(&v->t, "A"), b;

		for (uint32_t k = 0; k < 40; k++) {
			uint32_t i = bt_rule(&v->t, BF_TGT_DROP, 0);

			random_entry(v, &s, i, i - shift);
			if (rnd(&s) % 10 == 0)
				jmp[n_jmp++] = i | 1u << 31; /* to B */
		}
		bt_rule(&v->t, BF_TGT_RETURN, 0);
		b = bt_chain(&v->t, "B");
		for (uint32_t k = 0; k < 40; k++) {
			uint32_t i = bt_rule(&v->t, BF_TGT_DROP, 0);

			random_entry(v, &s, i, i - shift);
		}
		bt_rule(&v->t, BF_TGT_RETURN, 0);
		for (uint32_t k = 0; k < n_jmp; k++) {
			uint32_t i = jmp[k] & ~(1u << 31);

			make_jump(v, i, jmp[k] >> 31 || rnd(&s) % 2 ? b : a);
		}
	}
	bt_end(&v->t);

	g = load(v, true, &n_cls);
	memcpy(cls_log, v->log.all, sizeof(cls_log)); /* the linear load below logs over it */
	if (n_reused) {
		const char *lp = strstr(v->log.all, " of them in ");
		uint32_t runs;

		ck_assert_ptr_nonnull(lp);
		ck_assert_int_eq(sscanf(lp, " of them in %u classified runs (%u tries, %u", &runs,
					n_tries, n_reused),
				 3);
	}
	fprintf(stderr, "classify: seed %llu: %u of %u entries classified\n",
		(unsigned long long)seed, n_cls, n);
	ck_assert_msg(n_cls >= n / 6, "seed %llu: only %u of %u entries classified",
		      (unsigned long long)seed, n_cls, n);
	s = seed ^ 0x5555;
	for (uint32_t k = 0; k < n_pkts; k++) {
		random_pkt(&s, &p, sa, da);
		verdict[k] = send_pkt(v, &p);
		ck_assert_int_ge(verdict[k], 0);
	}
	counters(v, g, c);

	lg = load(v, false, NULL);
	s = seed ^ 0x5555;
	for (uint32_t k = 0; k < n_pkts; k++) {
		random_pkt(&s, &p, sa, da);
		ck_assert_msg(send_pkt(v, &p) == verdict[k],
			      "seed %llu, packet %u (%s > %s proto %u dport %u frag %u l4 %u): "
			      "classified %d",
			      (unsigned long long)seed, k, p.src, p.dst, p.proto, p.dport,
			      p.fragoff, p.l4len, verdict[k]);
	}
	counters(v, lg, lc);
	for (uint32_t i = 0; i < v->t.m.n_entries; i++) {
		ck_assert_msg(c[i].pcnt == lc[i].pcnt && c[i].bcnt == lc[i].bcnt,
			      "seed %llu, entry %u: %llu/%llu packets/bytes, linear %llu/%llu",
			      (unsigned long long)seed, i, (unsigned long long)c[i].pcnt,
			      (unsigned long long)c[i].bcnt, (unsigned long long)lc[i].pcnt,
			      (unsigned long long)lc[i].bcnt);
	}
	bf_gen_free(g);
	bf_gen_free(lg);
	free(c);
	free(lc);
	free(verdict);
}

static void random_table_shift(struct env *v, uint64_t seed, uint32_t n, uint32_t n_pkts,
			       bool jumps, bool exact, uint32_t shift, uint32_t *n_tries,
			       uint32_t *n_reused)
{
	random_table_lead(v, seed, n, n_pkts, jumps, exact, shift, 0, n_tries, n_reused);
}

static void random_table(struct env *v, uint64_t seed, uint32_t n, uint32_t n_pkts, bool jumps,
			 bool exact)
{
	random_table_shift(v, seed, n, n_pkts, jumps, exact, 0, NULL, NULL);
}

/*
 * The tries of a table's runs are reused by the next table when a run is the same relative to
 * its first entry (classify.c): here every run moves (entries inserted before them), and the
 * reused tries must give the same verdicts and counters as the linear code of the new table.
 */
START_TEST(reuse_moved_runs)
{
	for (uint64_t seed = 3; seed <= 5; seed++) {
		struct env *v = env_new();
		uint32_t tries = 0, reused = 0;

		random_table_shift(v, seed, 600, 1500, seed == 4, seed == 5, 0, &tries, &reused);
		ck_assert_uint_eq(reused, 0);
		if (seed != 5) /* seed 5: hosts and single ports, the hash only */
			ck_assert_uint_gt(tries, 0);
		random_table_shift(v, seed, 600, 1500, seed == 4, seed == 5, 1 + (uint32_t)seed,
				   &tries, &reused);
		/* Every run is the same, one place further: every trie is reused. */
		ck_assert_msg(reused == tries, "seed %llu: %u of %u tries reused",
			      (unsigned long long)seed, reused, tries);
		env_free(v);
	}
}
END_TEST

/*
 * Tries are cached per class: a table with more entries at the end of INPUT (appends) takes the
 * cached trie of the class they join for its old entries, the new ones being a class of their
 * own (split_appended), and the table without them (deletes) is the cached classes again: every
 * trie reused each time (the new class is tested inline or has a trie of its own), and the
 * reused tries must still give the verdicts and counters of the linear code.
 */
START_TEST(reuse_after_append)
{
	for (uint64_t seed = 6; seed <= 9; seed++) {
		struct env *v = env_new();
		uint32_t tries = 0, reused = 0, n_tries;

		random_table_shift(v, seed, 600, 1500, false, false, 0, &tries, &reused);
		ck_assert_uint_eq(reused, 0);
		ck_assert_uint_gt(tries, 0);
		n_tries = tries;
		/* At most the class the new entry joins is built again: when the entry changes
		 * its guard or modes (split_table below has one that does not). */
		random_table_shift(v, seed, 601, 1500, false, false, 0, &tries, &reused);
		ck_assert_msg(reused + 1 >= n_tries, "seed %llu: append: %u of %u tries reused",
			      (unsigned long long)seed, reused, tries);
		random_table_shift(v, seed, 600, 1500, false, false, 0, &tries, &reused);
		ck_assert_msg(reused + 1 >= tries, "seed %llu: delete: %u of %u tries reused",
			      (unsigned long long)seed, reused, tries);
		/* Three appends at once (one split per run: the other classes they join are built
		 * again), against the linear code. */
		random_table_shift(v, seed, 603, 1500, false, false, 0, &tries, &reused);
		ck_assert_uint_gt(reused, 0);
		env_free(v);
	}
}
END_TEST

/*
 * The keys of an exact class (in the generation's hash, which names runs by number) are copied
 * from the last table's when the class is the same, with its new run number, and a table whose
 * exact keys are all the last table's shares its hash and ports array. Against the linear code:
 * the same table again (all shared), then with a new run before it (every run renumbered).
 */
/* INPUT: n rules -s 10.A.B.0/24 -p udp --dport 53 -j DROP (class 0 the first alone, class 1
 * the others, one trie keyed by source), policy ACCEPT. */
static struct bf_gen *split_table(struct env *v, uint32_t n, uint32_t *tries, uint32_t *reused)
{
	struct bf_gen *g;
	const char *lp;
	uint32_t runs;

	bt_init(&v->t);
	bt_base(&v->t, IN);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = bt_rule(&v->t, BF_TGT_DROP, 0);
		char a[32];

		snprintf(a, sizeof(a), "10.%u.%u.0", 1 + k / 200, k % 200);
		src(v, i, a, 24);
		udp_ports(v, i, 53, 53, 0);
	}
	bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	bt_end(&v->t);
	g = load(v, true, NULL);
	lp = strstr(v->log.all, " of them in ");
	ck_assert_ptr_nonnull(lp);
	ck_assert_int_eq(sscanf(lp, " of them in %u classified runs (%u tries, %u", &runs, tries,
				reused),
			 3);
	return g;
}

/*
 * An append whose rule joins a class with a trie (split_appended): the class's cached trie
 * serves its old entries and the new rule is a class of its own, tested inline; the verdicts
 * and counters are those of the rules, the new one included; deleting it again gives back the
 * cached class. Two appends: a new class of two, three: of three (a trie of its own).
 */
START_TEST(split_appended_class)
{
	static const uint32_t sizes[] = {40, 41, 40, 42, 43, 40};
	struct env *v = env_new();
	struct pkt p = {.proto = IPPROTO_UDP, .dst = "10.9.0.8", .sport = 1000, .dport = 53,
			.l4len = 8};
	struct xt_counters c[64];

	for (size_t t = 0; t < BF_ARRAY_SIZE(sizes); t++) {
		uint32_t n = sizes[t], tries = 0, reused = 0;
		struct bf_gen *g = split_table(v, n, &tries, &reused);
		char a[32];

		ck_assert_uint_eq(tries, 1 + (n >= 43));
		ck_assert_msg(reused == (t ? 1u : 0u), "table %zu (%u rules): %u of %u tries reused",
			      t, n, reused, tries);
		/* The last rule, one in the middle, none. */
		snprintf(a, sizeof(a), "10.1.%u.7", n - 1);
		p.src = a;
		ck_assert_int_eq(send_pkt(v, &p), TC_ACT_SHOT);
		p.src = "10.1.3.9";
		ck_assert_int_eq(send_pkt(v, &p), TC_ACT_SHOT);
		p.src = "10.200.0.1";
		ck_assert_int_eq(send_pkt(v, &p), TC_ACT_OK);
		counters(v, g, c);
		for (uint32_t i = 0; i <= n; i++) /* n: the policy */
			ck_assert_msg(c[i].pcnt == (i == 3 || i >= n - 1),
				      "table %zu, entry %u: %llu packets", t, i,
				      (unsigned long long)c[i].pcnt);
		bf_gen_free(g);
	}
	env_free(v);
}
END_TEST

START_TEST(reuse_exact_keys)
{
	for (uint64_t seed = 47; seed <= 49; seed++) {
		struct env *v = env_new();
		uint32_t runs[2] = {0}, tries, reused;

		random_table_lead(v, seed, 500, 1500, seed == 48, true, 0, 0, &tries, &reused);
		ck_assert_ptr_null(strstr(cls_log, "exact keys copied"));
		random_table_lead(v, seed, 500, 1500, seed == 48, true, 0, 0, &tries, &reused);
		ck_assert_ptr_nonnull(strstr(cls_log, "exact keys copied"));
		ck_assert_ptr_nonnull(strstr(cls_log, "exact keys and ports array reused"));
		ck_assert_int_eq(sscanf(strstr(cls_log, " of them in "), " of them in %u", &runs[0]),
				 1);
		random_table_lead(v, seed, 500, 1500, seed == 48, true, 0, 30, &tries, &reused);
		ck_assert_int_eq(sscanf(strstr(cls_log, " of them in "), " of them in %u", &runs[1]),
				 1);
		ck_assert_uint_gt(runs[1], runs[0]); /* the lead run: the others renumbered */
		ck_assert_ptr_nonnull(strstr(cls_log, "exact keys copied"));
		ck_assert_ptr_null(strstr(cls_log, "exact keys and ports array reused"));
		env_free(v);
	}
}
END_TEST

/*
 * The verifier walks a classified run about once. The lookups of a run hit or miss class after
 * class; when the running minimum and the key lived on the stack, each path left them with
 * bounds of its own, the verifier could not prune one path with another, and it walked the
 * run's code 3-5 times over (most of an `iptables -A` at 10k rules). Random tables of every
 * kind of entry, classified: the instructions the verifier processed against those loaded.
 */
START_TEST(verifier_walks_runs_once)
{
	for (uint64_t seed = 71; seed <= 73; seed++) {
		struct env *v = env_new();
		unsigned long long processed = 0;
		size_t insns = 0;
		uint32_t n_cls = 0;
		struct bf_gen *g;
		uint64_t s = seed;
		const char *p;

		bt_init(&v->t);
		bt_base(&v->t, IN);
		/* blocklists, per-port lists, and 5-tuples with ranges and inversions, mixed */
		for (uint32_t k = 0; k < 1500; k++) {
			uint32_t i = bt_rule(&v->t, rnd(&s) % 2 ? BF_TGT_DROP : BF_TGT_ACCEPT, 0);
			uint16_t lo = (uint16_t)(rnd(&s) % 60000);
			char a[32];

			snprintf(a, sizeof(a), "%u.%u.%u.%u", 1 + rnd(&s) % 200, rnd(&s) % 256,
				 rnd(&s) % 256, rnd(&s) % 256);
			switch (k % 6) {
			case 0:
				src(v, i, a, 8 + rnd(&s) % 25);
				break;
			case 1:
				dst(v, i, a, 32);
				break;
			case 2:
				udp_ports(v, i, lo, lo, 0);
				break;
			case 3:
				src(v, i, a, 32);
				dst(v, i, "10.9.0.0", 16 + rnd(&s) % 9);
				udp_ports(v, i, lo, (uint16_t)(lo + rnd(&s) % 100), 0);
				break;
			case 4:
				src(v, i, a, 16 + rnd(&s) % 9);
				udp_ports(v, i, lo, (uint16_t)(lo + 40), IPT_UDP_INV_DSTPT);
				break;
			default:
				dst(v, i, a, 20 + rnd(&s) % 13);
				v->t.ip[i].v4.invflags |= rnd(&s) % 4 ? 0 : IPT_INV_DSTIP;
				break;
			}
		}
		bt_policy(&v->t, IN, BF_TGT_ACCEPT);
		bt_end(&v->t);
		g = load(v, true, &n_cls);
		p = strstr(v->log.all, " programs, ");
		ck_assert_ptr_nonnull(p);
		ck_assert_int_eq(sscanf(p, " programs, %zu insns (%llu processed", &insns, &processed),
				 2);
		fprintf(stderr, "classify: seed %llu: %u of 1500 entries classified, %zu insns, %llu "
				"processed by the verifier\n",
			(unsigned long long)seed, n_cls, insns, processed);
		ck_assert_uint_gt(n_cls, 1400);
		ck_assert_msg(processed <= insns * 3 / 2, "seed %llu: %llu processed for %zu insns",
			      (unsigned long long)seed, processed, insns);
		bf_gen_free(g);
		env_free(v);
	}
}
END_TEST

/*
 * Programs load their tries by fd; past a budget of maps per program they look them up in the
 * generation's array of tries, filled only then. Every trie that way (budget 0), against the
 * linear code, and then an append whose tries are reused with the last table's array.
 */
START_TEST(outer_array_against_linear)
{
	for (uint64_t seed = 61; seed <= 63; seed++) {
		struct env *v = env_new();
		uint32_t tries = 0, reused = 0;

		bf_classify_set_direct_max(seed == 63 ? 1 : 0);
		random_table(v, seed, 400 + (uint32_t)seed, 1500, seed % 2, false);
		env_free(v);
		v = env_new();
		bf_classify_set_direct_max(0);
		random_table_shift(v, seed, 600, 1500, false, false, 0, &tries, &reused);
		ck_assert_uint_gt(tries, 0);
		random_table_shift(v, seed, 601, 1500, false, false, 0, &tries, &reused);
		ck_assert_msg(reused + 1 >= tries, "seed %llu: %u of %u tries reused",
			      (unsigned long long)seed, reused, tries);
		env_free(v);
	}
}
END_TEST

/*
 * A directory only shortens its trie's walk: the tries take the program's budget of maps first.
 * Four classes, each with enough prefixes for a directory, and a budget of four maps: every trie
 * is loaded by fd (none through the array of tries), and no directory; before, each class's
 * directory took the budget of a later class's trie.
 */
START_TEST(tries_before_directories)
{
	static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_SCTP};
	struct env *v = env_new();
	struct pkt p = {.dst = "10.9.0.8", .proto = IPPROTO_SCTP, .l4len = 8};
	struct xt_counters c[256];
	uint32_t e0 = 0, pol, n_cls = 0;
	struct bf_gen *g;
	char a[32];

	bf_classify_set_direct_max(4);
	bt_base(&v->t, IN);
	for (uint32_t k = 0; k < 4; k++) {
		for (uint32_t i = 0; i < 40; i++) {
			uint32_t e = bt_rule(&v->t, BF_TGT_DROP, 0);

			snprintf(a, sizeof(a), "10.%u.%u.0", 10 + k, i);
			src(v, e, a, 24);
			v->t.ip[e].v4.proto = protos[k];
			if (k == 3 && i == 39)
				e0 = e;
		}
	}
	pol = bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	bt_end(&v->t);

	g = load(v, true, &n_cls);
	ck_assert_uint_eq(n_cls, 160);
	ck_assert_msg(strstr(v->log.all, "4 tries, 4 directories"), "%s", v->log.all);
	ck_assert_msg(!strstr(v->log.all, "array of tries"), "%s", v->log.all);
	p.src = "10.13.39.1"; /* the last class's last prefix */
	ck_assert_int_eq(send_pkt(v, &p), TC_ACT_SHOT);
	p.src = "10.13.40.1";
	ck_assert_int_eq(send_pkt(v, &p), TC_ACT_OK);
	counters(v, g, c);
	for (uint32_t i = 0; i < v->t.m.n_entries; i++)
		ck_assert_uint_eq(c[i].pcnt, i == e0 || i == pol ? 1 : 0);
	bf_gen_free(g);
	env_free(v);
}
END_TEST

START_TEST(random_against_linear)
{
	for (uint64_t seed = 1; seed <= 12; seed++) {
		struct env *v = env_new();

		random_table(v, seed, 480 + (uint32_t)seed * 7, 2000, false, false);
		env_free(v);
	}
}
END_TEST

/* Runs that span jumps to user chains and rules without target, against the linear code. */
START_TEST(random_jumps_against_linear)
{
	for (uint64_t seed = 21; seed <= 32; seed++) {
		struct env *v = env_new();

		random_table(v, seed, 480 + (uint32_t)seed * 7, 2000, true, false);
		env_free(v);
	}
}
END_TEST

/* Classes of hosts and single ports (the hash), with jumps, against the linear code. */
START_TEST(random_exact_against_linear)
{
	for (uint64_t seed = 41; seed <= 46; seed++) {
		struct env *v = env_new();

		random_table(v, seed, 300 + (uint32_t)seed * 5, 2000, seed % 2, true);
		env_free(v);
	}
}
END_TEST

/* Runs across counter chunks (1,024 entries each) and a table of several regions. */
START_TEST(random_large)
{
	struct env *v = env_new();

	random_table(v, 99, 5000, 3000, false, false);
	env_free(v);
}
END_TEST

/* A table of more runs than a table may have tries (256, one per run here: its second class,
 * /31 networks, the first entry being tested inline): the runs past it are linear code, and the
 * verdicts and counters are the same on both sides of the limit. */
START_TEST(many_runs)
{
	struct env *v = env_new();
	struct xt_counters *c = calloc(BT_MAX_ENTRIES, sizeof(*c));
	struct pkt p = {.dst = "10.9.0.8", .proto = IPPROTO_UDP, .sport = 1000, .l4len = 8};
	uint32_t first[300], n_cls = 0, runs = 0, pol;
	struct bf_gen *g;
	const char *lp;
	char a[32];

	ck_assert_ptr_nonnull(c);
	bt_base(&v->t, IN);
	for (uint32_t grp = 0; grp < 300; grp++) {
		/* ends a run (a jump would not: runs span jumps), matches none of the packets */
		src(v, bt_rule(&v->t, BF_TGT_RETURN, 0), "12.0.0.0", 8);
		for (uint32_t k = 0; k < 8; k++) {
			uint32_t i = bt_rule(&v->t, BF_TGT_DROP, 0);

			if (!k)
				first[grp] = i;
			snprintf(a, sizeof(a), "11.%u.%u.%u", grp >> 8, grp & 255, 2 * k);
			src(v, i, a, 31);
		}
	}
	pol = bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	bt_end(&v->t);
	g = load(v, true, &n_cls);
	lp = strstr(v->log.all, " of them in ");
	ck_assert_ptr_nonnull(lp);
	ck_assert_int_eq(sscanf(lp, " of them in %u classified runs", &runs), 1);
	ck_assert_uint_eq(runs, 256);
	ck_assert_uint_eq(n_cls, 256 * 8);
	p.src = "11.0.0.3"; /* group 0, classified */
	ck_assert_int_eq(send_pkt(v, &p), TC_ACT_SHOT);
	p.src = "11.1.43.5"; /* group 299, linear */
	ck_assert_int_eq(send_pkt(v, &p), TC_ACT_SHOT);
	p.src = "11.0.255.7"; /* group 255, the last classified */
	ck_assert_int_eq(send_pkt(v, &p), TC_ACT_SHOT);
	p.src = "11.0.0.17";
	ck_assert_int_eq(send_pkt(v, &p), TC_ACT_OK);
	counters(v, g, c);
	ck_assert_uint_eq(c[first[0] + 1].pcnt, 1);
	ck_assert_uint_eq(c[first[299] + 2].pcnt, 1);
	ck_assert_uint_eq(c[first[255] + 3].pcnt, 1);
	ck_assert_uint_eq(c[pol].pcnt, 1);
	bf_gen_free(g);
	free(c);
	env_free(v);
}
END_TEST

/*
 * INPUT jumps into 34 chains of 40 prefix rules each: every chain is too long to inline by its
 * entries, but classified it is a lookup, so it is compiled inline all the same (gen.c
 * inline_classified). Were they tail calls, a packet that meets no rule would need 2 + 68 of
 * them (a warning, and the packet dropped fail-closed); inline, it reaches the policy, and the
 * packets that match count where the kernel counts them.
 */
START_TEST(big_leaf_chains_inline)
{
	struct env *v = env_new();
	struct pkt p = {.dst = "10.9.0.8", .proto = IPPROTO_UDP, .sport = 1000, .dport = 53,
			.l4len = 8};
	uint32_t jumps[34], heads[34], pol;
	struct xt_counters *c = calloc(BT_MAX_ENTRIES, sizeof(*c));
	struct bf_gen *g;
	char a[32];

	ck_assert_ptr_nonnull(c);
	bt_base(&v->t, IN);
	for (int k = 0; k < 34; k++)
		jumps[k] = bt_rule(&v->t, BF_TGT_JUMP, 0);
	pol = bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	for (int k = 0; k < 34; k++) {
		snprintf(a, sizeof(a), "C%d", k);
		heads[k] = bt_chain(&v->t, a);
		for (int j = 0; j < 40; j++) {
			uint32_t r = bt_rule(&v->t, BF_TGT_DROP, 0);

			snprintf(a, sizeof(a), "10.%d.%d.0", k, j);
			src(v, r, a, 24);
		}
		bt_rule(&v->t, BF_TGT_RETURN, 0);
	}
	bt_end(&v->t);
	for (int k = 0; k < 34; k++)
		v->t.e[jumps[k]].target.jump = heads[k];
	g = load(v, true, NULL);
	ck_assert_uint_eq(v->log.n_warn, 0);
	ck_assert_ptr_nonnull(strstr(v->log.all, "34 chains inline"));
	p.src = "10.200.0.1";
	ck_assert_int_eq(send_pkt(v, &p), TC_ACT_OK);
	p.src = "10.33.39.7";
	ck_assert_int_eq(send_pkt(v, &p), TC_ACT_SHOT);
	p.src = "10.5.17.1";
	ck_assert_int_eq(send_pkt(v, &p), TC_ACT_SHOT);
	counters(v, g, c);
	ck_assert_uint_eq(c[pol].pcnt, 1);
	ck_assert_uint_eq(c[heads[33] + 39].pcnt, 1);
	ck_assert_uint_eq(c[heads[5] + 17].pcnt, 1);
	ck_assert_uint_eq(c[heads[5] + 40].pcnt, 2); /* C5 RETURN: the two that passed it */
	ck_assert_uint_eq(c[jumps[5]].pcnt, 3);
	ck_assert_uint_eq(c[jumps[6]].pcnt, 2);
	bf_gen_free(g);
	free(c);
	env_free(v);
}
END_TEST

/* Loading and freeing generations with tries leaves no file descriptor behind. */
START_TEST(no_fd_leak)
{
	struct env *v = env_new();
	uint32_t n_cls = 0;
	int before;

	bt_base(&v->t, IN);
	for (int k = 0; k < 40; k++) {
		char a[32];
		uint32_t r = bt_rule(&v->t, BF_TGT_DROP, 0);

		snprintf(a, sizeof(a), "10.0.%d.0", k);
		src(v, r, a, 24);
	}
	bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	bt_end(&v->t);
	bf_gen_free(load(v, true, &n_cls));
	ck_assert_uint_eq(n_cls, 40);
	before = bt_count_fds();
	for (int k = 0; k < 1000; k++) {
		struct bf_gen *g = NULL;

		ck_assert_int_eq(bf_gen_load(v->rt, &v->t.m, NULL, &g), 0);
		bf_gen_free(g);
	}
	ck_assert_int_eq(bt_count_fds(), before);
	env_free(v);
}
END_TEST

/*
 * Load time of large blocklists and port lists built in memory (no daemon): printed, not
 * asserted (the benchmark owns the targets); the packet checks are asserted.
 */
static void big_table(uint32_t n, bool classify)
{
	struct bt_log log;
	struct bf_runtime *rt = NULL;
	struct bf_table_model m = {.family = NFPROTO_IPV4, .name = "filter"};
	struct bf_entry *e = calloc(n + 8, sizeof(*e));
	union bf_entry_ip *ip = calloc(n + 8, sizeof(*ip));
	struct bf_match *mt = calloc(n + 8, sizeof(*mt));
	struct xt_udp *u = calloc(n + 8, sizeof(*u));
	struct timespec t0, t1;
	struct bf_gen *g = NULL;
	struct bf_dispatch_cfg cfg = {
		.where = BF_DISPATCH_TC_INGRESS, .l2_len = 14, .force_hook = IN};
	struct pkt p = {.dst = "10.9.0.1", .proto = IPPROTO_UDP, .sport = 1, .l4len = 8};
	uint8_t f[128];
	int in = -1;
	uint32_t i = 0;

	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_nonnull(ip);
	ck_assert_ptr_nonnull(mt);
	ck_assert_ptr_nonnull(u);
	bt_log_init(&log);
	ck_assert_int_eq(bf_runtime_new(&log.log, &rt), 0);
	bf_classify_set_enabled(classify);
	m.valid_hooks = 1u << IN;
	m.hook_entry[IN] = 0;
	for (uint32_t k = 0; k < n + 8; k++)
		e[k].ip = &ip[k];
	for (; i < n; i++) {
		e[i].index = i;
		e[i].target.kind = BF_TGT_DROP;
		if (i % 2) {
			/* udp --dport 1000 + i/2 % 60000 */
			ip[i].v4.proto = IPPROTO_UDP;
			u[i].spts[1] = UINT16_MAX;
			u[i].dpts[0] = u[i].dpts[1] = (uint16_t)(1000 + i / 2 % 60000);
			mt[i] = (struct bf_match){
				.ext = &bf_match_udp, .data = &u[i], .data_len = sizeof(u[i])};
			e[i].matches = &mt[i];
			e[i].n_matches = 1;
			e[i].target.kind = BF_TGT_ACCEPT;
		} else {
			/* -s 11.x.y.z/32 and some /24 */
			ip[i].v4.src.s_addr = htonl(0x0b000000u + i * 7);
			ip[i].v4.smsk.s_addr = htonl(i % 10 ? 0xffffffffu : 0xffffff00u);
			ip[i].v4.src.s_addr &= ip[i].v4.smsk.s_addr;
		}
	}
	m.underflow[IN] = i;
	e[i].index = i;
	e[i].target.kind = BF_TGT_ACCEPT;
	i++;
	e[i].index = i;
	e[i].target.kind = BF_TGT_ERROR;
	e[i].target.error_name = "ERROR";
	i++;
	m.n_entries = i;
	m.entries = e;
	m.stacksize = 1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(bf_gen_load(rt, &m, NULL, &g), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "classify: %u entries, classifier %s: loaded in %.3f s\n", n,
		classify ? "on" : "off",
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	ck_assert_int_eq(bf_gen_activate(rt, g), 0);
	ck_assert_int_eq(bf_dispatch_load(rt, &cfg, &in), 0);
	/* the last udp port accepts, a /32 of the list drops, anything else hits the policy */
	p.src = "10.0.0.1";
	p.dport = (uint16_t)(1000 + (n - 1) / 2 % 60000);
	ck_assert_int_eq(bt_run(in, f, frame(f, &p)), TC_ACT_OK);
	{
		char a[32];
		uint32_t k = (n - 1) & ~1u;

		if (k % 10 == 0)
			k -= 2;
		uint32_t addr = 0x0b000000u + k * 7;

		snprintf(a, sizeof(a), "%u.%u.%u.%u", addr >> 24, addr >> 16 & 255, addr >> 8 & 255,
			 addr & 255);
		p.src = a;
		p.dport = 999;
		ck_assert_int_eq(bt_run(in, f, frame(f, &p)), TC_ACT_SHOT);
	}
	close(in);
	bf_gen_free(g);
	bf_runtime_free(rt);
	free(e);
	free(ip);
	free(mt);
	free(u);
	bf_classify_set_enabled(true);
}

START_TEST(scale_load)
{
	big_table(10000, false);
	big_table(10000, true);
	big_table(100000, true);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("classify");
	TCase *tc = tcase_create("classify");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, first_match_by_hand);
	tcase_add_test(tc, random_against_linear);
	tcase_add_test(tc, outer_array_against_linear);
	tcase_add_test(tc, tries_before_directories);
	tcase_add_test(tc, random_large);
	tcase_add_test(tc, random_jumps_against_linear);
	tcase_add_test(tc, random_exact_against_linear);
	tcase_add_test(tc, reuse_moved_runs);
	tcase_add_test(tc, reuse_after_append);
	tcase_add_test(tc, reuse_exact_keys);
	tcase_add_test(tc, split_appended_class);
	tcase_add_test(tc, many_runs);
	tcase_add_test(tc, no_fd_leak);
	tcase_add_test(tc, big_leaf_chains_inline);
	tcase_add_test(tc, verifier_walks_runs_once);
	tcase_add_test(tc, scale_load);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
