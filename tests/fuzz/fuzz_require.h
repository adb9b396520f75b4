/* SPDX-License-Identifier: MIT */
/* What every fuzz target checks with: a broken invariant aborts, naming itself and its line. */
#ifndef PVRING_FUZZ_REQUIRE_H
#define PVRING_FUZZ_REQUIRE_H

#include <stdio.h>
#include <stdlib.h>

#define require(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s: invariant broken: %s (line %d)\n", __FILE__, #cond,   \
				__LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif /* PVRING_FUZZ_REQUIRE_H */
