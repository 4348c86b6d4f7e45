// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_flood: saturate one core with small UDP datagrams (sendmmsg) for a bounded time.
 *
 * bench/run runs it in the sender namespace of a veth pair; the receiver's filter counts what it
 * got. On a veth the receive path (backlog, netfilter or TC/XDP) runs in the softirq of the
 * sending CPU, so pinning the sender to one CPU puts the whole path on that core.
 *
 *	bench_flood --dst A [--dport N] [--sport N] [--secs S] [--size BYTES] [--batch N] [--cpu C]
 *
 * Prints one line: "sent=N errors=E secs=T" (T: measured duration, seconds). Send errors
 * (ENOBUFS, EPERM) are counted, not fatal. Exit status 0, or 1 on a setup failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpfilter/cleanup.h>

#define MAX_BATCH 256
#define MAX_SIZE 1472

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || !*s || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"dst", required_argument, NULL, 'd'},	 {"dport", required_argument, NULL, 'D'},
		{"sport", required_argument, NULL, 'S'}, {"secs", required_argument, NULL, 't'},
		{"size", required_argument, NULL, 'l'},	 {"batch", required_argument, NULL, 'b'},
		{"cpu", required_argument, NULL, 'c'},	 {},
	};
	unsigned long dport = 5001, sport = 40000, secs = 3, size = 18, batch = 64, cpu = ~0ul;
	static uint8_t payload[MAX_SIZE];
	struct mmsghdr msgs[MAX_BATCH] = {};
	struct iovec iov = {.iov_base = payload};
	struct sockaddr_in dst = {.sin_family = AF_INET}, src = {.sin_family = AF_INET};
	unsigned long long sent = 0, errors = 0;
	_cleanup_close_ int fd = -1;
	double t0, t1, end;
	int c, have_dst = 0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		int r = 0;

		switch (c) {
		case 'd':
			have_dst = inet_pton(AF_INET, optarg, &dst.sin_addr) == 1;
			r = have_dst ? 0 : -EINVAL;
			break;
		case 'D':
			r = parse_uint(optarg, 65535, &dport);
			break;
		case 'S':
			r = parse_uint(optarg, 65535, &sport);
			break;
		case 't':
			r = parse_uint(optarg, 600, &secs);
			break;
		case 'l':
			r = parse_uint(optarg, MAX_SIZE, &size);
			break;
		case 'b':
			r = parse_uint(optarg, MAX_BATCH, &batch);
			break;
		case 'c':
			r = parse_uint(optarg, CPU_SETSIZE - 1, &cpu);
			break;
		default:
			r = -EINVAL;
		}
		if (r) {
			fprintf(stderr, "usage: bench_flood --dst A [--dport N] [--sport N] "
					"[--secs S] [--size BYTES] [--batch N] [--cpu C]\n");
			return 1;
		}
	}
	if (!have_dst || !secs || !batch || optind != argc) {
		fprintf(stderr, "bench_flood: --dst, and non-zero --secs and --batch, needed\n");
		return 1;
	}
	if (cpu != ~0ul) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "bench_flood: CPU %lu: %s\n", cpu, strerror(errno));
			return 1;
		}
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "bench_flood: socket: %s\n", strerror(errno));
		return 1;
	}
	/* A fixed source port: the rules the traffic meets are the same in every run. */
	src.sin_port = htons((uint16_t)sport);
	dst.sin_port = htons((uint16_t)dport);
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
		fprintf(stderr, "bench_flood: bind/connect: %s\n", strerror(errno));
		return 1;
	}
	iov.iov_len = size;
	for (unsigned long i = 0; i < batch; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	t0 = now_s();
	end = t0 + (double)secs;
	do {
		int n = sendmmsg(fd, msgs, (unsigned int)batch, 0);

		if (n < 0) {
			/* One datagram failed: count it and go on, as a flood does. */
			errors++;
			continue;
		}
		sent += (unsigned long long)n;
	} while (now_s() < end);
	t1 = now_s();

	printf("sent=%llu errors=%llu secs=%.6f\n", sent, errors, t1 - t0);
	return 0;
}
