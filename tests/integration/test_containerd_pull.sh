#!/usr/bin/env bash
# Pulling from a registry (drivers/containerd pull.h: ctrd-pull*.c, registry*.c) into a private
# containerd, with only loopback traffic: a docker-registry on 127.0.0.1 fed by skopeo, and a small
# Python registry for what docker-registry cannot do (token and Basic authentication, a redirect to
# another host).
#   - the busybox image pushed as oci-archive and as docker-archive, pulled with plain HTTP: the record,
#     the committed snapshot of the top chain id, the GC labels; `ctr run` prints ok; pulling again is a
#     no-op
#   - an index with linux/arm64 and linux/amd64 entries: amd64 is pulled, the arm64 manifest is not
#   - a layer corrupted (and one truncated) in the registry's storage: rejected, nothing left behind (no
#     image, blob, snapshot, ingest or lease)
#   - an unknown tag (404), a cancelled pull, the registry stopped (connection refused)
#   - token auth (anonymous and with credentials, cached), Basic auth, wrong credentials; blobs
#     redirected to another host get no Authorization header
# The pulls and checks are ctrd_pull_itest's (drivers/containerd/tests/ctrd_pull_itest.c).
#   test_containerd_pull.sh <kuke> <kukeond> <fixtures-dir>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kuke=${1:?usage: $0 <kuke> <kukeond> <fixtures-dir>}

# shellcheck source=lib/containerd.sh
. "$here/lib/containerd.sh"
# shellcheck source=lib/image.sh
. "$here/lib/image.sh"
# shellcheck source=lib/registry.sh
. "$here/lib/registry.sh"
ctrd_require
for cmd in ctr curl python3 docker-registry skopeo; do
        command -v "$cmd" >/dev/null 2>&1 || ctrd_skip "$cmd is not installed"
