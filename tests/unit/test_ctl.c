// SPDX-License-Identifier: MIT
/*
 * pvringd's control socket server with a real event loop (in a thread of the
 * test) and real clients on the socket (the test's own thread, plain blocking
 * sockets): replies, errors, the framing's limits, the socket file.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/sockios.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "daemon/ctl.h"
#include "tests/lib/ctl_server_thread.h"
#include "tests/lib/fd_limit.h"

/* Only a guard against a hang: the server answers in microseconds. */
#define IO_TIMEOUT_S 10
#define BIG_REPLY (512u * 1024u)
/* Over the server's limit for one reply (4 MiB). */
#define HUGE_REPLY (5u * 1024u * 1024u)

struct fixture {
	struct ctl_server_thread srv;
};

/* ---- the server side: handlers run on the loop thread ---- */

static int h_list(void *arg, struct json_object *req, struct json_object *reply, char *err,
		  unsigned int err_len)
{
	(void)arg;
	(void)req;
	(void)err;
	(void)err_len;
	json_object_object_add(reply, "devices", json_object_new_array());
	return 0;
}

static int h_echo(void *arg, struct json_object *req, struct json_object *reply, char *err,
		  unsigned int err_len)
{
	struct json_object *v;

	(void)arg;
	(void)err;
	(void)err_len;
	if (json_object_object_get_ex(req, "arg", &v))
		json_object_object_add(reply, "got", json_object_get(v));
	return 0;
}

/* A handler that sets "ok" itself: the server's word wins, and comes first. */
static int h_sneaky(void *arg, struct json_object *req, struct json_object *reply, char *err,
		    unsigned int err_len)
{
	(void)arg;
	(void)req;
	(void)err;
	(void)err_len;
	json_object_object_add(reply, "x", json_object_new_int(1));
	json_object_object_add(reply, "ok", json_object_new_boolean(0));
	return 0;
}

static int h_fail(void *arg, struct json_object *req, struct json_object *reply, char *err,
		  unsigned int err_len)
{
	(void)arg;
	(void)req;
	(void)reply;
	snprintf(err, err_len, "no such device: 9/1");
	return -1;
}

static int h_fail_multiline(void *arg, struct json_object *req, struct json_object *reply,
			    char *err, unsigned int err_len)
{
	(void)arg;
	(void)req;
	(void)reply;
	snprintf(err, err_len, "two\nlines");
	return -1;
}

static int h_fail_silent(void *arg, struct json_object *req, struct json_object *reply, char *err,
			 unsigned int err_len)
{
	(void)arg;
	(void)req;
	(void)reply;
	(void)err;
	(void)err_len;
	return -1;
}

static int h_big(void *arg, struct json_object *req, struct json_object *reply, char *err,
		 unsigned int err_len)
{
	static char data[BIG_REPLY];

	(void)arg;
	(void)req;
	(void)err;
	(void)err_len;
	memset(data, 'x', sizeof(data));
	json_object_object_add(reply, "data", json_object_new_string_len(data, sizeof(data)));
	return 0;
}

static int h_huge(void *arg, struct json_object *req, struct json_object *reply, char *err,
		  unsigned int err_len)
{
	char *data = malloc(HUGE_REPLY);

	(void)arg;
	(void)req;
	if (!data) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	memset(data, 'x', HUGE_REPLY);
	json_object_object_add(reply, "data", json_object_new_string_len(data, HUGE_REPLY));
	free(data);
	return 0;
}

static int setup(void **state)
{
	static const struct ctl_server_command cmds[] = {
		{ "list", h_list },
		{ "echo", h_echo },
		{ "sneaky", h_sneaky },
		{ "fail", h_fail },
		{ "fail-multiline", h_fail_multiline },
		{ "fail-silent", h_fail_silent },
		{ "big", h_big },
		{ "huge", h_huge },
	};
	struct fixture *f = test_calloc(1, sizeof(*f));

	if (ctl_server_thread_start(&f->srv, "/tmp/pvring-ctl-XXXXXX", cmds,
				    sizeof(cmds) / sizeof(cmds[0]), NULL)) {
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
	/* Closing removes the socket file (else the directory could not go either). */
	assert_int_equal(access(f->srv.path, F_OK), -1);
	test_free(f);
	return 0;
}

/* ---- the client side: the test's thread, blocking sockets ---- */

static int try_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sun.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static int connect_to(const char *path)
{
	int fd = try_connect(path);

	if (fd < 0)
		fail_msg("connect %s: %s", path, strerror(errno));
	return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n <= 0)
			fail_msg("send: %s", n ? strerror(errno) : "nothing sent");
		data += n;
		len -= (size_t)n;
	}
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/*
 * Like send_all, for a client that writes past what the server will read: the server may
 * answer and close while our bytes are still going out (a reader on the other CPU takes the
 * first ones as they come), and the rest is refused. How many went out.
 */
