/* SPDX-License-Identifier: MIT */
/*
 * Names the control socket's commands (daemon/commands.c) and pvringctl share
 * (doc/pvringd-control.md): the keys of a ring's counters, and the ranges of
 * the domid and devid of `attach`. Both sides spell them from here only.
 */
#ifndef PVRINGD_CTL_FIELDS_H
#define PVRINGD_CTL_FIELDS_H

/* A guest's domain id: not dom0, below Xen's reserved ids (DOMID_FIRST_RESERVED 0x7ff0). */
#define PVRING_CTL_DOMID_MIN 1
#define PVRING_CTL_DOMID_MAX 0x7fef
/*
 * A virtual device number; 0, or none given: pvringd picks one. The largest is Xen's extended
 * encoding's (docs/misc/vbd-interface.txt: 1 << 28 | disk << 8 | partition, disk < 2^20), so
 * every name pvring_vdev_parse() takes (xvdq, xvdaa, ...) is a number attach takes.
 */
#define PVRING_CTL_DEVID_MAX 0x1fffffff

/* A ring's counters, in the order `show` gives them. */
enum pvring_ctl_counter {
	PVRING_CTR_REQUESTS,
	PVRING_CTR_READ,
	PVRING_CTR_WRITE,
	PVRING_CTR_FLUSH,
	PVRING_CTR_BARRIER,
	PVRING_CTR_DISCARD,
	PVRING_CTR_INDIRECT,
	PVRING_CTR_RESPONSES,
	PVRING_CTR_ERRORS,
	PVRING_CTR_KICKS_IN,
	PVRING_CTR_KICKS_OUT,
	PVRING_CTR_KICK_RESTS,
	PVRING_CTR_BATCHES,
	PVRING_CTR_BATCH_MAX,
	PVRING_CTR_BYTES_READ,
	PVRING_CTR_BYTES_WRITTEN,
	PVRING_CTR_COUNT,
};

/* A counter's key in a ring's "counters" object. */
static inline const char *pvring_ctl_counter_key(enum pvring_ctl_counter c)
{
	static const char *const keys[PVRING_CTR_COUNT] = {
		[PVRING_CTR_REQUESTS] = "requests",
		[PVRING_CTR_READ] = "read",
		[PVRING_CTR_WRITE] = "write",
		[PVRING_CTR_FLUSH] = "flush",
		[PVRING_CTR_BARRIER] = "barrier",
		[PVRING_CTR_DISCARD] = "discard",
		[PVRING_CTR_INDIRECT] = "indirect",
		[PVRING_CTR_RESPONSES] = "responses",
		[PVRING_CTR_ERRORS] = "errors",
		[PVRING_CTR_KICKS_IN] = "kicks_in",
		[PVRING_CTR_KICKS_OUT] = "kicks_out",
		[PVRING_CTR_KICK_RESTS] = "kick_rests",
		[PVRING_CTR_BATCHES] = "batches",
		[PVRING_CTR_BATCH_MAX] = "batch_max",
		[PVRING_CTR_BYTES_READ] = "bytes_read",
		[PVRING_CTR_BYTES_WRITTEN] = "bytes_written",
	};

	return keys[c];
}

#endif /* PVRINGD_CTL_FIELDS_H */
