#!/usr/bin/env bash
# kukeond against a private containerd, real cgroups, CNI plugins and netns, all under private paths:
# the lock, realms/spaces/stacks Ready through `kuke apply --wait`, their primitives (containerd
# namespace, cgroups, conflists), a cell's infrastructure and an image that cannot be had, a malformed manifest, `rm -r` of a space,
# SIGHUP, a containerd restart, `kuke delete --cascade`, SIGTERM.
#   test_daemon_basics.sh <kuke> <kukeond> <fixtures-dir>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kuke=${1:?usage: $0 <kuke> <kukeond> <fixtures-dir>}
kukeond=${2:?usage: $0 <kuke> <kukeond> <fixtures-dir>}

# shellcheck source=lib/containerd.sh
. "$here/lib/containerd.sh"
# shellcheck source=lib/daemon.sh
. "$here/lib/daemon.sh"
kd_setup "$kuke" "$kukeond"

realm=kt$$
cgroup_dir() { # the first hierarchy that has the path (unified, or a v1 controller)
        local p
        for p in "/sys/fs/cgroup/$KD_CGROOT/$1" /sys/fs/cgroup/*/"$KD_CGROOT/$1"; do
                [ -d "$p" ] && { echo "$p"; return 0; }
        done
        return 1
}

cat >"$KD_DIR/config.yaml" <<YAML
kind: DaemonConfig
resyncInterval: 10m
logLevel: debug
YAML
kd_start --config "$KD_DIR/config.yaml"

echo "== a second kukeond on the same state dir is refused"
if out=$("$kukeond" 2>&1); then kd_fail "a second kukeond started"; fi
echo "$out" | grep >/dev/null "kukeond is already running (pid $KD_PID) on $KD_STATE" || kd_fail "unexpected refusal: $out"

echo "== kuke apply --wait: realm, spaces, stack"
cat >"$KD_DIR/tree.yaml" <<YAML
apiVersion: v1beta1
kind: Realm
metadata:
  name: $realm
---
apiVersion: v1beta1
kind: Space
metadata:
  name: web
spec:
  realmId: $realm
---
apiVersion: v1beta1
kind: Space
metadata:
  name: db
spec:
  realmId: $realm
  network:
    subnet: 10.214.7.0/24
---
apiVersion: v1beta1
kind: Stack
metadata:
  name: app
spec:
  realmId: $realm
  spaceId: web
YAML
"$kuke" apply -f "$KD_DIR/tree.yaml" --timeout 60s || kd_fail "kuke apply --wait failed"
for f in $realm/realm $realm/web/space $realm/db/space $realm/web/app/stack; do
        grep -q '^  state: Ready$' "$KD_RUN/$f.status.yaml" || kd_fail "$f is not Ready"
done

echo "== the primitives"
ctr -a "$CTRD_ADDRESS" ns ls | grep >/dev/null "^kukeon-$realm .*kukeon.io/realm=$realm" || kd_fail "no namespace kukeon-$realm"
cgroup_dir "$realm/web/app" >/dev/null || kd_fail "no cgroup for the stack"
[ -f "$KD_CONF/$realm-web.conflist" ] || kd_fail "no conflist in the conf dir"
cmp -s "$KD_CONF/$realm-web.conflist" "$KD_RUN/$realm/web/network.conflist" || kd_fail "the conflist copy differs"
grep -q '"subnet": "10.214.7.0/24"' "$KD_CONF/$realm-db.conflist" || kd_fail "the requested subnet is not used"
grep -q '^  subnet: "10.213.0.0/24"$' "$KD_RUN/$realm/web/space.status.yaml" || kd_fail "web did not get the pool's first /24"
grep -q "^  namespace: kukeon-$realm\$" "$KD_RUN/$realm/realm.status.yaml" || kd_fail "the realm status lacks its namespace"

echo "== kuke init (no wait): the default hierarchy comes up"
"$kuke" init --wait=false >/dev/null
kd_wait_state "$KD_RUN/default/realm.status.yaml" Ready
kd_wait_state "$KD_RUN/default/default/space.status.yaml" Ready
kd_wait_state "$KD_RUN/default/default/default/stack.status.yaml" Ready
kd_wait_state "$KD_RUN/kukeon-system/kukeon/kukeon/stack.status.yaml" Ready
self_cell=$KD_RUN/kukeon-system/kukeon/kukeon/kukeond/cell.status.yaml
kd_wait_state "$self_cell" Ready
grep -q "message: kukeond .* runs as pid $KD_PID" "$self_cell" || kd_fail "the kukeond cell does not name the daemon"

echo "== a cell whose image cannot be had: cgroup, netns and address, then Failed naming the image"
mkdir -p "$KD_RUN/$realm/web/app/www"
cat >"$KD_RUN/$realm/web/app/www/.cell.yaml.tmp" <<YAML
apiVersion: v1beta1
kind: Cell
metadata:
  name: www
spec:
  containers:
    - id: httpd
      image: 127.0.0.1:9/kukeon/none:1
      command: httpd
YAML
mv "$KD_RUN/$realm/web/app/www/.cell.yaml.tmp" "$KD_RUN/$realm/web/app/www/cell.yaml"
cell_status=$KD_RUN/$realm/web/app/www/cell.status.yaml
kd_wait_state "$cell_status" Failed 30
grep -q '^  reason: ImageEnsureFailed$' "$cell_status" || kd_fail "the cell does not say ImageEnsureFailed"
grep -q 'message: .*127.0.0.1:9/kukeon/none:1' "$cell_status" || kd_fail "the message does not name the image"
grep -q '^  ip: "10.213.0.' "$cell_status" || kd_fail "the cell has no address"
netns=kukeon_${realm}_web_app_www
[ -e "$KD_NETNS/$netns" ] || kd_fail "no pinned netns"
ip -n "$netns" -4 addr show eth0 2>/dev/null | grep >/dev/null "inet 10.213.0." ||
        nsenter --net="$KD_NETNS/$netns" ip -4 addr show eth0 | grep >/dev/null "inet 10.213.0." || kd_fail "eth0 has no address"
cgroup_dir "$realm/web/app/www" >/dev/null || kd_fail "no cgroup for the cell"

echo "== a malformed manifest: Failed with its position; the others stay Ready"
mkdir -p "$KD_RUN/$realm/broken"
printf 'apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: broken\nspec:\n  network: [1\n' >"$KD_RUN/$realm/broken/space.yaml"
kd_wait_state "$KD_RUN/$realm/broken/space.status.yaml" Failed
grep -q "message: \"$realm/broken/space.yaml:[0-9]*:[0-9]*: " "$KD_RUN/$realm/broken/space.status.yaml" ||
        kd_fail "the message is not positioned"
grep -q '^  state: Ready$' "$KD_RUN/$realm/web/space.status.yaml" || kd_fail "web is no longer Ready"
grep -q '^  state: Ready$' "$KD_RUN/$realm/realm.status.yaml" || kd_fail "the realm is no longer Ready"
kill -0 "$KD_PID" || kd_fail "kukeond exited on bad input"

echo "== isolation rules for the space's bridge"
web_bridge=$(sed -n 's/^  bridge: //p' "$KD_RUN/$realm/web/space.status.yaml")
[ -n "$web_bridge" ] || kd_fail "no bridge in web's status"
echo "$web_bridge" >>"$KD_DIR/bridges"
sed -n 's/^  bridge: //p' "$KD_RUN/$realm/db/space.status.yaml" >>"$KD_DIR/bridges"
ip link show "$web_bridge" >/dev/null 2>&1 || kd_fail "no bridge $web_bridge"
if command -v iptables >/dev/null; then
        iptables -w 5 -S KUKEON-ISOLATION 2>/dev/null | grep >/dev/null -- "-i $web_bridge -o $web_bridge" ||
                kd_fail "no isolation rule for $web_bridge"

        echo "== a deleted isolation rule is restored by the next full resync"
        rule=$(iptables -w 5 -S KUKEON-ISOLATION 2>/dev/null | grep -- "-i $web_bridge -o $web_bridge" | head -n 1)
        eval "iptables -w 5 ${rule/#-A/-D}" 2>/dev/null
        kill -HUP "$KD_PID" # a reload resyncs everything, as the periodic resync does
        for ((i = 0; i < 100; i++)); do
                iptables -w 5 -S KUKEON-ISOLATION 2>/dev/null | grep >/dev/null -- "-i $web_bridge -o $web_bridge" &&
                        break
                sleep 0.1
        done
        iptables -w 5 -S KUKEON-ISOLATION 2>/dev/null | grep >/dev/null -- "-i $web_bridge -o $web_bridge" ||
                kd_fail "the deleted rule of $web_bridge was not restored"
        grep -q "isolation rules of space \"$realm/web\" (bridge $web_bridge) were missing: restored" "$KD_LOG" ||
                kd_fail "the restoration is not logged"
fi

echo "== rm -r of a space tears it down"
web_cgroup=$(cgroup_dir "$realm/web")
rm -r "$KD_RUN/$realm/web"
kd_wait_gone "$KD_CONF/$realm-web.conflist"
kd_wait_gone "$web_cgroup"
kd_wait_gone "$KD_NETNS/$netns"
for ((i = 0; i < 100; i++)); do ip link show "$web_bridge" >/dev/null 2>&1 || break; sleep 0.1; done
! ip link show "$web_bridge" >/dev/null 2>&1 || kd_fail "the bridge $web_bridge is still there"
if command -v iptables >/dev/null; then
        ! iptables -w 5 -S KUKEON-ISOLATION 2>/dev/null | grep >/dev/null -- "-i $web_bridge -o $web_bridge" ||
                kd_fail "the isolation rule of $web_bridge is still there"
fi
[ ! -e "$KD_RUN/$realm/web" ] || kd_fail "the space directory came back"

echo "== SIGHUP reloads the config file"
sed -i 's/resyncInterval: 10m/resyncInterval: 20m/' "$KD_DIR/config.yaml"
kill -HUP "$KD_PID"
for ((i = 0; i < 50; i++)); do grep -q "Reloaded the configuration" "$KD_LOG" && break; sleep 0.1; done
grep -q "Reloaded the configuration from $KD_DIR/config.yaml" "$KD_LOG" || kd_fail "no reload"
sed -i 's/resyncInterval: 20m/resyncInterval: nonsense/' "$KD_DIR/config.yaml"
kill -HUP "$KD_PID"
for ((i = 0; i < 50; i++)); do grep -q "Failed to reload" "$KD_LOG" && break; sleep 0.1; done
grep -q 'Failed to reload the configuration, keeping the current one: .*config.yaml:[0-9]*:[0-9]*: resyncInterval: invalid duration' "$KD_LOG" ||
        kd_fail "a bad config file was not refused with its position"
kill -0 "$KD_PID" || kd_fail "kukeond exited on a bad reload"

echo "== a containerd restart under the running daemon"
ctrd_restart
for ((i = 0; i < 100; i++)); do [ "$(grep -c "Connected to containerd" "$KD_LOG")" -ge 2 ] && break; sleep 0.1; done
[ "$(grep -c "Connected to containerd" "$KD_LOG")" -ge 2 ] || kd_fail "kukeond did not reconnect"
cat >"$KD_DIR/after.yaml" <<YAML
apiVersion: v1beta1
kind: Realm
metadata:
  name: ${realm}b
---
apiVersion: v1beta1
kind: Space
metadata:
  name: s
spec:
  realmId: ${realm}b
---
apiVersion: v1beta1
kind: Stack
metadata:
  name: t
spec:
  realmId: ${realm}b
  spaceId: s
YAML
"$kuke" apply -f "$KD_DIR/after.yaml" --timeout 60s || kd_fail "apply after the containerd restart failed"
# (the daemon may have reached the old containerd while it was going down: its next reconnection
# resyncs, so the namespace shows up in the new one, possibly a moment later)
for ((i = 0; i < 100; i++)); do
        ctr -a "$CTRD_ADDRESS" ns ls | grep >/dev/null "^kukeon-${realm}b " && break
        sleep 0.2
done
ctr -a "$CTRD_ADDRESS" ns ls | grep >/dev/null "^kukeon-${realm}b " || kd_fail "no namespace after the restart"
sed -n 's/^  bridge: //p' "$KD_RUN/${realm}b/s/space.status.yaml" >>"$KD_DIR/bridges"

echo "== a restart adopts what exists; what lost its manifest meanwhile is collected"
sed -i 's/resyncInterval: nonsense/resyncInterval: 20m/' "$KD_DIR/config.yaml"
before=$(md5sum <"$KD_RUN/$realm/realm.status.yaml")
kd_stop || kd_fail "kukeond exited with $?"
grep -q '^  state: Stopped$' "$self_cell" || kd_fail "the kukeond cell is not Stopped after kukeond stopped"
[ -n "$(cgroup_dir "${realm}b")" ] || kd_fail "no cgroup for ${realm}b"
rm -r "$KD_RUN/${realm}b"
kd_start --config "$KD_DIR/config.yaml"
for ((i = 0; i < 100; i++)); do
        ctr -a "$CTRD_ADDRESS" ns ls | grep >/dev/null "^kukeon-${realm}b " || break
        sleep 0.2
done
ctr -a "$CTRD_ADDRESS" ns ls | grep >/dev/null "^kukeon-${realm}b " && kd_fail "the orphaned namespace was not collected"
for ((i = 0; i < 50; i++)); do cgroup_dir "${realm}b" >/dev/null || break; sleep 0.1; done
! cgroup_dir "${realm}b" >/dev/null || kd_fail "the orphaned cgroup was not collected"
kd_wait_gone "$KD_CONF/${realm}b-s.conflist"
[ "$before" = "$(md5sum <"$KD_RUN/$realm/realm.status.yaml")" ] || kd_fail "the restart rewrote a settled status"
grep -q '^  state: Ready$' "$KD_RUN/$realm/db/space.status.yaml" || kd_fail "db is not Ready after the restart"

echo "== kuke delete realm --cascade removes the namespace"
"$kuke" delete realm "$realm" --cascade --timeout 60s || kd_fail "kuke delete --cascade failed"
ctr -a "$CTRD_ADDRESS" ns ls | grep >/dev/null "^kukeon-$realm " && kd_fail "the namespace is still there"
! cgroup_dir "$realm" >/dev/null || kd_fail "the realm's cgroup is still there"
[ ! -e "$KD_CONF/$realm-db.conflist" ] || kd_fail "db's conflist is still there"

echo "== what kuke init made goes too (its names are the same for every kukeond on this host)"
"$kuke" delete realm default --cascade --timeout 60s >/dev/null || kd_fail "deleting realm default failed"
"$kuke" delete realm kukeon-system --cascade --timeout 60s >/dev/null || kd_fail "deleting kukeon-system failed"
ls "$KD_CONF"/*.conflist >/dev/null 2>&1 && kd_fail "conflists are left: $(ls "$KD_CONF")"
ctr -a "$CTRD_ADDRESS" ns ls | grep >/dev/null "^kukeon-" && kd_fail "namespaces are left"

if command -v strace >/dev/null; then
        echo "== idle at rest: no system calls"
        sleep 1
        timeout -s INT 2 strace -f -p "$KD_PID" -o "$KD_DIR/strace.txt" 2>/dev/null || true
        if grep -q ' = ' "$KD_DIR/strace.txt"; then
                head -20 "$KD_DIR/strace.txt" >&2
                kd_fail "kukeond made system calls while idle"
        fi
fi

if command -v python3 >/dev/null; then
        echo "== sd_notify: READY, WATCHDOG, STOPPING (a second instance on its own paths)"
        mkdir -p "$KD_DIR/run2" "$KD_DIR/state2"
        python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        msg = s.recv(4096).decode()
        out.write(msg.replace("\n", " ") + "\n")
        out.flush()
' "$KD_DIR/notify.sock" "$KD_DIR/notify.txt" &
        listener=$!
        for ((i = 0; i < 50; i++)); do [ -S "$KD_DIR/notify.sock" ] && break; sleep 0.1; done
        # nothing shared with the first one: its garbage collection would take the first one's objects
        NOTIFY_SOCKET=$KD_DIR/notify.sock WATCHDOG_USEC=200000 KUKEOND_RUN_PATH=$KD_DIR/run2 \
                KUKEOND_STATE_DIR=$KD_DIR/state2 KUKEOND_CGROUP_ROOT=$KD_CGROOT-2 KUKEOND_NETNS_DIR=$KD_DIR/netns2 \
                KUKEOND_CNI_CONF_DIR=$KD_DIR/cni2 KUKEOND_CONTAINERD_SOCKET=$KD_DIR/none.sock \
                "$kukeond" >>"$KD_DIR/kukeond2.log" 2>&1 &
        pid2=$!
        for ((i = 0; i < 50; i++)); do grep -q WATCHDOG=1 "$KD_DIR/notify.txt" 2>/dev/null && break; sleep 0.1; done
        kill -TERM "$pid2"
        wait "$pid2" || kd_fail "the second instance exited with $?"
        sleep 0.2
        kill "$listener" 2>/dev/null || true
        wait "$listener" 2>/dev/null || true
        for m in READY=1 WATCHDOG=1 STOPPING=1 STATUS=; do
                grep -q "$m" "$KD_DIR/notify.txt" || kd_fail "no $m from sd_notify: $(cat "$KD_DIR/notify.txt")"
        done
fi

echo "== SIGTERM: exit 0 within a second"
start=$(date +%s%N)
kd_stop || kd_fail "kukeond exited with $?"
elapsed=$((($(date +%s%N) - start) / 1000000))
[ "$elapsed" -lt 1000 ] || kd_fail "kukeond took ${elapsed} ms to stop"
echo "PASS"
