// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's datapath: one bf_runtime, the generations of each table, dispatchers on every
 * interface (TC ingress/egress, XDP for INPUT with --xdp), kept current by the rtnetlink watch.
 */
/* Before any linux/ header: glibc's in.h refuses to come after linux/in.h. */
#include <netinet/in.h>

#include "datapath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/magic.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <net/if_arp.h>

#include <bpf/bpf.h>

#include <bpfilter/cleanup.h>

#include "../codegen/codegen.h"
#include "../codegen/target/targets.h"
#include "attach.h"
#include "caps.h"
#include "ifwatch.h"
#include "state.h"

#define DP_WHERE_N (BF_DISPATCH_XDP + 1)
/* The rtnetlink thread's nice value: ahead of the request path and of ordinary processes, so
 * that on a loaded machine a new interface still gets its filter before it is configured. */
#define DP_WATCH_NICE (-10)

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
	uint64_t cur_id; /* its pin directory: gen-<id> */
};

/* A generation handed to the store and not yet released. */
struct dp_gen {
	struct bf_gen *g;
	uint64_t id;
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
	struct dp_gen *gens;
	size_t n_gens, cap_gens;
	/* Persistence (doc/design.md, "Persistence"); all unused without opts.pin_dir. */
	char *pin_dir;
	uint64_t next_gen_id;
	bool started;
	bool restoring; /* commits record the generation but leave the root alone */
	bool dirty;	/* a table changed since the state was last written */
	struct bfd_state *state;
	struct xt_store *store;
	/* Roots of an incompatible predecessor, held until our dispatchers replaced its own. */
	int old_root_fd[2];
	/*
	 * The watch thread (bfd_datapath_watch_start): from its start to its join it alone uses
	 * watch, ifs, disp and the runtime's ifname and lroute maps; the request path (prepare,
	 * commit, read, release, persistence) uses the generations, tables and state and never
	 * those. Neither reads what the other writes, so no lock is needed; pthread_create and
	 * pthread_join order the hand-over. Whatever the request path is doing (a replace can
	 * compile for seconds), a new interface is attached within milliseconds.
	 */
	pthread_t watch_thread;
	bool watch_running;
	int watch_stop_fd; /* eventfd: tells the thread to return */
	sem_t watch_ready; /* posted once the thread set its priority and dropped capabilities */
	int watch_init_r;
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
	/* tests/e2e/churn.sh reads this line: the delay from RTM_NEWLINK to attached. */
	bf_logf(&dp->log, BF_LOG_DEBUG,
		"%s (ifindex %u): dispatchers attached %.3f ms after RTM_NEWLINK was read", name,
		ifindex, (double)(now_ns() - seen_ns) / 1e6);
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

static void on_rtype_set(void *ctx, int family, const void *addr, uint8_t plen,
			 const struct bfd_rtype *v)
{
	struct bfd_datapath *dp = ctx;
	struct bf_rtype rv = {};
	int r;

	if (v) {
		rv.type = v->type;
		rv.flags = v->flags & BFD_RTYPE_F_GATEWAY ? BF_RTYPE_F_GATEWAY : 0;
		rv.oif = v->oif;
	}
	r = bf_runtime_set_rtype(dp->rt, family, addr, plen, v ? &rv : NULL);
	if (r && !(r == -ENOENT && !v))
		bf_logf(&dp->log, BF_LOG_ERR, "route type of a prefix (/%u): %s", plen,
			strerror(-r));
}

/* The store's view. */

static int gen_dir(const struct bfd_datapath *dp, uint64_t id, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/gen-%llu", dp->pin_dir, (unsigned long long)id);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void gen_free(struct bfd_datapath *dp, struct bf_gen *g);
static void watch_stop(struct bfd_datapath *dp);

static int xt_prepare(void *ctx, const struct bf_table_model *m, void **gen)
{
	struct bfd_datapath *dp = ctx;
	struct bf_gen_opts gopts = {.xdp_input = dp->opts.xdp_input};
	char dir[PATH_MAX];
	struct bf_gen *g;
	uint64_t id = 0;
	int r;

	if (dp->n_gens == dp->cap_gens) {
		size_t ncap = dp->cap_gens ? dp->cap_gens * 2 : 4;
		struct dp_gen *p = reallocarray(dp->gens, ncap, sizeof(*p));

		if (!p)
			return -ENOMEM;
		dp->gens = p;
		dp->cap_gens = ncap;
	}
	if (dp->pin_dir)
		id = dp->next_gen_id++;
	/* The state file of a replace is written ahead by a thread while the table compiles (the
	 * compile is single-threaded for most of its time, the thread has the other CPU);
	 * bfd_state_write() renames it after the switch (doc/design.md, "Persistence"). */
	if (dp->state && !dp->restoring) {
		const void *req;
		uint32_t len;

		bfd_state_request(&req, &len);
		if (req)
			bfd_state_prewrite_start(dp->state, m->family, m->name, req, len, id);
	}
	r = bf_gen_load(dp->rt, m, &gopts, &g);
	if (r) {
		if (dp->state)
			bfd_state_prewrite_wait(dp->state, false);
		return r;
	}
	if (dp->pin_dir) {
		/* Pinned before it can be switched in: a generation in force always has pins. */
		r = gen_dir(dp, id, dir, sizeof(dir));
		if (!r)
			r = bf_gen_pin(g, dir);
		if (r) {
			bf_logf(&dp->log, BF_LOG_ERR, "%s: cannot pin the new generation: %s",
				m->name, strerror(-r));
			bf_gen_unpin(dir);
			gen_free(dp, g);
			if (dp->state)
				bfd_state_prewrite_wait(dp->state, false);
			return r;
		}
		bfd_fault_point("gen-pinned");
	}
	dp->gens[dp->n_gens++] = (struct dp_gen){.g = g, .id = id};
	*gen = g;
	return 0;
}

static uint64_t gen_id(const struct bfd_datapath *dp, const struct bf_gen *g)
{
	for (size_t i = 0; i < dp->n_gens; i++)
		if (dp->gens[i].g == g)
			return dp->gens[i].id;
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
	dp->dirty = true;
	if (dp->restoring) {
		/* bfd_datapath_restore() switches once every table is loaded. */
		t->cur = gen;
		t->cur_id = gen_id(dp, gen);
		return 0;
	}
	/* The state file written ahead since xt_prepare (its thread reads the state, which the
	 * request changes next: joined here). */
	bfd_fault_point("before-switch");
	r = bf_gen_activate(dp->rt, gen);
	if (dp->state)
		bfd_state_prewrite_wait(dp->state, !r);
	if (r)
		return r;
	bfd_fault_point("after-switch");
	/* The previous generation is quiescent now; the store reads its final counters and
	 * releases it. Its pins stay until the state no longer names it (dp_gc). */
	t->cur = gen;
	t->cur_id = gen_id(dp, gen);
	return 0;
}

static int xt_read(void *ctx, void *gen, uint32_t n, struct xt_counters *out)
{
	return bf_gen_read_counters(gen, n, out);
}

static int xt_recent(void *ctx, bool write, const char *name, const void *in, uint32_t len,
		     void **out, uint32_t *outlen, uint32_t *written)
{
	struct bfd_datapath *dp = ctx;
	char *text = NULL;
	size_t n = 0;
	int r;

	if (write) {
		r = bf_runtime_recent_write(dp->rt, name, in, len, &n);
		if (!r)
			*written = (uint32_t)n;
		return r;
	}
	r = bf_runtime_recent_read(dp->rt, name, &text, &n);
	if (r)
		return r;
	*out = text;
	*outlen = (uint32_t)n;
	return 0;
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
		if (dp->gens[i].g == gen) {
			dp->gens[i] = dp->gens[--dp->n_gens];
			break;
		}
	}
	gen_free(dp, gen);
}

/*
 * Persistence (doc/design.md, "Persistence").
 */

/* Make sure dir can hold pins: on a bpffs, which is mounted at /sys/fs/bpf when that is where
 * dir lives and nothing is mounted there yet. Creates dir (and its parents). */
static int pin_dir_prepare(struct bfd_datapath *dp, const char *dir)
{
	_cleanup_free_ char *p = strdup(dir);
	struct statfs sf;
	char *s;

	if (!p)
		return -ENOMEM;
	if (!strncmp(dir, "/sys/fs/bpf/", 12) && !statfs("/sys/fs/bpf", &sf) &&
	    sf.f_type != BPF_FS_MAGIC) {
		struct stat self, init;

		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
			return -errno;
		/* `ip netns exec` gives its command a mount namespace of its own, with a fresh
		 * /sys: a bpffs mounted there dies with this process, and the pins with it. */
		if (!stat("/proc/self/ns/mnt", &self) && !stat("/proc/1/ns/mnt", &init) &&
		    self.st_ino != init.st_ino)
			bf_logf(&dp->log, BF_LOG_WARN,
				"mounted bpffs at /sys/fs/bpf in a private mount namespace: the "
				"pins will not outlive bpfilterd (use --pin-dir on a shared "
				"bpffs)");
	}
	for (s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0700) && errno != EEXIST)
				return -errno;
			*s = c;
			if (!c)
				break;
		}
	}
	if (statfs(dir, &sf))
		return -errno;
	if (sf.f_type != BPF_FS_MAGIC) {
		bf_logf(&dp->log, BF_LOG_ERR, "%s is not on a bpffs", dir);
		return -EXDEV;
	}
	return 0;
}

