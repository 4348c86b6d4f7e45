// SPDX-License-Identifier: GPL-2.0-only
/* net/if.h before the kernel's headers (ct_harness.h) */
#include <net/if.h>
#include <check.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/pkt_cls.h>

#include "codegen/abi.h"
#include "ct_harness.h"

struct ct_env *ct_env_new(uint8_t family)
{
	struct ct_env *v = calloc(1, sizeof(*v));

	ck_assert_ptr_nonnull(v);
	v->in = v->out = v->xdp = -1;
	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
	ck_assert_int_eq(
		system("ip link add bfct0 type veth peer name bfct1 && ip link set bfct0 up"), 0);
	v->ifindex = (int)if_nametoindex("bfct0");
	ck_assert_int_gt(v->ifindex, 1);
	bt_log_init(&v->log);
	ck_assert_int_eq(bf_runtime_new(&v->log.log, &v->rt), 0);
	bt_init(&v->t);
	v->t.m.family = family;
	return v;
}

void ct_env_load(struct ct_env *v, const struct bf_gen_opts *go, bool xdp)
{
	struct bf_dispatch_cfg cx = {.where = BF_DISPATCH_XDP, .l2_len = 14, .force_hook = IN};
	struct bf_dispatch_cfg ci = {
		.where = BF_DISPATCH_TC_INGRESS, .l2_len = 14, .force_hook = IN};
	struct bf_dispatch_cfg co = {
		.where = BF_DISPATCH_TC_EGRESS, .l2_len = 14, .force_hook = OUT};

	bt_end(&v->t);
	ck_assert_int_eq(bf_gen_load(v->rt, &v->t.m, go, &v->g), 0);
	ck_assert_int_eq(bf_gen_activate(v->rt, v->g), 0);
	ck_assert_int_eq(bf_dispatch_load(v->rt, &ci, &v->in), 0);
	ck_assert_int_eq(bf_dispatch_load(v->rt, &co, &v->out), 0);
	if (xdp)
		ck_assert_int_eq(bf_dispatch_load(v->rt, &cx, &v->xdp), 0);
}

void ct_env_free(struct ct_env *v)
{
	if (v->in >= 0)
		close(v->in);
	if (v->out >= 0)
		close(v->out);
	if (v->xdp >= 0)
		close(v->xdp);
	bf_gen_free(v->g);
	bf_runtime_free(v->rt);
	free(v);
}

int ct_run(struct ct_env *v, bool dir_in, int n, uint32_t drop_mask)
{
	struct xt_counters before[BT_MAX_ENTRIES], after[BT_MAX_ENTRIES];
	uint32_t first = v->first[dir_in ? 0 : 1];
	int r, found = -1;

	ck_assert_int_eq(bf_gen_read_counters(v->g, v->t.m.n_entries, before), 0);
	if (dir_in && v->xdp >= 0) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = v->f, .data_size_in = v->len);

		/* INPUT at XDP: the verdicts are XDP's */
		r = bpf_prog_test_run_opts(v->xdp, &o);
		ck_assert_int_eq(r, 0);
		ck_assert(o.retval == XDP_PASS || o.retval == XDP_DROP);
		r = o.retval == XDP_PASS ? TC_ACT_OK : TC_ACT_SHOT;
	} else {
		struct __sk_buff skb = {.ifindex = (uint32_t)v->ifindex};
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = v->f, .data_size_in = v->len,
			    .ctx_in = &skb, .ctx_size_in = sizeof(skb));

		r = bpf_prog_test_run_opts(dir_in ? v->in : v->out, &o);
		ck_assert_int_eq(r, 0);
		r = (int)o.retval;
	}
	ck_assert_int_ge(r, 0);
	ck_assert_int_eq(bf_gen_read_counters(v->g, v->t.m.n_entries, after), 0);
	for (int s = 0; s < n; s++) {
		if (after[first + s].pcnt != before[first + s].pcnt) {
			ck_assert_msg(found < 0, "two rules counted one packet");
			found = s;
		}
	}
	ck_assert_msg(found >= 0, "no rule counted the packet");
	ck_assert_int_eq(r, drop_mask & (1u << found) ? TC_ACT_SHOT : TC_ACT_OK);
	return found;
}

static void put32(uint8_t *p, uint32_t x)
{
	p[0] = (uint8_t)(x >> 24);
	p[1] = (uint8_t)(x >> 16);
	p[2] = (uint8_t)(x >> 8);
	p[3] = (uint8_t)x;
}

uint32_t ct_tcp_hdr(uint8_t *l4, bool dir_in, uint8_t flags, uint32_t seq, uint32_t ack,
		    uint16_t win, uint8_t wscale)
{
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
	return hl;
}

uint16_t ct_csum16(const uint8_t *p, unsigned int len, uint32_t sum)
{
	for (unsigned int i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}
