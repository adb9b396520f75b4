// SPDX-License-Identifier: MIT
/*
 * pvring-xl: create, restore or migrate an xl domain whose configuration also lists pvringd disks.
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
 *
 * `pvring-xl migrate` moves such a domain to another host whose pvringd reaches the same storage:
 * `xl migrate -p` leaves it paused there, without its pvring disks (xl's saved configuration has
 * no pvring keys); once the pvringd here has let go of them, `pvring-xl migrate-finish` on that
 * host, over the same ssh, attaches them and unpauses it. Neither destroys anything: after the
 * move the paused domain is the only copy.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* An xl configuration is a few kilobytes; more on standard input is something else. */
#define PVRING_XL_CONFIG_MAX (1 << 20)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
/* What a migrate HOST may hold: a name, user@name, an address or [v6%if] (see main). */
#define HOST_CHARS ALNUM "._@:%[]-"
/* What a shell takes as it is in a word that is not the command's first. */
#define SHELL_PLAIN ALNUM "%+,-./:=@_"

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
	char *text; /* the configuration file's bytes, as read: migrate sends them on */
	size_t text_len;
	char *name;
	bool restarts_on_reboot;
	bool doorbell; /* pvring_doorbell = 1: turn the hypervisor's doorbell on */
	struct xl_disk *disks;
	int nr_disks;
};

enum command { CMD_CREATE, CMD_RESTORE, CMD_MIGRATE, CMD_MIGRATE_FINISH };

/* Each command: its options, how many arguments it takes and what it says when they are wrong. */
static const struct {
	const char *name;
	const char *optstring;
	int min_args, max_args;
	const char *want;
} commands[] = {
	[CMD_CREATE] = { "create", "+pcnqs:t:h", 1, INT_MAX, "which configuration file?" },
	[CMD_RESTORE] = { "restore", "+pcnqs:t:h", 2, 2, "want CONFIG SAVEFILE" },
	[CMD_MIGRATE] = { "migrate", "+nS:s:t:h", 2, 2, "want CONFIG HOST" },
	[CMD_MIGRATE_FINISH] = { "migrate-finish", "+pns:t:h", 1, 1,
				 "want CONFIG, or - for standard input" },
};

