/* SPDX-License-Identifier: GPL-2.0-only */
/* Emission helpers shared by the IP-part emitter and the match modules (tcp, udp, icmp). */
#ifndef BF_MATCH_COMMON_H
#define BF_MATCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../abi.h"
#include "../builder.h"
#include "../ext.h"

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

/*
 * Many match functions return `(test) ^ info->invert` as a bool, with an invert field wider than
 * one bit: 0 keeps the test, 1 inverts it, any other value makes the result true whatever the
 * test says. What a given invert value amounts to:
 */
enum bf_inv { BF_INV_PLAIN, BF_INV_INVERT, BF_INV_ALWAYS };

static inline enum bf_inv bf_inv_kind(uint32_t invert)
{
	return invert == 0 ? BF_INV_PLAIN : invert == 1 ? BF_INV_INVERT : BF_INV_ALWAYS;
}

/*
 * Copy `len` bytes of packet data from offset (bf_pkt field at `base_off`) + `add` to the stack at
 * R10 + `stack_off` (bpf_skb_load_bytes at TC, bpf_xdp_load_bytes at XDP); jump to `fail` if the
 * bytes are not there. `len` is a constant; the _reg variant takes it in R4, bounded by the
 * caller for the verifier. Clobbers R0-R5.
 */
void bf_emit_load_pkt(struct bf_builder *b, enum bf_prog_ctx pctx, int16_t base_off, int32_t add,
		      int16_t stack_off, uint32_t len, bf_label fail);
void bf_emit_load_pkt_reg(struct bf_builder *b, enum bf_prog_ctx pctx, int16_t base_off,
			  int32_t add, int16_t stack_off, bf_label fail);

/*
 * Unsigned range test on a register holding a value in host order: falls through when
 * (min <= reg <= max) is the wanted answer (`want`), jumps to `miss` otherwise. Uses 32-bit
 * compares. Constant outcomes (empty range, full range up to `top`) emit no load-dependent code
 * beyond bf_emit_never(). Clobbers R0 only in the constant-miss case.
 */
void bf_emit_reg_range(struct bf_builder *b, uint8_t reg, uint32_t min, uint32_t max, uint32_t top,
		       bool want, bf_label miss);

/*
 * Byte offsets, read from the running kernel's BTF once, of the fields that lead from a struct sock
 * to its file's credentials (sk->sk_socket->file->f_cred->fsuid, fsgid), as xt_owner and the LOG
 * target's --log-uid read them. 0 or -errno (no BTF, or a field missing); implemented in owner.c.
 */
struct bf_sk_cred_offs {
	int sk_socket, file, f_cred, fsuid, fsgid;
};
int bf_sk_cred_offsets(const struct bf_log *log, struct bf_sk_cred_offs *out);

#endif /* BF_MATCH_COMMON_H */
