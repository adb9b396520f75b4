# shellcheck shell=sh
# The pvblk suite: pvring's own guest module, served by pvringd beside a stock blkfront disk of
# the same guest. Each case prints one E2E-RESULT line; later cases build on earlier ones.

# No oops, no BUG, no hung task, in the guest's kernel log so far.
guest_kernel_clean() {
	gexec 20 'dmesg | grep -c -E "BUG|Oops|WARNING|blocked for more than|general protection" || true' ||
		return 1
	[ "$gout" = 0 ] || { gexec 20 'dmesg | grep -E -A5 "BUG|Oops|WARNING|blocked for more than" | head -n 30'
		fail "the guest's kernel: $(echo "$gout" | tr '\n' '|')"; return 1; }
}

dd if=/dev/zero of=$IMAGES/a.img bs=1M count=64 2>/dev/null
dd if=/dev/zero of=$IMAGES/p.img bs=1M count=64 2>/dev/null
dd if=/dev/urandom of=$IMAGES/ro.img bs=1M count=8 2>/dev/null
dd if=/dev/zero of=$IMAGES/s4k.img bs=1M count=16 2>/dev/null

case_start() {
	# A disk of 4 KiB logical sectors: a loop device over an image, served as a configured disk.
	modprobe loop 2>/dev/null
	S4K=$(/usr/bin/losetup -b 4096 -f --show $IMAGES/s4k.img) || { fail "losetup -b 4096"; return 1; }
	start_pvringd --max-queues 4 --disk "s4k=$S4K" || return 1
	# fio (for polled I/O) and its libraries make the guest's initramfs about 90 MiB; xl save
	# writes all of the guest's memory to dom0's tmpfs.
	GUEST_MEM=384 guest_config pv 2 ""
	timeout 120 xl create -p /etc/xen/pv.cfg >/dev/null 2>&1 || { fail "xl create -p failed"; return 1; }
	PV=$(xl domid pv)
	pvringctl attach $IMAGES/a.img --domid "$PV" --vdev xvda >/dev/null || { fail "attach xvda"; return 1; }
	xl unpause pv
	guest_wait pv || return 1
}

case_module_loads() {
	gexec 30 'modprobe pvblk && grep -c "^pvblk " /proc/modules' || return 1
	[ "$gout" = 1 ] || { fail "pvblk is not loaded: $gout"; return 1; }
}

case_attach() {
	pvringctl attach $IMAGES/p.img --domid "$PV" --vdev xvdb --type pvblk >/dev/null ||
		{ fail "attach --type pvblk refused"; return 1; }
	wait_state "$PV/51728" Connected 30 || return 1
	[ -n "$(xenstore-ls /local/domain/$PV/device/pvblk/51728 2>/dev/null)" ] ||
		{ fail "no device/pvblk directory"; return 1; }
	gexec 30 'i=0; while [ ! -e /sys/block/pvdb ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
		cat /sys/block/pvdb/size; ls /sys/block/pvdb/mq | wc -l' || return 1
	set -- $gout
	[ "$1" = 131072 ] || { fail "pvdb has $1 sectors, not 131072"; return 1; }
	# One per vCPU, and one poll queue from the 4 pvringd offers.
	[ "$2" = 3 ] || { fail "pvdb has $2 hardware queues, not 3 (2 vCPUs, 1 polled)"; return 1; }
	[ "$(json_top $PV/51728 queues)" = 3 ] || { fail "pvringd serves $(json_top $PV/51728 queues) queues"; return 1; }
	[ "$(json_top $PV/51728 persistent)" = true ] || { fail "pvblk did not ask for persistent grants"; return 1; }
}

case_pattern() {
	disk_pattern pvdb $IMAGES/p.img || return 1
	# 1 MiB requests are 256 segments: indirect.
	[ "$(ring_counter $PV/51728 indirect)" -gt 0 ] || { fail "no indirect request was served"; return 1; }
	disk_both_queues $PV/51728 pvdb || return 1
	# Data goes through each ring's pool of granted pages: pvringd maps those and no others,
	# however much was read and written (3 rings of 1024 pages).
	pgrants=$(ring_counter $PV/51728 persistent_grants)
	[ "$pgrants" -gt 0 ] && [ "$pgrants" -le 3072 ] ||
		{ fail "pvringd keeps $pgrants grants mapped, not 1..3072"; return 1; }
}

