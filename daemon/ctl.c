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
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <json-c/json.h>

#include "daemon/log.h"
#include "daemon/unix_listen.h"

/* A request line, without its '\n', at most. */
#define LINE_MAX_BYTES (64u * 1024u)
/* Replies queued for a client that does not read them, at most. */
#define OUTPUT_LIMIT (4u * 1024u * 1024u)
#define MAX_CLIENTS 64u
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

struct client {
	struct client *next;
	struct pvringd_ctl *ctl;
	struct bufferevent *bev;
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
	unsigned int nr_clients;
};

static void client_free(struct client *c)
{
	struct client **link;

	for (link = &c->ctl->clients; *link != c; link = &(*link)->next)
		;
	*link = c->next;
	c->ctl->nr_clients--;
	bufferevent_free(c->bev);
	free(c);
}

/* Queue one line; false if the client was cut off (and freed) for not reading. */
static bool send_line(struct client *c, const char *text)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t len = strlen(text);

	if (evbuffer_get_length(out) + len + 1 > OUTPUT_LIMIT) {
		pvring_warn("ctl: a client does not read its replies (over %u MiB queued); "
			    "closing the connection",
			    OUTPUT_LIMIT / (1024u * 1024u));
		client_free(c);
		return false;
	}
	if (evbuffer_add(out, text, len) || evbuffer_add(out, "\n", 1)) {
		pvring_err("ctl: out of memory queueing a reply; closing the connection");
		client_free(c);
		return false;
	}
	return true;
}

/* Replies are one line: a message with a newline in it would break the framing. */
static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

static bool send_error(struct client *c, const char *msg)
{
	struct json_object *o = json_object_new_object();
	bool alive;

	if (!o || json_object_object_add(o, "ok", json_object_new_boolean(0)) ||
	    json_object_object_add(o, "error", json_object_new_string(msg))) {
		json_object_put(o);
		/* Still a valid reply: the message is a constant. */
		return send_line(c, "{\"ok\":false,\"error\":\"out of memory\"}");
	}
	alive = send_line(c, json_object_to_json_string_ext(o, JSON_FLAGS));
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

static bool send_ok(struct client *c, struct json_object *fields)
{
	struct json_object *o = json_object_new_object();
	bool alive;

	/* A new object so that "ok" comes first: json-c keeps insertion order. */
	if (!o || json_object_object_add(o, "ok", json_object_new_boolean(1))) {
		json_object_put(o);
		return send_error(c, "out of memory");
	}
	json_object_object_foreach(fields, key, value)
	{
		if (!strcmp(key, "ok"))
			continue;
		if (json_object_object_add(o, key, json_object_get(value))) {
			json_object_put(value);
			json_object_put(o);
			return send_error(c, "out of memory");
		}
	}
	alive = send_line(c, json_object_to_json_string_ext(o, JSON_FLAGS));
	json_object_put(o);
	return alive;
}

static void unknown_command(struct client *c, const char *name)
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
	one_line(msg);
	send_error(c, msg);
}

/* One request line; false if the client is gone or closing. */
static bool handle_line(struct client *c, const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	struct json_object *req = NULL, *cmd_obj, *reply;
	char err[ERR_LEN] = "";
	struct command *cmd;
	const char *name;
	size_t end, i;
	bool alive;

	if (!tok) {
		reject(c, "out of memory");
		return false;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	req = json_tokener_parse_ex(tok, line, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (req && json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(req);
		req = NULL;
	}
	json_tokener_free(tok);
	/* Only blanks may follow the object ("\r" from a CRLF client, say). */
	for (i = end; req && i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
			json_object_put(req);
			req = NULL;
		}
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
	if (!cmd) {
		unknown_command(c, name);
		json_object_put(req);
		return true;
	}
	reply = json_object_new_object();
	if (!reply) {
		json_object_put(req);
		return send_error(c, "out of memory");
	}
	if (cmd->handler(cmd->arg, req, reply, err, sizeof(err)) == 0) {
		alive = send_ok(c, reply);
	} else {
		err[sizeof(err) - 1] = '\0';
		one_line(err);
		alive = send_error(c, err[0] ? err : "command failed");
	}
	json_object_put(reply);
	json_object_put(req);
	return alive;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (!c->closing) {
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		char *line;

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
		if (!handle_line(c, line, (size_t)eol.pos))
			return;
		evbuffer_drain(in, (size_t)eol.pos + 1);
	}
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

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct pvringd_ctl *ctl = arg;
	struct client *c;

	(void)listener;
	(void)sa;
	(void)socklen;
	if (ctl->nr_clients >= MAX_CLIENTS) {
		pvring_warn("ctl: %u clients already connected; refusing another", ctl->nr_clients);
		refuse(fd, "{\"ok\":false,\"error\":\"too many control connections\"}\n");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c)
		c->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c || !c->bev) {
		pvring_err("ctl: out of memory accepting a connection");
		free(c);
		refuse(fd, "{\"ok\":false,\"error\":\"out of memory\"}\n");
		return;
	}
	c->ctl = ctl;
	c->next = ctl->clients;
	ctl->clients = c;
	ctl->nr_clients++;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	/* Read no further than one line over the limit: the input stays bounded too. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, LINE_MAX_BYTES + 2);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
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
	if (!ctl->listener) {
		*why = "out of memory";
		close(fd);
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
