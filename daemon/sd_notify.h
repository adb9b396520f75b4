/* SPDX-License-Identifier: MIT */
/*
 * The systemd readiness protocol, without libsystemd: one datagram to the
 * AF_UNIX socket named by $NOTIFY_SOCKET (a path, or '@' for an abstract
 * name), as sd_notify(3) describes.
 */
#ifndef PVRING_SD_NOTIFY_H
#define PVRING_SD_NOTIFY_H

/*
 * Send state ("READY=1", "STOPPING=1", "STATUS=...", several separated by
 * '\n'). 0 if sent, or if NOTIFY_SOCKET is unset (not run by systemd);
 * -errno otherwise. A failure is worth a warning, not an exit: the service
 * works, only systemd will not know it is ready.
 */
int pvring_sd_notify(const char *state);

#endif /* PVRING_SD_NOTIFY_H */
