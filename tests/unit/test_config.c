// SPDX-License-Identifier: MIT
/* pvringd's configuration: real files, their error messages, and options over them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "daemon/pvringd_config.h"
#include "daemon/log.h"

#ifndef PVRING_SRCDIR
#error "PVRING_SRCDIR (the source tree, for the example config) comes from mk/config.am"
#endif

#define MAX_ARGS 32

struct fixture {
	char dir[256];
	char path[512]; /* the config file */
	char err[512];
	struct pvringd_config cfg;
};

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	snprintf(f->dir, sizeof(f->dir), "%s/pvring-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/pvringd.json", f->dir);
	*state = f;
	return 0;
}

/* What the image-dirs tests make in the fixture's directory: removed even when one fails. */
static const char *const scratch_files[] = { "link", "file" };
static const char *const scratch_dirs[] = { "a", "b", "ab" };

/* f->dir/name in buf. */
static const char *scratch(struct fixture *f, const char *name, char buf[600])
{
	snprintf(buf, 600, "%s/%s", f->dir, name);
	return buf;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[600];
	size_t i;

	pvringd_config_free(&f->cfg);
	unlink(f->path);
	for (i = 0; i < sizeof(scratch_files) / sizeof(scratch_files[0]); i++)
		unlink(scratch(f, scratch_files[i], path));
	for (i = 0; i < sizeof(scratch_dirs) / sizeof(scratch_dirs[0]); i++)
		rmdir(scratch(f, scratch_dirs[i], path));
	assert_int_equal(rmdir(f->dir), 0);
	test_free(f);
	return 0;
}

static void write_config(struct fixture *f, const char *text)
{
	FILE *out = fopen(f->path, "w");

	assert_non_null(out);
	assert_int_equal(fputs(text, out) >= 0, 1);
	assert_int_equal(fclose(out), 0);
}

/* Parse "pvringd" followed by the NULL-terminated arguments. */
static int parse_args(struct fixture *f, const char *const *args)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;

	argv[argc++] = (char *)"pvringd";
	while (*args) {
		assert_true(argc <= MAX_ARGS);
		argv[argc++] = (char *)*args++;
	}
	argv[argc] = NULL;
	f->err[0] = '\0';
	pvringd_config_free(&f->cfg);
	return pvringd_config_parse(&f->cfg, argc, argv, f->err, sizeof(f->err));
}

#define parse(f, ...) parse_args(f, (const char *const[]){ __VA_ARGS__, NULL })

/* The file's text must fail with exactly "config PATH: " followed by expected. */
static void assert_file_error(struct fixture *f, const char *text, const char *expected)
{
	char want[1024];

	write_config(f, text);
	snprintf(want, sizeof(want), "config %s: %s", f->path, expected);
	assert_int_equal(parse(f, "--config", f->path), -1);
	assert_string_equal(f->err, want);
	/* A failed parse leaves nothing to free. */
	assert_null(f->cfg.platform);
	assert_null(f->cfg.disks);
	assert_null(f->cfg.image_dirs);
}

/* The CPUs this test may run on: what pvringd sizes queues and workers by. */
static uint32_t usable_cpus(void)
{
	cpu_set_t set;

	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	return (uint32_t)CPU_COUNT(&set);
}

static uint32_t expected_cpu_queues(void)
{
	return usable_cpus() > 16 ? 16 : usable_cpus();
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(parse_args(f, (const char *const[]){ NULL }), 0);
	assert_string_equal(f->cfg.platform, "local");
	assert_string_equal(f->cfg.rundir, "/run/pvring");
	assert_string_equal(f->cfg.store_rundir, "/run/pvring/store");
	assert_string_equal(f->cfg.control_socket, "/run/pvring/pvringd.sock");
	assert_int_equal(f->cfg.log_level, PVRING_LOG_INFO);
	assert_false(f->cfg.syslog);
	assert_int_equal(f->cfg.max_ring_order, 4);
	assert_int_equal(f->cfg.max_queues, expected_cpu_queues());
	assert_int_equal(f->cfg.workers, usable_cpus());
	assert_int_equal(f->cfg.max_indirect_segments, 256);
	assert_int_equal(f->cfg.poll_us, 50);
	assert_int_equal(f->cfg.guest_inflight_kib, 16384);
	assert_int_equal(f->cfg.nr_disks, 0);
	assert_null(f->cfg.disks);
	assert_int_equal(f->cfg.nr_image_dirs, 0);
	assert_null(f->cfg.image_dirs);
}

/* disks[idx] is exactly this. */
static void assert_disk(struct fixture *f, unsigned int idx, const char *name, const char *path,
			bool ro, bool direct)
{
	const struct pvringd_disk_config *d;

	assert_true(idx < f->cfg.nr_disks);
	d = &f->cfg.disks[idx];
	assert_string_equal(d->name, name);
	assert_string_equal(d->path, path);
	assert_int_equal(d->read_only, ro);
	assert_int_equal(d->direct, direct);
}

