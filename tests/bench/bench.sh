#!/usr/bin/env bash
# The benchmark (docs/performance.md): kukeond against the floor (tests/bench/floor.c: the same
# containerd and CNI calls made directly, no daemon), measured in interleaved rounds in one run so that
# machine noise hits both alike. Run it through contrib/bench, which builds what it needs.
#
#   tests/bench/bench.sh KUKE KUKEOND FLOOR PROBE OUTDIR [--quick] [--rounds N]
#
# Writes OUTDIR/results.jsonl (every trial), OUTDIR/kukeond.log (with the phase stamps), then runs
# tests/bench/report.py: OUTDIR/report.txt (the table, also on stdout) and OUTDIR/report.json.
# Needs root, containerd, runc, ctr, the CNI plugins and busybox-static (exit 77 otherwise); perf is used
# when present. Everything it creates is removed at exit, whatever happens.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=$here/../integration/lib
usage="usage: $0 KUKE KUKEOND FLOOR PROBE OUTDIR [--quick] [--rounds N]"
kuke=${1:?$usage}
kukeond=${2:?$usage}
floor=${3:?$usage}
probe=${4:?$usage}
out=${5:?$usage}
shift 5
quick=false
rounds=
while [ $# -gt 0 ]; do
        case $1 in
        --quick) quick=true; shift ;;
        --rounds) rounds=$2; shift 2 ;;
        *) echo "$usage" >&2; exit 2 ;;
        esac
done

# the sizes of one run: --quick smoke-tests every metric in a few minutes
if $quick; then
        R_ONE=${rounds:-5}      # drop → Running, remove → gone, ctr run: interleaved rounds
        R_KILL=${rounds:-5}     # task killed → replacement Running
        BATCHES="10:1 20:1"     # one apply of N cells: N:rounds
        FLOOR_PAR="2 4 8"       # the floor's parallelism, its best counts
        N_IDLE=20 IDLE_S=10 R_ADOPT=1 R_DROP_BUSY=3
        N_STOPPED=200           # RSS with many cells declared
        N_SHIM=3
        N_FAKE=1000 R_GET=5
else
        R_ONE=${rounds:-60}
        R_KILL=${rounds:-40}
        BATCHES="10:3 50:2"
        FLOOR_PAR="2 4 8 16"
        N_IDLE=100 IDLE_S=60 R_ADOPT=5 R_DROP_BUSY=10
        N_STOPPED=1000
        N_SHIM=10
        N_FAKE=1000 R_GET=30
fi

# shellcheck source=../integration/lib/containerd.sh
. "$lib/containerd.sh"
# shellcheck source=../integration/lib/daemon.sh
. "$lib/daemon.sh"
# shellcheck source=../integration/lib/image.sh
. "$lib/image.sh"
# shellcheck source=lib.sh
. "$here/lib.sh"
command -v ctr >/dev/null || ctrd_skip "ctr is not installed"
command -v python3 >/dev/null || ctrd_skip "python3 is not installed (report.py)"

mkdir -p "$out"
results=$out/results.jsonl
: >"$results"

# rec METRIC ROUND SIDE: wraps each JSON line of stdin; kv METRIC KEY VALUE: one value
rec() {
        local line
        while IFS= read -r line; do
                [ -n "$line" ] && printf '{"metric":"%s","round":%s,"side":"%s","data":%s}\n' "$1" "$2" "$3" "$line" >>"$results"
        done
        return 0
}
kv() {
        printf '{"metric":"%s","key":"%s","value":"%s"}\n' "$1" "$2" "$3" >>"$results"
}
say() { echo "bench: $*" >&2; }
step_cpu() { kb_proc_cpu; }
# cpu_add METRIC BEFORE: adds kukeond's utime+stime (and its children's) since BEFORE to the metric
cpu_add() {
        local now
        now=$(kb_proc_cpu)
        kv "$1" cpu "$2 $now"
}

