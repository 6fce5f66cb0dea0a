"""Times and ISO 8601 durations of the temporal API."""

from __future__ import annotations

import pytest

from cityhub.errors import BadRequestData
from cityhub.temporal.model import Duration, add_months, iso, parse_duration, parse_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT1H", Duration(0, 3_600_000_000)),
        ("P1D", Duration(0, 86_400_000_000)),
        ("P1W", Duration(0, 7 * 86_400_000_000)),
        ("PT0.5S", Duration(0, 500_000)),
        ("P1Y2M", Duration(14, 0)),
        ("P1MT30M", Duration(1, 1_800_000_000)),
        ("PT0S", Duration(0, 0)),
        ("P0D", Duration(0, 0)),
    ],
)
def test_durations(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["P", "PT", "1H", "PT1", "P1H", "P-1D", "P1.5Y"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(BadRequestData):
        parse_duration(text)


def test_times_round_trip_in_utc() -> None:
    assert iso(parse_time("2024-01-01T09:00:00+09:00", "t")) == "2024-01-01T00:00:00.000Z"
    assert iso(parse_time("2024-01-01T00:00:00.123456Z", "t")) == "2024-01-01T00:00:00.123456Z"
    assert parse_time("1970-01-01T00:00:01", "t") == 1_000_000  # naive: UTC


def test_months_clamp_to_the_end_of_the_month() -> None:
    jan31 = parse_time("2024-01-31T12:00:00Z", "t")
    assert iso(add_months(jan31, 1)) == "2024-02-29T12:00:00.000Z"
    assert iso(add_months(jan31, 13)) == "2025-02-28T12:00:00.000Z"
