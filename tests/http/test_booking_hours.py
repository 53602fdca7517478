"""Booking hours, named cases: calendar settings, slots across DST, write enforcement, and
availability's `closed`, through HTTP on real PostgreSQL.

Dates come from the zone rules (the next changes after today) or lie a few weeks ahead, so the
cases hold in any year. Calendar settings are not emptied between tests: every test uses
calendar names of its own.
"""

import random
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

import pytest

from tests.helpers import assert_error, put
from tests.slot_reference import (
    DEFAULTS,
    WEEKDAYS,
    Booked,
    candidates,
    closed,
    fmt,
    instant,
    local,
    minute,
    open_minutes,
    transitions,
    zone,
)
from tools.live import appointment

NOW = datetime.now(UTC)
NY = "America/New_York"
EVERY_DAY_9_TO_5 = {day: [["09:00", "17:00"]] for day in WEEKDAYS}
WHOLE_DAYS = {day: [["00:00", "24:00"]] for day in WEEKDAYS}


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def put_settings(client, calendar: str, **body) -> dict:
    response = put(client, f"/calendars/{calendar}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def slot_list(client, calendars: list[str], start: datetime, end: datetime, **params) -> list:
    query = urlencode(
        [("calendar", c) for c in calendars]
        + [("from", fmt(start)), ("to", fmt(end))]
        + list(params.items())
    )
    response = client.get(f"/slots?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["slots"]


def starts(slots: list[dict]) -> list[datetime]:
    return [datetime.fromisoformat(s["start"]) for s in slots]


def readings(slots: list[dict], tz_name: str) -> list[str]:
    """The local wall-clock reading of each slot's start, HH:MM."""
    return [s.astimezone(zone(tz_name)).strftime("%H:%M") for s in starts(slots)]


def book(client, id: int, calendar: str, start, end, **changes):
    """POST an appointment from `start` to `end` (instants, or the API's time strings)."""
    start, end = (datetime.fromisoformat(t) if isinstance(t, str) else t for t in (start, end))
    body = appointment(id, calendar=calendar, start=start)
    body["end"] = fmt(end)
    return client.post("/appointments", json={**body, **changes})


def local_day(tz_name: str, day: date) -> tuple[datetime, datetime]:
    """The instants of local midnight starting `day` and the next day."""
    tz = zone(tz_name)
    return local(day, "00:00", tz), local(day + timedelta(days=1), "00:00", tz)


def weekday_ahead(weekday: str, weeks: int = 5) -> date:
    """That weekday, some weeks after today."""
    day = NOW.date() + timedelta(weeks=weeks)
    return day + timedelta(days=(WEEKDAYS.index(weekday) - day.weekday()) % 7)


NY_CHANGES = transitions(NY, NOW, count=2)  # spring forward and fall back, in some order
SPRING = next(c for c in NY_CHANGES if c.astimezone(zone(NY)).dst())
FALL = next(c for c in NY_CHANGES if not c.astimezone(zone(NY)).dst())


def change_day(change: datetime, tz_name: str) -> date:
    return change.astimezone(zone(tz_name)).date()


# -- Slots across DST ---------------------------------------------------------------------------


@pytest.mark.parametrize("change", [SPRING, FALL], ids=["spring", "fall"])
def test_nine_to_five_in_new_york_starts_at_nine_local_on_the_change_days(client, change):
    calendar = name("ny")
    put_settings(client, calendar, timeZone=NY, hours=EVERY_DAY_9_TO_5, horizon=3650)
    day = change_day(change, NY)
    for each in (day - timedelta(days=1), day, day + timedelta(days=1)):
        found = slot_list(client, [calendar], *local_day(NY, each), duration=30, interval=15)
        assert found[0]["start"] == fmt(local(each, "09:00", zone(NY))), each
        assert readings(found, NY) == [f"{m // 60:02d}:{m % 60:02d}" for m in range(540, 991, 15)]
        assert found[-1]["end"] == fmt(local(each, "17:00", zone(NY)))
    # The offset changes between the day before and the day after: 09:00 is another UTC hour.
    before = local(day - timedelta(days=1), "09:00", zone(NY))
    after = local(day + timedelta(days=1), "09:00", zone(NY))
    assert (after - before) != timedelta(days=2)


@pytest.mark.parametrize("interval", [15, 30])
def test_no_slot_starts_in_the_spring_forward_gap(client, interval):
    calendar = name("gap")
    put_settings(client, calendar, timeZone=NY, hours=WHOLE_DAYS, horizon=3650)
    day = change_day(SPRING, NY)
    found = slot_list(client, [calendar], *local_day(NY, day), duration=interval, interval=interval)
    clocks = readings(found, NY)
    assert not [c for c in clocks if "02:00" <= c < "03:00"]
    assert len(found) == 23 * 60 // interval  # a 23-hour day
    assert len(set(clocks)) == len(clocks)
    # Across the gap the grid jumps from the last reading before it to 03:00, one step in UTC.
    last_before = f"01:{60 - interval:02d}"
    i = clocks.index(last_before)
    assert clocks[i + 1] == "03:00"
    assert starts(found)[i + 1] - starts(found)[i] == timedelta(minutes=interval)


def test_an_interval_starting_in_the_gap_opens_at_the_offset_before_it(client):
    """02:30 on the spring-forward day does not exist: read with the offset before the gap it
    is 03:30 daylight time, so the interval opens then (RFC 5545, zoneinfo fold=0)."""
    calendar = name("gap-start")
    day = change_day(SPRING, NY)
    hours = {WEEKDAYS[day.weekday()]: [["02:30", "05:00"]]}
    put_settings(client, calendar, timeZone=NY, hours=hours, horizon=3650)
    found = slot_list(client, [calendar], *local_day(NY, day), duration=30, interval=30)
    assert readings(found, NY) == ["03:30", "04:00", "04:30"]
    assert found[0]["start"] == fmt(SPRING + timedelta(minutes=30))


def test_the_grid_follows_the_clock_reading_across_a_half_hour_change(client):
    """Lord Howe springs forward from 02:00 to 02:30: an hourly grid goes 01:00, 03:00, an
    hour and a half apart; 02:30 is not on it (150 is not a multiple of 60)."""
    tz_name = "Australia/Lord_Howe"
    spring = next(c for c in transitions(tz_name, NOW) if c.astimezone(zone(tz_name)).dst())
    calendar = name("howe")
    put_settings(client, calendar, timeZone=tz_name, hours=WHOLE_DAYS, horizon=3650)
    found = slot_list(
        client,
        [calendar],
        *local_day(tz_name, change_day(spring, tz_name)),
        duration=60,
        interval=60,
    )
    clocks = readings(found, tz_name)
    assert clocks[:3] == ["00:00", "01:00", "03:00"]
    assert starts(found)[2] - starts(found)[1] == timedelta(minutes=90)
    assert len(found) == 23


def test_the_repeated_hour_gives_both_instants(client):
    calendar = name("fold")
    day = change_day(FALL, NY)
    put_settings(client, calendar, timeZone=NY, hours=WHOLE_DAYS, horizon=3650)
    found = slot_list(client, [calendar], *local_day(NY, day), duration=30, interval=30)
    clocks = readings(found, NY)
    assert len(found) == 50  # a 25-hour day
    assert clocks.count("01:00") == 2 and clocks.count("01:30") == 2
    assert clocks[2:8] == ["01:00", "01:30", "01:00", "01:30", "02:00", "02:30"]
    # An interval 01:00-02:00 that day runs from the first 01:00 to the only 02:00: two hours.
    other = name("fold-hour")
    hours = {WEEKDAYS[day.weekday()]: [["01:00", "02:00"]]}
    put_settings(client, other, timeZone=NY, hours=hours, horizon=3650)
    found = slot_list(client, [other], *local_day(NY, day), duration=30, interval=30)
    assert [s["start"] for s in found] == [
        fmt(FALL + timedelta(minutes=m)) for m in (-60, -30, 0, 30)
    ]


def test_overnight_friday_runs_into_saturday_even_when_saturday_is_closed(client):
    calendar = name("night")
    friday = weekday_ahead("fri")
    saturday = friday + timedelta(days=1)
    tz = zone("Europe/London")
    put_settings(
        client,
        calendar,
        timeZone="Europe/London",
        hours={"fri": [["22:00", "02:00"]], "sat": [["09:00", "12:00"]]},
        overrides={saturday.isoformat(): []},
        horizon=3650,
        enforce=True,
    )
    window = (local(friday, "18:00", tz), local(saturday + timedelta(days=1), "00:00", tz))
    found = slot_list(client, [calendar], *window, duration=60, interval=60)
    assert [s["start"] for s in found] == [
        fmt(local(friday, "22:00", tz)),
        fmt(local(friday, "23:00", tz)),
        fmt(local(saturday, "00:00", tz)),
        fmt(local(saturday, "01:00", tz)),
    ]
    assert book(client, 1, calendar, found[-1]["start"], found[-1]["end"]).status_code == 201
    late = local(saturday, "01:30", tz), local(saturday, "02:30", tz)
    assert_error(book(client, 2, calendar, *late), 409, "outside_hours")
    morning = local(saturday, "09:00", tz), local(saturday, "10:00", tz)
    assert_error(book(client, 3, calendar, *morning), 409, "outside_hours")


def test_an_override_closes_a_weekday_and_another_opens_a_sunday(client):
    calendar = name("override")
    monday = weekday_ahead("mon")
    week = [monday + timedelta(days=n) for n in range(7)]
    wednesday, sunday = week[2], week[6]
    tz_name = "Europe/London"
    put_settings(
        client,
        calendar,
        timeZone=tz_name,
        hours={day: [["09:00", "12:00"], ["13:00", "17:00"]] for day in WEEKDAYS[:5]},
        overrides={wednesday.isoformat(): [], sunday.isoformat(): [["10:00", "12:00"]]},
        horizon=3650,
    )
    start, _ = local_day(tz_name, monday)
    _, end = local_day(tz_name, sunday)
    found = slot_list(client, [calendar], start, end, duration=60, interval=60)
    by_day: dict[date, list[str]] = {}
    for when in starts(found):
        reading = when.astimezone(zone(tz_name))
        by_day.setdefault(reading.date(), []).append(reading.strftime("%H:%M"))
    weekday = ["09:00", "10:00", "11:00", "13:00", "14:00", "15:00", "16:00"]
    assert by_day == {
        week[0]: weekday,
        week[1]: weekday,
        week[3]: weekday,
        week[4]: weekday,
        sunday: ["10:00", "11:00"],
    }


def test_santiago_day_without_midnight_and_its_repeated_last_hour(client):
    """Santiago changes at local midnight: the spring-forward day has no 00:00 (an interval
    from 00:00 opens at 01:00), and the fall-back day repeats 23:00-24:00 at its end."""
    tz_name = "America/Santiago"
    tz = zone(tz_name)
    changes = transitions(tz_name, NOW)
    spring = next(c for c in changes if c.astimezone(tz).dst())
    fall = next(c for c in changes if not c.astimezone(tz).dst())
    calendar = name("santiago")
    spring_day = change_day(spring, tz_name)
    assert spring.astimezone(tz).strftime("%H:%M") == "01:00"
    fall_eve = change_day(fall - timedelta(minutes=1), tz_name)  # the day the hour repeats
    put_settings(
        client,
        calendar,
        timeZone=tz_name,
        hours={},
        overrides={
            spring_day.isoformat(): [["00:00", "03:00"]],
            fall_eve.isoformat(): [["23:00", "24:00"]],
        },
        horizon=3650,
    )
    found = slot_list(
        client,
        [calendar],
        spring - timedelta(hours=6),
        spring + timedelta(hours=6),
        duration=60,
        interval=60,
    )
    assert [s["start"] for s in found] == [fmt(spring), fmt(spring + timedelta(hours=1))]
    assert readings(found, tz_name) == ["01:00", "02:00"]
    found = slot_list(
        client,
        [calendar],
        fall - timedelta(hours=6),
        fall + timedelta(hours=6),
        duration=60,
        interval=60,
    )
    assert [s["start"] for s in found] == [fmt(fall - timedelta(hours=1)), fmt(fall)]
    assert readings(found, tz_name) == ["23:00", "23:00"]


def test_required_counts_free_calendars_and_lists_them(client):
    a, b = name("req-a"), name("req-b")
    tz = zone("UTC")
    day = weekday_ahead("tue")
    put_settings(client, a, hours={"tue": [["09:00", "11:00"]]}, horizon=3650)
    put_settings(client, b, hours={"tue": [["10:00", "12:00"]]}, horizon=3650)
    window = local(day, "08:00", tz), local(day, "13:00", tz)
    both = slot_list(client, [b, a], *window, duration=60, interval=60)
    assert [(s["start"][11:16], s["calendars"]) for s in both] == [("10:00", sorted([a, b]))]
    one = slot_list(client, [b, a], *window, duration=60, interval=60, required=1)
    assert [(s["start"][11:16], s["calendars"]) for s in one] == [
        ("09:00", [a]),
        ("10:00", sorted([a, b])),
        ("11:00", [b]),
    ]


def test_a_calendar_never_put_is_open_always_in_slots(client):
    calendar = name("bare")
    start = datetime.combine(weekday_ahead("wed"), datetime.min.time(), UTC)
    found = slot_list(client, [calendar], start, start + timedelta(hours=2), duration=30)
    assert len(found) == 7
    assert book(client, 1, calendar, start, start + timedelta(minutes=30)).status_code == 201
    found = slot_list(client, [calendar], start, start + timedelta(hours=2), duration=30)
    assert found[0]["start"] == fmt(start + timedelta(minutes=30))


# -- The settings API ---------------------------------------------------------------------------


DEFAULT_SETTINGS = DEFAULTS  # what a calendar never PUT answers, and what PUT omits
FULL = {
    "timeZone": NY,
    "hours": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "fri": [["22:00", "02:00"]]},
    "overrides": {"2027-12-24": [["09:00", "12:00"]], "2027-12-25": []},
    "bufferBefore": 10,
    "bufferAfter": 5,
    "minimumNotice": 120,
    "horizon": 60,
    "enforce": True,
}
UTC_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def test_a_calendar_never_put_answers_the_defaults_with_version_0(client):
    calendar = name("fresh")
    response = client.get(f"/calendars/{calendar}")
    assert response.status_code == 200
    assert response.headers["ETag"] == '"0"'
    assert response.get_json() == {
        "calendar": calendar,
        **DEFAULT_SETTINGS,
        "version": 0,
        "updatedAt": None,
    }


def test_put_replaces_the_whole_settings_and_bumps_the_version(client):
    calendar = name("put")
    response = put(client, f"/calendars/{calendar}", json=FULL)
    assert response.status_code == 200
    assert response.headers["ETag"] == '"1"'
    stored = response.get_json()
    assert {k: v for k, v in stored.items() if k != "updatedAt"} == {
        "calendar": calendar,
        **FULL,
        "version": 1,
    }
    assert UTC_MS.fullmatch(stored["updatedAt"])
    moment = datetime.fromisoformat(stored["updatedAt"])
    assert abs(moment - datetime.now(UTC)) < timedelta(minutes=1)
    read = client.get(f"/calendars/{calendar}")
    assert read.get_json() == stored and read.headers["ETag"] == '"1"'

    response = put(client, f"/calendars/{calendar}", json={"timeZone": "Europe/London"})
    assert response.status_code == 200 and response.headers["ETag"] == '"2"'
    replaced = response.get_json()
    assert {k: v for k, v in replaced.items() if k != "updatedAt"} == {
        "calendar": calendar,
        **DEFAULT_SETTINGS,
        "timeZone": "Europe/London",
        "version": 2,
    }
    assert replaced["updatedAt"] >= stored["updatedAt"]

    # A GET's body can be PUT back as it is: calendar, version and updatedAt are read-only.
    echoed = put(
        client, f"/calendars/{calendar}", json=client.get(f"/calendars/{calendar}").get_json()
    )
    assert echoed.status_code == 200
    assert echoed.get_json()["version"] == 3
    assert {**echoed.get_json(), "version": 2, "updatedAt": None} == {
        **replaced,
        "updatedAt": None,
    }


def test_if_match_with_a_stale_version_is_412_and_changes_nothing(client):
    calendar = name("etag")
    fresh = put(client, f"/calendars/{calendar}", json=FULL, headers={"If-Match": '"0"'})
    assert fresh.status_code == 200 and fresh.headers["ETag"] == '"1"'
    assert (
        put(client, f"/calendars/{calendar}", json={}, headers={"If-Match": '"1"'}).status_code
        == 200
    )
    stale = put(client, f"/calendars/{calendar}", json=FULL, headers={"If-Match": '"1"'})
    assert_error(stale, 412, "precondition_failed")
    now = client.get(f"/calendars/{calendar}").get_json()
    assert now["version"] == 2 and now["hours"] is None


def test_the_list_of_calendars_holds_only_calendars_put_sorted(client):
    tag = uuid.uuid4().hex[:10]
    b, a, only_read = f"list-{tag}-b", f"list-{tag}-a", f"list-{tag}-c"
    put_settings(client, b, timeZone="Europe/London")
    put_settings(client, a, **FULL)
    client.get(f"/calendars/{only_read}")
    response = client.get("/calendars")
    assert response.status_code == 200
    listed = response.get_json()
    names = [c["calendar"] for c in listed]
    assert names == sorted(names)
    assert [c for c in listed if tag in c["calendar"]] == [
        client.get(f"/calendars/{a}").get_json(),
        client.get(f"/calendars/{b}").get_json(),
    ]
    assert all(c["version"] >= 1 for c in listed)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"timeZone": "Mars/Olympus_Mons"}, id="unknown-zone"),
        pytest.param({"timeZone": "EST5EDT "}, id="zone-with-space"),
        pytest.param({"hours": {"mon": [["09:00", "09:00"]]}}, id="from-equals-to"),
        pytest.param({"hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, id="overlap"),
        pytest.param(
            {"hours": {"fri": [["22:00", "02:00"], ["23:00", "23:30"]]}}, id="overlap-overnight"
        ),
        pytest.param(
            {"hours": {"fri": [["22:00", "02:00"], ["00:00", "01:00"], ["21:00", "22:30"]]}},
            id="overlap-before-overnight",
        ),
        pytest.param({"hours": {"monday": [["09:00", "17:00"]]}}, id="bad-weekday"),
        pytest.param({"hours": {"mon": [["09:00", "24:30"]]}}, id="24:30"),
        pytest.param({"hours": {"mon": [["9:00", "17:00"]]}}, id="9:00"),
        pytest.param({"hours": {"mon": [["09:00", "17:60"]]}}, id="17:60"),
        pytest.param({"hours": {"mon": [["24:00", "02:00"]]}}, id="from-24:00"),
        pytest.param({"hours": {"mon": [["09:00"]]}}, id="one-time"),
        pytest.param({"hours": {"mon": [["09:00", "12:00", "13:00"]]}}, id="three-times"),
        pytest.param({"hours": {"mon": [["٠٩:00", "17:00"]]}}, id="arabic-indic-digits"),
        pytest.param({"hours": "09:00-17:00"}, id="hours-string"),
        pytest.param({"overrides": {"2027-02-30": []}}, id="no-such-date"),
        pytest.param({"overrides": {"tomorrow": []}}, id="not-a-date"),
        pytest.param(
            {"overrides": {"2027-W51-5": []}}, id="iso-week-date"
        ),  # an ISO week date, 10 characters like YYYY-MM-DD
        pytest.param({"overrides": {"20271224  ": []}}, id="basic-date-padded"),
        pytest.param(
            {"overrides": {"2027-12-24": [["12:00", "12:00"]]}}, id="override-from-equals-to"
        ),
        pytest.param({"bufferBefore": 1441}, id="bufferBefore-1441"),
        pytest.param({"bufferAfter": -1}, id="bufferAfter-negative"),
        pytest.param({"bufferBefore": 10.5}, id="bufferBefore-fraction"),
        pytest.param({"minimumNotice": 5256001}, id="minimumNotice-too-big"),
        pytest.param({"horizon": 3651}, id="horizon-3651"),
        pytest.param({"horizon": 0}, id="horizon-0"),
        pytest.param({"enforce": "maybe"}, id="enforce-maybe"),
        pytest.param({"color": "blue"}, id="unknown-field"),
    ],
)
def test_bad_settings_are_400_validation_failed_and_change_nothing(client, body):
    calendar = name("bad")
    assert_error(put(client, f"/calendars/{calendar}", json=body), 400, "validation_failed")
    assert client.get(f"/calendars/{calendar}").get_json()["version"] == 0


