/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's datapath: the codegen runtime, the generations of each table, the dispatchers
 * attached to every interface of the namespace (TC, optionally XDP), and the rtnetlink watch that
 * keeps interfaces and local routes current (in a thread of its own). It offers the table store
 * its `struct xt_datapath`.
 */
#ifndef BFD_DATAPATH_H
#define BFD_DATAPATH_H

#include <stdbool.h>

#include "../codegen/log.h"
#include "xt_store.h"

struct bfd_datapath;

struct bfd_datapath_opts {
	bool xdp_input; /* run INPUT at XDP */
	/* [reliability] bpffs directory of this namespace's pins (doc/design.md, "Persistence"):
	 * maps and generations pinned there keep filtering without the daemon and are adopted at
	 * the next start. NULL: nothing pinned, filtering ends with the daemon. */
	const char *pin_dir;
	bool flush_on_exit; /* at exit detach everything and remove the pins (with pin_dir) */
};

struct bfd_state;

/* Create the runtime maps, start watching rtnetlink and attach dispatchers to every interface. */
int bfd_datapath_new(const struct bfd_datapath_opts *opts, const struct bf_log *log,
		     struct bfd_datapath **out);
/*
 * Without pin_dir or with flush_on_exit: detach every dispatcher and release every BPF object
 * (and remove the pins). Otherwise leave dispatchers attached and pins in place: the rulesets
 * stay in force for the next daemon to adopt.
 */
void bfd_datapath_free(struct bfd_datapath *dp);
/* Before the store lets go of its generations at exit: keep what a successor adopts (the recent
 * tables) unless this exit flushes everything. */
void bfd_datapath_exiting(struct bfd_datapath *dp);
/*
 * With pin_dir: load the tables of `st` into the store, switch to them and carry the counters of
 * the pinned generations over, then persist after every request (bfd_state_after_request). The
 * previous daemon's generation stays in force until the switch; on failure nothing is switched.
 * Call before bfd_datapath_start().
 */
int bfd_datapath_restore(struct bfd_datapath *dp, struct bfd_state *st, struct xt_store *store);
/* With pin_dir, interfaces are attached here (after the restore) rather than in _new(). */
int bfd_datapath_start(struct bfd_datapath *dp);
/* The store's view; valid until bfd_datapath_free(). */
const struct xt_datapath *bfd_datapath_ops(struct bfd_datapath *dp);
/*
 * From now on, handle rtnetlink (new, renamed and removed interfaces, local routes) in a thread of
 * its own, at a raised priority, so that a new interface is attached at once whatever the request
 * path is doing (a replace being compiled) and however loaded the machine is. Call while still
 * privileged (after bfd_datapath_start): the thread raises its priority (CAP_SYS_NICE, or
 * RLIMIT_NICE) and then drops to bfd_caps_runtime() itself, before this returns (capabilities
 * are per thread). Its callbacks run on that thread: see the comment on struct bfd_datapath for
 * what each thread owns. Stopped and joined by bfd_datapath_free().
 */
int bfd_datapath_watch_start(struct bfd_datapath *dp);
/* The LOG target's ring buffer and drop counter (daemon/logsink.h); owned by the datapath. */
int bfd_datapath_log_fds(const struct bfd_datapath *dp, int *rb_fd, int *drops_fd);

#endif /* BFD_DATAPATH_H */
