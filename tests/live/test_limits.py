"""Limits through a real gunicorn: one rate limit across workers (counted in the machine's
Redis; skipped, saying so, where none answers) and the body size limit.

The limits that Flask's client can check (per client address, statement timeout) are in
tests/http/test_limits.py."""

import secrets
import threading
import time

import pytest
import requests
from limits import parse_many

from ratelimit import LimitsBudget, RedisWindows, budget
from tests.live.keys import auth
from tools.live import gunicorn

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = "redis://127.0.0.1:6379/0"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as error:  # any failure means: no Redis to test against
        pytest.skip(f"no Redis answers on 127.0.0.1:6379 ({type(error).__name__})")
    return url


def test_rate_limit_holds_across_workers_with_redis(app, environment, redis_url, clean):
    key, other = "rl-" + secrets.token_hex(12), "rl-" + secrets.token_hex(12)
    settings = {
        "API_KEYS": f"{key},{other}",
        "RATE_LIMIT": "10 per minute",
        "RATE_LIMIT_STORAGE_URI": redis_url,
    }
    with gunicorn({**environment, **settings}) as server:
        statuses = [
            requests.get(f"{server.base}/appointments", headers=auth(key), timeout=10)
            for _ in range(16)
        ]
        assert [r.status_code for r in statuses] == [200] * 10 + [429] * 6
        refused = statuses[-1]
        assert refused.json()["error"] == "rate_limited"
        # Whole seconds until the window frees a request (limits rounds its reset time up).
        assert 1 <= int(refused.headers["Retry-After"]) <= 61
        assert "Retry-After" not in statuses[0].headers
        # Per key: another key has its own budget; health and metrics are not limited.
        assert requests.get(f"{server.base}/appointments", headers=auth(other)).status_code == 200
        assert all(requests.get(f"{server.base}/health").status_code == 200 for _ in range(12))


def test_each_request_costs_one_round_trip_to_redis_admitted_or_refused(
    app, environment, redis_url
):
    # The product decision of issue 24: at most one Redis round trip per request. Counted by
    # Redis itself: the commands it ran while 8 requests went through gunicorn, 3 refused.
    import redis

    from ratelimit import ACQUIRE

    client = redis.Redis.from_url(redis_url)
    client.script_load(ACQUIRE)  # as any earlier request would have (a flushed cache: +1 EVAL)
    key = "rl-" + secrets.token_hex(12)
    settings = {"API_KEYS": key, "RATE_LIMIT": "5 per minute", "RATE_LIMIT_STORAGE_URI": redis_url}
    with gunicorn({**environment, **settings}) as server:
        before = commands_run(client)
        statuses = [
            requests.get(f"{server.base}/appointments/1", headers=auth(key), timeout=10)
            for _ in range(8)
        ]
        after = commands_run(client)
    assert [r.status_code for r in statuses][5:] == [429] * 3
    assert 429 not in [r.status_code for r in statuses][:5]
    ran = {name: after[name] - before.get(name, 0) for name in after}
    # Redis counts the calls the script makes inside it too; connecting (redis-py names
    # itself: CLIENT SETINFO) and this test's INFO aside, the rest came as round trips.
    inside = ("pttl", "rename", "set", "get", "exists", "incr")
    sent = {
        name: n
        for name, n in ran.items()
        if n and name not in inside and not name.startswith(("client|", "info", "hello"))
    }
    assert sent == {"evalsha": 8}


