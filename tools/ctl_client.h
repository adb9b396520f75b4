/* SPDX-License-Identifier: MIT */
/*
 * A client of pvringd's control socket (doc/pvringd-control.md): connect,
 * send a request object as one line, read the one-line reply with a timeout,
 * parse it. Blocking, single-threaded, no event loop: for pvringctl, other
 * tools and tests.
 */
#ifndef PVRING_CTL_CLIENT_H
#define PVRING_CTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;
struct pvring_ctl_client;

#define PVRING_CTL_DEFAULT_SOCKET "/run/pvring/pvringd.sock"
/* The environment variable that overrides the default socket. */
#define PVRING_CTL_SOCKET_ENV "PVRINGCTL_SOCKET"
/* pvringd answers from its event loop at once: this only guards against a hung daemon. */
#define PVRING_CTL_TIMEOUT_MS 10000

/* The values are pvringctl's exit codes. */
enum pvring_ctl_status {
	PVRING_CTL_OK = 0,
	PVRING_CTL_FAILED = 1, /* the daemon answered "ok": false */
	PVRING_CTL_UNREACHABLE = 3, /* no connection, or no proper reply on it */
};

/* $PVRINGCTL_SOCKET if set and not empty, else the default. */
const char *pvring_ctl_socket_path(void);

/*
 * Connect to the socket at path. NULL with a message in err saying what
 * failed and where (no socket, permission denied, refused), errno kept.
 */
struct pvring_ctl_client *pvring_ctl_client_connect(const char *path, char *err, size_t err_len);
void pvring_ctl_client_close(struct pvring_ctl_client *c);

/*
 * Send request (one line). PVRING_CTL_OK, or PVRING_CTL_UNREACHABLE with a
 * message in err.
 */
enum pvring_ctl_status pvring_ctl_client_send(struct pvring_ctl_client *c,
					      struct json_object *request, int timeout_ms,
					      char *err, size_t err_len);
/*
 * Read the next reply. PVRING_CTL_OK with *reply set ("ok": true), or
 * PVRING_CTL_FAILED with *reply set and the daemon's "error" in err, or
 * PVRING_CTL_UNREACHABLE (timeout, connection closed, a malformed reply) with
 * *reply NULL and a message in err. The caller puts *reply.
 */
enum pvring_ctl_status pvring_ctl_client_recv(struct pvring_ctl_client *c, int timeout_ms,
					      struct json_object **reply, char *err,
					      size_t err_len);
/*
 * The request that attaches disk (a configured name or an image path) to domain domid as device
 * devid (-1: pvringd picks one) of device type type (NULL: pvringd's default, "vbd"), read-only
 * or not. NULL if out of memory; the caller puts it.
 */
struct json_object *pvring_ctl_attach_request(const char *disk, long domid, long devid,
					      bool read_only, const char *type);

/*
 * send, then recv, all within timeout_ms. A daemon with every connection taken turns this one
 * away before reading anything, with "busy" in its error reply: the call then connects again
 * (same path) and sends again, after pauses that double from 1 ms to 100 ms, until timeout_ms.
 * A connect that finds the daemon's backlog full is busy too (it does not wait for room). Out
 * of time, PVRING_CTL_FAILED with the daemon's busy reply, its reason and how many tries.
 */
enum pvring_ctl_status pvring_ctl_client_call(struct pvring_ctl_client *c,
					      struct json_object *request, int timeout_ms,
					      struct json_object **reply, char *err,
					      size_t err_len);

#endif /* PVRING_CTL_CLIENT_H */
