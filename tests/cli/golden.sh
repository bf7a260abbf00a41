#!/usr/bin/env bash
# Golden tests of the kuke CLI. No root and no kukeond: a temp run path and state dir; waiting is tested
# by holding kukeond's lock ourselves and writing the status files kukeond would write.
#
# usage: golden.sh KUKE FIXTURES_DIR [EXPECTED_DIR]   (EXPECTED_DIR defaults to FIXTURES_DIR/../expected)
# UPDATE_GOLDEN=1 rewrites the expected files from the current output instead of comparing.
set -euo pipefail

KUKE=$(realpath "$1")
FIX=$(realpath "$2")
EXP=$(realpath "${3:-$FIX/../expected}")
TMP=$(mktemp -d)
RUN=$TMP/run
STATE=$TMP/state
OUT=$TMP/stdout
ERR=$TMP/stderr
LOCKFD=
failures=0
cleanup() {
        local rc=$?
        jobs -p | xargs -r kill 2>/dev/null || true
        rm -rf "$TMP"
        exit "$rc"
}
trap cleanup EXIT
mkdir -p "$STATE"
if [ "$(id -u)" = 0 ]; then
        # as root, kuke init shares the run path with a group: give it one that is there, already shared,
        # so that the output stays the same (tests/cli/init_permissions.sh tests the sharing)
        export KUKEON_GROUP=root
        mkdir -p "$RUN"
        chown root:root "$RUN"
        chmod 2775 "$RUN"
fi
cd "$FIX" # positioned errors name the fixture as given on the command line

kuke() {
        "$KUKE" --run-path "$RUN" --state-dir "$STATE" "$@"
}

# run NAME RC CMD...: runs CMD with stdout and stderr captured, checks its exit code.
run() {
        local name=$1 want=$2 rc=0
        shift 2
        CURRENT=$name
        "$@" >"$OUT" 2>"$ERR" || rc=$?
        if [[ $rc != "$want" ]]; then
                fail "exit code $rc, expected $want"
                sed 's/^/    stdout: /' "$OUT"
                sed 's/^/    stderr: /' "$ERR"
        fi
}

fail() {
        echo "FAIL - $CURRENT: $*"
        failures=$((failures + 1))
}

# AGE values (0s .. 59m) and RFC 3339 times vary; replace them keeping the columns aligned (the AGE
# column is as wide as its header, so a 2-character age is followed by one more blank).
normalise() {
        sed -E -e 's/(  )[0-9][smhd] ( +)/\1AGE\2/g' -e 's/(  )[0-9]{2}[smhd]( +)/\1AGE\2/g' \
                -e 's/(  )[0-9][smhd] $/\1AGE/' -e 's/(  )[0-9]{1,2}[smhd]$/\1AGE/' \
                -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z/TIMESTAMP/g' "$1"
}

# expect_golden FILE: stdout (normalised) equals expected/FILE.
expect_golden() {
        if [[ ${UPDATE_GOLDEN:-} == 1 ]]; then
                normalise "$OUT" >"$EXP/$1"
                return
        fi
        if ! diff -u "$EXP/$1" <(normalise "$OUT") >"$TMP/diff"; then
                fail "stdout differs from expected/$1"
                sed 's/^/    /' "$TMP/diff"
        fi
}

# expect_out TEXT: stdout is exactly TEXT (plus a newline).
expect_out() {
        if [[ "$(cat "$OUT")" != "$1" ]]; then
                fail "unexpected stdout"
                diff -u <(printf '%s\n' "$1") "$OUT" | sed 's/^/    /' || true
        fi
}

expect_err() {
        if [[ "$(cat "$ERR")" != "$1" ]]; then
                fail "unexpected stderr"
                diff -u <(printf '%s\n' "$1") "$ERR" | sed 's/^/    /' || true
        fi
}

expect_err_empty() {
        [[ ! -s $ERR ]] || fail "stderr not empty: $(cat "$ERR")"
}

expect_file() {
        [[ -f $RUN/$1 ]] || fail "$1 was not written"
}

expect_no_file() {
        [[ ! -e $RUN/$1 ]] || fail "$1 exists"
}

expect_grep() { # FILE PATTERN
        grep -qE -- "$2" "$1" || fail "no \"$2\" in $(basename "$1"): $(cat "$1")"
}

expect_no_grep() {
        ! grep -qE -- "$2" "$1" || fail "unexpected \"$2\" in $(basename "$1")"
}

NOTE="kuke: note: kukeond is not running (nothing holds $STATE/kukeond.pid); the manifests are written and take effect when it starts: systemctl start kukeond, or kukeond --run-path $RUN"

