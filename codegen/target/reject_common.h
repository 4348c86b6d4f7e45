/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the IPv4 and IPv6 reject programs (reject.c, reject6.c) share: one's complement sums
 * over the stack and the packet, and sending the reply. Each program has its own stack layout;
 * struct bf_rej_frame tells these emitters where their slots are.
 */
#ifndef BF_REJECT_COMMON_H
#define BF_REJECT_COMMON_H

#include <stdint.h>

#include "../builder.h"

struct bf_rej_frame {
	int16_t acc;	   /* u64 one's complement accumulator */
	int16_t soff;	   /* u64 bf_rej_emit_sum_pkt: next packet offset */
	int16_t slen;	   /* u64 bf_rej_emit_sum_pkt: bytes left */
	int16_t buf;	   /* `chunk` bytes: packet bytes being summed */
	int16_t chunk;	   /* a multiple of 4 */
	int32_t tail_mask; /* the last (< chunk) bytes, rounded up to 4, & this: bounds them for
			    * the verifier within the stack */
	int16_t mac;	   /* 12 bytes: destination and source MAC of the reply */
	int16_t fib;	   /* struct bpf_fib_lookup: its ifindex is the reply's interface */
};

/* reg = r10 + off */
void bf_rej_emit_fp(struct bf_builder *b, uint8_t reg, int16_t off);

/* r0 = fold(r0) to 16 bits. Clobbers r1. (The dispatcher folds its IP header check with it.) */
void bf_rej_emit_fold(struct bf_builder *b);

/* acc = csum_diff(NULL, 0, fp + off, len, acc) for a constant len (multiple of 4). */
void bf_rej_emit_sum_stack(struct bf_builder *b, const struct bf_rej_frame *f, int16_t off,
			   int32_t len);

/*
 * acc += the packet's bytes [soff, soff + slen), `chunk` bytes at a time through the stack (any
 * length up to 64 KiB, linear or not). The offset of the first byte must be even relative to
 * where the checksum starts. Jumps to `fail` if bytes are missing.
 */
void bf_rej_emit_sum_pkt(struct bf_builder *b, const struct bf_rej_frame *f, bf_label fail);

/* bpf_skb_change_tail(skb, l3_off + len_reg, 0); jumps to `drop` if it fails. */
void bf_rej_emit_cut(struct bf_builder *b, uint8_t len_reg, bf_label drop);

/*
 * Turn the packet into the reply: `len` bytes from l3_off, taken from the stack at `hdr`. The
 * bytes between the first `base` bytes of the IP header and the transport header (IPv4 options,
 * IPv6 extension headers) are removed first: bpf_skb_change_tail() refuses to cut below the
 * transport header a sender set (__bpf_skb_min_len(); AF_PACKET sets it), and an RST is shorter
 * than such a packet's headers. Jumps to `drop` when a helper fails.
 */
void bf_rej_emit_put_reply(struct bf_builder *b, int32_t base, int16_t hdr, int32_t len,
			   bf_label drop);

/*
 * Store the MACs (Ethernet only), then redirect: to the egress of the route's interface (and
 * mark the reply for the egress dispatcher's OUTPUT, pkt->reply_*), or for OUTPUT to the
 * ingress of lo (raw IP devices: of this interface).
 */
void bf_rej_emit_send(struct bf_builder *b, const struct bf_rej_frame *f, bf_label drop);

/* The integer in a sysctl file if it is within 1..255 (a TTL or hop limit), else `def`. */
int bf_rej_sysctl_ttl(const char *path, int def);

#endif /* BF_REJECT_COMMON_H */
