"""The air service: the ``air`` change-log consumer that keeps stations' CAI and districts'
alerts current, and what the routes read.

When a station's pollutant (or its ``location`` / ``refDistrict``) changes, the consumer waits
until the temporal recorder has the change in history, computes the station's averages and CAI
from that history (history.py) and writes them on the station as attributes observed at the
latest measure (so they have history too): ``pm10Avg24h`` and ``pm25Avg24h`` (µg/m³),
``airQualityIndex`` (the CAI), ``airQualityLevel`` (good … veryUnhealthy), ``caiGrade`` (1-4),
``dominantPollutant``, ``caiSubIndices`` and ``caiConcentrations`` (the truncated averages in
the CAI table's units). A change that touches only those attributes — its own write — is not
looked at again, so the write does not loop. The stations of one page of changes are read and
written together (one history read, one batch write). Then it evaluates the alerts of the
districts of the changed stations (alerting.py).

Its writes are not in the cursor's transaction: it returns False (the feed stores the cursor),
and a replay after a crash computes the same values (written only when they differ) and finds
the events as it left them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from cityhub.bus import DELETE, Change, ChangeBus
from cityhub.bus.feed import ChangeFeed
from cityhub.datamodels.model import short_name
from cityhub.errors import ConfigError, NgsiError
from cityhub.ngsild import merge, models
from cityhub.ngsild.entity import Entity, Instance
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.models import NULL_URI, now_iso
from cityhub.ngsild.service import existing
from cityhub.ops.events import EventService
from cityhub.services.air.alerting import BASES, Alerting, open_alerts
from cityhub.services.air.cai import POLLUTANTS
from cityhub.services.air.history import PM, StationAir, stations_air
from cityhub.services.air.places import (
    STATION,
    District,
    district_of,
    districts,
    every,
    is_station,
    readings,
)
from cityhub.storage.base import Mutation
from cityhub.temporal.service import TemporalService

log = logging.getLogger(__name__)

CONSUMER = "air"
INPUTS = frozenset((*POLLUTANTS, "location", "refDistrict"))
DERIVED = (
    "pm10Avg24h",
    "pm25Avg24h",
    "airQualityIndex",
    "airQualityLevel",
    "caiGrade",
    "dominantPollutant",
    "caiSubIndices",
    "caiConcentrations",
)
_SETTLE_S = 2.0  # longest a read waits for the consumer to catch up
_HISTORY_S = 10.0  # longest the consumer waits for the temporal recorder


def derived_attributes(air: StationAir) -> dict[str, Any]:
    """The attributes the service writes on a station (NGSI-LD normalized, short names)."""

    def prop(value: Any, unit: str | None = None) -> dict[str, Any]:
        body = {"type": "Property", "value": value, "observedAt": air.observed_at}
        return body | ({"unitCode": unit} if unit else {})

    body = {f"{p}Avg24h": prop(round(air.averages[p], 1), "GQ") for p in PM if p in air.averages}
    if air.cai is not None:
        body |= {
            "airQualityIndex": prop(air.cai.index),
            "airQualityLevel": prop(air.cai.level),
            "caiGrade": prop(air.cai.grade),
            "dominantPollutant": prop(air.cai.dominant),
            "caiSubIndices": prop(air.cai.sub_indices),
            "caiConcentrations": prop(air.cai.concentrations),
        }
    return body


def _plain(instances: list[Instance] | None) -> list[dict[str, Any]]:
    drop = ("createdAt", "modifiedAt")
    return [{k: v for k, v in i.items() if k not in drop} for i in instances or []]


def _measures(station: Entity) -> list[tuple[str, float, int]]:
    """What a station's CAI was computed from: its current measures."""
    return sorted((p, r.value, r.observed) for p, r in readings(station).items())


