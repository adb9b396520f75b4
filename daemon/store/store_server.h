/* SPDX-License-Identifier: MIT */
/*
 * The local store server: the xenstore wire protocol (xen/io/xs_wire.h) over
 * UNIX sockets, in front of a store tree, so that libxenstore clients (pvringd,
 * pvring-io, xenstore-ls with XENSTORED_PATH set) work unchanged.
 *
 * Identity comes from the socket a client connected to: rundir/socket is
 * dom0's (mode 0600). dom0 introduces a guest with XS_INTRODUCE ("domid\0
 * mfn\0port\0"; mfn and port are ignored locally), which opens
 * rundir/domain/<domid>/socket for that guest alone and fires
 * @introduceDomain; XS_RELEASE closes it, drops the guest's connections and
 * fires @releaseDomain.
 *
 * Served: READ, WRITE, MKDIR, RM, DIRECTORY, GET_PERMS, SET_PERMS, WATCH
 * (with the initial event), UNWATCH, RESET_WATCHES, TRANSACTION_START/END
 * (a transaction works on a copy of the tree, which shares every node it does
 * not change; it fails with EAGAIN only if a node it read changed meanwhile,
 * and its changes are then made on the store as it is: unlike xenstored, what
 * it only changed is not checked), GET_DOMAIN_PATH, INTRODUCE, RELEASE,
 * IS_DOMAIN_INTRODUCED. Others get ENOSYS. A guest may hold 8
 * connections and, over all of them, 128 watches and 10 open transactions, each reading or
 * changing at most 1024 nodes (and holding at most 256 KiB of paths and values); it may own
 * 1000 nodes holding 512 KiB of names and values. Past
 * a quota it gets ENOSPC (the log says which quota, once per connection). A malformed message,
 * or a client that lets more than 256 KiB of replies and events queue up unread, has its
 * connection closed with a logged reason; everyone else is still served.
 */
#ifndef PVRING_STORE_SERVER_H
#define PVRING_STORE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

struct pvring_store_server;

/* Serve dom0 on rundir/socket (created, must not be in use); NULL with *why. */
struct pvring_store_server *pvring_store_server_new(struct event_base *base, const char *rundir,
						    const char **why);
void pvring_store_server_free(struct pvring_store_server *srv);

/*
 * For the local hypervisor in the same process (local_hypervisor.h): introduce a guest it
 * created, as a toolstack would (its socket, its home /local/domain/<domid> owned by it,
 * @introduceDomain); 0, or -errno with *why (-EEXIST: the store knows that domain already).
 */
int pvring_store_server_add_domain(struct pvring_store_server *srv, uint32_t domid,
				   const char **why);
/* Whether domid is introduced. */
bool pvring_store_server_has_domain(const struct pvring_store_server *srv, uint32_t domid);
/* The guest is gone: its home removed, its connections closed, @releaseDomain fired. */
void pvring_store_server_remove_domain(struct pvring_store_server *srv, uint32_t domid);

#endif /* PVRING_STORE_SERVER_H */
