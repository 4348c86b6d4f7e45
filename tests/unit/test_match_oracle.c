// SPDX-License-Identifier: GPL-2.0-only
/*
 * Differential test against the kernel. In a private network namespace (unshare in the forked
 * test process: nothing touches the root namespace and nothing outlives the test), each rule is
 * installed with iptables-legacy in OUTPUT, followed by a catch-all ACCEPT. Each packet is sent
 * through a raw socket (LOCAL_OUT runs the filter table); the kernel's verdict is read from the
 * counters: rule 1 counted → match, rule 2 counted → miss, neither → hotdrop. The very rule the
 * kernel stores (read back with IPT_SO_GET_ENTRIES) is then compiled with bf_emit_ipmatch and the
 * registry's emitters and run on the same bytes; both answers must agree.
 */
#include "match_harness.h"

#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netfilter_ipv4/ip_tables.h>

#include <bpfilter/cleanup.h>

#include "codegen/ext.h"

#define DADDR "127.0.0.2"

static int raw_fd = -1;
static uint8_t blob[1 << 16];
static struct mh_rule rule;
static uint32_t rng = 12345;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	ck_assert_msg(r == 0, "command failed (%d): %s", r, cmd);
}

static void leave_netns(void)
{
	char lock[64];

	snprintf(lock, sizeof(lock), "/tmp/bft-match-%d.lock", getpid());
	unlink(lock);
}

/* A private network namespace for this (forked) test process and the commands it runs; it goes
 * away with the process. The lock file is removed at exit, also when an assertion fails. */
static void enter_netns(void)
{
	char lock[64];

	atexit(leave_netns);
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	snprintf(lock, sizeof(lock), "/tmp/bft-match-%d.lock", getpid());
	setenv("XTABLES_LOCKFILE", lock, 1);
	sh("ip link set lo up");
	raw_fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	ck_assert_int_ge(raw_fd, 0);
}

static struct ipt_entry *entry_at(uint32_t off)
{
	return (struct ipt_entry *)(blob + offsetof(struct ipt_get_entries, entrytable) + off);
}

/* Read the filter table: *first is OUTPUT's first entry offset. */
static void read_table(uint32_t *first)
{
	struct ipt_getinfo info = {.name = "filter"};
	struct ipt_get_entries *ge = (struct ipt_get_entries *)blob;
	socklen_t len = sizeof(info);

	ck_assert_int_eq(getsockopt(raw_fd, IPPROTO_IP, IPT_SO_GET_INFO, &info, &len), 0);
	ck_assert_uint_le(sizeof(*ge) + info.size, sizeof(blob));
	memset(ge, 0, sizeof(*ge));
	strcpy(ge->name, "filter");
	ge->size = info.size;
	len = (socklen_t)(sizeof(*ge) + info.size);
	ck_assert_int_eq(getsockopt(raw_fd, IPPROTO_IP, IPT_SO_GET_ENTRIES, ge, &len), 0);
	*first = info.hook_entry[NF_INET_LOCAL_OUT];
}

static void counters(uint64_t *c1, uint64_t *c2)
{
	uint32_t off;
	struct ipt_entry *e;

	read_table(&off);
	e = entry_at(off);
	*c1 = e->counters.pcnt;
	*c2 = entry_at(off + e->next_offset)->counters.pcnt;
}

/* Install `spec` and build the harness rule from what the kernel stored. */
static void install(const char *spec)
{
	struct ipt_entry *e;
	uint32_t off;

	sh("iptables-legacy -F OUTPUT && iptables-legacy -A OUTPUT %s -j ACCEPT && "
	   "iptables-legacy -A OUTPUT -j ACCEPT",
	   spec);
	read_table(&off);
	e = entry_at(off);
	mh_rule_init(&rule);
	rule.ip.v4 = e->ip;
	for (uint32_t i = sizeof(*e); i < e->target_offset;) {
		const struct xt_entry_match *m = (const void *)((uint8_t *)e + i);
		const struct bf_ext *ext = NULL;

		ck_assert_int_eq(bf_ext_find(BF_EXT_MATCH, NFPROTO_IPV4, m->u.user.name,
					     m->u.user.revision, &ext),
				 0);
		mh_rule_add(&rule, ext, m->data, (uint16_t)(m->u.match_size - sizeof(*m)));
		i += m->u.match_size;
	}
}

