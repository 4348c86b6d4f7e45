// SPDX-License-Identifier: GPL-2.0-only
/*
 * The limit match (net/netfilter/xt_limit.c): registration, limit_mt_check's -ERANGE, and
 * limit_mt's token bucket run with BPF_PROG_TEST_RUN against the generation's bf_xrule state:
 * a burst, the refill arithmetic (credits of the jiffies that passed, u32 wrap, cap, cost) read
 * back from the map, and two CPUs draining one bucket at once. Real traffic against the kernel:
 * tests/e2e/stateful_limit.sh.
 */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/netfilter/xt_limit.h>

#include <bpfilter/cleanup.h>

#include "codegen/bpf_insn.h"
#include "codegen/extstate.h"
#include "codegen/registry.h"

static const struct bf_log quiet;

/* An xt_rateinfo as iptables sends it for --limit N/unit --limit-burst B. */
static struct xt_rateinfo rate(uint32_t per_sec_scaled, uint32_t burst)
{
	return (struct xt_rateinfo){.avg = per_sec_scaled, .burst = burst};
}

#define PER_HOUR (XT_LIMIT_SCALE * 60 * 60)

struct prog {
	struct bf_entry e;
	struct bf_match m;
	struct bf_table_model model;
	int map_fd;
	int prog_fd;
};

/* One entry holding the limit match; program: match -> 1, miss -> 0. */
static void prog_load(struct prog *p, const struct xt_rateinfo *r)
{
	struct bf_builder *b = NULL;
	struct bpf_insn *insns = NULL;
	int fds[BF_MAP_SLOT_MAX];
	struct bf_emit_ctx c;
	bf_label miss;
	size_t n;

	memset(p, 0, sizeof(*p));
	p->m = (struct bf_match){.ext = &bf_match_limit, .data = r, .data_len = sizeof(*r)};
	p->e.n_matches = 1;
	p->e.matches = &p->m;
	p->model =
		(struct bf_table_model){.family = NFPROTO_IPV4, .n_entries = 1, .entries = &p->e};
	ck_assert_int_eq(bf_xrule_create(&p->model, &quiet, &p->map_fd), 0);
	ck_assert_int_ge(p->map_fd, 0);

	ck_assert_int_eq(bf_builder_new(&b, &quiet), 0);
	miss = bf_label_new(b);
	c = (struct bf_emit_ctx){.b = b,
				 .family = NFPROTO_IPV4,
				 .prog_ctx = BF_CTX_TC,
				 .entry = &p->e,
				 .miss = miss,
				 .hotdrop = miss,
				 .log = &quiet};
	ck_assert_int_eq(bf_match_limit.emit(&c, r), 0);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, 1));
	bf_emit(b, BF_EXIT());
	bf_label_bind(b, miss);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, 0));
	bf_emit(b, BF_EXIT());
	for (int i = 0; i < BF_MAP_SLOT_MAX; i++)
		fds[i] = -1;
	fds[BF_MAP_XRULE] = p->map_fd;
	ck_assert_int_eq(bf_builder_finish(b, fds, &insns, &n), 0);
	bf_builder_free(b);
	p->prog_fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "bf_test", "GPL", insns, n, NULL);
	free(insns);
	ck_assert_int_ge(p->prog_fd, 0);
}

static void prog_free(struct prog *p)
{
	close(p->prog_fd);
	close(p->map_fd);
}

static int run(int prog_fd)
{
	uint8_t pkt[64] = {0};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt));

	ck_assert_int_eq(bpf_prog_test_run_opts(prog_fd, &o), 0);
	return (int)o.retval;
}

static struct bf_limit_state state(const struct prog *p)
{
	struct bf_xrule_key k = {0, 0};
	struct bf_limit_state st;

	ck_assert_int_eq(bpf_map_lookup_elem(p->map_fd, &k, &st), 0);
	return st;
}

static void set_state(const struct prog *p, struct bf_limit_state st)
{
	struct bf_xrule_key k = {0, 0};

	ck_assert_int_eq(bpf_map_update_elem(p->map_fd, &k, &st, BPF_EXIST), 0);
}

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "limit", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_limit);
	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV6, "limit", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_match_limit);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_MATCH, NFPROTO_IPV4, "limit", 1), -EPROTONOSUPPORT);
	ck_assert_int_eq(bf_match_limit.size, sizeof(struct xt_rateinfo));
	ck_assert_int_eq(bf_match_limit.usersize, 8);
}
END_TEST

