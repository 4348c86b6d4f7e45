// SPDX-License-Identifier: GPL-2.0-only
/*
 * The LOG target's sink (logsink.h): the kernel's line format (net/netfilter/nf_log_syslog.c:
 * dump_ipv4_packet, dump_ipv6_packet) over the bytes the datapath copied, written to /dev/kmsg.
 */
#include "logsink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if_arp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/netfilter.h>
#include <linux/netfilter/xt_LOG.h>

#include <bpfilter/cleanup.h>

#include "caps.h"

#define KMSG_PATH "/dev/kmsg"
/* /dev/kmsg rate-limits each open file to 10 lines in 5 s (printk_devkmsg=ratelimit); the
 * kernel's own LOG lines are not limited, so the file is reopened before the limit. */
#define KMSG_LINES_PER_OPEN 8
#define DROP_REPORT_MS 5000
#define NETNS_CHECK_MS 2000

/* The kernel's NR_ICMP_TYPES and the ICMP types/codes printed below. */
#define ICMP_TYPES_MAX 18

struct bfd_logsink {
	const struct bf_log *log;
	int rb_fd, drops_fd;
	struct ring_buffer *rb;
	pthread_t thread;
	bool started;
	atomic_bool stop;
	int kmsg_fd;
	unsigned int kmsg_lines;
	uint64_t drops_reported;
	uint64_t last_drop_ms;
	uint64_t last_netns_ms;
	bool allowed;
	uint64_t suppressed;
	bool not_init_ns;
	int all_netns_fd;
	struct mnl_socket *nl; /* route and address lookups of ip_options_compile (lazily) */
	uint32_t nl_seq;
};

/* A line being built: nf_log_buf_add(). */
struct lbuf {
	char *p;
	size_t len, used;
};

