/* SPDX-License-Identifier: MIT */
/*
 * The reference peer: the ring types and macros of the system's Xen public
 * header xen/io/ring.h, over the test payload, with the barriers Xen's own
 * userspace tools use (xenctrl.h).
 */
#ifndef PVRING_TEST_XEN_RING_H
#define PVRING_TEST_XEN_RING_H

#include <string.h>
#include <xenctrl.h>
#include <xen/io/ring.h>

#include "test_payload.h"

DEFINE_RING_TYPES(xtest, struct test_req, struct test_rsp);

#endif /* PVRING_TEST_XEN_RING_H */
