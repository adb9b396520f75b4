# shellcheck shell=sh
# The systemd suite: dom0 boots systemd, which starts pvringd from the unit and configuration
# pvring installs (daemon/pvringd.service.in, the Xen example config as the README says), enabled
# with `systemctl enable`. A guest created with pvring-xl does verified I/O while the operator
# runs `systemctl stop` + `start`, then `systemctl restart`, then pvringd is killed with SIGKILL and
# systemd starts it again: the guest sees a pause, no error.

# pvringd logs to the journal here.
PVLOG=/tmp/pvringd.journal
pvlog_sync() { journalctl -u pvringd.service -o cat --no-pager >"$PVLOG" 2>&1; }

main_pid() { systemctl show -p MainPID --value pvringd.service; }

case_started_by_systemd() {
	[ "$(systemctl is-enabled pvringd.service)" = enabled ] || { fail "pvringd.service is not enabled"; return 1; }
	# Type=notify: active only once pvringd said READY=1.
	[ "$(systemctl is-active pvringd.service)" = active ] ||
		{ fail "pvringd.service is $(systemctl is-active pvringd.service): $(systemctl status pvringd.service 2>&1 | tail -n 5)"; return 1; }
	pvringctl -t 2 list >/dev/null || { fail "pvringctl cannot reach the unit's pvringd"; return 1; }
	pvlog_has "ready: xen platform" || { fail "the journal has no \"ready: xen platform\" from pvringd"; return 1; }
}

case_guest() {
	dd if=/dev/zero of=$IMAGES/sd.img bs=1M count=32 2>/dev/null
	guest_config sd 2 ""
	cat >>/etc/xen/sd.cfg <<CFG
on_reboot = "destroy"
pvring_disk = [ 'format=raw, vdev=xvda, access=rw, target=$IMAGES/sd.img' ]
CFG
	timeout 180 pvring-xl create -t $((10 * SLOW)) /etc/xen/sd.cfg >/tmp/xl.out 2>&1 ||
		{ fail "pvring-xl create: $(tail -n 3 /tmp/xl.out | tr '\n' ' ')"; return 1; }
	guest_wait sd || return 1
	SD=$DOMID
	wait_state "$SD/51712" Connected 20
}

# systemctl stop, then start: the stop leaves the rings Connected, the start resumes them.
stop_then_start() {
	before=$(main_pid)
	timeout 90 systemctl stop pvringd.service || { fail "systemctl stop failed"; return 1; }
	[ "$(systemctl is-active pvringd.service)" = inactive ] ||
		{ fail "after systemctl stop the unit is $(systemctl is-active pvringd.service)"; return 1; }
	kill -0 "$before" 2>/dev/null && { fail "pvringd $before still runs after systemctl stop"; return 1; }
	left_connected "$SD/51712" || return 1
	sleep 3
	timeout 90 systemctl start pvringd.service || { fail "systemctl start failed"; return 1; }
}

case_systemctl_stop_start() {
	DOMID=$SD
	io_across 51712 xvda stop_then_start
}

restart() {
	before=$(main_pid)
	timeout 90 systemctl restart pvringd.service || { fail "systemctl restart failed"; return 1; }
	[ "$(main_pid)" != "$before" ] || { fail "systemctl restart left the same pvringd ($before)"; return 1; }
	[ "$(systemctl is-active pvringd.service)" = active ] || { fail "the restarted unit is not active"; return 1; }
}

case_systemctl_restart() {
	DOMID=$SD
	n=$(journalctl -u pvringd.service -o cat --no-pager | grep -c "$SD/51712: resuming")
	io_across 51712 xvda restart || return 1
	[ "$(journalctl -u pvringd.service -o cat --no-pager | grep -c "$SD/51712: resuming")" -gt "$n" ] ||
		{ fail "the restarted pvringd did not resume $SD/51712"; return 1; }
	# Stopping never failed the unit (a SIGTERM exit is a clean exit).
	[ "$(systemctl show -p Result --value pvringd.service)" = success ] ||
		{ fail "the unit's result is $(systemctl show -p Result --value pvringd.service)"; return 1; }
}

# pvringd killed with SIGKILL during verified I/O: systemd starts it again (Restart=on-failure),
# the new one takes the rings on from their in-flight journals; the guest sees a pause, no error.
killed() {
	before=$(main_pid)
	restarts=$(systemctl show -p NRestarts --value pvringd.service)
	kill -KILL "$before"
	i=0
	while [ "$(main_pid)" = "$before" ] || [ "$(main_pid)" = 0 ] ||
		[ "$(systemctl is-active pvringd.service)" != active ]; do
		i=$((i + 1))
		[ $i -lt $((150 * SLOW)) ] ||
			{ fail "systemd did not start pvringd again after SIGKILL: $(systemctl is-active pvringd.service)"; return 1; }
		usleep 200000
	done
	[ "$(systemctl show -p NRestarts --value pvringd.service)" -gt "$restarts" ] ||
		{ fail "the unit's restart count did not grow"; return 1; }
}

case_sigkill_restarted() {
	DOMID=$SD
	io_across 51712 xvda killed
}

case_shutdown() {
	DOMID=$SD
	gexec 20 "md5sum </tmp/w | cut -d' ' -f1" || return 1
	last=$gout
	timeout 120 xl shutdown -w sd >/dev/null 2>&1 || { fail "xl shutdown -w sd did not finish"; return 1; }
	wait_gone "$SD/" 20 || return 1
	[ "$(image_md5 $IMAGES/sd.img 8 4)" = "$last" ] ||
		{ fail "the image does not hold the guest's last write"; return 1; }
	[ "$(systemctl is-active pvringd.service)" = active ] || { fail "pvringd.service stopped"; return 1; }
}

e2e_case started-by-systemd case_started_by_systemd
e2e_case guest case_guest
e2e_case systemctl-stop-start case_systemctl_stop_start
e2e_case systemctl-restart case_systemctl_restart
e2e_case sigkill-restarted case_sigkill_restarted
e2e_case shutdown case_shutdown
echo "E2E-INFO pvringd warnings: $(journalctl -u pvringd.service -o cat --no-pager | grep -c -E 'warning|error')"