static void __attribute__((format(printf, 2, 3))) add(struct lbuf *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (m->used + 1 >= m->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(m->p + m->used, m->len - m->used, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	m->used += (size_t)n;
	if (m->used >= m->len)
		m->used = m->len - 1;
}

/* The packet as skb_header_pointer() sees it: len bytes from the IP header; data holds cap. */
struct pkt {
	const uint8_t *data;
	uint32_t len, cap;
};

/* skb_header_pointer() != NULL. Bytes the kernel has but the record did not keep cannot happen
 * for the headers printed (BF_LOG_DATA_MAX covers them); they read as absent. */
static bool have(const struct pkt *p, uint32_t off, uint32_t n)
{
	return (uint64_t)off + n <= p->len && (uint64_t)off + n <= p->cap;
}

static uint16_t get16(const uint8_t *q)
{
	return (uint16_t)(q[0] << 8 | q[1]);
}

static uint32_t get32(const uint8_t *q)
{
	return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
}

/* "<name>=a.b.c.d " (%pI4) */
static void add_ip4(struct lbuf *m, const char *name, const uint8_t *a)
{
	add(m, "%s=%u.%u.%u.%u ", name, a[0], a[1], a[2], a[3]);
}

static void add_hex(struct lbuf *m, const uint8_t *q, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		add(m, "%02X", q[i]);
}

/* nf_log_dump_tcp_header(): 0, or 1 when the line ends here. */
static int dump_tcp(struct lbuf *m, const struct pkt *p, int fragment, uint32_t off,
		    unsigned int logflags)
{
	const uint8_t *th;
	uint32_t optsize;

	add(m, "PROTO=TCP ");
	if (fragment)
		return 0;
	if (!have(p, off, 20)) {
		add(m, "INCOMPLETE [%u bytes] ", p->len - off);
		return 1;
	}
	th = p->data + off;
	add(m, "SPT=%u DPT=%u ", get16(th), get16(th + 2));
	if (logflags & XT_LOG_TCPSEQ)
		add(m, "SEQ=%u ACK=%u ", get32(th + 4), get32(th + 8));
	add(m, "WINDOW=%u ", get16(th + 14));
	/* TCP_RESERVED_BITS: the three bits between the data offset and AE */
	add(m, "RES=0x%02x ", (uint8_t)((get32(th + 12) & 0x0E000000u) >> 22));
	if (th[12] & 0x01)
		add(m, "AE ");
	if (th[13] & 0x80)
		add(m, "CWR ");
	if (th[13] & 0x40)
		add(m, "ECE ");
	if (th[13] & 0x20)
		add(m, "URG ");
	if (th[13] & 0x10)
		add(m, "ACK ");
	if (th[13] & 0x08)
		add(m, "PSH ");
	if (th[13] & 0x04)
		add(m, "RST ");
	if (th[13] & 0x02)
		add(m, "SYN ");
	if (th[13] & 0x01)
		add(m, "FIN ");
	add(m, "URGP=%u ", get16(th + 18));
	if ((logflags & XT_LOG_TCPOPT) && (th[12] >> 4) * 4u > 20) {
		optsize = (th[12] >> 4) * 4u - 20;
		if (!have(p, off + 20, optsize)) {
			add(m, "OPT (TRUNCATED)");
			return 1;
		}
		add(m, "OPT (");
		add_hex(m, p->data + off + 20, optsize);
		add(m, ") ");
	}
	return 0;
}

/* nf_log_dump_udp_header() */
static int dump_udp(struct lbuf *m, const struct pkt *p, uint8_t proto, int fragment, uint32_t off)
{
	const uint8_t *uh;

	add(m, proto == IPPROTO_UDP ? "PROTO=UDP " : "PROTO=UDPLITE ");
	if (fragment)
		return 0;
	if (!have(p, off, 8)) {
		add(m, "INCOMPLETE [%u bytes] ", p->len - off);
		return 1;
	}
	uh = p->data + off;
	add(m, "SPT=%u DPT=%u LEN=%u ", get16(uh), get16(uh + 2), get16(uh + 4));
	return 0;
}

/* dump_ipv4_packet(), one level of recursion for ICMP errors. */
/* IPOPT_* and the timestamp flags (include/uapi/linux/ip.h) */
#define OPT_END 0
#define OPT_NOOP 1
#define OPT_RR 7
#define OPT_TIMESTAMP 68
#define OPT_TS_TSONLY 0
#define OPT_TS_TSANDADDR 1
#define OPT_TS_PRESPEC 3

/*
 * ip_options_compile() on a received packet (skb and its route set): the options as INPUT and
 * FORWARD see them. opt: the ihl*4 - 20 option bytes, rewritten in place. An option the kernel
 * would refuse (the packet never reaches the hook) ends the walk.
 */
static void rcv_options(const struct bfd_logsink_env *env, const struct bf_log_rec *r,
			const uint8_t *iph, uint8_t *opt, uint32_t len)
{
	uint8_t spec_dst[4];
	bool have_spec = false;
	uint8_t *o = opt;
	uint32_t l = len;

	while (l > 0) {
		uint32_t optlen;

		if (o[0] == OPT_END) {
			/* everything after the end of the list becomes END */
			for (o++, l--; l > 0; o++, l--)
				*o = OPT_END;
			return;
		}
		if (o[0] == OPT_NOOP) {
			o++;
			l--;
			continue;
		}
		if (l < 2)
			return;
		optlen = o[1];
		if (optlen < 2 || optlen > l)
			return;
		if (o[0] == OPT_RR) {
			if (optlen < 3 || o[2] < 4)
				return;
			if (o[2] <= optlen) {
				if (o[2] + 3u > optlen)
					return;
				/* spec_dst_fill() */
				if (!have_spec && env->spec_dst(env->ctx, r, iph, spec_dst))
					return;
				have_spec = true;
				memcpy(&o[o[2] - 1], spec_dst, 4);
				o[2] += 4;
			}
		} else if (o[0] == OPT_TIMESTAMP) {
			if (optlen < 4 || o[2] < 5)
				return;
			if (o[2] <= optlen) {
				uint8_t *timeptr = NULL;
				uint32_t t;

				if (o[2] + 3u > optlen)
					return;
				switch (o[3] & 0xf) {
				case OPT_TS_TSONLY:
					timeptr = &o[o[2] - 1];
					o[2] += 4;
					break;
				case OPT_TS_TSANDADDR:
					if (o[2] + 7u > optlen)
						return;
					if (!have_spec && env->spec_dst(env->ctx, r, iph, spec_dst))
						return;
					have_spec = true;
					memcpy(&o[o[2] - 1], spec_dst, 4);
					timeptr = &o[o[2] + 3];
					o[2] += 8;
					break;
				case OPT_TS_PRESPEC:
					if (o[2] + 7u > optlen)
						return;
					/* a slot for another host is left as it is */
					if (env->addr_unicast(env->ctx, &o[o[2] - 1]) == 1)
						break;
					timeptr = &o[o[2] + 3];
					o[2] += 8;
					break;
				default:
					break;
				}
				if (timeptr) {
					t = htonl(env->timestamp(env->ctx));
					memcpy(timeptr, &t, 4);
				}
			} else if ((o[3] & 0xf) != OPT_TS_PRESPEC) {
				uint8_t overflow = o[3] >> 4;

				if (overflow == 15)
					return;
				o[3] = (uint8_t)((o[3] & 0xf) | ((overflow + 1) << 4));
			}
		}
		l -= optlen;
		o += optlen;
	}
}

static void dump_ipv4(struct lbuf *m, const struct bf_log_rec *r, const struct pkt *p,
		      uint32_t iphoff, const struct bfd_logsink_env *env)
{
	static const uint32_t required_len[ICMP_TYPES_MAX + 1] = {
		[0] = 4,   [3] = 28,  [4] = 28,	 [5] = 28,  [8] = 4,   [11] = 28,
		[12] = 28, [13] = 20, [14] = 20, [17] = 12, [18] = 12,
	};
	unsigned int logflags = r->logflags;
	const uint8_t *ih;
	uint32_t ihl, off;
	uint16_t frag;
	uint8_t ttl;

	if (!have(p, iphoff, 20)) {
		add(m, "TRUNCATED");
		return;
	}
	ih = p->data + iphoff;
	ihl = (ih[0] & 0x0f) * 4u;
	frag = get16(ih + 6);
	off = iphoff + ihl;
	add_ip4(m, "SRC", ih + 12);
	add_ip4(m, "DST", ih + 16);
	/* FORWARD runs after ip_forward() decremented the TTL; TC saw the packet before. */
	ttl = ih[8];
	if (!iphoff && r->hook == NF_INET_FORWARD && ttl)
		ttl--;
	add(m, "LEN=%u TOS=0x%02X PREC=0x%02X TTL=%u ID=%u ", get16(ih + 2), ih[1] & 0x1e,
	    ih[1] & 0xe0, ttl, get16(ih + 4));
	if (frag & 0x8000)
		add(m, "CE ");
	if (frag & 0x4000)
		add(m, "DF ");
	if (frag & 0x2000)
		add(m, "MF ");
	if (frag & 0x1fff)
		add(m, "FRAG:%u ", frag & 0x1fff);
	if ((logflags & XT_LOG_IPOPT) && ihl > 20) {
		if (!have(p, iphoff + 20, ihl - 20)) {
			add(m, "TRUNCATED");
			return;
		}
		uint8_t opt[40];

		memcpy(opt, ih + 20, ihl - 20);
		/* the packet's own header, once received (ip_rcv_options: INPUT, FORWARD) */
		if (env && !iphoff && (r->hook == NF_INET_LOCAL_IN || r->hook == NF_INET_FORWARD))
			rcv_options(env, r, ih, opt, ihl - 20);
		add(m, "OPT (");
		add_hex(m, opt, ihl - 20);
		add(m, ") ");
	}

	switch (ih[9]) {
	case IPPROTO_TCP:
		if (dump_tcp(m, p, frag & 0x1fff, off, logflags))
			return;
		break;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		if (dump_udp(m, p, ih[9], frag & 0x1fff, off))
			return;
		break;
	case IPPROTO_ICMP: {
		const uint8_t *ich;

		add(m, "PROTO=ICMP ");
		if (frag & 0x1fff)
			break;
		if (!have(p, off, 8)) {
			add(m, "INCOMPLETE [%u bytes] ", p->len - off);
			break;
		}
		ich = p->data + off;
		add(m, "TYPE=%u CODE=%u ", ich[0], ich[1]);
		if (ich[0] <= ICMP_TYPES_MAX && required_len[ich[0]] &&
		    p->len - off < required_len[ich[0]]) {
			add(m, "INCOMPLETE [%u bytes] ", p->len - off);
			break;
		}
		switch (ich[0]) {
		case 0: /* ICMP_ECHOREPLY */
		case 8: /* ICMP_ECHO */
			add(m, "ID=%u SEQ=%u ", get16(ich + 4), get16(ich + 6));
			break;
		case 12: /* ICMP_PARAMETERPROB */
			add(m, "PARAMETER=%u ", get32(ich + 4) >> 24);
			break;
		case 5: /* ICMP_REDIRECT */
			add_ip4(m, "GATEWAY", ich + 4);
			/* fall through */
		case 3:	 /* ICMP_DEST_UNREACH */
		case 4:	 /* ICMP_SOURCE_QUENCH */
		case 11: /* ICMP_TIME_EXCEEDED */
			if (!iphoff) {
				add(m, "[");
				dump_ipv4(m, r, p, off + 8, env);
				add(m, "] ");
			}
			if (ich[0] == 3 && ich[1] == 4) /* ICMP_FRAG_NEEDED */
				add(m, "MTU=%u ", get16(ich + 6));
			break;
		}
		break;
	}
	case IPPROTO_AH:
		if (frag & 0x1fff)
			break;
		add(m, "PROTO=AH ");
		if (!have(p, off, 12)) {
			add(m, "INCOMPLETE [%u bytes] ", p->len - off);
			break;
		}
		add(m, "SPI=0x%x ", get32(p->data + off + 4));
		break;
	case IPPROTO_ESP:
		add(m, "PROTO=ESP ");
		if (frag & 0x1fff)
			break;
		if (!have(p, off, 8)) {
			add(m, "INCOMPLETE [%u bytes] ", p->len - off);
			break;
		}
		add(m, "SPI=0x%x ", get32(p->data + off));
		break;
	default:
		add(m, "PROTO=%u ", ih[9]);
	}

	if ((logflags & XT_LOG_UID) && !iphoff && (r->info & BF_LOG_REC_UID))
		add(m, "UID=%u GID=%u ", r->uid, r->gid);
	if (!iphoff && r->mark)
		add(m, "MARK=0x%x ", r->mark);
}

/* "<name>=xxxx:xxxx:...:xxxx " (%pI6: eight groups of four hex digits, never shortened) */
static void add_ip6(struct lbuf *m, const char *name, const uint8_t *a)
{
	add(m, "%s=", name);
	for (int i = 0; i < 16; i += 2)
		add(m, "%02x%02x%s", a[i], a[i + 1], i < 14 ? ":" : " ");
}

/* nf_ip6_ext_hdr() */
static bool ip6_ext_hdr(uint8_t nexthdr)
{
	return nexthdr == 0 /* HOPOPTS */ || nexthdr == 43 /* ROUTING */ ||
	       nexthdr == 44 /* FRAGMENT */ || nexthdr == 50 /* ESP */ || nexthdr == 51 /* AH */ ||
	       nexthdr == 59 /* NONE */ || nexthdr == 60 /* DSTOPTS */;
}

/* dump_ipv6_packet(): the extension header chain, then the upper layer; `recurse` for the
 * packet an ICMPv6 error quotes (one level). */
static void dump_ipv6(struct lbuf *m, const struct bf_log_rec *r, const struct pkt *p,
		      uint32_t ip6hoff, int recurse)
{
	unsigned int logflags = r->logflags;
	bool ipopt = logflags & XT_LOG_IPOPT;
	const uint8_t *ih, *hp;
	uint32_t ptr, hdrlen = 0, plen, vtf;
	uint8_t cur, hl;
	int fragment = 0;

	if (!have(p, ip6hoff, 40)) {
		add(m, "TRUNCATED");
		return;
	}
	ih = p->data + ip6hoff;
	add_ip6(m, "SRC", ih + 8);
	add_ip6(m, "DST", ih + 24);
	vtf = get32(ih);
	/* ipv6_payload_len(): a zero payload length (BIG TCP) is the skb's length */
	plen = get16(ih + 4);
	if (!plen && p->len >= ip6hoff + 40)
		plen = p->len - ip6hoff - 40;
	/* FORWARD runs after ip6_forward() decremented the hop limit; TC saw the packet before. */
	hl = ih[7];
	if (recurse && r->hook == NF_INET_FORWARD && hl)
		hl--;
	add(m, "LEN=%u TC=%u HOPLIMIT=%u FLOWLBL=%u ", plen + 40, (vtf & 0x0ff00000u) >> 20, hl,
	    vtf & 0x000fffffu);

	ptr = ip6hoff + 40;
	cur = ih[6];
	while (cur != 59 && ip6_ext_hdr(cur)) {
		if (!have(p, ptr, 2)) {
			add(m, "TRUNCATED");
			return;
		}
		hp = p->data + ptr;
		if (ipopt)
			add(m, "OPT ( ");
		switch (cur) {
		case 44: { /* IPPROTO_FRAGMENT */
			uint16_t frag_off;

			add(m, "FRAG:");
			if (!have(p, ptr, 8)) {
				add(m, "TRUNCATED ");
				return;
			}
			frag_off = get16(hp + 2);
			add(m, "%u ", frag_off & 0xfff8);
			if (frag_off & 0x0001)
				add(m, "INCOMPLETE ");
			add(m, "ID:%08x ", get32(hp + 4));
			if (frag_off & 0xfff8)
				fragment = 1;
			hdrlen = 8;
			break;
		}
		case 60: /* DSTOPTS */
		case 43: /* ROUTING */
		case 0:	 /* HOPOPTS */
			if (fragment) {
				if (ipopt)
					add(m, ")");
				return;
			}
			hdrlen = (hp[1] + 1u) << 3; /* ipv6_optlen() */
			break;
		case 51: /* AH */
			if (ipopt) {
				add(m, "AH ");
				if (fragment) {
					add(m, ")");
					return;
				}
				if (!have(p, ptr, 12)) {
					add(m, "INCOMPLETE [%u bytes] )", p->len - ptr);
					return;
				}
				add(m, "SPI=0x%x ", get32(hp + 4));
			}
			hdrlen = (hp[1] + 2u) << 2; /* ipv6_authlen() */
			break;
		case 50: /* ESP */
			if (ipopt) {
				add(m, "ESP ");
				if (fragment) {
					add(m, ")");
					return;
				}
				if (!have(p, ptr, 8)) {
					add(m, "INCOMPLETE [%u bytes] )", p->len - ptr);
					return;
				}
				add(m, "SPI=0x%x )", get32(hp));
			}
			return;
		}
		if (ipopt)
			add(m, ") ");
		cur = hp[0];
		ptr += hdrlen;
	}

	switch (cur) {
	case IPPROTO_TCP:
		if (dump_tcp(m, p, fragment, ptr, logflags))
			return;
		break;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		if (dump_udp(m, p, cur, fragment, ptr))
			return;
		break;
	case 58: { /* IPPROTO_ICMPV6 */
		const uint8_t *ic;

		add(m, "PROTO=ICMPv6 ");
		if (fragment)
			break;
		if (!have(p, ptr, 8)) {
			add(m, "INCOMPLETE [%u bytes] ", p->len - ptr);
			return;
		}
		ic = p->data + ptr;
		add(m, "TYPE=%u CODE=%u ", ic[0], ic[1]);
		switch (ic[0]) {
		case 128: /* ICMPV6_ECHO_REQUEST */
		case 129: /* ICMPV6_ECHO_REPLY */
			add(m, "ID=%u SEQ=%u ", get16(ic + 4), get16(ic + 6));
			break;
		case 4: /* ICMPV6_PARAMPROB */
			add(m, "POINTER=%08x ", get32(ic + 4));
			/* fall through */
		case 1: /* ICMPV6_DEST_UNREACH */
		case 2: /* ICMPV6_PKT_TOOBIG */
		case 3: /* ICMPV6_TIME_EXCEED */
			if (recurse) {
				add(m, "[");
				dump_ipv6(m, r, p, ptr + 8, 0);
				add(m, "] ");
			}
			if (ic[0] == 2)
				add(m, "MTU=%u ", get32(ic + 4));
			break;
		}
		break;
	}
	default:
		add(m, "PROTO=%u ", cur);
	}

	if ((logflags & XT_LOG_UID) && recurse && (r->info & BF_LOG_REC_UID))
		add(m, "UID=%u GID=%u ", r->uid, r->gid);
	if (recurse && r->mark)
		add(m, "MARK=0x%x ", r->mark);
}

/* dump_mac_header() */
static void dump_mac(struct lbuf *m, const struct bf_log_rec *r, int in_type)
{
	const uint8_t *h = r->mac;

	if ((r->logflags & XT_LOG_MACDECODE) && in_type == ARPHRD_ETHER) {
		if (r->mac_len < 14)
			return;
		add(m, "MACSRC=%02x:%02x:%02x:%02x:%02x:%02x ", h[6], h[7], h[8], h[9], h[10],
		    h[11]);
		add(m, "MACDST=%02x:%02x:%02x:%02x:%02x:%02x ", h[0], h[1], h[2], h[3], h[4], h[5]);
		add(m, "MACPROTO=%04x ", get16(h + 12));
		return;
	}
	add(m, "MAC=");
	if (r->mac_len) {
		add(m, "%02x", h[0]);
		for (unsigned int i = 1; i < r->mac_len && i < BF_LOG_MAC_MAX; i++)
			add(m, ":%02x", h[i]);
	}
	add(m, " ");
}

size_t bfd_logsink_format(const struct bf_log_rec *r, int in_type, char *buf, size_t len)
{
	return bfd_logsink_format_env(r, in_type, NULL, buf, len);
}

size_t bfd_logsink_format_env(const struct bf_log_rec *r, int in_type,
			      const struct bfd_logsink_env *env, char *buf, size_t len)
{
	struct lbuf m = {.p = buf, .len = len};
	struct pkt p = {.data = r->data, .len = r->pkt_len, .cap = r->cap_len};
	char prefix[BF_LOG_PREFIX_LEN + 1] = {0};

	if (!len)
		return 0;
	buf[0] = '\0';
	memcpy(prefix, r->prefix, BF_LOG_PREFIX_LEN);
	if (p.cap > BF_LOG_DATA_MAX)
		p.cap = BF_LOG_DATA_MAX;
	/* nf_log_dump_packet_common() */
	add(&m, "%sIN=%.16s OUT=%.16s ", prefix, r->iif ? (const char *)r->iifname : "",
	    r->oif ? (const char *)r->oifname : "");
	if (r->iif)
		dump_mac(&m, r, in_type);
	if (r->family == NFPROTO_IPV6)
		dump_ipv6(&m, r, &p, 0, 1);
	else
		dump_ipv4(&m, r, &p, 0, env);
	return m.used;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void kmsg_write(struct bfd_logsink *s, unsigned int level, const char *line)
{
	char out[1200];
	int n;

	if (s->kmsg_fd >= 0 && s->kmsg_lines >= KMSG_LINES_PER_OPEN) {
		close(s->kmsg_fd);
		s->kmsg_fd = -1;
	}
	if (s->kmsg_fd < 0) {
		s->kmsg_fd = open(KMSG_PATH, O_WRONLY | O_CLOEXEC);
		s->kmsg_lines = 0;
		if (s->kmsg_fd < 0)
			return;
	}
	n = snprintf(out, sizeof(out), "<%u>%s\n", level, line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(out))
		n = sizeof(out) - 1;
	if (write(s->kmsg_fd, out, (size_t)n) < 0)
		bf_logf(s->log, BF_LOG_DEBUG, "LOG: writing to %s: %s", KMSG_PATH, strerror(errno));
	s->kmsg_lines++;
}

static int read_int_file(const char *path, int *v)
{
	FILE *f = fopen(path, "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	if (fscanf(f, "%d", v) == 1)
		r = 0;
	fclose(f);
	return r;
}

/*
 * net.netfilter.nf_log_all_netns exists only in the initial network namespace: the file is opened
 * there once, at start (while the daemon may still setns), and read again later. -1 when the
 * daemon runs in the initial namespace itself (everything is logged) or cannot open it.
 */
static int open_all_netns(void)
{
	static const char path[] = "/proc/sys/net/netfilter/nf_log_all_netns";
	_cleanup_close_ int init_fd = -1;
	_cleanup_close_ int self_fd = -1;
	struct stat self, init;
	int fd;

	if (stat("/proc/self/ns/net", &self) || stat("/proc/1/ns/net", &init))
		return -1;
	if (self.st_ino == init.st_ino && self.st_dev == init.st_dev)
		return -1;
	init_fd = open("/proc/1/ns/net", O_RDONLY | O_CLOEXEC);
	self_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (init_fd < 0 || self_fd < 0 || setns(init_fd, CLONE_NEWNET))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (setns(self_fd, CLONE_NEWNET))
		abort(); /* the daemon would serve the wrong namespace */
	return fd;
}

/* nf_log_allowed(): the initial namespace, or nf_log_all_netns = 1. When it cannot be told
 * (no access to the initial namespace), lines are written rather than lost. */
static bool log_allowed(const struct bfd_logsink *s)
{
	char buf[16] = {0};

	if (!s->not_init_ns)
		return true;
	if (s->all_netns_fd < 0 || pread(s->all_netns_fd, buf, sizeof(buf) - 1, 0) <= 0)
		return true;
	return atoi(buf) != 0;
}

static int in_type_of(const struct bf_log_rec *r)
{
	char path[64], name[BF_LOG_PREFIX_LEN] = {0};
	int t;

	if (!r->iif)
		return -1;
	memcpy(name, r->iifname, 16);
	if (!name[0] || strchr(name, '/'))
		return -1;
	snprintf(path, sizeof(path), "/sys/class/net/%s/type", name);
	return read_int_file(path, &t) ? -1 : t;
}

/* One rtnetlink request and its answer (a dump: every message) through cb. 0 or -errno. */
static int nl_query(struct bfd_logsink *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[8192];
	unsigned int portid;
	ssize_t n;
	int r;

	if (!s->nl) {
		s->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
		if (!s->nl)
			return -errno;
		if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
			r = -errno;
			mnl_socket_close(s->nl);
			s->nl = NULL;
			return r;
		}
	}
	portid = mnl_socket_get_portid(s->nl);
	nlh->nlmsg_seq = ++s->nl_seq;
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(s->nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		r = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, cb, data);
		/* a request that is not a dump has one answer, without NLMSG_DONE */
	} while (r > MNL_CB_STOP && (nlh->nlmsg_flags & NLM_F_DUMP));
	return r < 0 ? -errno : 0;
}

struct route_ans {
	uint8_t type;
	bool have_src;
	uint8_t src[4];
};

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct route_ans *a = data;
	const struct nlattr *at;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	a->type = rtm->rtm_type;
	mnl_attr_for_each(at, nlh, sizeof(*rtm))
	{
		if (mnl_attr_get_type(at) == RTA_PREFSRC && mnl_attr_get_payload_len(at) == 4) {
			memcpy(a->src, mnl_attr_get_payload(at), 4);
			a->have_src = true;
		}
	}
	return MNL_CB_OK;
}

/* The kernel's route to dst (ip route get): its type and the source it selects. */
static int route_get(struct bfd_logsink *s, const uint8_t dst[4], uint8_t tos, struct route_ans *a)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 32;
	rtm->rtm_tos = tos;
	mnl_attr_put(nlh, RTA_DST, 4, dst);
	*a = (struct route_ans){0};
	return nl_query(s, nlh, route_cb, a);
}

