// SPDX-License-Identifier: GPL-2.0-only
/*
 * The REJECT target: checkentry and registration (ipt_REJECT.c), and the reply the reject program
 * builds (nf_reject_ipv4.c, icmp_send), run with BPF_PROG_TEST_RUN on real frames. The expected
 * bytes are computed here from the RFCs' definitions (checksums, quoting rule); the kernel
 * comparison is tests/e2e/reject.sh.
 *
 * The program runs with pkt->hook = OUTPUT: the reply goes to the ingress of the test's device
 * (lo) without a route lookup, so the test needs no routes (INPUT/FORWARD: e2e).
 */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/netfilter_ipv4/ipt_REJECT.h>
#include <linux/pkt_cls.h>

#include <bpfilter/cleanup.h>

#include "codegen/builder.h"
#include "codegen/registry.h"
#include "codegen/target/targets.h"

static int ctx_fd = -1, prog_fd = -1;

static void log_fn(void *ctx, enum bf_log_level level, const char *fmt, va_list ap)
{
	if (level > BF_LOG_WARN)
		return;
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static const struct bf_log tlog = {.fn = log_fn};

static void setup(void)
{
	int fds[BF_MAP_SLOT_MAX];

	ctx_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "bf_ctx", 4, sizeof(struct bf_pkt), 1,
				NULL);
	ck_assert_int_ge(ctx_fd, 0);
	for (int i = 0; i < BF_MAP_SLOT_MAX; i++)
		fds[i] = -1;
	fds[BF_MAP_CTX] = ctx_fd;
	prog_fd = bf_reject_prog_load(&tlog, fds);
	ck_assert_int_ge(prog_fd, 0);
}

static void teardown(void)
{
	close(prog_fd);
	close(ctx_fd);
}

static int ttl_default(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_default_ttl", "re");
	int t = 64;

	if (f) {
		if (fscanf(f, "%d", &t) != 1)
			t = 64;
		fclose(f);
	}
	return t;
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* One's complement sum of the transport segment with the pseudo header folds to 0xffff. */
static uint32_t pseudo(const uint8_t *ip, uint8_t proto, uint16_t l4len)
{
	uint32_t s = sum16(ip + 12, 8, 0);

	return s + proto + l4len;
}

static void set_l4_csum(struct mh_pkt *p, unsigned int csum_off)
{
	uint8_t *ip = p->frame + MH_L2_LEN;
	uint16_t l4len = (uint16_t)p->pkt.l4_len;
	uint16_t c;

	ip[20 + csum_off] = ip[21 + csum_off] = 0;
	c = (uint16_t)~fold(sum16(ip + 20, l4len, pseudo(ip, ip[9], l4len)));
	if (ip[9] == IPPROTO_UDP && !c)
		c = 0xffff;
	ip[20 + csum_off] = (uint8_t)(c >> 8);
	ip[21 + csum_off] = (uint8_t)c;
}

static const uint8_t host_mac[6] = {0}; /* lo's address: eth_type_trans says PACKET_HOST */
static const uint8_t peer_mac[6] = {0x02, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb};

static void udp_pkt(struct mh_pkt *p, uint32_t payload, const char *dst)
{
	uint8_t l4[MH_FRAME_MAX] = {0};
	uint16_t v;

	ck_assert_uint_le(8 + payload, sizeof(l4) - 34);
	v = htons(40000);
	memcpy(l4, &v, 2);
	v = htons(53);
	memcpy(l4 + 2, &v, 2);
	v = htons((uint16_t)(8 + payload));
	memcpy(l4 + 4, &v, 2);
	for (uint32_t i = 0; i < payload; i++)
		l4[8 + i] = (uint8_t)(i * 7 + 1);
	mh_ipv4(p, IPPROTO_UDP, "10.0.0.1", dst, 0, l4, 8 + payload, 8 + payload);
	mh_set_macs(p, host_mac, peer_mac);
	set_l4_csum(p, 6);
}

static void tcp_pkt(struct mh_pkt *p, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t payload)
{
	uint8_t l4[128] = {0};
	uint32_t n = mh_tcphdr(l4, 40000, 80, flags, 20, NULL, 0);

	seq = htonl(seq);
	ack = htonl(ack);
	memcpy(l4 + 4, &seq, 4);
	memcpy(l4 + 8, &ack, 4);
	for (uint32_t i = 0; i < payload; i++)
		l4[n + i] = (uint8_t)i;
	mh_ipv4(p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, n + payload, n + payload);
	mh_set_macs(p, host_mac, peer_mac);
	set_l4_csum(p, 16);
}

/* Run the reject program: the return code; the reply in out/out_len. */
static int run(struct mh_pkt *p, uint32_t tgt_arg, uint8_t *out, uint32_t *out_len)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t vsz = (sizeof(struct bf_pkt) + 7) & ~(size_t)7;
	_cleanup_free_ uint8_t *vals = calloc((size_t)ncpu, vsz);
	uint32_t key = 0;
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	ck_assert_ptr_nonnull(vals);
	p->pkt.hook = NF_INET_LOCAL_OUT;
	p->pkt.tgt_arg = tgt_arg;
	for (int i = 0; i < ncpu; i++)
		memcpy(vals + (size_t)i * vsz, &p->pkt, sizeof(p->pkt));
	ck_assert_int_eq(bpf_map_update_elem(ctx_fd, &key, vals, BPF_ANY), 0);
	opts.data_in = p->frame;
	opts.data_size_in = p->frame_len;
	opts.data_out = out;
	opts.data_size_out = 2048;
	opts.repeat = 1;
	ck_assert_int_eq(bpf_prog_test_run_opts(prog_fd, &opts), 0);
	*out_len = opts.data_size_out;
	return (int)opts.retval;
}

