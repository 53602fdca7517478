"""Availability's tiling of a window into busy and free intervals, without a database."""

from datetime import UTC, datetime, timedelta

from domain import Busy, Interval, tile

T = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def minutes(n: int) -> datetime:
    return T + timedelta(minutes=n)


def test_tile_clips_and_fills_gaps_in_order():
    busy, free = tile(
        minutes(0),
        minutes(100),
        [
            Busy(1, minutes(-10), minutes(10)),
            Busy(2, minutes(10), minutes(20)),
            Busy(3, minutes(50), minutes(200)),
        ],
        timedelta(0),
    )
    assert busy == [
        Busy(1, minutes(0), minutes(10)),
        Busy(2, minutes(10), minutes(20)),
        Busy(3, minutes(50), minutes(100)),
    ]
    assert free == [Interval(minutes(20), minutes(50))]