/* inet_select_addr(dev, dst, scope) over the device's own addresses */
struct select_ans {
	uint32_t ifindex;
	uint8_t scope;
	uint8_t dst[4];
	bool found, exact;
	uint8_t addr[4];
};

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct select_ans *a = data;
	const uint8_t *local = NULL, *address = NULL;
	uint32_t flags = ifa->ifa_flags;
	const struct nlattr *at;
	uint32_t mask, x, y;

	if (nlh->nlmsg_type != RTM_NEWADDR || ifa->ifa_family != AF_INET ||
	    ifa->ifa_index != a->ifindex || a->exact)
		return MNL_CB_OK;
	mnl_attr_for_each(at, nlh, sizeof(*ifa))
	{
		if (mnl_attr_get_type(at) == IFA_LOCAL && mnl_attr_get_payload_len(at) == 4)
			local = mnl_attr_get_payload(at);
		if (mnl_attr_get_type(at) == IFA_ADDRESS && mnl_attr_get_payload_len(at) == 4)
			address = mnl_attr_get_payload(at);
		if (mnl_attr_get_type(at) == IFA_FLAGS && mnl_attr_get_payload_len(at) == 4)
			flags = mnl_attr_get_u32(at);
	}
	if (!local || (flags & IFA_F_SECONDARY) || ifa->ifa_scope > a->scope)
		return MNL_CB_OK;
	if (!address)
		address = local;
	mask = ifa->ifa_prefixlen ? htonl(~0u << (32 - ifa->ifa_prefixlen)) : 0;
	memcpy(&x, a->dst, 4);
	memcpy(&y, address, 4);
	if (!x || !((x ^ y) & mask)) {
		memcpy(a->addr, local, 4);
		a->found = a->exact = true;
	} else if (!a->found) {
		memcpy(a->addr, local, 4);
		a->found = true;
	}
	return MNL_CB_OK;
}