def test_the_path_names_the_calendar_whatever_the_body_says(client):
    # Read-only in a PUT, as version and updatedAt: a GET's body of one calendar can be PUT
    # to another, which copies its settings (the document cannot tie a field to the path).
    calendar, other = name("named"), name("other")
    response = put(client, f"/calendars/{calendar}", json={"calendar": other, "horizon": 9})
    assert response.status_code == 200
    assert response.get_json()["calendar"] == calendar
    assert client.get(f"/calendars/{other}").get_json()["version"] == 0


@pytest.mark.parametrize(
    "hours",
    [
        {"mon": [["09:00", "12:00"], ["12:00", "13:00"]]},  # touching, not overlapping
        {"fri": [["22:00", "02:00"], ["02:00", "03:00"]]},  # [22:00, 26:00) then [02:00, 03:00)
        {"sun": [["00:00", "24:00"]], "mon": [["23:59", "23:58"]]},
        {"mon": []},
    ],
)
def test_touching_intervals_and_extremes_are_accepted(client, hours):
    calendar = name("edge")
    stored = put_settings(client, calendar, hours=hours)["hours"]
    assert {day: sorted(intervals) for day, intervals in stored.items()} == {
        day: sorted(intervals) for day, intervals in hours.items()
    }


# -- Writes on an enforced calendar -------------------------------------------------------------


