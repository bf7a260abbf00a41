#!/usr/bin/env bash
# What no manifest may reach: another realm's images and containers (asserted through containerd), and
# anything outside the run path — a symlink to /etc at every level of the tree, a manifest that is a
# symlink or a hard link to a file outside, a status file swapped for a symlink, a cell's logs/ swapped
# for a symlink (the shim opens log files as root). And what kukeond writes is never world-writable.
#   test_security.sh <kuke> <kukeond> <fixtures-dir>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kuke=${1:?usage: $0 <kuke> <kukeond> <fixtures-dir>}
kukeond=${2:?usage: $0 <kuke> <kukeond> <fixtures-dir>}

# shellcheck source=lib/containerd.sh
. "$here/lib/containerd.sh"
# shellcheck source=lib/daemon.sh
. "$here/lib/daemon.sh"
# shellcheck source=lib/image.sh
. "$here/lib/image.sh"
kd_setup "$kuke" "$kukeond"
kt_build_busybox_image "$KD_DIR/image" || exit $?

ra=ksa$$
rb=ksb$$
# a loopback registry port nothing listens on: a pull fails at once and nothing leaves the host
image=127.0.0.1:9/kukeon/busybox:test
kctr() { # kctr REALM ARGS...
        local ns=kukeon-$1
        shift
        ctr -a "$CTRD_ADDRESS" -n "$ns" "$@"
}
task_pid() { kctr "$1" tasks ls 2>/dev/null | awk -v id="$2" '$1 == id && $3 == "RUNNING" {print $2}'; }
cell_yaml() { # cell_yaml NAME
        cat <<YAML
apiVersion: v1beta1
kind: Cell
metadata:
  name: $1
spec:
  stopGracePeriodSeconds: 1
  containers:
    - id: main
      image: $image
      command: sleep
      args: ["3600"]
YAML
}
drop_cell() { # drop_cell DIR NAME: the manifest appears in one rename
        mkdir -p "$1"
        cell_yaml "$2" >"$1/.cell.yaml.tmp"
        mv "$1/.cell.yaml.tmp" "$1/cell.yaml"
}

kd_start

echo "== two realms; the image only in the second"
kd_apply_base "$ra"
kd_apply_base "$rb" "$image"
kd_wait_state "$KD_RUN/$rb/images/busybox.status.yaml" Ready 60

echo "== realm isolation, through containerd"
drop_cell "$KD_RUN/$rb/s/t/app" app
kd_wait_state "$KD_RUN/$rb/s/t/app/cell.status.yaml" Ready 60
app_pid=$(task_pid "$rb" s_t_app_root)
[ -n "$app_pid" ] || kd_fail "the second realm's cell does not run"
drop_cell "$KD_RUN/$ra/s/t/app" app
kd_wait_state "$KD_RUN/$ra/s/t/app/cell.status.yaml" Failed 30
grep -q '^  reason: ImageEnsureFailed$' "$KD_RUN/$ra/s/t/app/cell.status.yaml" ||
        kd_fail "the first realm's cell used an image it does not have"
kctr "$rb" images ls -q | grep >/dev/null -x "$image" || kd_fail "the image is not in the second realm's namespace"
kctr "$ra" images ls -q | grep >/dev/null -x "$image" && kd_fail "the image leaked into the first realm's namespace"
kctr "$rb" containers ls -q | grep >/dev/null -x s_t_app_root || kd_fail "no container in the second realm"
kctr "$ra" containers ls -q | grep >/dev/null . && kd_fail "the first realm sees containers: $(kctr "$ra" containers ls -q)"
kctr "$ra" tasks ls -q | grep >/dev/null . && kd_fail "the first realm sees tasks"
kctr "$ra" snapshots ls | grep >/dev/null s_t_app && kd_fail "the first realm sees the second's snapshots"
# inside the container: neither containerd's socket nor the host's run path
[ ! -e "/proc/$app_pid/root$CTRD_ADDRESS" ] || kd_fail "the container sees containerd's socket"
[ ! -e "/proc/$app_pid/root$KD_RUN" ] || kd_fail "the container sees the run path"