static int select_addr(struct bfd_logsink *s, uint32_t ifindex, const uint8_t dst[4], uint8_t scope,
		       uint8_t out[4])
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct select_ans a = {.ifindex = ifindex, .scope = scope};
	struct ifaddrmsg *ifa;
	int r;

	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	memcpy(a.dst, dst, 4);
	r = nl_query(s, nlh, addr_cb, &a);
	if (r)
		return r;
	if (!a.found)
		return -EADDRNOTAVAIL;
	memcpy(out, a.addr, 4);
	return 0;
}

/*
 * fib_compute_spec_dst(): a packet delivered to a local unicast address gets that address;
 * any other (forwarded, broadcast, multicast) the source the kernel would use to answer its
 * sender (the preferred source of the route back), or failing a route, an address of the in
 * interface (inet_select_addr).
 */
static int sink_spec_dst(void *ctx, const struct bf_log_rec *r, const uint8_t *iph, uint8_t out[4])
{
	struct bfd_logsink *s = ctx;
	const uint8_t *saddr = iph + 12, *daddr = iph + 16;
	static const uint8_t zero[4];
	struct route_ans a;

	if (r->hook == NF_INET_LOCAL_IN && (daddr[0] & 0xf0) != 0xe0 &&
	    !route_get(s, daddr, 0, &a) && a.type == RTN_LOCAL) {
		memcpy(out, daddr, 4);
		return 0;
	}
	if (!memcmp(saddr, zero, 4))
		return select_addr(s, r->iif, saddr, RT_SCOPE_LINK, out);
	if (!route_get(s, saddr, iph[1] & 0xfc, &a) && a.have_src) {
		memcpy(out, a.src, 4);
		return 0;
	}
	return select_addr(s, r->iif, saddr, RT_SCOPE_UNIVERSE, out);
}

