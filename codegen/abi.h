/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The runtime conventions of generated code, written down once.
 *
 * Registers, in every generated program after its prologue:
 *   R0-R5  scratch; clobbered by helper calls.
 *   R6     the program context (struct __sk_buff * at TC, struct xdp_md * at XDP).
 *   R7     struct bf_pkt * : this CPU's packet context (never NULL after the prologue).
 *   R8-R9  free for an emitter's own use inside one match/target; not preserved between entries.
 *   R10    frame pointer.
 * Stack (offsets from R10):
 *   [-8]              map key scratch (u32) for counter / prog array / stack lookups.
 *   [-BF_STACK_SCRATCH_OFF, -16)  BF_STACK_SCRATCH_SIZE bytes an emitter may use inside one
 *                     match/target (e.g. bytes copied with bpf_skb_load_bytes).
 *   [-88]             chain programs: pointer to the current counter chunk (codegen/gen.c).
 * Nothing on the stack survives a tail call; what must survive lives in struct bf_pkt.
 *
 * struct bf_pkt is the value of the per-CPU array map "bf_ctx" (one entry, key 0). The
 * dispatcher fills it once per packet; chain programs read it. All multi-byte packet fields are
 * kept in network byte order exactly as in the header unless the name ends in _h (host order).
 */
#ifndef BF_ABI_H
#define BF_ABI_H

#include <stdint.h>

#define BF_STACK_SCRATCH_OFF 80 /* scratch spans [R10-80, R10-16) */
#define BF_STACK_SCRATCH_SIZE 64

/* Jump stack depth. A packet can make at most 33 tail calls and each push needs one, so a deeper
 * stack could never be used. */
#define BF_JSTACK_MAX 32

/* bf_pkt.flags */
#define BF_PKT_F_L4_OK (1u << 0) /* a full fixed L4 header is present (see l4_len) */

struct bf_pkt {
	/* Set by the dispatcher. */
	uint32_t hook; /* NF_INET_LOCAL_IN / FORWARD / LOCAL_OUT */
	uint32_t l3_off; /* offset of the IP header from the start of packet data */
	uint32_t l4_off; /* offset of the transport header (l3_off + ihl*4 for IPv4) */
	uint32_t len; /* bytes to count: the IP packet length as the kernel counts it */
	uint32_t l4_len; /* bytes from l4_off to the end of the IP packet (len - ihl*4) */
	uint32_t iif; /* ifindex of the in interface, 0 if none (OUTPUT) */
	uint32_t oif; /* ifindex of the out interface, 0 if none (INPUT) */
	uint64_t iifname[2]; /* in interface name, NUL padded to 16 bytes; zero if none */
	uint64_t oifname[2]; /* out interface name, NUL padded to 16 bytes; zero if none */
	uint32_t saddr[4]; /* IPv4 uses saddr[0] (network order); IPv6 all four */
	uint32_t daddr[4];
	uint8_t proto; /* IPv4 protocol field (IPv6: the upper-layer protocol found) */
	uint8_t ihl_opts; /* IPv4: bytes of IP options (ihl*4 - 20) */
	uint16_t fragoff_h; /* fragment offset in 8-byte units, host order (0: first/unfragmented) */
	uint16_t frag_flags_h; /* IP_MF / IP_DF bits of frag_off, host order */
	uint8_t tos;
	uint8_t ttl;
	/* Transport fields, valid only when fragoff_h == 0 and the header is long enough: */
	uint16_t sport; /* network order (tcp/udp) */
	uint16_t dport;
	uint8_t tcpflags; /* byte 13 of the TCP header */
	uint8_t tcpdoff; /* TCP data offset in bytes (doff*4) */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint32_t flags; /* BF_PKT_F_* */
	/* Chain traversal state, owned by chain programs. */
	uint32_t jsp; /* jump stack depth */
	uint32_t jstack[BF_JSTACK_MAX]; /* region ids to continue at on RETURN */
};

#endif /* BF_ABI_H */
