// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpfilterd's socket server. One request per connection (doc/protocol.md); every socket is
 * non-blocking and served from one epoll loop, so a client that stalls or sends garbage only loses
 * its own connection: bad headers are logged and closed at once, payloads are buffered as they
 * arrive (never more than the header announced, at most BPFILTER_MAX_PAYLOAD), and a connection
 * without progress for BFD_CONN_TIMEOUT_MS is closed.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/capability.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4/ip_tables.h>

#include <bpfilter/cleanup.h>
#include <bpfilter/protocol.h>

#include "log.h"
#include "mem.h"
#include "state.h"
#include "xt_store.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; older kernels answer ENOPROTOOPT */
#endif

/* The kernel's xt_alloc_table_info() limit: size + sizeof(struct xt_table_info) (64 on LP64). */
#define BFD_XT_MAX_TABLE_SIZE (512ull << 20)
#define BFD_XT_TABLE_INFO_SIZE 64ull
/* How long to stop accepting after accept() failed for lack of fds or memory. */
#define BFD_ACCEPT_PAUSE_MS 100

enum bfd_watch_kind { BFD_W_LISTEN, BFD_W_SIGNAL, BFD_W_CONN };

/* What an epoll event points to; first member of every watched object. */
struct bfd_watch {
	enum bfd_watch_kind kind;
};

enum bfd_conn_state { BFD_CONN_HDR, BFD_CONN_PAYLOAD, BFD_CONN_WRITE };

struct bfd_conn {
	struct bfd_watch w;
	struct bfd_conn *prev, *next;
	int fd;
	enum bfd_conn_state state;
	uint64_t deadline; /* CLOCK_MONOTONIC ms */
	uint64_t t_hdr_us; /* when the header was complete (CLOCK_MONOTONIC us), for -v */
	pid_t pid;
	/* Decided at accept time; the defaults refuse everything. */
	bool may_admin;	     /* CAP_NET_ADMIN: every get/setsockopt */
	bool may_read_names; /* the 0440 root-owned /proc/net/ip*_tables_names */
	bool other_netns;
	struct bpfilter_request req;
	size_t hdr_got;
	uint8_t *payload;
	size_t payload_got, payload_cap;
	struct bpfilter_response rsp;
	void *out;
	size_t sent; /* of rsp + out */
};

struct bfd_server {
	char *path;
	int lfd, epfd;
	bool bound;
	dev_t sock_dev;
	ino_t sock_ino;
	struct stat netns, userns; /* the daemon's own */
	struct bfd_watch w_listen, w_signal;
	struct bfd_conn *conns;
	unsigned int nconns;
	bool listening;
	/* After accept() ran out of fds or memory: CLOCK_MONOTONIC ms before the next try (the
	 * listening socket stays readable, so polling it meanwhile would spin). 0: no pause. */
	uint64_t accept_retry;
};

