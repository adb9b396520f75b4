/* SPDX-License-Identifier: MIT */
/*
 * pvringd's control socket: JSON over a UNIX stream socket (mode 0600, so
 * root only), for pvringctl and scripts.
 *
 * Framing: one JSON object per line each way. A request names a command and
 * its arguments; the reply is one object with "ok": true and the command's
 * fields, or "ok": false and "error": "one line". A client may send many
 * requests on one connection, answered one per turn of the loop, in turn with
 * every other client's; a malformed line gets an error reply and the
 * connection is closed. A connection on which no complete request arrives
 * for 60 s (counted from connecting, then from each request) is closed, so
 * that idle clients cannot hold all 64 connection slots. With all 64 taken, a
 * new connection takes the slot of the client idle longest, if 5 s or more
 * (that one is told why and closed); if every client asked something in the
 * last 5 s, up to 4 more connections are spares: one request, sent within
 * 2 s, one reply, closed. So a pvringctl command gets in while 64 busy clients
 * hold every slot (not if the spares are kept busy too). A reply longer than
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
struct pvringd_ctl_timeouts {
	unsigned int idle_ms; /* a connection with no request for this long is closed (60 s) */
	unsigned int evict_idle_ms; /* full: the idlest gives way if idle this long (5 s) */
	unsigned int spare_deadline_ms; /* a spare connection's one request comes within (2 s) */
};

/*
 * Other timeouts than the defaults (for tests): each applies from a connection's next
 * request or connection on. Only while the loop is not running.
 */
void pvringd_ctl_set_timeouts(struct pvringd_ctl *ctl, const struct pvringd_ctl_timeouts *t);
/*
 * How many times accept() has failed for want of descriptors or memory (each failure rests
 * the listener a second, so this grows by about one a second while they last).
 */
unsigned long pvringd_ctl_accept_failures(const struct pvringd_ctl *ctl);
/* How many connections were turned away as busy (every slot and spare taken), since the start. */
unsigned long pvringd_ctl_refused(const struct pvringd_ctl *ctl);
/* Closes every connection and removes the socket. */
void pvringd_ctl_close(struct pvringd_ctl *ctl);
/* 0, or -1 if out of memory. */
int pvringd_ctl_register(struct pvringd_ctl *ctl, const char *cmd, pvringd_ctl_handler handler,
			 void *arg);

#endif /* PVRINGD_CTL_H */
