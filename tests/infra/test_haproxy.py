"""Two app hosts on one database behind HAProxy, as shipped in deploy/haproxy.cfg: a race
from a hundred clients is still one booking, both hosts serve, and rate limits tell clients
apart by the X-Forwarded-For that HAProxy (and only HAProxy) adds.
"""

import ipaddress
import random
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.helpers import BODY, metric
from tests.infra.engines import app_host, haproxy
from tools.integrity import find_violations
from tools.live import LiveServer

pytestmark = pytest.mark.live


class BoundAdapter(HTTPAdapter):
    """Connections from one source address: loopback is a whole /8, so one test is many
    clients, each with an address of its own."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_at(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", BoundAdapter(address))
    return session


@pytest.fixture(scope="module")
def redis_url() -> str | None:
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1).ping()
    except Exception:  # any failure means: no Redis here
        return None
    return "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def balanced(cluster, bouncer, redis_url) -> Iterator[tuple[str, list[LiveServer]]]:
    """Two app hosts on one database behind HAProxy, which they trust for X-Forwarded-For;
    3 requests a minute per client address, counted in Redis across both hosts."""
    settings = {
        "TRUSTED_PROXIES": "127.0.0.1",
        "RATE_LIMIT": "3 per minute",
        "RATE_LIMIT_STORAGE_URI": redis_url or "memory://",
    }
    with (
        app_host(cluster[0], bouncer, workers=2, **settings) as first,
        app_host(cluster[0], bouncer, workers=2, **settings) as second,
        haproxy(first.base, second.base) as base,
    ):
        yield base, [first, second]


def fresh_addresses(count: int) -> list[str]:
    """Loopback addresses no earlier run used within the rate limit's minute."""
    block = ipaddress.ip_network(f"127.{random.randrange(1, 255)}.{random.randrange(256)}.0/24")
    return [str(address) for address in list(block.hosts())[:count]]


def test_hundred_clients_race_for_one_slot_across_two_hosts_behind_haproxy(balanced, book):
    base, hosts = balanced
    before = [metric(h.base, "flask_http_request_total", method="POST") for h in hosts]
    clients = [client_at(address) for address in fresh_addresses(100)]
    barrier = threading.Barrier(len(clients))

    def send(n: int) -> requests.Response:
        barrier.wait()
        body = {**BODY, "id": n + 1, "calendar": "room-1"}
        return clients[n].post(f"{base}/appointments", json=body, timeout=30)

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        responses = list(pool.map(send, range(len(clients))))
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 99}
    winner = next(r.json()["id"] for r in responses if r.status_code == 201)
    assert [a["id"] for a in requests.get(f"{base}/appointments", timeout=10).json()] == [winner]
    assert find_violations(book) == {}
    served = [
        metric(h.base, "flask_http_request_total", method="POST") - b
        for h, b in zip(hosts, before, strict=True)
    ]
    assert sum(served) == 100 and min(served) > 0, served


def test_behind_haproxy_rate_limits_tell_clients_apart_by_forwarded_for(balanced, redis_url):
    if redis_url is None:
        pytest.skip("no Redis answers on 127.0.0.1:6379: a limit across two hosts needs one")
    base, _ = balanced
    first, second = (client_at(address) for address in fresh_addresses(2))
    statuses = [first.get(f"{base}/appointments", timeout=10).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    # Another client behind the same proxy has a budget of its own...
    assert second.get(f"{base}/appointments", timeout=10).status_code == 200
    # ...and cannot take a fresh one by sending X-Forwarded-For itself: HAProxy adds the
    # address it saw, and the hosts believe only what their trusted proxy added.
    spoofed = [
        second.get(
            f"{base}/appointments", headers={"X-Forwarded-For": f"198.51.100.{n}"}, timeout=10
        ).status_code
        for n in range(3)
    ]
    assert spoofed == [200, 200, 429]
