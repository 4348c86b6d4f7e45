// SPDX-License-Identifier: GPL-2.0-only
/*
 * bench_flood: saturate one core with small UDP datagrams (sendmmsg) for a bounded time.
 *
 * bench/run runs it against the veth pairs it built; each receiver's filter counts what it got.
 * On a veth the receive path (backlog, netfilter or TC/XDP) runs in the softirq of the sending
 * CPU, so pinning the sender to one CPU puts the whole path on that core.
 *
 *	bench_flood --dst A [--to NETNS]... [--dport N] [--sport N] [--secs S] [--size BYTES]
 *	            [--batch N] [--cpu C] [--slice-ms M]
 *
 * The run is cut into slices of M ms (100 by default). With --to, the datagrams of slice i go to
 * A in namespace NETNS number i % K (K --to given; the socket is made in that namespace, the
 * sender stays where it is): K rulesets are measured interleaved, so that a change of the
 * machine's speed (a shared virtual machine drifts over seconds) falls on all of them alike.
 * Without --to, every slice goes to A in the current namespace.
 *
 * Prints one line per destination, in --to order:
 *	"to=NETNS sent=N errors=E secs=T slices=K slice_med=P slice_min=P slice_max=P rates=P,..."
 * (to=- without --to; T: seconds spent on it; P: packets/s sent in a slice; rates: its slices in
 * order, slice j of every destination belonging to the same round of the rotation). Send errors
 * (ENOBUFS, EPERM) are counted, not fatal. Exit status 0, or 1 on a setup failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <fcntl.h>
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
#define MAX_SLICES 6000
#define MAX_TO 64

struct dest {
	const char *netns;
	int fd;
	unsigned long long sent, errors;
	double secs;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

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

/* A UDP socket from src to dst, made in namespace netns (NULL: the current one). */
static int open_dest(const char *netns, const struct sockaddr_in *src,
		     const struct sockaddr_in *dst, int *out)
{
	_cleanup_close_ int home = -1, ns = -1, fd = -1;
	char path[256];
	int r = 0;

	if (netns) {
		home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if ((unsigned)snprintf(path, sizeof(path), "/run/netns/%s", netns) >= sizeof(path))
			return -ENAMETOOLONG;
		ns = open(path, O_RDONLY | O_CLOEXEC);
		if (home < 0 || ns < 0)
			return -errno;
		if (setns(ns, CLONE_NEWNET))
			return -errno;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (const struct sockaddr *)src, sizeof(*src)) ||
	    connect(fd, (const struct sockaddr *)dst, sizeof(*dst)))
		r = -errno;
	if (netns && setns(home, CLONE_NEWNET) && !r)
		r = -errno;
	if (r)
		return r;
	*out = fd;
	fd = -1;
	return 0;
}

