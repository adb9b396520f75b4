// SPDX-License-Identifier: MIT
/* pvringd's control socket: see ctl.h and doc/pvringd-control.md. */
#include "config.h"

#include "ctl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <json-c/json.h>

#include "daemon/json_line.h"
#include "daemon/log.h"
#include "daemon/unix_listen.h"

/* A request line, without its '\n', at most. */
#define LINE_MAX_BYTES (64u * 1024u)
/*
 * One reply line, at most; and the replies queued for a client, at most,
 * before it is cut off for not reading them (checked before a reply is
 * queued: a client may have up to twice this waiting).
 */
#define OUTPUT_LIMIT (4u * 1024u * 1024u)
#define MAX_CLIENTS 64u
/* A connection without a complete request for this long is closed (see ctl.h). */
#define IDLE_TIMEOUT_MS 60000u
/*
 * With every slot taken, a new connection takes the slot of the client that has gone longest
 * without a request, if that is at least this long: a full socket cannot lock pvringctl out
 * for the idle timeout.
 */
#define EVICT_IDLE_MS 5000u
/*
 * And when every client asked something within EVICT_IDLE_MS, a few more connections are
 * taken as spares: one request each, sent within SPARE_DEADLINE_MS, one reply, closed. A
 * pvringctl command (one request) still gets in; a client that holds connections open does
 * not get more that way.
 */
#define SPARE_CLIENTS 4u
#define SPARE_DEADLINE_MS 2000u
/* accept() failing for want of descriptors (or memory): the listener rests this long. */
#define ACCEPT_PAUSE_MS 1000u
/* Requests nest a few levels at most: a deep one is an attack on the parser's stack. */
#define JSON_DEPTH 32
#define ERR_LEN 256u
/* Plain, one line; "1/51712" as it is, not "1\/51712". */
#define JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct command {
	struct command *next;
	char *name;
	pvringd_ctl_handler handler;
	void *arg;
};

enum client_kind {
	CLIENT_REGULAR, /* holds one of the MAX_CLIENTS slots */
	CLIENT_SPARE, /* one request, then closed */
	CLIENT_EVICTED, /* gave its slot up; its last words are being flushed */
};

struct client {
	struct client *next;
	struct pvringd_ctl *ctl;
	struct bufferevent *bev;
	struct event *idle; /* fires IDLE_TIMEOUT_MS after connecting or the last request */
	struct event *more; /* another complete line is waiting: its turn, after the others' */
	enum client_kind kind;
	uint64_t last_request_ns; /* or when it connected */
	bool closing; /* the last reply is being flushed; then the connection is closed */
};

struct pvringd_ctl {
	struct event_base *base;
	struct evconnlistener *listener;
	char *path;
	dev_t dev; /* the socket file we made: close removes only that one */
	ino_t ino;
	struct command *commands;
	struct client *clients;
	struct event *accept_pause; /* the listener rests after accept() failed */
	bool accept_failing; /* said so in the log, until a connection is accepted again */
	unsigned long accept_failures; /* accept() calls that failed, since the start */
	unsigned long refused; /* connections turned away (busy), since the start */
	uint64_t refused_second; /* when a refusal was last logged, in seconds */
	unsigned long refused_unlogged; /* refused since then */
	unsigned int nr_clients[CLIENT_EVICTED + 1];
	struct pvringd_ctl_timeouts timeouts;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void set_kind(struct client *c, enum client_kind kind)
{
	c->ctl->nr_clients[c->kind]--;
	c->kind = kind;
	c->ctl->nr_clients[kind]++;
}

static void client_free(struct client *c)
{
	struct client **link;

	for (link = &c->ctl->clients; *link != c; link = &(*link)->next)
		;
	*link = c->next;
	c->ctl->nr_clients[c->kind]--;
	event_free(c->idle);
	event_free(c->more);
	bufferevent_free(c->bev);
	free(c);
}

/* (Re)start the client's idle timer: ms from now. */
static void client_timer(struct client *c, unsigned int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000u, .tv_usec = (ms % 1000u) * 1000u };

	event_add(c->idle, &tv);
}

/* A request came (or the client connected): the idle timeout counts from now. */
static void client_touch(struct client *c)
{
	c->last_request_ns = now_ns();
	client_timer(c, c->kind == CLIENT_SPARE ? c->ctl->timeouts.spare_deadline_ms
						: c->ctl->timeouts.idle_ms);
}

