# shellcheck shell=sh
# The migrate suite: a running PV guest moves between two Xen hosts with its disks, and back.
# Both hosts boot this script (migrate-hosts.sh starts them); e2e_host= on the kernel command line
# says which one this is. Each dom0 runs pvringd with the NBD engine; the guest's two disks are
# exports of the machine's nbdkit (shared storage both dom0s reach at 10.0.2.2): one driven by
# stock blkfront, one by pvblk. A creates the guest, starts verified writes on both disks, and
# runs `pvring-xl migrate` to B and, from B (over ssh, as xl migrate itself goes), back to A;
# the guest's I/O must go on across both moves with no error and every block verified. Then a
# move to a B whose pvringd refuses a disk: the guest waits there, paused, until migrate-finish.
# B serves until A tells it that the run is over.

THIS=$(sed -n 's/.*e2e_host=\([ab]\).*/\1/p' /proc/cmdline)
PORTS=$(sed -n 's/.*e2e_nbd=\([0-9:]*\).*/\1/p' /proc/cmdline)
A_IP=192.168.77.1
B_IP=192.168.77.2
NBD_BLK=nbd://10.0.2.2:${PORTS%%:*}
NBD_PVBLK=nbd://10.0.2.2:${PORTS#*:}
CFG=/etc/xen/mig.cfg
export PVRINGD_ENGINE_DIR=/usr/lib/pvring

# The storage NIC (52:54:00:e2:e0:*) is 10.0.2.15 on QEMU's user network; the link NIC
# (52:54:00:77:00:*) is this host's address on the link.
net_up() {
	modprobe virtio_pci && modprobe virtio_net || { fail "cannot load virtio_net"; return 1; }
	storage= link= i=0
	while [ -z "$storage" ] || [ -z "$link" ]; do
		for n in /sys/class/net/*; do
			case $(cat "$n/address") in
			52:54:00:e2:e0:*) storage=${n##*/} ;;
			52:54:00:77:00:*) link=${n##*/} ;;
			esac
		done
		i=$((i + 1))
		[ $i -lt 100 ] || { fail "no NICs: $(ls /sys/class/net | tr '\n' ' ')"; return 1; }
		usleep 100000
	done
	ip link set lo up
	ip addr add 10.0.2.15/24 dev "$storage" && ip link set "$storage" up &&
		ip addr add "$1/24" dev "$link" && ip link set "$link" up ||
		{ fail "cannot configure $storage and $link"; return 1; }
}

host_up() {
	if [ "$THIS" = a ]; then ip=$A_IP; else ip=$B_IP; fi
	net_up "$ip" || return 1
	# dom0 first, so that a busy guest (its page tables shadowed for log-dirty while it
	# migrates, which TCG makes dear) does not slow xl's save helper.
	xl sched-credit2 -d 0 -w 4096 || { fail "xl sched-credit2"; return 1; }
	mkdir -p -m 755 /run/sshd
	/usr/sbin/sshd -E /var/log/sshd.log || { fail "sshd did not start: $(cat /var/log/sshd.log)"; return 1; }
	start_pvringd --remote-image "$NBD_BLK" --remote-image "$NBD_PVBLK" || return 1
}

# on_b COMMAND...: run COMMAND in B's dom0 over ssh (its output is ours, and its status).
on_b() { ssh "$B_IP" "$@"; }

# The guest is on host $WHERE. gx SECONDS COMMAND: gexec on whichever host holds it.
WHERE=a
gx() {
	if [ "$WHERE" = a ]; then
		DOMID=$(xl domid mig) || { fail "no domain mig on A"; return 1; }
		[ -f "/tmp/gseq.$DOMID" ] || date +%s >"/tmp/gseq.$DOMID"
		gexec "$@"
		return
	fi
	gout=$(printf '%s' "$2" | on_b /e2e/migrate-gexec.sh mig "$1")
	grc=$?
	[ "$grc" = 0 ] || { fail "in the guest on B, '$(echo "$2" | head -n 1)...': $(echo "$gout" | tail -n 5 | tr '\n' '|')"; return 1; }
}

