// SPDX-License-Identifier: GPL-2.0-only
/*
 * Generations and dispatchers, run with BPF_PROG_TEST_RUN (needs root): verdicts, per-entry
 * counters and the error counter for the entry-graph semantics of ipt_do_table().
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/pkt_cls.h>

#include <bpfilter/cleanup.h>

#include "bpf_test.h"
#include "codegen/abi.h"
#include "codegen/cg_priv.h"
#include "codegen/classify.h"
#include "codegen/codegen.h"
#include "codegen/ext.h"
#include "check_main.h"

#define IN NF_INET_LOCAL_IN
#define FWD NF_INET_FORWARD
#define OUT NF_INET_LOCAL_OUT

struct env {
	struct bt_log log;
	struct bf_runtime *rt;
	struct bf_gen *g;
	struct bt_model t;
	uint8_t frame[256];
	uint32_t len;
};

static struct env *env_new(void)
{
	struct env *v = calloc(1, sizeof(*v));

	ck_assert_ptr_nonnull(v);
	bt_log_init(&v->log);
	ck_assert_int_eq(bf_runtime_new(&v->log.log, &v->rt), 0);
	bt_init(&v->t);
	return v;
}

static void env_free(struct env *v)
{
	bf_gen_free(v->g);
	bf_runtime_free(v->rt);
	free(v);
}

/* The usual filter layout: INPUT, FORWARD, OUTPUT with their policies come from the caller. */
static int disp(struct env *v, enum bf_dispatch_where where, int hook)
{
	struct bf_dispatch_cfg cfg = {.where = where, .l2_len = 14, .force_hook = hook};
	int fd = -1;

	ck_assert_int_eq(bf_dispatch_load(v->rt, &cfg, &fd), 0);
	return fd;
}

static void load_activate(struct env *v)
{
	ck_assert_int_eq(bf_gen_load(v->rt, &v->t.m, NULL, &v->g), 0);
	ck_assert_int_eq(bf_gen_activate(v->rt, v->g), 0);
}

static void pkt(struct env *v, const char *saddr)
{
	v->len = bt_udp(v->frame, saddr, "10.0.0.9", 100, 0);
}

static int run(struct env *v, int fd)
{
	return bt_run(fd, v->frame, v->len);
}

static void assert_cnt(struct env *v, uint32_t i, uint64_t packets)
{
	struct xt_counters c[BT_MAX_ENTRIES];

	ck_assert_int_eq(bf_gen_read_counters(v->g, v->t.m.n_entries, c), 0);
	ck_assert_msg(c[i].pcnt == packets, "entry %u: %llu packets, expected %llu", i,
		      (unsigned long long)c[i].pcnt, (unsigned long long)packets);
	ck_assert_uint_eq(c[i].bcnt, packets * bt_ip_len(v->frame));
}

static uint64_t errors(struct env *v)
{
	uint64_t e = 0;

	ck_assert_int_eq(bf_gen_read_errors(v->g, &e), 0);
	return e;
}

/* INPUT, FORWARD, OUTPUT with the given policies and no rules. */
static void simple_table(struct bt_model *t, enum bf_target_kind in, enum bf_target_kind fwd,
			 enum bf_target_kind out)
{
	bt_base(t, IN);
	bt_policy(t, IN, in);
	bt_base(t, FWD);
	bt_policy(t, FWD, fwd);
	bt_base(t, OUT);
	bt_policy(t, OUT, out);
	bt_end(t);
}

START_TEST(policies)
{
	struct env *v = env_new();
	int in, fwd, out;

	simple_table(&v->t, BF_TGT_ACCEPT, BF_TGT_DROP, BF_TGT_ACCEPT);
	load_activate(v);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	fwd = disp(v, BF_DISPATCH_TC_INGRESS, FWD);
	out = disp(v, BF_DISPATCH_TC_EGRESS, OUT);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	ck_assert_int_eq(run(v, fwd), TC_ACT_SHOT);
	ck_assert_int_eq(run(v, fwd), TC_ACT_SHOT);
	ck_assert_int_eq(run(v, out), TC_ACT_OK);
	assert_cnt(v, 0, 1);
	assert_cnt(v, 1, 2);
	assert_cnt(v, 2, 1);
	assert_cnt(v, 3, 0);
	ck_assert_uint_eq(errors(v), 0);
	env_free(v);
}
END_TEST