static bool send_error(struct client *c, const char *msg);

/*
 * Every reply goes through here. false if the client is gone: cut off (and
 * freed) for not reading its replies, or out of memory. The caller must not
 * touch c after false.
 */
static bool send_reply(struct client *c, struct json_object *reply)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const char *text = json_object_to_json_string_ext(reply, JSON_FLAGS);
	size_t len = text ? strlen(text) : 0;

	if (!text) {
		pvring_err("ctl: out of memory formatting a reply; closing the connection");
		client_free(c);
		return false;
	}
	if (evbuffer_get_length(out) >= OUTPUT_LIMIT) {
		pvring_warn("ctl: a client does not read its replies (%u MiB queued); "
			    "closing the connection",
			    OUTPUT_LIMIT / (1024u * 1024u));
		client_free(c);
		return false;
	}
	if (len + 1 > OUTPUT_LIMIT) {
		char msg[ERR_LEN];

		/* The client did nothing wrong: it gets an answer and keeps its connection. */
		pvring_warn("ctl: a reply of %zu bytes is over the limit of %u MiB", len,
			    OUTPUT_LIMIT / (1024u * 1024u));
		snprintf(msg, sizeof(msg), "reply too large (%zu bytes, at most %u MiB)", len,
			 OUTPUT_LIMIT / (1024u * 1024u));
		return send_error(c, msg);
	}
	if (evbuffer_add(out, text, len) || evbuffer_add(out, "\n", 1)) {
		pvring_err("ctl: out of memory queueing a reply; closing the connection");
		client_free(c);
		return false;
	}
	return true;
}

/*
 * The error is documented as one line, for people and for pvringctl, which
 * prints it as it is: a stray newline becomes a space. (Only cosmetic: the
 * JSON string escapes it, so the framing would hold either way.)
 */
static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

/* {"ok":false,"error":msg}; false if the client is gone (see send_reply). */
static bool send_error(struct client *c, const char *msg)
{
	struct json_object *o = json_object_new_object();
	char line[ERR_LEN];
	bool alive;

	snprintf(line, sizeof(line), "%s", msg);
	one_line(line);
	if (!o || json_object_object_add(o, "ok", json_object_new_boolean(0)) ||
	    json_object_object_add(o, "error", json_object_new_string(line))) {
		json_object_put(o);
		pvring_err("ctl: out of memory building an error reply; closing the connection");
		client_free(c);
		return false;
	}
	alive = send_reply(c, o);
	json_object_put(o);
	return alive;
}

/* An error reply, then close once it is written: the stream can no longer be trusted. */
static void reject(struct client *c, const char *msg)
{
	if (!send_error(c, msg))
		return;
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
}

static bool unknown_command(struct client *c, const char *name)
{
	char msg[ERR_LEN];
	struct command *cmd;
	size_t len;

	/* The client's own word back, shortened; then the public command names. */
	len = (size_t)snprintf(msg, sizeof(msg), "unknown command \"%.32s\" (commands:", name);
	for (cmd = c->ctl->commands; cmd && len < sizeof(msg); cmd = cmd->next)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, " %s", cmd->name);
	if (len < sizeof(msg))
		snprintf(msg + len, sizeof(msg) - len, ")");
	return send_error(c, msg);
}

static bool run_command(struct client *c, struct command *cmd, struct json_object *req)
{
	struct json_object *reply = json_object_new_object();
	char err[ERR_LEN] = "";
	bool alive;

	/*
	 * "ok" first, for people reading replies: json-c keeps the insertion
	 * order, and a key set again keeps its place. Set again after the
	 * handler, so the server's word wins over the handler's.
	 */
	if (!reply || json_object_object_add(reply, "ok", json_object_new_boolean(1))) {
		json_object_put(reply);
		return send_error(c, "out of memory");
	}
	if (cmd->handler(cmd->arg, req, reply, err, sizeof(err))) {
		err[sizeof(err) - 1] = '\0';
		alive = send_error(c, err[0] ? err : "command failed");
	} else if (json_object_object_add(reply, "ok", json_object_new_boolean(1))) {
		alive = send_error(c, "out of memory");
	} else {
		alive = send_reply(c, reply);
	}
	json_object_put(reply);
	return alive;
}