def enforced(client, prefix: str, **settings) -> tuple[str, date, object]:
    """An enforced London calendar, open 09:00-12:00 and 13:00-17:00 on weekdays, with a
    Tuesday some weeks ahead and its zone."""
    calendar = name(prefix)
    body = {
        "timeZone": "Europe/London",
        "hours": {day: [["09:00", "12:00"], ["13:00", "17:00"]] for day in WEEKDAYS[:5]},
        "horizon": 3650,
        "enforce": True,
        **settings,
    }
    put_settings(client, calendar, **body)
    return calendar, weekday_ahead("tue"), zone("Europe/London")


def test_booking_outside_open_time_is_409_outside_hours(client):
    calendar, day, tz = enforced(client, "hours")
    saturday = day + timedelta(days=4)
    for n, (start, end) in enumerate(
        [
            (local(day, "08:30", tz), local(day, "09:30", tz)),
            (local(day, "16:30", tz), local(day, "17:01", tz)),
            (local(day, "11:30", tz), local(day, "13:30", tz)),  # across the lunch break
            (local(saturday, "10:00", tz), local(saturday, "11:00", tz)),
        ],
        start=1,
    ):
        assert_error(book(client, n, calendar, start, end), 409, "outside_hours")
        assert client.get(f"/appointments/{n}").status_code == 404
    assert (
        book(client, 9, calendar, local(day, "09:00", tz), local(day, "12:00", tz)).status_code
        == 201
    )
    assert (
        book(client, 10, calendar, local(day, "13:00", tz), local(day, "17:00", tz)).status_code
        == 201
    )


