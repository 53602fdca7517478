"""The dispatcher's way to a receiver (webhooks_delivery.Channel), against real sockets on
loopback: one connection kept across a claim's events when the receiver keeps it alive, a
fresh one when it closed it, and the hard deadline however slowly a receiver drips its bytes."""

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

import webhooks
from domain import ACTIVE, RecordedVersion
from webhooks_delivery import DELIVERED, TIMEOUT, Channel, Deadlines, DispatchSettings
from webhooks_urls import UrlPolicy

SECRET = webhooks.new_secret()
SETTINGS = DispatchSettings(timeout_s=1, policy=UrlPolicy(allow_http=True, allow_private=True))
WHEN = datetime(2030, 1, 1, tzinfo=UTC)


def event(n: int) -> webhooks.Event:
    version = RecordedVersion(n, "cal-1", WHEN, WHEN, WHEN, WHEN, 1, ACTIVE, WHEN, None)
    return webhooks.Event(f"msg_{n}", webhooks.CREATED, version, txid=1, seq=n)


class Receiver:
    """An HTTP/1.1 receiver that verifies each signature and counts connections; with
    `close_after_answer` it closes each connection right after answering, without saying so
    (as a receiver's idle timeout does between two events); with `answer`, it writes that body
    after the headers, apart, as Python's http.server and Werkzeug do."""

    def __init__(
        self, *, keep_alive: bool = True, close_after_answer: bool = False, answer: bytes = b""
    ) -> None:
        self.ids: list[str] = []
        self.connections = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                receiver.connections += 1

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                Webhook(SECRET).verify(body, dict(self.headers))
                receiver.ids.append(self.headers["webhook-id"])
                self.send_response(200 if answer else 204)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                if answer:
                    self.wfile.write(answer)  # a send of its own, after the headers
                if close_after_answer:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_of() -> Iterator[Any]:
    made: list[Receiver] = []

    def make(**kwargs: Any) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def send_all(url: str, count: int) -> list[str]:
    with Channel(url, SECRET, SETTINGS, Deadlines()) as channel:
        return [channel.send(event(n)).outcome for n in range(count)]


def test_one_connection_carries_a_claims_events_when_the_receiver_keeps_it(receiver_of):
    receiver = receiver_of()
    assert send_all(receiver.url, 20) == [DELIVERED] * 20
    assert receiver.ids == [f"msg_{n}" for n in range(20)]
    assert receiver.connections == 1


def test_a_receiver_writing_headers_and_body_apart_is_not_held_by_delayed_acks(receiver_of):
    # With Nagle on, such a receiver sends the body only once the headers are acknowledged;
    # on a kept connection a delayed ACK holds that 40 ms an event (2 s for these 50) unless
    # the dispatcher acknowledges at once.
    receiver = receiver_of(answer=b"ok")
    started = time.monotonic()
    assert send_all(receiver.url, 50) == [DELIVERED] * 50
    assert receiver.connections == 1
    assert time.monotonic() - started < 1.5


def test_a_receiver_that_closes_each_connection_gets_a_new_one_per_event(receiver_of):
    receiver = receiver_of(keep_alive=False)
    assert send_all(receiver.url, 5) == [DELIVERED] * 5
    assert receiver.connections == 5


def test_a_connection_closed_while_idle_is_replaced_and_nothing_is_lost(receiver_of):
    receiver = receiver_of(close_after_answer=True)
    with Channel(receiver.url, SECRET, SETTINGS, Deadlines()) as channel:
        outcomes = []
        for n in range(5):
            outcomes.append(channel.send(event(n)).outcome)
            time.sleep(0.05)  # the close reaches us before the next event
    assert outcomes == [DELIVERED] * 5
    assert receiver.ids == [f"msg_{n}" for n in range(5)]


def test_a_receiver_dripping_its_answer_is_cut_at_the_deadline():
    # A byte every 0.2 s keeps every read within the socket timeout; only the whole
    # exchange's deadline (1 s here) stops it.
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                if stop.wait(0.2):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    threading.Thread(target=drip, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    started = time.monotonic()
    try:
        with Channel(url, SECRET, SETTINGS, Deadlines()) as channel:
            result = channel.send(event(1))
    finally:
        stop.set()
        listener.close()
    assert result.outcome == TIMEOUT
    assert 0.9 <= time.monotonic() - started < 3
