#!/bin/busybox sh
# Run the suite named by e2e= on the kernel command line (/e2e/cases-NAME.sh) between the
# E2E-BEGIN and E2E-END markers the host waits for, then power the machine off.
export PATH=/usr/lib/xen-4.17/bin:/usr/bin:/usr/sbin:/bin:/sbin
suite=$(sed -n 's/.*e2e=\([a-z0-9-]*\).*/\1/p' /proc/cmdline)
echo "E2E-BEGIN $suite (dom0 up at $(cut -d' ' -f1 /proc/uptime) s)"
# shellcheck disable=SC1090
(. /e2e/lib.sh && . "/e2e/cases-$suite.sh")
echo "E2E-END"
poweroff -f
