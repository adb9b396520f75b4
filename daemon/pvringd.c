// SPDX-License-Identifier: MIT
/*
 * pvringd: the userspace block back end. Opens the configured images, the
 * platform (xen or local), the asynchronous I/O ring and the control socket,
 * then runs one event loop until SIGTERM or SIGINT, when it tells every front
 * end (Closing), lets I/O in flight complete, syncs the images and exits 0.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon/pvringd_config.h"
#include "daemon/ctl.h"
#include "daemon/fd_limit.h"
#include "daemon/log.h"
#include "daemon/platform/platform.h"
#include "daemon/platform/platform_local.h"
#include "daemon/pvringd.h"
#include "daemon/sd_notify.h"

/*
 * io_uring entries, shared out among the workers: enough for every slot of several order-4
 * rings at once, and never fewer than one order-4 ring's 512 slots per worker.
 */
#define AIO_ENTRIES 4096u
#define AIO_ENTRIES_MIN 512u

static unsigned int aio_entries(unsigned int workers)
{
	unsigned int each = AIO_ENTRIES / (workers ? workers : 1);

	return each < AIO_ENTRIES_MIN ? AIO_ENTRIES_MIN : each;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct pvringd *d = arg;

	(void)what;
	pvring_info("%s: shutting down", strsignal((int)sig));
	pvring_sd_notify("STOPPING=1");
	event_base_loopbreak(d->base);
}

static int open_disks(struct pvringd *d, const struct pvringd_config *cfg)
{
	unsigned int i;
	char why[256];

	d->disks = calloc(cfg->nr_disks ? cfg->nr_disks : 1, sizeof(*d->disks));
	if (!d->disks)
		return -1;
	for (i = 0; i < cfg->nr_disks; i++) {
		const struct pvringd_disk_config *dc = &cfg->disks[i];

		bool waited = false;
		int err;

		if (pvring_image_name_is_remote(dc->path))
			err = pvring_image_open_remote(&d->disks[i].image, dc->path, dc->read_only,
						       cfg->remote_timeout_ms, why, sizeof(why));
		else
			err = pvring_image_open_patiently(
				&d->disks[i].image, dc->path, dc->read_only, dc->direct,
				PVRINGD_IMAGE_WAIT_MS, &waited, why, sizeof(why));
		if (err) {
			pvring_err("disk %s: %s", dc->name, why);
			return -1;
		}
		if (waited)
			pvring_info("disk %s: was in use a moment (a pvringd killed before may "
				    "have held it)",
				    dc->name);
		d->disks[i].name = dc->name;
		d->nr_disks++;
		pvring_info("disk %s: %s, %llu sectors, %s%s", dc->name, dc->path,
			    (unsigned long long)d->disks[i].image.sectors,
			    dc->read_only ? "read-only" : "read-write",
			    dc->direct ? ", O_DIRECT" : "");
	}
	return 0;
}

static void close_disks(struct pvringd *d)
{
	unsigned int i;

	for (i = 0; i < d->nr_disks; i++)
		pvringd_disk_close(&d->disks[i]);
	free(d->disks);
}

static struct pvring_platform *open_platform(const struct pvringd_config *cfg, const char **why)
{
	if (!strcmp(cfg->platform, "xen"))
		return pvring_platform_xen_open(why);
	return pvring_platform_local_open(cfg->store_rundir, why);
}

int main(int argc, char **argv)
{
	struct pvringd_config cfg;
	struct pvringd d = { 0 };
	struct event *sigterm = NULL, *sigint = NULL;
	sigset_t stop_signals;
	const char *why = NULL;
	char err[512];
	int ret = 1, r;

	r = pvringd_config_parse(&cfg, argc, argv, err, sizeof(err));
	if (r) {
		if (r < 0)
			fprintf(stderr, "pvringd: %s\n", err);
		return r < 0 ? 2 : 0;
	}
	pvring_log_setup("pvringd", (enum pvring_log_level)cfg.log_level, cfg.syslog);
	signal(SIGPIPE, SIG_IGN);
	pvring_raise_fd_limit();
	/*
	 * SIGTERM and SIGINT wait until the loop runs: one that comes while
	 * pvringd starts then stops it cleanly, instead of killing it with
	 * sockets half made.
	 */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	d.cfg = &cfg;
	d.base = event_base_new();
	if (!d.base) {
		pvring_err("cannot create the event loop");
		goto out;
	}
	sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
	sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
	if (!sigterm || !sigint || event_add(sigterm, NULL) || event_add(sigint, NULL)) {
		pvring_err("cannot handle signals");
		goto out;
	}
	if (mkdir(cfg.rundir, 0700) && errno != EEXIST) {
		pvring_err("cannot create the run directory %s: %s", cfg.rundir, strerror(errno));
		goto out;
	}
	/* First: a pvringd already serving here is left alone, sockets and images both. */
	d.ctl = pvringd_ctl_open(d.base, cfg.control_socket, &why);
	if (!d.ctl) {
		pvring_err("control socket %s: %s", cfg.control_socket, why);
		goto out;
	}
	/* A killed pvringd left its rings' journals here; the next takes its rings on from them. */
	if (asprintf(&d.inflight_dir, "%s/inflight", cfg.rundir) < 0) {
		d.inflight_dir = NULL;
		pvring_err("out of memory");
		goto out;
	}
	if (mkdir(d.inflight_dir, 0700) && errno != EEXIST) {
		pvring_err("cannot create %s: %s", d.inflight_dir, strerror(errno));
		goto out;
	}
	if (open_disks(&d, &cfg))
		goto out;
	d.plat = open_platform(&cfg, &why);
	if (!d.plat) {
		pvring_err("%s platform: %s", cfg.platform, why);
		goto out;
	}
	d.dp = pvringd_dp_create(
		&(struct pvringd_dp_params){ .base = d.base,
					     .plat = d.plat,
					     .poll_us = cfg.poll_us,
					     .workers = cfg.workers,
					     .aio_entries = aio_entries(cfg.workers),
					     .guest_inflight_max = (uint64_t)cfg.guest_inflight_kib
								   << 10 },
		&why);
	if (!d.dp) {
		pvring_err("data plane: %s", why);
		goto out;
	}
	if (pvringd_control_start(&d, &why)) {
		pvring_err("%s", why);
		goto out;
	}
	if (pvringd_commands_register(&d)) {
		pvring_err("control socket: out of memory");
		goto out;
	}
	pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
	pvring_info("ready: %s platform, %u disk%s, control socket %s", cfg.platform, d.nr_disks,
		    d.nr_disks == 1 ? "" : "s", cfg.control_socket);
	/* The store watch is armed: front ends that show up now are served. */
	pvring_sd_notify("READY=1");
	if (event_base_dispatch(d.base) < 0)
		pvring_err("event loop failed");
	else
		ret = 0;
out:
	pvringd_control_stop(&d);
	pvringd_ctl_close(d.ctl);
	pvringd_dp_destroy(d.dp);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (d.plat)
		pvring_platform_destroy(d.plat);
	if (d.base)
		event_base_free(d.base);
	close_disks(&d);
	free(d.inflight_dir);
	pvringd_config_free(&cfg);
	if (!ret)
		pvring_info("stopped cleanly");
	return ret;
}