kv machine nproc "$(nproc)"
kv machine mem_kb "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
kv machine kernel "$(uname -r)"
kv machine cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
kv machine containerd "$(containerd --version | awk '{print $3}')"
kv machine runc "$(runc --version | awk 'NR == 1 {print $3}')"
kv machine clk_tck "$(getconf CLK_TCK)"
kv machine quick "$quick"
kv run loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
# the tree measured: the commit, and what the working tree changes on top of it
kv run commit "$(git -C "$here/../.." rev-parse --short HEAD 2>/dev/null || echo unknown)"
kv run tree_changes "$(git -C "$here/../.." status --porcelain --untracked-files=no 2>/dev/null | awk '{print $2}' | tr '\n' ' ')"
kv run started "$(date -u +%Y-%m-%dT%H:%M:%SZ)"

say "setting up (private containerd and kukeond, realm, image, space, stack)"
kb_setup "$kuke" "$kukeond" "$floor" "$probe" "$out"
kv run realm "$KB_REALM"
kv run floor_ns "$KB_FLOOR_NS"

seq_cells() { # seq_cells PREFIX N: PREFIX1 .. PREFIXN, each staged
        local i
        for ((i = 1; i <= $2; i++)); do
                kb_cell "$1$i" >/dev/null
                echo "$1$i"
        done
}

# ---- warm-up: one of each, not recorded ----
say "warm-up"
kb_cell w1 >/dev/null
kb_drop w1 >/dev/null || kb_fail "warm-up: drop"
kb_remove w1 >/dev/null || kb_fail "warm-up: remove"
kb_floor up w1 >/dev/null || kb_fail "warm-up: floor up"
kb_floor down w1 >/dev/null || kb_fail "warm-up: floor down"
ctr -a "$CTRD_ADDRESS" -n "$KB_FLOOR_NS" run -d --runc-root "$KUKEOND_RUNC_ROOT" "$KB_IMAGE" ctr-w1 sleep 1000 >/dev/null
ctr -a "$CTRD_ADDRESS" -n "$KB_FLOOR_NS" task kill -s SIGKILL ctr-w1 >/dev/null
sleep 0.2
ctr -a "$CTRD_ADDRESS" -n "$KB_FLOOR_NS" task rm -f ctr-w1 >/dev/null 2>&1 || true
ctr -a "$CTRD_ADDRESS" -n "$KB_FLOOR_NS" container rm ctr-w1 >/dev/null

# ---- RSS at 0 cells: a fresh kukeond adopting the tree (the image import is behind it) ----
say "RSS with no cells (a fresh kukeond)"
kd_stop || true
kb_kd_start
sleep 3
kv rss cells0 "$(kb_proc_mem)"

# ---- one cell: drop → Running, remove → gone, against the floor; ctr run -d for orientation ----
say "one cell, $R_ONE interleaved rounds: drop → Running, remove → gone, floor up/down, ctr run -d"
ctr_run_once() {
        local r=$1 id=ctr-$1
        "$KB_PROBE" exec-time 1 ctr -a "$CTRD_ADDRESS" -n "$KB_FLOOR_NS" run -d --runc-root "$KUKEOND_RUNC_ROOT" \
                "$KB_IMAGE" "$id" sh -c "trap 'exit 0' TERM; sleep 1000000 & wait" | rec ctr "$r" ctr
        ctr -a "$CTRD_ADDRESS" -n "$KB_FLOOR_NS" task kill -s SIGKILL "$id" >/dev/null 2>&1 || true
        local i
        for ((i = 0; i < 50; i++)); do
                ctr -a "$CTRD_ADDRESS" -n "$KB_FLOOR_NS" task rm "$id" >/dev/null 2>&1 && break
                sleep 0.05
        done
        ctr -a "$CTRD_ADDRESS" -n "$KB_FLOOR_NS" container rm "$id" >/dev/null 2>&1 || true
}
daemon_one() {
        local r=$1 c=d$1 before
        kb_cell "$c" >/dev/null
        before=$(kb_proc_cpu)
        kb_drop "$c" | rec one "$r" daemon || kb_fail "drop $c"
        kv cpu_up_one "$r" "$before $(kb_proc_cpu) 1"
        # a real cell's status, the model of the fake run path's (kuke get) below
        [ -f "$out/cell.status.sample" ] || cp "$KD_RUN/$KB_REALM/$KB_SPACE/$KB_STACK/$c/cell.status.yaml" "$out/cell.status.sample"
        before=$(kb_proc_cpu)
        kb_remove "$c" | rec gone "$r" daemon || kb_fail "remove $c"
        kv cpu_down_one "$r" "$before $(kb_proc_cpu) 1"
}
floor_one() {
        local r=$1
        kb_floor up "f$r" | rec one "$r" floor || kb_fail "floor up f$r"
        kb_floor down "f$r" | rec gone "$r" floor || kb_fail "floor down f$r"
}
for ((r = 1; r <= R_ONE; r++)); do
        # alternate who goes first, so neither always follows the other's teardown
        if ((r % 2)); then daemon_one "$r"; floor_one "$r"; else floor_one "$r"; daemon_one "$r"; fi
        ctr_run_once "$r"
