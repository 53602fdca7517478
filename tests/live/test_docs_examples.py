"""Every `curl` example of README.md and docs/*.md runs, as written, against a live gunicorn.

Each document's examples run in the order written, on an empty book, through bash and the real
curl, with `localhost:3000` pointed at the test server. Each must exit 0 and answer 2xx, or
what the comment before its block says:

    <!-- curl: SPEC | SPEC | ... -->                      one SPEC per curl command of the block
    <!-- curl with NAME=VALUE ...: SPEC | ... -->         the same, on a server started with
                                                          those settings (e.g. API_KEYS)

A SPEC is space-separated checks: `409` (the status), `header=Name` or `header=Name:text`
(present, with that text in its value), `has=text` (in the body), `key=JSON` (a field of the
JSON body, e.g. `version=2`, `error=stale_update`, `conflicts=[42]`), or, alone,
`not-run: reason` for an example that cannot run here; those must be exactly NOT_RUN below, so
none is skipped silently. A placeholder such as `<next>` in a command is filled from the
same-named field of the latest JSON answer that had one. `-i` examples must show the headers.
Anything the parser cannot run (a non-curl command in a curl block, a marker that fits no
block) fails the test with its place. The README's Python client example runs too.
"""

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tools.live import ROOT, gunicorn

pytestmark = pytest.mark.live

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# (document, reason) of every example marked `not-run`: kept few and honest.
NOT_RUN: list[tuple[str, str]] = []

MARKER = re.compile(r"\s*<!--\s*curl(?:\s+with\s+(?P<env>[^:]*?))?\s*:(?P<specs>.*?)-->\s*")
FENCE = re.compile(r"^\s*(```|~~~)")
PLACEHOLDER = re.compile(r"<([A-Za-z_]\w*)>")
WRAPPER = (
    'curl() { command curl --silent --show-error --dump-header "$DUMP_HEADERS" '
    '--write-out "%{stderr}\\n%{http_code}" "$@"; }\n'
)


@dataclass
class Expectation:
    status: int | None = None
    headers: list[tuple[str, str | None]] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    contains: list[str] = field(default_factory=list)
    not_run: str | None = None


@dataclass
class Example:
    where: str  # document:line
    command: str
    env: dict[str, str]
    expect: Expectation


def parse_spec(spec: str) -> Expectation:
    spec = spec.strip()
    if spec.startswith("not-run:"):
        return Expectation(not_run=spec.removeprefix("not-run:").strip())
    expect = Expectation()
    for token in spec.split():
        if re.fullmatch(r"\d{3}", token):
            expect.status = int(token)
        elif token.startswith("header="):
            name, _, text = token.removeprefix("header=").partition(":")
            expect.headers.append((name, text or None))
        elif token.startswith("has="):
            expect.contains.append(token.removeprefix("has="))
        elif "=" in token:
            key, _, value = token.partition("=")
            try:
                expect.fields[key] = json.loads(value)
            except ValueError:
                expect.fields[key] = value
        else:
            raise ValueError(f"unknown check {token!r}")
    return expect


def _complete(command: str) -> bool:
    if command.endswith("\\"):
        return False
    try:
        shlex.split(command, comments=True)
    except ValueError:  # an open quote: the command goes on on the next line
        return False
    return True


def curl_commands(block: list[tuple[int, str]]) -> tuple[list[tuple[int, str]], list[str]]:
    """The curl commands of a code block (a command may span lines) and what cannot be run."""
    commands: list[tuple[int, str]] = []
    problems: list[str] = []
    start = 0
    lines: list[str] = []
    for number, text in block:
        if lines:
            lines.append(text)
        elif text.lstrip().startswith("curl "):
            start, lines = number, [text]
        else:
            if text.strip() and not text.lstrip().startswith("#"):
                problems.append(f"line {number}: not a curl command: {text.strip()}")
            continue
        if _complete("\n".join(lines)):
            commands.append((start, "\n".join(lines)))
            lines = []
    if lines:
        problems.append(f"line {start}: the command never ends")
    return commands, (problems if commands else [])


def examples(document: Path) -> tuple[list[Example], list[str]]:
    """The document's curl examples with what each must answer, and every problem found."""
    name = document.relative_to(ROOT).as_posix()
    found: list[Example] = []
    problems: list[str] = []
    lines = document.read_text().splitlines()
    marker: tuple[int, re.Match[str]] | None = None
    block: list[tuple[int, str]] | None = None
    for number, text in enumerate(lines, start=1):
        if block is not None:
            if FENCE.match(text):
                commands, trouble = curl_commands(block)
                problems += [f"{name}: {problem}" for problem in trouble]
                problems += _attach(name, commands, marker, found)
                block, marker = None, None
            else:
                block.append((number, text))
        elif FENCE.match(text):
            block = []
        elif match := MARKER.fullmatch(text):
            if marker is not None:
                problems.append(f"{name}:{marker[0]}: a marker with no curl block after it")
            marker = (number, match)
        elif text.strip() and marker is not None:
            problems.append(f"{name}:{marker[0]}: a marker with no curl block right after it")
            marker = None
    if marker is not None:
        problems.append(f"{name}:{marker[0]}: a marker with no curl block after it")
    return found, problems


def _attach(
    name: str,
    commands: list[tuple[int, str]],
    marker: tuple[int, re.Match[str]] | None,
    found: list[Example],
) -> list[str]:
    if marker is None:
        specs, env = [""] * len(commands), {}
    else:
        if not commands:
            return [f"{name}:{marker[0]}: a marker over a block with no curl command"]
        specs = marker[1]["specs"].split("|")
        env = dict(pair.split("=", 1) for pair in (marker[1]["env"] or "").split())
        if len(specs) != len(commands):
            return [f"{name}:{marker[0]}: {len(specs)} checks for {len(commands)} curl commands"]
    problems = []
    for (line, command), spec in zip(commands, specs, strict=True):
        try:
            found.append(Example(f"{name}:{line}", command, env, parse_spec(spec)))
        except ValueError as error:
            problems.append(f"{name}:{line}: {error}")
    return problems


