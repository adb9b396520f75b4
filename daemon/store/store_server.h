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
 * not change, and commits only if nothing changed meanwhile, else EAGAIN),
 * GET_DOMAIN_PATH, INTRODUCE, RELEASE, IS_DOMAIN_INTRODUCED. Others get ENOSYS. A guest may hold 8
 * connections and, over all of them, 128 watches and 10 open transactions; it may own 1000 nodes
 * holding 512 KiB of names and values. Past a quota it gets ENOSPC (the log says
 * which quota, once per connection). A malformed message, or a client
 * that lets more than 256 KiB of replies and events queue up unread, has its
 * connection closed with a logged reason; everyone else is still served.
 */
#ifndef PVRING_STORE_SERVER_H
#define PVRING_STORE_SERVER_H

#include <event2/event.h>

struct pvring_store_server;

/* Serve dom0 on rundir/socket (created, must not be in use); NULL with *why. */
struct pvring_store_server *pvring_store_server_new(struct event_base *base, const char *rundir,
						    const char **why);
void pvring_store_server_free(struct pvring_store_server *srv);

#endif /* PVRING_STORE_SERVER_H */
