#!/usr/bin/env bash
# Build the dom0 and domU initramfs images of the end-to-end suite.
#   mkimages.sh CACHE BUILD OUT
# CACHE: what fetch.sh printed (unpacked Xen and kernel packages); BUILD: a configured and built
# tree of this project; OUT: where dom0.cpio.gz and domU.cpio.gz go. Nothing is installed on the
# host: binaries are copied with the libraries ldd names, Xen's from the unpacked packages.
set -euo pipefail
cache=$1 build=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
abi=$(cat "$cache/abi")
x=$cache/root
libdir=lib/x86_64-linux-gnu
mkdir -p "$out"

new_root() {
	local r=$1
	rm -rf "$r"
	mkdir -p "$r"/{bin,sbin,proc,sys,dev,etc,tmp,run,mnt,root,var/log,var/lib,usr/bin,usr/sbin,$libdir,lib64}
	cp /bin/busybox "$r/bin/busybox"
	for a in $("$r/bin/busybox" --list); do
		[ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
	done
	# The kernel's orderly power-off (xl shutdown) runs /sbin/poweroff.
	for a in poweroff reboot halt; do ln -s ../bin/busybox "$r/sbin/$a"; done
	ln -s ../run "$r/var/run"
	ln -s ../../$libdir "$r/usr/lib/x86_64-linux-gnu" 2>/dev/null ||
		{ mkdir -p "$r/usr/lib" && ln -s ../../$libdir "$r/usr/lib/x86_64-linux-gnu"; }
	cp -L /lib64/ld-linux-x86-64.so.2 "$r/lib64/"
	echo "root:x:0:0:root:/root:/bin/sh" >"$r/etc/passwd"
	echo "root:x:0:" >"$r/etc/group"
}

# add_bin ROOT DEST_DIR BINARY...: binaries and the shared libraries they load.
add_bin() {
	local r=$1 dest=$2 b l
	shift 2
	mkdir -p "$r/$dest"
	for b in "$@"; do
		[ -e "$b" ] || { echo "mkimages: missing $b" >&2; exit 1; }
		cp -L "$b" "$r/$dest/"
		{ LD_LIBRARY_PATH=$x/usr/$libdir:$x/$libdir ldd "$b" 2>/dev/null || true; } |
			awk '/=> \//{print $3}' | while read -r l; do
				[ -e "$r/$libdir/$(basename "$l")" ] || cp -L "$l" "$r/$libdir/"
			done
	done
}

# add_modules ROOT MODULE...: the modules with their dependencies, and modules.dep for modprobe.
add_modules() {
	local r=$1 m f
	shift
	for m in "$@"; do
		modprobe -d "$x" -S "$abi" --show-depends "$m" | awk '$1 == "insmod" {print $2}' |
			while read -r f; do
				mkdir -p "$r/$(dirname "${f#"$x"/}")"
				cp "$f" "$r/${f#"$x"/}"
			done
	done
	cp "$x/lib/modules/$abi"/modules.{order,builtin,builtin.modinfo} "$r/lib/modules/$abi/"
	depmod -b "$r" "$abi"
}

pack() {
	(cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) >"$2"
}

# ---- domU: stock xen-blkfront and the tools the cases run in the guest
u=$out/domU.root
new_root "$u"
cp "$here/init-domU" "$u/init"
add_modules "$u" xen-blkfront ext4 crc32c_generic xen-gntalloc xen-evtchn
# pvring's own front end, built by run.sh for this kernel: `modprobe pvblk` in the guest.
if [ -f "$build/frontend-driver/src/pvblk.ko" ]; then
	mkdir -p "$u/lib/modules/$abi/extra"
	cp "$build/frontend-driver/src/pvblk.ko" "$u/lib/modules/$abi/extra/"
	depmod -b "$u" "$abi"
fi
add_bin "$u" usr/bin "$x/usr/bin/xenstore" /sbin/mke2fs /sbin/e2fsck /bin/dd /usr/bin/md5sum \
	/sbin/blkdiscard /usr/bin/sync
for t in read write rm exists ls; do ln -s xenstore "$u/usr/bin/xenstore-$t"; done
# The suite's guest-side programs (`make e2e-programs` puts them in BUILD/tests/e2e/guest-bin/).
for t in "$build"/tests/e2e/guest-bin/*; do
	[ -x "$t" ] && add_bin "$u" usr/bin "$t"
done
if [ "${E2E_WITH_FIO:-0}" = 1 ]; then
	add_bin "$u" usr/bin /usr/bin/fio
fi
pack "$u" "$out/domU.cpio.gz"
rm -rf "$u"

# ---- dom0: the Xen toolstack, pvringd and the suite
d=$out/dom0.root
new_root "$d"
cp "$here/init-dom0" "$d/init"
add_modules "$d" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-blkback loop brd ext4 crc32c_generic
mkdir -p "$d/usr/lib/xen-4.17/bin" "$d/etc/xen/scripts" "$d/domU" "$d/e2e"
add_bin "$d" usr/lib/xen-4.17/bin $(find "$x/usr/lib/xen-4.17/bin" -type f \
	! -name pygrub ! -name xenpvnetboot ! -name '*.py')
add_bin "$d" usr/bin "$x"/usr/bin/xenstore* /sbin/e2fsck /sbin/mke2fs /bin/dd /usr/bin/md5sum \
	/usr/bin/cmp /usr/bin/strace /sbin/losetup /sbin/fsfreeze
cp -a "$x/etc/xen/." "$d/etc/xen/"
cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$d/$libdir/"
add_bin "$d" usr/sbin "$build/daemon/pvringd" "$build/tools/pvringctl" "$build/tools/pvring-xl" \
	"$build/tools/pvring-doorbell"
# The doorbell suite's freestanding PVH guest, when run.sh built it.
[ -f "$build/tests/e2e/test-guest/doorbell-guest.elf" ] &&
	cp "$build/tests/e2e/test-guest/doorbell-guest.elf" "$d/e2e/"
for t in "$build"/tests/e2e/bin/*; do
	[ -x "$t" ] && add_bin "$d" usr/bin "$t"
done
cp "$here"/lib.sh "$here"/hostile.sh "$here"/doorbell-lib.sh "$here"/cases-*.sh "$here/../../daemon/pvringd-xen.json.example" "$d/e2e/"
cp "$here"/xen-up.sh "$here"/suite.sh "$here"/migrate-gexec.sh "$d/e2e/"
if [ "${E2E_WITH_SYSTEMD:-0}" = 1 ]; then
	# systemd as dom0's init (Debian's, as the host has it), with pvringd installed as a package
	# installs it: the unit from daemon/pvringd.service.in for prefix /usr, the Xen example as
	# /etc/pvring/pvringd.json, `systemctl enable`.
	add_bin "$d" lib/systemd /lib/systemd/systemd /lib/systemd/systemd-journald
	add_bin "$d" usr/bin /usr/bin/systemctl /usr/bin/journalctl
	mkdir -p "$d/lib/systemd/system" "$d/etc/systemd/system" "$d/etc/pvring"
	for u in /lib/systemd/system/*.target /lib/systemd/system/*.slice \
		/lib/systemd/system/systemd-journald.service /lib/systemd/system/systemd-journald*.socket; do
		[ -f "$u" ] && [ ! -L "$u" ] && cp "$u" "$d/lib/systemd/system/"
	done
	ln -s ../systemd-journald.socket "$d/lib/systemd/system/sockets.target.wants/" 2>/dev/null ||
		{ mkdir -p "$d/lib/systemd/system/sockets.target.wants" &&
			ln -s ../systemd-journald.socket "$d/lib/systemd/system/sockets.target.wants/"; }
	for u in pvringd pvring-stored; do
		sed -e 's|@sbindir@|/usr/sbin|g' -e 's|@sysconfdir@|/etc|g' \
			"$here/../../daemon/$u.service.in" >"$d/lib/systemd/system/$u.service"
	done
	cp "$here/../../daemon/pvringd-xen.json.example" "$d/etc/pvring/pvringd.json"
	cp "$here"/systemd/*.service "$d/etc/systemd/system/"
	# The README's steps on a Xen dom0: the local platform's store is masked.
	systemctl --root="$d" --quiet mask pvring-stored.service
	systemctl --root="$d" --quiet enable xen.service pvringd.service e2e.service
	ln -sf /lib/systemd/system/multi-user.target "$d/etc/systemd/system/default.target"
	cp /usr/lib/os-release "$d/etc/os-release"
	echo "root:x:0:" >"$d/etc/group"
	ln -sf /lib/systemd/systemd "$d/init"
fi
if [ "${E2E_WITH_MIGRATION:-0}" = 1 ]; then
	# Two hosts: NICs (one to the host's nbdkit through QEMU's user network, one to the other
	# host), the NBD engine (its disks are on the host's nbdkit), and ssh between the dom0s as
	# xl migrate uses it: Debian's sshd and ssh, one key for both. OpenSSH's aes128-gcm, with
	# the AES-NI run.sh gives the vCPUs, carries a migration stream at some MB/s under TCG;
	# dropbear's ciphers (no AES-NI) managed 0.5 MB/s.
	add_modules "$d" virtio_pci virtio_net
	mkdir -p "$d/usr/lib/pvring"
	add_bin "$d" usr/lib/pvring "$build/daemon/pvringd-nbd.so"
	add_bin "$d" usr/sbin "$x/usr/sbin/sshd"
	add_bin "$d" usr/bin /usr/bin/ssh
	mkdir -p "$d/etc/ssh" "$d/root/.ssh"
	ssh-keygen -q -t ed25519 -N '' -C e2e-host -f "$d/etc/ssh/ssh_host_ed25519_key"
	printf '%s\n' 'Port 22' 'HostKey /etc/ssh/ssh_host_ed25519_key' \
		'PermitRootLogin prohibit-password' 'UsePAM no' 'PidFile /run/sshd.pid' \
		>"$d/etc/ssh/sshd_config"
	# sshd's privilege separation runs as user sshd, chrooted to /run/sshd.
	echo "sshd:x:100:65534::/run/sshd:/usr/sbin/nologin" >>"$d/etc/passwd"
	echo "nogroup:x:65534:" >>"$d/etc/group"
	ssh-keygen -q -t ed25519 -N '' -C e2e -f "$d/root/.ssh/id_ed25519"
	cp "$d/root/.ssh/id_ed25519.pub" "$d/root/.ssh/authorized_keys"
	printf '%s\n' 'Host *' '  StrictHostKeyChecking no' '  UserKnownHostsFile /dev/null' \
		'  LogLevel ERROR' '  ConnectTimeout 30' '  Ciphers aes128-gcm@openssh.com' \
		>"$d/root/.ssh/config"
	chmod 700 "$d/root" "$d/root/.ssh"
	chmod 600 "$d/root/.ssh/"*
	# A command over ssh gets root's PATH (/usr/sbin:/usr/bin:/sbin:/bin): xl there too.
	ln -s ../lib/xen-4.17/bin/xl "$d/usr/sbin/xl"
fi
cp "$here/hotplug-block-phy" "$d/etc/xen/scripts/"
cp "$cache/boot/vmlinux" "$d/domU/vmlinux"
cp "$out/domU.cpio.gz" "$d/domU/initrd.gz"
pack "$d" "$out/dom0.cpio.gz"
rm -rf "$d"
