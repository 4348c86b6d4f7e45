// SPDX-License-Identifier: GPL-2.0-only
/*
 * The maps shared by every generation and dispatcher (codegen.h: bf_runtime). Created with the
 * low-level bpf_map_create(): no ELF object, no BTF.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <bpfilter/cleanup.h>

#include "abi.h"
#include "cg_priv.h"
#include "target/targets.h"
#include "ct.h"

#define BF_IFNAME_MAX 16384
#define BF_LROUTE_MAX 65536
/* addrtype's tries hold the main table too: a full Internet table has about a million IPv4
 * prefixes (not preallocated: memory follows the routes). */
#define BF_RTYPE_MAX (1u << 21)

static int map_new(const struct bf_log *log, enum bpf_map_type type, const char *name, uint32_t ksz,
		   uint32_t vsz, uint32_t max, uint32_t flags, int inner_fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);
	int fd;

	if (inner_fd >= 0)
		opts.inner_map_fd = (uint32_t)inner_fd;
	fd = bpf_map_create(type, name, ksz, vsz, max, &opts);
	if (fd < 0) {
		fd = -errno;
		bf_logf(log, BF_LOG_ERR, "cannot create map %s: %s", name, strerror(-fd));
	}
	return fd;
}

static void closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void bf_runtime_free(struct bf_runtime *rt)
{
	if (!rt)
		return;
	closefd(&rt->ctx_fd);
	closefd(&rt->root_fd);
	closefd(&rt->root_xdp_fd);
	closefd(&rt->ifname_fd);
	closefd(&rt->lroute_fd);
	closefd(&rt->lroute6_fd);
	closefd(&rt->rtype_fd);
	closefd(&rt->rtype6_fd);
	closefd(&rt->sync_fd);
	closefd(&rt->sync_inner_fd);
	closefd(&rt->ct_fd);
	closefd(&rt->cfg_fd);
	closefd(&rt->active_fd[0]);
	closefd(&rt->active_fd[1]);
	closefd(&rt->active6_fd[0]);
	closefd(&rt->active6_fd[1]);
	closefd(&rt->rej_progs_fd);
	closefd(&rt->log_rb_fd);
	closefd(&rt->log_drops_fd);
	closefd(&rt->recent.tables_fd);
	closefd(&rt->recent.names_fd);
	bf_hl_gc_stop(&rt->hl);
	closefd(&rt->hl.ents_fd);
	closefd(&rt->hl.tabs_fd);
	closefd(&rt->hl.names_fd);
	free(rt);
}

/* *fd = a new map, or records the first error in *err (and leaves *fd at -1). */
static void map_new_into(const struct bf_log *log, int *fd, int *err, enum bpf_map_type type,
			 const char *name, uint32_t ksz, uint32_t vsz, uint32_t max, uint32_t flags,
			 int inner_fd)
{
	int r;

	if (*err)
		return;
	r = map_new(log, type, name, ksz, vsz, max, flags, inner_fd);
	if (r < 0)
		*err = r;
	else
		*fd = r;
}

/* REJECT's programs (codegen/target/reject.c, reject6.c), one slot per family. Without one,
 * REJECT of that family still drops, with no reply. */
static void runtime_load_reject(struct bf_runtime *rt)
{
	static const char *const fam[BF_REJECT_SLOTS] = {"", " (IPv6)"};
	int fds[BF_MAP_SLOT_MAX];

	bf_runtime_map_fds(rt, BF_CTX_TC, fds);
	for (uint32_t k = 0; k < BF_REJECT_SLOTS; k++) {
		int fd = k == BF_REJECT_SLOT_IPV6 ? bf_reject6_prog_load(rt->log, fds)
						  : bf_reject_prog_load(rt->log, fds);

		if (fd < 0) {
			bf_logf(rt->log, BF_LOG_WARN, "REJECT%s will send no replies: %s", fam[k],
				strerror(-fd));
			continue;
		}
		if (bpf_map_update_elem(rt->rej_progs_fd, &k, &fd, BPF_ANY))
			bf_logf(rt->log, BF_LOG_WARN, "REJECT%s will send no replies: %s", fam[k],
				strerror(errno));
		close(fd); /* the prog array keeps it */
	}
}