# ---- kuke init ----
run init-created 0 kuke init
expect_out 'Realm "default": created
Space "default/default": created
Stack "default/default/default": created
Realm "kukeon-system": created
Space "kukeon-system/kukeon": created
Stack "kukeon-system/kukeon/kukeon": created
Cell "kukeon-system/kukeon/kukeon/kukeond": created'
expect_err "$NOTE"
expect_file kukeon-system/kukeon/kukeon/kukeond/cell.yaml
expect_grep "$RUN/kukeon-system/kukeon/kukeon/kukeond/cell.yaml" 'external: true'
expect_grep "$RUN/default/realm.yaml" 'namespace: kukeon-default'

run init-existed 0 kuke init --wait=false
expect_out 'Realm "default": already existed
Space "default/default": already existed
Stack "default/default/default": already existed
Realm "kukeon-system": already existed
Space "kukeon-system/kukeon": already existed
Stack "kukeon-system/kukeon/kukeon": already existed
Cell "kukeon-system/kukeon/kukeon/kukeond": already existed'
expect_err_empty

run init-wait-explicit 1 kuke init --wait
expect_err "$NOTE"

# ---- kuke apply ----
run apply-created 0 kuke apply -f multi.yaml --wait=false
expect_out 'Realm "main": created
Space "main/blog": created
Stack "main/blog/web": created
Cell "main/blog/web/app": created'
expect_err_empty

run apply-unchanged 0 kuke apply -f multi.yaml --wait=false
expect_out 'Realm "main": unchanged
Space "main/blog": unchanged
Stack "main/blog/web": unchanged
Cell "main/blog/web/app": unchanged'

run apply-configured 0 kuke apply -f cell-changed.yaml --wait=false
expect_out 'Cell "main/blog/web/app": configured'
expect_grep "$RUN/main/blog/web/app/cell.yaml" 'wordpress:6\.5'

run apply-stdin 0 kuke apply -f - --wait=false <cell-changed.yaml
expect_out 'Cell "main/blog/web/app": unchanged'

run apply-malformed 1 kuke apply -f malformed.yaml --wait=false
expect_out ''
expect_grep "$ERR" '^kuke: error: malformed\.yaml:[0-9]+:[0-9]+: '
[[ $(wc -l <"$ERR") == 1 ]] || fail "more than one line on stderr"
expect_no_file main/blog/web/broken

run apply-unknown-field 1 kuke apply -f unknown-field.yaml --wait=false
expect_err 'kuke: error: unknown-field.yaml:11:7: spec.containers[0]: unknown field "imagee"'
expect_no_file main/blog/web/typo

run apply-invalid-parent 1 kuke apply -f invalid-parent.yaml --wait=false
expect_out 'Space "main/good": created'
expect_grep "$ERR" '^kuke: error: invalid-parent\.yaml:8:13: spec\.network\.subnet: '
expect_grep "$ERR" '^kuke: error: Stack "main/bad/orphan": not applied: its parent Space "main/bad" is invalid$'
expect_no_file main/bad

run apply-container-kind 1 kuke apply -f container.yaml --wait=false
expect_err "kuke: error: container.yaml:2:7: kind: Container documents are written by kukeond; put containers in a Cell's spec.containers"

run apply-implicit-parents 0 kuke apply -f implicit-parents.yaml --wait=false
expect_out 'Realm "batch": created (parent of Cell "batch/jobs/nightly/job")
Space "batch/jobs": created (parent of Cell "batch/jobs/nightly/job")
Stack "batch/jobs/nightly": created (parent of Cell "batch/jobs/nightly/job")
Cell "batch/jobs/nightly/job": created'

run apply-image 0 kuke apply -f image.yaml --wait=false
expect_out 'Realm "lab": created
Image "lab/busybox": created'
expect_file lab/images/busybox.yaml

mkdir "$TMP/manifests"
cp image.yaml cell-changed.yaml "$TMP/manifests/"
echo 'not a manifest' >"$TMP/manifests/README.txt"
run apply-dir 0 kuke apply -f "$TMP/manifests" --wait=false
expect_out 'Realm "lab": unchanged
Image "lab/busybox": unchanged
Cell "main/blog/web/app": unchanged'

run apply-no-file 2 kuke apply
run apply-missing-file 1 kuke apply -f does-not-exist.yaml

