/* SPDX-License-Identifier: MIT */
/*
 * The one number parser of the daemon and its tools: command-line options, config values, store
 * keys a guest writes, and the output of other programs all take numbers the same way.
 */
#ifndef PVRING_NUMBER_H
#define PVRING_NUMBER_H

#include <stdint.h>

/*
 * A plain decimal number in 0..max: all of text, digits only ("010" is ten: never octal or hex;
 * no sign, space or suffix). 0 and *out set; -EINVAL if text is not such a number (or NULL),
 * -ERANGE if it is above max. *out is untouched on failure.
 */
int pvring_parse_u64(const char *text, uint64_t max, uint64_t *out);

#endif /* PVRING_NUMBER_H */
