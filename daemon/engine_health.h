/* SPDX-License-Identifier: MIT */
/*
 * Whether an engine's image is being served: what its queues' operations last did, for the log
 * and for pvringctl. Shared by the queues of one image (any worker), cheap on success.
 */
#ifndef PVRINGD_ENGINE_HEALTH_H
#define PVRINGD_ENGINE_HEALTH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pvringd_engine_health {
	const char *image; /* its name, for the log */
	atomic_bool failing;
	pthread_mutex_t lock; /* what follows */
	uint64_t failures; /* operations failed since it last served one */
	uint64_t total_failures;
	uint64_t since_ns; /* failing since */
	char last[160]; /* the last failure */
};

void pvringd_engine_health_init(struct pvringd_engine_health *h, const char *image);
void pvringd_engine_health_destroy(struct pvringd_engine_health *h);
/* An operation (or a connection) failed with -err: logged when the image starts failing. */
void pvringd_engine_health_failed(struct pvringd_engine_health *h, int err, const char *what);
void pvringd_engine_health_recovered(struct pvringd_engine_health *h);
/* An operation succeeded: a failing image serves again (logged once). */
static inline void pvringd_engine_health_ok(struct pvringd_engine_health *h)
{
	if (atomic_load_explicit(&h->failing, memory_order_relaxed))
		pvringd_engine_health_recovered(h);
}
/* "ok", or "failing for 12 s: 40 operations, last: write: Connection timed out". */
void pvringd_engine_health_state(struct pvringd_engine_health *h, char *out, size_t len);

#endif /* PVRINGD_ENGINE_HEALTH_H */
