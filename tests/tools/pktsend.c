// SPDX-License-Identifier: GPL-2.0-only
/*
 * pktsend: send IPv4 and IPv6 traffic described by a script, inside network namespaces.
 *
 * Used by the differential test (tests/diff/run): the same script is played in two identical
 * topologies, one filtered by the kernel and one by bpfilter. Every packet is built byte by byte
 * (options, fragments, TCP flags, truncated or padded headers, any protocol) and sent either
 * through an IP_HDRINCL raw socket (locally generated: it crosses the sender's OUTPUT hook) or an
 * AF_PACKET socket (the frame leaves the interface as written: no OUTPUT hook, no rewriting).
 * Real connections (TCP connect, UDP request/response) use ordinary sockets so that the peers'
 * kernels answer as they would to any client.
 *
 *	pktsend --ns ROLE=NETNS [--ns ...] [--gap USEC] [--settle MSEC] [--sync PATH ...] [--dump]
 *	        [SCRIPT|-]
 *
 * --sync PATH: a listener's control socket (tests/diff/listen.py --control). After each line
 * that sent UDP, pktsend asks every such listener to answer what it has received so far, and
 * waits until it has: a listener's echo is a user-space reply that would otherwise leave
 * whenever the process is scheduled, and under load it can pass packets sent after it (and
 * rate matches such as hashlimit count packets in arrival order).
 *
 * Script: one action per line, '#' starts a comment, fields are key=value.
 *	ns ROLE                     enter the namespace given by --ns ROLE=NAME (required before
 *	                            anything is sent: pktsend never sends from its own namespace)
 *	ip via=hdrincl|packet ...   one packet, fields below
 *	ip6 via=hdrincl|packet ...  one IPv6 packet, fields as for ip where they apply (ttl: the
 *	                            hop limit, tos: the traffic class, proto icmp6), and flow=N,
 *	                            ext=HDR,... (extension headers in order: hbh[:LEN], dst[:LEN]
 *	                            PadN-filled, default 8 bytes; hbhopt:HEX, dstopt:HEX options
 *	                            Pad1-padded; rt:TYPE:SL:NADDR; frag:OFF8:M:ID; ah),
 *	                            cut=N (payload and its length end after N bytes),
 *	                            plen=N (the payload length field only)
 *	tcp_connect src= sport= dst= dport= [data=N] [timeout=MS] [fin=1] [uid=N gid=N]
 *	                            (IPv4 or IPv6; fin=1: shut the sending side down and wait
 *	                            for the peer's ACK of the FIN before the RST; uid/gid: the
 *	                            socket is created with these effective ids, for owner)
 *	udp_request src= sport= dst= dport= [len=N] [timeout=MS] [uid=N gid=N]
 *	sleep MS
 * Packet fields: src= dst= proto=tcp|udp|icmp|N ttl= tos= id= df=0|1 mf=0|1 frag=OFF8
 *	ipopts=HEX (padded with EOL to 4 bytes) dev=IF dmac=MAC (packet only)
 *	totlen=N badcsum=1 pad=N ihl=N (packet only: hdrincl lets the kernel rewrite these)
 *	sport= dport= flags=FSRPAUEC|0xNN seq= ack= win= tcpopts=HEX doff=N (tcp)
 *	type= code= (icmp; echo id/seq come from id=/seq=) payload=N trunc=N (keep N L4 bytes)
 *	badl4csum=1
 * Exit status: 0 when the script ran (send errors such as EPERM from a firewall are expected and
 * only counted), 1 on a bad script or a setup failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROLES 8
#define MAX_KEEP 1024
#define MAX_SYNC 8
#define PKT_MAX 2048

enum via {
	VIA_HDRINCL,
	VIA_PACKET,
};

struct role {
	char name[32];
	char netns[256];
	int rawfd;  /* IPPROTO_RAW (IP_HDRINCL), created in the role's namespace */
	int raw6fd; /* AF_INET6 IPPROTO_RAW: the header comes from the caller as well */
	int pktfd;  /* AF_PACKET SOCK_DGRAM, protocol 0: sends, never receives */
};

struct ctx {
	struct role roles[MAX_ROLES];
	int nroles;
	struct role *cur;
	int gap_us;
	int settle_ms;
	bool dump;
	int keep[MAX_KEEP]; /* UDP sockets kept open so late replies find them */
	int nkeep;
	int sync[MAX_SYNC]; /* listeners' control connections (--sync) */
	int nsync;
	unsigned long sent, send_errors, conns, conns_ok;
};

struct pkt {
	enum via via;
	char dev[IF_NAMESIZE];
	uint8_t dmac[6];
	bool has_dmac;
	struct in_addr src, dst;
	int proto;
	int ttl, tos, id, df, mf, frag;
	uint8_t ipopts[40];
	int ipopts_len;
	int ihl, totlen, pad, badcsum;
	int sport, dport, flags, doff, win;
	uint32_t seq, ack;
	uint8_t tcpopts[40];
	int tcpopts_len;
	int type, code;
	int payload, trunc, badl4csum;
	/* IPv6 */
	bool v6;
	struct in6_addr src6, dst6;
	int flow, cut, plen;
	uint8_t ext[512];
	int ext_len;
	uint8_t ext_nh[32]; /* next header value announcing each extension header */
	int ext_off[32];    /* offset of each in ext[] */
	int n_ext;
};

