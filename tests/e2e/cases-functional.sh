# shellcheck shell=sh
# The real-Xen functional suite: pvringd in dom0 serving stock xen-blkfront in PV guests, with
# kernel xen-blkback loaded and serving another disk of the same guest. Each case prints one
# E2E-RESULT line; later cases build on earlier ones (the guest, its disks), as an operator's
# session would.

dd if=/dev/zero of=$IMAGES/a.img bs=1M count=64 2>/dev/null
dd if=/dev/zero of=$IMAGES/b.img bs=1M count=64 2>/dev/null
dd if=/dev/urandom of=$IMAGES/ro.img bs=1M count=8 2>/dev/null
mkdir -p /srv/elsewhere && dd if=/dev/zero of=/srv/elsewhere/x.img bs=1M count=8 2>/dev/null
dd if=/dev/zero of=/srv/blkback.img bs=1M count=32 2>/dev/null
# Kernel blkback is loaded before pvringd starts, and stays loaded.
modprobe xen-blkback
modprobe loop
BLKLOOP=$(losetup -f)
losetup "$BLKLOOP" /srv/blkback.img

# ---- serving

case_start() {
	start_pvringd --max-queues 4 || return 1
	lsmod | grep -q '^xen_blkback' || { fail "xen-blkback is not loaded"; return 1; }
}

# The boot-disk case: the disk is in the store before the guest runs, so blkfront finds it
# when it probes.
case_boot_disk() {
	guest_config main 2 max_queues=2,max_ring_page_order=2
	timeout 120 xl create -p /etc/xen/main.cfg >/dev/null 2>&1 || { fail "xl create -p failed"; return 1; }
	DOMID=$(xl domid main)
	MAIN=$DOMID
	pvringctl attach $IMAGES/a.img --domid "$DOMID" --vdev xvda >/dev/null ||
		{ fail "attach of $IMAGES/a.img refused"; return 1; }
	xl unpause main
	guest_wait main || return 1
	gexec 20 'cat /sys/block/xvda/size' || return 1
	[ "$gout" = 131072 ] || { fail "xvda has $gout sectors, not 131072"; return 1; }
	wait_state "$DOMID/51712" Connected 10
}

case_pattern() { disk_pattern xvda $IMAGES/a.img; }

case_multi_queue_features() {
	dev=$MAIN/51712
	[ "$(json_top $dev queues)" = 2 ] || { fail "queues: $(json_top $dev queues), not 2"; return 1; }
	[ "$(json_top $dev ring_order)" = 2 ] || { fail "ring order $(json_top $dev ring_order)"; return 1; }
	[ "$(json_top $dev persistent)" = true ] || { fail "no persistent grants"; return 1; }
	[ "$(ring_counter $dev indirect)" -gt 0 ] || { fail "no indirect request was served"; return 1; }
	disk_both_queues $dev xvda
}

case_flush() { DOMID=$MAIN; disk_flush $MAIN/51712 xvda; }
case_discard() { DOMID=$MAIN; disk_discard $MAIN/51712 xvda $IMAGES/a.img 40; }
case_filesystem() { DOMID=$MAIN; disk_filesystem xvda $IMAGES/a.img; }
case_read_only() { DOMID=$MAIN; disk_read_only $MAIN/51744 xvdc $IMAGES/ro.img --vdev xvdc; }

case_refuses_other_paths() {
	out=$(pvringctl attach /srv/elsewhere/x.img --domid $MAIN 2>&1) &&
		{ fail "an image outside the image directories was attached"; return 1; }
	echo "$out" | grep -q "outside the directories" || { fail "no reason given: $out"; return 1; }
	out=$(pvringctl attach $IMAGES/../elsewhere/x.img --domid $MAIN 2>&1) &&
		{ fail "a path with .. out of the image directory was attached"; return 1; }
	out=$(pvringctl attach $IMAGES/missing.img --domid $MAIN 2>&1) &&
		{ fail "a missing image was attached"; return 1; }
	echo "$out" | grep -q "No such file" || { fail "no reason given: $out"; return 1; }
	kill -0 "$pvpid" || { fail "pvringd died"; return 1; }
}

