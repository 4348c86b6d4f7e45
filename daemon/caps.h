/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Least privilege: once bpfilterd has started (socket bound, datapath up), it keeps only the
 * capabilities it needs to serve requests and follow interfaces. See doc/design.md, "Privileges".
 */
#ifndef BFD_CAPS_H
#define BFD_CAPS_H

#include <stddef.h>
#include <stdint.h>

/* Capabilities bpfilterd keeps at run time, as a mask of 1 << CAP_*. */
uint64_t bfd_caps_runtime(void);

/*
 * Drop every capability outside keep from the bounding, inheritable, ambient, permitted and
 * effective sets, lock the securebits so that no exec as uid 0 regains any, and set
 * no_new_privs. Capabilities in keep that the process does not have are not an error (they are
 * logged). -errno on failure, with the process in an unknown state: the caller must exit.
 */
int bfd_caps_drop(uint64_t keep);

/* Text such as "cap_net_admin,cap_bpf" for a mask; writes at most len bytes (NUL included). */
void bfd_caps_names(uint64_t mask, char *buf, size_t len);

#endif /* BFD_CAPS_H */
