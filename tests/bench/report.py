#!/usr/bin/env python3
"""The report of one benchmark run (tests/bench/bench.sh): reads OUTDIR/results.jsonl and the phase stamps
of OUTDIR/kukeond.log, writes OUTDIR/report.json and OUTDIR/report.txt (also printed).

    report.py OUTDIR

Percentiles are linear between ranks; with fewer than 100 samples p99 lies between the two largest.
Ratios divide kukeond's figure by the floor's figure measured in the same run (p50 by p50, p99 by p99)."""
import json
import os
import re
import sys
from collections import defaultdict


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def stats(xs):
    xs = [x for x in xs if x is not None and x >= 0]
    if not xs:
        return None
    return {"n": len(xs), "p50": pct(xs, 50), "p90": pct(xs, 90), "p99": pct(xs, 99), "min": min(xs),
            "max": max(xs)}


def ratio(a, b):
    return a / b if a is not None and b else None


# ---- inputs ----

def load(outdir):
    trials = defaultdict(lambda: defaultdict(list))  # metric -> side -> [(round, data)]
    kvs = defaultdict(dict)  # metric -> key -> value (lists for repeated keys)
    with open(os.path.join(outdir, "results.jsonl")) as f:
        for line in f:
            rec = json.loads(line)
            if "data" in rec:
                trials[rec["metric"]][rec["side"]].append((rec["round"], rec["data"]))
            else:
                kvs[rec["metric"]].setdefault(rec["key"], []).append(rec["value"])
    return trials, kvs


STAMP = re.compile(r"^kukeond: stamp (\d+\.\d+) (\S+) (\S+) ?(.*)$")


def load_stamps(path):
    """[(t, kind, subject, text)] in log order, with the byte offset of each line."""
    out = []
    off = 0
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            m = STAMP.match(line)
            if m:
                out.append((float(m.group(1)), m.group(2), m.group(3), m.group(4), off))
            off += len(raw)
    return out


# ---- where a convergence's time goes, from the stamps ----

# netns.Observe (reading eth0 of the cell's netns over netlink) is kukeond's own observation, not a CNI step
CATEGORY = (("ctrd.", "containerd"), ("cni.", "cni"), ("netns.Observe", "netlink"), ("netns.", "cni"),
            ("cg.", "cgroup"), ("fs.", "status"))


def union(intervals):
    total, end = 0.0, None
    start = None
    for a, b in sorted(intervals):
        if end is None or a > end:
            if end is not None:
                total += end - start
            start, end = a, b
        else:
            end = max(end, b)
    if end is not None:
        total += end - start
    return total


def convergence(stamps, realm, cell, t0, t_end):
    """Phase breakdown of a cell between t0 (the drop, the kill or the removal) and t_end."""
    subject = f"{realm}/{cell}"
    rel = f"{realm}/{cell}"
    mine = [s for s in stamps if s[1] == "Cell" and s[2] == subject and t0 <= s[0] <= t_end + 1e-6]
    if not mine:
        return None
    pending = defaultdict(list)
    cat_iv = defaultdict(list)
    n_calls = defaultdict(int)
    rounds = 0
    for t, _, _, text, _ in mine:
        w = text.split()
        if not w:
            continue
        if w[0] == "round":
            rounds += 1
        elif w[0] in ("send", "recv") and len(w) > 1:
            name = w[1]
            if w[0] == "send":
                pending[name].append(t)
                n_calls[name] += 1
            elif pending[name]:
                a = pending[name].pop(0)
                for prefix, cat in CATEGORY:
                    if name.startswith(prefix):
                        cat_iv[cat].append((a, t))
    wall = t_end - t0
    ev = [s[0] for s in stamps if s[1] == "path" and s[2].startswith(rel) and t0 <= s[0] <= t_end]
    t_event = min(ev) if ev else None
    t_round = mine[0][0] if mine[0][3] == "round" else None
    t_scanned = None
    if t_event is not None:
        sc = [s[0] for s in stamps if s[1] == "daemon" and s[3].startswith("scanned") and t_event <= s[0] <= t_end]
        t_scanned = min(sc) if sc else None
    ctrd = union(cat_iv["containerd"])
    cni = union(cat_iv["cni"])
    outside = union(cat_iv["containerd"] + cat_iv["cni"])
    res = {
        "wall_ms": wall * 1e3,
        "containerd_ms": ctrd * 1e3,
        "cni_ms": cni * 1e3,
        "cgroup_ms": union(cat_iv["cgroup"]) * 1e3,
        "status_ms": union(cat_iv["status"]) * 1e3,
        "netlink_ms": union(cat_iv["netlink"]) * 1e3,
        # the definition: wall time minus the time inside containerd and CNI
        "own_ms": (wall - outside) * 1e3,
        "rounds": rounds,
        "ctrd_calls": sum(v for k, v in n_calls.items() if k.startswith("ctrd.")),
        "calls": dict(n_calls),
    }
    if t_event is not None:
        res["to_event_ms"] = (t_event - t0) * 1e3
    if t_event is not None and t_scanned is not None:
        res["event_to_scanned_ms"] = (t_scanned - t_event) * 1e3
    if t_round is not None:
        res["to_first_round_ms"] = (t_round - t0) * 1e3
    return res


