/* SPDX-License-Identifier: MIT */
/*
 * The local hypervisor's back-end socket: how pvringd, the back end (domain 0), reaches the
 * guests' memory and event channels on one plain Linux machine. The local hypervisor (inside
 * pvring-stored, local_hypervisor.h) holds them, as Xen holds a guest's pages and ports: so a
 * back end can die, be killed or be restarted while its guests live on.
 *
 * STORE_RUNDIR/hypervisor, mode 0600, SOCK_SEQPACKET: one message per packet, descriptors
 * passed with SCM_RIGHTS. One back end at a time: another is refused while one is connected.
 *
 *   hello                    -> answer: status                       first, once
 *   domain {domid}           -> answer: status, frames + memfd       holds the domain id
 *   put {domid}                 (no answer)                          lets go of one hold
 *   bind {domid, port}       -> answer: status + kick_back, kick_front
 *   unbind {domid, port}        (no answer)
 *
 * A held domain id is not given to another guest, even once the guest is gone: what the back
 * end maps through it stays the memory of the guest it fetched (Xen keeps a dying domain until
 * foreign mappings of its pages are gone). A bound port stays the back end's until unbind.
 *
 * When the back end's connection closes (it exited or was killed), the hypervisor clears the
 * pins it left in the guests' grant tables (GTF_reading/GTF_writing), as Xen does when a
 * process's grant mappings go; its ports go back to unbound, for the next back end to bind,
 * as Xen leaves the guest's end of an interdomain channel unbound; its holds are dropped.
 */
#ifndef PVRING_LOCAL_HYPERCALL_H
#define PVRING_LOCAL_HYPERCALL_H

#include <pthread.h>
#include <stdint.h>

#define PVRING_HV_MAGIC 0x48525650u /* "PVRH" */

enum pvring_hv_msg {
	PVRING_HV_HELLO = 1,
	PVRING_HV_DOMAIN = 2,
	PVRING_HV_PUT = 3,
	PVRING_HV_BIND = 4,
	PVRING_HV_UNBIND = 5,
	PVRING_HV_ANSWER = 6,
};

struct pvring_hv_request {
	uint32_t magic;
	uint32_t type;
	uint32_t domid;
	uint32_t port;
	uint32_t seq; /* echoed in the answer */
};

/*
 * The request it answers is echoed: an answer that comes after its asker stopped waiting is
 * told from the next one's, and what it granted (a hold, a binding) is given back.
 */
struct pvring_hv_answer {
	uint32_t magic;
	uint32_t type; /* PVRING_HV_ANSWER */
	int32_t status; /* 0 or -errno */
	uint32_t nr_frames; /* domain: the guest's memory */
	uint32_t table_frames; /* domain: its grant table, the first frames */
	uint32_t request; /* the request's type, domid, port and seq */
	uint32_t domid;
	uint32_t port;
	uint32_t seq;
	char why[96]; /* status != 0: the reason */
};

/*
 * The back end's end of the socket. Requests that are answered: one at a time, any thread.
 * What a connection granted is given back on that connection only: each connection has its
 * generation, and a put or unbind of another generation is dropped (the hypervisor that
 * granted it is gone, with everything it granted).
 */
struct pvring_local_hv {
	int sock; /* -1: not connected */
	pthread_mutex_t lock; /* one request and its answer at a time */
	pthread_mutex_t sock_lock; /* sock, generation and the queue; never held across a wait */
	uint32_t generation; /* of the connection; bumped by each connect */
	uint32_t seq;
	/* puts and unbinds the socket had no room for yet, sent before anything else */
	struct pvring_hv_request *queued;
	unsigned int nr_queued, queue_size;
	char why[96]; /* the last reason, for *why */
};

void pvring_local_hv_init(struct pvring_local_hv *hv);
/* Connect and say hello; 0, or -errno with *why set (the hypervisor's reason if it refused). */
int pvring_local_hv_connect(struct pvring_local_hv *hv, const char *path, const char **why);
void pvring_local_hv_close(struct pvring_local_hv *hv);
void pvring_local_hv_destroy(struct pvring_local_hv *hv);

/* The current connection's generation (any thread). */
uint32_t pvring_local_hv_generation(struct pvring_local_hv *hv);

/*
 * A guest's memory: its memfd (the caller's to close), frames and grant-table frames; holds
 * the domain id until pvring_local_hv_put() with *generation. 0, or -errno with *why set:
 * -ENOENT (no such guest, or gone), -ETIMEDOUT (no answer within 10 s: the connection is
 * kept, and a late answer given back), -EMFILE (no descriptor for the memory), or a socket
 * error (-ENOTCONN: the hypervisor is not there).
 */
int pvring_local_hv_domain(struct pvring_local_hv *hv, uint32_t domid, int *memfd,
			   uint32_t *nr_frames, uint32_t *table_frames, uint32_t *generation,
			   const char **why);
void pvring_local_hv_put(struct pvring_local_hv *hv, uint32_t domid, uint32_t generation);

/*
 * Bind the guest's port: its two eventfds, the caller's to close; 0 or -errno as for
 * pvring_local_hv_domain(). Unbind with *generation.
 */
int pvring_local_hv_bind(struct pvring_local_hv *hv, uint32_t domid, uint32_t port, int *kick_back,
			 int *kick_front, uint32_t *generation);
void pvring_local_hv_unbind(struct pvring_local_hv *hv, uint32_t domid, uint32_t port,
			    uint32_t generation);

#endif /* PVRING_LOCAL_HYPERCALL_H */