case_hosts() {
	host_up || return 1
	# B comes up on its own; it answers over the link once its sshd runs.
	i=0
	until on_b true 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt $((60 * SLOW)) ] || { fail "B does not answer ssh on $B_IP"; return 1; }
		sleep 1
	done
	i=0
	until on_b 'pvringctl -t 2 list >/dev/null 2>&1'; do
		i=$((i + 1))
		[ $i -lt $((60 * SLOW)) ] || { fail "B's pvringd does not answer"; return 1; }
		sleep 1
	done
	echo "E2E-INFO migrate: B answers over ssh; both pvringds run"
	# What a migration stream can get through ssh between the two dom0s, for the figures.
	$DD if=/dev/urandom of=/tmp/rand bs=1M count=32 2>/dev/null
	t0=$(cut -d' ' -f1 /proc/uptime)
	on_b 'cat >/dev/null' </tmp/rand || { fail "cannot send 32 MiB to B over ssh"; return 1; }
	echo "E2E-INFO migrate: 32 MiB to B over ssh in $(awk -v t0="$t0" '{printf "%.1f", $1 - t0}' /proc/uptime) s"
	rm -f /tmp/rand
}

# The guest, created on A with pvring-xl, its disks on the two exports.
case_guest() {
	GUEST_MEM=384 guest_config mig 1 ""
	cat >>"$CFG" <<CFG
pvring_disk = [ 'vdev=xvda, access=rw, target=$NBD_BLK' ]
pvring_pvblk_disk = [ 'vdev=xvdb, access=rw, target=$NBD_PVBLK' ]
on_reboot = "destroy"
CFG
	# B gets the same configuration: pvring-xl there reads it to give the guest its disks.
	on_b "cat >$CFG" <"$CFG" || { fail "cannot copy $CFG to B"; return 1; }
	timeout $((120 * SLOW)) pvring-xl create "$CFG" >/tmp/xl.out 2>&1 ||
		{ fail "pvring-xl create: $(tail -n 3 /tmp/xl.out | tr '\n' ' ')"; return 1; }
	guest_wait mig || return 1
	gx 60 'modprobe pvblk; i=0; while [ ! -b /dev/pvdb ] || [ ! -b /dev/xvda ]; do
			i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.2; done' ||
		{ fail "the guest has no xvda and pvdb: $gout"; return 1; }
}

# Verified writes, round after round, on both disks until /tmp/stop: each round writes 4 MiB of
# random 4 KiB blocks at queue depth 8 and reads every one back (fio's crc32c verify). A
# round's failure ends that disk's loop with "fail ROUND" in /tmp/fio.DISK.rc. At most 200
# requests a second on each: always some in flight, and a guest that leaves the CPU to the
# migration under TCG. io_uring, as the pvblk suite's save-restore: fio 3.33's libaio engine can
# hang when a suspend's freezer interrupts its wait for a phase's last events.
case_io_starts() {
	gx 20 'rm -f /tmp/stop /tmp/fio.*
		for d in xvda pvdb; do
			(r=0; while [ ! -e /tmp/stop ]; do
				fio --name=$d --filename=/dev/$d --ioengine=io_uring --direct=1 --rw=randwrite \
					--bs=4k --iodepth=8 --size=4M --rate_iops=200 --verify=crc32c --do_verify=1 \
					--verify_fatal=1 --randseed=$((r + 1)) >/tmp/fio.$d.out 2>&1 ||
					{ echo "fail $r" >/tmp/fio.$d.rc; exit 1; }
				r=$((r + 1)); echo $r >/tmp/fio.$d.rounds
			done; echo "ok $r" >/tmp/fio.$d.rc) >/dev/null 2>&1 &
		done' || return 1
	io_going || return 1
}

