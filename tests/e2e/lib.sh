# shellcheck shell=sh
# Helpers the end-to-end cases use in dom0 (busybox sh). A case is a shell function that returns
# 0 when everything it checked held, or calls fail (which sets $why) and returns non-zero.
# e2e_case prints one "E2E-RESULT PASS|FAIL NAME[: why]" line per case; the host counts those.

PVLOG=/var/log/pvring/pvringd.log
# Timeouts are upper bounds for a hung guest or daemon, never speed checks: TCG on a shared
# machine runs several times slower than alone, so every wait is stretched by this factor.
SLOW=${SLOW:-4}
# Busybox's shell runs its own applets before PATH: the real tools by their full paths.
DD=/usr/bin/dd
E2FSCK=/usr/bin/e2fsck
MKE2FS=/usr/bin/mke2fs
# pvringd runs from the configuration shipped for a Xen dom0, as installed, serving its images
# directory.
IMAGES=/var/lib/pvring/images
why=
pvpid=

# pvringctl's own timeout (10 s) guards against a hung daemon; under TCG on a loaded machine one
# store transaction of an attach has taken longer, so it is stretched like every wait here (a
# call that gives its own -t keeps it: the last -t counts).
pvringctl() { command pvringctl -t $((10 * SLOW)) "$@"; }

say() { echo "e2e: $*"; }

fail() {
	why=$*
	return 1
}

# What a failed case leaves for whoever reads the console.
diagnose() {
	pvlog_sync
	echo "--- pvringd log (last 25 lines)"
	tail -n 25 "$PVLOG" 2>/dev/null | sed 's/^/  | /'
	echo "--- pvringctl list"
	pvringctl -t 2 list 2>&1 | sed 's/^/  | /'
	for f in /var/log/xen/console/guest-*.log; do
		[ -f "$f" ] || continue
		echo "--- $f (last 15 lines)"
		tail -n 15 "$f" | sed 's/^/  | /'
	done
}

e2e_case() {
	name=$1
	shift
	why=
	t0=$(cut -d' ' -f1 /proc/uptime)
	# A case that hangs says where, every 3 minutes, until the host's timeout ends the run.
	(
		while sleep 180; do
			echo "E2E-SLOW $name: still running; processes:"
			ps | grep -v -e ' \[' -e 'ps$' | sed 's/^/  | /'
			[ -n "$pvpid" ] && echo "  | pvringd $pvpid: $(cat /proc/$pvpid/wchan 2>/dev/null)" &&
				sed 's/^/  | /' /proc/$pvpid/stack 2>/dev/null
			xl list 2>&1 | sed 's/^/  | /'
		done
	) &
	ticker=$!
	if "$@"; then
		echo "E2E-RESULT PASS $name ($(awk -v t0="$t0" '{printf "%.1f", $1 - t0}' /proc/uptime) s)"
	else
		echo "E2E-RESULT FAIL $name: ${why:-returned non-zero}"
		diagnose
	fi
	kill "$ticker" 2>/dev/null
}

# ---- pvringd

start_pvringd() {
	mkdir -p /etc/pvring "$IMAGES"
	[ -f /etc/pvring/pvringd.json ] || cp /e2e/pvringd-xen.json.example /etc/pvring/pvringd.json
	pvringd --config /etc/pvring/pvringd.json --log-level debug "$@" >>"$PVLOG" 2>&1 &
	pvpid=$!
	# Ready once its control socket answers.
	i=0
	while ! pvringctl -t 1 list >/dev/null 2>&1; do
		kill -0 "$pvpid" 2>/dev/null || { fail "pvringd exited at start"; return 1; }
		i=$((i + 1))
		[ $i -lt 100 ] || { fail "pvringd's control socket never answered"; return 1; }
		usleep 100000
	done
}

# stop_pvringd SIGNAL: signal pvringd and wait for it to exit.
stop_pvringd() {
	kill -"$1" "$pvpid" 2>/dev/null
	i=0
	while kill -0 "$pvpid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 300 ] || { fail "pvringd still running 30 s after SIG$1"; return 1; }
		usleep 100000
	done
	wait "$pvpid" 2>/dev/null
	pvrc=$?
	pvpid=
}

pvlog_has() {
	pvlog_sync
	grep -q -- "$1" "$PVLOG"
}
# A suite whose pvringd logs elsewhere (the journal) copies its log to $PVLOG here.
pvlog_sync() { :; }