/* The kernel's answer for one packet (whole IP packet = frame after L2). */
static int kernel_verdict(const struct mh_pkt *p)
{
	struct sockaddr_in to = {.sin_family = AF_INET};
	uint64_t a0, b0, a1, b1;
	ssize_t r;

	inet_pton(AF_INET, DADDR, &to.sin_addr);
	/* the packet's mark comes from the socket (SO_MARK), as for any local sender */
	ck_assert_int_eq(setsockopt(raw_fd, SOL_SOCKET, SO_MARK, &p->skb_mark, sizeof(p->skb_mark)),
			 0);
	counters(&a0, &b0);
	r = sendto(raw_fd, p->frame + MH_L2_LEN, p->frame_len - MH_L2_LEN, 0,
		   (struct sockaddr *)&to, sizeof(to));
	ck_assert_msg(r >= 0 || errno == EPERM, "sendto: %s", strerror(errno));
	counters(&a1, &b1);
	if (a1 != a0)
		return MH_MATCH;
	if (b1 != b0)
		return MH_MISS;
	ck_assert_msg(r < 0, "packet sent but not counted");
	return MH_HOTDROP;
}

static unsigned int n_compared, n_by_verdict[3];

static void compare(int fd, const char *spec, struct mh_pkt *p)
{
	int k, ours;

	/* what the dispatcher gives OUTPUT: no in interface, out = lo */
	p->pkt.hook = NF_INET_LOCAL_OUT;
	mh_set_ifaces(p, NULL, "lo");
	k = kernel_verdict(p);
	ours = mh_exec(fd, BF_CTX_TC, p);
	if (k != ours) {
		fprintf(stderr, "MISMATCH rule '%s': kernel %d, bpfilter %d; IP packet:", spec, k,
			ours);
		for (uint32_t i = MH_L2_LEN; i < p->frame_len; i++)
			fprintf(stderr, " %02x", p->frame[i]);
		fputc('\n', stderr);
	}
	ck_assert_int_eq(ours, k);
	n_compared++;
	n_by_verdict[k]++;
}

/* Packet generators. */
static void gen_tcp(struct mh_pkt *p, unsigned int i)
{
	uint8_t l4[60];
	uint8_t doff = (uint8_t)(20 + 4 * (rnd() % 11));
	uint32_t len;
	uint16_t frag = 0;

	for (unsigned int j = 0; j < sizeof(l4); j++)
		l4[j] = (uint8_t)rnd();
	/* option bytes skewed towards small kinds and lengths so walks are interesting */
	for (unsigned int j = 20; j < sizeof(l4); j++) {
		if (rnd() % 2)
			l4[j] = (uint8_t)(rnd() % 10);
	}
	l4[0] = 0x03;
	l4[1] = (uint8_t)(rnd() % 3 ? 0xe8 : 0x50); /* source 1000 or 848 */
	l4[2] = 0;
	l4[3] = (uint8_t)(rnd() % 2 ? 80 : 443);
	l4[12] = (uint8_t)((doff / 4) << 4);
	if (i % 7 == 0)
		l4[12] = (uint8_t)((rnd() % 5) << 4); /* doff < 5 */
	l4[13] =
		(uint8_t)(rnd() % 4 ? (uint8_t[]){0x02, 0x12, 0x10, 0x11, 0x04}[rnd() % 5] : rnd());
	len = doff;
	switch (i % 9) {
	case 0:
		len = rnd() % 20; /* short header */
		break;
	case 1:
		len = 20 + rnd() % 40; /* maybe short options */
		break;
	case 2:
		frag = (uint16_t)(rnd() % 4); /* fragment offsets 0..3 */
		break;
	case 3:
		frag = 0x2000; /* first fragment */
		break;
	}
	if (len > sizeof(l4))
		len = sizeof(l4);
	mh_ipv4(p, IPPROTO_TCP, i % 2 ? "10.0.0.1" : "11.0.0.1", DADDR, frag, l4, len, len);
}

