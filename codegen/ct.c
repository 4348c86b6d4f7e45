// SPDX-License-Identifier: GPL-2.0-only
/*
 * Connection tracking in BPF maps, with the kernel's semantics (doc/conntrack.md).
 *
 * The dispatcher runs the tracker (one copy for both families: addresses are 128-bit, an IPv4
 * one in the first word) before the chains, as nf_conntrack_in() runs at PREROUTING and
 * LOCAL_OUT before the filter, on every packet of a family whose active table has a rule that
 * reads connections (struct bf_cfg: the kernel registers its hooks only while such a rule
 * exists, nf_ct_netns_get); a packet of another family has no connection (INVALID). It finds
 * the connection (bf_ct, an LRU hash keyed by the normalised tuple), decides the packet's
 * ctinfo, and updates an existing connection (TCP state and window, timeouts) whatever the
 * filter later decides. A packet that opens a
 * connection leaves the new entry in struct bf_pkt; the chain programs insert it only when the
 * filter accepts the packet (bf_ct_emit_commit), as nf_conntrack_confirm() does at POSTROUTING /
 * LOCAL_IN.
 *
 * The protocol trackers follow net/netfilter/nf_conntrack_proto_{tcp,udp,icmp,generic}.c:
 * tcp_error/tcp_new/nf_conntrack_tcp_packet/tcp_in_window (the tcp_conntracks table, window
 * tracking, ignore and challenge-ACK handling, timeouts), udp_error and the UDP stream timeout,
 * ICMP echo-like pairs and ICMP errors RELATED by the quoted tuple (nf_conntrack_inet_error),
 * nf_conntrack_proto_icmpv6.c (echo and node information pairs, neighbour discovery and MLD
 * UNTRACKED, errors and redirects RELATED), and the generic tracker for every other protocol.
 *
 * The whole connection is copied to pkt->ct_ent, processed there with constant offsets from R7,
 * and copied back to the map value: concurrent packets of one connection on two CPUs may lose
 * an update (the kernel takes ct->lock); the window checks tolerate that the way they tolerate
 * reordering.
 */
#include "ct.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <bpf/bpf.h>
#include <linux/in.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/xt_conntrack.h>

#include "abi.h"
#include "bpf_insn.h"

#define PKT_OFF(f) ((int16_t)offsetof(struct bf_pkt, f))
#define CE(f) ((int16_t)(offsetof(struct bf_pkt, ct_ent) + offsetof(struct bf_ct_entry, f)))
#define CK(f) ((int16_t)(offsetof(struct bf_pkt, ct_key) + offsetof(struct bf_ct_key, f)))
#define SEEN0 CE(seen)
#define TD(f) ((int16_t)offsetof(struct bf_ct_tcp_dir, f))
#define SKB_OFF(f) ((int16_t)offsetof(struct __sk_buff, f))

_Static_assert(offsetof(struct bf_pkt, ct_state) % 8 == 0, "ct fields zeroed by 8 bytes");
_Static_assert(offsetof(struct bf_pkt, ct_ent) % 8 == 0, "ct_ent copied by 8 bytes");
_Static_assert(offsetof(struct bf_pkt, gen_seq) % 8 == 0 &&
		       offsetof(struct bf_pkt, gen_seq) + 8 == sizeof(struct bf_pkt),
	       "gen_seq is the last word of bf_pkt, left out of the tracker's clearing");
_Static_assert(sizeof(struct bf_ct_entry) % 8 == 0, "ct_ent copied by 8 bytes");
_Static_assert(sizeof(struct bf_ct_tcp_dir) == 20, "seen[] stride");

#define NSEC 1000000000ll

/* Stack slots, below what the dispatcher uses (fp-160). u32 values are stored as BPF_W. */
#define S_NOW (-168)	/* u64 now */
#define S_MAPV (-176)	/* the map value of an existing connection, or 0 */
#define S_SWAP (-184)	/* the packet's key orientation (0/1) */
#define S_DIR (-192)	/* IP_CT_DIR_* of the packet */
#define S_IDX (-200)	/* tcp: get_conntrack_index() */
#define S_OLD (-208)	/* tcp: old state */
#define S_NEW (-216)	/* tcp: new state */
#define S_SEQ (-224)	/* tcp: seq */
#define S_ACK (-228)	/* tcp: ack (after the pretend-ACK rules) */
#define S_SACK (-232)	/* tcp: sack */
#define S_END (-236)	/* tcp: segment end */
#define S_WIN (-240)	/* tcp: window (scaled later) */
#define S_WINRAW (-244) /* tcp: window as sent */
#define S_ACKSEQ (-248) /* tcp: ack_seq as sent */
#define S_FLAGS (-256)	/* tcp: flags byte */
#define S_TMO (-264)	/* timeout in seconds */
#define S_OWS (-272)	/* tcp options: window scale */
#define S_OFL (-280)	/* tcp options: IP_CT_TCP_FLAG_WINDOW_SCALE | SACK_PERM */
#define S_OSACK (-288)	/* tcp options: highest SACK right edge (starts at ack_seq) */
#define S_SDONE (-296)	/* tcp options: first SACK option seen */
#define S_RES (-304)	/* tcp_in_window result */
#define S_ISNEW (-312)	/* 1: the packet opens a connection (pkt->ct_ent is new) */
#define S_HDR (-368)	/* 64 bytes: tcp header (20) + options (40) / icmp header */
#define S_INNER (-400)	/* 32 bytes: the IP header quoted by an ICMP error (20) + 8 bytes */
#define S_INL4 (-376)
/* IPv6: the header quoted by an ICMPv6 error, its transport header, an extension header. */
#define S_IN6 (-472)   /* 40 bytes */
#define S_IN6L4 (-432) /* 8 bytes */
#define S_IN6X (-424)  /* 8 bytes */
#define S_IN6P (-416)  /* the quoted packet's upper-layer protocol */

#define OPT_OFF (S_HDR + 20)
#define OPT_MAX 40

/* nf_conntrack_proto_tcp.c */
enum { IDX_SYN, IDX_SYNACK, IDX_FIN, IDX_ACK, IDX_RST, IDX_NONE };
enum { RES_ACCEPT, RES_IGNORE, RES_INVALID };
#define sNO TCP_CONNTRACK_NONE
#define sSS TCP_CONNTRACK_SYN_SENT
#define sSR TCP_CONNTRACK_SYN_RECV
#define sES TCP_CONNTRACK_ESTABLISHED
#define sFW TCP_CONNTRACK_FIN_WAIT
#define sCW TCP_CONNTRACK_CLOSE_WAIT
#define sLA TCP_CONNTRACK_LAST_ACK
#define sTW TCP_CONNTRACK_TIME_WAIT
#define sCL TCP_CONNTRACK_CLOSE
#define sS2 TCP_CONNTRACK_SYN_SENT2
#define sIV TCP_CONNTRACK_MAX
#define sIG TCP_CONNTRACK_IGNORE

/* tcp_conntracks[dir][index][old state], as in the kernel (6.x). */
static const uint8_t tcp_conntracks[2][6][10] = {
	{
		/*	     sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2 */
		/*syn*/ {sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2},
		/*synack*/ {sIV, sIV, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR},
		/*fin*/ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		/*ack*/ {sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV},
		/*rst*/ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		/*none*/ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	},
	{
		/*syn*/ {sIV, sS2, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sS2},
		/*synack*/ {sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR},
		/*fin*/ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		/*ack*/ {sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG},
		/*rst*/ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		/*none*/ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	},
};

/* tcp_timeouts[] in seconds (TCP_CONNTRACK_RETRANS and _UNACK: 5 minutes). */
static const uint32_t tcp_timeouts[10] = {
	[sNO] = 0,  [sSS] = 120, [sSR] = 60,  [sES] = 5 * 86400, [sFW] = 120,
	[sCW] = 60, [sLA] = 30,	 [sTW] = 120, [sCL] = 10,	 [sS2] = 120,
};
#define TMO_RETRANS 300
#define TMO_UNACK 300
#define TCP_MAX_RETRANS 3
#define MAXACKWINCONST 66000

#define UDP_TMO_UNREPLIED 30
#define UDP_TMO_REPLIED 120
#define UDP_STREAM_NS (2 * NSEC)
#define ICMP_TMO 30
#define GENERIC_TMO 600

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80

/* ctinfo bits of xt_conntrack/xt_state */
#define ST_INVALID XT_CONNTRACK_STATE_INVALID
#define ST_ESTABLISHED XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED)
#define ST_RELATED XT_CONNTRACK_STATE_BIT(IP_CT_RELATED)
#define ST_NEW XT_CONNTRACK_STATE_BIT(IP_CT_NEW)
#define ST_UNTRACKED XT_CONNTRACK_STATE_UNTRACKED

#define IP_OFFSET_MASK 0x1fff

/* IPv6 (linux/ipv6.h, net/ipv6.h, net/ndisc.h; the UAPI headers lack some). */
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_NONE 59
#define NEXTHDR_DEST 60
#define ICMPV6_REDIRECT 137
#define ND_OPT_REDIRECT_HDR 4
/* Extension headers of a quoted packet that the tracker skips (ipv6_skip_exthdr has no bound):
 * as many as the dispatcher walks in a packet (BF_X6_WALK_MAX), so that the error about any
 * packet bpfilter tracked finds its connection (7 headers: IPv6 seed 19). */
#define IN6_WALK_MAX 8

/* ICMP request/reply type pairs: nf_conntrack_proto_icmp.c, nf_conntrack_proto_icmpv6.c. */
static const uint8_t icmp_pairs[][2] = {{8, 0}, {13, 14}, {15, 16}, {17, 18}};
static const uint8_t icmp6_pairs[][2] = {{128, 129}, {139, 140}};

struct ctc {
	struct bf_builder *b;
	enum bf_prog_ctx pctx;
	bool ingress;
	bf_label out;	  /* done: pkt->ct_* final */
	bf_label invalid; /* the packet is INVALID (an existing connection is written back) */
	bf_label valid;	  /* the packet belongs to its connection (state already set) */
};

/* Short emitters. */
static void E(struct bf_builder *b, struct bpf_insn i)
{
	bf_emit(b, i);
}

static void ldx(struct bf_builder *b, int sz, int d, int s, int16_t off)
{
	bf_emit(b, BF_LDX_MEM(sz, d, s, off));
}

static void stx(struct bf_builder *b, int sz, int base, int16_t off, int s)
{
	bf_emit(b, BF_STX_MEM(sz, base, s, off));
}

static void sti(struct bf_builder *b, int sz, int base, int16_t off, int32_t imm)
{
	bf_emit(b, BF_ST_MEM(sz, base, off, imm));
}

static void movi(struct bf_builder *b, int d, int32_t imm)
{
	bf_emit(b, BF_MOV64_IMM(d, imm));
}

static void mov(struct bf_builder *b, int d, int s)
{
	bf_emit(b, BF_MOV64_REG(d, s));
}

/* An always-taken jump that keeps the next instruction in the CFG (see gen.c). */
static void jgo(struct bf_builder *b, bf_label to)
{
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_7, 0, to);
}

/* Jump to `to` when (s32)(ra - rb) < 0, i.e. before(ra, rb). Clobbers R0. */
static void jbefore(struct bf_builder *b, int ra, int rb, bf_label to)
{
	E(b, BF_MOV32_REG(BPF_REG_0, ra));
	E(b, BF_ALU32_REG(BPF_SUB, BPF_REG_0, rb));
	bf_emit_jmp32_imm(b, BPF_JSLT, BPF_REG_0, 0, to);
}

/* Jump to `to` when !before(ra, rb). Clobbers R0. */
static void jnbefore(struct bf_builder *b, int ra, int rb, bf_label to)
{
	E(b, BF_MOV32_REG(BPF_REG_0, ra));
	E(b, BF_ALU32_REG(BPF_SUB, BPF_REG_0, rb));
	bf_emit_jmp32_imm(b, BPF_JSGE, BPF_REG_0, 0, to);
}

/* r = load_bytes(ctx, r2 = pkt offset, fp + stack_off, r4 = len): jump to `fail` on error. */
static void load_bytes(struct ctc *c, int16_t stack_off, bf_label fail)
{
	struct bf_builder *b = c->b;

	mov(b, BPF_REG_1, BPF_REG_6);
	mov(b, BPF_REG_3, BPF_REG_10);
	E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, stack_off));
	E(b, BF_CALL(c->pctx == BF_CTX_XDP ? BPF_FUNC_xdp_load_bytes : BPF_FUNC_skb_load_bytes));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_0, 0, fail);
}

/* Copy `len` bytes (multiple of 8) between R7-relative and Rx-relative memory. */
static void copy8(struct bf_builder *b, int dst, int16_t doff, int src, int16_t soff, int len)
{
	for (int o = 0; o < len; o += 8) {
		ldx(b, BPF_DW, BPF_REG_1, src, (int16_t)(soff + o));
		stx(b, BPF_DW, dst, (int16_t)(doff + o), BPF_REG_1);
	}
}

/* pkt->ct_ent.expires = now + seconds in R1 (u32). Clobbers R1, R2. */
static void set_expires_r1(struct bf_builder *b)
{
	E(b, BF_MOV32_REG(BPF_REG_1, BPF_REG_1));
	bf_emit(b, BF_LD_IMM64_LO(BPF_REG_2, 0, NSEC));
	bf_emit(b, BF_LD_IMM64_HI(NSEC));
	E(b, BF_ALU64_REG(BPF_MUL, BPF_REG_1, BPF_REG_2));
	ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_NOW);
	E(b, BF_ALU64_REG(BPF_ADD, BPF_REG_1, BPF_REG_2));
	stx(b, BPF_DW, BPF_REG_7, CE(expires), BPF_REG_1);
}

static void set_expires(struct bf_builder *b, uint32_t secs)
{
	movi(b, BPF_REG_1, (int32_t)secs);
	set_expires_r1(b);
}

/*
 * Key from two endpoints, R1 = addr a, R2 = addr b (network order), R3 = port a, R4 = port b,
 * protocol `proto`: the lower endpoint first (any total order does: both directions must give
 * the same key). S_SWAP = 1 when b came first.
 */
static void emit_key_pair(struct bf_builder *b, int proto)
{
	bf_label swap = bf_label_new(b), store = bf_label_new(b), keep = bf_label_new(b);

	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_1, BPF_REG_2, swap);
	bf_emit_jmp_reg(b, BPF_JLT, BPF_REG_1, BPF_REG_2, keep);
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_3, BPF_REG_4, swap);
	bf_label_bind(b, keep);
	sti(b, BPF_DW, BPF_REG_10, S_SWAP, 0);
	jgo(b, store);
	bf_label_bind(b, swap);
	sti(b, BPF_DW, BPF_REG_10, S_SWAP, 1);
	mov(b, BPF_REG_5, BPF_REG_1);
	mov(b, BPF_REG_1, BPF_REG_2);
	mov(b, BPF_REG_2, BPF_REG_5);
	mov(b, BPF_REG_5, BPF_REG_3);
	mov(b, BPF_REG_3, BPF_REG_4);
	mov(b, BPF_REG_4, BPF_REG_5);
	bf_label_bind(b, store);
	stx(b, BPF_W, BPF_REG_7, CK(addr[0][0]), BPF_REG_1);
	stx(b, BPF_W, BPF_REG_7, CK(addr[1][0]), BPF_REG_2);
	stx(b, BPF_H, BPF_REG_7, CK(port[0]), BPF_REG_3);
	stx(b, BPF_H, BPF_REG_7, CK(port[1]), BPF_REG_4);
	sti(b, BPF_B, BPF_REG_7, CK(proto), proto);
}

