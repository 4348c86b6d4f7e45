// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_testrun: per-packet cost of a loaded BPF program through BPF_PROG_TEST_RUN.
 *
 * bench/run uses it on the very dispatcher bpfilterd attached (found by its id), so the figure
 * covers the whole path a packet takes: dispatcher, classification, tail calls, rules. Run it
 * inside the namespace of the interface: the kernel resolves the ctx's ifindex there, and the
 * dispatcher classifies the packet by that interface (local route map, fib lookup).
 *
 *	bench_testrun --prog-id ID --dev IF --src A --dst B [--proto udp|tcp] [--sport N]
 *	              [--dport N] [--repeat N] [--runs N] [--budget-ms MS]
 *
 * Prints one line:
 *	retval=R repeat=N ns=V1,V2,... (ns per packet of each run)
 * A calibration run (repeat 1000) estimates the cost first; if --repeat packets would take longer
 * than --budget-ms per run, repeat is lowered to fit (never below 1000) and the line says
 * "reduced=1": the caller shows that, a slow program must not stall the benchmark for hours.
 * Exit status 0 on success, 1 on any failure (message on stderr).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <bpfilter/cleanup.h>

#define FRAME_LEN 64
#define CALIB_REPEAT 1000u
#define MAX_RUNS 64

struct opts {
	uint32_t prog_id;
	const char *dev;
	struct in_addr src, dst;
	uint8_t proto;
	uint16_t sport, dport;
	uint32_t repeat;
	unsigned int runs;
	uint64_t budget_ms;
};

static uint16_t csum16(const uint8_t *p, size_t len)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)(p[len - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet + IPv4 + UDP or TCP, addressed to the interface's own MAC so that eth_type_trans()
 * marks it PACKET_HOST, as a real frame for this host would be. */
static size_t build_frame(const struct opts *o, const uint8_t *dmac, uint8_t *f)
{
	static const uint8_t smac[ETH_ALEN] = {0x02, 0xbf, 0xbe, 0x0c, 0x00, 0x01};
	uint8_t *ip = f + ETH_HLEN, *l4 = ip + 20;
	size_t iplen = FRAME_LEN - ETH_HLEN;

	memset(f, 0, FRAME_LEN);
	memcpy(f, dmac, ETH_ALEN);
	memcpy(f + ETH_ALEN, smac, ETH_ALEN);
	put16(f + 12, ETH_P_IP);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)iplen);
	put16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = o->proto;
	memcpy(ip + 12, &o->src, 4);
	memcpy(ip + 16, &o->dst, 4);
	put16(ip + 10, csum16(ip, 20));
	put16(l4, o->sport);
	put16(l4 + 2, o->dport);
	if (o->proto == IPPROTO_TCP) {
		l4[12] = 5 << 4;
		l4[13] = 0x02; /* SYN */
		put16(l4 + 14, 65535);
	} else {
		put16(l4 + 4, (uint16_t)(iplen - 20));
	}
	return FRAME_LEN;
}

static int dev_mac(const char *dev, uint8_t *mac)
{
	_cleanup_close_ int fd = -1;
	struct ifreq ifr = {};

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	return 0;
}

