#!/usr/bin/env bash
# kuke doctor against temp paths: each check's verdict and remedy, and the exit code.
#   doctor.sh KUKE
set -euo pipefail
kuke=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$tmp/run" "$tmp/state" "$tmp/cni"
for p in bridge host-local portmap loopback; do
        printf '#!/bin/sh\n' > "$tmp/cni/$p"
        chmod +x "$tmp/cni/$p"
done
export KUKEON_RUN_PATH=$tmp/run KUKEON_STATE_DIR=$tmp/state

out=$("$kuke" doctor --cni-bin-dir "$tmp/cni" --containerd-socket "$tmp/none.sock" --netns-dir "$tmp/netns") && rc=0 || rc=$?
[ "$rc" = 1 ] || fail "a missing containerd socket must fail the doctor (exit $rc)"
grep -q "^OK    run path $tmp/run$" <<<"$out" || fail "run path: $out"
grep -q "^OK    CNI plugins bridge, host-local, portmap, loopback in $tmp/cni$" <<<"$out" || fail "plugins: $out"
grep -q "^FAIL  containerd socket $tmp/none.sock" <<<"$out" || fail "containerd: $out"
grep -q -- "-> apt-get install containerd runc" <<<"$out" || fail "containerd remedy: $out"
grep -q "^WARN  kukeond is not running" <<<"$out" || fail "daemon: $out"
grep -q "^OK    netns dir $tmp/netns (kukeond creates it)$" <<<"$out" || fail "netns: $out"

rm "$tmp/cni/portmap"
out=$("$kuke" doctor --cni-bin-dir "$tmp/cni" --containerd-socket "$tmp/none.sock") || true
grep -q "^FAIL  CNI plugins missing from $tmp/cni: portmap$" <<<"$out" || fail "missing plugin: $out"
grep -q -- "-> apt-get install containernetworking-plugins" <<<"$out" || fail "plugin remedy: $out"

ln -s "$tmp/run" "$tmp/link"
out=$(KUKEON_RUN_PATH=$tmp/link "$kuke" doctor --cni-bin-dir "$tmp/cni") || true
grep -q "^FAIL  run path $tmp/link is a symlink$" <<<"$out" || fail "symlinked run path: $out"

"$kuke" doctor --help | grep -q "Usage: kuke doctor" || fail "help"
echo "doctor: 1 passed, 0 failed"
