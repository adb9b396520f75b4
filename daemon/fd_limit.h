/* SPDX-License-Identifier: MIT */
/* The open-file limit of a daemon that holds descriptors per guest. */
#ifndef PVRING_FD_LIMIT_H
#define PVRING_FD_LIMIT_H

/*
 * Raise the soft limit on open files to the hard limit, logging a failure. Each guest holds
 * descriptors (pvringd: two per event channel port, a guest's memory on the local platform,
 * its ring mappings' handles on Xen; pvring-stored: each local guest's registry socket,
 * memory and two per port): the soft limit systemd leaves (1024, for select()'s sake; both
 * use epoll) runs out near a hundred busy guests. LimitNOFILE= in a unit sets the hard one.
 */
void pvring_raise_fd_limit(void);

#endif /* PVRING_FD_LIMIT_H */
