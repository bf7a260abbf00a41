#!/usr/bin/env bash
# kuke logs and kuke status against a temp run path and state dir: no root, no kukeond, no containerd.
# Log files are written the way kukeond writes them; kukeond's lock is held by this shell (flock, as
# common/pidlock.c takes it) and its status file written by hand.
#   logs_status.sh KUKE
set -euo pipefail
kuke=$(realpath "$1")
tmp=$(mktemp -d)
cleanup() {
        jobs -p | xargs -r kill 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
        echo "FAIL: $*" >&2
        exit 1
}

export KUKEON_RUN_PATH=$tmp/run KUKEON_STATE_DIR=$tmp/state
unset KUKEOND_CONTAINERD_SOCKET
mkdir -p "$tmp/state"
out='' err=''

# run RC CMD...: runs CMD, its stdout in $out and stderr in $err, and checks its exit code.
run() {
        local want=$1 rc=0
        shift
        "$@" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
        out=$(<"$tmp/stdout") err=$(<"$tmp/stderr")
        [[ $rc == "$want" ]] || fail "$*: exit $rc, expected $want
stdout: $out
stderr: $err"
}
expect_out() { [[ $out == "$1" ]] || fail "stdout: expected
$1
got
$out"; }
# has TEXT PATTERN: PATTERN (an extended regex) matches a line of TEXT.
has() {
        local line
        while IFS= read -r line; do
                [[ $line =~ $2 ]] && return 0
        done <<<"$1"
        fail "no line matches \"$2\" in:
$1"
}

# wait_for FILE PATTERN: until a line of FILE (written by a background kuke) matches, at most 5s.
wait_for() {
        for _ in $(seq 500); do
                grep -Eq -- "$2" "$1" 2>/dev/null && return 0
                sleep 0.01
        done
        fail "$1 never showed \"$2\": $(cat "$1")"
}
# wait_exit PID RC: the background kuke PID ends, with exit code RC, within 5s.
wait_exit() {
        local rc=0
        for _ in $(seq 500); do
                kill -0 "$1" 2>/dev/null || break
                sleep 0.01
        done
        kill -0 "$1" 2>/dev/null && fail "kuke logs -f (pid $1) did not end"
        wait "$1" || rc=$?
        [[ $rc == "$2" ]] || fail "kuke logs -f ended with exit $rc, expected $2: $(cat "$tmp/f.err")"
}

# A listening socket stands in for containerd (python3 starts slowly: it does so while the rest runs).
py=
if command -v python3 >/dev/null; then
        python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
print("ready", flush=True)
time.sleep(30)' "$tmp/ctrd.sock" >"$tmp/py.out" &
        py=$!
fi

"$kuke" apply --wait=false -f - >/dev/null <<'EOF'
apiVersion: v1beta1
kind: Cell
metadata:
  name: wp
spec:
  realmId: main
  spaceId: blog
  stackId: web
  containers:
    - id: php
      image: docker.io/library/busybox:1
    - id: nginx
      root: true
      image: docker.io/library/busybox:1
---
apiVersion: v1beta1
kind: Cell
metadata:
  name: db
spec:
  realmId: main
  spaceId: blog
  stackId: web
  containers:
    - id: mariadb
      image: docker.io/library/busybox:1
---
apiVersion: v1beta1
kind: Cell
metadata:
  name: cache
spec:
  realmId: main
  spaceId: blog
  stackId: web
  containers:
    - id: redis
      image: docker.io/library/busybox:1
---
apiVersion: v1beta1
kind: Cell
metadata:
  name: db
spec:
  realmId: main
  spaceId: lab
  stackId: web
  containers:
    - id: mariadb
      image: docker.io/library/busybox:1
EOF
stack=$tmp/run/main/blog/web
wp=$stack/wp
mkdir -p "$wp/logs"
printf 'n1\nn2\nn3\n' >"$wp/logs/nginx.log"
printf 'p1\np2' >"$wp/logs/php.log" # a last line without a newline

# ---- kuke logs ----
run 0 "$kuke" logs wp
expect_out $'n1\nn2\nn3'
has "$err" '^kuke: note: showing container "nginx", the root of cell "main/blog/web/wp" \(its containers: php, nginx\)'
run 0 "$kuke" logs wp --tail 2
expect_out $'n2\nn3'
run 0 "$kuke" logs wp --tail 0
expect_out ''
run 0 "$kuke" logs wp --tail 99
expect_out $'n1\nn2\nn3'
run 0 "$kuke" logs main/blog/web/wp -c php --tail 1
expect_out 'p2'
[[ -z $err ]] || fail "a named container needs no note: $err"
run 0 "$kuke" logs wp --container php
expect_out $'p1\np2'
seq 1 200000 >"$wp/logs/php.log"
run 0 "$kuke" logs wp -c php --tail 3
expect_out $'199998\n199999\n200000'

run 1 "$kuke" logs wp -c nope
has "$err" '^kuke: error: Cell "main/blog/web/wp" has no container "nope" \(its containers: php, nginx\)$'
run 1 "$kuke" logs db
has "$err" '^kuke: error: cell "db" is ambiguous: main/blog/web/db, main/lab/web/db; use --realm, --space or --stack$'
run 1 "$kuke" logs nope
has "$err" '^kuke: error: cell "nope" not found$'
run 1 "$kuke" logs db --space blog
has "$err" "^kuke: error: no log yet for container \"mariadb\" of cell \"main/blog/web/db\": $stack/db/logs/mariadb.log does not exist"
run 2 "$kuke" logs wp --tail x
run 2 "$kuke" logs
run 2 "$kuke" logs wp extra
run 0 "$kuke" logs --help
has "$out" '^Usage: kuke logs CELL'

# symlinks are never followed: not the log, not a directory on the way
echo secret >"$tmp/secret"
mkdir -p "$tmp/run/main/lab/web/db/logs"
ln -s "$tmp/secret" "$tmp/run/main/lab/web/db/logs/mariadb.log"
run 1 "$kuke" logs main/lab/web/db
has "$err" 'mariadb.log: a symlink in the run path is not followed$'
rm -r "$tmp/run/main/lab/web/db/logs"
mkdir "$tmp/elsewhere"
ln -s "$tmp/secret" "$tmp/elsewhere/mariadb.log"
ln -s "$tmp/elsewhere" "$tmp/run/main/lab/web/db/logs"
run 1 "$kuke" logs main/lab/web/db
has "$err" 'a symlink in the run path is not followed$'
rm "$tmp/run/main/lab/web/db/logs"
mkdir "$tmp/run/main/lab/web/db/logs"
ln "$tmp/secret" "$tmp/run/main/lab/web/db/logs/mariadb.log"
run 1 "$kuke" logs main/lab/web/db
has "$err" 'other hard links; refused$'
[[ $out != *secret* ]] || fail "a linked file was printed"

# ---- kuke status, no kukeond ----
realm_status() {
        printf 'apiVersion: v1beta1\nkind: RealmStatus\nmetadata:\n  name: main\nstatus:\n  state: Ready\n' \
                >"$tmp/run/main/.realm.status.tmp"
        mv "$tmp/run/main/.realm.status.tmp" "$tmp/run/main/realm.status.yaml"
}
realm_status
run 1 "$kuke" status --containerd-socket "$tmp/none.sock"
has "$out" "^kukeond: +not running \\(nothing holds $tmp/state/kukeond.pid\\)$"
has "$out" "^status file: +$tmp/state/kukeond.yaml: none$"
has "$out" "^containerd: +not reachable at $tmp/none.sock: No such file or directory$"
has "$out" "^run path: +$tmp/run$"
has "$out" '^realms +1 +Ready 1$'
has "$out" '^spaces +2 +Pending 2$'
has "$out" '^cells +4 +Pending 4$'
has "$out" '^containers +5 +Pending 5$'
has "$out" '^images +0 +-$'
KUKEOND_CONTAINERD_SOCKET=$tmp/env.sock run 1 "$kuke" status -o json
has "$out" '^    "running": false,$'
has "$out" "^    \"socket\": \"$tmp/env.sock\",$"
has "$out" '^  "daemonStatus": \{$'
has "$out" '^    "present": false,$'
run 1 "$kuke" status -o yaml
has "$out" '^  running: false$'
has "$out" '^  total: 14$'
has "$out" '^    cell:$'
run 1 env KUKEON_RUN_PATH="$tmp/missing" "$kuke" status
has "$out" "^run path: +$tmp/missing does not exist \\(kuke init creates it\\)$"
run 2 "$kuke" status -o wide
run 2 "$kuke" status extra
run 0 "$kuke" status --help

# ---- kuke status, kukeond holding its lock ----
exec {lockfd}>"$tmp/state/kukeond.pid"
flock -x "$lockfd"
echo $$ >&"$lockfd"
daemon_file() {
        cat >"$tmp/state/.kukeond.yaml.tmp" <<EOF
apiVersion: v1beta1
kind: DaemonStatus
version: "0.1.0"
pid: $1
startedAt: "2024-01-01T00:00:00Z"
runPath: $tmp/run
stateDir: $tmp/state
containerd:
  socket: $tmp/ctrd.sock
  connected: false
  error: "connect: No such file or directory"
resources:
  total: 4
  byState:
    Ready: 3
    Failed: 1
lastError: "Failed to pull docker.io/library/nope: not found"
EOF
        mv "$tmp/state/.kukeond.yaml.tmp" "$tmp/state/kukeond.yaml"
}
daemon_file $$
run 0 "$kuke" status --containerd-socket "$tmp/none.sock"
has "$out" "^kukeond: +running \\(pid $$\\)$"
has "$out" "^status file: +$tmp/state/kukeond.yaml$"
has "$out" '^version: +0.1.0$'
has "$out" '^started: +2024-01-01T00:00:00Z \(up [0-9]+d\)$'
has "$out" '^last error: +Failed to pull docker.io/library/nope: not found$'
has "$out" "^containerd: +not reachable at $tmp/none.sock: No such file or directory; kukeond: not connected: connect: No such file or directory$"
run 0 "$kuke" status -o json
has "$out" "^    \"pid\": $$,$"
has "$out" '^    "current": true,$'
has "$out" '^        "Failed": 1$'
run 0 "$kuke" status -o yaml
has "$out" '^  version: "0.1.0"$'
has "$out" '^  lastError: "Failed to pull docker.io/library/nope: not found"$'
if [[ -n $py ]]; then
        wait_for "$tmp/py.out" '^ready$'
        run 0 "$kuke" status --containerd-socket "$tmp/ctrd.sock"
        has "$out" "^containerd: +reachable at $tmp/ctrd.sock; kukeond: not connected"
        kill "$py"
        wait "$py" 2>/dev/null || true
fi
daemon_file 1
run 0 "$kuke" status
has "$out" "^status file: +$tmp/state/kukeond.yaml \\(stale: written by pid 1, which does not hold the lock\\)$"
[[ $out != *"version:"* ]] || fail "a stale status file is not shown as current: $out"
sed -i 's/^pid: .*/pid: many/' "$tmp/state/kukeond.yaml"
run 0 "$kuke" status -o json
has "$out" "^    \"error\": \"$tmp/state/kukeond.yaml:4:6: pid: expected an integer\",$"
exec {lockfd}>&-
run 1 "$kuke" status
has "$out" '^kukeond: +not running'

# ---- kuke logs -f ----
log=$wp/logs/nginx.log
"$kuke" logs wp -f --tail 1 >"$tmp/f.out" 2>"$tmp/f.err" &
pid=$!
wait_for "$tmp/f.out" '^n3$'
echo n4 >>"$log"
wait_for "$tmp/f.out" '^n4$'
: >"$log" # truncated: printed again from its start
echo t1 >>"$log"
wait_for "$tmp/f.out" '^t1$'
wait_for "$tmp/f.err" 'nginx.log was truncated; printing it from its start$'
printf 'r1\n' >"$wp/logs/.new"
mv "$wp/logs/.new" "$log" # replaced
wait_for "$tmp/f.out" '^r1$'
echo r2 >>"$log"
wait_for "$tmp/f.out" '^r2$'
has "$(cat "$tmp/f.err")" 'nginx.log was replaced; printing the new file$'
rm "$wp/cell.yaml" # the cell is deleted: following goes on until kukeond has removed its files
echo r3 >>"$log"
wait_for "$tmp/f.out" '^r3$'
rm -r "$wp"
wait_exit "$pid" 0
[[ $(cat "$tmp/f.out") == $'n3\nn4\nt1\nr1\nr2\nr3' ]] || fail "follow printed: $(cat "$tmp/f.out")"
has "$(cat "$tmp/f.err")" "^kuke: note: $log was removed \\(the cell was deleted\\)$"

# a log that does not exist yet is waited for; removing it ends kuke logs -f
db=$stack/db
"$kuke" logs db --space blog -f >"$tmp/f.out" 2>"$tmp/f.err" &
pid=$!
wait_for "$tmp/f.err" "^kuke: note: no log yet for container \"mariadb\" of cell \"main/blog/web/db\"; waiting for $db/logs/mariadb.log$"
mkdir "$db/logs"
echo m1 >"$db/logs/mariadb.log"
wait_for "$tmp/f.out" '^m1$'
echo m2 >>"$db/logs/mariadb.log"
wait_for "$tmp/f.out" '^m2$'
rm "$db/logs/mariadb.log"
wait_exit "$pid" 0
has "$(cat "$tmp/f.err")" "^kuke: note: $db/logs/mariadb.log was removed$"

# a cell deleted before its log appeared
"$kuke" logs cache -f >"$tmp/f.out" 2>"$tmp/f.err" &
pid=$!
wait_for "$tmp/f.err" 'waiting for'
rm "$stack/cache/cell.yaml"
wait_exit "$pid" 0
has "$(cat "$tmp/f.err")" '^kuke: note: Cell "main/blog/web/cache" was deleted before its log appeared$'

echo "logs_status: 1 passed, 0 failed"
