#!/usr/bin/env bash
# README command 2, and what .ci/run calls: install dependencies, then build
# and run the whole test suite twice: a plain -Werror build (which also builds
# common/ring as a kernel module) and an AddressSanitizer + UBSan build; the
# threaded tests a third time in a ThreadSanitizer build; then
# the libFuzzer targets for 20 s each, once, in the plain tree; then the
# real-Xen end-to-end suite (tests/e2e), once. Prints every test's result line,
# then the summary; exits non-zero on any failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh" || exit 1

status=0
# The ThreadSanitizer tree runs the tests that run threads (Makefile.am says which).
trees=("build/check:" "build/sanitize:--enable-sanitizers" "build/tsan:--enable-sanitizers=thread")
for entry in "${trees[@]}"; do
	dir=$top/${entry%%:*}
	opts=${entry#*:}
	echo "=== ${entry%%:*} ${opts:-(plain)} ==="
	# Results of an earlier run must not be counted as this one's (a failed build leaves none).
	rm -f "$dir"/test-suite.log "$dir"/tests/fuzz/fuzz.log
	# shellcheck disable=SC2086
	if ! "$top/scripts/build.sh" "$dir" $opts; then
		echo "build failed in $dir"
		status=1
		continue
	fi
	make -C "$dir" -j"$(nproc)" check || {
		status=1
		# Show what failed, not just that it failed.
		for log in $(grep -l -E '^(FAIL|ERROR):' $(find "$dir/tests" -name '*.log') 2>/dev/null); do
			echo "--- $log"
			tail -n 40 "$log"
		done
	}
	# The fuzz targets, once: in the plain tree, about a minute in all.
	if [ -z "$opts" ]; then
		fuzz_log=$dir/tests/fuzz/fuzz.log
		mkdir -p "$dir/tests/fuzz"
		make -C "$dir" --no-print-directory fuzz FUZZ_SECONDS=20 2>&1 | tee "$fuzz_log"
		[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
	fi
done

# The real-Xen end-to-end suite, once, with the plain tree's pvringd: Xen 4.17 and a PV dom0 in
# QEMU, stock xen-blkfront and pvblk guests. It fetches what it boots from Debian's repositories; a
# machine that cannot fetch them fails here with that reason.
e2e_log=$top/build/check/tests/e2e/e2e.log
mkdir -p "$(dirname "$e2e_log")"
rm -f "$e2e_log"
if [ -f "$top/build/check/Makefile" ]; then
	echo "=== real-Xen end-to-end suite ==="
	# functional: stock blkfront guests, busybox as dom0's init; systemd: pvringd as its unit
	# installs, stopped and restarted with systemctl; pvblk: pvring's own guest module (those three
	# on Debian's Xen); doorbell: Xen built with hypervisor-patch/ (cached after the first build)
	# and its test guest; doorbell-flask: the same built with XSM/FLASK, enforcing, a policy
	# that refuses the test guest's sends; migrate: two Xen hosts, a guest moved between them
	# and back with verified I/O on disks on shared NBD storage.
	for suite in functional systemd pvblk doorbell doorbell-flask migrate; do
		"$top/tests/e2e/run.sh" "$top/build/check" $suite 2>&1 | tee -a "$e2e_log"
		[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
	done
fi

# One closing line over the three trees: every CMocka test and every script test.
pass=0 fail=0 skip=0
for dir in "$top/build/check" "$top/build/sanitize" "$top/build/tsan"; do
	log=$dir/test-suite.log
	[ -f "$log" ] || { status=1; continue; }
	n() { sed -n "s/^# $1: *\([0-9]*\)/\1/p" "$log" | head -n 1; }
	pass=$((pass + $(n PASS) + $(n XFAIL)))
	fail=$((fail + $(n FAIL) + $(n XPASS) + $(n ERROR)))
	skip=$((skip + $(n SKIP)))
done
# Each fuzz target counts as one test; none ran if the fuzz log is missing.
fuzz_log=$top/build/check/tests/fuzz/fuzz.log
if [ -f "$fuzz_log" ]; then
	fuzz_pass=$(grep -c '^PASS: fuzz ' "$fuzz_log")
	fuzz_fail=$(grep -c '^FAIL: fuzz ' "$fuzz_log")
	[ $((fuzz_pass + fuzz_fail)) -gt 0 ] || fuzz_fail=1
else
	fuzz_pass=0 fuzz_fail=1
fi
pass=$((pass + fuzz_pass))
fail=$((fail + fuzz_fail))
# Each end-to-end case counts as one test; a suite that did not run counts as one failure.
e2e_pass=0 e2e_fail=1
if [ -f "$e2e_log" ]; then
	e2e_pass=$(grep -c '^PASS: e2e ' "$e2e_log")
	e2e_fail=$(grep -c '^FAIL: e2e ' "$e2e_log")
	[ $((e2e_pass + e2e_fail)) -gt 0 ] || e2e_fail=1
fi
pass=$((pass + e2e_pass))
fail=$((fail + e2e_fail))
[ "$fail" -eq 0 ] || status=1
echo "fuzz: $fuzz_pass targets passed, $fuzz_fail failed (build/check/tests/fuzz/fuzz.log)"
echo "e2e: $e2e_pass cases passed, $e2e_fail failed (build/check/tests/e2e/e2e.log)"
# What failed, by name, just above the closing line: a log's tail is what CI shows.
[ -f "$e2e_log" ] && grep '^FAIL: e2e ' "$e2e_log"
for dir in "$top/build/check" "$top/build/sanitize" "$top/build/tsan"; do
	[ -d "$dir/tests" ] || continue
	find "$dir/tests" -name '*.trs' -exec grep -l -E '^:test-result: (FAIL|ERROR|XPASS)' {} + |
		while read -r trs; do
			echo "FAIL: ${trs#"$top/"}" | sed 's|\.trs$||'
			# Which cases, and CMocka's reason for each (the '#' lines after 'not ok').
			awk '/^not ok/ { n = 4 } /^(FAIL|ERROR):/ { next }
				n > 0 && /^(not ok|#)/ { print "  " $0; n--; next } { n = 0 }' \
				"${trs%.trs}.log" 2>/dev/null | head -n 24
		done
done
echo "tests: $pass passed, $fail failed, $skip skipped"
exit $status