static uint64_t bfd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t bfd_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool bfd_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* mkdir -p of path's directory; directories created here are 0700. */
static int bfd_mkdir_parents(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	char *p;

	if (!dir)
		return -ENOMEM;
	for (p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

/* A stale socket is removed; a live one (another daemon) or something else is left alone. */
static int bfd_check_existing(const struct sockaddr_un *sun)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (lstat(sun->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		bfd_err("%s exists and is not a socket; refusing to replace it", sun->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* EAGAIN: a listener whose backlog is full is still a live daemon. */
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 || errno == EAGAIN) {
		bfd_err("another bpfilterd answers on %s", sun->sun_path);
		return -EADDRINUSE;
	}
	if (errno != ECONNREFUSED)
		return -errno;
	bfd_info("removing stale socket %s", sun->sun_path);
	if (unlink(sun->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static void bfd_server_freep(struct bfd_server **srv)
{
	bfd_server_free(*srv);
}

int bfd_server_new(const char *path, struct bfd_server **out)
{
	__attribute__((cleanup(bfd_server_freep))) struct bfd_server *srv = NULL;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	mode_t old_umask;
	int r;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, strlen(path) + 1);

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->lfd = -1;
	srv->epfd = -1;
	srv->w_listen.kind = BFD_W_LISTEN;
	srv->w_signal.kind = BFD_W_SIGNAL;
	srv->path = strdup(path);
	if (!srv->path)
		return -ENOMEM;
	if (stat("/proc/self/ns/net", &srv->netns) < 0 ||
	    stat("/proc/self/ns/user", &srv->userns) < 0)
		return -errno;

	r = bfd_mkdir_parents(path);
	if (r < 0) {
		bfd_err("cannot create the directory of %s: %s", path, strerror(-r));
		return r;
	}
	r = bfd_check_existing(&sun);
	if (r < 0)
		return r;

	srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->lfd < 0)
		return -errno;
	old_umask = umask(0077); /* the socket is 0600 from the start */
	r = bind(srv->lfd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (r < 0) {
		r = -errno;
		bfd_err("cannot bind %s: %s", path, strerror(-r));
		return r;
	}
	if (stat(path, &st) < 0)
		return -errno;
	srv->bound = true;
	srv->sock_dev = st.st_dev;
	srv->sock_ino = st.st_ino;
	if (listen(srv->lfd, SOMAXCONN) < 0)
		return -errno;
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv->epfd < 0)
		return -errno;

	*out = TAKE_PTR(srv);
	return 0;
}

static void bfd_conn_close(struct bfd_server *srv, struct bfd_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	close(c->fd); /* also removes it from the epoll set */
	free(c->payload);
	free(c->out);
	free(c);
}

void bfd_server_free(struct bfd_server *srv)
{
	struct stat st;

	if (!srv)
		return;
	while (srv->conns)
		bfd_conn_close(srv, srv->conns);
	if (srv->lfd >= 0)
		close(srv->lfd);
	/* Only our own socket: another daemon may have replaced it since. */
	if (srv->bound && lstat(srv->path, &st) == 0 && st.st_dev == srv->sock_dev &&
	    st.st_ino == srv->sock_ino)
		unlink(srv->path);
	if (srv->epfd >= 0)
		close(srv->epfd);
	free(srv->path);
	free(srv);
}

static int bfd_read_cap_eff(pid_t pid, uint64_t *caps)
{
	_cleanup_close_ int fd = -1;
	char path[64], buf[16384];
	size_t len = 0;
	const char *p;
	char *end;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	p = strstr(buf, "\nCapEff:");
	if (!p)
		return -ENOENT;
	errno = 0;
	*caps = strtoull(p + strlen("\nCapEff:"), &end, 16);
	if (errno || end == p + strlen("\nCapEff:"))
		return -EINVAL;
	return 0;
}

static int bfd_stat_ns(pid_t pid, const char *ns, struct stat *st)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	return stat(path, st) < 0 ? -errno : 0;
}

/*
 * What the kernel would check for this peer: its network namespace (the daemon speaks for its
 * own only), CAP_NET_ADMIN in its effective set (ns_capable(net->user_ns, CAP_NET_ADMIN); a peer
 * in another user namespace has no capability over ours), and for the table-name files, the DAC
 * check of a 0440 root file. Anything that cannot be verified refuses.
 */
static void bfd_peer_check(struct bfd_server *srv, struct bfd_conn *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	_cleanup_close_ int pidfd = -1;
	struct stat netns, userns;
	uint64_t caps;
	int r;

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0) {
		bfd_warn("cannot identify the peer of a connection; refusing its request");
		return;
	}
	c->pid = cred.pid;
	len = sizeof(pidfd);
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
		pidfd = -1;

	r = bfd_stat_ns(cred.pid, "net", &netns);
	if (r < 0) {
		bfd_warn("pid %d: cannot read its network namespace (%s); refusing", (int)cred.pid,
			 strerror(-r));
		return;
	}
	if (!bfd_same_file(&netns, &srv->netns)) {
		c->other_netns = true;
		return;
	}
	r = bfd_read_cap_eff(cred.pid, &caps);
	if (r < 0) {
		bfd_warn("pid %d: cannot read its capabilities (%s); refusing", (int)cred.pid,
			 strerror(-r));
		return;
	}
	if (bfd_stat_ns(cred.pid, "user", &userns) < 0 || !bfd_same_file(&userns, &srv->userns))
		caps = 0;
	/* The peer must still be the process we looked at, not a successor with its pid. A pidfd
	 * is readable once its process has exited; polling needs no permission, where a signal to
	 * a peer of another uid would need CAP_KILL (dropped at start-up, daemon/caps.c). */
	if (pidfd >= 0 && poll(&(struct pollfd){.fd = pidfd, .events = POLLIN}, 1, 0) != 0) {
		bfd_dbg("pid %d exited during the peer check", (int)cred.pid);
		return;
	}
	c->may_admin = caps & (1ull << CAP_NET_ADMIN);
	c->may_read_names = cred.uid == 0 ||
			    (caps & ((1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_DAC_READ_SEARCH)));
}

static void bfd_update_listening(struct bfd_server *srv)
{
	bool want = srv->nconns < BFD_MAX_CONNS && bfd_now_ms() >= srv->accept_retry;
	struct epoll_event ev = {.events = want ? EPOLLIN : 0, .data.ptr = &srv->w_listen};

	if (want == srv->listening)
		return;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, srv->lfd, &ev) == 0)
		srv->listening = want;
}