int bf_runtime_new(const struct bf_log *log, struct bf_runtime **out)
{
	struct bf_runtime *rt = calloc(1, sizeof(*rt));
	int err = 0;

	if (!rt)
		return -ENOMEM;
	rt->ctx_fd = rt->root_fd = rt->root_xdp_fd = rt->ifname_fd = rt->lroute_fd = -1;
	rt->sync_fd = rt->sync_inner_fd = rt->active_fd[0] = rt->active_fd[1] = -1;
	rt->ct_fd = rt->cfg_fd = -1;
	rt->lroute6_fd = rt->active6_fd[0] = rt->active6_fd[1] = -1;
	rt->rej_progs_fd = rt->log_rb_fd = rt->log_drops_fd = -1;
	rt->rtype_fd = rt->rtype6_fd = -1;
	rt->recent.tables_fd = rt->recent.names_fd = -1;
	rt->hl.ents_fd = rt->hl.tabs_fd = rt->hl.names_fd = -1;
	rt->log = log;

	map_new_into(log, &rt->ctx_fd, &err, BPF_MAP_TYPE_PERCPU_ARRAY, "bf_ctx", sizeof(uint32_t),
		     sizeof(struct bf_pkt), 1, 0, -1);
	map_new_into(log, &rt->root_fd, &err, BPF_MAP_TYPE_PROG_ARRAY, "bf_root", sizeof(uint32_t),
		     sizeof(uint32_t), BF_ROOT_SLOTS, 0, -1);
	map_new_into(log, &rt->root_xdp_fd, &err, BPF_MAP_TYPE_PROG_ARRAY, "bf_root_xdp",
		     sizeof(uint32_t), sizeof(uint32_t), BF_ROOT_SLOTS, 0, -1);
	map_new_into(log, &rt->ifname_fd, &err, BPF_MAP_TYPE_HASH, "bf_ifname", sizeof(uint32_t),
		     BF_IFNAME_LEN, BF_IFNAME_MAX, BPF_F_NO_PREALLOC, -1);
	/* LPM tries must not be preallocated (trie_alloc refuses otherwise). */
	map_new_into(log, &rt->lroute_fd, &err, BPF_MAP_TYPE_LPM_TRIE, "bf_lroute",
		     sizeof(struct bf_lroute_key4), sizeof(uint32_t), BF_LROUTE_MAX,
		     BPF_F_NO_PREALLOC, -1);
	map_new_into(log, &rt->lroute6_fd, &err, BPF_MAP_TYPE_LPM_TRIE, "bf_lroute6",
		     sizeof(struct bf_lroute_key6), sizeof(uint32_t), BF_LROUTE_MAX,
		     BPF_F_NO_PREALLOC, -1);
	map_new_into(log, &rt->rtype_fd, &err, BPF_MAP_TYPE_LPM_TRIE, "bf_rtype",
		     sizeof(struct bf_lroute_key4), sizeof(struct bf_rtype), BF_RTYPE_MAX,
		     BPF_F_NO_PREALLOC, -1);
	map_new_into(log, &rt->rtype6_fd, &err, BPF_MAP_TYPE_LPM_TRIE, "bf_rtype6",
		     sizeof(struct bf_lroute_key6), sizeof(struct bf_rtype), BF_RTYPE_MAX,
		     BPF_F_NO_PREALLOC, -1);
	map_new_into(log, &rt->sync_inner_fd, &err, BPF_MAP_TYPE_ARRAY, "bf_sync_in",
		     sizeof(uint32_t), sizeof(uint32_t), 1, 0, -1);
	map_new_into(log, &rt->sync_fd, &err, BPF_MAP_TYPE_ARRAY_OF_MAPS, "bf_sync",
		     sizeof(uint32_t), sizeof(uint32_t), 1, 0, rt->sync_inner_fd);
	map_new_into(log, &rt->cfg_fd, &err, BPF_MAP_TYPE_ARRAY, "bf_cfg", sizeof(uint32_t),
		     sizeof(struct bf_cfg), 1, 0, -1);
	if (!err) {
		/* Connections outlive generations: a replace keeps established flows. */
		rt->ct_fd = bf_ct_map_create(log);
		if (rt->ct_fd < 0)
			err = rt->ct_fd;
	}
	map_new_into(log, &rt->rej_progs_fd, &err, BPF_MAP_TYPE_PROG_ARRAY, "bf_rej_progs",
		     sizeof(uint32_t), sizeof(uint32_t), BF_REJECT_SLOTS, 0, -1);
	map_new_into(log, &rt->log_rb_fd, &err, BPF_MAP_TYPE_RINGBUF, "bf_log_rb", 0, 0,
		     BF_LOG_RB_SIZE, 0, -1);
	map_new_into(log, &rt->log_drops_fd, &err, BPF_MAP_TYPE_PERCPU_ARRAY, "bf_log_drops",
		     sizeof(uint32_t), sizeof(uint64_t), 1, 0, -1);
	if (!err)
		err = bf_recent_maps_create(log, &rt->recent.tables_fd, &rt->recent.names_fd);
	if (!err)
		err = bf_hl_maps_create(log, &rt->hl.ents_fd, &rt->hl.tabs_fd, &rt->hl.names_fd);
	if (!err)
		runtime_load_reject(rt);
	if (err) {
		bf_runtime_free(rt);
		return err;
	}
	*out = rt;
	return 0;
}

