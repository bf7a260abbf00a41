# shellcheck shell=bash
# Sourced by tests/bench/bench.sh: the benchmark's world on top of the integration harness
# (tests/integration/lib/*.sh): a private containerd and kukeond, a realm kb<pid> with the offline
# busybox image, one space and stack for kukeond's cells, and the floor's own namespace, netns dir and
# cgroup root (kukeon-bench-<pid>-floor) so that kukeond's garbage collection never sees them.
#
#   kb_setup KUKE KUKEOND FLOOR PROBE OUTDIR   everything above; the EXIT trap cleans it all up
#   kb_kd_start                                kukeond at debug level, started through `probe exec-stamp`
#                                              (KB_START_AT: CLOCK_MONOTONIC just before its exec)
#   kb_kd_kill                                 SIGKILL, reaped
#   kb_cell NAME [CONTAINERS]                  writes the staged manifest $KB_STAGE/NAME.yaml
#   kb_drop / kb_remove / kb_kill CELL...      the probe against kukeond (JSON on stdout)
#   kb_floor VERB [OPTS] CELL...               the floor (JSON lines on stdout)
#   kb_proc_cpu                                "utime stime cutime cstime" of kukeond, in clock ticks
#   kb_proc_mem                                "VmRSS VmHWM RssAnon RssFile Pss" of kukeond, in kB

kb_fail() {
        echo "bench: FAIL: $*" >&2
        if [ -n "${KD_LOG:-}" ] && [ -f "$KD_LOG" ]; then
                echo "--- kukeond log (tail)" >&2
                grep -v ' stamp ' "$KD_LOG" | tail -n 30 >&2
        fi
        exit 1
}

