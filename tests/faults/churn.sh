#!/usr/bin/env bash
# Fault injection: create/update/delete cycles of cells on a seeded random schedule, kukeond SIGKILLed at
# random moments and started again; at the end the world must equal the tree exactly, and a leak audit
# must find nothing of ours left over: containers, tasks, snapshots, leases, netns, veths, bridges, IPAM
# reservations, iptables rules, cgroup directories, status files.
#
#   tests/faults/churn.sh KUKE KUKEOND [--seed N] [--cycles N] [--cells N]
#
# Reproducible: the same seed gives the same schedule of operations, pauses and kills (the moments a
# kill lands on inside kukeond still vary with the machine). Needs root, containerd, runc, the CNI
# plugins and busybox-static (exit 77 otherwise).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=$here/../integration/lib
kuke=${1:?usage: $0 KUKE KUKEOND [--seed N] [--cycles N] [--cells N]}
kukeond=${2:?usage: $0 KUKE KUKEOND [--seed N] [--cycles N] [--cells N]}
shift 2
seed=${KUKE_CHURN_SEED:-$(date +%s)}
cycles=${KUKE_CHURN_CYCLES:-100}
ncells=6
while [ $# -gt 0 ]; do
        case $1 in
        --seed) seed=$2; shift 2 ;;
        --cycles) cycles=$2; shift 2 ;;
        --cells) ncells=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
        esac
done

# shellcheck source=../integration/lib/containerd.sh
. "$lib/containerd.sh"
# shellcheck source=../integration/lib/daemon.sh
. "$lib/daemon.sh"
# shellcheck source=../integration/lib/image.sh
. "$lib/image.sh"
kd_setup "$kuke" "$kukeond"
kt_build_busybox_image "$KD_DIR/image" || exit $?
echo "churn: seed $seed, $cycles cycles, $ncells cells"
RANDOM=$seed

realm=kz$$
ns=kukeon-$realm
image=docker.io/kukeon/busybox:test
kctr() { ctr -a "$CTRD_ADDRESS" -n "$ns" "$@"; }
stack_dir=$KD_RUN/$realm/s/t

write_cell() { # write_cell NAME VERSION: two containers; the version changes the side container's spec
        local dir=$stack_dir/$1
        mkdir -p "$dir"
        cat >"$dir/.cell.yaml.tmp" <<YAML
apiVersion: v1beta1
kind: Cell
metadata:
  name: $1
spec:
  stopGracePeriodSeconds: 1
  containers:
    - id: main
      image: $image
      command: sleep
      args: ["100000"]
    - id: side
      image: $image
      command: sh
      args: ["-c", "echo v$2; exec sleep $((100000 + $2))"]
      restartPolicy: always
      restartBackoffSeconds: 0
YAML
        mv "$dir/.cell.yaml.tmp" "$dir/cell.yaml"
}

kd_start
kd_apply_base "$realm" "$image"
bridge=$(sed -n 's/^  bridge: //p' "$KD_RUN/$realm/s/space.status.yaml")
net=$(sed -n 's/^  network: //p' "$KD_RUN/$realm/s/space.status.yaml")

declare -A version=()
kills=0 ops=0
for ((cycle = 1; cycle <= cycles; cycle++)); do
        cell=c$((RANDOM % ncells + 1))
        if [ -z "${version[$cell]:-}" ]; then
                version[$cell]=1
                write_cell "$cell" 1
                op=create
        elif ((RANDOM % 2)); then
                version[$cell]=$((version[$cell] + 1))
                write_cell "$cell" "${version[$cell]}"
                op=update
        else
                unset "version[$cell]"
                if ((RANDOM % 2)); then rm -r "${stack_dir:?}/$cell"; else rm "$stack_dir/$cell/cell.yaml"; fi
                op=delete
        fi
        ops=$((ops + 1))
        pause=$((RANDOM % 1500))
        sleep "$((pause / 1000)).$(printf %03d $((pause % 1000)))"
        if ((RANDOM % 3 == 0)); then
                kill -KILL "$KD_PID"
                wait "$KD_PID" 2>/dev/null || true
                KD_PID=
                kills=$((kills + 1))
                kd_start
        fi
        echo "cycle $cycle: $op $cell (pause ${pause} ms)"
done
echo "churn: $ops operations, $kills kills; converging"

