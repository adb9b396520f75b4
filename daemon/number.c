// SPDX-License-Identifier: MIT
#include "config.h"

#include "number.h"

#include <errno.h>
#include <stdbool.h>

int pvring_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
	bool overflow = false;
	uint64_t v = 0;
	const char *p;

	if (!text || !*text)
		return -EINVAL;
	/* Scan to the end even past an overflow: "99999999999999999999x" is malformed, not large.
	 */
	for (p = text; *p; p++) {
		unsigned int digit = (unsigned int)(*p - '0');

		if (digit > 9)
			return -EINVAL;
		if (v > (UINT64_MAX - digit) / 10)
			overflow = true;
		v = v * 10 + digit;
	}
	if (overflow || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}
