/* SPDX-License-Identifier: GPL-2.0-only */
/* Library logging: codegen never prints; it hands messages to the caller's callback. */
#ifndef BF_LOG_H
#define BF_LOG_H

#include <stdarg.h>

enum bf_log_level { BF_LOG_ERR = 3, BF_LOG_WARN = 4, BF_LOG_INFO = 6, BF_LOG_DEBUG = 7 };

struct bf_log {
	void (*fn)(void *ctx, enum bf_log_level level, const char *fmt, va_list ap);
	void *ctx;
};

/* Safe with a NULL log or a NULL fn. */
void bf_logf(const struct bf_log *log, enum bf_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* BF_LOG_H */
