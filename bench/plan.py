"""What `make bench` measures, in what order, and what it must reach: data, no logic.

Each scenario is a wrk script (bench/wrk/) with its arguments, named as its row in the
table; `make profile SCENARIO=<key>` runs one of them by its key. Each target is a ratio of one
row's figure to another's (or a growth across sizes), judged by report.py.
"""

from dataclasses import dataclass, field
from typing import Any, Literal

STEPS = (10_000, 100_000, 1_000_000)  # sizes of the book
QUICK_STEPS = STEPS[:1]


@dataclass(frozen=True)
class Scenario:
    key: str  # for `make profile SCENARIO=...`
    name: str  # the table's row
    script: str  # in bench/wrk/
    params: dict[str, Any] = field(default_factory=dict)
    first_size_only: bool = False
    # A page 90% into the seeded rows, by `offset=N` or by the keyset cursor the service's
    # Link header gives for the same place.
    deep: Literal["offset", "cursor"] | None = None


CEILING = "pgbench ceiling (create SQL)"
CREATE = "create, 100 calendars"
CREATE_ONE = "create, one calendar"
CREATE_WEBHOOKS = "create, 100 calendars, 3 active webhook subscriptions"
UPDATE = "update"
LIST = "read: list page"
DAY = "read: a calendar's day"
BY_ID = "read: by id"
DEEP_CURSOR = "read: page 90% deep, cursor"
MIXED = "mixed 80% read / 20% write"
SLOTS_ONE = "slots: one calendar, 7 days"
SLOTS_FIVE = "slots: 5 calendars, 7 days"
CREATE_HOLDS = "create holds, 100 calendars"
FLOOR = "framework floor (bench/floor.py, by id)"

