"""The steps of one `make bench` run: a size of the book, the floor, the feature rows, the
PgBouncer comparison, the memory run. Each records its rows in `Run.runs`; plan.py says what
they are, meters.py measures them, report.py reads them.
"""

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis
import requests
from sqlalchemy import create_engine

import database
import webhooks
from bench import BenchError, log, plan
from bench.database import (
    Database,
    Regions,
    book,
    configure_slot_calendars,
    pgbouncer,
    rows_written,
)
from bench.meters import (
    CONNECTIONS,
    merge,
    mib,
    process_cpu_seconds,
    run_ceiling,
    run_wrk,
    settle,
    worker_rss,
)
from bench.receiver import Receiver
from config import settings_from_env
from tools import live
from tools.live import LiveServer

RATIOS = ("rps", "p50_ms", "p90_ms", "p99_ms")  # the figures the table gives as ratios


@dataclass(frozen=True)
class Config:
    duration: int
    steps: tuple[int, ...]
    memory_requests: int
    workers: int
    quick: bool


@contextlib.contextmanager
def service(
    db: Database,
    config: Config,
    log_path: Path,
    settings: dict[str, str] | None = None,
    app: str = live.SERVICE_APP,
) -> Iterator[LiveServer]:
    """`app` (the service unless told) under gunicorn as `make run` serves it: its
    gunicorn.conf.py, its defaults (LOG_LEVEL info, so the access log on), `settings` on top."""
    env = {"DATABASE_URL": db.url, "LOG_LEVEL": "info", **(settings or {})}
    with live.gunicorn(env, app=app, workers=config.workers, log=log_path) as server:
        settle(server)
        yield server
    log(f"stopped gunicorn ({app})")


def deep_page(server: LiveServer, scenario: plan.Scenario, step: int) -> str:
    """The `page` argument of read_deep.lua: 90% into the seeded rows, as `offset=N` or as
    the cursor the service's own Link header gives for the same place."""
    deep = step * 9 // 10
    if scenario.deep == "offset":
        return f"offset={deep}"
    answer = requests.get(
        f"{server.base}/appointments", params={"limit": 1, "offset": deep - 1}, timeout=60
    )
    if answer.status_code != 200 or "next" not in answer.links:
        raise BenchError(f"no next link at offset {deep - 1}: {answer.status_code} {answer.text}")
    (cursor,) = parse_qs(urlsplit(answer.links["next"]["url"]).query)["cursor"]
    return f"cursor={cursor}"


def redis_answers(uri: str) -> bool:
    with contextlib.suppress(redis.RedisError):
        return bool(redis.Redis.from_url(uri, socket_timeout=1, socket_connect_timeout=1).ping())
    return False