/* Copy an IPv6 address (4 words) from (rs + os) to (rd + od). Clobbers R0. */
static void copy_addr6(struct bf_builder *b, int rd, int16_t od, int rs, int16_t os)
{
	for (int16_t w = 0; w < 16; w += 4) {
		ldx(b, BPF_W, BPF_REG_0, rs, (int16_t)(os + w));
		stx(b, BPF_W, rd, (int16_t)(od + w), BPF_REG_0);
	}
}

/*
 * emit_key_pair for IPv6: endpoint a = the address at (ra + oa) with port R3, endpoint b = the
 * address at (rb + ob) with port R4 (ra, rb: R7 or R10). The addresses compare word by word.
 */
static void emit_key_pair6(struct bf_builder *b, int proto, int ra, int16_t oa, int rb, int16_t ob)
{
	bf_label swap = bf_label_new(b), store = bf_label_new(b), keep = bf_label_new(b);

	for (int16_t w = 0; w < 16; w += 4) {
		ldx(b, BPF_W, BPF_REG_1, ra, (int16_t)(oa + w));
		ldx(b, BPF_W, BPF_REG_2, rb, (int16_t)(ob + w));
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_1, BPF_REG_2, swap);
		bf_emit_jmp_reg(b, BPF_JLT, BPF_REG_1, BPF_REG_2, keep);
	}
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_3, BPF_REG_4, swap);
	bf_label_bind(b, keep);
	sti(b, BPF_DW, BPF_REG_10, S_SWAP, 0);
	copy_addr6(b, BPF_REG_7, CK(addr[0]), ra, oa);
	copy_addr6(b, BPF_REG_7, CK(addr[1]), rb, ob);
	stx(b, BPF_H, BPF_REG_7, CK(port[0]), BPF_REG_3);
	stx(b, BPF_H, BPF_REG_7, CK(port[1]), BPF_REG_4);
	jgo(b, store);
	bf_label_bind(b, swap);
	sti(b, BPF_DW, BPF_REG_10, S_SWAP, 1);
	copy_addr6(b, BPF_REG_7, CK(addr[0]), rb, ob);
	copy_addr6(b, BPF_REG_7, CK(addr[1]), ra, oa);
	stx(b, BPF_H, BPF_REG_7, CK(port[0]), BPF_REG_4);
	stx(b, BPF_H, BPF_REG_7, CK(port[1]), BPF_REG_3);
	bf_label_bind(b, store);
	sti(b, BPF_B, BPF_REG_7, CK(proto), proto);
}

/*
 * The normalised key of endpoints (ra + oa, port R3) and (rb + ob, port R4), either family: an
 * IPv4 address is word 0 of the four, the others zero (the dispatcher clears them), which
 * orders the endpoints as emit_key_pair does.
 */
static void emit_key_ep(struct ctc *c, int proto, int ra, int16_t oa, int rb, int16_t ob)
{
	emit_key_pair6(c->b, proto, ra, oa, rb, ob);
}

/* The packet's own tuple as key (ports from pkt->sport/dport, 0 for `noports`). */
static void emit_key_pkt(struct ctc *c, int proto, bool noports)
{
	struct bf_builder *b = c->b;

	if (noports) {
		movi(b, BPF_REG_3, 0);
		movi(b, BPF_REG_4, 0);
	} else {
		ldx(b, BPF_H, BPF_REG_3, BPF_REG_7, PKT_OFF(sport));
		ldx(b, BPF_H, BPF_REG_4, BPF_REG_7, PKT_OFF(dport));
	}
	emit_key_ep(c, proto, BPF_REG_7, PKT_OFF(saddr), BPF_REG_7, PKT_OFF(daddr));
}

/* R0 = bf_ct[pkt->ct_key] if present and not expired, else jump to `miss`. */
static void emit_lookup(struct bf_builder *b, bf_label miss)
{
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_CT);
	mov(b, BPF_REG_2, BPF_REG_7);
	E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, PKT_OFF(ct_key)));
	E(b, BF_CALL(BPF_FUNC_map_lookup_elem));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_0, 0, miss);
	bf_comment(b, "expired: as if absent (the kernel's GC would have removed it)");
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_0, (int16_t)offsetof(struct bf_ct_entry, expires));
	ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_NOW);
	bf_emit_jmp_reg(b, BPF_JLE, BPF_REG_1, BPF_REG_2, miss);
}

/* A new connection from the packet's tuple in pkt->ct_ent (ports from R3/R4 as given). */
static void emit_new_entry(struct ctc *c, int proto, uint32_t secs)
{
	struct bf_builder *b = c->b;

	for (int o = 0; o < (int)sizeof(struct bf_ct_entry); o += 8)
		sti(b, BPF_DW, BPF_REG_7, (int16_t)(PKT_OFF(ct_ent) + o), 0);
	sti(b, BPF_DW, BPF_REG_10, S_ISNEW, 1);
	sti(b, BPF_DW, BPF_REG_10, S_MAPV, 0);
	for (int16_t w = 0; w < 16; w += 4) { /* IPv4: words 1-3 are zero */
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(PKT_OFF(saddr) + w));
		stx(b, BPF_W, BPF_REG_7, (int16_t)(CE(orig_src) + w), BPF_REG_1);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(PKT_OFF(daddr) + w));
		stx(b, BPF_W, BPF_REG_7, (int16_t)(CE(orig_dst) + w), BPF_REG_1);
	}
	sti(b, BPF_B, BPF_REG_7, CE(proto), proto);
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_SWAP);
	stx(b, BPF_B, BPF_REG_7, CE(orig_swapped), BPF_REG_1);
	sti(b, BPF_B, BPF_REG_7, CE(status), IPS_CONFIRMED);
	sti(b, BPF_B, BPF_REG_7, PKT_OFF(ct_dir), IP_CT_DIR_ORIGINAL);
	sti(b, BPF_DW, BPF_REG_10, S_DIR, IP_CT_DIR_ORIGINAL);
	sti(b, BPF_H, BPF_REG_7, PKT_OFF(ct_state), ST_NEW);
	if (secs)
		set_expires(b, secs);
}

/* Ports of both tuples from the packet (tcp/udp): orig = (sport, dport), reply swapped. */
static void emit_new_ports(struct bf_builder *b)
{
	ldx(b, BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(sport));
	ldx(b, BPF_H, BPF_REG_2, BPF_REG_7, PKT_OFF(dport));
	stx(b, BPF_H, BPF_REG_7, CE(orig_sport), BPF_REG_1);
	stx(b, BPF_H, BPF_REG_7, CE(orig_dport), BPF_REG_2);
	stx(b, BPF_H, BPF_REG_7, CE(repl_sport), BPF_REG_2);
	stx(b, BPF_H, BPF_REG_7, CE(repl_dport), BPF_REG_1);
}

/*
 * An existing connection was found (R0 = map value): copy it to pkt->ct_ent, set the direction
 * and ctinfo as resolve_normal_ct() does. A packet received on lo was tracked when it left
 * (LOCAL_OUT) and keeps that ctinfo, as the kernel keeps skb->_nfct over loopback: no update.
 */
static void emit_found(struct ctc *c)
{
	struct bf_builder *b = c->b;
	bf_label orig = bf_label_new(b), st = bf_label_new(b);

	stx(b, BPF_DW, BPF_REG_10, S_MAPV, BPF_REG_0);
	copy8(b, BPF_REG_7, PKT_OFF(ct_ent), BPF_REG_0, 0, sizeof(struct bf_ct_entry));
	bf_comment(b, "dir = swap ^ orig_swapped");
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(orig_swapped));
	ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_SWAP);
	E(b, BF_ALU64_REG(BPF_XOR, BPF_REG_1, BPF_REG_2));
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 1));
	stx(b, BPF_DW, BPF_REG_10, S_DIR, BPF_REG_1);
	stx(b, BPF_B, BPF_REG_7, PKT_OFF(ct_dir), BPF_REG_1);
	movi(b, BPF_REG_3, ST_ESTABLISHED);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IP_CT_DIR_ORIGINAL, orig);
	jgo(b, st);
	bf_label_bind(b, orig);
	ldx(b, BPF_B, BPF_REG_2, BPF_REG_7, CE(status));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_2, IPS_SEEN_REPLY, st);
	movi(b, BPF_REG_3, ST_NEW);
	bf_label_bind(b, st);
	stx(b, BPF_H, BPF_REG_7, PKT_OFF(ct_state), BPF_REG_3);
	if (c->ingress && c->pctx == BF_CTX_TC) {
		bf_comment(b, "received on lo (ifindex 1): already tracked at LOCAL_OUT");
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_6, SKB_OFF(ifindex));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 1, c->out);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* TCP */

/* R1 = *(u8 *)(opt + p), p constant */
static void opt_byte(struct bf_builder *b, int reg, int p)
{
	ldx(b, BPF_B, reg, BPF_REG_10, (int16_t)(OPT_OFF + p));
}

/*
 * tcp_options() and tcp_sack() in one walk over the option bytes, unrolled with constant stack
 * offsets (as match/tcp.c): R9 = position of the next option kind, R8 = option length. Results:
 * S_OWS, S_OFL (tcp_options on a zeroed state), S_OSACK (tcp_sack's highest right edge of the
 * first SACK option, starting from ack_seq).
 */
static void emit_tcp_option_walk(struct bf_builder *b)
{
	bf_label done = bf_label_new(b);

	movi(b, BPF_REG_9, 0);
	for (int p = 0; p < OPT_MAX; p++) {
		bf_label next = bf_label_new(b), nows = bf_label_new(b), nosp = bf_label_new(b);
		bf_label nosack = bf_label_new(b), adv = bf_label_new(b);

		bf_comment(b, "option byte %d", p);
		bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_8, p, done);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_9, p, next);
		opt_byte(b, BPF_REG_1, p);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, done); /* EOL */
		movi(b, BPF_REG_9, p + 1);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 1, next); /* NOP */
		if (p + 1 >= OPT_MAX) {
			jgo(b, done);
			bf_label_bind(b, nows);
			bf_label_bind(b, nosp);
			bf_label_bind(b, nosack);
			bf_label_bind(b, adv);
			bf_label_bind(b, next);
			continue;
		}
		bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_8, p + 1, done); /* length < 2 */
		opt_byte(b, BPF_REG_2, p + 1);
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_2, 2, done); /* silly options */
		mov(b, BPF_REG_3, BPF_REG_8);
		E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, -p));
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_2, BPF_REG_3, done); /* partial option */
		/* window scale */
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 3, nows);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, 3, nows);
		if (p + 2 < OPT_MAX) {
			bf_label le = bf_label_new(b);

			opt_byte(b, BPF_REG_3, p + 2);
			bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_3, 14, le);
			movi(b, BPF_REG_3, 14);
			bf_label_bind(b, le);
			stx(b, BPF_DW, BPF_REG_10, S_OWS, BPF_REG_3);
			ldx(b, BPF_DW, BPF_REG_3, BPF_REG_10, S_OFL);
			E(b, BF_ALU64_IMM(BPF_OR, BPF_REG_3, IP_CT_TCP_FLAG_WINDOW_SCALE));
			stx(b, BPF_DW, BPF_REG_10, S_OFL, BPF_REG_3);
		}
		bf_label_bind(b, nows);
		/* SACK permitted */
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 4, nosp);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, 2, nosp);
		ldx(b, BPF_DW, BPF_REG_3, BPF_REG_10, S_OFL);
		E(b, BF_ALU64_IMM(BPF_OR, BPF_REG_3, IP_CT_TCP_FLAG_SACK_PERM));
		stx(b, BPF_DW, BPF_REG_10, S_OFL, BPF_REG_3);
		bf_label_bind(b, nosp);
		/* SACK blocks: kind 5, 2 + 8n bytes, first such option only */
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 5, nosack);
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_2, 10, nosack);
		mov(b, BPF_REG_3, BPF_REG_2);
		E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, -2));
		E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_3, 7));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_3, 0, nosack);
		ldx(b, BPF_DW, BPF_REG_3, BPF_REG_10, S_SDONE);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_3, 0, nosack);
		sti(b, BPF_DW, BPF_REG_10, S_SDONE, 1);
		for (int k = 0; k < 4 && p + 2 + 8 * k + 8 <= OPT_MAX; k++) {
			bf_label skip = bf_label_new(b);
			int q = p + 2 + 8 * k + 4;

			bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_2, 2 + 8 * (k + 1), nosack);
			opt_byte(b, BPF_REG_3, q);
			for (int j = 1; j < 4; j++) {
				E(b, BF_ALU32_IMM(BPF_LSH, BPF_REG_3, 8));
				opt_byte(b, BPF_REG_4, q + j);
				E(b, BF_ALU32_REG(BPF_OR, BPF_REG_3, BPF_REG_4));
			}
			ldx(b, BPF_W, BPF_REG_4, BPF_REG_10, S_OSACK);
			bf_comment(b, "if (after(edge, sack)) sack = edge");
			jnbefore(b, BPF_REG_4, BPF_REG_3, skip);
			stx(b, BPF_W, BPF_REG_10, S_OSACK, BPF_REG_3);
			bf_label_bind(b, skip);
		}
		bf_label_bind(b, nosack);
		bf_label_bind(b, adv);
		mov(b, BPF_REG_9, BPF_REG_2);
		E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_9, p));
		bf_label_bind(b, next);
	}
	bf_label_bind(b, done);
}

