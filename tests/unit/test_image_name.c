// SPDX-License-Identifier: MIT
/*
 * Engines' image names: the RBD and NBD spellings pvringd takes, the reasons it gives for the
 * rest, and which names an allow-list entry allows.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/image_name.h"

static struct pvring_image_name parse_ok(const char *text, bool entry)
{
	struct pvring_image_name n;
	char why[200] = "";

	if (pvring_image_name_parse(text, entry, &n, why, sizeof(why)))
		fail_msg("%s refused: %s", text, why);
	return n;
}

static void expect_refused(const char *text, bool entry, const char *reason)
{
	struct pvring_image_name n;
	char why[200] = "";

	assert_int_equal(pvring_image_name_parse(text, entry, &n, why, sizeof(why)), -EINVAL);
	if (!strstr(why, reason))
		fail_msg("%s: said \"%s\", not \"%s\"", text, why, reason);
}

static void test_remote_or_path(void **state)
{
	(void)state;
	assert_true(pvring_image_name_is_remote("rbd:pool/img"));
	assert_true(pvring_image_name_is_remote("nbd://h/e"));
	assert_true(pvring_image_name_is_remote("nbd+unix:///e?socket=/s"));
	assert_true(pvring_image_name_is_remote("nbds://h/e")); /* refused by the parser, named */
	assert_false(pvring_image_name_is_remote("/var/lib/img.raw"));
	assert_false(pvring_image_name_is_remote("disk0"));
	assert_false(pvring_image_name_is_remote("rbd"));
}

static void test_rbd(void **state)
{
	struct pvring_image_name n;

	(void)state;
	n = parse_ok("rbd:vms/web", false);
	assert_int_equal(n.kind, PVRING_IMAGE_RBD);
	assert_string_equal(n.pool, "vms");
	assert_string_equal(n.image, "web");
	assert_string_equal(n.snap, "");
	assert_string_equal(n.id, "");
	assert_string_equal(n.conf, "");
	n = parse_ok("rbd:vms/web@monday:id=pvring:conf=/etc/ceph/other.conf", false);
	assert_string_equal(n.snap, "monday");
	assert_string_equal(n.id, "pvring");
	assert_string_equal(n.conf, "/etc/ceph/other.conf");
	expect_refused("rbd:vms", false, "rbd:POOL/IMAGE");
	expect_refused("rbd:/web", false, "pool name missing");
	expect_refused("rbd:vms/", false, "image name missing");
	expect_refused("rbd:vms/a/b", false, "with a '/'");
	expect_refused("rbd:vms/web@", false, "snapshot name missing");
	expect_refused("rbd:vms/web:user=x", false, "not one pvringd takes");
	expect_refused("rbd:vms/web:id", false, "not key=value");
	expect_refused("rbd:vms/web:id=a:id=b", false, "given twice");
	expect_refused("rbd:vms/web:id=a b", false, "space or control");
	expect_refused("rbd:vms/web:id=a/b", false, "not a client name");
	expect_refused("rbd:vms/web:conf=ceph.conf", false, "not an absolute path");
	expect_refused("rbd:vms/we\\:b", false, "backslash");
}