# wait_state DEV STATE SECONDS: pvringctl list shows DEV in STATE.
wait_state() {
	i=0
	while [ $i -lt $(($3 * 4 * SLOW)) ]; do
		pvringctl -t 2 list 2>/dev/null | grep -q "^$1 .*$2" && return 0
		usleep 250000
		i=$((i + 1))
	done
	fail "$1 did not reach $2 within $3 s: $(pvringctl -t 2 list 2>&1 | grep "^$1 ")"
}

# wait_gone PATTERN SECONDS: no line of pvringctl list starts with PATTERN.
wait_gone() {
	i=0
	while pvringctl -t 2 list | grep -q "^$1"; do
		i=$((i + 1))
		[ $i -lt $(($2 * 4 * SLOW)) ] || { fail "$1 is still listed after $2 s"; return 1; }
		usleep 250000
	done
}

# store_wait PATH VALUE SECONDS
store_wait() {
	i=0
	while [ $i -lt $(($3 * 4 * SLOW)) ]; do
		[ "$(xenstore-read "$1" 2>/dev/null)" = "$2" ] && return 0
		usleep 250000
		i=$((i + 1))
	done
	fail "$1 is \"$(xenstore-read "$1" 2>&1)\", not \"$2\", after $3 s"
}

# ---- guests

# guest_config NAME VCPUS BFARGS: write /etc/xen/NAME.cfg for a PV guest of the suite.
guest_config() {
	cat >"/etc/xen/$1.cfg" <<CFG
name = "$1"
type = "pv"
kernel = "/domU/vmlinux"
ramdisk = "/domU/initrd.gz"
extra = "console=hvc0 panic=-1 quiet bfargs=$3"
memory = ${GUEST_MEM:-256}
vcpus = $2
on_poweroff = "destroy"
on_crash = "destroy"
CFG
}

# guest_wait NAME: wait until the guest's init answers; sets DOMID.
guest_wait() {
	DOMID=$(xl domid "$1" 2>/dev/null)
	[ -n "$DOMID" ] || { fail "no domain $1"; return 1; }
	echo 0 >"/tmp/gseq.$DOMID"
	store_wait "/local/domain/$DOMID/data/ack" "0 0" 90 || {
		fail "guest $1 (domain $DOMID) never answered: ${why}"
		return 1
	}
}

