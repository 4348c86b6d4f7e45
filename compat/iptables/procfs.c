// SPDX-License-Identifier: GPL-2.0-only
/*
 * /proc/net/ip_tables_names and /proc/net/ip6_tables_names as bpfilterd sees them.
 *
 * iptables-save reads the first with fopen() to list the tables; libxtables' proc_file_exists()
 * lstat()s and statfs()s it before every revision probe and, if it is missing, spawns modprobe.
 * Opening either path returns a sealed memfd holding the daemon's text; lstat/stat/statfs answer
 * "regular file on procfs" even on a kernel built without legacy iptables. Every other path goes
 * to libc untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/magic.h>

#include <bpfilter/cleanup.h>
#include <bpfilter/protocol.h>

#include "shim.h"

#define BFS_EXPORT __attribute__((visibility("default")))

/* SOL_IP or SOL_IPV6 for the two emulated files, -1 for any other path. */
static int bfs_names_level(const char *path)
{
	if (!path)
		return -1;
	if (!strcmp(path, "/proc/net/ip_tables_names"))
		return SOL_IP;
	if (!strcmp(path, "/proc/net/ip6_tables_names"))
		return SOL_IPV6;
	return -1;
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

int bfs_table_names_fd(int level, int cloexec)
{
	struct bpfilter_request req = {.op = BPFILTER_OP_TABLE_NAMES, .level = level};
	struct bpfilter_response resp;
	_cleanup_close_ int fd = -1;
	int r;

	fd = memfd_create(level == SOL_IP ? "ip_tables_names" : "ip6_tables_names",
			  MFD_ALLOW_SEALING | (cloexec ? MFD_CLOEXEC : 0));
	if (fd < 0)
		return -errno;
	r = bfs_transact(&req, NULL, &resp, bfs_fd_sink, &fd);
	if (r < 0)
		return r;
	if (resp.error)
		return -resp.error;
	/* Read-only like the proc file; sealing is best effort. */
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	return TAKE_FD(fd);
}

static bool bfs_mode_read_only(const char *mode)
{
	return mode && mode[0] == 'r' && !strchr(mode, '+');
}

static FILE *bfs_names_fopen(int level, const char *mode)
{
	int fd = bfs_table_names_fd(level, strchr(mode, 'e') != NULL);
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return f;
}

typedef FILE *(*fopen_fn)(const char *, const char *);

/* fopen of /proc/net/xt_recent/NAME: read ("r") or write ("w", "a") as open() does. */
static FILE *bfs_recent_fopen(const char *name, const char *mode)
{
	int flags = mode[0] == 'r' && !strchr(mode, '+') ? O_RDONLY : O_WRONLY;
	int fd = bfs_recent_open(name, flags | (strchr(mode, 'e') ? O_CLOEXEC : 0));
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, flags == O_RDONLY ? "r" : "w");
	if (!f) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return f;
}

BFS_EXPORT FILE *fopen(const char *path, const char *mode)
{
	static void *slot;
	fopen_fn real = (fopen_fn)bfs_real("fopen", &slot);
	int level = bfs_names_level(path);

	if (bfs_recent_name(path))
		return bfs_recent_fopen(bfs_recent_name(path), mode);

	if (level >= 0 && bfs_mode_read_only(mode))
		return bfs_names_fopen(level, mode);
	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	return real(path, mode);
}

BFS_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	static void *slot;
	fopen_fn real = (fopen_fn)bfs_real("fopen64", &slot);
	int level = bfs_names_level(path);

	if (bfs_recent_name(path))
		return bfs_recent_fopen(bfs_recent_name(path), mode);

	if (level >= 0 && bfs_mode_read_only(mode))
		return bfs_names_fopen(level, mode);
	if (!real) {
		errno = ENOSYS;
		return NULL;
	}
	return real(path, mode);
}

/* open*(): only a plain read-only open of the two paths is emulated. */
static bool bfs_names_open_applies(const char *path, int flags)
{
	if (bfs_recent_name(path))
		return !(flags & (O_DIRECTORY | O_PATH | O_TMPFILE));
	return bfs_names_level(path) >= 0 && (flags & O_ACCMODE) == O_RDONLY &&
	       !(flags & (O_CREAT | O_DIRECTORY | O_PATH | O_TMPFILE));
}

static int bfs_names_open(const char *path, int flags)
{
	int fd = bfs_recent_name(path)
			 ? bfs_recent_open(bfs_recent_name(path), flags)
			 : bfs_table_names_fd(bfs_names_level(path), flags & O_CLOEXEC);

	if (fd < 0) {
		errno = -fd;
		return -1;
	}
	return fd;
}

