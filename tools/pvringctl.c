// SPDX-License-Identifier: MIT
/*
 * pvringctl: look inside pvringd's live rings and attach or detach devices,
 * through its control socket (doc/pvringd-control.md). The protocol is in
 * ctl_client.c, the text in ctl_format.c: this file is the command line.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "common/proto/pvring_xenbus.h"
#include "daemon/clock.h"
#include "daemon/ctl_fields.h"
#include "daemon/number.h"
#include "ctl_client.h"
#include "ctl_format.h"
#include "vdev.h"

/* Exit codes; 0, 1 and 3 are enum pvring_ctl_status's. */
#define EXIT_USAGE 2
#define MAX_WATCHED 64
/* The options that belong to commands, by their short names. */
#define CMD_OPTS "icrdDvRT"

struct opts {
	const char *socket;
	bool json;
	int timeout_ms;
	double interval;
	long count; /* -1: until interrupted */
	long ring; /* -1: not given */
	long domid, devid; /* -1: not given */
	bool read_only;
	const char *type; /* NULL: pvringd's default (vbd) */
	bool interval_set;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pvringctl [--socket PATH] [--json] [--timeout SEC] COMMAND [ARGS]\n"
		"\n"
		"Inspect pvringd's rings and attach or detach devices.\n"
		"\n"
		"Commands:\n"
		"  list                                 devices: DEVICE DISK STATE FE-STATE QUEUES "
		"ORDER SECTORS RO\n"
		"  show DEV                             a device and its rings: indices, counters\n"
		"  watch DEV... [--interval SEC] [--count N]\n"
		"                                       rates every interval (default 1 s): "
		"requests/s by op,\n"
		"                                       MB/s read and written, kicks/s, in flight\n"
		"  dump DEV [--ring N]                  the requests in flight on a ring (default "
		"0)\n"
		"  attach DISK --domid N [--vdev xvdX | --devid N] [--ro] [--type vbd|pvblk]\n"
		"                                       give a guest a disk: a configured disk's "
		"name,\n"
		"                                       or an image's absolute path inside "
		"pvringd's\n"
		"                                       image directories\n"
		"  detach DEV                           take a device away from its guest\n"
		"\n"
		"DEV is DOMID/DEVID (\"1/51712\"), or the name of a disk attached once.\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH   the control socket (default $%s, else %s)\n"
		"  -j, --json          print the daemon's reply as JSON (watch: one object per "
		"line)\n"
		"  -t, --timeout SEC   wait at most SEC for each reply (default %d)\n"
		"  -h, --help          this text\n"
		"\n"
		"Exit status:\n"
		"  0  success\n"
		"  1  pvringd answered with an error (printed as \"pvringctl: ERROR\")\n"
		"  2  usage error\n"
		"  3  cannot reach pvringd (no socket, permission denied, connection refused),\n"
		"     or it did not answer properly (timeout, connection closed, malformed "
		"reply)\n",
		PVRING_CTL_SOCKET_ENV, PVRING_CTL_DEFAULT_SOCKET, PVRING_CTL_TIMEOUT_MS / 1000);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pvringctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'pvringctl --help'.\n");
	return EXIT_USAGE;
}

/* The bit of a command's option in a mask of them; 0 for the others. */
static unsigned int cmd_opt_bit(int opt)
{
	const char *p = opt ? strchr(CMD_OPTS, opt) : NULL;

	return p ? 1u << (p - CMD_OPTS) : 0;
}

/* A plain decimal number in min..max (min >= 0). */
static bool parse_long(const char *s, long min, long max, long *out)
{
	uint64_t v;

	if (pvring_parse_u64(s, (uint64_t)max, &v) || v < (uint64_t)min)
		return false;
	*out = (long)v;
	return true;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > 86400)
		return false;
	*out = v;
	return true;
}

/* A timeout in whole milliseconds, rounded up: 0.0004 must not become 0 (no wait at all). */
static int timeout_ms(double seconds)
{
	/* Whole microseconds first, so 2.007 (2007.0000000000002 ms in binary) stays 2007. */
	long long us = (long long)(seconds * 1e6 + 0.5);
	long long ms = (us + 999) / 1000;

	return ms < 1 ? 1 : (int)ms;
}

static double now(void)
{
	return (double)pvring_now_ns() / 1e9;
}

static int failed(const char *err)
{
	fprintf(stderr, "pvringctl: %s\n", err);
	return 1;
}

/* One request on c; the exit code, with the reply in *reply on 0 (and on 1, for --json). */
static int call(struct pvring_ctl_client *c, const struct opts *o, struct json_object *request,
		struct json_object **reply)
{
	char err[512], clean[sizeof(err)];
	enum pvring_ctl_status st =
		pvring_ctl_client_call(c, request, o->timeout_ms, reply, err, sizeof(err));

