// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IPv6 REJECT target: checkentry and registration (ip6t_REJECT.c), and the reply the reject6
 * program builds (nf_reject_ipv6.c, icmpv6_send), run with BPF_PROG_TEST_RUN on real frames. The
 * expected bytes follow the RFCs' definitions (RFC 4443 quoting and checksum, RFC 8200 pseudo
 * header); the byte-for-byte comparison with the kernel is tests/e2e/reject6.sh.
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
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/netfilter_ipv6/ip6t_REJECT.h>
#include <linux/pkt_cls.h>

#include <bpfilter/cleanup.h>

#include "codegen/builder.h"
#include "codegen/registry.h"
#include "codegen/target/targets.h"

#define RST 0x100 /* reject6.c's tgt_arg for tcp-reset */

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
	prog_fd = bf_reject6_prog_load(&tlog, fds);
	ck_assert_int_ge(prog_fd, 0);
}

static void teardown(void)
{
	close(prog_fd);
	close(ctx_fd);
}

static int hl_default(void)
{
	FILE *f = fopen("/proc/sys/net/ipv6/conf/default/hop_limit", "re");
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

/* The IPv6 pseudo header's sum for an upper-layer segment of len bytes. */
static uint32_t pseudo6(const uint8_t *ip, uint8_t nh, uint32_t len)
{
	return sum16(ip + 8, 32, 0) + (len >> 16) + (len & 0xffff) + nh;
}

/* The segment after the 40-byte header holds a valid checksum at csum_off. */
static void set_csum(struct mh_pkt *p, unsigned int csum_off)
{
	uint8_t *ip = p->frame + MH_L2_LEN;
	uint32_t len = (uint32_t)(ip[4] << 8 | ip[5]);
	uint16_t c;

	ip[40 + csum_off] = ip[41 + csum_off] = 0;
	c = (uint16_t)~fold(sum16(ip + 40, len, pseudo6(ip, ip[6], len)));
	ip[40 + csum_off] = (uint8_t)(c >> 8);
	ip[41 + csum_off] = (uint8_t)c;
}

static const uint8_t host_mac[6] = {0}; /* lo's address: eth_type_trans says PACKET_HOST */
static const uint8_t peer_mac[6] = {0x02, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb};

static void udp_pkt(struct mh_pkt *p, uint32_t payload, const char *dst)
{
	uint8_t l4[128] = {0};

	ck_assert_uint_le(8 + payload, sizeof(l4));
	l4[0] = 40000 >> 8;
	l4[1] = 40000 & 0xff;
	l4[3] = 53;
	l4[5] = (uint8_t)(8 + payload);
	for (uint32_t i = 0; i < payload; i++)
		l4[8 + i] = (uint8_t)(i * 7 + 1);
	mh_ipv6(p, IPPROTO_UDP, "fd00::1", dst, l4, 8 + payload, 8 + payload);
	mh_set_macs(p, host_mac, peer_mac);
	set_csum(p, 6);
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
	mh_ipv6(p, IPPROTO_TCP, "fd00::1", "fd00::2", l4, n + payload, n + payload);
	mh_set_macs(p, host_mac, peer_mac);
	set_csum(p, 16);
}

static void icmp6_pkt(struct mh_pkt *p, uint8_t type)
{
	uint8_t l4[8] = {type, 0, 0, 0, 0, 1, 0, 1};

	mh_ipv6(p, IPPROTO_ICMPV6, "fd00::1", "fd00::2", l4, 8, 8);
	mh_set_macs(p, host_mac, peer_mac);
	set_csum(p, 2);
}

/* Run the reject6 program at OUTPUT: the return code; the reply in out/out_len. */
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

/* The reply's IPv6 header: version, class and label 0, payload length, next header, hop limit,
 * addresses. */
static void check_ip6(const uint8_t *ip, uint16_t plen, uint8_t nh, const char *src,
		      const char *dst)
{
	uint8_t a[16];

	ck_assert_uint_eq(ip[0], 0x60);
	ck_assert_uint_eq(ip[1] | ip[2] | ip[3], 0);
	ck_assert_uint_eq((uint32_t)(ip[4] << 8 | ip[5]), plen);
	ck_assert_uint_eq(ip[6], nh);
	ck_assert_uint_eq(ip[7], (unsigned int)hl_default());
	inet_pton(AF_INET6, src, a);
	ck_assert_mem_eq(ip + 8, a, 16);
	inet_pton(AF_INET6, dst, a);
	ck_assert_mem_eq(ip + 24, a, 16);
	ck_assert_uint_eq(fold(sum16(ip + 40, plen, pseudo6(ip, nh, plen))), 0xffff);
}

START_TEST(test_check)
{
	struct mh_rule r;
	struct bf_check_ctx c = {.table = "filter", .family = NFPROTO_IPV6, .entry = &r.e};
	struct ip6t_reject_info info = {.with = IP6T_ICMP6_PORT_UNREACH};

	mh_rule_init(&r);
	ck_assert_int_eq(bf_target_reject6.check(&c, &info), 0);
	info.with = IP6T_ICMP6_ECHOREPLY;
	ck_assert_int_eq(bf_target_reject6.check(&c, &info), -EINVAL);
	info.with = IP6T_TCP_RESET;
	ck_assert_int_eq(bf_target_reject6.check(&c, &info), -EINVAL);
	/* -p tcp sets IP6T_F_PROTO; a proto value without the flag is not "-p tcp" */
	r.ip.v6.proto = IPPROTO_TCP;
	ck_assert_int_eq(bf_target_reject6.check(&c, &info), -EINVAL);
	r.ip.v6.flags = IP6T_F_PROTO;
	ck_assert_int_eq(bf_target_reject6.check(&c, &info), 0);
	r.ip.v6.invflags = XT_INV_PROTO;
	ck_assert_int_eq(bf_target_reject6.check(&c, &info), -EINVAL);
	r.ip.v6.invflags = 0;
	r.ip.v6.proto = IPPROTO_UDP;
	ck_assert_int_eq(bf_target_reject6.check(&c, &info), -EINVAL);
}
END_TEST

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_TARGET, NFPROTO_IPV6, "REJECT", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_target_reject6);
	ck_assert_uint_eq(e->size, sizeof(struct ip6t_reject_info));
	ck_assert_str_eq(e->table, "filter");
	ck_assert_uint_eq(e->hooks, (1u << NF_INET_LOCAL_IN) | (1u << NF_INET_FORWARD) |
					    (1u << NF_INET_LOCAL_OUT));
	ck_assert_uint_eq(e->enforced_family, 0);
	ck_assert_int_eq(bf_ext_find(BF_EXT_TARGET, NFPROTO_IPV4, "REJECT", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_target_reject);
	ck_assert_int_eq(bf_ext_revision(BF_EXT_TARGET, NFPROTO_IPV6, "REJECT", 1),
			 -EPROTONOSUPPORT);
}
END_TEST

