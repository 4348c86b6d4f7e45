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
/* IPv6: ipv6_find_hdr(-1) fails (truncated or unparsable extension header chain): an entry
 * with IP6T_F_PROTO hotdrops. */
#define BF_PKT_F_X6_NOPROTO (1u << 8)
/* IPv6: the extension header walk stopped on a truncated header (-EBADMSG): a lookup of a
 * header kind the walk did not reach hotdrops (rt, frag, hbh, dst); otherwise it is -ENOENT. */
#define BF_PKT_F_X6_TRUNC (1u << 9)
/* OUTPUT of REJECT's own reply (the egress dispatcher sets it): the kernel's reply is owned by
 * its ICMP socket (icmp_send) or by none (nf_send_reset), where TC sees no socket at all. */
#define BF_PKT_F_REJECT_REPLY (1u << 10)

/*
 * Connection tracking (codegen/ct.c). One entry per connection in the runtime's LRU hash bf_ct,
 * keyed by the normalised tuple: both directions of a connection find the same entry.
 */
struct bf_ct_key {
	uint32_t addr[2][4]; /* network order (IPv4: addr[i][0], the rest zero); tcp/udp/generic:
			      * the lower (addr, port) endpoint first; icmp: the requester first */
	uint16_t port[2]; /* network order; icmp: id, type of the request | code << 8 */
	uint8_t proto;
	uint8_t v6; /* 1 for an IPv6 connection: the families never share an entry */
	uint8_t pad[2];
};

/* nf_conntrack_tcp.h's struct ip_ct_tcp_state. */
struct bf_ct_tcp_dir {
	uint32_t td_end;
	uint32_t td_maxend;
	uint32_t td_maxwin;
	uint32_t td_maxack;
	uint8_t td_scale;
	uint8_t flags; /* IP_CT_TCP_FLAG_* */
	uint8_t pad[2];
};

struct bf_ct_entry {
	uint64_t expires; /* bpf_ktime_get_ns() deadline */
	uint64_t stream_ts; /* udp: after this time a replied flow becomes a stream */
	uint32_t orig_src[4]; /* the original direction's tuple, network order (IPv4: [0]) */
	uint32_t orig_dst[4];
	uint16_t orig_sport; /* network order; icmp: id */
	uint16_t orig_dport; /* network order; icmp: type | code << 8 */
	uint8_t proto;
	uint8_t orig_swapped; /* key orientation of the original direction */
	uint8_t status; /* IPS_EXPECTED .. IPS_CONFIRMED bits */
	uint8_t state; /* tcp: TCP_CONNTRACK_* */
	/* tcp: struct ip_ct_tcp */
	uint8_t last_index;
	uint8_t last_dir;
	uint8_t last_flags;
	uint8_t last_wscale;
	uint8_t retrans;
	uint8_t pad1;
	uint16_t last_win;
	uint32_t last_seq;
	uint32_t last_ack;
	uint32_t last_end;
	uint16_t repl_sport; /* the reply direction's ports (icmp: id, reply type | code << 8) */
	uint16_t repl_dport;
	struct bf_ct_tcp_dir seen[2];
};

/*
 * The value of the runtime's one-entry ARRAY "bf_cfg", read by the dispatchers through a direct
 * map value address (no helper call). Written by the daemon only (codegen/gen.c).
 */
struct bf_cfg {
	/* Bit BF_ROOT_SLOT_* (1 << pkt->ct_v6): the family's active generation has rules that need
	 * connection tracking (state, conntrack). The kernel registers its conntrack hooks for a
	 * family only while a rule needs them (nf_ct_netns_get in checkentry); the dispatcher
	 * likewise runs the tracker only for such a family, and otherwise gives every packet
	 * "no connection" (codegen/ct.c, bf_ct_emit_none). */
	uint32_t track;
	uint32_t pad;
};

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
	/* IPv6: offset from l3_off of the first hop-by-hop, destination options, routing and
	 * fragment header the walk of the dispatcher found (ipv6_find_hdr(target)); 0: none.
	 * The walk is bounded (codegen/dispatch.c); a longer chain counts as truncated. */
	uint16_t x6_hbh;
	uint16_t x6_dst;
	uint16_t x6_rt;
	uint16_t x6_frag;
	/* Chain traversal state, owned by chain programs. */
	uint32_t jsp; /* jump stack depth */
	uint32_t jstack[BF_JSTACK_MAX]; /* region ids to continue at on RETURN */
	/* Classifier (codegen/classify.c): per jump stack depth, the result of the lookups of a
	 * run that spans jumps, read again where the chain continues after each of them. */
	uint64_t cl_best[BF_JSTACK_MAX + 1];
	/* The running minimum of the run being evaluated. In memory rather than on the stack: the
	 * verifier tracks a stack slot's bounds, which differ after every lookup that hit or
	 * missed, and the counter's offset made it keep them (precise), so it could not prune the
	 * paths and walked a 1.7k-instruction region 5 times (11 ms of an `iptables -A` at 10k
	 * rules). A value read from a map is an unknown scalar: the paths join again. */
	uint64_t cl_cur;
	/* The key of the classifier's lookups, built here for the same reason: stack slots that
	 * one class fills with constants and another with packet fields made states that differ
	 * at every join. A helper takes a map key from a map value as well as from the stack. */
	uint8_t cl_key[24];
	/* Connection tracking (codegen/ct.c, doc/conntrack.md), set by the dispatcher for every
	 * IPv4 and IPv6 packet before the chains, as nf_conntrack_in does before the filter: */
	uint16_t ct_state; /* the xt_conntrack bit of the packet (1: INVALID; UNTRACKED for
			    * IPv6 neighbour discovery and MLD); no connection unless a ctinfo bit */
	uint8_t ct_dir; /* IP_CT_DIR_ORIGINAL or IP_CT_DIR_REPLY (valid unless INVALID) */
	uint8_t ct_commit; /* 1: a new connection; ct_ent goes in under ct_key on ACCEPT */
	uint8_t ct_v6; /* set by the dispatcher before the tracker: 1 for an IPv6 packet */
	uint8_t ct_pad[3];
	struct bf_ct_key ct_key;
	struct bf_ct_entry ct_ent; /* the packet's connection as the filter sees it */
	/* Targets (codegen/target/reject.c); not cleared by the dispatcher. */
	uint32_t tgt_arg; /* argument for the helper program a target tail-calls (REJECT: with) */
	/* REJECT's reply, redirected to the egress of this interface with this skb->len: the
	 * egress dispatcher evaluates it as OUTPUT, as the kernel's ip_local_out does, once. */
	uint32_t reply_ifindex;
	uint32_t reply_len;
	/* Odd while this CPU runs a generation: the dispatcher adds 1 before it enters the root
	 * slot and 1 when the generation returns, unless it was odd already (a dispatcher run
	 * nested in another, REJECT's reply at egress). bf_gen_activate() waits on it instead
	 * of an RCU grace period (codegen/gen.c). Not cleared by the dispatcher. */
	uint64_t gen_seq;
};

#endif /* BF_ABI_H */
