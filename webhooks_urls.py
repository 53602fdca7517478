"""Which webhook URLs and addresses Sesame may send to: https and public addresses by default.

A webhook makes the service open connections where a client tells it to, so an open policy
would let anyone with a key probe the private network behind it (a database, a cloud metadata
endpoint at 169.254.169.254). Two checks, both here:
- `check_url` when a subscription is created: the scheme, and the host if it is an address
  literal. Names are not resolved then: what a name resolves to may change.
- `resolve` when a dispatcher takes up a subscription's events (a claim: at most 10 s of
  sending): the name's current addresses, all of which must be allowed; the dispatcher
  (webhooks_delivery.py) then connects to the address checked for the whole claim, never
  resolving again (no rebinding window).
`WEBHOOK_ALLOW_HTTP=1` allows plain http, `WEBHOOK_ALLOW_PRIVATE=1` loopback, private, link-local
and shared addresses (local development); `UrlPolicy.from_config` reads both, for the views
and the dispatcher alike. Never opens a connection itself.
"""

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

MAX_URL_LENGTH = 2048
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    allow_http: bool = False
    allow_private: bool = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "UrlPolicy":
        """The deployment's policy: WEBHOOK_ALLOW_HTTP and WEBHOOK_ALLOW_PRIVATE."""
        return cls(config["WEBHOOK_ALLOW_HTTP"], config["WEBHOOK_ALLOW_PRIVATE"])


class UrlRefused(ValueError):
    """A URL or an address this policy does not send to; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one delivery goes: the URL's parts and the one address checked for it."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    address: str


def check_url(url: str, policy: UrlPolicy) -> SplitResult:
    """The parsed URL if the policy allows it (its host unresolved), else `UrlRefused`."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"Must be at most {MAX_URL_LENGTH} characters.")
    if not url.isascii() or any(c.isspace() or ord(c) < 32 for c in url):
        raise UrlRefused("Must be an ASCII URL without spaces (punycode for other names).")
    try:
        parts = urlsplit(url)  # ValueError for a malformed [IPv6] host
    except ValueError:
        raise UrlRefused("Is not a valid URL.") from None
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in allowed or not url.startswith(f"{parts.scheme}://"):
        raise UrlRefused(
            "Must be an https:// URL." if not policy.allow_http else "Must be http(s)://."
        )
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("Must not carry a user name or password; put a token in the path.")
    if parts.fragment:
        raise UrlRefused("Must not have a #fragment.")
    try:
        port = parts.port
    except ValueError:
        raise UrlRefused("Has an invalid port.") from None
    if not parts.hostname or port == 0:
        raise UrlRefused("Must name a host.")
    literal = _literal(parts.hostname)
    if literal is not None:
        check_address(literal, policy)
    return parts


def check_address(address: Address, policy: UrlPolicy) -> None:
    """`UrlRefused` unless the policy lets a delivery connect to `address`."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified or address.is_multicast:
        raise UrlRefused(f"Address {address} is not a host.")
    if address.is_global:
        return
    if not policy.allow_private:
        kind = "loopback" if address.is_loopback else "not public"
        raise UrlRefused(f"Address {address} is {kind} (WEBHOOK_ALLOW_PRIVATE=1 allows it).")
    if not (address.is_loopback or address.is_private or address.is_link_local):
        raise UrlRefused(f"Address {address} is reserved.")


def resolve(url: str, policy: UrlPolicy) -> Target:
    """Check `url` and resolve its host now; every address it has must be allowed.

    Returns the first address, which the caller connects to (and only to it)."""
    parts = check_url(url, policy)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            raise UrlRefused(f"Host {host} does not resolve ({error}).") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise UrlRefused(f"Host {host} has no address.")
    for address in addresses:
        check_address(address, policy)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, str(addresses[0]))


def _literal(host: str) -> Address | None:
    """The address if `host` is an IP literal (urlsplit already dropped IPv6's brackets)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
