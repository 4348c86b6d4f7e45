/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon side of the LOG target: consume the datapath's ring buffer of struct bf_log_rec
 * (codegen/target/targets.h), format each record as the kernel's nf_log_syslog.c does, and write
 * the line to /dev/kmsg with its level, where the kernel's LOG lines go (dmesg, journald).
 *
 * The sink runs in its own thread (the server loop is not touched): it polls the ring buffer,
 * reports records the datapath dropped because the buffer was full (one rate-limited line with
 * the count), and, like nf_log_allowed(), writes nothing from a network namespace other than the
 * initial one unless net.netfilter.nf_log_all_netns is 1.
 */
#ifndef BFD_LOGSINK_H
#define BFD_LOGSINK_H

#include <stddef.h>

#include "../codegen/log.h"
#include "../codegen/target/targets.h"

struct bfd_logsink;

/* Start consuming ring buffer rb_fd; drops_fd is the per-CPU drop counter. The fds are
 * duplicated. 0 or -errno. */
int bfd_logsink_new(int rb_fd, int drops_fd, const struct bf_log *log, struct bfd_logsink **out);
/* Stop the thread (after draining what is in the ring buffer) and free. NULL is fine. */
void bfd_logsink_free(struct bfd_logsink *s);

/*
 * The kernel's line for one record, without the level: nf_log_dump_packet_common(),
 * dump_mac_header() when there is an in interface, dump_ipv4_packet() or dump_ipv6_packet()
 * by the record's family. in_type is the ARPHRD_*
 * type of the in interface (for --log-macdecode). Returns the length written (always
 * NUL-terminated, truncated to len - 1).
 */
size_t bfd_logsink_format(const struct bf_log_rec *r, int in_type, char *buf, size_t len);

/*
 * What the line of a received IPv4 packet with options needs beyond the record. Before INPUT and
 * FORWARD, ip_rcv_options() ran ip_options_compile() on the packet, which writes into a record
 * route option the address spec_dst_fill() finds (fib_compute_spec_dst) and into a timestamp
 * option the time of day (and that address, for the flag with addresses), and advances their
 * pointers; --log-ip-options prints the options so rewritten. The datapath sees the packet before
 * (TC ingress), so the formatter redoes it with these lookups of the namespace.
 */
struct bfd_logsink_env {
	void *ctx;
	/* fib_compute_spec_dst() for the record's packet (IP header at iph): 0 with out set, or
	 * -errno (the options are then printed as received) */
	int (*spec_dst)(void *ctx, const struct bf_log_rec *r, const uint8_t *iph, uint8_t out[4]);
	/* inet_addr_type(addr) == RTN_UNICAST: 1 or 0 (a prespecified timestamp slot) */
	int (*addr_unicast)(void *ctx, const uint8_t addr[4]);
	/* inet_current_timestamp(): ms since midnight UTC, host order */
	uint32_t (*timestamp)(void *ctx);
};

/* bfd_logsink_format(), with the options of received IPv4 packets rewritten through env (NULL:
 * printed as the datapath copied them). */
size_t bfd_logsink_format_env(const struct bf_log_rec *r, int in_type,
			      const struct bfd_logsink_env *env, char *buf, size_t len);

#endif /* BFD_LOGSINK_H */