START_TEST(no_generation_passes)
{
	struct env *v = env_new();
	int in = disp(v, BF_DISPATCH_TC_INGRESS, IN);

	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	env_free(v);
}
END_TEST

START_TEST(rule_match)
{
	struct env *v = env_new();
	uint32_t r;
	int in;

	bt_base(&v->t, IN);
	r = bt_rule(&v->t, BF_TGT_DROP, 0);
	bt_src(&v->t, r, "10.0.0.1");
	bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	bt_end(&v->t);
	load_activate(v);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	pkt(v, "10.0.0.2");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	assert_cnt(v, r, 1);
	assert_cnt(v, r + 1, 2);
	env_free(v);
}
END_TEST

START_TEST(jump_return)
{
	struct env *v = env_new();
	uint32_t j, a, acc, ret, pol;
	int in;

	bt_base(&v->t, IN);
	j = bt_rule(&v->t, BF_TGT_JUMP, 0);
	pol = bt_policy(&v->t, IN, BF_TGT_DROP);
	a = bt_chain(&v->t, "A");
	acc = bt_rule(&v->t, BF_TGT_ACCEPT, 0);
	bt_src(&v->t, acc, "10.0.0.1");
	ret = bt_rule(&v->t, BF_TGT_RETURN, 0);
	bt_end(&v->t);
	v->t.e[j].target.jump = a;
	load_activate(v);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	pkt(v, "10.0.0.2");
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	assert_cnt(v, j, 2);
	assert_cnt(v, acc, 1);
	assert_cnt(v, ret, 1);
	assert_cnt(v, pol, 1);
	ck_assert_uint_eq(errors(v), 0);
	env_free(v);
}
END_TEST

START_TEST(goto_and_return_underflow)
{
	struct env *v = env_new();
	uint32_t j, after, pol, b, g, b_after, a, ret;
	int in;

	/* INPUT: -j B; DROP (never reached for our packet); policy ACCEPT.
	 * B: -g A; DROP.  A: RETURN.
	 * RETURN in A pops B's caller: continue after the -j B in INPUT, not after the -g. */
	bt_base(&v->t, IN);
	j = bt_rule(&v->t, BF_TGT_JUMP, 0);
	after = bt_rule(&v->t, BF_TGT_ACCEPT, 0);
	pol = bt_policy(&v->t, IN, BF_TGT_DROP);
	b = bt_chain(&v->t, "B");
	g = bt_rule(&v->t, BF_TGT_GOTO, 0);
	b_after = bt_rule(&v->t, BF_TGT_DROP, 0);
	a = bt_chain(&v->t, "A");
	ret = bt_rule(&v->t, BF_TGT_RETURN, 0);
	bt_end(&v->t);
	v->t.e[j].target.jump = b;
	v->t.e[g].target.jump = a;
	load_activate(v);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	assert_cnt(v, j, 1);
	assert_cnt(v, g, 1);
	assert_cnt(v, ret, 1);
	assert_cnt(v, after, 1);
	assert_cnt(v, b_after, 0);
	assert_cnt(v, pol, 0);
	env_free(v);
}
END_TEST

START_TEST(goto_from_base_then_return)
{
	struct env *v = env_new();
	uint32_t g, skipped, pol, a, ret;
	int in;

	/* INPUT: -g A; DROP; policy ACCEPT. A: RETURN -> empty stack -> underflow (policy). */
	bt_base(&v->t, IN);
	g = bt_rule(&v->t, BF_TGT_GOTO, 0);
	skipped = bt_rule(&v->t, BF_TGT_DROP, 0);
	pol = bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	a = bt_chain(&v->t, "A");
	ret = bt_rule(&v->t, BF_TGT_RETURN, 0);
	bt_end(&v->t);
	v->t.e[g].target.jump = a;
	load_activate(v);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	assert_cnt(v, g, 1);
	assert_cnt(v, ret, 1);
	assert_cnt(v, skipped, 0);
	assert_cnt(v, pol, 1);
	env_free(v);
}
END_TEST