# Kernel blkback serves a disk of the same guest through xl, beside pvringd's.
case_blkback_coexists() {
	timeout 60 xl block-attach main "format=raw, vdev=xvdd, access=rw, backendtype=phy, script=/etc/xen/scripts/hotplug-block-phy, target=$BLKLOOP" >/tmp/xl.out 2>&1 ||
		{ fail "xl block-attach: $(tail -n 2 /tmp/xl.out | tr '\n' ' ')"; return 1; }
	gexec 120 "sleep 1; $DD if=/dev/urandom of=/tmp/q bs=1M count=8 2>/dev/null; md5sum </tmp/q | cut -d' ' -f1
		$DD if=/tmp/q of=/dev/xvdd bs=1M oflag=direct 2>/dev/null || exit 1
		$(gmd5 /dev/xvdd 0 8); $(gmd5 /dev/xvda 0 8)" || return 1
	set -- $gout
	[ "$1" = "$2" ] || { fail "blkback's disk read back $2, wrote $1"; return 1; }
	[ "$(image_md5 /srv/blkback.img 0 8)" = "$1" ] || { fail "blkback's image holds other data"; return 1; }
	[ "$3" = "$(image_md5 $IMAGES/a.img 0 8)" ] || { fail "pvringd's disk reads other data"; return 1; }
	pvringctl -t 2 list | grep -q "/51760 " && { fail "pvringd took blkback's device"; return 1; }
	pvlog_has "backend/vbd" && { fail "pvringd looked at backend/vbd"; return 1; }
	timeout 60 xl block-detach main xvdd >/dev/null 2>&1 || { fail "xl block-detach failed"; return 1; }
}

case_pvringctl_live() {
	dev=$MAIN/51712
	gexec 10 "rm -f /tmp/live.done; (i=0; while [ \$i -lt 10 ]; do $(gmd5 /dev/xvda 0 8) >/dev/null; i=\$((i+1)); done; touch /tmp/live.done) >/dev/null 2>&1 &" ||
		return 1
	pvringctl -t 2 list | grep -q "^$dev .*Connected" || { fail "list"; return 1; }
	pvringctl -t 2 show "$dev" | grep -q "REQ-PROD" || { fail "show"; return 1; }
	pvringctl -t 2 dump "$dev" >/tmp/dump.out || { fail "dump: $(cat /tmp/dump.out)"; return 1; }
	pvringctl -t 2 watch "$dev" --count 2 --interval 1 >/tmp/watch.out || { fail "watch"; return 1; }
	[ "$(wc -l </tmp/watch.out)" -ge 2 ] || { fail "watch printed $(cat /tmp/watch.out)"; return 1; }
	gexec 300 'while [ ! -f /tmp/live.done ]; do sleep 1; done'
}

# Hot-unplug with a reader on the disk: the reader gets errors, blkfront lets go, nothing hangs.
case_detach_reattach() {
	gexec 10 "$(reader /dev/xvda)" || return 1
	sleep 2
	pvringctl detach $MAIN/51712 || { fail "detach refused"; return 1; }
	wait_gone "$MAIN/51712 " 20 || return 1
	# blkfront removes the disk on its own time, once the directory is gone.
	gexec 60 'i=0; while [ -e /sys/block/xvda ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done
		test ! -e /sys/block/xvda' || { fail "the guest still has xvda"; return 1; }
	gexec 40 "$reader_ended" || { fail "the reader did not end on an error"; return 1; }
	gexec 20 'dmesg | grep -c "blocked for more than" || true' || return 1
	[ "$gout" = 0 ] || { fail "a guest task hung after the detach"; return 1; }
	pvlog_has "did not let go" && { fail "blkfront was cut off instead of letting go"; return 1; }
	[ -z "$(xenstore-ls /local/domain/0/backend/pvring/$MAIN/51712 2>/dev/null)" ] ||
		{ fail "the back-end directory was left behind"; return 1; }
	pvringctl attach $IMAGES/a.img --domid $MAIN --vdev xvda >/dev/null || { fail "re-attach refused"; return 1; }
	wait_state "$MAIN/51712" Connected 30 || return 1
	gexec 60 "sleep 1; $E2FSCK -f -n /dev/xvda >/dev/null" || return 1
}

