"""`make bench` (`python -m bench`) and `make profile` (`python -m bench.profile`).

Sesame's throughput, latency and memory, measured the way users get them, each figure beside
what the layers under it can do: the database alone (pgbench running the SQL of one create)
and the framework alone (bench/floor.py under the same gunicorn settings).

- `__main__.py`: the command line and the run, from an empty database to the report;
- `plan.py`: what is measured (the scenarios, the feature settings) and the targets, as data;
- `database.py`: the bench's PostgreSQL, the seeded book, the regions runs write to;
- `meters.py`: wrk, the pgbench ceiling, CPU, RSS and latency summaries;
- `report.py`: the Markdown table, each target met or not with its figure, the raw JSON;
- `floor.py`: the framework-floor app; `profile.py`: one scenario under py-spy;
- `wrk/`: one Lua script per load; `create.pgbench`: the ceiling's SQL.
"""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"


class BenchError(RuntimeError):
    """A step of the benchmark failed; its message says which and why."""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
