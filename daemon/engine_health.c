// SPDX-License-Identifier: MIT
/* An engine image's health: see engine_health.h. */
#include "config.h"

#include "engine_health.h"

#include <stdio.h>
#include <string.h>

#include "daemon/clock.h"
#include "daemon/log.h"

void pvringd_engine_health_init(struct pvringd_engine_health *h, const char *image)
{
	memset(h, 0, sizeof(*h));
	h->image = image;
	pthread_mutex_init(&h->lock, NULL);
}

void pvringd_engine_health_destroy(struct pvringd_engine_health *h)
{
	pthread_mutex_destroy(&h->lock);
}

void pvringd_engine_health_failed(struct pvringd_engine_health *h, int err, const char *what)
{
	bool first;

	pthread_mutex_lock(&h->lock);
	first = !atomic_load_explicit(&h->failing, memory_order_relaxed);
	if (first)
		h->since_ns = pvring_now_ns();
	h->failures++;
	h->total_failures++;
	snprintf(h->last, sizeof(h->last), "%s: %s", what, strerror(err < 0 ? -err : err));
	atomic_store_explicit(&h->failing, true, memory_order_relaxed);
	pthread_mutex_unlock(&h->lock);
	if (first)
		pvring_warn("%s: I/O failing: %s: %s", h->image, what,
			    strerror(err < 0 ? -err : err));
}

void pvringd_engine_health_recovered(struct pvringd_engine_health *h)
{
	uint64_t failures = 0;
	bool was;

	pthread_mutex_lock(&h->lock);
	was = atomic_exchange_explicit(&h->failing, false, memory_order_relaxed);
	if (was)
		failures = h->failures;
	h->failures = 0;
	pthread_mutex_unlock(&h->lock);
	if (was)
		pvring_info("%s: serving again, after %llu failed operations", h->image,
			    (unsigned long long)failures);
}

void pvringd_engine_health_state(struct pvringd_engine_health *h, char *out, size_t len)
{
	pthread_mutex_lock(&h->lock);
	if (!atomic_load_explicit(&h->failing, memory_order_relaxed))
		snprintf(out, len, "ok");
	else
		snprintf(out, len, "failing for %llu s: %llu operations, last: %s",
			 (unsigned long long)((pvring_now_ns() - h->since_ns) / 1000000000ull),
			 (unsigned long long)h->failures, h->last);
	pthread_mutex_unlock(&h->lock);
}
