#!/bin/busybox sh
# Bring up dom0 as the Xen control domain, the way a distribution's xen init script does:
# modules, xenfs, xenstored, xen-init-dom0, xenconsoled. Run by init-dom0 (busybox as init) and
# by xen.service (the systemd suite).
export PATH=/usr/lib/xen-4.17/bin:/usr/bin:/usr/sbin:/bin:/sbin
mkdir -p /var/log/xen/console /var/lib/xen/dump /var/lib/xenstored /run/xen /run/xenstored \
	/var/lib/pvring/images /var/log/pvring
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs; do
	modprobe $m || echo "dom0: cannot load $m"
done
grep -q ' /proc/xen ' /proc/mounts || mount -t xenfs xenfs /proc/xen
xenstored --pid-file=/run/xenstored.pid
i=0
while [ ! -S /run/xenstored/socket ] && [ $i -lt 100 ]; do usleep 100000; i=$((i + 1)); done
xen-init-dom0 >/dev/null
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
