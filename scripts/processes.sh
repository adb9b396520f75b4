# Sourced by the scripts that run pvring-stored and pvringd from a build tree
# (the demo, the benchmark, the command-line test). Set $bin to the build tree.
# Each start returns once the program is ready, or fails saying it did not
# come up; the pids are in $store_pid and $daemon_pid.

# pvring_start_store RUNDIR: the store on RUNDIR/store, ready when it says so.
pvring_start_store() {
	local ready=$1/store.ready

	rm -f "$ready"
	"$bin/daemon/pvring-stored" --rundir "$1/store" --log-level warning --ready-fd 3 \
		3>"$ready" &
	store_pid=$!
	for _ in $(seq 400); do
		grep -q ready "$ready" 2>/dev/null && return 0
		kill -0 "$store_pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "pvring-stored did not start" >&2
	return 1
}

# pvring_start_daemon RUNDIR [pvringd options...]: ready when its control
# socket answers, which it does only once its loop serves guests.
pvring_start_daemon() {
	local rundir=$1

	shift
	"$bin/daemon/pvringd" --rundir "$rundir" "$@" &
	daemon_pid=$!
	for _ in $(seq 400); do
		"$bin/tools/pvringctl" --socket "$rundir/pvringd.sock" --timeout 1 list \
			>/dev/null 2>&1 && return 0
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "pvringd did not start" >&2
	return 1
}

# Stop whatever is still running, pvringd first; its exit status is returned.
pvring_stop_all() {
	local status=0

	if [ -n "${daemon_pid:-}" ]; then
		kill -TERM "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" || status=$?
		daemon_pid=
	fi
	if [ -n "${store_pid:-}" ]; then
		kill -TERM "$store_pid" 2>/dev/null || true
		wait "$store_pid" 2>/dev/null || true
		store_pid=
	fi
	return $status
}
