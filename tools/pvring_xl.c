// SPDX-License-Identifier: MIT
/*
 * pvring-xl: create (or restore) an xl domain whose configuration also lists pvringd disks.
 *
 * Xen 4.17's libxl sends a `disk = [...]` line only to kernel blkback, QEMU or a virtio back end,
 * so pvringd's disks get keys of their own in the same file, in xl's own disk syntax: disks for
 * the guest's stock blkfront (device type vbd), and disks for pvring's own front end, pvblk:
 *
 *     pvring_disk = [ 'format=raw, vdev=xvda, access=rw, target=/var/lib/pvring/images/web.img' ]
 *     pvring_pvblk_disk = [ 'vdev=xvdb, access=rw, target=/var/lib/pvring/images/data.img' ]
 *
 * xl ignores keys it does not know. pvring-xl reads the file with libxlutil, the parser xl itself
 * uses, so the file means the same to both; it runs `xl create -p` (or `xl restore -p`), attaches
 * each disk through pvringd's control socket and unpauses the domain: the disks are in the store
 * before the guest's kernel probes (or resumes). If pvringd refuses a disk, the domain is
 * destroyed and the reason said.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <json-c/json.h>
#include <libxl.h>
#include <libxlutil.h>

#include "common/proto/pvring_xenbus.h"
#include "daemon/number.h"
#include "ctl_client.h"
#include "doorbell.h"
#include "vdev.h"

/* The keys pvring-xl reads; xl leaves them alone. */
#define PVRING_XL_DISK_KEY "pvring_disk"
#define PVRING_XL_PVBLK_DISK_KEY "pvring_pvblk_disk"
#define PVRING_XL_DOORBELL_KEY "pvring_doorbell"

/* Each key, with the device type its disks get. */
static const struct {
	const char *key;
	const char *type; /* for pvringd's attach; NULL: its default, vbd */
} disk_keys[] = {
	{ PVRING_XL_DISK_KEY, NULL },
	{ PVRING_XL_PVBLK_DISK_KEY, PVRING_XS_TYPE_PVBLK },
};

/* Exit codes, as pvringctl's: 1 refused or failed, 2 usage or configuration, 3 no pvringd. */
enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3, EXIT_SIGNAL = 130 };

struct xl_disk {
	const char *key; /* the key it was listed under */
	const char *type; /* the device type pvringd attaches it as (NULL: vbd) */
	char *spec; /* the line as written, for messages */
	char *target;
	char *vdev;
	long devid;
	bool read_only;
};

struct xl_guest {
	char *name;
	bool restarts_on_reboot;
	bool doorbell; /* pvring_doorbell = 1: turn the hypervisor's doorbell on */
	struct xl_disk *disks;
	int nr_disks;
};

struct opts {
	bool restore; /* pvring-xl restore, not create */
	bool paused, console, dry_run, quiet;
	int timeout_ms; /* for each call to pvringd */
	const char *socket;
	const char *config;
	const char *savefile; /* restore: what xl save wrote */
	char **extra; /* KEY=VALUE lines after the file, as xl create takes them */
	int nr_extra;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("pvring-xl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pvring-xl create [-p] [-c] [-n] [-q] [-s SOCKET] [-t SEC] CONFIG "
		"[KEY=VALUE ...]\n"
		"       pvring-xl restore [-p] [-c] [-n] [-s SOCKET] [-t SEC] CONFIG SAVEFILE\n"
		"Create an xl domain (or restore one that xl save wrote) and give it the pvringd\n"
		"disks its configuration lists, in xl's disk syntax (xl-disk-configuration(5)),\n"
		"before it runs: \"" PVRING_XL_DISK_KEY
		"\" for the guest's blkfront (vbd), \"" PVRING_XL_PVBLK_DISK_KEY "\"\n"
		"for pvring's pvblk module. \"" PVRING_XL_DOORBELL_KEY
		" = 1\" turns on the port-I/O\n"
		"doorbell of a patched Xen for an HVM or PVH guest before it runs. A restore\n"
		"takes the configuration the domain was created with: the save file does not\n"
		"hold these keys, and Xen does not keep the doorbell across a save.\n"
		"  -p          leave the domain paused\n"
		"  -c          attach to its console once it runs\n"
		"  -n          check the configuration and print what would be attached; create "
		"nothing\n"
		"  -q          pass -q to xl create\n"
		"  -s SOCKET   pvringd's control socket (default $%s, else %s)\n"
		"  -t SEC      how long each attach may take pvringd (default %d); on restore, "
		"also\n"
		"              how long to wait for the saved domain's disks to be let go\n"
		"Exit: 0 created; 1 refused or xl failed; 2 usage or configuration (nothing\n"
		"created); 3 cannot reach pvringd; 130 stopped by a signal. A domain created and\n"
		"not given all its disks is destroyed (a save file stays as it was).\n",
		PVRING_CTL_SOCKET_ENV, PVRING_CTL_DEFAULT_SOCKET, PVRING_CTL_TIMEOUT_MS / 1000);
}