static void bfd_accept(struct bfd_server *srv)
{
	while (srv->nconns < BFD_MAX_CONNS) {
		int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN};
		struct bfd_conn *c;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				if (!srv->accept_retry)
					bfd_warn("accept: %s; pausing new connections",
						 strerror(errno));
				srv->accept_retry = bfd_now_ms() + BFD_ACCEPT_PAUSE_MS;
			} else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
				bfd_warn("accept: %s", strerror(errno));
			}
			break;
		}
		srv->accept_retry = 0;
		c = calloc(1, sizeof(*c));
		if (!c) {
			bfd_warn("out of memory: dropping a connection");
			close(fd);
			break;
		}
		c->w.kind = BFD_W_CONN;
		c->fd = fd;
		c->deadline = bfd_now_ms() + BFD_CONN_TIMEOUT_MS;
		c->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = c;
		srv->conns = c;
		srv->nconns++;
		ev.data.ptr = c;
		if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			bfd_warn("epoll_ctl: %s", strerror(errno));
			bfd_conn_close(srv, c);
			continue;
		}
		bfd_peer_check(srv, c);
	}
	bfd_update_listening(srv);
}

bool bfd_request_valid(const struct bpfilter_request *req, const char **why)
{
	uint32_t get_max =
		req->optlen < BPFILTER_GET_INPUT_MAX ? req->optlen : BPFILTER_GET_INPUT_MAX;

	*why = NULL;
	if (req->magic != BPFILTER_MAGIC)
		*why = "bad magic";
	else if (req->version != BPFILTER_VERSION)
		*why = "unsupported protocol version";
	else if (req->payload_len > BPFILTER_MAX_PAYLOAD)
		*why = "payload too large";
	else if (req->op == BPFILTER_OP_GETSOCKOPT && req->payload_len > get_max)
		*why = "getsockopt payload longer than its optlen or BPFILTER_GET_INPUT_MAX";
	else if (req->op == BPFILTER_OP_SETSOCKOPT && req->payload_len > req->optlen)
		*why = "setsockopt payload longer than its optlen";
	else if (req->op == BPFILTER_OP_TABLE_NAMES && req->payload_len)
		*why = "table names request with a payload";
	else if (req->op == BPFILTER_OP_RECENT &&
		 (req->payload_len > BPFILTER_RECENT_NAME_MAX + BPFILTER_RECENT_WRITE_MAX ||
		  (req->optname != BPFILTER_RECENT_READ && req->optname != BPFILTER_RECENT_WRITE)))
		*why = "bad recent request";
	else if (req->op != BPFILTER_OP_GETSOCKOPT && req->op != BPFILTER_OP_SETSOCKOPT &&
		 req->op != BPFILTER_OP_TABLE_NAMES && req->op != BPFILTER_OP_RECENT)
		*why = "unknown op";
	return !*why;
}

