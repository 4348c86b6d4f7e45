// SPDX-License-Identifier: GPL-2.0-only
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static bool bfd_log_syslog;
static bool bfd_log_debug;

void bfd_log_setup(bool use_syslog, bool debug)
{
	bfd_log_syslog = use_syslog;
	bfd_log_debug = debug;
	if (use_syslog)
		openlog("bpfilterd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void bfd_log_close(void)
{
	if (bfd_log_syslog)
		closelog();
}

bool bfd_log_debug_enabled(void)
{
	return bfd_log_debug;
}

static const char *bfd_log_prefix(enum bf_log_level level)
{
	switch (level) {
	case BF_LOG_ERR:
		return "error";
	case BF_LOG_WARN:
		return "warning";
	case BF_LOG_INFO:
		return "info";
	case BF_LOG_DEBUG:
		return "debug";
	}
	return "log";
}

void bfd_vlog(enum bf_log_level level, const char *fmt, va_list ap)
{
	int saved = errno;
	char msg[2048];
	size_t n;

	if (level >= BF_LOG_DEBUG && !bfd_log_debug)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Library messages may or may not end in a newline: print exactly one. */
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	if (bfd_log_syslog)
		syslog((int)level, "%s", msg);
	else
		fprintf(stderr, "bpfilterd: %s: %s\n", bfd_log_prefix(level), msg);
	errno = saved;
}

void bfd_log(enum bf_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bfd_vlog(level, fmt, ap);
	va_end(ap);
}

static __attribute__((format(printf, 3, 0))) void bfd_log_lib_fn(void *ctx, enum bf_log_level level,
								 const char *fmt, va_list ap)
{
	bfd_vlog(level, fmt, ap);
}

static const struct bf_log bfd_log_adapter = {.fn = bfd_log_lib_fn};

const struct bf_log *bfd_log_lib(void)
{
	return &bfd_log_adapter;
}