/* The reply's IP header: version/ihl, tos, total length, DF, ttl, protocol, checksum, addresses. */
static void check_ip(const uint8_t *ip, uint8_t tos, uint16_t tot, uint16_t frag, uint8_t proto,
		     const char *src, const char *dst)
{
	uint32_t a;

	ck_assert_uint_eq(ip[0], 0x45);
	ck_assert_uint_eq(ip[1], tos);
	ck_assert_uint_eq((uint32_t)(ip[2] << 8 | ip[3]), tot);
	ck_assert_uint_eq((uint32_t)(ip[6] << 8 | ip[7]), frag);
	ck_assert_uint_eq(ip[8], (unsigned int)ttl_default());
	ck_assert_uint_eq(ip[9], proto);
	ck_assert_uint_eq(fold(sum16(ip, 20, 0)), 0xffff);
	inet_pton(AF_INET, src, &a);
	ck_assert_mem_eq(ip + 12, &a, 4);
	inet_pton(AF_INET, dst, &a);
	ck_assert_mem_eq(ip + 16, &a, 4);
}

START_TEST(test_check)
{
	struct mh_rule r;
	struct bf_check_ctx c = {.table = "filter", .family = NFPROTO_IPV4, .entry = &r.e};
	struct ipt_reject_info info;

	mh_rule_init(&r);
	info.with = IPT_ICMP_ECHOREPLY;
	ck_assert_int_eq(bf_target_reject.check(&c, &info), -EINVAL);
	info.with = IPT_TCP_RESET;
	ck_assert_int_eq(bf_target_reject.check(&c, &info), -EINVAL); /* no -p */
	r.ip.v4.proto = IPPROTO_UDP;
	ck_assert_int_eq(bf_target_reject.check(&c, &info), -EINVAL);
	r.ip.v4.proto = IPPROTO_TCP;
	ck_assert_int_eq(bf_target_reject.check(&c, &info), 0);
	r.ip.v4.invflags = IPT_INV_PROTO;
	ck_assert_int_eq(bf_target_reject.check(&c, &info), -EINVAL);
	for (int w = 0; w <= 20; w++) {
		if (w == IPT_ICMP_ECHOREPLY || w == IPT_TCP_RESET)
			continue;
		info.with = (enum ipt_reject_with)w;
		ck_assert_int_eq(bf_target_reject.check(&c, &info), 0);
	}
}
END_TEST

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_TARGET, NFPROTO_IPV4, "REJECT", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_target_reject);
	ck_assert_uint_eq(e->size, sizeof(struct ipt_reject_info));
	ck_assert_str_eq(e->table, "filter");
	ck_assert_uint_eq(e->hooks, (1u << NF_INET_LOCAL_IN) | (1u << NF_INET_FORWARD) |
					    (1u << NF_INET_LOCAL_OUT));
	ck_assert_int_eq(bf_ext_revision(BF_EXT_TARGET, NFPROTO_IPV4, "REJECT", 1),
			 -EPROTONOSUPPORT);
}
END_TEST

