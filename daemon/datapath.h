/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's datapath: the codegen runtime, the generations of each table, the dispatchers
 * attached to every interface of the namespace (TC, optionally XDP), and the rtnetlink watch that
 * keeps interfaces and local routes current. It offers the table store its `struct xt_datapath`.
 */
#ifndef BFD_DATAPATH_H
#define BFD_DATAPATH_H

#include <stdbool.h>

#include "../codegen/log.h"
#include "xt_store.h"

struct bfd_datapath;

struct bfd_datapath_opts {
	bool xdp_input; /* run INPUT at XDP */
};

/* Create the runtime maps, start watching rtnetlink and attach dispatchers to every interface. */
int bfd_datapath_new(const struct bfd_datapath_opts *opts, const struct bf_log *log,
		     struct bfd_datapath **out);
/* Detach every dispatcher and release every BPF object. */
void bfd_datapath_free(struct bfd_datapath *dp);
/* The store's view; valid until bfd_datapath_free(). */
const struct xt_datapath *bfd_datapath_ops(struct bfd_datapath *dp);
/* The rtnetlink socket to poll for readability, and what to call when it is readable. */
int bfd_datapath_fd(const struct bfd_datapath *dp);
int bfd_datapath_process(struct bfd_datapath *dp);

#endif /* BFD_DATAPATH_H */