START_TEST(return_in_base_chain)
{
	struct env *v = env_new();
	uint32_t r, d, pol;
	int in;

	bt_base(&v->t, IN);
	r = bt_rule(&v->t, BF_TGT_RETURN, 0);
	bt_src(&v->t, r, "10.0.0.1");
	d = bt_rule(&v->t, BF_TGT_DROP, 0);
	pol = bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	bt_end(&v->t);
	load_activate(v);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	pkt(v, "10.0.0.2");
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	assert_cnt(v, r, 1);
	assert_cnt(v, d, 1);
	assert_cnt(v, pol, 1);
	env_free(v);
}
END_TEST

START_TEST(jump_next_then_return)
{
	struct env *v = env_new();
	uint32_t j, r, pol;
	int in;

	/* A jump to the next entry is not pushed: the RETURN right after it sees an empty stack
	 * and goes to the underflow once (were it pushed, it would come back to itself). */
	bt_base(&v->t, IN);
	j = bt_rule(&v->t, BF_TGT_JUMP, 0);
	r = bt_rule(&v->t, BF_TGT_RETURN, 0);
	pol = bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	bt_end(&v->t);
	v->t.e[j].target.jump = r;
	load_activate(v);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	assert_cnt(v, j, 1);
	assert_cnt(v, r, 1);
	assert_cnt(v, pol, 1);
	env_free(v);
}
END_TEST

START_TEST(queue_and_error_drop)
{
	struct env *v = env_new();
	uint32_t q, g, pol, tail;
	int in;

	bt_base(&v->t, IN);
	q = bt_rule(&v->t, BF_TGT_QUEUE, 0);
	bt_src(&v->t, q, "10.0.0.1");
	g = bt_rule(&v->t, BF_TGT_GOTO, 0);
	bt_src(&v->t, g, "10.0.0.2");
	pol = bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	bt_end(&v->t);
	tail = v->t.m.n_entries - 1;
	v->t.e[g].target.jump = tail; /* lands on the ERROR tail */
	load_activate(v);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	pkt(v, "10.0.0.2");
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	pkt(v, "10.0.0.3");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	assert_cnt(v, q, 1);
	assert_cnt(v, g, 1);
	assert_cnt(v, tail, 1);
	assert_cnt(v, pol, 1);
	env_free(v);
}
END_TEST

START_TEST(jump_stack_overflow)
{
	struct env *v = env_new();
	uint32_t j, pol, a, ja, b, acc;
	int in;

	bt_base(&v->t, IN);
	j = bt_rule(&v->t, BF_TGT_JUMP, 0);
	pol = bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	a = bt_chain(&v->t, "A");
	ja = bt_rule(&v->t, BF_TGT_JUMP, 0);
	bt_rule(&v->t, BF_TGT_RETURN, 0);
	b = bt_chain(&v->t, "B");
	acc = bt_rule(&v->t, BF_TGT_ACCEPT, 0);
	bt_end(&v->t);
	v->t.e[j].target.jump = a;
	v->t.e[ja].target.jump = b;
	/* The kernel drops when the stack is full: stackidx >= stacksize. */
	v->t.m.stacksize = 1;
	load_activate(v);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	assert_cnt(v, j, 1);
	assert_cnt(v, ja, 1); /* counted before the check, as in ipt_do_table */
	assert_cnt(v, acc, 0);
	assert_cnt(v, pol, 0);
	ck_assert_uint_eq(errors(v), 0);
	bf_gen_free(v->g);
	v->g = NULL;
	/* With room for two frames it is accepted. */
	v->t.m.stacksize = 2;
	load_activate(v);
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	assert_cnt(v, acc, 1);
	env_free(v);
}
END_TEST

START_TEST(long_chain_split)
{
	struct env *v = env_new();
	const uint32_t n = 3000;
	uint32_t first = 0, last = 0, pol;
	char addr[32];
	const char *p;
	unsigned int regions = 0;
	int in;

	bt_base(&v->t, IN);
	for (uint32_t k = 0; k < n; k++) {
		uint32_t r = bt_rule(&v->t, BF_TGT_DROP, 0);

		snprintf(addr, sizeof(addr), "10.1.%u.%u", k / 250, k % 250 + 1);
		bt_src(&v->t, r, addr);
		if (!k)
			first = r;
		last = r;
	}
	pol = bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	bt_end(&v->t);
	/* This test is about splitting long linear regions: without this, its 3000 -s /32
	 * entries would be one classified run (codegen/classify.c). */
	bf_classify_set_enabled(false);
	load_activate(v);
	bf_classify_set_enabled(true);
	p = strstr(v->log.all, "entries in ");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p, "entries in %u regions", &regions), 1);
	ck_assert_msg(regions >= 4, "only %u regions", regions);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.2.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	snprintf(addr, sizeof(addr), "10.1.%u.%u", (n - 1) / 250, (n - 1) % 250 + 1);
	pkt(v, addr);
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	pkt(v, "10.1.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	assert_cnt(v, first, 1);
	assert_cnt(v, last, 1);
	assert_cnt(v, pol, 1);
	ck_assert_uint_eq(errors(v), 0);
	env_free(v);
}
END_TEST

