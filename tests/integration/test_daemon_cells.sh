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
kctr images ls -q | grep >/dev/null -x "$image" || kd_fail "the image is not in $ns"
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
  stopGracePeriodSeconds: 1
  containers:
    - id: mysql
      image: $image
      command: sh
      args: ["-c", "echo db-ok >/tmp/index.html; echo started; exec httpd -f -p 3306 -h /tmp"]
YAML
mv "$d/.cell.yaml.tmp" "$d/cell.yaml"
kd_wait_state "$d/cell.status.yaml" Ready 60
db_id=blog_wordpress_db_root
db_pid=$(task_pid "$db_id")
[ -n "$db_pid" ] || kd_fail "containerd has no running task $db_id: $(kctr tasks ls)"
kctr containers info "$db_id" | grep >/dev/null '"kukeon.io/cell": "db"' || kd_fail "the container has no identity labels"
db_ip=$(cell_ip blog wordpress db)
[ -n "$db_ip" ] || kd_fail "the cell status has no ip"
in_cell blog wordpress db ip -4 addr show eth0 | grep >/dev/null "inet $db_ip/" || kd_fail "eth0 of the cell has no $db_ip"
[ "$(readlink /proc/"$db_pid"/ns/net)" = "$(in_cell blog wordpress db readlink /proc/self/ns/net)" ] ||
        kd_fail "the container is not in the cell's netns"
grep -q "kukeon-test-$$/$realm/blog/wordpress/db/db_root" /proc/"$db_pid"/cgroup || kd_fail "the container is not in the cell's cgroup: $(cat /proc/"$db_pid"/cgroup)"
grep -q '^    state: Ready$' "$d/cell.status.yaml" || kd_fail "the container status is not Ready"
"$kuke" get cells --realm "$realm" -o wide

echo "== the worked example: wp (two containers) reaches db by name; another space cannot"
cell_file() { # cell_file SPACE STACK CELL: writes stdin as the cell's manifest, atomically
        local dir
        dir=$(cell_dir "$1" "$2" "$3")
        mkdir -p "$dir"
        cat >"$dir/.cell.yaml.tmp"
        mv "$dir/.cell.yaml.tmp" "$dir/cell.yaml"
}
cell_file blog wordpress wp <<YAML
apiVersion: v1beta1
kind: Cell
metadata:
  name: wp
spec:
  containers:
    - id: php
      root: true
      image: $image
      command: sh
      args: ["-c", "echo php-ok >/tmp/index.html; exec httpd -f -p 9000 -h /tmp"]
    - id: nginx
      image: $image
      command: sleep
      args: ["100000"]
YAML
cell_file other misc probe <<YAML
apiVersion: v1beta1
kind: Cell
metadata:
  name: probe
spec:
  containers:
    - id: sh
      image: $image
      command: sleep
      args: ["100000"]
YAML
kd_wait_state "$(cell_dir blog wordpress wp)/cell.status.yaml" Ready 60
kd_wait_state "$(cell_dir other misc probe)/cell.status.yaml" Ready 60
kexec() { local id=$1; shift; kctr tasks exec --exec-id "x$RANDOM$RANDOM" "$id" sh -c "$*"; }
# an HTTP GET with nc (busybox-static's wget crashes under ctr exec): prints the body
http_get() { kexec "$1" "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $2 $3 2>&1" | tr -d '\r' | sed '1,/^$/d'; }
# a task is Running before its program listens: ask again for a while
http_retry() { local i out; for ((i = 0; i < 50; i++)); do out=$(http_get "$@") && [ -n "$out" ] && break; sleep 0.2; done; echo "$out"; }
out=$(http_retry blog_wordpress_wp_nginx 127.0.0.1 9000)
[ "$out" = php-ok ] || kd_fail "localhost answered: $out"
out=$(http_retry blog_wordpress_wp_nginx db 3306)
[ "$out" = db-ok ] || kd_fail "db answered: $out"
kexec blog_wordpress_wp_nginx cat /etc/hosts | grep >/dev/null "^$db_ip[[:space:]]db db.wordpress" || kd_fail "wp's /etc/hosts lacks db"
[ "$(kexec blog_wordpress_wp_nginx hostname)" = wp ] || kd_fail "the hostname is not the cell's name"
out=$(http_get other_misc_probe_root "$db_ip" 3306 || true)
[ -z "$out" ] || kd_fail "a cell of another space reached db: $out"
kexec other_misc_probe_root cat /etc/hosts | grep >/dev/null "[[:space:]]db" && kd_fail "another space's /etc/hosts names db"

