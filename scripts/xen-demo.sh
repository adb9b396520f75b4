#!/usr/bin/env bash
# The real-Xen demo: build pvring, boot Xen 4.17 and a PV dom0 in QEMU (software emulation:
# no KVM needed), start pvringd there from the shipped Xen configuration, give a guest with
# stock xen-blkfront a disk image, make a file system on it from the guest, and look at the live
# rings with pvringctl. A few minutes; Xen and the kernels come from Debian's repositories.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh" "$top/build/check" >/dev/null
log=$top/build/check/tests/e2e/demo.console
mkdir -p "$(dirname "$log")"
: >"$log"
echo "booting Xen in QEMU (the whole console: $log)"
"$top/tests/e2e/run.sh" "$top/build/check" demo 900 >"$top/build/check/tests/e2e/demo.result" 2>&1 &
runner=$!
# Follow the console: what the demo does and what it shows.
tail -n +1 -F "$log" 2>/dev/null | sed -un 's/^\[ *[0-9.]*\] demo|\(.*\)/\1/p; s/^\[ *[0-9.]*\] \(E2E-[A-Z]*.*\)/\1/p' &
follower=$!
status=0
wait "$runner" || status=$?
sleep 1
kill "$follower" 2>/dev/null || true
cat "$top/build/check/tests/e2e/demo.result"
exit $status