/* gen-<id> -> id, or 0. */
static uint64_t gen_dir_id(const char *name)
{
	char *end;
	unsigned long long id;

	if (strncmp(name, "gen-", 4))
		return 0;
	id = strtoull(name + 4, &end, 10);
	return *end ? 0 : id;
}

static bool id_in(uint64_t id, const uint64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/*
 * Remove the pins of every generation that nothing needs: not held by the store, not named by
 * the state file (whose counters a restart adds up), and not in a root slot (a predecessor's
 * generation still in force). Unpinning clears its prog arrays, which frees its programs.
 */
static void dp_gc(struct bfd_datapath *dp)
{
	uint32_t root_ids[16];
	size_t n_root = 0;
	struct dirent *de;
	DIR *d;

	if (!dp->pin_dir || bf_runtime_root_ids(dp->rt, root_ids, BF_ARRAY_SIZE(root_ids), &n_root))
		return;
	d = opendir(dp->pin_dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		uint64_t id = gen_dir_id(de->d_name);
		uint32_t eids[2];
		char dir[PATH_MAX];
		bool keep = false;

		if (!id)
			continue;
		for (size_t i = 0; i < dp->n_gens && !keep; i++)
			keep = dp->gens[i].id == id;
		for (uint32_t i = 0; dp->state && i < dp->state->n_tables && !keep; i++)
			keep = id_in(id, dp->state->tables[i].gens, dp->state->tables[i].n_gens);
		if (keep || gen_dir(dp, id, dir, sizeof(dir)))
			continue;
		if (bf_gen_pinned_entry_ids(dir, eids))
			continue; /* cannot tell: keep it */
		for (size_t i = 0; i < n_root && !keep; i++)
			keep = root_ids[i] && (root_ids[i] == eids[0] || root_ids[i] == eids[1]);
		if (keep)
			continue;
		if (bf_gen_unpin(dir))
			bf_logf(&dp->log, BF_LOG_WARN, "cannot remove %s", dir);
		else
			bf_logf(&dp->log, BF_LOG_DEBUG, "removed %s", dir);
	}
	closedir(d);
}

static int fam_level(int family)
{
	return family == NFPROTO_IPV6 ? SOL_IPV6 : SOL_IP;
}

/* The store's number of entries of a table (instantiating a built-in one, like the kernel). */
static int store_num_entries(struct xt_store *store, int family, const char *name, uint32_t *n)
{
	char in[XT_TABLE_MAXNAMELEN] = {0};
	struct ipt_getinfo *info = NULL;
	uint32_t outlen = 0, optlen = 0;
	int r;

	snprintf(in, sizeof(in), "%s", name);
	r = xt_store_getsockopt(store, fam_level(family), IPT_SO_GET_INFO, in, sizeof(in),
				sizeof(*info), (void **)&info, &outlen, &optlen);
	if (r)
		return r;
	if (outlen < sizeof(*info)) {
		free(info);
		return -EIO;
	}
	*n = info->num_entries;
	free(info);
	return 0;
}

/* Give every table of the datapath an entry in the state, and name its current generation. */
static int state_sync_tables(struct bfd_datapath *dp)
{
	for (size_t i = 0; i < dp->n_tables; i++) {
		struct dp_table *t = &dp->tables[i];
		struct bfd_state_table *st;
		uint32_t n;
		int r;

		if (!t->cur)
			continue;
		st = bfd_state_table(dp->state, t->family, t->name, true);
		if (!st)
			return -ENOMEM;
		if (!st->bases) {
			/* A built-in table as instantiated: its size, zero bases. */
			r = store_num_entries(dp->store, t->family, t->name, &n);
			if (!r)
				r = bfd_state_table_reset(st, n, NULL);
			if (r)
				return r;
		}
		if (!dp->restoring) {
			r = bfd_state_table_set_gens(st, &t->cur_id, 1);
			if (r)
				return r;
		}
	}
	return 0;
}

static int dp_persist(struct bfd_datapath *dp)
{
	uint64_t t0 = now_ns();
	int r;

	r = state_sync_tables(dp);
	if (!r)
		r = bfd_state_write(dp->state);
	bf_logf(&dp->log, BF_LOG_DEBUG, "state written in %.1f ms", (double)(now_ns() - t0) / 1e6);
	if (r) {
		bf_logf(&dp->log, BF_LOG_ERR,
			"cannot persist the tables in %s: %s; a restart would bring back an older "
			"state",
			dp->state->path, strerror(-r));
		return r;
	}
	dp->dirty = false;
	bfd_fault_point("state-committed");
	t0 = now_ns();
	dp_gc(dp);
	bf_logf(&dp->log, BF_LOG_DEBUG, "old generations collected in %.1f ms",
		(double)(now_ns() - t0) / 1e6);
	return 0;
}

/* bfd_state_after_request(): the server is about to answer a successful request. */
static void dp_after_request(void *ctx, struct xt_store *store, bool set, int level, int optname,
			     const void *payload, uint32_t len)
{
	struct bfd_datapath *dp = ctx;
	enum bfd_state_change change = BFD_STATE_TABLES;
	uint64_t t0;
	int r;

	if (!set && !dp->dirty)
		return;
	dp->store = store;
	dp->state->store = store;
	/* Tables the request instantiated first, then what it changed. */
	r = state_sync_tables(dp);
	if (!r && set)
		r = bfd_state_apply(dp->state, level, optname, payload, len, &change);
	if (r)
		bf_logf(&dp->log, BF_LOG_ERR, "cannot record the request in the state: %s",
			strerror(-r));
	/* The SET_ADD_COUNTERS that follows every replace of iptables: with no table changed
	 * (dirty: a replace whose state write failed, a table this request instantiated), only
	 * the counters file, or nothing for zeros. One state file write per iptables command. */
	if (!r && !dp->dirty && change != BFD_STATE_TABLES) {
		if (change == BFD_STATE_NONE)
			return;
		t0 = now_ns();
		r = bfd_state_write_counters(dp->state);
		bf_logf(&dp->log, BF_LOG_DEBUG, "counters written in %.1f ms",
			(double)(now_ns() - t0) / 1e6);
		if (r)
			bf_logf(&dp->log, BF_LOG_ERR,
				"cannot persist the counters in %s: %s; a restart would bring back "
				"older ones",
				dp->state->ctr_path, strerror(-r));
		return;
	}
	dp_persist(dp);
}

static struct dp_table *dp_table_find(struct bfd_datapath *dp, int family, const char *name)
{
	for (size_t i = 0; i < dp->n_tables; i++)
		if (dp->tables[i].family == family &&
		    !strncmp(dp->tables[i].name, name, sizeof(dp->tables[i].name)))
			return &dp->tables[i];
	return NULL;
}

/* Load one persisted table into the store (compiled, not switched in). */
static int restore_table(struct bfd_datapath *dp, struct xt_store *store,
			 struct bfd_state_table *st)
{
	uint32_t n = 0, outlen = 0;
	void *out = NULL;
	int r;

	r = store_num_entries(store, st->family, st->name, &n);
	if (r)
		return r;
	if (st->payload) {
		struct ipt_replace *rep = st->payload;

		if (st->payload_len < sizeof(*rep))
			return -EINVAL;
		rep->num_counters = n; /* the store's current table: a built-in one */
		rep->counters = NULL;
		/* The store keeps the payload as the table (no copy of it at the peak of the
		 * restore); the state then writes the table from the store, as after a replace.
		 * If the replace fails the daemon exits: the file on disk is untouched. */
		r = xt_store_setsockopt_take(store, fam_level(st->family), IPT_SO_SET_REPLACE,
					     &st->payload, st->payload_len, &out, &outlen);
		free(out);
		if (!st->payload) {
			st->payload_len = 0;
			st->payload_from_store = true;
		}
		if (r)
			return r;
		r = store_num_entries(store, st->family, st->name, &n);
		if (r)
			return r;
	}
	if (n != st->n_entries)
		return -EINVAL;
	return dp_table_find(dp, st->family, st->name) ? 0 : -ENOENT;
}

/* bases + the final counters of every pinned generation the state names but the store does
 * not hold, into the store and the state. */
static int restore_counters(struct bfd_datapath *dp, struct xt_store *store,
			    struct bfd_state_table *st, uint64_t new_id)
{
	_cleanup_free_ struct xt_counters *sum = NULL;
	_cleanup_free_ struct xt_counters *c = NULL;
	_cleanup_free_ struct xt_counters_info *add = NULL;
	size_t len = sizeof(*add) + (size_t)st->n_entries * sizeof(*sum);
	uint32_t outlen = 0;
	void *out = NULL;
	char dir[PATH_MAX];
	int r;

	sum = calloc(st->n_entries ? st->n_entries : 1, sizeof(*sum));
	c = calloc(st->n_entries ? st->n_entries : 1, sizeof(*c));
	add = calloc(1, len);
	if (!sum || !c || !add)
		return -ENOMEM;
	memcpy(sum, st->bases, sizeof(*sum) * st->n_entries);
	for (uint32_t g = 0; g < st->n_gens; g++) {
		if (st->gens[g] == new_id)
			continue;
		r = gen_dir(dp, st->gens[g], dir, sizeof(dir));
		if (!r)
			r = bf_gen_read_pinned_counters(dir, st->n_entries, c);
		if (r) {
			bf_logf(&dp->log, BF_LOG_WARN,
				"%s: counters of %s are lost: %s (only the bases are restored)",
				st->name, dir, strerror(-r));
			continue;
		}
		for (uint32_t i = 0; i < st->n_entries; i++) {
			sum[i].pcnt += c[i].pcnt;
			sum[i].bcnt += c[i].bcnt;
		}
	}
	snprintf(add->name, sizeof(add->name), "%s", st->name);
	add->num_counters = st->n_entries;
	memcpy(add->counters, sum, sizeof(*sum) * st->n_entries);
	if (st->n_entries) {
		r = xt_store_setsockopt(store, fam_level(st->family), IPT_SO_SET_ADD_COUNTERS, add,
					(uint32_t)len, &out, &outlen);
		free(out);
		if (r)
			return r;
	}
	r = bfd_state_table_reset(st, st->n_entries, sum);
	if (!r)
		r = bfd_state_table_set_gens(st, &new_id, 1);
	return r;
}

static int dp_restore(struct bfd_datapath *dp, struct bfd_state *st, struct xt_store *store)
{
	int r = 0;

	if (!dp->pin_dir || !st)
		return 0;
	dp->state = st;
	dp->store = store;
	st->store = store;
	for (uint32_t i = 0; i < st->n_tables; i++)
		for (uint32_t g = 0; g < st->tables[i].n_gens; g++)
			if (st->tables[i].gens[g] >= dp->next_gen_id)
				dp->next_gen_id = st->tables[i].gens[g] + 1;
	bfd_state_set_hook(dp_after_request, dp);
	if (!st->n_tables)
		return 0;

	/* 1. Compile every table; packets still run the predecessor's generations. */
	dp->restoring = true;
	for (uint32_t i = 0; i < st->n_tables && !r; i++) {
		r = restore_table(dp, store, &st->tables[i]);
		if (r)
			bf_logf(&dp->log, BF_LOG_ERR, "cannot restore table %s: %s",
				st->tables[i].name, strerror(-r));
	}
	dp->restoring = false;
	if (r)
		return r;
	/* The store holds the tables now: the state is written from there. */
	bfd_state_payloads_from_store(st);
	/* 2. Name the new generations next to the old ones before switching: whatever the new
	 * ones count from now on is found again if we die before step 4. */
	for (uint32_t i = 0; i < st->n_tables && !r; i++) {
		struct dp_table *t = dp_table_find(dp, st->tables[i].family, st->tables[i].name);

		r = bfd_state_table_add_gen(&st->tables[i], t->cur_id);
	}
	if (!r)
		r = bfd_state_write(st);
	if (r)
		return r;
	bfd_fault_point("restore-recorded");
	/* 3. Switch; on return the old generations are quiescent and their counters final. */
	for (size_t i = 0; i < dp->n_tables && !r; i++)
		if (dp->tables[i].cur)
			r = bf_gen_activate(dp->rt, dp->tables[i].cur);
	if (r)
		return r;
	bfd_fault_point("restore-switched");
	/* 4. Fold the old generations' counters into the bases, forget them. */
	for (uint32_t i = 0; i < st->n_tables && !r; i++) {
		struct dp_table *t = dp_table_find(dp, st->tables[i].family, st->tables[i].name);

		r = restore_counters(dp, store, &st->tables[i], t->cur_id);
	}
	if (!r)
		r = bfd_state_write(st);
	if (r)
		return r;
	dp->dirty = false;
	bf_logf(&dp->log, BF_LOG_INFO, "restored %u table(s) from %s", st->n_tables, st->path);
	return 0;
}

int bfd_datapath_restore(struct bfd_datapath *dp, struct bfd_state *st, struct xt_store *store)
{
	int r = dp_restore(dp, st, store);

	/* The daemon gives up: what is in force now (the predecessor's rulesets) must stay. */
	if (r)
		dp->opts.flush_on_exit = false;
	return r;
}

/* Next free generation id: above every gen-<id> directory. */
static void scan_gen_ids(struct bfd_datapath *dp)
{
	struct dirent *de;
	DIR *d = opendir(dp->pin_dir);

	dp->next_gen_id = 1;
	if (!d)
		return;
	while ((de = readdir(d))) {
		uint64_t id = gen_dir_id(de->d_name);

		if (id >= dp->next_gen_id)
			dp->next_gen_id = id + 1;
	}
	closedir(d);
}

static int dp_pin_runtime(struct bfd_datapath *dp)
{
	static const char *const roots[2] = {"root", "root_xdp"};
	bool adopted = false;
	int r;

	r = pin_dir_prepare(dp, dp->pin_dir);
	if (r) {
		bf_logf(&dp->log, BF_LOG_ERR, "cannot use %s for pins: %s", dp->pin_dir,
			strerror(-r));
		return r;
	}
	scan_gen_ids(dp);
	r = bf_runtime_adopt(dp->rt, dp->pin_dir, &adopted);
	if (r)
		return r;
	if (adopted) {
		bf_logf(&dp->log, BF_LOG_INFO, "adopted the maps pinned in %s", dp->pin_dir);
		return 0;
	}
	/* Replacing an incompatible predecessor's pins would clear its roots under its still
	 * attached dispatchers: hold them until ours replaced those (bfd_datapath_start). */
	for (int i = 0; i < 2; i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, roots[i]);
		dp->old_root_fd[i] = bpf_obj_get(path);
	}
	return bf_runtime_pin(dp->rt, dp->pin_dir);
}