done
if ! { [ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1; }; then
        ctrd_skip "busybox-static is not installed"
fi

# Built next to the driver: <build>/drivers/containerd/ctrd_pull_itest, <build>/cli/kuke.
itest=${CTRD_PULL_ITEST:-$(cd "$(dirname "$kuke")/.." && pwd)/drivers/containerd/ctrd_pull_itest}
[ -x "$itest" ] || ctrd_skip "$itest is not built"

fake_pid=
pull_cleanup() {
        local rc=$?
        kt_registry_stop
        if [ -n "$fake_pid" ]; then
                kill "$fake_pid" 2>/dev/null || true
                wait "$fake_pid" 2>/dev/null || true
        fi
        ctrd_cleanup
        exit "$rc"
}
ctrd_start
trap pull_cleanup EXIT

ctr_() { local ns=$1; shift; ctr -a "$CTRD_ADDRESS" -n "$ns" "$@"; }
it() { "$itest" "$CTRD_ADDRESS" "$@"; }
fail() { echo "FAIL: $*" >&2; tail -n 20 "$CTRD_DIR/containerd.log" >&2; exit 1; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export no_proxy='*' NO_PROXY='*' # loopback only, whatever the environment says

img=$CTRD_DIR/img
kt_build_busybox_image "$img" >/dev/null
diff_id=$KT_IMAGE_DIFF_ID
export PULL_PLAIN_HTTP=1

# Pulls $2 into namespace $1 expecting r == $3 (default: success); the output is in $out.
pull() {
        local ns=$1 ref=$2 want=${3:-}
        out=$(it pull "$ns" "$ref" $want 2>&1) || fail "pull $ref into $ns: $out"
        echo "$out"
}

# ---- authentication and redirects, with a small registry of our own (docker-registry needs an external
# token server for Bearer): it serves the busybox layout, wants a token (or Basic), and redirects blob
# requests to "localhost" (another host than 127.0.0.1), where an Authorization header is an error.
cat >"$CTRD_DIR/fakereg.py" <<'EOF'
import base64, http.server, json, os, socketserver, sys

layout, port, mode, user, password, logpath = sys.argv[1], int(sys.argv[2]), *sys.argv[3:7]
manifest_digest = json.load(open(os.path.join(layout, "index.json")))["manifests"][0]["digest"]
TOKEN = "tok-" + os.urandom(8).hex()
BASIC = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
log = open(logpath, "a", buffering=1)

def blob(d):
    return open(os.path.join(layout, "blobs", "sha256", d.split(":")[1]), "rb").read()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, ecode, message, headers=()):
        body = json.dumps({"errors": [{"code": ecode, "message": message}]}).encode()
        self.send(code, body, [("Content-Type", "application/json"), *headers])

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        log.write(f"{self.command} {self.headers.get('Host')} {self.path} {auth.split(' ')[0] or '-'}\n")
        path = self.path
        if path.startswith("/token"):
            if user and auth != BASIC:
                return self.error(401, "UNAUTHORIZED", "bad credentials")
            return self.send(200, json.dumps({"token": TOKEN, "expires_in": 300}).encode(),
                             [("Content-Type", "application/json")])
        if path.startswith("/storage/"):
            if auth:
                return self.error(400, "LEAKED", "Authorization sent to the storage host")
            return self.send(200, blob(path[len("/storage/"):]), [("Content-Type", "application/octet-stream")])
        if auth != ("Bearer " + TOKEN if mode == "bearer" else BASIC):
            challenge = (f'Bearer realm="http://127.0.0.1:{port}/token",service="fake.registry",'
                         f'scope="repository:kukeon/busybox:pull"' if mode == "bearer" else 'Basic realm="fake"')
            return self.error(401, "UNAUTHORIZED", "authentication required", [("WWW-Authenticate", challenge)])
        if path.startswith("/v2/kukeon/busybox/manifests/"):
            tag = path.rsplit("/", 1)[1]
            if tag == "e500":
                return self.error(500, "INTERNAL", "boom")
            if tag == "html":
                return self.send(200, b"<html>a login page</html>", [("Content-Type", "text/html")])
            if tag == "garbage":
                return self.send(200, b"\x00\x01 not json", [("Content-Type", "application/json")])
            if tag not in ("test", manifest_digest):
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            return self.send(200, blob(manifest_digest), [("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                                                          ("Docker-Content-Digest", manifest_digest)])
        if path.startswith("/v2/kukeon/busybox/blobs/"):
            return self.send(307, b"", [("Location", f"http://localhost:{port}/storage/{path.rsplit('/', 1)[1]}")])
        self.error(404, "NAME_UNKNOWN", "no such repository")

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

Server(("127.0.0.1", port), Handler).serve_forever()
EOF

# fake_start MODE USER PASSWORD: the fake registry on a fresh port, in $fake.
fake_start() {
        if [ -n "$fake_pid" ]; then
                kill "$fake_pid" 2>/dev/null || true
                wait "$fake_pid" 2>/dev/null || true
        fi
        local port i
        port=$(free_port)
        : >"$CTRD_DIR/fake.log"
        python3 "$CTRD_DIR/fakereg.py" "$img/layout" "$port" "$1" "$2" "$3" "$CTRD_DIR/fake.log" \
                2>"$CTRD_DIR/fake.err" &
        fake_pid=$!
        fake=127.0.0.1:$port
        for i in $(seq 1 100); do
                curl -s -o /dev/null "http://$fake/v2/" && return 0
                sleep 0.1
        done
        cat "$CTRD_DIR/fake.err" >&2
        fail "the fake registry did not come up"
}
fake_log_count() { grep -c -- "$1" "$CTRD_DIR/fake.log" || true; }

# Bearer, anonymous token
fake_start bearer "" ""
pull kt-auth-anon "$fake/kukeon/busybox:test"
it check kt-auth-anon "$fake/kukeon/busybox:test" "$diff_id" >/dev/null || fail "checks after the token pull"
[ "$(fake_log_count ' /token')" = 1 ] || fail "the token was not cached: $(cat "$CTRD_DIR/fake.log")"
# The first pull into this containerd: the layer is streamed through the redirect.
grep -q "^GET localhost:[0-9]* /storage/$KT_IMAGE_LAYER_DIGEST -$" "$CTRD_DIR/fake.log" ||
        fail "the layer did not come through the redirect without Authorization: $(cat "$CTRD_DIR/fake.log")"
echo "ok Bearer token (anonymous): one token request for the whole pull; the redirect to another host got no Authorization"

# What a registry may answer instead of a manifest
pull kt-auth-anon "$fake/kukeon/busybox:e500" -5 # -EIO
grep -q "HTTP 500 (INTERNAL: boom)" <<<"$out" || fail "500 not in: $out"
pull kt-auth-anon "$fake/kukeon/busybox:html" -74 # -EBADMSG
grep -q 'unexpected Content-Type "text/html"' <<<"$out" || fail "content type not in: $out"
pull kt-auth-anon "$fake/kukeon/busybox:garbage" -74
grep -q "not a JSON object" <<<"$out" || fail "garbage not in: $out"
echo "ok a 500, an HTML page, garbage: -EIO, -EBADMSG, -EBADMSG, with the URL"

# Bearer with credentials: right and wrong, and none
fake_start bearer kuke s3cret
PULL_SERVER=$fake PULL_USERNAME=kuke PULL_PASSWORD=s3cret pull kt-auth-user "$fake/kukeon/busybox:test"
grep -q "^GET 127.0.0.1:[0-9]* /token?service=fake.registry&scope=repository%3Akukeon%2Fbusybox%3Apull Basic$" \
        "$CTRD_DIR/fake.log" || fail "no token request with Basic credentials: $(cat "$CTRD_DIR/fake.log")"
PULL_SERVER=$fake PULL_USERNAME=kuke PULL_PASSWORD=wrong pull kt-auth-wrong "$fake/kukeon/busybox:test" -13
grep -q "token server" <<<"$out" || fail "the message does not name the token server: $out"
pull kt-auth-wrong "$fake/kukeon/busybox:test" -13 # no credentials
PULL_SERVER=other.io PULL_USERNAME=kuke PULL_PASSWORD=s3cret pull kt-auth-wrong "$fake/kukeon/busybox:test" -13
it absent kt-auth-wrong "$fake/kukeon/busybox:test" >/dev/null || fail "after the refused logins"
echo "ok Bearer token with credentials; wrong, missing or other-registry credentials: -EACCES"

# Basic: the credentials go with every request once asked for
fake_start basic kuke s3cret
PULL_SERVER=$fake PULL_USERNAME=kuke PULL_PASSWORD=s3cret pull kt-auth-basic "$fake/kukeon/busybox:test"
it check kt-auth-basic "$fake/kukeon/busybox:test" "$diff_id" >/dev/null || fail "checks after the Basic pull"
[ "$(grep -Ec '^(HEAD|GET) 127.0.0.1:[0-9]+ /v2/kukeon/.* -$' "$CTRD_DIR/fake.log")" = 1 ] ||
        fail "Basic credentials were not reused: $(cat "$CTRD_DIR/fake.log")"
PULL_SERVER=$fake PULL_USERNAME=kuke PULL_PASSWORD=nope pull kt-auth-basic-bad "$fake/kukeon/busybox:test" -13
pull kt-auth-basic-bad "$fake/kukeon/busybox:test" -13
echo "ok Basic: with credentials pulled, wrong or none: -EACCES"

regdir=$CTRD_DIR/registry
kt_registry_start "$regdir" "$(free_port)" || { [ $? = 77 ] && ctrd_skip "no registry"; fail "registry"; }
reg=$KT_REGISTRY
kt_registry_push "$img/busybox-oci.tar" kukeon/busybox:test || fail "skopeo push (oci-archive)"
kt_registry_push "$img/busybox-docker.tar" kukeon/busybox:docker || fail "skopeo push (docker-archive)"

# ---- oci-archive and docker-archive, pulled, checked, run, pulled again
for tag in test docker; do
        ns=kt-pull-$tag
        ref=$reg/kukeon/busybox:$tag
        pull "$ns" "$ref"
        it check "$ns" "$ref" "$diff_id" || fail "checks of $ref"
        got=$(ctr_ "$ns" run --rm "$ref" "t1-$tag" /bin/echo ok) || fail "ctr run $ref"
        [ "$got" = ok ] || fail "ctr run $ref printed '$got'"
        pull "$ns" "$ref" 0 >/dev/null
        echo "ok $tag: pulled, record and committed snapshot, ctr run prints ok, pulled again: no-op"
done

# ---- the Python helper: a two-platform index; images with a random layer of N MiB, intact, corrupted
# or truncated in the registry's storage
cat >"$CTRD_DIR/regtool.py" <<'EOF'
import gzip, hashlib, io, json, os, sys, tarfile, urllib.request

opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

def call(method, url, data=None, headers={}):
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with opener.open(req) as resp:
        return resp.status, dict(resp.headers), resp.read()

def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()

def put_manifest(reg, repo, ref, data, media_type):
    call("PUT", f"http://{reg}/v2/{repo}/manifests/{ref}", data, {"Content-Type": media_type})

def put_blob(reg, repo, data):
    _, h, _ = call("POST", f"http://{reg}/v2/{repo}/blobs/uploads/")
    loc = h["Location"]
    if loc.startswith("/"):
        loc = f"http://{reg}{loc}"
    call("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + digest(data), data,
         {"Content-Type": "application/octet-stream"})
    return digest(data)

def multi(reg, repo, tag):
    _, _, amd = call("GET", f"http://{reg}/v2/{repo}/manifests/test", headers={"Accept": OCI_MANIFEST})
    m = json.loads(amd)
    m["annotations"] = {"kukeon.test": "pretend-arm64"}
    arm = json.dumps(m).encode()
    put_manifest(reg, repo, digest(arm), arm, OCI_MANIFEST)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": digest(arm), "size": len(arm),
         "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        {"mediaType": OCI_MANIFEST, "digest": digest(amd), "size": len(amd),
         "platform": {"architecture": "amd64", "os": "linux"}}]}
    data = json.dumps(index).encode()
    put_manifest(reg, repo, tag, data, OCI_INDEX)
    print(digest(data), digest(amd), digest(arm))

def random_image(reg, repo, tag, storage, how, mib):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        payload = os.urandom(int(mib) << 20)
        info = tarfile.TarInfo("random.bin")
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    layer = gzip.compress(raw.getvalue(), compresslevel=1)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [digest(raw.getvalue())]}}).encode()
    ldig, cdig = put_blob(reg, repo, layer), put_blob(reg, repo, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ldig,
                    "size": len(layer)}]}).encode()
    put_manifest(reg, repo, tag, manifest, OCI_MANIFEST)
    # The registry checked the upload; now the stored file may go bad behind its back.
    hexd = ldig.split(":")[1]
    path = os.path.join(storage, "docker/registry/v2/blobs/sha256", hexd[:2], hexd, "data")
    data = bytearray(open(path, "rb").read())
    if how == "flip":
        data[len(data) // 2] ^= 0xff
    elif how == "truncate":
        data = data[:-100]
    open(path, "wb").write(bytes(data))
    print(ldig, digest(raw.getvalue()))

if sys.argv[1] == "multi":
    multi(*sys.argv[2:5])
else:
    random_image(*sys.argv[2:8])
EOF
regtool() { python3 "$CTRD_DIR/regtool.py" "$@"; }

# ---- an index with linux/arm64 (first) and linux/amd64: amd64 is pulled
read -r index_digest amd_digest arm_digest < <(regtool multi "$reg" kukeon/busybox multi) || fail "building the index"
ns=kt-pull-multi
pull "$ns" "$reg/kukeon/busybox:multi"
grep -q "^pulled $reg/kukeon/busybox:multi application/vnd.oci.image.index.v1+json $index_digest $amd_digest " <<<"$out" ||
        fail "the index did not resolve to the amd64 manifest"
it check "$ns" "$reg/kukeon/busybox:multi" "$diff_id" || fail "checks of the multi-platform pull"
content=$(ctr_ "$ns" content ls)
grep "^$index_digest" <<<"$content" | grep -q "containerd.io/gc.ref.content.m.0=$arm_digest" ||
        fail "the index lacks its m.0 label: $content"
grep "^$index_digest" <<<"$content" | grep -q "containerd.io/gc.ref.content.m.1=$amd_digest" ||
        fail "the index lacks its m.1 label: $content"
! grep -q "^$arm_digest" <<<"$content" || fail "the arm64 manifest was fetched"
got=$(ctr_ "$ns" run --rm "$reg/kukeon/busybox:multi" t1-multi /bin/echo ok) || fail "ctr run multi"
[ "$got" = ok ] || fail "ctr run multi printed '$got'"
echo "ok index with arm64 and amd64: amd64 pulled (labels m.0 and m.1, arm64 never fetched), ctr run prints ok"

# ---- a 40 MiB layer: the download pauses while containerd is behind and resumes
read -r _ big_diff_id < <(regtool random "$reg" kukeon/big v1 "$regdir/data" none 40) || fail "building the big image"
pull kt-pull-big "$reg/kukeon/big:v1"
it check kt-pull-big "$reg/kukeon/big:v1" "$big_diff_id" || fail "checks of the big image"
echo "ok 40 MiB layer streamed and unpacked"

# ---- corrupted and truncated layers: rejected, nothing left
assert_nothing_left() {
        local ns=$1 ref=$2
        it absent "$ns" "$ref" || fail "after the failed pull of $ref"
        [ -z "$(ctr_ "$ns" content ls -q)" ] || fail "blobs left: $(ctr_ "$ns" content ls)"
        [ -z "$(ctr_ "$ns" snapshots ls | awk 'NR > 1')" ] || fail "snapshots left: $(ctr_ "$ns" snapshots ls)"
}
regtool random "$reg" kukeon/corrupt flip "$regdir/data" flip 3 >/dev/null || fail "building the corrupted image"
pull kt-pull-bad "$reg/kukeon/corrupt:flip" -74 # -EBADMSG
grep -q "digest mismatch" <<<"$out" || fail "no digest mismatch in: $out"
grep -q "/v2/kukeon/corrupt/blobs/" <<<"$out" || fail "the message does not name the URL: $out"
assert_nothing_left kt-pull-bad "$reg/kukeon/corrupt:flip"
regtool random "$reg" kukeon/corrupt short "$regdir/data" truncate 3 >/dev/null || fail "building the truncated image"
pull kt-pull-bad "$reg/kukeon/corrupt:short" -74
grep -q "size mismatch" <<<"$out" || fail "no size mismatch in: $out"
assert_nothing_left kt-pull-bad "$reg/kukeon/corrupt:short"
echo "ok corrupted and truncated layers: -EBADMSG naming the URL; no image, blob, snapshot, ingest or lease left"

# ---- unknown tag, cancel
pull kt-pull-404 "$reg/kukeon/busybox:nope" -2 # -ENOENT
grep -q "HTTP 404" <<<"$out" || fail "404 not in: $out"
pull kt-pull-404 "$reg/kukeon/nothing-here:x" -2
it absent kt-pull-404 "$reg/kukeon/busybox:nope" >/dev/null || fail "after the 404"
it cancel kt-pull-cancel "$reg/kukeon/busybox:test" || fail "cancel"
assert_nothing_left kt-pull-cancel "$reg/kukeon/busybox:test"
echo "ok unknown tag and repository: -ENOENT with the 404; a cancelled pull leaves nothing"

# ---- the registry stopped: connection refused
kt_registry_stop
pull kt-pull-down "$reg/kukeon/busybox:test" -111 # -ECONNREFUSED
grep -q "$reg" <<<"$out" || fail "the message does not name the registry: $out"
it absent kt-pull-down "$reg/kukeon/busybox:test" >/dev/null || fail "after connection refused"
echo "ok registry stopped: -ECONNREFUSED"