/* 1: the request is complete; 0: wait for more; -1: close the connection. */
static int bfd_conn_read(struct bfd_conn *c)
{
	const char *why;

	for (;;) {
		ssize_t n;

		if (c->state == BFD_CONN_HDR) {
			n = recv(c->fd, (char *)&c->req + c->hdr_got, sizeof(c->req) - c->hdr_got,
				 0);
		} else {
			if (c->payload_got == c->payload_cap) {
				/* Grow with what actually arrives, so that an announced length
				 * alone pins no memory: to what is queued already if that is more
				 * (a client sends a whole table at once: one buffer instead of five
				 * reallocs and their copies). */
				size_t cap = c->payload_cap ? c->payload_cap * 2 : 65536;
				int queued = 0;
				uint8_t *p;

				if (!ioctl(c->fd, FIONREAD, &queued) && queued > 0 &&
				    c->payload_got + (size_t)queued > cap)
					cap = c->payload_got + (size_t)queued;
				if (cap > c->req.payload_len)
					cap = c->req.payload_len;
				p = realloc(c->payload, cap);
				if (!p) {
					bfd_warn("pid %d: out of memory for a %u-byte request",
						 (int)c->pid, c->req.payload_len);
					return -1;
				}
				bfd_prefault(p + c->payload_got, cap - c->payload_got);
				c->payload = p;
				c->payload_cap = cap;
			}
			n = recv(c->fd, c->payload + c->payload_got,
				 c->payload_cap - c->payload_got, 0);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			bfd_dbg("pid %d: connection closed before its request was complete",
				(int)c->pid);
			return -1;
		}
		c->deadline = bfd_now_ms() + BFD_CONN_TIMEOUT_MS;

		if (c->state == BFD_CONN_HDR) {
			c->hdr_got += n;
			if (c->hdr_got < sizeof(c->req))
				continue;
			if (!bfd_request_valid(&c->req, &why)) {
				bfd_warn("pid %d: bad request (%s); closing", (int)c->pid, why);
				return -1;
			}
			c->t_hdr_us = bfd_now_us();
			if (!c->req.payload_len)
				return 1;
			c->state = BFD_CONN_PAYLOAD;
		} else {
			c->payload_got += n;
			if (c->payload_got == c->req.payload_len)
				return 1;
		}
	}
}

static int bfd_probe_optname(struct xt_store *store, const struct bpfilter_request *req)
{
	static const uint8_t zero[8];
	uint32_t outlen = 0, new_optlen = 0;
	void *out = NULL;
	int r;

	/* Zero length fails every x_tables length check; only an unknown option or family gives
	 * ENOPROTOOPT, which the kernel decides before reading anything. */
	if (req->op == BPFILTER_OP_GETSOCKOPT)
		r = xt_store_getsockopt(store, req->level, req->optname, zero, 0, 0, &out, &outlen,
					&new_optlen);
	else
		r = xt_store_setsockopt(store, req->level, req->optname, zero, 0, &out, &outlen);
	free(out);
	return r;
}

/*
 * The shim sends fewer bytes than the request covers when the caller's buffer stops being
 * readable there (doc/protocol.md, "Faults"). The kernel faults only if it reads that far, after
 * the length checks that precede the copy: reproduce those and answer EFAULT, or return 0 to run
 * the request on the payload_len readable bytes.
 */
