# shellcheck shell=sh
# pvblk against stock xen-blkfront in the same guest, both served by pvringd (same data plane,
# same options) from two copies of one image file (pvringd attaches an image read-write once),
# fio in the guest. Under QEMU's -icount (run.sh), so a figure is the instruction cost of the
# whole path and repeats; rounds alternate the two disks (A B A B ...); each figure is a median.
# The guest has one vCPU and pvringd offers two queues: pvblk has a ring for it and a poll ring,
# blkfront one ring. The -hipri workload is io_uring IOPOLL at QD1: completed by polling pvblk's
# poll ring; on blkfront, which has no poll queues, the poller spins until the interrupt lands.
WORKLOADS=${WORKLOADS:-randread-4k-qd1 randread-4k-qd1-hipri randread-4k-qd32 seqread-1m seqwrite-1m}

case_bench() {
	start_pvringd --max-queues 2 || return 1
	# Two images of 160 MiB (fio over the first 128) in a tmpfs of their own inside pvringd's
	# image directory: dom0's root file system (its initramfs) has room for one.
	FIO_SIZE=128m
	mkdir -p $IMAGES/bench && mount -t tmpfs -o size=400m tmpfs $IMAGES/bench &&
		dd if=/dev/urandom of=$IMAGES/bench/a.img bs=1M count=160 2>/dev/null &&
		cp $IMAGES/bench/a.img $IMAGES/bench/b.img || { fail "no room for the images"; return 1; }
	# Both front ends at their largest ring (4 pages).
	GUEST_MEM=768 guest_config bench 1 max_ring_page_order=2
	xl create /etc/xen/bench.cfg >/dev/null 2>&1 || { fail "xl create"; return 1; }
	guest_wait bench || return 1
	xl vcpu-pin Domain-0 0 0 >/dev/null 2>&1
	xl vcpu-pin bench 0 1 >/dev/null 2>&1
	gexec 30 'modprobe pvblk max_ring_order=2' || return 1
	pvringctl attach $IMAGES/bench/a.img --domid "$DOMID" --vdev xvdb --type pvblk >/dev/null &&
		pvringctl attach $IMAGES/bench/b.img --domid "$DOMID" --vdev xvdc >/dev/null ||
		{ fail "attach"; return 1; }
	wait_state "$DOMID/51728" Connected 30 && wait_state "$DOMID/51744" Connected 30 || return 1
	gexec 60 'sleep 2; test -b /dev/pvdb && test -b /dev/xvdc && cat /sys/block/pvdb/pvblk/rings' ||
		return 1
	echo "E2E-INFO bench: pvdb's rings: $(echo "$gout" | tail -n +2 | awk '{print $14}' | tr '\n' ' ')"
	echo "E2E-INFO bench: guest $DOMID has both disks; warming up"
	bench_compare "$WORKLOADS" pvblk /dev/pvdb blkfront /dev/xvdc || return 1
	gexec 20 'cat /sys/block/pvdb/pvblk/rings' || return 1
	echo "E2E-INFO bench: pvdb's rings after: $(echo "$gout" | tr '\n' '|')"
}
e2e_case bench case_bench
