"""Run a command of the service that may open connections to loopback only: for tests.

`python -m tools.loopback_only --app sesame webhooks run` is `flask --app sesame webhooks run`
with a Python audit hook installed first. The hook sees every `socket.connect` and name lookup
of the process before it happens and refuses, loudly (a line on stderr with GUARD_MARK, and an
exception), any destination that is not a loopback address or a Unix socket. Tests of the
webhook dispatcher run it this way and fail if the mark appears: no packet of theirs may leave
this machine, whatever a URL under test names.
"""

import ipaddress
import socket
import sys
from typing import Any

GUARD_MARK = "LOOPBACK GUARD"


class NonLoopbackConnect(RuntimeError):
    pass


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def guard(event: str, args: tuple[Any, ...]) -> None:
    """The audit hook: refuse a connection or lookup that could reach beyond loopback."""
    if event == "socket.connect":
        sock, address = args
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            _refuse(f"connect to {address!r}")
    elif event == "socket.getaddrinfo":
        host = args[0]
        if host is not None and not _is_loopback(host):
            _refuse(f"name lookup of {host!r}")


def _refuse(what: str) -> None:
    message = f"{GUARD_MARK}: refused {what}: only loopback is allowed here"
    print(message, file=sys.stderr, flush=True)
    raise NonLoopbackConnect(message)


def install() -> None:
    sys.addaudithook(guard)


if __name__ == "__main__":
    install()
    from flask.cli import main

    sys.argv[0] = "flask"
    main()