def test_open_time_is_the_union_of_intervals_across_days(client):
    """Friday 22:00-02:00 and Saturday 02:00-04:00 touch: 01:00-03:00 lies inside open time."""
    calendar = name("union")
    friday = weekday_ahead("fri")
    saturday = friday + timedelta(days=1)
    tz = zone("Asia/Kathmandu")
    put_settings(
        client,
        calendar,
        timeZone="Asia/Kathmandu",
        hours={"fri": [["22:00", "02:00"]], "sat": [["02:00", "04:00"]]},
        enforce=True,
    )
    assert (
        book(
            client, 1, calendar, local(saturday, "01:00", tz), local(saturday, "03:00", tz)
        ).status_code
        == 201
    )
    assert_error(
        book(client, 2, calendar, local(saturday, "03:30", tz), local(saturday, "04:15", tz)),
        409,
        "outside_hours",
    )


def test_blocked_ranges_that_meet_are_409_and_buffers_apart_is_accepted(client):
    calendar, day, tz = enforced(client, "buffers", bufferBefore=10, bufferAfter=5)
    assert (
        book(client, 1, calendar, local(day, "10:00", tz), local(day, "10:30", tz)).status_code
        == 201
    )
    # After it: blocked [10:00-10, 10:30+5) and [s-10, ...) may not meet: s >= 10:45.
    for n, (start, end) in enumerate([("10:30", "11:00"), ("10:44", "11:00")], start=2):
        body = assert_error(
            book(client, n, calendar, local(day, start, tz), local(day, end, tz)),
            409,
            "time_range_unavailable",
        )
        assert body["conflicts"] == [1]
    # Before it: its blocked range ends at e+5, which must not pass 09:50: e <= 09:45.
    body = assert_error(
        book(client, 4, calendar, local(day, "09:15", tz), local(day, "09:46", tz)),
        409,
        "time_range_unavailable",
    )
    assert body["conflicts"] == [1]
    assert (
        book(client, 5, calendar, local(day, "10:45", tz), local(day, "11:00", tz)).status_code
        == 201
    )
    assert (
        book(client, 6, calendar, local(day, "09:15", tz), local(day, "09:45", tz)).status_code
        == 201
    )
    # Between two: both in the way.
    body = assert_error(
        book(client, 7, calendar, local(day, "09:40", tz), local(day, "10:50", tz)),
        409,
        "time_range_unavailable",
    )
    assert sorted(body["conflicts"]) == [1, 5, 6]


