/* SPDX-License-Identifier: GPL-2.0-only */
/* Emission helpers shared by the IP-part emitter and the match modules (tcp, udp, icmp). */
#ifndef BF_MATCH_COMMON_H
#define BF_MATCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../abi.h"
#include "../builder.h"

#define BF_PKT_OFF(field) ((int16_t)offsetof(struct bf_pkt, field))

/*
 * What a test decided at compile time amounts to: always true (emit nothing), never true (the
 * entry cannot match), or a test on the packet.
 */
enum bf_field { BF_FIELD_ALWAYS, BF_FIELD_NEVER, BF_FIELD_EMIT };

static inline enum bf_field bf_field_const(bool match)
{
	return match ? BF_FIELD_ALWAYS : BF_FIELD_NEVER;
}

/*
 * Jump to `miss` for every packet. The verifier rejects unreachable instructions, and the code the
 * caller emits after a match must stay reachable: so this is a conditional jump on a known
 * constant, which the verifier prunes, instead of a plain `ja`. Clobbers R0.
 */
void bf_emit_never(struct bf_builder *b, bf_label miss);

/*
 * The kernel's port_match(min, max, port, invert) on a port kept in network order at
 * bf_pkt+pkt_off: falls through when it is true, jumps to `miss` otherwise. Clobbers R1.
 */
void bf_emit_port_match(struct bf_builder *b, int16_t pkt_off, uint16_t min, uint16_t max,
			bool invert, bf_label miss);

/* Whether port_match(min, max, port, invert) is a constant, and which. */
enum bf_field bf_port_match_kind(uint16_t min, uint16_t max, bool invert);

/*
 * The common head of a transport match: a non-first fragment never matches (fragoff_h != 0 →
 * miss), and a first fragment or packet shorter than `hdr_len` bytes of transport header is
 * dropped (l4_len < hdr_len → hotdrop), as skb_header_pointer() failing does in the kernel.
 * hotdrop_frag1: a fragment at offset 1 (8-byte units) is dropped first (tcp_mt on IPv4).
 * Clobbers R1.
 */
void bf_emit_l4_head(struct bf_builder *b, uint32_t hdr_len, bool hotdrop_frag1, bf_label miss,
		     bf_label hotdrop);

#endif /* BF_MATCH_COMMON_H */
