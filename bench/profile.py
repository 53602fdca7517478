"""`make profile SCENARIO=<key>` (`python -m bench.profile KEY`): where a request's time goes,
as a picture.

One scenario of plan.py (read_id by default; create, read_list, mixed, floor, ...) runs as
`make bench` runs it (the same database set-up, a 10k book, the service as `make run` serves
it, 16 wrk connections) while py-spy samples every gunicorn worker (`--subprocesses` on the
master, `--nonblocking`: the workers are never paused). Out come a flame graph (SVG) and a
speedscope profile (JSON) under bench/results/, and a short text summary.

py-spy reads other processes' memory: it needs root (or CAP_SYS_PTRACE). Settings:
PROFILE_SECONDS (default 20), PROFILE_RATE (samples per second per thread, default 100),
PROFILE_GIL=1 (sample only the thread holding the GIL: where CPU goes, waits left out),
PROFILE_FEATURE (a feature row's key of plan.py: plain, keys, rate_limit, access_log, all; the
service then runs with that row's settings), WEB_CONCURRENCY, BENCH_DATABASE_URL.
"""

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bench import RESULTS, ROOT, BenchError, log, plan
from bench.database import bench_database, grow_book, migrate
from bench.meters import require_wrk, run_wrk
from bench.steps import Config, Run, service
from tools.live import SERVICE_APP, LiveServer

BOOK = 10_000

HOW_TO_READ = """\
How to read it:
- The flame graph (.svg): open it in a browser. Each box is a function; its width is its
  share of all samples of all workers; what it calls sits on top of it. Wide boxes high up
  are where time goes: click one to zoom, Ctrl-F to search (e.g. "execute", "dump",
  "access") and read its share.
- The speedscope profile (.json): drop it on https://www.speedscope.app (or run
  `npx speedscope FILE`). "Left Heavy" merges identical stacks, per thread; "Sandwich" lists
  functions by self and total time: what one function costs in all its callers.
- Samples are wall time of the threads py-spy finds active, waits included: a round trip
  to PostgreSQL shows up as psycopg's Connection.wait, a thread waiting for work as
  concurrent.futures' _worker. Compare shares between two profiles of the same scenario, not
  absolute figures; the two recorders cost CPU themselves, so req/s is lower while sampled."""


def py_spy() -> str:
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not found:
        raise BenchError("py-spy not found: it comes with requirements-dev.txt (make profile)")
    return found


@contextlib.contextmanager
def recording(server: LiveServer, outputs: dict[str, Path], rate: int, gil: bool) -> Iterator[None]:
    """One py-spy per output format, sampling the master and all its workers until the block
    ends (then SIGINT: py-spy writes its file and exits); with `gil`, only the thread holding
    the GIL: where CPU goes, waits left out."""
    recorders = []
    logs = []
    try:
        for fmt, path in outputs.items():
            err = tempfile.TemporaryFile()
            logs.append(err)
            command = [
                py_spy(),
                "record",
                "--subprocesses",
                "--nonblocking",
                f"--rate={rate}",
                f"--format={fmt}",
                f"--output={path}",
                f"--pid={server.process.pid}",
                *(["--gil"] if gil else []),
            ]
            recorders.append(subprocess.Popen(command, stdout=err, stderr=subprocess.STDOUT))
        time.sleep(1)  # to attach; one that exits at once (no permission) says why
        for recorder, err in zip(recorders, logs, strict=True):
            if recorder.poll() is not None:
                err.seek(0)
                raise BenchError(
                    f"py-spy exited ({recorder.returncode}):\n{err.read().decode(errors='replace')}"
                    "\npy-spy needs root or CAP_SYS_PTRACE to read the workers' memory."
                )
        yield
    finally:
        for recorder in recorders:
            if recorder.poll() is None:
                recorder.send_signal(signal.SIGINT)
        for recorder, err in zip(recorders, logs, strict=True):
            try:
                recorder.wait(timeout=120)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait()
            err.close()


