/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * bpfilterd's Unix socket server (doc/protocol.md): one request per connection, a single-threaded
 * epoll loop, peer checks (network namespace, CAP_NET_ADMIN) and dispatch to the table store.
 */
#ifndef BFD_SERVER_H
#define BFD_SERVER_H

struct bfd_server;
struct bfd_datapath;
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
 * Serve until SIGINT or SIGTERM (the caller has blocked both), then return 0. dp may be NULL (no
 * datapath); its rtnetlink fd is polled and bfd_datapath_process() called when readable.
 */
int bfd_server_run(struct bfd_server *srv, struct xt_store *store, struct bfd_datapath *dp);

#endif /* BFD_SERVER_H */
