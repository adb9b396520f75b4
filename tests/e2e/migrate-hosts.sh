# shellcheck shell=bash
# Sourced by run.sh for the migrate suite: two Xen hosts, each a QEMU (TCG) with its own dom0 and
# pvringd, joined by a network of their own (a QEMU socket netdev over loopback: host A's dom0 is
# 192.168.77.1, B's 192.168.77.2). The guest's disks are on shared storage, outside both hosts:
# two nbdkit exports on this machine, which each dom0 reaches through QEMU's user network
# (10.0.2.2). A runs the cases (cases-migrate.sh) and drives B over ssh; B serves until A is done.
# Uses run.sh's $qemu, $out, $cache, $dom0_args, $timeout, $log; returns 0 once both hosts
# reached their end marker.
# shellcheck disable=SC2154 # out, suite and log are run.sh's

# free_port: a TCP port nothing on this machine listens on.
free_port() {
	local p

	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 30000))
		ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
	done
	return 1
}

migrate_hosts() {
	local link nbd_blk nbd_pvblk pid_a pid_b st_a st_b cpio=$out/images-$suite/dom0.cpio.gz

	link=$(free_port) && nbd_blk=$(free_port) && nbd_pvblk=$(free_port) &&
		[ "$link" != "$nbd_blk" ] && [ "$link" != "$nbd_pvblk" ] &&
		[ "$nbd_blk" != "$nbd_pvblk" ] || {
		echo "e2e: no three free TCP ports" >&2
		return 1
	}
	# The shared storage: one export for blkfront's disk, one for pvblk's. Each write takes
	# 100 ms there, so that the guest always has writes in flight while its memory is copied.
	# (At the suspend itself pvblk had none in the runs here: Linux freezes its queue first,
	# which waits for them; the case prints how many it re-issued.)
	rm -f "$out"/migrate-*.img "$out"/migrate-nbd-*.pid
	truncate -s 64M "$out/migrate-blk.img" "$out/migrate-pvblk.img"
	nbdkit --filter=delay -i 127.0.0.1 -p "$nbd_blk" -P "$out/migrate-nbd-blk.pid" \
		file "$out/migrate-blk.img" wdelay=100ms &&
		nbdkit --filter=delay -i 127.0.0.1 -p "$nbd_pvblk" -P "$out/migrate-nbd-pvblk.pid" \
			file "$out/migrate-pvblk.img" wdelay=100ms || {
		echo "e2e: nbdkit did not start" >&2
		return 1
	}
	# host NAME LAST_MAC_BYTE LINK_ROLE: one host's QEMU; LINK_ROLE is listen or connect.
	host() {
		local name=$1 mac=$2 role=$3 console=$log

		[ "$name" = b ] && console=$out/$suite-b.console
		"$here/qemu-run.py" "$console" "$timeout" '^E2E-END' -- "${qemu[@]}" \
			-netdev user,id=storage -device virtio-net-pci,netdev=storage,mac=52:54:00:e2:e0:$mac \
			-netdev socket,id=link,$role=127.0.0.1:$link \
			-device virtio-net-pci,netdev=link,mac=52:54:00:77:00:$mac \
			-initrd "$cache/boot/vmlinux $dom0_args e2e_host=$name e2e_nbd=$nbd_blk:$nbd_pvblk,$cpio"
	}
	host b 02 listen &
	pid_b=$!
	# A's QEMU connects to B's socket: only once B's QEMU listens.
	for _ in $(seq 300); do
		ss -Hltn "sport = :$link" | grep -q . && break
		kill -0 "$pid_b" 2>/dev/null || break
		sleep 0.1
	done
	host a 01 connect &
	pid_a=$!
	wait "$pid_a"
	st_a=$?
	# B ends when A tells it to; an A that could not (it failed to reach B) leaves B waiting:
	# a minute after A's end, B is stopped.
	for _ in $(seq 600); do
		kill -0 "$pid_b" 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM "$pid_b" 2>/dev/null
	wait "$pid_b"
	st_b=$?
	kill "$(cat "$out/migrate-nbd-blk.pid")" "$(cat "$out/migrate-nbd-pvblk.pid")" 2>/dev/null
	sed -n 's/^\[ *[0-9.]*\] \(E2E-INFO.*\)/\1 (host b)/p' "$out/$suite-b.console"
	[ "$st_b" = 0 ] || echo "e2e: host B did not reach its end (exit $st_b): see $out/$suite-b.console" >&2
	[ "$st_a" = 0 ] && [ "$st_b" = 0 ]
}