# ---- converged: the world equals the tree ----
deadline=$((SECONDS + 240))
converged() {
        local cell
        for cell in "${!version[@]}"; do
                local st=$stack_dir/$cell/cell.status.yaml want
                want=$("$kuke" digest "$stack_dir/$cell/cell.yaml") || return 1
                grep -q "^  observedDigest: \"\{0,1\}$want\"\{0,1\}\$" "$st" 2>/dev/null || return 1
                grep -q '^  state: Ready$' "$st" || return 1
        done
        for cell in "$stack_dir"/*/; do
                [ -d "$cell" ] || continue
                [ -n "${version[$(basename "$cell")]:-}" ] || return 1
        done
        # what was deleted while kukeond was down is collected after its restart
        [ "$(kctr containers ls -q | sort)" = "$(expected_containers)" ] || return 1
        return 0
}
expected_containers() { for c in "${!version[@]}"; do echo "s_t_${c}_root"; echo "s_t_${c}_side"; done | sort; }
until converged; do
        if [ $SECONDS -ge $deadline ]; then
                for c in "$stack_dir"/*/; do
                        echo "--- $c (want version ${version[$(basename "$c")]:-none}, digest $("$kuke" digest "$c/cell.yaml" 2>&1))"
                        grep -E '^  (observedDigest|state|reason|message):' "$c/cell.status.yaml" 2>&1 || true
                done
                echo "want containers: $(expected_containers | tr '\n' ' ')"
                kctr containers ls
                kctr tasks ls
                kd_fail "the tree did not converge (seed $seed)"
        fi
        sleep 0.5
done

echo "== leak audit"
expect_containers=$(expected_containers)
[ "$(kctr containers ls -q | sort)" = "$expect_containers" ] ||
        kd_fail "containers differ from the tree (seed $seed): $(kctr containers ls -q | tr '\n' ' ')"
[ "$(kctr tasks ls | awk 'NR > 1 && $3 == "RUNNING" {print $1}' | sort)" = "$expect_containers" ] ||
        kd_fail "running tasks differ from the tree (seed $seed): $(kctr tasks ls)"
[ "$(kctr tasks ls -q | wc -l)" = "$(echo -n "$expect_containers" | grep -c .)" ] || kd_fail "extra tasks (seed $seed)"
for id in $expect_containers; do
        kctr containers info "$id" | grep >/dev/null "\"kukeon.io/spec-digest\"" || kd_fail "$id has no spec digest"
done
for c in "${!version[@]}"; do
        # the side container runs `sleep 100000+version`: its command line says which spec it was made from
        pid=$(kctr tasks ls | awk -v id="s_t_${c}_side" '$1 == id {print $2}')
        cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
        [ "$cmdline" = "sleep $((100000 + version[$c])) " ] ||
                kd_fail "$c does not run version ${version[$c]} (seed $seed): \"$cmdline\""
done
# snapshots: the image's committed layer(s) and one active snapshot per container
active=$(kctr snapshots ls | awk 'NR > 1 && $3 == "Active" {print $1}' | sort)
[ "$active" = "$expect_containers" ] || kd_fail "active snapshots differ (seed $seed): $active"
leases=$(kctr leases ls -q 2>/dev/null | grep -c . || true)
[ "$leases" = 0 ] || kd_fail "$leases leases left (seed $seed): $(kctr leases ls)"
expect_netns=$(for c in "${!version[@]}"; do echo "kukeon_${realm}_s_t_$c"; done | sort)
[ "$(ls "$KD_NETNS" | sort)" = "$expect_netns" ] || kd_fail "netns differ (seed $seed): $(ls "$KD_NETNS")"
veths=$(ip -o link show master "$bridge" 2>/dev/null | grep -c . || true)
[ "$veths" = "${#version[@]}" ] || kd_fail "$veths veths on $bridge for ${#version[@]} cells (seed $seed)"
reserved=$(find "/var/lib/cni/networks/$net" -name '10.*' 2>/dev/null | wc -l)
[ "$reserved" = "${#version[@]}" ] || kd_fail "host-local holds $reserved addresses for ${#version[@]} cells (seed $seed)"
cg=$(find /sys/fs/cgroup -maxdepth 1 -mindepth 1 -type d | head -n 1)
for h in /sys/fs/cgroup/unified /sys/fs/cgroup/memory /sys/fs/cgroup; do
        [ -d "$h/$KD_CGROOT/$realm/s/t" ] && { cg=$h/$KD_CGROOT/$realm/s/t; break; }
done
expect_cg=$(for c in "${!version[@]}"; do echo "$c"; done | sort)
[ "$(find "$cg" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort)" = "$expect_cg" ] ||
        kd_fail "cgroups differ (seed $seed): $(ls "$cg")"
expect_status=$(for c in "${!version[@]}"; do echo "$stack_dir/$c/cell.status.yaml"; done | sort)
[ "$(find "$stack_dir" -name 'cell.status.yaml' | sort)" = "$expect_status" ] || kd_fail "status files differ (seed $seed)"
if command -v iptables >/dev/null; then
        rules=$(iptables -w 5 -S KUKEON-ISOLATION 2>/dev/null | grep -c -- "$bridge" || true)
        [ "$rules" = 2 ] || kd_fail "$rules isolation rules for $bridge (seed $seed)"
fi

echo "== everything goes with the realm"
rm -rf "${KD_RUN:?}/$realm"
for ((i = 0; i < 600; i++)); do
        ctr -a "$CTRD_ADDRESS" ns ls -q | grep >/dev/null -x "$ns" || break
        sleep 0.1
done
ctr -a "$CTRD_ADDRESS" ns ls -q | grep >/dev/null -x "$ns" && kd_fail "the namespace is left (seed $seed)"
[ -z "$(ls "$KD_NETNS")" ] || kd_fail "netns left (seed $seed)"
ip link show "$bridge" >/dev/null 2>&1 && kd_fail "the bridge is left (seed $seed)"
[ ! -d "/var/lib/cni/networks/$net" ] || kd_fail "IPAM state is left (seed $seed)"
find /sys/fs/cgroup -type d -path "*/$KD_CGROOT/$realm" | grep >/dev/null . && kd_fail "cgroups left (seed $seed)"
if command -v iptables >/dev/null; then
        iptables -w 5 -S KUKEON-ISOLATION 2>/dev/null | grep >/dev/null -- "$bridge" && kd_fail "isolation rules left (seed $seed)"
fi
echo "PASS (seed $seed: $ops operations, $kills kills)"
