#!/usr/bin/env bash
# systemd-analyze verify of contrib/systemd/kukeond.service. verify checks that the executables exist,
# so ExecStart points at the built kukeond; containerd.service is a stub, so the result does not depend
# on containerd being installed. No running systemd is needed. Exit 77 (skipped) without systemd-analyze
# (Debian: package systemd).
#   systemd_verify.sh KUKEOND UNIT_FILE
set -euo pipefail
kukeond=$(realpath "$1")
unit=$(realpath "$2")
command -v systemd-analyze >/dev/null || {
        echo "SKIP: systemd-analyze is not installed (apt-get install systemd)"
        exit 77
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
        echo "FAIL: $*" >&2
        exit 1
}

mkdir "$tmp/units"
printf '[Unit]\nDescription=containerd (stub)\n\n[Service]\nExecStart=/bin/true\n' >"$tmp/units/containerd.service"
# every ExecStart= that runs kukeond runs the one just built ("-", "@", "+", "!" prefixes kept)
sed -E "s#^(ExecStart=[-@+!]*)[^ ]*/kukeond( |\$)#\\1$kukeond\\2#" "$unit" >"$tmp/kukeond.service"
grep -q "^ExecStart=[-@+!]*$kukeond" "$tmp/kukeond.service" || fail "no ExecStart= runs kukeond in $unit"

# the stub directory first, then systemd's own (for the targets every service depends on)
rc=0
out=$(SYSTEMD_UNIT_PATH="$tmp/units:" systemd-analyze verify --man=no "$tmp/kukeond.service" 2>&1) || rc=$?
[[ -z $out ]] || printf '%s\n' "$out"
[[ $rc == 0 ]] || fail "systemd-analyze verify exited $rc"
if grep -q "kukeond" <<<"$out"; then
        fail "systemd-analyze verify complained about the unit"
fi
echo "systemd_verify: 1 passed, 0 failed"
