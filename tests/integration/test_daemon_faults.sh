#!/usr/bin/env bash
# kukeond under faults, with real containerd, runc, CNI and cgroups: SIGKILLed in the middle of
# creating ten cells and started again (everything converges, nothing is duplicated, nothing leaks);
# containerd restarted under running cells (kukeond reconnects, nothing is restarted); cells removed
# while kukeond is down are collected; bad input next to good.
#   test_daemon_faults.sh <kuke> <kukeond> <fixtures-dir>
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

realm=kf$$
ns=kukeon-$realm
image=docker.io/kukeon/busybox:test
kctr() { ctr -a "$CTRD_ADDRESS" -n "$ns" "$@"; }
running_tasks() { kctr tasks ls 2>/dev/null | awk '$3 == "RUNNING" {print $1, $2}' | sort; }
cell_yaml() {
        cat <<YAML
apiVersion: v1beta1
kind: Cell
metadata:
  name: $1
spec:
  containers:
    - id: main
      image: $image
      command: sleep
      args: ["100000"]
    - id: side
      image: $image
      command: sleep
      args: ["100000"]
YAML
}

kd_start
kd_apply_base "$realm" "$image"

echo "== SIGKILL in the middle of creating ten cells, then a restart converges"
for i in $(seq 1 10); do
        mkdir -p "$KD_RUN/$realm/s/t/c$i"
        cell_yaml "c$i" >"$KD_RUN/$realm/s/t/c$i/.cell.yaml.tmp"
        mv "$KD_RUN/$realm/s/t/c$i/.cell.yaml.tmp" "$KD_RUN/$realm/s/t/c$i/cell.yaml"
done
for ((i = 0; i < 100; i++)); do
        [ "$(running_tasks | wc -l)" -ge 3 ] && break
        sleep 0.05
done
kill -KILL "$KD_PID"
wait "$KD_PID" 2>/dev/null || true
KD_PID=
echo "killed with $(running_tasks | wc -l) of 20 tasks running"
kd_start
for i in $(seq 1 10); do kd_wait_state "$KD_RUN/$realm/s/t/c$i/cell.status.yaml" Ready 90; done
[ "$(running_tasks | wc -l)" = 20 ] || kd_fail "expected 20 running tasks: $(running_tasks)"
[ "$(kctr containers ls -q | wc -l)" = 20 ] || kd_fail "expected 20 containers: $(kctr containers ls -q)"
[ "$(ls "$KD_NETNS" | wc -l)" = 10 ] || kd_fail "expected 10 pinned netns: $(ls "$KD_NETNS")"
ips=$(grep -h '^  ip: ' "$KD_RUN/$realm"/s/t/c*/cell.status.yaml | sort | uniq | wc -l)
[ "$ips" = 10 ] || kd_fail "the cells do not have ten distinct addresses"
net=$(sed -n 's/^  network: //p' "$KD_RUN/$realm/s/space.status.yaml")
reserved=$(find "/var/lib/cni/networks/$net" -name '10.*' | wc -l)
[ "$reserved" = 10 ] || kd_fail "host-local holds $reserved addresses for ten cells"

echo "== restarted again under running cells: no task restarted"
before=$(running_tasks)
kd_stop || kd_fail "kukeond did not exit 0"
kd_start
sleep 3
for i in $(seq 1 10); do kd_wait_state "$KD_RUN/$realm/s/t/c$i/cell.status.yaml" Ready 30; done
[ "$(running_tasks)" = "$before" ] || kd_fail "tasks changed across a kukeond restart"

echo "== containerd restarted under running cells: reconnect, nothing restarted"
ctrd_restart
for ((i = 0; i < 100; i++)); do
        grep -q "Connected to containerd.*resyncing" <(tail -n 20 "$KD_LOG") && break
        sleep 0.1
done
sleep 3
[ "$(running_tasks)" = "$before" ] || kd_fail "tasks changed across a containerd restart: $(running_tasks)"
kill -0 "$KD_PID" || kd_fail "kukeond exited"