# At every size, in this order, after the ceiling.
SCENARIOS = (
    Scenario("create", CREATE, "create.lua", {"calendars": 100}),
    Scenario("create_one", CREATE_ONE, "create.lua", {"calendars": 1}),
    Scenario("update", UPDATE, "update.lua", first_size_only=True),
    Scenario("conflict", "conflict (409)", "conflict.lua", first_size_only=True),
    Scenario("read_list", LIST, "read_list.lua"),
    Scenario("read_day", DAY, "read_day.lua"),
    Scenario("read_id", BY_ID, "read_id.lua"),
    Scenario("read_deep_offset", "read: page 90% deep, offset", "read_deep.lua", deep="offset"),
    Scenario("read_deep_cursor", DEEP_CURSOR, "read_deep.lua", deep="cursor"),
    Scenario("mixed", MIXED, "mixed.lua", first_size_only=True),
    # Booking hours (issue 22): 30-minute slots on a 15-minute grid over 7 days of the seeded
    # book, on calendars with hours, buffers and a zone (SLOT_CALENDARS, set up by the bench).
    Scenario("slots_one", SLOTS_ONE, "slots.lua", {"slot_calendars": 1}),
    Scenario("slots_five", SLOTS_FIVE, "slots.lua", {"slot_calendars": 5}),
    # Holds (issue 23): the create row, every create a 15-minute hold.
    Scenario(
        "create_holds",
        CREATE_HOLDS,
        "create.lua",
        {"calendars": 100, "held": 1},
        first_size_only=True,
    ),
)
# Rows whose targets compare them with one another are measured side by side: in turn, BURSTS
# times round, each burst a BURSTS-th of the duration, each row's bursts merged into one. A
# ratio between them then compares the same minutes of the machine: measured minutes apart,
# one scenario's req/s moved by up to 20% on these shared cores (and the floor from 2,250 to
# 5,094 between runs). By key, "ceiling" for pgbench's and "floor" for the framework floor; the
# group takes the place in SCENARIOS' order of its first member there. The feature rows are
# measured in pairs, each beside the plain row.
BURSTS = 5
SIDE_BY_SIDE = (
    ("ceiling", "create", "create_holds", "create_one", "update"),
    ("floor", "read_id", "read_list", "mixed"),
    ("read_day", "slots_one", "slots_five"),
)
# The seeded calendars that get booking hours for the slot rows (bench/database.py), at the
# end of the range so the create rows (cal-0 for "one calendar") keep calendars without them.
SLOT_CALENDARS = tuple(f"cal-{n}" for n in range(95, 100))
SLOT_SETTINGS = {
    "time_zone": "America/New_York",
    "hours": {day: [["08:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")},
    "buffer_before": 5,
    "buffer_after": 5,
    "horizon": 3650,
}
# The webhook row (issue 17), at the first size: the create scenario again, on the same
# gunicorn, with this many active subscriptions to every calendar and a dispatcher delivering
# each version to a receiver on loopback that answers 204. Writes never wait for deliveries.
WEBHOOK_SUBSCRIPTIONS = 3
WEBHOOK_DISPATCHER_SETTINGS = {"WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1"}
# How long the deliveries may take to catch up after the row, before the bench says they lag.
WEBHOOK_DRAIN_S = 120

# The framework floor: bench/floor.py (a bare Flask app answering a fixed appointment) under
# the service's own gunicorn.conf.py and defaults, loaded as the by-id read is. At every size,
# side by side with the rows compared with it (it has no book; the machine drifts).
FLOOR_APP = "bench.floor:create_app()"
FLOOR_SCENARIO = Scenario("floor", FLOOR, "read_id.lua")
# The ceiling: pgbench running bench/create.pgbench (not a wrk script) on the same server.
CEILING_SCENARIO = Scenario("ceiling", CEILING, "create.pgbench")

# The service's rows and the floor run with the settings `make run` gives (access log on).
# The feature rows: by-id reads on a gunicorn of their own each, every optional per-request
# feature off ("plain"), then one on at a time, then all together.
API_KEY = "bench-key-0123456789abcdef"
PLAIN_SETTINGS = {"ACCESS_LOG": "off", "API_KEYS": "", "RATE_LIMIT": ""}
API_KEYS_SETTINGS = {"API_KEYS": API_KEY}
REDIS_URI = "redis://127.0.0.1:6379/0"
# High enough that nothing is refused: the cost of counting, not of refusing.
RATE_LIMIT_SETTINGS = {"RATE_LIMIT": "1000000 per minute", "RATE_LIMIT_STORAGE_URI": REDIS_URI}
ACCESS_LOG_SETTINGS = {"ACCESS_LOG": "on", "LOG_FORMAT": "json"}


@dataclass(frozen=True)
class Feature:
    key: str  # for `make profile PROFILE_FEATURE=...`
    name: str
    settings: dict[str, str]
    needs_redis: bool = False


PLAIN = "read: by id, plain (no access log, keys, limit)"
ALL_FEATURES = "read: by id, all features together"
FEATURES = (
    Feature("plain", PLAIN, PLAIN_SETTINGS),
    Feature("keys", "read: by id + API keys", {**PLAIN_SETTINGS, **API_KEYS_SETTINGS}),
    Feature(
        "rate_limit",
        "read: by id + rate limit on Redis",
        {**PLAIN_SETTINGS, **RATE_LIMIT_SETTINGS},
        needs_redis=True,
    ),
    Feature(
        "access_log", "read: by id + JSON access log", {**PLAIN_SETTINGS, **ACCESS_LOG_SETTINGS}
    ),
    Feature(
        "all",
        ALL_FEATURES,
        {**API_KEYS_SETTINGS, **RATE_LIMIT_SETTINGS, **ACCESS_LOG_SETTINGS},
        needs_redis=True,
    ),
)

# The rows the table also gives as a ratio to the framework floor.
FLOOR_COMPARED = (BY_ID, LIST, MIXED, *(feature.name for feature in FEATURES))

# PgBouncer: 64 wrk connections (one wrk thread each) on gunicorns with 64 app connections in
# all (DB_POOL_SIZE=16 per worker at 4 workers), through PgBouncer's 8 server connections or
# straight to the database; at the first size. Scenarios by key.
POOLED_CONNECTIONS = 64
POOLED_APP_CONNECTIONS = 64
PGBOUNCER_POOL_SIZE = 8
POOLED = ("create", "read_list", "mixed")

# Memory: per-worker RSS before and after this many mixed requests, at the first size.
MEMORY_REQUESTS = 100_000
QUICK_MEMORY_REQUESTS = 5_000


def side_by_side(key: str) -> tuple[str, ...]:
    """The keys measured side by side with `key`'s scenario, itself included."""
    return next((group for group in SIDE_BY_SIDE if key in group), (key,))


def feature(key: str) -> Feature:
    """A feature row by its key."""
    for found in FEATURES:
        if found.key == key:
            return found
    raise KeyError(key)


def scenario(key: str) -> Scenario:
    """A scenario by its key (the floor's included)."""
    for found in (*SCENARIOS, FLOOR_SCENARIO, CEILING_SCENARIO):
        if found.key == key:
            return found
    raise KeyError(key)


# Targets (issue 14) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """`scenario`'s `figure` over `reference`'s, at every size where both ran: at least
    `bound` (throughput), or with `at_most` at most `bound` (latency)."""

    scenario: str
    reference: str
    bound: float
    figure: str = "rps"
    at_most: bool = False


@dataclass(frozen=True)
class Flat:
    """`scenario`'s p50 at the largest size at most `bound` × its p50 at the smallest."""

    scenario: str
    bound: float = 1.2


@dataclass(frozen=True)
class FlatMemory:
    """No worker's RSS grows by more than `bound` over the memory run's requests."""

    bound: float = 0.05


Target = Ratio | Flat | FlatMemory

TARGETS: tuple[Target, ...] = (
    Ratio(CREATE, CEILING, 0.5),
    Ratio(CREATE_ONE, CEILING, 0.35),
    Ratio(UPDATE, CEILING, 0.5),
    Ratio(CREATE_WEBHOOKS, CREATE, 0.9),  # active subscriptions cost creates at most 10%
    Ratio(CREATE, CEILING, 3.0, figure="p50_ms", at_most=True),
    Ratio(BY_ID, FLOOR, 0.5),
    Ratio(LIST, FLOOR, 0.25),
    Ratio(MIXED, FLOOR, 0.3),
    Ratio(ALL_FEATURES, PLAIN, 0.85),  # all features together cost at most 15%
    *(Ratio(feature.name, PLAIN, 0.95) for feature in FEATURES[1:-1]),  # each alone 5%
    Ratio(SLOTS_ONE, DAY, 0.5),
    Ratio(SLOTS_FIVE, DAY, 0.25),
    Ratio(CREATE_HOLDS, CREATE, 0.95),  # a hold costs what a booking does
    Flat(CREATE),
    Flat(DAY),
    Flat(DEEP_CURSOR),
    FlatMemory(),
)
