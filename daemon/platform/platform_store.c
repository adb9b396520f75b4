// SPDX-License-Identifier: MIT
/* What both platforms do alike with their store connection. */
#include "config.h"

#include <errno.h>

#include <xenstore.h>

#include "platform.h"

bool pvring_platform_store_restartable(const struct pvring_platform *p)
{
	return p->ops->store_reconnected != NULL;
}

void pvring_platform_store_reconnected(struct pvring_platform *p)
{
	if (p->ops->store_reconnected)
		p->ops->store_reconnected(p);
}

int pvring_platform_store_reopen(struct pvring_platform *p)
{
	struct xs_handle *h;

	errno = 0;
	h = xs_open(p->store_flags);
	if (!h)
		return errno ? -errno : -EIO;
	xs_close(p->store);
	p->store = h;
	return 0;
}