# Requests of sizes no whole page (7 and 11 sectors, O_DIRECT at byte offsets no page boundary)
# are packed into pool pages and land where they belong.
case_odd_sizes() {
	gexec 120 "for bs in 3584 5632; do
			$DD if=/tmp/p of=/dev/pvdb bs=\$bs count=64 seek=\$((44 << 20)) oflag=direct,seek_bytes 2>/dev/null || exit 1
			$DD if=/dev/pvdb bs=\$bs count=64 skip=\$((44 << 20)) iflag=direct,skip_bytes 2>/dev/null | md5sum | cut -d' ' -f1
			$DD if=/tmp/p bs=\$bs count=64 2>/dev/null | md5sum | cut -d' ' -f1
		done" || return 1
	set -- $gout
	[ "$1" = "$2" ] && [ "$3" = "$4" ] || { fail "read back $1 $3, wrote $2 $4"; return 1; }
	[ "$($DD if=$IMAGES/p.img bs=5632 count=64 skip=$((44 << 20)) iflag=skip_bytes 2>/dev/null |
		md5sum | cut -d' ' -f1)" = "$4" ] || { fail "the image holds other data at 44 MiB"; return 1; }
}

# /sys/block/pvdb/pvblk/rings: a line per ring; at rest nothing in flight, every request
# answered, both default rings used and kicked; and the guest's request counts are pvringd's.
case_sysfs_rings() {
	gexec 20 'cat /sys/block/pvdb/pvblk/rings' || return 1
	rings=$(echo "$gout" | tail -n +2)
	[ "$(echo "$rings" | awk '{ print $14 }' | tr '\n' ' ')" = "default default poll " ] ||
		{ fail "rings: $(echo "$gout" | tr '\n' '|')"; return 1; }
	echo "$rings" | awk '$9 != 0 || $10 != $11 || ($14 == "default" && ($10 == 0 || $12 == 0)) { bad = 1 }
		END { exit bad }' || { fail "rings at rest: $(echo "$gout" | tr '\n' '|')"; return 1; }
	# Each default ring's interrupt goes to the vCPU that owns the queue.
	gexec 20 'for i in 0 1; do
			n=$(grep "pvblk-51728-q$i\$" /proc/interrupts | cut -d: -f1 | tr -d " ")
			cat /proc/irq/$n/smp_affinity_list; done' || return 1
	[ "$(echo $gout)" = "0 1" ] || { fail "the rings' interrupts go to vCPUs $(echo $gout), not 0 1"; return 1; }
	front=$(echo "$rings" | awk '{ s += $10 } END { print s }')
	[ "$front" = "$(ring_counter $PV/51728 requests)" ] ||
		{ fail "the guest sent $front requests, pvringd counted $(ring_counter $PV/51728 requests)"; return 1; }
}

# The poll ring's line of /sys/block/pvdb/pvblk/rings: "REQUESTS POLLED KICKS-IN".
poll_ring() {
	gexec 20 "awk '\$14 == \"poll\" { print \$10, \$15, \$13 }' /sys/block/pvdb/pvblk/rings" && [ -n "$gout" ] ||
		{ fail "no poll ring"; return 1; }
}

# Polled I/O (io_uring IOPOLL: writes and verifying reads at QD8, then reads at QD1) goes to the
# poll ring and completes by polling it: every response found by a poll, no interrupt; the data
# verified by fio. (Linux polls only io_uring's I/O: preadv2 RWF_HIPRI is no longer polled.)
case_poll() {
	gexec 10 'cat /sys/block/pvdb/queue/io_poll' || return 1
	[ "$gout" = 1 ] || { fail "pvdb's queue/io_poll is $gout"; return 1; }
	poll_ring || return 1
	set -- $gout
	before=$1
	gexec 120 "fio --name=uring --filename=/dev/pvdb --ioengine=io_uring --hipri --direct=1 \
			--rw=randwrite --bs=4k --iodepth=8 --offset=48M --size=4M --verify=crc32c \
			--do_verify=1 --output-format=terse >/tmp/fio.uring 2>&1 || { tail -n 5 /tmp/fio.uring; exit 1; }
		fio --name=hipri --filename=/dev/pvdb --ioengine=io_uring --hipri --direct=1 \
			--rw=randread --bs=4k --iodepth=1 --offset=48M --size=4M --output-format=terse \
			>/tmp/fio.hipri 2>&1 || { tail -n 5 /tmp/fio.hipri; exit 1; }" ||
		{ fail "fio: $(echo "$gout" | tr '\n' '|')"; return 1; }
	poll_ring || return 1
	set -- $gout
	# 1024 writes, 1024 verifying reads, 1024 reads.
	[ $(($1 - before)) -ge 3072 ] || { fail "the poll ring carried $(($1 - before)) requests"; return 1; }
	[ "$2" = "$1" ] || { fail "of the poll ring's $1 responses, $2 were found by polling"; return 1; }
	[ "$3" = 0 ] || { fail "the poll ring took $3 interrupts"; return 1; }
	guest_kernel_clean
}

