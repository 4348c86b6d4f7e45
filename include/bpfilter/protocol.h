/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Wire format between the preload shim (compat/iptables) and bpfilterd.
 * doc/protocol.md describes every message, error and limit; keep the two in sync.
 *
 * One request and one response per connection on a SOCK_STREAM Unix socket. All integers are in
 * host byte order (both ends run on the same machine).
 */
#ifndef BPFILTER_PROTOCOL_H
#define BPFILTER_PROTOCOL_H

#include <stdint.h>

#define BPFILTER_DEFAULT_SOCKET "/run/bpfilter/bpfilterd.sock"
#define BPFILTER_SOCKET_ENV "BPFILTER_SOCKET"

#define BPFILTER_MAGIC 0x4c465042u /* "BPFL" in memory on little-endian */
#define BPFILTER_VERSION 1

/* Largest payload either side accepts: the kernel's XT_MAX_TABLE_SIZE (512 MiB) is more than any
 * real table needs, and a smaller cap keeps a bogus length from pinning daemon memory. */
#define BPFILTER_MAX_PAYLOAD (256u << 20)

/* A getsockopt caller's buffer is only read up to this many bytes: enough for every x_tables
 * request header (ipt_get_entries is 40 bytes, xt_get_revision 30). */
#define BPFILTER_GET_INPUT_MAX 128u

enum bpfilter_op {
	/* payload: the caller's optval (setsockopt: optlen bytes; getsockopt: the first
	 * min(optlen, BPFILTER_GET_INPUT_MAX) bytes). A shorter payload means the caller's buffer
	 * is unreadable from that byte on (doc/protocol.md, "Faults"). */
	BPFILTER_OP_GETSOCKOPT = 1,
	BPFILTER_OP_SETSOCKOPT = 2,
	/* /proc/net/ip{,6}_tables_names: level selects the family, no payload; the response payload
	 * is the file's text. */
	BPFILTER_OP_TABLE_NAMES = 3,
	/* /proc/net/xt_recent/NAME: optname BPFILTER_RECENT_READ or _WRITE; payload: the table
	 * name and its NUL, then (write) the bytes the caller wrote. Response: read, the file's
	 * text; write, optlen = the value write() returns. */
	BPFILTER_OP_RECENT = 4,
};

#define BPFILTER_RECENT_READ 0
#define BPFILTER_RECENT_WRITE 1
/* The longest name plus its NUL (XT_RECENT_NAME_LEN), and the most bytes the kernel takes from
 * one write (its buffer, the size of "+" and a full IPv6 address). */
#define BPFILTER_RECENT_NAME_MAX 200u
#define BPFILTER_RECENT_WRITE_MAX 41u

struct bpfilter_request {
	uint32_t magic;
	uint16_t version;
	uint16_t op; /* enum bpfilter_op */
	int32_t level; /* SOL_IP (0) or SOL_IPV6 (41) */
	int32_t optname;
	uint32_t optlen; /* the caller's optlen (getsockopt: *optlen on entry) */
	uint32_t payload_len; /* bytes that follow this header */
};

struct bpfilter_response {
	uint32_t magic;
	uint16_t version;
	uint16_t flags; /* BPFILTER_RESP_F_* */
	int32_t error; /* 0, or the positive errno the kernel would return */
	uint32_t optlen; /* getsockopt: the new *optlen on success */
	uint32_t payload_len; /* bytes that follow this header */
};

/* The daemon serves another network namespace than the caller's: the shim prints one line and
 * fails the call with ENOPROTOOPT, as a kernel without x_tables would. */
#define BPFILTER_RESP_F_WRONG_NETNS 1u

/*
 * Response payloads on success:
 * - GETSOCKOPT: payload_len bytes to copy to the start of optval (payload_len <= optlen).
 * - SETSOCKOPT IPT_SO_SET_REPLACE: the old table's counters, num_counters x struct xt_counters,
 *   which the shim writes to ipt_replace.counters in the caller's memory (a fault there is ignored,
 *   as the kernel ignores it).
 * - SETSOCKOPT other: none.
 * - TABLE_NAMES: the file text, one table name and '\n' per instantiated table.
 * - RECENT: read, the file text (one line per entry, the kernel's format); write, none.
 * On error there is no payload.
 */

#endif /* BPFILTER_PROTOCOL_H */