static void gen_udp(struct mh_pkt *p, unsigned int i)
{
	uint8_t l4[16];
	uint32_t len = i % 5 == 0 ? rnd() % 9 : 8 + rnd() % 8;
	uint16_t sport = (uint16_t)(rnd() % 3 ? rnd() % 2048 : rnd());
	uint16_t dport = (uint16_t)(rnd() % 2 ? 53 : rnd());
	uint16_t v;

	for (unsigned int j = 0; j < sizeof(l4); j++)
		l4[j] = (uint8_t)rnd();
	v = htons(sport);
	memcpy(l4, &v, 2);
	v = htons(dport);
	memcpy(l4 + 2, &v, 2);
	mh_ipv4(p, IPPROTO_UDP, "10.0.0.1", DADDR, i % 6 == 1 ? (uint16_t)(rnd() % 3) : 0, l4, len,
		len);
}

static void gen_icmp(struct mh_pkt *p, unsigned int i)
{
	uint8_t l4[16];
	uint32_t len = i % 5 == 0 ? rnd() % 9 : 8 + rnd() % 8;

	for (unsigned int j = 0; j < sizeof(l4); j++)
		l4[j] = (uint8_t)rnd();
	l4[0] = (uint8_t[]){0, 3, 8, 11, 255, 13}[rnd() % 6];
	l4[1] = (uint8_t)(rnd() % 2 ? rnd() % 5 : rnd());
	mh_ipv4(p, IPPROTO_ICMP, "10.0.0.1", DADDR, i % 6 == 1 ? (uint16_t)(rnd() % 3) : 0, l4, len,
		len);
}

static void gen_any(struct mh_pkt *p, unsigned int i)
{
	switch (i % 4) {
	case 0:
		gen_tcp(p, i);
		break;
	case 1:
		gen_udp(p, i);
		break;
	case 2:
		gen_icmp(p, i);
		break;
	default: {
		uint8_t l4[8] = {1, 2, 3, 4, 5, 6, 7, 8};

		mh_ipv4(p, 47, (i / 4) % 2 ? "10.1.2.3" : "192.168.0.1", DADDR,
			(uint16_t)(rnd() % 2 ? 0x2000 | (rnd() % 3) : 0), l4, 8, 8);
	}
	}
}

static void run_spec(const char *spec, void (*gen)(struct mh_pkt *, unsigned int), unsigned int n)
{
	_cleanup_close_ int fd = -1;
	struct mh_pkt p;

	install(spec);
	ck_assert_int_eq(mh_load(NFPROTO_IPV4, BF_CTX_TC, &rule, true, &fd, NULL), 0);
	for (unsigned int i = 0; i < n; i++) {
		gen(&p, i);
		compare(fd, spec, &p);
	}
}

