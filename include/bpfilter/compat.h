/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Constants newer than the headers bpfilter builds against on Debian 12 (linux-libc-dev 6.1,
 * glibc 2.36), or absent from them, each with the kernel version and header it comes from. Only
 * what the code uses.
 */
#ifndef BPFILTER_COMPAT_H
#define BPFILTER_COMPAT_H

#include <sys/mman.h>

/* Linux 5.14, include/uapi/asm-generic/mman-common.h: fault the range in, writable. An older
 * kernel answers EINVAL, and the pages are faulted in one by one as before. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Linux 5.2, include/linux/bpf_verifier.h (kernel-internal, in no UAPI header): the
 * verifier's log level that prints only its statistics (processed instructions, states). */
#ifndef BPF_LOG_STATS
#define BPF_LOG_STATS 4
#endif

#endif /* BPFILTER_COMPAT_H */