# gexec SECONDS COMMAND: run COMMAND in the guest $DOMID; $gout is its output, $grc its status.
# Each guest numbers its commands; the last number sent is kept per domain.
gexec() {
	gseq=$(($(cat "/tmp/gseq.$DOMID" 2>/dev/null || echo 0) + 1))
	echo "$gseq" >"/tmp/gseq.$DOMID"
	xenstore-write -R "/local/domain/$DOMID/data/cmd" "$gseq:$2"
	i=0
	while [ $i -lt $(($1 * 10 * SLOW)) ]; do
		a=$(xenstore-read "/local/domain/$DOMID/data/ack" 2>/dev/null)
		if [ "${a%% *}" = "$gseq" ]; then
			grc=${a#* }
			gout=$(xenstore-read -R "/local/domain/$DOMID/data/out" 2>/dev/null)
			[ "$grc" = 0 ] && return 0
			fail "in the guest, '$(echo "$2" | head -n 1)...' exited $grc: $(echo "$gout" | tail -n 5 | tr '\n' '|')"
			return 1
		fi
		usleep 100000
		i=$((i + 1))
	done
	grc=timeout
	fail "in the guest, '$(echo "$2" | head -n 1)...' did not finish within $1 s"
}

# The md5 of SIZE_MB MiB at OFFSET_MB in an image file, in dom0.
image_md5() {
	$DD if="$1" bs=1M skip="$2" count="$3" 2>/dev/null | md5sum | cut -d' ' -f1
}

# A ring counter from pvringctl show --json DEV, summed over the rings: ring_counter DEV KEY
ring_counter() {
	pvringctl -t 2 --json show "$1" | tr ',{}' '\n\n\n' | sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" |
		awk '{s += $1} END {print s + 0}'
}

# ---- I/O that checks itself in the guest while pvringd goes away and comes back

# bg_io DEV SECONDS: the guest command for rounds of write, read back, compare, on 4 MiB at
# 8 MiB of DEV; its result ("RC ROUNDS") lands in the guest's /tmp/bg.rc.
bg_io() {
	echo "rm -f /tmp/bg.rc; (end=\$((\$(cut -d. -f1 /proc/uptime) + $2)); n=0; rc=0
		while [ \$(cut -d. -f1 /proc/uptime) -lt \$end ]; do
			dd if=/dev/urandom of=/tmp/w bs=1M count=4 2>/dev/null
			$DD if=/tmp/w of=$1 bs=1M seek=8 oflag=direct 2>/dev/null || { rc=1; break; }
			[ \"\$(md5sum </tmp/w | cut -d' ' -f1)\" = \"\$($(gmd5 $1 8 4))\" ] || { rc=2; break; }
			n=\$((n+1))
		done; echo \"\$rc \$n\" >/tmp/bg.rc) >/dev/null 2>&1 &"
}

# io_across DEVID VDEV ACTION...: verified I/O in guest $DOMID on VDEV while ACTION (a command
# that stops and starts pvringd) runs in dom0. The I/O must finish with no error, no I/O error in
# the guest's log, and pvringd must say it resumed the device.
io_across() {
	dev=$DOMID/$1
	pvlog_sync
	resumed=$(grep -c -- "$dev: resuming" "$PVLOG")
	gexec 20 "$(bg_io /dev/$2 25)" || return 1
	shift 2
	sleep 5
	"$@" || return 1
	wait_state "$dev" Connected 20 || return 1
	gexec 120 'while [ ! -f /tmp/bg.rc ]; do sleep 1; done; cat /tmp/bg.rc; dmesg | grep -c "I/O error" || true' ||
		return 1
	set -- $gout
	[ "$1" = 0 ] || { fail "the guest's verified I/O failed (rc $1 after $2 rounds)"; return 1; }
	[ "$2" -gt 1 ] || { fail "only $2 rounds of I/O"; return 1; }
	[ "$3" = 0 ] || { fail "the guest logged $3 I/O errors"; return 1; }
	pvlog_sync
	[ "$(grep -c -- "$dev: resuming" "$PVLOG")" -gt "$resumed" ] ||
		{ fail "pvringd did not resume $dev"; return 1; }
}

# left_connected DEV: after pvringd stopped, both ends of DOMID/DEVID still say Connected.
left_connected() {
	[ "$(xenstore-read /local/domain/0/backend/pvring/$1/state)" = 4 ] ||
		{ fail "the stopped pvringd did not leave the back end of $1 Connected"; return 1; }
	[ "$(xenstore-read /local/domain/${1%/*}/device/vbd/${1#*/}/state)" = 4 ] ||
		{ fail "the front end of $1 is no longer Connected"; return 1; }
}

# json_top DEV KEY: a top-level value of pvringctl --json show DEV.
json_top() { pvringctl -t 2 --json show "$1" | tr ',{}' '\n\n\n' | sed -n "s/^ *\"$2\": *\([a-z0-9]*\).*/\1/p" | head -n 1; }

# ---- the same data checks on any disk a guest has (DEV: pvringd's DOMID/DEVID; DISK: the guest's
# device name, xvda or pvdb; IMAGE: the file in dom0). The caller sets DOMID to the guest.

# reader DEVICE: the guest command that reads DEVICE's first 8 MiB over and over in the background
# until a read fails, then touches /tmp/reader.ended.
reader() {
	echo "rm -f /tmp/reader.ended; (while $DD if=$1 bs=1M count=8 iflag=direct of=/dev/null 2>/dev/null; do :; done
		touch /tmp/reader.ended) >/dev/null 2>&1 &"
}
# The guest command that waits (up to 30 s) for that reader to have stopped on an error.
reader_ended='i=0; while [ ! -f /tmp/reader.ended ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i+1)); done
	test -f /tmp/reader.ended'

# gmd5 DEVICE OFFSET_MB SIZE_MB: the guest command printing the md5 of that range, read with
# O_DIRECT (1 MiB requests: indirect descriptors).
gmd5() { echo "$DD if=$1 bs=1M skip=$2 count=$3 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1"; }

# disk_pattern DISK IMAGE: 16 MiB of random data written at 16 MiB with O_DIRECT, read back and
# compared in the guest, and found in the image in dom0; its md5 is left in PATTERN_MD5 (and the
# data in the guest's /tmp/p).
disk_pattern() {
	gexec 120 "$DD if=/dev/urandom of=/tmp/p bs=1M count=16 2>/dev/null
		md5sum </tmp/p | cut -d' ' -f1
		$DD if=/tmp/p of=/dev/$1 bs=1M seek=16 oflag=direct 2>/dev/null || exit 1
		$(gmd5 /dev/$1 16 16)" || return 1
	set -- $gout "$2"
	[ -n "$1" ] && [ "$1" = "$2" ] || { fail "wrote $1, read back $2"; return 1; }
	PATTERN_MD5=$1
	[ "$(image_md5 $3 16 16)" = "$1" ] ||
		{ fail "the image file holds other data than the guest wrote"; return 1; }
}

# disk_both_queues DEV DISK: two readers on two vCPUs put requests on both of DEV's rings.
disk_both_queues() {
	gexec 120 "$(gmd5 /dev/$2 0 24) & $(gmd5 /dev/$2 24 24) & wait" || return 1
	n=$(pvringctl -t 2 --json show "$1" | tr ',{}' '\n\n\n' |
		sed -n 's/^ *"requests": *\([0-9]*\).*/\1/p' | awk '$1 > 0' | wc -l)
	[ "$n" -ge 2 ] || { fail "only $n of 2 queues carried requests"; return 1; }
}

# disk_flush DEV DISK: fsync sends a flush, the disk stays write-back, nothing failed. (A refused
# flush makes blkfront turn flushes off without a word: it must still use them.)
disk_flush() {
	before=$(ring_counter $1 flush)
	gexec 60 "$DD if=/dev/urandom of=/dev/$2 bs=4k count=4 seek=100 conv=fsync 2>/dev/null && sync" ||
		return 1
	after=$(ring_counter $1 flush)
	[ "$after" -gt "$before" ] || { fail "fsync sent no flush ($before -> $after)"; return 1; }
	[ "$(ring_counter $1 errors)" = 0 ] || { fail "pvringd answered requests with errors"; return 1; }
	gexec 20 "cat /sys/block/$2/queue/write_cache" || return 1
	[ "$gout" = "write back" ] || { fail "$2's cache mode is now '$gout'"; return 1; }
}

# disk_discard DEV DISK IMAGE OFFSET_MB: 4 MiB written then discarded read back as zeros, in the
# guest and in the image.
disk_discard() {
	gexec 60 "$DD if=/dev/urandom of=/dev/$2 bs=1M seek=$4 count=4 oflag=direct 2>/dev/null &&
		blkdiscard -o $(($4 * 1048576)) -l $((4 * 1048576)) /dev/$2 && $(gmd5 /dev/$2 $4 4)" || return 1
	zero=$(dd if=/dev/zero bs=1M count=4 2>/dev/null | md5sum | cut -d' ' -f1)
	[ "$gout" = "$zero" ] || { fail "a discarded range does not read back as zeros"; return 1; }
	[ "$(image_md5 $3 $4 4)" = "$zero" ] || { fail "the image still holds the data"; return 1; }
	[ "$(ring_counter $1 discard)" -gt 0 ] || { fail "no discard request"; return 1; }
}

# disk_filesystem DISK IMAGE: mkfs.ext4, 50 files and the guest's /tmp/p (md5 $PATTERN_MD5),
# umount, e2fsck -f clean in the guest, read back, and clean in dom0.
disk_filesystem() {
	gexec 240 "$MKE2FS -q -F -t ext4 /dev/$1 && mount -t ext4 /dev/$1 /mnt && mkdir /mnt/d &&
		for i in \$(seq 1 50); do echo file \$i >/mnt/d/f\$i; done &&
		cp /tmp/p /mnt/p && sync && umount /mnt && $E2FSCK -f -n /dev/$1 >/dev/null 2>&1 &&
		mount -t ext4 -o ro /dev/$1 /mnt && md5sum </mnt/p | cut -d' ' -f1 && cat /mnt/d/f50 &&
		umount /mnt" || return 1
	[ "$(echo "$gout" | tail -n 1)" = "file 50" ] || { fail "the files read back wrong: $gout"; return 1; }
	[ "$(echo "$gout" | head -n 1)" = "$PATTERN_MD5" ] || { fail "a file read back other data"; return 1; }
	$E2FSCK -f -n $2 >/dev/null 2>&1 || { fail "e2fsck in dom0 finds the image unclean"; return 1; }
}

# disk_read_only DEV DISK IMAGE ATTACH_ARGS...: IMAGE attached read-only as DEV shows up as DISK
# read-only, reads the image, refuses a write, and the image stays as it was.
disk_read_only() {
	dev=$1 disk=$2 image=$3
	shift 3
	want=$(image_md5 $image 0 8)
	pvringctl attach $image --domid ${dev%/*} --ro "$@" >/dev/null || { fail "attach --ro $*"; return 1; }
	wait_state "$dev" Connected 20 || return 1
	gexec 30 "i=0; while [ ! -b /dev/$disk ] && [ \$i -lt 50 ]; do sleep 0.2; i=\$((i+1)); done
		cat /sys/block/$disk/ro; $(gmd5 /dev/$disk 0 8)" || return 1
	set -- $gout
	[ "$1" = 1 ] || { fail "the guest does not see $disk read-only"; return 1; }
	[ "$2" = "$want" ] || { fail "$disk reads $2, the image holds $want"; return 1; }
	if gexec 30 "$DD if=/dev/zero of=/dev/$disk bs=4k count=1 oflag=direct"; then
		fail "a write to the read-only disk succeeded"
		return 1
	fi
	[ "$(image_md5 $image 0 8)" = "$want" ] || { fail "the read-only image changed"; return 1; }
}

# ---- benchmarks (run.sh boots the bench* suites under QEMU's -icount: the guest's clock follows
# the instructions executed, so a figure is the instruction cost of the whole path and repeats)

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-2}
# What a benchmark's seconds are (run.sh boots bench*-wall suites without -icount).
BENCH_CLOCK=${BENCH_CLOCK:-guest time, -icount}
# fio_run's span of the disk (within the image).
FIO_SIZE=${FIO_SIZE:-192m}
# fio's arguments for a workload: its engine, pattern, block size and depth. The -hipri one is
# polled I/O (io_uring IOPOLL): completed by polling where the disk has poll queues; elsewhere the
# poller spins until the interrupt's completion lands.
fio_args() {
	case $1 in
	randread-4k-qd1) echo "--ioengine=libaio --rw=randread --bs=4k --iodepth=1" ;;
	randread-4k-qd1-hipri) echo "--ioengine=io_uring --hipri --rw=randread --bs=4k --iodepth=1" ;;
	randread-4k-qd32) echo "--ioengine=libaio --rw=randread --bs=4k --iodepth=32" ;;
	seqread-1m) echo "--ioengine=libaio --rw=read --bs=1M --iodepth=4" ;;
	seqwrite-1m) echo "--ioengine=libaio --rw=write --bs=1M --iodepth=4" ;;
	esac
}

# fio_run DEV WORKLOAD: one fio run in the guest; prints "IOPS KiB/s" for its direction.
fio_run() {
	gexec 600 "fio --name=b --filename=$1 --direct=1 --time_based --runtime=$SECONDS_PER_RUN \
		--size=$FIO_SIZE $(fio_args "$2") --output-format=terse --terse-version=3" || return 1
	case $2 in
	seqwrite*) echo "$gout" | tail -n 1 | awk -F';' '{print $49, $48}' ;;
	*) echo "$gout" | tail -n 1 | awk -F';' '{print $8, $7}' ;;
	esac
}

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# bench_compare "WORKLOADS" NAME_A DEV_A NAME_B DEV_B: warm both, then ROUNDS rounds of every
# workload on A then B (A B A B ...), and a table of the medians with the ratio A / B.
bench_compare() {
	workloads=$1 name_a=$2 dev_a=$3 name_b=$4 dev_b=$5
	rm -f "/tmp/bench.$name_a" "/tmp/bench.$name_b"
	fio_run "$dev_a" seqread-1m >/dev/null && fio_run "$dev_b" seqread-1m >/dev/null || return 1
	r=1
	while [ $r -le "$ROUNDS" ]; do
		for w in $workloads; do
			for side in a b; do
				eval "name=\$name_$side dev=\$dev_$side"
				set -- $(fio_run "$dev" "$w") && [ -n "$1" ] || return 1
				echo "$w $1 $2" >>"/tmp/bench.$name"
				echo "E2E-INFO bench: round $r $w $name $1 IOPS"
			done
		done
		r=$((r + 1))
	done
	echo "E2E-INFO bench: $ROUNDS alternating rounds of $SECONDS_PER_RUN s ($BENCH_CLOCK) per workload and side; medians"
	printf 'E2E-INFO bench: %-22s %12s %7s | %12s %7s | ratio\n' workload "$name_a IOPS" MiB/s "$name_b IOPS" MiB/s
	for w in $workloads; do
		m() { grep "^$w " "/tmp/bench.$1" | awk "{print \$$2}" | median; }
		echo "$w $(m "$name_a" 2) $(m "$name_a" 3) $(m "$name_b" 2) $(m "$name_b" 3)" |
			awk '{printf "E2E-INFO bench: %-22s %12d %7.1f | %12d %7.1f | %.2f\n", $1, $2, $3 / 1024, $4, $5 / 1024, ($4 > 0) ? $2 / $4 : 0}'
	done
	echo "E2E-INFO bench: every run: $(tr '\n' ';' <"/tmp/bench.$name_a") | $(tr '\n' ';' <"/tmp/bench.$name_b")"
}
