#!/usr/bin/env bash
# What pvringd's memory costs per device: its resident set (VmRSS) idle, with 1, 16 and 256
# connected devices (one queue of order 0 each, a pvring-io guest per device), and with one
# device of 16 queues of order 4 (the most a front end may ask for).
#
#   tests/bench/rss_bench.sh BUILDDIR [PVRINGD]      (make bench-rss)
#
# PVRINGD (default BUILDDIR/daemon/pvringd) lets two builds be compared with the same tools.
set -euo pipefail
build=$(cd "${1:?usage: rss_bench.sh BUILDDIR [PVRINGD]}" && pwd)
pvringd=$(realpath "${2:-$build/daemon/pvringd}")
dir=$(mktemp -d /tmp/pvring-rss-XXXXXX)
bin=$build
# shellcheck source=../../scripts/processes.sh
. "$(dirname "$0")/../../scripts/processes.sh"
guests=()
cleanup() {
	[ ${#guests[@]} -eq 0 ] || kill -TERM "${guests[@]}" 2>/dev/null || true
	pvring_stop_all
	rm -rf "$dir"
}
trap cleanup EXIT

ndisks=${RSS_DISKS:-256}
args=()
for i in $(seq 0 $((ndisks - 1))); do
	truncate -s 16M "$dir/d$i.img"
	args+=(--disk "d$i=$dir/d$i.img")
done
# The daemon under test, started as processes.sh starts pvringd (it runs $bin/daemon/pvringd).
mkdir -p "$dir/bin/daemon" "$dir/bin/tools"
ln -s "$pvringd" "$dir/bin/daemon/pvringd"
ln -s "$build/tools/pvringctl" "$dir/bin/tools/pvringctl"
ctl="$build/tools/pvringctl --socket $dir/pvringd.sock"

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$daemon_pid/status"; }
# The part of the RSS that is guest memory pvringd has mapped (the local platform's memfd
# pages: rings and granted buffers), as against pvringd's own heap and stacks.
shmem_kib() { awk '/^RssShmem:/ { print $2 }' "/proc/$daemon_pid/status"; }
connected() { $ctl list | grep -c ' Connected ' || true; }

batch=32
# wait_connected N: N devices connected, or say why not and stop.
wait_connected() {
	local want=$1
	for _ in $(seq 1200); do
		[ "$(connected)" -ge "$want" ] && return 0
		sleep 0.1
	done
	echo "only $(connected) of $want connected; a guest said: $(cat "$dir"/io*.err | sort | uniq -c | head -3)" >&2
	exit 1
}

# row LABEL N QUEUES ORDER: a fresh pvringd, its idle RSS, then with N guests connected.
row() {
	local label=$1 n=$2 queues=$3 order=$4 i idle r shm
	bin=$dir/bin pvring_start_daemon "$dir" "${args[@]}" --max-queues 16 --log-level warning
	sleep 0.5
	idle=$(rss_kib)
	guests=()
	# Guests come up in batches: pvringd's control socket admits 64 clients at a time and
	# refuses the rest (a guard against a flood), and each guest attaches through it.
	for i in $(seq 0 $((n - 1))); do
		"$build/tools/pvring-io" --rundir "$dir" --disk "d$i" --rw randread --bs 4k --qd 1 \
			--queues "$queues" --order "$order" --spin-us 0 --time 600 >/dev/null \
			2>"$dir/io$i.err" &
		guests+=($!)
		if [ $(((i + 1) % batch)) -eq 0 ] || [ "$i" -eq $((n - 1)) ]; then
			wait_connected $((i + 1))
		fi
	done
	sleep 1
	r=$(rss_kib)
	shm=$(shmem_kib)
	kill -TERM "${guests[@]}"
	wait "${guests[@]}" 2>/dev/null || true
	guests=()
	kill -TERM "$daemon_pid"
	wait "$daemon_pid" || true
	daemon_pid=
	printf '%-34s %10d %10d %12.1f %12d\n' "$label" "$idle" "$r" \
		"$(python3 -c "print(($r - $idle) / $n)")" "$shm"
}

pvring_start_store "$dir"
echo "pvringd: $pvringd ($ndisks disks open)"
printf '%-34s %10s %10s %12s %12s\n' "" "idle KiB" "RSS KiB" "KiB/device" "guest KiB"
for n in ${RSS_DEVICES:-1 16 64 256}; do
	row "$n device(s), 1 queue of order 0" "$n" 1 0
done
row "1 device, 16 queues of order 4" 1 16 4