static int bfd_short_payload(struct xt_store *store, const struct bpfilter_request *req,
			     const void *in)
{
	bool get = req->op == BPFILTER_OP_GETSOCKOPT;
	uint32_t have = req->payload_len, optlen = req->optlen;
	uint32_t want = !get				  ? optlen
			: optlen < BPFILTER_GET_INPUT_MAX ? optlen
							  : BPFILTER_GET_INPUT_MAX;
	uint32_t need;
	int r;

	if (have >= want)
		return 0;
	r = bfd_probe_optname(store, req);
	if (r == -ENOPROTOOPT)
		return r;

	if (get) {
		switch (req->optname) {
		case IPT_SO_GET_INFO:
			if (optlen != sizeof(struct ipt_getinfo))
				return -EINVAL;
			need = sizeof(((struct ipt_getinfo *)NULL)->name);
			break;
		case IPT_SO_GET_ENTRIES:
			if (optlen < sizeof(struct ipt_get_entries))
				return -EINVAL;
			need = sizeof(struct ipt_get_entries);
			break;
		default: /* GET_REVISION_MATCH/TARGET */
			if (optlen != sizeof(struct xt_get_revision))
				return -EINVAL;
			need = sizeof(struct xt_get_revision);
			break;
		}
		return have < need ? -EFAULT : 0;
	}

	if (req->optname == IPT_SO_SET_REPLACE) {
		struct ipt_replace h; /* ip6t_replace has the same layout */

		if (optlen < sizeof(h))
			return -EINVAL;
		if (have < sizeof(h))
			return -EFAULT;
		memcpy(&h, in, sizeof(h));
		if (h.num_counters >= INT_MAX / sizeof(struct xt_counters))
			return -ENOMEM;
		if (!h.num_counters)
			return -EINVAL;
		if ((uint64_t)optlen < (uint64_t)h.size + sizeof(h))
			return -EINVAL;
		if ((uint64_t)h.size + BFD_XT_TABLE_INFO_SIZE >= BFD_XT_MAX_TABLE_SIZE)
			return -ENOMEM;
		/* Cut by the shim at BPFILTER_MAX_PAYLOAD, not by a fault: our table size limit. */
		if (have == BPFILTER_MAX_PAYLOAD && (uint64_t)h.size + sizeof(h) > have) {
			bfd_warn("a %u-byte table exceeds bpfilter's limit of %u bytes per request",
				 h.size, BPFILTER_MAX_PAYLOAD - (uint32_t)sizeof(h));
			return -ENOMEM;
		}
		/* The kernel reads only size bytes after the header; a longer optlen is fine. */
		return (uint64_t)have < (uint64_t)h.size + sizeof(h) ? -EFAULT : 0;
	}

	/* SET_ADD_COUNTERS: xt_copy_counters() reads the whole buffer. */
	{
		struct xt_counters_info h;

		if (optlen <= sizeof(h))
			return -EINVAL;
		if (have < sizeof(h))
			return -EFAULT;
		memcpy(&h, in, sizeof(h));
		if ((uint64_t)h.num_counters * sizeof(struct xt_counters) != optlen - sizeof(h))
			return -EINVAL;
		return -EFAULT;
	}
}

static const char *bfd_op_name(uint16_t op)
{
	switch (op) {
	case BPFILTER_OP_GETSOCKOPT:
		return "getsockopt";
	case BPFILTER_OP_SETSOCKOPT:
		return "setsockopt";
	case BPFILTER_OP_TABLE_NAMES:
		return "table_names";
	case BPFILTER_OP_RECENT:
		return "recent";
	}
	return "?";
}