# fio on pvdb did not finish: where its requests are, on each side, one E2E-INFO line each.
fio_stuck_report() {
	why_before=$why
	gexec 30 'cat /sys/block/pvdb/pvblk/rings /sys/block/pvdb/inflight
		for p in $(pidof fio); do echo "fio $p: $(cat /proc/$p/wchan): $(cat /proc/$p/syscall)"; done
		for t in /proc/[0-9]*; do [ "$(cut -d" " -f3 $t/stat 2>/dev/null)" = D ] &&
			echo "D $(cat $t/comm): $(head -n 6 $t/stack | tr "\n" " ")"; done
		tail -n 3 /tmp/sr.out; dmesg | grep -i pvblk | tail -n 4; true' &&
		echo "E2E-INFO pvblk save-restore, the guest: $(echo "$gout" | tr '\n' '|')"
	echo "E2E-INFO pvblk save-restore, pvringd: $(pvringctl -t 2 show "$PV/51728" 2>&1 | tr '\n' '|')"
	pvlog_sync
	echo "E2E-INFO pvblk save-restore, pvringd's log: $(tail -n 8 "$PVLOG" | tr '\n' '|')"
	why=$why_before
}

# xl save of the guest while pvblk has requests in flight (pvringd stopped, so none is answered),
# then xl restore: pvringd attaches both disks to the restored domain before it runs, pvblk takes
# its requests back from the void rings and re-issues them on new ones, blkfront resumes on its
# own, and fio's verification of everything it wrote passes.
# fio uses io_uring, not libaio: Debian 12's fio (3.33) hangs when the save's freezer interrupts
# its libaio engine waiting for the last N events of a phase after some had come (it then asks
# for N again; fixed upstream in April 2023, axboe/fio#1556). That hung 2 saves in 52 here: each
# save that caught fio at the end of its write phase, with fewer than 16 requests in flight.
case_save_restore() {
	old=$PV
	gexec 20 "rm -f /tmp/sr.rc; (fio --name=sr --filename=/dev/pvdb --ioengine=io_uring --direct=1 \\
		--rw=randwrite --bs=64k --iodepth=16 --offset=24M --size=16M --verify=crc32c \\
		--do_verify=1 >/tmp/sr.out 2>&1; echo \$? >/tmp/sr.rc) >/dev/null 2>&1 &" || return 1
	sleep 1
	kill -STOP "$pvpid"
	sleep 2
	gexec 20 "awk 'NR > 1 { n += \$9 } END { print n + 0 }' /sys/block/pvdb/pvblk/rings" ||
		{ kill -CONT "$pvpid"; return 1; }
	inflight=$gout
	timeout $((120 * SLOW)) xl save pv /tmp/pv.save >/tmp/xl.out 2>&1 ||
		{ kill -CONT "$pvpid"; fail "xl save: $(tail -n 3 /tmp/xl.out | tr '\n' ' ')"; return 1; }
	kill -CONT "$pvpid"
	[ "$inflight" -gt 0 ] || { fail "no request was in flight when the guest was saved"; return 1; }
	echo "E2E-INFO pvblk save-restore: $inflight requests in flight at the save"
	# As an operator restores it: the configuration it was created with, and its pvringd disks
	# (the save file holds neither key). pvring-xl waits for the old domain's devices to go.
	{ cat /etc/xen/pv.cfg
		echo "pvring_disk = [ 'vdev=xvda, access=rw, target=$IMAGES/a.img' ]"
		echo "pvring_pvblk_disk = [ 'vdev=xvdb, access=rw, target=$IMAGES/p.img' ]"
	} >/etc/xen/pv-disks.cfg
	timeout $((120 * SLOW)) pvring-xl restore -t 30 /etc/xen/pv-disks.cfg /tmp/pv.save >/tmp/xl.out 2>&1 ||
		{ fail "pvring-xl restore: $(tail -n 3 /tmp/xl.out | tr '\n' ' ')"; return 1; }
	rm -f /tmp/pv.save
	grep -q "^pv: xvdb $IMAGES/p.img (rw, pvblk)$" /tmp/xl.out ||
		{ fail "pvring-xl restore said: $(tr '\n' ' ' </tmp/xl.out)"; return 1; }
	PV=$(xl domid pv)
	[ -z "$(pvringctl -t 2 list | grep "^$old/")" ] || { fail "domain $old's devices are still there"; return 1; }
	# The guest's agent numbers on from where it was.
	cp "/tmp/gseq.$old" "/tmp/gseq.$PV"
	DOMID=$PV
	wait_state "$PV/51728" Connected 30 && wait_state "$PV/51712" Connected 30 || return 1
	gexec $((60 * SLOW)) 'i=0; while [ ! -e /tmp/sr.rc ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done
		cat /tmp/sr.rc' || { fio_stuck_report; return 1; }
	[ "$gout" = 0 ] || { gexec 10 'tail -n 8 /tmp/sr.out'; fail "fio after the restore: $(echo "$gout" | tr '\n' '|')"; return 1; }
	gexec 20 "dmesg | grep -c 'requests in flight will be re-issued'; awk 'NR > 1 { n += \$16 } END { print n + 0 }' /sys/block/pvdb/pvblk/rings" ||
		return 1
	set -- $gout
	[ "$1" = 1 ] || { fail "pvblk logged $1 resumes, not one"; return 1; }
	[ "$2" -gt 0 ] || { fail "pvblk re-issued no request"; return 1; }
	echo "E2E-INFO pvblk save-restore: $2 requests re-issued on the new rings"
	pvlog_sync
	echo "E2E-INFO pvblk save-restore: pvringd: $(grep -E 'warning|error' "$PVLOG" | tail -n 4 | tr '\n' '|')"
	# blkfront's disk came back too.
	gexec 60 "$(gmd5 /dev/xvda 0 16)" || return 1
	[ "$gout" = "$(image_md5 $IMAGES/a.img 0 16)" ] || { fail "xvda reads other data after the restore"; return 1; }
	guest_kernel_clean
}

