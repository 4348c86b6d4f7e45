/* SPDX-License-Identifier: GPL-2.0-only */
/* The IP part of an entry (ipt_ip: -s, -d, -i, -o, -p, -f and their inversions), emitted as
 * ip_packet_match() in net/ipv4/netfilter/ip_tables.c decides it. */
#ifndef BF_IPMATCH_H
#define BF_IPMATCH_H

#include <stdbool.h>

#include "ext.h"

/* Falls through when the entry's IP part matches; jumps to ctx->miss otherwise. Emits nothing
 * for fields the entry leaves as wildcards. 0 or -errno. */
int bf_emit_ipmatch(struct bf_emit_ctx *ctx, const struct bf_entry *e);

/* Whether the IP part matches every packet (no code at all). */
bool bf_ipmatch_is_wildcard(int family, const struct bf_entry *e);

#endif /* BF_IPMATCH_H */
