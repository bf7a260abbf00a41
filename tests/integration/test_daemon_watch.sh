#!/usr/bin/env bash
# kukeond's watching under pressure: a tree moved into the run path in one rename, directories created
# and filled at once, and a burst of a thousand stacks (and thousands of files it ignores) — every
# resource must come up, none may be missed. Then one `rm -r` takes them all down again.
#   test_daemon_watch.sh <kuke> <kukeond> <fixtures-dir>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kuke=${1:?usage: $0 <kuke> <kukeond> <fixtures-dir>}
kukeond=${2:?usage: $0 <kuke> <kukeond> <fixtures-dir>}

# shellcheck source=lib/containerd.sh
. "$here/lib/containerd.sh"
# shellcheck source=lib/daemon.sh
. "$here/lib/daemon.sh"
kd_setup "$kuke" "$kukeond"
kd_start

realm=kw$$
wait_stacks_ready() { # space n: all n stacks of the space Ready within 120 s
        local start=$SECONDS ready
        while :; do
                ready=$(grep -l '^  state: Ready$' "$KD_RUN/$realm/$1"/*/stack.status.yaml 2>/dev/null | wc -l)
                [ "$ready" -eq "$2" ] && break
                [ $((SECONDS - start)) -lt 120 ] || kd_fail "only $ready of $2 stacks of $1 are Ready"
                sleep 0.5
        done
        echo "($2 stacks of $1 Ready after $((SECONDS - start)) s)"
}

doc() { # kind name [spec lines]
        printf 'apiVersion: v1beta1\nkind: %s\nmetadata:\n  name: %s\n' "$1" "$2"
}

echo "== a whole tree moved in with one rename"
stage=$KD_DIR/stage
mkdir -p "$stage/$realm/s1/st1"
doc Realm "$realm" >"$stage/$realm/realm.yaml"
doc Space s1 >"$stage/$realm/s1/space.yaml"
doc Stack st1 >"$stage/$realm/s1/st1/stack.yaml"
mv "$stage/$realm" "$KD_RUN/$realm"
kd_wait_state "$KD_RUN/$realm/realm.status.yaml" Ready 30
kd_wait_state "$KD_RUN/$realm/s1/space.status.yaml" Ready
kd_wait_state "$KD_RUN/$realm/s1/st1/stack.status.yaml" Ready

echo "== directories created and filled at once"
mkdir -p "$KD_RUN/$realm/s2/a/b/c" && doc Space s2 >"$KD_RUN/$realm/s2/space.yaml" &&
        doc Stack a >"$KD_RUN/$realm/s2/a/stack.yaml"
mkdir -p "$KD_RUN/$realm/s3/x" && doc Stack x >"$KD_RUN/$realm/s3/x/stack.yaml" &&
        doc Space s3 >"$KD_RUN/$realm/s3/space.yaml"
kd_wait_state "$KD_RUN/$realm/s2/a/stack.status.yaml" Ready
kd_wait_state "$KD_RUN/$realm/s3/x/stack.status.yaml" Ready

echo "== a directory kukeond removed, made again under the same name, is watched again"
for round in 1 2 3; do
        doc Stack again >"$KD_RUN/$realm/s1/again.yaml.tmp"
        mkdir "$KD_RUN/$realm/s1/again"
        mv "$KD_RUN/$realm/s1/again.yaml.tmp" "$KD_RUN/$realm/s1/again/stack.yaml"
        kd_wait_state "$KD_RUN/$realm/s1/again/stack.status.yaml" Ready
        # an edit inside the directory is seen only through the directory's own watch
        rm "$KD_RUN/$realm/s1/again/stack.yaml"
        kd_wait_gone "$KD_RUN/$realm/s1/again" 20
done

grep -h '^  bridge: ' "$KD_RUN/$realm"/*/space.status.yaml | sed 's/^  bridge: //' >>"$KD_DIR/bridges"

echo "== a burst: 1000 stacks, and 3000 files kukeond ignores"
n=1000
doc Space burst >"$KD_RUN/$realm/burst.yaml.tmp"
mkdir -p "$KD_RUN/$realm/burst"
mv "$KD_RUN/$realm/burst.yaml.tmp" "$KD_RUN/$realm/burst/space.yaml"
for ((i = 0; i < n; i++)); do
        mkdir "$KD_RUN/$realm/burst/s$i"
        doc Stack "s$i" >"$KD_RUN/$realm/burst/s$i/stack.yaml"
done
mkdir -p "$KD_RUN/$realm/burst/s0/notes"
for ((i = 0; i < 3000; i++)); do
        : >"$KD_RUN/$realm/burst/s0/notes/n$i.txt"
done
wait_stacks_ready burst "$n"
sed -n 's/^  bridge: //p' "$KD_RUN/$realm/burst/space.status.yaml" >>"$KD_DIR/bridges"
kill -0 "$KD_PID" || kd_fail "kukeond died in the burst"
grep -q "Events were lost" "$KD_LOG" && echo "(the kernel queue overflowed once: recovered by a resync)"

echo "== one rm -r takes the burst down"
rm -r "$KD_RUN/$realm/burst"
deadline=$((SECONDS + 120))
while ls -d /sys/fs/cgroup/*/"$KD_CGROOT/$realm/burst" /sys/fs/cgroup/"$KD_CGROOT/$realm/burst" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || kd_fail "the burst's cgroups are still there"
        sleep 0.5
done
kd_wait_gone "$KD_CONF/$realm-burst.conflist" 60

echo "== the kernel's event queue overflows: a full resync, and the right end state"
# a kukeond whose inotify queue holds 64 events (the limit is read when the queue is made: the host's
# own value is back at once)
kd_stop || kd_fail "kukeond exited with $?"
old_max=$(cat /proc/sys/fs/inotify/max_queued_events)
kd_before_rm() { echo "$old_max" >/proc/sys/fs/inotify/max_queued_events; } # also when a step fails
echo 64 >/proc/sys/fs/inotify/max_queued_events
kd_start
for ((i = 0; i < 50; i++)); do grep -q "Watching " "$KD_LOG" && break; sleep 0.1; done
echo "$old_max" >/proc/sys/fs/inotify/max_queued_events
doc Space ovf >"$KD_RUN/$realm/ovf.yaml.tmp"
mkdir -p "$KD_RUN/$realm/ovf"
mv "$KD_RUN/$realm/ovf.yaml.tmp" "$KD_RUN/$realm/ovf/space.yaml"
n=300
for ((i = 0; i < n; i++)); do
        mkdir "$KD_RUN/$realm/ovf/o$i"
        doc Stack "o$i" >"$KD_RUN/$realm/ovf/o$i/stack.yaml"
done
wait_stacks_ready ovf "$n"
grep >/dev/null "Events were lost: resyncing everything" "$KD_LOG" || kd_fail "the queue never overflowed"
sed -n 's/^  bridge: //p' "$KD_RUN/$realm/ovf/space.status.yaml" >>"$KD_DIR/bridges"
rm -r "$KD_RUN/$realm/ovf"
kd_wait_gone "$KD_CONF/$realm-ovf.conflist" 60

echo "== cleanup through the daemon"
"$kuke" delete realm "$realm" --cascade --timeout 120s >/dev/null || kd_fail "kuke delete --cascade failed"
kd_stop || kd_fail "kukeond exited with $?"
echo "PASS"