static void test_full_file(void **state)
{
	struct fixture *f = *state;

	write_config(f, "{\n"
			"  \"platform\": \"xen\",\n"
			"  \"rundir\": \"/var/run/pv\",\n"
			"  \"control-socket\": \"/srv/ctl.sock\",\n"
			"  \"log-level\": \"debug\",\n"
			"  \"syslog\": true,\n"
			"  \"max-ring-page-order\": 2,\n"
			"  \"max-queues\": 3,\n"
			"  \"max-indirect-segments\": 0,\n"
			"  \"poll-us\": 1000,\n"
			"  \"guest-inflight-kib\": 0,\n"
			"  \"disks\": [\n"
			"    { \"name\": \"disk0\", \"path\": \"/img/0\" },\n"
			"    { \"name\": \"d_1.x-y\", \"path\": \"/img/1\", \"read-only\": true,\n"
			"      \"direct\": true }\n"
			"  ]\n"
			"}\n");
	assert_int_equal(parse(f, "--config", f->path), 0);
	assert_string_equal(f->cfg.platform, "xen");
	assert_string_equal(f->cfg.rundir, "/var/run/pv");
	assert_string_equal(f->cfg.store_rundir, "/var/run/pv/store");
	/* Set explicitly: not derived from rundir. */
	assert_string_equal(f->cfg.control_socket, "/srv/ctl.sock");
	assert_int_equal(f->cfg.log_level, PVRING_LOG_DEBUG);
	assert_true(f->cfg.syslog);
	assert_int_equal(f->cfg.max_ring_order, 2);
	assert_int_equal(f->cfg.max_queues, 3);
	assert_int_equal(f->cfg.max_indirect_segments, 0);
	assert_int_equal(f->cfg.poll_us, 1000);
	assert_int_equal(f->cfg.guest_inflight_kib, 0);
	assert_int_equal(f->cfg.nr_disks, 2);
	assert_disk(f, 0, "disk0", "/img/0", false, false);
	assert_disk(f, 1, "d_1.x-y", "/img/1", true, true);
}

static void test_options_win(void **state)
{
	struct fixture *f = *state;

	write_config(f, "{ \"platform\": \"xen\", \"rundir\": \"/from/file\", "
			"\"control-socket\": \"/file.sock\", \"log-level\": \"debug\", "
			"\"syslog\": false, \"max-ring-page-order\": 2, \"max-queues\": 3, "
			"\"max-indirect-segments\": 0 }");
	/* Options before and after --config: the file is read after all of them. */
	assert_int_equal(parse(f, "--platform", "local", "--config", f->path, "--rundir", "/opt",
			       "--log-level", "err", "--syslog", "--max-ring-page-order", "0",
			       "--max-queues=7", "--max-indirect-segments", "4096"),
			 0);
	assert_string_equal(f->cfg.platform, "local");
	assert_string_equal(f->cfg.rundir, "/opt");
	assert_string_equal(f->cfg.store_rundir, "/opt/store");
	/* The file set it and no option did: the file's stays, not one derived from --rundir. */
	assert_string_equal(f->cfg.control_socket, "/file.sock");
	assert_int_equal(f->cfg.log_level, PVRING_LOG_ERR);
	assert_true(f->cfg.syslog);
	assert_int_equal(f->cfg.max_ring_order, 0);
	assert_int_equal(f->cfg.max_queues, 7);
	assert_int_equal(f->cfg.max_indirect_segments, 4096);

	assert_int_equal(parse(f, "--config", f->path, "--control-socket", "/opt/c.sock"), 0);
	assert_string_equal(f->cfg.control_socket, "/opt/c.sock");
	/* Options left out leave the file's values. */
	assert_string_equal(f->cfg.platform, "xen");
	assert_string_equal(f->cfg.rundir, "/from/file");
	assert_int_equal(f->cfg.log_level, PVRING_LOG_DEBUG);
	assert_false(f->cfg.syslog);
	assert_int_equal(f->cfg.max_ring_order, 2);
	assert_int_equal(f->cfg.max_queues, 3);
	assert_int_equal(f->cfg.max_indirect_segments, 0);
}

static void test_derived_paths(void **state)
{
	struct fixture *f = *state;

	write_config(f, "{ \"rundir\": \"/srv/pvring\" }");
	assert_int_equal(parse(f, "--config", f->path), 0);
	assert_string_equal(f->cfg.store_rundir, "/srv/pvring/store");
	assert_string_equal(f->cfg.control_socket, "/srv/pvring/pvringd.sock");
	/* Derived after the options: the option's rundir, not the file's. */
	assert_int_equal(parse(f, "--rundir", "/tmp/x", "--config", f->path), 0);
	assert_string_equal(f->cfg.store_rundir, "/tmp/x/store");
	assert_string_equal(f->cfg.control_socket, "/tmp/x/pvringd.sock");
}

static void test_cpu_queues(void **state)
{
	struct fixture *f = *state;

	write_config(f, "{ \"max-queues\": 0 }");
	assert_int_equal(parse(f, "--config", f->path), 0);
	assert_int_equal(f->cfg.max_queues, expected_cpu_queues());
	/* An explicit 0 on the command line overrides the file's 5 and means "per CPU". */
	write_config(f, "{ \"max-queues\": 5 }");
	assert_int_equal(parse(f, "--config", f->path), 0);
	assert_int_equal(f->cfg.max_queues, 5);
	assert_int_equal(parse(f, "--config", f->path, "--max-queues", "0"), 0);
	assert_int_equal(f->cfg.max_queues, expected_cpu_queues());
	assert_true(f->cfg.max_queues >= 1 && f->cfg.max_queues <= 16);
}