static void guest_free(struct xl_guest *g)
{
	int i;

	for (i = 0; i < g->nr_disks; i++) {
		free(g->disks[i].spec);
		free(g->disks[i].target);
		free(g->disks[i].vdev);
	}
	free(g->disks);
	free(g->name);
}

/*
 * What pvringd cannot honour in an xl disk specification, or NULL. pvringd serves raw images
 * and block devices in dom0 to a Xen PV front end; everything else belongs to another back end.
 */
static const char *unsupported(const libxl_device_disk *disk)
{
	if (disk->format != LIBXL_DISK_FORMAT_UNKNOWN && disk->format != LIBXL_DISK_FORMAT_RAW)
		return "format: pvringd serves raw images only";
	if (disk->backend != LIBXL_DISK_BACKEND_UNKNOWN)
		return "backendtype: pvringd is the back end of these disks; leave it out";
	if (disk->script)
		return "script: pvringd opens the target itself; no hotplug script runs";
	if (disk->is_cdrom || disk->removable)
		return "devtype=cdrom: pvringd serves disks, not removable media";
	if (disk->backend_domname || disk->backend_domid)
		return "backend: pvringd serves from dom0";
	if (!libxl_defbool_is_default(disk->discard_enable) &&
	    !libxl_defbool_val(disk->discard_enable))
		return "no-discard: pvringd offers discard on every disk it serves";
	if (disk->specification == LIBXL_DISK_SPECIFICATION_VIRTIO)
		return "specification=virtio: pvringd serves Xen PV front ends";
	if (!disk->pdev_path || !*disk->pdev_path)
		return "no target";
	if (!disk->vdev)
		return "no vdev";
	return NULL;
}

/* The device number of a disk line's vdev, or -1 if it has none or not one of Xen's names. */
static long disk_devid(XLU_Config *cfg, const char *spec, libxl_device_disk *disk)
{
	long devid;

	if (xlu_disk_parse(cfg, 1, &spec, disk) || !disk->vdev ||
	    !pvring_vdev_parse(disk->vdev, &devid))
		return -1;
	return devid;
}

/* Read one line of a pvring disk key into d; 0, or -1 with the reason said. */
static int read_disk(XLU_Config *cfg, const char *config, const char *key, const char *spec,
		     struct xl_disk *d)
{
	libxl_device_disk disk;
	const char *why;
	int ret = -1;

	libxl_device_disk_init(&disk);
	d->spec = strdup(spec);
	/* libxlutil says what is wrong with the syntax itself, on stderr. */
	if (xlu_disk_parse(cfg, 1, &spec, &disk)) {
		say("%s: %s '%s': not an xl disk specification (see xl-disk-configuration(5))",
		    config, key, spec);
		goto out;
	}
	why = unsupported(&disk);
	if (why) {
		say("%s: %s '%s': %s", config, key, spec, why);
		goto out;
	}
	if (!pvring_vdev_parse(disk.vdev, &d->devid)) {
		say("%s: %s '%s': vdev %s is not a Xen disk name (xvda, xvdb, ..., xvdaa)", config,
		    key, spec, disk.vdev);
		goto out;
	}
	d->target = strdup(disk.pdev_path);
	d->vdev = strdup(disk.vdev);
	d->read_only = !disk.readwrite;
	if (!d->spec || !d->target || !d->vdev) {
		say("out of memory");
		goto out;
	}
	ret = 0;
out:
	libxl_device_disk_dispose(&disk);
	return ret;
}