# io_going: both loops have finished a round since the last call, and neither failed.
ROUNDS="0 0"
io_going() {
	i=0
	while :; do
		gx 20 'cat /tmp/fio.xvda.rc /tmp/fio.pvdb.rc 2>/dev/null; echo rounds $(cat /tmp/fio.xvda.rounds 2>/dev/null || echo 0) $(cat /tmp/fio.pvdb.rounds 2>/dev/null || echo 0)' ||
			return 1
		case $gout in *fail*) gx 20 'tail -n 6 /tmp/fio.*.out'
			fail "fio failed: $(echo "$gout" | tr '\n' '|')"; return 1 ;; esac
		now=$(echo "$gout" | sed -n 's/^rounds //p')
		set -- $ROUNDS $now
		[ "$3" -gt "$1" ] && [ "$4" -gt "$2" ] && break
		i=$((i + 1))
		[ $i -lt $((60 * SLOW)) ] || { fail "no verified round ended on both disks (rounds $now)"; return 1; }
		sleep 1
	done
	ROUNDS=$now
}

# migrate FROM TO TO_IP: pvring-xl migrate, run on FROM, with the guest's I/O in flight; then the
# guest runs on TO with both disks Connected there, FROM has neither domain nor devices, and the
# guest's I/O goes on.
migrate() {
	from=$1 to=$2
	run=
	[ "$from" = b ] && run=on_b
	t0=$(cut -d' ' -f1 /proc/uptime)
	$run timeout $((600 * SLOW)) pvring-xl migrate -t 60 "$CFG" "$3" >/tmp/migrate.out 2>&1 || {
		sed 's/^/  | /' /tmp/migrate.out
		fail "pvring-xl migrate from $from to $to: $(tail -n 5 /tmp/migrate.out | tr '\n' ' ')"
		return 1
	}
	echo "E2E-INFO migrate $from to $to: $(awk -v t0="$t0" '{printf "%.1f", $1 - t0}' /proc/uptime) s; $(grep -c . /tmp/migrate.out) lines: $(tr '\n' '|' </tmp/migrate.out | tail -c 300)"
	WHERE=$to
	if [ "$to" = a ]; then
		xl list mig >/dev/null 2>&1 || { fail "no domain mig on A"; return 1; }
		on_b 'xl list mig' >/dev/null 2>&1 && { fail "B still has domain mig"; return 1; }
		list=$(pvringctl -t 5 list)
		gone=$(on_b 'pvringctl -t 5 list')
	else
		on_b 'xl list mig' >/dev/null 2>&1 || { fail "no domain mig on B"; return 1; }
		xl list mig >/dev/null 2>&1 && { fail "A still has domain mig"; return 1; }
		list=$(on_b 'pvringctl -t 5 list')
		gone=$(pvringctl -t 5 list)
	fi
	[ "$(echo "$list" | grep -c ' Connected ')" = 2 ] ||
		{ fail "on $to: $(echo "$list" | tr '\n' '|')"; return 1; }
	[ "$(echo "$gone" | grep -c -e "$NBD_BLK" -e "$NBD_PVBLK")" = 0 ] ||
		{ fail "$from still serves: $(echo "$gone" | tr '\n' '|')"; return 1; }
	io_going || return 1
	# What pvblk took back from the old rings and issued again on the new ones (figures only:
	# whether a request was in flight at the suspend is the guest's timing).
	gx 20 "awk 'NR > 1 { n += \$16 } END { print n + 0 }' /sys/block/pvdb/pvblk/rings" &&
		echo "E2E-INFO migrate $from to $to: pvblk has re-issued $gout requests in all"
}

case_to_b() { migrate a b "$B_IP"; }
case_back_to_a() { migrate b a "$A_IP"; }

# b_pvringd REMOTE_IMAGE...: B's pvringd started again, serving only these images by name.
b_pvringd() {
	args=
	for img in "$@"; do args="$args --remote-image $img"; done
	on_b "i=0; kill \$(pidof pvringd) 2>/dev/null
		while pidof pvringd >/dev/null; do i=\$((i + 1)); [ \$i -lt 300 ] || exit 1; usleep 100000; done
		PVRINGD_ENGINE_DIR=/usr/lib/pvring pvringd --config /etc/pvring/pvringd.json \
			--log-level debug $args >>$PVLOG 2>&1 </dev/null &
		i=0; until pvringctl -t 1 list >/dev/null 2>&1; do
			i=\$((i + 1)); [ \$i -lt 100 ] || exit 1; usleep 100000; done"
}