# pvringd stopped by a signal during verified I/O, and started again: the guest carries on.
signal_and_start() {
	stop_pvringd "$1" || return 1
	left_connected "$MAIN/51728" || return 1
	sleep 3
	start_pvringd --max-queues 4
}

restart_during_io() {
	pvringctl attach $IMAGES/b.img --domid $MAIN --vdev xvdb >/dev/null 2>&1
	wait_state "$MAIN/51728" Connected 30 || return 1
	DOMID=$MAIN
	io_across 51728 xvdb signal_and_start "$1"
}

case_sigterm_resume() { restart_during_io TERM; }
case_sigkill_resume() { restart_during_io KILL; }

case_destroy_with_io() {
	guest_config victim 1 ""
	timeout 120 xl create /etc/xen/victim.cfg >/dev/null 2>&1 || { fail "xl create victim"; return 1; }
	guest_wait victim || return 1
	VICTIM=$DOMID
	dd if=/dev/zero of=$IMAGES/v.img bs=1M count=32 2>/dev/null
	pvringctl attach $IMAGES/v.img --domid $VICTIM >/dev/null || { fail "attach to victim"; return 1; }
	wait_state "$VICTIM/51712" Connected 30 || return 1
	gexec 10 "$(bg_io /dev/xvda 60)" || return 1
	sleep 3
	timeout 60 xl destroy victim || { fail "xl destroy"; return 1; }
	wait_gone "$VICTIM/" 20 || return 1
	pvlog_has "$VICTIM/51712: removing (" || { fail "no log line for the removal"; return 1; }
	[ -z "$(xenstore-ls /local/domain/0/backend/pvring/$VICTIM 2>/dev/null)" ] ||
		{ fail "the back-end directory was left behind"; return 1; }
	# The other guest is served on.
	DOMID=$MAIN
	gexec 60 "$(gmd5 /dev/xvdb 8 4)" || return 1
}

case_shutdown() {
	DOMID=$MAIN
	timeout 120 xl shutdown -w main >/dev/null 2>&1 || { fail "xl shutdown -w main did not finish"; return 1; }
	wait_gone "$MAIN/" 20 || return 1
	$E2FSCK -f -n $IMAGES/a.img >/dev/null 2>&1 || { fail "the image is unclean after shutdown"; return 1; }
	kill -0 "$pvpid" || { fail "pvringd died"; return 1; }
}