/* INPUT -j C1; C1 -j C2; ... Cdepth: ACCEPT if the packet comes from 10.0.0.1, else RETURN all
 * the way back to the INPUT policy (DROP). */
/* INPUT jumps to C0, C0 to C1... down to C<depth-1>, which accepts 10.0.0.1; INPUT's policy is
 * DROP. With `shared`, a chain X that nothing enters also jumps to every chain, so no chain is
 * entered from one place only, and none is compiled inline. */
static void nested(struct env *v, unsigned int depth, bool shared)
{
	uint32_t jumps[64], heads[64], extra[64], j;

	bt_base(&v->t, IN);
	j = bt_rule(&v->t, BF_TGT_JUMP, 0);
	bt_policy(&v->t, IN, BF_TGT_DROP);
	if (shared) {
		bt_chain(&v->t, "X");
		for (unsigned int k = 0; k < depth; k++)
			extra[k] = bt_rule(&v->t, BF_TGT_JUMP, 0);
		bt_rule(&v->t, BF_TGT_RETURN, 0);
	}
	for (unsigned int k = 0; k < depth; k++) {
		char name[16];

		snprintf(name, sizeof(name), "C%u", k);
		heads[k] = bt_chain(&v->t, name);
		if (k + 1 < depth) {
			jumps[k] = bt_rule(&v->t, BF_TGT_JUMP, 0);
		} else {
			uint32_t a = bt_rule(&v->t, BF_TGT_ACCEPT, 0);

			bt_src(&v->t, a, "10.0.0.1");
		}
		bt_rule(&v->t, BF_TGT_RETURN, 0);
	}
	bt_end(&v->t);
	v->t.e[j].target.jump = heads[0];
	for (unsigned int k = 0; k + 1 < depth; k++)
		v->t.e[jumps[k]].target.jump = heads[k + 1];
	for (unsigned int k = 0; shared && k < depth; k++)
		v->t.e[extra[k]].target.jump = heads[k];
}

START_TEST(counting_rules_cost_no_tail_call)
{
	struct env *v = env_new();
	uint32_t first = 0, last = 0, pol;
	int in;

	/* iptables encodes a rule without a target as a jump to the next entry (and -g to the
	 * next entry is the same continue). 60 of them in a row must stay one region: were each
	 * a region, the packet would run out of its 33 tail calls and be dropped. */
	bt_base(&v->t, IN);
	for (int k = 0; k < 60; k++) {
		uint32_t r = bt_rule(&v->t, k % 2 ? BF_TGT_GOTO : BF_TGT_JUMP, 0);

		if (!k)
			first = r;
		last = r;
	}
	pol = bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	bt_end(&v->t);
	for (uint32_t r = first; r <= last; r++)
		v->t.e[r].target.jump = r + 1;
	load_activate(v);
	ck_assert_uint_eq(v->log.n_warn, 0);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	ck_assert_uint_eq(errors(v), 0);
	assert_cnt(v, first, 1);
	assert_cnt(v, last, 1);
	assert_cnt(v, pol, 1);
	env_free(v);
}
END_TEST

START_TEST(tail_call_budget)
{
	struct env *v = env_new();
	int in;

	/* 10 levels: 2 + 10 calls down, 10 returns: fits in 33. */
	nested(v, 10, true);
	load_activate(v);
	ck_assert_uint_eq(v->log.n_warn, 0);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	pkt(v, "10.0.0.2");
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	ck_assert_uint_eq(errors(v), 0);
	bf_gen_free(v->g);
	v->g = NULL;

	/* 25 levels: the way down fits (27), the way back does not: fail closed. */
	bt_init(&v->t);
	nested(v, 25, true);
	load_activate(v);
	ck_assert_uint_ge(v->log.n_warn, 1);
	ck_assert_ptr_nonnull(strstr(v->log.last_warn, "tail calls"));
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	ck_assert_uint_eq(errors(v), 0);
	pkt(v, "10.0.0.2");
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	ck_assert_uint_eq(errors(v), 1);
	/* The policy was never reached. */
	assert_cnt(v, 1, 0);
	env_free(v);
}
END_TEST

