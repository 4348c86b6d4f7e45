/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Unit-test harness for match emitters: compiles a small program (prologue: R6 = ctx, R7 = this
 * CPU's struct bf_pkt from the bf_ctx map; the emitted IP part and matches; epilogue returning
 * MH_MATCH, MH_MISS or MH_HOTDROP), loads it as SCHED_CLS (or XDP) and runs it with
 * BPF_PROG_TEST_RUN on a real frame, after filling struct bf_pkt for every possible CPU.
 *
 * Packets are built as Ethernet + IPv4 or IPv6 frames; mh_fill() derives struct bf_pkt from the
 * frame the way the dispatcher does (see abi.h). Transport fields are filled from whatever bytes
 * the buffer holds, even past the IP length, so that a truncated packet whose fields *would* match
 * shows that the emitted code checks the lengths itself.
 */
#ifndef BF_TEST_MATCH_HARNESS_H
#define BF_TEST_MATCH_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
/* glibc's netinet/in.h before the kernel's linux/in.h (model.h), never after */
#include <netinet/in.h>
#include <arpa/inet.h>

#include "codegen/abi.h"
#include "codegen/ext.h"
#include "codegen/model.h"

enum { MH_MISS = 0, MH_MATCH = 1, MH_HOTDROP = 2, MH_NOCTX = 3 };

#define MH_FRAME_MAX 256
#define MH_L2_LEN 14

struct mh_pkt {
	struct bf_pkt pkt;
	uint8_t frame[MH_FRAME_MAX];
	uint32_t frame_len;
	uint32_t skb_mark; /* TC only: __sk_buff.mark given to BPF_PROG_TEST_RUN (0: no ctx_in) */
};

/*
 * An Ethernet + IPv4 frame: addresses in dotted form, frag_off as the host-order value of the
 * header field (IP_MF | offset in 8-byte units), `l4` copied after a 20-byte IP header. The IP
 * total length is 20 + l4_len; the frame holds `l4_buf_len` >= l4_len bytes of l4 (the rest is
 * trailing bytes beyond the IP packet, like Ethernet padding). Then mh_fill().
 */
void mh_ipv4(struct mh_pkt *p, uint8_t proto, const char *saddr, const char *daddr,
	     uint16_t frag_off, const void *l4, uint32_t l4_len, uint32_t l4_buf_len);
/*
 * An Ethernet + IPv6 frame: `nexthdr` goes in the fixed header, `data` (extension headers and
 * the upper layer, as raw bytes) after it; the payload length is data_len and the frame holds
 * data_buf_len >= data_len bytes of data (the rest lies beyond the IPv6 packet). Hop limit 64.
 * Then mh_fill(), which walks the extension headers as the dispatcher does (codegen/dispatch.c:
 * x6_*, proto, l4_off, l4_len, fragoff_h, frag_flags_h, BF_PKT_F_X6_*).
 */
void mh_ipv6(struct mh_pkt *p, uint8_t nexthdr, const char *saddr, const char *daddr,
	     const void *data, uint32_t data_len, uint32_t data_buf_len);
/* Set the Ethernet destination / source address of the frame. */
void mh_set_macs(struct mh_pkt *p, const uint8_t *dst, const uint8_t *src);
/* Derive p->pkt from p->frame (IPv4 or IPv6, by the version nibble), as the dispatcher does.
 * Keeps iifname/oifname. */
void mh_fill(struct mh_pkt *p);
void mh_set_ifaces(struct mh_pkt *p, const char *in, const char *out);

/* A 20-byte TCP header followed by `optlen` option bytes; doff_bytes is written to the data
 * offset field (doff_bytes / 4); returns the number of bytes written. */
uint32_t mh_tcphdr(uint8_t *buf, uint16_t sport, uint16_t dport, uint8_t flags, uint8_t doff_bytes,
		   const uint8_t *opts, uint32_t optlen);

/* An entry with an all-wildcard IP part and no matches, and a way to add one. */
struct mh_rule {
	struct bf_entry e;
	union bf_entry_ip ip; /* e.ip points here */
	struct bf_match m[4];
};
void mh_rule_init(struct mh_rule *r);
void mh_rule_add(struct mh_rule *r, const struct bf_ext *ext, const void *data, uint16_t len);

/* Maps of other slots a match uses (0: none), e.g. the route-type tries of addrtype. */
extern int mh_map_fds[BF_MAP_SLOT_MAX];

/* Compile and load: with_ip emits the IP part (bf_emit_ipmatch) before the matches. On error
 * the verifier log goes to stderr. 0 or -errno. */
int mh_load(int family, enum bf_prog_ctx pctx, const struct mh_rule *r, bool with_ip, int *prog_fd,
	    size_t *n_insns);
/* Run a loaded program on a packet: MH_* or -errno. */
int mh_exec(int prog_fd, enum bf_prog_ctx pctx, const struct mh_pkt *p);
/* Run a loaded TC program on an 8-byte UDP datagram from `saddr` to `daddr` (IPv6 when
 * `saddr` holds a ':'), at INPUT: MH_* or -errno. */
int mh_exec_udp(int prog_fd, const char *saddr, const char *daddr);
/* mh_load + mh_exec + close. */
int mh_eval(int family, enum bf_prog_ctx pctx, const struct mh_rule *r, bool with_ip,
	    const struct mh_pkt *p);

#endif /* BF_TEST_MATCH_HARNESS_H */
