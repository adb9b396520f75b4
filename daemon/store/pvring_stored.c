// SPDX-License-Identifier: MIT
/*
 * pvring-stored: the local platform's store, a xenstore-compatible server on
 * UNIX sockets (see store_server.h), and its hypervisor (local_hypervisor.h):
 * guests register with it and live as long as it does, whatever becomes of
 * pvringd. Run on a machine with no hypervisor; libxenstore clients reach the
 * store with XENSTORED_PATH=RUNDIR/socket.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/fd_limit.h"
#include "daemon/log.h"
#include "daemon/number.h"
#include "daemon/sd_notify.h"
#include "local_hypervisor.h"
#include "store_server.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pvring-stored [--rundir DIR] [--ready-fd FD] [--log-level LEVEL] "
		"[--syslog]\n"
		"  --rundir DIR       sockets live here (default /run/pvring/store): socket\n"
		"                     (the store), registry (guests), hypervisor (the back end)\n"
		"  --ready-fd FD      write \"ready\\n\" to FD once listening, then close it\n"
		"  --log-level LEVEL  err, warning, info (default) or debug\n"
		"  --syslog           log to syslog instead of stderr\n");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	pvring_info("store: signal %d, shutting down", (int)sig);
	event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "rundir", required_argument, NULL, 'r' },
		{ "ready-fd", required_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "syslog", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *rundir = "/run/pvring/store", *why = NULL;
	int level = PVRING_LOG_INFO, ready_fd = -1, opt, notify_err;
	bool use_syslog = false;
	struct pvring_store_server *srv;
	struct pvring_local_hypervisor *hv;
	struct event *sigterm, *sigint;
	struct event_base *base;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'r':
			rundir = optarg;
			break;
		case 'f': {
			uint64_t fd;

			if (pvring_parse_u64(optarg, INT_MAX, &fd)) {
				fprintf(stderr,
					"pvring-stored: --ready-fd '%s': not a descriptor\n",
					optarg);
				return 2;
			}
			ready_fd = (int)fd;
			break;
		}
		case 'l':
			level = pvring_log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr, "pvring-stored: unknown log level '%s'\n", optarg);
				return 2;
			}
			break;
		case 's':
			use_syslog = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	pvring_log_setup("pvring-stored", (enum pvring_log_level)level, use_syslog);
	/* A client that goes away mid-reply must not kill the store. */
	signal(SIGPIPE, SIG_IGN);
	pvring_raise_fd_limit();
	base = event_base_new();
	if (!base) {
		pvring_err("store: cannot create the event loop");
		return 1;
	}
	srv = pvring_store_server_new(base, rundir, &why);
	if (!srv) {
		pvring_err("store: cannot serve %s/socket: %s (%s)", rundir, why, strerror(errno));
		return 1;
	}
	hv = pvring_local_hypervisor_new(base, srv, rundir, &why);
	if (!hv) {
		pvring_err("store: cannot serve guests in %s: %s (%s)", rundir, why,
			   strerror(errno));
		pvring_store_server_free(srv);
		return 1;
	}
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	if (!sigterm || !sigint || evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL)) {
		pvring_err("store: cannot handle signals");
		return 1;
	}
	pvring_info("store: serving dom0 on %s/socket, guests on %s/registry, the back end on "
		    "%s/hypervisor",
		    rundir, rundir, rundir);
	if (ready_fd >= 0) {
		if (write(ready_fd, "ready\n", 6) != 6)
			pvring_warn("store: cannot signal readiness: %s", strerror(errno));
		close(ready_fd);
	}
	notify_err = pvring_sd_notify("READY=1");
	if (notify_err)
		pvring_warn("store: cannot notify systemd: %s", strerror(-notify_err));
	event_base_dispatch(base);
	pvring_sd_notify("STOPPING=1");
	pvring_local_hypervisor_free(hv);
	pvring_store_server_free(srv);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	return 0;
}