/* Every code: ICMPv6 destination unreachable quoting the whole (small) packet, at OUTPUT from
 * the packet's own source address. */
START_TEST(test_unreach)
{
	static const uint8_t codes[] = {0, 1, 2, 3, 4, 5, 6};
	struct mh_pkt p;
	uint8_t out[2048];
	uint32_t n;

	for (size_t k = 0; k < sizeof(codes); k++) {
		udp_pkt(&p, 12, "fd00::2");
		ck_assert_int_eq(run(&p, codes[k], out, &n), TC_ACT_REDIRECT);
		ck_assert_uint_eq(n, MH_L2_LEN + 48 + 60);
		check_ip6(out + MH_L2_LEN, 8 + 60, IPPROTO_ICMPV6, "fd00::1", "fd00::1");
		ck_assert_uint_eq(out[MH_L2_LEN + 40], 1);
		ck_assert_uint_eq(out[MH_L2_LEN + 41], codes[k]);
		ck_assert_mem_eq(out + MH_L2_LEN + 44, "\0\0\0\0", 4);
		ck_assert_mem_eq(out + MH_L2_LEN + 48, p.frame + MH_L2_LEN, 60);
	}
}
END_TEST

/* The quote ends with the IPv6 packet: link-layer padding is not quoted. */
START_TEST(test_unreach_padding)
{
	uint8_t l4[40] = {0x9c, 0x40, 0, 53, 0, 16};
	struct mh_pkt p;
	uint8_t out[2048];
	uint32_t n;

	mh_ipv6(&p, IPPROTO_UDP, "fd00::1", "fd00::2", l4, 16, 40);
	mh_set_macs(&p, host_mac, peer_mac);
	set_csum(&p, 6);
	ck_assert_int_eq(run(&p, 4, out, &n), TC_ACT_REDIRECT);
	ck_assert_uint_eq(n, MH_L2_LEN + 48 + 56);
	check_ip6(out + MH_L2_LEN, 8 + 56, IPPROTO_ICMPV6, "fd00::1", "fd00::1");
}
END_TEST