/* Two disks of one guest on the same device number: refused here, before anything is created. */
static int check_vdevs(XLU_Config *cfg, const char *config, const struct xl_guest *g)
{
	XLU_ConfigList *list;
	int i, j, n;

	for (i = 0; i < g->nr_disks; i++)
		for (j = 0; j < i; j++)
			if (g->disks[i].devid == g->disks[j].devid) {
				say("%s: %s '%s' and %s '%s' are the same device", config,
				    g->disks[j].key, g->disks[j].spec, g->disks[i].key,
				    g->disks[i].spec);
				return -1;
			}
	if (xlu_cfg_get_list(cfg, "disk", &list, &n, 1))
		return 0;
	for (j = 0; j < n; j++) {
		const char *spec = xlu_cfg_get_listitem(list, j);
		libxl_device_disk disk;
		long devid;

		if (!spec)
			continue;
		libxl_device_disk_init(&disk);
		/* A line xl cannot read is xl's to report, when it reads it. */
		devid = disk_devid(cfg, spec, &disk);
		libxl_device_disk_dispose(&disk);
		for (i = 0; devid >= 0 && i < g->nr_disks; i++)
			if (g->disks[i].devid == devid) {
				say("%s: %s '%s' and disk '%s' are the same device", config,
				    g->disks[i].key, g->disks[i].spec, spec);
				return -1;
			}
	}
	return 0;
}

/* The file and the extra lines, read as xl reads them. 0, or -1 with the reason said. */
static int read_config(const struct opts *o, struct xl_guest *g)
{
	XLU_Config *cfg = xlu_cfg_init(stderr, o->config);
	XLU_ConfigList *list;
	const char *value;
	int i, n, ret = -1;
	size_t k;

	if (!cfg) {
		say("out of memory");
		return -1;
	}
	ret = xlu_cfg_readfile(cfg, o->config);
	if (ret) {
		/* An errno; a syntax error was reported by libxlutil above. */
		say("%s: cannot read it: %s", o->config, strerror(ret));
		ret = -1;
		goto out;
	}
	ret = -1;
	for (i = 0; i < o->nr_extra; i++) {
		if (!strchr(o->extra[i], '=')) {
			say("'%s': not a KEY=VALUE line", o->extra[i]);
			goto out;
		}
		if (xlu_cfg_readdata(cfg, o->extra[i], (int)strlen(o->extra[i]))) {
			say("'%s': not a configuration line xl reads", o->extra[i]);
			goto out;
		}
	}
	if (xlu_cfg_get_string(cfg, "name", &value, 1)) {
		say("%s: no name = \"...\": the domain needs a name", o->config);
		goto out;
	}
	g->name = strdup(value);
	/* xl's default for on_reboot is restart; a re-created domain gets none of our disks. */
	g->restarts_on_reboot =
		xlu_cfg_get_string(cfg, "on_reboot", &value, 1) || strstr(value, "restart") != NULL;
	if (xlu_cfg_get_string(cfg, PVRING_XL_DOORBELL_KEY, &value, 1) == 0) {
		uint64_t on;

		if (pvring_parse_u64(value, 1, &on)) {
			say("%s: %s must be 0 or 1, not \"%s\"", o->config, PVRING_XL_DOORBELL_KEY,
			    value);
			goto out;
		}
		g->doorbell = on;
	}
	for (k = 0; k < sizeof(disk_keys) / sizeof(disk_keys[0]); k++) {
		const char *key = disk_keys[k].key;
		struct xl_disk *more;

		if (xlu_cfg_get_list(cfg, key, &list, &n, 1)) {
			if (xlu_cfg_get_string(cfg, key, &value, 1) == 0) {
				say("%s: %s must be a list: %s = [ '...' ]", o->config, key, key);
				goto out;
			}
			continue;
		}
		if (n <= 0)
			continue;
		more = realloc(g->disks, ((size_t)g->nr_disks + (size_t)n) * sizeof(*g->disks));
		if (!more) {
			say("out of memory");
			goto out;
		}
		g->disks = more;
		for (i = 0; i < n; i++) {
			const char *spec = xlu_cfg_get_listitem(list, i);
			struct xl_disk *d = &g->disks[g->nr_disks];

			memset(d, 0, sizeof(*d));
			d->key = key;
			d->type = disk_keys[k].type;
			g->nr_disks++;
			if (!spec) {
				say("%s: %s entry %d is not a string", o->config, key, i + 1);
				goto out;
			}
			if (read_disk(cfg, o->config, key, spec, d))
				goto out;
		}
	}
	if (!g->name) {
		say("out of memory");
		goto out;
	}
	ret = check_vdevs(cfg, o->config, g);
out:
	xlu_cfg_destroy(cfg);
	return ret;
}