static void sleep_us(long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_int(const char *s, long min, long max, int *out)
{
	long v;
	int r;

	r = parse_long(s, min, max, &v);
	if (r)
		return r;
	*out = (int)v;
	return 0;
}

static int parse_hex(const char *s, uint8_t *buf, int max, int *len)
{
	size_t n = strlen(s);
	int i;

	if (n % 2 || n / 2 > (size_t)max)
		return -EINVAL;
	for (i = 0; i < (int)(n / 2); i++) {
		unsigned int b;

		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return -EINVAL;
		buf[i] = (uint8_t)b;
	}
	*len = i;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int m[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		if (m[i] > 0xff)
			return -EINVAL;
		mac[i] = (uint8_t)m[i];
	}
	return 0;
}

/* TCP flags as letters (FSRPAUEC) or a number. */
static int parse_flags(const char *s, int *out)
{
	static const char letters[] = "FSRPAUEC";
	const char *p;
	int f = 0;

	if (!strcmp(s, "0") || !strncmp(s, "0x", 2))
		return parse_int(s, 0, 255, out);
	for (p = s; *p; p++) {
		const char *l = strchr(letters, *p);

		if (!l)
			return -EINVAL;
		f |= 1 << (l - letters);
	}
	*out = f;
	return 0;
}

static int parse_proto(const char *s, int *out)
{
	if (!strcmp(s, "tcp"))
		*out = IPPROTO_TCP;
	else if (!strcmp(s, "udp"))
		*out = IPPROTO_UDP;
	else if (!strcmp(s, "icmp"))
		*out = IPPROTO_ICMP;
	else if (!strcmp(s, "icmp6"))
		*out = IPPROTO_ICMPV6;
	else
		return parse_int(s, 0, 255, out);
	return 0;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static void pkt_init(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->via = VIA_HDRINCL;
	p->proto = IPPROTO_UDP;
	p->ttl = 64;
	p->ihl = -1;
	p->totlen = -1;
	p->doff = -1;
	p->win = 8192;
	p->trunc = -1;
	p->type = 8;
	p->cut = -1;
	p->plen = -1;
}

/* One extension header of ext=: appended to p->ext, its kind recorded. */
static int ext_add(struct pkt *p, const char *tok)
{
	uint8_t *h = p->ext + p->ext_len;
	int room = (int)sizeof(p->ext) - p->ext_len, len = 0, a, b, c;
	uint8_t kind;

	if (p->n_ext == (int)sizeof(p->ext_nh) || room < 64)
		return -E2BIG;
	memset(h, 0, 64);
	if (!strncmp(tok, "hbh", 3) || !strncmp(tok, "dst", 3)) {
		kind = tok[0] == 'h' ? 0 : 60;
		if (!strncmp(tok + 3, "opt:", 4)) {
			int ol;

			if (parse_hex(tok + 7, h + 2, 62, &ol))
				return -EINVAL;
			len = (2 + ol + 7) / 8 * 8; /* the rest is Pad1 (zero) */
		} else {
			len = 8;
			if (tok[3] == ':' && (parse_int(tok + 4, 8, 64, &len) || len % 8))
				return -EINVAL;
			else if (tok[3] && tok[3] != ':')
				return -EINVAL;
			h[2] = 1; /* PadN over the rest */
			h[3] = (uint8_t)(len - 4);
		}
		h[1] = (uint8_t)(len / 8 - 1);
	} else if (sscanf(tok, "rt:%d:%d:%d", &a, &b, &c) == 3) {
		if (a < 0 || a > 255 || b < 0 || b > 255 || c < 0 || c > 3)
			return -EINVAL;
		kind = 43;
		len = 8 + 16 * c;
		h[1] = (uint8_t)(2 * c);
		h[2] = (uint8_t)a;
		h[3] = (uint8_t)b;
		for (int i = 0; i < c; i++) {
			h[8 + 16 * i] = 0xfd;
			h[8 + 16 * i + 1] = 0x00;
			h[8 + 16 * i + 15] = (uint8_t)(i + 1);
		}
	} else if (sscanf(tok, "frag:%d:%d:%d", &a, &b, &c) == 3) {
		if (a < 0 || a > 8191 || b < 0 || b > 1 || c < 0)
			return -EINVAL;
		kind = 44;
		len = 8;
		put16(h + 2, (unsigned int)(a << 3 | b));
		put32(h + 4, (uint32_t)c);
	} else if (!strcmp(tok, "ah")) {
		kind = 51;
		len = 16;
		h[1] = 2; /* (16 / 4) - 2 */
		put32(h + 4, 0x100);
		put32(h + 8, 1);
	} else {
		return -EINVAL;
	}
	p->ext_nh[p->n_ext] = kind;
	p->ext_off[p->n_ext] = p->ext_len;
	p->n_ext++;
	p->ext_len += len;
	return 0;
}

static int parse_ext(struct pkt *p, const char *v)
{
	char buf[512], *save = NULL, *t;
	int r;

	if (strlen(v) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, v);
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		r = ext_add(p, t);
		if (r)
			return r;
	}
	return 0;
}

static int pkt_field(struct pkt *p, const char *k, const char *v)
{
	long l;
	int r = 0;

	if (!strcmp(k, "via")) {
		if (!strcmp(v, "hdrincl"))
			p->via = VIA_HDRINCL;
		else if (!strcmp(v, "packet"))
			p->via = VIA_PACKET;
		else
			r = -EINVAL;
	} else if (!strcmp(k, "dev")) {
		if (strlen(v) >= IF_NAMESIZE)
			return -EINVAL;
		strcpy(p->dev, v);
	} else if (!strcmp(k, "dmac")) {
		r = parse_mac(v, p->dmac);
		p->has_dmac = !r;
	} else if (!strcmp(k, "src")) {
		if (p->v6)
			r = inet_pton(AF_INET6, v, &p->src6) == 1 ? 0 : -EINVAL;
		else
			r = inet_pton(AF_INET, v, &p->src) == 1 ? 0 : -EINVAL;
	} else if (!strcmp(k, "dst")) {
		if (p->v6)
			r = inet_pton(AF_INET6, v, &p->dst6) == 1 ? 0 : -EINVAL;
		else
			r = inet_pton(AF_INET, v, &p->dst) == 1 ? 0 : -EINVAL;
	} else if (p->v6 && !strcmp(k, "flow")) {
		r = parse_int(v, 0, 0xfffff, &p->flow);
	} else if (p->v6 && !strcmp(k, "ext")) {
		r = parse_ext(p, v);
	} else if (p->v6 && !strcmp(k, "cut")) {
		r = parse_int(v, 0, 65535, &p->cut);
	} else if (p->v6 && !strcmp(k, "plen")) {
		r = parse_int(v, 0, 65535, &p->plen);
	} else if (!strcmp(k, "proto")) {
		r = parse_proto(v, &p->proto);
	} else if (!strcmp(k, "ttl")) {
		r = parse_int(v, 0, 255, &p->ttl);
	} else if (!strcmp(k, "tos")) {
		r = parse_int(v, 0, 255, &p->tos);
	} else if (!strcmp(k, "id")) {
		r = parse_int(v, 0, 65535, &p->id);
	} else if (!strcmp(k, "seq")) {
		r = parse_long(v, 0, UINT32_MAX, &l);
		p->seq = (uint32_t)l;
	} else if (!strcmp(k, "ack")) {
		r = parse_long(v, 0, UINT32_MAX, &l);
		p->ack = (uint32_t)l;
	} else if (!strcmp(k, "df")) {
		r = parse_int(v, 0, 1, &p->df);
	} else if (!strcmp(k, "mf")) {
		r = parse_int(v, 0, 1, &p->mf);
	} else if (!strcmp(k, "frag")) {
		r = parse_int(v, 0, 8191, &p->frag);
	} else if (!strcmp(k, "ipopts")) {
		r = parse_hex(v, p->ipopts, 40, &p->ipopts_len);
	} else if (!strcmp(k, "ihl")) {
		r = parse_int(v, 0, 15, &p->ihl);
	} else if (!strcmp(k, "totlen")) {
		r = parse_int(v, 0, 65535, &p->totlen);
	} else if (!strcmp(k, "pad")) {
		r = parse_int(v, 0, 256, &p->pad);
	} else if (!strcmp(k, "badcsum")) {
		r = parse_int(v, 0, 1, &p->badcsum);
	} else if (!strcmp(k, "sport")) {
		r = parse_int(v, 0, 65535, &p->sport);
	} else if (!strcmp(k, "dport")) {
		r = parse_int(v, 0, 65535, &p->dport);
	} else if (!strcmp(k, "flags")) {
		r = parse_flags(v, &p->flags);
	} else if (!strcmp(k, "win")) {
		r = parse_int(v, 0, 65535, &p->win);
	} else if (!strcmp(k, "tcpopts")) {
		r = parse_hex(v, p->tcpopts, 40, &p->tcpopts_len);
	} else if (!strcmp(k, "doff")) {
		r = parse_int(v, 0, 15, &p->doff);
	} else if (!strcmp(k, "type")) {
		r = parse_int(v, 0, 255, &p->type);
	} else if (!strcmp(k, "code")) {
		r = parse_int(v, 0, 255, &p->code);
	} else if (!strcmp(k, "payload")) {
		r = parse_int(v, 0, 1400, &p->payload);
	} else if (!strcmp(k, "trunc")) {
		r = parse_int(v, 0, 1500, &p->trunc);
	} else if (!strcmp(k, "badl4csum")) {
		r = parse_int(v, 0, 1, &p->badl4csum);
	} else {
		r = -EINVAL;
	}
	return r;
}

/* The transport header and payload into l4 (PKT_MAX bytes), checksum field zero; returns the
 * length, *csum_off the checksum's offset (-1: none). */
static size_t l4_build(const struct pkt *p, uint8_t *l4, int *csum_off_out)
{
	size_t l4len = 0, i;
	int csum_off = -1;

	memset(l4, 0, PKT_MAX);
	if (p->proto == IPPROTO_TCP) {
		size_t ol = ((size_t)p->tcpopts_len + 3) & ~(size_t)3;
		int doff = p->doff >= 0 ? p->doff : (int)(20 + ol) / 4;

		put16(l4, (unsigned int)p->sport);
		put16(l4 + 2, (unsigned int)p->dport);
		put32(l4 + 4, p->seq);
		put32(l4 + 8, p->ack);
		l4[12] = (uint8_t)(doff << 4);
		l4[13] = (uint8_t)p->flags;
		put16(l4 + 14, (unsigned int)p->win);
		memcpy(l4 + 20, p->tcpopts, (size_t)p->tcpopts_len);
		l4len = 20 + ol;
		csum_off = 16;
	} else if (p->proto == IPPROTO_UDP) {
		put16(l4, (unsigned int)p->sport);
		put16(l4 + 2, (unsigned int)p->dport);
		l4len = 8;
		csum_off = 6;
	} else if (p->proto == (p->v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP)) {
		l4[0] = (uint8_t)p->type;
		l4[1] = (uint8_t)p->code;
		put16(l4 + 4, (unsigned int)p->id);
		put16(l4 + 6, p->seq & 0xffff);
		l4len = 8;
		csum_off = 2;
	}
	for (i = 0; i < (size_t)p->payload; i++)
		l4[l4len + i] = (uint8_t)(i * 7 + 1);
	l4len += (size_t)p->payload;
	if (p->proto == IPPROTO_UDP)
		put16(l4 + 4, (unsigned int)l4len);
	*csum_off_out = csum_off;
	return l4len;
}

/* Build the IPv6 packet (extension headers, then the upper layer) into buf. */
static int pkt_build6(const struct pkt *p, uint8_t *buf, size_t size, size_t *outlen)
{
	uint8_t l4[PKT_MAX];
	size_t l4len, plen, total;
	uint32_t sum;
	uint8_t ph[40];
	int csum_off, i;

	l4len = l4_build(p, l4, &csum_off);
	if (csum_off >= 0) {
		/* RFC 8200 8.1: the pseudo-header has the final destination; a routing header's
		 * addresses are not used here (checksums of routed test packets need not be
		 * right for the filter, which never looks at them). */
		memcpy(ph, &p->src6, 16);
		memcpy(ph + 16, &p->dst6, 16);
		put32(ph + 32, (uint32_t)l4len);
		ph[36] = ph[37] = ph[38] = 0;
		ph[39] = (uint8_t)p->proto;
		sum = csum_fold(csum_add(csum_add(0, ph, sizeof(ph)), l4, l4len));
		if (p->proto == IPPROTO_UDP && !sum)
			sum = 0xffff;
		put16(l4 + csum_off, p->badl4csum ? sum ^ 0x5a5a : sum);
	}
	if (p->trunc >= 0 && (size_t)p->trunc < l4len)
		l4len = (size_t)p->trunc;
	plen = (size_t)p->ext_len + l4len;
	if (p->cut >= 0 && (size_t)p->cut < plen)
		plen = (size_t)p->cut;
	total = 40 + plen;
	if (total + (size_t)p->pad > size)
		return -EMSGSIZE;
	memset(buf, 0, total + (size_t)p->pad);
	put32(buf, (uint32_t)(6u << 28 | (uint32_t)p->tos << 20 | (uint32_t)p->flow));
	put16(buf + 4, p->plen >= 0 ? (unsigned int)p->plen : (unsigned int)plen);
	buf[6] = p->n_ext ? p->ext_nh[0] : (uint8_t)p->proto;
	buf[7] = (uint8_t)p->ttl;
	memcpy(buf + 8, &p->src6, 16);
	memcpy(buf + 24, &p->dst6, 16);
	{
		uint8_t chain[PKT_MAX];

		memcpy(chain, p->ext, (size_t)p->ext_len);
		/* each header's next header field: the next one's kind, the last one the proto */
		for (i = 0; i < p->n_ext; i++)
			chain[p->ext_off[i]] =
				i + 1 < p->n_ext ? p->ext_nh[i + 1] : (uint8_t)p->proto;
		memcpy(chain + p->ext_len, l4, l4len);
		memcpy(buf + 40, chain, plen);
	}
	for (i = 0; i < p->pad; i++)
		buf[total + (size_t)i] = 0xee;
	*outlen = total + (size_t)p->pad;
	return 0;
}

/* Build the IP packet (and, for AF_PACKET, the bytes after it) into buf. */
static int pkt_build(const struct pkt *p, uint8_t *buf, size_t size, size_t *outlen)
{
	uint8_t l4[PKT_MAX];
	size_t l4len, hlen, optlen, total, i;
	uint32_t sum;
	int csum_off;

	if (p->v6)
		return pkt_build6(p, buf, size, outlen);
	l4len = l4_build(p, l4, &csum_off);
	if (csum_off >= 0) {
		sum = 0;
		if (p->proto != IPPROTO_ICMP) {
			uint8_t ph[12];

			memcpy(ph, &p->src, 4);
			memcpy(ph + 4, &p->dst, 4);
			ph[8] = 0;
			ph[9] = (uint8_t)p->proto;
			put16(ph + 10, (unsigned int)l4len);
			sum = csum_add(sum, ph, sizeof(ph));
		}
		sum = csum_fold(csum_add(sum, l4, l4len));
		if (p->proto == IPPROTO_UDP && !sum)
			sum = 0xffff;
		put16(l4 + csum_off, p->badl4csum ? sum ^ 0x5a5a : sum);
	}
	if (p->trunc >= 0 && (size_t)p->trunc < l4len)
		l4len = (size_t)p->trunc;

	optlen = ((size_t)p->ipopts_len + 3) & ~(size_t)3;
	hlen = 20 + optlen;
	total = hlen + l4len;
	if (total + (size_t)p->pad > size)
		return -EMSGSIZE;
	memset(buf, 0, total + (size_t)p->pad);
	buf[0] = (uint8_t)(0x40 | (p->ihl >= 0 ? p->ihl : (int)hlen / 4));
	buf[1] = (uint8_t)p->tos;
	put16(buf + 2, p->totlen >= 0 ? (unsigned int)p->totlen : (unsigned int)total);
	put16(buf + 4, (unsigned int)p->id);
	put16(buf + 6, (unsigned int)(p->df << 14 | p->mf << 13 | p->frag));
	buf[8] = (uint8_t)p->ttl;
	buf[9] = (uint8_t)p->proto;
	memcpy(buf + 12, &p->src, 4);
	memcpy(buf + 16, &p->dst, 4);
	memcpy(buf + 20, p->ipopts, (size_t)p->ipopts_len);
	sum = csum_fold(csum_add(0, buf, hlen));
	put16(buf + 10, p->badcsum ? sum ^ 0x1234 : sum);
	memcpy(buf + hlen, l4, l4len);
	for (i = 0; i < (size_t)p->pad; i++)
		buf[total + i] = 0xee;
	*outlen = total + (size_t)p->pad;
	return 0;
}

static int ctx_role_enter(struct ctx *c, const char *name)
{
	struct role *r = NULL;
	char path[300];
	int fd, i;

	for (i = 0; i < c->nroles; i++) {
		if (!strcmp(c->roles[i].name, name))
			r = &c->roles[i];
	}
	if (!r) {
		fprintf(stderr, "pktsend: no --ns for role '%s'\n", name);
		return -ENOENT;
	}
	if (strchr(r->netns, '/'))
		snprintf(path, sizeof(path), "%s", r->netns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", r->netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		int e = errno;

		fprintf(stderr, "pktsend: cannot enter %s: %s\n", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	close(fd);
	/* Sockets belong to the namespace they were created in: create them once, here. */
	if (r->rawfd < 0) {
		r->rawfd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
		if (r->rawfd < 0)
			return -errno;
	}
	if (r->raw6fd < 0) {
		r->raw6fd = socket(AF_INET6, SOCK_RAW, IPPROTO_RAW);
		if (r->raw6fd < 0)
			return -errno;
	}
	if (r->pktfd < 0) {
		r->pktfd = socket(AF_PACKET, SOCK_DGRAM, 0);
		if (r->pktfd < 0)
			return -errno;
	}
	c->cur = r;
	return 0;
}

static void hexdump(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

/* Each listener answers once it has echoed every datagram queued on its sockets (the sender's
 * softirq queued ours before sendto() returned). */
static int sync_listeners(struct ctx *c)
{
	int i;

	for (i = 0; i < c->nsync; i++) {
		struct pollfd pfd = {.fd = c->sync[i], .events = POLLIN};
		char b = 's';

		if (send(c->sync[i], &b, 1, 0) != 1)
			return -errno;
		if (poll(&pfd, 1, 5000) != 1 || recv(c->sync[i], &b, 1, 0) != 1) {
			fprintf(stderr, "pktsend: a listener did not answer its sync\n");
			return -ETIMEDOUT;
		}
	}
	return 0;
}

static int sync_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int do_ip(struct ctx *c, char **kv, int n, bool v6)
{
	uint8_t buf[PKT_MAX];
	struct pkt p;
	size_t len;
	ssize_t w;
	int i, r;

	pkt_init(&p);
	p.v6 = v6;
	for (i = 0; i < n; i++) {
		char *eq = strchr(kv[i], '=');

		if (!eq)
			return -EINVAL;
		*eq = '\0';
		r = pkt_field(&p, kv[i], eq + 1);
		*eq = '=';
		if (r) {
			fprintf(stderr, "pktsend: bad field '%s'\n", kv[i]);
			return r;
		}
	}
	/* The kernel rewrites tot_len, the checksum and ihl-derived lengths of IP_HDRINCL
	 * packets: refuse what would silently not be sent as written. */
	if (p.via == VIA_HDRINCL &&
	    (p.totlen >= 0 || p.badcsum || p.pad || p.ihl >= 0 || p.plen >= 0)) {
		fprintf(stderr, "pktsend: totlen/badcsum/pad/ihl/plen need via=packet\n");
		return -EINVAL;
	}
	if (p.via == VIA_PACKET && (!p.dev[0] || !p.has_dmac)) {
		fprintf(stderr, "pktsend: via=packet needs dev= and dmac=\n");
		return -EINVAL;
	}
	r = pkt_build(&p, buf, sizeof(buf), &len);
	if (r)
		return r;
	if (c->dump) {
		hexdump(buf, len);
		return 0;
	}
	if (!c->cur)
		return -EPERM;
	if (p.via == VIA_HDRINCL && v6) {
		struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_addr = p.dst6};

		w = sendto(c->cur->raw6fd, buf, len, 0, (struct sockaddr *)&sin6, sizeof(sin6));
	} else if (p.via == VIA_HDRINCL) {
		struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = p.dst};

		w = sendto(c->cur->rawfd, buf, len, 0, (struct sockaddr *)&sin, sizeof(sin));
	} else {
		struct sockaddr_ll sll = {
			.sll_family = AF_PACKET,
			.sll_protocol = htons(v6 ? ETH_P_IPV6 : ETH_P_IP),
			.sll_halen = 6,
		};

		sll.sll_ifindex = (int)if_nametoindex(p.dev);
		if (!sll.sll_ifindex) {
			fprintf(stderr, "pktsend: no interface %s\n", p.dev);
			return -ENODEV;
		}
		memcpy(sll.sll_addr, p.dmac, 6);
		w = sendto(c->cur->pktfd, buf, len, 0, (struct sockaddr *)&sll, sizeof(sll));
	}
	c->sent++;
	if (w < 0)
		c->send_errors++;
	sleep_us(c->gap_us);
	return p.proto == IPPROTO_UDP ? sync_listeners(c) : 0;
}

struct conn_args {
	int family;
	struct in_addr src, dst;
	struct in6_addr src6, dst6;
	int sport, dport, len, timeout_ms, fin;
	int uid, gid; /* -1: root's */
};

/* An IPv4 or IPv6 address of a connection; both ends must be of one family. */
static int conn_addr(struct conn_args *a, const char *v, struct in_addr *a4, struct in6_addr *a6)
{
	int fam = strchr(v, ':') ? AF_INET6 : AF_INET;

	if (a->family && a->family != fam)
		return -EINVAL;
	a->family = fam;
	return inet_pton(fam, v, fam == AF_INET6 ? (void *)a6 : (void *)a4) == 1 ? 0 : -EINVAL;
}

/* sockaddr of one end of a connection. */
static socklen_t conn_sa(const struct conn_args *a, bool dst, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = dst ? a->dst6 : a->src6;
		s6->sin6_port = htons((uint16_t)port);
		return sizeof(*s6);
	}
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_addr = dst ? a->dst : a->src;
		s4->sin_port = htons((uint16_t)port);
		return sizeof(*s4);
	}
}

