#!/usr/bin/env bash
# The data path benchmark, side by side in one run: pvring-io through pvringd (local
# platform) against the same I/O issued directly with io_uring by one process
# (uring_direct, reads only) and by a tuned fio (io_uring, batched submit, fixed buffers,
# registered file, --invalidate=0) on the same page-cached file. Every row alternates the
# sides REPEAT times and prints medians.
#
#   tests/bench/io_bench.sh BUILDDIR [SECONDS [REPEAT]]     (make bench-io)
#
# Rows: 4 KiB random reads at QD1 (unpinned; guest and pvringd apart on two CPUs; sharing
# one CPU; each with pvring's spin on and off) and QD32 (1 and 4 queues, one and two
# guests); 4 KiB random writes and 128 KiB sequential writes; pvringd's CPU time per
# request; and fairness: a victim's QD1 reads alone, beside a guest keeping 64 1 MiB reads
# in flight on an order-4 ring, beside a guest that only rings its doorbell, and beside a
# process that only burns a CPU (the machine's part), with the spin and without.
#
# The machines are shared and noisy: read the ratios, not the absolute figures.
set -euo pipefail
build=$(cd "${1:?usage: io_bench.sh BUILDDIR [SECONDS [REPEAT]]}" && pwd)
secs=${2:-3}
repeat=${3:-3}
dir=$(mktemp -d /tmp/pvring-bench-XXXXXX)
bin=$build
# shellcheck source=../../scripts/processes.sh
. "$(dirname "$0")/../../scripts/processes.sh"
bg=()
cleanup() {
	[ ${#bg[@]} -eq 0 ] || kill -TERM "${bg[@]}" 2>/dev/null || true
	pvring_stop_all
	rm -rf "$dir"
}
trap cleanup EXIT
command -v fio >/dev/null || { echo "io_bench: fio is needed (apt-get install fio)" >&2; exit 1; }

# Real data (not sparse), read once so every block is in the page cache.
img=$dir/bench.img
wimg=$dir/write.img
head -c $((256 << 20)) /dev/urandom >"$img"
head -c $((256 << 20)) /dev/urandom >"$wimg"
cat "$img" "$wimg" >/dev/null
ncpu=$(nproc)

start_pvringd() { # [pvringd options]: a fresh pvringd serving ro (shareable) and rw disks
	# Its log aside: the fairness row's noisy guests are killed with I/O in flight.
	pvring_start_daemon "$dir" --disk "ro=$img,ro" --disk "rw=$wimg" --max-queues 4 \
		--log-level warning "$@" 2>>"$dir/pvringd.log"
}
pvring_start_store "$dir"

# shellcheck source=stats.sh
. "$(dirname "$0")/stats.sh"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat"; }

on_cpus() { # CPUS|- COMMAND...: run COMMAND on CPUS (- : wherever the scheduler likes)
	local cpus=$1
	shift
	if [ "$cpus" = - ]; then "$@"; else taskset -c "$cpus" "$@"; fi
}
# Each side prints "IOPS P50 P99" (microseconds).
pvring() { # CPUS|- pvring-io options...
	local cpus=$1
	shift
	on_cpus "$cpus" "$build/tools/pvring-io" --rundir "$dir" --time "$secs" --json "$@" |
		python3 -c 'import json,sys; o=json.load(sys.stdin); l=o["latency_us"]
print(o["iops"], l["p50"], l["p99"], o["ops"])'
}
direct() { # CPUS|- uring_direct options...
	local cpus=$1
	shift
	on_cpus "$cpus" "$build/tests/bench/uring_direct" --file "$img" --time "$secs" --json "$@" |
		python3 -c 'import json,sys; o=json.load(sys.stdin); l=o["latency_us"]
print(o["iops"], l["p50"], l["p99"])'
}
fio_tuned() { # CPUS|- FILE RW BS QD JOBS
	local cpus=$1 file=$2 rw=$3 bs=$4 qd=$5 jobs=$6
	on_cpus "$cpus" fio --name=peer --filename="$file" --ioengine=io_uring --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --iodepth_batch_submit="$qd" --iodepth_batch_complete_min=1 \
		--fixedbufs --registerfiles --invalidate=0 --numjobs="$jobs" --group_reporting \
		--time_based --runtime="$secs" --output-format=json 2>/dev/null |
		python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]
d = j["write"] if j["write"]["io_bytes"] else j["read"]
p = d["clat_ns"]["percentile"]
print(d["iops"], p["50.000000"] / 1000, p["99.000000"] / 1000)'
}

header() {
	printf '\n%-44s | %s\n' "$1" "$2"
}
# The last row's medians per side, for figures derived from them.
declare -A med_iops med_p99
# row LABEL SIDE_NAME... -- then the commands as functions named side_1, side_2, ...: each
# repeat runs every side once, in turn; medians of IOPS, p50, p99 are printed per side, and
# the first side's IOPS over each other's.
row() {
	local label=$1 n=$2 i r k
	declare -A iops p50 p99
	for r in $(seq "$repeat"); do
		for i in $(seq "$n"); do
			read -r a b c _ <<<"$("side_$i")"
			iops[$i]+="$a " p50[$i]+="$b " p99[$i]+="$c "
		done
	done
	local out=() first
	for i in $(seq "$n"); do
		# shellcheck disable=SC2086
		k=$(median ${iops[$i]})
		[ "$i" = 1 ] && first=$k
		# shellcheck disable=SC2086
		med_iops[$i]=$k med_p99[$i]=$(median ${p99[$i]})
		# shellcheck disable=SC2086
		out+=("$(printf '%8.0f %6.1f %7.1f' "$k" "$(median ${p50[$i]})" "${med_p99[$i]}")")
		[ "$i" = 1 ] || out+=("x$(ratio "$first" "$k")")
	done
	printf '%-44s | %s\n' "$label" "${out[*]}"
}

echo "pvring-io through pvringd vs peers; medians of $repeat alternating runs of $secs s;"
echo "each side: IOPS, p50 us, p99 us; xN.NN = pvring's IOPS over that side's."

stop_pvringd() {
	kill -TERM "$daemon_pid"
	wait "$daemon_pid" || true
	daemon_pid=
}
start_pvringd
header "4 KiB random read, QD1, 1 queue" \
	"pvring | pvring, guest not spinning | io_uring direct | fio"
side_1() { pvring - --disk ro --rw randread --bs 4k --qd 1; }
side_2() { pvring - --disk ro --rw randread --bs 4k --qd 1 --spin-us 0; }
side_3() { direct - --bs 4k --qd 1; }
side_4() { fio_tuned - "$img" randread 4k 1 1; }
row "unpinned" 4
stop_pvringd
start_pvringd --poll-us 0
side_1() { pvring - --disk ro --rw randread --bs 4k --qd 1 --spin-us 0; }
row "unpinned, no spin on either side (--poll-us 0)" 4
stop_pvringd
start_pvringd
if [ "$ncpu" -ge 2 ]; then
	taskset -a -p -c 1 "$daemon_pid" >/dev/null
	side_1() { pvring 0 --disk ro --rw randread --bs 4k --qd 1; }
	side_2() { pvring 0 --disk ro --rw randread --bs 4k --qd 1 --spin-us 0; }
	side_3() { direct 0 --bs 4k --qd 1; }
	side_4() { fio_tuned 0 "$img" randread 4k 1 1; }
	row "apart: pvringd on CPU 1, the guest on CPU 0" 4
	taskset -a -p -c 0 "$daemon_pid" >/dev/null
	row "shared: pvringd and the guest on CPU 0" 4
	stop_pvringd
	start_pvringd --poll-us 0
	taskset -a -p -c 0 "$daemon_pid" >/dev/null
	side_1() { pvring 0 --disk ro --rw randread --bs 4k --qd 1 --spin-us 0; }
	row "shared, no spin on either side (--poll-us 0)" 4
	stop_pvringd
	start_pvringd
fi

header "4 KiB random read, QD32" "pvring | io_uring direct | fio"
side_1() { pvring - --disk ro --rw randread --bs 4k --qd 32; }
side_2() { direct - --bs 4k --qd 32; }
side_3() { fio_tuned - "$img" randread 4k 32 1; }
row "1 queue" 3
side_1() { pvring - --disk ro --rw randread --bs 4k --qd 32 --queues 4; }
side_2() { direct - --bs 4k --qd 32 --queues 4; }
side_3() { fio_tuned - "$img" randread 4k 32 4; }
row "4 queues (fio: 4 jobs)" 3
two_guests() {
	local f1=$dir/g1 f2=$dir/g2
	pvring - --disk ro --rw randread --bs 4k --qd 32 >"$f1" &
	pvring - --disk ro --rw randread --bs 4k --qd 32 >"$f2"
	wait
	python3 -c 'import sys; a=open(sys.argv[1]).read().split(); b=open(sys.argv[2]).read().split()
print(float(a[0]) + float(b[0]), max(float(a[1]), float(b[1])), max(float(a[2]), float(b[2])))' "$f1" "$f2"
}
side_1() { two_guests; }
side_2() { direct - --bs 4k --qd 32 --queues 2; }
side_3() { fio_tuned - "$img" randread 4k 32 2; }
row "two guests, 1 queue each (total; peers: 2 queues/jobs)" 3

header "writes, QD32, 1 queue" "pvring | fio"
side_1() { pvring - --disk rw --rw randwrite --bs 4k --qd 32; }
side_2() { fio_tuned - "$wimg" randwrite 4k 32 1; }
row "4 KiB random write" 2
side_1() { pvring - --disk rw --rw write --bs 128k --qd 32; }
side_2() { fio_tuned - "$wimg" write 128k 32 1; }
row "128 KiB sequential write" 2

header "pvringd CPU time per request (us), 2 s runs" "QD1 read | QD32 read | QD32 4 KiB write"
cost() {
	local before after ops
	before=$(cpu_ticks)
	ops=$(pvring - "$@" | awk '{ print $4 }')
	after=$(cpu_ticks)
	python3 -c "import os,sys; t=os.sysconf('SC_CLK_TCK'); print('%.2f' % ((int(sys.argv[2]) - int(sys.argv[1])) / t * 1e6 / int(sys.argv[3])))" "$before" "$after" "$ops"
}
printf '%-44s | %s %s %s\n' "pvringd" "$(cost --disk ro --rw randread --bs 4k --qd 1)" \
	"$(cost --disk ro --rw randread --bs 4k --qd 32)" \
	"$(cost --disk rw --rw randwrite --bs 4k --qd 32)"

header "fairness: a victim's 4 KiB random reads, QD1" \
	"victim IOPS p50 p99 | IOPS, p99 vs alone"
victim_args=()
victim() { pvring - --disk ro --rw randread --bs 4k --qd 1 "${victim_args[@]}"; }
beside() { # the noisy guest's command...
	"$@" >/dev/null 2>&1 &
	bg=($!)
	sleep 0.5
	victim
	kill -TERM "${bg[@]}" 2>/dev/null || true
	wait "${bg[@]}" 2>/dev/null || true
	bg=()
}
side_1() { victim; }
side_2() {
	beside "$build/tools/pvring-io" --rundir "$dir" --disk ro --rw randread --bs 1m --qd 64 \
		--order 4 --time 600
}
side_3() { beside "$build/tests/bench/kick_storm" --rundir "$dir" --disk ro --time 600; }
# The machine's own share: a process that only burns a CPU, no I/O, nothing of pvringd's.
side_4() { beside bash -c 'while :; do :; done'; }
fair_label="alone | beside 64 x 1 MiB reads (order 4) | beside a kick storm | beside a busy loop (no I/O)"
# What the noisy guests cost the victim beyond the CPU they take: each beside the busy loop.
fair_part() {
	printf '%-44s | %s\n' "  the same, against the busy loop's figures" \
		"1 MiB reads: IOPS x$(ratio "${med_iops[4]}" "${med_iops[2]}"), p99 x$(ratio "${med_p99[2]}" "${med_p99[4]}"); kick storm: IOPS x$(ratio "${med_iops[4]}" "${med_iops[3]}"), p99 x$(ratio "${med_p99[3]}" "${med_p99[4]}")"
}
row "$fair_label" 4
fair_part
stop_pvringd
start_pvringd --poll-us 0
victim_args=(--spin-us 0)
row "no spin on either side (--poll-us 0): $fair_label" 4
fair_part
echo
echo "xN.NN in the fairness rows: alone over beside (at most 2.00 is the target). The busy loop"
echo "does no I/O: what the victim loses beside it is the CPU, which pvringd does not hand out."
echo "The lines under them compare the victim beside each noisy guest with the victim beside the"
echo "busy loop (IOPS: busy loop over guest; p99: guest over busy loop): what the guest's I/O"
echo "costs it beyond a CPU's share. With the spin on 2 CPUs, alone means the victim's guest and"
echo "pvringd's worker spinning on a CPU each, which nothing else busy leaves them."