	if (st == PVRING_CTL_FAILED && o->json)
		pvring_fmt_json(stdout, *reply);
	if (st != PVRING_CTL_OK) {
		/* The daemon's own words when it answered: cleaned, like everything it sends. */
		fprintf(stderr, "pvringctl: %s\n", pvring_fmt_clean(err, clean, sizeof(clean) - 1));
		json_object_put(*reply);
		*reply = NULL;
	}
	return (int)st;
}

static int malformed(const char *cmd)
{
	fprintf(stderr, "pvringctl: malformed reply from pvringd to \"%s\"\n", cmd);
	return PVRING_CTL_UNREACHABLE;
}

static int watch(struct pvring_ctl_client *c, const struct opts *o, char **devs, int ndevs)
{
	struct pvring_ctl_sample *prev, *cur;
	struct json_object *req[MAX_WATCHED] = { NULL };
	double next;
	long pass;
	int i, ret = 0;

	prev = calloc((size_t)ndevs, sizeof(*prev));
	cur = calloc((size_t)ndevs, sizeof(*cur));
	for (i = 0; i < ndevs && prev && cur; i++) {
		req[i] = json_object_new_object();
		if (!req[i])
			break;
		json_object_object_add(req[i], "cmd", json_object_new_string("show"));
		json_object_object_add(req[i], "device", json_object_new_string(devs[i]));
	}
	if (i < ndevs) {
		ret = failed("out of memory");
		goto out;
	}
	next = now();
	/* Pass 0 only takes the baseline: rates need two samples. Then count lines, or forever. */
	for (pass = 0;; pass++) {
		for (i = 0; i < ndevs; i++) {
			struct json_object *reply;

			ret = call(c, o, req[i], &reply);
			if (ret)
				goto out;
			if (pvring_ctl_sample_from_show(reply, now(), &cur[i])) {
				json_object_put(reply);
				ret = malformed("show");
				goto out;
			}
			json_object_put(reply);
			if (pass == 1 && i == 0 && !o->json)
				pvring_fmt_watch_header(stdout);
			if (pass > 0)
				pvring_fmt_watch(stdout, &prev[i], &cur[i], o->json);
			prev[i] = cur[i];
		}
		fflush(stdout);
		if (o->count >= 0 && pass >= o->count)
			break;
		/* Ticks on a fixed schedule, so slow replies do not make the intervals drift. */
		next += o->interval;
		for (;;) {
			double left = next - now();
			struct timespec ts;

			if (left <= 0)
				break;
			ts.tv_sec = (time_t)left;
			ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
			nanosleep(&ts, NULL);
		}
	}
out:
	for (i = 0; i < ndevs; i++)
		json_object_put(req[i]);
	free(prev);
	free(cur);
	return ret;
}

/* The request for a one-shot command, or NULL (out of memory). */
static struct json_object *build_request(const char *cmd, char **args, const struct opts *o)
{
	struct json_object *req;

	if (!strcmp(cmd, "attach"))
		return pvring_ctl_attach_request(args[0], o->domid, o->devid, o->read_only,
						 o->type);
	req = json_object_new_object();
	if (!req)
		return NULL;
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (strcmp(cmd, "list")) {
		json_object_object_add(req, "device", json_object_new_string(args[0]));
	}
	if (!strcmp(cmd, "dump"))
		json_object_object_add(req, "ring",
				       json_object_new_int64(o->ring < 0 ? 0 : o->ring));
	return req;
}