static size_t send_until_refused(int fd, const char *data, size_t len)
{
	size_t sent = 0;

	while (sent < len) {
		ssize_t n = send(fd, data + sent, len - sent, MSG_NOSIGNAL);

		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			break;
		if (n <= 0)
			fail_msg("send: %s", n ? strerror(errno) : "nothing sent");
		sent += (size_t)n;
	}
	return sent;
}

/* One line without its '\n' into a buffer the caller frees; fails on EOF or timeout. */
static char *read_line(int fd)
{
	size_t len = 0, cap = 64 * 1024;
	char *line = malloc(cap + 1);

	assert_non_null(line);
	for (;;) {
		/* A look first, then take no more than the line: the next one stays queued. */
		ssize_t n = recv(fd, line + len, cap - len, MSG_PEEK);
		char *nl;

		if (n <= 0)
			fail_msg("no reply line: %s", n ? strerror(errno) : "end of file");
		nl = memchr(line + len, '\n', (size_t)n);
		if (nl)
			n = nl - (line + len) + 1;
		assert_int_equal(recv(fd, line + len, (size_t)n, 0), n);
		len += (size_t)n;
		if (nl)
			break;
		if (len == cap) {
			cap *= 2;
			line = realloc(line, cap + 1);
			assert_non_null(line);
		}
	}
	line[len - 1] = '\0';
	return line;
}

static void expect_line(int fd, const char *expected)
{
	char *line = read_line(fd);

	if (strcmp(line, expected))
		fail_msg("got     %s\nexpected %s", line, expected);
	free(line);
}

/* The server closed: end of file (or a reset, if it left our bytes unread). */
static void expect_closed(int fd)
{
	char buf[4096];
	ssize_t n;

	do
		n = recv(fd, buf, sizeof(buf), 0);
	while (n > 0);
	if (n < 0 && errno != ECONNRESET)
		fail_msg("the server did not close the connection: %s", strerror(errno));
}

/*
 * Wait until the server has read all we sent on fd (the kernel's count of
 * our bytes not yet read by the peer drops to 0).
 */
static void wait_consumed(int fd)
{
	int i, queued = -1;

	for (i = 0; i < IO_TIMEOUT_S * 1000; i++) {
		assert_int_equal(ioctl(fd, SIOCOUTQ, &queued), 0);
		if (!queued)
			return;
		usleep(1000);
	}
	fail_msg("the server did not read what was sent: %d bytes left", queued);
}

static void request(int fd, const char *req, const char *expected)
{
	send_str(fd, req);
	expect_line(fd, expected);
}

/* ---- tests ---- */

static void test_handler_replies(void **state)
{
	struct fixture *f = *state;
	int fd = connect_to(f->srv.path);

	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	request(fd, "{\"cmd\":\"echo\",\"arg\":{\"device\":\"1/51712\",\"n\":[1,2]}}\n",
		"{\"ok\":true,\"got\":{\"device\":\"1/51712\",\"n\":[1,2]}}");
	request(fd, "{\"cmd\":\"sneaky\"}\n", "{\"ok\":true,\"x\":1}");
	/* A CRLF client and blanks around the object. */
	request(fd, "  {\"cmd\":\"list\"} \r\n", "{\"ok\":true,\"devices\":[]}");
	close(fd);
}

static void test_error_replies_keep_the_connection(void **state)
{
	struct fixture *f = *state;
	int fd = connect_to(f->srv.path);

	request(fd, "{\"cmd\":\"fail\"}\n", "{\"ok\":false,\"error\":\"no such device: 9/1\"}");
	request(fd, "{\"cmd\":\"fail-multiline\"}\n", "{\"ok\":false,\"error\":\"two lines\"}");
	request(fd, "{\"cmd\":\"fail-silent\"}\n", "{\"ok\":false,\"error\":\"command failed\"}");
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	close(fd);
}

