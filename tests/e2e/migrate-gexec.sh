#!/bin/busybox sh
# migrate-gexec.sh NAME SECONDS: run the command on standard input in guest NAME of this dom0 (as
# lib.sh's gexec) and print its output; exit status 0 if it ran and exited 0. The migrate suite's
# host A runs it over ssh on host B when the guest is there.
export PATH=/usr/lib/xen-4.17/bin:/usr/bin:/usr/sbin:/bin:/sbin
. /e2e/lib.sh
cmd=$(cat)
DOMID=$(xl domid "$1") || { echo "no domain $1 here"; exit 1; }
# A guest that came from the other host numbers on from a number it never saw.
[ -f "/tmp/gseq.$DOMID" ] || date +%s >"/tmp/gseq.$DOMID"
gexec "$2" "$cmd"
rc=$?
echo "$gout"
[ $rc = 0 ] || echo "$why"
exit $rc