/* One request line; false if the client is gone or closing: c must not be used then. */
static bool handle_line(struct client *c, const char *line, size_t len)
{
	struct pvring_json_error jerr;
	struct json_object *req, *cmd_obj;
	struct command *cmd;
	const char *name;
	bool alive;

	req = pvring_json_parse_one(line, len, JSON_DEPTH, &jerr);
	if (jerr.status == PVRING_JSON_NOMEM) {
		reject(c, "out of memory");
		return false;
	}
	if (jerr.status == PVRING_JSON_DUPLICATE || jerr.status == PVRING_JSON_NUL) {
		size_t shown = len - jerr.offset < 32 ? len - jerr.offset : 32;
		char msg[ERR_LEN];

		/* Not in the middle of a UTF-8 character: the reply stays valid UTF-8. */
		while (shown && shown < len - jerr.offset &&
		       ((unsigned char)line[jerr.offset + shown] & 0xc0) == 0x80)
			shown--;

		/* Which string, in the client's own words: the offset is its opening quote. */
		snprintf(msg, sizeof(msg), "malformed request: %s at byte %zu: %.*s", jerr.desc,
			 jerr.offset, (int)shown, line + jerr.offset);
		reject(c, msg);
		return false;
	}
	if (!req || !json_object_is_type(req, json_type_object)) {
		json_object_put(req);
		reject(c, "malformed request: not a JSON object");
		return false;
	}
	if (!json_object_object_get_ex(req, "cmd", &cmd_obj) ||
	    !json_object_is_type(cmd_obj, json_type_string)) {
		json_object_put(req);
		reject(c, "malformed request: no string \"cmd\"");
		return false;
	}
	name = json_object_get_string(cmd_obj);
	for (cmd = c->ctl->commands; cmd && strcmp(cmd->name, name); cmd = cmd->next)
		;
	alive = cmd ? run_command(c, cmd, req) : unknown_command(c, name);
	json_object_put(req);
	return alive;
}

/*
 * One request per turn: a client with more lines waiting goes to the back of the loop's
 * queue, behind every other client (and every guest) with something ready. A client that
 * pipelines many requests gets its answers as fast as any other, not ahead of them.
 */
