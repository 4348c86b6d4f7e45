// SPDX-License-Identifier: GPL-2.0-only
#include "log.h"

#include <stddef.h>

void bf_logf(const struct bf_log *log, enum bf_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!log || !log->fn)
		return;
	va_start(ap, fmt);
	log->fn(log->ctx, level, fmt, ap);
	va_end(ap);
}