done

# ---- task killed → replacement Running (restartPolicy always, back-off 0) ----
say "task killed → replacement Running, $R_KILL interleaved rounds"
kb_cell k1 >/dev/null
kb_drop k1 >/dev/null || kb_fail "drop k1"
kb_floor up fk1 >/dev/null || kb_fail "floor up fk1"
for ((r = 1; r <= R_KILL; r++)); do
        if ((r % 2)); then
                kb_kill k1 | rec restart "$r" daemon || kb_fail "kill k1"
                kb_floor restart fk1 | rec restart "$r" floor || kb_fail "floor restart fk1"
        else
                kb_floor restart fk1 | rec restart "$r" floor || kb_fail "floor restart fk1"
                kb_kill k1 | rec restart "$r" daemon || kb_fail "kill k1"
        fi
done
kb_remove k1 >/dev/null || kb_fail "remove k1"
kb_floor down fk1 >/dev/null || kb_fail "floor down fk1"

# ---- one apply of N cells → all Running, against the floor at each parallelism ----
b=0
for nr in $BATCHES; do
        n=${nr%:*}
        R_BATCH=${nr#*:}
        say "one apply of $n cells, $R_BATCH rounds; the floor at parallelism $FLOOR_PAR"
        for ((r = 1; r <= R_BATCH; r++)); do
                b=$((b + 1))
                mapfile -t cells < <(seq_cells "b${b}x" "$n")
                before=$(kb_proc_cpu)
                kb_drop "${cells[@]}" | rec "batch$n" "$r" daemon || kb_fail "drop of $n cells"
                kv "cpu_up_batch$n" "$r" "$before $(kb_proc_cpu) $n"
                before=$(kb_proc_cpu)
                kb_remove "${cells[@]}" | rec "gone$n" "$r" daemon || kb_fail "remove of $n cells"
                kv "cpu_down_batch$n" "$r" "$before $(kb_proc_cpu) $n"
                for p in $FLOOR_PAR; do
                        ((p <= n)) || continue
                        ((n < 50 || p >= 4)) || continue # 50 cells two at a time: clearly not the best, and slow
                        mapfile -t fcells < <(seq_cells "g${b}p${p}x" "$n")
                        kb_floor up --parallel "$p" "${fcells[@]}" | rec "batch$n" "$r" "floor-p$p" || kb_fail "floor up $n"
                        kb_floor down --parallel "$p" "${fcells[@]}" | rec "gone$n" "$r" "floor-p$p" || kb_fail "floor down $n"
                done
        done
done

# ---- N cells running: RSS, idle, a drop among them, kukeond SIGKILLed and restarted ----
say "$N_IDLE cells running: RSS, idle for $IDLE_S s, drops among them, $R_ADOPT restarts"
mapfile -t icells < <(seq_cells i "$N_IDLE")
kb_drop "${icells[@]}" | rec "up$N_IDLE" 1 daemon || kb_fail "drop of $N_IDLE cells"
sleep 2
kv rss "cells$N_IDLE" "$(kb_proc_mem)"
kv idle cells "$N_IDLE"
kv idle seconds "$IDLE_S"
idle_ctx() { cat /proc/"$KD_PID"/task/*/status | awk '/^voluntary_ctxt_switches/ {v += $2} /^nonvoluntary_ctxt_switches/ {n += $2} END {print v + n}'; }
idle_threads() { # per thread: tid:name:switches
        local t
        for t in /proc/"$KD_PID"/task/*; do
                awk -v tid="${t##*/}" '/^Name:/ {n = $2} /ctxt_switches/ {s += $2} END {printf "%s:%s:%d ", tid, n, s}' "$t/status"
        done
}
kv idle threads_before "$(idle_threads)"
idle_stamp=$("$KB_PROBE" mono)
ctx0=$(idle_ctx)
cpu0=$(kb_proc_cpu)
if command -v perf >/dev/null && perf stat -e 'sched:sched_switch' -p "$KD_PID" -x, -o "$out/perf-idle.csv" -- sleep "$IDLE_S" 2>/dev/null; then
        kv idle perf "$(awk -F, '/sched_switch/ {print $1}' "$out/perf-idle.csv")"