static int conn_parse(char **kv, int n, struct conn_args *a)
{
	int i, r = 0;

	memset(a, 0, sizeof(*a));
	a->timeout_ms = -1;
	a->uid = -1;
	a->gid = -1;
	for (i = 0; i < n && !r; i++) {
		char *k = kv[i], *v = strchr(kv[i], '=');

		if (!v)
			return -EINVAL;
		v++;
		if (!strncmp(k, "src=", 4))
			r = conn_addr(a, v, &a->src, &a->src6);
		else if (!strncmp(k, "dst=", 4))
			r = conn_addr(a, v, &a->dst, &a->dst6);
		else if (!strncmp(k, "sport=", 6))
			r = parse_int(v, 1, 65535, &a->sport);
		else if (!strncmp(k, "dport=", 6))
			r = parse_int(v, 1, 65535, &a->dport);
		else if (!strncmp(k, "data=", 5) || !strncmp(k, "len=", 4))
			r = parse_int(v, 0, 1400, &a->len);
		else if (!strncmp(k, "timeout=", 8))
			r = parse_int(v, 1, 5000, &a->timeout_ms);
		else if (!strncmp(k, "fin=", 4))
			r = parse_int(v, 0, 1, &a->fin);
		else if (!strncmp(k, "uid=", 4))
			r = parse_int(v, 0, 65534, &a->uid);
		else if (!strncmp(k, "gid=", 4))
			r = parse_int(v, 0, 65534, &a->gid);
		else
			r = -EINVAL;
	}
	if (!r && (!a->sport || !a->dport || !a->family))
		r = -EINVAL;
	return r;
}