static int run_once(int fd, enum bpf_prog_type type, uint32_t ifindex, const uint8_t *frame,
		    size_t len, uint32_t repeat, uint32_t *retval, uint32_t *ns)
{
	struct __sk_buff skb = {};
	struct xdp_md xdp = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)len,
		    .repeat = repeat);

	if (type == BPF_PROG_TYPE_XDP) {
		xdp.ingress_ifindex = ifindex;
		xdp.data_end = (uint32_t)len;
		o.ctx_in = &xdp;
		o.ctx_size_in = sizeof(xdp);
	} else {
		/* ifindex makes the kernel set skb->dev (the dispatcher reads skb->ifindex);
		 * ingress_ifindex is the skb_iif a received packet carries. */
		skb.ifindex = ifindex;
		skb.ingress_ifindex = ifindex;
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
	}
	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	*retval = o.retval;
	*ns = o.duration;
	return 0;
}

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || !*s || *end || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_testrun --prog-id ID --dev IF --src A --dst B [--proto udp|tcp]\n"
		   "                     [--sport N] [--dport N] [--repeat N] [--runs N] "
		   "[--budget-ms MS]\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"prog-id", required_argument, NULL, 'p'},
		{"dev", required_argument, NULL, 'i'},
		{"src", required_argument, NULL, 's'},
		{"dst", required_argument, NULL, 'd'},
		{"proto", required_argument, NULL, 'P'},
		{"sport", required_argument, NULL, 'S'},
		{"dport", required_argument, NULL, 'D'},
		{"repeat", required_argument, NULL, 'r'},
		{"runs", required_argument, NULL, 'n'},
		{"budget-ms", required_argument, NULL, 'b'},
		{},
	};
	uint32_t v;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_u32(optarg, UINT32_MAX, &o->prog_id))
				return -EINVAL;
			break;
		case 'i':
			o->dev = optarg;
			break;
		case 's':
			if (inet_pton(AF_INET, optarg, &o->src) != 1)
				return -EINVAL;
			break;
		case 'd':
			if (inet_pton(AF_INET, optarg, &o->dst) != 1)
				return -EINVAL;
			break;
		case 'P':
			if (!strcmp(optarg, "udp"))
				o->proto = IPPROTO_UDP;
			else if (!strcmp(optarg, "tcp"))
				o->proto = IPPROTO_TCP;
			else
				return -EINVAL;
			break;
		case 'S':
			if (parse_u32(optarg, 65535, &v))
				return -EINVAL;
			o->sport = (uint16_t)v;
			break;
		case 'D':
			if (parse_u32(optarg, 65535, &v))
				return -EINVAL;
			o->dport = (uint16_t)v;
			break;
		case 'r':
			if (parse_u32(optarg, UINT32_MAX, &o->repeat) || !o->repeat)
				return -EINVAL;
			break;
		case 'n':
			if (parse_u32(optarg, MAX_RUNS, &v) || !v)
				return -EINVAL;
			o->runs = v;
			break;
		case 'b':
			if (parse_u32(optarg, UINT32_MAX, &v) || !v)
				return -EINVAL;
			o->budget_ms = v;
			break;
		default:
			return -EINVAL;
		}
	}
	if (optind != argc || !o->prog_id || !o->dev || !o->src.s_addr || !o->dst.s_addr)
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.proto = IPPROTO_UDP,
			 .sport = 40000,
			 .dport = 5001,
			 .repeat = 1000000,
			 .runs = 5,
			 .budget_ms = 5000};
	struct bpf_prog_info info = {};
	uint32_t info_len = sizeof(info), ifindex, retval = 0, first_ret = 0, ns[MAX_RUNS], cal;
	uint8_t mac[ETH_ALEN], frame[FRAME_LEN];
	_cleanup_close_ int fd = -1;
	bool reduced = false;
	size_t len;
	int r;

	if (parse_args(argc, argv, &o)) {
		usage(stderr);
		return 1;
	}
	ifindex = if_nametoindex(o.dev);
	if (!ifindex) {
		fprintf(stderr, "bench_testrun: no interface %s: %s\n", o.dev, strerror(errno));
		return 1;
	}
	r = dev_mac(o.dev, mac);
	if (r) {
		fprintf(stderr, "bench_testrun: MAC of %s: %s\n", o.dev, strerror(-r));
		return 1;
	}
	fd = bpf_prog_get_fd_by_id(o.prog_id);
	if (fd < 0) {
		fprintf(stderr, "bench_testrun: prog id %u: %s\n", o.prog_id, strerror(errno));
		return 1;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &info_len)) {
		fprintf(stderr, "bench_testrun: prog info: %s\n", strerror(errno));
		return 1;
	}
	if (info.type != BPF_PROG_TYPE_SCHED_CLS && info.type != BPF_PROG_TYPE_XDP) {
		fprintf(stderr, "bench_testrun: prog %u has type %u, not sched_cls or xdp\n",
			o.prog_id, info.type);
		return 1;
	}
	len = build_frame(&o, mac, frame);

	r = run_once(fd, info.type, ifindex, frame, len, CALIB_REPEAT, &first_ret, &cal);
	if (r) {
		fprintf(stderr, "bench_testrun: BPF_PROG_TEST_RUN: %s\n", strerror(-r));
		return 1;
	}
	if (cal && (uint64_t)cal * o.repeat > o.budget_ms * 1000000ull) {
		uint64_t fit = o.budget_ms * 1000000ull / cal;

		o.repeat = fit < CALIB_REPEAT ? CALIB_REPEAT : (uint32_t)fit;
		reduced = true;
	}
	for (unsigned int i = 0; i < o.runs; i++) {
		r = run_once(fd, info.type, ifindex, frame, len, o.repeat, &retval, &ns[i]);
		if (r) {
			fprintf(stderr, "bench_testrun: BPF_PROG_TEST_RUN: %s\n", strerror(-r));
			return 1;
		}
		/* The verdict must not change between runs: it is the same packet. */
		if (retval != first_ret) {
			fprintf(stderr, "bench_testrun: verdict changed from %u to %u\n", first_ret,
				retval);
			return 1;
		}
	}
	printf("retval=%u repeat=%u reduced=%d ns=", retval, o.repeat, reduced);
	for (unsigned int i = 0; i < o.runs; i++)
		printf("%s%u", i ? "," : "", ns[i]);
	printf("\n");
	return 0;
}