# ---- kuke get ----
# statuses as kukeond would write them, so the tables show more than Pending
CREATED=$(date -u -d '-5 min' +%Y-%m-%dT%H:%M:%SZ)
write_status() { # DIR KIND NAME: the status body on stdin
        {
                printf 'apiVersion: v1beta1\nkind: %sStatus\nmetadata:\n  name: %s\nstatus:\n' "${2^}" "$3"
                cat
        } >"$RUN/$1/$2.status.yaml"
}
write_status main realm main <<EOF
  state: Ready
  createdAt: "$CREATED"
  namespace: kukeon-main
  cgroupPath: /kukeon/main
EOF
write_status main/blog space blog <<EOF
  state: Ready
  createdAt: "$CREATED"
  network: main-blog
  bridge: kuke-main-blog
  subnet: 10.90.3.0/24
  cgroupPath: /kukeon/main/blog
EOF
write_status main/blog/web/app cell app <<EOF
  state: Degraded
  reason: ContainerExited
  message: "container wp exited with code 1"
  createdAt: "$CREATED"
  cgroupPath: /kukeon/main/blog/web/app
  netns: kukeon_main_blog_web_app
  ip: 10.90.3.2
  rootContainerId: db
  containers:
    - name: db
      containerdId: blog_web_app_root
      state: Ready
      pid: 4242
      startTime: "$CREATED"
    - name: wp
      containerdId: blog_web_app_wp
      state: Exited
      restartCount: 3
      exitCode: 1
      startTime: "$CREATED"
EOF
run get-realms 0 kuke get realms
expect_golden get-realms.txt
run get-spaces-wide 0 kuke get spaces -o wide
expect_golden get-spaces-wide.txt
run get-stacks 0 kuke get st --realm main
expect_golden get-stacks-main.txt
run get-cells 0 kuke get cells
expect_golden get-cells.txt
run get-cells-wide 0 kuke get cells -o wide
expect_golden get-cells-wide.txt
run get-containers-wide 0 kuke get containers -o wide
expect_golden get-containers-wide.txt
run get-cell-yaml 0 kuke get cell app -o yaml
expect_golden get-cell-app.yaml
run get-cell-json 0 kuke get cell main/blog/web/app -o json
expect_golden get-cell-app.json
run get-realms-json 0 kuke get realms --realm main -o json
expect_golden get-realms-main.json
run get-spaces-yaml 0 kuke get spaces --realm main -o yaml
expect_golden get-spaces-main.yaml
run get-container-yaml 0 kuke get container wp -o yaml
expect_golden get-container-wp.yaml
run get-container-json 0 kuke get co main/blog/web/app/db -o json
expect_golden get-container-db.json
run get-realm-status-yaml 0 kuke get realm main -o yaml
expect_golden get-realm-main.yaml
# kukeond's containers/<c>.yaml (effective spec + status) wins over the cell status' entry
mkdir -p "$RUN/main/blog/web/app/containers"
cat >"$RUN/main/blog/web/app/containers/db.yaml" <<EOF
apiVersion: v1beta1
kind: Container
metadata:
  name: db
spec:
  id: db
  realmId: main
  spaceId: blog
  stackId: web
  cellId: app
  image: docker.io/library/mariadb:11
status:
  state: Ready
  containerdId: blog_web_app_root
  restartCount: 2
EOF
run get-container-daemon-file 0 kuke get co db --realm main
expect_grep "$OUT" '^db +main +blog +web +app +Ready +2 '
rm -rf "$RUN/main/blog/web/app/containers"
run get-selector 0 kuke get cells -l tier=web -o name
expect_out 'main/blog/web/app'
run get-selector-not 0 kuke get cells -l '!tier' -o name
expect_out 'batch/jobs/nightly/job
kukeon-system/kukeon/kukeon/kukeond'
run get-selector-with-name 2 kuke get cells app -l tier=web
run get-images-wide 0 kuke get images -o wide
expect_golden get-images-wide.txt
run get-realm-redacted 0 kuke get realm lab -o yaml
expect_golden get-realm-lab.yaml
expect_no_grep "$OUT" hunter2
run get-empty 0 kuke get images --realm main
expect_out 'No images found.'
run get-empty-json 0 kuke get images --realm main -o json
expect_out '[]'
run get-not-found 1 kuke get cell nope
expect_err 'kuke: error: cell "nope" not found'
run get-bad-kind 2 kuke get widgets

# a second stack "web" makes the name ambiguous
run create-stack-web 0 kuke create stack web --wait=false
expect_out 'Stack "default/default/web": created'
run get-ambiguous 1 kuke get stack web
expect_err 'kuke: error: stack "web" is ambiguous: default/default/web, main/blog/web; use --realm or --space'
run get-scoped 0 kuke get stack web --realm main -o name
expect_out 'main/blog/web'

