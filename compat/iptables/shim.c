// SPDX-License-Identifier: GPL-2.0-only
/*
 * LD_PRELOAD shim: the x_tables get/setsockopt calls of an unmodified iptables-legacy go to
 * bpfilterd over a Unix socket instead of the kernel (doc/protocol.md); every other call reaches
 * libc untouched. The caller sees what the kernel would return: -1 and the errno the daemon
 * chose, EFAULT for a bad pointer, and nothing else.
 *
 * The caller's buffers are accessed with process_vm_readv/writev on our own pid (and send() from
 * them), so that a bad pointer gives EFAULT as copy_from_user does, instead of a crash.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/netfilter_ipv4/ip_tables.h>

#include <bpfilter/cleanup.h>
#include <bpfilter/protocol.h>

#include "shim.h"

#define BFS_EXPORT __attribute__((visibility("default")))

/* SOL_IPV6 uses the same numbers for SET_* and GET_INFO/GET_ENTRIES; its GET_REVISION_* are 68/69
 * because 66/67 are IPV6_RECVTCLASS/IPV6_TCLASS, which must reach the kernel. */
#define BFS_IP6T_SO_GET_REVISION_MATCH 68
#define BFS_IP6T_SO_GET_REVISION_TARGET 69

/* One-line messages, each at most once per process. */
enum { BFS_WARN_UNREACHABLE, BFS_WARN_NETNS, BFS_WARN_PROTOCOL, BFS_WARN_MAX };
static int bfs_warned[BFS_WARN_MAX];

typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);
typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);

void *bfs_real(const char *name, void **slot)
{
	void *fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	int saved = errno;

	if (fn)
		return fn;
	fn = dlsym(RTLD_NEXT, name);
	__atomic_store_n(slot, fn, __ATOMIC_RELEASE);
	errno = saved;
	return fn;
}

static __attribute__((format(printf, 2, 3))) void bfs_warn_once(int which, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (__atomic_exchange_n(&bfs_warned[which], 1, __ATOMIC_RELAXED))
		return;
	va_start(ap, fmt);
	fputs("bpfilter: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	errno = saved;
}

static const char *bfs_socket_path(void)
{
	const char *p = getenv(BPFILTER_SOCKET_ENV);

	return p && *p ? p : BPFILTER_DEFAULT_SOCKET;
}

static int bfs_fail(int err)
{
	errno = err;
	return -1;
}

/* Bytes of the caller's memory at src copied to dst before the first unreadable page. */
static size_t bfs_user_read(void *dst, const void *src, size_t len)
{
	size_t done = 0;

	while (done < len) {
		struct iovec l = {(char *)dst + done, len - done};
		struct iovec r = {(char *)src + done, len - done};
		ssize_t n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);

		if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
			/* Forbidden here (seccomp): a bad pointer will crash instead of EFAULT. */
			memcpy(l.iov_base, r.iov_base, l.iov_len);
			return len;
		}
		if (n <= 0)
			break;
		done += n;
	}
	return done;
}

static size_t bfs_user_write(void *dst, const void *src, size_t len)
{
	size_t done = 0;

	while (done < len) {
		struct iovec l = {(char *)src + done, len - done};
		struct iovec r = {(char *)dst + done, len - done};
		ssize_t n = process_vm_writev(getpid(), &l, 1, &r, 1, 0);

		if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
			memcpy(r.iov_base, l.iov_base, l.iov_len);
			return len;
		}
		if (n <= 0)
			break;
		done += n;
	}
	return done;
}

/* Payloads move through a bounce buffer of this size: a table of 10k rules is 1.8 MB, and each
 * chunk costs a recv() and a process_vm_writev() (16 KiB chunks: 220 syscalls per read). */
#define BFS_CHUNK (256u << 10)