int bf_runtime_map_fd(const struct bf_runtime *rt, enum bf_map_slot slot)
{
	if (slot == BF_MAP_LOG_RB)
		return rt->log_rb_fd;
	if (slot == BF_MAP_LOG_DROPS)
		return rt->log_drops_fd;
	if (slot == BF_MAP_RTYPE)
		return rt->rtype_fd;
	if (slot == BF_MAP_RTYPE6)
		return rt->rtype6_fd;
	switch (slot) {
	case BF_MAP_CTX:
		return rt->ctx_fd;
	case BF_MAP_ROOT:
		return rt->root_fd;
	case BF_MAP_IFNAME:
		return rt->ifname_fd;
	case BF_MAP_LROUTE:
		return rt->lroute_fd;
	case BF_MAP_LROUTE6:
		return rt->lroute6_fd;
	case BF_MAP_CFG:
		return rt->cfg_fd;
	default:
		return -1;
	}
}

void bf_runtime_map_fds(const struct bf_runtime *rt, enum bf_prog_ctx pctx,
			int map_fds[BF_MAP_SLOT_MAX])
{
	for (int i = 0; i < BF_MAP_SLOT_MAX; i++)
		map_fds[i] = -1;
	map_fds[BF_MAP_CTX] = rt->ctx_fd;
	/* Each program context has its own root: a prog array only holds programs of one type. */
	map_fds[BF_MAP_ROOT] = pctx == BF_CTX_XDP ? rt->root_xdp_fd : rt->root_fd;
	map_fds[BF_MAP_IFNAME] = rt->ifname_fd;
	map_fds[BF_MAP_LROUTE] = rt->lroute_fd;
	map_fds[BF_MAP_CT] = rt->ct_fd;
	map_fds[BF_MAP_CFG] = rt->cfg_fd;
	map_fds[BF_MAP_LROUTE6] = rt->lroute6_fd;
	map_fds[BF_MAP_REJECT_PROGS] = rt->rej_progs_fd;
	map_fds[BF_MAP_LOG_RB] = rt->log_rb_fd;
	map_fds[BF_MAP_LOG_DROPS] = rt->log_drops_fd;
	map_fds[BF_MAP_RTYPE] = rt->rtype_fd;
	map_fds[BF_MAP_RTYPE6] = rt->rtype6_fd;
	map_fds[BF_MAP_RECENT] = rt->recent.tables_fd;
	map_fds[BF_MAP_HL] = rt->hl.ents_fd;
	map_fds[BF_MAP_HL_TAB] = rt->hl.tabs_fd;
}

int bf_runtime_set_ifname(struct bf_runtime *rt, uint32_t ifindex, const char *name)
{
	char v[BF_IFNAME_LEN] = {0};

	/* NUL padded exactly as the kernel's dev->name, which ip_packet_match compares. */
	strncpy(v, name, sizeof(v) - 1);
	if (bpf_map_update_elem(rt->ifname_fd, &ifindex, v, BPF_ANY))
		return -errno;
	return 0;
}

int bf_runtime_del_ifname(struct bf_runtime *rt, uint32_t ifindex)
{
	if (bpf_map_delete_elem(rt->ifname_fd, &ifindex))
		return -errno;
	return 0;
}

