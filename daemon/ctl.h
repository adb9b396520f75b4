/* SPDX-License-Identifier: MIT */
/*
 * pvringd's control socket: JSON over a UNIX stream socket (mode 0600, so
 * root only), for pvringctl and scripts.
 *
 * Framing: one JSON object per line each way. A request names a command and
 * its arguments; the reply is one object with "ok": true and the command's
 * fields, or "ok": false and "error": "one line". A client may send many
 * requests on one connection; a malformed line gets an error reply and the
 * connection is closed. A connection on which no complete request arrives
 * for 60 s (counted from connecting, then from each request) is closed, so
 * that idle clients cannot hold all 64 connection slots. A reply longer than
 * 4 MiB is replaced by the error "reply too large (...)"; a client with more
 * than 4 MiB of replies waiting unread is cut off. Commands (see
 * doc/pvringd-control.md for the fields):
 *
 *   {"cmd":"list"}                       -> {"ok":true,"devices":[{...}, ...]}
 *   {"cmd":"show","device":"D"}          -> {"ok":true,"device":{... "rings":[...]}}
 *   {"cmd":"dump","device":"D","ring":N} -> {"ok":true,"slots":[...]}
 *   {"cmd":"attach","disk":"NAME","domid":N[,"devid":N]}
 *                                        -> {"ok":true,"device":"D",...}
 *   {"cmd":"detach","device":"D"}        -> {"ok":true}
 *
 * The server knows only the framing and the dispatch: commands are handlers
 * registered by the daemon.
 */
#ifndef PVRINGD_CTL_H
#define PVRINGD_CTL_H

struct event_base;
struct json_object;
struct pvringd_ctl;

/*
 * Answer one request. Fill reply (an empty object) with the command's fields
 * and return 0 (the server adds "ok": true), or return -1 with a one-line
 * message in err (the server replies "ok": false, "error": err).
 */
typedef int (*pvringd_ctl_handler)(void *arg, struct json_object *request,
				   struct json_object *reply, char *err, unsigned int err_len);

/* Listen on path (created 0600, a stale socket replaced). NULL with *why set. */
struct pvringd_ctl *pvringd_ctl_open(struct event_base *base, const char *path, const char **why);
/*
 * Close connections idle for ms instead of the default 60 s (for tests):
 * applies from each connection's next request or connection on. Only while
 * the loop is not running.
 */
void pvringd_ctl_set_idle_timeout(struct pvringd_ctl *ctl, unsigned int ms);
/* Closes every connection and removes the socket. */
void pvringd_ctl_close(struct pvringd_ctl *ctl);
/* 0, or -1 if out of memory. */
int pvringd_ctl_register(struct pvringd_ctl *ctl, const char *cmd, pvringd_ctl_handler handler,
			 void *arg);

#endif /* PVRINGD_CTL_H */
