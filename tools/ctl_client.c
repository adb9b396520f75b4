// SPDX-License-Identifier: MIT
/* A client of pvringd's control socket: see ctl_client.h. */
#include "config.h"

#include "ctl_client.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "daemon/clock.h"
#include "daemon/json_line.h"

/*
 * A reply line, at most: pvringd sends none longer than 4 MiB (it answers
 * "reply too large" instead); twice that leaves room.
 */
#define REPLY_MAX (8u * 1024u * 1024u)

/*
 * A daemon with every connection taken turns a new one away at once with a reply that says
 * "busy": the call connects again after a pause that doubles from BUSY_PAUSE_MIN_MS to
 * BUSY_PAUSE_MAX_MS, until its timeout.
 */
#define BUSY_PAUSE_MIN_MS 1u
#define BUSY_PAUSE_MAX_MS 100u

struct pvring_ctl_client {
	int fd;
	char *path; /* to connect again when the daemon said busy */
	char *buf; /* bytes received and not yet returned as a reply */
	size_t len, cap;
	unsigned long replies; /* read on this connection: a busy reply can only be the first */
};

const char *pvring_ctl_socket_path(void)
{
	const char *env = getenv(PVRING_CTL_SOCKET_ENV);

	return env && *env ? env : PVRING_CTL_DEFAULT_SOCKET;
}

/*
 * A socket connected to path, or -1 with a message in err saying what failed, errno kept.
 * Non-blocking, a connect finds the daemon's backlog full at once (EAGAIN) instead of waiting
 * for room.
 */
static int connect_socket(const char *path, bool nonblock, char *err, size_t err_len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, saved;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, err_len, "socket path too long: %s", path);
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0) {
		snprintf(err, err_len, "cannot create a socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		saved = errno;
		switch (saved) {
		case ENOENT:
			snprintf(err, err_len,
				 "cannot reach pvringd: no socket at %s (is pvringd running?)",
				 path);
			break;
		case EACCES:
		case EPERM:
			snprintf(err, err_len,
				 "cannot reach pvringd: permission denied on %s (the control "
				 "socket is "
				 "root only)",
				 path);
			break;
		case ECONNREFUSED:
			snprintf(err, err_len,
				 "cannot reach pvringd: connection refused on %s (stale socket? is "
				 "pvringd running?)",
				 path);
			break;
		default:
			snprintf(err, err_len, "cannot reach pvringd at %s: %s", path,
				 strerror(saved));
			break;
		}
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

struct pvring_ctl_client *pvring_ctl_client_connect(const char *path, char *err, size_t err_len)
{
	struct pvring_ctl_client *c = calloc(1, sizeof(*c));
	int saved;

	if (!c || !(c->path = strdup(path))) {
		snprintf(err, err_len, "out of memory");
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->fd = connect_socket(path, false, err, err_len);
	if (c->fd < 0) {
		saved = errno;
		free(c->path);
		free(c);
		errno = saved;
		return NULL;
	}
	return c;
}

void pvring_ctl_client_close(struct pvring_ctl_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->path);
	free(c->buf);
	free(c);
}

/* A deadline timeout_ms from now, in nanoseconds: whole milliseconds would cut 1 ms to 0. */
static uint64_t deadline_after(int timeout_ms)
{
	return pvring_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
}

/* Wait for events on the socket until deadline; false on timeout (errno ETIMEDOUT) or error. */
static bool wait_for(struct pvring_ctl_client *c, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };

	for (;;) {
		uint64_t now = pvring_now_ns();
		/* Rounded up: a wait of less than a millisecond still waits. */
		uint64_t left = now < deadline ? (deadline - now + 999999u) / 1000000u : 0;
		int n;

		n = poll(&pfd, 1, (int)(left > INT32_MAX ? INT32_MAX : left));
		if (n > 0)
			return true;
		if (n == 0) {
			errno = ETIMEDOUT;
			return false;
		}
		if (errno != EINTR)
			return false;
	}
}

enum pvring_ctl_status pvring_ctl_client_send(struct pvring_ctl_client *c,
					      struct json_object *request, int timeout_ms,
					      char *err, size_t err_len)
{
	const char *text = json_object_to_json_string_ext(
		request, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	uint64_t deadline = deadline_after(timeout_ms);
	struct iovec iov[2];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	if (!text) {
		snprintf(err, err_len, "out of memory");
		return PVRING_CTL_UNREACHABLE;
	}
	/* The request, then its newline: no copy to put them together. */
	iov[0].iov_base = (void *)text;
	iov[0].iov_len = strlen(text);
	iov[1].iov_base = "\n";
	iov[1].iov_len = 1;
	while (msg.msg_iovlen) {
		/* MSG_NOSIGNAL: a daemon that went away is an error to report, not a SIGPIPE. */
		ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n >= 0) {
			size_t done = (size_t)n;

			/* Skip what was sent: whole iovecs, then part of the next. */
			while (msg.msg_iovlen && done >= msg.msg_iov[0].iov_len) {
				done -= msg.msg_iov[0].iov_len;
				msg.msg_iov++;
				msg.msg_iovlen--;
			}
			if (msg.msg_iovlen) {
				msg.msg_iov[0].iov_base = (char *)msg.msg_iov[0].iov_base + done;
				msg.msg_iov[0].iov_len -= done;
			}
			continue;
		}
		if ((errno == EAGAIN || errno == EINTR) && wait_for(c, POLLOUT, deadline))
			continue;
		if (errno == EPIPE || errno == ECONNRESET)
			snprintf(err, err_len, "pvringd closed the connection");
		else
			snprintf(err, err_len, "cannot send to pvringd: %s",
				 errno == ETIMEDOUT ? "timed out" : strerror(errno));
		return PVRING_CTL_UNREACHABLE;
	}
	return PVRING_CTL_OK;
}

/* Take one line out of the buffer as a parsed reply; -1 if malformed. */
static int parse_reply(struct pvring_ctl_client *c, size_t line_len, struct json_object **reply)
{
	struct pvring_json_error jerr;
	struct json_object *obj = pvring_json_parse_one(c->buf, line_len, 0, &jerr), *ok;

	memmove(c->buf, c->buf + line_len + 1, c->len - line_len - 1);
	c->len -= line_len + 1;
	if (!obj || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "ok", &ok) ||
	    !json_object_is_type(ok, json_type_boolean)) {
		json_object_put(obj);
		return -1;
	}
	*reply = obj;
	c->replies++;
	return 0;
}