/* The trie of a family and its key: IPv4 in bf_lroute (4-byte key), IPv6 in bf_lroute6. */
static int lroute_key(const struct bf_runtime *rt, int family, const void *addr, uint8_t plen,
		      struct bf_lroute_key6 *k, int *fd)
{
	unsigned int alen = family == AF_INET ? 4 : 16;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	if (plen > alen * 8)
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	k->prefixlen = plen;
	memcpy(k->addr, addr, alen);
	*fd = family == AF_INET ? rt->lroute_fd : rt->lroute6_fd;
	return 0;
}

_Static_assert(offsetof(struct bf_lroute_key6, addr) == offsetof(struct bf_lroute_key4, addr),
	       "an IPv4 key is a prefix of the IPv6 one");

int bf_runtime_add_lroute(struct bf_runtime *rt, int family, const void *addr, uint8_t plen)
{
	struct bf_lroute_key6 k;
	uint32_t v = 1;
	int fd, r;

	r = lroute_key(rt, family, addr, plen, &k, &fd);
	if (r)
		return r;
	if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
		return -errno;
	return 0;
}

int bf_runtime_del_lroute(struct bf_runtime *rt, int family, const void *addr, uint8_t plen)
{
	struct bf_lroute_key6 k;
	int fd, r;

	r = lroute_key(rt, family, addr, plen, &k, &fd);
	if (r)
		return r;
	if (bpf_map_delete_elem(fd, &k))
		return -errno;
	return 0;
}

int bf_runtime_set_rtype(struct bf_runtime *rt, int family, const void *addr, uint8_t plen,
			 const struct bf_rtype *v)
{
	struct bf_rtype val;
	struct bf_lroute_key6 k;
	int fd, r;

	r = lroute_key(rt, family, addr, plen, &k, &fd);
	if (r)
		return r;
	fd = family == AF_INET ? rt->rtype_fd : rt->rtype6_fd;
	if (v) {
		memcpy(&val, v, sizeof(val));
		val.plen = plen;
		v = &val;
	}
	if (v ? bpf_map_update_elem(fd, &k, v, BPF_ANY) : bpf_map_delete_elem(fd, &k))
		return -errno;
	return 0;
}

/*
 * Wait until no BPF program still runs with what the root slots held before.
 *
 * kernel/bpf/syscall.c (6.18), map_update_elem(): after a successful update it calls
 * maybe_wait_bpf_programs(map), which does synchronize_rcu() when the map is a HASH_OF_MAPS or an
 * ARRAY_OF_MAPS (and only then: a PROG_ARRAY update does not wait). TC and XDP programs run
 * inside an RCU read-side section (softirq / rcu_read_lock_bh at egress) for the whole packet,
 * tail calls included, so once the grace period ends every packet that could have entered the
 * old generation has left it and its counters are final. The update itself is a no-op rewrite of
 * slot 0 of bf_sync with the same inner map.
 */
int bf_runtime_sync(struct bf_runtime *rt)
{
	uint32_t k = 0;
	uint32_t v = (uint32_t)rt->sync_inner_fd;

	if (bpf_map_update_elem(rt->sync_fd, &k, &v, BPF_ANY))
		return -errno;
	return 0;
}

/*
 * Wait until no CPU runs a generation it entered before the caller switched the root slots,
 * without a grace period (10-20 ms of an append at 10k rules were the RCU grace period).
 *
 * The dispatcher enters the root slot inside a call and adds 1 to its CPU's pkt->gen_seq before
 * and after (codegen/dispatch.c), with atomic adds: a CPU whose value is even is in no
 * generation, or entered it after the switch and found the new slot; an odd one is inside a
 * run that ends when its value changes. This is xt_replace_table()'s wait on xt_recseq. Runs
 * last microseconds; if one seems stuck (a program preempted in a BPF_PROG_TEST_RUN), the grace
 * period still decides after BF_QUIESCE_MAX_NS. TC and XDP run in softirq or with bottom halves
 * off, so a run is never preempted by another one on its CPU except nested in it.
 */
#define BF_QUIESCE_MAX_NS (50 * 1000 * 1000ull)

static int read_gen_seq(struct bf_runtime *rt, uint8_t *buf, int ncpu, uint64_t *seq)
{
	uint32_t k = 0;

	if (bpf_map_lookup_elem(rt->ctx_fd, &k, buf))
		return -errno;
	for (int cpu = 0; cpu < ncpu; cpu++)
		memcpy(&seq[cpu],
		       buf + (size_t)cpu * sizeof(struct bf_pkt) + offsetof(struct bf_pkt, gen_seq),
		       sizeof(seq[cpu]));
	return 0;
}

