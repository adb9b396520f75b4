// SPDX-License-Identifier: MIT
/* Listening UNIX sockets at paths: see unix_listen.h. */
#include "config.h"

#include "unix_listen.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Whether a server answers at sun: a socket file nobody answers on is stale. */
static bool answered(const struct sockaddr_un *sun, int type)
{
	int probe = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	bool live;

	if (probe < 0)
		return false;
	live = connect(probe, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(probe);
	return live;
}

int pvring_unix_listen(const char *path, int type, int backlog, struct stat *st, const char **why)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat old;
	mode_t old_umask;
	int fd, err;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		*why = "socket path too long";
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	if (lstat(path, &old) == 0) {
		if (!S_ISSOCK(old.st_mode)) {
			*why = "the path exists and is not a socket";
			return -EEXIST;
		}
		if (answered(&sun, type)) {
			*why = "another server is listening on it";
			return -EADDRINUSE;
		}
		if (unlink(path) && errno != ENOENT) {
			err = -errno;
			*why = "cannot remove the stale socket";
			return err;
		}
	}
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err = -errno;
		*why = "cannot create a socket";
		return err;
	}
	/* The mode comes from bind(): umask, not a chmod() after, leaves no window. */
	old_umask = umask(0177);
	err = bind(fd, (struct sockaddr *)&sun, sizeof(sun)) ? -errno : 0;
	umask(old_umask);
	if (err) {
		*why = "cannot bind the socket";
		close(fd);
		return err;
	}
	if (listen(fd, backlog) || (st && lstat(path, st))) {
		err = -errno;
		*why = "cannot listen on the socket";
		unlink(path);
		close(fd);
		return err;
	}
	return fd;
}