static mode_t bfs_open_mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return va_arg(ap, mode_t);
	return 0;
}

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);

static int bfs_open_common(const char *name, void **slot, const char *path, int flags, mode_t mode)
{
	open_fn real;

	if (bfs_names_open_applies(path, flags))
		return bfs_names_open(path, flags);
	real = (open_fn)bfs_real(name, slot);
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(path, flags, mode);
}

static int bfs_openat_common(const char *name, void **slot, int dirfd, const char *path, int flags,
			     mode_t mode)
{
	openat_fn real;

	/* Both paths are absolute, so dirfd does not matter. */
	if (bfs_names_open_applies(path, flags))
		return bfs_names_open(path, flags);
	real = (openat_fn)bfs_real(name, slot);
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(dirfd, path, flags, mode);
}

BFS_EXPORT int open(const char *path, int flags, ...)
{
	static void *slot;
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = bfs_open_mode(flags, ap);
	va_end(ap);
	return bfs_open_common("open", &slot, path, flags, mode);
}

BFS_EXPORT int open64(const char *path, int flags, ...)
{
	static void *slot;
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = bfs_open_mode(flags, ap);
	va_end(ap);
	return bfs_open_common("open64", &slot, path, flags, mode);
}

BFS_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	static void *slot;
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = bfs_open_mode(flags, ap);
	va_end(ap);
	return bfs_openat_common("openat", &slot, dirfd, path, flags, mode);
}

BFS_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	static void *slot;
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = bfs_open_mode(flags, ap);
	va_end(ap);
	return bfs_openat_common("openat64", &slot, dirfd, path, flags, mode);
}

/*
 * stat family. The real answer wins when the file exists (a kernel with legacy iptables); else a
 * read-only regular file, as procfs shows it. The struct is filled only for these two paths.
 */
static void bfs_fake_stat(struct stat64 *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_blksize = 1024;
}

typedef int (*stat_fn)(const char *, struct stat64 *);
typedef int (*statfs_fn)(const char *, struct statfs64 *);

static int bfs_stat_common(const char *name, void **slot, const char *path, struct stat64 *st)
{
	stat_fn real = (stat_fn)bfs_real(name, slot);
	int saved = errno;

	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	if (bfs_names_level(path) < 0)
		return real(path, st);
	if (real(path, st) == 0)
		return 0;
	errno = saved;
	bfs_fake_stat(st);
	return 0;
}

static int bfs_statfs_common(const char *name, void **slot, const char *path, struct statfs64 *sf)
{
	statfs_fn real = (statfs_fn)bfs_real(name, slot);
	int saved = errno;

	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	if (bfs_names_level(path) < 0)
		return real(path, sf);
	if (real(path, sf) == 0)
		return 0;
	/* The file is missing: answer for the procfs it would live on. */
	if (real("/proc", sf) != 0) {
		memset(sf, 0, sizeof(*sf));
		sf->f_bsize = 4096;
		sf->f_namelen = 255;
	}
	sf->f_type = PROC_SUPER_MAGIC;
	errno = saved;
	return 0;
}

/* On x86_64 (and every LP64 glibc target) struct stat/stat64 and statfs/statfs64 are the same. */
_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "stat layout");
_Static_assert(sizeof(struct statfs) == sizeof(struct statfs64), "statfs layout");

BFS_EXPORT int lstat(const char *path, struct stat *st)
{
	static void *slot;

	return bfs_stat_common("lstat", &slot, path, (struct stat64 *)st);
}

BFS_EXPORT int lstat64(const char *path, struct stat64 *st)
{
	static void *slot;

	return bfs_stat_common("lstat64", &slot, path, st);
}

BFS_EXPORT int stat(const char *path, struct stat *st)
{
	static void *slot;

	return bfs_stat_common("stat", &slot, path, (struct stat64 *)st);
}

BFS_EXPORT int stat64(const char *path, struct stat64 *st)
{
	static void *slot;

	return bfs_stat_common("stat64", &slot, path, st);
}

BFS_EXPORT int statfs(const char *path, struct statfs *sf)
{
	static void *slot;

	return bfs_statfs_common("statfs", &slot, path, (struct statfs64 *)sf);
}

BFS_EXPORT int statfs64(const char *path, struct statfs64 *sf)
{
	static void *slot;

	return bfs_statfs_common("statfs64", &slot, path, sf);
}
