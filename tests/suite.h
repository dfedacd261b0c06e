/* Shared by every Check binary: run one suite, exit status from its result. */
#ifndef TESTS_SUITE_H
#define TESTS_SUITE_H

#include <check.h>

int test_run_suite(Suite *s);

#endif