echo "== drift: a task killed behind kukeond's back, a container deleted"
cat >"$KD_RUN/$realm/s/t/c1/.cell.yaml.tmp" <<YAML
apiVersion: v1beta1
kind: Cell
metadata:
  name: c1
spec:
  containers:
    - id: main
      image: $image
      command: sleep
      args: ["100000"]
    - id: side
      image: $image
      command: sleep
      args: ["100000"]
      restartPolicy: always
      restartBackoffSeconds: 0
YAML
mv "$KD_RUN/$realm/s/t/c1/.cell.yaml.tmp" "$KD_RUN/$realm/s/t/c1/cell.yaml"
for ((i = 0; i < 200; i++)); do
        kctr containers info s_t_c1_side 2>/dev/null | grep >/dev/null '"restartPolicy\|kukeon.io/spec-digest' && break
        sleep 0.1
done
kd_wait_state "$KD_RUN/$realm/s/t/c1/cell.status.yaml" Ready 60
old=$(running_tasks | awk '$1 == "s_t_c1_side" {print $2}')
kctr tasks kill -s SIGKILL s_t_c1_side
for ((i = 0; i < 100; i++)); do
        new=$(running_tasks | awk '$1 == "s_t_c1_side" {print $2}')
        [ -n "$new" ] && [ "$new" != "$old" ] && break
        sleep 0.1
done
[ -n "$new" ] && [ "$new" != "$old" ] || kd_fail "the killed task was not restarted (policy always)"
kctr tasks kill -s SIGKILL s_t_c2_side
kctr tasks delete s_t_c2_side >/dev/null 2>&1 || sleep 1
kctr tasks delete s_t_c2_side >/dev/null 2>&1 || true
kctr containers delete s_t_c2_side
kd_wait_state "$KD_RUN/$realm/s/t/c2/cell.status.yaml" Ready 30
for ((i = 0; i < 100; i++)); do
        running_tasks | grep >/dev/null '^s_t_c2_side ' && break
        sleep 0.1
done
running_tasks | grep >/dev/null '^s_t_c2_side ' || kd_fail "the deleted container was not recreated"

echo "== drift: the netns unpinned behind kukeond's back; a resync (SIGHUP) repairs it"
c3_netns=$KD_NETNS/kukeon_${realm}_s_t_c3
c3_pid=$(running_tasks | awk '$1 == "s_t_c3_root" {print $2}')
umount "$c3_netns" && rm -f "$c3_netns"
kill -HUP "$KD_PID"
for ((i = 0; i < 300; i++)); do
        new=$(running_tasks | awk '$1 == "s_t_c3_root" {print $2}')
        [ -e "$c3_netns" ] && [ -n "$new" ] && [ "$new" != "$c3_pid" ] && break
        sleep 0.1
done
[ -e "$c3_netns" ] && [ -n "$new" ] && [ "$new" != "$c3_pid" ] || kd_fail "the cell was not moved into a new netns"
kd_wait_state "$KD_RUN/$realm/s/t/c3/cell.status.yaml" Ready 30
c3_ip=$(sed -n 's/^  ip: "\{0,1\}\([0-9.]*\)"\{0,1\}$/\1/p' "$KD_RUN/$realm/s/t/c3/cell.status.yaml")
[ "$(readlink /proc/"$new"/ns/net)" = "$(nsenter --net="$c3_netns" readlink /proc/self/ns/net)" ] ||
        kd_fail "c3's root is not in the new netns"
nsenter --net="$c3_netns" ip -4 addr show eth0 | grep >/dev/null "inet $c3_ip/" || kd_fail "the new netns lacks $c3_ip"

