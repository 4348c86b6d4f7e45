/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bpfilterd's Unix socket server (doc/protocol.md): one request per connection, a single-threaded
 * epoll loop, peer checks (network namespace, CAP_NET_ADMIN) and dispatch to the table store.
 */
#ifndef BFD_SERVER_H
#define BFD_SERVER_H

#include <stdbool.h>

#include <bpfilter/protocol.h>

struct bfd_server;
struct xt_store;

/* A connection that makes no progress for this long is closed. */
#define BFD_CONN_TIMEOUT_MS 5000
/* Connections served at once; more wait in the listen backlog. */
#define BFD_MAX_CONNS 64

/*
 * Bind the socket at path: missing directories are created 0700, the socket is 0600, a stale
 * socket is removed; -EADDRINUSE if another daemon answers there, -EEXIST if path is not a socket.
 */
int bfd_server_new(const char *path, struct bfd_server **out);
/* Close every connection and remove the socket (if it is still ours). NULL is fine. */
void bfd_server_free(struct bfd_server *srv);

/*
 * Serve until SIGINT or SIGTERM (the caller has blocked both), then return 0. Requests are served
 * one at a time on the calling thread; rtnetlink is handled by the datapath's own thread
 * (bfd_datapath_watch_start), so a long replace never delays attaching a new interface.
 */
int bfd_server_run(struct bfd_server *srv, struct xt_store *store);

/* What a peer may do, decided when its connection is accepted; the defaults refuse everything. */
struct bfd_peer_rights {
	int pid;	     /* for log lines only */
	bool may_admin;	     /* CAP_NET_ADMIN: every get/setsockopt */
	bool may_read_names; /* the 0440 root-owned /proc/net/ip*_tables_names */
	bool other_netns;
};

/*
 * The protocol without any I/O (the server's loop and tests/fuzz share it). bfd_request_valid():
 * whether a complete header may be followed by its payload (else *why says why, and the connection
 * is closed). bfd_request_serve(): answer one complete request; *rsp_payload (malloc'd, NULL when
 * rsp->payload_len is 0) is the caller's to free.
 */
bool bfd_request_valid(const struct bpfilter_request *req, const char **why);
void bfd_request_serve(struct xt_store *store, const struct bfd_peer_rights *peer,
		       const struct bpfilter_request *req, const void *payload,
		       struct bpfilter_response *rsp, void **rsp_payload);

#endif /* BFD_SERVER_H */