enum pvring_ctl_status pvring_ctl_client_recv(struct pvring_ctl_client *c, int timeout_ms,
					      struct json_object **reply, char *err, size_t err_len)
{
	uint64_t deadline = deadline_after(timeout_ms);
	size_t scanned = 0;
	struct json_object *ok, *msg;
	char *nl;

	*reply = NULL;
	for (;;) {
		ssize_t n;

		nl = c->len > scanned ? memchr(c->buf + scanned, '\n', c->len - scanned) : NULL;
		if (nl)
			break;
		scanned = c->len;
		if (c->len >= REPLY_MAX) {
			snprintf(err, err_len, "pvringd's reply is longer than %u MiB",
				 REPLY_MAX / (1024u * 1024u));
			return PVRING_CTL_UNREACHABLE;
		}
		if (c->cap - c->len < 64 * 1024) {
			size_t cap = c->cap ? c->cap * 2 : 128 * 1024;
			char *buf = realloc(c->buf, cap);

			if (!buf) {
				snprintf(err, err_len, "out of memory");
				return PVRING_CTL_UNREACHABLE;
			}
			c->buf = buf;
			c->cap = cap;
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n == 0) {
			snprintf(err, err_len, "pvringd closed the connection without a reply");
			return PVRING_CTL_UNREACHABLE;
		}
		if ((errno == EAGAIN || errno == EINTR) && wait_for(c, POLLIN, deadline))
			continue;
		snprintf(err, err_len, "no reply from pvringd: %s",
			 errno == ETIMEDOUT ? "timed out" : strerror(errno));
		return PVRING_CTL_UNREACHABLE;
	}
	if (parse_reply(c, (size_t)(nl - c->buf), reply)) {
		snprintf(err, err_len, "malformed reply from pvringd");
		return PVRING_CTL_UNREACHABLE;
	}
	json_object_object_get_ex(*reply, "ok", &ok);
	if (json_object_get_boolean(ok))
		return PVRING_CTL_OK;
	if (json_object_object_get_ex(*reply, "error", &msg) &&
	    json_object_is_type(msg, json_type_string))
		snprintf(err, err_len, "%s", json_object_get_string(msg));
	else
		snprintf(err, err_len, "pvringd reported an error without saying what");
	return PVRING_CTL_FAILED;
}

static enum pvring_ctl_status call_once(struct pvring_ctl_client *c, struct json_object *request,
					int timeout_ms, struct json_object **reply, char *err,
					size_t err_len)
{
	enum pvring_ctl_status st = pvring_ctl_client_send(c, request, timeout_ms, err, err_len);
	char recv_err[256] = "";

	*reply = NULL;
	if (st == PVRING_CTL_OK)
		return pvring_ctl_client_recv(c, timeout_ms, reply, err, err_len);
	/*
	 * A daemon that turns a client away (too many connections) says why and
	 * closes at once: the send fails, and the reason is waiting to be read.
	 * Only that, an error, is an answer: the daemon never saw this request,
	 * so anything else is the send's failure (with the send's message in err).
	 */
	if (pvring_ctl_client_recv(c, 0, reply, recv_err, sizeof(recv_err)) == PVRING_CTL_FAILED) {
		snprintf(err, err_len, "%s", recv_err);
		return PVRING_CTL_FAILED;
	}
	json_object_put(*reply);
	*reply = NULL;
	return PVRING_CTL_UNREACHABLE;
}

