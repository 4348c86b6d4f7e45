// SPDX-License-Identifier: GPL-2.0-only
/*
 * capture.so: an LD_PRELOAD logger for seeding the fuzzers (tests/fuzz/seeds). Every x_tables
 * get/setsockopt the process makes is appended to $BF_CAPTURE as the request the shim would send
 * bpfilterd (include/bpfilter/protocol.h: header, then the caller's optval bytes), and then passed
 * on unchanged to the next getsockopt/setsockopt (the kernel's). Nothing is answered here.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/netfilter_ipv4/ip_tables.h>

#include <bpfilter/protocol.h>

#define BFC_EXPORT __attribute__((visibility("default")))

typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);
typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);

/* IPT_SO_* and IP6T_SO_* share their numbers: SET 64-65, GET 64-67. */
static int bfc_is_xt(int level, int optname)
{
	return (level == SOL_IP || level == SOL_IPV6) && optname >= IPT_BASE_CTL &&
	       optname <= IPT_SO_GET_MAX;
}

static void bfc_record(uint16_t op, int level, int optname, uint32_t optlen, const void *payload,
		       uint32_t payload_len)
{
	struct bpfilter_request req = {
		.magic = BPFILTER_MAGIC,
		.version = BPFILTER_VERSION,
		.op = op,
		.level = level,
		.optname = optname,
		.optlen = optlen,
		.payload_len = payload_len,
	};
	struct iovec iov[2] = {{&req, sizeof(req)}, {(void *)payload, payload_len}};
	const char *path = getenv("BF_CAPTURE");
	int saved = errno, fd;

	if (!path)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		/* One writev: the records of concurrent writers never interleave. */
		if (writev(fd, iov, payload ? 2 : 1) < 0)
			(void)0;
		close(fd);
	}
	errno = saved;
}

BFC_EXPORT int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen)
{
	getsockopt_fn next = (getsockopt_fn)dlsym(RTLD_NEXT, "getsockopt");

	if (!next) {
		errno = ENOSYS;
		return -1;
	}
	if (bfc_is_xt(level, optname) && optlen && optval && (int)*optlen >= 0) {
		uint32_t n = *optlen < BPFILTER_GET_INPUT_MAX ? *optlen : BPFILTER_GET_INPUT_MAX;

		bfc_record(BPFILTER_OP_GETSOCKOPT, level, optname, *optlen, optval, n);
	}
	return next(fd, level, optname, optval, optlen);
}

BFC_EXPORT int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)
{
	setsockopt_fn next = (setsockopt_fn)dlsym(RTLD_NEXT, "setsockopt");

	if (!next) {
		errno = ENOSYS;
		return -1;
	}
	if (bfc_is_xt(level, optname) && optval && optlen <= BPFILTER_MAX_PAYLOAD)
		bfc_record(BPFILTER_OP_SETSOCKOPT, level, optname, optlen, optval, optlen);
	return next(fd, level, optname, optval, optlen);
}
