// SPDX-License-Identifier: MIT
/*
 * pvring-doorbell: the port-I/O doorbell of a Xen patched by hypervisor-patch/, from dom0.
 *
 *     pvring-doorbell enable DOMID      turn it on (HVM and PVH only; once, for the domain's life)
 *     pvring-doorbell show [-j] DOMID   whether it is on, writes that sent, accesses dropped
 *
 * With plain xl: `xl create -p guest.cfg; pvring-doorbell enable DOMID; xl unpause DOMID`.
 * pvring-xl does the same for `pvring_doorbell = 1` in the configuration.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "daemon/number.h"
#include "doorbell.h"

/* Exit codes, as pvringctl's: 1 refused or failed, 2 usage. */
enum { EXIT_REFUSED = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: pvring-doorbell enable DOMID\n"
		"       pvring-doorbell show [-j] DOMID\n"
		"The port-I/O doorbell of a patched Xen (pvring's hypervisor-patch): a guest\n"
		"kicks an interdomain event channel with one 4-byte OUT. Off until dom0 turns it\n"
		"on for an HVM or PVH domain, best while it is paused (xl create -p); then it\n"
		"stays on for the domain's life and is not kept across xl save.\n"
		"  enable    turn it on\n"
		"  show      print \"on|off sent N dropped N\": doorbell writes that sent an\n"
		"            event, and every other access to the doorbell while on\n"
		"  -j        print one JSON object instead\n"
		"Exit: 0 done; 1 refused (no such domain, PV, unpatched Xen, not dom0); 2 "
		"usage.\n");
}

int main(int argc, char **argv)
{
	struct pvring_doorbell_state state;
	const char *reason = "", *domid_text;
	bool json = false;
	uint64_t domid;
	int arg = 2;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 3) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "show") && !strcmp(argv[arg], "-j")) {
		json = true;
		arg++;
	}
	if (arg != argc - 1 || (strcmp(argv[1], "enable") && strcmp(argv[1], "show"))) {
		usage(stderr);
		return EXIT_USAGE;
	}
	domid_text = argv[arg];
	/* DOMID_FIRST_RESERVED is 0x7ff0: the highest ordinary domain is one below. */
	if (pvring_parse_u64(domid_text, 0x7fef, &domid)) {
		fprintf(stderr, "pvring-doorbell: '%s' is not a domain id\n", domid_text);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "enable")) {
		if (pvring_doorbell_enable((uint32_t)domid, &reason)) {
			fprintf(stderr, "pvring-doorbell: domain %s: %s\n", domid_text, reason);
			return EXIT_REFUSED;
		}
		return 0;
	}
	if (pvring_doorbell_read((uint32_t)domid, &state, &reason)) {
		fprintf(stderr, "pvring-doorbell: domain %s: %s\n", domid_text, reason);
		return EXIT_REFUSED;
	}
	if (json)
		printf("{\"domid\": %u, \"on\": %s, \"sent\": %llu, \"dropped\": %llu}\n",
		       (unsigned int)domid, state.on ? "true" : "false",
		       (unsigned long long)state.sent, (unsigned long long)state.dropped);
	else
		printf("%s sent %llu dropped %llu\n", state.on ? "on" : "off",
		       (unsigned long long)state.sent, (unsigned long long)state.dropped);
	return 0;
}
