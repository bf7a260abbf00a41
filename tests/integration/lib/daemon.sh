# shellcheck shell=bash
# Sourced by the kukeond integration tests: a private kukeond next to a private containerd
# (lib/containerd.sh), with its own run path, state dir, cgroup root, CNI conf dir and netns dir under one
# temp dir, all removed by kd_cleanup (chained into the EXIT trap by kd_setup).
#
#   kd_setup KUKE KUKEOND   sets KD_DIR, KD_RUN, KD_STATE, KD_CONF, KD_NETNS, KD_CGROOT, KD_LOG and the
#                           KUKEON_* / KUKEOND_* environment; starts containerd
#   kd_start [ARGS...]      starts kukeond (pid in KD_PID), waits for kukeond.yaml
#   kd_stop                 SIGTERM, waits for the exit; returns kukeond's exit status
#   kd_wait_state FILE STATE [SECONDS]   waits until a status file says state: STATE
#   kd_wait_gone PATH [SECONDS]          waits until PATH does not exist
#   kd_fail MESSAGE         prints the daemon log and exits 1
#   kd_apply_base REALM [IMAGE_REF]      applies realm REALM with space s and stack t (and, given
#                           IMAGE_REF, the busybox image of $KD_DIR/image under that reference), waits,
#                           notes the space's bridge for cleanup

kd_fail() {
        echo "FAIL: $*" >&2
        if [ -n "${KD_LOG:-}" ] && [ -f "$KD_LOG" ]; then
                echo "--- kukeond log (tail)" >&2
                tail -n 60 "$KD_LOG" >&2
        fi
        exit 1
}