def test_cancel_is_always_allowed_and_revival_is_checked_again(client):
    calendar, day, tz = enforced(client, "cancel", bufferAfter=30)
    start, end = local(day, "09:00", tz), local(day, "10:00", tz)
    assert book(client, 1, calendar, start, end).status_code == 201
    # New settings close the morning: the stored appointment stays as it is.
    put_settings(
        client,
        calendar,
        timeZone="Europe/London",
        hours={WEEKDAYS[day.weekday()]: [["13:00", "17:00"]]},
        bufferAfter=30,
        horizon=3650,
        enforce=True,
    )
    assert client.get("/appointments/1").get_json()["status"] == "active"
    assert client.delete("/appointments/1").status_code == 200
    revive = book(client, 1, calendar, start, end, updatedAt="2026-02-01T00:00:00Z")
    assert_error(revive, 409, "outside_hours")
    assert client.get("/appointments/1").get_json()["status"] == "cancelled"
    # An update of an active appointment is checked too, against the others' buffers.
    afternoon = local(day, "13:00", tz), local(day, "14:00", tz)
    assert book(client, 2, calendar, *afternoon).status_code == 201
    assert (
        book(client, 3, calendar, local(day, "15:00", tz), local(day, "16:00", tz)).status_code
        == 201
    )
    moved = book(
        client,
        3,
        calendar,
        local(day, "14:15", tz),
        local(day, "15:00", tz),
        updatedAt="2026-02-01T00:00:00Z",
    )
    assert assert_error(moved, 409, "time_range_unavailable")["conflicts"] == [2]
    assert client.get("/appointments/3").get_json()["version"] == 1
    assert client.delete("/appointments/2").status_code == 200