static void test_disk_option(void **state)
{
	struct fixture *f = *state;

	write_config(f, "{ \"disks\": [ { \"name\": \"disk0\", \"path\": \"/file/0\", "
			"\"read-only\": true, \"direct\": true }, "
			"{ \"name\": \"disk1\", \"path\": \"/file/1\" } ] }");
	assert_int_equal(parse(f, "--disk", "a=/img/a", "--config", f->path, "--disk",
			       "b=/img/b,ro", "--disk=c=/img/c,direct", "--disk",
			       "d=/img/d,direct,ro", "--disk", "disk0=/opt/0"),
			 0);
	assert_int_equal(f->cfg.nr_disks, 6);
	/* The file's order first, then the options'. Replaced in place and as a whole: the
	 * file's flags do not survive. */
	assert_disk(f, 0, "disk0", "/opt/0", false, false);
	assert_disk(f, 1, "disk1", "/file/1", false, false);
	assert_disk(f, 2, "a", "/img/a", false, false);
	assert_disk(f, 3, "b", "/img/b", true, false);
	assert_disk(f, 4, "c", "/img/c", false, true);
	assert_disk(f, 5, "d", "/img/d", true, true);
}

static void assert_option_error(struct fixture *f, const char *const *args, const char *expected)
{
	assert_int_equal(parse_args(f, args), -1);
	assert_string_equal(f->err, expected);
	assert_null(f->cfg.platform);
	assert_null(f->cfg.disks);
	assert_null(f->cfg.image_dirs);
}

#define option_error(f, expected, ...)                                                             \
	assert_option_error(f, (const char *const[]){ __VA_ARGS__, NULL }, expected)

static void test_disk_option_errors(void **state)
{
	struct fixture *f = *state;

	option_error(f, "--disk disk0: expected NAME=PATH[,ro][,direct]", "--disk", "disk0");
	option_error(f, "--disk =/img: NAME must be 1..32 characters of A-Z a-z 0-9 _ . -",
		     "--disk", "=/img");
	option_error(f, "--disk a/b=/img: NAME must be 1..32 characters of A-Z a-z 0-9 _ . -",
		     "--disk", "a/b=/img");
	option_error(f,
		     "--disk 0123456789abcdef0123456789abcdefX=/img: NAME must be 1..32 characters "
		     "of A-Z a-z 0-9 _ . -",
		     "--disk", "0123456789abcdef0123456789abcdefX=/img");
	option_error(f, "--disk a=: empty PATH", "--disk", "a=");
	option_error(f, "--disk a=,ro: empty PATH", "--disk", "a=,ro");
	option_error(f, "--disk a=/img,rw: unknown flag \"rw\" (ro, direct)", "--disk",
		     "a=/img,rw");
	option_error(f, "--disk a=/img,ro,: unknown flag \"\" (ro, direct)", "--disk",
		     "a=/img,ro,");
	option_error(f, "--disk a=/y: disk \"a\" given twice", "--disk", "a=/x", "--disk", "a=/y");
	option_error(f, "option --disk requires an argument", "--disk");
	/* A name of exactly 32 is fine. */
	assert_int_equal(parse(f, "--disk", "0123456789abcdef0123456789abcdef=/img"), 0);
	assert_int_equal(f->cfg.nr_disks, 1);
}

static void test_option_errors(void **state)
{
	struct fixture *f = *state;

	option_error(f, "--platform kvm: must be local or xen", "--platform", "kvm");
	option_error(f, "--log-level loud: must be err, warning, info or debug", "--log-level",
		     "loud");
	option_error(f, "--max-ring-page-order 5: must be an integer 0..4", "--max-ring-page-order",
		     "5");
	option_error(f, "--max-ring-page-order -1: must be an integer 0..4",
		     "--max-ring-page-order", "-1");
	option_error(f, "--max-ring-page-order 2x: must be an integer 0..4",
		     "--max-ring-page-order", "2x");
	option_error(f, "--max-ring-page-order : must be an integer 0..4", "--max-ring-page-order",
		     "");
	option_error(f, "--max-queues 17: must be an integer 0..16", "--max-queues", "17");
	option_error(f, "--max-indirect-segments 4097: must be an integer 0..4096",
		     "--max-indirect-segments", "4097");
	option_error(f, "--max-indirect-segments 99999999999999999999: must be an integer 0..4096",
		     "--max-indirect-segments", "99999999999999999999");
	option_error(f, "--rundir: empty path", "--rundir", "");
	option_error(f, "--control-socket: empty path", "--control-socket", "");
	option_error(f, "unknown option --bogus (see --help)", "--bogus");
	option_error(f, "unknown option -x (see --help)", "-x");
	/* Within a cluster: the option's character, not the argument before the cluster. */
	option_error(f, "unknown option -x (see --help)", "-xy");
	option_error(f, "unknown option -x (see --help)", "--syslog", "-xy");
	option_error(f, "unknown option -y (see --help)", "--syslog", "-y", "--bogus");
	/* A long option given an argument it does not take: the option as given, not a letter. */
	option_error(f, "unknown option --syslog=1 (see --help)", "--syslog=1");
	option_error(f, "unknown option --help=x (see --help)", "--help=x");
	option_error(f, "unexpected argument extra (see --help)", "--syslog", "extra");
	option_error(f, "option --config requires an argument", "--config");
}