/* Read the TCP header (tcp_error), compute seq/ack/end/window/flags/index and the options. */
static void emit_tcp_parse(struct ctc *c)
{
	struct bf_builder *b = c->b;
	bf_label ok = bf_label_new(b), noopt = bf_label_new(b);
	static const uint8_t valid[] = {
		TH_SYN,		 TH_SYN | TH_URG, TH_SYN | TH_ACK,	    TH_RST,
		TH_RST | TH_ACK, TH_FIN | TH_ACK, TH_FIN | TH_ACK | TH_URG, TH_ACK,
		TH_ACK | TH_URG,
	};
	bf_label idx_done = bf_label_new(b);

	bf_comment(b, "tcp: header (tcp_error)");
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(flags));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, BF_PKT_F_L4_OK, ok);
	jgo(b, c->invalid);
	bf_label_bind(b, ok);
	for (int o = 0; o < 64; o += 8)
		sti(b, BPF_DW, BPF_REG_10, (int16_t)(S_HDR + o), 0);
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_off));
	movi(b, BPF_REG_4, 20);
	load_bytes(c, S_HDR, c->invalid);
	bf_comment(b, "r8 = doff * 4; doff < 5 or beyond the packet: INVALID");
	ldx(b, BPF_B, BPF_REG_8, BPF_REG_10, S_HDR + 12);
	E(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_8, 4));
	E(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_8, 2));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_8, 20, c->invalid);
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_8, BPF_REG_1, c->invalid);
	bf_comment(b, "flags (without ECE, CWR, PSH) must be a valid combination");
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_10, S_HDR + 13);
	stx(b, BPF_DW, BPF_REG_10, S_FLAGS, BPF_REG_1);
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, (int32_t)(uint8_t) ~(TH_ECE | TH_CWR | TH_PSH)));
	{
		bf_label good = bf_label_new(b);

		for (size_t k = 0; k < sizeof(valid); k++)
			bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, valid[k], good);
		jgo(b, c->invalid);
		bf_label_bind(b, good);
	}
	bf_comment(b, "index = get_conntrack_index()");
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_FLAGS);
	{
		bf_label rst = bf_label_new(b), syn = bf_label_new(b), synack = bf_label_new(b);
		bf_label fin = bf_label_new(b), ack = bf_label_new(b);

		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, TH_RST, rst);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, TH_SYN, syn);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, TH_FIN, fin);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, TH_ACK, ack);
		sti(b, BPF_DW, BPF_REG_10, S_IDX, IDX_NONE);
		jgo(b, idx_done);
		bf_label_bind(b, rst);
		sti(b, BPF_DW, BPF_REG_10, S_IDX, IDX_RST);
		jgo(b, idx_done);
		bf_label_bind(b, syn);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, TH_ACK, synack);
		sti(b, BPF_DW, BPF_REG_10, S_IDX, IDX_SYN);
		jgo(b, idx_done);
		bf_label_bind(b, synack);
		sti(b, BPF_DW, BPF_REG_10, S_IDX, IDX_SYNACK);
		jgo(b, idx_done);
		bf_label_bind(b, fin);
		sti(b, BPF_DW, BPF_REG_10, S_IDX, IDX_FIN);
		jgo(b, idx_done);
		bf_label_bind(b, ack);
		sti(b, BPF_DW, BPF_REG_10, S_IDX, IDX_ACK);
	}
	bf_label_bind(b, idx_done);
	bf_comment(b, "seq, ack_seq, window; end = seq + l4_len - doff*4 + syn + fin");
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_HDR + 4);
	E(b, BF_BE(BPF_REG_1, 32));
	stx(b, BPF_W, BPF_REG_10, S_SEQ, BPF_REG_1);
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, S_HDR + 8);
	E(b, BF_BE(BPF_REG_2, 32));
	stx(b, BPF_W, BPF_REG_10, S_ACKSEQ, BPF_REG_2);
	stx(b, BPF_W, BPF_REG_10, S_OSACK, BPF_REG_2);
	ldx(b, BPF_H, BPF_REG_2, BPF_REG_10, S_HDR + 14);
	E(b, BF_BE(BPF_REG_2, 16));
	stx(b, BPF_W, BPF_REG_10, S_WINRAW, BPF_REG_2);
	stx(b, BPF_W, BPF_REG_10, S_WIN, BPF_REG_2);
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_len));
	E(b, BF_ALU32_REG(BPF_ADD, BPF_REG_1, BPF_REG_2));
	E(b, BF_ALU32_REG(BPF_SUB, BPF_REG_1, BPF_REG_8));
	ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_FLAGS);
	mov(b, BPF_REG_3, BPF_REG_2);
	E(b, BF_ALU64_IMM(BPF_RSH, BPF_REG_3, 1));
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_3, 1));
	E(b, BF_ALU32_REG(BPF_ADD, BPF_REG_1, BPF_REG_3));
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_2, 1));
	E(b, BF_ALU32_REG(BPF_ADD, BPF_REG_1, BPF_REG_2));
	stx(b, BPF_W, BPF_REG_10, S_END, BPF_REG_1);

	bf_comment(b, "options");
	sti(b, BPF_DW, BPF_REG_10, S_OWS, 0);
	sti(b, BPF_DW, BPF_REG_10, S_OFL, 0);
	sti(b, BPF_DW, BPF_REG_10, S_SDONE, 0);
	E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_8, -20));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, 0, noopt);
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_8, OPT_MAX, c->invalid); /* never: bounds r4 */
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_off));
	E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 20));
	mov(b, BPF_REG_4, BPF_REG_8);
	load_bytes(c, OPT_OFF, c->invalid);
	emit_tcp_option_walk(b);
	bf_label_bind(b, noopt);
}

/* R9 = &pkt->ct_ent.seen[dir] (sender), R8 = &seen[!dir] (receiver) (minus SEEN0). */
static void emit_tcp_dirs(struct bf_builder *b)
{
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_DIR);
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 1));
	mov(b, BPF_REG_2, BPF_REG_1);
	E(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_2, 1));
	E(b, BF_ALU64_IMM(BPF_MUL, BPF_REG_1, (int32_t)sizeof(struct bf_ct_tcp_dir)));
	E(b, BF_ALU64_IMM(BPF_MUL, BPF_REG_2, (int32_t)sizeof(struct bf_ct_tcp_dir)));
	mov(b, BPF_REG_9, BPF_REG_7);
	E(b, BF_ALU64_REG(BPF_ADD, BPF_REG_9, BPF_REG_1));
	mov(b, BPF_REG_8, BPF_REG_7);
	E(b, BF_ALU64_REG(BPF_ADD, BPF_REG_8, BPF_REG_2));
}

#define SND(f) ((int16_t)(SEEN0 + TD(f)))

/*
 * tcp_init_sender(): sender (R9) td_end = td_maxend = end, td_maxwin = win ?: 1, tcp_options(),
 * and in the reply direction no scaling unless both sides offered it.
 */
static void emit_init_sender(struct bf_builder *b)
{
	bf_label nz = bf_label_new(b), orig = bf_label_new(b), noscale = bf_label_new(b);
	bf_label nows = bf_label_new(b);

	ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_END);
	stx(b, BPF_W, BPF_REG_9, SND(td_end), BPF_REG_1);
	stx(b, BPF_W, BPF_REG_9, SND(td_maxend), BPF_REG_1);
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_WIN);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, nz);
	movi(b, BPF_REG_1, 1);
	bf_label_bind(b, nz);
	stx(b, BPF_W, BPF_REG_9, SND(td_maxwin), BPF_REG_1);
	bf_comment(b, "tcp_options(sender)");
	sti(b, BPF_B, BPF_REG_9, SND(td_scale), 0);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_9, SND(flags));
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, IP_CT_TCP_FLAG_BE_LIBERAL));
	ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_OFL);
	E(b, BF_ALU64_REG(BPF_OR, BPF_REG_1, BPF_REG_2));
	stx(b, BPF_B, BPF_REG_9, SND(flags), BPF_REG_1);
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_2, IP_CT_TCP_FLAG_WINDOW_SCALE, nows);
	jgo(b, orig);
	bf_label_bind(b, nows);
	ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_OWS);
	stx(b, BPF_B, BPF_REG_9, SND(td_scale), BPF_REG_2);
	bf_label_bind(b, orig);
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_DIR);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IP_CT_DIR_ORIGINAL, noscale);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_9, SND(flags));
	ldx(b, BPF_B, BPF_REG_2, BPF_REG_8, SND(flags));
	E(b, BF_ALU64_REG(BPF_AND, BPF_REG_1, BPF_REG_2));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IP_CT_TCP_FLAG_WINDOW_SCALE, noscale);
	sti(b, BPF_B, BPF_REG_9, SND(td_scale), 0);
	sti(b, BPF_B, BPF_REG_8, SND(td_scale), 0);
	bf_label_bind(b, noscale);
}

/*
 * A check of tcp_in_window failed with `res`. A liberal sender passes (nf_tcp_log_invalid):
 * tcp_in_window returns ACCEPT at once, without the updates (S_RES is still RES_ACCEPT).
 */
static void emit_win_fail(struct bf_builder *b, int res, bf_label done)
{
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_9, SND(flags));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IP_CT_TCP_FLAG_BE_LIBERAL, done);
	sti(b, BPF_DW, BPF_REG_10, S_RES, res);
	jgo(b, done);
}

/* R0 = receiver.td_end - MAXACKWINDOW(sender) - 1 into R4. Clobbers R1. */
static void emit_ack_low(struct bf_builder *b)
{
	bf_label big = bf_label_new(b);

	ldx(b, BPF_W, BPF_REG_1, BPF_REG_9, SND(td_maxwin));
	bf_emit_jmp32_imm(b, BPF_JGT, BPF_REG_1, MAXACKWINCONST, big);
	movi(b, BPF_REG_1, MAXACKWINCONST);
	bf_label_bind(b, big);
	ldx(b, BPF_W, BPF_REG_4, BPF_REG_8, SND(td_end));
	E(b, BF_ALU32_REG(BPF_SUB, BPF_REG_4, BPF_REG_1));
	E(b, BF_ALU32_IMM(BPF_SUB, BPF_REG_4, 1));
}

