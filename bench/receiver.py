"""The webhook row's receiver: answers every POST 204 and counts them, as cheaply as Python
can, so that the row measures the dispatcher, not the receiver (which in production runs
elsewhere, not on the service's cores). An asyncio protocol on 127.0.0.1 on a thread of its
own; HTTP/1.1 with keep-alive, requests framed by Content-Length (what the dispatcher sends).
"""

import asyncio
import threading
from typing import Any

ANSWER = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


class _Counting(asyncio.Protocol):
    def __init__(self, receiver: "Receiver") -> None:
        self.receiver = receiver
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answers = 0
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            start = head.find(b"content-length:")
            length = int(head[start + 15 :].split(b"\r\n", 1)[0]) if start >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                break  # the body is still coming
            self.buffer = self.buffer[end + 4 + length :]
            answers += 1
        if answers and self.transport is not None:
            self.receiver.received += answers
            self.transport.write(ANSWER * answers)


class Receiver:
    """A context manager: `base` is its URL, `received` how many POSTs it answered."""

    def __init__(self) -> None:
        self.received = 0
        self._loop = asyncio.new_event_loop()
        server = self._loop.run_until_complete(
            self._loop.create_server(lambda: _Counting(self), "127.0.0.1", 0)
        )
        self.base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._server = server
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *_: Any) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
