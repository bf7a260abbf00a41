# shellcheck shell=bash
# A private containerd for integration tests: its own root, state, socket and opt directory under one
# temp dir, CRI disabled (so it touches no CNI config and opens no TCP port). Nothing else on the host is
# used or changed, and everything is stopped and removed when the test exits.
#
# Sourced:
#   . "$here/lib/containerd.sh"
#   ctrd_require    exit 77 (skip) unless root with containerd and runc installed
#   ctrd_start      start it; sets CTRD_DIR and CTRD_ADDRESS; installs the EXIT trap that cleans up
#   ctrd_restart    stop and start it again on the same root/state/socket
#   ctrd_stop       stop it (the trap does this too)
# Run as a command (for a test program that restarts containerd under a live connection):
#   bash lib/containerd.sh restart DIR
#
# The pid lives in $CTRD_DIR/containerd.pid rather than in a shell variable, so a restart done by a child
# process is still stopped by the trap.

ctrd_skip() {
        echo "SKIP: $*" >&2
        exit 77
}

ctrd_require() {
        [ "$(id -u)" = 0 ] || ctrd_skip "needs root"
        command -v containerd >/dev/null 2>&1 || ctrd_skip "containerd is not installed"
        command -v runc >/dev/null 2>&1 || ctrd_skip "runc is not installed"
}

# ctrd_write_config DIR
ctrd_write_config() {
        cat >"$1/config.toml" <<EOF
version = 2
root = "$1/root"
state = "$1/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$1/containerd.sock"
[ttrpc]
  address = "$1/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$1/opt"
EOF
}

# ctrd_launch DIR: starts containerd in its own session, logs appended to DIR/containerd.log, and waits
# up to 20 s for the socket.
ctrd_launch() {
        local dir=$1 i pid
        rm -f "$dir/containerd.sock" # left behind if it was killed: do not mistake it for the new one
        setsid containerd --config "$dir/config.toml" </dev/null >>"$dir/containerd.log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/containerd.pid"
        for ((i = 0; i < 200; i++)); do
                [ -S "$dir/containerd.sock" ] && return 0
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        echo "containerd did not come up; its log:" >&2
        tail -n 30 "$dir/containerd.log" >&2
        return 1
}

# ctrd_stop_dir DIR: SIGTERM, then SIGKILL after 10 s. It may not be our child (restarted by a helper),
# so poll instead of wait.
ctrd_stop_dir() {
        local dir=$1 pid i
        [ -f "$dir/containerd.pid" ] || return 0
        pid=$(cat "$dir/containerd.pid")
        rm -f "$dir/containerd.pid"
        kill -TERM "$pid" 2>/dev/null || return 0
        for ((i = 0; i < 100; i++)); do
                kill -0 "$pid" 2>/dev/null || return 0
                sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
                kill -0 "$pid" 2>/dev/null || return 0
                sleep 0.1
        done
}

# Kills every task of the private containerd and its shims: a test that failed half-way leaves no
# process behind (shims and containers outlive containerd).
ctrd_kill_tasks() {
        local ns id shim
        if [ -S "$CTRD_ADDRESS" ]; then
                for ns in $(ctr -a "$CTRD_ADDRESS" ns ls -q 2>/dev/null); do
                        for id in $(ctr -a "$CTRD_ADDRESS" -n "$ns" tasks ls -q 2>/dev/null); do
                                ctr -a "$CTRD_ADDRESS" -n "$ns" tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
                        done
                done
        fi
        for shim in $(pgrep -f -- "containerd-shim-runc-v2 .*-address $CTRD_ADDRESS( |\$)" || true); do
                pkill -KILL -P "$shim" 2>/dev/null || true
                kill -KILL "$shim" 2>/dev/null || true
        done
}

ctrd_cleanup() {
        [ -n "${CTRD_DIR:-}" ] && [ -d "$CTRD_DIR" ] || return 0
        ctrd_kill_tasks
        ctrd_stop_dir "$CTRD_DIR"
        # Snapshotters may leave mounts below root; never rm -rf through a mount.
        grep -F " $CTRD_DIR/" /proc/self/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
        rm -rf "$CTRD_DIR"
}

ctrd_start() {
        # unix socket paths are limited to 108 bytes: keep the directory short.
        CTRD_DIR=$(mktemp -d /tmp/kuke-ctrd.XXXXXX)
        CTRD_ADDRESS=$CTRD_DIR/containerd.sock
        export CTRD_DIR CTRD_ADDRESS
        trap ctrd_cleanup EXIT
        trap 'exit 143' TERM INT # so that the EXIT trap runs when the test is stopped
        ctrd_write_config "$CTRD_DIR"
        ctrd_launch "$CTRD_DIR"
}

ctrd_stop() {
        ctrd_stop_dir "$CTRD_DIR"
}

ctrd_restart() {
        ctrd_stop_dir "$CTRD_DIR"
        ctrd_launch "$CTRD_DIR"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
        set -euo pipefail
        case "${1:-}" in
        restart)
                [ -f "${2:?usage: containerd.sh restart DIR}/config.toml" ] || { echo "no containerd in $2" >&2; exit 1; }
                ctrd_stop_dir "$2"
                ctrd_launch "$2"
                ;;
        *)
                echo "usage: bash containerd.sh restart DIR" >&2
                exit 2
                ;;
        esac
fi