static void test_unknown_command(void **state)
{
	struct fixture *f = *state;
	int fd = connect_to(f->srv.path);

	request(fd, "{\"cmd\":\"frob\",\"device\":\"1/51712\"}\n",
		"{\"ok\":false,\"error\":\"unknown command \\\"frob\\\" (commands: list echo "
		"sneaky fail fail-multiline fail-silent big huge)\"}");
	/* A long name is cut short in the reply. */
	request(fd, "{\"cmd\":\"0123456789012345678901234567890123456789\"}\n",
		"{\"ok\":false,\"error\":\"unknown command \\\"01234567890123456789012345678901\\\""
		" (commands: list echo sneaky fail fail-multiline fail-silent big huge)\"}");
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	close(fd);
}

static void test_malformed_lines_close(void **state)
{
	static const struct {
		const char *line, *reply;
	} cases[] = {
		{ "hello\n", "{\"ok\":false,\"error\":\"malformed request: not a JSON object\"}" },
		{ "\n", "{\"ok\":false,\"error\":\"malformed request: not a JSON object\"}" },
		{ "[1,2]\n", "{\"ok\":false,\"error\":\"malformed request: not a JSON object\"}" },
		{ "\"list\"\n",
		  "{\"ok\":false,\"error\":\"malformed request: not a JSON object\"}" },
		{ "{\"cmd\":\"list\"\n",
		  "{\"ok\":false,\"error\":\"malformed request: not a JSON object\"}" },
		{ "{\"cmd\":\"list\"} {\"cmd\":\"list\"}\n",
		  "{\"ok\":false,\"error\":\"malformed request: not a JSON object\"}" },
		{ "{'cmd':'list'}\n",
		  "{\"ok\":false,\"error\":\"malformed request: not a JSON object\"}" },
		/* json-c's strict mode alone would take a single-quoted key. */
		{ "{'cmd':\"list\"}\n",
		  "{\"ok\":false,\"error\":\"malformed request: not a JSON object\"}" },
		{ "{\"device\":\"1/51712\"}\n",
		  "{\"ok\":false,\"error\":\"malformed request: no string \\\"cmd\\\"\"}" },
		{ "{\"cmd\":5}\n",
		  "{\"ok\":false,\"error\":\"malformed request: no string \\\"cmd\\\"\"}" },
		/* json-c alone keeps the last "cmd": the line says two things. */
		{ "{\"cmd\":\"echo\",\"cmd\":\"list\"}\n",
		  "{\"ok\":false,\"error\":\"malformed request: duplicate key at byte 14: "
		  "\\\"cmd\\\":\\\"list\\\"}\"}" },
		/* The same key, spelt with an escape, in a nested object. */
		{ "{\"cmd\":\"echo\",\"arg\":{\"a\":1,\"\\u0061\":2}}\n",
		  "{\"ok\":false,\"error\":\"malformed request: duplicate key at byte 27: "
		  "\\\"\\\\u0061\\\":2}}\"}" },
		/* A C string stops at the NUL: "list" here would be read as "li". */
		{ "{\"cmd\":\"li\\u0000st\"}\n",
		  "{\"ok\":false,\"error\":\"malformed request: NUL (\\\\u0000) in a string at "
		  "byte 7: \\\"li\\\\u0000st\\\"}\"}" },
		{ "{\"c\\u0000x\":\"list\",\"cmd\":\"list\"}\n",
		  "{\"ok\":false,\"error\":\"malformed request: NUL (\\\\u0000) in a string at "
		  "byte 1: \\\"c\\\\u0000x\\\":\\\"list\\\",\\\"cmd\\\":\\\"list\\\"}\"}" },
	};
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = connect_to(f->srv.path);
		char both[128];

		/* A good request after the bad one, in the same write: it must not be answered. */
		snprintf(both, sizeof(both), "%s{\"cmd\":\"list\"}\n", cases[i].line);
		send_str(fd, both);
		expect_line(fd, cases[i].reply);
		expect_closed(fd);
		close(fd);
	}
}

