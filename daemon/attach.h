/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Attaching dispatcher programs to one interface: TC ingress and egress through a clsact qdisc
 * (libbpf netlink tc filters, direct action) and, optionally, XDP. What was attached is recorded so
 * that only bpfilter's own filters and qdisc are removed again. See doc/design.md, "Where rules
 * run".
 */
#ifndef BFD_ATTACH_H
#define BFD_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

#include "../codegen/log.h"

/* bpfilter's tc filters: a fixed handle and the first priority, so that a restarted daemon replaces
 * the filters of its predecessor instead of stacking new ones, and runs before other filters. */
#define BFD_TC_HANDLE 0xbf1
#define BFD_TC_PRIORITY 1

/* What bpfilter attached to one interface. Zero-initialise before the first attach. */
struct bfd_link_att {
	uint32_t ifindex;
	bool qdisc_created;	/* clsact was created by bpfilter: delete it on detach */
	uint32_t tc_in_prog_id; /* 0: no ingress filter attached */
	uint32_t tc_out_prog_id;
	uint32_t xdp_prog_id; /* 0: no XDP program attached */
	uint32_t xdp_mode;    /* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE */
};

/*
 * Attach the TC dispatchers (ingress_fd, egress_fd) to ifindex. Returns 0, -ENODEV when the
 * interface disappeared meanwhile (not an error for the caller: nothing is left attached), or
 * another -errno, logged with the interface name. On failure att records what is still attached.
 */
int bfd_attach_tc(const struct bf_log *log, const char *ifname, uint32_t ifindex, int ingress_fd,
		  int egress_fd, struct bfd_link_att *att);

/* Attach the XDP dispatcher, native mode when the driver has it, generic otherwise. Same returns.
 */
int bfd_attach_xdp(const struct bf_log *log, const char *ifname, uint32_t ifindex, int prog_fd,
		   struct bfd_link_att *att);

/* Remove what att records, only if it is still bpfilter's program; the clsact qdisc only if
 * bpfilter created it. An interface that is gone is not an error. Clears att. */
void bfd_detach(const struct bf_log *log, const char *ifname, struct bfd_link_att *att);

#endif /* BFD_ATTACH_H */