/* A socket bound to src:sport; the source port is fixed so that both topologies see the same
 * packets (an ephemeral port would be random). */
static int bound_socket(int type, const struct conn_args *a)
{
	struct sockaddr_storage ss;
	socklen_t sl = conn_sa(a, false, a->sport, &ss);
	int one = 1, fd, e;

	/* xt_owner reads the credentials of the socket's file, fixed when it is created: take
	 * the ids for socket() only (egid first: it needs the root euid). */
	if (a->gid >= 0 && setegid((gid_t)a->gid) < 0)
		return -errno;
	if (a->uid >= 0 && seteuid((uid_t)a->uid) < 0) {
		e = errno;
		setegid(0);
		return -e;
	}
	fd = socket(a->family, type | SOCK_CLOEXEC, 0);
	e = errno;
	if ((a->uid >= 0 && seteuid(0) < 0) || (a->gid >= 0 && setegid(0) < 0)) {
		fprintf(stderr, "pktsend: cannot get root ids back\n");
		exit(1);
	}
	if (fd < 0)
		return -e;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/*
 * connect(), optionally send data and wait until the peer acknowledged it, then abort with an
 * RST (SO_LINGER 0). Every wait is shorter than the first retransmission (initial RTO 1 s, RTO
 * and tail loss probe at least 200 ms), so the number of packets never depends on timing.
 */
static int do_tcp_connect(struct ctx *c, char **kv, int n)
{
	struct sockaddr_storage ss;
	socklen_t ssl;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	struct conn_args a;
	struct pollfd pfd;
	int fd, r, err = 0;
	socklen_t sl = sizeof(err);

	r = conn_parse(kv, n, &a);
	if (r)
		return r;
	if (c->dump)
		return 0;
	if (!c->cur)
		return -EPERM;
	if (a.timeout_ms < 0)
		a.timeout_ms = 200;
	fd = bound_socket(SOCK_STREAM | SOCK_NONBLOCK, &a);
	if (fd < 0) {
		fprintf(stderr, "pktsend: tcp bind: %s\n", strerror(-fd));
		return fd;
	}
	c->conns++;
	ssl = conn_sa(&a, true, a.dport, &ss);
	if (connect(fd, (struct sockaddr *)&ss, ssl) < 0 && errno != EINPROGRESS)
		goto out;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, a.timeout_ms) != 1)
		goto out;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0 || err)
		goto out;
	c->conns_ok++;
	if (a.len) {
		char data[1400];
		long deadline = now_ms() + 100;

		memset(data, 'x', (size_t)a.len);
		if (send(fd, data, (size_t)a.len, 0) == a.len) {
			/* Wait for the ACK: closing before it arrives would make the RST
			 * race with it. 100 ms stays below the 200 ms minimum RTO. */
			while (now_ms() < deadline) {
				struct tcp_info ti;
				socklen_t tl = sizeof(ti);

				if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0 ||
				    !ti.tcpi_unacked)
					break;
				sleep_us(1000);
			}
		}
	}
	if (a.fin && !shutdown(fd, SHUT_WR)) {
		long deadline = now_ms() + 100;

		/* The peer never accepts, so it answers the FIN with an ACK only: wait for it
		 * (below the minimum RTO, as above), then the RST ends the connection. */
		while (now_ms() < deadline) {
			struct tcp_info ti;
			socklen_t tl = sizeof(ti);

			if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) < 0 ||
			    ti.tcpi_state != TCP_FIN_WAIT1)
				break;
			sleep_us(1000);
		}
	}
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
out:
	close(fd);
	sleep_us(c->gap_us);
	return 0;
}

