"""`GET /slots` against the reference in tests/slot_reference.py, on randomized settings.

Each case is seeded (the seed is in every assertion message; SLOTS_SEED changes the base) and
puts a window around one of the next DST changes of a zone that breaks an easy assumption:
New York and London (whole hours), Lord Howe (a 30-minute change), St John's (-03:30),
Santiago and Havana (changes at local midnight), and Kathmandu (+05:45, no change at all).
The windows come from the zone rules, not from dates written here, so the cases stay around
real changes in any year. Settings mix weekly intervals, overnight ones, intervals ending at
24:00, overrides closing and opening dates, buffers, several calendars (some in other zones
than the grid's), calendars never PUT, and existing appointments booked anywhere (on calendars
not yet enforced) with some cancelled; `required` and the grid's zone vary too.
"""

import os
import random
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from tests.helpers import put
from tests.slot_reference import WEEKDAYS, Booked, fmt, slots, transitions, zone
from tools.live import appointment

SEED = int(os.environ.get("SLOTS_SEED", "22"))
NOW = datetime.now(UTC)
CHANGING = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "America/Santiago",
    "America/Havana",
]
OTHER_ZONES = ["UTC", "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe"]
INTERVALS = [1, 5, 10, 15, 20, 30, 60, 90, 720]
DURATIONS = [1, 5, 15, 30, 45, 60, 90, 150, 240, 1440]
CASES = [(name, n) for name in CHANGING for n in (0, 1)] + [("Asia/Kathmandu", 0)]


# -- Random settings ----------------------------------------------------------------------------


def clock(minutes: int) -> str:
    return "24:00" if minutes == 1440 else f"{minutes // 60:02d}:{minutes % 60:02d}"