/* tcp_in_window(): S_RES = RES_ACCEPT / RES_IGNORE / RES_INVALID. R8, R9 as emit_tcp_dirs. */
static void emit_tcp_in_window(struct bf_builder *b)
{
	bf_label done = bf_label_new(b), checks = bf_label_new(b);
	bf_label l;

	bf_comment(b, "tcp_in_window");
	sti(b, BPF_DW, BPF_REG_10, S_RES, RES_ACCEPT);
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_ACKSEQ);
	stx(b, BPF_W, BPF_REG_10, S_ACK, BPF_REG_1);
	stx(b, BPF_W, BPF_REG_10, S_SACK, BPF_REG_1);
	l = bf_label_new(b);
	ldx(b, BPF_B, BPF_REG_2, BPF_REG_8, SND(flags));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_2, IP_CT_TCP_FLAG_SACK_PERM, l);
	bf_label sk = bf_label_new(b);
	jgo(b, sk);
	bf_label_bind(b, l);
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_OSACK);
	stx(b, BPF_W, BPF_REG_10, S_SACK, BPF_REG_1);
	bf_label_bind(b, sk);

	{
		bf_label init = bf_label_new(b), mid = bf_label_new(b), resyn = bf_label_new(b);

		ldx(b, BPF_W, BPF_REG_1, BPF_REG_9, SND(td_maxwin));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, init);
		jgo(b, resyn);

		bf_label_bind(b, init);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_FLAGS);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, TH_SYN, mid);
		{
			bf_label nz = bf_label_new(b), rz = bf_label_new(b), skip = bf_label_new(b);

			bf_comment(b, "mid-connection: take what the packet says");
			ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_END);
			stx(b, BPF_W, BPF_REG_9, SND(td_end), BPF_REG_1);
			ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, S_WIN);
			ldx(b, BPF_B, BPF_REG_3, BPF_REG_9, SND(td_scale));
			E(b, BF_ALU32_REG(BPF_LSH, BPF_REG_2, BPF_REG_3));
			bf_emit_jmp32_imm(b, BPF_JNE, BPF_REG_2, 0, nz);
			movi(b, BPF_REG_2, 1);
			bf_label_bind(b, nz);
			stx(b, BPF_W, BPF_REG_9, SND(td_maxwin), BPF_REG_2);
			E(b, BF_ALU32_REG(BPF_ADD, BPF_REG_2, BPF_REG_1));
			stx(b, BPF_W, BPF_REG_9, SND(td_maxend), BPF_REG_2);
			ldx(b, BPF_W, BPF_REG_3, BPF_REG_10, S_SACK);
			ldx(b, BPF_W, BPF_REG_1, BPF_REG_8, SND(td_maxwin));
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, rz);
			stx(b, BPF_W, BPF_REG_8, SND(td_end), BPF_REG_3);
			stx(b, BPF_W, BPF_REG_8, SND(td_maxend), BPF_REG_3);
			jgo(b, checks);
			bf_label_bind(b, rz);
			ldx(b, BPF_W, BPF_REG_1, BPF_REG_8, SND(td_end));
			E(b, BF_ALU32_IMM(BPF_ADD, BPF_REG_1, 1));
			bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_3, skip);
			stx(b, BPF_W, BPF_REG_8, SND(td_end), BPF_REG_1);
			bf_label_bind(b, skip);
			jgo(b, checks);
		}
		bf_label_bind(b, mid); /* SYN on an uninitialised sender */
		emit_init_sender(b);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_FLAGS);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, TH_ACK, checks);
		jgo(b, done); /* simultaneous open: ACCEPT */

		bf_label_bind(b, resyn);
		{
			bf_label yes = bf_label_new(b);

			bf_comment(b, "SYN re-initialising the sender in SYN_SENT / SYN_RECV");
			ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_FLAGS);
			bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, TH_SYN, yes);
			jgo(b, checks);
			bf_label_bind(b, yes);
			ldx(b, BPF_W, BPF_REG_2, BPF_REG_9, SND(td_end));
			ldx(b, BPF_W, BPF_REG_3, BPF_REG_10, S_END);
			jnbefore(b, BPF_REG_2, BPF_REG_3, checks); /* !after(end, td_end) */
			ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(state));
			l = bf_label_new(b);
			bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, sSS, l);
			bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, sSR, l);
			jgo(b, checks);
			bf_label_bind(b, l);
			emit_init_sender(b);
			ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_DIR);
			bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IP_CT_DIR_ORIGINAL, checks);
			ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_FLAGS);
			bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, TH_ACK, checks);
			jgo(b, done);
		}
	}

	bf_label_bind(b, checks);
	{
		bf_label hasack = bf_label_new(b), ackdone = bf_label_new(b),
			 pret = bf_label_new(b);
		bf_label norst = bf_label_new(b);

		bf_comment(b, "no ACK (or RST+ACK with ack 0): pretend ack = receiver.td_end");
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_FLAGS);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, TH_ACK, hasack);
		jgo(b, pret);
		bf_label_bind(b, hasack);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, TH_RST, l = bf_label_new(b));
		jgo(b, ackdone);
		bf_label_bind(b, l);
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, S_ACK);
		bf_emit_jmp32_imm(b, BPF_JNE, BPF_REG_2, 0, ackdone);
		bf_label_bind(b, pret);
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_8, SND(td_end));
		stx(b, BPF_W, BPF_REG_10, S_ACK, BPF_REG_2);
		stx(b, BPF_W, BPF_REG_10, S_SACK, BPF_REG_2);
		bf_label_bind(b, ackdone);

		bf_comment(b, "RST answering a SYN with seq 0");
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_FLAGS);
		l = bf_label_new(b);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, TH_RST, l);
		jgo(b, norst);
		bf_label_bind(b, l);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_SEQ);
		bf_emit_jmp32_imm(b, BPF_JNE, BPF_REG_1, 0, norst);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(state));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, sSS, norst);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_9, SND(td_end));
		stx(b, BPF_W, BPF_REG_10, S_SEQ, BPF_REG_1);
		stx(b, BPF_W, BPF_REG_10, S_END, BPF_REG_1);
		bf_label_bind(b, norst);
	}
	{
		bf_label seqok = bf_label_new(b), fail = bf_label_new(b);

		bf_comment(b, "I: seq <= sender.td_maxend");
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_SEQ);
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_9, SND(td_maxend));
		E(b, BF_ALU32_IMM(BPF_ADD, BPF_REG_2, 1));
		jbefore(b, BPF_REG_1, BPF_REG_2, seqok);
		bf_comment(b, "over the window: the overshoot work-around, else INVALID");
		emit_ack_low(b);
		ldx(b, BPF_W, BPF_REG_3, BPF_REG_10, S_SACK);
		jnbefore(b, BPF_REG_4, BPF_REG_3, fail); /* !after(sack, low) */
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_8, SND(td_maxwin));
		bf_emit_jmp32_imm(b, BPF_JEQ, BPF_REG_1, 0, fail);
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_9, SND(td_end));
		E(b, BF_ALU32_REG(BPF_SUB, BPF_REG_2, BPF_REG_1));
		E(b, BF_ALU32_IMM(BPF_SUB, BPF_REG_2, 1));
		ldx(b, BPF_W, BPF_REG_3, BPF_REG_10, S_END);
		jnbefore(b, BPF_REG_2, BPF_REG_3, fail); /* !after(end, td_end - rwin - 1) */
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_9, SND(td_maxend));
		mov(b, BPF_REG_4, BPF_REG_3);
		E(b, BF_ALU32_REG(BPF_SUB, BPF_REG_4, BPF_REG_2));
		E(b, BF_ALU32_IMM(BPF_ADD, BPF_REG_4, 1));
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_4, BPF_REG_1, fail); /* overshot > rwin */
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_SACK);
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_8, SND(td_end));
		E(b, BF_ALU32_IMM(BPF_ADD, BPF_REG_2, 1));
		jnbefore(b, BPF_REG_1, BPF_REG_2, fail);
		stx(b, BPF_W, BPF_REG_9, SND(td_end), BPF_REG_3);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_9, SND(flags));
		E(b, BF_ALU64_IMM(BPF_OR, BPF_REG_1, IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED));
		stx(b, BPF_B, BPF_REG_9, SND(flags), BPF_REG_1);
		emit_win_fail(b, RES_IGNORE, done);
		bf_label_bind(b, fail);
		emit_win_fail(b, RES_INVALID, done);

		bf_label_bind(b, seqok);
		bf_comment(b, "III: sack <= receiver.td_end");
		l = bf_label_new(b);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_SACK);
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_8, SND(td_end));
		E(b, BF_ALU32_IMM(BPF_ADD, BPF_REG_2, 1));
		jbefore(b, BPF_REG_1, BPF_REG_2, l);
		emit_win_fail(b, RES_INVALID, done);
		bf_label_bind(b, l);
		bf_comment(b, "II: end in the receive window");
		l = bf_label_new(b);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_8, SND(td_maxwin));
		bf_emit_jmp32_imm(b, BPF_JEQ, BPF_REG_1, 0, l);
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_9, SND(td_end));
		E(b, BF_ALU32_REG(BPF_SUB, BPF_REG_2, BPF_REG_1));
		E(b, BF_ALU32_IMM(BPF_SUB, BPF_REG_2, 1));
		ldx(b, BPF_W, BPF_REG_3, BPF_REG_10, S_END);
		jbefore(b, BPF_REG_2, BPF_REG_3, l); /* after(end, x) */
		emit_win_fail(b, RES_IGNORE, done);
		bf_label_bind(b, l);
		bf_comment(b, "IV: sack >= receiver.td_end - MAXACKWINDOW");
		l = bf_label_new(b);
		emit_ack_low(b);
		ldx(b, BPF_W, BPF_REG_3, BPF_REG_10, S_SACK);
		jbefore(b, BPF_REG_4, BPF_REG_3, l);
		emit_win_fail(b, RES_IGNORE, done);
		bf_label_bind(b, l);
	}
	{
		bf_label noscale = bf_label_new(b), nomax = bf_label_new(b);
		bf_label noend = bf_label_new(b), noack = bf_label_new(b), setmax = bf_label_new(b);
		bf_label nomaxwin = bf_label_new(b), nomaxend = bf_label_new(b),
			 winnz = bf_label_new(b);
		bf_label noclr = bf_label_new(b), noretr = bf_label_new(b), same = bf_label_new(b);
		bf_label retr_done = bf_label_new(b);

		bf_comment(b, "win <<= sender.td_scale unless SYN");
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, S_WIN);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_FLAGS);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, TH_SYN, noscale);
		ldx(b, BPF_B, BPF_REG_3, BPF_REG_9, SND(td_scale));
		E(b, BF_ALU32_REG(BPF_LSH, BPF_REG_2, BPF_REG_3));
		stx(b, BPF_W, BPF_REG_10, S_WIN, BPF_REG_2);
		bf_label_bind(b, noscale);
		bf_comment(b, "sender.td_maxwin = max(td_maxwin, win + sack - ack)");
		ldx(b, BPF_W, BPF_REG_3, BPF_REG_10, S_SACK);
		ldx(b, BPF_W, BPF_REG_4, BPF_REG_10, S_ACK);
		E(b, BF_ALU32_REG(BPF_SUB, BPF_REG_3, BPF_REG_4));
		E(b, BF_ALU32_REG(BPF_ADD, BPF_REG_3, BPF_REG_2));
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_9, SND(td_maxwin));
		bf_emit_jmp_reg(b, BPF_JGE, BPF_REG_1, BPF_REG_3, nomax);
		stx(b, BPF_W, BPF_REG_9, SND(td_maxwin), BPF_REG_3);
		bf_label_bind(b, nomax);
		bf_comment(b, "if (after(end, sender.td_end)) td_end = end, DATA_UNACKNOWLEDGED");
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_9, SND(td_end));
		ldx(b, BPF_W, BPF_REG_3, BPF_REG_10, S_END);
		jnbefore(b, BPF_REG_1, BPF_REG_3, noend);
		stx(b, BPF_W, BPF_REG_9, SND(td_end), BPF_REG_3);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_9, SND(flags));
		E(b, BF_ALU64_IMM(BPF_OR, BPF_REG_1, IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED));
		stx(b, BPF_B, BPF_REG_9, SND(flags), BPF_REG_1);
		bf_label_bind(b, noend);
		bf_comment(b, "td_maxack");
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_FLAGS);
		l = bf_label_new(b);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, TH_ACK, l);
		jgo(b, noack);
		bf_label_bind(b, l);
		ldx(b, BPF_W, BPF_REG_4, BPF_REG_10, S_ACK);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_9, SND(flags));
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IP_CT_TCP_FLAG_MAXACK_SET,
				l = bf_label_new(b));
		E(b, BF_ALU64_IMM(BPF_OR, BPF_REG_1, IP_CT_TCP_FLAG_MAXACK_SET));
		stx(b, BPF_B, BPF_REG_9, SND(flags), BPF_REG_1);
		jgo(b, setmax);
		bf_label_bind(b, l);
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_9, SND(td_maxack));
		jnbefore(b, BPF_REG_2, BPF_REG_4, noack);
		bf_label_bind(b, setmax);
		stx(b, BPF_W, BPF_REG_9, SND(td_maxack), BPF_REG_4);
		bf_label_bind(b, noack);
		bf_comment(b, "receiver.td_maxwin += end - sender.td_maxend when beyond");
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_8, SND(td_maxwin));
		bf_emit_jmp32_imm(b, BPF_JEQ, BPF_REG_1, 0, nomaxwin);
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_9, SND(td_maxend));
		ldx(b, BPF_W, BPF_REG_3, BPF_REG_10, S_END);
		jnbefore(b, BPF_REG_2, BPF_REG_3, nomaxwin);
		E(b, BF_ALU32_REG(BPF_SUB, BPF_REG_3, BPF_REG_2));
		E(b, BF_ALU32_REG(BPF_ADD, BPF_REG_1, BPF_REG_3));
		stx(b, BPF_W, BPF_REG_8, SND(td_maxwin), BPF_REG_1);
		bf_label_bind(b, nomaxwin);
		bf_comment(b, "receiver.td_maxend = sack + win when beyond");
		ldx(b, BPF_W, BPF_REG_3, BPF_REG_10, S_SACK);
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, S_WIN);
		E(b, BF_ALU32_REG(BPF_ADD, BPF_REG_3, BPF_REG_2));
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_8, SND(td_maxend));
		E(b, BF_ALU32_IMM(BPF_SUB, BPF_REG_1, 1));
		jnbefore(b, BPF_REG_1, BPF_REG_3, nomaxend);
		bf_emit_jmp32_imm(b, BPF_JNE, BPF_REG_2, 0, winnz);
		E(b, BF_ALU32_IMM(BPF_ADD, BPF_REG_3, 1));
		bf_label_bind(b, winnz);
		stx(b, BPF_W, BPF_REG_8, SND(td_maxend), BPF_REG_3);
		bf_label_bind(b, nomaxend);
		bf_comment(b, "ack == receiver.td_end: receiver has nothing unacknowledged");
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_ACK);
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_8, SND(td_end));
		bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, noclr);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_8, SND(flags));
		E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1,
				  (int32_t)(uint8_t)~IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED));
		stx(b, BPF_B, BPF_REG_8, SND(flags), BPF_REG_1);
		bf_label_bind(b, noclr);
		bf_comment(b, "retransmission count (ACK only)");
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_IDX);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, IDX_ACK, noretr);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(last_dir));
		ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_DIR);
		bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, same);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, CE(last_seq));
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, S_SEQ);
		bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, same);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, CE(last_ack));
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, S_ACK);
		bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, same);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, CE(last_end));
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, S_END);
		bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, same);
		ldx(b, BPF_H, BPF_REG_1, BPF_REG_7, CE(last_win));
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, S_WINRAW);
		bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, same);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(retrans));
		E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 1));
		stx(b, BPF_B, BPF_REG_7, CE(retrans), BPF_REG_1);
		jgo(b, retr_done);
		bf_label_bind(b, same);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_DIR);
		stx(b, BPF_B, BPF_REG_7, CE(last_dir), BPF_REG_1);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_SEQ);
		stx(b, BPF_W, BPF_REG_7, CE(last_seq), BPF_REG_1);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_ACK);
		stx(b, BPF_W, BPF_REG_7, CE(last_ack), BPF_REG_1);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_END);
		stx(b, BPF_W, BPF_REG_7, CE(last_end), BPF_REG_1);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_WINRAW);
		stx(b, BPF_H, BPF_REG_7, CE(last_win), BPF_REG_1);
		sti(b, BPF_B, BPF_REG_7, CE(retrans), 0);
		bf_label_bind(b, retr_done);
		bf_label_bind(b, noretr);
	}
	bf_label_bind(b, done);
}

/* R1 = tcp_conntracks[dir][idx][old] (old in R3, 0..9; dir, idx from the stack). */
static void emit_tcp_transition(struct bf_builder *b)
{
	bf_label got = bf_label_new(b);

	ldx(b, BPF_DW, BPF_REG_4, BPF_REG_10, S_DIR);
	ldx(b, BPF_DW, BPF_REG_5, BPF_REG_10, S_IDX);
	for (int dir = 0; dir < 2; dir++) {
		for (int idx = 0; idx < 6; idx++) {
			bf_label next = bf_label_new(b);
			uint64_t row = 0;

			/* 4 bits per old state: sIV (10) and sIG (11) fit. */
			for (int st = 0; st < 10; st++)
				row |= (uint64_t)tcp_conntracks[dir][idx][st] << (4 * st);
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_4, dir, next);
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_5, idx, next);
			bf_emit(b, BF_LD_IMM64_LO(BPF_REG_1, 0, row));
			bf_emit(b, BF_LD_IMM64_HI(row));
			jgo(b, got);
			bf_label_bind(b, next);
		}
	}
	movi(b, BPF_REG_1, (int32_t)0xbbbbbbbb); /* cannot happen: ignore */
	bf_label_bind(b, got);
	mov(b, BPF_REG_2, BPF_REG_3);
	E(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_2, 2));
	E(b, BF_ALU64_REG(BPF_RSH, BPF_REG_1, BPF_REG_2));
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 0xf));
}

/* R1 = tcp_timeouts[R1] (seconds), R1 a state 0..9. */
static void emit_tcp_timeout(struct bf_builder *b)
{
	bf_label got = bf_label_new(b);

	for (int st = 0; st < 10; st++) {
		bf_label next = bf_label_new(b);

		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, st, next);
		movi(b, BPF_REG_1, (int32_t)tcp_timeouts[st]);
		jgo(b, got);
		bf_label_bind(b, next);
	}
	movi(b, BPF_REG_1, 0);
	bf_label_bind(b, got);
}

/* jump to `to` if the u8 at R7+off != imm */
static void jne_b(struct bf_builder *b, int16_t off, int32_t imm, bf_label to)
{
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, off);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, imm, to);
}

static void jne_stack(struct bf_builder *b, int16_t slot, int32_t imm, bf_label to)
{
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, slot);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, imm, to);
}

/* last_dir != dir: jump to `to` when equal. */
static void jeq_lastdir(struct bf_builder *b, bf_label to)
{
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(last_dir));
	ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_DIR);
	bf_emit_jmp_reg(b, BPF_JEQ, BPF_REG_1, BPF_REG_2, to);
}

static void or_b(struct bf_builder *b, int base, int16_t off, int32_t bits)
{
	ldx(b, BPF_B, BPF_REG_1, base, off);
	E(b, BF_ALU64_IMM(BPF_OR, BPF_REG_1, bits));
	stx(b, BPF_B, base, off, BPF_REG_1);
}

static void and_b(struct bf_builder *b, int base, int16_t off, int32_t bits)
{
	ldx(b, BPF_B, BPF_REG_1, base, off);
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, bits));
	stx(b, BPF_B, base, off, BPF_REG_1);
}

/*
 * nf_conntrack_tcp_packet() on pkt->ct_ent (a new connection with state NONE, or a copy of an
 * existing one). Ends at c->valid (refreshed or not) or c->invalid; `reopen` is where a SYN
 * reopening a closed connection goes (the old entry is deleted and the packet starts a new one).
 */
