# Sourced by tests: a real one-node Ceph cluster and a real nbdkit, started from Debian's
# packages in a test directory and stopped after (no systemd, no cephadm). The recipe is
# ../shared/storage-engines.md's: one mon, one memstore OSD, no authentication.
#
#   ceph_start DIR PORT   a cluster in DIR with its mon on 127.0.0.1:PORT; CEPH_CONF set
#   ceph_osd_pid          the OSD's pid (to stop or pause it)
#   ceph_stop             SIGTERM both daemons (memstore saves its data on a clean stop)
#   nbd_start DIR IMAGE [NBDKIT_OPTION...]
#                         nbdkit's file plugin serving IMAGE on DIR/nbd.sock; $nbd_uri
#   nbd_stop

# ceph_wait WHAT CMD...: CMD succeeds within 30 s (a bound for a hang, not a speed).
ceph_wait() {
	local what=$1

	shift
	for _ in $(seq 300); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "ceph: $what did not happen within 30 s" >&2
	return 1
}

ceph_start() {
	local dir=$1 port=$2 uuid

	ceph_dir=$dir
	mkdir -p "$dir/mon" "$dir/osd" "$dir/run"
	cat >"$dir/ceph.conf" <<CONF
[global]
fsid = $(cat /proc/sys/kernel/random/uuid)
mon host = v2:127.0.0.1:$port
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon allow pool delete = true
osd crush chooseleaf type = 0
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/\$name.log
mon data = $dir/mon/\$name
osd data = $dir/osd/\$name
osd objectstore = memstore
memstore device bytes = 2147483648
mon warn on pool no redundancy = false
CONF
	export CEPH_CONF=$dir/ceph.conf
	ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' \
		>/dev/null || return 1
	monmaptool --create --addv a "[v2:127.0.0.1:$port]" --fsid \
		"$(sed -n 's/^fsid = //p' "$dir/ceph.conf")" "$dir/monmap" >/dev/null || return 1
	ceph-mon --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" || return 1
	ceph-mon -i a || return 1
	uuid=$(cat /proc/sys/kernel/random/uuid)
	ceph_wait "the mon answering" ceph -s --connect-timeout 5 || return 1
	ceph osd new "$uuid" >/dev/null || return 1
	mkdir -p "$dir/osd/osd.0"
	ceph-osd -i 0 --mkfs --osd-uuid "$uuid" >/dev/null 2>&1 || return 1
	ceph-osd -i 0 || return 1
	ceph_wait "the OSD up" sh -c 'ceph osd stat 2>/dev/null | grep -q "1 up"' || return 1
	ceph osd pool create rbd 8 8 >/dev/null 2>&1 || return 1
	rbd pool init rbd || return 1
}

ceph_osd_pid() {
	cat "$ceph_dir/run/osd.0.pid"
}

ceph_stop() {
	local pid name

	[ -n "${ceph_dir:-}" ] || return 0
	for name in osd.0 mon.a; do
		pid=$(cat "$ceph_dir/run/$name.pid" 2>/dev/null) || continue
		kill -CONT "$pid" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	done
	ceph_dir=
}

nbd_start() {
	local dir=$1 image=$2

	shift 2
	rm -f "$dir/nbd.sock"
	nbdkit "$@" -U "$dir/nbd.sock" -P "$dir/nbd.pid" file "$image" || return 1
	nbd_uri="nbd+unix:///?socket=$dir/nbd.sock"
	nbd_dir=$dir
}

nbd_pid() {
	cat "$nbd_dir/nbd.pid"
}

nbd_stop() {
	local pid

	[ -n "${nbd_dir:-}" ] || return 0
	pid=$(cat "$nbd_dir/nbd.pid" 2>/dev/null) && kill -CONT "$pid" 2>/dev/null &&
		kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	nbd_dir=
}
