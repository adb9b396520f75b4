// SPDX-License-Identifier: MIT
/*
 * pvringctl's client library against the real control socket server (in a
 * thread of the test, with handlers giving replies in the documented format),
 * and pvringctl's text for those replies, checked byte for byte.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "daemon/ctl.h"
#include "tests/lib/ctl_server_thread.h"
#include "tools/ctl_client.h"
#include "tools/ctl_format.h"
#include "tools/vdev.h"

#define TIMEOUT_MS 10000

/* ---- replies as doc/pvringd-control.md describes them ---- */

#define DEV_1                                                                                      \
	"\"device\":\"1/51712\",\"disk\":\"disk0\",\"image\":\"/srv/disk0.img\",\"type\":\"vbd\"," \
	"\"domid\":1,\"devid\":51712,\"state\":\"Connected\",\"frontend_state\":\"Connected\","    \
	"\"sectors\":2097152,\"sector_size\":512,\"read_only\":false,\"queues\":2,"                \
	"\"ring_order\":1,\"backend\":\"file\",\"backend_state\":\"open\""
#define DEV_2                                                                                      \
	"\"device\":\"2/768\",\"disk\":\"scratch\",\"image\":\"rbd:vms/scratch\","                 \
	"\"backend\":\"rbd\",\"backend_state\":\"failing for 3 s: 2 operations, last: read: "      \
	"Connection timed out\","                                                                  \
	"\"type\":\"vbd\",\"domid\":2,\"devid\":768,\"state\":\"Closed\","                         \
	"\"frontend_state\":\"Initialising\",\"sectors\":204800,\"sector_size\":512,"              \
	"\"read_only\":true,\"queues\":0,\"ring_order\":0,"                                        \
	"\"reason\":\"front end asked for ring order 9 (at most 4)\""

static const char list_reply[] = "{\"devices\":[{" DEV_1 "},{" DEV_2 "}]}";

static const char show_1[] =
	"{\"device\":{" DEV_1 ",\"rings\":["
	"{\"queue\":0,\"order\":1,\"worker\":1,\"slots\":64,\"req_prod\":1000,\"req_event\":1001,"
	"\"req_cons\":998,\"rsp_prod\":995,\"rsp_event\":996,\"rsp_prod_pvt\":998,"
	"\"in_flight\":2,\"persistent_grants\":40,\"fault\":null,\"engine\":\"open\","
	"\"counters\":{\"requests\":1000,\"read\":700,"
	"\"write\":285,\"flush\":10,\"barrier\":0,\"discard\":0,\"indirect\":5,"
	"\"responses\":998,\"errors\":1,\"kicks_in\":250,\"kicks_out\":400,\"kick_rests\":3,"
	"\"batches\":200,"
	"\"batch_max\":17,\"bytes_read\":2867200,\"bytes_written\":1187840}},"
	"{\"queue\":1,\"order\":1,\"worker\":0,\"slots\":64,\"req_prod\":4096,\"req_event\":1,"
	"\"req_cons\":0,\"rsp_prod\":0,\"rsp_event\":1,\"rsp_prod_pvt\":0,\"in_flight\":0,"
	"\"persistent_grants\":0,\"engine\":\"open\","
	"\"fault\":\"request producer 4096 ahead of the consumer (ring of 64)\","
	"\"counters\":{\"requests\":0,\"read\":0,\"write\":0,\"flush\":0,\"barrier\":0,"
	"\"discard\":0,\"indirect\":0,\"responses\":0,\"errors\":0,\"kicks_in\":1,"
	"\"kicks_out\":0,\"kick_rests\":0,\"batches\":0,\"batch_max\":0,\"bytes_read\":0,"
	"\"bytes_written\":0}}]}}";

static const char show_2[] = "{\"device\":{" DEV_2 ",\"rings\":[]}}";

static const char dump_reply[] =
	"{\"device\":\"1/51712\",\"ring\":0,\"slots\":["
	"{\"index\":998,\"slot\":38,\"id\":12,\"op\":\"read\",\"sector\":2048,"
	"\"nr_segments\":2,\"segments\":[{\"gref\":8,\"first_sect\":0,\"last_sect\":7},"
	"{\"gref\":9,\"first_sect\":0,\"last_sect\":3}]},"
	"{\"index\":999,\"slot\":39,\"id\":13,\"op\":\"discard\",\"sector\":4096,"
	"\"nr_segments\":0,\"nr_sectors\":2048},"
	"{\"index\":1000,\"slot\":40,\"id\":18446744073709551615,\"op\":77,\"sector\":0,"
	"\"nr_segments\":0,\"segments\":[]}]}";

/* ---- the server: handlers run on the loop thread ---- */

struct fixture {
	struct ctl_server_thread srv;
	unsigned int shows; /* of device 3/1: its counters grow with every look */
};

/* Copy the fields of a JSON text into reply. */
static int fill(struct json_object *reply, const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	if (!o)
		return -1;
	json_object_object_foreach(o, key, value)
	{
		json_object_object_add(reply, key, json_object_get(value));
	}
	json_object_put(o);
	return 0;
}

