// SPDX-License-Identifier: MIT
/* The pvring doorbell through libxenctrl: see doorbell.h. */
#include "config.h"

#include <errno.h>
#include <stddef.h>

#include <xenctrl.h>

#include "doorbell.h"

/*
 * Why a parameter call failed, in the operator's words. Unpatched Xen refuses an index beyond its
 * HVM_NR_PARAMS with EINVAL, as it refuses a PV domain: tell them apart by the domain's type.
 */
static int explain(xc_interface *xch, uint32_t domid, int err, const char **reason)
{
	xc_dominfo_t info;

	/* It lists the domains from domid on: another one first means there is none by that id. */
	int found = xc_domain_getinfo(xch, domid, 1, &info);

	if (found < 0 && errno != ESRCH) {
		*reason = "cannot look the domain up (not permitted?)";
		return -errno;
	}
	if (found != 1 || info.domid != domid) {
		*reason = "no such domain";
		return -ESRCH;
	}
	if (!info.hvm) {
		*reason = "the domain is PV: the doorbell is for HVM and PVH guests only";
		return -EINVAL;
	}
	switch (err) {
	case EINVAL:
		*reason = "this hypervisor has no pvring doorbell (boot one built by "
			  "hypervisor-patch/build.sh)";
		return -EOPNOTSUPP;
	case EEXIST:
		*reason = "the doorbell is already set and cannot change";
		return -EEXIST;
	case EPERM:
	case EACCES:
		*reason = "not permitted (dom0 only)";
		return -err;
	default:
		*reason = "the hypervisor refused";
		return -err;
	}
}

static int open_xc(xc_interface **xch, const char **reason)
{
	*xch = xc_interface_open(NULL, NULL, 0);
	if (!*xch) {
		*reason = "cannot open libxenctrl (not dom0, or privcmd missing)";
		return errno ? -errno : -ENODEV;
	}
	return 0;
}

int pvring_doorbell_enable(uint32_t domid, const char **reason)
{
	xc_interface *xch;
	int rc = open_xc(&xch, reason);

	if (rc)
		return rc;
	if (xc_hvm_param_set(xch, domid, PVRING_HVM_PARAM_DOORBELL, 1) < 0)
		rc = explain(xch, domid, errno, reason);
	xc_interface_close(xch);
	return rc;
}

int pvring_doorbell_read(uint32_t domid, struct pvring_doorbell_state *state, const char **reason)
{
	static const uint32_t params[] = { PVRING_HVM_PARAM_DOORBELL,
					   PVRING_HVM_PARAM_DOORBELL_SENT,
					   PVRING_HVM_PARAM_DOORBELL_DROPPED };
	uint64_t value[3];
	xc_interface *xch;
	int rc = open_xc(&xch, reason);

	if (rc)
		return rc;
	for (size_t i = 0; i < 3 && !rc; i++)
		if (xc_hvm_param_get(xch, domid, params[i], &value[i]) < 0)
			rc = explain(xch, domid, errno, reason);
	xc_interface_close(xch);
	if (rc)
		return rc;
	state->on = value[0] != 0;
	state->sent = value[1];
	state->dropped = value[2];
	return 0;
}