static void emit_tcp_packet(struct ctc *c, bf_label reopen)
{
	struct bf_builder *b = c->b;
	bf_label window = bf_label_new(b), ignore = bf_label_new(b), in_window = bf_label_new(b);
	bf_label l, l2;

	emit_tcp_dirs(b);
	ldx(b, BPF_B, BPF_REG_3, BPF_REG_7, CE(state));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_3, 9, c->invalid);
	stx(b, BPF_DW, BPF_REG_10, S_OLD, BPF_REG_3);
	emit_tcp_transition(b);
	stx(b, BPF_DW, BPF_REG_10, S_NEW, BPF_REG_1);
	sti(b, BPF_DW, BPF_REG_10, S_TMO, 0);

	bf_comment(b, "switch (new_state)");
	l = bf_label_new(b);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, sSS, l);
	{
		bf_comment(b, "SYN_SENT: reopening from TIME_WAIT / CLOSE?");
		ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_OLD);
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_2, sTW, window);
		/* a new connection (state NONE) never reopens: keeps the verifier's loop check
		 * away from the backward jump to `reopen` */
		jne_stack(b, S_ISNEW, 0, window);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_9, SND(flags));
		ldx(b, BPF_B, BPF_REG_2, BPF_REG_8, SND(flags));
		E(b, BF_ALU64_REG(BPF_OR, BPF_REG_1, BPF_REG_2));
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IP_CT_TCP_FLAG_CLOSE_INIT, reopen);
		l2 = bf_label_new(b);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(last_dir));
		ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_DIR);
		bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, l2);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(last_index));
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IDX_RST, reopen);
		bf_label_bind(b, l2);
		jgo(b, ignore);
	}
	bf_label_bind(b, l);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, sIG, ignore);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, sIV, c->invalid);
	l = bf_label_new(b);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, sTW, l);
	{
		bf_comment(b, "TIME_WAIT: an RFC 5961 challenge ACK does not ack the last FIN");
		jne_stack(b, S_OLD, sLA, window);
		jne_stack(b, S_IDX, IDX_ACK, window);
		jeq_lastdir(b, window);
		jne_b(b, CE(last_index), IDX_SYN, window);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(last_flags));
		l2 = bf_label_new(b);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IP_CT_EXP_CHALLENGE_ACK, l2);
		jgo(b, window);
		bf_label_bind(b, l2);
		and_b(b, BPF_REG_7, CE(last_flags), (uint8_t)~IP_CT_EXP_CHALLENGE_ACK);
		jgo(b, c->valid);
	}
	bf_label_bind(b, l);
	l = bf_label_new(b);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, sS2, l);
	or_b(b, BPF_REG_7, CE(last_flags), IP_CT_TCP_SIMULTANEOUS_OPEN);
	jgo(b, window);
	bf_label_bind(b, l);
	l = bf_label_new(b);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, sSR, l);
	{
		jne_stack(b, S_DIR, IP_CT_DIR_REPLY, window);
		jne_stack(b, S_IDX, IDX_ACK, window);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(last_flags));
		l2 = bf_label_new(b);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IP_CT_TCP_SIMULTANEOUS_OPEN, l2);
		jgo(b, window);
		bf_label_bind(b, l2);
		sti(b, BPF_DW, BPF_REG_10, S_NEW, sES);
		jgo(b, window);
	}
	bf_label_bind(b, l);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, sCL, window);
	{
		bf_label keep = bf_label_new(b), chk = bf_label_new(b);

		bf_comment(b, "CLOSE by RST: the RST checks");
		jne_stack(b, S_IDX, IDX_RST, window);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_OLD);
		bf_emit_jmp_imm(b, BPF_JGE, BPF_REG_1, sFW, l2 = bf_label_new(b));
		jgo(b, chk);
		bf_label_bind(b, l2);
		bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_1, sCL, in_window); /* tcp_can_early_drop */
		bf_label_bind(b, chk);
		l2 = bf_label_new(b);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_8, SND(flags));
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IP_CT_TCP_FLAG_MAXACK_SET, l2);
		jgo(b, keep);
		bf_label_bind(b, l2);
		jne_b(b, CE(last_index), IDX_SYN, l2 = bf_label_new(b));
		jgo(b, keep);
		bf_label_bind(b, l2);
		{
			bf_label notest = bf_label_new(b), est = bf_label_new(b);

			/* R5 = nf_conntrack_tcp_established(): ESTABLISHED and ASSURED */
			movi(b, BPF_REG_5, 0);
			ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_OLD);
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, sES, notest);
			ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(status));
			bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IPS_ASSURED, est);
			jgo(b, notest);
			bf_label_bind(b, est);
			movi(b, BPF_REG_5, 1);
			bf_label_bind(b, notest);
		}
		ldx(b, BPF_W, BPF_REG_3, BPF_REG_10, S_SEQ);
		l2 = bf_label_new(b);
		bf_emit_jmp32_imm(b, BPF_JNE, BPF_REG_3, 0, l2);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_5, 0, keep);
		bf_label_bind(b, l2);
		ldx(b, BPF_W, BPF_REG_4, BPF_REG_8, SND(td_maxack));
		jbefore(b, BPF_REG_3, BPF_REG_4, c->invalid); /* invalid rst */
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_5, 0, keep);
		bf_emit_jmp_reg(b, BPF_JEQ, BPF_REG_3, BPF_REG_4, keep);
		l2 = bf_label_new(b);
		jne_b(b, CE(last_index), IDX_ACK, l2);
		jeq_lastdir(b, l = bf_label_new(b));
		jgo(b, l2);
		bf_label_bind(b, l);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, CE(last_end));
		ldx(b, BPF_W, BPF_REG_3, BPF_REG_10, S_SEQ);
		bf_emit_jmp_reg(b, BPF_JEQ, BPF_REG_1, BPF_REG_3, keep);
		bf_label_bind(b, l2);
		bf_comment(b, "RST seq not exact: keep the state (challenge ACK)");
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_OLD);
		stx(b, BPF_DW, BPF_REG_10, S_NEW, BPF_REG_1);
		bf_label_bind(b, keep);
		{
			bf_label a = bf_label_new(b), cond = bf_label_new(b),
				 nocond = bf_label_new(b);

			bf_comment(b, "RST to a SYN / ACK we let through: skip the window check");
			ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(status));
			ldx(b, BPF_B, BPF_REG_2, BPF_REG_7, CE(last_index));
			bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IPS_SEEN_REPLY, a);
			jgo(b, l2 = bf_label_new(b));
			bf_label_bind(b, a);
			bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, IDX_SYN, cond);
			bf_label_bind(b, l2);
			bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IPS_ASSURED, nocond);
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, IDX_ACK, nocond);
			bf_label_bind(b, cond);
			ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_ACKSEQ);
			ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, CE(last_end));
			bf_emit_jmp_reg(b, BPF_JEQ, BPF_REG_1, BPF_REG_2, in_window);
			bf_label_bind(b, nocond);
			bf_comment(b, "RST answering a challenge ACK");
			jne_stack(b, S_OLD, sSS, window);
			jne_b(b, CE(last_index), IDX_ACK, window);
			jne_b(b, CE(last_dir), IP_CT_DIR_REPLY, window);
			ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_SEQ);
			ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, CE(last_ack));
			bf_emit_jmp_reg(b, BPF_JEQ, BPF_REG_1, BPF_REG_2, in_window);
			jgo(b, window);
		}
	}

	bf_label_bind(b, ignore);
	{
		bf_label annotate = bf_label_new(b), nosyn = bf_label_new(b),
			 nochal = bf_label_new(b);

		bf_comment(b, "IGNORE: a SYN/ACK answering a SYN we ignored resyncs");
		jne_stack(b, S_IDX, IDX_SYNACK, annotate);
		jne_b(b, CE(last_index), IDX_SYN, annotate);
		jeq_lastdir(b, annotate);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_ACKSEQ);
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, CE(last_end));
		bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, annotate);
		sti(b, BPF_DW, BPF_REG_10, S_OLD, sSS);
		sti(b, BPF_DW, BPF_REG_10, S_NEW, sSR);
		{
			bf_label nz = bf_label_new(b);

			/* R3 = &seen[last_dir] */
			ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(last_dir));
			E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 1));
			E(b,
			  BF_ALU64_IMM(BPF_MUL, BPF_REG_1, (int32_t)sizeof(struct bf_ct_tcp_dir)));
			mov(b, BPF_REG_3, BPF_REG_7);
			E(b, BF_ALU64_REG(BPF_ADD, BPF_REG_3, BPF_REG_1));
			ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, CE(last_end));
			stx(b, BPF_W, BPF_REG_3, SND(td_end), BPF_REG_1);
			stx(b, BPF_W, BPF_REG_3, SND(td_maxend), BPF_REG_1);
			ldx(b, BPF_H, BPF_REG_1, BPF_REG_7, CE(last_win));
			bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, nz);
			movi(b, BPF_REG_1, 1);
			bf_label_bind(b, nz);
			stx(b, BPF_W, BPF_REG_3, SND(td_maxwin), BPF_REG_1);
			ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(last_wscale));
			stx(b, BPF_B, BPF_REG_3, SND(td_scale), BPF_REG_1);
			and_b(b, BPF_REG_7, CE(last_flags), (uint8_t)~IP_CT_EXP_CHALLENGE_ACK);
			ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(last_flags));
			stx(b, BPF_B, BPF_REG_3, SND(flags), BPF_REG_1);
			bf_comment(b, "nf_ct_tcp_state_reset(&seen[dir])");
			sti(b, BPF_W, BPF_REG_9, SND(td_end), 0);
			sti(b, BPF_W, BPF_REG_9, SND(td_maxend), 0);
			sti(b, BPF_W, BPF_REG_9, SND(td_maxwin), 0);
			sti(b, BPF_W, BPF_REG_9, SND(td_maxack), 0);
			sti(b, BPF_B, BPF_REG_9, SND(td_scale), 0);
			and_b(b, BPF_REG_9, SND(flags), IP_CT_TCP_FLAG_BE_LIBERAL);
			jgo(b, window);
		}
		bf_label_bind(b, annotate);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_IDX);
		stx(b, BPF_B, BPF_REG_7, CE(last_index), BPF_REG_1);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_DIR);
		stx(b, BPF_B, BPF_REG_7, CE(last_dir), BPF_REG_1);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_SEQ);
		stx(b, BPF_W, BPF_REG_7, CE(last_seq), BPF_REG_1);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_END);
		stx(b, BPF_W, BPF_REG_7, CE(last_end), BPF_REG_1);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_WINRAW);
		stx(b, BPF_H, BPF_REG_7, CE(last_win), BPF_REG_1);
		jne_stack(b, S_IDX, IDX_SYN, nosyn);
		jne_stack(b, S_DIR, IP_CT_DIR_ORIGINAL, nosyn);
		{
			bf_label nows = bf_label_new(b), nosp = bf_label_new(b);

			sti(b, BPF_B, BPF_REG_7, CE(last_flags), 0);
			sti(b, BPF_B, BPF_REG_7, CE(last_wscale), 0);
			ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_OFL);
			l2 = bf_label_new(b);
			bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_2, IP_CT_TCP_FLAG_WINDOW_SCALE, l2);
			jgo(b, nows);
			bf_label_bind(b, l2);
			or_b(b, BPF_REG_7, CE(last_flags), IP_CT_TCP_FLAG_WINDOW_SCALE);
			ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_OWS);
			stx(b, BPF_B, BPF_REG_7, CE(last_wscale), BPF_REG_1);
			bf_label_bind(b, nows);
			ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_OFL);
			l2 = bf_label_new(b);
			bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_2, IP_CT_TCP_FLAG_SACK_PERM, l2);
			jgo(b, nosp);
			bf_label_bind(b, l2);
			or_b(b, BPF_REG_7, CE(last_flags), IP_CT_TCP_FLAG_SACK_PERM);
			bf_label_bind(b, nosp);
			jne_stack(b, S_OLD, sLA, nosyn);
			or_b(b, BPF_REG_7, CE(last_flags), IP_CT_EXP_CHALLENGE_ACK);
		}
		bf_label_bind(b, nosyn);
		bf_comment(b, "possible challenge ACK answering a SYN");
		jne_stack(b, S_OLD, sSS, nochal);
		jne_stack(b, S_IDX, IDX_ACK, nochal);
		jne_stack(b, S_DIR, IP_CT_DIR_REPLY, nochal);
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_ACKSEQ);
		stx(b, BPF_W, BPF_REG_7, CE(last_ack), BPF_REG_1);
		bf_label_bind(b, nochal);
		jgo(b, c->valid);
	}

	bf_label_bind(b, window);
	emit_tcp_in_window(b);
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_RES);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, RES_IGNORE, c->valid);
	l = bf_label_new(b);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, RES_INVALID, in_window);
	{
		bf_label skip = bf_label_new(b), other = bf_label_new(b), rf = bf_label_new(b);

		bf_comment(b, "nf_tcp_handle_invalid: shorten an assured connection's timeout");
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(status));
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IPS_ASSURED, l);
		jgo(b, c->invalid);
		bf_label_bind(b, l);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_IDX);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IDX_RST, rf);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, IDX_FIN, c->invalid);
		bf_label_bind(b, rf);
		jeq_lastdir(b, other);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(last_index));
		l2 = bf_label_new(b);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IDX_FIN, l2);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, IDX_RST, other);
		bf_label_bind(b, l2);
		bf_comment(b, "remaining = expires - now: < 120 s keeps it; > 300 s: 300 s");
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_7, CE(expires));
		ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_NOW);
		E(b, BF_ALU64_REG(BPF_SUB, BPF_REG_1, BPF_REG_2));
		bf_emit(b, BF_LD_IMM64_LO(BPF_REG_2, 0, TMO_UNACK * NSEC));
		bf_emit(b, BF_LD_IMM64_HI(TMO_UNACK * NSEC));
		bf_emit_jmp_reg(b, BPF_JSLE, BPF_REG_1, BPF_REG_2, skip);
		movi(b, BPF_REG_1, TMO_UNACK);
		set_expires_r1(b);
		jgo(b, skip);
		bf_label_bind(b, other);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_IDX);
		stx(b, BPF_B, BPF_REG_7, CE(last_index), BPF_REG_1);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_DIR);
		stx(b, BPF_B, BPF_REG_7, CE(last_dir), BPF_REG_1);
		bf_label_bind(b, skip);
		jgo(b, c->invalid);
	}

	bf_label_bind(b, in_window);
	{
		bf_label nofw = bf_label_new(b), t1 = bf_label_new(b), t2 = bf_label_new(b);
		bf_label t3 = bf_label_new(b), t4 = bf_label_new(b), tdone = bf_label_new(b);
		bf_label replied = bf_label_new(b), refresh = bf_label_new(b),
			 norst = bf_label_new(b);

		bf_comment(b, "in window: last_index/last_dir, the new state");
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_IDX);
		stx(b, BPF_B, BPF_REG_7, CE(last_index), BPF_REG_1);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_DIR);
		stx(b, BPF_B, BPF_REG_7, CE(last_dir), BPF_REG_1);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_NEW);
		stx(b, BPF_B, BPF_REG_7, CE(state), BPF_REG_1);
		ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_OLD);
		bf_emit_jmp_reg(b, BPF_JEQ, BPF_REG_1, BPF_REG_2, nofw);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, sFW, nofw);
		or_b(b, BPF_REG_9, SND(flags), IP_CT_TCP_FLAG_CLOSE_INIT);
		bf_label_bind(b, nofw);

		bf_comment(b, "timeout");
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_NEW);
		emit_tcp_timeout(b);
		mov(b, BPF_REG_3, BPF_REG_1); /* timeouts[new_state] */
		ldx(b, BPF_B, BPF_REG_2, BPF_REG_7, CE(retrans));
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_2, TCP_MAX_RETRANS, t1);
		bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_3, TMO_RETRANS, t1);
		movi(b, BPF_REG_1, TMO_RETRANS);
		jgo(b, tdone);
		bf_label_bind(b, t1);
		jne_stack(b, S_IDX, IDX_RST, t2);
		movi(b, BPF_REG_1, (int32_t)tcp_timeouts[sCL]);
		jgo(b, tdone);
		bf_label_bind(b, t2);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, (int16_t)(SEEN0 + TD(flags)));
		ldx(b, BPF_B, BPF_REG_2, BPF_REG_7,
		    (int16_t)(SEEN0 + sizeof(struct bf_ct_tcp_dir) + TD(flags)));
		E(b, BF_ALU64_REG(BPF_OR, BPF_REG_1, BPF_REG_2));
		l2 = bf_label_new(b);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED, l2);
		jgo(b, t3);
		bf_label_bind(b, l2);
		bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_3, TMO_UNACK, t3);
		movi(b, BPF_REG_1, TMO_UNACK);
		jgo(b, tdone);
		bf_label_bind(b, t3);
		ldx(b, BPF_H, BPF_REG_1, BPF_REG_7, CE(last_win));
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, t4);
		bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_3, TMO_RETRANS, t4);
		movi(b, BPF_REG_1, TMO_RETRANS);
		jgo(b, tdone);
		bf_label_bind(b, t4);
		mov(b, BPF_REG_1, BPF_REG_3);
		bf_label_bind(b, tdone);
		stx(b, BPF_DW, BPF_REG_10, S_TMO, BPF_REG_1);

		ldx(b, BPF_B, BPF_REG_2, BPF_REG_7, CE(status));
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_2, IPS_SEEN_REPLY, replied);
		bf_comment(b, "no reply seen: a RST kills the connection");
		ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_FLAGS);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_2, TH_RST, l2 = bf_label_new(b));
		jgo(b, norst);
		bf_label_bind(b, l2);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_MAPV);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, c->valid);
		bf_emit_ld_map(b, BPF_REG_1, BF_MAP_CT);
		mov(b, BPF_REG_2, BPF_REG_7);
		E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, PKT_OFF(ct_key)));
		E(b, BF_CALL(BPF_FUNC_map_delete_elem));
		sti(b, BPF_DW, BPF_REG_10, S_MAPV, 0);
		jgo(b, c->valid);
		bf_label_bind(b, norst);
		bf_comment(b, "retransmitted SYN: no refresh");
		jne_stack(b, S_IDX, IDX_SYN, l2 = bf_label_new(b));
		jne_stack(b, S_OLD, sSS, l2);
		jgo(b, c->valid);
		bf_label_bind(b, l2);
		jne_stack(b, S_NEW, sES, refresh);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_TMO);
		bf_emit_jmp_imm(b, BPF_JLE, BPF_REG_1, TMO_UNACK, refresh);
		sti(b, BPF_DW, BPF_REG_10, S_TMO, TMO_UNACK);
		jgo(b, refresh);
		bf_label_bind(b, replied);
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_2, IPS_ASSURED, refresh);
		jne_stack(b, S_NEW, sES, refresh);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_OLD);
		l2 = bf_label_new(b);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, sSR, l2);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, sES, refresh);
		bf_label_bind(b, l2);
		or_b(b, BPF_REG_7, CE(status), IPS_ASSURED);
		bf_label_bind(b, refresh);
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_TMO);
		set_expires_r1(b);
		jgo(b, c->valid);
	}
}

