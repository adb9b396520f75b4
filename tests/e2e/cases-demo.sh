# shellcheck shell=sh
# The real-Xen demo (scripts/xen-demo.sh): what an operator does with pvringd in dom0, and what
# a guest with stock xen-blkfront sees. Lines for the person watching start with "demo|".
show() { echo "demo| \$ $*"; "$@" 2>&1 | sed 's/^/demo|   /'; }
gshow() { echo "demo| guest\$ $1"; gexec 300 "$1" && echo "$gout" | sed 's/^/demo|   /'; }

case_demo() {
	mkdir -p /var/lib/pvring/images /etc/pvring
	cp /e2e/pvringd-xen.json.example /etc/pvring/pvringd.json
	show cat /etc/pvring/pvringd.json
	pvringd --config /etc/pvring/pvringd.json >>"$PVLOG" 2>&1 &
	pvpid=$!
	i=0
	while ! pvringctl -t 1 list >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { fail "pvringd did not start"; return 1; }
		usleep 100000
	done
	show dd if=/dev/zero of=/var/lib/pvring/images/demo.img bs=1M count=64
	guest_config demo 2 max_queues=2,max_ring_page_order=2
	show xl create -p /etc/xen/demo.cfg
	DOMID=$(xl domid demo)
	show pvringctl attach /var/lib/pvring/images/demo.img --domid "$DOMID" --vdev xvda
	show xl unpause demo
	guest_wait demo || return 1
	gshow "cat /proc/partitions; dmesg | grep -i blkfront" || return 1
	gshow "$MKE2FS -q -t ext4 /dev/xvda && mount /dev/xvda /mnt && $DD if=/dev/urandom of=/mnt/data bs=1M count=16 2>&1 | tail -n 1 && sync && md5sum /mnt/data && umount /mnt && $E2FSCK -f -n /dev/xvda | tail -n 1" ||
		return 1
	show pvringctl list
	gexec 10 "($DD if=/dev/xvda of=/dev/null bs=4k count=20000 iflag=direct; $DD if=/dev/xvda of=/dev/null bs=1M count=64 iflag=direct) >/dev/null 2>&1 &" ||
		return 1
	show pvringctl watch "$DOMID/51712" --count 3
	show pvringctl show "$DOMID/51712"
	show "$E2FSCK" -f -n /var/lib/pvring/images/demo.img
	show xl shutdown -w demo
	show pvringctl list
}
e2e_case demo case_demo