static int dp_watch(struct bfd_datapath *dp)
{
	struct bfd_ifwatch_ops wops = {
		.ctx = dp,
		.link_add = on_link_add,
		.link_rename = on_link_rename,
		.link_del = on_link_del,
		.lroute_add = on_lroute_add,
		.lroute_del = on_lroute_del,
		.rtype_set = on_rtype_set,
	};

	if (dp->started)
		return 0;
	dp->started = true;
	return bfd_ifwatch_new(&wops, &dp->log, &dp->watch);
}

int bfd_datapath_start(struct bfd_datapath *dp)
{
	int r = dp_watch(dp);

	if (r)
		return r;
	for (int i = 0; i < 2; i++) {
		if (dp->old_root_fd[i] >= 0)
			close(dp->old_root_fd[i]);
		dp->old_root_fd[i] = -1;
	}
	if (dp->state && dp->dirty)
		dp_persist(dp);
	else
		dp_gc(dp);
	return 0;
}

int bfd_datapath_new(const struct bfd_datapath_opts *opts, const struct bf_log *log,
		     struct bfd_datapath **out)
{
	struct bfd_datapath *dp;
	int fd, r;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	if (opts)
		dp->opts = *opts;
	if (log)
		dp->log = *log;
	dp->old_root_fd[0] = dp->old_root_fd[1] = -1;
	dp->watch_stop_fd = -1;
	/* Still privileged here: let the rtnetlink thread, started after the capabilities are
	 * dropped, raise its priority (nice values down to DP_WATCH_NICE). */
	{
		struct rlimit rl;

		if (!getrlimit(RLIMIT_NICE, &rl) && rl.rlim_cur < (rlim_t)(20 - DP_WATCH_NICE)) {
			rl.rlim_cur = 20 - DP_WATCH_NICE;
			if (rl.rlim_max < rl.rlim_cur)
				rl.rlim_max = rl.rlim_cur;
			if (setrlimit(RLIMIT_NICE, &rl) < 0)
				bf_logf(&dp->log, BF_LOG_DEBUG, "cannot raise RLIMIT_NICE: %s",
					strerror(errno));
		}
	}
	for (size_t w = 0; w < DP_WHERE_N; w++)
		for (size_t l = 0; l < DP_L2_N; l++)
			dp->disp[w][l][0] = dp->disp[w][l][1] = -1;
	dp->xt = (struct xt_datapath){
		.ctx = dp,
		.prepare = xt_prepare,
		.commit = xt_commit,
		.read = xt_read,
		.release = xt_release,
		.recent = xt_recent,
	};

