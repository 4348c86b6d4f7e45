// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpfilterd: serves iptables-legacy (through the preload shim) for the network namespace it was
 * started in. Runs in the foreground; SIGTERM/SIGINT stop it cleanly.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpfilter/protocol.h>

#include "caps.h"
#include "datapath.h"
#include "logsink.h"
#include "log.h"
#include "server.h"
#include "state.h"
#include "xt_store.h"

/* Keep in sync with AC_INIT in configure.ac. */
#define BFD_VERSION "0.1.0"

/* [reliability] defaults: see doc/design.md, "Persistence", and bpfilterd(8). */
#define BFD_DEFAULT_STATE_DIR "/var/lib/bpfilter"
#define BFD_DEFAULT_PIN_DIR "/sys/fs/bpf/bpfilter"

static void bfd_usage(FILE *f)
{
	fprintf(f,
		"Usage: bpfilterd [OPTIONS]\n"
		"Serve iptables-legacy's x_tables calls (through libbpfilter-preload.so) with BPF\n"
		"programs, for the network namespace bpfilterd is started in.\n"
		"\n"
		"  -s, --socket PATH  listen on PATH (default %s)\n"
		"      --xdp          run the INPUT chain at XDP instead of TC ingress\n"
		"      --state-dir DIR  persisted tables and counters (default %s)\n"
		"      --pin-dir DIR  bpffs directory for pinned maps and programs, one\n"
		"                     netns-<cookie> subdirectory per network namespace\n"
		"                     (default %s)\n"
		"      --flush-on-exit  remove all filtering, pins and state at exit (default:\n"
		"                     the rulesets stay in force and the next bpfilterd adopts\n"
		"                     them)\n"
		"      --syslog       log to syslog instead of stderr\n"
		"  -v, --verbose      log debug messages (every request)\n"
		"  -h, --help         show this help and exit\n"
		"  -V, --version      show the version and exit\n",
		BPFILTER_DEFAULT_SOCKET, BFD_DEFAULT_STATE_DIR, BFD_DEFAULT_PIN_DIR);
}

enum { BFD_OPT_SYSLOG = 256, BFD_OPT_XDP, BFD_OPT_STATE_DIR, BFD_OPT_PIN_DIR, BFD_OPT_FLUSH };

struct bfd_opts {
	const char *socket;
	bool syslog;
	bool verbose;
	bool xdp;
	const char *state_dir;
	const char *pin_dir;
	bool flush_on_exit;
};