# The back end's sector size: a disk of 4 KiB logical sectors is one for the guest too, its data
# lands where it belongs, and a 512-byte O_DIRECT read is refused by the guest's block layer.
case_sector_4k() {
	pvringctl attach s4k --domid "$PV" --vdev xvde --type pvblk >/dev/null || { fail "attach s4k"; return 1; }
	wait_state "$PV/51776" Connected 30 || return 1
	gexec 60 "i=0; while [ ! -b /dev/pvde ] && [ \$i -lt 50 ]; do sleep 0.2; i=\$((i+1)); done
		cat /sys/block/pvde/queue/logical_block_size
		$DD if=/tmp/p of=/dev/pvde bs=1M count=8 oflag=direct 2>/dev/null || exit 1
		$(gmd5 /dev/pvde 0 8)
		$DD if=/tmp/p bs=1M count=8 2>/dev/null | md5sum | cut -d' ' -f1
		$DD if=/dev/pvde of=/dev/null bs=512 count=1 iflag=direct 2>/dev/null && echo accepted || echo refused" ||
		return 1
	set -- $gout
	[ "$1" = 4096 ] || { fail "pvde has logical blocks of $1 bytes"; return 1; }
	[ "$2" = "$3" ] || { fail "pvde read back $2, wrote $3"; return 1; }
	[ "$4" = refused ] || { fail "a 512-byte O_DIRECT read of a 4 KiB-sector disk was $4"; return 1; }
	# Through the loop device: pvringd writes to it buffered, its backing file is written later.
	[ "$(image_md5 "$S4K" 0 8)" = "$3" ] || { fail "$S4K holds other data"; return 1; }
	pvringctl detach "$PV/51776" >/dev/null && wait_gone "$PV/51776 " 30
}

case_beside_blkfront() {
	gexec 120 "$DD if=/tmp/p of=/dev/xvda bs=1M oflag=direct 2>/dev/null &
		$DD if=/tmp/p of=/dev/pvdb bs=1M seek=40 oflag=direct 2>/dev/null & wait
		$(gmd5 /dev/xvda 0 16); $(gmd5 /dev/pvdb 40 16)" || return 1
	set -- $gout
	[ "$1" = "$PATTERN_MD5" ] && [ "$2" = "$PATTERN_MD5" ] ||
		{ fail "blkfront read back $1, pvblk $2, wrote $PATTERN_MD5"; return 1; }
}

# pvringd killed with SIGKILL while fio writes and verifies on two disks, one blkfront's and one
# pvblk's, with requests pvringd consumed still in flight, and started again, twice over. The
# disks' images live on an ext4 filesystem of their own: `fsfreeze` holds the writes pvringd
# submitted, so at the kill it owes requests it consumed, every time. The next pvringd takes
# each ring on from its in-flight journal and issues them again: fio ends with no error and
# every block verified, the guest logs no I/O error, neither disk is disconnected, and the log
# counts the requests issued again. (Buffered I/O: with O_DIRECT into grant-mapped pages held by
# a suspended device-mapper device, killing pvringd made Debian 12's dom0 kernel report
# "BUG: Bad page map" as it tore the gntdev mappings down.)
KB=51792 # xvdf, blkfront
KP=51808 # xvdg, pvblk
FROZEN=$IMAGES/frozen