else
        sleep "$IDLE_S"
        kv idle perf "unavailable"
fi
kv idle ctx "$ctx0 $(idle_ctx)"
kv idle threads_after "$(idle_threads)"
kv idle cpu "$cpu0 $(kb_proc_cpu)"
kv idle window "$idle_stamp $("$KB_PROBE" mono)"
kv idle threads "$(find /proc/"$KD_PID"/task -mindepth 1 -maxdepth 1 | wc -l)"
# a short strace of the idle daemon: every system call it makes (none, when it is really idle)
if command -v strace >/dev/null; then
        timeout -s INT 5 strace -f -c -p "$KD_PID" -o "$out/strace-idle.txt" >/dev/null 2>&1 || true
        # strace -c prints no table at all when it saw no system call
        kv idle strace_calls "$(awk '$NF == "total" {print $4}' "$out/strace-idle.txt" 2>/dev/null | grep . || echo 0)"
fi

for ((r = 1; r <= R_DROP_BUSY; r++)); do
        kb_cell "busy$r" >/dev/null
        kb_drop "busy$r" | rec "one_busy" "$r" daemon || kb_fail "drop busy$r"
        kb_floor up "fb$r" | rec "one_busy" "$r" floor || kb_fail "floor up fb$r"
        kb_remove "busy$r" >/dev/null || kb_fail "remove busy$r"
        kb_floor down "fb$r" >/dev/null || kb_fail "floor down fb$r"
done

task_pids() { ctr -a "$CTRD_ADDRESS" -n "$KB_NS" tasks ls 2>/dev/null | awk 'NR > 1 {print $1, $2, $3}' | sort; }
for ((r = 1; r <= R_ADOPT; r++)); do
        task_pids >"$out/pids-before.$r"
        kb_kd_kill
        off=$(stat -c %s "$KD_LOG")
        kb_kd_start
        # wait until every cell has had a settled round (the measurement comes from the stamps)
        for ((i = 0; i < 600; i++)); do
                n=$(tail -c +$((off + 1)) "$KD_LOG" | awk -v re="^Cell $KB_REALM/$KB_SPACE/$KB_STACK/i[0-9]+\$" \
                        '$2 == "stamp" && ($4 " " $5) ~ re && $6 == "round-end" && $8 == "ready=1" {seen[$5] = 1} END {print length(seen)}')
                [ "$n" -ge "$N_IDLE" ] && break
                sleep 0.1
        done
        sleep 1
        task_pids >"$out/pids-after.$r"
        # what adopting needs at least: listing the namespace's containers and tasks once
        kb_probe list "$KB_SPACE/$KB_STACK/i1" | rec adopt_floor "$r" probe || true
        kv adopt "$r" "$KB_START_AT $off $(diff -q "$out/pids-before.$r" "$out/pids-after.$r" >/dev/null && echo same || echo changed) $(wc -l <"$out/pids-after.$r")"
