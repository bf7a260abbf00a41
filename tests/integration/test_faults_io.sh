#!/usr/bin/env bash
# Faults below kukeond: a CNI plugin that hangs (killed after --cni-timeout, the cell retried), one that
# fails (its message in the status), then works again → the cell converges with one address; a full disk
# while statuses are written → the old status file stays byte for byte, no temp file is left, kukeond
# keeps running, and once space is freed every status catches up.
#   test_faults_io.sh <kuke> <kukeond> <fixtures-dir>
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

# the run path on a small tmpfs of its own, so that it can be filled
mount -t tmpfs -o size=16m,mode=0755 kuke-test-run "$KD_RUN"
kd_before_rm() { umount -l "$KD_RUN"; }

# a bridge plugin in front of the real one: $KD_DIR/cni-mode says hang, fail, or (absent) work
mkdir -p "$KD_DIR/cni-bin"
cat >"$KD_DIR/cni-bin/bridge" <<SH
#!/bin/sh
case "\$(cat "$KD_DIR/cni-mode" 2>/dev/null)" in
hang) exec sleep 617 ;;
fail) echo '{"cniVersion":"1.0.0","code":11,"msg":"injected failure"}'; exit 1 ;;
esac
for d in /usr/lib/cni /opt/cni/bin; do [ -x "\$d/bridge" ] && exec "\$d/bridge"; done
exit 1
SH
chmod 755 "$KD_DIR/cni-bin/bridge"
export KUKEOND_CNI_BIN_DIR=$KD_DIR/cni-bin:/usr/lib/cni:/opt/cni/bin

realm=kio$$
ns=kukeon-$realm
image=127.0.0.1:9/kukeon/busybox:test
kctr() { ctr -a "$CTRD_ADDRESS" -n "$ns" "$@"; }
task_pid() { kctr tasks ls 2>/dev/null | awk -v id="$1" '$1 == id && $3 == "RUNNING" {print $2}'; }
cell_dir=$KD_RUN/$realm/s/t/c1
st=$cell_dir/cell.status.yaml

kd_start --cni-timeout 2s

echo "== realm, image, space, stack"
kd_apply_base "$realm" "$image"
kd_wait_state "$KD_RUN/$realm/images/busybox.status.yaml" Ready 60

echo "== a CNI plugin that hangs: killed after --cni-timeout, the cell says so, kukeond goes on"
echo hang >"$KD_DIR/cni-mode"
mkdir -p "$cell_dir"
cat >"$cell_dir/.cell.yaml.tmp" <<YAML
apiVersion: v1beta1
kind: Cell
metadata:
  name: c1
spec:
  stopGracePeriodSeconds: 1
  containers:
    - id: main
      image: $image
      command: sleep
      args: ["3600"]
      restartPolicy: always
      restartBackoffSeconds: 0
YAML
mv "$cell_dir/.cell.yaml.tmp" "$cell_dir/cell.yaml"
kd_wait_state "$st" Failed 30
grep -q 'message: .*bridge.*2000 ms' "$st" || grep -q 'message: .*bridge.*timed out' "$st" ||
        kd_fail "the status does not say the plugin timed out: $(grep message: "$st")"
sleep 0.5
pgrep -f "sleep 617" >/dev/null && kd_fail "the hung plugin was not killed"
kill -0 "$KD_PID" || kd_fail "kukeond died"

echo "== a CNI plugin that fails: its message in the status"
echo fail >"$KD_DIR/cni-mode"
for ((i = 0; i < 300; i++)); do
        grep -q 'injected failure' "$st" 2>/dev/null && break
        sleep 0.1
done
grep -q 'injected failure' "$st" || kd_fail "the plugin's message is not in the status: $(grep message: "$st")"

echo "== the plugin works again: the cell converges with one address"
rm -f "$KD_DIR/cni-mode"
kd_wait_state "$st" Ready 60
[ -n "$(task_pid s_t_c1_root)" ] || kd_fail "the container does not run"
net=$realm-s
n_ips=$(find "/var/lib/cni/networks/$net" -maxdepth 1 -name '10.*' | wc -l)
[ "$n_ips" = 1 ] || kd_fail "host-local holds $n_ips addresses for one cell"

echo "== a full disk while statuses are written: the old file stays, kukeond goes on"
cp "$st" "$KD_DIR/status.before"
mkdir -p "$KD_RUN/$realm/s/t2"
printf 'apiVersion: v1beta1\nkind: Stack\nmetadata:\n  name: t2\n' >"$KD_RUN/$realm/s/t2/.stack.yaml.tmp"
dd if=/dev/zero of="$KD_RUN/.fill" bs=64k 2>/dev/null || true
mv "$KD_RUN/$realm/s/t2/.stack.yaml.tmp" "$KD_RUN/$realm/s/t2/stack.yaml"
pid=$(task_pid s_t_c1_root)
kctr tasks kill -s SIGKILL s_t_c1_root
for ((i = 0; i < 200; i++)); do
        new=$(task_pid s_t_c1_root)
        [ -n "$new" ] && [ "$new" != "$pid" ] && break
        sleep 0.1
done
[ -n "$new" ] && [ "$new" != "$pid" ] || kd_fail "the killed task was not restarted (the disk being full must not stop that)"
sleep 1
cmp -s "$st" "$KD_DIR/status.before" || kd_fail "the status changed although the disk is full"
[ ! -e "$KD_RUN/$realm/s/t2/stack.status.yaml" ] || kd_fail "a status was written on a full disk?"
left=$(find "$KD_RUN" -name '.*.tmp.*')
[ -z "$left" ] || kd_fail "temp files left behind: $left"
grep >/dev/null "No space left on device" "$KD_LOG" || kd_fail "kukeond did not say why the status was not written"
kill -0 "$KD_PID" || kd_fail "kukeond died"

echo "== space freed: every status catches up"
rm -f "$KD_RUN/.fill"
kd_wait_state "$KD_RUN/$realm/s/t2/stack.status.yaml" Ready 20
for ((i = 0; i < 100; i++)); do
        grep -q '^    restartCount: 1$' "$st" && break
        sleep 0.1
done
grep -q '^    restartCount: 1$' "$st" || kd_fail "the cell status did not catch up: $(cat "$st")"

echo "== cleanup through the daemon"
"$kuke" delete realm "$realm" --cascade --timeout 90s >/dev/null || kd_fail "kuke delete --cascade failed"
kd_stop || kd_fail "kukeond exited with $?"
echo "PASS"
