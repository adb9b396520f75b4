#!/usr/bin/env bash
# pvring-xl as an operator meets it before any domain exists: the xl configuration read by
# libxlutil (xl's own parser), every pvring_disk and pvring_pvblk_disk line checked with a
# reason, nothing created (or restored, or migrated) when pvringd is not there. Creating real
# domains with it, and migrating them between two real Xen hosts, is the e2e suite's (tests/e2e/).
set -u
bin=${BUILDDIR:-$(pwd)}
xlw=$bin/tools/pvring-xl
dir=$(mktemp -d /tmp/pvring-xl-XXXXXX)
trap 'rm -rf "$dir"' EXIT
failures=0

# shellcheck source=checks.sh
. "$(dirname "$0")/checks.sh"

cat >"$dir/web.cfg" <<'CFG'
name = "web"
type = "pv"
memory = 256
on_reboot = "destroy"
# kernel blkback's disk, and two of pvringd's (xl's keyword and positional forms)
disk = [ 'format=raw, vdev=xvdc, access=rw, backendtype=phy, target=/dev/loop0' ]
pvring_disk = [ 'format=raw, vdev=xvda, access=rw, target=/var/lib/pvring/images/web.img',
                "/var/lib/pvring/images/data.img,raw,xvdb,ro" ]
CFG

check "-n reads both forms of disk line" run 0 "$xlw" create -n "$dir/web.cfg"
check "  ... and prints what it would attach" \
	test "$out" = "web: xvda /var/lib/pvring/images/web.img (rw)
web: xvdb /var/lib/pvring/images/data.img (ro)"
check "KEY=VALUE after the file overrides it, as with xl" \
	run 0 "$xlw" create -n "$dir/web.cfg" 'pvring_disk = [ "vdev=xvde, target=/srv/x" ]'
check "  ... the overriding line is the one read" test "$out" = "web: xvde /srv/x (rw)"
check "RBD and NBD targets pass through as pvringd names them" \
	run 0 "$xlw" create -n "$dir/web.cfg" 'pvring_disk = [ "vdev=xvde, target=rbd:vms/web:id=xen",
	"vdev=xvdf, access=ro, target=nbd+unix:///data?socket=/run/nbd.sock" ]'
check "  ... unchanged" test "$out" = "web: xvde rbd:vms/web:id=xen (rw)
web: xvdf nbd+unix:///data?socket=/run/nbd.sock (ro)"
check "a configuration without pvring_disk has nothing to attach" \
	run 0 "$xlw" create -n "$dir/web.cfg" 'pvring_disk = [ ]'
check "  ... and says nothing" test -z "$out$err"

# refused SPEC REASON: that pvring_disk line is refused, exit 2, with the reason
refused() {
	run 2 "$xlw" create -n "$dir/web.cfg" "pvring_disk = [ \"$1\" ]" && has "$err" "$2"
}
check "another format is refused" refused "vdev=xvdd, format=qcow2, target=/x" \
	"format: pvringd serves raw images only"
check "a backendtype is refused" refused "vdev=xvdd, backendtype=phy, target=/x" \
	"backendtype: pvringd is the back end"
check "a hotplug script is refused" refused "vdev=xvdd, script=block, target=/x" \
	"script: pvringd opens the target itself"
check "a cdrom is refused" refused "vdev=xvdd, devtype=cdrom, target=/x" "devtype=cdrom"
check "a driver domain is refused" refused "vdev=xvdd, backend=dom1, target=/x" \
	"backend: pvringd serves from dom0"
check "no-discard is refused" refused "vdev=xvdd, no-discard, target=/x" "no-discard"
check "virtio is refused" refused "vdev=xvdd, specification=virtio, target=/x" \
	"specification=virtio"
check "a vdev that is not a Xen disk name is refused" refused "vdev=hda, target=/x" \
	"vdev hda is not a Xen disk name"
check "xl's syntax errors are libxlutil's, and named" refused "vdev=xvdd, bogus=1, target=/x" \
	"unknown parameter"
check "  ... with the line they are in" has "$err" "pvring_disk 'vdev=xvdd, bogus=1, target=/x'"
check "a line without a target is refused" refused "vdev=xvdd" "no target specified"
check "two pvring disks on one vdev are refused" \
	refused "vdev=xvdd, target=/x\", \"/y,raw,xvdd,rw" "are the same device"
check "a pvring disk on a disk line's vdev is refused" refused "vdev=xvdc, target=/x" \
	"and disk 'format=raw, vdev=xvdc"
check "pvring_disk that is not a list is refused" \
	run 2 "$xlw" create -n "$dir/web.cfg" 'pvring_disk = "vdev=xvda, target=/x"'