class Servers:
    """Live gunicorns on the test database, one per set of extra settings, started on demand."""

    def __init__(self, environment: dict[str, str], stack: ExitStack) -> None:
        self.environment, self.stack = environment, stack
        self.started: dict[tuple[tuple[str, str], ...], str] = {}

    def base(self, settings: dict[str, str]) -> str:
        key = tuple(sorted(settings.items()))
        if key not in self.started:
            workers = int(settings.get("WEB_CONCURRENCY", "2"))
            server = self.stack.enter_context(
                gunicorn({**self.environment, **settings}, workers=workers)
            )
            self.started[key] = server.base
        return self.started[key]


@pytest.fixture(scope="module")
def servers(app, environment: dict[str, str]) -> Iterator[Servers]:
    with ExitStack() as stack:
        yield Servers(environment, stack)


def run(example: Example, base: str, workdir: Path, answers: dict[str, str]) -> list[str]:
    """Run one example; the ways its answer differs from what the docs say (none: it ran)."""
    command = example.command.replace("localhost:3000", base.removeprefix("http://"))
    for token in shlex.split(command, comments=True):
        for placeholder in PLACEHOLDER.findall(token):
            if placeholder not in answers:
                return [f"nothing earlier answered a value for <{placeholder}>"]
            command = command.replace(f"<{placeholder}>", answers[placeholder])
    dump = workdir / "headers"
    dump.unlink(missing_ok=True)
    result = subprocess.run(
        ["bash", "-c", WRAPPER + command],
        cwd=workdir,
        env={**os.environ, "DUMP_HEADERS": str(dump)},
        capture_output=True,
        timeout=60,
    )
    stderr = result.stderr.decode(errors="replace")
    if result.returncode != 0:
        return [f"exit {result.returncode}: {stderr.strip()}"]
    status = int(stderr.strip().splitlines()[-1])
    headers = _headers(dump.read_bytes().decode(errors="replace"))
    body = result.stdout.decode(errors="replace")  # as sent: HTTP's CRLFs kept
    shows_headers = "-i" in shlex.split(command, comments=True)
    if shows_headers:
        head, _, body = body.partition("\r\n\r\n")
    failures = []
    expect = example.expect
    if expect.status is not None and status != expect.status:
        failures.append(f"status {status}, the docs say {expect.status}")
    if expect.status is None and not 200 <= status < 300:
        failures.append(f"status {status}, the docs name none so 2xx")
    if shows_headers and not head.startswith("HTTP/"):
        failures.append("-i shows no status line and headers")
    for name, text in expect.headers:
        value = headers.get(name.lower())
        if value is None or (text is not None and text not in value):
            failures.append(f"header {name}: {value!r}, the docs say {text or 'present'}")
        elif shows_headers and f"\n{name.lower()}:" not in head.lower():
            failures.append(f"-i does not show {name}")
    answer: Any = None
    if expect.fields or headers.get("content-type", "").endswith("json"):
        try:
            answer = json.loads(body)
        except ValueError:
            failures.append(f"not JSON: {body[:200]!r}")
    for key, wanted in expect.fields.items():
        got = answer.get(key) if isinstance(answer, dict) else None
        if got != wanted:
            failures.append(f"{key} is {got!r}, the docs say {wanted!r}")
    failures += [f"the body lacks {text!r}" for text in expect.contains if text not in body]
    if isinstance(answer, dict):
        answers.update({k: v for k, v in answer.items() if isinstance(v, str)})
    return [f"{failure} (answer {status}: {body[:300]!r})" for failure in failures]


def _headers(dump: str) -> dict[str, str]:
    last = dump.strip().split("\r\n\r\n")[-1]
    pairs = (line.split(":", 1) for line in last.splitlines()[1:] if ":" in line)
    return {name.strip().lower(): value.strip() for name, value in pairs}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_every_curl_example_answers_as_the_docs_say(document, servers, clean, tmp_path):
    found, problems = examples(document)
    answers: dict[str, str] = {}
    for example in found:
        if example.expect.not_run is not None:
            continue
        failures = run(example, servers.base(example.env), tmp_path, answers)
        problems += [f"{example.where}: {failure}" for failure in failures]
    assert not problems, "\n".join(problems)


def test_the_examples_marked_not_run_are_exactly_the_known_ones():
    marked, problems = [], []
    for document in DOCUMENTS:
        found, trouble = examples(document)
        problems += trouble
        marked += [
            (e.where.split(":")[0], e.expect.not_run) for e in found if e.expect.not_run is not None
        ]
    assert not problems, "\n".join(problems)
    assert marked == NOT_RUN


def test_the_readme_and_the_api_reference_have_examples():
    readme, _ = examples(ROOT / "README.md")
    reference, _ = examples(ROOT / "docs" / "api.md")
    assert len(readme) >= 5 and len(reference) >= 15


def test_the_readme_python_client_example_runs(servers, clean):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    client_examples = [block for block in blocks if "sesame_client" in block]
    assert client_examples, "the README shows no Python client example"
    base = servers.base({})
    for code in client_examples:
        result = subprocess.run(
            [sys.executable, "-c", code.replace("http://localhost:3000", base)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        # It prints the AppointmentOut it created, as its comment says.
        assert result.stdout.startswith("AppointmentOut(") and "version=1" in result.stdout
