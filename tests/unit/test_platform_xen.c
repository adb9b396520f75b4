// SPDX-License-Identifier: MIT
/*
 * The xen platform: in a Xen control domain it opens; anywhere else opening
 * fails cleanly and names the missing device, so pvringd can print one clear
 * line. (What it maps and binds is exercised end to end under real Xen.)
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

static void test_open(void **state)
{
	struct pvring_platform *p;
	const char *why = NULL;

	(void)state;
	p = pvring_platform_xen_open(&why);
	if (access("/dev/xen/gntdev", F_OK) == 0) {
		if (!p)
			fail_msg("in a Xen control domain, opening failed: %s", why);
		assert_string_equal(pvring_platform_name(p), "xen");
		pvring_platform_destroy(p);
		return;
	}
	assert_null(p);
	assert_non_null(why);
	assert_non_null(strstr(why, "/dev/xen/gntdev"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open),
	};

	return cmocka_run_group_tests_name("xen platform", tests, NULL, NULL);
}