def first_stamp(stamps, realm, cell, after, text_re):
    rx = re.compile(text_re)
    for t, kind, subj, text, _ in stamps:
        if t >= after and kind == "Cell" and subj == f"{realm}/{cell}" and rx.search(text):
            return t
    return None


def merge_breakdowns(items):
    items = [i for i in items if i]
    if not items:
        return None
    keys = sorted({k for i in items for k, v in i.items() if isinstance(v, (int, float))})
    out = {k: pct([i[k] for i in items if k in i], 50) for k in keys}
    calls = defaultdict(list)
    for i in items:
        for k, v in i.get("calls", {}).items():
            calls[k].append(v)
    out["calls_p50"] = {k: pct(v, 50) for k, v in sorted(calls.items())}
    out["n"] = len(items)
    return out


# ---- the metrics ----

def daemon_values(trials, metric, field):
    return [d.get(field) for _, d in trials[metric]["daemon"] if d.get("ok", True)]


def floor_cells(trials, metric, side="floor"):
    return [d["ms"] for _, d in trials[metric][side] if "cell" in d and d.get("r", 0) >= 0]


def floor_marks(trials, metric, side="floor"):
    steps = defaultdict(list)
    for _, d in trials[metric][side]:
        prev = 0.0
        for name, at in d.get("marks", []):
            steps[name].append(at - prev)
            prev = at
    return {k: pct(v, 50) for k, v in steps.items()}


def cpu_ms(kvs, metric, hz):
    """kukeond's own CPU (utime+stime) and its children's (the CNI plugins it ran), ms per container."""
    own = kids = n = 0.0
    for key, values in kvs.get(metric, {}).items():
        for v in values:
            f = [float(x) for x in v.split()]
            if len(f) != 9:
                continue
            own += (f[4] + f[5]) - (f[0] + f[1])
            kids += (f[6] + f[7]) - (f[2] + f[3])
            n += f[8]
    if not n:
        return None
    return {"containers": n, "own_ms": own * 1000.0 / hz / n, "children_ms": kids * 1000.0 / hz / n}


def idle_threads(before, after):
    """The threads whose context switches changed: {"tid name": delta}."""
    def parse(s):
        out = {}
        for item in (s or "").split():
            tid, rest = item.split(":", 1)
            name, n = rest.rsplit(":", 1)
            out[f"{tid} {name}"] = int(n)
        return out
    b, a = parse(before), parse(after)
    return {k: a[k] - b.get(k, 0) for k in a if a[k] != b.get(k, 0)}


