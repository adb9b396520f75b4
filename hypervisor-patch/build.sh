#!/usr/bin/env bash
# Build Xen 4.17's hypervisor as Debian ships it, with this directory's patch series applied, and
# print the path of the result (an ELF that `qemu-system-x86_64 -kernel` boots, as the e2e suite
# boots Debian's own). The source comes from Debian's source package (a deb-src entry for
# bookworm is added if missing); only the hypervisor is built (make -C xen). The result is cached
# under $PVRING_XEN_CACHE (default /var/cache/pvring-xen) by the hash of the version, the series,
# its patches and this script, so a second run prints the cached path at once.
#   build.sh [--print-key]
#   build.sh --flask [MODULE.te...] [--print-key]
# --flask builds the same hypervisor with XSM/FLASK (Debian's defconfig has only the dummy XSM)
# and Xen's stock policy built in, and prints a second line: the path of a policy file built from
# the stock modules plus the MODULE.te files given (each switched on in modules.conf), for the
# bootloader to load as a multiboot module or for `xl loadpolicy`. The policy is cached apart,
# by the modules' hash, from the policy sources kept beside the hypervisor, so a changed module
# costs seconds, not a hypervisor build. It needs checkpolicy and m4, installed here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
flask=0 print_key=0 modules=()
while [ $# -gt 0 ]; do
	case $1 in
	--flask) flask=1 ;;
	--print-key) print_key=1 ;;
	*.te)
		[ -f "$1" ] || { echo "build.sh: no policy module $1" >&2; exit 2; }
		modules+=("$(cd "$(dirname "$1")" && pwd)/$(basename "$1")")
		;;
	*) echo "usage: build.sh [--flask [MODULE.te...]] [--print-key]" >&2; exit 2 ;;
	esac
	shift
done
[ $flask = 1 ] || [ ${#modules[@]} = 0 ] || { echo "build.sh: policy modules need --flask" >&2; exit 2; }
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
	echo "flask=$flask"
} | sha256sum | cut -c1-16)
[ $print_key = 1 ] && { echo "$key"; exit 0; }
out=$cache_root/$key

say() { echo "build.sh: $*" >&2; }

# The FLASK policy: the stock one plus the modules, from the sources kept in $out/policy-src.
policy() {
	local mkey pdir m tmp
	mkey=$(for m in "${modules[@]}"; do
		basename "$m"
		cat "$m"
	done | sha256sum | cut -c1-16)
	pdir=$out/policy-$mkey
	if [ ! -f "$pdir/xenpolicy" ]; then
		command -v checkpolicy >/dev/null && command -v m4 >/dev/null ||
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
				checkpolicy m4 >&2
		tmp=$(mktemp -d /tmp/pvring-xenpolicy-XXXXXX)
		cp -a "$out/policy-src/." "$tmp/"
		for m in "${modules[@]}"; do
			cp "$m" "$tmp/tools/flask/policy/modules/"
			echo "$(basename "$m" .te) = on" >>"$tmp/tools/flask/policy/modules/modules.conf"
		done
		mkdir -p "$tmp/out"
		# Makefile.common alone, as the hypervisor's own build uses it: tools/'s Makefile
		# wants the tools configured.
		make -f "$tmp/tools/flask/policy/Makefile.common" -C "$tmp/tools/flask/policy" \
			FLASK_BUILD_DIR="$tmp/out" POLICY_FILENAME="$tmp/out/xenpolicy" \
			>"$tmp/policy.log" 2>&1 || {
			tail -n 30 "$tmp/policy.log" >&2
			rm -rf "$tmp"
			say "the FLASK policy does not build"
			exit 1
		}
		mkdir -p "$pdir"
		cp "$tmp/out/xenpolicy" "$pdir/xenpolicy.tmp" && mv "$pdir/xenpolicy.tmp" "$pdir/xenpolicy"
		rm -rf "$tmp"
	fi
	echo "$pdir/xenpolicy"
}

if [ -f "$out/xen" ]; then
	echo "$out/xen"
	[ $flask = 0 ] || policy
	exit 0
fi

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
	build-essential flex bison python3 $([ $flask = 0 ] || echo checkpolicy m4) >&2

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
if [ $flask = 1 ]; then
	# XSM with FLASK as the default module, enforcing unless the command line says otherwise;
	# the stock policy built in, so that a boot without a policy module still starts dom0.
	cat >>"$src/xen/.config" <<'KCONFIG'
CONFIG_XSM=y
CONFIG_XSM_FLASK=y
CONFIG_XSM_FLASK_POLICY=y
CONFIG_XSM_FLASK_DEFAULT=y
KCONFIG
	make -C "$src/xen" olddefconfig >&2
	for opt in CONFIG_XSM_FLASK_DEFAULT CONFIG_XSM_FLASK_POLICY; do
		grep -q "^$opt=y" "$src/xen/.config" || { say "$opt did not stay set"; exit 1; }
	done
fi
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
if [ $flask = 1 ]; then
	# What building a policy takes, without the rest of the source.
	rm -rf "$out/policy-src"
	mkdir -p "$out/policy-src/tools/flask" "$out/policy-src/xen/xsm/flask"
	cp -a "$src/tools/flask/policy" "$out/policy-src/tools/flask/"
	cp -a "$src/xen/xsm/flask/policy" "$out/policy-src/xen/xsm/flask/"
fi
cp "$src/xen/xen" "$out/xen.tmp" && mv "$out/xen.tmp" "$out/xen"
echo "$out/xen"
[ $flask = 0 ] || policy
