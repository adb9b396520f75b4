#!/usr/bin/env bash
# The data path benchmark: 4 KiB random reads from an image in the page cache,
# pvring-io through pvringd (local platform) against the same reads issued
# directly by one process with io_uring on the same file, side by side in one
# run, at queue depth 1 and 32, with 1 and 4 queues.
#
#   tests/bench/io_bench.sh BUILDDIR [SECONDS [REPEAT]]     (make bench-io)
#
# The machines are shared and noisy: read the ratio, not the absolute figures.
set -euo pipefail
build=$(cd "${1:?usage: io_bench.sh BUILDDIR [SECONDS [REPEAT]]}" && pwd)
secs=${2:-3}
repeat=${3:-3}
dir=$(mktemp -d /tmp/pvring-bench-XXXXXX)
bin=$build
# shellcheck source=../../scripts/processes.sh
. "$(dirname "$0")/../../scripts/processes.sh"
cleanup() {
	pvring_stop_all
	rm -rf "$dir"
}
trap cleanup EXIT

# Real data (not a sparse file), read once so every block is in the page cache.
img=$dir/bench.img
head -c $((256 << 20)) /dev/urandom >"$img"
cat "$img" >/dev/null

pvring_start_store "$dir"
pvring_start_daemon "$dir" --disk "bench=$img" --max-queues 4 --log-level warning

field() { # field JSON KEY...: one number out of a JSON line
	python3 -c 'import json,sys; o=json.loads(sys.argv[1])
for k in sys.argv[2:]: o=o[k]
print(o)' "$@"
}

median() { python3 -c 'import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))' "$@"; }

# Each row alternates the two REPEAT times and prints medians: the machine is shared, a
# neighbour's burst lands on one run, not on the median.
printf '%-7s %-3s | %10s %8s %8s | %10s %8s %8s | %6s\n' \
	queues qd "pvring" "p50 us" "p99 us" "io_uring" "p50 us" "p99 us" ratio
for queues in 1 4; do
	for qd in 1 32; do
		oi=() o50=() o99=() pi=() p50=() p99=()
		for _ in $(seq "$repeat"); do
			ours=$("$build/tools/pvring-io" --rundir "$dir" --disk bench --rw randread \
				--bs 4k --qd "$qd" --queues "$queues" --time "$secs" --json)
			peer=$("$build/tests/bench/uring_direct" --file "$img" --bs 4k --qd "$qd" \
				--queues "$queues" --time "$secs" --json)
			oi+=("$(field "$ours" iops)") o50+=("$(field "$ours" latency_us p50)")
			o99+=("$(field "$ours" latency_us p99)")
			pi+=("$(field "$peer" iops)") p50+=("$(field "$peer" latency_us p50)")
			p99+=("$(field "$peer" latency_us p99)")
		done
		mo=$(median "${oi[@]}") mp=$(median "${pi[@]}")
		printf '%-7s %-3s | %10.0f %8.1f %8.1f | %10.0f %8.1f %8.1f | %6.2f\n' \
			"$queues" "$qd" "$mo" "$(median "${o50[@]}")" "$(median "${o99[@]}")" \
			"$mp" "$(median "${p50[@]}")" "$(median "${p99[@]}")" \
			"$(python3 -c "print($mo / $mp)")"
	done
done
echo "pvring: pvring-io -> pvringd (local platform, persistent grants, order-0 rings);"
echo "io_uring: one process, one io_uring per queue, same file, same block size and depth."
echo "Medians of $repeat alternating runs of $secs s each."