static const char *device_arg(struct json_object *req)
{
	struct json_object *v;

	if (!json_object_object_get_ex(req, "device", &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int h_list(void *arg, struct json_object *req, struct json_object *reply, char *err,
		  unsigned int err_len)
{
	(void)arg;
	(void)req;
	(void)err;
	(void)err_len;
	return fill(reply, list_reply);
}

static int h_show(void *arg, struct json_object *req, struct json_object *reply, char *err,
		  unsigned int err_len)
{
	struct fixture *f = arg;
	const char *dev = device_arg(req);
	char text[1024];
	unsigned int n;

	if (!dev) {
		snprintf(err, err_len, "show: no \"device\"");
		return -1;
	}
	if (!strcmp(dev, "1/51712") || !strcmp(dev, "disk0"))
		return fill(reply, show_1);
	if (!strcmp(dev, "2/768"))
		return fill(reply, show_2);
	if (strcmp(dev, "3/1")) {
		snprintf(err, err_len, "no such device: %s", dev);
		return -1;
	}
	/* Two rings, whose sums the rates are made of. */
	n = ++f->shows;
	snprintf(text, sizeof(text),
		 "{\"device\":{\"device\":\"3/1\",\"rings\":["
		 "{\"queue\":0,\"in_flight\":%u,\"counters\":{\"requests\":%u,\"read\":%u,"
		 "\"write\":%u,\"bytes_read\":%u,\"bytes_written\":%u,\"kicks_in\":%u,"
		 "\"kicks_out\":%u,\"batch_max\":%u}},"
		 "{\"queue\":1,\"in_flight\":1,\"counters\":{\"requests\":%u,\"read\":%u,"
		 "\"flush\":%u,\"bytes_read\":%u,\"kicks_in\":%u,\"kicks_out\":%u,"
		 "\"batch_max\":3}}]}}",
		 n, 100 * n, 60 * n, 40 * n, 60 * n * 4096, 40 * n * 8192, 10 * n, 20 * n, n,
		 10 * n, 8 * n, 2 * n, 8 * n * 4096, n, n);
	return fill(reply, text);
}

static int h_dump(void *arg, struct json_object *req, struct json_object *reply, char *err,
		  unsigned int err_len)
{
	struct json_object *ring;

	(void)arg;
	if (!json_object_object_get_ex(req, "ring", &ring) || json_object_get_int(ring) != 0) {
		snprintf(err, err_len, "no ring %d on 1/51712", json_object_get_int(ring));
		return -1;
	}
	return fill(reply, dump_reply);
}

/* The device it names is made of the request's fields: they arrived as sent. */
static int h_attach(void *arg, struct json_object *req, struct json_object *reply, char *err,
		    unsigned int err_len)
{
	struct json_object *disk, *domid, *devid;
	char text[512];
	int dev = 51712;

	(void)arg;
	if (!json_object_object_get_ex(req, "disk", &disk) ||
	    !json_object_object_get_ex(req, "domid", &domid)) {
		snprintf(err, err_len, "attach: \"disk\" and \"domid\" are required");
		return -1;
	}
	if (strcmp(json_object_get_string(disk), "disk0")) {
		snprintf(err, err_len, "no disk named %s", json_object_get_string(disk));
		return -1;
	}
	if (json_object_object_get_ex(req, "devid", &devid))
		dev = json_object_get_int(devid);
	snprintf(text, sizeof(text),
		 "{\"device\":\"%d/%d\",\"backend\":\"/local/domain/0/backend/vbd/%d/%d\","
		 "\"frontend\":\"/local/domain/%d/device/vbd/%d\"}",
		 json_object_get_int(domid), dev, json_object_get_int(domid), dev,
		 json_object_get_int(domid), dev);
	return fill(reply, text);
}

static int h_detach(void *arg, struct json_object *req, struct json_object *reply, char *err,
		    unsigned int err_len)
{
	const char *dev = device_arg(req);

	(void)arg;
	(void)reply;
	if (!dev || strcmp(dev, "1/51712")) {
		snprintf(err, err_len, "no such device: %s", dev ? dev : "(none)");
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	static const struct ctl_server_command cmds[] = {
		{ "list", h_list },	{ "show", h_show },	{ "dump", h_dump },
		{ "attach", h_attach }, { "detach", h_detach },
	};
	struct fixture *f = test_calloc(1, sizeof(*f));

	if (ctl_server_thread_start(&f->srv, "/tmp/pvring-ctlc-XXXXXX", cmds,
				    sizeof(cmds) / sizeof(cmds[0]), f)) {
		test_free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ctl_server_thread_stop(&f->srv);
	test_free(f);
	return 0;
}

/* ---- helpers ---- */

static struct pvring_ctl_client *connect_ok(const char *path)
{
	char err[256];
	struct pvring_ctl_client *c = pvring_ctl_client_connect(path, err, sizeof(err));

	if (!c)
		fail_msg("connect: %s", err);
	return c;
}

/* The reply to a request given as JSON text; fails unless the daemon said ok. */
static struct json_object *call_ok(struct pvring_ctl_client *c, const char *text)
{
	struct json_object *req = json_tokener_parse(text), *reply = NULL;
	char err[256] = "";
	enum pvring_ctl_status st;

	assert_non_null(req);
	st = pvring_ctl_client_call(c, req, TIMEOUT_MS, &reply, err, sizeof(err));
	json_object_put(req);
	if (st != PVRING_CTL_OK)
		fail_msg("%s: status %d: %s", text, st, err);
	assert_non_null(reply);
	return reply;
}

/* Run a formatter into memory and compare with the expected text. */
static void expect_text(int (*fmt)(FILE *, struct json_object *), struct json_object *reply,
			const char *expected)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	assert_int_equal(fmt(out, reply), 0);
	fclose(out);
	if (strcmp(text, expected))
		fail_msg("got:\n%s\nexpected:\n%s", text, expected);
	free(text);
}

/* A raw listening socket that pvringd_ctl does not serve: the test plays the daemon. */
static int raw_listener(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sun.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

/* ---- the client ---- */

static void test_socket_path(void **state)
{
	(void)state;
	unsetenv(PVRING_CTL_SOCKET_ENV);
	assert_string_equal(pvring_ctl_socket_path(), "/run/pvring/pvringd.sock");
	setenv(PVRING_CTL_SOCKET_ENV, "", 1);
	assert_string_equal(pvring_ctl_socket_path(), "/run/pvring/pvringd.sock");
	setenv(PVRING_CTL_SOCKET_ENV, "/tmp/x.sock", 1);
	assert_string_equal(pvring_ctl_socket_path(), "/tmp/x.sock");
	unsetenv(PVRING_CTL_SOCKET_ENV);
}

static void test_cannot_connect(void **state)
{
	char dir[] = "/tmp/pvring-ctlc-XXXXXX", path[128], err[256], expected[512];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pvringd.sock", dir);

	/* No socket. */
	assert_null(pvring_ctl_client_connect(path, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	snprintf(expected, sizeof(expected),
		 "cannot reach pvringd: no socket at %s (is pvringd running?)", path);
	assert_string_equal(err, expected);

	/* A socket file nobody listens on. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sun.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_null(pvring_ctl_client_connect(path, err, sizeof(err)));
	assert_int_equal(errno, ECONNREFUSED);
	snprintf(expected, sizeof(expected),
		 "cannot reach pvringd: connection refused on %s (stale socket? is pvringd "
		 "running?)",
		 path);
	assert_string_equal(err, expected);
	unlink(path);

	/* Not ours to use: root ignores file modes, so only an ordinary user can see this. */
	if (geteuid() != 0) {
		fd = raw_listener(path);
		assert_int_equal(chmod(path, 0), 0);
		assert_null(pvring_ctl_client_connect(path, err, sizeof(err)));
		assert_int_equal(errno, EACCES);
		snprintf(expected, sizeof(expected),
			 "cannot reach pvringd: permission denied on %s (the control socket is "
			 "root only)",
			 path);
		assert_string_equal(err, expected);
		close(fd);
		unlink(path);
	}
	rmdir(dir);
}

static void test_call_and_errors(void **state)
{
	struct fixture *f = *state;
	struct pvring_ctl_client *c = connect_ok(f->srv.path);
	struct json_object *req, *reply, *v;
	char err[256];

	reply = call_ok(c, "{\"cmd\":\"list\"}");
	assert_true(json_object_object_get_ex(reply, "devices", &v));
	assert_int_equal(json_object_array_length(v), 2);
	json_object_put(reply);

	/* The daemon's error: its message, the reply, and the connection still usable. */
	req = json_tokener_parse("{\"cmd\":\"show\",\"device\":\"9/9\"}");
	assert_int_equal(pvring_ctl_client_call(c, req, TIMEOUT_MS, &reply, err, sizeof(err)),
			 PVRING_CTL_FAILED);
	json_object_put(req);
	assert_string_equal(err, "no such device: 9/9");
	assert_non_null(reply);
	assert_true(json_object_object_get_ex(reply, "ok", &v));
	assert_false(json_object_get_boolean(v));
	json_object_put(reply);

	req = json_tokener_parse("{\"cmd\":\"frob\"}");
	assert_int_equal(pvring_ctl_client_call(c, req, TIMEOUT_MS, &reply, err, sizeof(err)),
			 PVRING_CTL_FAILED);
	json_object_put(req);
	json_object_put(reply);
	assert_string_equal(err,
			    "unknown command \"frob\" (commands: list show dump attach detach)");

	reply = call_ok(c, "{\"cmd\":\"detach\",\"device\":\"1/51712\"}");
	assert_int_equal(json_object_object_length(reply), 1);
	json_object_put(reply);
	pvring_ctl_client_close(c);
}

static void test_pipelined(void **state)
{
	struct fixture *f = *state;
	struct pvring_ctl_client *c = connect_ok(f->srv.path);
	struct json_object *reqs[3], *reply, *v;
	char err[256];
	int i;

	reqs[0] = json_tokener_parse("{\"cmd\":\"show\",\"device\":\"2/768\"}");
	reqs[1] = json_tokener_parse("{\"cmd\":\"show\",\"device\":\"9/9\"}");
	reqs[2] = json_tokener_parse("{\"cmd\":\"show\",\"device\":\"disk0\"}");
	for (i = 0; i < 3; i++)
		assert_int_equal(pvring_ctl_client_send(c, reqs[i], TIMEOUT_MS, err, sizeof(err)),
				 PVRING_CTL_OK);
	assert_int_equal(pvring_ctl_client_recv(c, TIMEOUT_MS, &reply, err, sizeof(err)),
			 PVRING_CTL_OK);
	assert_true(json_object_object_get_ex(reply, "device", &v));
	assert_true(json_object_object_get_ex(v, "device", &v));
	assert_string_equal(json_object_get_string(v), "2/768");
	json_object_put(reply);
	assert_int_equal(pvring_ctl_client_recv(c, TIMEOUT_MS, &reply, err, sizeof(err)),
			 PVRING_CTL_FAILED);
	assert_string_equal(err, "no such device: 9/9");
	json_object_put(reply);
	assert_int_equal(pvring_ctl_client_recv(c, TIMEOUT_MS, &reply, err, sizeof(err)),
			 PVRING_CTL_OK);
	assert_true(json_object_object_get_ex(reply, "device", &v));
	assert_true(json_object_object_get_ex(v, "device", &v));
	assert_string_equal(json_object_get_string(v), "1/51712");
	json_object_put(reply);
	for (i = 0; i < 3; i++)
		json_object_put(reqs[i]);
	pvring_ctl_client_close(c);
}

/* ---- a daemon with every connection taken ---- */

struct busy_call {
	const char *path;
	int timeout_ms;
	enum pvring_ctl_status st;
	struct json_object *reply;
	char err[256];
};

/* One list call on a new connection, as pvringctl makes it. */
static void *busy_call_main(void *arg)
{
	struct busy_call *b = arg;
	struct json_object *req = json_tokener_parse("{\"cmd\":\"list\"}");
	struct pvring_ctl_client *c = pvring_ctl_client_connect(b->path, b->err, sizeof(b->err));

	b->st = PVRING_CTL_UNREACHABLE;
	b->reply = NULL;
	if (c && req)
		b->st = pvring_ctl_client_call(c, req, b->timeout_ms, &b->reply, b->err,
					       sizeof(b->err));
	json_object_put(req);
	pvring_ctl_client_close(c);
	return NULL;
}

/* Connections the server has turned away as busy, read with its loop stopped. */
static unsigned long refused(struct fixture *f)
{
	unsigned long n;

	ctl_server_thread_pause(&f->srv);
	n = pvringd_ctl_refused(f->srv.ctl);
	assert_int_equal(ctl_server_thread_resume(&f->srv), 0);
	return n;
}

/*
 * Every slot and spare taken: a call is turned away as busy, comes back on a new connection,
 * and is answered once a slot is free. Out of time, it fails with the daemon's reason.
 */
static void test_busy_daemon(void **state)
{
	const struct pvringd_ctl_timeouts timeouts = { .idle_ms = 60000,
						       .evict_idle_ms = 60000,
						       .spare_deadline_ms = 60000 };
	struct fixture *f = *state;
	struct pvring_ctl_client *regular[64], *spares[4];
	struct busy_call call = { .path = f->srv.path };
	struct json_object *v;
	unsigned long base;
	unsigned int i, waited;
	pthread_t thread;

	/* However slow the machine, nobody is idle long enough to be made room for. */
	ctl_server_thread_pause(&f->srv);
	pvringd_ctl_set_timeouts(f->srv.ctl, &timeouts);
	assert_int_equal(ctl_server_thread_resume(&f->srv), 0);
	for (i = 0; i < 64; i++) {
		regular[i] = connect_ok(f->srv.path);
		json_object_put(call_ok(regular[i], "{\"cmd\":\"list\"}"));
	}
	/* Spares that send nothing keep their places until the spare deadline. */
	for (i = 0; i < 4; i++)
		spares[i] = connect_ok(f->srv.path);

	/* No slot frees in time: the daemon's reason, and that it stayed busy. */
	call.timeout_ms = 1000;
	busy_call_main(&call);
	if (call.st != PVRING_CTL_FAILED ||
	    !strstr(call.err, "too many control connections (pvringd stayed busy: "))
		fail_msg("busy for 1 s: status %d: %s", call.st, call.err);
	assert_non_null(call.reply);
	json_object_put(call.reply);

	/* A slot frees while the call keeps coming back: it is answered. */
	base = refused(f);
	call.timeout_ms = TIMEOUT_MS;
	assert_int_equal(pthread_create(&thread, NULL, busy_call_main, &call), 0);
	for (waited = 0; refused(f) < base + 2 && waited < TIMEOUT_MS; waited += 10)
		usleep(10000);
	/* Turned away twice at least: it came back after the first. */
	assert_true(refused(f) >= base + 2);
	pvring_ctl_client_close(regular[0]);
	assert_int_equal(pthread_join(thread, NULL), 0);
	if (call.st != PVRING_CTL_OK)
		fail_msg("after a slot freed: status %d: %s", call.st, call.err);
	assert_true(json_object_object_get_ex(call.reply, "devices", &v));
	json_object_put(call.reply);
	for (i = 1; i < 64; i++)
		pvring_ctl_client_close(regular[i]);
	for (i = 0; i < 4; i++)
		pvring_ctl_client_close(spares[i]);
}

struct answer {
	const char *text; /* what the daemon writes */
	const char *err; /* "": none */
	enum pvring_ctl_status st;
};

/* The request received, then the answer and end of file. */
static const struct answer answers[] = {
	{ "", "pvringd closed the connection without a reply", PVRING_CTL_UNREACHABLE },
	{ "garbage\n", "malformed reply from pvringd", PVRING_CTL_UNREACHABLE },
	{ "[true]\n", "malformed reply from pvringd", PVRING_CTL_UNREACHABLE },
	{ "{\"devices\":[]}\n", "malformed reply from pvringd", PVRING_CTL_UNREACHABLE },
	{ "{\"ok\":\"yes\"}\n", "malformed reply from pvringd", PVRING_CTL_UNREACHABLE },
	{ "{\"ok\":true} x\n", "malformed reply from pvringd", PVRING_CTL_UNREACHABLE },
	/* Strict JSON, as the daemon reads its requests. */
	{ "{'ok':true}\n", "malformed reply from pvringd", PVRING_CTL_UNREACHABLE },
	{ "{\"ok\":true,}\n", "malformed reply from pvringd", PVRING_CTL_UNREACHABLE },
	{ "{\"ok\":false}\n", "pvringd reported an error without saying what", PVRING_CTL_FAILED },
	{ "{\"ok\":true}", "pvringd closed the connection without a reply",
	  PVRING_CTL_UNREACHABLE },
	{ "{\"ok\":true} \r\n", "", PVRING_CTL_OK },
};

/*
 * The answer, then the connection closed before the request is sent: the
 * daemon never saw it. Only an error waiting to be read (a daemon turning the
 * client away) is its answer; a success there cannot be one.
 */
static const struct answer closed_answers[] = {
	{ "", "pvringd closed the connection", PVRING_CTL_UNREACHABLE },
	{ "{\"ok\":true,\"devices\":[]}\n", "pvringd closed the connection",
	  PVRING_CTL_UNREACHABLE },
	{ "garbage\n", "pvringd closed the connection", PVRING_CTL_UNREACHABLE },
	{ "{\"ok\":false,\"error\":\"too many control connections\"}\n",
	  "too many control connections", PVRING_CTL_FAILED },
};

static void check_answers(int lfd, const char *path, struct json_object *req,
			  const struct answer *cases, size_t n, int closed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct pvring_ctl_client *c = connect_ok(path);
		struct json_object *reply;
		enum pvring_ctl_status st;
		char err[256] = "";
		int fd = accept(lfd, NULL, NULL);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, cases[i].text, strlen(cases[i].text)),
				 (ssize_t)strlen(cases[i].text));
		/* Shut down: the request is still received. Closed: it cannot be sent. */
		if (closed)
			close(fd);
		else
			assert_int_equal(shutdown(fd, SHUT_WR), 0);
		st = pvring_ctl_client_call(c, req, TIMEOUT_MS, &reply, err, sizeof(err));
		if (strcmp(err, cases[i].err) || st != cases[i].st)
			fail_msg("answer %s (%s): got %d \"%s\", expected %d \"%s\"", cases[i].text,
				 closed ? "closed" : "shut down", st, err, cases[i].st,
				 cases[i].err);
		/* A reply comes with OK and FAILED only. */
		assert_true((reply != NULL) == (st != PVRING_CTL_UNREACHABLE));
		json_object_put(reply);
		pvring_ctl_client_close(c);
		if (!closed)
			close(fd);
	}
}

/* A daemon that answers badly, or not at all: played by the test on a raw socket. */
static void test_bad_daemon(void **state)
{
	char dir[] = "/tmp/pvring-ctlc-XXXXXX", path[PATH_MAX], err[256];
	struct json_object *req = json_tokener_parse("{\"cmd\":\"list\"}"), *reply;
	struct pvring_ctl_client *c;
	int lfd, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pvringd.sock", dir);
	lfd = raw_listener(path);

	/* Silence: the timeout. */
	c = connect_ok(path);
	assert_int_equal(pvring_ctl_client_call(c, req, 200, &reply, err, sizeof(err)),
			 PVRING_CTL_UNREACHABLE);
	assert_null(reply);
	assert_string_equal(err, "no reply from pvringd: timed out");
	pvring_ctl_client_close(c);
	fd = accept(lfd, NULL, NULL);
	close(fd);

	check_answers(lfd, path, req, answers, sizeof(answers) / sizeof(answers[0]), 0);
	check_answers(lfd, path, req, closed_answers,
		      sizeof(closed_answers) / sizeof(closed_answers[0]), 1);
	/* The request read, then the connection closed: no reply. */
	c = connect_ok(path);
	fd = accept(lfd, NULL, NULL);
	assert_int_equal(pvring_ctl_client_send(c, req, TIMEOUT_MS, err, sizeof(err)),
			 PVRING_CTL_OK);
	{
		char buf[64];

		assert_int_equal(read(fd, buf, sizeof(buf)), strlen("{\"cmd\":\"list\"}\n"));
	}
	close(fd);
	assert_int_equal(pvring_ctl_client_recv(c, TIMEOUT_MS, &reply, err, sizeof(err)),
			 PVRING_CTL_UNREACHABLE);
	assert_null(reply);
	assert_string_equal(err, "pvringd closed the connection without a reply");
	pvring_ctl_client_close(c);

	json_object_put(req);
	close(lfd);
	unlink(path);
	rmdir(dir);
}

/*
 * Turned away, then a daemon that stops accepting, its backlog full: coming back, the call finds
 * no room (a connect that would wait counts as busy) and, out of time, fails with the daemon's
 * busy reply and reason. It never waits past its timeout for room.
 */
static void test_busy_backlog_full(void **state)
{
	char dir[] = "/tmp/pvring-ctlc-XXXXXX", path[PATH_MAX], err[256] = "";
	struct json_object *req = json_tokener_parse("{\"cmd\":\"list\"}"), *reply, *v;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	static const char busy[] =
		"{\"ok\":false,\"error\":\"too many control connections\",\"busy\":true}\n";
	struct pvring_ctl_client *c;
	int lfd, fd, fill[16], nr_fill = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pvringd.sock", dir);
	lfd = raw_listener(path);
	c = connect_ok(path);
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, busy, strlen(busy)), (ssize_t)strlen(busy));
	close(fd);
	/* Connections nobody accepts, until the backlog refuses one. */
	strcpy(sun.sun_path, path);
	for (;;) {
		assert_true(nr_fill < 16);
		fill[nr_fill] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		assert_true(fill[nr_fill] >= 0);
		if (connect(fill[nr_fill], (struct sockaddr *)&sun, sizeof(sun))) {
			assert_int_equal(errno, EAGAIN);
			close(fill[nr_fill]);
			break;
		}
		nr_fill++;
	}
	assert_int_equal(pvring_ctl_client_call(c, req, 300, &reply, err, sizeof(err)),
			 PVRING_CTL_FAILED);
	if (!strstr(err, "too many control connections (pvringd stayed busy: "))
		fail_msg("got \"%s\"", err);
	assert_true(json_object_object_get_ex(reply, "busy", &v));
	json_object_put(reply);
	pvring_ctl_client_close(c);
	while (nr_fill--)
		close(fill[nr_fill]);
	json_object_put(req);
	close(lfd);
	unlink(path);
	rmdir(dir);
}

/* ---- pvringctl's text ---- */

static void test_format_list(void **state)
{
	struct fixture *f = *state;
	struct pvring_ctl_client *c = connect_ok(f->srv.path);
	struct json_object *reply = call_ok(c, "{\"cmd\":\"list\"}");

	expect_text(pvring_fmt_list, reply,
		    "DEVICE   DISK     STATE      FE-STATE      QUEUES  ORDER  SECTORS  RO\n"
		    "1/51712  disk0    Connected  Connected     2       1      2097152  no\n"
		    "2/768    scratch  Closed     Initialising  0       0      204800   yes\n");
	json_object_put(reply);
	reply = json_tokener_parse("{\"ok\":true,\"devices\":[]}");
	expect_text(pvring_fmt_list, reply,
		    "DEVICE  DISK  STATE  FE-STATE  QUEUES  ORDER  SECTORS  RO\n");
	json_object_put(reply);
	pvring_ctl_client_close(c);
}

static void test_format_show(void **state)
{
	struct fixture *f = *state;
	struct pvring_ctl_client *c = connect_ok(f->srv.path);
	struct json_object *reply = call_ok(c, "{\"cmd\":\"show\",\"device\":\"1/51712\"}");

	expect_text(pvring_fmt_show, reply,
		    "device      1/51712\n"
		    "disk        disk0\n"
		    "image       /srv/disk0.img\n"
		    "backend     file\n"
		    "io-state    open\n"
		    "type        vbd\n"
		    "domid       1\n"
		    "devid       51712\n"
		    "state       Connected\n"
		    "fe-state    Connected\n"
		    "sectors     2097152 (1.0 GiB)\n"
		    "sector-size 512\n"
		    "read-only   no\n"
		    "queues      2\n"
		    "ring-order  1\n"
		    "\n"
		    "RING  ORDER  WORKER  SLOTS  REQ-PROD  REQ-CONS  REQ-EVENT  RSP-PROD  RSP-PVT  "
		    "RSP-EVENT  IN-FLIGHT  PGRANTS  FAULT"
		    "                                                     ENGINE\n"
		    "0     1      1       64     1000      998       1001       995       998      "
		    "996        2          40       -"
		    "                                                         open\n"
		    "1     1      0       64     4096      0         1          0         0        "
		    "1          0          0        request producer 4096 ahead of the consumer "
		    "(ring of 64)  open\n"
		    "\n"
		    "RING  REQUESTS  READ  WRITE  FLUSH  BARRIER  DISCARD  INDIRECT  RESPONSES  "
		    "ERRORS\n"
		    "0     1000      700   285    10     0        0        5         998        1\n"
		    "1     0         0     0      0      0        0        0         0          0\n"
		    "\n"
		    "RING  KICKS-IN  KICKS-OUT  IN/REQ  OUT/RSP  RESTS  BATCHES  MEAN-BATCH  "
		    "MAX-BATCH  "
		    "BYTES-READ  BYTES-WRITTEN\n"
		    "0     250       400        0.25    0.40     3      200      5.00        17    "
		    "     "
		    "2867200     1187840\n"
		    "1     1         0          -       -        0      0        -           0     "
		    "     "
		    "0           0\n");
	json_object_put(reply);

	/* Disconnected for a fault: the reason, and no rings. */
	reply = call_ok(c, "{\"cmd\":\"show\",\"device\":\"2/768\"}");
	expect_text(pvring_fmt_show, reply,
		    "device      2/768\n"
		    "disk        scratch\n"
		    "image       rbd:vms/scratch\n"
		    "backend     rbd\n"
		    "io-state    failing for 3 s: 2 operations, last: read: Connection timed out\n"
		    "type        vbd\n"
		    "domid       2\n"
		    "devid       768\n"
		    "state       Closed\n"
		    "fe-state    Initialising\n"
		    "sectors     204800 (100.0 MiB)\n"
		    "sector-size 512\n"
		    "read-only   yes\n"
		    "queues      0\n"
		    "ring-order  0\n"
		    "reason      front end asked for ring order 9 (at most 4)\n"
		    "\n"
		    "no rings (not connected)\n");
	json_object_put(reply);
	pvring_ctl_client_close(c);
}

static void test_format_dump(void **state)
{
	struct fixture *f = *state;
	struct pvring_ctl_client *c = connect_ok(f->srv.path);
	struct json_object *reply =
		call_ok(c, "{\"cmd\":\"dump\",\"device\":\"1/51712\",\"ring\":0}");

	expect_text(pvring_fmt_dump, reply,
		    "1/51712 ring 0: 3 requests in flight\n"
		    "INDEX  SLOT  ID                    OP       SECTOR  NSEG  SEGMENTS\n"
		    "998    38    12                    read     2048    2     8:0-7,9:0-3\n"
		    "999    39    13                    discard  4096    0     nr_sectors=2048\n"
		    "1000   40    18446744073709551615  77       0       0     -\n");
	json_object_put(reply);
	/* Oldest first, also where the free-running index wraps. */
	reply = json_tokener_parse(
		"{\"ok\":true,\"device\":\"1/51712\",\"ring\":1,\"slots\":["
		"{\"index\":1,\"slot\":1,\"id\":3,\"op\":\"flush\",\"sector\":0,\"nr_segments\":0,"
		"\"segments\":[]},"
		"{\"index\":4294967295,\"slot\":31,\"id\":1,\"op\":\"write\",\"sector\":8,"
		"\"nr_segments\":1,\"segments\":[{\"gref\":40,\"first_sect\":1,\"last_sect\":2}]},"
		"{\"index\":0,\"slot\":0,\"id\":2,\"op\":\"indirect\",\"sector\":16,"
		"\"nr_segments\":20}]}");
	expect_text(pvring_fmt_dump, reply,
		    "1/51712 ring 1: 3 requests in flight\n"
		    "INDEX       SLOT  ID  OP        SECTOR  NSEG  SEGMENTS\n"
		    "4294967295  31    1   write     8       1     40:1-2\n"
		    "0           0     2   indirect  16      20    -\n"
		    "1           1     3   flush     0       0     -\n");
	json_object_put(reply);
	reply = json_tokener_parse("{\"ok\":true,\"device\":\"1/51712\",\"ring\":1,\"slots\":[]}");
	expect_text(pvring_fmt_dump, reply, "1/51712 ring 1: 0 requests in flight\n");
	json_object_put(reply);
	pvring_ctl_client_close(c);
}

static void test_format_attach_and_json(void **state)
{
	struct fixture *f = *state;
	struct pvring_ctl_client *c = connect_ok(f->srv.path);
	struct json_object *reply =
		call_ok(c, "{\"cmd\":\"attach\",\"disk\":\"disk0\",\"domid\":5,\"devid\":768}");
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	expect_text(pvring_fmt_attach, reply,
		    "device    5/768\n"
		    "backend   /local/domain/0/backend/vbd/5/768\n"
		    "frontend  /local/domain/5/device/vbd/768\n");
	out = open_memstream(&text, &len);
	pvring_fmt_json(out, reply);
	fclose(out);
	assert_string_equal(text, "{\n"
				  "  \"ok\": true,\n"
				  "  \"device\": \"5/768\",\n"
				  "  \"backend\": \"/local/domain/0/backend/vbd/5/768\",\n"
				  "  \"frontend\": \"/local/domain/5/device/vbd/768\"\n"
				  "}\n");
	free(text);
	json_object_put(reply);
	pvring_ctl_client_close(c);
}

static void test_format_malformed(void **state)
{
	static const char *const replies[] = {
		"{\"ok\":true}",
		"{\"ok\":true,\"devices\":{}}",
		"{\"ok\":true,\"device\":\"1/51712\"}",
	};
	int (*const fmts[])(FILE *, struct json_object *) = {
		pvring_fmt_list,
		pvring_fmt_show,
		pvring_fmt_dump,
		pvring_fmt_attach,
	};
	struct pvring_ctl_sample s;
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		struct json_object *reply = json_tokener_parse(replies[i]);
		char *text = NULL;
		size_t len = 0;
		FILE *out = open_memstream(&text, &len);

		for (k = 0; k < sizeof(fmts) / sizeof(fmts[0]); k++)
			if (!(k == 3 && i == 2)) /* attach needs only "device" */
				assert_int_equal(fmts[k](out, reply), -1);
		assert_int_equal(pvring_ctl_sample_from_show(reply, 0, &s), -1);
		fclose(out);
		/* A malformed reply prints nothing. */
		assert_string_equal(text, "");
		free(text);
		json_object_put(reply);
	}
}

static void test_format_watch(void **state)
{
	struct fixture *f = *state;
	struct pvring_ctl_client *c = connect_ok(f->srv.path);
	struct pvring_ctl_sample a, b, later;
	struct json_object *reply;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	reply = call_ok(c, "{\"cmd\":\"show\",\"device\":\"3/1\"}");
	assert_int_equal(pvring_ctl_sample_from_show(reply, 10.0, &a), 0);
	json_object_put(reply);
	reply = call_ok(c, "{\"cmd\":\"show\",\"device\":\"3/1\"}");
	assert_int_equal(pvring_ctl_sample_from_show(reply, 12.0, &b), 0);
	json_object_put(reply);
	assert_string_equal(b.device, "3/1");
	assert_int_equal(b.counters[PVRING_CTR_REQUESTS], 220);
	assert_int_equal(b.counters[PVRING_CTR_BATCH_MAX], 3);
	assert_int_equal(b.in_flight, 3);

	out = open_memstream(&text, &len);
	pvring_fmt_watch_header(out);
	/* Over 2 s: 60 reads + 8 on ring 1 = 34/s; 40 writes = 20/s; 2 flushes = 1/s. */
	pvring_fmt_watch(out, &a, &b, false);
	pvring_fmt_watch(out, &a, &b, true);
	/* Counters that went back: the ring reconnected; counted from zero. */
	later = a;
	later.time = 14.0;
	pvring_fmt_watch(out, &b, &later, false);
	fclose(out);
	if (strcmp(text,
		   "DEVICE           READ/s    WRITE/s    FLUSH/s  BARRIER/s  DISCARD/s  "
		   "INDIRECT/s  "
		   "READ-MB/s  WRITE-MB/s  KICKS-IN/s  KICKS-OUT/s  IN-FLIGHT\n"
		   "3/1                34.0       20.0        1.0        0.0        0.0         "
		   "0.0  "
		   "     0.14        0.16         5.5         10.5          3\n"
		   "{\"device\":\"3/1\",\"interval\":2.000,\"requests_per_sec\":{\"read\":34.0,"
		   "\"write\":20.0,\"flush\":1.0,\"barrier\":0.0,\"discard\":0.0,\"indirect\":0.0},"
		   "\"read_mb_per_sec\":0.14,\"write_mb_per_sec\":0.16,\"kicks_in_per_sec\":5.5,"
		   "\"kicks_out_per_sec\":10.5,\"in_flight\":3}\n"
		   "3/1                34.0       20.0        1.0        0.0        0.0         "
		   "0.0  "
		   "     0.14        0.16         5.5         10.5          2\n"))
		fail_msg("got:\n%s", text);
	free(text);
	pvring_ctl_client_close(c);
}

/* ---- what a hostile or broken daemon can make pvringctl print ---- */

#define RUN10(s) s s s s s s s s s s
#define X64 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
#define A60 RUN10("aaaaaa")
/* The list's columns after DEVICE, all missing, but RO (the last). */
#define LIST_DASHES "-     -      -         -       -      -        "

/* A string of n times c, in static memory (one at a time). */
static const char *run_of(char c, size_t n)
{
	static char buf[4096];

	assert_true(n < sizeof(buf));
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void test_format_cells_bounded(void **state)
{
	struct json_object *reply =
		json_tokener_parse("{\"ok\":true,\"devices\":["
				   "{\"device\":\"\\u001b]0;x\\u0007\\r\\n\\u007f1/1\"},"
				   "{\"device\":\"" A60 "\\u00e9aaaaaaaaaa\"},"
				   "{\"device\":\"" X64 "\"},"
				   "{\"device\":\"" X64 "y\"}]}");
	struct json_object *devices, *d;
	char *expected = NULL;
	size_t len = 0;
	FILE *e = open_memstream(&expected, &len);

	(void)state;
	assert_non_null(reply);
	/* Control bytes as '?'; a cell of more than 64 bytes cut to 64 with "...", and not in
	 * the middle of a UTF-8 character (the é): no column wider than 64. */
	fprintf(e, "DEVICE%*sDISK  STATE  FE-STATE  QUEUES  ORDER  SECTORS  RO\n", 58 + 2, "");
	fprintf(e, "?]0;x????1/1%*s" LIST_DASHES "-\n", 52 + 2, "");
	fprintf(e, A60 "...%*s" LIST_DASHES "-\n", 1 + 2, "");
	fprintf(e, X64 "  " LIST_DASHES "-\n");
	fprintf(e, "%s...  " LIST_DASHES "-\n", run_of('x', 61));
	fclose(e);
	expect_text(pvring_fmt_list, reply, expected);
	free(expected);
	json_object_put(reply);

	/* The last column is not padded: cut at 1024 bytes. */
	reply = json_object_new_object();
	devices = json_object_new_array();
	d = json_object_new_object();
	json_object_object_add(reply, "devices", devices);
	json_object_object_add(d, "device", json_object_new_string("1/1"));
	json_object_object_add(d, "read_only", json_object_new_string(run_of('z', 1025)));
	json_object_array_add(devices, d);
	expected = NULL;
	e = open_memstream(&expected, &len);
	fprintf(e, "DEVICE  DISK  STATE  FE-STATE  QUEUES  ORDER  SECTORS  RO\n");
	fprintf(e, "1/1     " LIST_DASHES "%s...\n", run_of('z', 1021));
	fclose(e);
	expect_text(pvring_fmt_list, reply, expected);
	free(expected);
	json_object_put(reply);
}

static void test_format_lines_bounded(void **state)
{
	struct json_object *reply = json_object_new_object(), *d = json_object_new_object();
	char *expected = NULL, *image;
	size_t len = 0;
	FILE *e;

	(void)state;
	/* Values on lines of their own: clean, and cut at 1024 bytes. */
	image = strdup(run_of('i', 2000));
	image[0] = '/';
	json_object_object_add(d, "device", json_object_new_string("\x1b[31m1/1"));
	json_object_object_add(d, "image", json_object_new_string(image));
	json_object_object_add(d, "reason", json_object_new_string("bad\rring\x1b[0m"));
	json_object_object_add(d, "rings", json_object_new_array());
	json_object_object_add(reply, "device", d);
	image[1021] = '\0';
	e = open_memstream(&expected, &len);
	fprintf(e,
		"device      ?[31m1/1\n"
		"disk        -\n"
		"image       %s...\n"
		"backend     -\n"
		"io-state    -\n"
		"type        -\n"
		"domid       -\n"
		"devid       -\n"
		"state       -\n"
		"fe-state    -\n"
		"sectors     -\n"
		"sector-size -\n"
		"read-only   -\n"
		"queues      -\n"
		"ring-order  -\n"
		"reason      bad?ring?[0m\n"
		"\n"
		"no rings (not connected)\n",
		image);
	fclose(e);
	expect_text(pvring_fmt_show, reply, expected);
	free(expected);
	free(image);
	json_object_put(reply);

	reply = json_tokener_parse("{\"ok\":true,\"device\":\"5/768\\u001b[2J\","
				   "\"backend\":\"/b\\u0008\",\"frontend\":\"/f\\u009b\"}");
	expect_text(pvring_fmt_attach, reply,
		    "device    5/768?[2J\n"
		    "backend   /b?\n"
		    "frontend  /f?\n");
	json_object_put(reply);
	reply = json_tokener_parse(
		"{\"ok\":true,\"device\":\"1/1\\u001b\",\"ring\":\"\\u0007\","
		"\"slots\":[{\"index\":0,\"op\":\"read\\u001b\",\"segments\":[]}]}");
	expect_text(pvring_fmt_dump, reply,
		    "1/1? ring ?: 1 request in flight\n"
		    "INDEX  SLOT  ID  OP     SECTOR  NSEG  SEGMENTS\n"
		    "0      -     -   read?  -       -     -\n");
	json_object_put(reply);
}

static void test_format_watch_device_clean(void **state)
{
	struct pvring_ctl_sample a, b;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	memset(&a, 0, sizeof(a));
	strcpy(a.device, "\x1b[2Jdev");
	b = a;
	b.time = 1;
	pvring_fmt_watch(out, &a, &b, false);
	fclose(out);
	/* The device's name: clean (the rest of the line is numbers). */
	assert_string_equal(
		text, "?[2Jdev             0.0        0.0        0.0        0.0        0.0         "
		      "0.0       0.00        0.00         0.0          0.0          0\n");
	free(text);
}

static void test_format_rows_bounded(void **state)
{
	struct json_object *reply = json_object_new_object(), *devices = json_object_new_array();
	char *expected = NULL, name[16];
	size_t i, len = 0;
	FILE *e = open_memstream(&expected, &len);

	(void)state;
	/* 10000 rows from one reply, then how many more there were. */
	json_object_object_add(reply, "devices", devices);
	fprintf(e, "DEVICE  DISK  STATE  FE-STATE  QUEUES  ORDER  SECTORS  RO\n");
	for (i = 0; i < 10003; i++) {
		struct json_object *d = json_object_new_object();

		snprintf(name, sizeof(name), "%05zu", i);
		json_object_object_add(d, "device", json_object_new_string(name));
		json_object_array_add(devices, d);
		if (i < 10000)
			fprintf(e, "%s   " LIST_DASHES "-\n", name);
	}
	fprintf(e, "... 3 more\n");
	fclose(e);
	expect_text(pvring_fmt_list, reply, expected);
	free(expected);
	json_object_put(reply);
}

/* Virtual disk names as xl takes them, to the numbers Xen's vbd-interface.txt gives. */
static void test_vdev_names(void **state)
{
	static const struct {
		const char *name;
		long devid; /* -1: refused */
	} cases[] = {
		{ "xvda", 51712 },
		{ "xvdb", 51728 },
		{ "xvdp", 51952 },
		{ "xvda1", 51713 },
		{ "xvdb15", 51743 },
		{ "xvda16", (1l << 28) | 16 },
		{ "xvdq", (1l << 28) | (16 << 8) },
		{ "xvdz", (1l << 28) | (25 << 8) },
		{ "xvdaa", (1l << 28) | (26 << 8) },
		{ "xvdaz", (1l << 28) | (51 << 8) },
		{ "xvdba", (1l << 28) | (52 << 8) },
		{ "xvdb255", (1l << 28) | (1 << 8) | 255 },
		{ "xvd", -1 },
		{ "hda", -1 },
		{ "xvdA", -1 },
		{ "xvda0", -1 },
		{ "xvda01", -1 },
		{ "xvda256", -1 },
		{ "xvda1x", -1 },
		{ "xvdzzzzz", -1 },
		{ "", -1 },
	};
	size_t i;
	long devid;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = pvring_vdev_parse(cases[i].name, &devid);

		if (ok != (cases[i].devid >= 0) || (ok && devid != cases[i].devid))
			fail_msg("%s: %s %ld, expected %ld", cases[i].name, ok ? "gave" : "refused",
				 ok ? devid : -1l, cases[i].devid);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_cannot_connect),
		cmocka_unit_test_setup_teardown(test_call_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_daemon, setup, teardown),
		cmocka_unit_test(test_bad_daemon),
		cmocka_unit_test(test_busy_backlog_full),
		cmocka_unit_test_setup_teardown(test_format_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_show, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_dump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_format_attach_and_json, setup, teardown),
		cmocka_unit_test(test_format_malformed),
		cmocka_unit_test_setup_teardown(test_format_watch, setup, teardown),
		cmocka_unit_test(test_format_cells_bounded),
		cmocka_unit_test(test_format_lines_bounded),
		cmocka_unit_test(test_format_watch_device_clean),
		cmocka_unit_test(test_format_rows_bounded),
		cmocka_unit_test(test_vdev_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
