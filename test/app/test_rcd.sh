#!/bin/sh
# dist/rc.d/iscsi_vscsi against a stand-in for OpenBSD's rc.subr(8) that
# records what the script hands it: serve in daemon=, no daemon_flags (an
# admin's iscsi_vscsi_flags replace them), rc.subr's own rc_check (pgrep,
# which cannot block) and rc_reload (SIGHUP), rc_stop=NO as iscsid's, and a
# configtest running `serve -n` with the admin's flags.
# Usage: test_rcd.sh RC_D_TEMPLATE
set -eu
template=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sed -e 's|@SBINDIR@|/usr/local/sbin|' -e "s|/etc/rc.d/rc.subr|$work/rc.subr|" "$template" >"$work/iscsi_vscsi"
cat >"$work/rc.subr" <<'SUBR'
daemon_flags=
rc_exec() { echo "rc_exec: $*"; }
rc_check() { echo "default rc_check"; }
rc_reload() { echo "default rc_reload"; }
rc_cmd() {
	daemon_flags="-f /etc/iscsi.conf"   # what rc.subr takes from iscsi_vscsi_flags
	echo "daemon=$daemon"
	echo "rc_bg=${rc_bg:-} rc_stop=${rc_stop:-} rc_reload=${rc_reload:-}"
	rc_check
	rc_reload
	rc_configtest
}
SUBR

out=$(sh "$work/iscsi_vscsi" start)
expected='daemon=/usr/local/sbin/iscsi-vscsi serve
rc_bg=YES rc_stop=NO rc_reload=
default rc_check
default rc_reload
rc_exec: /usr/local/sbin/iscsi-vscsi serve -n -f /etc/iscsi.conf'
if [ "$out" != "$expected" ]; then
	printf 'rc.d script: got\n%s\n--- expected\n%s\n' "$out" "$expected" >&2
	exit 1
fi
grep -q '^daemon_flags=' "$work/iscsi_vscsi" && { echo "rc.d script sets daemon_flags" >&2; exit 1; }
echo "rc.d script: ok"
