#!/bin/sh
# Assemble pvblk's source tree (these files and common/, what DKMS installs) in OUT/src and build
# it with Kbuild against kernel headers (default: the ones of the running kernel, else the
# newest /usr/src/linux-headers-*-amd64).
#   build.sh OUT [HEADERS_DIR]      leaves OUT/src/pvblk.ko
#   build.sh --source-only OUT      only the source tree (for dkms add)
# Exit status non-zero if it does not build, warnings included (-Werror).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
source_only=0
if [ "${1:-}" = --source-only ]; then
	source_only=1
	shift
fi
out=$1
headers=${2:-}
if [ -z "$headers" ] && [ $source_only = 0 ]; then
	if [ -d "/lib/modules/$(uname -r)/build" ]; then
		headers=/lib/modules/$(uname -r)/build
	else
		headers=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
	fi
fi
if [ $source_only = 0 ] && { [ -z "$headers" ] || [ ! -d "$headers" ]; }; then
	echo "pvblk: no kernel headers (apt-get install linux-headers-amd64)" >&2
	exit 1
fi
src=$out/src
rm -rf "$src"
mkdir -p "$src/common/ring" "$src/common/proto"
cp "$here"/Kbuild "$here"/dkms.conf "$here"/*.[ch] "$src/"
cp "$here/../common/pvring_port.h" "$src/common/"
cp "$here"/../common/ring/*.[ch] "$src/common/ring/"
cp "$here"/../common/proto/*.[ch] "$src/common/proto/"
[ $source_only = 1 ] || make -C "$headers" M="$src" modules
