// SPDX-License-Identifier: MIT
#include "config.h"

#include "ctl_server_thread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void *loop_main(void *arg)
{
	struct ctl_server_thread *s = arg;

	while (!atomic_load(&s->stop))
		event_base_loop(s->base, EVLOOP_ONCE);
	return NULL;
}

/* Free what prepare made and remove the directory (the server closed first). */
static void ctl_server_thread_release(struct ctl_server_thread *s)
{
	if (s->tick)
		event_free(s->tick);
	if (s->base)
		event_base_free(s->base);
	rmdir(s->dir);
	s->tick = NULL;
	s->base = NULL;
}

/* The parts that need no server: a fresh directory, the event base and its 10 ms tick. */
static int ctl_server_thread_prepare(struct ctl_server_thread *s, const char *dir_template)
{
	struct timeval ten_ms = { 0, 10000 };

	memset(s, 0, sizeof(*s));
	atomic_init(&s->stop, false);
	if (strlen(dir_template) >= sizeof(s->dir)) {
		fprintf(stderr, "ctl_server_thread: directory template too long: %s\n",
			dir_template);
		return -1;
	}
	strcpy(s->dir, dir_template);
	if (!mkdtemp(s->dir)) {
		perror("ctl_server_thread: mkdtemp");
		return -1;
	}
	snprintf(s->path, sizeof(s->path), "%s/pvringd.sock", s->dir);
	s->base = event_base_new();
	if (!s->base) {
		fprintf(stderr, "ctl_server_thread: event_base_new failed\n");
		goto fail;
	}
	s->tick = event_new(s->base, -1, EV_PERSIST, on_tick, NULL);
	if (!s->tick || event_add(s->tick, &ten_ms)) {
		fprintf(stderr, "ctl_server_thread: cannot add the tick timer\n");
		goto fail;
	}
	return 0;
fail:
	ctl_server_thread_release(s);
	return -1;
}

void ctl_server_thread_pause(struct ctl_server_thread *s)
{
	if (!s->running)
		return;
	atomic_store(&s->stop, true);
	pthread_join(s->loop, NULL);
	s->running = false;
}

int ctl_server_thread_resume(struct ctl_server_thread *s)
{
	int err;

	atomic_store(&s->stop, false);
	err = pthread_create(&s->loop, NULL, loop_main, s);
	if (err) {
		fprintf(stderr, "ctl_server_thread: pthread_create: %s\n", strerror(err));
		return -1;
	}
	s->running = true;
	return 0;
}

int ctl_server_thread_start(struct ctl_server_thread *s, const char *dir_template,
			    const struct ctl_server_command *cmds, size_t n, void *arg)
{
	const char *why = NULL;
	size_t i;

	if (ctl_server_thread_prepare(s, dir_template))
		return -1;
	s->ctl = pvringd_ctl_open(s->base, s->path, &why);
	if (!s->ctl) {
		fprintf(stderr, "ctl_server_thread: pvringd_ctl_open %s: %s\n", s->path, why);
		goto fail;
	}
	for (i = 0; i < n; i++)
		if (pvringd_ctl_register(s->ctl, cmds[i].name, cmds[i].handler, arg)) {
			fprintf(stderr, "ctl_server_thread: cannot register \"%s\"\n",
				cmds[i].name);
			goto fail;
		}
	if (ctl_server_thread_resume(s))
		goto fail;
	return 0;
fail:
	if (s->ctl)
		pvringd_ctl_close(s->ctl);
	s->ctl = NULL;
	ctl_server_thread_release(s);
	return -1;
}

void ctl_server_thread_stop(struct ctl_server_thread *s)
{
	ctl_server_thread_pause(s);
	pvringd_ctl_close(s->ctl);
	s->ctl = NULL;
	ctl_server_thread_release(s);
}