/* inet_addr_type() == RTN_UNICAST: not an address of the local table (local or broadcast) */
static int sink_addr_unicast(void *ctx, const uint8_t addr[4])
{
	struct route_ans a;

	if (!addr[0] || (addr[0] & 0xf0) == 0xe0 || !memcmp(addr, "\xff\xff\xff\xff", 4))
		return 0;
	if (route_get(ctx, addr, 0, &a))
		return 1;
	return a.type != RTN_LOCAL && a.type != RTN_BROADCAST;
}

/* inet_current_timestamp() */
static uint32_t sink_timestamp(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint32_t)(ts.tv_sec % 86400) * 1000 + (uint32_t)(ts.tv_nsec / 1000000);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct bfd_logsink *s = ctx;
	const struct bf_log_rec *r = data;
	const struct bfd_logsink_env env = {.ctx = s,
					    .spec_dst = sink_spec_dst,
					    .addr_unicast = sink_addr_unicast,
					    .timestamp = sink_timestamp};
	char line[1100];

	if (size < sizeof(*r))
		return 0;
	if (!s->allowed) {
		s->suppressed++;
		return 0;
	}
	if (r->family != NFPROTO_IPV4 && r->family != NFPROTO_IPV6)
		return 0;
	bfd_logsink_format_env(r, (r->logflags & XT_LOG_MACDECODE) ? in_type_of(r) : -1, &env, line,
			       sizeof(line));
	kmsg_write(s, r->level, line);
	return 0;
}