static void test_deeply_nested_request(void **state)
{
	struct fixture *f = *state;
	char line[512];
	int fd = connect_to(f->srv.path);
	size_t i;

	/* Nesting beyond the parser's depth limit is refused, not recursed into. */
	snprintf(line, sizeof(line), "{\"cmd\":\"echo\",\"arg\":");
	for (i = 0; i < 100; i++)
		strcat(line, "[");
	for (i = 0; i < 100; i++)
		strcat(line, "]");
	strcat(line, "}\n");
	request(fd, line, "{\"ok\":false,\"error\":\"malformed request: not a JSON object\"}");
	expect_closed(fd);
	close(fd);
}

/* {"cmd":"echo","arg":"xxx..."} padded to exactly len bytes, then '\n'. */
static char *echo_line(size_t len)
{
	static const char head[] = "{\"cmd\":\"echo\",\"arg\":\"", tail[] = "\"}";
	char *line = malloc(len + 2);

	assert_non_null(line);
	memcpy(line, head, sizeof(head) - 1);
	memset(line + sizeof(head) - 1, 'x', len - (sizeof(head) - 1) - (sizeof(tail) - 1));
	memcpy(line + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	line[len] = '\n';
	line[len + 1] = '\0';
	return line;
}

static void test_line_length_limit(void **state)
{
	static const char too_long[] =
		"{\"ok\":false,\"error\":\"request line longer than 64 KiB\"}";
	struct fixture *f = *state;
	char *line, *reply;
	int fd;

	/* Exactly 64 KiB before the newline: answered. */
	fd = connect_to(f->srv.path);
	line = echo_line(64 * 1024);
	send_str(fd, line);
	free(line);
	reply = read_line(fd);
	assert_int_equal(strncmp(reply, "{\"ok\":true,\"got\":\"xxx", 21), 0);
	free(reply);
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	close(fd);

	/* One byte more: refused and closed. */
	fd = connect_to(f->srv.path);
	line = echo_line(64 * 1024 + 1);
	send_str(fd, line);
	free(line);
	expect_line(fd, too_long);
	expect_closed(fd);
	close(fd);

	/* No newline at all: the server does not wait for one forever. */
	fd = connect_to(f->srv.path);
	line = echo_line(100 * 1024);
	/* The server reads just past the limit and no further: the rest may be refused. */
	assert_true(send_until_refused(fd, line, 100 * 1024) > 64 * 1024);
	free(line);
	expect_line(fd, too_long);
	expect_closed(fd);
	close(fd);
}

static void test_many_requests_on_one_connection(void **state)
{
	struct fixture *f = *state;
	int fd = connect_to(f->srv.path), i;

	/* Several requests in one write: answered in order. */
	send_str(fd, "{\"cmd\":\"list\"}\n{\"cmd\":\"echo\",\"arg\":1}\n{\"cmd\":\"fail\"}\n"
		     "{\"cmd\":\"echo\",\"arg\":2}\n");
	expect_line(fd, "{\"ok\":true,\"devices\":[]}");
	expect_line(fd, "{\"ok\":true,\"got\":1}");
	expect_line(fd, "{\"ok\":false,\"error\":\"no such device: 9/1\"}");
	expect_line(fd, "{\"ok\":true,\"got\":2}");
	/* And a request split across writes: the server reads the first half on its own. */
	send_str(fd, "{\"cmd\":\"ec");
	wait_consumed(fd);
	send_str(fd, "ho\",\"arg\":3}\n");
	expect_line(fd, "{\"ok\":true,\"got\":3}");
	for (i = 0; i < 100; i++)
		request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	close(fd);
}

static void test_half_closed_client_gets_its_replies(void **state)
{
	struct fixture *f = *state;
	int fd, i;

	/* As `socat` or `nc -N` do: the requests, end of file, then read the replies. */
	for (i = 0; i < 20; i++) {
		fd = connect_to(f->srv.path);
		send_str(fd, "{\"cmd\":\"list\"}\n{\"cmd\":\"big\"}\n{\"cmd\":\"fail\"}\n");
		assert_int_equal(shutdown(fd, SHUT_WR), 0);
		expect_line(fd, "{\"ok\":true,\"devices\":[]}");
		free(read_line(fd));
		expect_line(fd, "{\"ok\":false,\"error\":\"no such device: 9/1\"}");
		expect_closed(fd);
		close(fd);
	}
}

/* Every descriptor of ours on the socket path is close-on-exec: listener and connections. */
static unsigned int check_cloexec(const char *path)
{
	unsigned int found = 0;
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");

	assert_non_null(d);
	while ((de = readdir(d))) {
		struct sockaddr_un sun;
		socklen_t len = sizeof(sun);
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd == dirfd(d))
			continue;
		if (getsockname(fd, (struct sockaddr *)&sun, &len) || sun.sun_family != AF_UNIX ||
		    len <= offsetof(struct sockaddr_un, sun_path) || strcmp(sun.sun_path, path))
			continue;
		found++;
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	}
	closedir(d);
	return found;
}