START_TEST(test_check)
{
	struct bf_check_ctx c = {.table = "filter", .family = NFPROTO_IPV4, .log = &quiet};
	struct xt_rateinfo r;
	uint32_t hz;

	ck_assert_int_eq(bf_kernel_hz(&quiet, &hz), 0);
	ck_assert(hz == 100 || hz == 250 || hz == 300 || hz == 1000);
	r = rate(PER_HOUR, 0);
	ck_assert_int_eq(bf_match_limit.check(&c, &r), -ERANGE);
	r = rate(PER_HOUR * 24, 10000); /* 1/day burst 10000: avg * burst wraps */
	ck_assert_int_eq(bf_match_limit.check(&c, &r), -ERANGE);
	r = rate(PER_HOUR / 3, 5);
	ck_assert_int_eq(bf_match_limit.check(&c, &r), 0);
	r = rate(XT_LIMIT_SCALE / 10, 10000); /* 10/sec burst 10000 */
	ck_assert_int_eq(bf_match_limit.check(&c, &r), 0);
	/* the u32 arithmetic of user2credits at HZ 250: CREDITS_PER_JIFFY 128 */
	ck_assert_int_eq(bf_limit_cpj(250), 128);
	ck_assert_int_eq(bf_limit_cpj(1000), 32);
	ck_assert_int_eq(bf_limit_cpj(100), 256);
	ck_assert_int_eq(bf_limit_user2credits(250, 600000), 1920000);
}
END_TEST

START_TEST(test_burst)
{
	struct xt_rateinfo r = rate(PER_HOUR, 5);
	struct prog p;
	int n = 0;

	prog_load(&p, &r);
	for (int i = 0; i < 12; i++)
		n += run(p.prog_fd);
	ck_assert_int_eq(n, 5);
	prog_free(&p);
}
END_TEST

/* limit_mt's arithmetic, in C, from the state before and the jiffies the packet saw. */
static int model(uint32_t credit, uint64_t prev, uint64_t now, uint32_t cpj, uint32_t cap,
		 uint32_t cost, uint32_t *out)
{
	uint32_t inc = (uint32_t)((now - prev) * cpj), c = credit + inc;

	if (c > cap)
		c = cap;
	if (c >= cost) {
		*out = c - cost;
		return 1;
	}
	*out = c;
	return 0;
}

START_TEST(test_refill)
{
	/* 1000/hour, burst 3: cost 3.6 s of credits */
	struct xt_rateinfo r = rate(PER_HOUR / 1000, 3);
	static const struct {
		uint32_t credit;
		uint64_t back; /* jiffies before the packet's */
	} cases[] = {
		{0, 0},		  {0, 1},      {0, 899},      {0, 900}, {0, 901},
		{100, 1000},	  {0, 100000}, {0, 40000000}, /* (now - prev) * cpj wraps in u32 */
		{0xffffff00u, 2},			      /* credit + increase wraps in u32 */
	};
	uint32_t cap, cost, hz, want;
	struct prog p;

	ck_assert_int_eq(bf_kernel_hz(&quiet, &hz), 0);
	ck_assert_int_eq(bf_limit_init(&quiet, &r, NULL, &cap, &cost), 0);
	prog_load(&p, &r);
	ck_assert_int_eq(run(p.prog_fd), 1); /* sets prev */
	for (size_t i = 0; i < BF_ARRAY_SIZE(cases); i++) {
		struct bf_limit_state st = state(&p), after;
		uint64_t prev = st.prev - cases[i].back;
		int got;

		set_state(&p, (struct bf_limit_state){.prev = prev, .credit = cases[i].credit});
		got = run(p.prog_fd);
		after = state(&p);
		ck_assert_int_eq(got, model(cases[i].credit, prev, after.prev, bf_limit_cpj(hz),
					    cap, cost, &want));
		ck_assert_uint_eq(after.credit, want);
	}
	prog_free(&p);
}
END_TEST

static void *drain(void *arg)
{
	const struct prog *p = arg;
	intptr_t n = 0;

	for (int i = 0; i < 3000; i++)
		n += run(p->prog_fd);
	return (void *)n;
}

START_TEST(test_concurrent)
{
	struct xt_rateinfo r = rate(PER_HOUR / 100, 1000); /* one refill per 36 s */
	pthread_t t[2];
	intptr_t total = 0;
	struct prog p;

	prog_load(&p, &r);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, drain, &p), 0);
	for (int i = 0; i < 2; i++) {
		void *v;

		pthread_join(t[i], &v);
		total += (intptr_t)v;
	}
	/* Exactly the burst: a lost update would let more through, a spurious miss fewer. */
	ck_assert_int_eq(total, 1000);
	prog_free(&p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_limit");
	TCase *tc = tcase_create("limit");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_burst);
	tcase_add_test(tc, test_refill);
	tcase_add_test(tc, test_concurrent);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