static void test_nbd(void **state)
{
	struct pvring_image_name n;

	(void)state;
	n = parse_ok("nbd://10.0.0.5/disk%20one", false);
	assert_int_equal(n.kind, PVRING_IMAGE_NBD);
	assert_false(n.nbd_unix);
	assert_string_equal(n.host, "10.0.0.5");
	assert_int_equal(n.port, 10809);
	assert_string_equal(n.export_name, "disk one");
	n = parse_ok("nbd://[::1]:10900", false);
	assert_string_equal(n.host, "::1");
	assert_int_equal(n.port, 10900);
	assert_string_equal(n.export_name, "");
	assert_false(n.any_export);
	n = parse_ok("nbd+unix:///e?socket=/run/nbd%2Dx.sock", false);
	assert_true(n.nbd_unix);
	assert_string_equal(n.socket, "/run/nbd-x.sock");
	assert_string_equal(n.export_name, "e");
	n = parse_ok("nbd+unix://?socket=/run/s", false);
	assert_string_equal(n.export_name, "");
	expect_refused("nbds://h/e", false, "TLS");
	expect_refused("nbd+vsock:///e", false, "vsock");
	expect_refused("nbd://user@h/e", false, "user name");
	expect_refused("nbd:///e", false, "host missing");
	expect_refused("nbd://h:0/e", false, "port");
	expect_refused("nbd://h:65536/e", false, "port");
	expect_refused("nbd://h:x/e", false, "port");
	expect_refused("nbd://[::1/e", false, "without ']'");
	expect_refused("nbd://h/e?tls=on", false, "no ?parameters");
	expect_refused("nbd://h/e#frag", false, "fragment");
	expect_refused("nbd://h/e%2", false, "malformed");
	expect_refused("nbd://h/e%00x", false, "malformed");
	expect_refused("nbd+unix:///e", false, "socket=PATH");
	expect_refused("nbd+unix:///e?socket=/s&x=y", false, "no other parameter");
	expect_refused("nbd+unix:///e?socket=rel", false, "absolute path");
	expect_refused("nbd+unix://host/e?socket=/s", false, "no host");
	expect_refused("nbd:h/e", false, "nbd://HOST");
}

static bool allows(const char *entry, const char *name)
{
	struct pvring_image_name e = parse_ok(entry, true), n = parse_ok(name, false);

	return pvring_image_name_allows(&e, &n);
}

static void test_allow_list(void **state)
{
	(void)state;
	/* A pool allows its images, and their snapshots; an image allows itself. */
	assert_true(allows("rbd:vms", "rbd:vms/web"));
	assert_true(allows("rbd:vms", "rbd:vms/web@monday"));
	assert_true(allows("rbd:vms/web", "rbd:vms/web"));
	assert_false(allows("rbd:vms/web", "rbd:vms/db"));
	assert_false(allows("rbd:vms", "rbd:vmsx/web"));
	assert_false(allows("rbd:vms/web@monday", "rbd:vms/web"));
	/* The cluster and the client are the entry's, admin when not said. */
	assert_true(allows("rbd:vms:id=admin", "rbd:vms/web"));
	assert_false(allows("rbd:vms", "rbd:vms/web:id=other"));
	assert_false(allows("rbd:vms", "rbd:vms/web:conf=/etc/ceph/other.conf"));
	assert_true(allows("rbd:vms:conf=/c", "rbd:vms/web:conf=/c"));
	/* A server allows its exports; an export allows itself. */
	assert_true(allows("nbd://10.0.0.5", "nbd://10.0.0.5/any"));
	assert_true(allows("nbd://10.0.0.5:10809/", "nbd://10.0.0.5/"));
	/* A "/" with no export names the default export, not every one. */
	assert_false(allows("nbd://10.0.0.5/", "nbd://10.0.0.5/other"));
	assert_false(allows("nbd+unix:///?socket=/run/s", "nbd+unix:///e?socket=/run/s"));
	assert_true(allows("nbd://NAS.example", "nbd://nas.example/x"));
	assert_false(allows("nbd://10.0.0.5", "nbd://10.0.0.6/any"));
	assert_false(allows("nbd://10.0.0.5", "nbd://10.0.0.5:10810/any"));
	assert_true(allows("nbd://10.0.0.5/e", "nbd://10.0.0.5/e"));
	assert_false(allows("nbd://10.0.0.5/e", "nbd://10.0.0.5/f"));
	assert_true(allows("nbd+unix://?socket=/run/s", "nbd+unix:///e?socket=/run/s"));
	assert_false(allows("nbd+unix://?socket=/run/s", "nbd+unix:///e?socket=/run/t"));
	assert_false(allows("nbd+unix://?socket=/run/s", "nbd://run/s"));
	assert_false(allows("rbd:vms", "nbd://vms/web"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_remote_or_path),
		cmocka_unit_test(test_rbd),
		cmocka_unit_test(test_nbd),
		cmocka_unit_test(test_allow_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
