/* SPDX-License-Identifier: MIT */
/*
 * The local hypervisor: on one plain Linux machine, what Xen is for a guest. It lives in
 * pvring-stored, beside the store, not in the back end, so that pvringd can exit, crash or be
 * restarted while its guests live on, as a dom0 back end can on Xen.
 *
 * Guests (frontend processes) register on STORE_RUNDIR/registry (local_registry.h): their
 * memory (a memfd with the grant table in its first frames) and their event-channel ports. A
 * guest is a domain as long as its registry connection: it is introduced in the store with
 * its home, and released (@releaseDomain) when the connection closes.
 *
 * The back end reaches them on STORE_RUNDIR/hypervisor (local_hypercall.h), one at a time:
 * a domain's memory, a port's doorbells. When the back end goes, its grant pins are cleared
 * and its ports unbound.
 */
#ifndef PVRING_LOCAL_HYPERVISOR_H
#define PVRING_LOCAL_HYPERVISOR_H

#include <event2/event.h>

struct pvring_store_server;
struct pvring_local_hypervisor;

/*
 * What a registering guest is held to. Past max_guests live guests (or connections still
 * saying hello) a new one is refused with the reason; a connection that has not said hello
 * within hello_ms is refused. Out of file descriptors, a guest is told so too, and accepting
 * never spins.
 */
struct pvring_local_hypervisor_limits {
	unsigned int max_guests; /* default 1024 */
	unsigned int hello_ms; /* default 5000 */
};

/*
 * Serve guests on rundir/registry and the back end on rundir/hypervisor (both 0600) in base's
 * loop, introducing guests in store (the same process's). NULL with *why set.
 */
struct pvring_local_hypervisor *pvring_local_hypervisor_new(struct event_base *base,
							    struct pvring_store_server *store,
							    const char *rundir, const char **why);
/* Ends every guest (each is released in the store). */
void pvring_local_hypervisor_free(struct pvring_local_hypervisor *hv);

/* Other limits than the defaults; for connections accepted from now on. */
void pvring_local_hypervisor_set_limits(struct pvring_local_hypervisor *hv,
					const struct pvring_local_hypervisor_limits *limits);

#endif /* PVRING_LOCAL_HYPERVISOR_H */
