#!/bin/sh
# Every C file in the tree is formatted as .clang-format says (kernel style).
set -u
srcdir=${srcdir:-$(dirname "$0")/../..}
command -v clang-format >/dev/null || { echo "SKIP: clang-format not installed (apt-get install clang-format)"; exit 77; }
cd "$srcdir" || exit 1
files=$(find common daemon frontend-driver hypervisor-patch tools tests -name '*.[ch]' | sort)
[ -n "$files" ] || { echo "FAIL: no C files found under $srcdir"; exit 1; }
# shellcheck disable=SC2086
if clang-format --dry-run --Werror $files; then
	echo "PASS: $(echo "$files" | wc -l) files formatted"
else
	echo "FAIL: run clang-format -i on the files above"
	exit 1
fi
