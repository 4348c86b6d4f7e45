// SPDX-License-Identifier: GPL-2.0-only
/*
 * The LOG target: checkentry and registration (xt_LOG.c), the record the datapath writes to the
 * ring buffer (BPF_PROG_TEST_RUN on a real frame), the drop counter when the ring buffer is full,
 * and XT_CONTINUE. The line format against the kernel is tests/e2e/log.sh.
 */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/netfilter/xt_LOG.h>

#include "codegen/bpf_insn.h"
#include "codegen/cg_priv.h"
#include "codegen/registry.h"
#include "codegen/target/targets.h"
#include "daemon/logsink.h"

static int ctx_fd = -1, rb_fd = -1, drops_fd = -1;
static struct bf_log_rec got;
static unsigned int n_got;

static int on_rec(void *ctx, void *data, size_t size)
{
	if (size >= sizeof(got))
		memcpy(&got, data, sizeof(got));
	n_got++;
	return 0;
}

static void setup(void)
{
	ctx_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "bf_ctx", 4, sizeof(struct bf_pkt), 1,
				NULL);
	rb_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "bf_log_rb", 0, 0, 4096, NULL);
	drops_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "bf_log_drops", 4, 8, 1, NULL);
	ck_assert_int_ge(ctx_fd, 0);
	ck_assert_int_ge(rb_fd, 0);
	ck_assert_int_ge(drops_fd, 0);
}

static void teardown(void)
{
	close(ctx_fd);
	close(rb_fd);
	close(drops_fd);
}

/* prologue; LOG; cont: return 7 (XT_CONTINUE reached). */
static int load_log_family(const struct xt_log_info *info, int family)
{
	struct bf_builder *b = NULL;
	struct mh_rule r;
	struct bf_emit_ctx c = {.family = family, .prog_ctx = BF_CTX_TC, .entry = &r.e};
	int fds[BF_MAP_SLOT_MAX], fd;
	bf_label fail;

	mh_rule_init(&r);
	ck_assert_int_eq(bf_builder_new(&b, NULL), 0);
	fail = bf_label_new(b);
	c.b = b;
	c.cont = bf_label_new(b);
	c.drop = bf_label_new(b);
	bf_emit_prologue(b, fail);
	ck_assert_int_eq(
		(family == NFPROTO_IPV6 ? &bf_target_log6 : &bf_target_log)->emit(&c, info), 0);
	bf_label_bind(b, c.cont);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, 7));
	bf_emit(b, BF_EXIT());
	bf_label_bind(b, fail);
	bf_label_bind(b, c.drop);
	bf_emit(b, BF_MOV64_IMM(BPF_REG_0, 2));
	bf_emit(b, BF_EXIT());
	for (int i = 0; i < BF_MAP_SLOT_MAX; i++)
		fds[i] = -1;
	fds[BF_MAP_CTX] = ctx_fd;
	fds[BF_MAP_LOG_RB] = rb_fd;
	fds[BF_MAP_LOG_DROPS] = drops_fd;
	fd = bf_builder_load(b, NULL, BF_CTX_TC, "t_log", fds);
	bf_builder_free(b);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static int run(int fd, struct mh_pkt *p)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t vsz = (sizeof(struct bf_pkt) + 7) & ~(size_t)7;
	uint8_t vals[vsz * (size_t)ncpu], out[512];
	struct __sk_buff skb = {.mark = 0x2a};
	uint32_t key = 0;
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	for (int i = 0; i < ncpu; i++)
		memcpy(vals + (size_t)i * vsz, &p->pkt, sizeof(p->pkt));
	ck_assert_int_eq(bpf_map_update_elem(ctx_fd, &key, vals, BPF_ANY), 0);
	opts.data_in = p->frame;
	opts.data_size_in = p->frame_len;
	opts.data_out = out;
	opts.data_size_out = sizeof(out);
	opts.ctx_in = &skb;
	opts.ctx_size_in = sizeof(skb);
	ck_assert_int_eq(bpf_prog_test_run_opts(fd, &opts), 0);
	return (int)opts.retval;
}

