"""What the temporal API stores and asks for: rows, time filters, ISO 8601 times and durations.

Times are kept as integer microseconds since the Unix epoch (UTC) in every table, so both
backends order, filter and bucket them with the same integer arithmetic; the original DateTime
strings stay in each instance's JSON and are what responses show.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cityhub.errors import BadRequestData

OBSERVED_AT, MODIFIED_AT, CREATED_AT, DELETED_AT = (
    "observedAt",
    "modifiedAt",
    "createdAt",
    "deletedAt",
)
TIME_PROPERTIES = (OBSERVED_AT, MODIFIED_AT, CREATED_AT, DELETED_AT)
BEFORE, AFTER, BETWEEN = "before", "after", "between"
AGGR_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000


@dataclass(slots=True)
class EntityRow:
    """The temporal record of one entity (it outlives the entity: ``deleted_at``)."""

    entity_id: str
    types: list[str]
    scope: list[str] | None
    created_at: str
    modified_at: str
    deleted_at: str | None = None


@dataclass(slots=True)
class InstanceRow:
    """One attribute instance at one time (or the deletion of an attribute instance)."""

    entity_id: str
    attr: str  # expanded attribute name
    dataset: str  # datasetId, "" for the default instance
    kind: str  # attribute type: Property, Relationship...
    instance_id: str
    observed: int  # µs; observedAt, else modifiedAt (deletions: the deletion time)
    modified: int
    created: int
    deleted: bool
    num: float | None  # numeric value (booleans as 1/0) for aggregation
    val: str | None  # other values as JSON text (long ones hashed), for distinctCount
    doc: dict[str, Any]  # the stored instance without instanceId and datasetId


@dataclass(slots=True)
class Series:
    """The history of one attribute instance slot (entity, attribute, datasetId)."""

    sid: int
    entity_id: str
    attr: str
    dataset: str
    kind: str


@dataclass(slots=True)
class WriteBatch:
    """Rows to write in one transaction, per tenant."""

    entities: list[tuple[str, EntityRow]] = field(default_factory=list)
    instances: list[tuple[str, InstanceRow]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TimeFilter:
    """timerel/timeAt/endTimeAt over one temporal property, as µs bounds [low, high)."""

    timeproperty: str = OBSERVED_AT
    timerel: str | None = None
    time_at: int | None = None
    end_time_at: int | None = None

    @property
    def low(self) -> int | None:
        """Smallest time included (after: strictly after timeAt)."""
        if self.timerel == AFTER and self.time_at is not None:
            return self.time_at + 1
        if self.timerel == BETWEEN:
            return self.time_at
        return None

    @property
    def high(self) -> int | None:
        """First time excluded."""
        if self.timerel == BEFORE:
            return self.time_at
        if self.timerel == BETWEEN:
            return self.end_time_at
        return None


@dataclass(frozen=True, slots=True)
class Duration:
    """An ISO 8601 duration split into calendar months and exact microseconds."""

    months: int
    micros: int

    @property
    def zero(self) -> bool:
        return self.months == 0 and self.micros == 0


Bucket = tuple[Any, ...]
"""One aggregated period of one series: ``(sid, period index, value per method...)``, the
values in the order of the requested methods (None where a method does not apply)."""


# --- times ------------------------------------------------------------------------------


def parse_time(value: str, what: str) -> int:
    """An NGSI-LD DateTime → µs since the epoch (naive times are UTC); BadRequestData if bad."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError) as err:
        raise BadRequestData(f"{what} is not a valid DateTime: {value!r}") from err
    return to_micros(parsed)


def to_micros(moment: datetime) -> int:
    """µs since the epoch of an (aware or UTC-naive) datetime."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def micros_of(value: Any, default: int) -> int:
    """µs of a stored DateTime string, or ``default`` when absent or unreadable."""
    if not isinstance(value, str):
        return default
    found = _micros(value)
    return default if found is None else found


@functools.lru_cache(maxsize=8192)
def _micros(value: str) -> int | None:
    """(The times of one write batch repeat: parsed once.)"""
    try:
        return to_micros(datetime.fromisoformat(value))
    except ValueError:
        return None


def iso(micros: int) -> str:
    """µs since the epoch → NGSI-LD DateTime (UTC, milliseconds unless finer is needed)."""
    moment = _EPOCH + timedelta(microseconds=micros)
    spec = "milliseconds" if micros % 1000 == 0 else "microseconds"
    return moment.isoformat(timespec=spec)[:-6] + "Z"


def add_months(micros: int, months: int) -> int:
    """``micros`` moved by calendar months (the day clamped to the target month's length)."""
    moment = _EPOCH + timedelta(microseconds=micros)
    total = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(total, 12)
    day = min(moment.day, _days_in(year, month + 1))
    return to_micros(moment.replace(year=year, month=month + 1, day=day))


def _days_in(year: int, month: int) -> int:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return (end - start).days


_DURATION = re.compile(
    r"^P(?!$)(?:(?P<Y>\d+(?:\.\d+)?)Y)?(?:(?P<M>\d+(?:\.\d+)?)M)?(?:(?P<W>\d+(?:\.\d+)?)W)?"
    r"(?:(?P<D>\d+(?:\.\d+)?)D)?(?:T(?=\d)(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_SECONDS = {"W": 7 * 86_400, "D": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(text: str) -> Duration:
    """An ISO 8601 duration (``P1D``, ``PT1H``, ``P1M``, ``P1W``, ``PT0S``) → Duration.

    Years and months are calendar units (whole numbers only); the rest are exact (UTC has no
    daylight saving, so a day is always 86,400 s).
    """
    match = _DURATION.match(text)
    if match is None:
        raise BadRequestData(
            f"aggrPeriodDuration {text!r} is not an ISO 8601 duration like PT1H, P1D or P1M"
        )
    parts = match.groupdict()
    months = 0
    for unit, factor in (("Y", 12), ("M", 1)):
        raw = parts[unit]
        if raw is not None:
            if "." in raw:
                raise BadRequestData(f"aggrPeriodDuration {text!r}: years and months must be whole")
            months += int(raw) * factor
    micros = 0
    for unit, seconds in _SECONDS.items():
        raw = parts[unit]
        if raw is not None:
            micros += round(float(raw) * seconds * _US)
    return Duration(months, micros)