echo "== a symlink to /etc at every level; symlinked and hard-linked manifests"
ls -A /etc | sort >"$KD_DIR/etc.before"
mkdir -p "$KD_DIR/canary-logs"
printf 'canary\n' >"$KD_DIR/canary"
printf 'canary\n' >"$KD_DIR/outside.yaml"
ln -s /etc "$KD_RUN/evilrealm"
ln -s /etc "$KD_RUN/$ra/evilspace"
ln -s /etc "$KD_RUN/$ra/s/evilstack"
ln -s /etc "$KD_RUN/$ra/s/t/evilcell"
mkdir -p "$KD_RUN/$ra/s/t/linkcell" "$KD_RUN/$ra/s/t/hardcell"
ln -s /etc/hostname "$KD_RUN/$ra/s/t/linkcell/cell.yaml"
cell_yaml hardcell >"$KD_DIR/outside.yaml"
ln "$KD_DIR/outside.yaml" "$KD_RUN/$ra/s/t/hardcell/cell.yaml"
# a cell whose logs/ was put there as a symlink before the cell came
mkdir -p "$KD_RUN/$rb/s/t/logcell"
ln -s "$KD_DIR/canary-logs" "$KD_RUN/$rb/s/t/logcell/logs"
drop_cell "$KD_RUN/$rb/s/t/logcell" logcell

kd_wait_state "$KD_RUN/$ra/s/t/linkcell/cell.status.yaml" Failed 30
grep -q 'a symlink in the run path is not followed' "$KD_RUN/$ra/s/t/linkcell/cell.status.yaml" ||
        kd_fail "the symlinked manifest is not refused as such"
kd_wait_state "$KD_RUN/$ra/s/t/hardcell/cell.status.yaml" Failed 30
grep -q 'other hard links' "$KD_RUN/$ra/s/t/hardcell/cell.status.yaml" || kd_fail "the hard link is not refused as such"
kd_wait_state "$KD_RUN/$rb/s/t/logcell/cell.status.yaml" Failed 60
grep -q 'log file of main: a symlink' "$KD_RUN/$rb/s/t/logcell/cell.status.yaml" ||
        kd_fail "the symlinked logs/ is not refused as such"
[ -z "$(ls -A "$KD_DIR/canary-logs")" ] || kd_fail "a log file was made through the symlink"

echo "== a status file swapped for a symlink is replaced, not written through"
st=$KD_RUN/$rb/s/t/app/cell.status.yaml
ln -s "$KD_DIR/canary" "$KD_RUN/$rb/s/t/app/.swap"
mv -T "$KD_RUN/$rb/s/t/app/.swap" "$st"
kill -HUP "$KD_PID" # a full resync: a status that cannot be read safely is written again
for ((i = 0; i < 100; i++)); do
        [ ! -L "$st" ] && grep -q '^  state: Ready$' "$st" && break
        sleep 0.1
done
[ ! -L "$st" ] || kd_fail "the status symlink is still there"
[ "$(cat "$KD_DIR/canary")" = canary ] || kd_fail "the status was written through the symlink"
[ "$(task_pid "$rb" s_t_app_root)" = "$app_pid" ] || kd_fail "the running cell was disturbed"

ls -A /etc | sort >"$KD_DIR/etc.after"
diff "$KD_DIR/etc.before" "$KD_DIR/etc.after" >&2 || kd_fail "something appeared in or vanished from /etc"
[ "$(cat "$KD_DIR/outside.yaml" | head -1)" = "apiVersion: v1beta1" ] || kd_fail "the hard-linked file changed"
kill -0 "$KD_PID" || kd_fail "kukeond died"

echo "== what kukeond writes is never world-writable"
ww=$(find "$KD_RUN" ! -type l -perm -0002)
[ -z "$ww" ] || kd_fail "world-writable: $ww"
bad=$(find "$KD_RUN" -name '*.status.yaml' ! -type l ! -perm 0644)
[ -z "$bad" ] || kd_fail "status files not 0644: $bad"
[ "$(stat -c %a "$KD_RUN/$rb/s/t/app/logs")" = 750 ] || kd_fail "logs/ is not 0750"
[ "$(stat -c %a "$KD_RUN/$rb/s/t/app/logs/main.log")" = 640 ] || kd_fail "the log file is not 0640"

echo "== cleanup through the daemon"
rm -f "$KD_RUN/evilrealm" "$KD_RUN/$ra/evilspace" "$KD_RUN/$ra/s/evilstack" "$KD_RUN/$ra/s/t/evilcell"
for r in "$ra" "$rb"; do
        "$kuke" delete realm "$r" --cascade --timeout 90s >/dev/null || kd_fail "kuke delete --cascade $r failed"
done
kd_stop || kd_fail "kukeond exited with $?"
echo "PASS"
