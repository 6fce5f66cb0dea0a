"""Crosswalk statistics from the recorded history: stop-line violations, vehicles and
pedestrians per crosswalk and hour of the day (Seoul time), the violation rate (violations per
vehicle), and the rate before and after a change (a new smart crosswalk, a camera, a campaign).

A ``CrosswalkObserved`` entity is one crosswalk; each interval its device writes the counts
of that interval (``stopLineViolations``, ``vehicleCount``, ``pedestrianCount``), stamped with
``observedAt`` (the interval's start; a count is in the hour of its ``observedAt``). The sums
come from the temporal store's hourly rollup (one row per series and hour), so a year of
45 crosswalks is read in one query.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cityhub.ngsild.entity import Entity
from cityhub.ngsild.hub import Hub
from cityhub.services.shared import SEOUL, attributes, entities_of, iso, values
from cityhub.temporal.model import BETWEEN, TimeFilter, to_micros
from cityhub.temporal.service import TemporalService
from cityhub.temporal.store import Periods

CROSSWALK = "CrosswalkObserved"
VIOLATIONS, VEHICLES, PEDESTRIANS = "stopLineViolations", "vehicleCount", "pedestrianCount"
COUNTS = (VIOLATIONS, VEHICLES, PEDESTRIANS)
HOUR_US = 3_600_000_000
_KEYS = {VIOLATIONS: "violations", VEHICLES: "vehicles", PEDESTRIANS: "pedestrians"}


def hour_floor(moment: datetime) -> datetime:
    """The start of the (UTC, so also Seoul) hour of ``moment``."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_ceil(moment: datetime) -> datetime:
    """The end of the hour of ``moment`` (itself on a whole hour)."""
    floor = hour_floor(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


class Tally:
    """Sums of the counts over some hours, and the Seoul days they fall on."""

    def __init__(self) -> None:
        self.sums = dict.fromkeys(COUNTS, 0.0)
        self.intervals = 0
        self.days: set[str] = set()

    def add(self, name: str, total: float, count: int, day: str) -> None:
        """Add one hour of one count."""
        self.sums[name] += total
        if name == VIOLATIONS:
            self.intervals += count
        self.days.add(day)

    @property
    def rate(self) -> float | None:
        """Violations per vehicle (None without vehicles)."""
        vehicles = self.sums[VEHICLES]
        return self.sums[VIOLATIONS] / vehicles if vehicles else None

    def json(self) -> dict[str, Any]:
        """``{"violations", "vehicles", "pedestrians", "intervals", "days", "violationRate"}``."""
        body: dict[str, Any] = {_KEYS[n]: _number(v) for n, v in self.sums.items()}
        body["intervals"] = self.intervals
        body["days"] = len(self.days)
        rate = self.rate
        body["violationRate"] = round(rate, 4) if rate is not None else None
        return body


def _number(value: float) -> int | float:
    return int(value) if value == int(value) else round(value, 3)


class Summary:
    """One crosswalk's (or every crosswalk's) tallies: in all, by hour, before and after."""

    def __init__(self) -> None:
        self.total = Tally()
        self.hours = [Tally() for _ in range(24)]
        self.before = Tally()
        self.after = Tally()

    def add(self, name: str, start_us: int, total: float, count: int, change: int | None) -> None:
        """Add the counts of one hour starting at ``start_us``."""
        local = datetime.fromtimestamp(start_us / 1e6, UTC).astimezone(SEOUL)
        day = local.date().isoformat()
        for tally in (self.total, self.hours[local.hour]):
            tally.add(name, total, count, day)
        if change is not None:
            (self.before if start_us < change else self.after).add(name, total, count, day)

    def json(self, change: int | None) -> dict[str, Any]:
        """As the stats API shows it."""
        body: dict[str, Any] = {
            "totals": self.total.json(),
            "byHour": [{"hour": h} | t.json() for h, t in enumerate(self.hours)],
        }
        if change is not None:
            rate0, rate1 = self.before.rate, self.after.rate
            relative = round(rate1 / rate0 - 1, 4) if rate0 and rate1 is not None else None
            body["beforeAfter"] = {
                "before": self.before.json(),
                "after": self.after.json(),
                "relativeChange": relative,  # of the rate: -0.5 is half as many per vehicle
            }
        return body


def _names(crosswalk: Entity, hub: Hub) -> dict[str, str]:
    """The expanded names of a crosswalk's count attributes (the core @context's if absent)."""
    found = {name: iri for name, (_, _, iri) in attributes(crosswalk).items() if name in COUNTS}
    return {n: found.get(n) or hub.contexts.core.expand(n) for n in COUNTS}


async def crosswalks(hub: Hub, tenant: str, ids: list[str] | None = None) -> list[Entity]:
    """The crosswalks of a tenant (only ``ids`` when given), by id."""
    found = await entities_of(hub, tenant, CROSSWALK)
    if ids is not None:
        found = [c for c in found if c["id"] in ids]
    return sorted(found, key=lambda c: str(c["id"]))


async def sums(
    hub: Hub,
    temporal: TemporalService,
    tenant: str,
    found: list[Entity],
    since: datetime,
    until: datetime,
    width_us: int,
) -> dict[tuple[str, str], list[tuple[int, float, int]]]:
    """(crosswalk id, count name) → [(period start µs, sum, instances)] for periods of
    ``width_us`` from ``since`` (both on whole hours)."""
    if not found:
        return {}
    await temporal.settle()
    wanted = {iri: name for c in found for name, iri in _names(c, hub).items()}
    series = await temporal.store.series(tenant, [c["id"] for c in found], set(wanted))
    if not series:
        return {}
    low, high = to_micros(since), to_micros(until)
    tf = TimeFilter(timerel=BETWEEN, time_at=low, end_time_at=high)
    buckets = await temporal.store.aggregate(
        [s.sid for s in series], tf, Periods(low, width=width_us), ["sum", "totalCount"]
    )
    out: dict[tuple[str, str], list[tuple[int, float, int]]] = {}
    for s in series:
        rows = out.setdefault((s.entity_id, wanted[s.attr]), [])
        for _, index, total, count in buckets.get(s.sid, []):
            rows.append((low + int(index) * width_us, float(total or 0), int(count or 0)))
    return out


async def stats(
    hub: Hub,
    temporal: TemporalService,
    tenant: str,
    since: datetime,
    until: datetime,
    change: datetime | None = None,
    ids: list[str] | None = None,
) -> dict[str, Any]:
    """Per crosswalk and for all of them: totals, by hour of day, before/after ``change``."""
    since, until = hour_floor(since), hour_ceil(until)
    found = await crosswalks(hub, tenant, ids)
    hourly = await sums(hub, temporal, tenant, found, since, until, HOUR_US)
    cut = to_micros(change) if change is not None else None
    everything = Summary()
    rows = []
    for crosswalk in found:
        mine = Summary()
        for name in COUNTS:
            for start, total, count in hourly.get((crosswalk["id"], name), []):
                mine.add(name, start, total, count, cut)
                everything.add(name, start, total, count, cut)
        attrs = values(crosswalk)
        rows.append(
            {"id": crosswalk["id"], "name": attrs.get("name"), "location": attrs.get("location")}
            | mine.json(cut)
        )
    body: dict[str, Any] = {
        "from": iso(since),
        "to": iso(until),
        "timezone": "Asia/Seoul",
        "change": iso(change) if change is not None else None,
        "crosswalks": rows,
        "all": everything.json(cut),
    }
    return body