def commands_run(client) -> dict[str, int]:
    """How many times Redis ran each command so far (INFO commandstats)."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): figures["calls"] for name, figures in stats.items()}


def test_a_burst_at_the_end_of_a_window_still_counts_in_the_next(app, environment, redis_url):
    # The sliding-window counter (docs/operations.md): the previous window's requests weigh
    # in the current one by how much of it is left, so a second burst right after the first
    # window gets only part of the limit, where a fixed window would give it all again.
    key = "rl-" + secrets.token_hex(12)
    settings = {"API_KEYS": key, "RATE_LIMIT": "20 per 2 seconds"}
    with gunicorn({**environment, **settings, "RATE_LIMIT_STORAGE_URI": redis_url}) as server:

        def burst() -> list[int]:
            url = f"{server.base}/appointments/1"
            return [requests.get(url, headers=auth(key), timeout=10).status_code for _ in range(20)]

        started = time.monotonic()
        first = burst()
        time.sleep(max(0.0, started + 2.5 - time.monotonic()))  # a quarter into the next
        second = burst()
    assert 429 not in first
    # About a quarter of the limit (the weight falls as the burst goes on), never all of it.
    assert 0 < sum(status != 429 for status in second) < 20


def test_processes_together_admit_exactly_the_limit(redis_url):
    # Two processes' counters on one Redis: together they admit exactly the limit, then
    # refuse, each with a Retry-After within the window.
    limits, key = parse_many("300 per minute"), "key:" + secrets.token_hex(12)
    workers = [budget(limits, redis_url), budget(limits, redis_url)]
    assert all(isinstance(worker, RedisWindows) for worker in workers)
    answers = [workers[n % 2].refused(key) for n in range(320)]
    assert sum(answer is None for answer in answers) == 300
    assert all(answer is not None for answer in answers[300:])
    limit, retry_after = answers[-1]
    assert str(limit) == "300 per 1 minute" and 1 <= retry_after <= 60


def test_threads_of_one_worker_together_admit_exactly_the_limit(redis_url):
    # Each request thread counts on a connection of its own: 8 threads at once, one limit.
    counters, key = budget(parse_many("100 per minute"), redis_url), "key:" + secrets.token_hex(12)
    answers: list = []
    lock = threading.Lock()

    def hammer() -> None:
        mine = [counters.refused(key) for _ in range(20)]
        with lock:
            answers.extend(mine)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 160 and sum(answer is None for answer in answers) == 100


def test_the_redis_counter_admits_and_refuses_as_the_limits_library_does(redis_url):
    # RedisWindows is limits' sliding-window counter in one round trip: the same requests
    # admitted, the same Retry-After, against limits' own on the same Redis.
    limits = parse_many("10 per 3 seconds")
    ours, theirs = RedisWindows(limits, redis_url), LimitsBudget(limits, redis_url)
    key = "key:" + secrets.token_hex(12)
    answers = [(ours.refused(key), theirs.refused(key)) for _ in range(14)]
    assert (
        [a is None for a, _ in answers]
        == [b is None for _, b in answers]
        == [True] * 10 + [False] * 4
    )
    assert all(a[1] == b[1] and 1 <= a[1] <= 3 for a, b in answers[10:])
    # A window later the last one's requests still weigh, fading: some admitted, not all.
    time.sleep(3.5)
    later = [(ours.refused(key), theirs.refused(key)) for _ in range(10)]
    assert [a is None for a, _ in later] == [b is None for _, b in later]
    assert 0 < sum(a is None for a, _ in later) < 10


def test_the_redis_counter_survives_a_flushed_script_cache(redis_url):
    import redis

    counters, key = budget(parse_many("5 per minute"), redis_url), "key:" + secrets.token_hex(12)
    assert counters.refused(key) is None
    redis.Redis.from_url(redis_url).script_flush()  # as a restarted Redis would
    assert [counters.refused(key) is None for _ in range(5)] == [True] * 4 + [False]


def test_the_redis_counter_parses_answers_with_hiredis(redis_url):
    # requirements.txt installs hiredis; redis-py falls back to its Python parser unnoticed.
    from redis._parsers import _HiredisParser

    counters = RedisWindows(parse_many("5 per minute"), redis_url)
    assert counters.refused("key:" + secrets.token_hex(12)) is None
    assert isinstance(counters._connection()._parser, _HiredisParser)


def test_an_unreachable_redis_fails_fast_instead_of_hanging():
    import redis

    counters = budget(parse_many("5 per minute"), "redis://127.0.0.1:1/0")
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        counters.refused("key:x")
    assert time.monotonic() - started < 5


def test_oversized_bodies_answer_413_through_gunicorn(ops):
    response = requests.post(
        f"{ops.base}/appointments",
        data=b"{" + b" " * 70_000 + b"}",
        headers={**auth(), "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