check "  ... saying so" has "$err" "pvring_disk must be a list"
check "a missing file is refused" run 2 "$xlw" create -n "$dir/none.cfg"
check "  ... with the reason" has "$err" "none.cfg: cannot read it: No such file or directory"
printf 'name = "x"\nmemory = = 3\n' >"$dir/bad.cfg"
check "a configuration xl cannot parse is refused" run 2 "$xlw" create -n "$dir/bad.cfg"
check "  ... with libxlutil's reason" has "$err" "syntax error"
check "  ... not errno's" lacks "$err" "Success"
check "-t 0 is refused" run 2 "$xlw" create -t 0 -n "$dir/web.cfg"
check "  ... saying so" has "$err" "-t 0: want 1..3600 seconds"
check "a configuration without a name is refused" run 2 "$xlw" create -n /dev/null
check "  ... with the reason" has "$err" "no name"
check "a bad KEY=VALUE is refused" run 2 "$xlw" create -n "$dir/web.cfg" 'novalue'
check "usage errors exit 2" run 2 "$xlw" frobnicate
check "--help exits 0" run 0 "$xlw" --help
check "  ... and names the key" has "$out" "pvring_disk"
check "  ... and the pvblk key" has "$out" "pvring_pvblk_disk"
check "  ... and migrate" has "$out" "pvring-xl migrate-finish [-p] [-n] [-s SOCKET] [-t SEC] CONFIG|-"

# Disks for pvring's own front end (device type pvblk) under a key of their own.
check "pvring_pvblk_disk lines are read" run 0 "$xlw" create -n "$dir/web.cfg" \
	'pvring_pvblk_disk = [ "vdev=xvde, target=/srv/p.img", "/srv/q.img,raw,xvdf,ro" ]'
check "  ... after the pvring_disk ones, each marked pvblk" test "$out" = "web: xvda /var/lib/pvring/images/web.img (rw)
web: xvdb /var/lib/pvring/images/data.img (ro)
web: xvde /srv/p.img (rw, pvblk)
web: xvdf /srv/q.img (ro, pvblk)"
check "a pvblk disk on a pvring_disk's vdev is refused" \
	run 2 "$xlw" create -n "$dir/web.cfg" 'pvring_pvblk_disk = [ "vdev=xvdb, target=/x" ]'
check "  ... naming both" has "$err" "pvring_disk '/var/lib/pvring/images/data.img,raw,xvdb,ro' and pvring_pvblk_disk 'vdev=xvdb, target=/x' are the same device"
check "a pvblk disk is checked as the others are" \
	run 2 "$xlw" create -n "$dir/web.cfg" 'pvring_pvblk_disk = [ "vdev=xvde, format=qcow2, target=/x" ]'
check "  ... with the reason and its key" has "$err" "pvring_pvblk_disk 'vdev=xvde, format=qcow2, target=/x': format"
check "pvring_pvblk_disk that is not a list is refused" \
	run 2 "$xlw" create -n "$dir/web.cfg" 'pvring_pvblk_disk = "vdev=xvde, target=/x"'
check "  ... saying so" has "$err" "pvring_pvblk_disk must be a list"

# pvring_doorbell: 0 or 1, said in the dry run; anything else refused with the reason.
check "pvring_doorbell = 1 is read" run 0 "$xlw" create -n "$dir/web.cfg" 'pvring_doorbell = 1'
check "  ... and the dry run says so" has "$out" "doorbell on"
check "pvring_doorbell = 0 turns nothing on" run 0 "$xlw" create -n "$dir/web.cfg" 'pvring_doorbell = 0'
check "  ... and says nothing of it" lacks "$out" "doorbell"
check "pvring_doorbell = 2 is refused" run 2 "$xlw" create -n "$dir/web.cfg" 'pvring_doorbell = 2'
check "  ... saying what it takes" has "$err" "pvring_doorbell must be 0 or 1"

# restore: the configuration and the save file, nothing else.
check "restore -n reads the configuration" run 0 "$xlw" restore -n "$dir/web.cfg" "$dir/web.save"
check "  ... and prints what it would attach" test "$out" = "web: xvda /var/lib/pvring/images/web.img (rw)
web: xvdb /var/lib/pvring/images/data.img (ro)"
check "restore without a save file is refused" run 2 "$xlw" restore -n "$dir/web.cfg"
check "  ... saying what it wants" has "$err" "restore: want CONFIG SAVEFILE"
check "restore takes no KEY=VALUE lines" run 2 "$xlw" restore -n "$dir/web.cfg" "$dir/web.save" 'memory = 3'
check "restore takes no -q (xl restore has none)" run 2 "$xlw" restore -q "$dir/web.cfg" "$dir/web.save"
check "  ... saying so" has "$err" "xl restore takes no -q"
check "no pvringd: restore exits 3 before xl runs" \
	run 3 env PATH=/nonexistent "$xlw" restore -s "$dir/no.sock" "$dir/web.cfg" "$dir/web.save"
