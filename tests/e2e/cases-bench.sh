# shellcheck shell=sh
# pvringd against kernel xen-blkback, serving the same image file to the same guest with stock
# blkfront, fio in the guest. run.sh boots this suite under QEMU's -icount (the guest's clock
# follows instructions executed, one vCPU at a time), so a figure measures the instruction cost
# of the whole path (guest, Xen, dom0 kernel, back end) and is repeatable where TCG's wall-clock
# timing is not. Rounds alternate the two back ends (A B A B ...); each figure is the median.
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-2}
WORKLOADS="randread-4k-qd1 randread-4k-qd32 seqread-1m seqwrite-1m"

fio_args() {
	case $1 in
	randread-4k-qd1) echo "--rw=randread --bs=4k --iodepth=1" ;;
	randread-4k-qd32) echo "--rw=randread --bs=4k --iodepth=32" ;;
	seqread-1m) echo "--rw=read --bs=1M --iodepth=4" ;;
	seqwrite-1m) echo "--rw=write --bs=1M --iodepth=4" ;;
	esac
}

# One fio run in the guest; prints "IOPS KiB/s" for the direction the workload uses.
fio_run() {
	gexec 600 "fio --name=b --filename=$1 --ioengine=libaio --direct=1 --time_based \
		--runtime=$SECONDS_PER_RUN --size=192m $(fio_args "$2") --output-format=terse \
		--terse-version=3" || return 1
	case $2 in
	seqwrite*) echo "$gout" | tail -n 1 | awk -F';' '{print $49, $48}' ;;
	*) echo "$gout" | tail -n 1 | awk -F';' '{print $8, $7}' ;;
	esac
}

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

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
	# Warm both paths once, then alternate.
	fio_run /dev/xvdb seqread-1m >/dev/null && fio_run /dev/xvdc seqread-1m >/dev/null || return 1
	r=1
	while [ $r -le "$ROUNDS" ]; do
		for w in $WORKLOADS; do
			set -- $(fio_run /dev/xvdb "$w") && echo "$w $1 $2" >>/tmp/bench.pvringd || return 1
			echo "E2E-INFO bench: round $r $w pvringd $1 IOPS"
			set -- $(fio_run /dev/xvdc "$w") && echo "$w $1 $2" >>/tmp/bench.blkback || return 1
			echo "E2E-INFO bench: round $r $w blkback $1 IOPS"
		done
		r=$((r + 1))
	done
	echo "E2E-INFO bench: $ROUNDS alternating rounds of $SECONDS_PER_RUN s (guest time, -icount) per workload and back end; medians"
	echo "E2E-INFO bench: workload            pvringd IOPS  MiB/s  | blkback IOPS  MiB/s  | ratio"
	for w in $WORKLOADS; do
		pi=$(grep "^$w " /tmp/bench.pvringd | awk '{print $2}' | median)
		pb=$(grep "^$w " /tmp/bench.pvringd | awk '{print $3}' | median)
		bi=$(grep "^$w " /tmp/bench.blkback | awk '{print $2}' | median)
		bb=$(grep "^$w " /tmp/bench.blkback | awk '{print $3}' | median)
		echo "$w $pi $pb $bi $bb" | awk '{printf "E2E-INFO bench: %-18s %10d %7.1f | %10d %7.1f | %.2f\n", $1, $2, $3 / 1024, $4, $5 / 1024, ($4 > 0) ? $2 / $4 : 0}'
	done
	echo "E2E-INFO bench: every run: $(tr '\n' ';' </tmp/bench.pvringd) | $(tr '\n' ';' </tmp/bench.blkback)"
}
e2e_case bench case_bench
