#!/usr/bin/env bash
# README command 2, and what .ci/run calls: install dependencies, then build
# and run the whole test suite twice: a plain -Werror build (which also builds
# common/ring as a kernel module) and an AddressSanitizer + UBSan build.
# Prints every test's result line, then one summary line; exits non-zero on
# any failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh" || exit 1

status=0
trees=("build/check:" "build/sanitize:--enable-sanitizers")
for entry in "${trees[@]}"; do
	dir=$top/${entry%%:*}
	opts=${entry#*:}
	echo "=== ${entry%%:*} ${opts:-(plain)} ==="
	# shellcheck disable=SC2086
	if ! "$top/scripts/build.sh" "$dir" $opts; then
		echo "build failed in $dir"
		status=1
		continue
	fi
	rm -f "$dir"/test-suite.log
	make -C "$dir" -j"$(nproc)" check || {
		status=1
		# Show what failed, not just that it failed.
		for log in $(grep -l -E '^(FAIL|ERROR):' $(find "$dir/tests" -name '*.log') 2>/dev/null); do
			echo "--- $log"
			tail -n 40 "$log"
		done
	}
done

# One closing line over both trees: every CMocka test and every script test.
pass=0 fail=0 skip=0
for dir in "$top/build/check" "$top/build/sanitize"; do
	log=$dir/test-suite.log
	[ -f "$log" ] || { status=1; continue; }
	n() { sed -n "s/^# $1: *\([0-9]*\)/\1/p" "$log" | head -n 1; }
	pass=$((pass + $(n PASS) + $(n XFAIL)))
	fail=$((fail + $(n FAIL) + $(n XPASS) + $(n ERROR)))
	skip=$((skip + $(n SKIP)))
done
[ "$fail" -eq 0 ] || status=1
echo "tests: $pass passed, $fail failed, $skip skipped"
exit $status