/* Send one datagram and wait for an answer; the socket stays open until the end so a late
 * answer still finds it (no port unreachable that would depend on timing). */
static int do_udp_request(struct ctx *c, char **kv, int n)
{
	struct sockaddr_storage ss;
	socklen_t ssl;
	struct conn_args a;
	struct pollfd pfd;
	char data[1400];
	int fd, r;

	r = conn_parse(kv, n, &a);
	if (r)
		return r;
	if (c->dump)
		return 0;
	if (!c->cur)
		return -EPERM;
	if (a.timeout_ms < 0)
		a.timeout_ms = 100;
	if (c->nkeep == MAX_KEEP)
		return -ENOSPC;
	fd = bound_socket(SOCK_DGRAM, &a);
	if (fd < 0) {
		fprintf(stderr, "pktsend: udp bind: %s\n", strerror(-fd));
		return fd;
	}
	c->keep[c->nkeep++] = fd;
	c->conns++;
	ssl = conn_sa(&a, true, a.dport, &ss);
	memset(data, 'u', sizeof(data));
	if (sendto(fd, data, (size_t)a.len, 0, (struct sockaddr *)&ss, ssl) < 0) {
		c->send_errors++;
		return 0;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, a.timeout_ms) == 1 && recv(fd, data, sizeof(data), MSG_DONTWAIT) >= 0)
		c->conns_ok++;
	sleep_us(c->gap_us);
	return sync_listeners(c);
}

