/* SPDX-License-Identifier: GPL-2.0-only */
/* Internal interface of the preload shim (libbpfilter-preload.so). Nothing here is exported: the
 * library is built with -fvisibility=hidden and shim.map lists the interposed symbols only. */
#ifndef BFS_SHIM_H
#define BFS_SHIM_H

#include <stddef.h>
#include <stdint.h>

/* The next definition of `name` (libc's), resolved once; errno is left intact. */
void *bfs_real(const char *name, void **slot);

/* Where the response payload goes: called with consecutive pieces; a negative return stops the
 * transfer and is the call's result. */
typedef int (*bfs_sink_fn)(void *ctx, size_t off, const void *buf, size_t len);

/*
 * One request to bpfilterd: send the header and `payload_len` bytes of the caller's memory at
 * `payload` (-EFAULT if part of it is unreadable: nothing was done), read the response header into
 * *resp and hand its payload to `sink` (a bfs_user_sink of a getsockopt: received straight into
 * the caller's buffer, -EFAULT if that faults). Returns 0 (resp->error may be non-zero) or a negative errno when bpfilterd
 * could not be reached or broke the protocol; the shim has then printed why, once per process.
 * A WRONG_NETNS response is reported here too and turned into resp->error = ENOPROTOOPT.
 */
struct bpfilter_request;
struct bpfilter_response;
int bfs_transact(struct bpfilter_request *req, const void *payload, struct bpfilter_response *resp,
		 bfs_sink_fn sink, void *sink_ctx);

/* Text of /proc/net/ip{,6}_tables_names from bpfilterd, in a new memfd positioned at 0.
 * Returns the fd or a negative errno. */
int bfs_table_names_fd(int level, int cloexec);

/* /proc/net/xt_recent/NAME (xt_recent.c): the NAME of such a path or NULL, and its open. */
const char *bfs_recent_name(const char *path);
int bfs_recent_open(const char *name, int flags);

#endif /* BFS_SHIM_H */