/*
 * Run xl with args (NULL-terminated, xl's own name first). Its exit status, or -1 if it could
 * not run. With output, its standard output is read into output (up to len - 1 bytes).
 */
static int run_xl(char *const args[], char *output, size_t len)
{
	posix_spawn_file_actions_t actions;
	int pipe_fds[2] = { -1, -1 }, status, err;
	size_t used = 0;
	pid_t pid;

	posix_spawn_file_actions_init(&actions);
	if (output) {
		if (pipe(pipe_fds)) {
			say("pipe: %s", strerror(errno));
			return -1;
		}
		posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
		posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
		posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
	}
	err = posix_spawnp(&pid, args[0], &actions, NULL, args, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (output) {
		close(pipe_fds[1]);
		while (!err && used + 1 < len) {
			ssize_t r = read(pipe_fds[0], output + used, len - 1 - used);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			used += (size_t)r;
		}
		output[used] = '\0';
		close(pipe_fds[0]);
	}
	if (err) {
		say("cannot run %s: %s", args[0], strerror(err));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The domain id xl gave name, or -1 with the reason said. */
static long domain_id(const char *name)
{
	char out[32], *args[] = { "xl", "domid", (char *)name, NULL };
	uint64_t domid;
	size_t len;

	if (run_xl(args, out, sizeof(out)))
		return -1;
	len = strlen(out);
	while (len && out[len - 1] == '\n')
		out[--len] = '\0';
	if (pvring_parse_u64(out, INT32_MAX, &domid)) {
		say("xl domid %s said '%s', not a domain id", name, out);
		return -1;
	}
	return (long)domid;
}

static void destroy(const char *domid)
{
	char *args[] = { "xl", "destroy", (char *)domid, NULL };

	say("destroying domain %s", domid);
	run_xl(args, NULL, 0);
}

/* A signal that would kill pvring-xl half-way: noted, and the domain it created goes. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static void catch_stop_signals(void)
{
	static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = on_stop_signal };
	size_t i;

	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaction(signals[i], &sa, NULL);
}

/* Whether a signal came; if so the domain (if any) is destroyed and that is said. */
static bool stopped(const char *domain)
{
	if (!stop_signal)
		return false;
	say("stopped by signal %d", (int)stop_signal);
	if (domain)
		destroy(domain);
	return true;
}

/* One line per disk given (or, with -n, to be given): "NAME: VDEV TARGET (rw[, pvblk])". */
static void print_disk(const struct xl_guest *g, const struct xl_disk *d)
{
	printf("%s: %s %s (%s%s%s)\n", g->name, d->vdev, d->target, d->read_only ? "ro" : "rw",
	       d->type ? ", " : "", d->type ? d->type : "");
}

/* Attach every disk; 0, or the exit code with the reason said. */
static int attach_disks(const struct opts *o, const struct xl_guest *g, long domid)
{
	struct pvring_ctl_client *c;
	char err[512];
	int i, ret = 0;

	c = pvring_ctl_client_connect(o->socket, err, sizeof(err));
	if (!c) {
		say("%s", err);
		return EXIT_UNREACHABLE;
	}
	for (i = 0; i < g->nr_disks && !ret && !stop_signal; i++) {
		const struct xl_disk *d = &g->disks[i];
		struct json_object *req, *reply = NULL;
		enum pvring_ctl_status st;

		req = pvring_ctl_attach_request(d->target, domid, d->devid, d->read_only, d->type);
		if (!req) {
			say("out of memory");
			ret = EXIT_REFUSED;
			break;
		}
		st = pvring_ctl_client_call(c, req, o->timeout_ms, &reply, err, sizeof(err));
		json_object_put(req);
		json_object_put(reply);
		if (st == PVRING_CTL_OK) {
			print_disk(g, d);
			continue;
		}
		say("%s: pvringd did not attach %s as %s: %s", g->name, d->target, d->vdev, err);
		ret = st == PVRING_CTL_FAILED ? EXIT_REFUSED : EXIT_UNREACHABLE;
	}
	pvring_ctl_client_close(c);
	return ret;
}

/* xl create -p, with the options and extra lines pvring-xl was given. */
static int xl_create_paused(const struct opts *o)
{
	char **args = calloc((size_t)o->nr_extra + 6, sizeof(*args));
	int i, n = 0, ret;

	if (!args) {
		say("out of memory");
		return -1;
	}
	args[n++] = "xl";
	args[n++] = "create";
	if (o->quiet)
		args[n++] = "-q";
	args[n++] = "-p";
	args[n++] = (char *)o->config;
	for (i = 0; i < o->nr_extra; i++)
		args[n++] = o->extra[i];
	args[n] = NULL;
	ret = run_xl(args, NULL, 0);
	free(args);
	return ret;
}

/* xl restore -p CONFIG SAVEFILE: xl takes no -q and no extra lines here. */
static int xl_restore_paused(const struct opts *o)
{
	char *args[] = { "xl", "restore", "-p", (char *)o->config, (char *)o->savefile, NULL };

	return run_xl(args, NULL, 0);
}

/* Whether pvringd serves one of g's disks to a domain other than domid. */
static bool disks_held_elsewhere(const struct opts *o, const struct xl_guest *g, long domid)
{
	struct json_object *req = json_object_new_object(), *reply = NULL, *devices, *v;
	char err[256], **paths = calloc((size_t)g->nr_disks + 1, sizeof(*paths));
	struct pvring_ctl_client *c = NULL;
	bool held = false;
	size_t i;
	int j;

	if (!req || !paths)
		goto out;
	c = pvring_ctl_client_connect(o->socket, err, sizeof(err));
	if (!c)
		goto out;
	json_object_object_add(req, "cmd", json_object_new_string("list"));
	if (pvring_ctl_client_call(c, req, o->timeout_ms, &reply, err, sizeof(err)) !=
		    PVRING_CTL_OK ||
	    !json_object_object_get_ex(reply, "devices", &devices))
		goto out;
	/* pvringd names an image by its real path; a configured disk by its name. */
	for (j = 0; j < g->nr_disks; j++)
		paths[j] = realpath(g->disks[j].target, NULL);
	for (i = 0; i < json_object_array_length(devices) && !held; i++) {
		struct json_object *dev = json_object_array_get_idx(devices, i);
		const char *image = "", *disk = "";

		if (json_object_object_get_ex(dev, "domid", &v) &&
		    json_object_get_int64(v) == domid)
			continue;
		if (json_object_object_get_ex(dev, "image", &v))
			image = json_object_get_string(v);
		if (json_object_object_get_ex(dev, "disk", &v))
			disk = json_object_get_string(v);
		for (j = 0; j < g->nr_disks && !held; j++)
			held = !strcmp(disk, g->disks[j].target) ||
			       (paths[j] && !strcmp(image, paths[j]));
	}
out:
	for (j = 0; paths && j < g->nr_disks; j++)
		free(paths[j]);
	free(paths);
	json_object_put(req);
	json_object_put(reply);
	if (c)
		pvring_ctl_client_close(c);
	return held;
}

/*
 * After xl save the saved domain's devices go once pvringd has finished their requests in
 * flight; a write of the old domain landing after the restored guest wrote the same blocks
 * again would undo it. So a restore attaches only once no other domain holds the disks, or -t
 * has passed (pvringd then refuses a disk still in use, and says so).
 */
static void wait_disks_released(const struct opts *o, const struct xl_guest *g, long domid)
{
	int waited_ms;

	for (waited_ms = 0; waited_ms < o->timeout_ms && !stop_signal; waited_ms += 100) {
		if (!disks_held_elsewhere(o, g, domid))
			return;
		usleep(100 * 1000);
	}
}

static int create(const struct opts *o, const struct xl_guest *g)
{
	char domid_text[24], err[512];
	struct pvring_ctl_client *c;
	long domid;
	int ret;

	/* Before creating anything: a missing pvringd is said at once and leaves no domain. */
	c = pvring_ctl_client_connect(o->socket, err, sizeof(err));
	if (!c) {
		say("%s", err);
		return EXIT_UNREACHABLE;
	}
	pvring_ctl_client_close(c);
	if (g->nr_disks && g->restarts_on_reboot)
		say("warning: on_reboot is restart: xl re-creates %s without its %s disks; set "
		    "on_reboot = \"destroy\" and start it again with pvring-xl",
		    g->name, PVRING_XL_DISK_KEY);
	catch_stop_signals();
	ret = o->restore ? xl_restore_paused(o) : xl_create_paused(o);
	if (ret) {
		say("xl %s %s failed%s", o->restore ? "restore" : "create",
		    o->restore ? o->savefile : o->config, ret > 0 ? " (its reason is above)" : "");
		/* Whatever xl left of it: destroying a name that does not exist does no harm. */
		if (stopped(g->name))
			return EXIT_SIGNAL;
		return EXIT_REFUSED;
	}
	domid = domain_id(g->name);
	if (domid < 0) {
		destroy(g->name);
		return EXIT_REFUSED;
	}
	snprintf(domid_text, sizeof(domid_text), "%ld", domid);
	if (stopped(domid_text))
		return EXIT_SIGNAL;
	if (o->restore)
		wait_disks_released(o, g, domid);
	ret = attach_disks(o, g, domid);
	if (stopped(domid_text))
		return EXIT_SIGNAL;
	if (ret) {
		/* pvringd lets go of the disks it did attach when the domain goes. */
		destroy(domid_text);
		return ret;
	}
	if (g->doorbell) {
		const char *reason = "";

		/* Before the guest runs: it reads CPUID once, when its driver starts. */
		if (pvring_doorbell_enable((uint32_t)domid, &reason)) {
			say("cannot turn the doorbell on for domain %s: %s", domid_text, reason);
			destroy(domid_text);
			return EXIT_REFUSED;
		}
	}
	if (o->paused)
		return 0;
	{
		char *unpause[] = { "xl", "unpause", domid_text, NULL };

		if (run_xl(unpause, NULL, 0)) {
			say("xl unpause %s failed; the domain is left paused", domid_text);
			return EXIT_REFUSED;
		}
	}
	if (o->console) {
		fflush(stdout);
		execlp("xl", "xl", "console", domid_text, (char *)NULL);
		say("cannot run xl console: %s", strerror(errno));
		return EXIT_REFUSED;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .socket = pvring_ctl_socket_path(), .timeout_ms = PVRING_CTL_TIMEOUT_MS };
	struct xl_guest g = { 0 };
	int opt, ret, i;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "create") && strcmp(argv[1], "restore"))) {
		usage(stderr);
		return EXIT_USAGE;
	}
	o.restore = !strcmp(argv[1], "restore");
	argv++;
	argc--;
	while ((opt = getopt_long(argc, argv, "+pcnqs:t:h", long_options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			o.paused = true;
			break;
		case 'c':
			o.console = true;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'q':
			o.quiet = true;
			break;
		case 's':
			o.socket = optarg;
			break;
		case 't': {
			uint64_t seconds;

			if (pvring_parse_u64(optarg, 3600, &seconds) || !seconds) {
				say("-t %s: want 1..3600 seconds", optarg);
				return EXIT_USAGE;
			}
			o.timeout_ms = (int)seconds * 1000;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		say("%s: which configuration file?", o.restore ? "restore" : "create");
		return EXIT_USAGE;
	}
	o.config = argv[optind];
	if (o.restore) {
		/* The disks are listed only in the configuration: the save file does not hold them.
		 */
		if (argc - optind != 2) {
			say("restore: want CONFIG SAVEFILE");
			return EXIT_USAGE;
		}
		if (o.quiet) {
			say("restore: xl restore takes no -q");
			return EXIT_USAGE;
		}
		o.savefile = argv[optind + 1];
	} else {
		o.extra = argv + optind + 1;
		o.nr_extra = argc - optind - 1;
	}
	if (read_config(&o, &g)) {
		guest_free(&g);
		return EXIT_USAGE;
	}
	if (o.dry_run) {
		for (i = 0; i < g.nr_disks; i++)
			print_disk(&g, &g.disks[i]);
		if (g.doorbell)
			printf("doorbell on\n");
		ret = 0;
	} else {
		ret = create(&o, &g);
	}
	guest_free(&g);
	return ret;
}
