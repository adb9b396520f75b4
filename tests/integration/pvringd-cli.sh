#!/usr/bin/env bash
# pvringd, pvringctl and pvring-io as an operator and a script use them, all
# real processes: startup errors are one clear line and a non-zero exit;
# pvringctl's tables, JSON and exit codes against a live ring; detach of a
# device in use ends the guest's I/O with pvringd's reason.
set -u
bin=${BUILDDIR:-$(pwd)}
pvringd=$bin/daemon/pvringd
ctl=$bin/tools/pvringctl
io=$bin/tools/pvring-io
# shellcheck source=../../scripts/processes.sh
. "$(dirname "$0")/../../scripts/processes.sh"

dir=$(mktemp -d /tmp/pvring-cli-XXXXXX)
io_pid=
failures=0
cleanup() {
	[ -n "$io_pid" ] && kill -TERM "$io_pid" 2>/dev/null
	pvring_stop_all
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT

# shellcheck source=checks.sh
. "$(dirname "$0")/checks.sh"

# wait_listed TEXT: pvringctl list shows TEXT, waited for up to 10 s (a bound for a hang, not
# a speed: the check after it says whether it came).
wait_listed() {
	for _ in $(seq 100); do
		"$ctl" list 2>/dev/null | grep -qF -- "$1" && return 0
		sleep 0.1
	done
	return 0
}

# raw REQUEST: one JSON line to pvringd's control socket as is (what pvringctl would
# not send); pvringd's error, or "ok", in $out
raw() {
	out=$(python3 -c '
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
r = json.loads(s.makefile("rb").readline())
print(r.get("error") or ("ok" if r.get("ok") is True else r))' "$PVRINGCTL_SOCKET" "$1")
}

truncate -s 64M "$dir/disk0.img"
truncate -s 1M "$dir/other.img"
pvring_start_store "$dir" || { echo "Bail out! pvring-stored did not start"; exit 1; }

# ---- startup errors: one line, naming the problem, non-zero exit ----
check "a missing image is refused with its path" \
	run 1 "$pvringd" --rundir "$dir" --disk "d0=$dir/missing.img"
check "  ... saying so" has "$err" "$dir/missing.img"
check "  ... in one line" test "$(wc -l <"$dir/err")" = 1

printf '{ "disks": [ { "name": "d0" } ] }\n' >"$dir/bad.json"
check "a config without a disk path is refused" run 2 "$pvringd" --config "$dir/bad.json"
check "  ... naming the file and the key" has "$err" "disks[0]: missing \"path\""

printf '{ "max-queus": 2 }\n' >"$dir/typo.json"
check "an unknown config key is refused" run 2 "$pvringd" --config "$dir/typo.json"
check "  ... naming it" has "$err" "unknown key \"max-queus\""

if [ "$(id -u)" = 0 ]; then
	install -m 0600 /dev/null "$dir/private.img"
	truncate -s 1M "$dir/private.img"
	mkdir -m 0777 "$dir/nobody"
	# Nobody may pass through the test's directory, not read the image in it.
	chmod 0711 "$dir"
	check "an image the daemon may not open is refused" \
		run 1 setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$pvringd" --rundir "$dir/nobody" --disk "p=$dir/private.img"
	check "  ... as a permission problem" has "$err" "permission denied"
else
	echo "ok - # SKIP permission test needs root to switch users"
fi

# ---- a running daemon and pvringctl ----
# Started as systemd starts services: a soft limit of 1024 open files under a higher hard one.
hard_nofile=$(ulimit -H -n)
[ "$hard_nofile" = unlimited ] || [ "$hard_nofile" -le 1024 ] || ulimit -S -n 1024
pvring_start_daemon "$dir" --disk "disk0=$dir/disk0.img" --max-queues 4 --workers 2 --log-level info \
	2>"$dir/pvringd.log" || { echo "Bail out! pvringd did not start"; exit 1; }
export PVRINGCTL_SOCKET=$dir/pvringd.sock
if [ "$hard_nofile" != unlimited ] && [ "$hard_nofile" -gt 1024 ]; then
	check "pvringd takes the hard limit on open files as its soft limit" \
		test "$(awk '/^Max open files/ { print $4 }' "/proc/$daemon_pid/limits")" = "$hard_nofile"
else
	echo "ok - # SKIP the hard limit on open files ($hard_nofile) leaves nothing to raise"
fi

# A second pvringd must neither take over nor break the one serving.
check "a second pvringd on the same run directory is refused" \
	run 1 "$pvringd" --rundir "$dir" --disk "other=$dir/other.img"
check "  ... saying why" has "$err" "another pvringd is serving the control socket"
check "  ... and the first keeps its socket" test -S "$dir/pvringd.sock"
mkdir "$dir/second"
check "a second pvringd serving the same image read-write is refused" \
	run 1 "$pvringd" --rundir "$dir/second" --disk "disk0=$dir/disk0.img"
check "  ... as an image in use" has "$err" "in use: another process holds a lock on it"

check "the control socket is root's alone (0600)" test "$(stat -c %a "$dir/pvringd.sock")" = 600
check "list with no devices" run 0 "$ctl" list
check "  ... prints the header" has "$out" "DEVICE  DISK  STATE  FE-STATE  QUEUES  ORDER  SECTORS  RO"
check "an unknown device is an error (exit 1)" run 1 "$ctl" show 9/9
check "  ... with pvringd's reason" has "$err" "pvringctl: no device 9/9"
check "a name with a terminal escape in it" run 1 "$ctl" show $'9\e]0;x\a/9'
check "  ... comes back cleaned" has "$err" "pvringctl: no device 9?]0;x?/9"
# More pvringctl commands at once than the socket has slots (64) and spares (4): pvringd is
# stopped while they start, so they all wait on it together, and every one gets its answer.
# Whether more than 68 are open at once is up to scheduling (the backlog holds 64; the rest wait
# in connect): the log count below shows whether any was turned away as busy and came back.
# test_ctl_client's test_busy_daemon checks that path exactly.
kill -STOP "$daemon_pid"
burst_pids=()
for i in $(seq 150); do
	"$ctl" list >/dev/null 2>"$dir/burst-$i.err" &
	burst_pids+=($!)
done
# Time to connect (a settle, not a measure: the count below shows whether they met the limit).
sleep 1
kill -CONT "$daemon_pid"
burst_failed=0
for p in "${burst_pids[@]}"; do wait "$p" || burst_failed=$((burst_failed + 1)); done
check "150 pvringctl list at once: every one answered" test "$burst_failed" = 0
[ "$burst_failed" = 0 ] || echo "# $burst_failed failed, the first saying: $(cat "$dir"/burst-*.err | head -n 1)"
echo "# pvringd's lines on connections turned away: $(grep -c 'all busy; refusing' "$dir/pvringd.log")"
check "a usage error exits 2" run 2 "$ctl" show
check "an unknown option exits 2" run 2 "$ctl" --bogus list

# Longer than the test can take on a loaded machine: the detach below is what ends it.
"$io" --rundir "$dir" --disk disk0 --rw randwrite --bs 16k --qd 8 --queues 2 --order 1 \
	--time 600 >"$dir/io.out" 2>"$dir/io.err" &
io_pid=$!
wait_listed 'disk0  Connected  Connected'
check "list shows the guest's device connected with 2 queues of order 1" run 0 "$ctl" list
check "  ... row" bash -c "awk '\$2 == \"disk0\" && \$3 == \"Connected\" && \$5 == 2 &&
	\$6 == 1 && \$7 == 131072 && \$8 == \"no\"' <<<'$out' | grep -q ."
# A disk written by one guest is not shared, not even read-only: the reader would see it change.
check "a second attach of a disk in use read-write is refused, even --ro (exit 1)" \
	run 1 "$ctl" attach disk0 --domid 1 --ro
check "  ... saying why" has "$err" "already attached read-write"
check "show by disk name" run 0 "$ctl" show disk0
check "  ... the device" has "$out" "sectors     131072 (64.0 MiB)"
check "  ... the ring state header" has "$out" \
	"RING  ORDER  WORKER  SLOTS  REQ-PROD  REQ-CONS  REQ-EVENT  RSP-PROD  RSP-PVT  RSP-EVENT  IN-FLIGHT  PGRANTS  FAULT"
check "  ... two rings of 64 slots" bash -c "grep -cE '^[01] +1 +[0-9]+ +64 ' <<<'$out' | grep -qx 2"
check "--json show carries write counters" run 0 "$ctl" --json show disk0
check "  ... that grow" python3 -c '
import json, sys
d = json.loads(sys.argv[1])["device"]
assert d["state"] == "Connected" and len(d["rings"]) == 2
assert sum(r["counters"]["write"] for r in d["rings"]) > 0
assert all(r["counters"]["errors"] == 0 for r in d["rings"])' "$out"
check "  ... and a device's 2 queues on the 2 workers" python3 -c '
import json, sys
d = json.loads(sys.argv[1])["device"]
assert sorted(r["worker"] for r in d["rings"]) == [0, 1], d["rings"]' "$out"
check "dump ring 0" run 0 "$ctl" dump disk0
check "  ... names the device and ring" bash -c "grep -qE '^[0-9]+/51712 ring 0: ' <<<'$out'"
check "dump of a ring that does not exist is an error" run 1 "$ctl" dump disk0 --ring 7
check "  ... saying how many there are" has "$err" "has no ring 7 (it has 2)"
for ring in '"x"' true null 0.9; do
	raw '{"cmd":"dump","device":"disk0","ring":'"$ring"'}'
	check "dump refuses \"ring\": $ring" has "$out" '"ring" must be an integer'
done
for devid in '"xvda"' true null 51712.9; do
	raw '{"cmd":"attach","disk":"disk0","domid":1,"devid":'"$devid"'}'
	check "attach refuses \"devid\": $devid" has "$out" '"devid" must be an integer'
done
raw '{"cmd":"attach","disk":"disk0","domid":1,"devid":536870912}'
check "attach refuses a devid above 0x1fffffff" has "$out" "devid 536870912 out of range (0..536870911)"
for type in '"scsi"' '"VBD"' '""'; do
	raw '{"cmd":"attach","disk":"disk0","domid":1,"type":'"$type"'}'
	check "attach refuses \"type\": $type" has "$out" "pvringd serves vbd and pvblk"
done
raw '{"cmd":"attach","disk":"disk0","domid":1,"type":1}'
check "attach refuses a \"type\" that is not a string" has "$out" '"type" must be "vbd" or "pvblk"'
check "pvringctl refuses --type scsi (exit 2)" run 2 "$ctl" attach disk0 --domid 1 --type scsi
check "  ... saying so" has "$err" "--type: vbd or pvblk, not scsi"
raw '{"cmd":"attach","disk":"disk0","domid":0}'
check "attach refuses domid 0" has "$out" "domid 0 out of range (1..32751)"
# pvringctl checks the same ranges, before asking.
check "pvringctl refuses --domid 0 (exit 2)" run 2 "$ctl" attach disk0 --domid 0
check "  ... saying so" has "$err" "--domid: not a domain id: 0"
check "pvringctl refuses --devid 536870912 (exit 2)" \
	run 2 "$ctl" attach disk0 --domid 1 --devid 536870912
check "  ... saying so" has "$err" "--devid: not a device number: 536870912"
check "watch prints rates" run 0 "$ctl" watch disk0 --interval 0.3 --count 2
check "  ... a line per sample" test "$(grep -c '/51712' <<<"$out")" = 2

# Detach while the guest writes: its I/O ends with pvringd's reason, pvringd goes on.
check "detach the device in use" run 0 "$ctl" detach disk0
wait "$io_pid"
io_status=$?
io_pid=
check "the guest's workload stops with an error" test "$io_status" = 1
check "  ... with pvringd's reason" has "$(cat "$dir/io.err")" "detached by the administrator"
# Its rings are served a few seconds more (blkfront may still send), then it goes.
for _ in $(seq 100); do
	"$ctl" list 2>/dev/null | grep -q disk0 || break
	sleep 0.1
done
check "the device is gone" run 0 "$ctl" list
check "  ... from the list" bash -c "! grep -q disk0 <<<'$out'"
check "the disk can be attached again and serves verified I/O" \
	run 0 "$io" --rundir "$dir" --disk disk0 --rw verify --bs 64k --qd 4 --size 4m
# A region of one block on two queues once divided by zero in pvring-io.
check "a region smaller than the queues runs on fewer queues" \
	run 0 "$io" --rundir "$dir" --disk disk0 --rw read --bs 4k --queues 2 --size 4k --count 4
check "  ... and says so" has "$out$err" "running 1 queue(s)"
# SIGINT ends a timed run early, as its end would: in-flight requests answered, a report, exit 0.
"$io" --rundir "$dir" --disk disk0 --rw randwrite --bs 4k --qd 4 --size 4m --time 600 \
	>"$dir/io-int.out" 2>"$dir/io-int.err" &
io_pid=$!
wait_listed 'disk0  Connected  Connected'
kill -INT "$io_pid"
wait "$io_pid"
check "SIGINT stops a pvring-io run early, which exits 0" test $? = 0
check "  ... with its report" has "$(cat "$dir/io-int.out")" "randwrite bs 4096: ops"
check "  ... and no error" test ! -s "$dir/io-int.err"

# kill -9 with a guest doing verified I/O, twice: its domain is the local hypervisor's (in
# pvring-stored), so it outlives pvringd; each new pvringd maps its rings again, answers what
# the killed one owed, and the guest's verify run ends with every block matching.
# (Waits are bounds for a hang, never a speed.) The second kill follows the first resume at
# once: both land early in a run of 262144 requests (about 1.8 s unloaded here), and the check
# before each kill says whether the guest was still at it.
in_log() { # in_log FILE TEXT: TEXT shows up in FILE within 30 s
	for _ in $(seq 300); do
		grep -qF -- "$2" "$1" && return 0
		sleep 0.1
	done
	echo "# no \"$2\" in $1"
	return 1
}
"$io" --rundir "$dir" --disk disk0 --rw randverify --bs 512 --qd 4 --queues 2 --size 64m \
	--timeout-ms 60000 >"$dir/io.out" 2>"$dir/io.err" &
io_pid=$!
wait_listed 'disk0  Connected  Connected'
check "a guest is connected before pvringd is killed" has "$("$ctl" list)" "disk0  Connected"
# Another pvringd on the same store, with a control socket of its own: the hypervisor takes one
# back end at a time.
check "a second pvringd on the same store is refused" \
	run 1 "$pvringd" --rundir "$dir" --control-socket "$dir/other.sock" --disk "other=$dir/other.img"
check "  ... by the hypervisor, saying why" has "$err" "another back end is connected"
check "  ... and the first one's guest is still connected" has "$("$ctl" list)" "disk0  Connected"
check "a connected ring keeps an in-flight journal" test -n "$(ls "$dir/inflight")"
for round in 1 2; do
	check "the guest is still verifying when pvringd is killed ($round)" kill -0 "$io_pid"
	kill -9 "$daemon_pid"
	wait "$daemon_pid" 2>/dev/null
	pvring_start_daemon "$dir" --disk "disk0=$dir/disk0.img" --max-queues 4 --workers 2 \
		--log-level info 2>"$dir/pvringd-$round.log" ||
		{ echo "Bail out! pvringd did not start again"; exit 1; }
	check "  ... the new pvringd takes the guest's rings on ($round)" \
		in_log "$dir/pvringd-$round.log" "ring 1: resumed at request"
	grep -h "resumed at" "$dir/pvringd-$round.log" | sed 's/^/# /'
done
wait "$io_pid"
io_rc=$?
io_pid=
check "the guest's verify run survives both kills (exit 0)" test "$io_rc" = 0
check "  ... its whole run (exit 0: every block matched)" has "$(cat "$dir/io.out")" "randverify bs 512: ops"
check "  ... no error on its side" test ! -s "$dir/io.err"

# pvring-stored killed and started again (its tree starts empty, and the hypervisor in it has
# no guests: they went with it, as guests go with a crashed Xen): pvringd connects again and
# serves new guests (it used to refuse them all, "Bad file descriptor", until restarted).
"$io" --rundir "$dir" --disk disk0 --rw randwrite --bs 16k --qd 4 --size 4m --time 600 \
	>/dev/null 2>"$dir/io-store.err" &
io_pid=$!
wait_listed 'disk0  Connected'
check "a guest is connected before the store is killed" has "$("$ctl" list)" "disk0  Connected"
kill -9 "$store_pid"
wait "$store_pid" 2>/dev/null
check "pvringd notices that the store went away" in_log "$dir/pvringd-2.log" "the store went away"
check "  ... and keeps running" kill -0 "$daemon_pid"
check "  ... and refuses an attach meanwhile, saying why" run 1 "$ctl" attach disk0 --domid 1
check "  ... as the store being away" has "$err" "the store is away"
pvring_start_store "$dir" || { echo "Bail out! pvring-stored did not start again"; exit 1; }
check "pvringd connects to the restarted store" in_log "$dir/pvringd-2.log" "the store is back"
check "  ... and to the restarted hypervisor" in_log "$dir/pvringd-2.log" \
	"connected to the restarted hypervisor"
wait "$io_pid"
io_rc=$?
io_pid=
check "  ... the guest connected before ended with its hypervisor (pvring-io exits with an error)" \
	test "$io_rc" != 0
check "  ... saying so" has "$(cat "$dir/io-store.err")" "the local hypervisor ended this domain"
check "  ... pvringd removes its device" in_log "$dir/pvringd-2.log" "51712: removed"
check "  ... and a new guest registers and verifies" \
	run 0 "$io" --rundir "$dir" --disk disk0 --rw randverify --bs 16k --qd 4 --size 4m

pvring_stop_all
check "pvringd exits 0 on SIGTERM" test $? = 0
check "pvringctl cannot reach a stopped daemon (exit 3)" run 3 "$ctl" list
check "  ... and says why" has "$err" "cannot reach pvringd"

if [ "$failures" -ne 0 ]; then
	echo "--- pvringd log"
	tail -n 30 "$dir/pvringd.log"
	checks_failed
	exit 1
fi
echo "PASS: pvringd, pvringctl and pvring-io from the command line"