static void test_file_syntax_errors(void **state)
{
	struct fixture *f = *state;

	/* The bad character is on line 3. */
	assert_file_error(f, "{\n  \"platform\": \"local\",\n  \"rundir\": @run\n}\n",
			  "line 3: unexpected character");
	assert_file_error(f, "{\n  \"platform\": \"local\"\n  \"rundir\": \"/run\"\n}\n",
			  "line 3: object value separator ',' expected");
	assert_file_error(f, "{\n\n\n\n  \"max-queues\": 1,,\n}\n",
			  "line 5: quoted object property name expected");
	assert_file_error(f, "{\n  \"platform\": \"local\",\n", "line 3: unexpected end of file");
	assert_file_error(f, "", "line 1: unexpected end of file");
	assert_file_error(f, "{}\n\n{}\n", "line 3: unexpected data after the top-level object");
	assert_file_error(f, "[ 1 ]", "the top level must be an object");
	/* A value that ends with the file (a number might go on): not an unexpected end. */
	assert_file_error(f, "5", "the top level must be an object");
	assert_file_error(f, "\n\n-12", "the top level must be an object");
	assert_file_error(f, "true", "the top level must be an object");
	assert_file_error(f, "5\n", "the top level must be an object");
	assert_file_error(f, "5 6", "line 1: unexpected data after the top-level object");
	assert_file_error(f, "\n-", "line 2: unexpected end of file");
	/* json-c alone would keep the second, silently. */
	assert_file_error(f, "{\n \"workers\": 1,\n \"workers\": 2\n}", "line 3: duplicate key");
	assert_file_error(
		f, "{ \"disks\": [ { \"name\": \"a\", \"path\": \"/a\",\n\"path\": \"/b\" } ] }",
		"line 2: duplicate key");
	assert_file_error(f, "{ \"rundir\": \"/run/a\\u0000b\" }",
			  "line 1: NUL (\\u0000) in a string");
}

