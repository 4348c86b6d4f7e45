/* SPDX-License-Identifier: GPL-2.0-only */
/* Ownership helpers: a variable declared with one of these is released when it goes out of scope.
 * Transfer ownership with TAKE_PTR()/TAKE_FD(). */
#ifndef BPFILTER_CLEANUP_H
#define BPFILTER_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void bf_freep(void *p)
{
	free(*(void **)p);
}

static inline void bf_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void bf_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_free_ __attribute__((cleanup(bf_freep)))
#define _cleanup_close_ __attribute__((cleanup(bf_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(bf_fclosep)))

#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})

#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})

#define BF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* BPFILTER_CLEANUP_H */
