#!/bin/sh
# The pvblk guest module (frontend-driver/) builds with Kbuild against the Debian kernel headers
# of the guest kernel's ABI, with no warning from the compiler (-Werror) or from modpost, and is
# the module the xenbus "pvblk" device type loads. SKIPs (77) only without headers and root.
set -u
srcdir=${srcdir:-$(dirname "$0")/../..}
skip() { echo "SKIP: $*"; exit 77; }
# shellcheck source=headers.sh
. "$srcdir/tests/kbuild/headers.sh"
echo "kernel headers: $headers"
out=$(mktemp -d) || exit 1
trap 'rm -rf "$out"' EXIT
"$srcdir/frontend-driver/build.sh" "$out" "$headers" >"$out/build.log" 2>&1 ||
	{ cat "$out/build.log"; echo "FAIL: pvblk does not build"; exit 1; }
# The compiler's and modpost's warnings (not make's own notes, e.g. about its jobserver).
if grep -E '\.[ch]:[0-9]+:[0-9]+: warning:|^WARNING: modpost:' "$out/build.log"; then
	echo "FAIL: building pvblk warns"
	exit 1
fi
ko=$out/src/pvblk.ko
modinfo "$ko" | grep -q '^alias: *xen:pvblk$' || { echo "FAIL: no alias xen:pvblk"; exit 1; }
modinfo "$ko" | grep -q "^vermagic: *${headers##*/linux-headers-} " ||
	{ modinfo "$ko" | grep vermagic; echo "FAIL: vermagic is not ${headers##*/linux-headers-}"; exit 1; }
modinfo "$ko" | grep -E '^(license|vermagic|parm):'
echo "PASS: pvblk builds against $headers"