static int run(const char *cmd, char **args, int nargs, const struct opts *o)
{
	struct pvring_ctl_client *c;
	struct json_object *req, *reply = NULL;
	char err[512];
	int ret;

	c = pvring_ctl_client_connect(o->socket, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "pvringctl: %s\n", err);
		return PVRING_CTL_UNREACHABLE;
	}
	if (!strcmp(cmd, "watch")) {
		ret = watch(c, o, args, nargs);
		pvring_ctl_client_close(c);
		return ret;
	}
	req = build_request(cmd, args, o);
	if (!req) {
		pvring_ctl_client_close(c);
		return failed("out of memory");
	}
	ret = call(c, o, req, &reply);
	json_object_put(req);
	pvring_ctl_client_close(c);
	if (ret)
		return ret;
	if (o->json) {
		pvring_fmt_json(stdout, reply);
	} else if (!strcmp(cmd, "list")) {
		ret = pvring_fmt_list(stdout, reply);
	} else if (!strcmp(cmd, "show")) {
		ret = pvring_fmt_show(stdout, reply);
	} else if (!strcmp(cmd, "dump")) {
		ret = pvring_fmt_dump(stdout, reply);
	} else if (!strcmp(cmd, "attach")) {
		ret = pvring_fmt_attach(stdout, reply);
	}
	/* detach: the exit status says it all. */
	json_object_put(reply);
	return ret ? malformed(cmd) : 0;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "ring", required_argument, NULL, 'r' },
		{ "domid", required_argument, NULL, 'd' },
		{ "devid", required_argument, NULL, 'D' },
		{ "vdev", required_argument, NULL, 'v' },
		{ "ro", no_argument, NULL, 'R' },
		{ "type", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		const char *name;
		int min_args, max_args;
		const char *opts; /* the command's own options' short names */
	} cmds[] = {
		{ "list", 0, 0, "" },
		{ "show", 1, 1, "" },
		{ "watch", 1, MAX_WATCHED, "ic" },
		{ "dump", 1, 1, "r" },
		{ "attach", 1, 1, "dDvRT" },
		{ "detach", 1, 1, "" },
	};
	struct opts o = {
		.socket = pvring_ctl_socket_path(),
		.timeout_ms = PVRING_CTL_TIMEOUT_MS,
		.interval = 1.0,
		.count = -1,
		.ring = -1,
		.domid = -1,
		.devid = -1,
	};
	unsigned int given = 0; /* cmd_opt_bit()s */
	const char *cmd;
	size_t i;
	double seconds;
	int opt, nargs;

	/* Options may come before or after the command, as people type them. */
	/* Our own messages: getopt's would name the program by its full path. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":s:jt:i:c:r:d:D:v:Rh", long_opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o.socket = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 't':
			if (!parse_seconds(optarg, &seconds))
				return usage_error("--timeout: not a number of seconds: %s",
						   optarg);
			o.timeout_ms = timeout_ms(seconds);
			break;
		case 'i':
			if (!parse_seconds(optarg, &o.interval))
				return usage_error("--interval: not a number of seconds: %s",
						   optarg);
			break;
		case 'c':
			if (!parse_long(optarg, 1, LONG_MAX, &o.count))
				return usage_error("--count: not a positive number: %s", optarg);
			break;
		case 'r':
			if (!parse_long(optarg, 0, INT_MAX, &o.ring))
				return usage_error("--ring: not a ring number: %s", optarg);
			break;
		case 'd':
			if (!parse_long(optarg, PVRING_CTL_DOMID_MIN, PVRING_CTL_DOMID_MAX,
					&o.domid))
				return usage_error("--domid: not a domain id: %s", optarg);
			break;
		case 'D':
			if (!parse_long(optarg, 0, PVRING_CTL_DEVID_MAX, &o.devid))
				return usage_error("--devid: not a device number: %s", optarg);
			break;
		case 'v':
			if (!pvring_vdev_parse(optarg, &o.devid))
				return usage_error(
					"--vdev: not a Xen disk name (xvda, xvdb, ...): %s",
					optarg);
			break;
		case 'R':
			o.read_only = true;
			break;
		case 'T':
			if (!pvring_xs_type_known(optarg))
				return usage_error("--type: %s or %s, not %s", PVRING_XS_TYPE_VBD,
						   PVRING_XS_TYPE_PVBLK, optarg);
			o.type = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return usage_error("%s: missing its argument", argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("unknown option: -%c", optopt);
			return usage_error("unknown option: %s", argv[optind - 1]);
		}
		given |= cmd_opt_bit(opt);
	}
	if (optind >= argc)
		return usage_error("no command given");
	cmd = argv[optind];
	nargs = argc - optind - 1;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && strcmp(cmds[i].name, cmd); i++)
		;
	if (i == sizeof(cmds) / sizeof(cmds[0]))
		return usage_error("unknown command: %s", cmd);
	if (nargs < cmds[i].min_args || nargs > cmds[i].max_args)
		return usage_error(nargs < cmds[i].min_args ? "%s: missing argument"
							    : "%s: too many arguments",
				   cmd);
	for (size_t k = 0; long_opts[k].name; k++) {
		if ((given & cmd_opt_bit(long_opts[k].val)) &&
		    !strchr(cmds[i].opts, long_opts[k].val))
			return usage_error("%s does not take --%s", cmd, long_opts[k].name);
	}
	if ((given & cmd_opt_bit('v')) && (given & cmd_opt_bit('D')))
		return usage_error("%s: --vdev and --devid name the same thing: give one", cmd);
	if (!strcmp(cmd, "attach") && o.domid < 0)
		return usage_error("%s: --domid is required", cmd);
	return run(cmd, argv + optind + 1, nargs, &o);
}
