/* SPDX-License-Identifier: GPL-2.0-only */
/* Helpers of the IPv6 extension header matches (rt, frag, hbh, dst): the dispatcher's walk
 * recorded where each kind of header first appears (struct bf_pkt x6_*, codegen/abi.h). */
#ifndef BF_MATCH_EXTHDR_H
#define BF_MATCH_EXTHDR_H

#include <stdbool.h>
#include <stdint.h>

#include "../builder.h"
#include "../ext.h"

/*
 * ipv6_find_hdr(skb, &ptr, target, NULL, NULL) and the caller's "err < 0: hotdrop unless
 * -ENOENT, no match": R8 = the header's offset from the IPv6 header (pkt field at x6_off);
 * a header the walk did not find jumps to `miss`, or to `hotdrop` when the walk stopped on a
 * truncated chain. Clobbers R1.
 */
void bf_emit_x6_find(struct bf_builder *b, int16_t x6_off, bf_label miss, bf_label hotdrop);

/* Copy `len` bytes at l3_off + R8 + add to R10 + stack_off; jump to `fail` if they are not
 * there. Clobbers R0-R5. */
void bf_emit_x6_load(struct bf_builder *b, enum bf_prog_ctx pctx, int32_t add, int16_t stack_off,
		     uint32_t len, bf_label fail);

/* R9 = ipv6_optlen() of the header copied at stack_off; jump to `miss` when the packet is
 * shorter than that from R8 on ("packet smaller than its length field": rt and dst pass their
 * hotdrop label, which is what a 6.18 kernel does). Clobbers R1. */
void bf_emit_x6_optlen(struct bf_builder *b, int16_t stack_off, bf_label miss);

/* Jump to `miss` unless (reg == val) ^ invert; reg holds a value of at most `bits` bits. */
void bf_emit_x6_eq(struct bf_builder *b, uint8_t reg, uint32_t val, unsigned int bits, bool invert,
		   bf_label miss);

#endif /* BF_MATCH_EXTHDR_H */