def summary(speedscope: Path, top: int = 12) -> str:
    """The functions with the most samples, on their own (self) and with what they call
    (total), as shares of all samples: the flame graph's widest boxes, in text. A function
    is counted once however many of its lines were sampled."""
    data = json.loads(speedscope.read_text())
    functions = [(f["name"], short_path(f.get("file", ""))) for f in data["shared"]["frames"]]
    own: Counter[tuple[str, str]] = Counter()
    total: Counter[tuple[str, str]] = Counter()
    samples, count = 0.0, 0
    for profile in data["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            if not stack:
                continue
            samples += weight
            count += 1
            own[functions[stack[-1]]] += weight
            for function in {functions[frame] for frame in stack}:
                total[function] += weight
    if not samples:
        return "no samples: were the workers busy?"
    project = [f for f, _ in total.most_common() if is_project_file(f[1])][:top]
    lines = [f"{count:,} stacks sampled. Most self time (the top of the stack):"]
    lines += [
        f"  {n / samples:6.1%}  {name} ({where})" for (name, where), n in own.most_common(top)
    ]
    lines.append("Project code by total time (itself and what it calls):")
    lines += [f"  {total[f] / samples:6.1%}  {f[0]} ({f[1]})" for f in project]
    return "\n".join(lines)


def is_project_file(where: str) -> bool:
    """A file of the repository's own (relative to it, and not in its venv)."""
    path = Path(where)
    return (
        bool(where)
        and not path.is_absolute()
        and path.parts[0] != ".venv"
        and (ROOT / path).is_file()
    )


def short_path(file: str) -> str:
    """A path relative to the repository where it is in it (project code and the venv)."""
    path = Path(file)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else file


def main(argv: list[str]) -> int:
    keys = [s.key for s in (*plan.SCENARIOS, plan.FLOOR_SCENARIO)]
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("scenario", nargs="?", default="read_id", choices=keys)
    key = parser.parse_args([a for a in argv if a]).scenario
    scenario = plan.scenario(key)
    seconds = int(os.environ.get("PROFILE_SECONDS") or 20)
    rate = int(os.environ.get("PROFILE_RATE") or 100)
    gil = os.environ.get("PROFILE_GIL", "") not in ("", "0")
    feature_key = os.environ.get("PROFILE_FEATURE")
    feature = plan.feature(feature_key) if feature_key else None
    config = Config(
        duration=seconds,
        steps=(BOOK,),
        memory_requests=0,
        workers=int(os.environ.get("WEB_CONCURRENCY") or 4),
        quick=True,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(exist_ok=True)
    outputs = {
        "flamegraph": RESULTS / f"profile-{key}-{stamp}.svg",
        "speedscope": RESULTS / f"profile-{key}-{stamp}.speedscope.json",
    }
    app = plan.FLOOR_APP if scenario is plan.FLOOR_SCENARIO else SERVICE_APP
    try:
        require_wrk()
        py_spy()
        with (
            tempfile.TemporaryDirectory(prefix="sesame-profile-") as tmp,
            bench_database() as db,
        ):
            migrate(db)
            stored = grow_book(db, 0, BOOK)
            settings = feature.settings if feature else {}
            key = settings.get("API_KEYS", "")
            with service(db, config, Path(tmp) / "service.log", settings, app=app) as server:
                run = Run(config, db, server, Path(tmp))
                params = {**run.params(scenario, BOOK, server), **({"key": key} if key else {})}
                log(f"{scenario.name}: {seconds} s of wrk, py-spy on every worker")
                with recording(server, outputs, rate, gil):
                    result = run_wrk(server, db, scenario.script, seconds, **params)
                run.record(BOOK, stored, scenario.name, result)
    except BenchError as error:
        print(f"make profile: {error}", file=sys.stderr)
        return 1
    svg, speedscope = (path.relative_to(ROOT) for path in outputs.values())
    print(
        f"{scenario.name}: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.1f} ms while sampled"
    )
    print(f"Flame graph: {svg}\nspeedscope: {speedscope}\n")
    print(summary(outputs["speedscope"]) + "\n")
    print(HOW_TO_READ)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