static int bfd_table_names(struct xt_store *store, int level, void **out, uint32_t *outlen)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if (level != SOL_IP && level != SOL_IPV6)
		return -ENOENT;
	r = xt_store_table_names(store, level == SOL_IP ? NFPROTO_IPV4 : NFPROTO_IPV6, &text, &len);
	if (r < 0)
		return r;
	if (len > BPFILTER_MAX_PAYLOAD) {
		free(text);
		return -ENOMEM;
	}
	*out = text;
	*outlen = len;
	return 0;
}

/* /proc/net/xt_recent/NAME: payload = name, NUL, then the written bytes (write). */
static int bfd_recent(struct xt_store *store, const struct bfd_peer_rights *peer,
		      const struct bpfilter_request *req, const void *payload, void **out,
		      uint32_t *outlen, uint32_t *written)
{
	const char *p = payload;
	size_t nlen;
	bool write = req->optname == BPFILTER_RECENT_WRITE;

	/* As the kernel's files: everyone may read (0644), only an administrator writes. */
	if (write ? !peer->may_admin : !peer->may_read_names)
		return -EACCES;
	if (!p || !req->payload_len)
		return -EINVAL;
	nlen = strnlen(p, req->payload_len);
	if (nlen == req->payload_len || nlen >= BPFILTER_RECENT_NAME_MAX)
		return -EINVAL;
	return xt_store_recent(store, write, p, p + nlen + 1, req->payload_len - nlen - 1, out,
			       outlen, written);
}

/* bfd_request_serve; with `own` (holding payload, malloc'd) the store may keep the payload as a
 * table's blob, and then sets *own to NULL (xt_store_setsockopt_take). */
static void request_serve(struct xt_store *store, const struct bfd_peer_rights *peer,
			  const struct bpfilter_request *req, const void *payload, void **own,
			  struct bpfilter_response *rsp, void **rsp_payload)
{
	/* An empty payload is NULL in the server; the store may offset its pointer regardless. */
	static const uint8_t empty[8];
	uint32_t outlen = 0, new_optlen = 0;
	uint16_t flags = 0;
	void *out = NULL;
	int r;

	if (peer->other_netns) {
		flags |= BPFILTER_RESP_F_WRONG_NETNS;
		r = -ENOPROTOOPT;
	} else if (req->op == BPFILTER_OP_TABLE_NAMES) {
		r = peer->may_read_names ? bfd_table_names(store, req->level, &out, &outlen)
					 : -EACCES;
	} else if (req->op == BPFILTER_OP_RECENT) {
		r = bfd_recent(store, peer, req, payload, &out, &outlen, &new_optlen);
	} else if (!peer->may_admin) {
		r = -EPERM;
	} else if (req->level != SOL_IP && req->level != SOL_IPV6) {
		r = -ENOPROTOOPT;
	} else {
		if (!payload)
			payload = empty;
		r = bfd_short_payload(store, req, payload);
		if (!r && req->op == BPFILTER_OP_GETSOCKOPT) {
			r = xt_store_getsockopt(store, req->level, req->optname, payload,
						req->payload_len, req->optlen, &out, &outlen,
						&new_optlen);
			if (!r && outlen > req->optlen) {
				bfd_err("store answered %u bytes to a %u-byte getsockopt", outlen,
					req->optlen);
				r = -EIO;
			}
		} else if (!r) {
			/* The datapath writes the state file ahead from it (state.h). */
			if (req->optname == IPT_SO_SET_REPLACE)
				bfd_state_set_request(payload, req->payload_len);
			if (own && *own == payload)
				r = xt_store_setsockopt_take(store, req->level, req->optname, own,
							     req->payload_len, &out, &outlen);
			else
				r = xt_store_setsockopt(store, req->level, req->optname, payload,
							req->payload_len, &out, &outlen);
			bfd_state_set_request(NULL, 0);
		}
		/* [reliability] persist before answering: a success the caller sees survives a
		 * crash (daemon/state.h). */
		if (r >= 0)
			bfd_state_after_request(store, req->op != BPFILTER_OP_GETSOCKOPT,
						req->level, req->optname, payload,
						req->payload_len);
	}
	if (r > 0)
		r = 0;
	if (r < 0) {
		outlen = 0;
		new_optlen = 0;
	}
	if (!outlen) {
		free(out);
		out = NULL;
	}
	if (req->op != BPFILTER_OP_GETSOCKOPT && req->op != BPFILTER_OP_RECENT)
		new_optlen = 0;

