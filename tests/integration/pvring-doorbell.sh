#!/usr/bin/env bash
# pvring-doorbell as an operator meets it outside dom0: usage and domain ids checked with a
# reason, and no hypervisor to ask is said as such (exit 1). Turning a real domain's doorbell on
# and reading its counters is the e2e doorbell suite's (tests/e2e/cases-doorbell.sh).
set -u
bin=${BUILDDIR:-$(pwd)}
db=$bin/tools/pvring-doorbell
dir=$(mktemp -d /tmp/pvring-doorbell-XXXXXX)
trap 'rm -rf "$dir"' EXIT
failures=0

# shellcheck source=checks.sh
. "$(dirname "$0")/checks.sh"

check "--help prints the usage" run 0 "$db" --help
check "  ... naming both commands" has "$out" "pvring-doorbell show [-j] DOMID"
check "no arguments: usage, exit 2" run 2 "$db"
check "an unknown command is refused" run 2 "$db" ring 3
check "enable takes no -j" run 2 "$db" enable -j 3
check "a domain id that is no number is refused" run 2 "$db" show 3x
check "  ... saying so" has "$err" "'3x' is not a domain id"
check "a reserved domain id is refused" run 2 "$db" enable 32752
check "extra arguments are refused" run 2 "$db" show 3 4
# Outside dom0 (this host is no Xen domain): refused with the reason, not a crash.
if [ ! -e /proc/xen/privcmd ] && [ ! -e /dev/xen/privcmd ]; then
	check "outside dom0: enable exits 1" run 1 "$db" enable 3
	check "  ... saying why" has "$err" "cannot open libxenctrl (not dom0, or privcmd missing)"
	check "outside dom0: show exits 1" run 1 "$db" show -j 3
fi

if [ "$failures" -ne 0 ]; then
	checks_failed
	exit 1
fi
echo "PASS: pvring-doorbell checks its arguments"