START_TEST(test_check)
{
	struct mh_rule r;
	struct bf_check_ctx c = {.table = "filter", .family = NFPROTO_IPV4, .entry = &r.e};
	struct xt_log_info info = {.level = 7};

	mh_rule_init(&r);
	strcpy(info.prefix, "x: ");
	ck_assert_int_eq(bf_target_log.check(&c, &info), 0);
	info.level = 8;
	ck_assert_int_eq(bf_target_log.check(&c, &info), -EINVAL);
	info.level = 0;
	memset(info.prefix, 'a', sizeof(info.prefix));
	ck_assert_int_eq(bf_target_log.check(&c, &info), -EINVAL);
	info.prefix[sizeof(info.prefix) - 1] = '\0';
	ck_assert_int_eq(bf_target_log.check(&c, &info), 0);
	c.family = NFPROTO_IPV6;
	ck_assert_int_eq(bf_target_log6.check(&c, &info), 0);
}
END_TEST

START_TEST(test_registration)
{
	const struct bf_ext *e = NULL;

	ck_assert_int_eq(bf_ext_find(BF_EXT_TARGET, NFPROTO_IPV4, "LOG", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_target_log);
	ck_assert_uint_eq(e->size, sizeof(struct xt_log_info));
	ck_assert_ptr_null(e->table);
	ck_assert_uint_eq(e->hooks, 0);
	ck_assert_int_eq(bf_ext_find(BF_EXT_TARGET, NFPROTO_IPV6, "LOG", 0, &e), 0);
	ck_assert_ptr_eq(e, &bf_target_log6);
	ck_assert_uint_eq(e->enforced_family, 0); /* enforced for IPv6 too */
	ck_assert_int_eq(bf_ext_revision(BF_EXT_TARGET, NFPROTO_IPV4, "LOG", 1), -EPROTONOSUPPORT);
}
END_TEST

static int load_log(const struct xt_log_info *info)
{
	return load_log_family(info, NFPROTO_IPV4);
}

/* The record holds what the kernel's line is made of; then the next rule runs. */
START_TEST(test_record)
{
	struct xt_log_info info = {.level = 5, .logflags = XT_LOG_TCPSEQ | XT_LOG_IPOPT};
	struct ring_buffer *rb = ring_buffer__new(rb_fd, on_rec, NULL, NULL);
	struct mh_pkt p;
	uint8_t l4[40];
	uint32_t n = mh_tcphdr(l4, 1234, 80, 0x02, 20, NULL, 0);
	int fd;
	char line[1024];

	strcpy(info.prefix, "pfx: ");
	fd = load_log(&info);
	mh_ipv4(&p, IPPROTO_TCP, "10.0.0.1", "10.0.0.2", 0, l4, n, n);
	mh_set_ifaces(&p, "eth0", NULL);
	p.pkt.iif = 3;
	p.pkt.hook = NF_INET_LOCAL_IN;
	n_got = 0;
	ck_assert_int_eq(run(fd, &p), 7);
	ck_assert_int_eq(ring_buffer__consume(rb), 1);
	ck_assert_uint_eq(n_got, 1);
	ck_assert_uint_eq(got.family, NFPROTO_IPV4);
	ck_assert_uint_eq(got.hook, NF_INET_LOCAL_IN);
	ck_assert_uint_eq(got.level, 5);
	ck_assert_uint_eq(got.logflags, info.logflags);
	ck_assert_str_eq(got.prefix, "pfx: ");
	ck_assert_uint_eq(got.iif, 3);
	ck_assert_str_eq((const char *)got.iifname, "eth0");
	ck_assert_uint_eq(got.pkt_len, 40);
	ck_assert_uint_eq(got.cap_len, 40);
	ck_assert_uint_eq(got.mac_len, 14);
	ck_assert_uint_eq(got.mark, 0x2a);
	ck_assert_mem_eq(got.mac, p.frame, 14);
	ck_assert_mem_eq(got.data, p.frame + 14, 40);
	ck_assert_uint_eq(got.info & BF_LOG_REC_UID, 0);

	/* The formatter reads it as dump_ipv4_packet reads an skb */
	bfd_logsink_format(&got, -1, line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, "pfx: IN=eth0 OUT= MAC=aa:aa:aa:aa:aa:aa:bb:bb:"));
	ck_assert_ptr_nonnull(strstr(line, "SRC=10.0.0.1 DST=10.0.0.2 LEN=40 "));
	ck_assert_ptr_nonnull(strstr(line, "PROTO=TCP SPT=1234 DPT=80 SEQ=0 ACK=0 "));
	ck_assert_ptr_nonnull(strstr(line, " SYN URGP=0 MARK=0x2a "));
	ring_buffer__free(rb);
	close(fd);
}
END_TEST

