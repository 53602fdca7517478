"""Local time, one DST rule per test: gaps, repeated hours, 30-minute and midnight changes,
odd offsets, overnight intervals and overrides (localtime.py, zone rules from tzdata)."""

from datetime import UTC, date, datetime, timedelta

import pytest

import localtime
from domain import CalendarSettings, Interval


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def reading(moment: datetime, zone: str) -> str:
    return moment.astimezone(localtime.zone(zone)).strftime("%H:%M %Z")


def test_zones_come_from_the_pinned_tzdata_package_and_unknown_ones_are_refused():
    assert localtime.zone("America/New_York").key == "America/New_York"
    for name in ("Mars/Base", "../etc/passwd", "", "america/new_york", "Factory "):
        with pytest.raises(localtime.UnknownZone):
            localtime.zone(name)


@pytest.mark.parametrize(
    ("text", "minutes"), [("00:00", 0), ("09:30", 570), ("23:59", 1439), ("24:00", 1440)]
)
def test_wall_clock_times(text, minutes):
    assert localtime.parse_clock(text) == minutes
    assert localtime.format_clock(minutes) == text


@pytest.mark.parametrize("text", ["24:01", "9:00", "09:60", "25:00", "0900", "09:0a", "٠٩:٠٠"])
def test_wall_clock_times_refused(text):
    with pytest.raises(ValueError):
        localtime.parse_clock(text)


def test_a_time_in_the_spring_gap_takes_the_offset_before_it():
    tz = localtime.zone("America/New_York")
    assert localtime.instant(date(2027, 3, 14), 150, tz) == utc("2027-03-14T07:30")  # 03:30 EDT


def test_a_repeated_time_means_its_first_occurrence():
    tz = localtime.zone("America/New_York")
    assert localtime.instant(date(2027, 11, 7), 90, tz) == utc("2027-11-07T05:30")  # 01:30 EDT


def test_an_interval_whose_end_reads_before_its_start_is_empty_that_day():
    settings = CalendarSettings(
        "c", time_zone="America/New_York", hours={"sun": ((150, 180),)}
    )  # 02:30-03:00 on spring-forward Sunday: 07:30Z to 07:00Z
    day = utc("2027-03-14T00:00")
    assert localtime.open_time(settings, day, day + timedelta(days=1)) == []
    week_later = day + timedelta(days=7)  # an ordinary Sunday: 30 minutes
    assert localtime.open_time(settings, week_later, week_later + timedelta(days=1)) == [
        Interval(utc("2027-03-21T06:30"), utc("2027-03-21T07:00"))
    ]


def test_nine_to_five_is_nine_to_five_local_on_both_change_days():
    settings = CalendarSettings("c", time_zone="America/New_York", hours={"sun": ((540, 1020),)})
    for day, first in (("2027-03-14", "2027-03-14T13:00"), ("2027-11-07", "2027-11-07T14:00")):
        start = utc(day + "T00:00")
        (opened,) = localtime.open_time(settings, start, start + timedelta(days=1))
        assert opened.start == utc(first)
        assert opened.end - opened.start == timedelta(hours=8)


def test_the_grid_skips_the_gap_and_doubles_the_repeated_hour():
    spring = localtime.grid(
        utc("2027-03-14T05:00"), utc("2027-03-14T09:00"), 30, "America/New_York"
    )
    assert [reading(s, "America/New_York") for s in spring] == [
        "00:00 EST", "00:30 EST", "01:00 EST", "01:30 EST", "03:00 EDT", "03:30 EDT",
        "04:00 EDT", "04:30 EDT",
    ]  # fmt: skip
    autumn = localtime.grid(
        utc("2027-11-07T04:00"), utc("2027-11-07T08:00"), 30, "America/New_York"
    )
    assert [reading(s, "America/New_York") for s in autumn] == [
        "00:00 EDT", "00:30 EDT", "01:00 EDT", "01:30 EDT", "01:00 EST", "01:30 EST",
        "02:00 EST", "02:30 EST",
    ]  # fmt: skip


