"""`make bench` (`python -m bench`): Sesame's throughput, latency and memory, measured the way
users get them.

One run: a PostgreSQL of its own (a throwaway embedded server, or a database it creates and
drops on BENCH_DATABASE_URL), migrated; the service started exactly as `make run` starts it
(its gunicorn.conf.py, WEB_CONCURRENCY workers, default 4), on a free port. Then, for each size
of the book (10k, 100k, 1M appointments, loaded with COPY, not through HTTP):

- the ceiling: pgbench running the SQL of one create (bench/create.pgbench) on the same server;
- the scenarios of plan.py: wrk with 16 connections for BENCH_DURATION seconds, one Lua script
  each (bench/wrk/): creates, reads (list page, a calendar's day, by id, a page 90% deep by
  offset and by cursor), and at the first size update, conflict and the 80/20 mix.

Rows compared with one another are measured side by side, in bursts taken in turn
(plan.SIDE_BY_SIDE): among them, at every size, the framework floor (bench/floor.py, a bare
Flask app under the same gunicorn settings) beside the reads compared with it.

At the first size also:
- the feature rows: by-id reads with every optional per-request feature off, then API keys,
  the rate limit on Redis, the JSON access log, then all together, each on its own gunicorn;
- memory: per-worker RSS before and after BENCH_MEMORY_REQUESTS (100k) mixed requests, and
  each worker's peak;
- PgBouncer: create, list page and mixed with 64 connections straight to the database, then
  through PgBouncer in transaction mode with 8 server connections (deploy/pgbouncer.ini).
  Skipped, saying so, without pgbouncer installed or on BENCH_DATABASE_URL.

It prints a Markdown table in which every figure is also a ratio to its reference, says for
each target of plan.py whether it is met, with the figure, and writes the raw figures to
bench/results/<UTC timestamp>.json (kept out of git, but for the run the docs cite), and draws
them beside it as <UTC timestamp>.svg (report.chart), whose path it prints. Durable commits
stay on.

Settings: BENCH_QUICK=1 or --quick (2 s per scenario, the 10k book only, a 5k-request memory
run: a smoke test), BENCH_DURATION (s), BENCH_MEMORY_REQUESTS, BENCH_DATABASE_URL,
WEB_CONCURRENCY.
"""

import argparse
import contextlib
import os
import signal
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import ROOT, BenchError, log, plan, report
from bench.database import bench_database, grow_book, migrate, server_facts
from bench.meters import CONNECTIONS, PeakRss, require_wrk, worker_rss
from bench.steps import Config, Run, pooled_db_pool_size, service


def read_config(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s per scenario, 10k book only")
    quick = parser.parse_args(argv).quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    return Config(
        duration=int(os.environ.get("BENCH_DURATION") or (2 if quick else 10)),
        steps=plan.QUICK_STEPS if quick else plan.STEPS,
        memory_requests=int(
            os.environ.get("BENCH_MEMORY_REQUESTS")
            or (plan.QUICK_MEMORY_REQUESTS if quick else plan.MEMORY_REQUESTS)
        ),
        workers=int(os.environ.get("WEB_CONCURRENCY") or 4),
        quick=quick,
    )


def measure(run: Run) -> dict:
    """Every size of the book in turn; at the first, the floor, the feature rows, memory and
    PgBouncer too."""
    started_rss = worker_rss(run.server)
    sampler = PeakRss(run.server)
    sampler.start()
    loaded, memory = 0, None
    try:
        for step in run.config.steps:
            stored = grow_book(run.db, loaded, step)
            loaded = step
            run.size(step, stored)
            if memory is None:
                run.features(step, stored)
                memory = run.memory(step)
                run.through_pgbouncer(step, stored)
    finally:
        sampler.stopped.set()
        sampler.join()
    memory = memory or {}
    memory["started"] = started_rss
    memory["peak"] = sampler.result()
    return {"runs": run.runs, "memory": memory, "notes": run.notes}


def main(argv: list[str]) -> int:
    config = read_config(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as on Ctrl-C
    started, commit = datetime.now(UTC), report.git_commit()  # what is measured: the code at start
    try:
        require_wrk()
        with tempfile.TemporaryDirectory(prefix="sesame-bench-log-") as tmp:
            with contextlib.ExitStack() as stack:
                db = stack.enter_context(bench_database())
                migrate(db)
                facts = server_facts(db)
                if facts["fsync"] != "on" or facts["synchronous_commit"] != "on":
                    log("WARNING: this server does not commit durably; figures not comparable")
                log(f"PostgreSQL {facts['server_version']}; starting gunicorn")
                server = stack.enter_context(service(db, config, Path(tmp) / "service.log"))
                measured = measure(Run(config, db, server, Path(tmp)))
    except BenchError as error:
        print(f"make bench: {error}", file=sys.stderr)
        return 1
    result = {
        "meta": {
            "started": started.strftime("%Y-%m-%d %H:%M UTC"),
            "seconds": round((datetime.now(UTC) - started).total_seconds()),
            "commit": commit,
            "machine": report.machine_facts(),
            "database": "external" if db.external else "embedded",
            "config": {
                **config.__dict__,
                "connections": CONNECTIONS,
                "wrk_threads": CONNECTIONS,
                "pgbouncer": {
                    "connections": plan.POOLED_CONNECTIONS,
                    "db_pool_size": pooled_db_pool_size(config.workers),
                    "server_connections": plan.PGBOUNCER_POOL_SIZE,
                    "pool_mode": "transaction",
                },
            },
        },
        "postgres": facts,
        **measured,
    }
    result["targets"] = [
        report.judge(target, result["runs"], result["memory"], config.steps)
        for target in plan.TARGETS
    ]
    result["markdown"] = report.markdown(result)
    name = started.strftime("%Y%m%dT%H%M%SZ") + ("-quick" if config.quick else "")
    path = report.write(result, name)
    drawn = report.chart(result, path.with_suffix(".svg"))
    print(result["markdown"])
    print(f"\nRaw figures: {path.relative_to(ROOT)} ({result['meta']['seconds']} s in all)")
    print(f"Chart: {drawn.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