kill_frozen() {
	/usr/bin/fsfreeze -f "$FROZEN" || { fail "fsfreeze -f"; return 1; }
	# pvringd consumes what the guest publishes; its writes wait on the frozen filesystem
	# (all 16 of each writer in the end), its reads are answered.
	i=0
	while [ "$(ring_counter $PV/$KB in_flight)" -lt 16 ] || [ "$(ring_counter $PV/$KP in_flight)" -lt 16 ]; do
		i=$((i + 1))
		[ $i -lt $((100 * SLOW)) ] || { /usr/bin/fsfreeze -u "$FROZEN"; fail "pvringd holds fewer than 16 writes while frozen"; return 1; }
		usleep 100000
	done
	answered=$(ring_counter $PV/$KP responses)
	usleep 500000
	echo "E2E-INFO sigkill-during-fio: in flight in pvringd at the kill: xvdf $(ring_counter $PV/$KB in_flight), pvdg $(ring_counter $PV/$KP in_flight); pvdg answered $(($(ring_counter $PV/$KP responses) - answered)) reads in the last 0.5 s"
	kill -KILL "$pvpid"
	# Its writes complete for a process that is gone: no response is ever pushed for them.
	/usr/bin/fsfreeze -u "$FROZEN" || { fail "fsfreeze -u"; return 1; }
	stop_pvringd KILL || return 1
	for dev in $KB $KP; do
		[ "$(xenstore-read /local/domain/0/backend/pvring/$PV/$dev/state)" = 4 ] ||
			{ fail "the killed pvringd did not leave $PV/$dev Connected"; return 1; }
	done
	start_pvringd --max-queues 4 --disk "s4k=$S4K" || return 1
	wait_state "$PV/$KB" Connected 30 && wait_state "$PV/$KP" Connected 30
}

# owed_issued DEV: requests the resumed pvringds issued again on DEV's rings, in $PVLOG so far.
owed_issued() {
	sed -n "s|^.*$1: ring [0-9]*: resumed at request [0-9]*, \([0-9]*\) owed issued again.*|\1|p" "$PVLOG" |
		awk '{ n += $1 } END { print n + 0 }'
}

