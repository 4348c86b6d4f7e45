/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Connection tracking in BPF maps (doc/conntrack.md): the tracker the dispatcher runs for every
 * IPv4 and IPv6 packet before the chains (nf_conntrack_in at PREROUTING / LOCAL_OUT), and the
 * commit that inserts a new connection when the filter accepts its first packet
 * (nf_conntrack_confirm). Private to the code generator.
 */
#ifndef BF_CT_H
#define BF_CT_H

#include <stdbool.h>

#include "builder.h"
#include "ext.h"
#include "log.h"

/* The runtime's connection table: the second-to-last map slot (the last is the classifier's). */

/* Entries of bf_ct (an LRU hash: when full, the least recently used connection is evicted). */
#define BF_CT_MAX 65536

/* Create the connection table: fd or -errno. */
int bf_ct_map_create(const struct bf_log *log);

/*
 * Tracking of a family is about to start again (struct bf_cfg): its established TCP connections
 * missed the packets sent meanwhile, so their windows are learnt again from the next packet of
 * each direction (td_maxwin = 0), as nf_ct_netns_do_get's nf_ct_tcp_fixup does when the kernel
 * registers its conntrack hooks. Call it while the family is not tracked: no packet writes its
 * entries then. 0 or -errno; *n_fixed (if not NULL): the connections changed.
 */
int bf_ct_fixup_tcp(int ct_fd, bool v6, uint32_t *n_fixed);

/*
 * Track the packet described by struct bf_pkt (R6 ctx, R7 pkt, as abi.h), of the family in
 * pkt->ct_v6 (IPv6: l4_off and proto are the upper layer after the extension headers, as the
 * dispatcher found them): fill pkt->ct_* and update the connection it belongs to. `ingress`: the packet was received (PREROUTING), else
 * locally generated (LOCAL_OUT). Uses R0-R5, R8, R9 and the stack in [fp-512, fp-160). Falls
 * through at its end.
 */
void bf_ct_emit_track(struct bf_builder *b, enum bf_prog_ctx pctx, bool ingress);

/* A packet the tracker does not see: no connection, nothing to commit. */
void bf_ct_emit_none(struct bf_builder *b);

/* At a verdict ACCEPT that leaves the datapath: insert pkt->ct_ent if the packet opened a new
 * connection. Uses R0-R5; falls through. */
void bf_ct_emit_commit(struct bf_builder *b);

#endif /* BF_CT_H */
