#!/bin/sh
# pvblk as DKMS installs it: the source tree frontend-driver/build.sh assembles, under
# /usr/src/pvblk-VERSION; `dkms add`, `build` and `install` for the kernel of the installed
# headers; modinfo then finds the installed module. Removed again at the end. Needs root and
# Debian's dkms (scripts/install-deps.sh installs it); SKIPs (77) saying why otherwise.
set -u
srcdir=${srcdir:-$(dirname "$0")/../..}
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "dkms add/install write /usr/src and /lib/modules: root only"
command -v dkms >/dev/null || skip "no dkms (apt-get install dkms)"
# shellcheck source=headers.sh
. "$srcdir/tests/kbuild/headers.sh"
[ -n "$abi" ] || abi=${headers##*/linux-headers-}
# A version of its own, so that a pvblk installed with DKMS on this machine is left alone.
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$srcdir/frontend-driver/dkms.conf")-test
tree=/usr/src/pvblk-$version
tmp=$(mktemp -d) || exit 1
cleanup() {
	dkms remove "pvblk/$version" --all >/dev/null 2>&1
	rm -rf "$tree" "$tmp"
}
trap cleanup EXIT
cleanup
mkdir -p "$tmp"
"$srcdir/frontend-driver/build.sh" --source-only "$tmp" || { echo "FAIL: no source tree"; exit 1; }
cp -r "$tmp/src" "$tree"
sed -i "s/^PACKAGE_VERSION=.*/PACKAGE_VERSION=\"$version\"/" "$tree/dkms.conf"
dkms add "pvblk/$version" || { echo "FAIL: dkms add"; exit 1; }
dkms build "pvblk/$version" -k "$abi" ||
	{ cat "/var/lib/dkms/pvblk/$version/build/make.log" 2>/dev/null; echo "FAIL: dkms build"; exit 1; }
dkms install "pvblk/$version" -k "$abi" || { echo "FAIL: dkms install"; exit 1; }
dkms status "pvblk/$version" | grep -q "$abi.*installed" ||
	{ dkms status; echo "FAIL: dkms status does not say installed"; exit 1; }
modinfo -k "$abi" pvblk | grep -E '^(filename|alias|vermagic):'
modinfo -k "$abi" -F filename pvblk | grep -q "/lib/modules/$abi/updates/dkms/pvblk.ko" ||
	{ echo "FAIL: modinfo does not find the DKMS module"; exit 1; }
echo "PASS: dkms add/build/install of pvblk $version for $abi"
