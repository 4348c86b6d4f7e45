/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared by the libFuzzer harnesses of tests/fuzz: a silent log, and invariant checks. */
#ifndef BF_FUZZ_LIB_H
#define BF_FUZZ_LIB_H

#include <stdio.h>
#include <stdlib.h>

#include "../../codegen/log.h"

/* Formats every message (so that a bad format argument still trips the sanitizers) and drops it;
 * BF_FUZZ_VERBOSE=1 prints them, for reproducing one input. */
extern const struct bf_log bf_fuzz_log;

/* A broken invariant is a crash for libFuzzer: it saves the input. */
#define BF_FUZZ_CHECK(cond, ...)                                                               \
	do {                                                                                   \
		if (!(cond)) {                                                                 \
			fprintf(stderr, "invariant broken at %s:%d: %s: ", __FILE__, __LINE__, \
				#cond);                                                        \
			fprintf(stderr, __VA_ARGS__);                                          \
			fputc('\n', stderr);                                                   \
			abort();                                                               \
		}                                                                              \
	} while (0)

#endif /* BF_FUZZ_LIB_H */