static void test_socket_mode_and_cloexec(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	int fd;

	assert_int_equal(lstat(f->srv.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	fd = connect_to(f->srv.path);
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	/* The listener and the server's end of this connection. */
	assert_true(check_cloexec(f->srv.path) >= 2);
	close(fd);
}

static void test_stale_socket_replaced(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct event_base *base = event_base_new();
	struct pvringd_ctl *ctl, *other;
	const char *why = NULL;
	char dir[] = "/tmp/pvring-ctl-XXXXXX";
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(base);
	assert_non_null(mkdtemp(dir));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/pvringd.sock", dir);

	/* A socket file left by a crashed daemon: nobody listens on it. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	assert_int_equal(lstat(sun.sun_path, &st), 0);
	ctl = pvringd_ctl_open(base, sun.sun_path, &why);
	if (!ctl)
		fail_msg("pvringd_ctl_open over a stale socket: %s", why);
	assert_int_equal(lstat(sun.sun_path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* It listens (the kernel completes the connection; the loop need not run). */
	fd = connect_to(sun.sun_path);
	close(fd);

	/* A live one is not taken over. */
	other = pvringd_ctl_open(base, sun.sun_path, &why);
	assert_null(other);
	assert_string_equal(why, "another pvringd is serving the control socket");
	pvringd_ctl_close(ctl);
	assert_int_equal(access(sun.sun_path, F_OK), -1);

	/* Nor a file that is not a socket. */
	fd = open(sun.sun_path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_null(pvringd_ctl_open(base, sun.sun_path, &why));
	assert_string_equal(why, "the path exists and is not a socket");

	/* close() removes its own socket only, not one that replaced it. */
	unlink(sun.sun_path);
	ctl = pvringd_ctl_open(base, sun.sun_path, &why);
	assert_non_null(ctl);
	unlink(sun.sun_path);
	fd = open(sun.sun_path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	pvringd_ctl_close(ctl);
	assert_int_equal(access(sun.sun_path, F_OK), 0);
	unlink(sun.sun_path);

	/* A path too long for a UNIX socket. */
	{
		char path[200];

		memset(path, 'a', sizeof(path) - 1);
		path[sizeof(path) - 1] = '\0';
		assert_null(pvringd_ctl_open(base, path, &why));
		assert_string_equal(why, "socket path too long");
	}
	rmdir(dir);
	event_base_free(base);
}

static void test_client_that_never_reads_is_cut_off(void **state)
{
	struct fixture *f = *state;
	int fd = connect_to(f->srv.path), i, lines = 0;
	char buf[65536], reqs[32 * 14 + 1] = "";
	ssize_t n;

	/* 32 replies of 512 KiB asked for, none read for a while: 16 MiB, over the limit.
	 * In one write: once cut off, a later send would fail. */
	for (i = 0; i < 32; i++)
		strcat(reqs, "{\"cmd\":\"big\"}\n");
	send_str(fd, reqs);
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		for (i = 0; i < n; i++)
			lines += buf[i] == '\n';
	if (n < 0 && errno != ECONNRESET)
		fail_msg("the server did not cut the client off: %s", strerror(errno));
	assert_true(lines < 32);
	close(fd);
	/* Others are served as before. */
	fd = connect_to(f->srv.path);
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	close(fd);
}

/*
 * Pipeline the request n times, never reading: the server must cut the client
 * off (each reply is larger than its request) and serve others as before.
 */
static void pipeline_without_reading(const char *path, const char *req, unsigned int n)
{
	size_t len = strlen(req), batch = 4096, sent = 0, lines = 0;
	char *buf = malloc(len * batch), rbuf[65536];
	int fd = connect_to(path);
	ssize_t r;
	size_t i;

	assert_non_null(buf);
	for (i = 0; i < batch; i++)
		memcpy(buf + i * len, req, len);
	/* Until cut off: then a send fails. */
	while (sent < n * len) {
		size_t off = sent % (len * batch);

		r = send(fd, buf + off, len * batch - off, MSG_NOSIGNAL);
		if (r < 0 && (errno == EPIPE || errno == ECONNRESET))
			break;
		if (r <= 0)
			fail_msg("send: %s", r ? strerror(errno) : "nothing sent");
		sent += (size_t)r;
	}
	sent /= len;
	free(buf);
	while ((r = recv(fd, rbuf, sizeof(rbuf), 0)) > 0)
		for (i = 0; i < (size_t)r; i++)
			lines += rbuf[i] == '\n';
	if (r < 0 && errno != ECONNRESET)
		fail_msg("the server did not cut the client off: %s", strerror(errno));
	if (lines >= sent)
		fail_msg("all %zu replies were queued for a client that did not read", lines);
	close(fd);
	fd = connect_to(path);
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	close(fd);
}

static void test_pipelined_errors_never_read(void **state)
{
	struct fixture *f = *state;

	/* About 10 bytes in, 100 out: 4 MiB of replies for well under 1 MiB of requests. */
	pipeline_without_reading(f->srv.path, "{\"cmd\":\"x\"}\n", 200000);
	pipeline_without_reading(f->srv.path, "{\"cmd\":\"fail\"}\n", 200000);
	pipeline_without_reading(f->srv.path, "{\"cmd\":\"fail-multiline\"}\n", 200000);
}

static void test_reply_too_large(void **state)
{
	static const char prefix[] = "{\"ok\":false,\"error\":\"reply too large (";
	struct fixture *f = *state;
	int fd = connect_to(f->srv.path);
	char *line;

	/* A client that reads gets an error, not cut off, and keeps its connection. */
	send_str(fd, "{\"cmd\":\"huge\"}\n");
	line = read_line(fd);
	if (strncmp(line, prefix, sizeof(prefix) - 1))
		fail_msg("got %.200s", line);
	assert_non_null(strstr(line, "bytes, at most 4 MiB)\"}"));
	free(line);
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	close(fd);
}

static void set_timeouts(struct fixture *f, unsigned int idle_ms, unsigned int evict_idle_ms,
			 unsigned int spare_deadline_ms)
{
	const struct pvringd_ctl_timeouts t = { .idle_ms = idle_ms,
						.evict_idle_ms = evict_idle_ms,
						.spare_deadline_ms = spare_deadline_ms };

	ctl_server_thread_pause(&f->srv);
	pvringd_ctl_set_timeouts(f->srv.ctl, &t);
	assert_int_equal(ctl_server_thread_resume(&f->srv), 0);
}

static void test_idle_connections_closed(void **state)
{
	struct fixture *f = *state;
	int fds[64], fd, i;

	set_timeouts(f, 100, 60000, 2000);
	/* Every slot taken: silent, half a request, or idle after a request. */
	for (i = 0; i < 64; i++) {
		fds[i] = connect_to(f->srv.path);
		if (i % 3 == 1)
			send_str(fds[i], "{\"cmd\":");
		else if (i % 3 == 2)
			request(fds[i], "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	}
	/* The server closes each of them (the wait is bounded by IO_TIMEOUT_S)... */
	for (i = 0; i < 64; i++) {
		expect_closed(fds[i]);
		close(fds[i]);
	}
	/* ...so the slots are free again. */
	fd = connect_to(f->srv.path);
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	close(fd);
}

static void test_client_limit(void **state)
{
	struct fixture *f = *state;
	int fds[64], spares[4], fd, i;

	/* However slow the machine, nobody here is idle long enough to be made room for. */
	set_timeouts(f, 60000, 60000, 2000);
	for (i = 0; i < 64; i++) {
		fds[i] = connect_to(f->srv.path);
		request(fds[i], "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	}
	/*
	 * Every slot taken by a client that asked something just now: a spare connection gets
	 * one request answered, then it is closed.
	 */
	fd = connect_to(f->srv.path);
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	expect_closed(fd);
	close(fd);
	/*
	 * Four spares at most, however long they take; the fifth is told why, then closed. (All
	 * five wait in the backlog while the loop is stopped: it accepts them in order.)
	 */
	ctl_server_thread_pause(&f->srv);
	for (i = 0; i < 4; i++)
		spares[i] = connect_to(f->srv.path);
	fd = connect_to(f->srv.path);
	assert_int_equal(ctl_server_thread_resume(&f->srv), 0);
	expect_line(fd, "{\"ok\":false,\"error\":\"too many control connections\",\"busy\":true}");
	expect_closed(fd);
	close(fd);
	/* A spare that sends nothing is closed at its deadline (2 s), freeing its place. */
	for (i = 0; i < 4; i++) {
		expect_closed(spares[i]);
		close(spares[i]);
	}
	fd = connect_to(f->srv.path);
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	expect_closed(fd);
	close(fd);
	/*
	 * One leaves: the server frees its slot, then closes its end, so there is
	 * room again once that end of file arrives: a regular slot, for many requests.
	 */
	assert_int_equal(shutdown(fds[0], SHUT_WR), 0);
	expect_closed(fds[0]);
	close(fds[0]);
	fd = connect_to(f->srv.path);
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	close(fd);
	for (i = 1; i < 64; i++)
		close(fds[i]);
}

/*
 * 64 clients that each asked something, then nothing for a while, cannot lock a new one out
 * (they could for the idle timeout, 60 s): the one idle longest gives its slot up and is told
 * why. The newcomer is a regular client: it may ask many things.
 */
static void test_full_socket_evicts_the_idlest(void **state)
{
	struct fixture *f = *state;
	int fds[64], fd, i;

	set_timeouts(f, 60000, 100, 2000);
	for (i = 0; i < 64; i++) {
		fds[i] = connect_to(f->srv.path);
		request(fds[i], "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	}
	/* Past the eviction age (a sleep lasts at least this long), all but the first ask again. */
	usleep(200 * 1000);
	for (i = 1; i < 64; i++)
		request(fds[i], "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	usleep(200 * 1000);
	fd = connect_to(f->srv.path);
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	expect_line(fds[0], "{\"ok\":false,\"error\":\"closed to make room: every control "
			    "connection was taken and this one was the idlest\"}");
	expect_closed(fds[0]);
	close(fds[0]);
	for (i = 0; i < 3; i++)
		request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	/* The others keep theirs. */
	for (i = 1; i < 64; i++) {
		request(fds[i], "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
		close(fds[i]);
	}
	close(fd);
}

/* The order the server took "mark" requests in. */
static char marks[4096][8];
static unsigned int nr_marks;

static int h_mark(void *arg, struct json_object *req, struct json_object *reply, char *err,
		  unsigned int err_len)
{
	struct json_object *v;

	(void)arg;
	(void)reply;
	(void)err;
	(void)err_len;
	if (nr_marks < 4096 && json_object_object_get_ex(req, "arg", &v))
		snprintf(marks[nr_marks++], sizeof(marks[0]), "%s", json_object_get_string(v));
	return 0;
}

/*
 * A client that pipelines a thousand requests does not go ahead of one that asks one thing
 * at the same moment: requests are taken one per client per turn.
 */
static void test_clients_take_turns(void **state)
{
	struct fixture *f = *state;
	static char many[1000 * 32];
	int a, b, i, pos = -1;
	size_t len = 0;

	ctl_server_thread_pause(&f->srv);
	assert_int_equal(pvringd_ctl_register(f->srv.ctl, "mark", h_mark, NULL), 0);
	nr_marks = 0;
	assert_int_equal(ctl_server_thread_resume(&f->srv), 0);
	a = connect_to(f->srv.path);
	b = connect_to(f->srv.path);
	/* Both known to the server before it is stopped. */
	request(a, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	request(b, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	for (i = 0; i < 1000; i++)
		len += (size_t)snprintf(many + len, sizeof(many) - len,
					"{\"cmd\":\"mark\",\"arg\":\"a\"}\n");
	/* Both lines are waiting when the loop looks: a's thousand first. */
	ctl_server_thread_pause(&f->srv);
	send_str(a, many);
	send_str(b, "{\"cmd\":\"mark\",\"arg\":\"b\"}\n");
	assert_int_equal(ctl_server_thread_resume(&f->srv), 0);
	expect_line(b, "{\"ok\":true}");
	for (i = 0; i < 1000; i++)
		expect_line(a, "{\"ok\":true}");
	ctl_server_thread_pause(&f->srv);
	assert_int_equal(nr_marks, 1001);
	for (i = 0; i < (int)nr_marks; i++)
		if (!strcmp(marks[i], "b"))
			pos = i;
	print_message("b's request was taken %d-th of 1001\n", pos + 1);
	/* Without turns, a's whole first read (hundreds of lines) goes first. */
	assert_true(pos >= 0 && pos <= 3);
	assert_int_equal(ctl_server_thread_resume(&f->srv), 0);
	close(a);
	close(b);
}

/*
 * Out of descriptors, accept() fails and the connection waits, the socket readable: the
 * listener used to be called again at once, for ever, a core spinning. It rests instead, and
 * takes the connection once descriptors are free again. The test turns the server's loop
 * itself, 100 times with the connection waiting: a spinning listener fails once a turn, a
 * resting one once in all (its rest is a second, far longer than 100 turns that never wait).
 */
static void test_out_of_descriptors_does_not_spin(void **state)
{
	struct fixture *f = *state;
	static struct fd_limit limit;
	unsigned long before;
	int fd, turn;

	ctl_server_thread_pause(&f->srv);
	before = pvringd_ctl_accept_failures(f->srv.ctl);
	assert_int_equal(fd_limit_tighten(&limit, 1), 0);
	fd = connect_to(f->srv.path);
	for (turn = 0; turn < 100; turn++)
		assert_int_not_equal(event_base_loop(f->srv.base, EVLOOP_ONCE | EVLOOP_NONBLOCK),
				     -1);
	assert_int_equal(fd_limit_restore(&limit), 0);
	assert_int_equal(pvringd_ctl_accept_failures(f->srv.ctl) - before, 1);
	assert_int_equal(ctl_server_thread_resume(&f->srv), 0);
	/* After its rest the listener takes the connection. */
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":true,\"devices\":[]}");
	close(fd);
}

/* Bytes that trickle in without ever making a line do not keep a connection open. */
static void test_trickling_client_is_closed(void **state)
{
	struct fixture *f = *state;
	int fd, i;

	set_timeouts(f, 200, 60000, 2000);
	fd = connect_to(f->srv.path);
	send_str(fd, "{\"cmd\":");
	/* A byte every 50 ms for far longer than the idle timeout, until the server closes. */
	for (i = 0; i < 200; i++) {
		if (send(fd, " ", 1, MSG_NOSIGNAL) < 0)
			break;
		usleep(50 * 1000);
	}
	assert_true(i < 200);
	close(fd);
}

static void test_register(void **state)
{
	struct fixture *f = *state;
	int fd;

	/* Registering a name again replaces its handler; the loop is stopped for this. */
	ctl_server_thread_pause(&f->srv);
	assert_int_equal(pvringd_ctl_register(f->srv.ctl, "list", h_fail, NULL), 0);
	assert_int_equal(ctl_server_thread_resume(&f->srv), 0);
	fd = connect_to(f->srv.path);
	request(fd, "{\"cmd\":\"list\"}\n", "{\"ok\":false,\"error\":\"no such device: 9/1\"}");
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handler_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_replies_keep_the_connection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_lines_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deeply_nested_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_line_length_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_requests_on_one_connection, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_half_closed_client_gets_its_replies, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_socket_mode_and_cloexec, setup, teardown),
		cmocka_unit_test(test_stale_socket_replaced),
		cmocka_unit_test_setup_teardown(test_client_that_never_reads_is_cut_off, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pipelined_errors_never_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reply_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_connections_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_socket_evicts_the_idlest, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_clients_take_turns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trickling_client_is_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_descriptors_does_not_spin, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_register, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