def test_an_update_never_meets_its_own_blocked_range(client):
    calendar, day, tz = enforced(client, "self", bufferBefore=30, bufferAfter=30)
    assert (
        book(client, 1, calendar, local(day, "10:00", tz), local(day, "10:30", tz)).status_code
        == 201
    )
    moved = book(
        client,
        1,
        calendar,
        local(day, "10:15", tz),
        local(day, "10:45", tz),
        updatedAt="2026-02-01T00:00:00Z",
    )
    assert moved.status_code == 200, moved.get_data(as_text=True)
    assert moved.get_json()["version"] == 2


def test_a_move_to_an_enforced_calendar_is_checked_against_its_hours(client):
    calendar, day, tz = enforced(client, "move-in")
    loose = name("loose")
    night = local(day, "20:00", tz), local(day, "21:00", tz)
    assert book(client, 1, loose, *night).status_code == 201
    later = "2026-02-01T00:00:00Z"
    assert_error(book(client, 1, calendar, *night, updatedAt=later), 409, "outside_hours")
    assert client.get("/appointments/1").get_json()["calendar"] == loose
    morning = local(day, "09:00", tz), local(day, "10:00", tz)
    moved = book(client, 1, calendar, *morning, updatedAt=later)
    assert moved.status_code == 200 and moved.get_json()["calendar"] == calendar


