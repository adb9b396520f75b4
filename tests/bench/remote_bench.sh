#!/usr/bin/env bash
# Disks on storage engines, side by side in one run: pvring-io through pvringd (local
# platform) against the engine's own client on the same image from the same host: fio's rbd
# engine (librbd) on a Ceph RBD image, fio's nbd engine (libnbd) on an NBD export. Both sides
# alternate REPEAT times per row; medians are printed.
#
#   tests/bench/remote_bench.sh BUILDDIR [SECONDS [REPEAT]]     (make bench-remote)
#
# Rows: 4 KiB random reads at QD1 and QD32, 1 MiB sequential reads and writes at QD4. The
# cluster is the test suite's one-node Ceph (one mon, one memstore OSD: data in memory) and
# nbdkit's file plugin on a page-cached file: what is measured is the client path, pvringd's
# and fio's, not a disk. The machines are shared and noisy: read the ratios.
set -euo pipefail
build=$(cd "${1:?usage: remote_bench.sh BUILDDIR [SECONDS [REPEAT]]}" && pwd)
secs=${2:-3}
repeat=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/pvring-rbench-XXXXXX)
bin=$build
# The build tree's engine modules, not installed ones.
export PVRINGD_ENGINE_DIR=$build/daemon
# shellcheck source=../../scripts/processes.sh
. "$here/../../scripts/processes.sh"
# shellcheck source=../lib/storage-engines.sh
. "$here/../lib/storage-engines.sh"
# shellcheck source=stats.sh
. "$here/stats.sh"
cleanup() {
	pvring_stop_all
	nbd_stop
	ceph_stop
	rm -rf "$dir"
}
trap cleanup EXIT
command -v fio >/dev/null || { echo "remote_bench: fio is needed (apt-get install fio)" >&2; exit 1; }

ceph_start "$dir/ceph" $((20000 + $$ % 20000)) >"$dir/ceph.log" 2>&1 ||
	{ cat "$dir/ceph.log"; exit 1; }
size=256M
rbd create --size "$size" rbd/bench
head -c $((256 << 20)) /dev/urandom >"$dir/nbd.img"
nbd_start "$dir" "$dir/nbd.img"
# Real data everywhere: unwritten RBD objects would read as nothing at all.
fio --name=fill --ioengine=rbd --clientname=admin --pool=rbd --rbdname=bench --rw=write \
	--bs=4m --iodepth=8 --size="$size" >/dev/null
pvring_start_store "$dir"
pvring_start_daemon "$dir" --disk "rbd=rbd:rbd/bench" --disk "nbd=$nbd_uri" --max-queues 1 \
	--log-level warning 2>>"$dir/pvringd.log"

# Each side prints one figure: IOPS for 4 KiB rows, MB/s for 1 MiB rows.
pvring() { # DISK RW BS QD FIELD
	"$build/tools/pvring-io" --rundir "$dir" --disk "$1" --rw "$2" --bs "$3" --qd "$4" \
		--size "$size" --time "$secs" --json |
		python3 -c 'import json,sys; o=json.load(sys.stdin); print(o[sys.argv[1]])' "$5"
}
fio_engine() { # DISK RW BS QD FIELD
	local engine
	case $1 in
	rbd) engine=(--ioengine=rbd --clientname=admin --pool=rbd --rbdname=bench) ;;
	nbd) engine=(--ioengine=nbd --uri="$nbd_uri") ;;
	esac
	# fio's nbd engine says "connected" on standard output, before the JSON.
	fio --name=peer "${engine[@]}" --rw="$2" --bs="$3" --iodepth="$4" --size="$size" \
		--time_based --runtime="$secs" --output-format=json 2>/dev/null |
		python3 -c 'import json,sys; t=sys.stdin.read(); j=json.loads(t[t.index("{"):])["jobs"][0]
d = j["read"] if j["read"]["io_bytes"] else j["write"]
print(d["iops"] if sys.argv[1] == "iops" else d["bw_bytes"] / 1e6)' "$5"
}

printf '%-5s %-26s %14s %14s %7s\n' ENGINE ROW PVRINGD FIO-ENGINE RATIO
row() { # DISK LABEL PVRING-RW FIO-RW BS QD FIELD
	local ours=() theirs=() i
	for ((i = 0; i < repeat; i++)); do
		ours+=("$(pvring "$1" "$3" "$5" "$6" "$7")")
		theirs+=("$(fio_engine "$1" "$4" "$5" "$6" "$7")")
	done
	local a b
	a=$(median "${ours[@]}")
	b=$(median "${theirs[@]}")
	printf '%-5s %-26s %14.1f %14.1f %7s\n' "$1" "$2" "$a" "$b" "$(ratio "$a" "$b")"
}
for disk in rbd nbd; do
	row "$disk" "4k randread QD1 (IOPS)" randread randread 4k 1 iops
	row "$disk" "4k randread QD32 (IOPS)" randread randread 4k 32 iops
	row "$disk" "1M seq read QD4 (MB/s)" read read 1m 4 mb_per_s
	row "$disk" "1M seq write QD4 (MB/s)" write write 1m 4 mb_per_s
done
echo "(medians of $repeat alternating runs of ${secs} s per side; pvring-io: 1 queue)"
