# shellcheck shell=sh
# Sourced by the Kbuild tests: $abi and $headers, the Debian kernel headers that
# linux-image-ARCH points at (what the e2e suite's guest kernel is built from). Installs them when
# missing and this is root on Debian; otherwise calls skip (the sourcing script's) saying why.
arch=$(dpkg --print-architecture 2>/dev/null) || skip "not a Debian system (no dpkg)"
flavour=$arch
# The flavour the distribution kernel meta-package points at, e.g. 6.1.0-56-amd64.
abi=$(apt-cache depends "linux-image-$flavour" 2>/dev/null |
	sed -n "s/.*Depends: linux-image-\(.*-$flavour\)\$/\1/p" | head -n 1)
headers=
if [ -n "$abi" ] && [ -d "/usr/src/linux-headers-$abi" ]; then
	headers=/usr/src/linux-headers-$abi
else
	headers=$(ls -d /usr/src/linux-headers-*-"$flavour" 2>/dev/null | sort -V | tail -n 1)
fi
if [ -z "$headers" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "installing linux-headers-$flavour"
		# Waits for dpkg's lock: the Kbuild tests may run at once (make -j check).
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 \
			"linux-headers-$flavour" ||
			skip "linux-headers-$flavour could not be installed"
		headers=$(ls -d /usr/src/linux-headers-*-"$flavour" 2>/dev/null | sort -V | tail -n 1)
	fi
	[ -n "$headers" ] || skip "no /usr/src/linux-headers-*-$flavour (apt-get install linux-headers-$flavour)"
fi
