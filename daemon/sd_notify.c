// SPDX-License-Identifier: MIT
/* sd_notify without libsystemd: see sd_notify.h. */
#include "config.h"

#include "daemon/sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int pvring_sd_notify(const char *state)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *name = getenv("NOTIFY_SOCKET");
	size_t name_len, state_len = strlen(state);
	socklen_t addr_len;
	ssize_t n;
	int fd, saved;

	if (!name || !*name)
		return 0;
	name_len = strlen(name);
	/* systemd also knows vsock: addresses, for VMs; a dom0 daemon never gets one. */
	if (name[0] != '/' && name[0] != '@')
		return -EAFNOSUPPORT;
	/* A path needs room for its NUL; an abstract name is counted, not terminated. */
	if (name_len > sizeof(addr.sun_path) - (name[0] == '/'))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, name, name_len);
	if (name[0] == '@')
		addr.sun_path[0] = '\0';
	addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + name_len);

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = sendto(fd, state, state_len, MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
	saved = errno;
	close(fd);
	if (n < 0)
		return -saved;
	/* A datagram goes whole or not at all; anything else is not a notification. */
	return (size_t)n == state_len ? 0 : -EMSGSIZE;
}