	bfd_dbg("pid %d: %s level %d optname %d optlen %u payload %u -> %s%s, %u bytes", peer->pid,
		bfd_op_name(req->op), req->level, req->optname, req->optlen, req->payload_len,
		r ? strerror(-r) : "ok",
		flags & BPFILTER_RESP_F_WRONG_NETNS ? " (other netns)" : "", outlen);

	*rsp = (struct bpfilter_response){
		.magic = BPFILTER_MAGIC,
		.version = BPFILTER_VERSION,
		.flags = flags,
		.error = -r,
		.optlen = new_optlen,
		.payload_len = outlen,
	};
	*rsp_payload = out;
}

void bfd_request_serve(struct xt_store *store, const struct bfd_peer_rights *peer,
		       const struct bpfilter_request *req, const void *payload,
		       struct bpfilter_response *rsp, void **rsp_payload)
{
	request_serve(store, peer, req, payload, NULL, rsp, rsp_payload);
}

static void bfd_conn_dispatch(struct xt_store *store, struct bfd_conn *c)
{
	const struct bfd_peer_rights peer = {.pid = (int)c->pid,
					     .may_admin = c->may_admin,
					     .may_read_names = c->may_read_names,
					     .other_netns = c->other_netns};

	uint64_t t0 = bfd_now_us(), t1;

	/* A SET_REPLACE's payload may become the table's blob (then c->payload is NULL). */
	request_serve(store, &peer, &c->req, c->payload, (void **)&c->payload, &c->rsp, &c->out);
	t1 = bfd_now_us();
	free(c->payload);
	c->payload = NULL;
	/* A replace leaves megabytes of small blocks free in the heaps (its model, the compiler's
	 * and the loader threads' work): give them back now rather than carry them into the peak of
	 * the next one. */
	if (c->req.op == BPFILTER_OP_SETSOCKOPT)
		malloc_trim(0);
	/* Where a request's time goes (doc/design.md, "Control plane cost"): large ones and
	 * every setsockopt. */
	if (c->req.payload_len >= (1u << 20) || c->rsp.payload_len >= (1u << 20) ||
	    c->req.op == BPFILTER_OP_SETSOCKOPT)
		bfd_dbg("pid %d: %u-byte request read in %.1f ms, served in %.1f ms, freed in "
			"%.1f ms",
			(int)c->pid, c->req.payload_len, (double)(t0 - c->t_hdr_us) / 1e3,
			(double)(t1 - t0) / 1e3, (double)(bfd_now_us() - t1) / 1e3);
	/* A response of megabytes (GET_ENTRIES at 10k rules: 1.8 MB) is queued at once rather
	 * than in a dozen turns of the two processes (~200 KB default send buffer): the kernel then
	 * holds what c->out would have held until the client read it. Best effort; CAP_NET_ADMIN
	 * is kept (daemon/caps.c). */
	if (c->rsp.payload_len >= (256u << 10)) {
		size_t want = sizeof(c->rsp) + (size_t)c->rsp.payload_len;
		int v = want > INT_MAX / 2 ? INT_MAX / 2 : (int)want;

		if (setsockopt(c->fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)))
			setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	}
	c->sent = 0;
	c->state = BFD_CONN_WRITE;
}

