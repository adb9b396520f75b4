// SPDX-License-Identifier: MIT
/* The open-file limit: see fd_limit.h. */
#include "config.h"

#include "fd_limit.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"

void pvring_raise_fd_limit(void)
{
	struct rlimit lim;

	if (getrlimit(RLIMIT_NOFILE, &lim) || lim.rlim_cur >= lim.rlim_max)
		return;
	lim.rlim_cur = lim.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &lim))
		pvring_warn("cannot raise the open file limit to %llu: %s",
			    (unsigned long long)lim.rlim_max, strerror(errno));
}