/*
 * Chains entered from one place only are compiled inline at their jump (gen.c compute_inline):
 * the same 25 levels cost no tail call at all, and every rule still counts as the kernel's.
 * Past BF_INLINE_MAX_ENTRIES entries, the outer levels keep their programs (and the packet its
 * tail calls), which is why this stays within the budget without a warning.
 */
START_TEST(single_caller_chains_inline)
{
	struct env *v = env_new();
	int in;

	nested(v, 25, false);
	load_activate(v);
	ck_assert_uint_eq(v->log.n_warn, 0);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	pkt(v, "10.0.0.2");
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	ck_assert_uint_eq(errors(v), 0);
	/* INPUT's jump (entry 0) twice, its policy once; each chain's jump twice and each
	 * RETURN once (10.0.0.2 only), the innermost ACCEPT once. */
	assert_cnt(v, 0, 2);
	assert_cnt(v, 1, 1);
	for (uint32_t k = 0; k < 25; k++) {
		uint32_t head = 3 + 3 * k; /* INPUT: 0-1, ERROR of C0: 2, its rules 3-4 */

		assert_cnt(v, head, k + 1 < 25 ? 2 : 1);
		assert_cnt(v, head + 1, 1);
	}
	env_free(v);
}
END_TEST

/* Packets keep flowing on another thread while generations are switched: every packet is
 * counted exactly once, in the generation it ran in. */
struct flood {
	int fd;
	const uint8_t *frame;
	uint32_t len;
	atomic_bool stop;
	atomic_ulong sent;
	int err;
};

static void *flood_fn(void *arg)
{
	struct flood *f = arg;

	uint8_t out[2048];
	/* Runs of many packets: a switch often comes while one is inside the old generation. */
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->frame, .data_size_in = f->len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 64);

	while (!atomic_load(&f->stop)) {
		if (bpf_prog_test_run_opts(f->fd, &o) || o.retval != TC_ACT_OK) {
			f->err = o.retval ? (int)o.retval : -errno;
			break;
		}
		atomic_fetch_add(&f->sent, 64);
	}
	return NULL;
}

START_TEST(switch_keeps_counts)
{
	struct env *v = env_new();
	struct flood f = {0};
	struct xt_counters c[4];
	uint64_t total = 0;
	pthread_t th;

	simple_table(&v->t, BF_TGT_ACCEPT, BF_TGT_DROP, BF_TGT_ACCEPT);
	load_activate(v);
	pkt(v, "10.0.0.1");
	f.fd = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	f.frame = v->frame;
	f.len = v->len;
	ck_assert_int_eq(pthread_create(&th, NULL, flood_fn, &f), 0);
	for (int k = 0; k < 50; k++) {
		struct bf_gen *next = NULL;

		usleep(500);
		ck_assert_int_eq(bf_gen_load(v->rt, &v->t.m, NULL, &next), 0);
		ck_assert_int_eq(bf_gen_activate(v->rt, next), 0);
		/* The old generation is out of use: its counters are final. */
		ck_assert_int_eq(bf_gen_read_counters(v->g, 4, c), 0);
		total += c[0].pcnt;
		bf_gen_free(v->g);
		v->g = next;
	}
	atomic_store(&f.stop, true);
	pthread_join(th, NULL);
	ck_assert_int_eq(f.err, 0);
	ck_assert_int_eq(bf_gen_read_counters(v->g, 4, c), 0);
	total += c[0].pcnt;
	ck_assert_uint_gt(atomic_load(&f.sent), 0);
	ck_assert_uint_eq(total, atomic_load(&f.sent));
	env_free(v);
}
END_TEST

