# Sourced by integration tests: a docker-registry bound to 127.0.0.1 only, with its own storage, fed
# with skopeo. Stopped and removed by kt_registry_stop (call it from the test's EXIT trap).
#
#   kt_registry_start DIR [PORT]   sets KT_REGISTRY=127.0.0.1:PORT (default port 5055)
#   kt_registry_push TAR REPO:TAG  pushes an oci-archive or docker-archive tar (by its name)
#   kt_registry_stop

kt_registry_start() {
        local dir=$1 port=${2:-5055}
        command -v docker-registry >/dev/null && command -v skopeo >/dev/null || return 77
        mkdir -p "$dir/data"
        cat > "$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
        docker-registry serve "$dir/config.yml" > "$dir/registry.log" 2>&1 &
        KT_REGISTRY_PID=$!
        KT_REGISTRY=127.0.0.1:$port
        local i
        for i in $(seq 1 100); do
                curl -sf "http://$KT_REGISTRY/v2/" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        echo "registry did not come up; log:" >&2
        cat "$dir/registry.log" >&2
        return 1
}

kt_registry_push() {
        local tar=$1 ref=$2 transport=oci-archive
        case "$tar" in *docker*) transport=docker-archive ;; esac
        skopeo copy --quiet --dest-tls-verify=false "$transport:$tar" "docker://$KT_REGISTRY/$ref"
}

kt_registry_stop() {
        if [ -n "${KT_REGISTRY_PID:-}" ]; then
                kill "$KT_REGISTRY_PID" 2>/dev/null || true
                wait "$KT_REGISTRY_PID" 2>/dev/null || true
                KT_REGISTRY_PID=
        fi
}