@dataclass
class Run:
    config: Config
    db: Database
    server: LiveServer  # the service as `make run` serves it
    log_dir: Path  # where the other gunicorns' logs go
    regions: Regions = field(default_factory=Regions)
    runs: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # printed under the table

    def params(self, scenario: plan.Scenario, step: int, server: LiveServer) -> dict[str, Any]:
        """Every `key=value` a scenario's script gets: the book, a fresh region, its own."""
        params = {**book(step, min(self.config.steps)), **self.regions.next(), **scenario.params}
        if scenario.deep:
            params["page"] = deep_page(server, scenario, step)
        return params

    def record(self, step: int, stored: int, name: str, result: dict) -> dict:
        result = {"step": step, "stored": stored, "scenario": name, **result}
        result.pop("latencies_ms", None)  # pooled by merge; too many for the results file
        self.runs.append(result)
        log(
            f"{step:>9,} {name:<36} {result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.1f} ms"
            f"  p99 {result['p99_ms']:7.1f} ms  statuses {result['statuses']}"
        )
        return result

    def note(self, text: str) -> None:
        log(text)
        self.notes.append(text)

    def scenario(
        self,
        step: int,
        stored: int,
        scenario: plan.Scenario,
        *,
        server: LiveServer | None = None,
        name: str | None = None,
        connections: int = CONNECTIONS,
        **extra: Any,
    ) -> dict:
        side = Side(scenario, server or self.server, name, extra, connections)
        return self.record(step, stored, side.name, self.burst(step, side, self.config.duration))

    def size(self, step: int, stored: int) -> None:
        """Everything measured at one size of the book."""
        first = step == min(self.config.steps)
        if first and step % CONNECTIONS:  # update.lua gives each wrk thread ids of its own
            raise BenchError(f"the book size {step} is not a multiple of {CONNECTIONS}")
        configure_slot_calendars(self.db, plan.SLOT_CALENDARS, plan.SLOT_SETTINGS)
        done: set[str] = set()
        for scenario in plan.SCENARIOS:
            if scenario.key in done or (scenario.first_size_only and not first):
                continue
            group = plan.side_by_side(scenario.key)
            done.update(group)
            if len(group) == 1:
                self.scenario(step, stored, scenario)
                continue
            keys = [k for k in group if first or not plan.scenario(k).first_size_only]
            with self.servers(keys) as servers:
                sides = [Side(plan.scenario(k), servers[k]) for k in keys]
                for side, result in zip(sides, self.side_by_side(step, sides), strict=True):
                    self.record(step, stored, side.name, result)
        if first:
            self.webhooks(step, stored)

    @contextlib.contextmanager
    def servers(self, keys: list[str]) -> Iterator[dict[str, LiveServer]]:
        """The gunicorn each scenario runs on: the service's, the floor's for "floor"."""
        if "floor" not in keys:
            yield dict.fromkeys(keys, self.server)
            return
        log("the framework floor: starting gunicorn with bench/floor.py")
        with service(self.db, self.config, self.log_dir / "floor.log", app=plan.FLOOR_APP) as floor:
            yield {k: floor if k == "floor" else self.server for k in keys}

    def side_by_side(self, step: int, sides: list["Side"]) -> list[dict]:
        """`sides` measured in turn, plan.BURSTS times round, each burst a BURSTS-th of the
        duration; each side's bursts merged into one result, which records the figures the
        others had over the same minutes (`beside`, by row name: report.py compares a row with
        those rather than with the row measured elsewhere). Every burst gets fresh params (a
        region of its own to write in) and its written rows are counted."""
        rounds, seconds = self.rounds()
        bursts: list[list[dict]] = [[] for _ in sides]
        for _ in range(rounds):
            for side, done in zip(sides, bursts, strict=True):
                done.append(self.burst(step, side, seconds))
        results = [merge(done) for done in bursts]
        for side, result in zip(sides, results, strict=True):
            result["beside"] = {
                other.name: figures(other_result)
                for other, other_result in zip(sides, results, strict=True)
                if other is not side
            }
        return results

    def rounds(self) -> tuple[int, int]:
        """How many bursts a side-by-side row takes, and how many seconds each."""
        rounds = max(1, min(plan.BURSTS, self.config.duration))
        return rounds, max(1, self.config.duration // rounds)

    def webhooks(self, step: int, stored: int) -> None:
        """The create row side by side with itself under WEBHOOK_SUBSCRIPTIONS active
        subscriptions to every calendar, on the same gunicorn, with a dispatcher delivering to
        a receiver on loopback (bench/receiver.py). Round by round: a plain burst with no
        subscription, then the subscriptions made (through webhooks.py: the measured gunicorn,
        like production, refuses loopback URLs), a webhook burst, its deliveries waited for
        (untimed: a plain burst must not pay for the backlog), the subscriptions deleted. The
        row records its ratio to its own plain bursts and the dispatcher's CPU per delivered
        event."""
        create = plan.scenario("create")
        settings = settings_from_env({"DATABASE_URL": self.db.url})  # the service's defaults
        engine = database.bind_timeouts(create_engine(self.db.url), settings)
        env = {**os.environ, "DATABASE_URL": self.db.url, **plan.WEBHOOK_DISPATCHER_SETTINGS}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        rounds, seconds = self.rounds()
        plain_side = Side(create, self.server, plan.CREATE)
        webhook_side = Side(create, self.server, plan.CREATE_WEBHOOKS)
        plain_bursts: list[dict] = []
        webhook_bursts: list[dict] = []
        expected = delivered_in_runs = 0
        waited_s = 0.0
        dispatcher_log = self.log_dir / "dispatcher.log"
        with (
            Receiver() as receiver,
            contextlib.ExitStack() as stack,
            open(dispatcher_log, "wb") as output,
        ):
            stack.callback(engine.dispose)
            dispatcher = subprocess.Popen(
                live.DISPATCHER, cwd=live.ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
            )
            stack.callback(live.stop, dispatcher)
            live.wait_until(
                lambda: "webhook dispatcher" in dispatcher_log.read_text(errors="replace"),
                what="the webhook dispatcher",
                process=dispatcher,
                log=dispatcher_log,
            )
            dispatcher_cpu = process_cpu_seconds(dispatcher.pid)
            log(f"{plan.CREATE_WEBHOOKS}: dispatcher up; {rounds} rounds of {seconds} s")

            def caught_up() -> bool:  # every event of every webhook burst so far delivered
                return receiver.received >= expected

            for _ in range(rounds):
                plain_bursts.append(self.burst(step, plain_side, seconds))
                ids = [
                    webhooks.create(
                        engine,
                        url=f"{receiver.base}/bench-{n}",
                        calendars=["*"],
                        description="bench",
                    ).id
                    for n in range(plan.WEBHOOK_SUBSCRIPTIONS)
                ]
                before = receiver.received
                burst = self.burst(step, webhook_side, seconds)
                webhook_bursts.append(burst)
                delivered_in_runs += receiver.received - before
                expected += burst["rows_written"] * len(ids)
                started = time.monotonic()
                with contextlib.suppress(RuntimeError):
                    live.wait_until(
                        caught_up,
                        what="webhook deliveries",
                        timeout=plan.WEBHOOK_DRAIN_S,
                        process=dispatcher,
                    )
                waited_s += time.monotonic() - started
                for webhook_id in ids:
                    webhooks.delete(engine, webhook_id)
            dispatcher_s = process_cpu_seconds(dispatcher.pid) - dispatcher_cpu
        delivered = receiver.received
        plain, run = merge(plain_bursts), merge(webhook_bursts)
        run["beside"] = {plan.CREATE: figures(plain)}
        run["webhooks"] = {
            "subscriptions": plan.WEBHOOK_SUBSCRIPTIONS,
            "expected": expected,
            "delivered_during_run": delivered_in_runs,
            "delivered": delivered,
            "caught_up_s": round(waited_s, 1),
            "dispatcher_cpu_s": round(dispatcher_s, 2),
            "dispatcher_cpu_us_per_event": round(dispatcher_s / delivered * 1e6)
            if delivered
            else None,
        }
        compare(run, plan.CREATE, "plain create", run["beside"][plan.CREATE])
        self.record(step, stored, plan.CREATE_WEBHOOKS, run)
        self.note(
            f"{plan.CREATE_WEBHOOKS}: {run['x_reference']['rps']:.2f}× its plain bursts"
            f" ({plain['rps']:.0f} req/s); {delivered_in_runs:,} of {expected:,} deliveries made"
            f" during the bursts, {delivered:,} after {run['webhooks']['caught_up_s']} s of"
            f" waiting; the dispatcher used {run['webhooks']['dispatcher_cpu_us_per_event']} µs"
            " of CPU per delivered event"
        )
        if delivered == 0:
            raise BenchError("the webhook row delivered nothing: see dispatcher.log")

    def burst(self, step: int, side: "Side", seconds: int) -> dict:
        """One wrk run of a side (pgbench for the ceiling), with fresh params; its written rows
        counted."""
        if side.scenario is plan.CEILING_SCENARIO:
            region = self.regions.next()
            result = run_ceiling(self.server, self.db, seconds, region)
            result["rows_written"] = rows_written(self.db, region)
            if result["rows_written"] < result["requests"]:
                raise BenchError(
                    f"pgbench logged {result['requests']} creates"
                    f" but stored {result['rows_written']}"
                )
            return result
        params = {**self.params(side.scenario, step, side.server), **side.extra}
        result = run_wrk(
            side.server, self.db, side.scenario.script, seconds, side.connections, **params
        )
        result["rows_written"] = rows_written(self.db, params)
        return result

    def features(self, step: int, stored: int) -> None:
        """By-id reads with every optional per-request feature off (plain), then each feature
        row side by side with the plain one (a pair at a time: the database takes 100
        connections), each on a gunicorn of its own. The plain row is all its bursts merged;
        every other row records its ratio to the plain bursts of its own pair."""
        by_id = plan.scenario("read_id")
        redis_up = redis_answers(plan.REDIS_URI)
        plain_feature, *others = plan.FEATURES
        plain_bursts: list[dict] = []
        measured: list[tuple[plan.Feature, dict]] = []
        log(f"{plain_feature.name}: starting gunicorn")
        with service(
            self.db, self.config, self.log_dir / "feature-plain.log", plain_feature.settings
        ) as plain_server:
            check_keys(plain_server, "")
            plain = Side(by_id, plain_server, plain_feature.name)
            for feature in others:
                if feature.needs_redis and not redis_up:
                    self.note(f"{feature.name}: skipped, Redis does not answer at {plan.REDIS_URI}")
                    continue
                key = feature.settings.get("API_KEYS", "")
                log(f"{feature.name}: starting gunicorn")
                path = self.log_dir / f"feature-{feature.key}.log"
                with service(self.db, self.config, path, feature.settings) as server:
                    check_keys(server, key)
                    side = Side(by_id, server, feature.name, {"key": key} if key else {})
                    beside_plain, run = self.side_by_side(step, [plain, side])
                plain_bursts.append(beside_plain)
                run["settings"] = {k: v for k, v in feature.settings.items() if k != "API_KEYS"}
                measured.append((feature, run))
        if not plain_bursts:
            return
        plain_run = merge(plain_bursts)
        plain_run["settings"] = plain_feature.settings
        self.record(step, stored, plain_feature.name, plain_run)
        for feature, run in measured:
            compare(run, plain_feature.name, "plain", run["beside"][plain_feature.name])
            self.record(step, stored, feature.name, run)

    def through_pgbouncer(self, step: int, stored: int) -> None:
        """Create, list page and mixed with 64 connections, first straight to the database, then
        through PgBouncer in transaction mode with 8 server connections; each on a gunicorn of
        its own, alike but for DATABASE_URL, with DB_POOL_SIZE=16 per worker (at 4 workers) so
        that 64 app connections queue for the 8 (the main gunicorn's pool is 8 per worker). One
        after the other: the direct one's 64 connections and the main one's idle 32 fit in the
        embedded server's max_connections (100). Every PgBouncer row records its ratio to the
        direct one."""
        program = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/sbin")
        if self.db.external:
            self.note(
                "PgBouncer rows skipped: they need the embedded server, not BENCH_DATABASE_URL"
            )
            return
        if program is None:
            self.note(
                "PgBouncer rows skipped: pgbouncer is not installed (apt-get install pgbouncer)"
            )
            return
        settings = {
            "DB_POOL_SIZE": str(pooled_db_pool_size(self.config.workers)),
            "MIGRATIONS_DATABASE_URL": self.db.url,
        }
        conns = plan.POOLED_CONNECTIONS
        scenarios = [plan.scenario(key) for key in plan.POOLED]
        direct: dict[str, dict] = {}
        log(f"{conns} connections, straight to the database: starting gunicorn")
        with service(self.db, self.config, self.log_dir / "direct.log", settings) as server:
            for scenario in scenarios:
                direct[scenario.key] = self.scenario(
                    step,
                    stored,
                    scenario,
                    server=server,
                    name=f"{scenario.name}, {conns} conns, direct",
                    connections=conns,
                )
        log(f"{conns} connections through PgBouncer: starting it and gunicorn")
        with (
            pgbouncer(self.db, program, pool_size=plan.PGBOUNCER_POOL_SIZE) as url,
            service(
                self.db,
                self.config,
                self.log_dir / "pgbouncer.log",
                {**settings, "DATABASE_URL": url},
            ) as server,
        ):
            for scenario in scenarios:
                name = (
                    f"{scenario.name}, {conns} conns,"
                    f" through PgBouncer ({plan.PGBOUNCER_POOL_SIZE} server conns)"
                )
                run = self.scenario(
                    step, stored, scenario, server=server, name=name, connections=conns
                )
                run["pgbouncer"] = {
                    "server_connections": plan.PGBOUNCER_POOL_SIZE,
                    "pool_mode": "transaction",
                }
                reference = direct[scenario.key]
                compare(run, reference["scenario"], "direct", figures(reference))
                log(f"through PgBouncer: {run['x_reference']['rps']:.2f}× the direct req/s")

    def memory(self, step: int) -> dict:
        """RSS of each worker before and after `memory_requests` mixed requests, sent as
        consecutive wrk runs (each with a fresh region) until the count is reached."""
        mixed_scenario = plan.scenario("mixed")
        before = worker_rss(self.server)
        trajectory: list[dict[str, Any]] = [{"requests": 0, "rss": before}]
        mixed = [run for run in self.runs if run["scenario"] == plan.MIXED]
        sent, rate = 0, (mixed[-1]["rps"] if mixed else 500.0)
        while sent < self.config.memory_requests:
            remaining = self.config.memory_requests - sent
            seconds = int(min(60, max(2, remaining / rate * 1.05 + 1)))
            params = self.params(mixed_scenario, step, self.server)
            result = run_wrk(self.server, self.db, mixed_scenario.script, seconds, **params)
            sent += result["requests"]
            rate = max(result["rps"], 1.0)
            trajectory.append({"requests": sent, "rss": worker_rss(self.server)})
            log(f"memory: {sent:,} requests, RSS {mib_list(trajectory[-1]['rss'])} MiB")
        after = worker_rss(self.server)
        return {"requests": sent, "before": before, "after": after, "trajectory": trajectory}


def check_keys(server: LiveServer, key: str) -> None:
    """The feature is really on (or off): with keys, a read without one is refused."""
    without = requests.get(f"{server.base}/appointments/1", timeout=10).status_code
    if without != (401 if key else 200):
        raise BenchError(f"keys {'on' if key else 'off'}, yet a read without a key: {without}")
    if key:
        headers = {"Authorization": f"Bearer {key}"}
        with_key = requests.get(f"{server.base}/appointments/1", headers=headers, timeout=10)
        if with_key.status_code != 200:
            raise BenchError(f"a read with the bench's key: {with_key.status_code}")


@dataclass(frozen=True)
class Side:
    """One row of a side-by-side measurement: a scenario on a gunicorn, under a row name."""

    scenario: plan.Scenario
    server: LiveServer
    row: str | None = None  # the row's name, if not the scenario's
    extra: dict[str, Any] = field(default_factory=dict)  # more params for the wrk script
    connections: int = CONNECTIONS

    @property
    def name(self) -> str:
        return self.row or self.scenario.name


def figures(result: dict) -> dict[str, float]:
    """What a row compares with another: its req/s and latencies."""
    return {key: result[key] for key in RATIOS}


def compare(run: dict, reference: str, label: str, of: dict[str, float]) -> None:
    """Record `run`'s ratios to row `reference`'s figures `of`, which the table shows in
    place of the ceiling's."""
    run["reference"], run["reference_label"] = reference, label
    run["x_reference"] = {k: run[k] / of[k] for k in RATIOS if of[k]}


def pooled_db_pool_size(workers: int) -> int:
    """DB_POOL_SIZE per worker for POOLED_APP_CONNECTIONS in all."""
    return max(1, plan.POOLED_APP_CONNECTIONS // workers)


def mib_list(rss: dict[int, int]) -> str:
    return ", ".join(f"{mib(v):.0f}" for v in rss.values())