echo "== a limits-only change is applied in place (same pid)"
cat >"$d/.cell.yaml.tmp" <<YAML
apiVersion: v1beta1
kind: Cell
metadata:
  name: db
spec:
  containers:
    - id: mysql
      image: $image
      command: sh
      args: ["-c", "echo db-ok >/tmp/index.html; echo started; exec httpd -f -p 3306 -h /tmp"]
      resources:
        memoryLimitBytes: 67108864
YAML
mv "$d/.cell.yaml.tmp" "$d/cell.yaml"
limit_file=
for f in /sys/fs/cgroup/memory/kukeon-test-$$/$realm/blog/wordpress/db/db_root/memory.limit_in_bytes \
        /sys/fs/cgroup/kukeon-test-$$/$realm/blog/wordpress/db/db_root/memory.max; do
        [ -e "$f" ] && limit_file=$f
done
[ -n "$limit_file" ] || kd_fail "no memory limit file for db's root container"
for ((i = 0; i < 200; i++)); do
        [ "$(cat "$limit_file")" = 67108864 ] && break
        sleep 0.1
done
[ "$(cat "$limit_file")" = 67108864 ] || kd_fail "the new memory limit was not applied: $(cat "$limit_file")"
kd_wait_state "$d/cell.status.yaml" Ready 30
[ "$(task_pid "$db_id")" = "$db_pid" ] || kd_fail "a limits-only change restarted the container"

echo "== the container's output: its log file, kuke logs"
grep -q '^started$' "$d/logs/mysql.log" || kd_fail "the log file does not hold the output"
"$kuke" logs db --realm "$realm" --space blog --stack wordpress | grep >/dev/null '^started$' || kd_fail "kuke logs does not show the output"
"$kuke" status >"$KD_DIR/status.out" || kd_fail "kuke status says kukeond is not running: $(cat "$KD_DIR/status.out")"

echo "== restart policies"
cell_file blog wordpress jobs <<YAML
apiVersion: v1beta1
kind: Cell
metadata:
  name: jobs
spec:
  containers:
    - id: main
      root: true
      image: $image
      command: sleep
      args: ["100000"]
    - id: flaky
      image: $image
      command: sh
      args: ["-c", "exit 3"]
      restartPolicy: on-failure
      restartMaxRetries: 2
      restartBackoffSeconds: 1
    - id: loop
      image: $image
      command: sh
      args: ["-c", "sleep 1"]
      restartPolicy: always
      restartBackoffSeconds: 1
    - id: once
      image: $image
      command: sh
      args: ["-c", "exit 0"]
YAML
jobs=$(cell_dir blog wordpress jobs)/cell.status.yaml
kd_wait_state "$jobs" Error 60
grep -q '^  reason: RestartLimitReached$' "$jobs" || kd_fail "the cell does not say RestartLimitReached"
awk '/- name: flaky/ {f = 1} f && /restartCount:/ {print $2; exit}' "$jobs" | grep >/dev/null -x 2 || kd_fail "flaky was not restarted twice"
awk '/- name: flaky/ {f = 1} f && /exitCode:/ {print $2; exit}' "$jobs" | grep >/dev/null -x 3 || kd_fail "flaky's exit code is not 3"
for ((i = 0; i < 150; i++)); do
        n=$(awk '/- name: loop/ {f = 1} f && /restartCount:/ {print $2; exit}' "$jobs")
        [ "${n:-0}" -ge 2 ] && break
        sleep 0.1
done
[ "${n:-0}" -ge 2 ] || kd_fail "loop (always) was not restarted twice: ${n:-0}"
awk '/- name: once/ {f = 1} f && /restartCount:/ {print $2; exit}' "$jobs" | grep >/dev/null -x 0 || kd_fail "once (never) was restarted"
awk '/- name: once/ {f = 1} f && /state:/ {print $2; exit}' "$jobs" | grep >/dev/null -x Exited || kd_fail "once is not Exited"
rm "$(cell_dir blog wordpress jobs)/cell.yaml"
kd_wait_gone "$(cell_dir blog wordpress jobs)" 60

