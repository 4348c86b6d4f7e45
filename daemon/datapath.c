// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's datapath: one bf_runtime, the generations of each table, dispatchers on every
 * interface (TC ingress/egress, XDP for INPUT with --xdp), kept current by the rtnetlink watch.
 */
#include "datapath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if.h>
#include <net/if_arp.h>

#include <bpfilter/cleanup.h>

#include "../codegen/codegen.h"
#include "attach.h"
#include "ifwatch.h"

#define DP_WHERE_N (BF_DISPATCH_XDP + 1)

enum dp_l2 { DP_L2_ETH, DP_L2_NONE, DP_L2_N };

struct dp_iface {
	uint32_t ifindex;
	char name[IFNAMSIZ];
	struct bfd_link_att att;
};

/* The generation of a table that packets currently use. */
struct dp_table {
	int family;
	char name[XT_TABLE_MAXNAMELEN];
	struct bf_gen *cur;
};

struct bfd_datapath {
	struct bfd_datapath_opts opts;
	struct bf_log log;
	struct bf_runtime *rt;
	struct bfd_ifwatch *watch;
	struct xt_datapath xt;
	/* Dispatchers depend only on where they run, the L2 header length and (TC ingress)
	 * whether INPUT is left to XDP: one program serves every interface of a kind. */
	int disp[DP_WHERE_N][DP_L2_N][2];
	struct dp_iface *ifs;
	size_t n_ifs, cap_ifs;
	struct dp_table *tables;
	size_t n_tables;
	/* Every generation handed to the store and not yet released. */
	struct bf_gen **gens;
	size_t n_gens, cap_gens;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *where_str(enum bf_dispatch_where where)
{
	switch (where) {
	case BF_DISPATCH_TC_INGRESS:
		return "TC ingress";
	case BF_DISPATCH_TC_EGRESS:
		return "TC egress";
	case BF_DISPATCH_XDP:
		return "XDP";
	}
	return "?";
}

static int dispatcher(struct bfd_datapath *dp, enum bf_dispatch_where where, enum dp_l2 l2,
		      bool xdp_input, int *fd)
{
	int *slot = &dp->disp[where][l2][xdp_input];
	struct bf_dispatch_cfg cfg = {
		.where = where,
		.l2_len = l2 == DP_L2_ETH ? 14 : 0,
		.xdp_input = xdp_input,
		.force_hook = -1,
	};
	int r;

	if (*slot < 0) {
		r = bf_dispatch_load(dp->rt, &cfg, slot);
		if (r) {
			bf_logf(&dp->log, BF_LOG_ERR,
				"loading the %s dispatcher (L2 header %u) failed: %s",
				where_str(where), cfg.l2_len, strerror(-r));
			return r;
		}
	}
	*fd = *slot;
	return 0;
}

static struct dp_iface *iface_find(struct bfd_datapath *dp, uint32_t ifindex, size_t *pos)
{
	for (size_t i = 0; i < dp->n_ifs; i++) {
		if (dp->ifs[i].ifindex == ifindex) {
			if (pos)
				*pos = i;
			return &dp->ifs[i];
		}
	}
	return NULL;
}

static int attach_iface(struct bfd_datapath *dp, struct dp_iface *ifc, enum dp_l2 l2)
{
	bool xdp_input = false;
	int in_fd, out_fd, xdp_fd;
	int r;

	if (dp->opts.xdp_input) {
		r = dispatcher(dp, BF_DISPATCH_XDP, l2, false, &xdp_fd);
		if (r)
			return r;
		r = bfd_attach_xdp(&dp->log, ifc->name, ifc->ifindex, xdp_fd, &ifc->att);
		if (r == -ENODEV)
			return r;
		/* Without XDP here, INPUT must run at TC ingress rather than nowhere. */
		if (r)
			bf_logf(&dp->log, BF_LOG_WARN,
				"%s: INPUT runs at TC ingress instead of XDP", ifc->name);
		else
			xdp_input = true;
	}
	r = dispatcher(dp, BF_DISPATCH_TC_INGRESS, l2, xdp_input, &in_fd);
	if (r)
		return r;
	r = dispatcher(dp, BF_DISPATCH_TC_EGRESS, l2, false, &out_fd);
	if (r)
		return r;
	return bfd_attach_tc(&dp->log, ifc->name, ifc->ifindex, in_fd, out_fd, &ifc->att);
}

static void on_link_add(void *ctx, uint32_t ifindex, const char *name, uint16_t type,
			uint64_t seen_ns)
{
	struct bfd_datapath *dp = ctx;
	struct dp_iface *ifc;
	enum dp_l2 l2;
	int r;

	r = bf_runtime_set_ifname(dp->rt, ifindex, name);
	if (r)
		bf_logf(&dp->log, BF_LOG_ERR, "%s: recording the interface name failed: %s", name,
			strerror(-r));

	switch (type) {
	case ARPHRD_ETHER:
	case ARPHRD_LOOPBACK:
		l2 = DP_L2_ETH;
		break;
	case ARPHRD_NONE:
		l2 = DP_L2_NONE;
		break;
	default:
		bf_logf(&dp->log, BF_LOG_WARN,
			"%s: link type %u is not filtered (only Ethernet, loopback and raw IP)",
			name, type);
		return;
	}

	if (dp->n_ifs == dp->cap_ifs) {
		size_t ncap = dp->cap_ifs ? dp->cap_ifs * 2 : 16;
		struct dp_iface *p = reallocarray(dp->ifs, ncap, sizeof(*p));

		if (!p) {
			bf_logf(&dp->log, BF_LOG_ERR, "%s: not filtered: out of memory", name);
			return;
		}
		dp->ifs = p;
		dp->cap_ifs = ncap;
	}
	ifc = &dp->ifs[dp->n_ifs++];
	memset(ifc, 0, sizeof(*ifc));
	ifc->ifindex = ifindex;
	strncpy(ifc->name, name, IFNAMSIZ - 1);

	r = attach_iface(dp, ifc, l2);
	if (r == -ENODEV) {
		/* It went away while we attached: its removal notification follows. */
		bf_logf(&dp->log, BF_LOG_DEBUG, "%s: disappeared while attaching", name);
		bfd_detach(&dp->log, ifc->name, &ifc->att);
		return;
	}
	if (r)
		return; /* logged with the interface name; what is attached is detached at exit */
	bf_logf(&dp->log, BF_LOG_DEBUG,
		"%s (ifindex %u): dispatchers attached %.3f ms after it appeared", name, ifindex,
		(double)(now_ns() - seen_ns) / 1e6);
}

static void on_link_rename(void *ctx, uint32_t ifindex, const char *name)
{
	struct bfd_datapath *dp = ctx;
	struct dp_iface *ifc = iface_find(dp, ifindex, NULL);
	int r;

	r = bf_runtime_set_ifname(dp->rt, ifindex, name);
	if (r)
		bf_logf(&dp->log, BF_LOG_ERR, "%s: recording the new interface name failed: %s",
			name, strerror(-r));
	if (ifc) {
		bf_logf(&dp->log, BF_LOG_DEBUG, "%s renamed to %s", ifc->name, name);
		memset(ifc->name, 0, sizeof(ifc->name));
		strncpy(ifc->name, name, IFNAMSIZ - 1);
	}
}

static void on_link_del(void *ctx, uint32_t ifindex)
{
	struct bfd_datapath *dp = ctx;
	size_t pos;
	int r;

	r = bf_runtime_del_ifname(dp->rt, ifindex);
	if (r && r != -ENOENT)
		bf_logf(&dp->log, BF_LOG_WARN, "ifindex %u: removing the interface name failed: %s",
			ifindex, strerror(-r));
	/* The kernel removed its qdisc and programs with the device. */
	if (iface_find(dp, ifindex, &pos)) {
		bf_logf(&dp->log, BF_LOG_DEBUG, "%s (ifindex %u) removed", dp->ifs[pos].name,
			ifindex);
		dp->ifs[pos] = dp->ifs[--dp->n_ifs];
	}
}

static void on_lroute_add(void *ctx, int family, const void *addr, uint8_t plen)
{
	struct bfd_datapath *dp = ctx;
	int r;

	r = bf_runtime_add_lroute(dp->rt, family, addr, plen);
	if (r)
		bf_logf(&dp->log, BF_LOG_ERR, "adding a local route (/%u) failed: %s", plen,
			strerror(-r));
}

static void on_lroute_del(void *ctx, int family, const void *addr, uint8_t plen)
{
	struct bfd_datapath *dp = ctx;
	int r;

	r = bf_runtime_del_lroute(dp->rt, family, addr, plen);
	if (r && r != -ENOENT)
		bf_logf(&dp->log, BF_LOG_ERR, "removing a local route (/%u) failed: %s", plen,
			strerror(-r));
}

/* The store's view. */

static int xt_prepare(void *ctx, const struct bf_table_model *m, void **gen)
{
	struct bfd_datapath *dp = ctx;
	struct bf_gen_opts gopts = {.xdp_input = dp->opts.xdp_input};
	struct bf_gen *g;
	int r;

	if (dp->n_gens == dp->cap_gens) {
		size_t ncap = dp->cap_gens ? dp->cap_gens * 2 : 4;
		struct bf_gen **p = reallocarray(dp->gens, ncap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		dp->gens = p;
		dp->cap_gens = ncap;
	}
	r = bf_gen_load(dp->rt, m, &gopts, &g);
	if (r)
		return r;
	dp->gens[dp->n_gens++] = g;
	*gen = g;
	return 0;
}

static struct dp_table *table_get(struct bfd_datapath *dp, const struct bf_table_model *m)
{
	struct dp_table *t;

	for (size_t i = 0; i < dp->n_tables; i++) {
		t = &dp->tables[i];
		if (t->family == m->family && strncmp(t->name, m->name, sizeof(t->name)) == 0)
			return t;
	}
	t = reallocarray(dp->tables, dp->n_tables + 1, sizeof(*t));
	if (!t)
		return NULL;
	dp->tables = t;
	t = &dp->tables[dp->n_tables++];
	memset(t, 0, sizeof(*t));
	t->family = m->family;
	memcpy(t->name, m->name, sizeof(t->name) - 1);
	return t;
}

static int xt_commit(void *ctx, const struct bf_table_model *m, void *gen)
{
	struct bfd_datapath *dp = ctx;
	struct dp_table *t = table_get(dp, m);
	int r;

	if (!t)
		return -ENOMEM;
	r = bf_gen_activate(dp->rt, gen);
	if (r)
		return r;
	/* The previous generation is quiescent now; the store reads its final counters and
	 * releases it. */
	t->cur = gen;
	return 0;
}

static int xt_read(void *ctx, void *gen, uint32_t n, struct xt_counters *out)
{
	return bf_gen_read_counters(gen, n, out);
}

static void gen_free(struct bfd_datapath *dp, struct bf_gen *g)
{
	uint64_t errs = 0;

	if (!bf_gen_read_errors(g, &errs) && errs)
		bf_logf(&dp->log, BF_LOG_WARN,
			"%llu packets were dropped because a tail call failed (fail closed)",
			(unsigned long long)errs);
	bf_gen_free(g);
}

static void xt_release(void *ctx, void *gen)
{
	struct bfd_datapath *dp = ctx;

	if (!gen)
		return;
	for (size_t i = 0; i < dp->n_tables; i++) {
		if (dp->tables[i].cur == gen)
			dp->tables[i].cur = NULL;
	}
	for (size_t i = 0; i < dp->n_gens; i++) {
		if (dp->gens[i] == gen) {
			dp->gens[i] = dp->gens[--dp->n_gens];
			break;
		}
	}
	gen_free(dp, gen);
}

int bfd_datapath_new(const struct bfd_datapath_opts *opts, const struct bf_log *log,
		     struct bfd_datapath **out)
{
	struct bfd_ifwatch_ops wops = {
		.link_add = on_link_add,
		.link_rename = on_link_rename,
		.link_del = on_link_del,
		.lroute_add = on_lroute_add,
		.lroute_del = on_lroute_del,
	};
	struct bfd_datapath *dp;
	int fd, r;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	if (opts)
		dp->opts = *opts;
	if (log)
		dp->log = *log;
	for (size_t w = 0; w < DP_WHERE_N; w++)
		for (size_t l = 0; l < DP_L2_N; l++)
			dp->disp[w][l][0] = dp->disp[w][l][1] = -1;
	dp->xt = (struct xt_datapath){
		.ctx = dp,
		.prepare = xt_prepare,
		.commit = xt_commit,
		.read = xt_read,
		.release = xt_release,
	};

	r = bf_runtime_new(&dp->log, &dp->rt);
	if (r) {
		bf_logf(&dp->log, BF_LOG_ERR, "creating the BPF runtime failed: %s", strerror(-r));
		goto err;
	}
	/* Load the Ethernet dispatchers now: a dispatcher the verifier refuses is a fatal error
	 * at start, not a log line per interface. */
	r = dispatcher(dp, BF_DISPATCH_TC_INGRESS, DP_L2_ETH, dp->opts.xdp_input, &fd);
	if (!r)
		r = dispatcher(dp, BF_DISPATCH_TC_EGRESS, DP_L2_ETH, false, &fd);
	if (!r && dp->opts.xdp_input)
		r = dispatcher(dp, BF_DISPATCH_XDP, DP_L2_ETH, false, &fd);
	if (r)
		goto err;

	wops.ctx = dp;
	r = bfd_ifwatch_new(&wops, &dp->log, &dp->watch);
	if (r)
		goto err;
	*out = dp;
	return 0;
err:
	bfd_datapath_free(dp);
	return r;
}

void bfd_datapath_free(struct bfd_datapath *dp)
{
	if (!dp)
		return;
	bfd_ifwatch_free(dp->watch);
	for (size_t i = 0; i < dp->n_ifs; i++)
		bfd_detach(&dp->log, dp->ifs[i].name, &dp->ifs[i].att);
	free(dp->ifs);
	/* The store should have released them; whatever is left is ours to free. */
	if (dp->n_gens)
		bf_logf(&dp->log, BF_LOG_DEBUG, "freeing %zu unreleased generation(s)", dp->n_gens);
	for (size_t i = 0; i < dp->n_gens; i++)
		gen_free(dp, dp->gens[i]);
	free(dp->gens);
	free(dp->tables);
	for (size_t w = 0; w < DP_WHERE_N; w++)
		for (size_t l = 0; l < DP_L2_N; l++)
			for (size_t x = 0; x < 2; x++)
				if (dp->disp[w][l][x] >= 0)
					close(dp->disp[w][l][x]);
	bf_runtime_free(dp->rt);
	free(dp);
}

const struct xt_datapath *bfd_datapath_ops(struct bfd_datapath *dp)
{
	return &dp->xt;
}

int bfd_datapath_fd(const struct bfd_datapath *dp)
{
	return bfd_ifwatch_fd(dp->watch);
}

int bfd_datapath_process(struct bfd_datapath *dp)
{
	return bfd_ifwatch_process(dp->watch);
}