static uint64_t read_drops(const struct bfd_logsink *s)
{
	int ncpu = libbpf_num_possible_cpus();
	_cleanup_free_ uint64_t *v = NULL;
	uint64_t sum = 0;
	uint32_t k = 0;

	if (ncpu <= 0)
		return 0;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v || bpf_map_lookup_elem(s->drops_fd, &k, v))
		return 0;
	for (int i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

static void report_drops(struct bfd_logsink *s, uint64_t now)
{
	uint64_t d;
	char line[128];

	if (now - s->last_drop_ms < DROP_REPORT_MS)
		return;
	d = read_drops(s);
	if (d <= s->drops_reported)
		return;
	snprintf(line, sizeof(line), "bpfilter: %llu LOG lines lost: the ring buffer was full",
		 (unsigned long long)(d - s->drops_reported));
	kmsg_write(s, 4, line);
	bf_logf(s->log, BF_LOG_WARN, "%s", line);
	s->drops_reported = d;
	s->last_drop_ms = now;
}

static void *sink_main(void *arg)
{
	struct bfd_logsink *s = arg;
	int r;

	/* Capabilities are per thread, and this one starts before bpfilterd drops its own
	 * (main.c): it keeps no more than the rest of the daemon. */
	r = bfd_caps_drop(bfd_caps_runtime());
	if (r < 0)
		bf_logf(s->log, BF_LOG_ERR, "LOG: cannot drop capabilities: %s", strerror(-r));

	while (!atomic_load(&s->stop)) {
		uint64_t now = now_ms();

		if (now - s->last_netns_ms >= NETNS_CHECK_MS) {
			s->allowed = log_allowed(s);
			s->last_netns_ms = now;
		}
		r = ring_buffer__poll(s->rb, 200);
		if (r < 0 && r != -EINTR) {
			bf_logf(s->log, BF_LOG_ERR, "LOG: ring buffer: %s", strerror(-r));
			break;
		}
		report_drops(s, now_ms());
	}
	ring_buffer__consume(s->rb);
	return NULL;
}

void bfd_logsink_free(struct bfd_logsink *s)
{
	if (!s)
		return;
	if (s->started) {
		atomic_store(&s->stop, true);
		pthread_join(s->thread, NULL);
	}
	ring_buffer__free(s->rb);
	if (s->kmsg_fd >= 0)
		close(s->kmsg_fd);
	if (s->rb_fd >= 0)
		close(s->rb_fd);
	if (s->drops_fd >= 0)
		close(s->drops_fd);
	if (s->all_netns_fd >= 0)
		close(s->all_netns_fd);
	if (s->nl)
		mnl_socket_close(s->nl);
	free(s);
}

int bfd_logsink_new(int rb_fd, int drops_fd, const struct bf_log *log, struct bfd_logsink **out)
{
	struct bfd_logsink *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->log = log;
	s->kmsg_fd = -1;
	s->all_netns_fd = -1;
	{
		struct stat self, init;

		s->not_init_ns = !stat("/proc/self/ns/net", &self) &&
				 !stat("/proc/1/ns/net", &init) &&
				 (self.st_ino != init.st_ino || self.st_dev != init.st_dev);
	}
	if (s->not_init_ns)
		s->all_netns_fd = open_all_netns();
	s->rb_fd = fcntl(rb_fd, F_DUPFD_CLOEXEC, 3);
	s->drops_fd = fcntl(drops_fd, F_DUPFD_CLOEXEC, 3);
	if (s->rb_fd < 0 || s->drops_fd < 0) {
		r = -errno;
		goto fail;
	}
	s->rb = ring_buffer__new(s->rb_fd, on_record, s, NULL);
	if (!s->rb) {
		r = -errno;
		goto fail;
	}
	s->allowed = log_allowed(s);
	s->last_netns_ms = now_ms();
	s->drops_reported = read_drops(s);
	r = -pthread_create(&s->thread, NULL, sink_main, s);
	if (r)
		goto fail;
	s->started = true;
	*out = s;
	return 0;
fail:
	bfd_logsink_free(s);
	return r;
}
