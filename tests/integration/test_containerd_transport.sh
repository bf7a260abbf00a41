#!/usr/bin/env bash
# The containerd gRPC transport and first operations (drivers/containerd) against a private containerd:
# Version, namespace ensure/list/delete, 50 concurrent calls on one connection, events, deadlines (also
# against a server that never answers), and a containerd restart under a live connection. The checks are
# in ctrd_smoke (tests/integration/ctrd_smoke.c); this script provides the containerd.
#   test_containerd_transport.sh <kuke> <kukeond> <fixtures-dir>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
kuke=${1:?usage: $0 <kuke> <kukeond> <fixtures-dir>}

# shellcheck source=lib/containerd.sh
. "$here/lib/containerd.sh"
ctrd_require

# ctrd_smoke is built next to the driver: <build>/drivers/containerd/ctrd_smoke, <build>/cli/kuke.
smoke=${CTRD_SMOKE:-$(cd "$(dirname "$kuke")/.." && pwd)/drivers/containerd/ctrd_smoke}
[ -x "$smoke" ] || ctrd_skip "$smoke is not built"

ctrd_start
if ! "$smoke" "$CTRD_ADDRESS" "bash '$here/lib/containerd.sh' restart '$CTRD_DIR'" "$CTRD_DIR"; then
        echo "--- containerd log (tail)" >&2
        tail -n 40 "$CTRD_DIR/containerd.log" >&2
        exit 1
fi