# B's pvringd refuses one of the guest's disks (not among the images it serves by name):
# pvring-xl migrate moves the guest, which stays paused on B, says why and how to finish, and
# destroys nothing. Once B's pvringd serves that image, migrate-finish on B gives the guest the
# rest of its disks and unpauses it, and the guest's verified I/O goes on.
case_refused_on_b() {
	b_pvringd "$NBD_BLK" || { fail "cannot start B's pvringd again"; return 1; }
	timeout $((600 * SLOW)) pvring-xl migrate -t 60 "$CFG" "$B_IP" >/tmp/migrate.out 2>&1
	st=$?
	sed 's/^/  | /' /tmp/migrate.out
	[ "$st" = 1 ] || { fail "pvring-xl migrate exited $st, not 1"; return 1; }
	grep -q "not among the images pvringd serves by name" /tmp/migrate.out ||
		{ fail "pvring-xl did not say why B refused the disk"; return 1; }
	grep -q "mig is left paused, not destroyed" /tmp/migrate.out ||
		{ fail "pvring-xl did not say the guest is left paused on B"; return 1; }
	grep -q "migrate-finish" /tmp/migrate.out || { fail "pvring-xl did not say how to finish"; return 1; }
	xl list mig >/dev/null 2>&1 && { fail "A still has domain mig"; return 1; }
	WHERE=b
	state=$(on_b "xl list mig | awk 'NR == 2 { print \$5 }'")
	case $state in *p*) ;; *) fail "mig on B is '$state', not paused"; return 1 ;; esac
	b_pvringd "$NBD_BLK" "$NBD_PVBLK" || { fail "cannot start B's pvringd again"; return 1; }
	on_b "pvring-xl migrate-finish -t 60 $CFG" >/tmp/finish.out 2>&1 ||
		{ fail "migrate-finish on B: $(tr '\n' ' ' </tmp/finish.out)"; return 1; }
	list=$(on_b 'pvringctl -t 5 list')
	[ "$(echo "$list" | grep -c ' Connected ')" = 2 ] ||
		{ fail "on b: $(echo "$list" | tr '\n' '|')"; return 1; }
	io_going
}

# The loops stop; every round of both passed, and the guest logged no I/O error.
case_io_verifies() {
	gx 20 'touch /tmp/stop' || return 1
	gx $((300 * SLOW)) 'while [ ! -f /tmp/fio.xvda.rc ] || [ ! -f /tmp/fio.pvdb.rc ]; do sleep 1; done
		cat /tmp/fio.xvda.rc /tmp/fio.pvdb.rc; dmesg | grep -c -E "I/O error|BUG|Oops|WARNING" || true' ||
		return 1
	set -- $gout
	[ "$1 $3" = "ok ok" ] || { fail "fio: $(echo "$gout" | tr '\n' '|')"; return 1; }
	[ "$5" = 0 ] || { gx 20 'dmesg | grep -E -A3 "I/O error|BUG|Oops|WARNING" | head -n 20'
		fail "the guest's kernel: $(echo "$gout" | tr '\n' '|')"; return 1; }
	echo "E2E-INFO migrate: $2 verified rounds on xvda (blkfront), $4 on pvdb (pvblk)"
	if [ "$WHERE" = a ]; then xl destroy mig; else on_b 'xl destroy mig'; fi
}

if [ "$THIS" = b ]; then
	# B: up, then serving until A says the run is over (or the host's timeout ends it).
	host_up || echo "E2E-INFO host b: $why"
	echo "E2E-INFO host b up"
	i=0
	while [ ! -e /tmp/e2e-done ] && [ $i -lt 3000 ]; do sleep 1; i=$((i + 1)); done
	echo "E2E-INFO pvringd warnings on b: $(grep -c -E 'warning|error' $PVLOG)"
else
	e2e_case hosts case_hosts
	e2e_case guest case_guest
	e2e_case io-starts case_io_starts
	e2e_case to-b case_to_b
	e2e_case back-to-a case_back_to_a
	e2e_case refused-on-b case_refused_on_b
	e2e_case io-verifies case_io_verifies
	on_b 'touch /tmp/e2e-done'
	echo "E2E-INFO pvringd warnings: $(grep -c -E 'warning|error' $PVLOG)"
fi
