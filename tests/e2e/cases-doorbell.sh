# shellcheck shell=sh
# The doorbell suite, on Xen with pvring's patch (hypervisor-patch/): the bare PVH test guest and
# its dom0 partner measure event-channel round trips kicked with EVTCHNOP_send and with the
# port-I/O doorbell, then the guest makes every kind of bad doorbell access. Each case prints one
# E2E-RESULT line.
. /e2e/doorbell-lib.sh

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
