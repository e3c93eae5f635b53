#!/bin/sh
# dist/systemd/iscsi-vscsi.service: systemd-analyze verify accepts it
# without a warning, and it is ordered so that file systems on the exported
# disks (_netdev mounts, ordered after remote-fs-pre.target) are mounted
# after serve starts and unmounted before it stops; systemd's SIGTERM goes
# to serve's privileged parent only (KillMode=mixed), which passes it on.
# Usage: test_systemd_unit.sh UNIT_TEMPLATE PROGRAM
set -eu
template=$1
program=$2
command -v systemd-analyze >/dev/null 2>&1 || { echo "no systemd-analyze: skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unit=$work/iscsi-vscsi.service
sed "s|@SBINDIR@/iscsi-vscsi|$program|" "$template" >"$unit"

out=$(systemd-analyze verify --man=no "$unit" 2>&1) || { echo "verify failed: $out"; exit 1; }
if [ -n "$out" ]; then
	echo "systemd-analyze verify warns: $out"
	exit 1
fi
fail=0
for line in 'Wants=network-online.target remote-fs-pre.target' \
	'Before=remote-fs-pre.target remote-fs.target' \
	'After=network-online.target' \
	'KillMode=mixed'; do
	grep -qx "$line" "$unit" || { echo "missing: $line"; fail=1; }
done
exit $fail