def main():
    outdir = sys.argv[1]
    trials, kvs = load(outdir)
    stamps = load_stamps(os.path.join(outdir, "kukeond.log"))
    one = lambda m, k: kvs.get(m, {}).get(k, [None])[-1]
    realm = one("run", "realm")
    hz = float(one("machine", "clk_tck") or 100)
    space_stack = "s/t"
    rep = {"machine": {k: v[-1] for k, v in kvs["machine"].items()},
           "run": {k: v[-1] for k, v in kvs["run"].items()}, "metrics": {}}
    M = rep["metrics"]

    # full resyncs (the resync timer, a watcher restart after 512 stale watches, a reconnection): a trial
    # they overlap measured more than its own convergence
    resyncs = [s[0] for s in stamps if s[1] == "daemon" and s[3].startswith("scan full=1")]
    rep["run"]["full_resyncs"] = len(resyncs)

    def disturbed(metric, field):
        n = 0
        for _, d in trials[metric]["daemon"]:
            end = d["t0"] + max(d.get(field, 0), 0) / 1e3
            n += any(d["t0"] <= t <= end for t in resyncs)
        return n

    def latency(name, metric, dfield, target, limit50=None, limit99=None, floor_side="floor", note=""):
        d = stats(daemon_values(trials, metric, dfield))
        fl = stats(floor_cells(trials, metric, floor_side))
        r50 = ratio(d and d["p50"], fl and fl["p50"])
        r99 = ratio(d and d["p99"], fl and fl["p99"])
        met = None
        if limit50 is not None and r50 is not None:
            met = r50 <= limit50 and (limit99 is None or (r99 is not None and r99 <= limit99))
        M[name] = {"kukeond": d, "floor": fl, "ratio_p50": r50, "ratio_p99": r99, "target": target, "met": met,
                   "note": note, "trials_with_a_full_resync": disturbed(metric, dfield)}
        return M[name]

    # drop → Running, one cell
    m = latency("drop_1_cell_running", "one", "running_ms", "p50 <= 1.05 x floor; p99 <= 1.2 x floor p99",
                1.05, 1.2)
    m["status_ready"] = stats(daemon_values(trials, "one", "ready_ms"))
    bd = []
    for _, d in trials["one"]["daemon"]:
        c = d["per_cell"][0]["cell"]
        if d.get("running_ms", -1) > 0:
            bd.append(convergence(stamps, realm, c, d["t0"], d["t0"] + d["running_ms"] / 1e3))
    m["kukeond_breakdown_p50"] = merge_breakdowns(bd)
    m["floor_steps_p50"] = floor_marks(trials, "one")
    m["ctr_run_d"] = stats([x for _, d in trials["ctr"]["ctr"] for x in d.get("ms", [])])

    # remove → gone
    m = latency("remove_1_cell_gone", "gone", "gone_ms", "p50 <= 1.1 x floor", 1.1)
    bd = []
    for _, d in trials["gone"]["daemon"]:
        c = d["per_cell"][0]["cell"]
        if d.get("gone_ms", -1) > 0:
            bd.append(convergence(stamps, realm, c, d["t0"], d["t0"] + d["gone_ms"] / 1e3))
    m["kukeond_breakdown_p50"] = merge_breakdowns(bd)
    m["floor_steps_p50"] = floor_marks(trials, "gone")

    # kill → replacement Running
    m = latency("task_killed_restarted", "restart", "running_ms", "p50 <= 1.1 x floor", 1.1)
    bd = []
    for _, d in trials["restart"]["daemon"]:
        c = d["per_cell"][0]["cell"]
        if d.get("running_ms", -1) > 0:
            b = convergence(stamps, realm, c, d["t0"], d["t0"] + d["running_ms"] / 1e3)
            if b is not None:
                ex = [s[0] for s in stamps if s[1] == "daemon" and "/tasks/exit" in s[3]
                      and s[3].endswith(c.replace("/", "_") + "_root") and d["t0"] <= s[0]]
                if ex:
                    b["to_exit_event_ms"] = (min(ex) - d["t0"]) * 1e3
            bd.append(b)
    m["kukeond_breakdown_p50"] = merge_breakdowns(bd)
    m["floor_steps_p50"] = floor_marks(trials, "restart")

    # one apply of N cells
    for metric in sorted(k for k in trials if re.fullmatch(r"batch\d+", k)):
        n = metric[5:]
        d = stats(daemon_values(trials, metric, "running_ms"))
        per_p = {}
        for side in trials[metric]:
            if side.startswith("floor-p"):
                per_p[int(side[7:])] = stats([x["wall_ms"] for _, x in trials[metric][side] if x.get("summary")])
        best = min(per_p, key=lambda p: per_p[p]["p50"]) if per_p else None
        fl = per_p.get(best)
        r50 = ratio(d and d["p50"], fl and fl["p50"])
        M[f"apply_{n}_cells_running"] = {
            "kukeond": d, "floor": fl, "floor_best_parallelism": best,
            "floor_by_parallelism": {str(p): s for p, s in sorted(per_p.items())}, "ratio_p50": r50,
            "ratio_p99": None, "target": "p50 <= 1.1 x floor at its best parallelism",
            "met": r50 is not None and r50 <= 1.1,
            "status_ready": stats(daemon_values(trials, metric, "ready_ms"))}
        g = f"gone{n}"
        if g in trials:
            gd = stats(daemon_values(trials, g, "gone_ms"))
            gp = {}
            for side in trials[g]:
                if side.startswith("floor-p"):
                    gp[int(side[7:])] = stats([x["wall_ms"] for _, x in trials[g][side] if x.get("summary")])
            gb = min(gp, key=lambda p: gp[p]["p50"]) if gp else None
            M[f"remove_{n}_cells_gone"] = {"kukeond": gd, "floor": gp.get(gb), "floor_best_parallelism": gb,
                                          "floor_by_parallelism": {str(p): x for p, x in sorted(gp.items())},
                                          "ratio_p50": ratio(gd and gd["p50"], gb and gp[gb]["p50"]),
                                          "target": "(no target; reported)", "met": None}

    # drop among N running cells
    if "one_busy" in trials:
        n_idle = one("idle", "cells")
        m = latency("drop_1_cell_running_among_busy", "one_busy", "running_ms",
                    f"(no target; the same drop with {n_idle} cells running)")
        bd = []
        for _, d in trials["one_busy"]["daemon"]:
            c = d["per_cell"][0]["cell"]
            if d.get("running_ms", -1) > 0:
                bd.append(convergence(stamps, realm, c, d["t0"], d["t0"] + d["running_ms"] / 1e3))
        m["kukeond_breakdown_p50"] = merge_breakdowns(bd)

    # CPU per container started
    cpu = {k: cpu_ms(kvs, k, hz) for k in kvs if k.startswith("cpu_up")}
    allv = [v for v in cpu.values() if v]
    total_n = sum(v["containers"] for v in allv)
    overall = None
    if total_n:
        overall = sum(v["own_ms"] * v["containers"] for v in allv) / total_n
    fcpu = fn = 0.0
    for metric in [k for k in trials if k == "one" or re.fullmatch(r"batch\d+", k)]:
        for side, rows in trials[metric].items():
            for _, x in rows:
                if side.startswith("floor") and x.get("summary") and "cpu_ms" in x:
                    fcpu += x["cpu_ms"]
                    fn += x["cells"]
    floor_cpu = fcpu / fn if fn else None
    M["cpu_per_container_started"] = {
        "kukeond_ms": overall, "floor_ms": floor_cpu, "ratio": ratio(overall, floor_cpu), "by_scenario": cpu,
        "target": "<= 1 ms", "met": overall is not None and overall <= 1.0,
        "teardown": {k: cpu_ms(kvs, k, hz) for k in kvs if k.startswith("cpu_down")},
        "stopped_cells": cpu_ms(kvs, "cpu_stopped", hz)}

    # idle
    if "idle" in kvs:
        secs = float(one("idle", "seconds"))
        c0, c1 = (int(x) for x in one("idle", "ctx").split())
        f = [float(x) for x in one("idle", "cpu").split()]
        w0, w1 = (float(x) for x in one("idle", "window").split())
        cpu_pct = ((f[4] + f[5]) - (f[0] + f[1])) / hz / (w1 - w0) * 100.0
        perf = one("idle", "perf")
        if perf == "<not counted>":
            perf = "0"  # perf's word for a counter whose task never ran: no switch at all
        resyncs = [s for s in stamps if w0 <= s[0] <= w1 and s[1] == "daemon" and s[3].startswith("scan full=1")]
        busy = [s for s in stamps if w0 <= s[0] <= w1]
        M["idle"] = {"cells": int(one("idle", "cells")), "seconds": w1 - w0,
                     "wakeups_per_s": (c1 - c0) / (w1 - w0),
                     "sched_switch_per_s": float(perf) / secs if perf and perf.replace(".", "").isdigit() else None,
                     "cpu_percent": cpu_pct, "threads": int(one("idle", "threads")),
                     "stamps_in_window": len(busy), "resyncs_in_window": len(resyncs),
                     "threads_that_switched": idle_threads(one("idle", "threads_before"), one("idle", "threads_after")),
                     "strace_calls_5s": one("idle", "strace_calls"),
                     "target": "0 wakeups/s and 0.00 % CPU",
                     "met": (c1 - c0) == 0 and cpu_pct < 0.005}

    # RSS
    rss = {}
    for k, v in kvs.get("rss", {}).items():
        f = [int(x) for x in v[-1].split()]
        rss[k] = {"VmRSS_MiB": f[0] / 1024.0, "VmHWM_MiB": f[1] / 1024.0}
        if len(f) >= 5:
            rss[k].update({"RssAnon_MiB": f[2] / 1024.0, "RssFile_MiB": f[3] / 1024.0, "Pss_MiB": f[4] / 1024.0})
    targets = {"cells0": 2, "cells100": 4, "cells1000": 16, "stopped1000": 16}
    for k, t in targets.items():
        if k in rss:
            rss[k]["target_MiB"] = t
            rss[k]["met"] = rss[k]["VmRSS_MiB"] <= t
    M["rss"] = rss

    # shims
    sh = {}
    for k, v in kvs.get("shim", {}).items():
        cells, n, r, p = (int(x) for x in v[-1].split())
        sh[k] = {"cells": cells, "shims": n, "rss_MiB_per_cell": r / 1024.0 / cells, "pss_MiB_per_cell": p / 1024.0 / cells}
    M["shim_memory_per_cell"] = sh

    # kuke get
    if "get" in trials:
        k = stats([x for _, d in trials["get"]["kuke"] for x in d["ms"]])
        t = stats([x for _, d in trials["get"]["true"] for x in d["ms"]])
        r = ratio(k and k["p50"], t and t["p50"])
        rt = stats([x for _, d in trials["get"]["read-tree"] for x in d["ms"]])
        M["process_start"] = {"kuke": stats([x for _, d in trials["get"]["kuke-version"] for x in d["ms"]]),
                              "kukeond": stats([x for _, d in trials["get"]["kukeond-version"] for x in d["ms"]]),
                              "true": t}
        M["kuke_get_cells_1000"] = {"kukeond": k, "floor": t, "floor_is": "/bin/true", "ratio_p50": r,
                                     "read_tree": rt, "ratio_read_tree_p50": ratio(k and k["p50"], rt and rt["p50"]),
                                     "lines": one("get", "lines"), "files": one("get", "files"),
                                     "target": "p50 <= 30 ms and <= 10 x a bare exec",
                                     "met": k is not None and k["p50"] <= 30 and r is not None and r <= 10}

    # adoption after SIGKILL
    adopt = []
    n_idle = int(one("idle", "cells") or 0)
    for key, values in kvs.get("adopt", {}).items():
        start_at, off, same, n_tasks = values[-1].split()
        start_at, off = float(start_at), int(off)
        after = [s for s in stamps if s[4] >= off]
        first = {}
        wrote = starts = 0
        for t, kind, subj, text, _ in after:
            if kind != "Cell" or not re.fullmatch(rf"{re.escape(realm)}/{space_stack}/i\d+", subj):
                continue
            if text.startswith("round-end") and " ready=1 " in text and subj not in first:
                first[subj] = t
                wrote += " wrote=1 " in text
            if text.startswith("send ctrd.TaskStart") or text.startswith("send ctrd.TaskCreate"):
                starts += 1
        st = [s[0] for s in after if s[1] == "daemon" and s[3].startswith("start ")]
        rd = [s[0] for s in after if s[1] == "daemon" and s[3] == "ctrd-ready"]
        if len(first) < n_idle:
            adopt.append({"round": key, "cells_settled": len(first), "error": "not every cell settled"})
            continue
        last = max(first.values())
        adopt.append({"round": key, "adopted_ms": (last - start_at) * 1e3,
                      "exec_to_main_ms": (st[0] - start_at) * 1e3 if st else None,
                      "exec_to_ctrd_ready_ms": (rd[0] - start_at) * 1e3 if rd else None,
                      "statuses_rewritten": wrote, "tasks_started": starts, "task_pids": same,
                      "tasks": int(n_tasks)})
    ok = [a for a in adopt if "adopted_ms" in a]
    limit = 100 + 0.5 * n_idle
    s = stats([a["adopted_ms"] for a in ok])
    ps = M.get("process_start", {}).get("kukeond")
    lists = {}
    for key in ("containers_ms", "tasks_ms", "cell_containers_ms"):
        lists[key] = pct([x for _, d in trials["adopt_floor"]["probe"] for x in d.get(key, []) if x >= 0], 50)
    floor_ms = None
    if ps and lists["containers_ms"] is not None and lists["tasks_ms"] is not None:
        floor_ms = ps["p50"] + lists["containers_ms"] + lists["tasks_ms"]
    M["restart_adopt"] = {"cells": n_idle, "kukeond": s, "rounds": adopt,
                          "kukeond_exec_p50_ms": ps and ps["p50"], "list_p50_ms": lists, "floor_ms": floor_ms,
                          "ratio_p50": ratio(s and s["p50"], floor_ms),
                          "target": f"<= 100 ms + 0.5 ms per cell = {limit:g} ms; zero tasks restarted",
                          "met": bool(ok) and s["p50"] <= limit and all(a["task_pids"] == "same" and a["tasks_started"] == 0 for a in ok)}

    for metric in [k for k in trials if re.fullmatch(r"stopped\d+", k)]:
        for _, d in trials[metric]["daemon"]:
            M["stopped_cells_settle"] = {"cells": d["cells"], "ms": d["ready_ms"]}
    if "one_many" in trials:
        n_many = M.get("stopped_cells_settle", {}).get("cells")
        m = latency("drop_1_cell_running_among_many", "one_many", "running_ms",
                    f"(no target; the same drop with {n_many} cells declared)")
        bd = []
        for _, d in trials["one_many"]["daemon"]:
            c = d["per_cell"][0]["cell"]
            if d.get("running_ms", -1) > 0:
                bd.append(convergence(stamps, realm, c, d["t0"], d["t0"] + d["running_ms"] / 1e3))
        m["kukeond_breakdown_p50"] = merge_breakdowns(bd)
        latency("remove_1_cell_gone_among_many", "gone_many", "gone_ms",
                f"(no target; the same removal with {n_many} cells declared)")

    with open(os.path.join(outdir, "report.json"), "w") as f:
        json.dump(rep, f, indent=1, sort_keys=True)
    text = render(rep)
    with open(os.path.join(outdir, "report.txt"), "w") as f:
        f.write(text)
    print(text)


