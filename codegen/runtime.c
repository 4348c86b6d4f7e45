// SPDX-License-Identifier: GPL-2.0-only
/*
 * The maps shared by every generation and dispatcher (codegen.h: bf_runtime). Created with the
 * low-level bpf_map_create(): no ELF object, no BTF.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include <bpfilter/cleanup.h>

#include "abi.h"
#include "cg_priv.h"

#define BF_IFNAME_MAX 16384
#define BF_LROUTE_MAX 65536

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
	closefd(&rt->sync_fd);
	closefd(&rt->sync_inner_fd);
	closefd(&rt->active_fd[0]);
	closefd(&rt->active_fd[1]);
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

int bf_runtime_new(const struct bf_log *log, struct bf_runtime **out)
{
	struct bf_runtime *rt = calloc(1, sizeof(*rt));
	int err = 0;

	if (!rt)
		return -ENOMEM;
	rt->ctx_fd = rt->root_fd = rt->root_xdp_fd = rt->ifname_fd = rt->lroute_fd = -1;
	rt->sync_fd = rt->sync_inner_fd = rt->active_fd[0] = rt->active_fd[1] = -1;
	rt->log = log;

	map_new_into(log, &rt->ctx_fd, &err, BPF_MAP_TYPE_PERCPU_ARRAY, "bf_ctx", sizeof(uint32_t),
		     sizeof(struct bf_pkt), 1, 0, -1);
	map_new_into(log, &rt->root_fd, &err, BPF_MAP_TYPE_PROG_ARRAY, "bf_root", sizeof(uint32_t),
		     sizeof(uint32_t), 1, 0, -1);
	map_new_into(log, &rt->root_xdp_fd, &err, BPF_MAP_TYPE_PROG_ARRAY, "bf_root_xdp",
		     sizeof(uint32_t), sizeof(uint32_t), 1, 0, -1);
	map_new_into(log, &rt->ifname_fd, &err, BPF_MAP_TYPE_HASH, "bf_ifname", sizeof(uint32_t),
		     BF_IFNAME_LEN, BF_IFNAME_MAX, BPF_F_NO_PREALLOC, -1);
	/* LPM tries must not be preallocated (trie_alloc refuses otherwise). */
	map_new_into(log, &rt->lroute_fd, &err, BPF_MAP_TYPE_LPM_TRIE, "bf_lroute",
		     sizeof(struct bf_lroute_key4), sizeof(uint32_t), BF_LROUTE_MAX,
		     BPF_F_NO_PREALLOC, -1);
	map_new_into(log, &rt->sync_inner_fd, &err, BPF_MAP_TYPE_ARRAY, "bf_sync_in",
		     sizeof(uint32_t), sizeof(uint32_t), 1, 0, -1);
	map_new_into(log, &rt->sync_fd, &err, BPF_MAP_TYPE_ARRAY_OF_MAPS, "bf_sync",
		     sizeof(uint32_t), sizeof(uint32_t), 1, 0, rt->sync_inner_fd);
	if (err) {
		bf_runtime_free(rt);
		return err;
	}
	*out = rt;
	return 0;
}

int bf_runtime_map_fd(const struct bf_runtime *rt, enum bf_map_slot slot)
{
	switch (slot) {
	case BF_MAP_CTX:
		return rt->ctx_fd;
	case BF_MAP_ROOT:
		return rt->root_fd;
	case BF_MAP_IFNAME:
		return rt->ifname_fd;
	case BF_MAP_LROUTE:
		return rt->lroute_fd;
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

static int lroute_key(int family, const void *addr, uint8_t plen, struct bf_lroute_key4 *k)
{
	if (family != AF_INET)
		return -EAFNOSUPPORT; /* IPv6: a second trie, later */
	if (plen > 32)
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	k->prefixlen = plen;
	memcpy(k->addr, addr, 4);
	return 0;
}

int bf_runtime_add_lroute(struct bf_runtime *rt, int family, const void *addr, uint8_t plen)
{
	struct bf_lroute_key4 k;
	uint32_t v = 1;
	int r;

	r = lroute_key(family, addr, plen, &k);
	if (r)
		return r;
	if (bpf_map_update_elem(rt->lroute_fd, &k, &v, BPF_ANY))
		return -errno;
	return 0;
}

int bf_runtime_del_lroute(struct bf_runtime *rt, int family, const void *addr, uint8_t plen)
{
	struct bf_lroute_key4 k;
	int r;

	r = lroute_key(family, addr, plen, &k);
	if (r)
		return r;
	if (bpf_map_delete_elem(rt->lroute_fd, &k))
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