/* tcp_new() on pkt->ct_ent; nf_conntrack_tcp_packet() with state NONE follows. */
static void emit_tcp_new(struct ctc *c)
{
	struct bf_builder *b = c->b;
	bf_label syn = bf_label_new(b), ws = bf_label_new(b), go = bf_label_new(b);
	bf_label nz = bf_label_new(b);

	emit_new_entry(c, IPPROTO_TCP, 0);
	emit_new_ports(b);
	sti(b, BPF_B, BPF_REG_7, CE(state), sNO);
	sti(b, BPF_B, BPF_REG_7, CE(last_index), IDX_NONE);
	jne_stack(b, S_IDX, IDX_SYN, syn);
	bf_comment(b, "SYN: seen[0] from the packet and its options");
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_END);
	stx(b, BPF_W, BPF_REG_7, (int16_t)(SEEN0 + TD(td_end)), BPF_REG_1);
	stx(b, BPF_W, BPF_REG_7, (int16_t)(SEEN0 + TD(td_maxend)), BPF_REG_1);
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_WINRAW);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, nz);
	movi(b, BPF_REG_1, 1);
	bf_label_bind(b, nz);
	stx(b, BPF_W, BPF_REG_7, (int16_t)(SEEN0 + TD(td_maxwin)), BPF_REG_1);
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_OFL);
	stx(b, BPF_B, BPF_REG_7, (int16_t)(SEEN0 + TD(flags)), BPF_REG_1);
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IP_CT_TCP_FLAG_WINDOW_SCALE, ws);
	jgo(b, go);
	bf_label_bind(b, ws);
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_OWS);
	stx(b, BPF_B, BPF_REG_7, (int16_t)(SEEN0 + TD(td_scale)), BPF_REG_1);
	jgo(b, go);
	bf_label_bind(b, syn);
	jne_stack(b, S_IDX, IDX_ACK, c->invalid);
	{
		bf_label nz2 = bf_label_new(b);

		bf_comment(b, "ACK: pick up the connection in the middle (nf_conntrack_tcp_loose)");
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_END);
		stx(b, BPF_W, BPF_REG_7, (int16_t)(SEEN0 + TD(td_end)), BPF_REG_1);
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, S_WINRAW);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, 0, nz2);
		movi(b, BPF_REG_2, 1);
		bf_label_bind(b, nz2);
		stx(b, BPF_W, BPF_REG_7, (int16_t)(SEEN0 + TD(td_maxwin)), BPF_REG_2);
		E(b, BF_ALU32_REG(BPF_ADD, BPF_REG_1, BPF_REG_2));
		stx(b, BPF_W, BPF_REG_7, (int16_t)(SEEN0 + TD(td_maxend)), BPF_REG_1);
		sti(b, BPF_B, BPF_REG_7, (int16_t)(SEEN0 + TD(flags)),
		    IP_CT_TCP_FLAG_SACK_PERM | IP_CT_TCP_FLAG_BE_LIBERAL);
		sti(b, BPF_B, BPF_REG_7,
		    (int16_t)(SEEN0 + sizeof(struct bf_ct_tcp_dir) + TD(flags)),
		    IP_CT_TCP_FLAG_SACK_PERM | IP_CT_TCP_FLAG_BE_LIBERAL);
	}
	bf_label_bind(b, go);
}

static void emit_tcp(struct ctc *c)
{
	struct bf_builder *b = c->b;
	bf_label miss = bf_label_new(b), reopen = bf_label_new(b), pkt = bf_label_new(b);

	emit_tcp_parse(c);
	emit_key_pkt(c, IPPROTO_TCP, false);
	emit_lookup(b, miss);
	emit_found(c);
	jgo(b, pkt);
	bf_label_bind(b, reopen);
	bf_comment(b, "reopening a closed connection: delete it, start a new one");
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_CT);
	mov(b, BPF_REG_2, BPF_REG_7);
	E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, PKT_OFF(ct_key)));
	E(b, BF_CALL(BPF_FUNC_map_delete_elem));
	bf_label_bind(b, miss);
	emit_tcp_new(c);
	bf_label_bind(b, pkt);
	emit_tcp_packet(c, reopen);
}

/* ---------------------------------------------------------------------------------------- */
/* UDP, UDP-Lite (nf_conntrack_proto_udp.c) */

static void emit_udp(struct ctc *c, int proto)
{
	struct bf_builder *b = c->b;
	bf_label ok = bf_label_new(b), miss = bf_label_new(b), replied = bf_label_new(b);
	bf_label refresh = bf_label_new(b);

	bf_comment(b, "udp: udp_error");
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(flags));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, BF_PKT_F_L4_OK, ok);
	jgo(b, c->invalid);
	bf_label_bind(b, ok);
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_off));
	movi(b, BPF_REG_4, 8);
	load_bytes(c, S_HDR, c->invalid);
	ldx(b, BPF_H, BPF_REG_1, BPF_REG_10, S_HDR + 4);
	E(b, BF_BE(BPF_REG_1, 16));
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_len));
	if (proto == IPPROTO_UDP) {
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_1, BPF_REG_2, c->invalid);
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 8, c->invalid);
	} else {
		bf_label cov = bf_label_new(b);

		/* udplite_error: coverage 0 is the whole packet; a checksum is mandatory */
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, cov);
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_1, BPF_REG_2, c->invalid);
		bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 8, c->invalid);
		bf_label_bind(b, cov);
		ldx(b, BPF_H, BPF_REG_1, BPF_REG_10, S_HDR + 6);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, c->invalid);
	}
	emit_key_pkt(c, proto, false);
	emit_lookup(b, miss);
	emit_found(c);
	sti(b, BPF_DW, BPF_REG_10, S_ISNEW, 0);
	bf_comment(b, "replied: 120 s once older than 2 s (a stream, ASSURED), else 30 s");
	ldx(b, BPF_B, BPF_REG_2, BPF_REG_7, CE(status));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_2, IPS_SEEN_REPLY, replied);
	movi(b, BPF_REG_1, UDP_TMO_UNREPLIED);
	jgo(b, refresh);
	bf_label_bind(b, replied);
	movi(b, BPF_REG_1, UDP_TMO_UNREPLIED);
	ldx(b, BPF_DW, BPF_REG_3, BPF_REG_7, CE(stream_ts));
	ldx(b, BPF_DW, BPF_REG_4, BPF_REG_10, S_NOW);
	bf_emit_jmp_reg(b, BPF_JLE, BPF_REG_4, BPF_REG_3, refresh);
	or_b(b, BPF_REG_7, CE(status), IPS_ASSURED);
	movi(b, BPF_REG_1, UDP_TMO_REPLIED);
	bf_label_bind(b, refresh);
	set_expires_r1(b);
	jgo(b, c->valid);

	bf_label_bind(b, miss);
	emit_new_entry(c, proto, UDP_TMO_UNREPLIED);
	emit_new_ports(b);
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_NOW);
	bf_emit(b, BF_LD_IMM64_LO(BPF_REG_2, 0, UDP_STREAM_NS));
	bf_emit(b, BF_LD_IMM64_HI(UDP_STREAM_NS));
	E(b, BF_ALU64_REG(BPF_ADD, BPF_REG_1, BPF_REG_2));
	stx(b, BPF_DW, BPF_REG_7, CE(stream_ts), BPF_REG_1);
	jgo(b, c->valid);
}

/* ---------------------------------------------------------------------------------------- */
/* ICMP (nf_conntrack_proto_icmp.c) */

/*
 * R1 = an ICMP type: jump to `req` with R2 = 0 (it is a request: the original direction), to
 * `rep` with R2 = 1 and R1 = the request type (a reply); fall through otherwise (no inverse).
 */
static void emit_icmp_kind_of(struct bf_builder *b, const uint8_t (*pairs)[2], size_t npairs,
			      bf_label req, bf_label rep)
{
	for (size_t k = 0; k < npairs; k++) {
		bf_label n = bf_label_new(b), n2 = bf_label_new(b);

		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, pairs[k][0], n);
		movi(b, BPF_REG_2, 0);
		jgo(b, req);
		bf_label_bind(b, n);
		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, pairs[k][1], n2);
		movi(b, BPF_REG_2, 1);
		movi(b, BPF_REG_1, pairs[k][0]);
		jgo(b, rep);
		bf_label_bind(b, n2);
	}
}

static void emit_icmp_kind(struct bf_builder *b, bf_label req, bf_label rep)
{
	emit_icmp_kind_of(b, icmp_pairs, sizeof(icmp_pairs) / sizeof(icmp_pairs[0]), req, rep);
}

static void emit_icmp6_kind(struct bf_builder *b, bf_label req, bf_label rep)
{
	emit_icmp_kind_of(b, icmp6_pairs, sizeof(icmp6_pairs) / sizeof(icmp6_pairs[0]), req, rep);
}

/*
 * ICMP key: the requester first (R1 = requester, R2 = responder), port[0] = id (R3, network
 * order), port[1] = request type | code << 8 (R4). S_SWAP = R5 (1 for a reply).
 */
static void emit_icmp_key(struct bf_builder *b)
{
	stx(b, BPF_W, BPF_REG_7, CK(addr[0][0]), BPF_REG_1);
	stx(b, BPF_W, BPF_REG_7, CK(addr[1][0]), BPF_REG_2);
	stx(b, BPF_H, BPF_REG_7, CK(port[0]), BPF_REG_3);
	stx(b, BPF_H, BPF_REG_7, CK(port[1]), BPF_REG_4);
	sti(b, BPF_B, BPF_REG_7, CK(proto), IPPROTO_ICMP);
	stx(b, BPF_DW, BPF_REG_10, S_SWAP, BPF_REG_5);
}

/*
 * An ICMP error: the quoted packet's tuple, inverted, must belong to a connection
 * (nf_conntrack_inet_error): RELATED, else INVALID. The error must go to the quoted packet's
 * source (the "outer daddr" check).
 */
static void emit_icmp_error(struct ctc *c)
{
	struct bf_builder *b = c->b;
	bf_label ports = bf_label_new(b), icmp = bf_label_new(b), gen = bf_label_new(b);
	bf_label look = bf_label_new(b), req = bf_label_new(b), rep = bf_label_new(b);
	bf_label miss = bf_label_new(b), got = bf_label_new(b), ikey = bf_label_new(b);

	bf_comment(b, "icmp error: the quoted IP header");
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 8 + 20, c->invalid);
	for (int o = 0; o < 32; o += 8)
		sti(b, BPF_DW, BPF_REG_10, (int16_t)(S_INNER + o), 0);
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_off));
	E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 8));
	movi(b, BPF_REG_4, 20);
	load_bytes(c, S_INNER, c->invalid);
	bf_comment(b, "a quoted non-first fragment has no tuple");
	ldx(b, BPF_H, BPF_REG_1, BPF_REG_10, S_INNER + 6);
	E(b, BF_BE(BPF_REG_1, 16));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, IP_OFFSET_MASK, c->invalid);
	bf_comment(b, "r8 = offset of the quoted transport header in the packet; 8 bytes there");
	ldx(b, BPF_B, BPF_REG_8, BPF_REG_10, S_INNER);
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_8, 0xf));
	E(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_8, 2));
	mov(b, BPF_REG_9, BPF_REG_8);
	E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_9, 8)); /* from the ICMP header */
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_9, BPF_REG_1, c->invalid);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_10, S_INNER + 9);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_TCP, ports);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_UDP, ports);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_UDPLITE, ports);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_ICMP, ports);
	sti(b, BPF_W, BPF_REG_10, S_INL4, 0);
	sti(b, BPF_W, BPF_REG_10, S_INL4 + 4, 0);
	jgo(b, gen);
	bf_label_bind(b, ports);
	mov(b, BPF_REG_1, BPF_REG_9);
	E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 8));
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_len));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_1, BPF_REG_2, c->invalid);
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_off));
	E(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, BPF_REG_9));
	movi(b, BPF_REG_4, 8);
	load_bytes(c, S_INL4, c->invalid);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_10, S_INNER + 9);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_ICMP, icmp);

	bf_label_bind(b, gen);
	bf_comment(b, "tcp/udp/other: the normalised key of the quoted tuple");
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_INNER + 12);
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, S_INNER + 16);
	ldx(b, BPF_H, BPF_REG_3, BPF_REG_10, S_INL4);
	ldx(b, BPF_H, BPF_REG_4, BPF_REG_10, S_INL4 + 2);
	ldx(b, BPF_B, BPF_REG_5, BPF_REG_10, S_INNER + 9);
	{
		/* emit_key_pair takes the protocol as a constant: store it after */
		emit_key_pair(b, 0);
		ldx(b, BPF_B, BPF_REG_5, BPF_REG_10, S_INNER + 9);
		stx(b, BPF_B, BPF_REG_7, CK(proto), BPF_REG_5);
		bf_comment(b, "the inverted tuple's orientation is the other one");
		ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_SWAP);
		E(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_1, 1));
		stx(b, BPF_DW, BPF_REG_10, S_SWAP, BPF_REG_1);
	}
	jgo(b, look);

	bf_label_bind(b, icmp);
	bf_comment(b, "quoted icmp: its inverse must exist (echo-like pairs only)");
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_10, S_INL4);
	emit_icmp_kind(b, req, rep);
	jgo(b, c->invalid);
	bf_label_bind(b, req); /* quoted request: the inverse is the reply, the requester its src */
	mov(b, BPF_REG_4, BPF_REG_1);
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_INNER + 12);
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, S_INNER + 16);
	movi(b, BPF_REG_5, 1);
	jgo(b, ikey);
	bf_label_bind(b, rep); /* quoted reply: the inverse is the request from its dst */
	mov(b, BPF_REG_4, BPF_REG_1);
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, S_INNER + 12);
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_10, S_INNER + 16);
	movi(b, BPF_REG_5, 0);
	bf_label_bind(b, ikey);
	ldx(b, BPF_H, BPF_REG_3, BPF_REG_10, S_INL4 + 4);
	ldx(b, BPF_B, BPF_REG_0, BPF_REG_10, S_INL4 + 1);
	E(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_0, 8));
	E(b, BF_ALU64_REG(BPF_OR, BPF_REG_4, BPF_REG_0));
	emit_icmp_key(b);

	bf_label_bind(b, look);
	emit_lookup(b, miss);
	jgo(b, got);
	bf_label_bind(b, miss);
	jgo(b, c->invalid);
	bf_label_bind(b, got);
	stx(b, BPF_DW, BPF_REG_10, S_MAPV, BPF_REG_0);
	copy8(b, BPF_REG_7, PKT_OFF(ct_ent), BPF_REG_0, 0, sizeof(struct bf_ct_entry));
	bf_comment(b, "outer daddr must be the quoted packet's source");
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(daddr));
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, S_INNER + 12);
	bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, c->invalid);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(orig_swapped));
	ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_SWAP);
	E(b, BF_ALU64_REG(BPF_XOR, BPF_REG_1, BPF_REG_2));
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 1));
	stx(b, BPF_B, BPF_REG_7, PKT_OFF(ct_dir), BPF_REG_1);
	sti(b, BPF_H, BPF_REG_7, PKT_OFF(ct_state), ST_RELATED);
	/* RELATED packets neither refresh nor change their connection */
	sti(b, BPF_DW, BPF_REG_10, S_MAPV, 0);
	jgo(b, c->out);
}

