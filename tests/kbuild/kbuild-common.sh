#!/bin/sh
# Build common/ (ring and protocol) into a minimal out-of-tree Linux module with Kbuild
# against the installed Debian linux-headers. Installs the headers when they
# are missing and this is root on Debian; otherwise SKIPs (exit 77) saying why.
# It never passes without building the module.
set -u
srcdir=${srcdir:-$(dirname "$0")/../..}
skip() { echo "SKIP: $*"; exit 77; }

# shellcheck source=headers.sh
. "$srcdir/tests/kbuild/headers.sh"
echo "kernel headers: $headers"

work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/common/ring" "$work/common/proto"
cp "$srcdir/tests/kbuild/Kbuild" "$work/Kbuild"
cp "$srcdir/tests/kbuild/pvring_kbuild_test.c" "$work/pvring_kbuild_test_main.c"
cp "$srcdir/common/pvring_port.h" "$work/common/"
cp "$srcdir"/common/ring/*.[ch] "$work/common/ring/"
cp "$srcdir"/common/proto/*.[ch] "$work/common/proto/"

make -C "$headers" M="$work" modules || { echo "FAIL: Kbuild could not build common/"; exit 1; }
[ -f "$work/pvring_kbuild_test.ko" ] || { echo "FAIL: no pvring_kbuild_test.ko"; exit 1; }
# The ring code really is in the module.
if command -v nm >/dev/null; then
	for sym in pvring_front_init pvring_blkif_check_request pvring_blkif_front_rw \
		pvring_xenbus_state_name; do
		nm "$work/pvring_kbuild_test.ko" | grep -q " T $sym\$" ||
			{ echo "FAIL: $sym missing from the module"; exit 1; }
	done
fi
modinfo "$work/pvring_kbuild_test.ko" 2>/dev/null | grep -E '^(vermagic|license):' || true
echo "PASS: common/ built as a kernel module against $headers"
