# shellcheck shell=sh
# pvringd against kernel xen-blkback, serving the same image file to the same guest with stock
# blkfront, fio in the guest. run.sh boots this suite under QEMU's -icount (the guest's clock
# follows instructions executed, one vCPU at a time), so a figure measures the instruction cost
# of the whole path (guest, Xen, dom0 kernel, back end) and is repeatable where TCG's wall-clock
# timing is not. Rounds alternate the two back ends (A B A B ...); each figure is the median.
WORKLOADS="randread-4k-qd1 randread-4k-qd32 seqread-1m seqwrite-1m"

case_bench() {
	modprobe xen-blkback && modprobe loop || { fail "cannot load blkback or loop"; return 1; }
	start_pvringd || return 1
	dd if=/dev/urandom of=$IMAGES/bench.img bs=1M count=256 2>/dev/null
	loopdev=$(losetup -f) && losetup "$loopdev" $IMAGES/bench.img || { fail "losetup"; return 1; }
	GUEST_MEM=768 guest_config bench 1 max_ring_page_order=2
	xl create /etc/xen/bench.cfg >/dev/null 2>&1 || { fail "xl create"; return 1; }
	guest_wait bench || return 1
	xl vcpu-pin Domain-0 0 0 >/dev/null 2>&1
	xl vcpu-pin bench 0 1 >/dev/null 2>&1
	pvringctl attach $IMAGES/bench.img --domid "$DOMID" --vdev xvdb >/dev/null || { fail "attach"; return 1; }
	timeout 60 xl block-attach bench "format=raw, vdev=xvdc, access=rw, backendtype=phy, script=/etc/xen/scripts/hotplug-block-phy, target=$loopdev" >/dev/null 2>&1 ||
		{ fail "xl block-attach"; return 1; }
	wait_state "$DOMID/51728" Connected 30 || return 1
	gexec 60 'sleep 2; test -b /dev/xvdb && test -b /dev/xvdc' || return 1
	echo "E2E-INFO bench: guest $DOMID has both disks; warming up"
	bench_compare "$WORKLOADS" pvringd /dev/xvdb blkback /dev/xvdc
}
e2e_case bench case_bench