struct opts {
	enum command cmd;
	bool paused, console, dry_run, quiet;
	int timeout_ms; /* for each call to pvringd */
	const char *socket;
	const char *config; /* the file; migrate-finish: "-" is standard input */
	const char *config_name; /* config, as messages name it */
	bool from_stdin; /* migrate-finish -: the configuration comes on standard input */
	const char *savefile; /* restore: what xl save wrote */
	const char *ssh; /* migrate: what reaches host, as xl migrate -s takes it */
	const char *host; /* migrate: where the domain goes */
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
		"       pvring-xl migrate [-n] [-S SSHCMD] [-s SOCKET] [-t SEC] CONFIG HOST\n"
		"       pvring-xl migrate-finish [-p] [-n] [-s SOCKET] [-t SEC] CONFIG|-\n"
		"Create an xl domain (or restore one that xl save wrote) and give it the pvringd\n"
		"disks its configuration lists, in xl's disk syntax (xl-disk-configuration(5)),\n"
		"before it runs: \"" PVRING_XL_DISK_KEY
		"\" for the guest's blkfront (vbd), \"" PVRING_XL_PVBLK_DISK_KEY "\"\n"
		"for pvring's pvblk module. \"" PVRING_XL_DOORBELL_KEY
		" = 1\" turns on the port-I/O\n"
		"doorbell of a patched Xen for an HVM or PVH guest before it runs. A restore\n"
		"takes the configuration the domain was created with: the save file does not\n"
		"hold these keys, and Xen does not keep the doorbell across a save.\n"
		"migrate moves the domain CONFIG names to HOST with xl migrate -p, waits until\n"
		"the pvringd here has let go of its disks (they must be on storage both hosts\n"
		"reach: rbd:, nbd:, or a file both see), then runs migrate-finish on HOST over\n"
		"SSHCMD with CONFIG on its standard input (-): that attaches the disks to the\n"
		"paused domain and unpauses it.\n"
		"  -p          leave the domain paused\n"
		"  -c          create, restore: attach to its console once it runs\n"
		"  -n          check the configuration and print what would be attached; create "
		"nothing\n"
		"  -q          pass -q to xl create\n"
		"  -S SSHCMD   migrate: what reaches HOST, as xl migrate -s takes it (default "
		"ssh)\n"
		"  -s SOCKET   pvringd's control socket (default $%s, else %s)\n"
		"  -t SEC      how long each call may take pvringd (default %d); on restore\n"
		"              and migrate, also how long to wait in all for the old domain's\n"
		"              disks to be let go\n"
		"Exit: 0 created; 1 refused or xl failed; 2 usage or configuration (nothing\n"
		"created); 3 cannot reach pvringd; 130 stopped by a signal. A domain created and\n"
		"not given all its disks is destroyed (a save file stays as it was). migrate and\n"
		"migrate-finish destroy nothing: a migrated domain is the only copy, so one not\n"
		"finished is left paused, and they say how to finish it. Once xl migrate has\n"
		"succeeded, migrate exits 0, 1 or 130: 2 and 3 mean that nothing was moved.\n",
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
	free(g->text);
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

/*
 * The configuration's bytes into g->text: the file, or standard input for migrate-finish's "-".
 * 0, or -1 with the reason said.
 */
static int read_text(const struct opts *o, struct xl_guest *g)
{
	int fd = o->from_stdin ? STDIN_FILENO : open(o->config, O_RDONLY | O_CLOEXEC);
	size_t size = 0;
	int ret = -1;

	if (fd < 0) {
		say("%s: cannot read it: %s", o->config_name, strerror(errno));
		return -1;
	}
	while (g->text_len <= PVRING_XL_CONFIG_MAX) {
		ssize_t r;

		if (g->text_len == size) {
			char *more;

			/* One byte past the limit: a file of exactly the limit still fits. */
			size = size ? 2 * size : 4096;
			if (size > PVRING_XL_CONFIG_MAX + 1)
				size = PVRING_XL_CONFIG_MAX + 1;
			more = realloc(g->text, size);
			if (!more) {
				say("out of memory");
				break;
			}
			g->text = more;
		}
		r = read(fd, g->text + g->text_len, size - g->text_len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			say("%s: cannot read it: %s", o->config_name, strerror(errno));
			break;
		}
		if (r == 0) {
			ret = 0;
			break;
		}
		g->text_len += (size_t)r;
	}
	if (!o->from_stdin)
		close(fd);
	if (g->text_len > PVRING_XL_CONFIG_MAX)
		say("%s: more than %d bytes: not an xl configuration", o->config_name,
		    PVRING_XL_CONFIG_MAX);
	return ret;
}

/*
 * The file and the extra lines, read as xl reads them: xl, too, reads the whole file and parses
 * it with xlu_cfg_readdata. 0, or -1 with the reason said.
 */
static int read_config(const struct opts *o, struct xl_guest *g)
{
	XLU_Config *cfg = xlu_cfg_init(stderr, o->config_name);
	XLU_ConfigList *list;
	const char *value;
	int i, n, e, ret = -1;
	size_t k;

	if (!cfg) {
		say("out of memory");
		return -1;
	}
	if (read_text(o, g))
		goto out;
	/* EINVAL: a syntax error, which libxlutil said where and what of, above; else an errno. */
	e = xlu_cfg_readdata(cfg, g->text, (int)g->text_len);
	if (e) {
		say("%s: %s", o->config_name,
		    e == EINVAL ? "not a configuration xl reads" : strerror(e));
		goto out;
	}
	for (i = 0; i < o->nr_extra; i++) {
		if (!strchr(o->extra[i], '=')) {
			say("'%s': not a KEY=VALUE line", o->extra[i]);
			goto out;
		}
		e = xlu_cfg_readdata(cfg, o->extra[i], (int)strlen(o->extra[i]));
		if (e) {
			say("'%s': %s", o->extra[i],
			    e == EINVAL ? "not a configuration line xl reads" : strerror(e));
			goto out;
		}
	}
	if (xlu_cfg_get_string(cfg, "name", &value, 1)) {
		say("%s: no name = \"...\": the domain needs a name", o->config_name);
		goto out;
	}
	g->name = strdup(value);
	/* xl's default for on_reboot is restart; a re-created domain gets none of our disks. */
	g->restarts_on_reboot =
		xlu_cfg_get_string(cfg, "on_reboot", &value, 1) || strstr(value, "restart") != NULL;
	if (xlu_cfg_get_string(cfg, PVRING_XL_DOORBELL_KEY, &value, 1) == 0) {
		uint64_t on;

		if (pvring_parse_u64(value, 1, &on)) {
			say("%s: %s must be 0 or 1, not \"%s\"", o->config_name,
			    PVRING_XL_DOORBELL_KEY, value);
			goto out;
		}
		g->doorbell = on;
	}
	for (k = 0; k < ARRAY_SIZE(disk_keys); k++) {
		const char *key = disk_keys[k].key;
		struct xl_disk *more;

		if (xlu_cfg_get_list(cfg, key, &list, &n, 1)) {
			if (xlu_cfg_get_string(cfg, key, &value, 1) == 0) {
				say("%s: %s must be a list: %s = [ '...' ]", o->config_name, key,
				    key);
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
				say("%s: %s entry %d is not a string", o->config_name, key, i + 1);
				goto out;
			}
			if (read_disk(cfg, o->config_name, key, spec, d))
				goto out;
		}
	}
	if (!g->name) {
		say("out of memory");
		goto out;
	}
	ret = check_vdevs(cfg, o->config_name, g);
out:
	xlu_cfg_destroy(cfg);
	return ret;
}

/* SIGPIPE ignored: a write to a reader that has gone fails with EPIPE instead of killing us. */
static void ignore_sigpipe(struct sigaction *old)
{
	struct sigaction ignore = { .sa_handler = SIG_IGN };

	sigemptyset(&ignore.sa_mask);
	sigaction(SIGPIPE, &ignore, old);
}

/*
 * fd, or if it is target a close-on-exec copy of it at 3 or above (fd is closed): in the child, a
 * dup2 of fd onto itself would leave it close-on-exec, and the program would start without it.
 * -1 if no copy could be made.
 */
static int other_than(int fd, int target)
{
	int copy;

	if (fd != target)
		return fd;
	copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return copy;
}

/*
 * Run args (NULL-terminated, the program's name first, looked up in PATH). Its exit status, or -1
 * if it could not run. With input, that is written to its standard input, which is then closed;
 * with output, its standard output is read into output (up to len - 1 bytes); not both.
 */
static int run_program(char *const args[], const char *input, size_t input_len, char *output,
		       size_t len)
{
	/* The one pipe, if any: the child's end (fds[child]) becomes its fd target. */
	int fds[2] = { -1, -1 }, child = input ? 0 : 1,
	    target = input ? STDIN_FILENO : STDOUT_FILENO;
	bool piped = input || output;
	posix_spawn_file_actions_t actions;
	int status, err;
	size_t used = 0;
	pid_t pid;

	/*
	 * Both ends close-on-exec, so the dup2 is the only action: with standard input or output
	 * closed when pvring-xl started, an end can be fd 0 or 1, which a close would undo.
	 */
	if (piped && (pipe2(fds, O_CLOEXEC) || (fds[child] = other_than(fds[child], target)) < 0)) {
		say("pipe: %s", strerror(errno));
		if (fds[!child] >= 0)
			close(fds[!child]);
		return -1;
	}
	posix_spawn_file_actions_init(&actions);
	if (piped)
		posix_spawn_file_actions_adddup2(&actions, fds[child], target);
	err = posix_spawnp(&pid, args[0], &actions, NULL, args, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (piped)
		close(fds[child]);
	if (input) {
		struct sigaction old;
		size_t done = 0;

		/* A program that goes before reading it all must not take pvring-xl with it. */
		ignore_sigpipe(&old);
		while (!err && done < input_len) {
			ssize_t w = write(fds[1], input + done, input_len - done);

			if (w < 0 && errno == EINTR)
				continue;
			/* EPIPE: its exit status says why. */
			if (w < 0)
				break;
			done += (size_t)w;
		}
		close(fds[1]);
		sigaction(SIGPIPE, &old, NULL);
	}
	if (output) {
		while (!err && used + 1 < len) {
			ssize_t r = read(fds[0], output + used, len - 1 - used);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			used += (size_t)r;
		}
		output[used] = '\0';
		close(fds[0]);
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

/* The domain id xl gave name, or -1 (what xl said is above, or the reason is said). */
static long domain_id(const char *name)
{
	char out[32], *args[] = { "xl", "domid", (char *)name, NULL };
	uint64_t domid;
	size_t len;

	if (run_program(args, NULL, 0, out, sizeof(out)))
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
	run_program(args, NULL, 0, NULL, 0);
}

/* 0, or EXIT_REFUSED with the reason said. */
static int unpause(const char *domid)
{
	char *args[] = { "xl", "unpause", (char *)domid, NULL };

	if (run_program(args, NULL, 0, NULL, 0)) {
		say("xl unpause %s failed; the domain is left paused", domid);
		return EXIT_REFUSED;
	}
	return 0;
}

/*
 * A signal that would kill pvring-xl half-way: noted, and the domain it created goes (migrate
 * and migrate-finish instead say what is left to do).
 */
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
	for (i = 0; i < ARRAY_SIZE(signals); i++)
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

/* A connection to pvringd, or NULL with the reason said. */
static struct pvring_ctl_client *connect_pvringd(const struct opts *o)
{
	struct pvring_ctl_client *c;
	char err[512];

	c = pvring_ctl_client_connect(o->socket, err, sizeof(err));
	if (!c)
		say("%s", err);
	return c;
}

/* Whether pvringd answers on its socket (if not, that is said). */
static bool pvringd_reachable(const struct opts *o)
{
	struct pvring_ctl_client *c = connect_pvringd(o);

	if (!c)
		return false;
	pvring_ctl_client_close(c);
	return true;
}

/* pvringd's devices, in *reply for the caller to put; 0, or -1 with the reason in err. */
static int list_devices(struct pvring_ctl_client *c, int timeout_ms, struct json_object **reply,
			struct json_object **devices, char *err, size_t err_len)
{
	struct json_object *req = json_object_new_object();
	enum pvring_ctl_status st;

	*reply = NULL;
	if (!req) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	json_object_object_add(req, "cmd", json_object_new_string("list"));
	st = pvring_ctl_client_call(c, req, timeout_ms, reply, err, err_len);
	json_object_put(req);
	if (st != PVRING_CTL_OK)
		return -1;
	if (!json_object_object_get_ex(*reply, "devices", devices)) {
		snprintf(err, err_len, "pvringd's list has no devices");
		return -1;
	}
	return 0;
}

static const char *string_of(struct json_object *dev, const char *key)
{
	struct json_object *v;
	const char *s = NULL;

	if (json_object_object_get_ex(dev, key, &v))
		s = json_object_get_string(v);
	return s ? s : "";
}

static long long number_of(struct json_object *dev, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(dev, key, &v) ? (long long)json_object_get_int64(v)
						       : LLONG_MIN;
}

/*
 * The first of pvringd's devices that serves d, or NULL: to domain domid as device devid or, with
 * devid -1, to any domain but domid (-1: to any domain at all).
 */
static struct json_object *served(struct json_object *devices, const struct xl_disk *d, long domid,
				  long devid)
{
	/*
	 * pvringd names a configured disk by its name, an image file by its real path and an rbd:
	 * or nbd: image by the name as given; only a path is resolved, as pvringd resolves it.
	 */
	char *path = d->target[0] == '/' ? realpath(d->target, NULL) : NULL;
	const char *image = path ? path : d->target;
	struct json_object *found = NULL;
	size_t i;

	for (i = 0; i < json_object_array_length(devices) && !found; i++) {
		struct json_object *dev = json_object_array_get_idx(devices, i);
		bool same_domain = number_of(dev, "domid") == domid;

		if (devid < 0 ? same_domain : !same_domain || number_of(dev, "devid") != devid)
			continue;
		if (!strcmp(string_of(dev, "disk"), d->target) ||
		    !strcmp(string_of(dev, "image"), image))
			found = dev;
	}
	free(path);
	return found;
}

/*
 * Attach every disk; 0, or the exit code with the reason said. migrate-finish skips a disk pvringd
 * already serves to the domain as that device: a second run finishes what a first one began.
 */
static int attach_disks(const struct opts *o, const struct xl_guest *g, long domid)
{
	struct json_object *list = NULL, *given = NULL;
	struct pvring_ctl_client *c;
	char err[512];
	int i, ret = 0;

	c = connect_pvringd(o);
	if (!c)
		return EXIT_UNREACHABLE;
	if (o->cmd == CMD_MIGRATE_FINISH &&
	    list_devices(c, o->timeout_ms, &list, &given, err, sizeof(err))) {
		say("cannot list pvringd's devices: %s", err);
		ret = EXIT_UNREACHABLE;
	}
	for (i = 0; i < g->nr_disks && !ret && !stop_signal; i++) {
		const struct xl_disk *d = &g->disks[i];
		struct json_object *req, *reply = NULL;
		enum pvring_ctl_status st;

		if (given && served(given, d, domid, d->devid)) {
			print_disk(g, d);
			continue;
		}
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
	json_object_put(list);
	pvring_ctl_client_close(c);
	return ret;
}

/* Attach every disk, then the doorbell if asked; 0, or the exit code with the reason said. */
static int give_disks(const struct opts *o, const struct xl_guest *g, long domid)
{
	const char *reason = "";
	int ret = attach_disks(o, g, domid);

	if (ret || stop_signal || !g->doorbell)
		return ret;
	/* Before the guest runs: it reads CPUID once, when its driver starts. */
	if (pvring_doorbell_enable((uint32_t)domid, &reason)) {
		say("cannot turn the doorbell on for domain %ld: %s", domid, reason);
		return EXIT_REFUSED;
	}
	return 0;
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
	ret = run_program(args, NULL, 0, NULL, 0);
	free(args);
	return ret;
}

/* xl restore -p CONFIG SAVEFILE: xl takes no -q and no extra lines here. */
static int xl_restore_paused(const struct opts *o)
{
	char *args[] = { "xl", "restore", "-p", (char *)o->config, (char *)o->savefile, NULL };

	return run_program(args, NULL, 0, NULL, 0);
}

/*
 * The first of pvringd's devices a wait is for, or NULL: with g (restore), one serving one of g's
 * disks to a domain but domid; without (migrate), any device of domain domid.
 */
static struct json_object *holding(struct json_object *devices, const struct xl_guest *g,
				   long domid)
{
	struct json_object *dev;
	size_t i;
	int k;

	if (g) {
		for (k = 0, dev = NULL; k < g->nr_disks && !dev; k++)
			dev = served(devices, &g->disks[k], domid, -1);
		return dev;
	}
	for (i = 0; i < json_object_array_length(devices); i++) {
		dev = json_object_array_get_idx(devices, i);
		if (number_of(dev, "domid") == domid)
			return dev;
	}
	return NULL;
}

/*
 * Ask pvringd once, giving it timeout_ms, which device a wait is for (see holding): 0 with *held
 * that device (for the caller to put) or NULL, or -1 if it could not be asked (the reason in err).
 */
static int ask_holding(const struct opts *o, const struct xl_guest *g, long domid, int timeout_ms,
		       struct json_object **held, char *err, size_t err_len)
{
	struct json_object *reply, *devices;
	struct pvring_ctl_client *c;
	int ret = -1;

	*held = NULL;
	c = pvring_ctl_client_connect(o->socket, err, err_len);
	if (!c)
		return -1;
	if (!list_devices(c, timeout_ms, &reply, &devices, err, err_len)) {
		/* Its own reference: the list it is in goes with the reply. */
		*held = json_object_get(holding(devices, g, domid));
		ret = 0;
	}
	json_object_put(reply);
	pvring_ctl_client_close(c);
	return ret;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The old domain's devices go once pvringd has finished their requests in flight, after xl save
 * or xl migrate; a write of the old domain landing after the new one wrote the same blocks again
 * would undo it. So wait (up to -t in all, asking every 100 ms) until pvringd has no device the
 * wait is for (see holding): 0 then; 1 if it still had one at the end, in *held for the caller to
 * put; -1 if it could not be asked the last time (the reason in err). With patient, a pvringd
 * that cannot be asked is asked again, else that ends the wait; a signal ends it, too.
 */
static int wait_released(const struct opts *o, const struct xl_guest *g, long domid, bool patient,
			 struct json_object **held, char *err, size_t err_len)
{
	long long deadline = now_ms() + o->timeout_ms, left;
	int ret;

	for (;;) {
		/* Each call gets only what is left of -t, so the wait ends when -t says. */
		left = deadline - now_ms();
		ret = ask_holding(o, g, domid, left > 100 ? (int)left : 100, held, err, err_len);
		if (!ret && !*held)
			return 0;
		if ((ret && !patient) || stop_signal || now_ms() >= deadline)
			return ret ? -1 : 1;
		json_object_put(*held);
		usleep(100 * 1000);
	}
}

/* xl re-creates a domain that reboots by itself, from the configuration it kept: without these. */
static void warn_on_reboot(const struct xl_guest *g)
{
	if (g->nr_disks && g->restarts_on_reboot)
		say("warning: on_reboot is restart: xl re-creates %s without its %s disks; set "
		    "on_reboot = \"destroy\" and start it again with pvring-xl",
		    g->name, PVRING_XL_DISK_KEY);
}

static int create(const struct opts *o, const struct xl_guest *g)
{
	bool restore = o->cmd == CMD_RESTORE;
	char domid_text[24], err[512];
	long domid;
	int ret;

	/* Before creating anything: a missing pvringd is said at once and leaves no domain. */
	if (!pvringd_reachable(o))
		return EXIT_UNREACHABLE;
	warn_on_reboot(g);
	catch_stop_signals();
	ret = restore ? xl_restore_paused(o) : xl_create_paused(o);
	if (ret) {
		say("xl %s %s failed%s", restore ? "restore" : "create",
		    restore ? o->savefile : o->config, ret > 0 ? " (its reason is above)" : "");
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
	/* Attaching says why, if pvringd cannot be asked or still holds a disk after -t. */
	if (restore) {
		struct json_object *held;

		wait_released(o, g, domid, false, &held, err, sizeof(err));
		json_object_put(held);
	}
	ret = give_disks(o, g, domid);
	if (stopped(domid_text))
		return EXIT_SIGNAL;
	if (ret) {
		/* pvringd lets go of the disks it did attach when the domain goes. */
		destroy(domid_text);
		return ret;
	}
	if (o->paused)
		return 0;
	ret = unpause(domid_text);
	if (ret || !o->console)
		return ret;
	fflush(stdout);
	execlp("xl", "xl", "console", domid_text, (char *)NULL);
	say("cannot run xl console: %s", strerror(errno));
	return EXIT_REFUSED;
}

static int timeout_s(const struct opts *o)
{
	return o->timeout_ms / 1000;
}

/*
 * s as one word for a shell, malloc'd: as it is if a shell takes it so, else in single quotes
 * (each ' in it as '\''). NULL if out of memory.
 */
static char *shell_word(const char *s)
{
	char *word, *w;
	size_t i, len;

	if (*s && strspn(s, SHELL_PLAIN) == strlen(s))
		return strdup(s);
	for (i = 0, len = 2; s[i]; i++)
		len += s[i] == '\'' ? 4 : 1;
	word = malloc(len + 1);
	if (!word)
		return NULL;
	w = word;
	*w++ = '\'';
	for (i = 0; s[i]; i++)
		if (s[i] == '\'') {
			memcpy(w, "'\\''", 4);
			w += 4;
		} else {
			*w++ = s[i];
		}
	*w++ = '\'';
	*w = '\0';
	return word;
}

/* path made absolute, malloc'd: resolved if it can be, else joined to the working directory. */
static char *absolute_path(const char *path)
{
	char *abs = realpath(path, NULL), *cwd;

	if (abs || path[0] == '/')
		return abs ? abs : strdup(path);
	cwd = getcwd(NULL, 0);
	if (!cwd || asprintf(&abs, "%s/%s", cwd, path) < 0)
		abs = NULL;
	free(cwd);
	return abs;
}

/* The command migrate runs on host (and a person may run by hand), after SSHCMD HOST. */
#define FINISH_COMMAND "pvring-xl migrate-finish -t %d -"

/*
 * The domain xl moved waits on host, paused and without its disks: how to finish it from here,
 * runnable as printed (CONFIG absolute, since it may be run from elsewhere).
 */
static void say_how_to_finish(const struct opts *o)
{
	char *path = absolute_path(o->config);
	char *config = shell_word(path ? path : o->config), *host = shell_word(o->host);

	say("finish it there with pvring-xl migrate-finish and this configuration, e.g. from here: "
	    "%s %s " FINISH_COMMAND " <%s",
	    o->ssh, host ? host : o->host, timeout_s(o), config ? config : o->config);
	free(host);
	free(config);
	free(path);
}

/* Where the domain xl moved is left, and how to finish it. */
static void say_left_on_host(const struct opts *o, const struct xl_guest *g)
{
	say("%s is left paused on %s", g->name, o->host);
	say_how_to_finish(o);
}

/* Whether a signal came once xl moved the domain; if so, that and how to finish it are said. */
static bool stopped_after_move(const struct opts *o, const struct xl_guest *g)
{
	if (!stopped(NULL))
		return false;
	say_left_on_host(o, g);
	return true;
}

/*
 * pvring-xl migrate-finish on host, over the same ssh command, with the configuration on stdin.
 * Once xl has moved the domain, 2 and 3 would say that nothing was: any failure here is 1.
 */
static int finish_on_host(const struct opts *o, const struct xl_guest *g)
{
	char *script = NULL, *args[] = { "sh", "-c", NULL, "sh", (char *)o->host, NULL };
	int ret = -1;

	/* sh splits the ssh command as xl migrate's sh does; the host stays one word, as $1. */
	if (asprintf(&script, "exec %s \"$1\" " FINISH_COMMAND, o->ssh, timeout_s(o)) < 0) {
		script = NULL;
		say("out of memory");
	} else {
		args[2] = script;
		fflush(stdout);
		ret = run_program(args, g->text, g->text_len, NULL, 0);
	}
	free(script);
	/* Finished: a signal that came meanwhile undoes nothing of that. */
	if (!ret)
		return 0;
	if (stopped_after_move(o, g))
		return EXIT_SIGNAL;
	say("finishing on %s failed (exit %d%s): %s is paused there", o->host, ret,
	    ret == 255 ? ": the ssh command failed" : "", g->name);
	say_how_to_finish(o);
	return EXIT_REFUSED;
}

/* xl migrate failed with status ret (-1: it did not run); what that leaves is said. */
static int migrate_failed(const struct opts *o, const struct xl_guest *g, int ret)
{
	if (ret < 0) {
		say("%s was not moved", g->name);
	} else if (ret < 128) {
		say("xl migrate %s %s failed (its reason is above); xl resumes the domain here "
		    "unless it says otherwise (see xl list)",
		    g->name, o->host);
	} else {
		/* Killed (or as good as): xl had no chance to resume the domain or to say where. */
		say("xl migrate %s %s was cut short (status %d): %s may be suspended here "
		    "(possibly named %s--migratedaway) or paused on %s; see xl list on both "
		    "hosts. If it is on %s:",
		    g->name, o->host, ret, g->name, g->name, o->host, o->host);
		say_how_to_finish(o);
	}
	return stopped(NULL) ? EXIT_SIGNAL : EXIT_REFUSED;
}

/*
 * xl migrate -p, then, once the pvringd here has let go of the old domain's devices,
 * migrate-finish on the host. Nothing here destroys anything: once xl has moved the domain, the
 * one on host is the only copy.
 */
static int migrate(const struct opts *o, const struct xl_guest *g)
{
	char *args[] = {
		"xl", "migrate", "-p", "-s", (char *)o->ssh, g->name, (char *)o->host, NULL
	};
	struct json_object *held;
	char err[512];
	long domid;
	int ret;

	if (!pvringd_reachable(o))
		return EXIT_UNREACHABLE;
	/* xl migrate-receive watches it on host as xl create does here. */
	warn_on_reboot(g);
	/*
	 * Once the domain has gone, pvringd's devices of its id are the old domain's, whatever
	 * CONFIG says now and whoever else shares a disk: Xen does not give the id out again at
	 * once. None at all is fine: migrate-finish attaches what CONFIG lists.
	 */
	domid = domain_id(g->name);
	if (domid < 0) {
		say("no domain %s here to migrate; nothing was moved", g->name);
		return EXIT_REFUSED;
	}
	catch_stop_signals();
	ret = run_program(args, NULL, 0, NULL, 0);
	if (ret)
		return migrate_failed(o, g, ret);
	/*
	 * The domain here is gone; the one on host waits, paused, for its disks. A pvringd here
	 * that cannot be asked may still be writing: that is waited out, too.
	 */
	ret = wait_released(o, NULL, domid, true, &held, err, sizeof(err));
	if (ret > 0 && !stop_signal)
		say("pvringd here still serves device %lld/%lld (%s) of the old domain after %d s; "
		    "finish only once it has let go of it",
		    number_of(held, "domid"), number_of(held, "devid"), string_of(held, "disk"),
		    timeout_s(o));
	if (ret < 0 && !stop_signal)
		say("cannot ask pvringd here whether it has let go of the old domain %ld: %s; "
		    "finish only once it has",
		    domid, err);
	json_object_put(held);
	if (stopped_after_move(o, g))
		return EXIT_SIGNAL;
	if (!ret)
		return finish_on_host(o, g);
	say_left_on_host(o, g);
	return EXIT_REFUSED;
}

/* migrate-finish gives up: the domain is the only copy left, so it stays, paused. */
static int left_paused(const struct xl_guest *g, int ret)
{
	say("%s is left paused, not destroyed (it is the only copy); once the reason above is "
	    "dealt with, run pvring-xl migrate-finish with this configuration again",
	    g->name);
	return ret;
}

/* On the host a domain was migrated to: give it its disks and unpause it. */
static int migrate_finish(const struct opts *o, const struct xl_guest *g)
{
	char domid_text[24];
	long domid;
	int ret;

	/*
	 * Its output may go to an ssh whose other end has gone: a write must fail, not kill it
	 * between attaching and unpausing. The xl it runs inherits that, and writes there too.
	 */
	ignore_sigpipe(NULL);
	if (!pvringd_reachable(o))
		return left_paused(g, EXIT_UNREACHABLE);
	catch_stop_signals();
	domid = domain_id(g->name);
	if (domid < 0) {
		say("no domain %s here to finish (xl domid %s failed)", g->name, g->name);
		return EXIT_REFUSED;
	}
	snprintf(domid_text, sizeof(domid_text), "%ld", domid);
	ret = give_disks(o, g, domid);
	if (stopped(NULL))
		return left_paused(g, EXIT_SIGNAL);
	if (ret)
		return left_paused(g, ret);
	return o->paused ? 0 : unpause(domid_text);
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .socket = pvring_ctl_socket_path(),
			  .timeout_ms = PVRING_CTL_TIMEOUT_MS,
			  .ssh = "ssh" };
	struct xl_guest g = { 0 };
	int opt, ret, i, nr_args;
	const char *name;
	size_t cmd;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	for (cmd = 0; argc > 1 && cmd < ARRAY_SIZE(commands); cmd++)
		if (!strcmp(argv[1], commands[cmd].name))
			break;
	if (argc < 2 || cmd == ARRAY_SIZE(commands)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	o.cmd = (enum command)cmd;
	name = commands[cmd].name;
	argv++;
	argc--;
	while ((opt = getopt_long(argc, argv, commands[cmd].optstring, long_options, NULL)) != -1) {
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
		case 'S':
			o.ssh = optarg;
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
	nr_args = argc - optind;
	if (nr_args < commands[cmd].min_args || nr_args > commands[cmd].max_args) {
		say("%s: %s", name, commands[cmd].want);
		return EXIT_USAGE;
	}
	o.config = argv[optind];
	o.from_stdin = o.cmd == CMD_MIGRATE_FINISH && !strcmp(o.config, "-");
	o.config_name = o.from_stdin ? "(standard input)" : o.config;
	switch (o.cmd) {
	case CMD_CREATE:
		o.extra = argv + optind + 1;
		o.nr_extra = nr_args - 1;
		break;
	case CMD_RESTORE:
		/* The disks are listed only in the configuration: the save file does not hold them.
		 */
		if (o.quiet) {
			say("restore: xl restore takes no -q");
			return EXIT_USAGE;
		}
		o.savefile = argv[optind + 1];
		break;
	case CMD_MIGRATE:
		o.host = argv[optind + 1];
		/* xl would run HOST itself as the command; finishing needs SSHCMD to reach HOST. */
		if (!*o.ssh) {
			say("migrate: -S '': an empty command cannot reach %s (xl would run %s "
			    "itself, and the disks are given there over the same command)",
			    o.host, o.host);
			return EXIT_USAGE;
		}
		/*
		 * xl builds "exec SSHCMD HOST xl migrate-receive" for sh -c, HOST unquoted: only
		 * what sh keeps as one word, and nothing ssh would take for an option.
		 */
		if (!*o.host || strspn(o.host, HOST_CHARS) != strlen(o.host)) {
			say("migrate: '%s' is not a host name: xl hands it to sh unquoted, so it "
			    "may "
			    "hold only letters, digits and . _ @ : %% [ ] -",
			    o.host);
			return EXIT_USAGE;
		}
		if (*o.host == '-') {
			say("migrate: '%s' is not a host name: ssh would take it for an option",
			    o.host);
			return EXIT_USAGE;
		}
		break;
	case CMD_MIGRATE_FINISH:
		break;
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
	} else if (o.cmd == CMD_MIGRATE) {
		ret = migrate(&o, &g);
	} else if (o.cmd == CMD_MIGRATE_FINISH) {
		ret = migrate_finish(&o, &g);
	} else {
		ret = create(&o, &g);
	}
	guest_free(&g);
	return ret;
}