/* 0 to run, 1 to exit successfully (help, version), -EINVAL on a bad command line. */
static int bfd_parse_args(int argc, char **argv, struct bfd_opts *o)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"verbose", no_argument, NULL, 'v'},
		{"syslog", no_argument, NULL, BFD_OPT_SYSLOG},
		{"xdp", no_argument, NULL, BFD_OPT_XDP},
		{"state-dir", required_argument, NULL, BFD_OPT_STATE_DIR},
		{"pin-dir", required_argument, NULL, BFD_OPT_PIN_DIR},
		{"flush-on-exit", no_argument, NULL, BFD_OPT_FLUSH},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{},
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case BFD_OPT_SYSLOG:
			o->syslog = true;
			break;
		case BFD_OPT_XDP:
			o->xdp = true;
			break;
		case BFD_OPT_STATE_DIR:
			o->state_dir = optarg;
			break;
		case BFD_OPT_PIN_DIR:
			o->pin_dir = optarg;
			break;
		case BFD_OPT_FLUSH:
			o->flush_on_exit = true;
			break;
		case 'h':
			bfd_usage(stdout);
			return 1;
		case 'V':
			printf("bpfilterd %s\n", BFD_VERSION);
			return 1;
		default:
			bfd_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bpfilterd: unexpected argument '%s'\n", argv[optind]);
		bfd_usage(stderr);
		return -EINVAL;
	}
	if (!*o->socket) {
		fprintf(stderr, "bpfilterd: --socket needs a path\n");
		return -EINVAL;
	}
	if (o->state_dir[0] != '/' || o->pin_dir[0] != '/') {
		fprintf(stderr, "bpfilterd: --state-dir and --pin-dir need absolute paths\n");
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bfd_opts o = {
		.socket = BPFILTER_DEFAULT_SOCKET,
		.state_dir = BFD_DEFAULT_STATE_DIR,
		.pin_dir = BFD_DEFAULT_PIN_DIR,
	};
	struct bfd_state *state = NULL;
	char *pin_dir = NULL;
	uint64_t cookie = 0;
	struct bfd_datapath_opts dp_opts = {};
	struct bfd_datapath *dp = NULL;
	struct bfd_logsink *logsink = NULL;
	struct bfd_server *srv = NULL;
	struct xt_store *store = NULL;
	sigset_t mask;
	int r;

	r = bfd_parse_args(argc, argv, &o);
	if (r)
		return r > 0 ? EXIT_SUCCESS : 2;
	bfd_log_setup(o.syslog, o.verbose);
	/* Tables, requests and replies of large rulesets are buffers of megabytes that come and
	 * go with every request: mapped and unmapped on their own, they leave no holes in the
	 * heap (glibc would otherwise raise its threshold and serve them from the heap, and the
	 * resident size would keep the high-water mark of a fragmented heap). */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);

	/* Blocked from the start: delivered through the server's signalfd, so that an early
	 * SIGTERM still leads to a clean exit. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The socket first: a second daemon must give up before it touches any interface. */
	r = bfd_server_new(o.socket, &srv);
	if (r < 0) {
		bfd_err("cannot listen on %s: %s", o.socket, strerror(-r));
		goto out;
	}

	/* Pins and state are per network namespace: its cookie is never reused while the machine
	 * runs, so daemons of different namespaces never share them. */
	r = bfd_netns_cookie(&cookie);
	if (r < 0) {
		bfd_err("cannot read the network namespace's cookie: %s", strerror(-r));
		goto out;
	}
	if (asprintf(&pin_dir, "%s/netns-%llu", o.pin_dir, (unsigned long long)cookie) < 0) {
		pin_dir = NULL;
		r = -ENOMEM;
		goto out;
	}
	dp_opts.xdp_input = o.xdp;
	dp_opts.pin_dir = pin_dir;
	dp_opts.flush_on_exit = o.flush_on_exit;
	r = bfd_datapath_new(&dp_opts, bfd_log_lib(), &dp);
	if (r == -ENOSYS) {
		bfd_warn("datapath not available: rules are NOT enforced");
		dp = NULL;
	} else if (r < 0) {
		bfd_err("cannot set up the datapath: %s", strerror(-r));
		goto out;
	}

	r = xt_store_new(dp ? bfd_datapath_ops(dp) : NULL, bfd_log_lib(), &store);
	if (r < 0) {
		bfd_err("cannot create the table store: %s", strerror(-r));
		goto out;
	}

	if (dp) {
		r = bfd_state_open(o.state_dir, cookie, bfd_log_lib(), &state);
		if (r < 0) {
			bfd_err("cannot use the state directory %s: %s", o.state_dir, strerror(-r));
			goto out;
		}
		r = bfd_datapath_restore(dp, state, store);
		if (r < 0) {
			bfd_err("cannot restore the persisted tables: %s; what was in force stays "
				"in force",
				strerror(-r));
			goto out;
		}
		r = bfd_datapath_start(dp);
		if (r < 0) {
			bfd_err("cannot attach to the interfaces: %s", strerror(-r));
			goto out;
		}
		bfd_fault_arm();
		/* The LOG target's lines: before dropping capabilities (logsink.h). */
		{
			int rb_fd, drops_fd;

			if (!bfd_datapath_log_fds(dp, &rb_fd, &drops_fd)) {
				r = bfd_logsink_new(rb_fd, drops_fd, bfd_log_lib(), &logsink);
				if (r < 0)
					bfd_warn("LOG lines will not be written: %s", strerror(-r));
			}
		}
	}

	/* The rtnetlink thread raises its priority, then drops its own capabilities (they are per
	 * thread) before this returns. */
	if (dp) {
		r = bfd_datapath_watch_start(dp);
		if (r < 0) {
			bfd_err("cannot start the rtnetlink watch thread: %s", strerror(-r));
			goto out;
		}
	}

	/* Everything that needs more than the run-time set is done (daemon/caps.c says why each
	 * capability that stays does). */
	r = bfd_caps_drop(bfd_caps_runtime());
	if (r < 0) {
		bfd_err("cannot drop capabilities: %s", strerror(-r));
		goto out;
	}

	r = bfd_server_run(srv, store);
	if (r < 0)
		bfd_err("server loop failed: %s", strerror(-r));

out:
	bfd_logsink_free(logsink);
	if (dp)
		bfd_datapath_exiting(dp);
	if (store)
		xt_store_free(store);
	if (dp)
		bfd_datapath_free(dp);
	bfd_state_free(state);
	free(pin_dir);
	bfd_server_free(srv);
	bfd_log_close();
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