check "  ... and xl never ran" lacks "$err" "cannot run xl"

# Without pvringd nothing is created: xl is never run (it is not even on PATH here).
check "no pvringd: exit 3 before any domain exists" \
	run 3 env PATH=/nonexistent "$xlw" create -s "$dir/no.sock" "$dir/web.cfg"
check "  ... saying why" has "$err" "no socket at $dir/no.sock"
check "  ... and xl never ran" lacks "$err" "cannot run xl"

# migrate and migrate-finish: usage, and nothing done (least of all destroyed) without pvringd.
check "migrate -n reads the configuration" run 0 "$xlw" migrate -n "$dir/web.cfg" host1
check "  ... and prints its disks" test "$out" = "web: xvda /var/lib/pvring/images/web.img (rw)
web: xvdb /var/lib/pvring/images/data.img (ro)"
check "migrate without a host is refused" run 2 "$xlw" migrate -n "$dir/web.cfg"
check "  ... saying what it wants" has "$err" "migrate: want CONFIG HOST"
check "migrate with an empty -S is refused" run 2 "$xlw" migrate -n -S '' "$dir/web.cfg" host1
check "  ... with the reason" has "$err" "-S '': an empty command cannot reach host1"
check "migrate to a host that ssh would take for an option is refused" \
	run 2 "$xlw" migrate -n -- "$dir/web.cfg" -oProxyCommand=x
check "a host of letters that ssh would take for an option is refused" \
	run 2 "$xlw" migrate -n -- "$dir/web.cfg" -lroot
check "  ... saying why" has "$err" "'-lroot' is not a host name: ssh would take it for an option"
# xl puts HOST unquoted into a command line for sh -c: what sh would split or expand is refused.
for host in 'host1;reboot' 'host1 -oProxyCommand=x' '$(reboot)' 'host1|x' "host1'" ''; do
	check "migrate to '$host' is refused" run 2 "$xlw" migrate -n "$dir/web.cfg" "$host"
	check "  ... saying why" has "$err" "is not a host name: xl hands it to sh unquoted"
done
for host in root@host-1.example.com 192.0.2.7 '[fe80::1%eth0]' host_2:; do
	check "migrate to $host is taken" run 0 "$xlw" migrate -n "$dir/web.cfg" "$host"
done
check "migrate checks the configuration as create does" \
	run 2 "$xlw" migrate -n "$dir/bad.cfg" host1
check "  ... with libxlutil's reason" has "$err" "syntax error"
check "migrate takes no -p (the domain is unpaused on the host, or left paused there)" \
	run 2 "$xlw" migrate -p -n "$dir/web.cfg" host1
check "migrate-finish without a configuration is refused" run 2 "$xlw" migrate-finish -n
check "  ... saying what it wants" has "$err" "migrate-finish: want CONFIG, or - for standard input"
check "migrate-finish - reads the configuration from standard input" \
	run 0 "$xlw" migrate-finish -n - <"$dir/web.cfg"
check "  ... all of it" test "$out" = "web: xvda /var/lib/pvring/images/web.img (rw)
web: xvdb /var/lib/pvring/images/data.img (ro)"
check "  ... and names it so in messages" run 2 "$xlw" migrate-finish -n - <"$dir/bad.cfg"
check "  ... (standard input)" has "$err" "(standard input): not a configuration xl reads"
check "no pvringd: migrate exits 3 before xl runs" \
	run 3 env PATH=/nonexistent "$xlw" migrate -s "$dir/no.sock" "$dir/web.cfg" host1
check "  ... saying why" has "$err" "no socket at $dir/no.sock"
check "  ... and xl never ran" lacks "$err" "cannot run xl"
check "no pvringd: migrate-finish - exits 3" \
	run 3 env PATH=/nonexistent "$xlw" migrate-finish -s "$dir/no.sock" - <"$dir/web.cfg"
check "  ... saying why" has "$err" "no socket at $dir/no.sock"
check "  ... and that the domain is left paused" has "$err" "web is left paused, not destroyed"
check "  ... destroying nothing" lacks "$err" "destroying"
check "  ... and xl never ran" lacks "$err" "cannot run xl"


if [ "$failures" -ne 0 ]; then
	checks_failed
	exit 1
fi
echo "PASS: pvring-xl reads and checks xl configurations"