/* Every CPU's pkt->gen_seq (libbpf_num_possible_cpus() of them) into seq[]. */
static void gen_seq_read(struct env *v, uint64_t *seq, int ncpu)
{
	_cleanup_free_ struct bf_pkt *p = calloc((size_t)ncpu, sizeof(*p));
	uint32_t k = 0;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(bpf_map_lookup_elem(v->rt->ctx_fd, &k, p), 0);
	for (int i = 0; i < ncpu; i++)
		seq[i] = p[i].gen_seq;
}

/* Set CPU `cpu`'s pkt->gen_seq, as a run of a generation there would. */
static void gen_seq_set(struct env *v, int ncpu, int cpu, uint64_t val)
{
	_cleanup_free_ struct bf_pkt *p = calloc((size_t)ncpu, sizeof(*p));
	uint32_t k = 0;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(bpf_map_lookup_elem(v->rt->ctx_fd, &k, p), 0);
	p[cpu].gen_seq = val;
	ck_assert_int_eq(bpf_map_update_elem(v->rt->ctx_fd, &k, p, BPF_ANY), 0);
}

/* The dispatcher marks each run of a generation: +1 before, +1 after, so even between runs. */
START_TEST(dispatcher_marks_generation_runs)
{
	struct env *v = env_new();
	int ncpu = libbpf_num_possible_cpus();
	uint64_t before[64], after[64], sum_b = 0, sum_a = 0;
	int in;

	ck_assert_int_le(ncpu, 64);
	simple_table(&v->t, BF_TGT_DROP, BF_TGT_DROP, BF_TGT_ACCEPT);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.0.0.1");
	gen_seq_read(v, before, ncpu);
	ck_assert_int_eq(run(v, in), TC_ACT_OK); /* no generation: the dispatcher passes */
	load_activate(v);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(run(v, in), TC_ACT_SHOT); /* the generation's verdict came back */
	gen_seq_read(v, after, ncpu);
	for (int i = 0; i < ncpu; i++) {
		ck_assert_msg((after[i] & 1) == 0, "cpu %d: %llu -> %llu", i,
			      (unsigned long long)before[i], (unsigned long long)after[i]);
		sum_b += before[i];
		sum_a += after[i];
	}
	ck_assert_uint_eq(sum_a - sum_b, 12);
	env_free(v);
}
END_TEST

struct quiesce_arg {
	struct env *v;
	atomic_bool done;
	int r;
};

static void *quiesce_fn(void *arg)
{
	struct quiesce_arg *q = arg;

	q->r = bf_runtime_quiesce(q->v->rt);
	atomic_store(&q->done, true);
	return NULL;
}

/* bf_runtime_quiesce() waits while a CPU is inside a run (odd), until its value changes. */
START_TEST(quiesce_waits_for_runs)
{
	struct env *v = env_new();
	int ncpu = libbpf_num_possible_cpus();
	struct quiesce_arg q = {.v = v};
	int cpu = ncpu - 1;
	pthread_t th;

	gen_seq_set(v, ncpu, cpu, 41);
	ck_assert_int_eq(pthread_create(&th, NULL, quiesce_fn, &q), 0);
	usleep(20000);
	ck_assert_msg(!atomic_load(&q.done), "returned while CPU %d is inside a run", cpu);
	gen_seq_set(v, ncpu, cpu, 42);
	pthread_join(th, NULL);
	ck_assert_int_eq(q.r, 0);
	/* An even value, or an odd one that started after the call, is not waited for. */
	gen_seq_set(v, ncpu, cpu, 42);
	ck_assert_int_eq(bf_runtime_quiesce(v->rt), 0);
	env_free(v);
}
END_TEST

