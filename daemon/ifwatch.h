/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The rtnetlink watch (libmnl): interfaces of the namespace and the local routing table (routes of
 * type local and broadcast, IPv4). It keeps its own view of both and reports only changes, so a
 * re-dump after a lost notification (ENOBUFS) or a silent kernel flush reports exactly what
 * differs.
 */
#ifndef BFD_IFWATCH_H
#define BFD_IFWATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "../codegen/log.h"

struct bfd_ifwatch;

/* The route of a prefix of the local or main table (addrtype). */
struct bfd_rtype {
	uint8_t type; /* RTN_* */
	uint8_t flags; /* BFD_RTYPE_F_* */
	uint32_t oif; /* the first nexthop's device, 0 if none */
};
#define BFD_RTYPE_F_GATEWAY (1u << 0)

struct bfd_ifwatch_ops {
	void *ctx;
	/* A new interface. seen_ns: CLOCK_MONOTONIC when its notification (or dump) was read. */
	void (*link_add)(void *ctx, uint32_t ifindex, const char *name, uint16_t type,
			 uint64_t seen_ns);
	void (*link_rename)(void *ctx, uint32_t ifindex, const char *name);
	void (*link_del)(void *ctx, uint32_t ifindex);
	/* A prefix enters or leaves the set of local/broadcast destinations (addr network order).
	 */
	void (*lroute_add)(void *ctx, int family, const void *addr, uint8_t plen);
	void (*lroute_del)(void *ctx, int family, const void *addr, uint8_t plen);
	/* The route the kernel's lookup finds first for a prefix of the local or main table
	 * changed (v), or the prefix has no route left (v == NULL). */
	void (*rtype_set)(void *ctx, int family, const void *addr, uint8_t plen,
			  const struct bfd_rtype *v);
};

/* Subscribe to link, address and route notifications, then dump links and local routes
 * (reporting them through ops before returning). */
int bfd_ifwatch_new(const struct bfd_ifwatch_ops *ops, const struct bf_log *log,
		    struct bfd_ifwatch **out);
void bfd_ifwatch_free(struct bfd_ifwatch *w);
/* Non-blocking socket to poll for readability. */
int bfd_ifwatch_fd(const struct bfd_ifwatch *w);
/* Read every pending notification; re-dump if some were lost. */
int bfd_ifwatch_process(struct bfd_ifwatch *w);
/* Re-dump links and local routes and report the differences. */
int bfd_ifwatch_resync(struct bfd_ifwatch *w);

#endif /* BFD_IFWATCH_H */