/* tcp-reset: ports swapped, RST|ACK acknowledging seq + SYN + payload; RST with seq = ack. */
START_TEST(test_reset)
{
	struct mh_pkt p;
	uint8_t out[2048], *th;
	uint32_t n;

	tcp_pkt(&p, 0x02, 1000, 0, 10);
	ck_assert_int_eq(run(&p, RST, out, &n), TC_ACT_REDIRECT);
	ck_assert_uint_eq(n, MH_L2_LEN + 60);
	check_ip6(out + MH_L2_LEN, 20, IPPROTO_TCP, "fd00::2", "fd00::1");
	th = out + MH_L2_LEN + 40;
	ck_assert_uint_eq((uint32_t)(th[0] << 8 | th[1]), 80);
	ck_assert_uint_eq((uint32_t)(th[2] << 8 | th[3]), 40000);
	ck_assert_mem_eq(th + 4, "\0\0\0\0", 4);
	ck_assert_uint_eq((uint32_t)th[8] << 24 | (uint32_t)th[9] << 16 | th[10] << 8 | th[11],
			  1000 + 1 + 10);
	ck_assert_uint_eq(th[12], 5 << 4);
	ck_assert_uint_eq(th[13], 0x14);
	ck_assert_uint_eq(th[14] | th[15] | th[18] | th[19], 0);

	tcp_pkt(&p, 0x10, 1000, 77777, 0);
	ck_assert_int_eq(run(&p, RST, out, &n), TC_ACT_REDIRECT);
	th = out + MH_L2_LEN + 40;
	ck_assert_uint_eq((uint32_t)th[4] << 24 | (uint32_t)th[5] << 16 | th[6] << 8 | th[7],
			  77777);
	ck_assert_mem_eq(th + 8, "\0\0\0\0", 4);
	ck_assert_uint_eq(th[13], 0x04);
}
END_TEST

/* When the kernel sends nothing, the packet is dropped. */
START_TEST(test_no_reply)
{
	struct mh_pkt p;
	uint8_t out[2048];
	uint32_t n;

	udp_pkt(&p, 4, "fd00::2");
	p.frame[MH_L2_LEN + 48] ^= 1; /* bad UDP checksum */
	ck_assert_int_eq(run(&p, 4, out, &n), TC_ACT_SHOT);
	udp_pkt(&p, 4, "fd00::2");
	p.frame[MH_L2_LEN + 46] = p.frame[MH_L2_LEN + 47] = 0; /* no UDP checksum: not verified */
	ck_assert_int_eq(run(&p, 4, out, &n), TC_ACT_REDIRECT);
	udp_pkt(&p, 4, "ff02::1"); /* multicast destination */
	ck_assert_int_eq(run(&p, 4, out, &n), TC_ACT_SHOT);
	udp_pkt(&p, 4, "fd00::2"); /* a non-first fragment */
	p.pkt.fragoff_h = 1;
	ck_assert_int_eq(run(&p, 4, out, &n), TC_ACT_SHOT);
	udp_pkt(&p, 4, "fd00::2"); /* not PACKET_HOST */
	mh_set_macs(&p, peer_mac, NULL);
	ck_assert_int_eq(run(&p, 4, out, &n), TC_ACT_SHOT);
	icmp6_pkt(&p, 1); /* an ICMPv6 error */
	ck_assert_int_eq(run(&p, 4, out, &n), TC_ACT_SHOT);
	icmp6_pkt(&p, 128); /* an echo request is answered */
	ck_assert_int_eq(run(&p, 4, out, &n), TC_ACT_REDIRECT);
	mh_ipv6(&p, 59, "fd00::1", "fd00::2", NULL, 0, 0); /* no next header */
	mh_set_macs(&p, host_mac, peer_mac);
	ck_assert_int_eq(run(&p, 4, out, &n), TC_ACT_SHOT);

	tcp_pkt(&p, 0x04, 1000, 0, 0); /* no RST for a RST */
	ck_assert_int_eq(run(&p, RST, out, &n), TC_ACT_SHOT);
	tcp_pkt(&p, 0x02, 1000, 0, 0); /* bad TCP checksum: no RST, no ICMPv6 */
	p.frame[MH_L2_LEN + 44] ^= 0x10;
	ck_assert_int_eq(run(&p, RST, out, &n), TC_ACT_SHOT);
	ck_assert_int_eq(run(&p, 4, out, &n), TC_ACT_SHOT);
	udp_pkt(&p, 4, "fd00::2"); /* a RST only for TCP */
	ck_assert_int_eq(run(&p, RST, out, &n), TC_ACT_SHOT);
}
END_TEST

START_TEST(test_xdp_refused)
{
	struct mh_rule r;
	struct ip6t_reject_info info = {.with = IP6T_ICMP6_PORT_UNREACH};
	struct bf_builder *b = NULL;
	struct bf_emit_ctx ctx = {.prog_ctx = BF_CTX_XDP, .family = NFPROTO_IPV6, .entry = &r.e};

	mh_rule_init(&r);
	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	ctx.b = b;
	ctx.drop = bf_label_new(b);
	ck_assert_int_eq(bf_target_reject6.emit(&ctx, &info), -EOPNOTSUPP);
	bf_builder_free(b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("target_reject6");
	TCase *tc = tcase_create("reject6");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_unreach);
	tcase_add_test(tc, test_unreach_padding);
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
