#!/usr/bin/env bash
# Disks on real storage engines: a one-node Ceph cluster (RBD) and nbdkit (NBD), started here
# from Debian's packages and stopped after. pvringd serves them on the local platform to
# pvring-io and to test_pvringd's own cases; the engine's server goes away under I/O and comes
# back; bad names, missing images and unreachable servers are refused with one line.
set -u
bin=${BUILDDIR:-$(pwd)}
pvringd=$bin/daemon/pvringd
ctl=$bin/tools/pvringctl
io=$bin/tools/pvring-io
here=$(dirname "$0")
# shellcheck source=../../scripts/processes.sh
. "$here/../../scripts/processes.sh"
# shellcheck source=../lib/storage-engines.sh
. "$here/../lib/storage-engines.sh"

dir=$(mktemp -d /tmp/pvring-remote-XXXXXX)
failures=0
bg_pids=()
cleanup() {
	for p in "${bg_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	pvring_stop_all
	nbd_stop
	[ -n "${nbd_d0_pid:-}" ] && kill -TERM "$nbd_d0_pid" 2>/dev/null
	ceph_stop
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
# shellcheck source=checks.sh
. "$here/checks.sh"

# The mon's port: one per run, so two build trees' runs never meet.
port=$((20000 + $$ % 20000))
if ! ceph_start "$dir/ceph" "$port" >"$dir/ceph-start.log" 2>&1; then
	cat "$dir/ceph-start.log"
	echo "Bail out! the Ceph cluster did not start"
	exit 1
fi
rbd create --size 64M rbd/io || {
	echo "Bail out! rbd create failed"
	exit 1
}
truncate -s 64M "$dir/nbd.img" "$dir/file.img" "$dir/file1.img"
# One thread per connection: Debian 12's nbdkit (1.32.5) runs a connection's requests on several
# threads, and when a client closes the connection with requests in flight (pvringd does, after
# its timeout) a thread still answering one aborts nbdkit ("raw_send_socket: Assertion `sock >= 0'
# failed"). Seen 2 times in 3 pauses on a loaded machine; 0 in 4 with --threads 1. The d0 server
# above is never paused and keeps nbdkit's threads.
nbd_threads=(--threads 1)
nbd_start "$dir" "$dir/nbd.img" "${nbd_threads[@]}" ||
	{ echo "Bail out! nbdkit did not start"; exit 1; }
nbd_io=$nbd_uri
truncate -s 16M "$dir/nbd-d0.img"
nbdkit -U "$dir/nbd-d0.sock" -P "$dir/nbd-d0.pid" file "$dir/nbd-d0.img" ||
	{ echo "Bail out! nbdkit did not start"; exit 1; }
nbd_d0_pid=$(cat "$dir/nbd-d0.pid")

# ---- test_pvringd's cases, with d0 on each engine ----
# run_cases ENGINE: its lines go to the log as comments, one check says how they went.
run_cases() {
	local engine=$1

	shift
	env "$@" "$bin/tests/integration/test_pvringd" >"$dir/cases-$engine.out" 2>&1
	local st=$?
	sed 's/^/# /' "$dir/cases-$engine.out"
	return $st
}
# LOAD fills an image from the test's file ($1) and prints its name; SAVE copies the image ($2)
# back into the file, zeros as holes (what the discard test looks at).
check "test_pvringd's cases pass with d0 on an NBD export" run_cases nbd \
	PVRING_TEST_D0_LOAD="cp \"\$1\" $dir/nbd-d0.img && echo 'nbd+unix:///?socket=$dir/nbd-d0.sock'" \
	PVRING_TEST_D0_SAVE="cp $dir/nbd-d0.img \"\$1\" && fallocate --dig-holes \"\$1\""
# A new image for every case: one a killed pvringd held may keep its watch for a while.
check "test_pvringd's cases pass with d0 on an RBD image" run_cases rbd \
	PVRING_TEST_D0_LOAD="n=d0-\$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); rbd import --no-progress \"\$1\" rbd/\$n >&2 && echo rbd:rbd/\$n" \
	PVRING_TEST_D0_SAVE="rm -f \"\$1\" && rbd export --no-progress \"\${2#rbd:}\" \"\$1\" >/dev/null && fallocate --dig-holes \"\$1\""

# ---- pvringd serving both engines and a file ----
pvring_start_store "$dir" || { echo "Bail out! pvring-stored did not start"; exit 1; }
pvring_start_daemon "$dir" --disk "r0=rbd:rbd/io" --disk "n0=$nbd_io" --disk "f0=$dir/file.img" \
	--disk "f1=$dir/file1.img" \
	--disk "r0ro=rbd:rbd/io,ro" --remote-image "rbd:rbd" --remote-image "rbd:nopool" \
	--remote-image "nbd+unix://?socket=$dir/nbd.sock" \
	--remote-image "nbd+unix://?socket=$dir/missing.sock" \
	--remote-timeout-ms 3000 --max-queues 4 --log-level info 2>"$dir/pvringd.log" ||
	{ cat "$dir/pvringd.log"; echo "Bail out! pvringd did not start"; exit 1; }
export PVRINGCTL_SOCKET=$dir/pvringd.sock
check "pvringd opened the RBD image" has "$(cat "$dir/pvringd.log")" "disk r0: rbd:rbd/io, 131072 sectors"
check "pvringd opened the NBD export" has "$(cat "$dir/pvringd.log")" "disk n0: $nbd_io, 131072 sectors"

for disk in r0 n0; do
	check "$disk: verified random 4 KiB I/O on 2 queues" \
		run 0 timeout 120 "$io" --rundir "$dir" --disk "$disk" --rw randverify --bs 4k --qd 8 \
		--queues 2 --size 16m --count 4096
	check "$disk: verified 256 KiB I/O (indirect requests)" \
		run 0 timeout 120 "$io" --rundir "$dir" --disk "$disk" --rw verify --bs 256k --qd 4 \
		--offset 32m --size 8m
done

# A guest to attach devices to: reads from the file disk until the end.
"$io" --rundir "$dir" --disk f0 --rw randread --bs 4k --qd 1 --time 900 >/dev/null 2>&1 &
bg_pids+=($!)
for _ in $(seq 100); do
	g=$("$ctl" list 2>/dev/null | awk '$2 == "f0" { split($1, a, "/"); print a[1] }')
	[ -n "$g" ] && break
	sleep 0.1
done
check "a guest is there to attach devices to" test -n "$g"

# ---- read-only ----
check "r0ro: reads work" run 0 timeout 60 "$io" --rundir "$dir" --disk r0ro --rw randread \
	--bs 4k --qd 4 --count 512
check "r0ro: the guest sees a read-only disk, and will not write (exit 2)" \
	run 2 timeout 60 "$io" --rundir "$dir" --disk r0ro --rw randwrite --bs 4k --qd 1 --count 1
check "  ... saying so" has "$err" "disk r0ro is read-only"

# ---- names: attach by name, and what is refused ----
check "an RBD image attached by name" run 0 "$ctl" attach rbd:rbd/io --domid "$g" --devid 4 --ro
check "  ... is listed" has "$("$ctl" list)" "rbd:rbd/io"
check "an NBD export attached by name" run 0 "$ctl" attach "nbd+unix:///?socket=$dir/nbd.sock" \
	--domid "$g" --devid 5 --ro
check "pvringctl show names the back end" run 0 "$ctl" show "$g/4"
check "  ... rbd" has "$out" "backend     rbd"
check "  ... serving" has "$out" "io-state    ok"
check "pvringctl show names an NBD back end" bash -c "'$ctl' show $g/5 | grep -q '^backend     nbd'"
check "a missing RBD image is refused (exit 1)" run 1 "$ctl" attach rbd:rbd/missing --domid "$g"
check "  ... saying so" has "$err" "rbd:rbd/missing: no such image"
check "a missing pool is refused" run 1 "$ctl" attach rbd:nopool/x --domid "$g"
check "  ... saying so" has "$err" "rbd:nopool/x: no such pool"
check "an image outside remote-images is refused" run 1 "$ctl" attach rbd:other/x --domid "$g"
check "  ... saying so" has "$err" "not among the images pvringd serves by name"
check "an NBD server that is not there is refused" run 1 "$ctl" attach \
	"nbd+unix:///?socket=$dir/missing.sock" --domid "$g"
check "  ... saying it cannot connect" has "$err" "cannot connect"
check "a malformed NBD name is refused" run 1 "$ctl" attach "nbd://h:99999/x" --domid "$g"
check "  ... naming the problem" has "$err" "nbd port is not a number from 1 to 65535"
check "TLS is refused with its reason" run 1 "$ctl" attach "nbds://h/x" --domid "$g"
check "  ... saying so" has "$err" "TLS (nbds) and vsock NBD names are not supported"
check "without its engine module, an RBD disk is refused with the reason (exit 1)" \
	run 1 env PVRINGD_ENGINE_DIR="$dir/none" "$pvringd" --rundir "$dir/other" \
	--disk "x=rbd:rbd/io"
check "  ... naming the module" has "$err" "no rbd engine in this pvringd ($dir/none/pvringd-rbd.so"
check "a startup disk on a missing image stops pvringd with one line (exit 1)" \
	run 1 "$pvringd" --rundir "$dir/other" --disk "x=rbd:rbd/missing" --remote-timeout-ms 3000
check "  ... naming it" has "$err" "disk x: rbd:rbd/missing: no such image"
check "  ... in one line" test "$(wc -l <"$dir/err")" = 1

# ---- the server goes away under I/O, and comes back ----
# outage DISK STOP START NAME: a guest writes to DISK across STOP (its server goes away) and
# START (it is back), going on after errors (--keep-going). Its requests fail after the
# timeout, pvringd and another disk keep serving meanwhile, the same guest's writes succeed
# again once the server is back, and new verified I/O works. The guest writes until SIGINT
# ends its run: how long each step takes on a loaded machine decides nothing. (Waits are
# bounds for a hang, never a speed.)
outage() {
	local disk=$1 stop=$2 start=$3 name=$4 st dev= fails serving

	fails=$(grep -c "I/O failing" "$dir/pvringd.log")
	serving=$(grep -c "serving again" "$dir/pvringd.log")
	"$io" --rundir "$dir" --disk "$disk" --rw randwrite --bs 4k --qd 4 --size 4m --time 900 \
		--keep-going >"$dir/outage.out" 2>"$dir/outage.err" &
	local io_pid=$!
	bg_pids+=("$io_pid")
	for _ in $(seq 100); do
		dev=$("$ctl" list 2>/dev/null | awk -v d="$disk" '$2 == d && $3 == "Connected" { print $1 }')
		[ -n "$dev" ] && break
		sleep 0.05
	done
	check "$name: the guest's device is connected" test -n "$dev"
	sleep 0.5
	eval "$stop"
	for _ in $(seq 600); do
		[ "$(grep -c "I/O failing" "$dir/pvringd.log")" -gt "$fails" ] && break
		sleep 0.1
	done
	check "$name: pvringd says the image is failing" \
		test "$(grep -c "I/O failing" "$dir/pvringd.log")" -gt "$fails"
	check "$name: pvringctl shows it failing" \
		bash -c "'$ctl' show $dev | grep -q '^io-state    failing for'"
	check "$name: pvringd keeps running" kill -0 "$daemon_pid"
	check "$name: another disk serves meanwhile" \
		run 0 timeout 60 "$io" --rundir "$dir" --disk f1 --rw randverify --bs 4k --qd 4 \
		--size 4m --count 1024
	eval "$start"
	# Only this guest uses the disk now: its own writes succeed again.
	for _ in $(seq 600); do
		[ "$(grep -c "serving again" "$dir/pvringd.log")" -gt "$serving" ] && break
		sleep 0.1
	done
	check "$name: the same guest's writes succeed again (pvringd: serving again)" \
		test "$(grep -c "serving again" "$dir/pvringd.log")" -gt "$serving"
	check "$name: pvringctl shows it serving again" \
		bash -c "'$ctl' show $dev | grep -q '^io-state    ok'"
	kill -INT "$io_pid"
	wait "$io_pid"
	st=$?
	check "$name: the guest saw its requests fail (exit 1)" test "$st" = 1
	check "  ... with the reason" grep -q "failed: status -1 (error)" "$dir/outage.err"
	check "  ... and counted them" grep -q "requests failed" "$dir/outage.err"
	check "$name: new I/O verifies" \
		run 0 timeout 120 "$io" --rundir "$dir" --disk "$disk" --rw randverify --bs 4k \
		--qd 4 --size 4m --count 2048
}
osd=$(ceph_osd_pid)
outage r0 "kill -STOP $osd" "kill -CONT $osd" "RBD, OSD paused"
nbdpid=$(nbd_pid)
outage n0 "kill -STOP $nbdpid" "kill -CONT $nbdpid" "NBD, server paused"
check "  ... pvringd gave up on the connection after its timeout" \
	has "$(cat "$dir/pvringd.log")" "no answer from the server for 3000 ms"
check "  ... the NBD server outlived pvringd giving up on its connection" kill -0 "$nbdpid"
outage n0 "nbd_stop" "nbd_start $dir $dir/nbd.img ${nbd_threads[*]}" \
	"NBD, server stopped and started again"
check "  ... the guest's queue connected again" has "$(cat "$dir/pvringd.log")" "connected again"

check "pvringd stops cleanly" pvring_stop_all
if [ "$failures" != 0 ]; then
	grep -v "info: [0-9]*/[0-9]*: [A-Za-z]* -> \|removing\|removed$" "$dir/pvringd.log" | tail -n 150
	checks_failed
	exit 1
fi
echo "PASS: disks on Ceph RBD and NBD"
