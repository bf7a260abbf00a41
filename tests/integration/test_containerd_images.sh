#!/usr/bin/env bash
# Image import (drivers/containerd ctrd-import.c and below: archive reader, leases, content writer,
# unpack, image records) against a private containerd: the busybox test image as an OCI layout tar and
# as a docker archive, each into its own namespace; the records, snapshots and GC labels compared with
# what `ctr import` makes of the same tars; importing twice is a no-op; broken archives (truncated, a
# ".." path, a wrong diff_id that only the unpack can see) fail and leave no image, no ingest and no
# lease; `ctr run` of the imported image works. The operations are driven by ctrd_images_itest
# (drivers/containerd/tests/ctrd_images_itest.c).
#   test_containerd_images.sh <kuke> <kukeond> <fixtures-dir>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kuke=${1:?usage: $0 <kuke> <kukeond> <fixtures-dir>}

# shellcheck source=lib/containerd.sh
. "$here/lib/containerd.sh"
# shellcheck source=lib/image.sh
. "$here/lib/image.sh"
ctrd_require
command -v ctr >/dev/null 2>&1 || ctrd_skip "ctr is not installed"
command -v python3 >/dev/null 2>&1 || ctrd_skip "python3 is not installed"
[ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 || ctrd_skip "busybox-static is not installed"

# Built next to the driver: <build>/drivers/containerd/ctrd_images_itest, <build>/cli/kuke.
itest=${CTRD_IMAGES_ITEST:-$(cd "$(dirname "$kuke")/.." && pwd)/drivers/containerd/ctrd_images_itest}
[ -x "$itest" ] || ctrd_skip "$itest is not built"

ctrd_start
ctr_() { local ns=$1; shift; ctr -a "$CTRD_ADDRESS" -n "$ns" "$@"; }
it() { "$itest" "$CTRD_ADDRESS" "$@"; }
fail() { echo "FAIL: $*" >&2; tail -n 30 "$CTRD_DIR/containerd.log" >&2; exit 1; }

img=$CTRD_DIR/img
kt_build_busybox_image "$img" >/dev/null
name=$KT_IMAGE_NAME
diff_id=$KT_IMAGE_DIFF_ID

# ---- the content writer on its own
it write kt-write || fail "content writer"

# ---- OCI layout: import, check, compare with ctr, import again
out=$(it import kt-oci "$img/busybox-oci.tar") || fail "import OCI layout: $out"
echo "$out"
echo "$out" | grep -qx "image $name application/vnd.oci.image.manifest.v1+json $KT_IMAGE_MANIFEST_DIGEST $diff_id" ||
        fail "OCI import: unexpected images"
it check kt-oci "$name" "$diff_id" || fail "OCI import: checks"

ctr_ kt-ctr-oci images import "$img/busybox-oci.tar" >/dev/null
# Same target (name, type, digest, size) and the same labels on every blob of ours as ctr gives them.
images_of() { ctr_ "$1" images ls | awk 'NR > 1 {print $1, $2, $3, $4, $5}'; }
[ "$(images_of kt-oci)" = "$(images_of kt-ctr-oci)" ] || fail "image records differ from ctr's:
$(images_of kt-oci)
$(images_of kt-ctr-oci)"
# ctr prints a blob's labels in map order: sort them so the comparison does not depend on it.
content_of() {
        ctr_ "$1" content ls | awk 'NR > 1 {
                n = split($NF, labels, ",")
                for (i = 2; i <= n; i++) { v = labels[i]; j = i - 1
                        while (j > 0 && labels[j] > v) { labels[j + 1] = labels[j]; j-- }
                        labels[j + 1] = v }
                joined = labels[1]
                for (i = 2; i <= n; i++) joined = joined "," labels[i]
                print $1, $2, joined }' | sort
}
ours=$(content_of kt-oci)
theirs=$(content_of kt-ctr-oci)
while read -r line; do
        grep -qxF "$line" <<<"$theirs" || fail "content differs from ctr's: ours $line; ctr's:
$theirs"
done <<<"$ours"
echo "ok OCI layout: record, blobs and labels as ctr import makes them"

