/* SPDX-License-Identifier: GPL-2.0-only */
/* bpfilterd's logging: stderr with a level prefix (journald keeps it), or syslog. */
#ifndef BFD_LOG_H
#define BFD_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "../codegen/log.h"

/* Before the first message; messages above BF_LOG_INFO are dropped unless debug. */
void bfd_log_setup(bool use_syslog, bool debug);
void bfd_log_close(void);
bool bfd_log_debug_enabled(void);

void bfd_log(enum bf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bfd_vlog(enum bf_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* The adapter handed to the table store, the datapath and codegen. */
const struct bf_log *bfd_log_lib(void);

#define bfd_err(...) bfd_log(BF_LOG_ERR, __VA_ARGS__)
#define bfd_warn(...) bfd_log(BF_LOG_WARN, __VA_ARGS__)
#define bfd_info(...) bfd_log(BF_LOG_INFO, __VA_ARGS__)
#define bfd_dbg(...) bfd_log(BF_LOG_DEBUG, __VA_ARGS__)

#endif /* BFD_LOG_H */
