"""What a run found, for people and for the record: the Markdown table (every figure beside its
reference), the memory table, each target of plan.py met or not with its figures, the raw
JSON in bench/results/ and, beside it, the same figures drawn as one SVG (`chart`).

`python -m bench.report bench/results/<run>.json` draws an earlier run's chart again.
"""

import contextlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib
import psutil
from matplotlib.figure import Figure

from bench import RESULTS, ROOT, plan
from bench.meters import CONNECTIONS, mib

CPU_SHARES = ("app", "db", "load", "other")
FIGURES = {"rps": "req/s", "p50_ms": "p50"}


def machine_facts() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def git_commit() -> str:
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def short(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def _ratio(value: float, reference: float | None, of: str = "") -> str:
    return f" ({value / reference:.2f}×{of})" if reference else ""


def _find(runs: list[dict], step: int, scenario: str) -> dict | None:
    return next((r for r in runs if r["step"] == step and r["scenario"] == scenario), None)


def _reference(runs: list[dict], run: dict, scenario: str) -> dict | None:
    """What `run` is compared with as `scenario`: that row's figures over the same minutes if
    they were measured side by side (steps.Run.side_by_side), else its run at the same size,
    else its first (older results measured the floor once)."""
    if scenario in run.get("beside", {}):
        return run["beside"][scenario]
    return _find(runs, run["step"], scenario) or next(
        (r for r in runs if r["scenario"] == scenario), None
    )


def table(runs: list[dict]) -> str:
    lines = [
        "| book | scenario | req/s (× ceiling) | × floor | p50 ms (×) | p90 ms (×) | p99 ms (×)"
        " | non-2xx | CPU cores app/db/wrk/other | connections per worker |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        # The PgBouncer and feature rows: ratios to their own reference row, not the ceiling.
        if "reference" in run:
            reference = _reference(runs, run, run["reference"]) or {}
            of = f" {run['reference_label']}"
        else:
            reference, of = _reference(runs, run, plan.CEILING) or {}, ""
        cells = [f"{run['rps']:.0f}{_ratio(run['rps'], reference.get('rps'), of)}"]
        floor = _reference(runs, run, plan.FLOOR)
        if run["scenario"] in plan.FLOOR_COMPARED and floor:
            cells.append(f"{run['rps'] / floor['rps']:.2f}×")
        else:
            cells.append("")
        for key in ("p50_ms", "p90_ms", "p99_ms"):
            cells.append(f"{run[key]:.1f}{_ratio(run[key], reference.get(key), of)}")
        non_2xx = str(run["non_2xx"])
        if run["non_2xx"]:
            others = [f"{s}" for s in run["statuses"] if not 200 <= int(s) < 300]
            non_2xx += f" ({', '.join(others)})"
        if run.get("socket_errors"):
            non_2xx += f", {run['socket_errors']} socket errors"
        cpu = run["cpu_cores"]
        cores = "/".join("?" if cpu[k] is None else f"{cpu[k]:.1f}" for k in CPU_SHARES)
        spread = "/".join(map(str, run.get("connections_per_worker", []))) or "-"
        cells += [non_2xx, cores, spread]
        lines.append(f"| {short(run['step'])} | {run['scenario']} | {' | '.join(cells)} |")
    return "\n".join(lines)


def memory_table(memory: dict) -> str:
    lines = [
        f"| worker | RSS at start MiB | before {memory.get('requests', 0):,} requests"
        " | after | growth | peak MiB |",
        "|---|---|---|---|---|---|",
    ]
    for n, pid in enumerate(sorted(memory["started"]), 1):
        before = memory.get("before", {}).get(pid)
        after = memory.get("after", {}).get(pid)
        growth = f"{mib(after - before):+.1f}" if before and after else "?"
        lines.append(
            f"| {n} (pid {pid}) | {mib(memory['started'][pid])} | {mib(before or 0)}"
            f" | {mib(after or 0)} | {growth} | {mib(memory['peak'].get(pid, 0))} |"
        )
    return "\n".join(lines)


def judge(target: plan.Target, runs: list[dict], memory: dict, steps: tuple[int, ...]) -> dict:
    """One target of plan.TARGETS: what it asks, whether it is met (None: not measured), and
    the figures that say so."""
    if isinstance(target, plan.Ratio):
        figure = FIGURES.get(target.figure, target.figure)
        sign = "<=" if target.at_most else ">="
        asked = f"{target.scenario}: {figure} {sign} {target.bound:g}× {target.reference}"
        unit = "ms" if target.figure.endswith("_ms") else "req/s"
        found, met = [], []
        for run in runs:
            if run["scenario"] != target.scenario:
                continue
            reference = _reference(runs, run, target.reference)
            if not reference or not reference[target.figure]:
                continue
            value, base = run[target.figure], reference[target.figure]
            ratio = value / base
            met.append(ratio <= target.bound if target.at_most else ratio >= target.bound)
            # Three places where two would round a miss up to its bound (0.949× is not 0.95×).
            shown = f"{ratio:.3f}" if f"{ratio:.2f}" == f"{target.bound:.2f}" else f"{ratio:.2f}"
            found.append(f"{shown}× at {short(run['step'])} ({value:.1f} vs {base:.1f} {unit})")
        if not found:
            return {"target": asked, "met": None, "figures": "not measured in this run"}
        return {"target": asked, "met": all(met), "figures": ", ".join(found)}
    if isinstance(target, plan.Flat):
        small, large = min(steps), max(steps)
        asked = (
            f"{target.scenario}: p50 at {short(plan.STEPS[-1])}"
            f" <= {target.bound:g}× at {short(plan.STEPS[0])}"
        )
        a, b = _find(runs, small, target.scenario), _find(runs, large, target.scenario)
        if a is None or b is None or large == small:
            return {"target": asked, "met": None, "figures": "not measured (quick run)"}
        growth = b["p50_ms"] / a["p50_ms"]
        return {
            "target": asked,
            "met": growth <= target.bound,
            "figures": f"{a['p50_ms']:.1f} ms at {short(small)}, {b['p50_ms']:.1f} ms"
            f" at {short(large)}: {growth:.2f}×",
        }
    growths = [
        (memory["after"][pid] - memory["before"][pid]) / memory["before"][pid]
        for pid in memory.get("before", {})
        if pid in memory.get("after", {})
    ]
    return {
        "target": f"no worker grows over {memory.get('requests', 0):,} requests"
        f" (here: RSS growth <= {target.bound:.0%})",
        "met": bool(growths) and max(growths) <= target.bound,
        "figures": "worker RSS growth " + ", ".join(f"{g:+.1%}" for g in growths),
    }


def markdown(result: dict) -> str:
    meta, facts = result["meta"], result["postgres"]
    config = meta["config"]
    header = (
        f"`make bench{' --quick' if config['quick'] else ''}` at {meta['commit']},"
        f" {meta['started']}: {meta['machine']['cores']} cores ({meta['machine']['cpu']}),"
        f" PostgreSQL {facts['server_version']} ({meta['database']}, fsync {facts['fsync']},"
        f" synchronous_commit {facts['synchronous_commit']}), gunicorn {config['workers']}"
        f" workers, {CONNECTIONS} connections ({plan.POOLED_CONNECTIONS} where a row says so),"
        f" {config['duration']} s per scenario. Ratios are to the pgbench ceiling at the same"
        " size, except in the PgBouncer rows (to the same load straight to the database, the"
        " `direct` row) and the feature rows (to the `plain` row); `× floor` is req/s over the"
        " framework floor's."
    )
    verdicts = {True: "met: ", False: "**not met**: ", None: ""}
    goals = "\n".join(
        f"- {t['target']}: {verdicts[t['met']]}{t['figures']}" for t in result["targets"]
    )
    notes = "".join(f"\n\n{note}." for note in result.get("notes", []))
    return "\n\n".join(
        [
            header,
            table(result["runs"]) + notes,
            memory_table(result["memory"]),
            "Targets:\n" + goals,
        ]
    )


def write(result: dict, name: str) -> Path:
    """The raw figures, as bench/results/<name>.json (kept out of git but the cited run)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=1, default=str) + "\n")
    return path


# The chart ------------------------------------------------------------------------------

REFERENCE_NAMES = {
    plan.CEILING: "ceiling",
    plan.FLOOR: "floor",
    plan.PLAIN: "plain",
    plan.CREATE: "plain create",
}
MET, MISSED, UNTARGETED = "#2e7d32", "#c62828", "#90a4ae"


def _rps_target(scenario: str) -> plan.Ratio | None:
    return next(
        (
            t
            for t in plan.TARGETS
            if isinstance(t, plan.Ratio) and t.scenario == scenario and t.figure == "rps"
        ),
        None,
    )


def _chart_ratio(run: dict, runs: list[dict]) -> tuple[float | None, str, float | None]:
    """A row's req/s over its reference's: the one its target names (floor, plain create...),
    else the row's own reference (PgBouncer and feature rows), else the ceiling. With the
    reference's name and the target's bound, if any."""
    target = _rps_target(run["scenario"])
    if target is not None:
        reference = _reference(runs, run, target.reference)
        name = REFERENCE_NAMES.get(target.reference, target.reference)
    elif "reference" in run:
        reference, name = _reference(runs, run, run["reference"]), run["reference_label"]
    else:
        reference, name = _reference(runs, run, plan.CEILING), "ceiling"
    ratio = run["rps"] / reference["rps"] if reference and reference["rps"] else None
    return ratio, name, target.bound if target else None


def _p50_bound(run: dict, runs: list[dict]) -> float | None:
    """The row's p50 target in ms (a bound × its reference's p50), if it has one."""
    for t in plan.TARGETS:
        if isinstance(t, plan.Ratio) and t.scenario == run["scenario"] and t.figure == "p50_ms":
            reference = _reference(runs, run, t.reference)
            return t.bound * reference["p50_ms"] if reference else None
    return None


def chart(result: dict, path: Path) -> Path:
    """One SVG of a run (`result`, the JSON `write` saves): a row per scenario and book size,
    on the left its req/s as a ratio to its ceiling, floor or plain row with its target
    marked (green met, red missed, grey no target), on the right its p50 and p99 in ms (log
    scale) with any p50 target marked. Written to `path`, which is returned."""
    runs = result["runs"]
    labels = [f"{short(run['step'])}  {run['scenario']}" for run in runs]
    height = 1.2 + 0.3 * len(runs)
    figure = Figure(figsize=(15, height), layout="constrained")
    ratios_ax, latency_ax = figure.subplots(1, 2, sharey=True, width_ratios=(3, 2))
    rows = range(len(runs))
    for row, run in zip(rows, runs, strict=True):
        ratio, name, bound = _chart_ratio(run, runs)
        if ratio is None:
            continue
        color = UNTARGETED if bound is None else MET if ratio >= bound else MISSED
        ratios_ax.barh(row, ratio, color=color, height=0.7)
        ratios_ax.annotate(
            f"{ratio:.2f}× {name}",
            (ratio, row),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
        )
        if bound is not None:
            ratios_ax.plot([bound, bound], [row - 0.45, row + 0.45], color="black", lw=1.5)
        limit = _p50_bound(run, runs)
        if limit is not None:
            latency_ax.plot([limit, limit], [row - 0.45, row + 0.45], color="black", lw=1.5)
    latency_ax.barh([r - 0.18 for r in rows], [r["p50_ms"] for r in runs], height=0.36,
                    color="#1565c0", label="p50")  # fmt: skip
    latency_ax.barh([r + 0.18 for r in rows], [r["p99_ms"] for r in runs], height=0.36,
                    color="#90caf9", label="p99")  # fmt: skip
    ratios_ax.set_yticks(list(rows), labels, fontsize=7.5)
    ratios_ax.invert_yaxis()
    ratios_ax.set_xlabel("req/s as a ratio to the row's reference (black line: the target)")
    ratios_ax.grid(axis="x", alpha=0.3)
    ratios_ax.set_xlim(0, max(2.6, ratios_ax.get_xlim()[1] * 1.1))
    latency_ax.set_xscale("log")
    latency_ax.set_xlabel("latency, ms (log scale; black line: the p50 target)")
    latency_ax.grid(axis="x", alpha=0.3, which="both")
    latency_ax.legend(loc="lower right", fontsize=8)
    meta = result["meta"]
    figure.suptitle(
        f"make bench at {meta['commit']}, {meta['started']}: {meta['machine']['cores']} cores,"
        f" {meta['config']['workers']} workers, {meta['config']['duration']} s per row",
        fontsize=10,
    )
    # No date or random ids in the file: the same run draws the same bytes.
    with matplotlib.rc_context({"svg.hashsalt": "sesame"}):
        figure.savefig(path, format="svg", metadata={"Date": None})
    return path


if __name__ == "__main__":
    for name in sys.argv[1:]:
        source = Path(name)
        drawn = chart(json.loads(source.read_text()), source.with_suffix(".svg"))
        print(drawn)