START_TEST(test_oracle_tcp)
{
	static const char *const specs[] = {
		"-p tcp",
		"-p tcp --tcp-option 2",
		"-p tcp ! --tcp-option 2",
		"-p tcp --tcp-option 1",
		"-p tcp --tcp-option 8",
		"-p tcp --tcp-option 255",
		"-p tcp --syn",
		"-p tcp ! --syn",
		"-p tcp --tcp-flags ALL NONE",
		"-p tcp --tcp-flags SYN,ACK ACK",
		"-p tcp --sport 900:2000",
		"-p tcp ! --sport 1000",
		"-p tcp --dport 80",
		"-p tcp ! --dport 1:442",
		"-p tcp --sport 1000 --dport 443 --tcp-option 3",
		"-p tcp -m tcp ! --tcp-option 4 -m comment --comment hi",
	};

	enter_netns();
	for (unsigned int s = 0; s < BF_ARRAY_SIZE(specs); s++)
		run_spec(specs[s], gen_tcp, 120);
	fprintf(stderr, "tcp: %u packets compared (match %u, miss %u, hotdrop %u)\n", n_compared,
		n_by_verdict[MH_MATCH], n_by_verdict[MH_MISS], n_by_verdict[MH_HOTDROP]);
	ck_assert_uint_gt(n_by_verdict[MH_HOTDROP], 0);
	ck_assert_uint_gt(n_by_verdict[MH_MATCH], 0);
	ck_assert_uint_gt(n_by_verdict[MH_MISS], 0);
}
END_TEST

START_TEST(test_oracle_udp_icmp)
{
	static const char *const udp_specs[] = {
		"-p udp",
		"-p udp --dport 53",
		"-p udp ! --sport 1:1023",
		"-p udp --sport 1024: ! --dport 53",
	};
	static const char *const icmp_specs[] = {
		"-p icmp",
		"-p icmp --icmp-type any",
		"-p icmp ! --icmp-type any",
		"-p icmp --icmp-type echo-request",
		"-p icmp ! --icmp-type 3/3",
		"-p icmp --icmp-type 3",
		"-p icmp --icmp-type 255",
	};

	enter_netns();
	for (unsigned int s = 0; s < BF_ARRAY_SIZE(udp_specs); s++)
		run_spec(udp_specs[s], gen_udp, 80);
	for (unsigned int s = 0; s < BF_ARRAY_SIZE(icmp_specs); s++)
		run_spec(icmp_specs[s], gen_icmp, 80);
	fprintf(stderr, "udp/icmp: %u packets compared (match %u, miss %u, hotdrop %u)\n",
		n_compared, n_by_verdict[MH_MATCH], n_by_verdict[MH_MISS],
		n_by_verdict[MH_HOTDROP]);
	ck_assert_uint_gt(n_by_verdict[MH_HOTDROP], 0);
}
END_TEST

START_TEST(test_oracle_ip)
{
	static const char *const specs[] = {
		"-f",
		"! -f",
		"-s 10.0.0.0/8",
		"! -s 10.0.0.0/8",
		"-s 10.1.2.3/255.0.255.0",
		"-d 127.0.0.2",
		"! -d 127.0.0.0/24",
		"-o lo",
		"-o l+",
		"! -o lo",
		"-o lo0",
		"-o eth+",
		"! -o eth+",
		"-p 47",
		"! -p tcp",
		"-p tcp",
		"-p udp -f",
		"-m comment --comment x",
		"-s 10.0.0.0/8 -p icmp ! -f -o lo",
	};

	enter_netns();
	for (unsigned int s = 0; s < BF_ARRAY_SIZE(specs); s++)
		run_spec(specs[s], gen_any, 40);
	fprintf(stderr, "ip: %u packets compared (match %u, miss %u, hotdrop %u)\n", n_compared,
		n_by_verdict[MH_MATCH], n_by_verdict[MH_MISS], n_by_verdict[MH_HOTDROP]);
}
END_TEST

/*
 * Packets for the stateless matches: a protocol with ports (or not), any length including short
 * transport headers, fragments, varied TOS, TTL, source address, mark, and TCP options with an
 * MSS option now and then. The destination MAC is the loopback device's (00:..:00), so
 * BPF_PROG_TEST_RUN's eth_type_trans gives pkt_type HOST, as a locally generated skb has at
 * LOCAL_OUT and at TC egress. No local source address: the kernel's ICMP errors in reply would
 * go through OUTPUT too and be counted.
 */