static void print_dest(const struct dest *d, const double *rates, size_t nslices, size_t k,
		       size_t idx)
{
	static double sorted[MAX_SLICES];
	size_t n = 0;

	for (size_t i = idx; i < nslices; i += k)
		sorted[n++] = rates[i];
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	printf("to=%s sent=%llu errors=%llu secs=%.6f slices=%zu slice_med=%.0f slice_min=%.0f "
	       "slice_max=%.0f rates=",
	       d->netns ? d->netns : "-", d->sent, d->errors, d->secs, n,
	       n ? (sorted[(n - 1) / 2] + sorted[n / 2]) / 2 : 0.0, n ? sorted[0] : 0.0,
	       n ? sorted[n - 1] : 0.0);
	for (size_t i = idx, first = 1; i < nslices; i += k, first = 0)
		printf("%s%.0f", first ? "" : ",", rates[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"dst", required_argument, NULL, 'd'},	 {"dport", required_argument, NULL, 'D'},
		{"sport", required_argument, NULL, 'S'}, {"secs", required_argument, NULL, 't'},
		{"size", required_argument, NULL, 'l'},	 {"batch", required_argument, NULL, 'b'},
		{"cpu", required_argument, NULL, 'c'},	 {"slice-ms", required_argument, NULL, 'm'},
		{"to", required_argument, NULL, 'n'},	 {},
	};
	unsigned long dport = 5001, sport = 40000, secs = 3, size = 18, batch = 64, cpu = ~0ul;
	unsigned long slice_ms = 100;
	static uint8_t payload[MAX_SIZE];
	static double rates[MAX_SLICES];
	static struct dest dests[MAX_TO];
	struct mmsghdr msgs[MAX_BATCH] = {};
	struct iovec iov = {.iov_base = payload};
	struct sockaddr_in dst = {.sin_family = AF_INET}, src = {.sin_family = AF_INET};
	unsigned long long slice_sent = 0;
	double t0, t1, end, slice_t0, slice_end;
	size_t nslices = 0, k = 0, cur = 0;
	int c, r, have_dst = 0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		r = 0;
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
		case 'm':
			r = parse_uint(optarg, 60000, &slice_ms);
			break;
		case 'n':
			if (k == MAX_TO)
				r = -E2BIG;
			else
				dests[k++].netns = optarg;
			break;
		default:
			r = -EINVAL;
		}
		if (r) {
			fprintf(stderr,
				"usage: bench_flood --dst A [--to NETNS]... [--dport N] "
				"[--sport N] [--secs S] [--size BYTES] [--batch N] [--cpu C] "
				"[--slice-ms M] (at most %d --to)\n",
				MAX_TO);
			return 1;
		}
	}
	if (!have_dst || !secs || !batch || !slice_ms || optind != argc) {
		fprintf(stderr, "bench_flood: --dst, and non-zero --secs, --batch and --slice-ms, "
				"needed\n");
		return 1;
	}
	if (secs * 1000 / slice_ms > MAX_SLICES) {
		fprintf(stderr, "bench_flood: more than %d slices of %lu ms in %lu s\n", MAX_SLICES,
			slice_ms, secs);
		return 1;
	}
	if (!k)
		k = 1; /* dests[0].netns == NULL: the current namespace */
	if (cpu != ~0ul) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "bench_flood: CPU %lu: %s\n", cpu, strerror(errno));
			return 1;
		}
	}
	/* A fixed source port: the rules the traffic meets are the same in every run. */
	src.sin_port = htons((uint16_t)sport);
	dst.sin_port = htons((uint16_t)dport);
	for (size_t i = 0; i < k; i++) {
		dests[i].fd = -1;
		r = open_dest(dests[i].netns, &src, &dst, &dests[i].fd);
		if (r) {
			fprintf(stderr, "bench_flood: %s: %s\n", dests[i].netns ?: "socket",
				strerror(-r));
			for (size_t j = 0; j < i; j++)
				close(dests[j].fd);
			return 1;
		}
	}
	iov.iov_len = size;
	for (unsigned long i = 0; i < batch; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	t0 = now_s();
	end = t0 + (double)secs;
	slice_t0 = t0;
	slice_end = t0 + (double)slice_ms / 1e3;
	do {
		struct dest *d = &dests[cur];
		int n = sendmmsg(d->fd, msgs, (unsigned int)batch, 0);

		t1 = now_s();
		if (n < 0)
			/* One datagram failed: count it and go on, as a flood does. */
			d->errors++;
		else
			d->sent += (unsigned long long)n;
		/*
		 * A slice ends with the first batch past its end; the flood's end closes the last
		 * one, which counts only if it lasted half a slice (a few batches make no rate).
		 * Its datagrams are counted in sent either way.
		 */
		if (t1 >= slice_end || t1 >= end) {
			d->secs += t1 - slice_t0;
			if ((t1 < end || t1 - slice_t0 >= (double)slice_ms / 2e3) &&
			    nslices < MAX_SLICES)
				rates[nslices++] = (double)(d->sent - slice_sent) / (t1 - slice_t0);
			cur = (cur + 1) % k;
			slice_sent = dests[cur].sent;
			slice_t0 = t1;
			slice_end = t1 + (double)slice_ms / 1e3;
		}
	} while (t1 < end);

	for (size_t i = 0; i < k; i++) {
		print_dest(&dests[i], rates, nslices, k, i);
		close(dests[i].fd);
	}
	return 0;
}