/* Every icmp reject-with: type 3 with the kernel's code, quoting the whole packet. */
START_TEST(test_unreach_codes)
{
	static const struct {
		uint32_t with;
		uint8_t code;
	} map[] = {{IPT_ICMP_NET_UNREACHABLE, 0},  {IPT_ICMP_HOST_UNREACHABLE, 1},
		   {IPT_ICMP_PROT_UNREACHABLE, 2}, {IPT_ICMP_PORT_UNREACHABLE, 3},
		   {IPT_ICMP_NET_PROHIBITED, 9},   {IPT_ICMP_HOST_PROHIBITED, 10},
		   {IPT_ICMP_ADMIN_PROHIBITED, 13}};

	for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++) {
		struct mh_pkt p;
		uint8_t out[2048], orig[MH_FRAME_MAX];
		uint32_t n, olen;
		const uint8_t *ip = out + 14;

		udp_pkt(&p, 13, "10.0.0.2");
		p.frame[MH_L2_LEN + 1] = 0xff; /* tos: the reply keeps the TOS bits, precedence 6 */
		p.frame[MH_L2_LEN + 10] = p.frame[MH_L2_LEN + 11] = 0;
		{
			uint16_t c = (uint16_t)~fold(sum16(p.frame + MH_L2_LEN, 20, 0));

			p.frame[MH_L2_LEN + 10] = (uint8_t)(c >> 8);
			p.frame[MH_L2_LEN + 11] = (uint8_t)c;
		}
		mh_fill(&p);
		olen = p.frame_len - MH_L2_LEN;
		memcpy(orig, p.frame + MH_L2_LEN, olen);
		ck_assert_int_eq(run(&p, map[k].code, out, &n), TC_ACT_REDIRECT);
		ck_assert_uint_eq(n, 14 + 28 + olen);
		/* OUTPUT: delivered through lo, whose address is all zeros */
		ck_assert_mem_eq(out, host_mac, 6);
		ck_assert_mem_eq(out + 6, host_mac, 6);
		ck_assert_uint_eq(out[12], 0x08);
		/* OUTPUT: the reply is for this host, from the packet's destination */
		check_ip(ip, 0x1e | 0xc0, (uint16_t)(28 + olen), 0, IPPROTO_ICMP, "10.0.0.2",
			 "10.0.0.1");
		ck_assert_uint_eq(ip[20], 3);
		ck_assert_uint_eq(ip[21], map[k].code);
		ck_assert_uint_eq(fold(sum16(ip + 20, 8 + olen, 0)), 0xffff);
		ck_assert_mem_eq(ip + 24, "\0\0\0\0", 4);
		ck_assert_mem_eq(ip + 28, orig, olen);
	}
}
END_TEST

/* icmp_send: at most 576 bytes: the quote stops at 548; trailing padding is not quoted. */
START_TEST(test_unreach_quote)
{
	struct mh_pkt p;
	uint8_t out[2048], orig[MH_FRAME_MAX];
	uint32_t n;

	udp_pkt(&p, 180, "10.0.0.2");
	memcpy(orig, p.frame + MH_L2_LEN, 208);
	ck_assert_int_eq(run(&p, 3, out, &n), TC_ACT_REDIRECT);
	ck_assert_uint_eq(n, 14 + 28 + 208);
	ck_assert_mem_eq(out + 14 + 28, orig, 208);

	/* 20 bytes of Ethernet padding after the IP packet: not quoted */
	udp_pkt(&p, 10, "10.0.0.2");
	memset(p.frame + p.frame_len, 0xee, 20);
	p.frame_len += 20;
	ck_assert_int_eq(run(&p, 3, out, &n), TC_ACT_REDIRECT);
	ck_assert_uint_eq(n, 14 + 28 + 38);
}
END_TEST