# a manifest broken behind kuke's back shows Failed, with a note saying why
mkdir -p "$RUN/main/blog/web/hand"
printf 'apiVersion: v1beta1\nkind: Cell\nmetadata:\n  name: hand\nspec:\n  containers: 3\n' >"$RUN/main/blog/web/hand/cell.yaml"
run get-invalid-manifest 0 kuke get cell hand
expect_grep "$OUT" '^hand +main +blog +web +Failed '
expect_grep "$ERR" '^kuke: note: .*cell\.yaml:6:[0-9]+: spec\.containers: '
rm -rf "$RUN/main/blog/web/hand"

# ---- kuke create ----
run create-realm 0 kuke create realm extra --namespace extra-ns --wait=false
expect_out 'Realm "extra": created'
expect_grep "$RUN/extra/realm.yaml" 'namespace: extra-ns'
run create-exists 1 kuke create realm extra --wait=false
expect_err 'kuke: error: Realm "extra" already exists (use kuke apply to change it)'
run create-no-parent 1 kuke create space s --realm nope --wait=false
expect_err 'kuke: error: realm "nope" not found'
run create-no-space 1 kuke create stack t --realm extra --space nope --wait=false
expect_err 'kuke: error: space "nope" not found in realm "extra"'
run create-space 0 kuke create space s --realm extra --subnet 10.91.0.0/24 --wait=false
run create-stack 0 kuke create stack t --realm extra --space s --wait=false
run create-cell-no-image 2 kuke create cell c --realm extra --space s --stack t
run create-cell 0 kuke create cell c --realm extra --space s --stack t --image docker.io/library/busybox:1 \
        --command /bin/sh --args -c --args 'sleep 1' --env A=1 --wait=false
expect_out 'Cell "extra/s/t/c": created'
expect_grep "$RUN/extra/s/t/c/cell.yaml" '^  - id: main$'
expect_grep "$RUN/extra/s/t/c/cell.yaml" '^    - sleep 1$'
run create-bad-subnet 1 kuke create space s2 --realm extra --subnet 10.91.0.1/24 --wait=false
expect_grep "$ERR" '^kuke: error: spec\.network\.subnet: '
expect_no_file extra/s2

# ---- stop / start / kill / restart ----
CELL=$RUN/main/blog/web/app/cell.yaml
run stop 0 kuke stop app --wait=false
expect_out 'Cell "main/blog/web/app": stopped'
expect_grep "$CELL" '^  runState: Stopped$'
run stop-again 0 kuke stop cell app --wait=false
expect_out 'Cell "main/blog/web/app": unchanged'
run kill 0 kuke kill app --wait=false
expect_out 'Cell "main/blog/web/app": killed'
expect_grep "$CELL" 'kukeon.io/kill: "true"'
run start 0 kuke start main/blog/web/app --wait=false
expect_out 'Cell "main/blog/web/app": started'
expect_grep "$CELL" '^  runState: Running$'
expect_no_grep "$CELL" 'kukeon.io/kill'
run restart 0 kuke restart app --realm main --wait=false
expect_out 'Cell "main/blog/web/app": restarted'
expect_grep "$CELL" 'kukeon.io/restartedAt: "?[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"?'
run stop-not-a-cell 2 kuke stop space blog
run stop-not-found 1 kuke stop nope --wait=false

# ---- kuke delete ----
run delete-refused 1 kuke delete realm main --wait=false
expect_err 'kuke: error: realm "main" has 2 space(s); use --cascade to delete them too'
expect_file main/realm.yaml
run delete-image-refused 1 kuke delete realm lab --wait=false
expect_err 'kuke: error: realm "lab" has 1 image(s); use --cascade to delete them too'
run delete-image-cascade 0 kuke delete realm lab --cascade --wait=false
expect_out 'Image "lab/busybox": deleted
Realm "lab": deleted'
run delete-file-not-found 0 kuke delete -f implicit-parents.yaml --wait=false
expect_out 'Cell "batch/jobs/nightly/job": deleted'
run delete-file-again 0 kuke delete -f implicit-parents.yaml --wait=false
expect_out 'Cell "batch/jobs/nightly/job": not found'
run delete-cascade 0 kuke delete realm main --cascade --wait=false
expect_out 'Cell "main/blog/web/app": deleted
Stack "main/blog/web": deleted
Space "main/blog": deleted
Space "main/good": deleted
Realm "main": deleted'
expect_no_file main/realm.yaml
expect_no_file main/blog/web/app/cell.yaml
run delete-note 0 kuke delete realm batch --cascade
expect_grep "$ERR" '^kuke: note: kukeond is not running'

