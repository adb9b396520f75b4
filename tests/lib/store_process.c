// SPDX-License-Identifier: MIT
#include "config.h"

#include "store_process.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int store_process_start(struct store_process *sp)
{
	const char *exe = getenv("PVRING_STORED");
	char fd_arg[16], ready[8];
	int pipefd[2];

	if (!exe) {
		fprintf(stderr, "store_process: PVRING_STORED is not set\n");
		return -1;
	}
	strcpy(sp->dir, "/tmp/pvring-test-XXXXXX");
	if (!mkdtemp(sp->dir) || pipe(pipefd)) {
		perror("store_process");
		return -1;
	}
	snprintf(sp->rundir, sizeof(sp->rundir), "%s/store", sp->dir);
	sp->pid = fork();
	if (sp->pid < 0)
		return -1;
	if (sp->pid == 0) {
		/* A test that dies (a sanitizer's abort) must not leave the store holding its
		 * pipes. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		close(pipefd[0]);
		snprintf(fd_arg, sizeof(fd_arg), "%d", pipefd[1]);
		execl(exe, exe, "--rundir", sp->rundir, "--ready-fd", fd_arg, "--log-level",
		      "warning", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	/* Blocks until the store listens, or reads EOF if it died first. */
	if (read(pipefd[0], ready, sizeof(ready)) != 6) {
		fprintf(stderr, "store_process: %s did not come up\n", exe);
		close(pipefd[0]);
		return -1;
	}
	close(pipefd[0]);
	return 0;
}

int store_process_stop(struct store_process *sp)
{
	char cmd[128];
	int status = 0;

	kill(sp->pid, SIGTERM);
	waitpid(sp->pid, &status, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sp->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "store_process: could not remove %s\n", sp->dir);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}
