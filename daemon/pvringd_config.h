/* SPDX-License-Identifier: MIT */
/*
 * pvringd's configuration: a JSON file (json-c) and command-line options on
 * top of it (an option given on the command line wins).
 *
 *   {
 *     "platform": "local",                  "local" or "xen"
 *     "rundir": "/run/pvring",              local: registry, store, control socket live here
 *     "control-socket": "/run/pvring/pvringd.sock",
 *     "log-level": "info",                  err, warning, info, debug
 *     "syslog": false,
 *     "max-ring-page-order": 4,             0..4
 *     "max-queues": 0,                      0: the number of CPUs
 *     "max-indirect-segments": 256,         0: no indirect requests
 *     "poll-us": 50,                        0..1000: poll a ring this long after
 *                                           answering before sleeping (0: never)
 *     "image-dirs": ["/var/lib/pvring/images"],
 *                                           directories whose image files may be attached by path
 *     "remote-images": ["rbd:vms", "nbd://10.0.0.5"],
 *                                           RBD and NBD images that may be attached by name:
 *                                           a pool (or POOL/IMAGE), a server (or its EXPORT)
 *     "remote-timeout-ms": 30000,           an RBD or NBD operation fails after waiting this
 *                                           long for its server (and so does connecting)
 *     "disks": [
 *       { "name": "disk0", "path": "/var/lib/pvring/disk0.img",
 *         "read-only": false, "direct": false }
 *     ]
 *   }
 *
 * Unknown keys, wrong types and out-of-range values are errors: a typo must
 * not silently leave a default in place.
 */
#ifndef PVRINGD_CONFIG_H
#define PVRINGD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/image_name.h"

#define PVRINGD_DEFAULT_RUNDIR "/run/pvring"

struct pvringd_disk_config {
	char *name;
	char *path;
	bool read_only;
	bool direct;
};

struct pvringd_config {
	char *platform; /* "local" or "xen" */
	char *rundir;
	/* always derived from rundir: */
	char *store_rundir; /* rundir/store */
	/* derived from rundir unless set: */
	char *control_socket; /* rundir/pvringd.sock */
	int log_level; /* enum pvring_log_level */
	bool syslog;
	uint32_t max_ring_order;
	uint32_t max_queues; /* resolved: never 0 after parsing */
	uint32_t max_indirect_segments;
	uint32_t poll_us;
	uint32_t workers; /* data-plane threads; resolved: never 0 after parsing */
	uint32_t guest_inflight_kib; /* a guest's bytes in flight, in KiB; 0: no cap */
	struct pvringd_disk_config *disks;
	unsigned int nr_disks;
	/* Resolved by realpath, no two alike; the options' list replaces the file's. */
	char **image_dirs;
	unsigned int nr_image_dirs;
	/* Which RBD and NBD images may be attached by name (image_name.h); the options' list
	 * replaces the file's. */
	struct pvring_image_name *remote_images;
	unsigned int nr_remote_images;
	uint32_t remote_timeout_ms; /* an RBD or NBD operation's wait for its server */
};

/*
 * Parse argv (options, then the --config file they name, the options winning).
 * 0 on success; 1 if --help or --version was printed (exit 0); -1 with a
 * one-line message in err ("config /etc/pvring.json: disks[1]: missing
 * \"path\"") for anything wrong.
 */
int pvringd_config_parse(struct pvringd_config *cfg, int argc, char **argv, char *err,
			 size_t err_len);
void pvringd_config_free(struct pvringd_config *cfg);

/*
 * Whether path (already resolved by realpath) lies inside one of the image directories: it starts
 * with DIR followed by '/' (so /srv/a allows neither /srv/ab/x nor /srv/a itself); the directory
 * "/" allows every absolute path. A path that is not absolute is never allowed.
 */
bool pvringd_config_image_allowed(const struct pvringd_config *cfg, const char *resolved_path);

/* Whether an RBD or NBD image (parsed) is allowed by one of the remote-images entries. */
bool pvringd_config_remote_allowed(const struct pvringd_config *cfg,
				   const struct pvring_image_name *name);

#endif /* PVRINGD_CONFIG_H */