def test_enforce_false_keeps_the_plain_behaviour(client):
    calendar, day, tz = enforced(client, "plain", bufferBefore=30, bufferAfter=30, enforce=False)
    night = local(day, "02:00", tz), local(day, "03:00", tz)
    assert book(client, 1, calendar, *night).status_code == 201
    assert (
        book(client, 2, calendar, local(day, "03:00", tz), local(day, "04:00", tz)).status_code
        == 201
    )
    body = assert_error(
        book(client, 3, calendar, local(day, "03:59", tz), local(day, "05:00", tz)),
        409,
        "time_range_unavailable",
    )
    assert body["conflicts"] == [2]


def test_offered_slots_book_and_grid_starts_refused_for_buffers_are_refused(client):
    rng = random.Random(2211)
    settings = {
        "timeZone": "Europe/London",
        "hours": {day: [["08:00", "12:00"], ["13:00", "18:00"]] for day in WEEKDAYS},
        "bufferBefore": 15,
        "bufferAfter": 10,
        "horizon": 3650,
    }
    calendar = name("bookable")
    put_settings(client, calendar, **settings)
    day = weekday_ahead("thu")
    tz = zone("Europe/London")
    existing = [("09:10", "09:50"), ("11:20", "12:00"), ("13:00", "13:25"), ("16:05", "17:00")]
    booked = []
    for n, (start, end) in enumerate(existing, start=1):
        assert (
            book(client, n, calendar, local(day, start, tz), local(day, end, tz)).status_code == 201
        )
        booked.append(Booked(calendar, local(day, start, tz), local(day, end, tz), n))
    put_settings(client, calendar, **settings, enforce=True)
    window = local(day, "07:00", tz), local(day, "19:00", tz)
    offered = {s["start"] for s in slot_list(client, [calendar], *window, duration=30)}
    opened = open_minutes(settings, *window)
    grid = list(candidates(*window, 30, 15, "Europe/London"))
    inside = [s for s in grid if set(range(s, s + 30)) <= opened]
    assert offered <= {fmt(instant(s)) for s in inside}
    refused = [s for s in inside if fmt(instant(s)) not in offered]
    assert len(refused) >= 8, refused
    next_id = 100
    for s in refused:
        response = book(client, next_id, calendar, instant(s), instant(s + 30))
        body = assert_error(response, 409, "time_range_unavailable")
        assert set(body["conflicts"]) <= {b.id for b in booked}
        next_id += 1
    for s in rng.sample([s for s in grid if s not in inside], 5):
        assert_error(
            book(client, next_id, calendar, instant(s), instant(s + 30)), 409, "outside_hours"
        )
        next_id += 1
    # Every offered slot books; taking one changes what is offered, so ask again each time.
    for _ in range(6):
        found = slot_list(client, [calendar], *window, duration=30)
        if not found:
            break
        chosen = rng.choice(found)
        response = book(client, next_id, calendar, chosen["start"], chosen["end"])
        assert response.status_code == 201, (chosen, response.get_data(as_text=True))
        next_id += 1


# -- /slots parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "calendar=a&from=2027-01-01T00:00:00Z&to=2027-02-01T00:01:00Z&duration=30",
        "&".join(f"calendar=c{n}" for n in range(21))
        + "&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z&duration=30",
        "from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z&duration=30",
        "calendar=a&from=2027-01-02T00:00:00Z&to=2027-01-01T00:00:00Z&duration=30",
        "calendar=a&from=2027-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&duration=30",
        "calendar=a&to=2027-01-02T00:00:00Z&duration=30",
        "calendar=a&from=2027-01-01T00:00:00Z&duration=30",
        "calendar=a&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z",
        "calendar=a&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z&duration=0",
        "calendar=a&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z&duration=1441",
        "calendar=a&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z&duration=30.5",
        "calendar=a&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z&duration=30&interval=7",
        "calendar=a&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z&duration=30&interval=0",
        "calendar=a&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z&duration=30&interval=2880",
        "calendar=a&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z&duration=30&required=0",
        "calendar=a&calendar=b&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z"
        "&duration=30&required=3",
        "calendar=a&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z&duration=30"
        "&timeZone=Mars/Olympus_Mons",
        "calendar=a b&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z&duration=30",
    ],
)
def test_bad_slot_queries_are_400_validation_failed(client, query):
    assert_error(client.get(f"/slots?{query}"), 400, "validation_failed")


