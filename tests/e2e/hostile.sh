# shellcheck shell=sh
# Hostile front ends, sourced by cases-functional.sh: a guest without blkfront runs
# hostile_front (tests/e2e/hostile_front.c) against a disk of its own: a never-granted ring-ref,
# an event channel not meant for dom0, a request producer far ahead of the ring. pvringd must
# disconnect that device with a logged reason and a pvring-error key, stay up, and keep serving
# the main guest's disk through stock blkfront meanwhile.

# The main guest writes 4 MiB at OFFSET_MB of its xvdb and reads them back.
bystander_io() {
	DOMID=$MAIN
	gexec 60 "$DD if=/dev/urandom of=/tmp/h bs=1M count=4 2>/dev/null; md5sum </tmp/h | cut -d' ' -f1
		$DD if=/tmp/h of=/dev/xvdb bs=1M seek=$1 oflag=direct 2>/dev/null && $(gmd5 /dev/xvdb "$1" 4)" ||
		return 1
	set -- $gout
	[ "$1" = "$2" ] || { fail "the main guest read back $2, wrote $1"; return 1; }
}

case_hostile_guest() {
	dd if=/dev/zero of="$IMAGES/bad.img" bs=1M count=16 2>/dev/null
	guest_config hostile 1 none
	timeout 120 xl create /etc/xen/hostile.cfg >/dev/null 2>&1 || { fail "xl create hostile"; return 1; }
	guest_wait hostile || return 1
	HOSTILE=$DOMID
	gexec 10 'lsmod; ls /dev/xen' || return 1
	echo "$gout" | grep -q xen_blkfront && { fail "blkfront is loaded in the hostile guest"; return 1; }
	echo "$gout" | grep -q gntalloc || { fail "no /dev/xen/gntalloc in the hostile guest"; return 1; }
}

# hostile MODE DEVID LOG_PATTERN OFFSET_MB: attach bad.img to the hostile guest as DEVID, run
# hostile_front MODE on it, check the disconnection and its reason, check the main guest's disk
# still works; then detach, whatever happened.
hostile() {
	[ -n "$HOSTILE" ] || { fail "no hostile guest"; return 1; }
	dev=$HOSTILE/$2
	pvringctl attach "$IMAGES/bad.img" --domid "$HOSTILE" --devid "$2" >/dev/null ||
		{ fail "attach refused"; return 1; }
	hostile_checks "$@"
	r=$?
	w=$why
	pvringctl detach "$dev" || { [ $r != 0 ] || fail "detach $dev refused"; return 1; }
	wait_gone "$dev " 30 || { [ $r != 0 ] || return 1; }
	why=$w
	return $r
}

hostile_checks() {
	DOMID=$HOSTILE
	gexec 90 "hostile_front $1 /local/domain/$HOSTILE/device/vbd/$2" || return 1
	echo "E2E-INFO hostile $1: $gout"
	echo "$gout" | grep -q "^hostile_front: $1: back end state [56], pvring-error: .*$3" ||
		{ fail "hostile_front said: $gout"; return 1; }
	grep "$dev: disconnecting the front end" "$PVLOG" | grep -q -- "$3" ||
		{ fail "pvringd's log has no '$dev: disconnecting the front end: ...$3'"; return 1; }
	kill -0 "$pvpid" 2>/dev/null || { fail "pvringd died"; return 1; }
	st=$(pvringctl -t 2 list | awk -v d="$dev" '$1 == d {print $3}')
	[ -n "$st" ] && [ "$st" != Connected ] || { fail "$dev is in state '$st'"; return 1; }
	bystander_io "$4"
}

case_hostile_bad_ref() { hostile bad-ref 51728 "cannot map the ring" 8; }
case_hostile_bad_evtchn() { hostile bad-evtchn 51744 "cannot bind event channel" 16; }
case_hostile_prod_ahead() { hostile prod-ahead 51760 "more than the ring size ahead" 24; }

e2e_case hostile-guest case_hostile_guest
e2e_case hostile-bad-ref case_hostile_bad_ref
e2e_case hostile-bad-evtchn case_hostile_bad_evtchn
e2e_case hostile-prod-ahead case_hostile_prod_ahead
