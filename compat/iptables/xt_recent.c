// SPDX-License-Identifier: GPL-2.0-only
/*
 * /proc/net/xt_recent/NAME, the recent match's control files, served by bpfilterd
 * (BPFILTER_OP_RECENT, doc/protocol.md). An open for reading returns a sealed memfd holding the
 * daemon's text (the kernel's line format). An open for writing returns an empty memfd named
 * "bpfilter-xt_recent:NAME"; what is written to it is sent to the daemon as one write when the
 * descriptor is closed, replaced by dup2/dup3, or at process exit (a shell's `echo / > FILE`
 * writes through stdio and restores its stdout with dup2; an exec'd command exits). The kernel
 * takes only the first write of an open file (ESPIPE after it), so sending everything at once
 * changes nothing the kernel would have done, but an error (EINVAL for a bad address) comes from
 * close() or is printed at exit instead of failing the write itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpfilter/cleanup.h>
#include <bpfilter/protocol.h>

#include "shim.h"

#define BFS_EXPORT __attribute__((visibility("default")))
#define PREFIX "/proc/net/xt_recent/"
#define MEMFD_NAME "bpfilter-xt_recent:"

/* The table name of a control file path, or NULL. */
const char *bfs_recent_name(const char *path)
{
	const char *n;

	if (!path || strncmp(path, PREFIX, sizeof(PREFIX) - 1))
		return NULL;
	n = path + sizeof(PREFIX) - 1;
	if (!*n || strchr(n, '/') || strlen(n) >= BPFILTER_RECENT_NAME_MAX)
		return NULL;
	return n;
}

static int bfs_fd_sink(void *ctx, size_t off, const void *buf, size_t len)
{
	int fd = *(int *)ctx;
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += n;
	}
	return 0;
}

static int bfs_discard_sink(void *ctx, size_t off, const void *buf, size_t len)
{
	return 0;
}

/* One request: name + NUL + data. Read: text into fd (if >= 0). */
static int bfs_recent_req(const char *name, int optname, const void *data, size_t len, int fd,
			  uint32_t *written)
{
	size_t nlen = strlen(name) + 1;
	char buf[BPFILTER_RECENT_NAME_MAX + BPFILTER_RECENT_WRITE_MAX];
	struct bpfilter_request req = {.op = BPFILTER_OP_RECENT, .optname = optname};
	struct bpfilter_response resp;
	int r;

	/* No table has a longer name (XT_RECENT_NAME_LEN): no such file. */
	if (nlen > BPFILTER_RECENT_NAME_MAX)
		return -ENOENT;
	if (len > BPFILTER_RECENT_WRITE_MAX)
		len = BPFILTER_RECENT_WRITE_MAX; /* the kernel reads no more */
	memcpy(buf, name, nlen);
	if (len) /* a read has no data, and data is NULL then */
		memcpy(buf + nlen, data, len);
	req.payload_len = (uint32_t)(nlen + len);
	r = bfs_transact(&req, buf, &resp, fd >= 0 ? bfs_fd_sink : bfs_discard_sink, &fd);
	if (r < 0)
		return r;
	if (resp.error)
		return -resp.error;
	if (written)
		*written = resp.optlen;
	return 0;
}

int bfs_recent_open(const char *name, int flags)
{
	bool wr = (flags & O_ACCMODE) != O_RDONLY;
	char mname[sizeof(MEMFD_NAME) + BPFILTER_RECENT_NAME_MAX];
	_cleanup_close_ int fd = -1;
	int r;

	snprintf(mname, sizeof(mname), "%s%s", wr ? MEMFD_NAME : "xt_recent_r:", name);
	fd = memfd_create(mname, MFD_ALLOW_SEALING | (flags & O_CLOEXEC ? MFD_CLOEXEC : 0));
	if (fd < 0)
		return -errno;
	/* Reading fills it; for a writer it says whether the table exists (ENOENT). */
	r = bfs_recent_req(name, BPFILTER_RECENT_READ, NULL, 0, wr ? -1 : fd, NULL);
	if (r < 0)
		return r;
	if (!wr) {
		(void)fcntl(fd, F_ADD_SEALS,
			    F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
		if (lseek(fd, 0, SEEK_SET) < 0)
			return -errno;
	}
	return TAKE_FD(fd);
}

/* The table name of a writer memfd, in out; false for any other fd. */
static bool bfs_recent_writer(int fd, char *out, size_t len)
{
	char link[64], target[sizeof(MEMFD_NAME) + BPFILTER_RECENT_NAME_MAX + 32];
	const char *p = "/memfd:" MEMFD_NAME;
	ssize_t n;
	char *end;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	if (strncmp(target, p, strlen(p)))
		return false;
	end = strstr(target, " (deleted)");
	if (end)
		*end = '\0';
	if (strlen(target + strlen(p)) >= len)
		return false;
	memcpy(out, target + strlen(p), strlen(target + strlen(p)) + 1);
	return true;
}

/* Send what was written to a writer memfd and empty it: 0 or -errno. */
static int bfs_recent_flush(int fd)
{
	char name[BPFILTER_RECENT_NAME_MAX], data[BPFILTER_RECENT_WRITE_MAX];
	int saved = errno, r = 0;
	ssize_t n;

	if (fd < 0 || !bfs_recent_writer(fd, name, sizeof(name)))
		return 0;
	n = pread(fd, data, sizeof(data), 0);
	if (n > 0) {
		r = bfs_recent_req(name, BPFILTER_RECENT_WRITE, data, (size_t)n, -1, NULL);
		if (ftruncate(fd, 0) == 0)
			(void)lseek(fd, 0, SEEK_SET);
	}
	errno = saved;
	return r;
}

typedef int (*close_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);

BFS_EXPORT int close(int fd)
{
	static void *slot;
	close_fn real = (close_fn)bfs_real("close", &slot);
	int r = bfs_recent_flush(fd), c;

	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	c = real(fd);
	if (c == 0 && r < 0) {
		errno = -r;
		return -1;
	}
	return c;
}

BFS_EXPORT int dup2(int oldfd, int newfd)
{
	static void *slot;
	dup2_fn real = (dup2_fn)bfs_real("dup2", &slot);

	if (oldfd != newfd)
		(void)bfs_recent_flush(newfd);
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(oldfd, newfd);
}

BFS_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	static void *slot;
	dup3_fn real = (dup3_fn)bfs_real("dup3", &slot);

	if (oldfd != newfd)
		(void)bfs_recent_flush(newfd);
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(oldfd, newfd, flags);
}

/* An exec'd command (e.g. /bin/echo) never closes its stdout: flush every writer at exit. */
__attribute__((destructor)) static void bfs_recent_at_exit(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name), r;

		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		fflush(NULL);
		r = bfs_recent_flush(fd);
		if (r < 0)
			fprintf(stderr, "bpfilter: write to /proc/net/xt_recent: %s\n",
				strerror(-r));
	}
	closedir(d);
}
