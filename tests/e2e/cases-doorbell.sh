# shellcheck shell=sh
# The doorbell suite, on Xen with pvring's patch (hypervisor-patch/): a bare PVH test guest
# (hypervisor-patch/test-guest, /e2e/doorbell-guest.elf) and its dom0 partner (doorbell-partner)
# measure event-channel round trips kicked with EVTCHNOP_send and with the port-I/O doorbell, then
# the guest makes every kind of bad doorbell access. The guest reports on Xen's console in lines
# "(dN) DOORBELL-..." (read here with xl dmesg); the hypervisor's counters come from
# pvring-doorbell show ("on|off sent N dropped N"). Each case prints one E2E-RESULT line.

DB_GUEST=/e2e/doorbell-guest.elf
# Round trips per method in each of DB_ROUNDS alternating rounds: 2 x 5 x 500 plus warm-up keeps a
# guest's whole run to well under a minute of TCG.
DB_N=${DB_N:-500}
DB_ROUNDS=${DB_ROUNDS:-5}

# db_config NAME: the test guest's configuration. on_crash = preserve: a guest that crashed
# stays listed, as crashed, for the liveness check to see.
db_config() {
	cat >"/etc/xen/$1.cfg" <<CFG
name = "$1"
type = "pvh"
kernel = "$DB_GUEST"
cmdline = "n=$DB_N rounds=$DB_ROUNDS"
memory = 32
vcpus = 1
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "preserve"
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
# with its partner until it prints DOORBELL-DONE. Sets DB_DOMID; the guest's lines land in
# /tmp/db.NAME.lines, the partner's report in /tmp/db.NAME.partner (its stderr in .err). (Not
# $name: e2e_case still needs it.)
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
	doorbell-partner -t $((60 * SLOW)) "$DB_DOMID" >"/tmp/db.$gname.partner" \
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

# ---- the cases

# The doorbell on: round trips through it and through EVTCHNOP_send, then every bad access. The
# hypervisor counts as sent exactly the guest's good doorbell kicks and as dropped exactly its bad
# accesses; the partner got exactly the guest's good kicks; the guest lives on.
case_round_trips() {
	db_run db-on 1 || return 1
	f=/tmp/db.db-on.lines
	[ "$(db_field DOORBELL-CPUID doorbell "$f")" = 1 ] ||
		{ fail "the guest does not see the doorbell in CPUID: $(grep ^DOORBELL-CPUID "$f")"; return 1; }
	[ "$(db_field DOORBELL-CPUID io "$f")" = 0xe80 ] && [ "$(db_field DOORBELL-CPUID info "$f")" = 0x0 ] ||
		{ fail "CPUID advertises: $(grep ^DOORBELL-CPUID "$f")"; return 1; }
	good_send=$(db_field DOORBELL-COUNTS good_send "$f")
	good_db=$(db_field DOORBELL-COUNTS good_doorbell "$f")
	bad=$(db_field DOORBELL-COUNTS bad "$f")
	[ "$good_db" -gt 0 ] && [ "$good_send" -gt 0 ] && [ "$bad" -gt 0 ] ||
		{ fail "the guest's counts: $(grep ^DOORBELL-COUNTS "$f")"; return 1; }
	grep -q '^DOORBELL-MASK clear-and-recheck .* handled=1$' "$f" &&
		grep -q '^DOORBELL-MASK EVTCHNOP_unmask .* handled=1$' "$f" ||
		{ fail "the masking checks: $(grep ^DOORBELL-MASK "$f" | tr '\n' '|')"; return 1; }
	events=$(sed -n 's/.* events=\([0-9]*\) .*/\1/p' /tmp/db.db-on.partner)
	[ "$events" = $((good_send + good_db)) ] ||
		{ fail "the partner got $events events for $good_send + $good_db good kicks"; return 1; }
	set -- $(db_counters "$DB_DOMID")
	[ "$1" = on ] && [ "$2" = "$good_db" ] && [ "$3" = "$bad" ] ||
		{ fail "the hypervisor counts '$(pvring-doorbell show "$DB_DOMID" 2>&1)'; the guest made $good_db good doorbell kicks and $bad bad accesses"; return 1; }
	# After its verdict the guest idles: alive, and nothing more reaches the doorbell.
	sleep 1
	db_alive db-on || return 1
	[ "$(db_counters "$DB_DOMID")" = "on $good_db $bad" ] ||
		{ fail "the counters moved after the guest finished: $(pvring-doorbell show "$DB_DOMID" 2>&1)"; return 1; }
	db_info db-on on
	echo "E2E-INFO doorbell on: $good_db doorbell kicks sent, $bad bad accesses dropped" \
		"($(db_field DOORBELL-BAD neighbours "$f") neighbouring ones ignored), $good_send EVTCHNOP_send kicks;" \
		"ratio of round trips/s doorbell/send" \
		"$(awk -v a="$(db_field 'DOORBELL-RESULT doorbell ' rt_per_s "$f")" \
			-v b="$(db_field 'DOORBELL-RESULT send ' rt_per_s "$f")" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
	timeout 60 xl destroy db-on || { fail "xl destroy db-on"; return 1; }
}

# The doorbell left off (the default): the guest sees no doorbell, EVTCHNOP_send works, the
# doorbell's port is inert (reads all-ones, a write wakes nobody, as on an unpatched Xen), and the
# hypervisor counts nothing.
case_doorbell_off() {
	db_run db-off 0 || return 1
	f=/tmp/db.db-off.lines
	[ "$(db_field DOORBELL-CPUID doorbell "$f")" = 0 ] && [ "$(db_field DOORBELL-CPUID io "$f")" = 0x0 ] ||
		{ fail "CPUID advertises a doorbell that is off: $(grep ^DOORBELL-CPUID "$f")"; return 1; }
	grep -q '^DOORBELL-INERT ' "$f" || { fail "the guest did not check the port is inert"; return 1; }
	[ "$(db_field DOORBELL-COUNTS good_doorbell "$f")" = 0 ] &&
		[ "$(db_field DOORBELL-COUNTS good_send "$f")" -gt 0 ] ||
		{ fail "the guest's counts: $(grep ^DOORBELL-COUNTS "$f")"; return 1; }
	[ "$(db_counters "$DB_DOMID")" = "off 0 0" ] ||
		{ fail "with the doorbell off, the hypervisor shows '$(pvring-doorbell show "$DB_DOMID" 2>&1)'"; return 1; }
	db_alive db-off || return 1
	db_info db-off off
	timeout 60 xl destroy db-off || { fail "xl destroy db-off"; return 1; }
}

# Turning the doorbell on is refused for a PV guest; for a PVH guest it is once and for all: a
# second enable leaves it on, and a guest that has not run yet has counted nothing. (Setting the
# parameter to another value, which Xen refuses as set-once, is beyond pvring-doorbell's
# interface: it only ever writes 1.)
case_enable_refused() {
	GUEST_MEM=128 guest_config db-pv 1 ""
	timeout $((60 * SLOW)) xl create -p /etc/xen/db-pv.cfg >/tmp/xl.out 2>&1 ||
		{ fail "xl create -p db-pv: $(tail -n 3 /tmp/xl.out | tr '\n' ' ')"; return 1; }
	pv=$(xl domid db-pv)
	out=$(pvring-doorbell enable "$pv" 2>&1)
	rc=$?
	timeout 60 xl destroy db-pv
	[ $rc = 1 ] || { fail "pvring-doorbell enable on PV domain $pv exited $rc: $out"; return 1; }
	echo "$out" | grep -q PV || { fail "refused without saying the domain is PV: $out"; return 1; }

	db_config db-once
	timeout $((60 * SLOW)) xl create -p /etc/xen/db-once.cfg >/tmp/xl.out 2>&1 ||
		{ fail "xl create -p db-once: $(tail -n 3 /tmp/xl.out | tr '\n' ' ')"; return 1; }
	d=$(xl domid db-once)
	pvring-doorbell enable "$d" && pvring-doorbell enable "$d" ||
		{ timeout 60 xl destroy db-once; fail "enabling twice failed"; return 1; }
	got=$(pvring-doorbell show "$d" 2>&1)
	timeout 60 xl destroy db-once
	[ "$got" = "on sent 0 dropped 0" ] || { fail "after two enables: '$got'"; return 1; }
	out=$(pvring-doorbell enable "$d" 2>&1) && { fail "enable of a destroyed domain succeeded"; return 1; }
	echo "$out" | grep -q "no such domain" || { fail "a destroyed domain: $out"; return 1; }
}

e2e_case doorbell-round-trips case_round_trips
e2e_case doorbell-off case_doorbell_off
e2e_case doorbell-enable-refused case_enable_refused
# What a failed case left behind.
for d in $(xl list 2>/dev/null | awk '$1 ~ /^db-/ {print $1}'); do
	echo "E2E-INFO doorbell: destroying $d, left behind: $(xl list "$d" | tail -n 1)"
	timeout 60 xl destroy "$d"
done
