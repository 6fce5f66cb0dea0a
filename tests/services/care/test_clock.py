"""Care times: night hours that do not count as inactivity, their notation and setting."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cityhub.app import create_app
from cityhub.errors import BadRequestData, ConfigError
from cityhub.services.care.clock import SEOUL, awake_deadline, parse_night
from cityhub.settings import Settings


def seoul(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SEOUL)


def test_night_notation() -> None:
    assert parse_night("") is None
    assert parse_night("22-07") == (22 * 60, 7 * 60)
    assert parse_night("22:30-06:15") == (22 * 60 + 30, 6 * 60 + 15)
    assert parse_night("13-14") == (13 * 60, 14 * 60)
    for bad in ("22", "night", "25-07", "22:61-07", "07-07"):
        with pytest.raises(BadRequestData, match="nightHours"):
            parse_night(bad)


@pytest.mark.parametrize(
    ("since", "hours", "deadline"),
    [
        (seoul(1, 20), 12, seoul(2, 17)),  # 2 h before the night, 10 h after it
        (seoul(1, 23), 12, seoul(2, 19)),  # during the night: counted from 07:00
        (seoul(1, 8), 12, seoul(1, 20)),  # all in the day
        (seoul(1, 8), 15, seoul(2, 8)),  # 14 h before the night, 1 h after it
        (seoul(1, 20), 36, seoul(4, 11)),  # 2 + 15 + 15 + 4 h: across three nights
    ],
)
def test_night_hours_do_not_count(since: datetime, hours: float, deadline: datetime) -> None:
    night = parse_night("22-07")
    assert awake_deadline(since, hours, night) == deadline
    assert awake_deadline(since, hours, None) == since + timedelta(hours=hours)


def test_a_day_time_quiet_period() -> None:
    # a household that naps 13-15 (a night window inside one day)
    assert awake_deadline(seoul(1, 12), 2, parse_night("13-15")) == seoul(1, 16)


def test_a_malformed_night_setting_stops_the_start(tmp_path: Path) -> None:
    settings = Settings(database=f"sqlite:///{tmp_path / 'hub.db'}", care_night_hours="nights")
    with pytest.raises(ConfigError, match="care_night_hours"):
        create_app(settings)
