// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the fuzzers link instead of daemon/log.c: a silent log (the daemon logs every malformed
 * request, which would drown libFuzzer's own output). The harnesses serve requests without a
 * datapath, so daemon/datapath.c is left out.
 */
#include "fuzz_lib.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/log.h"

static int bf_fuzz_verbose = -1;

static bool bf_fuzz_print(void)
{
	if (bf_fuzz_verbose < 0) {
		const char *v = getenv("BF_FUZZ_VERBOSE");

		bf_fuzz_verbose = v && !strcmp(v, "1");
	}
	return bf_fuzz_verbose;
}

void bfd_log_setup(bool use_syslog, bool debug)
{
}

void bfd_log_close(void)
{
}

bool bfd_log_debug_enabled(void)
{
	return bf_fuzz_print();
}

void bfd_vlog(enum bf_log_level level, const char *fmt, va_list ap)
{
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (bf_fuzz_print())
		fprintf(stderr, "log %d: %s\n", (int)level, msg);
}

void bfd_log(enum bf_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bfd_vlog(level, fmt, ap);
	va_end(ap);
}

static __attribute__((format(printf, 3, 0))) void bf_fuzz_log_fn(void *ctx, enum bf_log_level level,
								 const char *fmt, va_list ap)
{
	bfd_vlog(level, fmt, ap);
}

const struct bf_log bf_fuzz_log = {.fn = bf_fuzz_log_fn};

const struct bf_log *bfd_log_lib(void)
{
	return &bf_fuzz_log;
}
