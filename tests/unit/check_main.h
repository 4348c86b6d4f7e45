/* SPDX-License-Identifier: GPL-2.0-only */
/* The main() of a unit test binary: run its suite, exit non-zero if a test failed. */
#ifndef BF_TESTS_CHECK_MAIN_H
#define BF_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

static inline int bf_check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
