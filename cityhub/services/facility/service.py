"""Facility grades kept current: the change-log consumer ``facility-grades`` regrades a facility
when one of its sensors reports, stores the grade on it and raises or clears its event.

A facility is a ``Facility`` entity (``structureType``, ``location``, ``name``); its sensors
are entities of any type (``StructuralHealthObserved``, ``Device``...) pointing at it with
``refFacility``, ``refStructure`` or ``controlledAsset``. Regrading reads the latest reading
of every graded measure of every sensor, and for measures with a trend their history within
the trend window (temporal store), and writes ``safetyGrade`` and ``gradeReason`` (observed at
the time of the latest reading) and ``gradedAt`` (when the hub graded) when they changed.

A drop to the alarm grade (``facility_alarm_grade``, default C) or worse opens a ``CityEvent``
(category facility, severity by grade, the ``facility-alarm`` SOP, dedupe key
``facility:<id>``); a further drop or a rise within the alarm grades changes its severity,
readings that keep the grade keep it from ending by itself, and a rise above the alarm grade
clears it. A facility whose open event an operator closed gets a new one on its next drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from cityhub.bus import CREATE, DELETE, Change
from cityhub.datamodels.model import short_name
from cityhub.errors import ConfigError, Conflict, NonexistentTenant, ResourceNotFound
from cityhub.ngsild import merge, models, query
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.filters import EntityQuery
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.service import existing
from cityhub.ops.events import EventService, EventSpec, _value
from cityhub.ops.rules.model import duration_us
from cityhub.services.facility.grading import (
    GRADES,
    TILT,
    TILT_AXES,
    MeasureGrade,
    grade_measure,
    measured_attributes,
    measures_for,
    points,
    reading,
    worst,
)
from cityhub.services.shared import anchor, attributes, entities_of, iso, settle, when
from cityhub.services.thresholds import ThresholdStore
from cityhub.storage.base import Mutation
from cityhub.temporal.model import BETWEEN, TimeFilter, to_micros
from cityhub.temporal.service import TemporalService

log = logging.getLogger(__name__)

FEED = "facility-grades"
FACILITY = "Facility"
LINKS = ("refFacility", "refStructure", "controlledAsset")
ACTOR = "service:facility"
EVENT_CODE = "FAC0101"
SOP = "facility-alarm"
SEVERITY = {"A": "informational", "B": "low", "C": "medium", "D": "high", "E": "critical"}
_AT_ONCE = 8  # facilities of one change-log page regraded concurrently
_HISTORY = 20_000  # instances of one facility's sensors read for its trends


def linked(entity: Entity) -> list[str]:
    """The facilities an entity points at (``refFacility``, ``refStructure``,
    ``controlledAsset``)."""
    found: list[str] = []
    for iri, insts in entity.get("attrs", {}).items():
        if short_name(iri) in LINKS:
            found += [t for inst in insts for t in _objects(inst) if t not in found]
    return found


def _objects(inst: dict[str, Any]) -> list[str]:
    """The entity ids a Relationship (one object or several) or ListRelationship holds."""
    value = inst.get("object", inst.get("objectList"))
    items = value if isinstance(value, list) else [value]
    found = [i.get("object") if isinstance(i, dict) else i for i in items]
    return [t for t in found if isinstance(t, str)]


def is_facility(entity: Entity) -> bool:
    """Is the entity a Facility?"""
    return any(short_name(t) == FACILITY for t in entity.get("type", []))


def _prop(value: Any, observed: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "Property", "value": value}
    if observed:
        body["observedAt"] = observed
    return body


class FacilityService:
    """Grading facilities (``hub.extras["facility"]``)."""

    def __init__(self, hub: Hub, temporal: TemporalService, thresholds: ThresholdStore) -> None:
        alarm = hub.settings.facility_alarm_grade
        if alarm not in GRADES[1:]:
            raise ConfigError(f"facility_alarm_grade must be one of B, C, D, E, not {alarm!r}")
        self.hub = hub
        self.temporal = temporal
        self.thresholds = thresholds
        self.alarm = GRADES.index(alarm)
        self._at_once = asyncio.Semaphore(_AT_ONCE)

    async def settle(self) -> None:
        """Wait (briefly) until the consumer has handled every change logged so far, so a
        read right after a reading sees its grade."""
        await settle(self.hub, FEED)

    @property
    def events(self) -> EventService:
        found: EventService = self.hub.extras["events"]
        return found

    # --- the change-log consumer ----------------------------------------------------------

    async def handle(self, changes: list[Change], old: int, new: int) -> bool:
        """Regrade the facilities whose sensors (or structure type) changed. Its writes are
        not in the cursor's transaction: a replay regrades again, which changes nothing."""
        todo: dict[tuple[str, str], None] = {}
        for change in changes:
            for facility in await self._concerned(change):
                todo[(change.tenant, facility)] = None
        if todo:
            await asyncio.gather(*(self._regrade_quietly(t, f) for t, f in todo))
        return False

    async def _concerned(self, change: Change) -> list[str]:
        touched = {short_name(iri) for iri in change.prev}
        if is_facility(change.entity):
            if change.op == CREATE or "structureType" in touched:
                return [change.entity_id]
            return []
        facilities = linked(change.entity)
        for iri, insts in change.prev.items():  # a sensor moved: its old facility too
            if short_name(iri) in LINKS:
                facilities += [t for i in insts for t in _objects(i) if t not in facilities]
        if not facilities:
            return []
        if change.op in (CREATE, DELETE) or touched & set(LINKS):
            return facilities
        table = (await self.thresholds.get(change.tenant)).doc
        return facilities if touched & measured_attributes(table) else []

    async def _regrade_quietly(self, tenant: str, facility_id: str) -> None:
        async with self._at_once:
            # a sensor may name a facility that is not (or no longer) there
            with contextlib.suppress(ResourceNotFound, NonexistentTenant):
                await self.regrade(tenant, facility_id)

    # --- grading --------------------------------------------------------------------------

    async def sensors(self, tenant: str, facility_id: str) -> list[Entity]:
        """The entities pointing at a facility."""
        q = "|".join(f"{name}=={facility_id}" for name in LINKS)
        try:
            return await entities_of_any(self.hub, tenant, q)
        except NonexistentTenant:
            return []

    async def grade(
        self, tenant: str, facility: Entity
    ) -> tuple[MeasureGrade | None, list[MeasureGrade]]:
        """The deciding measure and every graded measure of a facility, now."""
        kind = _value(facility, "structureType")
        table = (await self.thresholds.get(tenant)).doc
        specs = measures_for(table, kind if isinstance(kind, str) else None)
        sensors = await self.sensors(tenant, facility["id"])
        graded: list[MeasureGrade] = []
        trends: list[tuple[Entity, str, float, int]] = []  # sensor, measure, value, at µs
        latest: dict[tuple[str, str], tuple[float, str | None]] = {}
        for sensor in sensors:
            found = attributes(sensor)
            plain = {name: v[0] for name, v in found.items()}
            for measure, spec in specs.items():
                value = reading(plain, measure)
                if value is None:
                    continue
                names = [measure] if measure in found or measure != TILT else list(TILT_AXES)
                at = max((found[n][1] or "" for n in names if n in found), default="") or None
                latest[(sensor["id"], measure)] = (value, at)
                if "trend" in spec:
                    moment = when(at) or datetime.now(UTC)
                    trends.append((sensor, measure, value, to_micros(moment)))
        growth = await self._growth(tenant, trends, specs)
        for (sensor_id, measure), (value, at) in latest.items():
            graded.append(
                grade_measure(
                    sensor_id, measure, value, specs[measure], at, growth.get((sensor_id, measure))
                )
            )
        return worst(graded), graded

    async def _growth(
        self,
        tenant: str,
        trends: list[tuple[Entity, str, float, int]],
        specs: dict[str, Any],
    ) -> dict[tuple[str, str], float]:
        """How much each trended measure rose within its window before its latest reading."""
        if not trends:
            return {}
        iris: dict[str, set[str]] = {}
        for sensor, measure, _, _ in trends:
            names = {measure, *TILT_AXES} if measure == TILT else {measure}
            for name, (_, _, iri) in attributes(sensor).items():
                if name in names:
                    iris.setdefault(sensor["id"], set()).add(iri)
        all_iris = {iri for found in iris.values() for iri in found}
        series = await self.temporal.store.series(tenant, list(iris), all_iris)
        windows = [duration_us(specs[m]["trend"]["window"], "window") for _, m, _, _ in trends]
        low = min(at - w for (_, _, _, at), w in zip(trends, windows, strict=True))
        high = max(at for _, _, _, at in trends) + 1
        tf = TimeFilter(timerel=BETWEEN, time_at=low, end_time_at=high)
        stored = await self.temporal.store.instances([s.sid for s in series], tf, _HISTORY, True)
        history: dict[str, dict[str, list[tuple[int, Any]]]] = {}
        for s in series:
            docs = [(i.time, i.doc.get("value")) for i in stored.get(s.sid, [])]
            history.setdefault(s.entity_id, {})[short_name(s.attr)] = docs
        found: dict[tuple[str, str], float] = {}
        for (sensor, measure, value, at), span in zip(trends, windows, strict=True):
            seen = points(history.get(sensor["id"], {}), measure)
            past = [v for t, v in seen if at - span <= t <= at]
            found[(sensor["id"], measure)] = value - min([*past, value])
        return found

    async def regrade(self, tenant: str, facility_id: str) -> str | None:
        """Grade a facility now, store the grade if it changed, raise or clear its event;
        its grade (None: no sensor has a graded reading)."""
        facility = await self.hub.entities.get(tenant, facility_id)
        if not is_facility(facility):
            return None
        decider, graded = await self.grade(tenant, facility)
        if decider is None:
            return None
        # the grade holds from the latest reading that made it so, not from the decider's
        # own (an older reading may decide once a newer one left its grade)
        stamps = [t for t in (when(g.at) for g in graded) if t is not None]
        observed = iso(max(stamps)) if stamps else models.now_iso()
        before = _value(facility, "safetyGrade")
        previous = before if isinstance(before, str) and before in GRADES else None
        reason = decider.reason()
        await self._event(tenant, facility, decider, previous)
        if decider.grade != previous or reason != _value(facility, "gradeReason"):
            await self._store(tenant, facility_id, decider.grade, reason, observed)
        return decider.grade

    async def _store(
        self, tenant: str, facility_id: str, grade: str, reason: str, observed: str
    ) -> None:
        body = {
            "safetyGrade": _prop(grade, observed),
            "gradeReason": _prop(reason, observed),
            "gradedAt": _prop(models.now_iso()),
        }
        attrs = models.parse_attributes(body, self.hub.contexts.core)

        def run(current: Entity) -> Entity:
            return merge.upsert_attrs(current, attrs, models.now_iso())

        result = await self.hub.entities.batch(
            tenant, [Mutation(facility_id, existing(facility_id, run))]
        )
        if result.errors:
            raise result.errors[0][1]

    # --- events ---------------------------------------------------------------------------

    def _spec(self, facility: Entity, decider: MeasureGrade, previous: str | None) -> EventSpec:
        name = _value(facility, "name")
        place = name if isinstance(name, str) else facility["id"]
        return EventSpec(
            EVENT_CODE,
            "시설물 안전등급 하락",
            severity=SEVERITY[decider.grade],
            category="facility",
            description=(
                f"{place}: 안전등급 {previous or '-'} → {decider.grade}. {decider.reason()}"
            ),
            place=place,
            location=anchor(_value(facility, "location")),
            dedupe_key=f"facility:{facility['id']}",
            source=ACTOR,
            items=[
                {"key": "facility", "val": facility["id"]},
                {"key": "grade", "val": decider.grade},
                {"key": "previousGrade", "val": previous or ""},
                {"key": "sensor", "val": decider.sensor},
                {"key": "measure", "val": decider.measure},
                {"key": "value", "val": f"{decider.value:g}"},
            ],
            related=[facility["id"]],
            grade=decider.grade,
            sop_template=SOP,
        )

    async def _event(
        self, tenant: str, facility: Entity, decider: MeasureGrade, previous: str | None
    ) -> None:
        rank = decider.level
        before = GRADES.index(previous) if previous else None
        spec = self._spec(facility, decider, previous)
        if rank < self.alarm:
            if before is not None and before >= self.alarm:
                await self._clear(tenant, spec.key(), f"grade back to {decider.grade}")
            return
        current = await self.events.open_event(tenant, spec.key())
        if current is None:
            if before is None or rank > before:  # a drop: B → C, C → D...
                await self.events.raise_event(tenant, spec, ACTOR)
            return
        if decider.grade != _value(current, "eventGrade"):
            await self._restate(tenant, current["id"], spec)
        elif self._quiet(current):
            await self.events.raise_event(tenant, spec, ACTOR)  # one more occurrence

    def _quiet(self, event: Entity) -> bool:
        """Has the open event gone a quarter of the auto-end time without an occurrence?"""
        last = when(_value(event, "lastOccurredAt"))
        keep = timedelta(minutes=self.hub.settings.event_auto_end_minutes / 4)
        return last is None or datetime.now(UTC) - last >= keep

    async def _restate(self, tenant: str, event_id: str, spec: EventSpec) -> None:
        """The open event follows the grade: severity, grade, description, items."""
        body = {
            "severity": _prop(spec.severity),
            "eventGrade": _prop(spec.grade),
            "description": _prop(spec.description),
            "eventItems": _prop(spec.items),
            "lastOccurredAt": _prop(iso(datetime.now(UTC))),
        }
        attrs = models.parse_attributes(body, self.hub.contexts.core)

        def run(current: Entity) -> Entity:
            return merge.upsert_attrs(current, attrs, models.now_iso())

        result = await self.hub.entities.batch(
            tenant, [Mutation(event_id, existing(event_id, run))]
        )
        if result.errors:
            raise result.errors[0][1]

    async def _clear(self, tenant: str, key: str, reason: str) -> None:
        current = await self.events.open_event(tenant, key)
        if current is None:
            return
        with contextlib.suppress(Conflict):  # closed meanwhile by an operator or a worker
            await self.events.transition(tenant, current["id"], "cleared", ACTOR, reason)

    async def regrade_all(self, tenant: str) -> int:
        """Regrade every facility of a tenant (after its thresholds changed); how many have
        a grade."""
        graded = 0
        for facility in await entities_of(self.hub, tenant, FACILITY):
            async with self._at_once:
                if await self.regrade(tenant, facility["id"]) is not None:
                    graded += 1
        return graded


async def entities_of_any(hub: Hub, tenant: str, q: str) -> list[Entity]:
    """Entities of any type matching ``q`` (at most 1000: the sensors of one facility)."""
    ctx = hub.contexts.core
    select = EntityQuery(q=query.parse_q(q, ctx.expand), limit=1000)
    return (await hub.entities.query(tenant, select)).entities