done
kv rss "cells${N_IDLE}_restarted" "$(kb_proc_mem)"

before=$(kb_proc_cpu)
kb_remove "${icells[@]}" | rec "down$N_IDLE" 1 daemon || kb_fail "remove of $N_IDLE cells"
kv "cpu_down_idle" 1 "$before $(kb_proc_cpu) $N_IDLE"

# ---- shim memory per cell: three containers a cell, on one shim (kukeond, the floor) or on three ----
say "shim memory: $N_SHIM cells of 3 containers, grouped and not"
shims() { # the shims of namespace $1: count, total RSS kB, total PSS kB
        local pid rss=0 pss=0 n=0 v
        for pid in $(pgrep -f -- "containerd-shim-runc-v2 -namespace $1 .*-address $CTRD_ADDRESS( |\$)" || true); do
                n=$((n + 1))
                v=$(awk '/^VmRSS:/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)
                rss=$((rss + ${v:-0}))
                v=$(awk '/^Pss:/ {print $2}' /proc/"$pid"/smaps_rollup 2>/dev/null || echo 0)
                pss=$((pss + ${v:-0}))
        done
        echo "$n $rss $pss"
}
kb_cell_n() { local i; for ((i = 1; i <= N_SHIM; i++)); do kb_cell "$1$i" 3 >/dev/null; echo "$1$i"; done; }
mapfile -t scells < <(kb_cell_n sh)
kb_drop "${scells[@]}" >/dev/null || kb_fail "drop of the shim cells"
sleep 2
kv shim daemon "$N_SHIM $(shims "$KB_NS")"
kb_remove "${scells[@]}" >/dev/null || kb_fail "remove of the shim cells"
mapfile -t fscells < <(for ((i = 1; i <= N_SHIM; i++)); do echo "fs$i"; done)
kb_floor up --manifest "$KB_STAGE/f-tpl3.yaml" --parallel 4 "${fscells[@]}" >/dev/null || kb_fail "floor up, grouped"
sleep 2
kv shim floor_grouped "$N_SHIM $(shims "$KB_FLOOR_NS")"
kb_floor down --manifest "$KB_STAGE/f-tpl3.yaml" --parallel 4 "${fscells[@]}" >/dev/null || kb_fail "floor down, grouped"
mapfile -t fucells < <(for ((i = 1; i <= N_SHIM; i++)); do echo "fu$i"; done)
kb_floor up --manifest "$KB_STAGE/f-tpl3.yaml" --no-group --parallel 4 "${fucells[@]}" >/dev/null || kb_fail "floor up, ungrouped"
sleep 2
kv shim floor_ungrouped "$N_SHIM $(shims "$KB_FLOOR_NS")"
kb_floor down --manifest "$KB_STAGE/f-tpl3.yaml" --parallel 4 "${fucells[@]}" >/dev/null || kb_fail "floor down, ungrouped"

# ---- many cells declared (runState: Stopped: in the table, statuses written, no task): RSS, and a drop
# among them ----
say "$N_STOPPED cells declared (runState: Stopped): RSS, $R_DROP_BUSY drops among them"
mapfile -t pcells < <(for ((i = 1; i <= N_STOPPED; i++)); do
        kb_cell "p$i" >/dev/null
        sed -i 's/^spec:$/spec:\n  runState: Stopped/' "$KB_STAGE/p$i.yaml"
        echo "p$i"
done)
pargs=()
for c in "${pcells[@]}"; do pargs+=("$KB_SPACE/$KB_STACK/$c"); done
before=$(kb_proc_cpu)
kb_probe --timeout 900 --no-running --state Stopped drop "${pargs[@]}" | rec "stopped$N_STOPPED" 1 daemon ||
        kb_fail "drop of $N_STOPPED Stopped cells"
kv cpu_stopped 1 "$before $(kb_proc_cpu) $N_STOPPED"
sleep 2
kv rss "stopped$N_STOPPED" "$(kb_proc_mem)"
for ((r = 1; r <= R_DROP_BUSY; r++)); do
        kb_cell "many$r" >/dev/null
        kb_drop "many$r" | rec "one_many" "$r" daemon || kb_fail "drop many$r"
        kb_floor up "fm$r" | rec "one_many" "$r" floor || kb_fail "floor up fm$r"
        kb_remove "many$r" | rec "gone_many" "$r" daemon || kb_fail "remove many$r"
        kb_floor down "fm$r" | rec "gone_many" "$r" floor || kb_fail "floor down fm$r"
done
kb_remove "${pcells[@]}" | rec "stopped_gone" 1 daemon || kb_fail "remove of the Stopped cells"

# ---- kuke get cells with N_FAKE cells (a run path of files only: kuke reads, kukeond is not there) ----
say "kuke get cells with $N_FAKE cells, against a bare exec"
fake=$KD_DIR/fake-run
mkdir -p "$fake/fr/fs/ft"
cp "$KD_RUN/$KB_REALM/realm.yaml" "$fake/fr/realm.yaml"
sed -i "s/$KB_REALM/fr/g" "$fake/fr/realm.yaml"
printf 'apiVersion: v1beta1\nkind: Space\nmetadata:\n  name: fs\nspec:\n  realmId: fr\n' >"$fake/fr/fs/space.yaml"
printf 'apiVersion: v1beta1\nkind: Stack\nmetadata:\n  name: ft\nspec:\n  realmId: fr\n  spaceId: fs\n' >"$fake/fr/fs/ft/stack.yaml"
[ -f "$out/cell.status.sample" ] || kb_fail "no sample cell status"
for ((i = 1; i <= N_FAKE; i++)); do
        mkdir -p "$fake/fr/fs/ft/c$i"
        sed "s/^  name: .*/  name: c$i/" "$KB_STAGE/w1.yaml" >"$fake/fr/fs/ft/c$i/cell.yaml"
        sed "s/^  name: .*/  name: c$i/" "$out/cell.status.sample" >"$fake/fr/fs/ft/c$i/cell.status.yaml"
done
n=$("$KB_KUKE" get cells --run-path "$fake" | wc -l)
kv get lines "$n"
kv get files "$("$KB_PROBE" read-tree "$fake")"
for ((r = 1; r <= R_GET; r++)); do
        "$KB_PROBE" exec-time 3 "$KB_KUKE" get cells --run-path "$fake" | rec get "$r" kuke
        "$KB_PROBE" exec-time 3 /bin/true | rec get "$r" true
        # a process that only reads the same files: the I/O floor of any reader of the run path
        "$KB_PROBE" exec-time 3 "$KB_PROBE" read-tree "$fake" | rec get "$r" read-tree
        # process start-up: kuke alone, and kukeond (the first part of a restart)
        "$KB_PROBE" exec-time 3 "$KB_KUKE" version --state-dir "$KD_DIR/none" | rec get "$r" kuke-version
        "$KB_PROBE" exec-time 3 "$KB_KUKEOND" --version | rec get "$r" kukeond-version
done

# ---- the end: kukeond tears the realm down (its isolation rules too), then the traps clean up ----
say "tearing the realm down"
rm -rf "${KD_RUN:?}/$KB_REALM"
for ((i = 0; i < 1200; i++)); do
        [ -e "$KD_RUN/$KB_REALM" ] || break
        sleep 0.1
done
kv run loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
kv run ended "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
kd_stop || true
cp "$KD_LOG" "$out/kukeond.log"
python3 -B "$here/report.py" "$out"
