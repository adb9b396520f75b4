/* SPDX-License-Identifier: MIT */
/*
 * A listening UNIX socket at a path, for pvringd's control socket, the local
 * platform's registry and pvring-stored's sockets: created 0600, replacing a
 * socket file left by a crash, never one a live server answers on.
 */
#ifndef PVRING_UNIX_LISTEN_H
#define PVRING_UNIX_LISTEN_H

#include <sys/stat.h>

/*
 * Bind and listen on path with a socket of type (SOCK_STREAM, SOCK_SEQPACKET),
 * nonblocking and close-on-exec. A listening descriptor, its file's identity
 * in *st if st is not NULL (so that only this socket is removed later), or a
 * negative errno with *why set: -EADDRINUSE when a server answers at path,
 * -EEXIST when path is not a socket, -ENAMETOOLONG.
 */
int pvring_unix_listen(const char *path, int type, int backlog, struct stat *st, const char **why);

#endif /* PVRING_UNIX_LISTEN_H */
