"""Averages from recorded history: the hourly means the CAI and the alerts are computed from.

Everything is read from the temporal store (the NGSI-LD temporal API's), by ``observedAt``:
the store keeps per attribute and clock hour the count and sum of its values
(``temporal_hourly``), so one station's day of hourly means is 24 rows whatever its sampling
rate. A measure that arrives late counts in the hour it was taken.

- An **hourly average** is the mean of the values observed in one clock hour [h, h + 1 h).
- A pollutant's **latest hour** is the hour of its latest measure in history (not of the
  entity's current value, which a late measure may have set back).
- A station's **24-h PM average** is the mean of the hourly averages of the 24 hours ending with
  PM's latest hour, when at least ``air_pm_min_hours`` of them have values (else PM has no
  sub-index yet); averaging hourly averages keeps a burst of samples in one hour from
  outweighing the rest of the day.
- A **1-h gas average** (O3, NO2, CO, SO2) is the hourly average of the gas's latest hour.

A pollutant whose latest hour is more than ``FRESH_HOURS`` hours before the station's latest
is out of date (a sensor down, AirKorea's 점검중) and left out of the CAI.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from cityhub.ngsild.entity import Entity
from cityhub.services.air.cai import Cai, cai, to_cai_unit
from cityhub.services.air.places import HOUR, Reading, hour_of, readings
from cityhub.temporal.model import BETWEEN, DELETED_AT, OBSERVED_AT, TimeFilter, iso
from cityhub.temporal.store import Periods, TemporalStore

PM = ("pm10", "pm25")
FRESH_HOURS = 2
Key = tuple[str, str]  # (entity id, pollutant)
#: (entity id, pollutant) -> {hour start µs: hourly average}
Hourly = dict[Key, dict[int, float]]


@dataclass(frozen=True, slots=True)
class Latest:
    """A pollutant's latest measure in history."""

    observed: int  # µs
    at: str  # its observedAt as given


class History:
    """The recorded series of some (station, pollutant) pairs."""

    def __init__(self, store: TemporalStore, sids: dict[int, Key]) -> None:
        self.store = store
        self.sids = sids

    @classmethod
    async def of(cls, store: TemporalStore, tenant: str, wanted: Mapping[Key, Reading]) -> History:
        """The default-instance series of each wanted pair (by its attribute's IRI)."""
        if not wanted:
            return cls(store, {})
        keys = {(entity_id, r.iri): (entity_id, p) for (entity_id, p), r in wanted.items()}
        series = await store.series(
            tenant, sorted({e for e, _ in wanted}), sorted({r.iri for r in wanted.values()})
        )
        return cls(
            store,
            {
                s.sid: keys[(s.entity_id, s.attr)]
                for s in series
                if s.dataset == "" and (s.entity_id, s.attr) in keys
            },
        )

    async def latest(self) -> dict[Key, Latest]:
        """Each pair's latest measure (none for a pair without history)."""
        if not self.sids:
            return {}
        found = await self.store.instances(list(self.sids), TimeFilter(), 3, True)
        latest = {}
        for sid, stored in found.items():
            live = [s for s in stored if DELETED_AT not in s.doc]
            if live:
                at = live[-1].doc.get(OBSERVED_AT)
                latest[self.sids[sid]] = Latest(
                    live[-1].time, at if isinstance(at, str) else iso(live[-1].time)
                )
        return latest

    async def hourly(self, first: int, last: int, of: Collection[str] | None = None) -> Hourly:
        """The hourly averages of the hours ``first`` .. ``last`` (hour starts, µs) of each
        pair (of the entities ``of`` only, if given), in its unit; hours without values are
        absent."""
        sids = [sid for sid, key in self.sids.items() if of is None or key[0] in of]
        if not sids:
            return {}
        tf = TimeFilter(OBSERVED_AT, BETWEEN, first, last + HOUR)
        found = await self.store.aggregate(sids, tf, Periods(first, width=HOUR), ["avg"])
        means: Hourly = {}
        for sid, buckets in found.items():
            for _, index, avg in buckets:
                if avg is not None:
                    means.setdefault(self.sids[sid], {})[first + int(index) * HOUR] = float(avg)
        return means


@dataclass(frozen=True, slots=True)
class StationAir:
    """What a station's history says now: its averages (in the CAI table's units) and CAI."""

    observed: int  # µs: the latest measure of a CAI pollutant
    observed_at: str  # its observedAt as the station gave it
    averages: dict[str, float]  # pollutant -> 24-h (PM) or 1-h (gases) average, CAI units
    hours: dict[str, int]  # pollutant -> hours with values in its averaging window
    cai: Cai | None


async def stations_air(
    store: TemporalStore, tenant: str, stations: Sequence[Entity], min_hours: int
) -> dict[str, StationAir]:
    """The averages and CAI of some stations from their history, read in bulk (one series
    look-up, one read of the latest measures, one hourly aggregation per distinct latest
    hour); a station without pollutant data is absent."""
    found = {station["id"]: readings(station) for station in stations}
    history = await History.of(
        store, tenant, {(sid, p): r for sid, own in found.items() for p, r in own.items()}
    )
    latest: dict[str, dict[str, Latest]] = {}
    for (sid, p), t in (await history.latest()).items():
        latest.setdefault(sid, {})[p] = t
    by_hour: dict[int, set[str]] = {}  # newest hour -> its stations
    for sid, own in latest.items():
        by_hour.setdefault(hour_of(max(t.observed for t in own.values())), set()).add(sid)
    out: dict[str, StationAir] = {}
    for newest_hour, sids in by_hour.items():
        first = newest_hour - (23 + FRESH_HOURS) * HOUR
        means = await history.hourly(first, newest_hour, sids)
        for sid in sids:
            out[sid] = _air(sid, found[sid], latest[sid], newest_hour, means, min_hours)
    return out


def _air(
    sid: str,
    found: Mapping[str, Reading],
    latest: Mapping[str, Latest],
    newest_hour: int,
    means: Hourly,
    min_hours: int,
) -> StationAir:
    """One station's averages and CAI from its latest measures and hourly means."""
    newest = max(latest.values(), key=lambda t: t.observed)
    fresh = {
        p: hour_of(t.observed)
        for p, t in latest.items()
        if hour_of(t.observed) >= newest_hour - FRESH_HOURS * HOUR
    }
    averages: dict[str, float] = {}
    hours: dict[str, int] = {}
    for p, own in fresh.items():
        series = means.get((sid, p), {})
        if p in PM:
            window = [v for h, v in series.items() if own - 23 * HOUR <= h <= own]
            if len(window) < min_hours:
                continue
            value, count = sum(window) / len(window), len(window)
        elif own in series:
            value, count = series[own], 1
        else:
            continue
        converted = to_cai_unit(p, value, found[p].unit)
        if converted is not None and converted >= 0:
            averages[p], hours[p] = converted, count
    return StationAir(newest.observed, newest.at, averages, hours, cai(averages))
