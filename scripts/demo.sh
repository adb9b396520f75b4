#!/usr/bin/env bash
# README command 1: install dependencies, build, and run pvring's main job on
# one plain Linux machine (the local platform): a small image, the store and
# pvringd started, pvring-io attached as a guest writing and verifying data,
# pvringctl looking at the live ring, then pvringd stopped cleanly.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh" "$top/build/release"
bin=$top/build/release

run=$(mktemp -d /tmp/pvring-demo-XXXXXX)
# shellcheck source=processes.sh
. "$top/scripts/processes.sh"
cleanup() {
	pvring_stop_all || true
	wait 2>/dev/null || true
	rm -rf "$run"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "a 64 MiB image"
truncate -s 64M "$run/disk0.img"
ls -ls "$run/disk0.img"

step "pvring-stored (the local store) and pvringd (the back end), run directory $run"
pvring_start_store "$run"
pvring_start_daemon "$run" --disk "disk0=$run/disk0.img" --max-queues 2
export PVRINGCTL_SOCKET=$run/pvringd.sock

step "pvring-io: a guest writes 32 MiB in 64 KiB requests on 2 queues, reads it back, checks every byte"
"$bin/tools/pvring-io" --rundir "$run" --disk disk0 --rw verify --bs 64k --qd 16 --queues 2 \
	--size 32m

step "pvring-io: 4 KiB random reads for 6 s, while pvringctl looks at the live rings"
"$bin/tools/pvring-io" --rundir "$run" --disk disk0 --rw randread --bs 4k --qd 32 --queues 2 \
	--size 32m --time 6 >"$run/randread.out" &
io_pid=$!
# The guest's device, once it is connected.
dev=
for _ in $(seq 200); do
	dev=$("$bin/tools/pvringctl" --json list | python3 -c 'import json, sys
print(next((d["device"] for d in json.load(sys.stdin)["devices"]
            if d["state"] == "Connected"), ""))')
	[ -n "$dev" ] && break
	sleep 0.05
done
[ -n "$dev" ] || { echo "the guest never connected"; exit 1; }
"$bin/tools/pvringctl" list
"$bin/tools/pvringctl" show "$dev"
"$bin/tools/pvringctl" watch "$dev" --interval 1 --count 2
wait "$io_pid"
cat "$run/randread.out"

step "pvringd stops cleanly on SIGTERM (front ends told, I/O drained, images synced)"
pvring_stop_all && echo "pvringd exited 0"
