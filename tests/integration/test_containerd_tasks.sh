#!/usr/bin/env bash
# Containers, tasks and their snapshots (drivers/containerd ctrd-containers*.c, ctrd-tasks*.c) against a
# private containerd: exit codes and separate stdout/stderr logs, a pinned netns joined by path, OOM,
# SIGTERM→SIGKILL escalation, one shim per cell, idempotent teardown, a private runc root. The checks are
# in ctrd_tasks_itest (drivers/containerd/tests/ctrd_tasks_itest.c); this script provides containerd, the
# busybox image (imported with ctr), a netns and a cgroup parent, checks with ctr that nothing is left,
# and cleans up whatever happens.
#   test_containerd_tasks.sh <kuke> <kukeond> <fixtures-dir>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kuke=${1:?usage: $0 <kuke> <kukeond> <fixtures-dir>}

# shellcheck source=lib/containerd.sh
. "$here/lib/containerd.sh"
# shellcheck source=lib/image.sh
. "$here/lib/image.sh"
ctrd_require
command -v ctr >/dev/null 2>&1 || ctrd_skip "ctr is not installed"
command -v ip >/dev/null 2>&1 || ctrd_skip "ip (iproute2) is not installed"
if ! { [ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1; }; then
        ctrd_skip "busybox-static is not installed"
fi

# ctrd_tasks_itest is built next to the driver: <build>/drivers/containerd/, <build>/cli/kuke.
itest=${CTRD_TASKS_ITEST:-$(dirname "$(dirname "$kuke")")/drivers/containerd/ctrd_tasks_itest}
[ -x "$itest" ] || ctrd_skip "$itest is not built"

ns=kukeon-itest-tasks
netns=kt-itest-$$
cgroup_top=/kukeon-itest-$$
cgroup_parent=$cgroup_top/$ns

ctr_() { ctr -a "$CTRD_ADDRESS" -n "$ns" "$@"; }

# Runs before ctrd_cleanup: kill and delete every task while containerd still runs (a shim outlives
# containerd, and with it the container), then the records; then the netns and the cgroup parents.
tasks_cleanup() {
        local rc=$? id d
        if [ -S "${CTRD_ADDRESS:-}" ]; then
                for id in $(ctr_ tasks ls -q 2>/dev/null); do
                        ctr_ tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
                        ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true
                done
                for id in $(ctr_ containers ls -q 2>/dev/null); do
                        ctr_ containers delete "$id" >/dev/null 2>&1 || true
                done
        fi
        ip netns del "$netns" 2>/dev/null || true
        for d in /sys/fs/cgroup/*"$cgroup_top" /sys/fs/cgroup"$cgroup_top"; do
                [ ! -d "$d" ] || find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        done
        ctrd_cleanup
        exit "$rc"
}

ctrd_start
trap tasks_cleanup EXIT

kt_build_busybox_image "$CTRD_DIR/img" >/dev/null
ctr_ images import "$CTRD_DIR/img/busybox-oci.tar" >/dev/null
# A single-layer image: its chain id is the layer's diff id, the committed snapshot the rootfs grows on.
chain_id=$KT_IMAGE_DIFF_ID
ctr_ snapshots ls | grep -q "^$chain_id " || { echo "the image was not unpacked" >&2; exit 1; }
config=$CTRD_DIR/img/layout/blobs/sha256/${KT_IMAGE_CONFIG_DIGEST#sha256:}
ip netns add "$netns"
mkdir -p "$CTRD_DIR/logs" "$CTRD_DIR/runc"

if ! "$itest" "$CTRD_ADDRESS" "$ns" "$CTRD_DIR/logs" "$KT_IMAGE_NAME" "$chain_id" "$config" \
        "/run/netns/$netns" "$CTRD_DIR/runc" "$cgroup_parent"; then
        echo "--- containerd log (tail)" >&2
        tail -n 40 "$CTRD_DIR/containerd.log" >&2
        exit 1
fi

# The same, seen by ctr: no container, no task, only the image's snapshot.
left=$(ctr_ containers ls -q)
[ -z "$left" ] || { echo "FAIL: containers left: $left" >&2; exit 1; }
left=$(ctr_ tasks ls -q)
[ -z "$left" ] || { echo "FAIL: tasks left: $left" >&2; exit 1; }
left=$(ctr_ snapshots ls | awk 'NR > 1 && $1 != "'"$chain_id"'" {print $1}')
[ -z "$left" ] || { echo "FAIL: snapshots left: $left" >&2; exit 1; }
echo "ok ctr: no container, no task, no snapshot but the image's"
# runc kept its state under the private root only, and removed it.
[ -z "$(ls -A "$CTRD_DIR/runc/$ns" 2>/dev/null)" ] || { echo "FAIL: runc state left" >&2; exit 1; }
[ ! -e "/run/containerd/runc/$ns" ] || { echo "FAIL: runc state under /run/containerd/runc" >&2; exit 1; }
echo "ok runc state only under $CTRD_DIR/runc, and gone"