echo "== bad input next to good: symlink, huge file, wrong parent, unknown field"
mkdir -p "$KD_RUN/$realm/s/t/bad1" "$KD_RUN/$realm/s/t/bad2" "$KD_RUN/$realm/s/t/bad3"
ln -s /etc "$KD_RUN/$realm/s/t/evil"
head -c 2000000 /dev/zero | tr '\0' '#' >"$KD_RUN/$realm/s/t/bad1/cell.yaml"
cell_yaml bad2 | sed "s/^spec:/spec:\n  stackId: other/" >"$KD_RUN/$realm/s/t/bad2/cell.yaml"
cell_yaml bad3 | sed 's/^      command: sleep$/      comand: sleep/' >"$KD_RUN/$realm/s/t/bad3/cell.yaml"
kd_wait_state "$KD_RUN/$realm/s/t/bad1/cell.status.yaml" Failed 20
kd_wait_state "$KD_RUN/$realm/s/t/bad2/cell.status.yaml" Failed 20
kd_wait_state "$KD_RUN/$realm/s/t/bad3/cell.status.yaml" Failed 20
grep -q 'unknown field \\"comand\\"' "$KD_RUN/$realm/s/t/bad3/cell.status.yaml" || kd_fail "bad3 does not name the field"
[ ! -e /etc/cell.status.yaml ] || kd_fail "a status was written through the symlink"
[ "$(running_tasks | wc -l)" = 20 ] || kd_fail "the good cells were disturbed"
# kukeond may write a status into a directory rm is emptying (rm then finds it not empty): try again
for ((i = 0; i < 20; i++)); do
        rm -rf "$KD_RUN/$realm/s/t/bad1" "$KD_RUN/$realm/s/t/bad2" "$KD_RUN/$realm/s/t/bad3" \
                "$KD_RUN/$realm/s/t/evil" 2>/dev/null && break
        sleep 0.2
done
[ ! -e "$KD_RUN/$realm/s/t/bad2" ] || kd_fail "the bad cells' directories could not be removed"

echo "== cells removed while kukeond is down are collected"
kd_stop || kd_fail "kukeond did not exit 0"
rm -rf "$KD_RUN/$realm/s/t/c9" "$KD_RUN/$realm/s/t/c10"
kd_start
for ((i = 0; i < 300; i++)); do
        [ "$(kctr containers ls -q | wc -l)" = 16 ] && break
        sleep 0.1
done
[ "$(kctr containers ls -q | wc -l)" = 16 ] || kd_fail "the orphans' containers are still there: $(kctr containers ls -q)"
for ((i = 0; i < 100; i++)); do
        [ "$(ls "$KD_NETNS" | wc -l)" = 8 ] && break
        sleep 0.1
done
[ "$(ls "$KD_NETNS" | wc -l)" = 8 ] || kd_fail "the orphans' netns are still there"

echo "== rm -r of the realm: nothing of ours is left"
rm -rf "${KD_RUN:?}/$realm"
for ((i = 0; i < 600; i++)); do
        ctr -a "$CTRD_ADDRESS" ns ls -q | grep >/dev/null -x "$ns" || break
        sleep 0.1
done
ctr -a "$CTRD_ADDRESS" ns ls -q | grep >/dev/null -x "$ns" && kd_fail "the namespace is still there: $(kctr containers ls -q)"
[ -z "$(ls "$KD_NETNS")" ] || kd_fail "netns left: $(ls "$KD_NETNS")"
find /sys/fs/cgroup -type d -path "*/$KD_CGROOT/$realm" | grep >/dev/null . && kd_fail "cgroups left"
[ ! -e "$KD_CONF/$net.conflist" ] || kd_fail "the conflist is left"
[ ! -d "/var/lib/cni/networks/$net" ] || kd_fail "IPAM state is left"
if command -v iptables >/dev/null; then
        while read -r br; do
                [ -z "$br" ] && continue
                ip link show "$br" >/dev/null 2>&1 && kd_fail "bridge $br is left"
                iptables -w 5 -S KUKEON-ISOLATION 2>/dev/null | grep >/dev/null -- "-i $br " && kd_fail "the rule of $br is left"
        done <"$KD_DIR/bridges"
fi
echo PASS
