// SPDX-License-Identifier: MIT
/* The one number parser: what it takes, what it refuses, and that a refusal stores nothing. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "daemon/number.h"

static void test_decimal_whatever_the_leading_zeroes(void **state)
{
	uint64_t v = 77;

	(void)state;
	assert_int_equal(pvring_parse_u64("010", 4096, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(pvring_parse_u64("08", 4096, &v), 0);
	assert_int_equal(v, 8);
	assert_int_equal(pvring_parse_u64("0", 4096, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(pvring_parse_u64("4096", 4096, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(pvring_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
}

static void test_refuses_anything_else(void **state)
{
	static const char *const malformed[] = {
		"",
		"0x10",
		"4k",
		"1M",
		"-1",
		"+1",
		" 1",
		"1 ",
		"1\n",
		"1.0",
		"١",
		/* Overflowing and then malformed is malformed. */
		"99999999999999999999x",
	};
	uint64_t v = 77;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		assert_int_equal(pvring_parse_u64(malformed[i], UINT64_MAX, &v), -EINVAL);
	assert_int_equal(pvring_parse_u64(NULL, 4096, &v), -EINVAL);
	assert_int_equal(pvring_parse_u64("4097", 4096, &v), -ERANGE);
	assert_int_equal(pvring_parse_u64("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(pvring_parse_u64("184467440737095516150", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(pvring_parse_u64("1", 0, &v), -ERANGE);
	/* Nothing is stored on failure. */
	assert_int_equal(v, 77);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decimal_whatever_the_leading_zeroes),
		cmocka_unit_test(test_refuses_anything_else),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