# ---- the table ----

def fmt(x, unit="", digits=1):
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}{unit}"
    return f"{x}{unit}"


def dist(s):
    if not s:
        return "-"
    return f"{s['p50']:.1f} / {s['p90']:.1f} / {s['p99']:.1f} / {s['min']:.1f} / {s['max']:.1f} (n={s['n']})"


def met(x):
    return "-" if x is None else ("met" if x else "MISSED")


def render(rep):
    M = rep["metrics"]
    L = []
    mach = rep["machine"]
    L.append(f"machine: {mach.get('nproc')} cpus ({mach.get('cpu')}), {int(mach.get('mem_kb', 0)) // 1024} MiB, "
             f"kernel {mach.get('kernel')}, containerd {mach.get('containerd')}, runc {mach.get('runc')}")
    run = rep["run"]
    L.append(f"run: {run.get('started')} .. {run.get('ended')}, load average {run.get('loadavg_start')} -> "
             f"{run.get('loadavg_end')}{' (quick)' if mach.get('quick') == 'true' else ''}; "
             f"{run.get('full_resyncs')} full resyncs of kukeond during the run")
    L.append("")
    L.append("latencies in ms: p50 / p90 / p99 / min / max (n)")
    L.append(f"{'metric':34} {'kukeond':46} {'floor':46} {'ratio p50':>9} {'ratio p99':>9}  target  ")
    rows = [("drop_1_cell_running", "drop 1 cell -> Running"),
            ("remove_1_cell_gone", "remove 1 cell -> gone"),
            ("task_killed_restarted", "task killed -> Running again")]
    rows += [(k, f"apply {k.split('_')[1]} cells -> all Running") for k in sorted(M, key=lambda k: (len(k), k))
             if re.fullmatch(r"apply_\d+_cells_running", k)]
    rows += [(k, f"remove {k.split('_')[1]} cells -> all gone") for k in sorted(M, key=lambda k: (len(k), k))
             if re.fullmatch(r"remove_\d+_cells_gone", k)]
    rows += [("drop_1_cell_running_among_busy", "drop 1 cell among running cells"),
             ("drop_1_cell_running_among_many", "drop 1 cell among declared cells"),
             ("remove_1_cell_gone_among_many", "remove 1 cell among declared"),
             ("kuke_get_cells_1000", "kuke get cells, 1000 cells")]
    for key, label in rows:
        m = M.get(key)
        if not m:
            continue
        L.append(f"{label:34} {dist(m.get('kukeond')):46} {dist(m.get('floor')):46} {fmt(m.get('ratio_p50'), digits=2):>9} "
                 f"{fmt(m.get('ratio_p99'), digits=2):>9}  {m.get('target')}: {met(m.get('met'))}")
        if m.get("trials_with_a_full_resync"):
            L.append(f"{'':34} ({m['trials_with_a_full_resync']} kukeond trials overlapped a full resync)")
        if m.get("floor_best_parallelism"):
            L.append(f"{'':34} floor best at parallelism {m['floor_best_parallelism']}; by parallelism p50: " +
                     ", ".join(f"{p}: {s['p50']:.0f}" for p, s in m.get("floor_by_parallelism", {}).items()))
        if key == "kuke_get_cells_1000":
            L.append(f"{'':34} (floor = a bare exec of /bin/true; {m.get('lines')} lines printed)")
            L.append(f"{'kuke-bench-probe read-tree (I/O)':34} {dist(m.get('read_tree')):46} ratio p50 "
                     f"{fmt(m.get('ratio_read_tree_p50'), digits=2)} (a process reading the same {m.get('files')})")
    ps = M.get("process_start")
    if ps:
        L.append(f"{'exec: kuke version':34} {dist(ps.get('kuke')):46}")
        L.append(f"{'exec: kukeond --version':34} {dist(ps.get('kukeond')):46}")
    m = M.get("drop_1_cell_running")
    if m:
        L.append(f"{'drop 1 cell -> status Ready':34} {dist(m.get('status_ready')):46}")
        L.append(f"{'ctr run -d (orientation, no CNI)':34} {dist(m.get('ctr_run_d')):46}")
    L.append("")
    c = M.get("cpu_per_container_started", {})
    L.append(f"kukeond CPU per container started: {fmt(c.get('kukeond_ms'), ' ms', 2)}; the floor's own: "
             f"{fmt(c.get('floor_ms'), ' ms', 2)}; ratio {fmt(c.get('ratio'), digits=2)} (target <= 1 ms: {met(c.get('met'))})")
    for k, v in sorted(c.get("by_scenario", {}).items()):
        if v:
            L.append(f"    {k}: {v['own_ms']:.2f} ms own, {v['children_ms']:.2f} ms in its children (CNI plugins), "
                     f"{v['containers']:.0f} containers")
    for k, v in sorted(c.get("teardown", {}).items()):
        if v:
            L.append(f"    {k} (teardown): {v['own_ms']:.2f} ms own, {v['children_ms']:.2f} ms children per container")
    if c.get("stopped_cells"):
        v = c["stopped_cells"]
        L.append(f"    per Stopped cell declared: {v['own_ms']:.2f} ms own")
    i = M.get("idle")
    if i:
        L.append(f"idle, {i['cells']} cells, {i['seconds']:.0f} s: {i['wakeups_per_s']:.2f} wakeups/s (context switches of "
                 f"all {i['threads']} threads), sched_switch {fmt(i['sched_switch_per_s'], '/s', 2)}, CPU "
                 f"{i['cpu_percent']:.3f} %, {i['stamps_in_window']} stamps, {i['resyncs_in_window']} resyncs in the "
                 f"window, strace -c 5 s: {i['strace_calls_5s']} calls (target {i['target']}: {met(i['met'])})")
        if i.get("threads_that_switched"):
            L.append(f"    threads that switched: {i['threads_that_switched']}")
    L.append("kukeond memory:")
    for k, v in M.get("rss", {}).items():
        L.append(f"    {k}: VmRSS {v['VmRSS_MiB']:.1f} MiB, VmHWM {v['VmHWM_MiB']:.1f} MiB" +
                 (f", RssAnon {v['RssAnon_MiB']:.1f}, RssFile {v['RssFile_MiB']:.1f}, Pss {v['Pss_MiB']:.1f} MiB"
                  if "Pss_MiB" in v else "") +
                 (f" (target <= {v['target_MiB']} MiB: {met(v['met'])})" if "target_MiB" in v else ""))
    L.append("shim memory per cell (3 containers a cell):")
    for k, v in M.get("shim_memory_per_cell", {}).items():
        L.append(f"    {k}: {v['shims']} shims for {v['cells']} cells, RSS {v['rss_MiB_per_cell']:.1f} MiB, "
                 f"PSS {v['pss_MiB_per_cell']:.1f} MiB per cell")
    a = M.get("restart_adopt")
    if a:
        L.append(f"kukeond SIGKILLed and restarted with {a['cells']} cells: adopted in {dist(a['kukeond'])} ms "
                 f"(target {a['target']}: {met(a['met'])}); exec of kukeond alone p50 "
                 f"{fmt(a.get('kukeond_exec_p50_ms'), ' ms')}")
        li = a.get("list_p50_ms", {})
        L.append(f"    floor: exec + Containers.List ({fmt(li.get('containers_ms'), ' ms')}) + Tasks.List "
                 f"({fmt(li.get('tasks_ms'), ' ms')}) = {fmt(a.get('floor_ms'), ' ms')}, ratio "
                 f"{fmt(a.get('ratio_p50'), digits=2)}; one cell's Containers.List by labels "
                 f"{fmt(li.get('cell_containers_ms'), ' ms')}")
        for r in a["rounds"]:
            L.append(f"    {r}")
    if M.get("stopped_cells_settle"):
        s = M["stopped_cells_settle"]
        L.append(f"{s['cells']} Stopped cells declared at once: all settled in {s['ms']:.0f} ms")
    L.append("")
    L.append("where kukeond's time goes (phase stamps, p50 over trials, ms):")
    for key in ("drop_1_cell_running", "remove_1_cell_gone", "task_killed_restarted", "drop_1_cell_running_among_busy",
                "drop_1_cell_running_among_many"):
        m = M.get(key)
        b = m and m.get("kukeond_breakdown_p50")
        if not b:
            continue
        parts = [f"{k}={b[k]:.1f}" for k in ("wall_ms", "to_event_ms", "event_to_scanned_ms", "to_first_round_ms",
                                              "to_exit_event_ms", "containerd_ms", "cni_ms", "cgroup_ms", "status_ms",
                                              "netlink_ms",
                                              "own_ms", "rounds", "ctrd_calls") if k in b]
        L.append(f"  {key}: " + " ".join(parts))
        L.append("      calls: " + ", ".join(f"{k} {v:g}" for k, v in b["calls_p50"].items()))
        if m.get("floor_steps_p50"):
            L.append("      floor steps: " + ", ".join(f"{k} {v:.1f}" for k, v in m["floor_steps_p50"].items()))
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