/* An IPv6 record: its family picks dump_ipv6_packet (the line against the kernel's:
 * tests/e2e/log6.sh). A first fragment of a UDP datagram, with --log-ip-options. */
START_TEST(test_record6)
{
	struct xt_log_info info = {.level = 4, .logflags = XT_LOG_IPOPT};
	struct ring_buffer *rb = ring_buffer__new(rb_fd, on_rec, NULL, NULL);
	/* fragment header (next UDP, offset 0, MF, id 0x12345678), then a UDP header */
	uint8_t d[16] = {17, 0, 0, 1, 0x12, 0x34, 0x56, 0x78, 0x04, 0xd2, 0, 53, 0, 100, 0, 0};
	struct mh_pkt p;
	char line[1024];
	int fd;

	strcpy(info.prefix, "six: ");
	fd = load_log_family(&info, NFPROTO_IPV6);
	mh_ipv6(&p, 44, "fd00::1", "fd00::2", d, 16, 16);
	p.pkt.hook = NF_INET_FORWARD;
	p.pkt.iif = 3;
	p.pkt.oif = 4;
	mh_set_ifaces(&p, "eth0", "eth1");
	n_got = 0;
	ck_assert_int_eq(run(fd, &p), 7);
	ck_assert_int_eq(ring_buffer__consume(rb), 1);
	ck_assert_uint_eq(got.family, NFPROTO_IPV6);
	ck_assert_uint_eq(got.pkt_len, 56);
	ck_assert_uint_eq(got.cap_len, 56);
	ck_assert_mem_eq(got.data, p.frame + 14, 56);
	bfd_logsink_format(&got, -1, line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, "six: IN=eth0 OUT=eth1 MAC=aa:aa:"));
	/* %pI6: every group in full; FORWARD: the hop limit after ip6_forward's decrement */
	ck_assert_ptr_nonnull(strstr(line, " SRC=fd00:0000:0000:0000:0000:0000:0000:0001 "
					   "DST=fd00:0000:0000:0000:0000:0000:0000:0002 "
					   "LEN=56 TC=0 HOPLIMIT=63 FLOWLBL=0 "));
	ck_assert_ptr_nonnull(strstr(line, "OPT ( FRAG:0 INCOMPLETE ID:12345678 ) PROTO=UDP "
					   "SPT=1234 DPT=53 LEN=100 MARK=0x2a "));
	ring_buffer__free(rb);
	close(fd);
}
END_TEST

/* A full ring buffer: the record is dropped, counted, and the packet goes on. */
/* --log-uid: the kernel's skb->sk at the hook (nf_log_dump_sk_uid_gid) */
static void uid_case(int fd, struct mh_pkt *p, uint32_t hook, bool want, uint32_t uid, uint32_t gid)
{
	struct ring_buffer *rb = ring_buffer__new(rb_fd, on_rec, NULL, NULL);
	char line[1024], exp[64];

	p->pkt.hook = hook;
	n_got = 0;
	ck_assert_int_eq(run(fd, p), 7);
	ck_assert_int_eq(ring_buffer__consume(rb), 1);
	ck_assert_uint_eq(n_got, 1);
	bfd_logsink_format(&got, -1, line, sizeof(line));
	if (!want) {
		ck_assert_uint_eq(got.info & BF_LOG_REC_UID, 0);
		ck_assert_ptr_null(strstr(line, "UID="));
	} else {
		ck_assert_uint_eq(got.info & BF_LOG_REC_UID, BF_LOG_REC_UID);
		snprintf(exp, sizeof(exp), " UID=%u GID=%u ", uid, gid);
		ck_assert_ptr_nonnull(strstr(line, exp));
	}
	ring_buffer__free(rb);
}