	r = bf_runtime_new(&dp->log, &dp->rt);
	if (r) {
		bf_logf(&dp->log, BF_LOG_ERR, "creating the BPF runtime failed: %s", strerror(-r));
		goto err;
	}
	if (dp->opts.pin_dir) {
		dp->pin_dir = strdup(dp->opts.pin_dir);
		r = dp->pin_dir ? dp_pin_runtime(dp) : -ENOMEM;
		if (r)
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

	/* With pins, interfaces are attached after the restore (bfd_datapath_start), so that a
	 * dispatcher never points at a root without a generation. */
	if (!dp->pin_dir) {
		r = dp_watch(dp);
		if (r)
			goto err;
	}
	*out = dp;
	return 0;
err:
	/* Nothing of ours is in force yet: leave the predecessor's pins alone. */
	dp->opts.flush_on_exit = false;
	bfd_datapath_free(dp);
	return r;
}

/* --flush-on-exit: every pin of this namespace, the state file, the directory. */
static void dp_unpin_all(struct bfd_datapath *dp)
{
	struct dirent *de;
	DIR *d = opendir(dp->pin_dir);
	char dir[PATH_MAX];

	if (d) {
		while ((de = readdir(d))) {
			uint64_t id = gen_dir_id(de->d_name);

			if (id && !gen_dir(dp, id, dir, sizeof(dir)))
				bf_gen_unpin(dir);
		}
		closedir(d);
	}
	bf_runtime_unpin(dp->pin_dir);
	if (rmdir(dp->pin_dir) && errno != ENOENT)
		bf_logf(&dp->log, BF_LOG_WARN, "cannot remove %s: %s", dp->pin_dir,
			strerror(errno));
	if (dp->state)
		bfd_state_remove(dp->state);
}

void bfd_datapath_free(struct bfd_datapath *dp)
{
	bool keep;

	if (!dp)
		return;
	/* Pinned and not flushed: what is attached and pinned stays in force (an upgrade or a
	 * restart adopts it without a gap). */
	keep = dp->pin_dir && !dp->opts.flush_on_exit;
	if (dp->state)
		bfd_state_set_hook(NULL, NULL);
	watch_stop(dp);
	bfd_ifwatch_free(dp->watch);
	for (size_t i = 0; i < dp->n_ifs && !keep; i++)
		bfd_detach(&dp->log, dp->ifs[i].name, &dp->ifs[i].att);
	if (keep && dp->started)
		bf_logf(&dp->log, BF_LOG_INFO,
			"leaving the rulesets in force (pinned in %s); --flush-on-exit removes "
			"them",
			dp->pin_dir);
	free(dp->ifs);
	/* The store should have released them; whatever is left is ours to free. */
	if (dp->n_gens)
		bf_logf(&dp->log, BF_LOG_DEBUG, "freeing %zu unreleased generation(s)", dp->n_gens);
	for (size_t i = 0; i < dp->n_gens; i++)
		gen_free(dp, dp->gens[i].g);
	free(dp->gens);
	free(dp->tables);
	for (size_t w = 0; w < DP_WHERE_N; w++)
		for (size_t l = 0; l < DP_L2_N; l++)
			for (size_t x = 0; x < 2; x++)
				if (dp->disp[w][l][x] >= 0)
					close(dp->disp[w][l][x]);
	for (int i = 0; i < 2; i++)
		if (dp->old_root_fd[i] >= 0)
			close(dp->old_root_fd[i]);
	if (dp->pin_dir && dp->opts.flush_on_exit)
		dp_unpin_all(dp);
	bf_runtime_free(dp->rt);
	free(dp->pin_dir);
	free(dp);
}

void bfd_datapath_exiting(struct bfd_datapath *dp)
{
	if (dp->pin_dir && !dp->opts.flush_on_exit)
		bf_runtime_recent_keep(dp->rt);
}

const struct xt_datapath *bfd_datapath_ops(struct bfd_datapath *dp)
{
	return &dp->xt;
}

int bfd_datapath_log_fds(const struct bfd_datapath *dp, int *rb_fd, int *drops_fd)
{
	int rb = bf_runtime_map_fd(dp->rt, BF_MAP_LOG_RB);
	int drops = bf_runtime_map_fd(dp->rt, BF_MAP_LOG_DROPS);

	if (rb < 0 || drops < 0)
		return -ENOENT;
	*rb_fd = rb;
	*drops_fd = drops;
	return 0;
}

static void *watch_main(void *arg)
{
	struct bfd_datapath *dp = arg;
	struct pollfd pfd[2] = {
		{.fd = bfd_ifwatch_fd(dp->watch), .events = POLLIN},
		{.fd = dp->watch_stop_fd, .events = POLLIN},
	};
	int r;

	/* Per thread on Linux: with CAP_SYS_NICE, still ours (bfd_datapath_watch_start runs before
	 * the daemon drops capabilities), or within RLIMIT_NICE (bfd_datapath_new). */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), DP_WATCH_NICE) < 0)
		bf_logf(&dp->log, BF_LOG_INFO, "rtnetlink thread: cannot raise its priority: %s",
			strerror(errno));
	/* Capabilities are per thread too: drop to the daemon's run-time set before any event. */
	dp->watch_init_r = bfd_caps_drop(bfd_caps_runtime());
	sem_post(&dp->watch_ready);
	if (dp->watch_init_r < 0)
		return NULL;

	for (;;) {
		if (poll(pfd, BF_ARRAY_SIZE(pfd), -1) < 0) {
			if (errno == EINTR)
				continue;
			bf_logf(&dp->log, BF_LOG_ERR,
				"rtnetlink watch stopped: %s; new interfaces are NOT filtered",
				strerror(errno));
			break;
		}
		if (pfd[1].revents)
			break;
		if (!pfd[0].revents)
			continue;
		r = bfd_ifwatch_process(dp->watch);
		if (r < 0)
			bf_logf(&dp->log, BF_LOG_WARN, "processing rtnetlink events: %s",
				strerror(-r));
	}
	return NULL;
}

