// SPDX-License-Identifier: MIT
#include "config.h"

#include "daemon_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARGS 32
#define READY_TIMEOUT_MS 20000

static int notify_socket(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		perror("daemon_process: notify socket");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Wait for READY=1 on the notify socket, or for pvringd to die first. */
static int wait_ready(struct daemon_process *dp, int fd)
{
	struct timespec start, now;
	char msg[256];

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) == 1) {
			n = recv(fd, msg, sizeof(msg) - 1, 0);
			if (n > 0) {
				msg[n] = '\0';
				if (strstr(msg, "READY=1"))
					return 0;
			}
		}
		if (!daemon_process_alive(dp)) {
			fprintf(stderr, "daemon_process: pvringd exited before READY=1 (log %s)\n",
				dp->log);
			return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
		    READY_TIMEOUT_MS) {
			fprintf(stderr, "daemon_process: pvringd never said READY=1\n");
			return -1;
		}
	}
}

int daemon_process_init(struct daemon_process *dp)
{
	if (dp->store.pid > 0)
		return 0;
	if (store_process_start(&dp->store)) {
		/* Whatever it got as far as: its process, its directory. */
		if (dp->store.pid > 0)
			store_process_stop(&dp->store);
		else if (dp->store.dir[0] && !strstr(dp->store.dir, "XXXXXX"))
			rmdir(dp->store.dir);
		memset(&dp->store, 0, sizeof(dp->store));
		return -1;
	}
	snprintf(dp->rundir, sizeof(dp->rundir), "%s", dp->store.dir);
	snprintf(dp->log, sizeof(dp->log), "%s/pvringd.log", dp->rundir);
	return 0;
}

int daemon_process_start(struct daemon_process *dp, const char *const *args)
{
	const char *exe = getenv("PVRINGD");
	const char *argv[MAX_ARGS + 8];
	char notify[96];
	unsigned int n = 0, i;
	int fd, ret;

	if (!exe) {
		fprintf(stderr, "daemon_process: PVRINGD is not set\n");
		return -1;
	}
	if (daemon_process_init(dp))
		return -1;
	snprintf(notify, sizeof(notify), "%s/notify", dp->rundir);
	fd = notify_socket(notify);
	if (fd < 0)
		return -1;
	argv[n++] = exe;
	argv[n++] = "--rundir";
	argv[n++] = dp->rundir;
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	for (i = 0; args && args[i] && i < MAX_ARGS; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	dp->exited = false;
	dp->pid = fork();
	if (dp->pid < 0) {
		perror("daemon_process: fork");
		dp->pid = 0;
		close(fd);
		unlink(notify);
		return -1;
	}
	if (dp->pid == 0) {
		int log = open(dp->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* Not left running by a test that dies first. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (log >= 0)
			dup2(log, STDERR_FILENO);
		setenv("NOTIFY_SOCKET", notify, 1);
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	ret = wait_ready(dp, fd);
	close(fd);
	unlink(notify);
	return ret;
}

bool daemon_process_alive(struct daemon_process *dp)
{
	int status;

	if (dp->pid <= 0 || dp->exited)
		return false;
	if (waitpid(dp->pid, &status, WNOHANG) == dp->pid) {
		dp->exited = true; /* remembered for daemon_process_stop */
		dp->status = status;
		return false;
	}
	return true;
}

int daemon_process_stop(struct daemon_process *dp)
{
	int status;

	if (dp->pid <= 0)
		return -1;
	if (dp->exited) {
		status = dp->status;
	} else {
		kill(dp->pid, SIGTERM);
		if (waitpid(dp->pid, &status, 0) != dp->pid)
			return -1;
	}
	dp->pid = 0;
	dp->exited = false;
	if (!WIFEXITED(status)) {
		fprintf(stderr, "daemon_process: pvringd was killed by signal %d\n",
			WIFSIGNALED(status) ? WTERMSIG(status) : -1);
		return -1;
	}
	return WEXITSTATUS(status);
}

int daemon_process_destroy(struct daemon_process *dp)
{
	int ret = 0;

	if (dp->pid > 0)
		ret = daemon_process_stop(dp);
	if (dp->store.pid > 0 && store_process_stop(&dp->store))
		ret = -1;
	dp->store.pid = 0;
	return ret;
}

unsigned int daemon_process_log_count(const struct daemon_process *dp, const char *text)
{
	FILE *f = fopen(dp->log, "r");
	unsigned int n = 0;
	char line[1024];

	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return n;
}

bool daemon_process_log_has(const struct daemon_process *dp, const char *text,
			    unsigned int timeout_ms)
{
	unsigned int waited = 0;

	for (;;) {
		if (daemon_process_log_count(dp, text))
			return true;
		if (waited >= timeout_ms)
			return false;
		usleep(20000);
		waited += 20;
	}
}

void daemon_process_path(const struct daemon_process *dp, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", dp->rundir, name);
}