static void gen_misc(struct mh_pkt *p, unsigned int i)
{
	static const uint8_t protos[] = {
		IPPROTO_TCP,  IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_DCCP, IPPROTO_UDPLITE,
		IPPROTO_ICMP, 47};
	static const char *const srcs[] = {"10.0.0.1", "1.1.1.1",   "1.1.1.5",	  "1.1.1.10",
					   "1.1.1.11", "1.1.0.255", "10.255.0.1", "255.1.1.1"};
	static const uint32_t marks[] = {0, 1, 0xfeedcafe, 0x10, 0xff0, 0xffffffff};
	static const uint16_t ports[] = {53, 80, 443, 1023, 1024, 8080, 65535, 0};
	uint8_t l4[200];
	uint8_t proto = protos[rnd() % sizeof(protos)];
	uint32_t len;
	uint16_t frag = 0, v;

	for (unsigned int j = 0; j < sizeof(l4); j++)
		l4[j] = (uint8_t)(rnd() % 2 ? rnd() % 6 : rnd());
	v = htons(ports[rnd() % BF_ARRAY_SIZE(ports)]);
	memcpy(l4, &v, 2);
	v = htons(rnd() % 3 ? ports[rnd() % BF_ARRAY_SIZE(ports)] : (uint16_t)rnd());
	memcpy(l4 + 2, &v, 2);
	l4[12] = (uint8_t)((i % 11 == 0 ? rnd() % 5 : 5 + rnd() % 11) << 4);
	if (rnd() % 2) {
		/* an MSS option somewhere in the first option bytes */
		unsigned int at = 20 + rnd() % 8;

		l4[at] = 2;
		l4[at + 1] = rnd() % 4 ? 4 : (uint8_t)(rnd() % 6);
		l4[at + 2] = (uint8_t)(rnd() % 2 ? 0x05 : rnd());
		l4[at + 3] = (uint8_t)(rnd() % 2 ? 0xb4 : rnd());
	}
	switch (i % 6) {
	case 0:
		len = rnd() % 24; /* short transport headers */
		break;
	case 1:
		len = 20 + rnd() % 40;
		break;
	case 2:
		len = rnd() % sizeof(l4);
		break;
	default:
		len = proto == IPPROTO_TCP ? (l4[12] >> 4) * 4u : 8 + rnd() % 24;
	}
	if (i % 7 == 3)
		frag = (uint16_t)(rnd() % 3);
	else if (i % 7 == 4)
		frag = 0x2000;
	if (len > sizeof(l4))
		len = sizeof(l4);
	mh_ipv4(p, proto, srcs[rnd() % BF_ARRAY_SIZE(srcs)], DADDR, frag, l4, len, len);
	memset(p->frame, 0, 6);
	p->frame[MH_L2_LEN + 1] =
		(uint8_t)(rnd() % 3 ? (uint8_t[]){0, 0x10, 0xb8, 0x02, 0x0f}[rnd() % 5] : rnd());
	p->frame[MH_L2_LEN + 8] =
		(uint8_t)(rnd() % 3 ? (uint8_t[]){0, 1, 63, 64, 65, 255}[rnd() % 6] : rnd());
	mh_fill(p);
	p->skb_mark = marks[rnd() % BF_ARRAY_SIZE(marks)];
}

static void run_specs(const char *what, const char *const *specs, unsigned int n, unsigned int per)
{
	n_compared = 0;
	memset(n_by_verdict, 0, sizeof(n_by_verdict));
	for (unsigned int s = 0; s < n; s++)
		run_spec(specs[s], gen_misc, per);
	fprintf(stderr, "%s: %u packets compared (match %u, miss %u, hotdrop %u)\n", what,
		n_compared, n_by_verdict[MH_MATCH], n_by_verdict[MH_MISS],
		n_by_verdict[MH_HOTDROP]);
	ck_assert_uint_gt(n_by_verdict[MH_MATCH], 0);
	ck_assert_uint_gt(n_by_verdict[MH_MISS], 0);
}

