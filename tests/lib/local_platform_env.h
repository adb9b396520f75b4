/* SPDX-License-Identifier: MIT */
/*
 * What an in-process test of the local platform starts first: a real pvring-stored (the store
 * and the local hypervisor, whose registry guests register on), an event loop, and the local
 * platform: this process as the back end.
 * Header-only: the tests that use it link libpvringd.a before the test library.
 */
#ifndef PVRING_TEST_LOCAL_PLATFORM_ENV_H
#define PVRING_TEST_LOCAL_PLATFORM_ENV_H

#include <stdio.h>

#include <event2/event.h>

#include "daemon/platform/platform_local.h"
#include "tests/lib/store_process.h"

struct local_platform_env {
	struct store_process store;
	struct event_base *base;
	struct pvring_platform *plat;
	char registry[128]; /* guests register here */
};

/* 0, or -1 with a message on stderr (what is started is stopped by local_platform_env_stop). */
static inline int local_platform_env_start(struct local_platform_env *env)
{
	const char *why = NULL;

	if (store_process_start(&env->store))
		return -1;
	snprintf(env->registry, sizeof(env->registry), "%s/registry", env->store.rundir);
	env->base = event_base_new();
	env->plat = pvring_platform_local_open(env->store.rundir, &why);
	if (!env->plat) {
		fprintf(stderr, "local platform: %s\n", why);
		return -1;
	}
	return 0;
}

/* 0 if the store stopped cleanly. */
static inline int local_platform_env_stop(struct local_platform_env *env)
{
	if (env->plat)
		pvring_platform_destroy(env->plat);
	if (env->base)
		event_base_free(env->base);
	return store_process_stop(&env->store);
}

#endif /* PVRING_TEST_LOCAL_PLATFORM_ENV_H */