/* How many bytes from src on are readable, up to len (the payload is then sent from src). */
static size_t bfs_user_readable(const void *src, size_t len)
{
	size_t cap = len < BFS_CHUNK ? len : BFS_CHUNK;
	_cleanup_free_ char *heap = malloc(cap ? cap : 1);
	char small[4096], *buf = heap;
	size_t done = 0;

	if (!buf) {
		buf = small;
		cap = sizeof(small);
	}
	while (done < len) {
		size_t n = len - done < cap ? len - done : cap;
		size_t got = bfs_user_read(buf, (const char *)src + done, n);

		done += got;
		if (got < n)
			break;
	}
	return done;
}

static int bfs_send_all(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += n;
	}
	return 0;
}

/* 0, or -EPIPE when the peer closed first, or -errno. */
static int bfs_recv_all(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(fd, (char *)buf + done, len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		done += n;
	}
	return 0;
}

static int bfs_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	int r;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	do {
		r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	} while (r < 0 && errno == EINTR);
	/* After an interrupted connect() the connection may complete on its own. */
	if (r < 0 && errno != EISCONN)
		return -errno;
	return TAKE_FD(fd);
}

/*
 * A request of megabytes (a SET_REPLACE at 10k rules: 1.8 MB) is queued whole: with the default
 * send buffer (~200 KB) it crossed in a dozen turns of the two processes, each woken in turn,
 * ~3 ms for what the copies themselves do in a fraction of that. SO_SNDBUFFORCE needs
 * CAP_NET_ADMIN, which a caller of IPT_SO_SET_* has; else SO_SNDBUF (capped by wmem_max) does
 * what it can. Best effort: the exchange works with any buffer.
 */