/* 1: all sent; 0: wait for the socket; -1: close. */
static int bfd_conn_write(struct bfd_conn *c)
{
	size_t total = sizeof(c->rsp) + c->rsp.payload_len;

	while (c->sent < total) {
		struct iovec iov[2];
		struct msghdr mh = {.msg_iov = iov};
		ssize_t n;

		if (c->sent < sizeof(c->rsp)) {
			iov[0] =
				(struct iovec){(char *)&c->rsp + c->sent, sizeof(c->rsp) - c->sent};
			iov[1] = (struct iovec){c->out, c->rsp.payload_len};
			mh.msg_iovlen = 2;
		} else {
			size_t off = c->sent - sizeof(c->rsp);

			iov[0] = (struct iovec){(char *)c->out + off, c->rsp.payload_len - off};
			mh.msg_iovlen = 1;
		}
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0) {
			bfd_dbg("pid %d: sending the response: %s", (int)c->pid, strerror(errno));
			return -1;
		}
		c->sent += n;
		c->deadline = bfd_now_ms() + BFD_CONN_TIMEOUT_MS;
	}
	return 1;
}

static void bfd_conn_event(struct bfd_server *srv, struct xt_store *store, struct bfd_conn *c)
{
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	int r;

	if (c->state != BFD_CONN_WRITE) {
		r = bfd_conn_read(c);
		if (r < 0) {
			bfd_conn_close(srv, c);
			return;
		}
		if (!r)
			return;
		bfd_conn_dispatch(store, c);
		r = bfd_conn_write(c);
		/* Only the response is left: stop reading (extra bytes would keep EPOLLIN up). */
		if (!r && epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
			r = -1;
	} else {
		r = bfd_conn_write(c);
	}
	if (r)
		bfd_conn_close(srv, c);
}

static int bfd_next_timeout(const struct bfd_server *srv, uint64_t now)
{
	uint64_t first = UINT64_MAX;
	const struct bfd_conn *c;

	for (c = srv->conns; c; c = c->next)
		if (c->deadline < first)
			first = c->deadline;
	/* Wake up to listen again after an accept() pause. */
	if (!srv->listening && srv->accept_retry > now && srv->accept_retry < first)
		first = srv->accept_retry;
	if (first == UINT64_MAX)
		return -1;
	return first <= now ? 0 : (int)(first - now);
}

static void bfd_expire(struct bfd_server *srv, uint64_t now)
{
	struct bfd_conn *c = srv->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->deadline > now)
			continue;
		bfd_warn("pid %d: no progress for %d ms; closing its connection", (int)c->pid,
			 BFD_CONN_TIMEOUT_MS);
		bfd_conn_close(srv, c);
	}
	bfd_update_listening(srv);
}

static int bfd_epoll_add(struct bfd_server *srv, int fd, struct bfd_watch *w)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};

	return epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int bfd_server_run(struct bfd_server *srv, struct xt_store *store)
{
	_cleanup_close_ int sfd = -1;
	sigset_t mask;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		return -errno;
	r = bfd_epoll_add(srv, srv->lfd, &srv->w_listen);
	if (!r)
		r = bfd_epoll_add(srv, sfd, &srv->w_signal);
	if (r < 0)
		return r;
	srv->listening = true;
	bfd_info("listening on %s", srv->path);

	for (;;) {
		struct epoll_event evs[32];
		int i, n;

		n = epoll_wait(srv->epfd, evs, BF_ARRAY_SIZE(evs),
			       bfd_next_timeout(srv, bfd_now_ms()));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++) {
			struct bfd_watch *w = evs[i].data.ptr;
			struct signalfd_siginfo si;

			switch (w->kind) {
			case BFD_W_LISTEN:
				bfd_accept(srv);
				break;
			case BFD_W_SIGNAL:
				if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					bfd_info("%s received, exiting", strsignal(si.ssi_signo));
					return 0;
				}
				break;
			case BFD_W_CONN:
				bfd_conn_event(srv, store, (struct bfd_conn *)w);
				break;
			}
		}
		bfd_expire(srv, bfd_now_ms());
	}
}