# ---- version, help, completion, digest ----
run version 0 kuke version
expect_out 'kuke version 0.1.0
kukeond: not running'
run help 0 kuke --help
expect_grep "$OUT" 'digest FILE'
run help-verb 0 kuke apply --help
run help-after 0 kuke get -h
run no-verb 2 kuke
run unknown-verb 2 kuke frobnicate
run unknown-option 2 kuke get realms --frob
run completion-bash 0 kuke completion bash
expect_grep "$OUT" 'complete -F _kuke kuke'
run completion-zsh 0 kuke completion zsh
expect_grep "$OUT" 'compdef _kuke kuke'
run digest 0 kuke __digest "$RUN/default/realm.yaml"
expect_grep "$OUT" '^sha256:[0-9a-f]{64}$'

# ---- waiting: hold kukeond's lock and play the daemon ----
exec {LOCKFD}>"$STATE/kukeond.pid"
flock -x "$LOCKFD"
echo $$ >&"$LOCKFD"

# fake_status KIND DIR NAME STATE [REASON MESSAGE]: once DIR/KIND.yaml exists, writes the status kukeond
# would write for it (observedDigest from kuke __digest).
fake_status() {
        local kind=$1 dir=$RUN/$2 name=$3 state=$4 reason=${5:-} message=${6:-} i
        for i in $(seq 200); do
                [[ -f $dir/$kind.yaml ]] && break
                sleep 0.05
        done
        local digest
        digest=$("$KUKE" --run-path "$RUN" __digest "$dir/$kind.yaml")
        {
                printf 'apiVersion: v1beta1\nkind: %sStatus\nmetadata:\n  name: %s\nstatus:\n' "${kind^}" "$name"
                printf '  observedDigest: "%s"\n  state: %s\n  createdAt: "2024-01-01T00:00:00Z"\n' "$digest" "$state"
                [[ -z $reason ]] || printf '  reason: %s\n  message: "%s"\n' "$reason" "$message"
        } >"$dir/.$kind.status.tmp"
        mv "$dir/.$kind.status.tmp" "$dir/$kind.status.yaml"
}

run version-running 0 kuke version
expect_out "kuke version 0.1.0
kukeond: running (pid $$)"

fake_status realm w1 w1 Ready &
run wait-ready 0 kuke create realm w1 --timeout 20s
expect_out 'Realm "w1": created
Realm "w1": Ready'
expect_err_empty
wait

fake_status realm w2 w2 Failed NamespaceFailed "containerd said no" &
run wait-failed 1 kuke create realm w2 --timeout 20s
expect_out 'Realm "w2": created
Realm "w2": Failed'
expect_err 'kuke: error: Realm "w2": NamespaceFailed: containerd said no'
wait

run wait-timeout 1 kuke create realm w3 --timeout 1
expect_out 'Realm "w3": created'
expect_err 'kuke: error: timed out after 1s waiting for Realm "w3" (state Pending)'

# a cell written Stopped settles on Stopped, not on Ready
run wait-cell-setup 0 kuke apply -f multi.yaml --wait=false
(
        for i in $(seq 200); do
                grep -q 'runState: Stopped' "$RUN/main/blog/web/app/cell.yaml" && break
                sleep 0.05
        done
        fake_status cell main/blog/web/app app Stopped
) &
run wait-stop 0 kuke stop app --timeout 20s
expect_out 'Cell "main/blog/web/app": stopped
Cell "main/blog/web/app": Stopped'
wait

# delete waits until kukeond has removed the status file
(
        for i in $(seq 200); do
                [[ -f $RUN/w1/realm.yaml ]] || break
                sleep 0.05
        done
        rm -f "$RUN/w1/realm.status.yaml"
) &
run wait-delete 0 kuke delete realm w1 --timeout 20s
expect_out 'Realm "w1": deleted
Realm "w1": Removed'
wait

# the daemon goes away while we wait
(
        sleep 1.5
        flock -u "$LOCKFD"
) &
run wait-daemon-gone 1 kuke create realm w4 --timeout 20s
expect_out 'Realm "w4": created'
expect_err "kuke: error: kukeond stopped while waiting (nothing holds $STATE/kukeond.pid)"
wait
exec {LOCKFD}>&-

if ((failures > 0)); then
        echo "$failures check(s) failed"
        exit 1
fi
echo "all kuke golden checks passed"
