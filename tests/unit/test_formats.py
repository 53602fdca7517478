"""The document's TIME_PATTERN says exactly which request times `parse_time` accepts: a time
the pattern allows is never refused, and one it excludes is never taken."""

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from formats import TIME_PATTERN, parse_time

PATTERN = re.compile(TIME_PATTERN)
# The shape of a time, with any digits: most are no real date, time of day or offset.
SHAPE = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)
EDGES = st.sampled_from(["0000", "0001", "0002", "0004", "0100", "0400", "1900", "2000"])
EDGES |= st.sampled_from(["2023", "2024", "9998", "9999"])


def accepted(text: str) -> bool:
    try:
        parse_time(text)
    except ValueError:
        return False
    return True


@settings(max_examples=1500, derandomize=True)
@given(st.one_of(st.from_regex(SHAPE, fullmatch=True), st.text(max_size=40)))
def test_pattern_and_parser_agree_on_generated_strings(text):
    assert bool(PATTERN.fullmatch(text)) == accepted(text), text


@settings(max_examples=1500, derandomize=True)
@given(
    year=EDGES,
    month=st.integers(0, 13),
    day=st.integers(0, 32),
    clock=st.sampled_from(["00:00", "23:59", "24:00", "12:60", "23:59:59.9999", "00:00:60"]),
    offset=st.sampled_from(["", "Z", "+00:00", "-00:00", "+00:01", "-00:01", "+23:59", "-23:59"]),
)
def test_pattern_and_parser_agree_at_the_edges_of_the_calendar(year, month, day, clock, offset):
    text = f"{year}-{month:02d}-{day:02d}T{clock}{offset}"
    assert bool(PATTERN.fullmatch(text)) == accepted(text), text


@pytest.mark.parametrize("year", [1, 4, 100, 400, 1900, 2000, 2023, 2024, 9999])
def test_every_day_of_a_year_is_in_the_pattern_and_no_other(year):
    days = range(date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal() + 1)
    real = {date.fromordinal(day).isoformat() for day in days}
    for month in range(1, 13):
        for day_of_month in range(1, 32):
            text = f"{year:04d}-{month:02d}-{day_of_month:02d} 09:00"
            assert bool(PATTERN.fullmatch(text)) == (text[:10] in real) == accepted(text), text


def test_a_trailing_newline_is_refused_by_both():
    assert not PATTERN.fullmatch("2026-12-01 09:00\n") and not accepted("2026-12-01 09:00\n")