START_TEST(test_unreach_quote_max)
{
	static uint8_t frame[1600];
	struct mh_pkt p;
	uint8_t out[2048];
	uint32_t n, payload = 1000;
	uint8_t *ip = frame + 14;
	uint16_t v, c;

	/* mh_pkt frames are small: build this one by hand, then run with a big buffer. */
	udp_pkt(&p, 0, "10.0.0.2");
	memcpy(frame, p.frame, 14 + 28);
	for (uint32_t i = 0; i < payload; i++)
		ip[28 + i] = (uint8_t)(i * 3);
	v = htons((uint16_t)(28 + payload));
	memcpy(ip + 2, &v, 2);
	v = htons((uint16_t)(8 + payload));
	memcpy(ip + 24, &v, 2);
	ip[10] = ip[11] = 0;
	c = (uint16_t)~fold(sum16(ip, 20, 0));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	ip[26] = ip[27] = 0;
	c = (uint16_t)~fold(sum16(ip + 20, 8 + payload, pseudo(ip, IPPROTO_UDP, 8 + payload)));
	ip[26] = (uint8_t)(c >> 8);
	ip[27] = (uint8_t)c;
	{
		int ncpu = libbpf_num_possible_cpus();
		size_t vsz = (sizeof(struct bf_pkt) + 7) & ~(size_t)7;
		_cleanup_free_ uint8_t *vals = calloc((size_t)ncpu, vsz);
		uint32_t key = 0;
		LIBBPF_OPTS(bpf_test_run_opts, opts);

		p.pkt.len = 28 + payload;
		p.pkt.l4_len = 8 + payload;
		p.pkt.hook = NF_INET_LOCAL_OUT;
		p.pkt.tgt_arg = 3;
		for (int i = 0; i < ncpu; i++)
			memcpy(vals + (size_t)i * vsz, &p.pkt, sizeof(p.pkt));
		ck_assert_int_eq(bpf_map_update_elem(ctx_fd, &key, vals, BPF_ANY), 0);
		opts.data_in = frame;
		opts.data_size_in = 14 + 28 + payload;
		opts.data_out = out;
		opts.data_size_out = sizeof(out);
		ck_assert_int_eq(bpf_prog_test_run_opts(prog_fd, &opts), 0);
		ck_assert_int_eq(opts.retval, TC_ACT_REDIRECT);
		n = opts.data_size_out;
	}
	ck_assert_uint_eq(n, 14 + 576);
	ck_assert_uint_eq((uint32_t)(out[16] << 8 | out[17]), 576);
	ck_assert_mem_eq(out + 14 + 28, ip, 548);
	ck_assert_uint_eq(fold(sum16(out + 14 + 20, 556, 0)), 0xffff);
}
END_TEST

static void check_rst(const uint8_t *out, uint32_t n, uint32_t seq, uint32_t ack, uint8_t flags)
{
	const uint8_t *ip = out + 14, *th = ip + 20;
	uint32_t v;

	ck_assert_uint_eq(n, 54);
	check_ip(ip, 0, 40, 0x4000, IPPROTO_TCP, "10.0.0.2", "10.0.0.1");
	ck_assert_uint_eq((uint32_t)(ip[4] << 8 | ip[5]), 0);
	ck_assert_uint_eq((uint32_t)(th[0] << 8 | th[1]), 80);
	ck_assert_uint_eq((uint32_t)(th[2] << 8 | th[3]), 40000);
	memcpy(&v, th + 4, 4);
	ck_assert_uint_eq(ntohl(v), seq);
	memcpy(&v, th + 8, 4);
	ck_assert_uint_eq(ntohl(v), ack);
	ck_assert_uint_eq(th[12], 0x50);
	ck_assert_uint_eq(th[13], flags);
	ck_assert_uint_eq((uint32_t)(th[14] << 8 | th[15]), 0);
	ck_assert_uint_eq(fold(sum16(th, 20, pseudo(ip, IPPROTO_TCP, 20))), 0xffff);
}

/* nf_reject_ip_tcphdr_put: with ACK, seq = ack_seq; else ack_seq = seq + syn + fin + payload. */
START_TEST(test_reset)
{
	struct mh_pkt p;
	uint8_t out[2048];
	uint32_t n;

	tcp_pkt(&p, 0x02, 1000, 0, 0);
	ck_assert_int_eq(run(&p, 0x100, out, &n), TC_ACT_REDIRECT);
	check_rst(out, n, 0, 1001, 0x14);

	tcp_pkt(&p, 0x10, 1000, 5555, 0);
	ck_assert_int_eq(run(&p, 0x100, out, &n), TC_ACT_REDIRECT);
	check_rst(out, n, 5555, 0, 0x04);

	tcp_pkt(&p, 0x19, 0xfffffff0u, 77, 10); /* FIN|PSH|ACK: ACK wins */
	ck_assert_int_eq(run(&p, 0x100, out, &n), TC_ACT_REDIRECT);
	check_rst(out, n, 77, 0, 0x04);

	tcp_pkt(&p, 0x09, 0xfffffff0u, 0, 20); /* FIN|PSH, 20 bytes: wraps */
	ck_assert_int_eq(run(&p, 0x100, out, &n), TC_ACT_REDIRECT);
	check_rst(out, n, 0, 0xfffffff0u + 1 + 20, 0x14);

	tcp_pkt(&p, 0x04, 1, 0, 0); /* no RST for RST */
	ck_assert_int_eq(run(&p, 0x100, out, &n), TC_ACT_SHOT);
}
END_TEST