# The disk lines an operator copies: pvringd's disks as pvring_disk lines in the guest's xl
# configuration (xl's disk syntax), beside a kernel-blkback disk line in the same file. pvring-xl
# creates the domain paused, attaches them, unpauses: the disks are there when blkfront probes.
case_xl_config_disks() {
	dd if=/dev/zero of=$IMAGES/cfg.img bs=1M count=32 2>/dev/null
	dd if=/dev/zero of=/srv/blkback2.img bs=1M count=16 2>/dev/null
	CFGLOOP=$(losetup -f) && losetup "$CFGLOOP" /srv/blkback2.img || { fail "no loop device"; return 1; }
	guest_config cfg 1 ""
	cat >>/etc/xen/cfg.cfg <<CFG
on_reboot = "destroy"
disk = [ 'format=raw, vdev=xvdc, access=rw, backendtype=phy, script=/etc/xen/scripts/hotplug-block-phy, target=$CFGLOOP' ]
pvring_disk = [ 'format=raw, vdev=xvda, access=rw, target=$IMAGES/cfg.img',
                '$IMAGES/ro.img,raw,xvdb,ro' ]
CFG
	timeout 180 pvring-xl create -t $((10 * SLOW)) /etc/xen/cfg.cfg >/tmp/xl.out 2>&1 ||
		{ fail "pvring-xl create: $(tail -n 3 /tmp/xl.out | tr '\n' ' ')"; return 1; }
	grep -q pvring_disk /tmp/xl.out && { fail "xl complained about pvring_disk: $(cat /tmp/xl.out)"; return 1; }
	guest_wait cfg || return 1
	CFG=$DOMID
	# Present when the guest's init first ran: blkfront found them at boot, not later.
	gexec 20 'cat /sys/block/xvda/size /sys/block/xvdb/size /sys/block/xvdb/ro /sys/block/xvdc/size' ||
		return 1
	[ "$(echo $gout)" = "65536 16384 1 32768" ] || { fail "the guest's disks: $(echo $gout)"; return 1; }
	wait_state "$CFG/51712" Connected 10 && wait_state "$CFG/51728" Connected 10 || return 1
	pvringctl -t 2 list | grep -q "^$CFG/51744 " && { fail "pvringd took the blkback disk line"; return 1; }
	gexec 120 "$DD if=/dev/urandom of=/tmp/p bs=1M count=4 2>/dev/null; md5sum </tmp/p | cut -d' ' -f1
		$DD if=/tmp/p of=/dev/xvda bs=1M oflag=direct 2>/dev/null || exit 1
		$DD if=/tmp/p of=/dev/xvdc bs=1M oflag=direct 2>/dev/null || exit 1
		$(gmd5 /dev/xvda 0 4); $(gmd5 /dev/xvdc 0 4); $(gmd5 /dev/xvdb 0 8)" || return 1
	set -- $gout
	[ "$1" = "$2" ] && [ "$1" = "$3" ] || { fail "wrote $1, read back $2 (pvringd) $3 (blkback)"; return 1; }
	[ "$(image_md5 $IMAGES/cfg.img 0 4)" = "$1" ] || { fail "cfg.img holds other data"; return 1; }
	[ "$(image_md5 /srv/blkback2.img 0 4)" = "$1" ] || { fail "blkback2.img holds other data"; return 1; }
	[ "$(image_md5 $IMAGES/ro.img 0 8)" = "$4" ] || { fail "the read-only disk reads other data"; return 1; }
	timeout 120 xl shutdown -w cfg >/dev/null 2>&1 || { fail "xl shutdown -w cfg did not finish"; return 1; }
	wait_gone "$CFG/" 20 || return 1
	losetup -d "$CFGLOOP"
}

# A pvring_disk pvringd refuses: the domain is destroyed, the operator reads pvringd's reason.
case_xl_config_refused() {
	guest_config cfgbad 1 ""
	echo "pvring_disk = [ 'vdev=xvda, target=/srv/elsewhere/x.img' ]" >>/etc/xen/cfgbad.cfg
	timeout 180 pvring-xl create -t $((10 * SLOW)) /etc/xen/cfgbad.cfg >/tmp/xl.out 2>&1 &&
		{ fail "a disk outside the image directories was attached"; return 1; }
	grep -q "/srv/elsewhere/x.img" /tmp/xl.out && grep -q "outside the directories" /tmp/xl.out ||
		{ fail "no reason given: $(cat /tmp/xl.out)"; return 1; }
	xl domid cfgbad >/dev/null 2>&1 && { fail "the domain was left behind"; return 1; }
	pvringctl -t 2 list | grep -q x.img && { fail "pvringd kept the refused disk"; return 1; }
	kill -0 "$pvpid" || { fail "pvringd died"; return 1; }
}

e2e_case start case_start
e2e_case boot-disk case_boot_disk
e2e_case pattern case_pattern
e2e_case multi-queue-features case_multi_queue_features
e2e_case flush case_flush
e2e_case discard case_discard
e2e_case filesystem case_filesystem
e2e_case read-only case_read_only
e2e_case refuses-other-paths case_refuses_other_paths
e2e_case blkback-coexists case_blkback_coexists
e2e_case pvringctl-live case_pvringctl_live
e2e_case detach-reattach case_detach_reattach
e2e_case sigterm-resume case_sigterm_resume
e2e_case sigkill-resume case_sigkill_resume
e2e_case destroy-with-io case_destroy_with_io
e2e_case xl-config-disks case_xl_config_disks
e2e_case xl-config-refused case_xl_config_refused
. /e2e/hostile.sh
e2e_case shutdown case_shutdown
echo "E2E-INFO pvringd warnings: $(grep -c -E 'warning|error' $PVLOG)"
