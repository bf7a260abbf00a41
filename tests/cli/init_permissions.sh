#!/usr/bin/env bash
# kuke init as root shares the run path with a group: the group is made when missing, the run path is
# root:GROUP 2775, what is made under it keeps the group and its mode whatever the umask, a member may
# apply and someone else may not. Needs root, useradd and setpriv (exit 77 otherwise); the users and the
# group it makes are removed again.
#   init_permissions.sh KUKE
set -euo pipefail
KUKE=$(realpath "$1")
[ "$(id -u)" = 0 ] || exit 77
for c in useradd userdel groupdel setpriv; do command -v "$c" >/dev/null || exit 77; done

g=kukeon-t$$
member=kukeon-m$$
other=kukeon-o$$
TMP=$(mktemp -d)
chmod 755 "$TMP"
RUN=$TMP/run
STATE=$TMP/state
mkdir -p "$STATE"
cleanup() {
        local rc=$?
        userdel "$member" >/dev/null 2>&1 || true
        userdel "$other" >/dev/null 2>&1 || true
        groupdel "$g" >/dev/null 2>&1 || true
        rm -rf "$TMP"
        exit "$rc"
}
trap cleanup EXIT
fail() {
        echo "FAIL: $*" >&2
        exit 1
}

echo "== kuke init --group: the group is made, the run path shared"
out=$(umask 077 && "$KUKE" init --run-path "$RUN" --state-dir "$STATE" --group "$g" --wait=false 2>/dev/null)
echo "$out" | grep >/dev/null -x "Group \"$g\": created" || fail "no group line: $out"
echo "$out" | grep >/dev/null -x "Run path $RUN: root:$g, mode 2775" || fail "no run path line: $out"
getent group "$g" >/dev/null || fail "group $g was not made"
[ "$(stat -c '%U:%G %a' "$RUN")" = "root:$g 2775" ] || fail "run path: $(stat -c '%U:%G %a' "$RUN")"
# made under umask 077: the mode comes from the parent, not from the umask
for d in default default/default default/default/default kukeon-system/kukeon/kukeon/kukeond; do
        [ "$(stat -c '%G %a' "$RUN/$d")" = "$g 2775" ] || fail "$d: $(stat -c '%G %a' "$RUN/$d")"
done
[ "$(stat -c '%a' "$RUN/default/realm.yaml")" = 644 ] || fail "realm.yaml: $(stat -c '%a' "$RUN/default/realm.yaml")"

echo "== again: nothing to change"
out=$("$KUKE" init --run-path "$RUN" --state-dir "$STATE" --group "$g" --wait=false 2>/dev/null)
echo "$out" | grep >/dev/null "Run path\|Group" && fail "a second init changed something: $out"

echo "== a member of the group may apply; someone else may not"
useradd --system --no-create-home --shell /usr/sbin/nologin --groups "$g" "$member"
useradd --system --no-create-home --shell /usr/sbin/nologin "$other"
printf 'apiVersion: v1beta1\nkind: Stack\nmetadata:\n  name: team\nspec:\n  realmId: default\n  spaceId: default\n' \
        >"$TMP/stack.yaml"
chmod 644 "$TMP/stack.yaml"
as() { # as USER CMD...
        local u=$1
        shift
        setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --init-groups "$@"
}
as "$member" "$KUKE" apply -f "$TMP/stack.yaml" --run-path "$RUN" --state-dir "$STATE" --wait=false \
        >/dev/null 2>&1 || fail "the member could not apply"
[ "$(stat -c '%U:%G %a' "$RUN/default/default/team")" = "$member:$g 2775" ] ||
        fail "the member's directory: $(stat -c '%U:%G %a' "$RUN/default/default/team")"
[ -f "$RUN/default/default/team/stack.yaml" ] || fail "the member's manifest is not there"
sed -i 's/name: team/name: intruder/' "$TMP/stack.yaml"
if as "$other" "$KUKE" apply -f "$TMP/stack.yaml" --run-path "$RUN" --state-dir "$STATE" --wait=false \
        >"$TMP/out" 2>&1; then
        fail "someone outside the group could apply"
fi
grep >/dev/null -i "permission denied" "$TMP/out" || fail "the refusal does not say why: $(cat "$TMP/out")"
[ ! -e "$RUN/default/default/intruder" ] || fail "the refused apply left something behind"
echo "PASS"
