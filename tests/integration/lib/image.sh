# Sourced by integration tests: builds the offline busybox test image from Debian's busybox-static,
# no network needed, byte-for-byte reproducible.
#
#   kt_build_busybox_image OUTDIR [NAME]
#     OUTDIR/busybox-oci.tar      OCI image layout (index.json names it NAME, default
#                                 docker.io/kukeon/busybox:test)
#     OUTDIR/busybox-docker.tar   the same image as a docker-archive ("docker save" format)
#     OUTDIR/layout/              the unpacked OCI layout (blobs/sha256/...)
#   Sets KT_IMAGE_NAME, KT_IMAGE_MANIFEST_DIGEST, KT_IMAGE_CONFIG_DIGEST, KT_IMAGE_LAYER_DIGEST,
#   KT_IMAGE_DIFF_ID.

kt_sha256() { sha256sum "$1" | cut -d' ' -f1; }

# Writes a blob into the layout and prints its "sha256:<hex> <size>" descriptor parts.
kt__blob() {
        local layout=$1 file=$2 digest
        digest=$(kt_sha256 "$file")
        cp "$file" "$layout/blobs/sha256/$digest"
        echo "sha256:$digest $(stat -c %s "$file")"
}

kt_build_busybox_image() {
        local out=$1 name=${2:-docker.io/kukeon/busybox:test}
        local busybox=/bin/busybox work tag=${name##*:}
        [ -x "$busybox" ] && "$busybox" --list >/dev/null 2>&1 || { echo "busybox-static is missing" >&2; return 77; }
        work=$(mktemp -d)
        mkdir -p "$out" "$work/rootfs"/{bin,etc,proc,sys,dev,tmp,root,var,run,www}
        cp "$busybox" "$work/rootfs/bin/busybox"
        local applet
        for applet in $("$busybox" --list); do
                [ "$applet" = busybox ] || ln -sf busybox "$work/rootfs/bin/$applet"
        done
        printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$work/rootfs/etc/passwd"
        printf 'root:x:0:\nnogroup:x:65534:\n' > "$work/rootfs/etc/group"
        chmod 1777 "$work/rootfs/tmp"
        tar --sort=name --numeric-owner --owner=0 --group=0 --mtime='2024-01-01 00:00Z' \
                -C "$work/rootfs" -cf "$work/layer.tar" .
        gzip -n -9 -c "$work/layer.tar" > "$work/layer.tar.gz"
        KT_IMAGE_DIFF_ID=sha256:$(kt_sha256 "$work/layer.tar")

        local layout=$out/layout
        rm -rf "$layout" && mkdir -p "$layout/blobs/sha256"
        local layer config manifest
        layer=$(kt__blob "$layout" "$work/layer.tar.gz")
        cat > "$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["$KT_IMAGE_DIFF_ID"]},"history":[{"created":"2024-01-01T00:00:00Z","created_by":"busybox-static"}]}
JSON
        config=$(kt__blob "$layout" "$work/config.json")
        cat > "$work/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"${config% *}","size":${config#* }},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"${layer% *}","size":${layer#* }}]}
JSON
        manifest=$(kt__blob "$layout" "$work/manifest.json")
        echo '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
        cat > "$layout/index.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${manifest% *}","size":${manifest#* },"annotations":{"io.containerd.image.name":"$name","org.opencontainers.image.ref.name":"$tag"},"platform":{"architecture":"amd64","os":"linux"}}]}
JSON
        tar --sort=name --numeric-owner --owner=0 --group=0 --mtime='2024-01-01 00:00Z' \
                -C "$layout" -cf "$out/busybox-oci.tar" oci-layout index.json blobs

        # docker-archive: manifest.json + <config>.json + <layer dir>/layer.tar (uncompressed)
        local docker=$work/docker cdig=${config% *} ldig=${layer% *}
        cdig=${cdig#sha256:}
        ldig=${ldig#sha256:}
        mkdir -p "$docker/$ldig"
        cp "$work/layer.tar" "$docker/$ldig/layer.tar"
        cp "$work/config.json" "$docker/$cdig.json"
        echo "[{\"Config\":\"$cdig.json\",\"RepoTags\":[\"${name#docker.io/}\"],\"Layers\":[\"$ldig/layer.tar\"]}]" \
                > "$docker/manifest.json"
        tar --sort=name --numeric-owner --owner=0 --group=0 --mtime='2024-01-01 00:00Z' \
                -C "$docker" -cf "$out/busybox-docker.tar" manifest.json "$cdig.json" "$ldig"

        KT_IMAGE_NAME=$name
        KT_IMAGE_MANIFEST_DIGEST=${manifest% *}
        KT_IMAGE_CONFIG_DIGEST=${config% *}
        KT_IMAGE_LAYER_DIGEST=${layer% *}
        rm -rf "$work"
}