static void on_read(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr eol;
	char *line;

	if (c->closing)
		return;
	eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
	if (eol.pos < 0) {
		/* The read watermark stops reading just past the limit. */
		if (evbuffer_get_length(in) > LINE_MAX_BYTES)
			reject(c, "request line longer than 64 KiB");
		return;
	}
	if ((size_t)eol.pos > LINE_MAX_BYTES) {
		reject(c, "request line longer than 64 KiB");
		return;
	}
	line = (char *)evbuffer_pullup(in, eol.pos + 1);
	if (!line) {
		reject(c, "out of memory");
		return;
	}
	client_touch(c);
	/* false: c may be freed, and its input buffer with it. */
	if (!handle_line(c, line, (size_t)eol.pos))
		return;
	evbuffer_drain(in, (size_t)eol.pos + 1);
	if (c->kind == CLIENT_SPARE) {
		/* Its one request is answered: close once the reply is out. */
		c->closing = true;
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	if (evbuffer_get_length(in))
		event_active(c->more, EV_TIMEOUT, 0);
}

static void on_more(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	(void)fd;
	(void)what;
	on_read(c->bev, c);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	(void)fd;
	(void)what;
	if (c->kind == CLIENT_SPARE && !c->closing)
		pvring_warn("ctl: a spare connection sent no request within %u ms; closing it",
			    c->ctl->timeouts.spare_deadline_ms);
	else
		pvring_debug("ctl: closing a connection idle for %u ms", c->ctl->timeouts.idle_ms);
	client_free(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	/* Called once the output is drained: the error reply has left. */
	(void)bev;
	if (c->closing)
		client_free(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;

	/*
	 * A client that sends its request and shuts down its side (`socat`,
	 * `nc -N`) still gets the replies already queued; then it is closed.
	 */
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    evbuffer_get_length(bufferevent_get_output(bev))) {
		c->closing = true;
		bufferevent_disable(bev, EV_READ);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		client_free(c);
}

static void refuse(evutil_socket_t fd, const char *line)
{
	/* Best effort and never blocking: the client is turned away either way. */
	if (send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		pvring_debug("ctl: cannot tell a refused client why: %s", strerror(errno));
	close(fd);
}

/*
 * One line a second at most: a client told busy comes back, so a burst of them would log
 * every return. The line counts those left out since the last one.
 */
static void log_refusal(struct pvringd_ctl *ctl)
{
	uint64_t second = now_ns() / 1000000000u + 1; /* never 0: 0 means never logged */

	ctl->refused++;
	if (ctl->refused_second == second) {
		ctl->refused_unlogged++;
		return;
	}
	if (ctl->refused_unlogged)
		pvring_warn("ctl: %u clients and %u spare connections, all busy; refusing another "
			    "(and %lu more since the last such line)",
			    ctl->nr_clients[CLIENT_REGULAR], ctl->nr_clients[CLIENT_SPARE],
			    ctl->refused_unlogged);
	else
		pvring_warn("ctl: %u clients and %u spare connections, all busy; refusing another",
			    ctl->nr_clients[CLIENT_REGULAR], ctl->nr_clients[CLIENT_SPARE]);
	ctl->refused_second = second;
	ctl->refused_unlogged = 0;
}

/* The regular client that has gone longest without a request, if that is long enough. */
static struct client *idlest(struct pvringd_ctl *ctl)
{
	uint64_t limit = (uint64_t)ctl->timeouts.evict_idle_ms * 1000000u, now = now_ns();
	struct client *c, *oldest = NULL;

	for (c = ctl->clients; c; c = c->next)
		if (c->kind == CLIENT_REGULAR && !c->closing &&
		    (!oldest || c->last_request_ns < oldest->last_request_ns))
			oldest = c;
	return oldest && now - oldest->last_request_ns >= limit ? oldest : NULL;
}

/* Its slot goes to a new connection: it is told why, and closed once that is written. */
static void evict(struct client *c)
{
	pvring_info("ctl: %u connections; closing the one idle longest (%llu ms) for a new one",
		    c->ctl->nr_clients[CLIENT_REGULAR],
		    (unsigned long long)((now_ns() - c->last_request_ns) / 1000000u));
	set_kind(c, CLIENT_EVICTED);
	/* However it goes, within the spare deadline: a client that does not read is cut. */
	client_timer(c, c->ctl->timeouts.spare_deadline_ms);
	reject(c, "closed to make room: every control connection was taken and this one was "
		  "the idlest");
}

/* What a new connection will be; false if it is refused (full, and no slot to take). */
static bool admit(struct pvringd_ctl *ctl, enum client_kind *kind)
{
	struct client *victim;

	*kind = CLIENT_REGULAR;
	if (ctl->nr_clients[CLIENT_REGULAR] < MAX_CLIENTS)
		return true;
	victim = idlest(ctl);
	if (victim) {
		evict(victim);
		return true;
	}
	*kind = CLIENT_SPARE;
	return ctl->nr_clients[CLIENT_SPARE] < SPARE_CLIENTS;
}

static void on_accept_pause_over(evutil_socket_t fd, short what, void *arg)
{
	struct pvringd_ctl *ctl = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(ctl->listener);
}

/*
 * accept() failed (out of descriptors, most likely): the connection waits and the socket
 * stays readable, so the listener would be called again at once, for ever. It rests a
 * second instead; said once in the log per spell.
 */
static void on_accept_error(struct evconnlistener *listener, void *arg)
{
	const struct timeval pause = { .tv_sec = ACCEPT_PAUSE_MS / 1000u,
				       .tv_usec = (ACCEPT_PAUSE_MS % 1000u) * 1000u };
	struct pvringd_ctl *ctl = arg;
	int err = EVUTIL_SOCKET_ERROR();

	if (err == EAGAIN || err == EINTR || err == ECONNABORTED)
		return;
	ctl->accept_failures++;
	if (!ctl->accept_failing)
		pvring_err("ctl: cannot accept a connection: %s; trying again every %u ms",
			   strerror(err), ACCEPT_PAUSE_MS);
	ctl->accept_failing = true;
	evconnlistener_disable(listener);
	if (event_add(ctl->accept_pause, &pause))
		evconnlistener_enable(listener);
}

unsigned long pvringd_ctl_accept_failures(const struct pvringd_ctl *ctl)
{
	return ctl->accept_failures;
}

unsigned long pvringd_ctl_refused(const struct pvringd_ctl *ctl)
{
	return ctl->refused;
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct pvringd_ctl *ctl = arg;
	enum client_kind kind;
	struct client *c;

	(void)listener;
	(void)sa;
	(void)socklen;
	if (ctl->accept_failing) {
		pvring_info("ctl: accepting connections again");
		ctl->accept_failing = false;
	}
	if (!admit(ctl, &kind)) {
		log_refusal(ctl);
		/* "busy": nothing was read, and the client library tries again (ctl_client.h). */
		refuse(fd, "{\"ok\":false,\"error\":\"too many control connections\","
			   "\"busy\":true}\n");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c) {
		c->idle = evtimer_new(ctl->base, on_idle, c);
		c->more = event_new(ctl->base, -1, 0, on_more, c);
	}
	if (c && c->idle && c->more)
		c->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c || !c->idle || !c->more || !c->bev) {
		pvring_err("ctl: out of memory accepting a connection");
		if (c && c->idle)
			event_free(c->idle);
		if (c && c->more)
			event_free(c->more);
		free(c);
		refuse(fd, "{\"ok\":false,\"error\":\"out of memory\"}\n");
		return;
	}
	c->ctl = ctl;
	c->next = ctl->clients;
	ctl->clients = c;
	c->kind = kind;
	ctl->nr_clients[kind]++;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	/* Read no further than one line over the limit: the input stays bounded too. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, LINE_MAX_BYTES + 2);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	client_touch(c);
}

struct pvringd_ctl *pvringd_ctl_open(struct event_base *base, const char *path, const char **why)
{
	struct pvringd_ctl *ctl = calloc(1, sizeof(*ctl));
	struct stat st;
	int fd;

	if (!ctl || !(ctl->path = strdup(path))) {
		*why = "out of memory";
		free(ctl);
		return NULL;
	}
	ctl->base = base;
	ctl->timeouts = (struct pvringd_ctl_timeouts){
		.idle_ms = IDLE_TIMEOUT_MS,
		.evict_idle_ms = EVICT_IDLE_MS,
		.spare_deadline_ms = SPARE_DEADLINE_MS,
	};
	fd = pvring_unix_listen(path, SOCK_STREAM, (int)MAX_CLIENTS, &st, why);
	if (fd == -EADDRINUSE)
		*why = "another pvringd is serving the control socket";
	if (fd < 0) {
		free(ctl->path);
		free(ctl);
		return NULL;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	ctl->listener = evconnlistener_new(base, on_accept, ctl,
					   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	ctl->accept_pause = evtimer_new(base, on_accept_pause_over, ctl);
	if (ctl->listener)
		evconnlistener_set_error_cb(ctl->listener, on_accept_error);
	if (!ctl->listener || !ctl->accept_pause) {
		/* The listener, made, closes the socket with it. */
		if (ctl->listener)
			evconnlistener_free(ctl->listener);
		else
			close(fd);
		if (ctl->accept_pause)
			event_free(ctl->accept_pause);
		*why = "out of memory";
		unlink(path);
		free(ctl->path);
		free(ctl);
		return NULL;
	}
	return ctl;
}

void pvringd_ctl_close(struct pvringd_ctl *ctl)
{
	struct stat st;

	if (!ctl)
		return;
	while (ctl->clients)
		client_free(ctl->clients);
	while (ctl->commands) {
		struct command *cmd = ctl->commands;

		ctl->commands = cmd->next;
		free(cmd->name);
		free(cmd);
	}
	evconnlistener_free(ctl->listener);
	event_free(ctl->accept_pause);
	/* A successor may already have replaced the file: leave its socket alone. */
	if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}

int pvringd_ctl_register(struct pvringd_ctl *ctl, const char *name, pvringd_ctl_handler handler,
			 void *arg)
{
	struct command *cmd, **link;

	for (cmd = ctl->commands; cmd; cmd = cmd->next) {
		if (!strcmp(cmd->name, name)) {
			cmd->handler = handler;
			cmd->arg = arg;
			return 0;
		}
	}
	cmd = calloc(1, sizeof(*cmd));
	if (!cmd || !(cmd->name = strdup(name))) {
		free(cmd);
		return -1;
	}
	cmd->handler = handler;
	cmd->arg = arg;
	/* In registration order, so the unknown-command message lists them as registered. */
	for (link = &ctl->commands; *link; link = &(*link)->next)
		;
	*link = cmd;
	return 0;
}

void pvringd_ctl_set_timeouts(struct pvringd_ctl *ctl, const struct pvringd_ctl_timeouts *t)
{
	ctl->timeouts = *t;
}
