#!/usr/bin/env bash
# Fetch and unpack what the real-Xen end-to-end suite boots, without installing any of it into
# the host's boot: Debian's Xen 4.17 hypervisor and toolstack, and the Debian kernel whose ABI is
# the one the installed linux-headers-amd64 depends on (resolved now: old ABIs leave the mirror).
# Host tools (QEMU, busybox-static, e2fsprogs, fio, and systemd, which the systemd suite boots as
# dom0's init) are installed as ordinary packages.
#
# Prints the cache directory on its last line. The cache is keyed by the package versions, so a
# second run with the same versions downloads nothing:
#   $PVRING_E2E_CACHE/<key>/{debs,root,boot}   (default cache: /var/cache/pvring-e2e)
set -euo pipefail

cache_root=${PVRING_E2E_CACHE:-/var/cache/pvring-e2e}
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo

die() {
	echo "e2e fetch: $*" >&2
	exit 1
}

host_packages=(qemu-system-x86 busybox-static e2fsprogs fio cpio kmod file python3 linux-headers-amd64
	# the migrate suite: its shared storage, and the ssh client its dom0s run
	nbdkit openssh-client
	systemd)
missing=()
for p in "${host_packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "e2e fetch: installing ${missing[*]}" >&2
	$sudo apt-get update -q >&2 || die "apt-get update failed: Debian's repositories are not reachable"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >&2 || die "cannot install ${missing[*]} from Debian's repositories"
fi

# The ABI of the installed headers: linux-headers-amd64 depends on linux-headers-<abi>.
abi=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 |
	sed -n 's/.*linux-headers-\([0-9][^ ,]*-amd64\).*/\1/p')
[ -n "$abi" ] || die "cannot tell the kernel ABI from linux-headers-amd64"
xv=4.17
packages=(
	"linux-image-$abi" "xen-hypervisor-$xv-amd64" "xen-utils-$xv" xen-utils-common
	xenstore-utils libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 "libxenmisc$xv"
	libxenstore4 libxentoollog1 libxendevicemodel1 libxenhypfs1 libxentoolcore1 libyajl2
	# the migrate suite's dom0s serve ssh to each other (unpacked here, never run on this machine)
	openssh-server libwrap0
)

# Key the cache by what would be downloaded now.
versions=""
for p in "${packages[@]}"; do
	v=$(apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
	if [ -z "$v" ] || [ "$v" = "(none)" ]; then
		$sudo apt-get update -q >&2 || true
		v=$(apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
	fi
	[ -n "$v" ] && [ "$v" != "(none)" ] ||
		die "package $p is not in Debian's repositories as configured (apt-cache policy $p)"
	versions+="$p=$v "
done
key=$(echo "$versions" | sha256sum | cut -c1-16)
dir=$cache_root/$key
if [ -f "$dir/ready" ]; then
	echo "$dir"
	exit 0
fi

$sudo mkdir -p "$dir"
$sudo chown "$(id -u):$(id -g)" "$dir"
rm -rf "$dir/debs" "$dir/root" "$dir/boot"
mkdir -p "$dir/debs" "$dir/root" "$dir/boot"
echo "e2e fetch: downloading ${packages[*]}" >&2
(cd "$dir/debs" && apt-get download -q -o APT::Sandbox::User=root "${packages[@]/%/}" >&2) ||
	die "apt-get download failed: cannot fetch the Xen and kernel packages from Debian's repositories"
for deb in "$dir"/debs/*.deb; do
	dpkg-deb -x "$deb" "$dir/root"
done
# A package leaves modules.dep to its postinst: make it, so modprobe resolves dependencies.
depmod -b "$dir/root" "$abi"
# Xen's multiboot ELF boots with qemu -kernel; the uncompressed vmlinux boots faster than bzImage.
zcat "$dir/root/boot/xen-$xv-amd64.gz" >"$dir/boot/xen"
python3 "$(dirname "$0")/extract-vmlinux.py" "$dir/root/boot/vmlinuz-$abi" "$dir/boot/vmlinux" >&2
echo "$abi" >"$dir/abi"
echo "$versions" >"$dir/versions"
touch "$dir/ready"
# Older keys are what an earlier run fetched: keep only this one.
find "$cache_root" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} + 2>/dev/null || true
echo "$dir"