def test_a_window_of_exactly_31_days_and_20_calendars_is_accepted(client):
    calendars = "&".join(f"calendar={name('many')}" for _ in range(20))
    query = (
        f"{calendars}&from=2027-01-01T00:00:00Z&to=2027-02-01T00:00:00Z&duration=1440&interval=1440"
    )
    response = client.get(f"/slots?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["required"] == 20


# -- /availability's closed ---------------------------------------------------------------------


def availability(client, calendar: str, start: datetime, end: datetime, **params) -> dict:
    query = urlencode({"calendar": calendar, "from": fmt(start), "to": fmt(end), **params})
    response = client.get(f"/availability?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def assert_tiles(answer: dict, start: datetime, end: datetime) -> None:
    """busy, free and closed are sorted, do not overlap and cover the window exactly."""
    pieces = sorted(
        (p["start"], p["end"]) for kind in ("busy", "free", "closed") for p in answer[kind]
    )
    assert pieces, answer
    assert pieces[0][0] == fmt(start) and pieces[-1][1] == fmt(end), answer
    for (_, before_end), (after_start, _) in zip(pieces, pieces[1:], strict=False):
        assert before_end == after_start, answer
    assert all(a < b for a, b in pieces), answer
    for kind in ("busy", "free", "closed"):
        assert answer[kind] == sorted(answer[kind], key=lambda p: p["start"]), answer


def test_availability_busy_free_and_closed_tile_the_window_across_a_change(client):
    tz_name = "America/St_Johns"
    tz = zone(tz_name)
    change = transitions(tz_name, NOW)[0]
    day = change_day(change, tz_name)
    settings = {
        "timeZone": tz_name,
        "hours": {
            d: [["00:30", "03:30"], ["09:00", "17:00"], ["22:00", "01:00"]] for d in WEEKDAYS
        },
        "overrides": {(day + timedelta(days=1)).isoformat(): []},
        "bufferBefore": 20,
        "horizon": 3650,
    }
    calendar = name("closed")
    put_settings(client, calendar, **settings)
    booked = []
    for n, (start, end) in enumerate(
        [
            (local(day, "02:30", tz), local(day, "04:00", tz)),  # runs past the close
            (local(day, "12:00", tz), local(day, "13:00", tz)),
            (local(day, "19:00", tz), local(day, "19:30", tz)),  # inside closed time
            (local(day, "23:50", tz), local(day + timedelta(days=1), "00:40", tz)),
        ],
        start=1,
    ):
        assert book(client, n, calendar, start, end).status_code == 201
        booked.append(Booked(calendar, start, end, n))
    start = local(day - timedelta(days=1), "06:07", tz)
    end = local(day + timedelta(days=2), "10:00", tz)
    answer = availability(client, calendar, start, end)
    assert_tiles(answer, start, end)
    assert answer["closed"] == closed(settings, booked, start, end)
    assert [b["id"] for b in answer["busy"]] == [1, 2, 3, 4]

    # minDuration drops short free ranges only: busy and closed stay as they were.
    shorter = availability(client, calendar, start, end, minDuration=120)
    assert shorter["busy"] == answer["busy"] and shorter["closed"] == answer["closed"]
    assert shorter["free"] == [
        f
        for f in answer["free"]
        if minute(datetime.fromisoformat(f["end"])) - minute(datetime.fromisoformat(f["start"]))
        >= 120
    ]
    assert len(shorter["free"]) < len(answer["free"])


def test_availability_without_settings_has_nothing_closed(client):
    calendar = name("open")
    start = datetime.combine(weekday_ahead("mon"), datetime.min.time(), UTC)
    assert (
        book(
            client, 1, calendar, start + timedelta(hours=9), start + timedelta(hours=10)
        ).status_code
        == 201
    )
    answer = availability(client, calendar, start, start + timedelta(days=1))
    assert answer["closed"] == []
    assert answer["free"] == [
        {"start": fmt(start), "end": fmt(start + timedelta(hours=9))},
        {"start": fmt(start + timedelta(hours=10)), "end": fmt(start + timedelta(days=1))},
    ]
    assert_tiles(answer, start, start + timedelta(days=1))