/* R1 = request type | code << 8: pkt->ct_ent.repl_dport = the reply type | code << 8. */
static void emit_icmp_repl_type(struct bf_builder *b, const uint8_t (*inv)[2], size_t n)
{
	bf_label done = bf_label_new(b);

	mov(b, BPF_REG_2, BPF_REG_1);
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_2, 0xff));
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 0xff00));
	for (size_t k = 0; k < n; k++) {
		bf_label nx = bf_label_new(b);

		bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_2, inv[k][0], nx);
		E(b, BF_ALU64_IMM(BPF_OR, BPF_REG_1, inv[k][1]));
		jgo(b, done);
		bf_label_bind(b, nx);
	}
	bf_label_bind(b, done);
	stx(b, BPF_H, BPF_REG_7, CE(repl_dport), BPF_REG_1);
}

static void emit_icmp(struct ctc *c)
{
	struct bf_builder *b = c->b;
	bf_label ok = bf_label_new(b), err = bf_label_new(b), req = bf_label_new(b);
	bf_label rep = bf_label_new(b), key = bf_label_new(b), miss = bf_label_new(b);
	static const uint8_t errors[] = {3, 4, 5, 11, 12}; /* icmp_is_err() */

	bf_comment(b, "icmp");
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(flags));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, BF_PKT_F_L4_OK, ok);
	jgo(b, c->invalid);
	bf_label_bind(b, ok);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(icmp_type));
	bf_emit_jmp_imm(b, BPF_JGT, BPF_REG_1, 18, c->invalid); /* > NR_ICMP_TYPES */
	for (size_t k = 0; k < sizeof(errors); k++)
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, errors[k], err);
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_off));
	movi(b, BPF_REG_4, 8);
	load_bytes(c, S_HDR, c->invalid);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(icmp_type));
	emit_icmp_kind(b, req, rep);
	bf_comment(b, "no inverse type: no connection can be made (INVALID)");
	jgo(b, c->invalid);
	bf_label_bind(b, req);
	mov(b, BPF_REG_4, BPF_REG_1);
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(saddr));
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(daddr));
	movi(b, BPF_REG_5, 0);
	jgo(b, key);
	bf_label_bind(b, rep);
	mov(b, BPF_REG_4, BPF_REG_1);
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(daddr));
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(saddr));
	movi(b, BPF_REG_5, 1);
	bf_label_bind(b, key);
	ldx(b, BPF_H, BPF_REG_3, BPF_REG_10, S_HDR + 4);
	ldx(b, BPF_B, BPF_REG_0, BPF_REG_7, PKT_OFF(icmp_code));
	E(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_0, 8));
	E(b, BF_ALU64_REG(BPF_OR, BPF_REG_4, BPF_REG_0));
	emit_icmp_key(b);
	emit_lookup(b, miss);
	emit_found(c);
	set_expires(b, ICMP_TMO);
	jgo(b, c->valid);
	bf_label_bind(b, miss);
	bf_comment(b, "only a request opens a connection");
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_SWAP);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, c->invalid);
	emit_new_entry(c, IPPROTO_ICMP, ICMP_TMO);
	bf_comment(b, "ports of the tuples: id, type | code << 8 (reply: the reply type)");
	ldx(b, BPF_H, BPF_REG_1, BPF_REG_10, S_HDR + 4);
	stx(b, BPF_H, BPF_REG_7, CE(orig_sport), BPF_REG_1);
	stx(b, BPF_H, BPF_REG_7, CE(repl_sport), BPF_REG_1);
	ldx(b, BPF_H, BPF_REG_1, BPF_REG_7, CK(port[1]));
	stx(b, BPF_H, BPF_REG_7, CE(orig_dport), BPF_REG_1);
	emit_icmp_repl_type(b, icmp_pairs, sizeof(icmp_pairs) / sizeof(icmp_pairs[0]));
	jgo(b, c->valid);

	bf_label_bind(b, err);
	emit_icmp_error(c);
}

/* ---------------------------------------------------------------------------------------- */
/* ICMPv6 (nf_conntrack_proto_icmpv6.c) */

/*
 * ICMPv6 key: the requester's address at (ra + oa) first, the responder's at (rb + ob);
 * port[0] = id (R3), port[1] = request type | code << 8 (R4); S_SWAP = R5.
 */
static void emit_icmp6_key(struct bf_builder *b, int ra, int16_t oa, int rb, int16_t ob)
{
	copy_addr6(b, BPF_REG_7, CK(addr[0]), ra, oa);
	copy_addr6(b, BPF_REG_7, CK(addr[1]), rb, ob);
	stx(b, BPF_H, BPF_REG_7, CK(port[0]), BPF_REG_3);
	stx(b, BPF_H, BPF_REG_7, CK(port[1]), BPF_REG_4);
	sti(b, BPF_B, BPF_REG_7, CK(proto), IPPROTO_ICMPV6);
	stx(b, BPF_DW, BPF_REG_10, S_SWAP, BPF_REG_5);
}

/* R1 = the end of the IP packet as an offset in the packet data (l3_off + len). */
static void emit_pkt_end(struct bf_builder *b)
{
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l3_off));
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(len));
	E(b, BF_ALU64_REG(BPF_ADD, BPF_REG_1, BPF_REG_2));
}

static void emit_jmp_if_ext6(struct bf_builder *b, int reg, bf_label to)
{
	static const int ext[] = {NEXTHDR_HOP, NEXTHDR_ROUTING, NEXTHDR_FRAGMENT, NEXTHDR_AUTH,
				  NEXTHDR_DEST};

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		bf_emit_jmp_imm(b, BPF_JEQ, reg, ext[i], to);
}

/*
 * An ICMPv6 error (or a redirect's quoted packet) whose quoted IPv6 header starts `inner` bytes
 * after the ICMPv6 header (nf_conntrack_inet_error): the quoted tuple, found after the quoted
 * extension headers as get_l4proto/ipv6_skip_exthdr find it, inverted, must belong to a
 * connection and the error must go to the quoted packet's source: RELATED, else INVALID.
 */
static void emit_icmp6_error(struct ctc *c, int32_t inner)
{
	struct bf_builder *b = c->b;
	bf_label upper = bf_label_new(b), ports = bf_label_new(b), icmp = bf_label_new(b);
	bf_label gen = bf_label_new(b), look = bf_label_new(b), req = bf_label_new(b);
	bf_label rep = bf_label_new(b), qicmp = bf_label_new(b), l4 = bf_label_new(b);

	bf_comment(b, "icmpv6 error: the quoted IPv6 header, %d bytes into the message", inner);
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, inner + 40, c->invalid);
	for (int o = 0; o < 40; o += 8)
		sti(b, BPF_DW, BPF_REG_10, (int16_t)(S_IN6 + o), 0);
	sti(b, BPF_DW, BPF_REG_10, S_IN6L4, 0);
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_off));
	E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, inner));
	movi(b, BPF_REG_4, 40);
	load_bytes(c, S_IN6, c->invalid);
	bf_comment(b, "r8 = quoted next header, r9 = its offset in the packet data");
	ldx(b, BPF_B, BPF_REG_8, BPF_REG_10, S_IN6 + 6);
	ldx(b, BPF_W, BPF_REG_9, BPF_REG_7, PKT_OFF(l4_off));
	E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_9, inner + 40));
	for (int i = 0; i <= IN6_WALK_MAX; i++) {
		bf_label ext = bf_label_new(b), frag = bf_label_new(b), auth = bf_label_new(b);
		bf_label adv = bf_label_new(b);

		bf_comment(b, "quoted extension header %d (ipv6_skip_exthdr); NONE: no tuple", i);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, NEXTHDR_NONE, c->invalid);
		emit_jmp_if_ext6(b, BPF_REG_8, ext);
		jgo(b, upper);
		bf_label_bind(b, ext);
		if (i == IN6_WALK_MAX) {
			bf_comment(b, "a longer chain than the tracker follows: no tuple");
			jgo(b, c->invalid);
			break;
		}
		emit_pkt_end(b);
		mov(b, BPF_REG_2, BPF_REG_9);
		E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 2));
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_2, BPF_REG_1, c->invalid);
		sti(b, BPF_DW, BPF_REG_10, S_IN6X, 0);
		mov(b, BPF_REG_2, BPF_REG_9);
		movi(b, BPF_REG_4, 2);
		load_bytes(c, S_IN6X, c->invalid);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, NEXTHDR_FRAGMENT, frag);
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, NEXTHDR_AUTH, auth);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_10, S_IN6X + 1);
		E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 1));
		E(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_1, 3));
		jgo(b, adv);
		bf_label_bind(b, auth);
		ldx(b, BPF_B, BPF_REG_1, BPF_REG_10, S_IN6X + 1);
		E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_1, 2));
		E(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_1, 2));
		jgo(b, adv);
		bf_label_bind(b, frag);
		bf_comment(b, "a quoted non-first fragment has no tuple");
		emit_pkt_end(b);
		mov(b, BPF_REG_2, BPF_REG_9);
		E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 4));
		bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_2, BPF_REG_1, c->invalid);
		mov(b, BPF_REG_2, BPF_REG_9);
		E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 2));
		movi(b, BPF_REG_4, 2);
		load_bytes(c, S_IN6X + 2, c->invalid);
		ldx(b, BPF_H, BPF_REG_1, BPF_REG_10, S_IN6X + 2);
		E(b, BF_BE(BPF_REG_1, 16));
		bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, 0xfff8, c->invalid);
		movi(b, BPF_REG_1, 8);
		bf_label_bind(b, adv);
		ldx(b, BPF_B, BPF_REG_8, BPF_REG_10, S_IN6X);
		E(b, BF_ALU64_REG(BPF_ADD, BPF_REG_9, BPF_REG_1));
	}

	bf_label_bind(b, upper);
	stx(b, BPF_DW, BPF_REG_10, S_IN6P, BPF_REG_8);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, IPPROTO_TCP, ports);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, IPPROTO_UDP, ports);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, IPPROTO_UDPLITE, ports);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_8, IPPROTO_ICMPV6, icmp);
	jgo(b, gen);
	bf_label_bind(b, ports);
	bf_comment(b, "tcp/udp: the ports, 4 bytes");
	movi(b, BPF_REG_8, 4);
	jgo(b, l4);
	bf_label_bind(b, icmp);
	bf_comment(b, "icmpv6: the whole header, 8 bytes");
	movi(b, BPF_REG_8, 8);
	bf_label_bind(b, l4);
	emit_pkt_end(b);
	mov(b, BPF_REG_2, BPF_REG_9);
	E(b, BF_ALU64_REG(BPF_ADD, BPF_REG_2, BPF_REG_8));
	bf_emit_jmp_reg(b, BPF_JGT, BPF_REG_2, BPF_REG_1, c->invalid);
	mov(b, BPF_REG_2, BPF_REG_9);
	mov(b, BPF_REG_4, BPF_REG_8);
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_4, 0xc)); /* 4 or 8: bounds it for the verifier */
	load_bytes(c, S_IN6L4, c->invalid);
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_IN6P);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_ICMPV6, qicmp);

	bf_label_bind(b, gen);
	bf_comment(b, "tcp/udp/other: the normalised key of the quoted tuple");
	ldx(b, BPF_H, BPF_REG_3, BPF_REG_10, S_IN6L4);
	ldx(b, BPF_H, BPF_REG_4, BPF_REG_10, S_IN6L4 + 2);
	emit_key_pair6(b, 0, BPF_REG_10, S_IN6 + 8, BPF_REG_10, S_IN6 + 24);
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_IN6P);
	stx(b, BPF_B, BPF_REG_7, CK(proto), BPF_REG_1);
	bf_comment(b, "the inverted tuple's orientation is the other one");
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_SWAP);
	E(b, BF_ALU64_IMM(BPF_XOR, BPF_REG_1, 1));
	stx(b, BPF_DW, BPF_REG_10, S_SWAP, BPF_REG_1);
	jgo(b, look);

	bf_label_bind(b, qicmp);
	bf_comment(b, "quoted icmpv6: its inverse must exist (echo and node information only)");
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_10, S_IN6L4);
	emit_icmp6_kind(b, req, rep);
	jgo(b, c->invalid);
	bf_label_bind(b, req); /* quoted request: the inverse is the reply, the requester its src */
	mov(b, BPF_REG_4, BPF_REG_1);
	ldx(b, BPF_H, BPF_REG_3, BPF_REG_10, S_IN6L4 + 4);
	ldx(b, BPF_B, BPF_REG_0, BPF_REG_10, S_IN6L4 + 1);
	E(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_0, 8));
	E(b, BF_ALU64_REG(BPF_OR, BPF_REG_4, BPF_REG_0));
	movi(b, BPF_REG_5, 1);
	emit_icmp6_key(b, BPF_REG_10, S_IN6 + 8, BPF_REG_10, S_IN6 + 24);
	jgo(b, look);
	bf_label_bind(b, rep); /* quoted reply: the inverse is the request from its dst */
	mov(b, BPF_REG_4, BPF_REG_1);
	ldx(b, BPF_H, BPF_REG_3, BPF_REG_10, S_IN6L4 + 4);
	ldx(b, BPF_B, BPF_REG_0, BPF_REG_10, S_IN6L4 + 1);
	E(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_0, 8));
	E(b, BF_ALU64_REG(BPF_OR, BPF_REG_4, BPF_REG_0));
	movi(b, BPF_REG_5, 0);
	emit_icmp6_key(b, BPF_REG_10, S_IN6 + 24, BPF_REG_10, S_IN6 + 8);

	bf_label_bind(b, look);
	emit_lookup(b, c->invalid);
	stx(b, BPF_DW, BPF_REG_10, S_MAPV, BPF_REG_0);
	copy8(b, BPF_REG_7, PKT_OFF(ct_ent), BPF_REG_0, 0, sizeof(struct bf_ct_entry));
	bf_comment(b, "outer daddr must be the quoted packet's source");
	for (int16_t w = 0; w < 16; w += 4) {
		ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, (int16_t)(PKT_OFF(daddr) + w));
		ldx(b, BPF_W, BPF_REG_2, BPF_REG_10, (int16_t)(S_IN6 + 8 + w));
		bf_emit_jmp_reg(b, BPF_JNE, BPF_REG_1, BPF_REG_2, c->invalid);
	}
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, CE(orig_swapped));
	ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_SWAP);
	E(b, BF_ALU64_REG(BPF_XOR, BPF_REG_1, BPF_REG_2));
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 1));
	stx(b, BPF_B, BPF_REG_7, PKT_OFF(ct_dir), BPF_REG_1);
	sti(b, BPF_H, BPF_REG_7, PKT_OFF(ct_state), ST_RELATED);
	/* RELATED packets neither refresh nor change their connection */
	sti(b, BPF_DW, BPF_REG_10, S_MAPV, 0);
	jgo(b, c->out);
}