START_TEST(no_fd_leak)
{
	struct env *v = env_new();
	int before;

	nested(v, 3, true);
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

START_TEST(dispatcher_checks)
{
	struct env *v = env_new();
	int in;

	simple_table(&v->t, BF_TGT_DROP, BF_TGT_DROP, BF_TGT_DROP);
	load_activate(v);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	/* Ethernet padding is not counted: bytes are the IP length. */
	v->len = bt_udp(v->frame, "10.0.0.1", "10.0.0.9", 2, 20);
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	assert_cnt(v, 0, 1);
	/* Bad header checksum: the kernel drops it in ip_rcv_core, before INPUT. */
	v->frame[14 + 10] ^= 0x55;
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	v->frame[14 + 10] ^= 0x55;
	/* The header checksum over every header length (IP options: NOPs), against the host's
	 * own sum: a good one meets the chain, any one flipped bit of it passes unfiltered. */
	srand(7);
	for (int k = 0; k < 200; k++) {
		uint8_t *ip = v->frame + 14, hl = (uint8_t)(20 + 4 * (k % 11)), bit;
		uint16_t c;

		v->len = bt_udp(v->frame, "10.0.0.1", "10.0.0.9", 2, 0);
		memmove(ip + hl, ip + 20, 8 + 2);
		memset(ip + 20, 1, hl - 20u);
		ip[0] = (uint8_t)(0x40 | hl / 4);
		ip[1] = (uint8_t)rand();
		ip[3] = (uint8_t)(hl + 8 + 2);
		ip[4] = (uint8_t)rand();
		ip[5] = (uint8_t)rand();
		ip[8] = (uint8_t)(1 + rand() % 255);
		ip[10] = ip[11] = 0;
		c = bt_csum(ip, hl);
		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
		v->len = 14 + hl + 8 + 2;
		ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
		bit = (uint8_t)(rand() % 8);
		ip[k % 2 ? 10 + k % 2 : 4 + k % 6] ^= (uint8_t)(1u << bit);
		ck_assert_int_eq(run(v, in), TC_ACT_OK);
	}
	{
		struct xt_counters c[BT_MAX_ENTRIES];

		ck_assert_int_eq(bf_gen_read_counters(v->g, v->t.m.n_entries, c), 0);
		ck_assert_uint_eq(c[0].pcnt, 201);
	}
	/* tot_len beyond the frame. */
	v->len = bt_udp(v->frame, "10.0.0.1", "10.0.0.9", 2, 0);
	v->len -= 1;
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	/* Not IPv4 (ARP). */
	v->len = bt_udp(v->frame, "10.0.0.1", "10.0.0.9", 2, 0);
	v->frame[12] = 0x08;
	v->frame[13] = 0x06;
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	env_free(v);
}
END_TEST

START_TEST(local_route_decision)
{
	struct env *v = env_new();
	struct in_addr a;
	int in, out;

	/* A new namespace: forwarding is off there, so a non-local packet meets no chain. */
	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
	simple_table(&v->t, BF_TGT_DROP, BF_TGT_DROP, BF_TGT_DROP);
	load_activate(v);
	in = disp(v, BF_DISPATCH_TC_INGRESS, -1);
	out = disp(v, BF_DISPATCH_TC_EGRESS, -1);
	inet_pton(AF_INET, "10.0.0.9", &a);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	assert_cnt(v, 0, 0);
	ck_assert_int_eq(bf_runtime_add_lroute(v->rt, AF_INET, &a, 32), 0);
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	assert_cnt(v, 0, 1);
	ck_assert_int_eq(bf_runtime_del_lroute(v->rt, AF_INET, &a, 32), 0);
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	/* Multicast and limited broadcast are INPUT. */
	v->len = bt_udp(v->frame, "10.0.0.1", "224.0.0.5", 100, 0);
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	v->len = bt_udp(v->frame, "10.0.0.1", "255.255.255.255", 100, 0);
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	/* Egress of a locally generated packet is OUTPUT. */
	ck_assert_int_eq(run(v, out), TC_ACT_SHOT);
	assert_cnt(v, 0, 3);
	assert_cnt(v, 2, 1);
	env_free(v);
}
END_TEST

START_TEST(interface_name)
{
	struct env *v = env_new();
	uint32_t r;
	int in;

	/* BPF_PROG_TEST_RUN runs on the namespace's loopback (ifindex 1). */
	bt_base(&v->t, IN);
	r = bt_rule(&v->t, BF_TGT_DROP, 0);
	strcpy(v->t.ip[r].v4.iniface, "lo");
	memset(v->t.ip[r].v4.iniface_mask, 0xff, 3);
	bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	bt_end(&v->t);
	load_activate(v);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	ck_assert_int_eq(bf_runtime_set_ifname(v->rt, 1, "lo"), 0);
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	ck_assert_int_eq(bf_runtime_del_ifname(v->rt, 1), 0);
	ck_assert_int_eq(run(v, in), TC_ACT_OK);
	assert_cnt(v, r, 1);
	env_free(v);
}
END_TEST

START_TEST(xdp_input)
{
	struct env *v = env_new();
	struct bf_gen_opts o = {.xdp_input = true};
	struct bf_dispatch_cfg cfg = {.where = BF_DISPATCH_XDP, .l2_len = 14, .force_hook = IN};
	uint32_t r;
	int x = -1;

	bt_base(&v->t, IN);
	r = bt_rule(&v->t, BF_TGT_DROP, 0);
	bt_src(&v->t, r, "10.0.0.1");
	bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	bt_base(&v->t, OUT);
	bt_policy(&v->t, OUT, BF_TGT_DROP);
	bt_end(&v->t);
	ck_assert_int_eq(bf_gen_load(v->rt, &v->t.m, &o, &v->g), 0);
	ck_assert_int_ge(bf_gen_entry_fd(v->g, true), 0);
	ck_assert_int_eq(bf_gen_activate(v->rt, v->g), 0);
	ck_assert_int_eq(bf_dispatch_load(v->rt, &cfg, &x), 0);
	pkt(v, "10.0.0.1");
	ck_assert_int_eq(run(v, x), XDP_DROP);
	pkt(v, "10.0.0.2");
	ck_assert_int_eq(run(v, x), XDP_PASS);
	assert_cnt(v, r, 1);
	assert_cnt(v, r + 1, 1);
	env_free(v);
}
END_TEST

/* Transport fields filled by the dispatcher reach a match module (udp --dport). */
START_TEST(udp_dport_through_dispatcher)
{
	struct env *v = env_new();
	const struct bf_ext *udp = NULL;
	struct xt_udp m53 = {.spts = {0, 0xffff}, .dpts = {53, 53}};
	struct xt_udp m54 = {.spts = {0, 0xffff}, .dpts = {54, 54}};
	struct bf_match ms[2];
	uint32_t r1, r2;
	int in;

	ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, "udp", 0, &udp), 0);
	ms[0] = (struct bf_match){.ext = udp, .data = &m54, .data_len = sizeof(m54)};
	ms[1] = (struct bf_match){.ext = udp, .data = &m53, .data_len = sizeof(m53)};
	bt_base(&v->t, IN);
	r1 = bt_rule(&v->t, BF_TGT_DROP, 0);
	v->t.ip[r1].v4.proto = IPPROTO_UDP;
	v->t.e[r1].n_matches = 1;
	v->t.e[r1].matches = &ms[0];
	r2 = bt_rule(&v->t, BF_TGT_DROP, 0);
	v->t.ip[r2].v4.proto = IPPROTO_UDP;
	v->t.e[r2].n_matches = 1;
	v->t.e[r2].matches = &ms[1];
	bt_policy(&v->t, IN, BF_TGT_ACCEPT);
	bt_end(&v->t);
	load_activate(v);
	in = disp(v, BF_DISPATCH_TC_INGRESS, IN);
	pkt(v, "10.0.0.1"); /* dport 53 */
	ck_assert_int_eq(run(v, in), TC_ACT_SHOT);
	assert_cnt(v, r1, 0);
	assert_cnt(v, r2, 1);
	env_free(v);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gen");
	TCase *tc = tcase_create("gen");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, policies);
	tcase_add_test(tc, no_generation_passes);
	tcase_add_test(tc, rule_match);
	tcase_add_test(tc, jump_return);
	tcase_add_test(tc, goto_and_return_underflow);
	tcase_add_test(tc, goto_from_base_then_return);
	tcase_add_test(tc, return_in_base_chain);
	tcase_add_test(tc, jump_next_then_return);
	tcase_add_test(tc, queue_and_error_drop);
	tcase_add_test(tc, jump_stack_overflow);
	tcase_add_test(tc, long_chain_split);
	tcase_add_test(tc, tail_call_budget);
	tcase_add_test(tc, single_caller_chains_inline);
	tcase_add_test(tc, counting_rules_cost_no_tail_call);
	tcase_add_test(tc, switch_keeps_counts);
	tcase_add_test(tc, dispatcher_marks_generation_runs);
	tcase_add_test(tc, quiesce_waits_for_runs);
	tcase_add_test(tc, no_fd_leak);
	tcase_add_test(tc, dispatcher_checks);
	tcase_add_test(tc, local_route_decision);
	tcase_add_test(tc, interface_name);
	tcase_add_test(tc, xdp_input);
	tcase_add_test(tc, udp_dport_through_dispatcher);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return bf_check_run(suite());
}