/* When the kernel sends nothing, the packet is dropped. */
START_TEST(test_no_reply)
{
	struct mh_pkt p;
	uint8_t out[2048], icmp[8] = {3, 3, 0, 0, 0, 0, 0, 0};
	uint32_t n;
	uint16_t c;

	udp_pkt(&p, 4, "10.0.0.2");
	p.frame[MH_L2_LEN + 20 + 8] ^= 1; /* bad UDP checksum */
	ck_assert_int_eq(run(&p, 3, out, &n), TC_ACT_SHOT);

	udp_pkt(&p, 4, "10.0.0.2");
	p.frame[MH_L2_LEN + 26] = p.frame[MH_L2_LEN + 27] = 0; /* no UDP checksum: replied */
	p.frame[MH_L2_LEN + 28] ^= 1;
	ck_assert_int_eq(run(&p, 3, out, &n), TC_ACT_REDIRECT);

	/* CHECKSUM_PARTIAL (a local socket's packet): the field holds the pseudo-header sum */
	udp_pkt(&p, 4, "10.0.0.2");
	c = fold(pseudo(p.frame + MH_L2_LEN, IPPROTO_UDP, 12));
	p.frame[MH_L2_LEN + 26] = (uint8_t)(c >> 8);
	p.frame[MH_L2_LEN + 27] = (uint8_t)c;
	ck_assert_int_eq(run(&p, 3, out, &n), TC_ACT_REDIRECT);

	tcp_pkt(&p, 0x02, 1000, 0, 0);
	p.frame[MH_L2_LEN + 20 + 4] ^= 0x10; /* bad TCP checksum: no RST, no ICMP */
	ck_assert_int_eq(run(&p, 0x100, out, &n), TC_ACT_SHOT);
	ck_assert_int_eq(run(&p, 3, out, &n), TC_ACT_SHOT);

	udp_pkt(&p, 4, "255.255.255.255");
	ck_assert_int_eq(run(&p, 3, out, &n), TC_ACT_SHOT);
	udp_pkt(&p, 4, "224.0.0.9");
	ck_assert_int_eq(run(&p, 3, out, &n), TC_ACT_SHOT);

	/* a non-first fragment */
	udp_pkt(&p, 4, "10.0.0.2");
	p.pkt.fragoff_h = 1;
	ck_assert_int_eq(run(&p, 3, out, &n), TC_ACT_SHOT);

	/* not PACKET_HOST (another host's MAC) */
	udp_pkt(&p, 4, "10.0.0.2");
	mh_set_macs(&p, peer_mac, NULL);
	ck_assert_int_eq(run(&p, 3, out, &n), TC_ACT_SHOT);

	/* an ICMP error is never answered; an echo request is */
	c = (uint16_t)~fold(sum16(icmp, 8, 0));
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	mh_ipv4(&p, IPPROTO_ICMP, "10.0.0.1", "10.0.0.2", 0, icmp, 8, 8);
	mh_set_macs(&p, host_mac, peer_mac);
	ck_assert_int_eq(run(&p, 3, out, &n), TC_ACT_SHOT);
	icmp[0] = 8;
	icmp[2] = icmp[3] = 0;
	c = (uint16_t)~fold(sum16(icmp, 8, 0));
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
	mh_ipv4(&p, IPPROTO_ICMP, "10.0.0.1", "10.0.0.2", 0, icmp, 8, 8);
	mh_set_macs(&p, host_mac, peer_mac);
	ck_assert_int_eq(run(&p, 3, out, &n), TC_ACT_REDIRECT);
	icmp[1] = 1; /* now the ICMP checksum is wrong: nf_ip_checksum fails */
	mh_ipv4(&p, IPPROTO_ICMP, "10.0.0.1", "10.0.0.2", 0, icmp, 8, 8);
	mh_set_macs(&p, host_mac, peer_mac);
	ck_assert_int_eq(run(&p, 3, out, &n), TC_ACT_SHOT);
}
END_TEST

START_TEST(test_xdp_refused)
{
	struct mh_rule r;
	struct ipt_reject_info info = {.with = IPT_ICMP_PORT_UNREACHABLE};
	struct bf_builder *b = NULL;
	struct bf_emit_ctx ctx = {.prog_ctx = BF_CTX_XDP, .family = NFPROTO_IPV4, .entry = &r.e};

	mh_rule_init(&r);
	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	ctx.b = b;
	ctx.drop = bf_label_new(b);
	ck_assert_int_eq(bf_target_reject.emit(&ctx, &info), -EOPNOTSUPP);
	bf_builder_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("target_reject");
	TCase *tc = tcase_create("reject");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_unreach_codes);
	tcase_add_test(tc, test_unreach_quote);
	tcase_add_test(tc, test_unreach_quote_max);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_no_reply);
	tcase_add_test(tc, test_xdp_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