def test_lord_howe_changes_by_thirty_minutes():
    zone = "Australia/Lord_Howe"
    # 2027-10-03 02:00 +10:30 becomes 02:30 +11: 02:00 and 02:15 do not exist.
    starts = localtime.grid(utc("2027-10-02T15:00"), utc("2027-10-02T16:30"), 15, zone)
    local = [s.astimezone(localtime.zone(zone)).strftime("%H:%M") for s in starts]
    assert local == ["01:30", "01:45", "02:30", "02:45", "03:00", "03:15"]
    # 2027-04-04 02:00 +11 becomes 01:30 +10:30: 01:30 and 01:45 happen twice.
    starts = localtime.grid(utc("2027-04-03T14:00"), utc("2027-04-03T15:30"), 15, zone)
    local = [s.astimezone(localtime.zone(zone)).strftime("%H:%M") for s in starts]
    assert local == ["01:00", "01:15", "01:30", "01:45", "01:30", "01:45"]


@pytest.mark.parametrize(
    ("zone", "first"),
    [("Asia/Kathmandu", "2027-06-01T03:15"), ("America/St_Johns", "2027-06-01T11:30")],
)
def test_odd_offsets(zone, first):
    settings = CalendarSettings("c", time_zone=zone, hours={"tue": ((540, 600),)})
    start = utc("2027-05-31T12:00")
    (opened,) = localtime.open_time(settings, start, start + timedelta(days=2))
    assert opened == Interval(utc(first), utc(first) + timedelta(hours=1))
    starts = localtime.grid(opened.start, opened.end, 30, zone)
    assert [reading(s, zone)[:5] for s in starts] == ["09:00", "09:30"]


def test_a_day_without_midnight():
    # Santiago springs forward at 00:00 on 2027-09-05 (tzdata 2026f): 00:00-01:00 does not exist.
    zone = "America/Santiago"
    settings = CalendarSettings("c", time_zone=zone, hours={"sun": ((0, 120),)})
    start = utc("2027-09-04T12:00")
    (opened,) = localtime.open_time(settings, start, start + timedelta(days=1))
    assert reading(opened.start, zone) == "01:00 -03"
    assert opened.end - opened.start == timedelta(hours=1)
    starts = localtime.grid(start, start + timedelta(hours=20), 60, zone)
    local = [reading(s, zone)[:5] for s in starts]
    assert local[local.index("23:00") :][:3] == ["23:00", "01:00", "02:00"]


def test_an_overnight_interval_runs_into_a_closed_next_day():
    saturday = date(2027, 1, 9)
    settings = CalendarSettings(
        "c", time_zone="Europe/London", hours={"fri": ((1320, 120),)}, overrides={saturday: ()}
    )
    start = utc("2027-01-08T00:00")
    assert localtime.open_time(settings, start, start + timedelta(days=3)) == [
        Interval(utc("2027-01-08T22:00"), utc("2027-01-09T02:00"))
    ]
    assert localtime.is_open(settings, utc("2027-01-09T01:00"), utc("2027-01-09T02:00"))
    assert not localtime.is_open(settings, utc("2027-01-09T01:30"), utc("2027-01-09T02:30"))


def test_touching_intervals_are_one_open_time_and_an_override_opens_a_sunday():
    sunday = date(2027, 1, 10)
    settings = CalendarSettings(
        "c",
        hours={"mon": ((540, 720), (720, 1440))},
        overrides={sunday: ((600, 660),)},
    )
    assert localtime.is_open(settings, utc("2027-01-11T11:30"), utc("2027-01-11T12:30"))
    assert localtime.is_open(settings, utc("2027-01-10T10:00"), utc("2027-01-10T11:00"))
    assert not localtime.is_open(settings, utc("2027-01-17T10:00"), utc("2027-01-17T11:00"))
    assert localtime.is_open(settings, utc("2027-01-11T23:00"), utc("2027-01-12T00:00"))
    assert not localtime.is_open(settings, utc("2027-01-11T23:00"), utc("2027-01-12T00:01"))
