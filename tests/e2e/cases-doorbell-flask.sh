# shellcheck shell=sh
# The doorbell under XSM/FLASK: the patched hypervisor built with FLASK (hypervisor-patch/build.sh
# --flask), booted enforcing with Xen's stock policy plus tests/e2e/flask/pvring_doorbell_test.te
# as a multiboot module. The test guest runs as pvring_doorbell_test_t, whose event sends to dom0
# the boolean pvring_doorbell_send allows. With it off, XSM must refuse the doorbell exactly as it
# refuses EVTCHNOP_send: nothing delivered, every refused doorbell write counted as dropped.
. /e2e/doorbell-lib.sh

DB_XSM_KICKS=16
DB_XSM_BOOL=pvring_doorbell_send

case_xsm_refused() {
	enforcing=$(xl getenforce 2>&1)
	[ "$enforcing" = Enforcing ] || { fail "FLASK is not enforcing: xl getenforce says '$enforcing'"; return 1; }
	[ "$(flask-get-bool "$DB_XSM_BOOL" 2>&1)" = "$DB_XSM_BOOL: 1" ] ||
		{ fail "the test policy is not loaded: $(flask-get-bool "$DB_XSM_BOOL" 2>&1)"; return 1; }
	DB_CMDLINE="n=50 rounds=1 xsm=$DB_XSM_KICKS" \
		DB_EXTRA_CFG='seclabel = "system_u:system_r:pvring_doorbell_test_t"' \
		DB_PARTNER_ARGS="-x $DB_XSM_BOOL" db_run db-xsm 1 || return 1
	f=/tmp/db.db-xsm.lines
	label=$(xl list -Z db-xsm | awk 'NR == 2 {print $NF}')
	[ "$label" = system_u:system_r:pvring_doorbell_test_t ] ||
		{ fail "the guest runs as '$label'"; return 1; }
	line=$(grep '^DOORBELL-XSM ' "$f")
	[ "$(db_field DOORBELL-XSM send_refused "$f")" = $DB_XSM_KICKS ] &&
		[ "$(db_field DOORBELL-XSM send_other "$f")" = 0 ] &&
		[ "$(db_field DOORBELL-XSM doorbell_writes "$f")" = $DB_XSM_KICKS ] &&
		[ "$(db_field DOORBELL-XSM events_while_off "$f")" = 0 ] ||
		{ fail "the guest, with its sends off: '$line'"; return 1; }
	p=/tmp/db.db-xsm.partner
	[ "$(db_field PARTNER xsm_events "$p")" = 0 ] && [ "$(db_field PARTNER xsm_sent "$p")" = 0 ] &&
		[ "$(db_field PARTNER xsm_dropped "$p")" = $DB_XSM_KICKS ] ||
		{ fail "the partner, while the guest's sends were off: $(cat "$p")"; return 1; }
	# The refusals are XSM's: the AVC logged them for this domain, for both kinds of kick.
	denials=$(xl dmesg | grep -c "avc:  denied  { send } for current=d$DB_DOMID ")
	[ "$denials" -ge $((2 * DB_XSM_KICKS)) ] ||
		{ fail "the AVC logged $denials denied sends for domain $DB_DOMID, not $((2 * DB_XSM_KICKS))"; return 1; }
	# Whole-run counts: the good doorbell kicks (the round trips and the one after the boolean
	# came back) as sent; the bad accesses and the refused writes as dropped.
	good_db=$(db_field DOORBELL-COUNTS good_doorbell "$f")
	bad=$(db_field DOORBELL-COUNTS bad "$f")
	[ "$(db_counters "$DB_DOMID")" = "on $good_db $((bad + DB_XSM_KICKS))" ] ||
		{ fail "the hypervisor counts '$(pvring-doorbell show "$DB_DOMID" 2>&1)'; the guest made $good_db good doorbell kicks, $bad bad accesses and $DB_XSM_KICKS refused writes"; return 1; }
	[ "$(flask-get-bool "$DB_XSM_BOOL" 2>&1)" = "$DB_XSM_BOOL: 1" ] ||
		{ fail "the boolean was not put back: $(flask-get-bool "$DB_XSM_BOOL" 2>&1)"; return 1; }
	db_alive db-xsm || return 1
	echo "E2E-INFO doorbell flask: $DB_XSM_KICKS EVTCHNOP_send calls refused with -EACCES and" \
		"$DB_XSM_KICKS doorbell writes dropped while $DB_XSM_BOOL was 0; $denials AVC denials logged;" \
		"$good_db doorbell kicks sent under FLASK with it on"
	timeout 60 xl destroy db-xsm || { fail "xl destroy db-xsm"; return 1; }
}

e2e_case doorbell-xsm-refused case_xsm_refused
# What a failed case left behind, and the boolean back on.
flask-set-bool "$DB_XSM_BOOL" 1 >/dev/null 2>&1
for d in $(xl list 2>/dev/null | awk '$1 ~ /^db-/ {print $1}'); do
	echo "E2E-INFO doorbell flask: destroying $d, left behind: $(xl list "$d" | tail -n 1)"
	timeout 60 xl destroy "$d"
done
