# shellcheck shell=bash
# The script tests' checks: each prints one TAP-like "ok -" / "not ok -" line and counts failures.
# The sourcing script sets $dir (a scratch directory) and failures=0.
failed_checks=()

check() { # check DESCRIPTION COMMAND...: the command must succeed
	local what=$1
	shift
	if "$@"; then
		echo "ok - $what"
	else
		echo "not ok - $what"
		failures=$((failures + 1))
		failed_checks+=("$what")
	fi
}

# run EXPECTED_STATUS CMD...: run, keep stdout/stderr in $out/$err, compare the status
run() {
	local want=$1
	shift
	"$@" >"$dir/out" 2>"$dir/err"
	status=$?
	out=$(cat "$dir/out")
	err=$(cat "$dir/err")
	[ "$status" = "$want" ] || {
		echo "# $* exited $status, expected $want; stdout: $out; stderr: $err"
		return 1
	}
}

has() { grep -qF -- "$2" <<<"$1" || { echo "# no \"$2\" in: $1"; return 1; }; }
lacks() { ! grep -qF -- "$2" <<<"$1" || { echo "# \"$2\" in: $1"; return 1; }; }

# checks_failed: the closing lines of a run that failed, naming each failed check. They are the
# last lines, so a log's tail (all CI shows) says what failed whatever was printed before.
checks_failed() {
	local what

	for what in "${failed_checks[@]}"; do
		echo "failed: $what"
	done
	echo "FAIL: $failures checks failed"
}