static void test_file_value_errors(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *text, *expected;
	} cases[] = {
		{ "{ \"max-queus\": 1 }", "unknown key \"max-queus\"" },
		{ "{ \"max-ring-page-order\": 5 }",
		  "\"max-ring-page-order\" must be an integer 0..4" },
		{ "{ \"max-ring-page-order\": -1 }",
		  "\"max-ring-page-order\" must be an integer 0..4" },
		{ "{ \"max-ring-page-order\": \"4\" }",
		  "\"max-ring-page-order\" must be an integer 0..4" },
		{ "{ \"max-ring-page-order\": 1.5 }",
		  "\"max-ring-page-order\" must be an integer 0..4" },
		{ "{ \"max-queues\": 17 }", "\"max-queues\" must be an integer 0..16" },
		{ "{ \"max-indirect-segments\": 4097 }",
		  "\"max-indirect-segments\" must be an integer 0..4096" },
		{ "{ \"max-indirect-segments\": 99999999999999999999 }",
		  "\"max-indirect-segments\" must be an integer 0..4096" },
		{ "{ \"poll-us\": 1001 }", "\"poll-us\" must be an integer 0..1000" },
		{ "{ \"guest-inflight-kib\": 4194305 }",
		  "\"guest-inflight-kib\" must be an integer 0..4194304" },
		{ "{ \"poll-us\": -1 }", "\"poll-us\" must be an integer 0..1000" },
		{ "{ \"poll-us\": true }", "\"poll-us\" must be an integer 0..1000" },
		{ "{ \"platform\": \"kvm\" }", "\"platform\" must be \"local\" or \"xen\"" },
		{ "{ \"platform\": null }", "\"platform\" must be \"local\" or \"xen\"" },
		{ "{ \"log-level\": \"loud\" }",
		  "\"log-level\" must be \"err\", \"warning\", \"info\" or \"debug\"" },
		{ "{ \"syslog\": 1 }", "\"syslog\" must be true or false" },
		{ "{ \"rundir\": \"\" }", "\"rundir\" must be a non-empty string" },
		{ "{ \"control-socket\": [] }", "\"control-socket\" must be a non-empty string" },
		{ "{ \"disks\": {} }", "\"disks\" must be an array" },
		{ "{ \"disks\": [ \"disk0\" ] }", "disks[0] must be an object" },
		{ "{ \"disks\": [ { \"name\": \"a\", \"path\": \"/a\" }, { \"name\": \"b\" } ] }",
		  "disks[1]: missing \"path\"" },
		{ "{ \"disks\": [ { \"path\": \"/a\" } ] }", "disks[0]: missing \"name\"" },
		{ "{ \"disks\": [ { \"name\": \"a\", \"path\": \"/a\" }, "
		  "{ \"name\": \"a\", \"path\": \"/b\" } ] }",
		  "disks[1]: duplicate disk name \"a\"" },
		{ "{ \"disks\": [ { \"name\": \"a b\", \"path\": \"/a\" } ] }",
		  "disks[0]: \"name\" must be 1..32 characters of A-Z a-z 0-9 _ . -" },
		{ "{ \"disks\": [ { \"name\": \"\", \"path\": \"/a\" } ] }",
		  "disks[0]: \"name\" must be 1..32 characters of A-Z a-z 0-9 _ . -" },
		{ "{ \"disks\": [ { \"name\": \"0123456789abcdef0123456789abcdefX\", "
		  "\"path\": \"/a\" } ] }",
		  "disks[0]: \"name\" must be 1..32 characters of A-Z a-z 0-9 _ . -" },
		{ "{ \"disks\": [ { \"name\": 7, \"path\": \"/a\" } ] }",
		  "disks[0]: \"name\" must be 1..32 characters of A-Z a-z 0-9 _ . -" },
		{ "{ \"disks\": [ { \"name\": \"a\", \"path\": \"\" } ] }",
		  "disks[0]: \"path\" must be a non-empty string" },
		{ "{ \"disks\": [ { \"name\": \"a\", \"path\": \"/a\", \"readonly\": true } ] }",
		  "disks[0]: unknown key \"readonly\"" },
		{ "{ \"disks\": [ { \"name\": \"a\", \"path\": \"/a\", \"read-only\": \"yes\" } ] "
		  "}",
		  "disks[0]: \"read-only\" must be true or false" },
		{ "{ \"disks\": [ { \"name\": \"a\", \"path\": \"/a\", \"direct\": 0 } ] }",
		  "disks[0]: \"direct\" must be true or false" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_file_error(f, cases[i].text, cases[i].expected);
}

static void test_file_unreadable(void **state)
{
	struct fixture *f = *state;
	char missing[600], want[1024];

	snprintf(missing, sizeof(missing), "%s/nope.json", f->dir);
	assert_int_equal(parse(f, "--config", missing), -1);
	snprintf(want, sizeof(want), "config %s: cannot read: No such file or directory", missing);
	assert_string_equal(f->err, want);
	assert_int_equal(parse(f, "--config", f->dir), -1);
	snprintf(want, sizeof(want), "config %s: cannot read: Is a directory", f->dir);
	assert_string_equal(f->err, want);
	assert_int_equal(parse(f, "--config", "/dev/null"), -1);
	assert_string_equal(f->err, "config /dev/null: not a regular file");
}

/* A FIFO with no writer must be refused at once, not block the daemon's start for ever. */
static void test_file_fifo(void **state)
{
	struct fixture *f = *state;
	char fifo[600], want[1024];
	int ret;

	snprintf(fifo, sizeof(fifo), "%s/fifo.json", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* A regression hangs in open: SIGALRM kills the test instead. */
	alarm(10);
	ret = parse(f, "--config", fifo);
	alarm(0);
	unlink(fifo);
	assert_int_equal(ret, -1);
	snprintf(want, sizeof(want), "config %s: not a regular file", fifo);
	assert_string_equal(f->err, want);
	assert_null(f->cfg.platform);
}

static void test_poll_us(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(parse_args(f, (const char *const[]){ NULL }), 0);
	assert_int_equal(f->cfg.poll_us, 50);
	write_config(f, "{ \"poll-us\": 200 }");
	assert_int_equal(parse(f, "--config", f->path), 0);
	assert_int_equal(f->cfg.poll_us, 200);
	/* The option wins over the file, 0 (never poll) included. */
	assert_int_equal(parse(f, "--config", f->path, "--poll-us", "1000"), 0);
	assert_int_equal(f->cfg.poll_us, 1000);
	assert_int_equal(parse(f, "--poll-us=0", "--config", f->path), 0);
	assert_int_equal(f->cfg.poll_us, 0);
	/* Only poll-us: the other numbers keep their defaults. */
	assert_int_equal(f->cfg.max_ring_order, 4);
	assert_int_equal(f->cfg.max_indirect_segments, 256);
	option_error(f, "--poll-us 1001: must be an integer 0..1000", "--poll-us", "1001");
	option_error(f, "--poll-us -1: must be an integer 0..1000", "--poll-us", "-1");
	option_error(f, "option --poll-us requires an argument", "--poll-us");
	assert_file_error(f, "{ \"poll-us\": 1001 }", "\"poll-us\" must be an integer 0..1000");
}

/*
 * Scratch for the image-dirs tests, in the fixture's directory: directories a and b, a regular
 * file "file" and a symlink "link" to b. real gets the fixture's directory as realpath sees it
 * (TMPDIR may itself lie behind a symlink).
 */
static void make_image_scratch(struct fixture *f, char real[PATH_MAX])
{
	char path[600], target[600];
	int fd;

	assert_non_null(realpath(f->dir, real));
	assert_int_equal(mkdir(scratch(f, "a", path), 0700), 0);
	assert_int_equal(mkdir(scratch(f, "b", path), 0700), 0);
	fd = open(scratch(f, "file", path), O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(symlink(scratch(f, "b", target), scratch(f, "link", path)), 0);
}

/* image_dirs[idx] is real/name ("" for real itself). */
static void assert_image_dir(struct fixture *f, unsigned int idx, const char *real,
			     const char *name)
{
	char want[PATH_MAX + 64];

	snprintf(want, sizeof(want), "%s%s%s", real, *name ? "/" : "", name);
	assert_true(idx < f->cfg.nr_image_dirs);
	assert_string_equal(f->cfg.image_dirs[idx], want);
}

static void test_image_dirs_file(void **state)
{
	struct fixture *f = *state;
	char real[PATH_MAX], text[4096];

	make_image_scratch(f, real);
	/* "a/." and a trailing '/' and a symlink all resolve; so does "/" (to itself). */
	snprintf(text, sizeof(text), "{ \"image-dirs\": [ \"%s/a/.\", \"%s/link/\", \"/\" ] }",
		 f->dir, f->dir);
	write_config(f, text);
	assert_int_equal(parse(f, "--config", f->path), 0);
	assert_int_equal(f->cfg.nr_image_dirs, 3);
	assert_image_dir(f, 0, real, "a");
	assert_image_dir(f, 1, real, "b");
	assert_string_equal(f->cfg.image_dirs[2], "/");
	/* An empty list is a list. */
	write_config(f, "{ \"image-dirs\": [] }");
	assert_int_equal(parse(f, "--config", f->path), 0);
	assert_int_equal(f->cfg.nr_image_dirs, 0);
}

static void test_image_dirs_option(void **state)
{
	struct fixture *f = *state;
	char real[PATH_MAX], text[4096], a[600], b[600], link[600];

	make_image_scratch(f, real);
	scratch(f, "a", a);
	scratch(f, "b", b);
	scratch(f, "link", link);
	snprintf(text, sizeof(text), "{ \"image-dirs\": [ \"%s\" ] }", a);
	write_config(f, text);
	/* No option: the file's list. */
	assert_int_equal(parse(f, "--config", f->path), 0);
	assert_int_equal(f->cfg.nr_image_dirs, 1);
	assert_image_dir(f, 0, real, "a");
	/* Any option replaces the file's list as a whole, before or after --config. */
	assert_int_equal(parse(f, "--image-dir", link, "--config", f->path), 0);
	assert_int_equal(f->cfg.nr_image_dirs, 1);
	assert_image_dir(f, 0, real, "b");
	/* The options' own order; a directory the file also names is no duplicate. */
	snprintf(text, sizeof(text), "--image-dir=%s/", b);
	assert_int_equal(parse(f, "--config", f->path, text, "--image-dir", a), 0);
	assert_int_equal(f->cfg.nr_image_dirs, 2);
	assert_image_dir(f, 0, real, "b");
	assert_image_dir(f, 1, real, "a");
	/* Without a file. */
	assert_int_equal(parse(f, "--image-dir", f->dir), 0);
	assert_int_equal(f->cfg.nr_image_dirs, 1);
	assert_image_dir(f, 0, real, "");
}

/* remote-images: the file's list, the options' list replacing it, and what they allow. */
static void test_remote_images(void **state)
{
	struct fixture *f = *state;
	struct pvring_image_name name;
	char why[200];

	write_config(f, "{ \"remote-images\": [ \"rbd:vms\", \"nbd://10.0.0.5\" ], "
			"\"remote-timeout-ms\": 5000 }");
	assert_int_equal(parse(f, "--config", f->path), 0);
	assert_int_equal(f->cfg.nr_remote_images, 2);
	assert_int_equal(f->cfg.remote_timeout_ms, 5000);
	assert_int_equal(pvring_image_name_parse("rbd:vms/web", false, &name, why, sizeof(why)), 0);
	assert_true(pvringd_config_remote_allowed(&f->cfg, &name));
	assert_int_equal(
		pvring_image_name_parse("nbd://10.0.0.5/x", false, &name, why, sizeof(why)), 0);
	assert_true(pvringd_config_remote_allowed(&f->cfg, &name));
	assert_int_equal(pvring_image_name_parse("rbd:db/x", false, &name, why, sizeof(why)), 0);
	assert_false(pvringd_config_remote_allowed(&f->cfg, &name));

	/* The options' list replaces the file's. */
	assert_int_equal(parse(f, "--config", f->path, "--remote-image", "rbd:db"), 0);
	assert_int_equal(f->cfg.nr_remote_images, 1);
	assert_true(pvringd_config_remote_allowed(&f->cfg, &name));
	assert_int_equal(pvring_image_name_parse("rbd:vms/web", false, &name, why, sizeof(why)), 0);
	assert_false(pvringd_config_remote_allowed(&f->cfg, &name));

	/* None by default: nothing is served by name, and the timeout is 30 s. */
	assert_int_equal(parse(f, "--rundir", "/tmp"), 0);
	assert_int_equal(f->cfg.nr_remote_images, 0);
	assert_false(pvringd_config_remote_allowed(&f->cfg, &name));
	assert_int_equal(f->cfg.remote_timeout_ms, 30000);

	assert_file_error(f, "{ \"remote-images\": \"rbd:vms\" }",
			  "\"remote-images\" must be an array");
	assert_file_error(f, "{ \"remote-images\": [ 7 ] }", "remote-images[0] must be a string");
	assert_file_error(f, "{ \"remote-images\": [ \"rbd:a\", \"nbds://h\" ] }",
			  "remote-images[1]: nbds://h: TLS (nbds) and vsock NBD names are not "
			  "supported");
	assert_file_error(f, "{ \"remote-images\": [ \"rbd:a\", \"rbd:a\" ] }",
			  "remote-images[1]: rbd:a: given twice");
	/* No wait at all would fail every operation. */
	assert_file_error(f, "{ \"remote-timeout-ms\": 0 }",
			  "\"remote-timeout-ms\" must be an integer 1..3600000");
	assert_int_equal(parse(f, "--remote-timeout-ms", "0"), -1);
	assert_string_equal(f->err, "--remote-timeout-ms 0: must be an integer 1..3600000");
	assert_int_equal(parse(f, "--remote-image", "/srv"), -1);
	assert_string_equal(f->err, "--remote-image /srv: not an rbd: or nbd: name");
}

static void test_image_dirs_errors(void **state)
{
	struct fixture *f = *state;
	char real[PATH_MAX], text[4096], want[4096], a[600], nope[600], file[600], link[600];

	make_image_scratch(f, real);
	scratch(f, "a", a);
	scratch(f, "nope", nope);
	scratch(f, "file", file);
	scratch(f, "link", link);

	assert_file_error(f, "{ \"image-dirs\": \"/srv\" }", "\"image-dirs\" must be an array");
	assert_file_error(f, "{ \"image-dirs\": { \"a\": \"/srv\" } }",
			  "\"image-dirs\" must be an array");
	assert_file_error(f, "{ \"image-dirs\": [ 7 ] }",
			  "image-dirs[0] must be a non-empty string");
	assert_file_error(f, "{ \"image-dirs\": [ \"/\", null ] }",
			  "image-dirs[1] must be a non-empty string");
	assert_file_error(f, "{ \"image-dirs\": [ \"\" ] }",
			  "image-dirs[0] must be a non-empty string");
	assert_file_error(f, "{ \"image-dirs\": [ \"/\", \"srv/images\" ] }",
			  "image-dirs[1]: must be an absolute path");
	assert_file_error(f, "{ \"image-dirs\": [ \"./images\" ] }",
			  "image-dirs[0]: must be an absolute path");

	snprintf(text, sizeof(text), "{ \"image-dirs\": [ \"%s\" ] }", nope);
	snprintf(want, sizeof(want), "image-dirs[0]: %s: No such file or directory", nope);
	assert_file_error(f, text, want);
	snprintf(text, sizeof(text), "{ \"image-dirs\": [ \"%s\", \"%s\" ] }", a, file);
	snprintf(want, sizeof(want), "image-dirs[1]: %s: not a directory", file);
	assert_file_error(f, text, want);
	/* Duplicates, as given or once resolved. */
	snprintf(text, sizeof(text), "{ \"image-dirs\": [ \"%s\", \"%s\" ] }", a, a);
	snprintf(want, sizeof(want), "image-dirs[1]: duplicate directory \"%s\"", a);
	assert_file_error(f, text, want);
	snprintf(text, sizeof(text), "{ \"image-dirs\": [ \"%s\", \"%s/../a/\" ] }", a, a);
	snprintf(want, sizeof(want), "image-dirs[1]: duplicate directory \"%s/../a/\"", a);
	assert_file_error(f, text, want);

	option_error(f, "--image-dir images: must be an absolute path", "--image-dir", "images");
	option_error(f, "--image-dir: empty path", "--image-dir", "");
	option_error(f, "option --image-dir requires an argument", "--image-dir");
	snprintf(want, sizeof(want), "--image-dir %s: No such file or directory", nope);
	option_error(f, want, "--image-dir", nope);
	snprintf(want, sizeof(want), "--image-dir %s: not a directory", file);
	option_error(f, want, "--image-dir", a, "--image-dir", file);
	snprintf(want, sizeof(want), "--image-dir %s: directory given twice", link);
	/* link is b, resolved. */
	option_error(f, want, "--image-dir", real, "--image-dir", scratch(f, "b", text),
		     "--image-dir", link);
	snprintf(want, sizeof(want), "--image-dir %s: directory given twice", a);
	option_error(f, want, "--image-dir", a, "--image-dir", a);
}

static void test_image_allowed(void **state)
{
	struct fixture *f = *state;
	char *dirs[] = { (char *)"/srv/a", (char *)"/var/lib/pvring/images" };
	struct pvringd_config cfg = { .image_dirs = dirs, .nr_image_dirs = 2 };
	struct pvringd_config none = { 0 };

	/* Inside. */
	assert_true(pvringd_config_image_allowed(&cfg, "/srv/a/disk.img"));
	assert_true(pvringd_config_image_allowed(&cfg, "/srv/a/sub/disk.img"));
	assert_true(pvringd_config_image_allowed(&cfg, "/var/lib/pvring/images/x"));
	/* Outside. */
	assert_false(pvringd_config_image_allowed(&cfg, "/srv/b/disk.img"));
	assert_false(pvringd_config_image_allowed(&cfg, "/etc/shadow"));
	assert_false(pvringd_config_image_allowed(&cfg, "/srv"));
	assert_false(pvringd_config_image_allowed(&cfg, "/var/lib/pvring/disk0.img"));
	/* A prefix, but not a child; nor the directory itself. */
	assert_false(pvringd_config_image_allowed(&cfg, "/srv/ab/disk.img"));
	assert_false(pvringd_config_image_allowed(&cfg, "/srv/a.img"));
	assert_false(pvringd_config_image_allowed(&cfg, "/srv/a"));
	assert_false(pvringd_config_image_allowed(&cfg, "/var/lib/pvring/images2/x"));
	/* Not resolved at all. */
	assert_false(pvringd_config_image_allowed(&cfg, "srv/a/disk.img"));
	assert_false(pvringd_config_image_allowed(&cfg, ""));
	/* No directories: nothing. */
	assert_false(pvringd_config_image_allowed(&none, "/srv/a/disk.img"));

	/* "/", as parsed: everything. */
	assert_int_equal(parse(f, "--image-dir", "/"), 0);
	assert_int_equal(f->cfg.nr_image_dirs, 1);
	assert_string_equal(f->cfg.image_dirs[0], "/");
	assert_true(pvringd_config_image_allowed(&f->cfg, "/srv/a/disk.img"));
	assert_true(pvringd_config_image_allowed(&f->cfg, "/srv/ab/disk.img"));
	assert_true(pvringd_config_image_allowed(&f->cfg, "/x"));
	assert_false(pvringd_config_image_allowed(&f->cfg, "x"));
}

/* Run a parse with stdout going to a file; return what was printed (test_free it). */
static char *parse_capturing_stdout(struct fixture *f, const char *arg, int *ret)
{
	char out_path[600], *text = test_calloc(1, 4096);
	int fd, saved;
	ssize_t n;

	snprintf(out_path, sizeof(out_path), "%s/stdout", f->dir);
	fd = open(out_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDOUT_FILENO) >= 0);
	*ret = parse(f, arg);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	n = pread(fd, text, 4095, 0);
	assert_true(n >= 0);
	close(fd);
	unlink(out_path);
	return text;
}

static void test_help_version(void **state)
{
	struct fixture *f = *state;
	char *out;
	int ret;

	out = parse_capturing_stdout(f, "--version", &ret);
	assert_int_equal(ret, 1);
	assert_string_equal(out, "pvringd " PACKAGE_VERSION "\n");
	test_free(out);
	out = parse_capturing_stdout(f, "--help", &ret);
	assert_int_equal(ret, 1);
	assert_non_null(strstr(out, "usage: pvringd"));
	assert_non_null(strstr(out, "--disk NAME=PATH[,ro][,direct]"));
	assert_non_null(strstr(out, "--image-dir DIR"));
	test_free(out);
	/* Nothing was configured, so nothing is left to free. */
	assert_null(f->cfg.platform);
}

static void test_free_twice(void **state)
{
	struct fixture *f = *state;

	write_config(f, "{ \"disks\": [ { \"name\": \"a\", \"path\": \"/a\" } ], "
			"\"image-dirs\": [ \"/\" ] }");
	assert_int_equal(parse(f, "--config", f->path, "--disk", "b=/b", "--disk", "a=/c,ro"), 0);
	assert_int_equal(f->cfg.nr_disks, 2);
	assert_int_equal(f->cfg.nr_image_dirs, 1);
	pvringd_config_free(&f->cfg);
	assert_null(f->cfg.disks);
	assert_int_equal(f->cfg.nr_disks, 0);
	assert_null(f->cfg.image_dirs);
	assert_int_equal(f->cfg.nr_image_dirs, 0);
	assert_null(f->cfg.control_socket);
	/* And again, as teardown does: harmless. LeakSanitizer checks the rest at exit. */
	pvringd_config_free(&f->cfg);
}

/* The installed example must stay a valid config. */
static void test_example(void **state)
{
	struct fixture *f = *state;
	const char *example = PVRING_SRCDIR "/daemon/pvringd.json.example";

	assert_int_equal(parse(f, "--config", example), 0);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cfg.platform, "local");
	assert_string_equal(f->cfg.store_rundir, "/run/pvring/store");
	assert_int_equal(f->cfg.poll_us, 50);
	assert_int_equal(f->cfg.nr_disks, 1);
	assert_disk(f, 0, "disk0", "/var/lib/pvring/disk0.img", false, false);
}

static void test_workers(void **state)
{
	struct fixture *f = *state;

	write_config(f, "{ \"workers\": 3 }");
	assert_int_equal(parse(f, "--config", f->path), 0);
	assert_int_equal(f->cfg.workers, 3);
	assert_int_equal(parse(f, "--config", f->path, "--workers", "5"), 0);
	assert_int_equal(f->cfg.workers, 5);
	/* 0: one per CPU this process may run on. */
	assert_int_equal(parse(f, "--config", f->path, "--workers", "0"), 0);
	assert_int_equal(f->cfg.workers, usable_cpus());
	option_error(f, "--workers 65: must be an integer 0..64", "--workers", "65");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options_win, setup, teardown),
		cmocka_unit_test_setup_teardown(test_derived_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpu_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_workers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_option_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_option_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_syntax_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_value_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_fifo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_us, setup, teardown),
		cmocka_unit_test_setup_teardown(test_image_dirs_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_image_dirs_option, setup, teardown),
		cmocka_unit_test_setup_teardown(test_image_dirs_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_images, setup, teardown),
		cmocka_unit_test_setup_teardown(test_image_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_example, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