int bf_runtime_quiesce(struct bf_runtime *rt)
{
	_Static_assert(sizeof(struct bf_pkt) % 8 == 0, "per-CPU values are not padded");
	int ncpu = libbpf_num_possible_cpus();
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ uint64_t *first = NULL;
	_cleanup_free_ uint64_t *now = NULL;
	struct timespec ts;
	uint64_t t0;
	bool busy;
	int r;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	buf = malloc((size_t)ncpu * sizeof(struct bf_pkt));
	first = calloc((size_t)ncpu, sizeof(*first));
	now = malloc((size_t)ncpu * sizeof(*now));
	if (!buf || !first || !now)
		return -ENOMEM;
	r = read_gen_seq(rt, buf, ncpu, first);
	if (r)
		return r;
	memcpy(now, first, (size_t)ncpu * sizeof(*now));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	for (;;) {
		busy = false;
		for (int cpu = 0; cpu < ncpu; cpu++)
			busy |= (first[cpu] & 1) && first[cpu] == now[cpu];
		if (!busy)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - t0 >
		    BF_QUIESCE_MAX_NS) {
			bf_logf(rt->log, BF_LOG_DEBUG,
				"gen: a CPU stays in a generation: waiting for a grace period");
			return bf_runtime_sync(rt);
		}
		sched_yield();
		r = read_gen_seq(rt, buf, ncpu, now);
		if (r)
			return r;
	}
}

/*
 * Persistence in bpffs ([reliability], doc/design.md "Persistence"). Every map a dispatcher or a
 * generation's program uses and that must outlive the daemon is pinned in a directory of its
 * own; a restarted daemon reopens them, so dispatchers left attached by its predecessor keep
 * working and the new daemon writes into the same maps. A PROG_ARRAY is cleared when its last
 * user reference (fd or pin) goes away, which is why the roots must be pinned and not only
 * referenced by the attached dispatchers.
 */
static const struct {
	const char *name;
	size_t off;
} rt_pins[] = {
	{"ctx", offsetof(struct bf_runtime, ctx_fd)},
	{"root", offsetof(struct bf_runtime, root_fd)},
	{"root_xdp", offsetof(struct bf_runtime, root_xdp_fd)},
	{"ifname", offsetof(struct bf_runtime, ifname_fd)},
	{"lroute", offsetof(struct bf_runtime, lroute_fd)},
	{"lroute6", offsetof(struct bf_runtime, lroute6_fd)},
	{"ct", offsetof(struct bf_runtime, ct_fd)},
	{"cfg", offsetof(struct bf_runtime, cfg_fd)},
	{"rej_progs", offsetof(struct bf_runtime, rej_progs_fd)},
	{"log_rb", offsetof(struct bf_runtime, log_rb_fd)},
	{"log_drops", offsetof(struct bf_runtime, log_drops_fd)},
	{"rtype", offsetof(struct bf_runtime, rtype_fd)},
	{"rtype6", offsetof(struct bf_runtime, rtype6_fd)},
	{"recent", offsetof(struct bf_runtime, recent.tables_fd)},
	{"recent_nm", offsetof(struct bf_runtime, recent.names_fd)},
	{"hl", offsetof(struct bf_runtime, hl.ents_fd)},
	{"hl_tab", offsetof(struct bf_runtime, hl.tabs_fd)},
	{"hl_nm", offsetof(struct bf_runtime, hl.names_fd)},
};

static int *rt_field(struct bf_runtime *rt, size_t off)
{
	return (int *)((char *)rt + off);
}

static int pin_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The same kind of map as ours: a pinned map of another layout cannot be adopted. */
static bool map_compatible(int a, int b)
{
	struct bpf_map_info ia = {}, ib = {};
	uint32_t la = sizeof(ia), lb = sizeof(ib);

	if (bpf_obj_get_info_by_fd(a, &ia, &la) || bpf_obj_get_info_by_fd(b, &ib, &lb))
		return false;
	return ia.type == ib.type && ia.key_size == ib.key_size && ia.value_size == ib.value_size &&
	       ia.max_entries == ib.max_entries && ia.map_flags == ib.map_flags;
}

