/* SPDX-License-Identifier: MIT */
/*
 * The local platform's domain registry: how a frontend process becomes a
 * guest on one Linux machine. The registry is the local hypervisor's, in
 * pvring-stored (local_hypervisor.h), at STORE_RUNDIR/registry: not pvringd's,
 * so that a guest outlives a back end that stops or dies.
 *
 * The frontend connects to the registry socket (SOCK_SEQPACKET, one
 * message per packet, descriptors passed with SCM_RIGHTS):
 *
 *   hello    (+ memfd)               frontend -> hypervisor
 *            magic, version, nr_frames, table_frames of its guest memory
 *   welcome                          hypervisor -> frontend
 *            status (0 or -errno), domid, why (if refused), store socket
 *   offer    (+ kick_back, kick_front) frontend -> hypervisor, any number
 *            an unbound event-channel port and its two eventfds
 *   offered                          hypervisor -> frontend
 *            status
 *
 * The domain exists as long as the connection: when it closes (the frontend
 * exits or dies), the hypervisor releases the domain, and the store fires
 * @releaseDomain as for a Xen guest that died.
 */
#ifndef PVRING_LOCAL_REGISTRY_H
#define PVRING_LOCAL_REGISTRY_H

#include <stdint.h>
#include <sys/types.h>

#include "local_evtchn.h"
#include "local_gnttab.h"

#define PVRING_LOCAL_MAGIC 0x4c525650u /* "PVRL" */
#define PVRING_LOCAL_VERSION 1u

enum pvring_local_msg {
	PVRING_LOCAL_HELLO = 1,
	PVRING_LOCAL_WELCOME = 2,
	PVRING_LOCAL_OFFER = 3,
	PVRING_LOCAL_OFFERED = 4,
};

struct pvring_local_hello {
	uint32_t magic;
	uint32_t type;
	uint32_t version;
	uint32_t nr_frames;
	uint32_t table_frames;
};

struct pvring_local_welcome {
	uint32_t magic;
	uint32_t type;
	int32_t status;
	uint32_t domid;
	char why[128];
	char store_socket[108];
};

struct pvring_local_offer {
	uint32_t magic;
	uint32_t type;
	uint32_t port;
};

struct pvring_local_offered {
	uint32_t magic;
	uint32_t type;
	int32_t status;
};

/* ---- the frontend's side ---- */

struct pvring_local_guest {
	int registry_fd; /* closing it ends the domain */
	uint32_t domid;
	char store_socket[108]; /* XENSTORED_PATH for this guest */
	char refusal[128]; /* the hypervisor's reason, when it refused */
	struct pvring_local_guest_mem mem;
};

/*
 * Create guest memory, register with the hypervisor at registry_path and learn
 * the domid. 0, or -errno with *why set (the hypervisor's reason when it refused).
 */
int pvring_local_guest_register(struct pvring_local_guest *guest, const char *registry_path,
				uint32_t nr_frames, uint32_t table_frames, const char **why);
/* Hand an allocated port to the hypervisor, for the back end to bind; 0 or -errno. */
int pvring_local_guest_offer_port(struct pvring_local_guest *guest,
				  const struct pvring_local_guest_port *port);
/* Leave: the hypervisor releases the domain. */
void pvring_local_guest_leave(struct pvring_local_guest *guest);

/* ---- shared by both sides ---- */

/* Send one message with up to 3 descriptors; 0 or -errno. */
int pvring_local_send(int sock, const void *msg, size_t len, const int *fds, unsigned int nr_fds);
/*
 * Receive one message of at most len bytes and up to max_fds descriptors;
 * the message length, 0 at end of connection, or -errno. *nr_fds gets the
 * number of descriptors received (the caller owns them). A message cut short
 * is -EMSGSIZE; one whose descriptors this process had no room for, -EMFILE.
 */
ssize_t pvring_local_recv(int sock, void *msg, size_t len, int *fds, unsigned int max_fds,
			  unsigned int *nr_fds);

#endif /* PVRING_LOCAL_REGISTRY_H */