static void watch_stop(struct bfd_datapath *dp)
{
	uint64_t one = 1;

	if (dp->watch_running) {
		/* An eventfd write of 1 cannot fail short of a bad fd. */
		if (write(dp->watch_stop_fd, &one, sizeof(one)) != sizeof(one))
			bf_logf(&dp->log, BF_LOG_ERR, "cannot stop the watch thread: %s",
				strerror(errno));
		else
			pthread_join(dp->watch_thread, NULL);
		dp->watch_running = false;
	}
	if (dp->watch_stop_fd >= 0)
		close(dp->watch_stop_fd);
	dp->watch_stop_fd = -1;
}

int bfd_datapath_watch_start(struct bfd_datapath *dp)
{
	int r;

	if (!dp->watch || dp->watch_running)
		return 0;
	dp->watch_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dp->watch_stop_fd < 0)
		return -errno;
	if (sem_init(&dp->watch_ready, 0, 0) < 0) {
		r = -errno;
		close(dp->watch_stop_fd);
		dp->watch_stop_fd = -1;
		return r;
	}
	r = -pthread_create(&dp->watch_thread, NULL, watch_main, dp);
	if (r) {
		sem_destroy(&dp->watch_ready);
		close(dp->watch_stop_fd);
		dp->watch_stop_fd = -1;
		return r;
	}
	dp->watch_running = true;
	while (sem_wait(&dp->watch_ready) < 0 && errno == EINTR)
		;
	sem_destroy(&dp->watch_ready);
	if (dp->watch_init_r < 0) {
		bf_logf(&dp->log, BF_LOG_ERR, "rtnetlink thread: cannot drop capabilities: %s",
			strerror(-dp->watch_init_r));
		return dp->watch_init_r;
	}
	return 0;
}
