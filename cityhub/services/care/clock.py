"""Times of the care service: stored stamps, readings' ``observedAt``, Seoul night hours.

Every time the service stores is UTC with microseconds (:func:`stamp`), so stored times compare
as text on both backends. Night hours are Seoul wall-clock hours (Korea has no daylight saving
time, so adding hours to a Seoul time is plain arithmetic); inactivity during them is not
counted (:func:`awake_deadline`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cityhub.errors import BadRequestData

SEOUL = ZoneInfo("Asia/Seoul")
#: (start, end) minutes of the Seoul day; start > end: the night crosses midnight
Night = tuple[int, int]
_NIGHT = re.compile(r"^(\d{1,2})(?::(\d{2}))?-(\d{1,2})(?::(\d{2}))?$")


def stamp(moment: datetime) -> str:
    """A time as stored: UTC, microseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: object) -> datetime | None:
    """An aware datetime from an ISO 8601 text with a zone; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def iso(moment: datetime) -> str:
    """An NGSI-LD DateTime (UTC, milliseconds) for answers."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def shown(stored: str | None) -> str | None:
    """A stored stamp as answers show it (milliseconds)."""
    moment = parse_time(stored)
    return iso(moment) if moment is not None else None


def parse_night(text: str, where: str = "nightHours") -> Night | None:
    """``22-07`` or ``22:30-06:00`` as minutes of the day; None for an empty text
    (BadRequestData naming ``where`` when malformed)."""
    text = text.strip()
    if not text:
        return None
    found = _NIGHT.match(text)
    if found is None:
        raise BadRequestData(f"{where} must be HH-HH or HH:MM-HH:MM (Seoul time), not {text!r}")
    h1, m1, h2, m2 = (int(g or 0) for g in found.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
        raise BadRequestData(f"{where} has an hour above 24 or minutes above 59: {text!r}")
    start, end = (h1 * 60 + m1) % 1440, (h2 * 60 + m2) % 1440
    if start == end:
        raise BadRequestData(f"{where} starts and ends at the same time: {text!r}")
    return start, end


def _night_around(local: datetime, night: Night) -> tuple[datetime, datetime] | None:
    """The night (start, end) that ``local`` (a Seoul time) falls in, if any."""
    start, end = night
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for day in (midnight - timedelta(days=1), midnight):
        begins = day + timedelta(minutes=start)
        ends = day + timedelta(minutes=end if end > start else end + 1440)
        if begins <= local < ends:
            return begins, ends
    return None


def _next_night(local: datetime, night: Night) -> tuple[datetime, datetime]:
    """The first night starting after ``local`` (a Seoul time outside the night)."""
    start, end = night
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    begins = midnight + timedelta(minutes=start)
    if begins <= local:
        begins += timedelta(days=1)
    length = (end - start) % 1440
    return begins, begins + timedelta(minutes=length)


def awake_deadline(since: datetime, hours: float, night: Night | None) -> datetime:
    """When ``hours`` of time outside the night hours have passed since ``since``."""
    if night is None:
        return since + timedelta(hours=hours)
    left = timedelta(hours=hours)
    at = since.astimezone(SEOUL)
    for _ in range(1000):  # 1000 days: far beyond any setting (a 1-minute day still ends)
        inside = _night_around(at, night)
        if inside is not None:
            at = inside[1]
            continue
        begins, ends = _next_night(at, night)
        if begins - at >= left:
            return (at + left).astimezone(UTC)
        left -= begins - at
        at = ends
    return at.astimezone(UTC)