case_sigkill_during_fio() {
	DOMID=$PV
	# ext4 asks the crypto API for crc32c, by an alias dom0 cannot resolve.
	modprobe crc32c_generic && modprobe ext4 || { fail "modprobe ext4"; return 1; }
	mkdir -p /srv && dd if=/dev/zero of=/srv/frozen.fs bs=1M count=96 2>/dev/null
	$MKE2FS -q -t ext4 -F /srv/frozen.fs || { fail "mke2fs"; return 1; }
	mkdir -p "$FROZEN" && mount -o loop /srv/frozen.fs "$FROZEN" || { fail "mount $FROZEN"; return 1; }
	dd if=/dev/zero of=$FROZEN/kb.img bs=1M count=32 2>/dev/null
	dd if=/dev/zero of=$FROZEN/kp.img bs=1M count=32 2>/dev/null
	pvringctl attach $FROZEN/kb.img --domid "$PV" --vdev xvdf >/dev/null &&
		pvringctl attach $FROZEN/kp.img --domid "$PV" --vdev xvdg --type pvblk >/dev/null ||
		{ fail "attach of the images on $FROZEN refused"; return 1; }
	wait_state "$PV/$KB" Connected 30 && wait_state "$PV/$KP" Connected 30 || return 1
	pvlog_sync
	before_kb=$(owed_issued $PV/$KB)
	before_kp=$(owed_issued $PV/$KP)
	gexec 30 'i=0; while { [ ! -b /dev/xvdf ] || [ ! -b /dev/pvdg ]; } && [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done
		dmesg | grep -c -i "I/O error" || true' || return 1
	errors_before=$gout
	# On each disk a writer that verifies, and a reader of the other half: reads are not held by
	# the freeze, so they are answered (out of order) while the writes before them wait, and
	# their responses take the slots of those writes' requests. Only the journal still has them.
	w="--rw=randwrite --bsrange=4k-64k --iodepth=16 --size=16M --verify=crc32c --do_verify=1 --verify_fatal=1 --loops=2"
	r="--rw=randread --bs=4k --iodepth=4 --offset=16M --size=16M --time_based --runtime=$((10 * SLOW))"
	gexec 20 "rm -f /tmp/k.rc; (fio --ioengine=libaio --direct=1 \\
		--name=blkfront-w --filename=/dev/xvdf $w --name=blkfront-r --filename=/dev/xvdf $r \\
		--name=pvblk-w --filename=/dev/pvdg $w --name=pvblk-r --filename=/dev/pvdg $r \\
		>/tmp/k.out 2>&1; echo \$? >/tmp/k.rc) >/dev/null 2>&1 &" || return 1
	sleep 1
	kill_frozen || return 1
	sleep 1
	kill_frozen || return 1
	gexec $((120 * SLOW)) 'i=0; while [ ! -e /tmp/k.rc ] && [ $i -lt 1200 ]; do sleep 0.2; i=$((i+1)); done
		cat /tmp/k.rc; dmesg | grep -c -i "I/O error" || true' || return 1
	set -- $gout
	[ "$1" = 0 ] || { gexec 10 'tail -n 12 /tmp/k.out'; fail "fio across the kills: $(echo "$gout" | tr '\n' '|')"; return 1; }
	[ "$2" = "$errors_before" ] || { fail "the guest logged $(($2 - errors_before)) I/O errors"; return 1; }
	[ "$(xenstore-read /local/domain/$PV/device/vbd/$KB/state)" = 4 ] &&
		[ "$(xenstore-read /local/domain/$PV/device/pvblk/$KP/state)" = 4 ] ||
		{ fail "a front end is no longer Connected"; return 1; }
	pvlog_sync
	kb=$(($(owed_issued $PV/$KB) - before_kb))
	kp=$(($(owed_issued $PV/$KP) - before_kp))
	echo "E2E-INFO sigkill-during-fio: issued again after the two kills: xvdf $kb requests, pvdg $kp"
	[ "$kb" -ge 2 ] && [ "$kp" -ge 2 ] ||
		{ fail "the resumed pvringds issued again $kb and $kp requests, not at least one a kill each"; return 1; }
	guest_kernel_clean || return 1
	dmesg | grep -q -E "Bad page|BUG:" && { fail "dom0's kernel: $(dmesg | grep -E -m 2 'Bad page|BUG:' | tr '\n' '|')"; return 1; }
	pvringctl detach "$PV/$KB" >/dev/null && pvringctl detach "$PV/$KP" >/dev/null &&
		wait_gone "$PV/$KB " 30 && wait_gone "$PV/$KP " 30
}

case_flush() { disk_flush $PV/51728 pvdb; }
# FUA: pvringd's protocol has no write that is durable on completion (its barrier flushes before
# the data), so pvblk does not claim FUA and the block layer follows each O_DSYNC write with a
# flush: the write is durable when it completes.
case_fua() {
	gexec 10 'cat /sys/block/pvdb/queue/fua' || return 1
	[ "$gout" = 0 ] || { fail "pvdb claims FUA"; return 1; }
	before=$(ring_counter $PV/51728 flush)
	gexec 60 "$DD if=/dev/urandom of=/dev/pvdb bs=4k count=4 seek=300 oflag=direct,dsync 2>/dev/null" ||
		return 1
	after=$(ring_counter $PV/51728 flush)
	[ $((after - before)) -ge 4 ] || { fail "4 O_DSYNC writes sent $((after - before)) flushes"; return 1; }
}
case_discard() { disk_discard $PV/51728 pvdb $IMAGES/p.img 56; }
case_filesystem() { disk_filesystem pvdb $IMAGES/p.img; }
case_read_only() { disk_read_only $PV/51744 pvdc $IMAGES/ro.img --vdev xvdc --type pvblk; }

