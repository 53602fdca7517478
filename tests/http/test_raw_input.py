"""Property-based: generated raw bodies, query strings and header values, at every operation.

Whatever arrives (bytes that are not UTF-8, integer literals past Python's 4,300-digit limit,
nesting deeper than the parser recurses, 5,000-digit numbers in `limit`, `offset` or If-Match),
the answer is never a 5xx, is always JSON (an error in the format the client asked for), and
a refused request leaves the book as it was. Runs through Flask's client and the live gunicorn
(tests/http/conftest.py). Derandomized, so a failure found once is found again.
"""

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import BODY, post

PROBLEM_JSON = "application/problem+json"
OPERATIONS = [
    ("POST", "/appointments"),
    ("GET", "/appointments"),
    ("GET", "/appointments.ics"),
    ("GET", "/appointments/1"),
    ("DELETE", "/appointments/1"),
    ("GET", "/appointments/1/history"),
    ("GET", "/changes"),
    ("GET", "/availability"),
    ("GET", "/health"),
]
QUERY_NAMES = ["limit", "offset", "cursor", "since", "from", "to", "at", "calendar", "status"]
QUERY_NAMES += ["minDuration", "id", ""]

huge_number = st.integers(4_290, 5_200).map(lambda n: "9" * n)
numbers = st.one_of(
    huge_number,
    st.integers().map(str),
    st.sampled_from(["-0", "1e999", "NaN", "-Infinity", "1.5", "0x10", "٤٢", str(2**63)]),
)
# Header values: what HTTP can carry (latin-1, no line breaks; surrounding spaces are not part
# of a value, and requests refuses to send them).
header_text = st.text(
    st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f")
).map(str.strip)
values = st.one_of(numbers, st.text(max_size=80), header_text)


def json_fragment() -> st.SearchStrategy[str]:
    """JSON text, valid or nearly so, with the values parsers choke on."""
    scalars = st.one_of(
        numbers,
        st.text(max_size=40).map(json.dumps),
        st.sampled_from(["true", "null", '"2026-12-01 09:00"', '"\\ud800"', "", "-", "[", "{"]),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
            st.dictionaries(st.sampled_from(list(BODY) + ["x"]), inner, max_size=3).map(
                lambda d: "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in d.items()) + "}"
            ),
        ),
        max_leaves=8,
    )


def body_with(name: str, fragment: str) -> str:
    fields = {k: json.dumps(v) for k, v in BODY.items()}
    fields[name] = fragment
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in fields.items()) + "}"


bodies = st.one_of(
    st.binary(max_size=200),
    json_fragment().map(str.encode),
    st.builds(body_with, st.sampled_from(list(BODY) + ["colour"]), json_fragment()).map(str.encode),
    st.integers(1, 2_000).map(lambda depth: ("[" * depth * 10 + "]" * depth * 10).encode()),
)
# Request lines over 8,190 bytes are refused by gunicorn itself (gunicorn.conf.py), before the
# app: the query strings here stay below that.
queries = (
    st.dictionaries(st.sampled_from(QUERY_NAMES), values, max_size=4)
    .map(lambda query: "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items()))
    .filter(lambda query: len(query) < 7_500)
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "If-Match": st.one_of(huge_number, huge_number.map(lambda n: f'"{n}"'), header_text),
        "If-None-Match": st.one_of(huge_number.map(lambda n: f'W/"{n}"'), header_text),
        "Accept": st.sampled_from([PROBLEM_JSON, "application/json", "*/*", "text/html"]),
        "Content-Type": st.sampled_from(["application/json", "application/json; charset=utf-16"]),
    },
)

GENERATED = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def book(client) -> tuple:
    everything = client.get("/appointments?status=all&limit=1000").get_json()
    return everything, client.get("/changes?limit=1000").get_json()["changes"]


def assert_answered_as_json(response, path: str, accept: str | None) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code == 304 or (path.endswith(".ics") and response.status_code < 300):
        return
    if response.status_code >= 400:
        body = response.get_json()
        if accept == PROBLEM_JSON:
            assert response.mimetype == PROBLEM_JSON
            assert body["status"] == response.status_code and body["error"]
        else:
            assert response.mimetype == "application/json"
            assert body["statusCode"] == response.status_code and body["error"]
    else:
        assert response.mimetype == "application/json"
        response.get_json()


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@GENERATED
@given(body=bodies, query=queries, sent_headers=headers)
def test_generated_input_never_gets_a_5xx_and_refusals_change_nothing(
    client, method, path, body, query, sent_headers
):
    if not book(client)[0]:
        assert post(client, id=1).status_code == 201
    before = book(client)
    send = getattr(client, method.lower())
    url = f"{path}?{query}" if query else path
    response = (
        send(url, data=body, headers=sent_headers)
        if method == "POST"
        else send(url, headers=sent_headers)
    )
    assert_answered_as_json(response, path, sent_headers.get("Accept"))
    if response.status_code >= 400 or method == "GET":
        assert book(client) == before


DIGITS_5000 = "9" * 5000


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("POST", "/appointments", {}),
        ("GET", "/appointments?limit=" + DIGITS_5000, {}),
        ("GET", "/appointments?offset=" + DIGITS_5000, {}),
        ("GET", "/changes?limit=" + DIGITS_5000, {}),
        ("GET", "/availability?minDuration=" + DIGITS_5000, {}),
        ("DELETE", "/appointments/1", {"If-Match": '"' + DIGITS_5000 + '"'}),
        ("POST", "/appointments", {"If-Match": DIGITS_5000}),
    ],
    ids=["body id", "limit", "offset", "changes limit", "minDuration", "If-Match", "bare If-Match"],
)
@pytest.mark.parametrize("accept", ["application/json", PROBLEM_JSON])
def test_five_thousand_digits_anywhere_are_a_400_or_412_in_either_error_format(
    client, method, path, headers, accept
):
    assert post(client, id=1).status_code == 201
    before = book(client)
    body = body_with("id", DIGITS_5000) if not headers and method == "POST" else json.dumps(BODY)
    send = getattr(client, method.lower())
    headers = {**headers, "Accept": accept}
    if method == "POST":
        response = send(path, data=body, content_type="application/json", headers=headers)
    else:
        response = send(path, headers=headers)
    assert response.status_code in (400, 412), response.get_data(as_text=True)
    assert_answered_as_json(response, path, accept)
    if response.status_code == 400:
        error = response.get_json()["error"]
        assert error == ("malformed_json" if method == "POST" else "validation_failed")
    assert book(client) == before