echo "== kuke stop, start, restart, kill"
wp_pid=$(task_pid blog_wordpress_wp_root)
"$kuke" stop wp --realm "$realm" --space blog --stack wordpress --timeout 60s || kd_fail "kuke stop failed"
grep -q '^  state: Stopped$' "$(cell_dir blog wordpress wp)/cell.status.yaml" || kd_fail "wp is not Stopped"
[ -z "$(task_pid blog_wordpress_wp_root)" ] || kd_fail "wp's root task still runs"
kctr containers ls -q | grep >/dev/null -x blog_wordpress_wp_root || kd_fail "a stopped cell lost its containers"
"$kuke" start wp --realm "$realm" --space blog --stack wordpress --timeout 60s || kd_fail "kuke start failed"
new=$(task_pid blog_wordpress_wp_root)
[ -n "$new" ] && [ "$new" != "$wp_pid" ] || kd_fail "kuke start did not start a new task"
"$kuke" restart wp --realm "$realm" --space blog --stack wordpress --timeout 60s || kd_fail "kuke restart failed"
again=$(task_pid blog_wordpress_wp_root)
[ -n "$again" ] && [ "$again" != "$new" ] || kd_fail "kuke restart did not restart the task"
"$kuke" kill wp --realm "$realm" --space blog --stack wordpress --timeout 30s || kd_fail "kuke kill failed"
[ -z "$(task_pid blog_wordpress_wp_nginx)" ] || kd_fail "wp's nginx still runs after kill"
"$kuke" start wp --realm "$realm" --space blog --stack wordpress --timeout 60s || kd_fail "kuke start after kill failed"

echo "== kukeond ends; containers keep running; a restart adopts them"
kd_stop || kd_fail "kukeond did not exit 0"
[ "$(task_pid "$db_id")" = "$db_pid" ] || kd_fail "the task did not survive kukeond's exit"
touch "$KD_DIR/restart-mark"
sleep 1.1 # a coarse file system clock must tell the mark from a status written after it
kd_start
sleep 2
kd_wait_state "$d/cell.status.yaml" Ready 30
[ "$(task_pid "$db_id")" = "$db_pid" ] || kd_fail "the restarted daemon restarted the task"
# nothing changed: no status is written again (none flaps through Pending while parents are checked)
rewritten=$(find "$KD_RUN" -name '*.status.yaml' -newer "$KD_DIR/restart-mark")
[ -z "$rewritten" ] || kd_fail "statuses were written again after the restart: $rewritten"

echo "== rm of the cell file: task, container, snapshot, netns, cgroup gone"
# httpd runs as the container's pid 1 and ignores SIGTERM: only SIGKILL, after the cell's own grace of
# one second (its container record remembers it: the manifest is gone), ends it
kctr containers info "$db_id" | grep >/dev/null '"kukeon.io/stop-grace-period": "1"' ||
        kd_fail "the container does not record its cell's grace"
t0=$SECONDS
rm "$d/cell.yaml"
kd_wait_gone "$d" 60
[ $((SECONDS - t0)) -lt 9 ] || kd_fail "the removal took $((SECONDS - t0)) s: not the cell's grace of 1 s"
kctr containers ls -q | grep >/dev/null "$db_id" && kd_fail "the container is still there"
kctr snapshots ls | grep >/dev/null "$db_id" && kd_fail "the snapshot is still there"
[ -e "$KD_NETNS/kukeon_${realm}_blog_wordpress_db" ] && kd_fail "the netns is still there"
find /sys/fs/cgroup -type d -path "*/kukeon-test-$$/$realm/blog/wordpress/db" | grep >/dev/null . && kd_fail "the cgroup is still there"

echo "== kuke delete --cascade of the realm"
"$kuke" delete realm "$realm" --cascade --timeout 90s || kd_fail "kuke delete --cascade failed"
kd_wait_gone "$KD_RUN/$realm" 60
ctr -a "$CTRD_ADDRESS" ns ls -q | grep >/dev/null -x "$ns" && kd_fail "the namespace $ns is still there"
echo "ok"