def day_intervals(rng: random.Random, near: list[int]) -> list[list[str]]:
    """1 to 3 non-overlapping [from, to) of one day: some overnight (to < from), some ending
    at 24:00, their ends often on the clock readings around the zone's change (`near`)."""
    points: set[int] = set()
    for _ in range(2 * rng.choice([1, 1, 2, 2, 3])):
        if near and rng.random() < 0.4:
            points.add(rng.choice(near))
        else:
            step = rng.choice([1, 5, 15, 30, 60])
            points.add(rng.randrange(0, 1440 + 600) // step * step)
    if rng.random() < 0.15:
        points.add(1440)
    ordered = sorted(points)
    intervals = []
    for begins, ends in zip(ordered[::2], ordered[1::2], strict=False):
        if begins >= 1440 or ends - begins >= 1440:
            continue
        intervals.append([clock(begins), clock(ends if ends <= 1440 else ends - 1440)])
    return intervals


def random_settings(rng: random.Random, tz_name: str, dates: list, near: list[int]) -> dict:
    """A settings body: the zone's weekly intervals, overrides on some local dates of the
    window, buffers; notice 0 and a ten-year horizon, so only hours and buffers decide."""
    hours = None
    if rng.random() > 0.15:
        hours = {day: day_intervals(rng, near) for day in WEEKDAYS if rng.random() < 0.75}
    overrides = {}
    for day in dates:
        if rng.random() < 0.25:
            overrides[day.isoformat()] = [] if rng.random() < 0.4 else day_intervals(rng, near)
    return {
        "timeZone": tz_name,
        "hours": hours,
        "overrides": overrides,
        "bufferBefore": rng.choice([0, 0, 5, 10, 15, 30, 90]),
        "bufferAfter": rng.choice([0, 0, 5, 10, 20, 45]),
        "minimumNotice": 0,
        "horizon": 3650,
        "enforce": False,
    }


def near_change(tz_name: str, change: datetime | None) -> list[int]:
    """Clock readings (minutes of the day, some past 24:00 for overnight ends) around the
    change: the reading just before it, the reading after it, and half an hour either side."""
    if change is None:
        return []
    tz = zone(tz_name)
    before = (change - timedelta(minutes=1)).astimezone(tz) + timedelta(minutes=1)
    after = change.astimezone(tz)
    near = set()
    for reading in (before, after):
        m = reading.hour * 60 + reading.minute
        for value in (m - 30, m, m + 30):
            near |= {value % 1440, value % 1440 + 1440}
    near.add(1440)
    return sorted(near)


def minutes_until(moment: datetime) -> int:
    return max(0, int((moment - NOW).total_seconds() // 60))


# -- Through the API ----------------------------------------------------------------------------


def put_settings(client, calendar: str, body: dict) -> None:
    response = put(client, f"/calendars/{calendar}", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)


def book_randomly(
    client, rng: random.Random, calendars: list[str], start: datetime, end: datetime
) -> list[Booked]:
    """Appointments anywhere around the window on calendars not enforced (a 409 for a plain
    overlap is skipped); a fifth of them cancelled. The active ones, for the reference."""
    booked: list[Booked] = []
    span = int((end - start).total_seconds() // 60) + 2 * 1440
    next_id = 1
    for name in calendars:
        for _ in range(rng.randrange(2, 7)):
            begins = start - timedelta(days=1) + timedelta(minutes=rng.randrange(span) // 5 * 5)
            minutes = rng.choice([5, 10, 25, 30, 60, 95, 180])
            body = appointment(next_id, calendar=name, start=begins, minutes=minutes)
            response = client.post("/appointments", json=body)
            assert response.status_code in (201, 409), response.get_data(as_text=True)
            if response.status_code == 201:
                if rng.random() < 0.2:
                    assert client.delete(f"/appointments/{next_id}").status_code == 200
                else:
                    ends = begins + timedelta(minutes=minutes)
                    booked.append(Booked(name, begins, ends, next_id))
            next_id += 1
    return booked


def slots_answer(client, calendars: list[str], **params) -> dict:
    query = urlencode([("calendar", c) for c in calendars] + list(params.items()))
    response = client.get(f"/slots?{query}")
    assert response.status_code == 200, f"{query}: {response.get_data(as_text=True)}"
    return response.get_json()


def difference(expected: list[dict], got: list[dict], limit: int = 8) -> str:
    want = {s["start"]: s for s in expected}
    have = {s["start"]: s for s in got}
    lines = [f"{len(expected)} expected, {len(got)} answered"]
    for start in sorted(want.keys() | have.keys()):
        if want.get(start) != have.get(start):
            lines.append(f"  {start}: reference {want.get(start)} / service {have.get(start)}")
            if len(lines) > limit:
                break
    if got != sorted(got, key=lambda s: s["start"]):
        lines.append("  the answer is not sorted by start")
    return "\n".join(lines)


def compare(client, seed, settings: dict, booked: list[Booked], calendars, **query) -> None:
    """One /slots request against the reference computed for the moments just before and
    just after it (notice and horizon count from the server's now)."""
    params = {
        "from": fmt(query["start"]),
        "to": fmt(query["end"]),
        "duration": query["duration"],
        **({"interval": query["interval"]} if query.get("interval") else {}),
        **({"timeZone": query["time_zone"]} if query.get("time_zone") else {}),
        **({"required": query["required"]} if query.get("required") else {}),
    }
    before = datetime.now(UTC)
    answer = slots_answer(client, calendars, **params)
    after = datetime.now(UTC)
    chosen = {name: settings.get(name) for name in calendars}
    expected = [slots(chosen, booked, now=moment, **query) for moment in (before, after)]
    context = f"seed {seed}, query {params}, calendars {calendars}, settings {chosen}"
    assert answer["slots"] in expected, f"{context}\n{difference(expected[0], answer['slots'])}"
    echoed = {k: answer[k] for k in ("from", "to", "duration", "interval", "timeZone")}
    assert echoed == {
        "from": fmt(query["start"]),
        "to": fmt(query["end"]),
        "duration": query["duration"],
        "interval": query.get("interval") or 15,
        "timeZone": query.get("time_zone") or (chosen[calendars[0]] or {}).get("timeZone", "UTC"),
    }, context
    assert answer["required"] == (query.get("required") or len(calendars)), context


# -- The cases ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("tz_name", "which"), CASES, ids=[f"{z}-{n}" for z, n in CASES])
def test_slots_equal_the_reference_around_dst_changes(client, tz_name, which):
    seed = SEED * 1000 + CASES.index((tz_name, which))
    rng = random.Random(seed)
    changes = transitions(tz_name, NOW, count=2)
    change = changes[which] if changes else NOW + timedelta(days=rng.randrange(30, 300))
    start = change - timedelta(minutes=rng.randrange(1, 3 * 1440))
    start = start.replace(second=0, microsecond=0)
    end = start + timedelta(minutes=rng.randrange(2 * 1440, 7 * 1440))
    tz = zone(tz_name)
    first_date = start.astimezone(tz).date() - timedelta(days=1)
    dates = [first_date + timedelta(days=n) for n in range((end - start).days + 4)]
    near = near_change(tz_name, change if changes else None)

    tag = uuid.uuid4().hex[:8]
    names = [f"ref-{tag}-{n}" for n in range(rng.choice([1, 2, 2, 3, 4]))]
    settings: dict[str, dict | None] = {}
    for name in names:
        if rng.random() < 0.1 and name != names[0]:
            settings[name] = None  # never PUT: open always, UTC, horizon 365
            continue
        own_zone = tz_name if rng.random() < 0.75 else rng.choice(OTHER_ZONES)
        settings[name] = random_settings(rng, own_zone, dates, near)
        if rng.random() < 0.2:
            # Notice and horizon that end inside the window, near the change.
            settings[name]["minimumNotice"] = minutes_until(start) + rng.randrange(0, 2 * 1440)
        if rng.random() < 0.2:
            settings[name]["horizon"] = max(1, (change - NOW).days + rng.choice([0, 1, 2]))
        put_settings(client, name, settings[name])
    booked = book_randomly(client, rng, names, start, end)
    for name in names:
        if settings[name] is not None and rng.random() < 0.5:
            # Enforcing later never rewrites what is booked, and slots do not depend on it.
            settings[name] = {**settings[name], "enforce": True}
            put_settings(client, name, settings[name])

    for _ in range(2):
        # Sometimes a window off the whole minute: the grid starts at the next one.
        ragged = timedelta(milliseconds=rng.randrange(60_000)) if rng.random() < 0.3 else None
        compare(
            client,
            seed,
            settings,
            booked,
            names,
            start=start + ragged if ragged else start,
            end=end - ragged if ragged else end,
            duration=rng.choice(DURATIONS),
            interval=rng.choice(INTERVALS + [None]),
            time_zone=rng.choice([None, None, tz_name, rng.choice(OTHER_ZONES)]),
            required=rng.choice([None, 1, *range(1, len(names) + 1)]),
        )


def test_slots_equal_the_reference_with_notice_and_horizon_near_now(client):
    """Minimum notice and horizon count from the server's now: a window from an hour ago to
    three days ahead, notices of hours, horizons of a day or two."""
    seed = SEED * 1000 + 999
    rng = random.Random(seed)
    start = NOW.replace(second=0, microsecond=0) - timedelta(hours=1)
    end = start + timedelta(days=3)
    tag = uuid.uuid4().hex[:8]
    names = [f"notice-{tag}-{n}" for n in range(3)]
    settings: dict[str, dict | None] = {}
    for name in names:
        tz_name = rng.choice(["Asia/Kathmandu", "America/St_Johns", "Europe/London"])
        dates = [start.date() + timedelta(days=n) for n in range(-1, 5)]
        settings[name] = {
            **random_settings(rng, tz_name, dates, []),
            "minimumNotice": rng.choice([0, 7, 90, 600, 1500]),
            "horizon": rng.choice([1, 2, 3650]),
        }
        put_settings(client, name, settings[name])
    booked = book_randomly(client, rng, names, start, end)
    for duration, interval, required in [(30, 15, 1), (60, 5, None), (45, 90, 2)]:
        compare(
            client,
            seed,
            settings,
            booked,
            names,
            start=start,
            end=end,
            duration=duration,
            interval=interval,
            required=required,
        )


def test_slots_of_calendars_never_put_are_every_grid_start_in_the_window(client):
    """Without settings a calendar is open always (UTC, no buffers): the grid minus its
    appointments, exactly as the reference says, across a change of the grid's zone."""
    rng = random.Random(SEED * 1000 + 998)
    change = transitions("Australia/Lord_Howe", NOW)[0]
    start, end = change - timedelta(hours=20), change + timedelta(hours=20)
    names = [f"bare-{uuid.uuid4().hex[:8]}-{n}" for n in range(2)]
    booked = book_randomly(client, rng, names, start, end)
    compare(
        client,
        SEED,
        {},
        booked,
        names,
        start=start,
        end=end,
        duration=30,
        interval=30,
        time_zone="Australia/Lord_Howe",
        required=1,
    )