static void bfs_send_buffer(int fd, size_t len)
{
	static void *slot;
	setsockopt_fn real = (setsockopt_fn)bfs_real("setsockopt", &slot);
	int v = len > INT_MAX / 2 ? INT_MAX / 2 : (int)len;

	if (!real || len < BFS_CHUNK)
		return;
	if (real(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)))
		real(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

static int bfs_protocol_error(const char *path, const char *what, int err)
{
	bfs_warn_once(BFS_WARN_PROTOCOL, "bad exchange with bpfilterd at %s: %s: %s", path, what,
		      strerror(err));
	return -EIO;
}

/* The response payload goes to the caller's memory at addr, at most cap bytes. */
struct bfs_user_sink {
	char *addr;
	size_t cap;
	bool ignore_fault; /* SET_REPLACE counters: the kernel ignores a fault there */
	bool faulted;
};

static int bfs_user_sink(void *ctx, size_t off, const void *buf, size_t len)
{
	struct bfs_user_sink *s = ctx;

	if (off + len > s->cap)
		return bfs_protocol_error(bfs_socket_path(), "response larger than the buffer",
					  EMSGSIZE);
	if (s->faulted)
		return 0;
	if (bfs_user_write(s->addr + off, buf, len) != len) {
		s->faulted = true;
		if (!s->ignore_fault)
			return -EFAULT;
	}
	return 0;
}

int bfs_transact(struct bpfilter_request *req, const void *payload, struct bpfilter_response *resp,
		 bfs_sink_fn sink, void *sink_ctx)
{
	const struct bfs_user_sink *us = sink == bfs_user_sink ? sink_ctx : NULL;
	const char *path = bfs_socket_path();
	struct bpfilter_response rsp;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t off = 0, cap;
	int r;

	fd = bfs_connect(path);
	if (fd < 0) {
		bfs_warn_once(BFS_WARN_UNREACHABLE, "cannot reach bpfilterd at %s: %s", path,
			      strerror(-fd));
		return -ECONNREFUSED;
	}

	req->magic = BPFILTER_MAGIC;
	req->version = BPFILTER_VERSION;
	bfs_send_buffer(fd, sizeof(*req) + (size_t)req->payload_len);
	r = bfs_send_all(fd, req, sizeof(*req));
	if (r < 0)
		return bfs_protocol_error(path, "sending the request", -r);
	r = bfs_send_all(fd, payload, req->payload_len);
	/* Part of the caller's memory is unreadable: the daemon drops the incomplete request
	 * when we close. */
	if (r == -EFAULT)
		return -EFAULT;
	if (r < 0)
		return bfs_protocol_error(path, "sending the request", -r);

	r = bfs_recv_all(fd, &rsp, sizeof(rsp));
	if (r < 0)
		return bfs_protocol_error(path, "reading the response", -r);
	if (rsp.magic != BPFILTER_MAGIC || rsp.version != BPFILTER_VERSION ||
	    rsp.payload_len > BPFILTER_MAX_PAYLOAD || (rsp.error && rsp.payload_len))
		return bfs_protocol_error(path, "malformed response", EPROTO);

	if (rsp.flags & BPFILTER_RESP_F_WRONG_NETNS) {
		bfs_warn_once(BFS_WARN_NETNS,
			      "bpfilterd at %s serves another network namespace than this process",
			      path);
		rsp.error = ENOPROTOOPT;
		rsp.payload_len = 0;
	}

	/* A getsockopt's answer (GET_ENTRIES: megabytes) is received straight into the caller's
	 * buffer: recv() fails with EFAULT at a bad address as copy_to_user does, where the bounce
	 * buffer cost a second copy and a process_vm_writev() per chunk. */
	if (us && us->addr && !us->ignore_fault && rsp.payload_len) {
		if (rsp.payload_len > us->cap)
			return bfs_protocol_error(path, "response larger than the buffer",
						  EMSGSIZE);
		r = bfs_recv_all(fd, us->addr, rsp.payload_len);
		if (r == -EFAULT)
			return -EFAULT;
		if (r < 0)
			return bfs_protocol_error(path, "reading the response", -r);
		*resp = rsp;
		return 0;
	}
	cap = rsp.payload_len < BFS_CHUNK ? rsp.payload_len : BFS_CHUNK;
	if (cap) {
		buf = malloc(cap);
		if (!buf)
			return -ENOMEM;
	}
	while (off < rsp.payload_len) {
		size_t n = rsp.payload_len - off < cap ? rsp.payload_len - off : cap;

		r = bfs_recv_all(fd, buf, n);
		if (r < 0)
			return bfs_protocol_error(path, "reading the response", -r);
		r = sink(sink_ctx, off, buf, n);
		if (r < 0)
			return r;
		off += n;
	}

	*resp = rsp;
	return 0;
}

static bool bfs_is_xt_get(int level, int optname)
{
	if (level == SOL_IP)
		return optname >= IPT_SO_GET_INFO && optname <= IPT_SO_GET_REVISION_TARGET;
	if (level == SOL_IPV6)
		return optname == IPT_SO_GET_INFO || optname == IPT_SO_GET_ENTRIES ||
		       optname == BFS_IP6T_SO_GET_REVISION_MATCH ||
		       optname == BFS_IP6T_SO_GET_REVISION_TARGET;
	return false;
}

static bool bfs_is_xt_set(int level, int optname)
{
	return (level == SOL_IP || level == SOL_IPV6) &&
	       (optname == IPT_SO_SET_REPLACE || optname == IPT_SO_SET_ADD_COUNTERS);
}

/* Only IPv4/IPv6 sockets reach x_tables; anything else (and a bad fd) goes to libc, which gives
 * the kernel's own answer (EBADF, ENOTSOCK, EOPNOTSUPP...). */
static bool bfs_is_inet_socket(getsockopt_fn real, int fd)
{
	int saved = errno, domain = 0;
	socklen_t len = sizeof(domain);
	bool inet;

	inet = real(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
	       (domain == AF_INET || domain == AF_INET6);
	errno = saved;
	return inet;
}

static getsockopt_fn bfs_real_getsockopt(void)
{
	static void *slot;

	return (getsockopt_fn)bfs_real("getsockopt", &slot);
}

static int bfs_xt_getsockopt(int level, int optname, void *optval, socklen_t *optlen)
{
	struct bpfilter_request req = {
		.op = BPFILTER_OP_GETSOCKOPT, .level = level, .optname = optname};
	struct bpfilter_response resp;
	struct bfs_user_sink sink = {.addr = optval};
	uint8_t in[BPFILTER_GET_INPUT_MAX];
	int len, r;

	/* As ip_getsockopt: read *optlen (EFAULT), refuse a negative one (EINVAL). */
	if (bfs_user_read(&len, optlen, sizeof(len)) != sizeof(len))
		return bfs_fail(EFAULT);
	if (len < 0)
		return bfs_fail(EINVAL);

	req.optlen = len;
	/* A short payload tells the daemon where the caller's buffer stops being readable. */
	req.payload_len =
		bfs_user_read(in, optval, len < (int)sizeof(in) ? (size_t)len : sizeof(in));
	sink.cap = len;
	r = bfs_transact(&req, in, &resp, bfs_user_sink, &sink);
	if (r < 0)
		return bfs_fail(-r);
	if (resp.error)
		return bfs_fail(resp.error);
	len = resp.optlen;
	if (bfs_user_write(optlen, &len, sizeof(len)) != sizeof(len))
		return bfs_fail(EFAULT);
	return 0;
}

static int bfs_xt_setsockopt(int level, int optname, const void *optval, socklen_t optlen)
{
	struct bpfilter_request req = {
		.op = BPFILTER_OP_SETSOCKOPT, .level = level, .optname = optname, .optlen = optlen};
	struct bfs_user_sink sink = {.ignore_fault = true};
	struct bpfilter_response resp;
	struct ipt_replace repl;
	size_t len;
	int r;

	/* __sys_setsockopt takes an int optlen. */
	if (optlen > INT_MAX)
		return bfs_fail(EINVAL);
	len = optlen < BPFILTER_MAX_PAYLOAD ? optlen : BPFILTER_MAX_PAYLOAD;

	/* ip6t_replace has the same layout: num_counters at 84, counters at 88. */
	if (optname == IPT_SO_SET_REPLACE && len >= sizeof(repl) &&
	    bfs_user_read(&repl, optval, sizeof(repl)) == sizeof(repl)) {
		sink.addr = (char *)repl.counters;
		sink.cap = (size_t)repl.num_counters * sizeof(struct xt_counters);
	}

	/* Sent straight from the caller's memory, announced whole: reading it all once before
	 * (to find where it stops being readable) cost as much as sending it. Only if the send
	 * faults, again with the readable prefix, which the daemon answers as the kernel does. */
	req.payload_len = len;
	r = bfs_transact(&req, optval, &resp, bfs_user_sink, &sink);
	if (r == -EFAULT) {
		req.payload_len = bfs_user_readable(optval, len);
		r = bfs_transact(&req, optval, &resp, bfs_user_sink, &sink);
	}
	if (r < 0)
		return bfs_fail(-r);
	if (resp.error)
		return bfs_fail(resp.error);
	return 0;
}

BFS_EXPORT int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen)
{
	getsockopt_fn real = bfs_real_getsockopt();

	if (!real)
		return bfs_fail(ENOSYS);
	if (!bfs_is_xt_get(level, optname) || !bfs_is_inet_socket(real, fd))
		return real(fd, level, optname, optval, optlen);
	return bfs_xt_getsockopt(level, optname, optval, optlen);
}

BFS_EXPORT int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)
{
	static void *slot;
	setsockopt_fn real = (setsockopt_fn)bfs_real("setsockopt", &slot);
	getsockopt_fn real_get = bfs_real_getsockopt();

	if (!real || !real_get)
		return bfs_fail(ENOSYS);
	if (!bfs_is_xt_set(level, optname) || !bfs_is_inet_socket(real_get, fd))
		return real(fd, level, optname, optval, optlen);
	return bfs_xt_setsockopt(level, optname, optval, optlen);
}
