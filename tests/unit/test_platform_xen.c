// SPDX-License-Identifier: MIT
/*
 * The xen platform outside a Xen control domain: opening fails cleanly and
 * says which device is missing, so pvringd can print one clear line. (In a
 * real dom0 the end-to-end tests exercise it.)
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon/platform/platform.h"

static void test_open_outside_dom0(void **state)
{
	const char *why = NULL;

	(void)state;
	if (access("/dev/xen/gntdev", F_OK) == 0)
		skip(); /* a real dom0: covered end to end */
	assert_null(pvring_platform_xen_open(&why));
	assert_non_null(why);
	assert_non_null(strstr(why, "/dev/xen/gntdev"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_outside_dom0),
	};

	return cmocka_run_group_tests_name("xen platform", tests, NULL, NULL);
}
