/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the REJECT and LOG targets share with the runtime (codegen/runtime.c) and the daemon's log
 * sink (daemon/logsink.c): their map slots, the REJECT helper program, and the LOG record.
 */
#ifndef BF_TARGETS_H
#define BF_TARGETS_H

#include <stdint.h>

#include "../builder.h"
#include "../log.h"

/* Runtime maps the targets reference (slots of the builder's extension range). */

/* Size of the LOG ring buffer: about 2,000 records of 512 bytes. */
#define BF_LOG_RB_SIZE (1u << 20)

/*
 * Build and load the TC program REJECT tail-calls (slot 0 of BF_MAP_REJECT_PROGS): it turns the
 * packet described by struct bf_pkt into the kernel's reply for pkt->tgt_arg (enum
 * ipt_reject_with) and redirects it, or drops it when the kernel would send nothing.
 * map_fds as for any program of the runtime. Returns the program fd or -errno.
 */
int bf_reject_prog_load(const struct bf_log *log, const int map_fds[BF_MAP_SLOT_MAX]);

/* The slots of BF_MAP_REJECT_PROGS: IPv4's program (above) and IPv6's (reject6.c). */
#define BF_REJECT_SLOT_IPV4 0
#define BF_REJECT_SLOT_IPV6 1
#define BF_REJECT_SLOTS 2

/*
 * The same for IPv6 (slot BF_REJECT_SLOT_IPV6): pkt->tgt_arg is the ICMPv6 code or the RST
 * marker of codegen/target/reject6.c. Returns the program fd or -errno.
 */
int bf_reject6_prog_load(const struct bf_log *log, const int map_fds[BF_MAP_SLOT_MAX]);

/*
 * One LOG record in the ring buffer. The datapath copies the packet's bytes; the daemon formats
 * them exactly as nf_log_syslog.c does (dump_mac_header, dump_ipv4_packet, ...).
 */
#define BF_LOG_MAC_MAX 16   /* bytes of the link-layer header kept */
#define BF_LOG_DATA_MAX 384 /* bytes kept from the IP header on: every header the kernel prints */
#define BF_LOG_PREFIX_LEN 32

/* bf_log_rec.info */
#define BF_LOG_REC_UID (1u << 0) /* uid is valid (the packet has a full socket) */

struct bf_log_rec {
	uint8_t family; /* NFPROTO_IPV4 / NFPROTO_IPV6 */
	uint8_t hook;
	uint8_t level;	  /* xt_log_info.level */
	uint8_t logflags; /* xt_log_info.logflags */
	uint32_t info;	  /* BF_LOG_REC_* */
	uint32_t iif, oif;
	uint64_t iifname[2]; /* NUL padded, as struct bf_pkt */
	uint64_t oifname[2];
	uint32_t pkt_len; /* bytes of the packet from the IP header on (the kernel's skb->len) */
	uint32_t mark;
	uint32_t uid;
	uint32_t gid;
	uint16_t mac_len; /* bytes of link-layer header before the IP header (0: none) */
	uint16_t cap_len; /* bytes of data[] that hold packet bytes */
	uint32_t pad;
	uint8_t mac[BF_LOG_MAC_MAX];
	char prefix[BF_LOG_PREFIX_LEN]; /* xt_log_info.prefix, NUL terminated */
	uint8_t data[BF_LOG_DATA_MAX];
};

#endif /* BF_TARGETS_H */
