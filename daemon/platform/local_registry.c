// SPDX-License-Identifier: MIT
/* The local domain registry's messages and the frontend's side: see local_registry.h. */
#include "config.h"

#include "local_registry.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FDS 3u

int pvring_local_send(int sock, const void *msg, size_t len, const int *fds, unsigned int nr_fds)
{
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nr_fds > MAX_FDS)
		return -EINVAL;
	if (nr_fds) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = CMSG_SPACE(nr_fds * sizeof(int));
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(nr_fds * sizeof(int));
		memcpy(CMSG_DATA(cmsg), fds, nr_fds * sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

ssize_t pvring_local_recv(int sock, void *msg, size_t len, int *fds, unsigned int max_fds,
			  unsigned int *nr_fds)
{
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf) };
	unsigned int passed = 0; /* descriptors the kernel gave, kept or not */
	struct cmsghdr *cmsg;
	ssize_t n;

	*nr_fds = 0;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg)) {
		unsigned int count, i;

		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		count = (unsigned int)((cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
			passed++;
			/* More than asked for: not ours to keep. */
			if (*nr_fds < max_fds)
				fds[(*nr_fds)++] = fd;
			else
				close(fd);
		}
	}
	/*
	 * A message cut short, or descriptors dropped by the kernel, is malformed; but
	 * descriptors dropped with room left for them were dropped because this process could
	 * not take them (out of descriptors): -EMFILE.
	 */
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		while (*nr_fds)
			close(fds[--*nr_fds]);
		return !(mh.msg_flags & MSG_TRUNC) && passed < MAX_FDS ? -EMFILE : -EMSGSIZE;
	}
	return n;
}

int pvring_local_guest_register(struct pvring_local_guest *guest, const char *registry_path,
				uint32_t nr_frames, uint32_t table_frames, const char **why)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct pvring_local_hello hello = { PVRING_LOCAL_MAGIC, PVRING_LOCAL_HELLO,
					    PVRING_LOCAL_VERSION, nr_frames, table_frames };
	struct pvring_local_welcome welcome;
	unsigned int nr_fds;
	int err, unused_fd;
	ssize_t n;

	memset(guest, 0, sizeof(*guest));
	guest->registry_fd = -1;
	guest->mem.fd = -1;
	if (strlen(registry_path) >= sizeof(sun.sun_path)) {
		*why = "registry socket path too long";
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, registry_path);
	err = pvring_local_mem_create(&guest->mem, nr_frames, table_frames);
	if (err) {
		*why = "cannot create guest memory";
		return err;
	}
	guest->registry_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (guest->registry_fd < 0 ||
	    connect(guest->registry_fd, (struct sockaddr *)&sun, sizeof(sun))) {
		err = -errno;
		*why = "cannot reach the local hypervisor's registry socket (is pvring-stored "
		       "running?)";
		goto fail;
	}
	err = pvring_local_send(guest->registry_fd, &hello, sizeof(hello), &guest->mem.fd, 1);
	/*
	 * A registry that refuses at once (too many guests, out of descriptors) says why and
	 * hangs up, maybe before the hello is sent: its reason is still there to read.
	 */
	if (err && err != -EPIPE && err != -ECONNRESET) {
		*why = "cannot send to the hypervisor";
		goto fail;
	}
	n = pvring_local_recv(guest->registry_fd, &welcome, sizeof(welcome), &unused_fd, 0,
			      &nr_fds);
	/*
	 * Its hanging up with our hello unread is reported first (once); the reason it sent
	 * before is read after.
	 */
	if (n == -ECONNRESET)
		n = pvring_local_recv(guest->registry_fd, &welcome, sizeof(welcome), &unused_fd, 0,
				      &nr_fds);
	if (n != (ssize_t)sizeof(welcome) || welcome.magic != PVRING_LOCAL_MAGIC ||
	    welcome.type != PVRING_LOCAL_WELCOME) {
		err = err ? err : n < 0 ? (int)n : -EPROTO;
		*why = "the hypervisor did not answer as expected";
		goto fail;
	}
	if (welcome.status) {
		err = welcome.status;
		memcpy(guest->refusal, welcome.why, sizeof(guest->refusal));
		guest->refusal[sizeof(guest->refusal) - 1] = '\0';
		*why = guest->refusal;
		goto fail;
	}
	guest->domid = welcome.domid;
	memcpy(guest->store_socket, welcome.store_socket, sizeof(guest->store_socket));
	guest->store_socket[sizeof(guest->store_socket) - 1] = '\0';
	return 0;
fail:
	pvring_local_guest_leave(guest);
	return err;
}

int pvring_local_guest_offer_port(struct pvring_local_guest *guest,
				  const struct pvring_local_guest_port *port)
{
	struct pvring_local_offer offer = { PVRING_LOCAL_MAGIC, PVRING_LOCAL_OFFER, port->port };
	struct pvring_local_offered offered;
	int fds[2] = { port->kick_back, port->kick_front };
	unsigned int nr_fds;
	int err = pvring_local_send(guest->registry_fd, &offer, sizeof(offer), fds, 2);
	ssize_t n;

	if (err)
		return err;
	n = pvring_local_recv(guest->registry_fd, &offered, sizeof(offered), fds, 0, &nr_fds);
	if (n != (ssize_t)sizeof(offered) || offered.magic != PVRING_LOCAL_MAGIC ||
	    offered.type != PVRING_LOCAL_OFFERED)
		return n < 0 ? (int)n : -EPROTO;
	return offered.status;
}

void pvring_local_guest_leave(struct pvring_local_guest *guest)
{
	if (guest->registry_fd >= 0)
		close(guest->registry_fd);
	guest->registry_fd = -1;
	pvring_local_mem_destroy(&guest->mem);
}
