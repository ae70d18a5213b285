/* The main() of every unit test binary: one suite with one test case,
 * run with Check's normal output (its summary line is what CI reads). */
#ifndef CFS_CHECK_MAIN_H
#define CFS_CHECK_MAIN_H

#include <check.h>
#include <stddef.h>

static inline int cfs_run_suite(const char *name, void (*setup)(void),
				void (*teardown)(void),
				const TTest *const *tests, size_t n)
{
	Suite *s = suite_create(name);
	TCase *tc = tcase_create(name);
	SRunner *sr;
	int failed;

	if (setup || teardown)
		tcase_add_checked_fixture(tc, setup, teardown);
	for (size_t i = 0; i < n; i++)
		tcase_add_test(tc, tests[i]);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

#define CFS_RUN_SUITE(name, setup, teardown, ...)                          \
	do {                                                               \
		const TTest *const tests_[] = { __VA_ARGS__ };             \
		return cfs_run_suite(name, setup, teardown, tests_,        \
				     sizeof(tests_) / sizeof(tests_[0]));  \
	} while (0)

#endif