static int run_line(struct ctx *c, char *line)
{
	char *tok[64], *save = NULL, *t;
	int n = 0;
	long ms;

	t = strchr(line, '#');
	if (t)
		*t = '\0';
	for (t = strtok_r(line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == 64)
			return -E2BIG;
		tok[n++] = t;
	}
	if (!n)
		return 0;
	if (!strcmp(tok[0], "ns") && n == 2)
		return c->dump ? 0 : ctx_role_enter(c, tok[1]);
	if (!strcmp(tok[0], "ip"))
		return do_ip(c, tok + 1, n - 1, false);
	if (!strcmp(tok[0], "ip6"))
		return do_ip(c, tok + 1, n - 1, true);
	if (!strcmp(tok[0], "tcp_connect"))
		return do_tcp_connect(c, tok + 1, n - 1);
	if (!strcmp(tok[0], "udp_request"))
		return do_udp_request(c, tok + 1, n - 1);
	if (!strcmp(tok[0], "sleep") && n == 2) {
		if (parse_long(tok[1], 0, 60000, &ms))
			return -EINVAL;
		if (!c->dump)
			sleep_us(ms * 1000);
		return 0;
	}
	return -EINVAL;
}

static void usage(void)
{
	fprintf(stderr, "usage: pktsend --ns ROLE=NETNS... [--gap USEC] [--settle MSEC] "
			"[--sync PATH...] [--dump] [SCRIPT|-]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"ns", required_argument, NULL, 'n'},	  {"gap", required_argument, NULL, 'g'},
		{"settle", required_argument, NULL, 's'}, {"dump", no_argument, NULL, 'd'},
		{"sync", required_argument, NULL, 'y'},	  {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct ctx c;
	char line[4096];
	FILE *in = stdin;
	int o, i, lineno = 0, r;

	c.gap_us = 500;
	c.settle_ms = 300;
	while ((o = getopt_long(argc, argv, "n:g:s:y:dh", opts, NULL)) != -1) {
		char *eq;

		switch (o) {
		case 'n':
			eq = strchr(optarg, '=');
			if (!eq || c.nroles == MAX_ROLES || eq - optarg >= 32 ||
			    strlen(eq + 1) >= sizeof(c.roles[0].netns)) {
				usage();
				return 1;
			}
			memcpy(c.roles[c.nroles].name, optarg, (size_t)(eq - optarg));
			strcpy(c.roles[c.nroles].netns, eq + 1);
			c.roles[c.nroles].rawfd = -1;
			c.roles[c.nroles].raw6fd = -1;
			c.roles[c.nroles].pktfd = -1;
			c.nroles++;
			break;
		case 'g':
			if (parse_int(optarg, 0, 1000000, &c.gap_us)) {
				usage();
				return 1;
			}
			break;
		case 's':
			if (parse_int(optarg, 0, 60000, &c.settle_ms)) {
				usage();
				return 1;
			}
			break;
		case 'd':
			c.dump = true;
			break;
		case 'y':
			if (c.nsync == MAX_SYNC) {
				usage();
				return 1;
			}
			c.sync[c.nsync] = sync_connect(optarg);
			if (c.sync[c.nsync] < 0) {
				fprintf(stderr, "pktsend: %s: %s\n", optarg, strerror(-c.sync[c.nsync]));
				return 1;
			}
			c.nsync++;
			break;
		default:
			usage();
			return o == 'h' ? 0 : 1;
		}
	}
	if (optind < argc && strcmp(argv[optind], "-")) {
		in = fopen(argv[optind], "r");
		if (!in) {
			perror(argv[optind]);
			return 1;
		}
	}
	while (fgets(line, sizeof(line), in)) {
		char copy[4096];

		lineno++;
		memcpy(copy, line, sizeof(copy));
		r = run_line(&c, line);
		if (r == -EPERM && !c.cur) {
			fprintf(stderr,
				"pktsend: line %d: no 'ns' line yet: refusing to send from "
				"pktsend's own namespace\n",
				lineno);
			return 1;
		}
		if (r) {
			fprintf(stderr, "pktsend: line %d: %s: %s", lineno, strerror(-r), copy);
			return 1;
		}
	}
	if (!c.dump) {
		/* Let the last answers (UDP echoes, RSTs, ICMP errors) arrive before the
		 * caller reads counters. */
		sleep_us((long)c.settle_ms * 1000);
		fprintf(stderr,
			"pktsend: %lu packets (%lu send errors), %lu connections (%lu answered)\n",
			c.sent, c.send_errors, c.conns, c.conns_ok);
	}
	for (i = 0; i < c.nkeep; i++)
		close(c.keep[i]);
	for (i = 0; i < c.nroles; i++) {
		if (c.roles[i].rawfd >= 0)
			close(c.roles[i].rawfd);
		if (c.roles[i].raw6fd >= 0)
			close(c.roles[i].raw6fd);
		if (c.roles[i].pktfd >= 0)
			close(c.roles[i].pktfd);
	}
	if (in != stdin)
		fclose(in);
	return 0;
}