kd_cleanup() {
        if [ -n "${KD_PID:-}" ] && kill -0 "$KD_PID" 2>/dev/null; then
                kill -TERM "$KD_PID" 2>/dev/null || true
                wait "$KD_PID" 2>/dev/null || true
        fi
        # a test that failed half-way leaves containers: kill them before their cgroups and netns go
        [ -n "${CTRD_ADDRESS:-}" ] && ctrd_kill_tasks && sleep 0.5
        if [ -n "${KD_NETNS:-}" ] && [ -d "$KD_NETNS" ]; then
                local ns
                for ns in "$KD_NETNS"/*; do
                        [ -e "$ns" ] || continue
                        umount -l "$ns" 2>/dev/null || true
                        rm -f "$ns"
                done
                # the driver makes the directory a shared mount of its own, like ip netns does
                while grep -qF " $KD_NETNS " /proc/self/mounts; do umount -l "$KD_NETNS" || break; done
        fi
        if [ -n "${KD_CGROOT:-}" ]; then
                # bottom-up, in every hierarchy
                find /sys/fs/cgroup -depth -type d -path "*/$KD_CGROOT*" -exec rmdir {} \; 2>/dev/null || true
        fi
        if [ -n "${KD_CONF:-}" ] && [ -d "$KD_CONF" ]; then
                local f name
                for f in "$KD_CONF"/*.conflist; do
                        [ -e "$f" ] || continue
                        name=$(basename "$f" .conflist)
                        rm -rf "/var/lib/cni/networks/$name"
                done
        fi
        # bridges the tests noted or that the statuses name (the daemon deletes them; a failed test may
        # leave some)
        if [ -n "${KD_RUN:-}" ] && [ -d "$KD_RUN" ]; then
                grep -rh '^  bridge: ' "$KD_RUN" --include=space.status.yaml 2>/dev/null |
                        sed 's/^  bridge: //' >>"$KD_DIR/bridges" || true
        fi
        if [ -n "${KD_DIR:-}" ] && [ -f "$KD_DIR/bridges" ]; then
                local br
                while read -r br; do
                        [ -n "$br" ] && ip link del "$br" 2>/dev/null || true
                        [ -n "$br" ] && command -v iptables >/dev/null &&
                                iptables -w 5 -D KUKEON-ISOLATION -i "$br" -o "$br" -m comment \
                                        --comment "kukeon:isolation:bridge:$br" -j RETURN 2>/dev/null || true
                        [ -n "$br" ] && command -v iptables >/dev/null &&
                                iptables -w 5 -D KUKEON-ISOLATION -i "$br" -m comment \
                                        --comment "kukeon:isolation:drop:$br" -j DROP 2>/dev/null || true
                done <"$KD_DIR/bridges"
        fi
        # a test may mount something of its own under KD_DIR (kd_before_rm unmounts it)
        if declare -F kd_before_rm >/dev/null; then kd_before_rm || true; fi
        [ -n "${KD_DIR:-}" ] && rm -rf "$KD_DIR"
        ctrd_cleanup
}

kd_setup() {
        KD_KUKE=$1
        KD_KUKEOND=$2
        ctrd_require
        [ -d /sys/fs/cgroup ] || ctrd_skip "no cgroup filesystem"
        [ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || ctrd_skip "the CNI plugins are not installed"
        KD_DIR=$(mktemp -d /tmp/kuke-kd.XXXXXX)
        KD_RUN=$KD_DIR/run
        KD_STATE=$KD_DIR/state
        KD_CONF=$KD_DIR/cni
        KD_NETNS=$KD_DIR/netns
        KD_LOG=$KD_DIR/kukeond.log
        KD_CGROOT=kukeon-test-$$
        mkdir -p "$KD_RUN" "$KD_STATE" "$KD_CONF" "$KD_NETNS"
        ctrd_start
        trap 'kd_cleanup' EXIT
        export KUKEON_RUN_PATH=$KD_RUN KUKEON_STATE_DIR=$KD_STATE
        # kuke init as root shares the run path with a group: one that exists (the real one is made by
        # the product's own setup, tests/cli/init_permissions.sh tests that)
        export KUKEON_GROUP=root
        export KUKEOND_RUN_PATH=$KD_RUN KUKEOND_STATE_DIR=$KD_STATE KUKEOND_CONTAINERD_SOCKET=$CTRD_ADDRESS
        export KUKEOND_CNI_CONF_DIR=$KD_CONF KUKEOND_NETNS_DIR=$KD_NETNS KUKEOND_CGROUP_ROOT=$KD_CGROOT
        export KUKEOND_CNI_BIN_DIR=/usr/lib/cni:/opt/cni/bin KUKEOND_SUBNET_POOL=10.213.0.0/16
        export KUKEOND_RUNC_ROOT=$KD_DIR/runc
}

kd_start() {
        rm -f "$KD_STATE/kukeond.yaml"
        "$KD_KUKEOND" --log-level debug "$@" >>"$KD_LOG" 2>&1 &
        KD_PID=$!
        local i
        for ((i = 0; i < 100; i++)); do
                [ -f "$KD_STATE/kukeond.yaml" ] && return 0
                kill -0 "$KD_PID" 2>/dev/null || kd_fail "kukeond exited at start"
                sleep 0.1
        done
        kd_fail "kukeond did not write kukeond.yaml"
}

kd_stop() {
        kill -TERM "$KD_PID"
        local rc=0
        wait "$KD_PID" || rc=$?
        KD_PID=
        return $rc
}

kd_wait_state() {
        local file=$1 state=$2 secs=${3:-20} i
        for ((i = 0; i < secs * 10; i++)); do
                grep -q "^  state: $state\$" "$file" 2>/dev/null && return 0
                sleep 0.1
        done
        echo "--- $file" >&2
        cat "$file" >&2 2>/dev/null || echo "(missing)" >&2
        kd_fail "$file did not reach state $state"
}

kd_wait_gone() {
        local path=$1 secs=${2:-20} i
        for ((i = 0; i < secs * 10; i++)); do
                [ -e "$path" ] || return 0
                sleep 0.1
        done
        kd_fail "$path is still there"
}

kd_apply_base() {
        local realm=$1 image=${2:-} f=$KD_DIR/tree-$1.yaml
        {
                printf 'apiVersion: v1beta1\nkind: Realm\nmetadata:\n  name: %s\n---\n' "$realm"
                [ -z "$image" ] || printf 'apiVersion: v1beta1\nkind: Image\nmetadata:\n  name: busybox\nspec:\n  realmId: %s\n  reference: %s\n  source: oci-archive:%s\n---\n' \
                        "$realm" "$image" "$KD_DIR/image/busybox-oci.tar"
                printf 'apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: s\nspec:\n  realmId: %s\n---\n' "$realm"
                printf 'apiVersion: v1beta1\nkind: Stack\nmetadata:\n  name: t\nspec:\n  realmId: %s\n  spaceId: s\n' "$realm"
        } >"$f"
        "$KD_KUKE" apply -f "$f" --timeout 120s >/dev/null || kd_fail "kuke apply of realm $realm failed"
        sed -n 's/^  bridge: //p' "$KD_RUN/$realm/s/space.status.yaml" >>"$KD_DIR/bridges"
}