out=$(it import kt-oci "$img/busybox-oci.tar" 0) || fail "importing again is not a no-op: $out"
it check kt-oci "$name" "$diff_id" >/dev/null || fail "after importing again"
echo "ok OCI layout imported again: nothing changed"

# ---- docker archive: ctr writes the same docker schema2 manifest (same digest)
out=$(it import kt-docker "$img/busybox-docker.tar") || fail "import docker archive: $out"
echo "$out"
ctr_ kt-ctr-docker images import "$img/busybox-docker.tar" >/dev/null
[ "$(images_of kt-docker)" = "$(images_of kt-ctr-docker)" ] || fail "docker image records differ from ctr's:
$(images_of kt-docker)
$(images_of kt-ctr-docker)"
it check kt-docker "$name" "$diff_id" || fail "docker import: checks"
out=$(it import kt-docker "$img/busybox-docker.tar" 0) || fail "importing the docker archive again: $out"
echo "ok docker archive: same manifest digest as ctr's, imported again: nothing changed"

# ---- the unpack is usable
got=$(ctr_ kt-oci run --rm "$name" kt-run1 /bin/echo ok) || fail "ctr run"
[ "$got" = ok ] || fail "ctr run printed '$got'"
got=$(ctr_ kt-docker run --rm "$name" kt-run2 /bin/echo ok) || fail "ctr run (docker)"
[ "$got" = ok ] || fail "ctr run (docker) printed '$got'"
echo "ok ctr run on both imported images"

# ---- broken archives leave nothing behind
size=$(stat -c %s "$img/busybox-oci.tar")
head -c $((size / 2)) "$img/busybox-oci.tar" >"$img/truncated.tar"
out=$(it import kt-bad "$img/truncated.tar" -5) || fail "truncated archive: $out" # -EIO
echo "$out"
it absent kt-bad "$name" || fail "after the truncated archive"

mkdir -p "$img/evil"
echo x >"$img/evil/x"
python3 - "$img/evil.tar" "$img/evil/x" <<'EOF'
import sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    t.add(sys.argv[2], arcname="oci-layout")
    t.add(sys.argv[2], arcname="../escape")
EOF
out=$(it import kt-bad "$img/evil.tar" -22) || fail "'..' archive: $out" # -EINVAL
echo "$out"
it absent kt-bad "$name" || fail "after the '..' archive"

# A config whose diff_id is not the layer's: only Diff.Apply can tell (the layer is gzip). The blobs are
# written by then; the failure must take them away again (the lease, deleted with sync).
bad=$img/bad-layout
rm -rf "$bad" && cp -r "$img/layout" "$bad"
python3 - "$bad" <<'EOF'
import hashlib, json, os, sys
root = sys.argv[1]
blob = lambda d: os.path.join(root, "blobs", "sha256", d.split(":")[1])
def put(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    open(blob(d), "wb").write(data)
    return d, len(data)
index = json.load(open(os.path.join(root, "index.json")))
entry = index["manifests"][0]
manifest = json.load(open(blob(entry["digest"])))
config = json.load(open(blob(manifest["config"]["digest"])))
config["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
manifest["config"]["digest"], manifest["config"]["size"] = put(json.dumps(config).encode())
entry["digest"], entry["size"] = put(json.dumps(manifest).encode())
entry["annotations"]["io.containerd.image.name"] = "docker.io/kukeon/busybox:bad"
json.dump(index, open(os.path.join(root, "index.json"), "w"))
EOF
tar -C "$bad" -cf "$img/bad-diffid.tar" oci-layout index.json blobs
out=$(it import kt-bad2 "$img/bad-diffid.tar" -74) || fail "wrong diff_id: $out" # -EBADMSG
echo "$out"
it absent kt-bad2 docker.io/kukeon/busybox:bad || fail "after the wrong diff_id"
[ -z "$(ctr_ kt-bad2 content ls -q)" ] || fail "blobs left after the failed import: $(ctr_ kt-bad2 content ls)"
[ -z "$(ctr_ kt-bad2 snapshots ls | awk 'NR > 1')" ] || fail "snapshots left: $(ctr_ kt-bad2 snapshots ls)"
echo "ok broken archives: truncated, '..', wrong diff_id; no image, blob, snapshot, ingest or lease left"
