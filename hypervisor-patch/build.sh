#!/usr/bin/env bash
# Build Xen 4.17's hypervisor as Debian ships it, with this directory's patch series applied, and
# print the path of the result (an ELF that `qemu-system-x86_64 -kernel` boots, as the e2e suite
# boots Debian's own). The source comes from Debian's source package (a deb-src entry for
# bookworm is added if missing); only the hypervisor is built (make -C xen). The result is cached
# under $PVRING_XEN_CACHE (default /var/cache/pvring-xen) by the hash of the version, the series,
# its patches and this script, so a second run prints the cached path at once.
#   build.sh [--print-key]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# The bookworm main version: the security suite's source 404s on the mirrors (checked).
version=4.17.5+72-g01140da4e8-1
cache_root=${PVRING_XEN_CACHE:-/var/cache/pvring-xen}

series=$here/patches/series
key=$({
	echo "$version"
	cat "$0"
	if [ -f "$series" ]; then
		cat "$series"
		grep -v -e '^#' -e '^$' "$series" | while read -r p; do cat "$here/patches/$p"; done
	fi
} | sha256sum | cut -c1-16)
[ "${1:-}" = --print-key ] && { echo "$key"; exit 0; }
out=$cache_root/$key
if [ -f "$out/xen" ]; then
	echo "$out/xen"
	exit 0
fi

say() { echo "build.sh: $*" >&2; }

# Debian's source, and what building it takes.
if ! apt-cache showsrc "xen=$version" 2>/dev/null | grep -q '^Package: xen'; then
	say "adding a deb-src entry for bookworm"
	cat >/etc/apt/sources.list.d/pvring-xen-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -qq >&2
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpkg-dev \
	build-essential flex bison python3 >&2

work=$(mktemp -d /tmp/pvring-xen-XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get source -qq "xen=$version" >&2) || {
	say "cannot fetch Debian's xen $version source"
	exit 1
}
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'xen-*' | head -n 1)
[ -n "$src" ] || { say "no source tree unpacked"; exit 1; }
if [ -f "$series" ]; then
	grep -v -e '^#' -e '^$' "$series" | while read -r p; do
		say "applying $p"
		patch -d "$src" -p1 --forward --batch <"$here/patches/$p" >&2 || {
			say "$p does not apply to xen $version"
			exit 1
		}
	done
fi
make -C "$src/xen" defconfig >&2
# No warning may pass: Xen builds with -Werror already; a warning line still fails here.
make -C "$src/xen" -j"$(nproc)" >"$work/build.log" 2>&1 || {
	tail -n 30 "$work/build.log" >&2
	say "the hypervisor does not build"
	exit 1
}
if grep -E '(^|[^a-z])warning:' "$work/build.log" >&2; then
	say "building the hypervisor warns"
	exit 1
fi
mkdir -p "$out"
cp "$src/xen/xen" "$out/xen.tmp" && mv "$out/xen.tmp" "$out/xen"
echo "$out/xen"