kb_cleanup() {
        local rc=$?
        set +e
        if [ -n "${KB_OUT:-}" ] && [ -n "${KD_LOG:-}" ] && [ -f "$KD_LOG" ]; then
                cp "$KD_LOG" "$KB_OUT/kukeond.log" 2>/dev/null
        fi
        if [ -n "${KD_PID:-}" ] && kill -0 "$KD_PID" 2>/dev/null; then
                kill -TERM "$KD_PID" 2>/dev/null
                wait "$KD_PID" 2>/dev/null
        fi
        KD_PID=
        [ -n "${CTRD_ADDRESS:-}" ] && ctrd_kill_tasks && sleep 0.5
        if [ -n "${KB_FLOOR_NETNS:-}" ] && [ -d "$KB_FLOOR_NETNS" ]; then
                local ns
                for ns in "$KB_FLOOR_NETNS"/*; do
                        [ -e "$ns" ] || continue
                        umount -l "$ns" 2>/dev/null
                        rm -f "$ns"
                done
                while grep -qF " $KB_FLOOR_NETNS " /proc/self/mounts; do umount -l "$KB_FLOOR_NETNS" || break; done
        fi
        kd_cleanup
        return $rc
}

kb_setup() {
        KB_KUKE=$1
        KB_KUKEOND=$2
        KB_FLOOR_BIN=$3
        KB_PROBE=$4
        KB_OUT=$5
        kd_setup "$KB_KUKE" "$KB_KUKEOND"
        trap kb_cleanup EXIT
        # our own names: subnets in 10.215.0.0/16, realm kb<pid>, cgroup root kukeon-bench-<pid>
        KD_CGROOT=kukeon-bench-$$
        export KUKEOND_CGROUP_ROOT=$KD_CGROOT KUKEOND_SUBNET_POOL=10.215.0.0/16
        KB_REALM=kb$$
        KB_NS=kukeon-$KB_REALM
        KB_SPACE=s
        KB_STACK=t
        KB_IMAGE=docker.io/kukeon/busybox:test
        KB_STAGE=$KD_DIR/stage
        KB_FLOOR_DIR=$KD_DIR/floor
        KB_FLOOR_NETNS=$KD_DIR/floor-netns
        KB_FLOOR_NS=kb-floor-$$
        KB_FLOOR_REALM=kbf$$
        KB_FLOOR_CGROOT=$KD_CGROOT-floor # under kd_cleanup's pattern too
        mkdir -p "$KB_STAGE" "$KB_FLOOR_DIR" "$KB_FLOOR_NETNS" "$KB_OUT"
        kt_build_busybox_image "$KD_DIR/image" >/dev/null || exit $?
        kb_kd_start
        cat >"$KD_DIR/tree.yaml" <<YAML
apiVersion: v1beta1
kind: Realm
metadata:
  name: $KB_REALM
---
apiVersion: v1beta1
kind: Image
metadata:
  name: busybox
spec:
  realmId: $KB_REALM
  reference: $KB_IMAGE
  source: oci-archive:$KD_DIR/image/busybox-oci.tar
---
apiVersion: v1beta1
kind: Space
metadata:
  name: $KB_SPACE
spec:
  realmId: $KB_REALM
---
apiVersion: v1beta1
kind: Stack
metadata:
  name: $KB_STACK
spec:
  realmId: $KB_REALM
  spaceId: $KB_SPACE
YAML
        "$KB_KUKE" apply -f "$KD_DIR/tree.yaml" --timeout 120s >/dev/null || kb_fail "kuke apply of the tree failed"
        kd_wait_state "$KD_RUN/$KB_REALM/images/busybox.status.yaml" Ready 60
        sed -n 's/^  bridge: //p' "$KD_RUN/$KB_REALM/$KB_SPACE/space.status.yaml" >>"$KD_DIR/bridges"
        KB_CONFLIST=$KD_CONF/$KB_REALM-$KB_SPACE.conflist
        [ -f "$KB_CONFLIST" ] || kb_fail "no conflist $KB_CONFLIST"
        # the floor's namespace gets the same image, unpacked; kukeond does not know the namespace
        ctr -a "$CTRD_ADDRESS" -n "$KB_FLOOR_NS" images import --snapshotter overlayfs \
                "$KD_DIR/image/busybox-oci.tar" >/dev/null || kb_fail "ctr import into $KB_FLOOR_NS failed"
        kb_cell f-tpl 1 >/dev/null
        kb_cell f-tpl3 3 >/dev/null
}

# shellcheck disable=SC2153 # KD_* come from tests/integration/lib/daemon.sh
kb_kd_start() {
        rm -f "$KD_STATE/kukeond.yaml"
        KB_START_FILE=$KD_DIR/start-at
        "$KB_PROBE" exec-stamp "$KB_START_FILE" "$KD_KUKEOND" --log-level debug >>"$KD_LOG" 2>&1 &
        KD_PID=$!
        local i
        for ((i = 0; i < 200; i++)); do
                [ -f "$KD_STATE/kukeond.yaml" ] && break
                kill -0 "$KD_PID" 2>/dev/null || kb_fail "kukeond exited at start"
                sleep 0.05
        done
        [ -f "$KD_STATE/kukeond.yaml" ] || kb_fail "kukeond did not write kukeond.yaml"
        # shellcheck disable=SC2034 # read by bench.sh
        KB_START_AT=$(cat "$KB_START_FILE")
}

kb_kd_kill() {
        kill -KILL "$KD_PID"
        wait "$KD_PID" 2>/dev/null || true
        KD_PID=
}

# kb_cell NAME [CONTAINERS]: the manifest of a cell whose containers stop at once on SIGTERM (a shell
# with a trap waiting on sleep), restartPolicy always with no back-off; prints its path.
kb_cell() {
        local name=$1 n=${2:-1} i f=$KB_STAGE/$1.yaml
        {
                printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: %s\nspec:\n  containers:\n' "$name"
                for ((i = 0; i < n; i++)); do
                        printf '    - id: c%d\n      image: %s\n      command: sh\n' "$i" "$KB_IMAGE"
                        printf '      args: ["-c", "trap '"'"'exit 0'"'"' TERM; sleep 1000000 & wait"]\n'
                        printf '      restartPolicy: always\n      restartBackoffSeconds: 0\n'
                done
        } >"$f"
        echo "$f"
}

kb_probe() {
        "$KB_PROBE" --socket "$CTRD_ADDRESS" --namespace "$KB_NS" --realm "$KB_REALM" --run "$KD_RUN" \
                --stage "$KB_STAGE" "$@"
}

# kb_drop CELL...: CELL names in the bench stack (their staged manifests must exist)
kb_drop() {
        local c args=()
        for c in "$@"; do args+=("$KB_SPACE/$KB_STACK/$c"); done
        kb_probe --timeout "${KB_TIMEOUT:-300}" drop "${args[@]}"
}

kb_remove() {
        local c args=()
        for c in "$@"; do args+=("$KB_SPACE/$KB_STACK/$c"); done
        kb_probe --timeout "${KB_TIMEOUT:-300}" remove "${args[@]}"
}

kb_kill() {
        local c args=()
        for c in "$@"; do args+=("$KB_SPACE/$KB_STACK/$c"); done
        kb_probe --timeout 60 kill "${args[@]}"
}

# kb_floor VERB [--parallel N] [--no-group] [--manifest F] CELL...
kb_floor() {
        local verb=$1 opts=()
        shift
        while [ $# -gt 0 ]; do
                case $1 in
                --parallel | --manifest | --grace) opts+=("$1" "$2"); shift 2 ;;
                --no-group) opts+=("$1"); shift ;;
                *) break ;;
                esac
        done
        "$KB_FLOOR_BIN" --socket "$CTRD_ADDRESS" --namespace "$KB_FLOOR_NS" --realm "$KB_FLOOR_REALM" \
                --space "$KB_SPACE" --stack "$KB_STACK" --manifest "$KB_STAGE/f-tpl.yaml" --conflist "$KB_CONFLIST" \
                --cni-bin-dir "$KUKEOND_CNI_BIN_DIR" --netns-dir "$KB_FLOOR_NETNS" --cgroup-root "$KB_FLOOR_CGROOT" \
                --runc-root "$KUKEOND_RUNC_ROOT" --dir "$KB_FLOOR_DIR" "${opts[@]}" "$verb" "$@"
}

kb_proc_cpu() {
        # fields after the ")" of comm: state is $1, utime $12, stime $13, cutime $14, cstime $15
        sed 's/^.*) //' "/proc/$KD_PID/stat" | awk '{print $12, $13, $14, $15}'
}

kb_proc_mem() {
        local pss
        pss=$(awk '/^Pss:/ {print $2}' "/proc/$KD_PID/smaps_rollup")
        awk -v pss="$pss" '/^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2} /^RssAnon:/ {a = $2} /^RssFile:/ {f = $2}
                END {print r, h, a, f, pss}' "/proc/$KD_PID/status"
}