/* The daemon turned this connection away before reading anything: the reply said busy. */
static bool turned_away(const struct pvring_ctl_client *c, struct json_object *reply)
{
	struct json_object *busy;

	return c->replies == 1 && json_object_object_get_ex(reply, "busy", &busy) &&
	       json_object_is_type(busy, json_type_boolean) && json_object_get_boolean(busy);
}

/* Milliseconds left until deadline, at least 1 (a call made with time left gets to try). */
static int ms_left(uint64_t deadline)
{
	uint64_t now = pvring_now_ns(), left = now < deadline ? (deadline - now) / 1000000u : 0;

	return left < 1 ? 1 : left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Out of time while turned away: the daemon's busy reply is the answer. */
static enum pvring_ctl_status still_busy(struct json_object *busy, const char *busy_err,
					 unsigned int tries, uint64_t start,
					 struct json_object **reply, char *err, size_t err_len)
{
	*reply = busy;
	snprintf(err, err_len, "%s (pvringd stayed busy: %u tr%s in %llu ms)", busy_err, tries,
		 tries == 1 ? "y" : "ies",
		 (unsigned long long)((pvring_now_ns() - start) / 1000000u));
	return PVRING_CTL_FAILED;
}

enum pvring_ctl_status pvring_ctl_client_call(struct pvring_ctl_client *c,
					      struct json_object *request, int timeout_ms,
					      struct json_object **reply, char *err, size_t err_len)
{
	uint64_t start = pvring_now_ns(), deadline = deadline_after(timeout_ms);
	unsigned int pause_ms = BUSY_PAUSE_MIN_MS, tries = 0;
	struct json_object *busy = NULL; /* the daemon's last busy reply */
	char busy_err[256] = "";
	enum pvring_ctl_status st;
	int fd;

	for (;;) {
		st = call_once(c, request, ms_left(deadline), reply, err, err_len);
		tries++;
		if (st == PVRING_CTL_FAILED && turned_away(c, *reply)) {
			json_object_put(busy);
			busy = *reply;
			*reply = NULL;
			snprintf(busy_err, sizeof(busy_err), "%s", err);
		} else if (!busy || st != PVRING_CTL_UNREACHABLE || pvring_now_ns() < deadline) {
			/* An answer, or a failure of its own: not the time spent coming back. */
			json_object_put(busy);
			return st;
		}
		/*
		 * Turned away (or out of time coming back after that): the request was never
		 * read, so it is sent again on a new connection.
		 */
		do {
			struct timespec pause = { 0, 0 };

			if (pvring_now_ns() + (uint64_t)pause_ms * 1000000u >= deadline)
				return still_busy(busy, busy_err, tries, start, reply, err,
						  err_len);
			/* Half to all of the pause: clients turned away together come apart. */
			pause.tv_nsec = (long)(pause_ms * 500000u +
					       arc4random_uniform(pause_ms * 500000u + 1));
			nanosleep(&pause, NULL);
			pause_ms =
				pause_ms * 2 > BUSY_PAUSE_MAX_MS ? BUSY_PAUSE_MAX_MS : pause_ms * 2;
			fd = connect_socket(c->path, true, err, err_len);
			if (fd < 0 && errno != EAGAIN) {
				json_object_put(busy);
				return PVRING_CTL_UNREACHABLE;
			}
			/* Its backlog full (EAGAIN): as busy as a reply saying so. */
			tries += fd < 0;
		} while (fd < 0);
		close(c->fd);
		c->fd = fd;
		c->len = 0;
		c->replies = 0;
	}
}

struct json_object *pvring_ctl_attach_request(const char *disk, long domid, long devid,
					      bool read_only, const char *type)
{
	struct json_object *req = json_object_new_object();

	if (!req)
		return NULL;
	json_object_object_add(req, "cmd", json_object_new_string("attach"));
	json_object_object_add(req, "disk", json_object_new_string(disk));
	json_object_object_add(req, "domid", json_object_new_int64(domid));
	if (devid >= 0)
		json_object_object_add(req, "devid", json_object_new_int64(devid));
	if (read_only)
		json_object_object_add(req, "read-only", json_object_new_boolean(true));
	if (type)
		json_object_object_add(req, "type", json_object_new_string(type));
	return req;
}
