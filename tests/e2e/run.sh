#!/usr/bin/env bash
# Run one suite of the real-Xen end-to-end tests: boot Xen 4.17 and a PV dom0 in QEMU (TCG),
# run tests/e2e/cases-SUITE.sh in dom0 against this build's pvringd, and print one
# "PASS: e2e NAME" or "FAIL: e2e NAME" line per case.
#   run.sh BUILD_DIR [SUITE] [TIMEOUT_S]
# PVRING_E2E_XEN names another hypervisor to boot (hypervisor-patch/build.sh prints one); the
# default is Debian's. PVRING_E2E_XENPOLICY names the FLASK policy the doorbell-flask suite loads
# with it (build.sh --flask prints one).
# Exit status 0 only if every case ran and passed. A boot that hangs or dies fails, with the
# console's last lines; the full console log is BUILD_DIR/tests/e2e/SUITE.console.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
suite=${2:-functional}
timeout=${3:-1200}
out=$build/tests/e2e
mkdir -p "$out"

cache=$("$here/fetch.sh" | tail -n 1) || {
	echo "FAIL: e2e fetch (cannot fetch Xen and the kernel from Debian's repositories)"
	exit 1
}
make -C "$build" -s e2e-programs >/dev/null || {
	echo "FAIL: e2e build (the suite's own programs do not build)"
	exit 1
}
# The pvblk module, built with Kbuild against the headers of the guest kernel's ABI.
abi=$(cat "$cache/abi")
[ -d "/usr/src/linux-headers-$abi" ] &&
	"$here/../../frontend-driver/build.sh" "$build/frontend-driver" "/usr/src/linux-headers-$abi" \
		>"$out/pvblk-build.log" 2>&1 || {
	echo "FAIL: e2e build (pvblk does not build against linux-headers-$abi: see $out/pvblk-build.log)"
	exit 1
}
# The doorbell suite boots Xen with pvring's patch series (built once, then cached) and runs PVH
# guests, which under TCG need QEMU's nested SVM with nested paging.
# The doorbell-flask suite boots the same series built with XSM/FLASK, enforcing, with a policy
# that has the test's module (build.sh --flask prints its path) as a multiboot module.
# The migrate suite boots that patched build too, for its shadow paging: Debian 12's packaged Xen
# (4.17.7) is built without CONFIG_SHADOW_PAGING, and a PV guest's live migration needs it for
# log-dirty mode (xl migrate there stops at "Failed to enable logdirty: 95,22,0"); build.sh
# builds Debian's source with upstream's defaults, which have it.
cpu=qemu64
case $suite in doorbell* | migrate) patched=1 ;; *) patched=0 ;; esac
flask_args=()
[ "$suite" = doorbell-flask ] && flask_args=(--flask "$here/flask/pvring_doorbell_test.te")
if [ $patched = 1 ]; then
	cpu=qemu64,+svm,+npt
	# ssh carries the migration stream, encrypted: OpenSSH's aes128-gcm with AES-NI and PCLMUL
	# (which TCG emulates) moved 32 MiB between the dom0s in 5.9 s; dropbear, whose ciphers have
	# no AES-NI path, took 64 s with chacha20 and was no faster with aes128-ctr.
	[ "$suite" = migrate ] && cpu=qemu64,+ssse3,+sse4.1,+sse4.2,+aes,+pclmulqdq
	if [ -z "${PVRING_E2E_XEN:-}" ]; then
		# One line, the hypervisor; with --flask a second, the policy.
		built=$("$here/../../hypervisor-patch/build.sh" "${flask_args[@]}" \
			2>"$out/xen-build.log" | tail -n 2) || {
			echo "FAIL: e2e build (the patched hypervisor does not build: see $out/xen-build.log)"
			exit 1
		}
		PVRING_E2E_XEN=$(echo "$built" | head -n 1)
		[ ${#flask_args[@]} = 0 ] || PVRING_E2E_XENPOLICY=$(echo "$built" | tail -n 1)
	fi
	if [ ${#flask_args[@]} != 0 ] && [ -z "${PVRING_E2E_XENPOLICY:-}" ]; then
		echo "FAIL: e2e build (PVRING_E2E_XEN is set but PVRING_E2E_XENPOLICY is not: the" \
			"doorbell-flask suite needs both, from hypervisor-patch/build.sh --flask)"
		exit 1
	fi
	make -s -C "$here/../../hypervisor-patch/test-guest" O="$build/tests/e2e/test-guest" \
		>"$out/test-guest-build.log" 2>&1 || {
		echo "FAIL: e2e build (the doorbell test guest does not build: see $out/test-guest-build.log)"
		exit 1
	}
fi
# fio in the guest: the benchmarks, pvblk's polled I/O, the migrating guest's verified writes.
case $suite in bench* | pvblk | migrate) with_fio=1 ;; *) with_fio=0 ;; esac
E2E_WITH_FIO=$with_fio \
	E2E_WITH_SYSTEMD=$([ "$suite" = systemd ] && echo 1 || echo 0) \
	E2E_WITH_MIGRATION=$([ "$suite" = migrate ] && echo 1 || echo 0) \
	"$here/mkimages.sh" "$cache" "$build" "$out/images-$suite" || {
	echo "FAIL: e2e images (cannot build the dom0 and domU initramfs)"
	exit 1
}

xen_args="console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all dom0_mem=1024M,max:1024M"
xen_args+=" dom0_max_vcpus=1 noreboot"
modules=
if [ ${#flask_args[@]} != 0 ]; then
	xen_args+=" flask=enforcing"
	modules=",$PVRING_E2E_XENPOLICY"
fi
dom0_args="console=hvc0 earlyprintk=xen panic=-1 e2e=$suite"
accel=(-accel tcg -cpu $cpu)
mem=2048
if [ "${suite#bench}" != "$suite" ] && [ "${suite%-wall}" = "$suite" ]; then
	# Virtual time from instruction counts: repeatable figures on a shared, noisy machine.
	accel=(-accel tcg,thread=single -icount shift=0,sleep=off -cpu $cpu)
	mem=3072
elif [ "${suite%-wall}" != "$suite" ]; then
	# Wall-clock benchmarks: multi-threaded TCG, the vCPUs at once on the host's cores.
	mem=3072
fi
log=$out/$suite.console
qemu=(qemu-system-x86_64 "${accel[@]}" -m $mem -smp 2 -nographic -no-reboot -monitor none
	-kernel "${PVRING_E2E_XEN:-$cache/boot/xen}" -append "$xen_args")
if [ "$suite" = migrate ]; then
	# shellcheck source=migrate-hosts.sh
	. "$here/migrate-hosts.sh"
	migrate_hosts
	boot=$?
else
	"$here/qemu-run.py" "$log" "$timeout" '^E2E-END' -- "${qemu[@]}" \
		-initrd "$cache/boot/vmlinux $dom0_args,$out/images-$suite/dom0.cpio.gz$modules"
	boot=$?
fi

# The cases' verdicts, as the test command counts them.
sed -n 's/^\[ *[0-9.]*\] E2E-RESULT \(PASS\|FAIL\) \([^ :]*\)\(.*\)/\1: e2e \2\3/p' "$log"
sed -n 's/^\[ *[0-9.]*\] \(E2E-INFO.*\)/\1/p' "$log"
status=0
grep -q '^\[ *[0-9.]*\] E2E-RESULT FAIL' "$log" && status=1
if [ "$boot" != 0 ]; then
	echo "FAIL: e2e $suite-boot (the run did not reach its end: see $log)"
	status=1
elif ! grep -q '^\[ *[0-9.]*\] E2E-RESULT' "$log"; then
	echo "FAIL: e2e $suite-boot (no case ran: see $log)"
	status=1
fi
exit $status