/*
 * A redirect (nf_conntrack_icmpv6_redirect): RELATED through the quoted packet of its
 * "redirected header" option when it is well formed (code 0, hop limit 255, link-local source,
 * that option first); every other redirect ends INVALID (a redirect opens no connection).
 */
static void emit_icmp6_redirect(struct ctc *c)
{
	struct bf_builder *b = c->b;

	bf_comment(b, "icmpv6 redirect: 40 bytes, code 0, hop limit 255, fe80::/10 source");
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(l4_len));
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 40 + 2, c->invalid);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(icmp_code));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, c->invalid);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(ttl));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 255, c->invalid);
	ldx(b, BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(saddr));
	E(b, BF_BE(BPF_REG_1, 16));
	E(b, BF_ALU64_IMM(BPF_AND, BPF_REG_1, 0xffc0));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0xfe80, c->invalid);
	bf_comment(b, "the first option: length != 0, type ND_OPT_REDIRECT_HDR");
	sti(b, BPF_DW, BPF_REG_10, S_IN6X, 0);
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_off));
	E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, 40));
	movi(b, BPF_REG_4, 2);
	load_bytes(c, S_IN6X, c->invalid);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_10, S_IN6X + 1);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, c->invalid);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_10, S_IN6X);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, ND_OPT_REDIRECT_HDR, c->invalid);
	emit_icmp6_error(c, 40 + 8);
}

static void emit_icmp6(struct ctc *c)
{
	struct bf_builder *b = c->b;
	bf_label ok = bf_label_new(b), err = bf_label_new(b), req = bf_label_new(b);
	bf_label rep = bf_label_new(b), key = bf_label_new(b), miss = bf_label_new(b);
	bf_label untracked = bf_label_new(b), redirect = bf_label_new(b);
	/* noct_valid_new[]: MLD and neighbour discovery are never tracked */
	static const uint8_t noct[] = {130, 131, 132, 133, 134, 135, 136, 143};

	bf_comment(b, "icmpv6");
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_7, PKT_OFF(flags));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, BF_PKT_F_L4_OK, ok);
	jgo(b, c->invalid);
	bf_label_bind(b, ok);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(icmp_type));
	for (size_t k = 0; k < sizeof(noct); k++)
		bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, noct[k], untracked);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, ICMPV6_REDIRECT, redirect);
	bf_emit_jmp_imm(b, BPF_JLT, BPF_REG_1, 128, err);
	ldx(b, BPF_W, BPF_REG_2, BPF_REG_7, PKT_OFF(l4_off));
	movi(b, BPF_REG_4, 8);
	load_bytes(c, S_HDR, c->invalid);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(icmp_type));
	emit_icmp6_kind(b, req, rep);
	bf_comment(b, "no inverse type: no connection can be made (INVALID)");
	jgo(b, c->invalid);
	bf_label_bind(b, req);
	mov(b, BPF_REG_4, BPF_REG_1);
	ldx(b, BPF_H, BPF_REG_3, BPF_REG_10, S_HDR + 4);
	ldx(b, BPF_B, BPF_REG_0, BPF_REG_7, PKT_OFF(icmp_code));
	E(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_0, 8));
	E(b, BF_ALU64_REG(BPF_OR, BPF_REG_4, BPF_REG_0));
	movi(b, BPF_REG_5, 0);
	emit_icmp6_key(b, BPF_REG_7, PKT_OFF(saddr), BPF_REG_7, PKT_OFF(daddr));
	jgo(b, key);
	bf_label_bind(b, rep);
	mov(b, BPF_REG_4, BPF_REG_1);
	ldx(b, BPF_H, BPF_REG_3, BPF_REG_10, S_HDR + 4);
	ldx(b, BPF_B, BPF_REG_0, BPF_REG_7, PKT_OFF(icmp_code));
	E(b, BF_ALU64_IMM(BPF_LSH, BPF_REG_0, 8));
	E(b, BF_ALU64_REG(BPF_OR, BPF_REG_4, BPF_REG_0));
	movi(b, BPF_REG_5, 1);
	emit_icmp6_key(b, BPF_REG_7, PKT_OFF(daddr), BPF_REG_7, PKT_OFF(saddr));
	bf_label_bind(b, key);
	emit_lookup(b, miss);
	emit_found(c);
	set_expires(b, ICMP_TMO);
	jgo(b, c->valid);
	bf_label_bind(b, miss);
	bf_comment(b, "only a request (echo, node information query) opens a connection");
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_SWAP);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, c->invalid);
	emit_new_entry(c, IPPROTO_ICMPV6, ICMP_TMO);
	ldx(b, BPF_H, BPF_REG_1, BPF_REG_10, S_HDR + 4);
	stx(b, BPF_H, BPF_REG_7, CE(orig_sport), BPF_REG_1);
	stx(b, BPF_H, BPF_REG_7, CE(repl_sport), BPF_REG_1);
	ldx(b, BPF_H, BPF_REG_1, BPF_REG_7, CK(port[1]));
	stx(b, BPF_H, BPF_REG_7, CE(orig_dport), BPF_REG_1);
	emit_icmp_repl_type(b, icmp6_pairs, sizeof(icmp6_pairs) / sizeof(icmp6_pairs[0]));
	jgo(b, c->valid);

	bf_label_bind(b, untracked);
	bf_comment(b, "neighbour discovery, MLD: UNTRACKED (no connection)");
	sti(b, BPF_H, BPF_REG_7, PKT_OFF(ct_state), ST_UNTRACKED);
	jgo(b, c->out);

	bf_label_bind(b, redirect);
	emit_icmp6_redirect(c);

	bf_label_bind(b, err);
	emit_icmp6_error(c, 8);
}

/* ---------------------------------------------------------------------------------------- */

/* Every other protocol: nf_conntrack_proto_generic.c, addresses only, 600 s. */
static void emit_generic(struct ctc *c)
{
	struct bf_builder *b = c->b;
	bf_label miss = bf_label_new(b);

	bf_comment(b, "generic");
	emit_key_pkt(c, 0, true);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(proto));
	stx(b, BPF_B, BPF_REG_7, CK(proto), BPF_REG_1);
	emit_lookup(b, miss);
	emit_found(c);
	set_expires(b, GENERIC_TMO);
	jgo(b, c->valid);
	bf_label_bind(b, miss);
	emit_new_entry(c, 0, GENERIC_TMO);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(proto));
	stx(b, BPF_B, BPF_REG_7, CE(proto), BPF_REG_1);
	jgo(b, c->valid);
}

/*
 * One tracker for both families (pkt->ct_v6 says which), so that the verifier checks it once
 * for the whole dispatcher: both halves of the dispatcher join here with nothing but R6, R7 and
 * pkt->ct_v6 telling them apart, and the second one is pruned.
 */
static void emit_track(struct ctc *c)
{
	struct bf_builder *b = c->b;
	bf_label tcp = bf_label_new(b), udp = bf_label_new(b), udpl = bf_label_new(b);
	bf_label icmp = bf_label_new(b), icmp6 = bf_label_new(b), wb = bf_label_new(b), l;
	bf_label v4 = bf_label_new(b), proto = bf_label_new(b), on = bf_label_new(b);

	bf_comment(b, "conntrack: not tracked unless bf_cfg.track & 1 << pkt->ct_v6");
	ldx(b, BPF_B, BPF_REG_8, BPF_REG_7, PKT_OFF(ct_v6));
	bf_emit_ld_map_value(b, BPF_REG_1, BF_MAP_CFG, offsetof(struct bf_cfg, track));
	ldx(b, BPF_W, BPF_REG_1, BPF_REG_1, 0);
	E(b, BF_ALU64_REG(BPF_RSH, BPF_REG_1, BPF_REG_8));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, 1, on);
	bf_comment(b, "INVALID: no connection; and no announced reply left from an earlier packet");
	bf_ct_emit_none(b);
	sti(b, BPF_W, BPF_REG_7, PKT_OFF(reply_ifindex), 0);
	jgo(b, c->out);
	bf_label_bind(b, on);
	bf_comment(b, "conntrack: pkt->ct_* = INVALID, no connection (ct_v6 kept)");
	/* Up to gen_seq, the dispatcher's own (abi.h). */
	for (int o = PKT_OFF(ct_state); o < PKT_OFF(gen_seq); o += 8)
		sti(b, BPF_DW, BPF_REG_7, (int16_t)o, 0);
	stx(b, BPF_B, BPF_REG_7, PKT_OFF(ct_v6), BPF_REG_8);
	stx(b, BPF_B, BPF_REG_7, CK(v6), BPF_REG_8);
	sti(b, BPF_H, BPF_REG_7, PKT_OFF(ct_state), ST_INVALID);
	sti(b, BPF_DW, BPF_REG_10, S_MAPV, 0);
	sti(b, BPF_DW, BPF_REG_10, S_ISNEW, 0);
	sti(b, BPF_DW, BPF_REG_10, S_SWAP, 0);
	sti(b, BPF_DW, BPF_REG_10, S_DIR, 0);
	E(b, BF_CALL(BPF_FUNC_ktime_get_ns));
	stx(b, BPF_DW, BPF_REG_10, S_NOW, BPF_REG_0);
	bf_comment(b, "a non-first fragment: no tuple (the kernel reassembles first)");
	ldx(b, BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(fragoff_h));
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, c->out);
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(proto));
	ldx(b, BPF_B, BPF_REG_2, BPF_REG_7, PKT_OFF(ct_v6));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 0, v4);
	bf_comment(b, "IPv6: no upper-layer protocol found (ipv6_skip_exthdr < 0), NONE: no tuple");
	ldx(b, BPF_W, BPF_REG_3, BPF_REG_7, PKT_OFF(flags));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_3, BF_PKT_F_X6_NOPROTO, c->out);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, NEXTHDR_NONE, c->out);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_ICMPV6, icmp6);
	bf_comment(b, "the other family's icmp: its tracker refuses the packet (INVALID)");
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_ICMP, c->out);
	jgo(b, proto);
	bf_label_bind(b, v4);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_ICMP, icmp);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_ICMPV6, c->out);
	bf_label_bind(b, proto);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_TCP, tcp);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_UDP, udp);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, IPPROTO_UDPLITE, udpl);
	emit_generic(c);
	bf_label_bind(b, tcp);
	emit_tcp(c);
	bf_label_bind(b, udp);
	emit_udp(c, IPPROTO_UDP);
	bf_label_bind(b, udpl);
	emit_udp(c, IPPROTO_UDPLITE);
	bf_label_bind(b, icmp);
	emit_icmp(c);
	bf_label_bind(b, icmp6);
	emit_icmp6(c);

	bf_label_bind(b, c->invalid);
	bf_comment(b, "INVALID: no connection for the filter; an existing one keeps its changes");
	sti(b, BPF_H, BPF_REG_7, PKT_OFF(ct_state), ST_INVALID);
	sti(b, BPF_B, BPF_REG_7, PKT_OFF(ct_commit), 0);
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_ISNEW);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, 0, c->out);
	jgo(b, wb);

	bf_label_bind(b, c->valid);
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_ISNEW);
	l = bf_label_new(b);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, l);
	bf_comment(b, "a new connection: inserted if the filter accepts the packet");
	sti(b, BPF_B, BPF_REG_7, PKT_OFF(ct_commit), 1);
	jgo(b, c->out);
	bf_label_bind(b, l);
	bf_comment(b, "a reply: IPS_SEEN_REPLY");
	ldx(b, BPF_DW, BPF_REG_1, BPF_REG_10, S_DIR);
	bf_emit_jmp_imm(b, BPF_JNE, BPF_REG_1, IP_CT_DIR_REPLY, wb);
	or_b(b, BPF_REG_7, CE(status), IPS_SEEN_REPLY);
	bf_label_bind(b, wb);
	bf_comment(b, "write the connection back");
	ldx(b, BPF_DW, BPF_REG_2, BPF_REG_10, S_MAPV);
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_2, 0, c->out);
	copy8(b, BPF_REG_2, 0, BPF_REG_7, PKT_OFF(ct_ent), sizeof(struct bf_ct_entry));
	bf_label_bind(b, c->out);
}

void bf_ct_emit_track(struct bf_builder *b, enum bf_prog_ctx pctx, bool ingress)
{
	struct ctc c = {
		.b = b,
		.pctx = pctx,
		.ingress = ingress,
		.out = bf_label_new(b),
		.invalid = bf_label_new(b),
		.valid = bf_label_new(b),
	};

	emit_track(&c);
}

void bf_ct_emit_none(struct bf_builder *b)
{
	sti(b, BPF_H, BPF_REG_7, PKT_OFF(ct_state), ST_INVALID);
	sti(b, BPF_B, BPF_REG_7, PKT_OFF(ct_commit), 0);
}

void bf_ct_emit_commit(struct bf_builder *b)
{
	bf_label skip = bf_label_new(b);

	bf_comment(b, "conntrack: confirm a new connection (never through a RELATED packet)");
	ldx(b, BPF_B, BPF_REG_1, BPF_REG_7, PKT_OFF(ct_commit));
	bf_emit_jmp_imm(b, BPF_JEQ, BPF_REG_1, 0, skip);
	ldx(b, BPF_H, BPF_REG_1, BPF_REG_7, PKT_OFF(ct_state));
	bf_emit_jmp_imm(b, BPF_JSET, BPF_REG_1, ST_RELATED, skip);
	bf_emit_ld_map(b, BPF_REG_1, BF_MAP_CT);
	mov(b, BPF_REG_2, BPF_REG_7);
	E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_2, PKT_OFF(ct_key)));
	mov(b, BPF_REG_3, BPF_REG_7);
	E(b, BF_ALU64_IMM(BPF_ADD, BPF_REG_3, PKT_OFF(ct_ent)));
	movi(b, BPF_REG_4, BPF_ANY);
	E(b, BF_CALL(BPF_FUNC_map_update_elem));
	bf_label_bind(b, skip);
}

int bf_ct_map_create(const struct bf_log *log)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "bf_ct", sizeof(struct bf_ct_key),
				sizeof(struct bf_ct_entry), BF_CT_MAX, NULL);

	if (fd < 0) {
		fd = -errno;
		bf_logf(log, BF_LOG_ERR, "cannot create map bf_ct: %s", strerror(-fd));
	}
	return fd;
}

int bf_ct_fixup_tcp(int ct_fd, bool v6, uint32_t *n_fixed)
{
	struct bf_ct_key key, next;
	struct bf_ct_entry ent;
	uint32_t n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(ct_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.v6 != v6 || key.proto != IPPROTO_TCP)
			continue;
		if (bpf_map_lookup_elem(ct_fd, &key, &ent))
			continue; /* evicted meanwhile */
		if (ent.state != TCP_CONNTRACK_ESTABLISHED)
			continue;
		ent.seen[0].td_maxwin = 0;
		ent.seen[1].td_maxwin = 0;
		if (bpf_map_update_elem(ct_fd, &key, &ent, BPF_EXIST) && errno != ENOENT)
			return -errno;
		n++;
	}
	if (errno != ENOENT)
		return -errno;
	if (n_fixed)
		*n_fixed = n;
	return 0;
}
