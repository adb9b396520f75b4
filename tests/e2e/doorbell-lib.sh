# shellcheck shell=sh
# Running the doorbell test guest (hypervisor-patch/test-guest, /e2e/doorbell-guest.elf) with its
# dom0 partner (doorbell-partner), sourced by cases-doorbell.sh and cases-doorbell-flask.sh. The
# guest reports on Xen's console in lines "(dN) DOORBELL-..." (read here with xl dmesg); the
# hypervisor's counters come from pvring-doorbell show ("on|off sent N dropped N").

DB_GUEST=/e2e/doorbell-guest.elf
# Round trips per method in each of DB_ROUNDS alternating rounds: 2 x 5 x 500 plus warm-up keeps a
# guest's whole run to well under a minute of TCG.
DB_N=${DB_N:-500}
DB_ROUNDS=${DB_ROUNDS:-5}

# db_config NAME: the test guest's configuration, with DB_CMDLINE (default: DB_N round trips in
# DB_ROUNDS rounds) and DB_EXTRA_CFG appended (e.g. a seclabel). on_crash = preserve: a guest
# that crashed stays listed, as crashed, for the liveness check to see.
db_config() {
	cat >"/etc/xen/$1.cfg" <<CFG
name = "$1"
type = "pvh"
kernel = "$DB_GUEST"
cmdline = "${DB_CMDLINE:-n=$DB_N rounds=$DB_ROUNDS}"
memory = 32
vcpus = 1
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "preserve"
${DB_EXTRA_CFG:-}
CFG
}

# db_lines DOMID: the test guest's DOORBELL- lines so far (Xen prefixes a guest's debug-port
# lines with "(dN) ").
db_lines() { xl dmesg 2>/dev/null | sed -n "s/^.*(d$1) [^D]*\(DOORBELL-.*\)$/\1/p"; }

# db_field LINE_PREFIX KEY FILE: the value of KEY=VALUE on the first line of FILE that starts
# with LINE_PREFIX.
db_field() { grep "^$1" "$3" | head -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# db_alive NAME: the domain is still listed and neither crashed, shut down nor dying.
db_alive() {
	state=$(xl list "$1" 2>/dev/null | awk 'NR == 2 {print $5}')
	[ -n "$state" ] || { fail "domain $1 is gone"; return 1; }
	case $state in
	*[scd]*) fail "domain $1 is in state $state"; return 1 ;;
	esac
}

# db_run NAME ENABLE: create the test guest paused, turn its doorbell on when ENABLE is 1, run it
# with its partner (given DB_PARTNER_ARGS too) until it prints DOORBELL-DONE. Sets DB_DOMID; the
# guest's lines land in /tmp/db.NAME.lines, the partner's report in /tmp/db.NAME.partner (its
# stderr in .err). (Not $name: e2e_case still needs it.)
db_run() {
	gname=$1 lines=/tmp/db.$1.lines
	rm -f "$lines" "/tmp/db.$gname.partner" "/tmp/db.$gname.partner.err"
	# A clean console ring: everything the guest prints is still in it at the end.
	xl dmesg -c >/dev/null 2>&1
	db_config "$gname"
	timeout $((60 * SLOW)) xl create -p "/etc/xen/$gname.cfg" >/tmp/xl.out 2>&1 ||
		{ fail "xl create -p $gname: $(tail -n 3 /tmp/xl.out | tr '\n' ' ')"; return 1; }
	DB_DOMID=$(xl domid "$gname")
	if [ "$2" = 1 ]; then
		pvring-doorbell enable "$DB_DOMID" 2>/tmp/db.err ||
			{ fail "pvring-doorbell enable $DB_DOMID: $(cat /tmp/db.err)"; return 1; }
		want="on sent 0 dropped 0"
	else
		want="off sent 0 dropped 0"
	fi
	got=$(pvring-doorbell show "$DB_DOMID" 2>&1)
	[ "$got" = "$want" ] || { fail "before the guest ran, the doorbell shows '$got', not '$want'"; return 1; }
	# shellcheck disable=SC2086 # DB_PARTNER_ARGS is words
	doorbell-partner -t $((60 * SLOW)) ${DB_PARTNER_ARGS:-} "$DB_DOMID" >"/tmp/db.$gname.partner" \
		2>"/tmp/db.$gname.partner.err" &
	partner=$!
	xl unpause "$gname" || { fail "xl unpause $gname"; return 1; }
	wait "$partner"
	partner_rc=$?
	# The guest prints its verdict once it has read the partner's result.
	i=0
	until db_lines "$DB_DOMID" | grep -q '^DOORBELL-DONE'; do
		i=$((i + 1))
		[ $i -lt $((40 * SLOW)) ] || break
		usleep 250000
	done
	db_lines "$DB_DOMID" >"$lines"
	[ -s "$lines" ] || { fail "the guest printed no DOORBELL- line (xl dmesg: $(xl dmesg | tail -n 5 | tr '\n' '|'))"; return 1; }
	grep -q '^DOORBELL-DONE' "$lines" ||
		{ fail "the guest never finished: $(tail -n 3 "$lines" | tr '\n' '|')"; return 1; }
	grep -q '^DOORBELL-DONE ok$' "$lines" ||
		{ fail "the guest says: $(grep -e '^DOORBELL-DONE' -e '^DOORBELL-FAIL' "$lines" | head -n 4 | tr '\n' '|')"; return 1; }
	[ "$partner_rc" = 0 ] && grep -q 'result=ok$' "/tmp/db.$gname.partner" ||
		{ fail "doorbell-partner exited $partner_rc: $(cat "/tmp/db.$gname.partner" "/tmp/db.$gname.partner.err" | tail -n 4 | tr '\n' '|')"; return 1; }
}

# db_counters DOMID: the hypervisor's counters as "STATE SENT DROPPED".
db_counters() {
	set -- $(pvring-doorbell show "$1" 2>&1)
	[ "$2" = sent ] && [ "$4" = dropped ] && echo "$1 $3 $5"
}

# db_info NAME LABEL: the guest's figures as E2E-INFO lines.
db_info() {
	f=/tmp/db.$1.lines
	for m in send doorbell; do
		grep -q "^DOORBELL-RESULT $m " "$f" || continue
		echo "E2E-INFO doorbell $2: $m: $(db_field "DOORBELL-RESULT $m " rt_per_s "$f") round trips/s" \
			"($(db_field "DOORBELL-RESULT $m " rt_us "$f") us each; median of $DB_ROUNDS rounds of $DB_N)," \
			"$(db_field "DOORBELL-RESULT $m " kick_cycles "$f") TSC cycles per kick (median; min" \
			"$(db_field "DOORBELL-RESULT $m " kick_cycles_min "$f"))"
	done
	echo "E2E-INFO doorbell $2: TSC $(db_field DOORBELL-CPUID tsc_khz "$f") kHz," \
		"emulated $(db_field DOORBELL-CPUID tsc_emulated "$f"); round trips/s by round:" \
		"$(grep '^DOORBELL-ROUND' "$f" | awk '{printf "%s%s %s %s", (NR > 1 ? ", " : ""), $2, $3, substr($4, 10)}')"
}