# A back end that breaks the protocol (tests/e2e/hostile_back, in dom0) on a third disk: the
# device closes with one kernel log line naming what was wrong, the guest does not crash, and
# pvringd's disk of the same guest keeps its data.
hostile() {
	gexec 30 "dmesg | grep -c 'back end broke the protocol: .*$2' || true" || return 1
	before=$gout
	timeout 180 hostile_back "$1" "$PV" 51760 >/tmp/hb.out 2>&1 ||
		{ fail "hostile_back $1: $(tr '\n' ' ' </tmp/hb.out)"; return 1; }
	echo "E2E-INFO pvblk $1: $(cat /tmp/hb.out)"
	grep -q "front end state [56], error: .*$2" /tmp/hb.out ||
		{ fail "the front end did not close with \"$2\": $(cat /tmp/hb.out)"; return 1; }
	gexec 30 "dmesg | grep -c 'back end broke the protocol: .*$2'" || { fail "no kernel log line for $1"; return 1; }
	[ "$((gout - before))" = 1 ] || { fail "$((gout - before)) kernel log lines for $1, not one"; return 1; }
	gexec 60 'i=0; while [ -e /sys/block/pvdd ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done
		test ! -e /sys/block/pvdd' || { fail "pvdd stayed after $1"; return 1; }
	guest_kernel_clean || return 1
	# The other disks serve on: pvblk's reads what its image holds, blkfront's its pattern.
	gexec 60 "$(gmd5 /dev/pvdb 0 64); $(gmd5 /dev/xvda 0 16)" || return 1
	set -- $gout
	[ "$1" = "$(image_md5 $IMAGES/p.img 0 64)" ] || { fail "pvdb reads other data than its image"; return 1; }
	[ "$2" = "$PATTERN_MD5" ] || { fail "xvda reads other data"; return 1; }
}
case_hostile_bad_id() { hostile bad-id "response id 100000 is not a request in flight"; }
# A duplicate of the only request in flight is also a response producer ahead of the requests.
case_hostile_duplicate() { hostile duplicate "\(is not a request in flight\|response producer\)"; }
case_hostile_bad_status() { hostile bad-status "has status 7"; }
case_hostile_wrong_op() { hostile wrong-op "has op 1, not 0"; }
# A back end that never answers: the request timeout (5 s for this disk) closes the device.
case_hostile_silent() {
	gexec 10 'echo 5 >/sys/module/pvblk/parameters/request_timeout' || return 1
	hostile silent "request [0-9]* not answered within 5 s"
	set -- $?
	gexec 10 'echo 60 >/sys/module/pvblk/parameters/request_timeout' && return "$1"
}

# Hot-unplug while mounted and read: the reader gets errors, the disk goes, nothing hangs.
case_detach_mounted() {
	gexec 30 "mount -t ext4 /dev/pvdb /mnt && (while cat /mnt/p >/dev/null && $(gmd5 /dev/pvdb 0 8) >/dev/null; do :; done) >/dev/null 2>&1 &" ||
		return 1
	sleep 2
	pvringctl detach $PV/51728 || { fail "detach refused"; return 1; }
	wait_gone "$PV/51728 " 30 || return 1
	gexec 60 'i=0; while [ -e /sys/block/pvdb ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done
		test ! -e /sys/block/pvdb' || { fail "the guest still has pvdb"; return 1; }
	gexec 30 'umount -l /mnt; true' || return 1
	guest_kernel_clean || return 1
	[ -z "$(xenstore-ls /local/domain/0/backend/pvring/$PV/51728 2>/dev/null)" ] ||
		{ fail "the back-end directory was left behind"; return 1; }
	# And again: the same image attaches and serves.
	sleep 6
	pvringctl attach $IMAGES/p.img --domid "$PV" --vdev xvdb --type pvblk >/dev/null ||
		{ fail "re-attach refused"; return 1; }
	wait_state "$PV/51728" Connected 30 || return 1
	gexec 60 "sleep 1; $E2FSCK -f -n /dev/pvdb >/dev/null" || { fail "the filesystem is damaged"; return 1; }
}