START_TEST(test_oracle_multiport)
{
	static const char *const specs[] = {
		"-p tcp -m multiport --sports 53,1024:65535",
		"-p tcp -m multiport --dports 53,1024:65535",
		"-p udp -m multiport --ports 53,80,443",
		"-p udp -m multiport ! --ports 53,1024:2000",
		"-p sctp -m multiport --dports 80,443,8080:8090",
		"-p dccp -m multiport --sports 1:1023",
		"-p udplite -m multiport --ports 80",
		"-p tcp -m multiport ! --dports 1,2,3,4,6,7,8,9,10,11,12,13,14,15",
	};

	enter_netns();
	run_specs("multiport", specs, BF_ARRAY_SIZE(specs), 80);
	ck_assert_uint_gt(n_by_verdict[MH_HOTDROP], 0);
}
END_TEST

START_TEST(test_oracle_ipfields)
{
	static const char *const specs[] = {
		"-m length --length 1",
		"-m length --length 20:40",
		"-m length ! --length 0:64",
		"-m length --length 100:65535",
		"-m ttl --ttl-eq 64",
		"-m ttl ! --ttl-eq 64",
		"-m ttl --ttl-lt 64",
		"-m ttl --ttl-gt 63",
		"-m ttl --ttl-gt 0",
		"-m tos --tos Minimize-Delay",
		"-m tos ! --tos 0xb8/0xfc",
		"-m tos --tos 0x0f/0x0f",
		"-m dscp --dscp 0x2e",
		"-m dscp ! --dscp 0",
		"-m dscp --dscp-class CS0",
		"-m iprange --src-range 1.1.1.1-1.1.1.10",
		"-m iprange ! --src-range 1.1.1.1-1.1.1.10",
		"-m iprange --dst-range 127.0.0.1-127.0.0.2",
		"-m iprange ! --dst-range 127.0.0.3-127.255.255.255",
		"-m iprange --src-range 1.1.0.0-1.1.1.5 --dst-range 127.0.0.2-127.0.0.2",
		"-m pkttype --pkt-type unicast",
		"-m pkttype ! --pkt-type unicast",
		"-m pkttype --pkt-type broadcast",
		"-m pkttype --pkt-type multicast",
	};

	enter_netns();
	run_specs("length/ttl/tos/dscp/iprange/pkttype", specs, BF_ARRAY_SIZE(specs), 40);
}
END_TEST

START_TEST(test_oracle_mark_tcpmss)
{
	static const char *const specs[] = {
		"-m mark --mark 0",
		"-m mark --mark 0xfeedcafe/0xfeedcafe",
		"-m mark ! --mark 0x10/0xff0",
		"-m mark --mark 0xffffffff",
		"-p tcp -m tcpmss --mss 1460",
		"-p tcp -m tcpmss --mss 0:1000",
		"-p tcp -m tcpmss ! --mss 1460:65535",
		"-p tcp -f -m tcpmss --mss 0:65535",
	};

	enter_netns();
	run_specs("mark/tcpmss", specs, BF_ARRAY_SIZE(specs), 80);
	ck_assert_uint_gt(n_by_verdict[MH_HOTDROP], 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("match_oracle");
	TCase *tc = tcase_create("oracle");
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		fprintf(stderr,
			"match_oracle: needs root (network namespace, iptables); skipped\n");
		return 0;
	}
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_oracle_tcp);
	tcase_add_test(tc, test_oracle_udp_icmp);
	tcase_add_test(tc, test_oracle_ip);
	tcase_add_test(tc, test_oracle_multiport);
	tcase_add_test(tc, test_oracle_ipfields);
	tcase_add_test(tc, test_oracle_mark_tcpmss);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	/* Each test must run in its own process: it unshares its network namespace. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
