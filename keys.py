"""API keys in the database: the `flask --app sesame keys` command (create, revoke, rotate,
list; `make keys ARGS='...'` runs it), and the one query the key cache of auth.py refreshes with.

A key is `ses_` and 32 random bytes; the database keeps only its SHA-256 digest (a fast digest
is right for 256 random bits: nothing to guess), so a key is shown once, when it is made, and a
presented key is found by its digest, never compared as a secret. A key opens `calendars`
(exact names and `*` patterns; `*` alone is every calendar) to read, or to read and write.
Names are never reused, revoked keys' included, so each `recordedBy` names one key.
Every refusal (a wrong or missing argument, an unknown or duplicate name) is one line on stderr
and exit status 2. Never prints a key but the new one, on the last line of its output.
"""

import hashlib
import re
import secrets
from collections.abc import Collection, Iterable
from datetime import UTC, datetime
from typing import Any, NoReturn

import click
import psycopg
import psycopg.errors
from flask.cli import AppGroup
from sqlalchemy.engine import Engine

import database
from database import db
from domain import CALENDAR_PATTERN, EVERY_CALENDAR, Access

PREFIX = "ses_"
SCOPES = ("read", "write")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> bytes:
    """What the database keeps of a key, and what a presented key is looked up by."""
    return hashlib.sha256(key.encode()).digest()


def access_of(name: str, scope: str, calendars: Iterable[str]) -> Access:
    return Access(key=name, write=scope == "write", calendars=tuple(calendars))


# The key cache's refresh (auth.py), one round trip: record which keys this worker saw since
# its last refresh (coarsely: at most once a minute per key), then read them all.
TOUCH = (
    "UPDATE api_keys SET last_used_at = now() WHERE name = ANY(%(used)s) AND revoked_at IS NULL"
    " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')"
)
LOAD = "SELECT name, digest, scope, calendars, revoked_at IS NOT NULL AS revoked FROM api_keys"


def load(engine: Engine, used: Collection[str]) -> list[dict[str, Any]]:
    """Every key row (name, digest, scope, calendars, revoked), in the round trip that first
    records `used` (a coarse time, harmless to set twice: a lost connection is retried)."""
    statements = {"touched": TOUCH, "keys": LOAD} if used else {"keys": LOAD}
    return database.execute(engine, statements, {"used": list(used)})["keys"]


# The command.

_CREATE = (
    "INSERT INTO api_keys (name, digest, scope, calendars)"
    " VALUES (%(name)s, %(digest)s, %(scope)s, %(calendars)s)"
)
_REVOKE = (
    "UPDATE api_keys SET revoked_at = now()"
    " WHERE name = %(name)s AND revoked_at IS NULL RETURNING name"
)
_ROTATE = (
    "UPDATE api_keys SET digest = %(digest)s, created_at = now(), last_used_at = NULL"
    " WHERE name = %(name)s AND revoked_at IS NULL RETURNING name"
)
_LIST = (
    "SELECT name, scope, calendars, created_at, last_used_at, revoked_at"
    " FROM api_keys ORDER BY name"
)


class Refused(click.ClickException):
    """A refusal: one line, exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"keys: {self.format_message()}", err=True)


def _refuse(message: str) -> NoReturn:
    raise Refused(message)


class KeysGroup(AppGroup):
    """click's usage errors (a missing or wrong argument, an unknown verb) as one line, exit
    2, instead of the usage text."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise Refused(_one_line(error)) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            raise Refused(_one_line(error)) from None
        except psycopg.errors.UndefinedTable:
            raise Refused("the database has no api_keys table: migrate it first") from None
        except psycopg.errors.ProgrammingError as error:
            raise Refused(f"the database refused: {type(error).__name__}") from None
        except psycopg.Error as error:
            reason = type(error).__name__
            raise Refused(f"the database does not answer or refused ({reason})") from None


def _one_line(error: click.UsageError) -> str:
    message = " ".join(error.format_message().split())
    if error.ctx is not None and error.ctx.command.name not in (None, "keys"):
        return f"{error.ctx.command.name}: {message}"
    if message == "Missing command.":
        return "missing verb: create, revoke, rotate or list"
    return message


cli = KeysGroup(
    "keys", help="Create, revoke, rotate and list API keys in the database.", no_args_is_help=False
)


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        _refuse(f"bad name {value!r}: 1 to 64 of A-Z a-z 0-9 . _ - (not starting with . _ -)")
    return value


def _calendars(value: str) -> list[str]:
    patterns = list(dict.fromkeys(p.strip() for p in value.split(",") if p.strip()))
    if not patterns:
        _refuse("--calendars is empty: give names or * patterns, comma-separated ('*': all)")
    for pattern in patterns:
        if not CALENDAR_PATTERN.fullmatch(pattern):
            _refuse(f"bad calendar pattern {pattern!r}: calendar characters and * only")
    return [EVERY_CALENDAR] if EVERY_CALENDAR in patterns else patterns


@cli.command("create")
@click.argument("name")
@click.option("--scope", required=True, type=click.Choice(SCOPES), help="read, or read+write")
@click.option("--calendars", required=True, help="names and * patterns, comma-separated")
def create(name: str, scope: str, calendars: str) -> None:
    """Make a key; it is printed once, alone on the last line."""
    _name(name)
    patterns = _calendars(calendars)
    key = new_key()
    params = {"name": name, "digest": digest(key), "scope": scope, "calendars": patterns}
    try:
        database.execute(db.engine, {"created": _CREATE}, params, writes=True)
    except psycopg.errors.UniqueViolation:
        _refuse(f"a key named {name!r} exists already (names are never reused)")
    click.echo(f"Created key {name!r}: {scope} on {','.join(patterns)}.")
    click.echo("Shown only now (the database keeps its digest); send 'Authorization: Bearer KEY'.")
    click.echo(key)


@cli.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke a key: every worker refuses it within KEYS_REFRESH_S."""
    _change(_REVOKE, {"name": name})
    click.echo(f"Revoked key {name!r}: refused everywhere within KEYS_REFRESH_S.")


@cli.command("rotate")
@click.argument("name")
def rotate(name: str) -> None:
    """Replace a key's secret: the old one stops working, the new one is on the last line."""
    key = new_key()
    _change(_ROTATE, {"name": name, "digest": digest(key)})
    click.echo(f"Rotated key {name!r}: the old key is refused everywhere within KEYS_REFRESH_S.")
    click.echo("Shown only now (the database keeps its digest); send 'Authorization: Bearer KEY'.")
    click.echo(key)


def _change(statement: str, params: dict[str, Any]) -> None:
    """Change a key that is not revoked, or refuse: no such key, or a revoked one."""
    results = database.execute(
        db.engine,
        {"changed": statement, "known": "SELECT 1 AS found FROM api_keys WHERE name = %(name)s"},
        params,
        writes=True,
    )
    if results["changed"]:
        return
    if not results["known"]:
        _refuse(f"no key named {params['name']!r}")
    _refuse(f"key {params['name']!r} is revoked (names are never reused: create another)")


@cli.command("list")
def list_keys() -> None:
    """One line per key: name, scope, calendars, created, last used (coarse), revoked."""
    for row in database.execute(db.engine, {"keys": _LIST})["keys"]:
        click.echo(
            f"{row['name']}  scope={row['scope']}  calendars={','.join(row['calendars'])}"
            f"  created={_when(row['created_at'])}"
            f"  last_used={_when(row['last_used_at']) or 'never'}"
            f"  revoked={_when(row['revoked_at']) or 'no'}"
        )


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ") if moment else ""