# Unload with disks attached. The xenbus core holds a reference on a front-end module for each
# device bound to it (as for xen-blkfront), so rmmod is refused while any is bound, and the disks
# serve on. Unbinding a device (sysfs) is the driver's remove: its disk goes under a reader, who
# gets errors; the back end sees Closed. With none bound the module unloads, and loaded again it
# takes both disks up where they were.
case_unload() {
	gexec 20 'grep "^pvblk " /proc/modules | cut -d" " -f3' || return 1
	[ "$gout" = 2 ] || { fail "pvblk holds $gout references, not one per bound device (2)"; return 1; }
	gexec 30 "$(reader /dev/pvdb)" || return 1
	sleep 2
	if gexec 60 'rmmod pvblk'; then
		fail "rmmod pvblk succeeded with two devices bound"
		return 1
	fi
	gexec 60 "$(gmd5 /dev/pvdc 0 8)" || { fail "pvdc does not serve after the refused rmmod"; return 1; }
	[ "$gout" = "$(image_md5 $IMAGES/ro.img 0 8)" ] || { fail "pvdc reads other data"; return 1; }
	gexec 60 'for d in pvblk-51728 pvblk-51744; do echo $d >/sys/bus/xen/drivers/pvblk/unbind || exit 1; done' ||
		{ fail "unbind: $why"; return 1; }
	gexec 40 "$reader_ended" || { fail "pvdb's reader did not end on an error"; return 1; }
	gexec 60 'i=0; until rmmod pvblk 2>/dev/null; do i=$((i+1)); [ $i -lt 40 ] || exit 1; sleep 0.5; done
		! grep -q "^pvblk " /proc/modules && ! ls /sys/block | grep -q pvd' ||
		{ gexec 20 'grep "^pvblk " /proc/modules; ls /sys/block; ls /sys/bus/xen/drivers/pvblk'
		fail "unbind and rmmod: $(echo "$gout" | tr '\n' '|')"; return 1; }
	# The front ends said Closed; the back ends wait for them, as blkback does.
	wait_state "$PV/51728" Closed 30 && wait_state "$PV/51744" Closed 30 || return 1
	guest_kernel_clean || return 1
	# blkfront's disk is untouched.
	gexec 60 "$(gmd5 /dev/xvda 0 16)" || return 1
	[ "$gout" = "$PATTERN_MD5" ] || { fail "xvda reads other data after pvblk went"; return 1; }
	# Loaded again, the module takes both disks up where they were.
	gexec 30 'modprobe pvblk' || return 1
	wait_state "$PV/51728" Connected 30 && wait_state "$PV/51744" Connected 30 || return 1
	gexec 60 "i=0; while { [ ! -b /dev/pvdb ] || [ ! -b /dev/pvdc ]; } && [ \$i -lt 50 ]; do sleep 0.2; i=\$((i+1)); done
		$E2FSCK -f -n /dev/pvdb >/dev/null 2>&1 || echo e2fsck-failed; $(gmd5 /dev/pvdc 0 8)" ||
		{ fail "after reloading: $why"; return 1; }
	[ "$gout" = "$(image_md5 $IMAGES/ro.img 0 8)" ] ||
		{ fail "after the reload: $(echo "$gout" | tr '\n' ' '), not $(image_md5 $IMAGES/ro.img 0 8)"; return 1; }
}

# Unbinding a disk and binding it again, 12 times, leaks no grant: each binding grants about 3100
# pages (three rings' pools), so a leak would fill the guest's grant table (32768 entries in v1)
# within the loop, and the pools would shrink ("the grant table is full") or the disk not connect.
case_rebind() {
	gexec 300 'for n in 1 2 3 4 5 6 7 8 9 10 11 12; do
			echo pvblk-51728 >/sys/bus/xen/drivers/pvblk/unbind || exit 1
			echo pvblk-51728 >/sys/bus/xen/drivers/pvblk/bind || exit 2
			i=0; while [ ! -e /sys/block/pvdb/pvblk/rings ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i+1)); done
			[ -e /sys/block/pvdb/pvblk/rings ] || { echo "cycle $n: no pvdb"; exit 3; }
		done
		dmesg | grep -c "grant table is full" || true' ||
		{ fail "rebinding: $why"; return 1; }
	[ "$gout" = 0 ] || { fail "the pools shrank: the grant table filled up"; return 1; }
	wait_state "$PV/51728" Connected 30 || return 1
	gexec 60 "$E2FSCK -f -n /dev/pvdb >/dev/null 2>&1 && echo clean" || return 1
	[ "$gout" = clean ] || { fail "pvdb's file system after rebinding: $gout"; return 1; }
	guest_kernel_clean
}

case_shutdown() {
	DOMID=$PV
	timeout 120 xl shutdown -w pv >/dev/null 2>&1 || { fail "xl shutdown -w pv did not finish"; return 1; }
	wait_gone "$PV/" 20 || return 1
	kill -0 "$pvpid" || { fail "pvringd died"; return 1; }
}

e2e_case start case_start
e2e_case module-loads case_module_loads
e2e_case attach case_attach
e2e_case pattern case_pattern
e2e_case odd-sizes case_odd_sizes
e2e_case sysfs-rings case_sysfs_rings
e2e_case poll case_poll
e2e_case save-restore case_save_restore
e2e_case beside-blkfront case_beside_blkfront
e2e_case sigkill-during-fio case_sigkill_during_fio
e2e_case flush case_flush
e2e_case fua case_fua
e2e_case discard case_discard
e2e_case filesystem case_filesystem
e2e_case read-only case_read_only
e2e_case sector-4k case_sector_4k
e2e_case hostile-bad-id case_hostile_bad_id
e2e_case hostile-duplicate case_hostile_duplicate
e2e_case hostile-bad-status case_hostile_bad_status
e2e_case hostile-wrong-op case_hostile_wrong_op
e2e_case hostile-silent case_hostile_silent
e2e_case detach-mounted case_detach_mounted
e2e_case unload case_unload
e2e_case rebind case_rebind
e2e_case shutdown case_shutdown
echo "E2E-INFO pvringd warnings: $(grep -c -E 'warning|error' $PVLOG)"

