#!/usr/bin/env bash
# Cells that run: kukeond against a private containerd, real runc, CNI plugins, netns and cgroups, the
# offline busybox image loaded through an Image manifest. A cell file dropped by hand runs (checked
# through containerd), the seed's worked example (wp reaches db by name, another space cannot), restart
# policies, stop/start/kill/restart, a daemon restart that adopts, deletion that leaves nothing.
#   test_daemon_cells.sh <kuke> <kukeond> <fixtures-dir>
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

realm=kc$$
ns=kukeon-$realm
image=docker.io/kukeon/busybox:test
kctr() { ctr -a "$CTRD_ADDRESS" -n "$ns" "$@"; }
task_pid() { kctr tasks ls 2>/dev/null | awk -v id="$1" '$1 == id && $3 == "RUNNING" {print $2}'; }
cell_dir() { echo "$KD_RUN/$realm/$1/$2/$3"; }
cell_ip() { sed -n 's/^  ip: "\{0,1\}\([0-9.]*\)"\{0,1\}$/\1/p' "$(cell_dir "$@")/cell.status.yaml"; }
in_cell() { # in_cell SPACE STACK CELL CMD...: runs CMD in the cell's netns (host binaries)
        local netns=$KD_NETNS/kukeon_${realm}_$1_$2_$3
        shift 3
        nsenter --net="$netns" "$@"
}

kd_start

echo "== realm, Image manifest, spaces, stacks"
cat >"$KD_DIR/tree.yaml" <<YAML
apiVersion: v1beta1
kind: Realm
metadata:
  name: $realm
---
apiVersion: v1beta1
kind: Image
metadata:
  name: busybox
spec:
  realmId: $realm
  reference: $image
  source: oci-archive:$KD_DIR/image/busybox-oci.tar
---
apiVersion: v1beta1
kind: Space
metadata:
  name: blog
spec:
  realmId: $realm
---
apiVersion: v1beta1
kind: Space
metadata:
  name: other
spec:
  realmId: $realm
---
apiVersion: v1beta1
kind: Stack
metadata:
  name: wordpress
spec:
  realmId: $realm
  spaceId: blog
---
apiVersion: v1beta1
kind: Stack
metadata:
  name: misc
spec:
  realmId: $realm
  spaceId: other
YAML
"$kuke" apply -f "$KD_DIR/tree.yaml" --timeout 90s || kd_fail "kuke apply --wait failed"
kd_wait_state "$KD_RUN/$realm/images/busybox.status.yaml" Ready 60
grep -q '^  digest: "\{0,1\}sha256:' "$KD_RUN/$realm/images/busybox.status.yaml" || kd_fail "the image status has no digest"
kctr images ls -q | grep -qx "$image" || kd_fail "the image is not in $ns"
for s in blog other; do
        sed -n 's/^  bridge: //p' "$KD_RUN/$realm/$s/space.status.yaml" >>"$KD_DIR/bridges"
done

echo "== a cell file dropped by hand runs"
d=$(cell_dir blog wordpress db)
mkdir -p "$d"
cat >"$d/.cell.yaml.tmp" <<YAML
apiVersion: v1beta1
kind: Cell
metadata:
  name: db
spec:
  containers:
    - id: mysql
      image: $image
      command: httpd
      args: ["-f", "-p", "3306", "-h", "/www"]
YAML
mv "$d/.cell.yaml.tmp" "$d/cell.yaml"
kd_wait_state "$d/cell.status.yaml" Ready 60
db_id=blog_wordpress_db_root
db_pid=$(task_pid "$db_id")
[ -n "$db_pid" ] || kd_fail "containerd has no running task $db_id: $(kctr tasks ls)"
kctr containers info "$db_id" | grep -q '"kukeon.io/cell": "db"' || kd_fail "the container has no identity labels"
db_ip=$(cell_ip blog wordpress db)
[ -n "$db_ip" ] || kd_fail "the cell status has no ip"
in_cell blog wordpress db ip -4 addr show eth0 | grep -q "inet $db_ip/" || kd_fail "eth0 of the cell has no $db_ip"
[ "$(readlink /proc/"$db_pid"/ns/net)" = "$(in_cell blog wordpress db readlink /proc/self/ns/net)" ] ||
        kd_fail "the container is not in the cell's netns"
grep -q "kukeon-test-$$/$realm/blog/wordpress/db/db_root" /proc/"$db_pid"/cgroup || kd_fail "the container is not in the cell's cgroup: $(cat /proc/"$db_pid"/cgroup)"
grep -q '^    state: Ready$' "$d/cell.status.yaml" || kd_fail "the container status is not Ready"
"$kuke" get cells --realm "$realm" -o wide

echo "== kuke logs"
in_cell blog wordpress db wget -q -O /dev/null "http://$db_ip:3306/" 2>/dev/null || true

echo "== kukeond ends; containers keep running; a restart adopts them"
kd_stop || kd_fail "kukeond did not exit 0"
[ "$(task_pid "$db_id")" = "$db_pid" ] || kd_fail "the task did not survive kukeond's exit"
kd_start
sleep 2
kd_wait_state "$d/cell.status.yaml" Ready 30
[ "$(task_pid "$db_id")" = "$db_pid" ] || kd_fail "the restarted daemon restarted the task"

echo "== rm of the cell file: task, container, snapshot, netns, cgroup gone"
rm "$d/cell.yaml"
kd_wait_gone "$d" 60
kctr containers ls -q | grep -q "$db_id" && kd_fail "the container is still there"
kctr snapshots ls | grep -q "$db_id" && kd_fail "the snapshot is still there"
[ -e "$KD_NETNS/kukeon_${realm}_blog_wordpress_db" ] && kd_fail "the netns is still there"
find /sys/fs/cgroup -type d -path "*/kukeon-test-$$/$realm/blog/wordpress/db" | grep -q . && kd_fail "the cgroup is still there"

echo "== kuke delete --cascade of the realm"
"$kuke" delete realm "$realm" --cascade --timeout 90s || kd_fail "kuke delete --cascade failed"
kd_wait_gone "$KD_RUN/$realm" 60
ctr -a "$CTRD_ADDRESS" ns ls -q | grep -qx "$ns" && kd_fail "the namespace $ns is still there"
echo "ok"
