#!/usr/bin/env bash
# Install the Debian packages pvring builds and tests with, if any is missing.
# Used by the README's two commands and by .ci/run. Debian 12 (bookworm).
set -euo pipefail

arch=$(dpkg --print-architecture)
packages=(
	build-essential autoconf automake pkg-config
	libevent-dev libxen-dev libjson-c-dev libcmocka-dev liburing-dev
	"linux-headers-$arch" kmod dkms clang-format
	clang libclang-rt-14-dev
	librbd-dev libnbd-dev
	# the real storage engines the tests serve disks from: a one-node Ceph cluster, nbdkit
	ceph-mon ceph-osd ceph-common nbdkit
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
echo "installing: ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