int bf_pin_obj(int fd, const char *dir, const char *name)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int r;

	r = pin_path(path, sizeof(path), dir, name);
	if (!r)
		r = pin_path(tmp, sizeof(tmp), dir, "tmp_pin"); /* bpffs refuses dots in names */
	if (r)
		return r;
	/* bpf_obj_pin() never replaces: pin aside, then rename over the old pin (atomic). */
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp))
		return -errno;
	if (rename(tmp, path)) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	return 0;
}

int bf_runtime_adopt(struct bf_runtime *rt, const char *dir, bool *adopted)
{
	int fds[BF_ARRAY_SIZE(rt_pins)];
	char path[PATH_MAX];
	size_t n_found = 0;
	int r = 0;

	for (size_t i = 0; i < BF_ARRAY_SIZE(rt_pins); i++)
		fds[i] = -1;
	for (size_t i = 0; i < BF_ARRAY_SIZE(rt_pins); i++) {
		r = pin_path(path, sizeof(path), dir, rt_pins[i].name);
		if (r)
			goto out;
		fds[i] = bpf_obj_get(path);
		if (fds[i] < 0 && errno != ENOENT) {
			r = -errno;
			bf_logf(rt->log, BF_LOG_ERR, "cannot open %s: %s", path, strerror(-r));
			goto out;
		}
		if (fds[i] >= 0)
			n_found++;
	}
	*adopted = false;
	if (!n_found)
		goto out;
	for (size_t i = 0; i < BF_ARRAY_SIZE(rt_pins); i++) {
		if (fds[i] < 0 || !map_compatible(fds[i], *rt_field(rt, rt_pins[i].off))) {
			bf_logf(rt->log, BF_LOG_WARN,
				"%s/%s: %s: starting with new maps (a previous version's "
				"dispatchers keep their own until they are replaced)",
				dir, rt_pins[i].name, fds[i] < 0 ? "missing" : "incompatible");
			goto out;
		}
	}
	for (size_t i = 0; i < BF_ARRAY_SIZE(rt_pins); i++) {
		int *f = rt_field(rt, rt_pins[i].off);

		close(*f);
		*f = TAKE_FD(fds[i]);
	}
	*adopted = true;
	/* REJECT's program was loaded against the maps just dropped: load it again against the
	 * adopted ones (this also brings an upgrade's version in). */
	runtime_load_reject(rt);
out:
	for (size_t i = 0; i < BF_ARRAY_SIZE(rt_pins); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return r;
}

int bf_runtime_pin(struct bf_runtime *rt, const char *dir)
{
	for (size_t i = 0; i < BF_ARRAY_SIZE(rt_pins); i++) {
		int r = bf_pin_obj(*rt_field(rt, rt_pins[i].off), dir, rt_pins[i].name);

		if (r) {
			bf_logf(rt->log, BF_LOG_ERR, "cannot pin %s in %s: %s", rt_pins[i].name,
				dir, strerror(-r));
			return r;
		}
	}
	return 0;
}

void bf_runtime_unpin(const char *dir)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < BF_ARRAY_SIZE(rt_pins); i++)
		if (!pin_path(path, sizeof(path), dir, rt_pins[i].name))
			unlink(path);
}

int bf_runtime_root_ids(const struct bf_runtime *rt, uint32_t *ids, size_t max, size_t *n)
{
	const int roots[] = {rt->root_fd, rt->root_xdp_fd};
	size_t k = 0;

	for (size_t i = 0; i < BF_ARRAY_SIZE(roots); i++) {
		struct bpf_map_info info = {};
		uint32_t len = sizeof(info);

		if (bpf_obj_get_info_by_fd(roots[i], &info, &len))
			return -errno;
		for (uint32_t slot = 0; slot < info.max_entries; slot++) {
			uint32_t id;

			/* From user space a prog array lookup gives the program's id. */
			if (bpf_map_lookup_elem(roots[i], &slot, &id))
				continue;
			if (k == max)
				return -E2BIG;
			ids[k++] = id;
		}
	}
	*n = k;
	return 0;
}

int bf_runtime_recent_read(struct bf_runtime *rt, const char *name, char **text, size_t *len)
{
	return bf_recent_ctl_read(&rt->recent, name, text, len);
}

int bf_runtime_recent_write(struct bf_runtime *rt, const char *name, const char *in, size_t size,
			    size_t *ret)
{
	return bf_recent_ctl_write(&rt->recent, name, in, size, ret);
}

void bf_runtime_recent_keep(struct bf_runtime *rt)
{
	rt->recent.keep = true;
	rt->hl.keep = true;
}