START_TEST(test_uid)
{
	static const uint8_t zero_mac[6], other[6] = {2, 0, 0, 0, 0, 1};
	struct xt_log_info info = {.logflags = XT_LOG_UID};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	uint16_t lport, cport;
	struct mh_pkt p;
	uint8_t l4[20];
	int fd, lfd, cfd;

	fd = load_log(&info);
	/* a connected TCP socket of this process on 127.0.0.1 (this namespace) */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_ge(cfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	lport = ntohs(a.sin_port);
	ck_assert_int_eq(connect(cfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(cfd, (struct sockaddr *)&a, &alen), 0);
	cport = ntohs(a.sin_port);

	/* A packet of the listener's side to the connected socket, for this host (the test run's
	 * device is lo, whose MAC is zero: PACKET_HOST), as if from another interface. */
	mh_ipv4(&p, IPPROTO_TCP, "127.0.0.1", "127.0.0.1", 0, l4,
		mh_tcphdr(l4, lport, cport, 0x10, 20, NULL, 0), 20);
	mh_set_macs(&p, zero_mac, other);
	mh_fill(&p);
	mh_set_ifaces(&p, "eth0", NULL);
	p.pkt.iif = 3;
	/* INPUT: early demux finds the established socket; its file's fsuid/fsgid */
	uid_case(fd, &p, NF_INET_LOCAL_IN, true, (uint32_t)geteuid(), (uint32_t)getegid());
	/* FORWARD: never a socket */
	uid_case(fd, &p, NF_INET_FORWARD, false, 0, 0);
	/* INPUT through lo: the route is already there, no early demux */
	p.pkt.iif = 1;
	uid_case(fd, &p, NF_INET_LOCAL_IN, false, 0, 0);
	p.pkt.iif = 3;
	/* INPUT to the listener: not in the established table */
	mh_ipv4(&p, IPPROTO_TCP, "127.0.0.1", "127.0.0.1", 0, l4,
		mh_tcphdr(l4, (uint16_t)(cport + 1), lport, 0x02, 20, NULL, 0), 20);
	mh_set_macs(&p, zero_mac, other);
	mh_fill(&p);
	uid_case(fd, &p, NF_INET_LOCAL_IN, false, 0, 0);
	/* INPUT, the established socket again, but not for this host (PACKET_OTHERHOST) */
	mh_ipv4(&p, IPPROTO_TCP, "127.0.0.1", "127.0.0.1", 0, l4,
		mh_tcphdr(l4, lport, cport, 0x10, 20, NULL, 0), 20);
	mh_fill(&p);
	uid_case(fd, &p, NF_INET_LOCAL_IN, false, 0, 0);
	/* OUTPUT: the test run's dummy skb->sk, a full socket without a struct socket */
	uid_case(fd, &p, NF_INET_LOCAL_OUT, false, 0, 0);
	close(cfd);
	close(lfd);
	close(fd);
}
END_TEST

/* A fake namespace for the option rewrite: every spec_dst is 192.0.2.9, 198.51.100.1 is local. */
static int fake_spec_dst(void *ctx, const struct bf_log_rec *r, const uint8_t *iph, uint8_t out[4])
{
	static const uint8_t a[4] = {192, 0, 2, 9};

	(void)ctx;
	(void)r;
	(void)iph;
	memcpy(out, a, 4);
	return 0;
}

static int fake_addr_unicast(void *ctx, const uint8_t addr[4])
{
	static const uint8_t local[4] = {198, 51, 100, 1};

	(void)ctx;
	return memcmp(addr, local, 4) != 0;
}

static uint32_t fake_timestamp(void *ctx)
{
	(void)ctx;
	return 0x01020304;
}

/* The line of a record whose IP header carries `opt` (olen bytes, a multiple of 4), at `hook` */
static void opt_line(uint32_t hook, const uint8_t *opt, uint32_t olen, char *line, size_t len)
{
	static const struct bfd_logsink_env env = {.spec_dst = fake_spec_dst,
						   .addr_unicast = fake_addr_unicast,
						   .timestamp = fake_timestamp};
	struct bf_log_rec r;
	uint8_t *ih = r.data;

	memset(&r, 0, sizeof(r));
	r.family = NFPROTO_IPV4;
	r.hook = (uint8_t)hook;
	r.logflags = XT_LOG_IPOPT;
	ih[0] = (uint8_t)(0x40 | (20 + olen) / 4);
	ih[3] = (uint8_t)(20 + olen);
	ih[8] = 64;
	ih[9] = 253;
	ih[12] = 10;
	ih[15] = 2;
	ih[16] = 10;
	ih[19] = 1;
	memcpy(ih + 20, opt, olen);
	r.pkt_len = r.cap_len = (uint16_t)(20 + olen);
	bfd_logsink_format_env(&r, -1, &env, line, len);
}

START_TEST(test_ipopt_rcv)
{
	/* record route with two slots, pointer at the first */
	static const uint8_t rr[12] = {7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	/* record route, full (pointer past the end) */
	static const uint8_t rr_full[8] = {1, 7, 7, 8, 10, 0, 0, 1};
	/* timestamps only, two slots; then the same full (overflow count 2 -> 3) */
	static const uint8_t ts[12] = {0x44, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t ts_full[12] = {0x44, 12, 13, 0x20, 0, 0, 0, 1, 0, 0, 0, 2};
	/* addresses and timestamps */
	static const uint8_t ts_addr[12] = {0x44, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0};
	/* prespecified: another host (left alone), then this host */
	static const uint8_t ts_pre1[12] = {0x44, 12, 5, 3, 203, 0, 113, 1, 0, 0, 0, 0};
	static const uint8_t ts_pre2[12] = {0x44, 12, 5, 3, 198, 51, 100, 1, 0, 0, 0, 0};
	/* bytes after the end of the list become END */
	static const uint8_t eol[4] = {1, 0, 5, 6};
	char line[1024];

	opt_line(NF_INET_LOCAL_IN, rr, sizeof(rr), line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, " OPT (070B08C00002090000000000) "));
	opt_line(NF_INET_FORWARD, rr, sizeof(rr), line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, " OPT (070B08C00002090000000000) "));
	/* OUTPUT: as the packet is (ip_options_compile does not rewrite a local packet's) */
	opt_line(NF_INET_LOCAL_OUT, rr, sizeof(rr), line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, " OPT (070B04000000000000000000) "));
	opt_line(NF_INET_LOCAL_IN, rr_full, sizeof(rr_full), line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, " OPT (010707080A000001) "));
	opt_line(NF_INET_LOCAL_IN, ts, sizeof(ts), line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, " OPT (440C09000102030400000000) "));
	opt_line(NF_INET_LOCAL_IN, ts_full, sizeof(ts_full), line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, " OPT (440C0D300000000100000002) "));
	opt_line(NF_INET_LOCAL_IN, ts_addr, sizeof(ts_addr), line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, " OPT (440C0D01C000020901020304) "));
	opt_line(NF_INET_LOCAL_IN, ts_pre1, sizeof(ts_pre1), line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, " OPT (440C0503CB00710100000000) "));
	opt_line(NF_INET_LOCAL_IN, ts_pre2, sizeof(ts_pre2), line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, " OPT (440C0D03C633640101020304) "));
	opt_line(NF_INET_LOCAL_IN, eol, sizeof(eol), line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, " OPT (01000000) "));
}
END_TEST

START_TEST(test_full)
{
	struct xt_log_info info = {.level = 4};
	struct mh_pkt p;
	uint8_t l4[8] = {0};
	uint64_t drops[1024] = {0}, sum = 0;
	uint32_t key = 0;
	int fd, ncpu = libbpf_num_possible_cpus();

	fd = load_log(&info);
	mh_ipv4(&p, IPPROTO_UDP, "10.0.0.1", "10.0.0.2", 0, l4, 8, 8);
	/* a 4 KiB ring buffer never fills completely (the producer stays within size - 1): it
	 * holds 7 records of 504 bytes + 8-byte headers; the rest are dropped */
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(run(fd, &p), 7);
	ck_assert_int_eq(bpf_map_lookup_elem(drops_fd, &key, drops), 0);
	for (int i = 0; i < ncpu && i < 1024; i++)
		sum += drops[i];
	ck_assert_uint_eq(sum, 10 - 4095 / (sizeof(struct bf_log_rec) + 8));
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("target_log");
	TCase *tc = tcase_create("log");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_check);
	tcase_add_test(tc, test_registration);
	tcase_add_test(tc, test_record);
	tcase_add_test(tc, test_record6);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_uid);
	tcase_add_test(tc, test_ipopt_rcv);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