class AirService:
    """CAI and fine-dust alerts of a hub (``hub.extras["air"]``)."""

    def __init__(self, hub: Hub, temporal: TemporalService) -> None:
        settings = hub.settings
        if settings.air_alert_basis not in BASES:
            basis = settings.air_alert_basis
            raise ConfigError(f"air_alert_basis must be mean or max, not {basis!r}")
        if not 1 <= settings.air_pm_min_hours <= 24:
            raise ConfigError("air_pm_min_hours must be 1-24")
        self.hub = hub
        self.temporal = temporal
        self.min_hours = settings.air_pm_min_hours
        self.basis = settings.air_alert_basis
        self.feed: ChangeFeed | None = None
        self._published = 0

    @property
    def events(self) -> EventService:
        """The operations center's events."""
        found: EventService = self.hub.extras["events"]
        return found

    @property
    def alerting(self) -> Alerting:
        """District alert evaluation."""
        return Alerting(self.events, self.temporal.store, self.basis)

    # --- reading ------------------------------------------------------------------------

    def watch(self, bus: ChangeBus) -> None:
        """Remember the latest change published, for reads to wait for."""

        def seen(changes: Sequence[Change]) -> None:
            self._published = max(self._published, max(c.seq for c in changes))

        bus.subscribe(seen)

    async def settle(self) -> None:
        """Wait (briefly) until the consumer has handled every change published here, so a
        read right after a measure sees its CAI."""
        if self.feed is not None and self.feed.cursor < self._published:
            await self.feed.caught_up(self._published, within_s=_SETTLE_S)

    async def places(self, tenant: str) -> tuple[list[Entity], list[District]]:
        """The tenant's stations and districts."""
        return await every(self.hub, tenant, STATION), await districts(self.hub, tenant)

    # --- the consumer -------------------------------------------------------------------

    async def handle(self, changes: list[Change], old: int, new: int) -> bool:
        """The ``air`` consumer: recompute the changed stations and their districts."""
        touched: dict[str, set[str]] = {}
        for change in changes:
            if change.op == DELETE or not is_station(change.entity):
                continue
            if any(short_name(iri) in INPUTS for iri in change.prev):
                touched.setdefault(change.tenant, set()).add(change.entity_id)
        if not touched:
            return False
        recorder = self.temporal.feed
        if recorder is not None and not await recorder.caught_up(new, within_s=_HISTORY_S):
            raise TimeoutError("the temporal recorder is behind; the air consumer waits for it")
        for tenant, ids in touched.items():
            await self.refresh(tenant, ids)
        return False

    async def refresh(self, tenant: str, station_ids: set[str]) -> None:
        """Recompute some stations of a tenant and evaluate their districts' alerts."""
        known = await districts(self.hub, tenant)
        # without districts there are no alerts to evaluate: only the changed stations count
        stations = await every(self.hub, tenant, STATION, None if known else station_ids)
        members: dict[str, list[Entity]] = {}
        home: dict[str, District] = {}
        for station in stations:
            district = district_of(station, known)
            if district is not None:
                members.setdefault(district.id, []).append(station)
                home[station["id"]] = district
        changed = [s for s in stations if s["id"] in station_ids]
        try:
            await self._recompute(tenant, changed)
        except NgsiError:  # one station's data, not the hub: find it, the others go on
            for station in changed:
                try:
                    await self._recompute(tenant, [station])
                except NgsiError as err:
                    log.warning("air: cannot update station %s: %s", station["id"], err)
        targets = {home[s["id"]].id: home[s["id"]] for s in changed if s["id"] in home}
        if not targets:
            return
        alerting, current = self.alerting, await open_alerts(self.events, tenant)
        for district in targets.values():
            try:
                await alerting.evaluate(tenant, district, members[district.id], current)
            except NgsiError as err:
                log.warning("air: cannot evaluate district %s: %s", district.id, err)

    async def _recompute(self, tenant: str, stations: Sequence[Entity]) -> None:
        """Write the averages and CAI of ``stations`` on them, in one batch."""
        airs = await stations_air(self.temporal.store, tenant, stations, self.min_hours)
        names = {self.hub.contexts.core.expand(n) for n in DERIVED}
        mutations = [
            Mutation(s["id"], existing(s["id"], self._derived(s, airs[s["id"]], names)))
            for s in stations
            if s["id"] in airs
        ]
        if not mutations:
            return
        result = await self.hub.entities.batch(tenant, mutations)
        if result.errors:
            raise result.errors[0][1]

    def _derived(
        self, station: Entity, air: StationAir, names: set[str]
    ) -> Callable[[Entity], Entity]:
        """The write of a station's derived attributes (``names``: their IRIs), unless a
        newer measure came or they are unchanged."""
        ctx = self.hub.contexts.core
        body = derived_attributes(air)
        basis = _measures(station)

        def write(current: Entity) -> Entity:
            if _measures(current) != basis:
                return current  # a newer measure came: its own change recomputes
            attrs = models.parse_attributes(body, ctx)
            if (
                all(_plain(current["attrs"].get(i)) == _plain(v) for i, v in attrs.items())
                and not (names - attrs.keys()) & current["attrs"].keys()
            ):
                return current  # nothing new: no write
            for iri in (names - attrs.keys()) & current["attrs"].keys():
                attrs[iri] = [{"type": "Property", "value": NULL_URI}]  # no longer known
            return merge.upsert_attrs(current, attrs, now_iso())

        return write


def install(hub: Hub, temporal: TemporalService) -> AirService:
    """Add the air service to ``hub`` (after the operations center; again: the one there)."""
    found = hub.extras.get("air")
    if isinstance(found, AirService):
        return found
    service = hub.extras["air"] = AirService(hub, temporal)
    service.watch(hub.bus)
    service.feed = hub.feed(CONSUMER, service.handle)
    return service
