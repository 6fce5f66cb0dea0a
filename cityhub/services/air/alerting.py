"""District fine-dust alerts as operations-center events: issued, kept current, lowered, lifted.

An alert is per district and pollutant. Its hourly value is formed from the district's
stations' hourly averages by the ``air_alert_basis`` setting: ``mean`` (default; the district's
average, as the regulation's "해당지역 ... 시간당 평균농도" reads) or ``max`` (the worst
station: any one station over the threshold counts, as some provinces issue). The hour
evaluated is the latest clock hour any of its stations measured; until the hour is over, its
average is that of the measures so far.

The state is the open events themselves (no table of its own): an open event with dedupe key
``air:<district id>:<pollutant>:<advisory|warning>`` is the level in force. Each evaluation
compares :func:`~cityhub.services.air.alerts.next_level` with it and raises or clears events
to match, so evaluating twice (a replay after a crash, two workers) changes nothing the second
time; an event's id is made from its key and hour, so two workers raising it at once make one.
Events carry ``category`` environment, ``source`` ``service:air``, the district as
``refRelatedEntity``, its name as place and a point inside it as location, and start the
built-in ``fine-dust`` SOP (``sopTemplate``). While in force, an event's items follow the
latest hour (information updated, which also keeps it from ending by itself as quiet).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from cityhub.errors import AlreadyExists, Conflict, NonexistentTenant
from cityhub.ngsild.entity import Entity
from cityhub.ops.events import OPEN, SEOUL, EventService, EventSpec, _value, status_term
from cityhub.services.air.alerts import (
    ADVISORY,
    LEVEL_NAMES,
    LEVELS,
    RULES,
    SEVERITY,
    WARNING,
    AlertRule,
    next_level,
)
from cityhub.services.air.cai import to_cai_unit
from cityhub.services.air.history import History
from cityhub.services.air.places import HOUR, District, hour_of, readings
from cityhub.temporal.model import iso
from cityhub.temporal.store import TemporalStore

log = logging.getLogger(__name__)

SOURCE = ACTOR = "service:air"
CATEGORY = "environment"
SOP = "fine-dust"
BASES = ("mean", "max")


def alert_key(district_id: str, pollutant: str, level: str) -> str:
    """The dedupe key of a district's alert of one pollutant and level."""
    return f"air:{district_id}:{pollutant}:{level}"


@dataclass(frozen=True, slots=True)
class DistrictHour:
    """A district's latest hourly value of one pollutant (µg/m³) and the hour before."""

    pollutant: str
    hour: int  # µs, the hour's start
    value: float | None
    previous: float | None
    stations: int  # stations with a value in the hour

    def json(self) -> dict[str, object]:
        """As the API shows it."""
        return {
            "hour": iso(self.hour),
            "value": _round(self.value),
            "previousHour": _round(self.previous),
            "stations": self.stations,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _text(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}".removesuffix(".0")


async def district_hours(
    store: TemporalStore, tenant: str, members: list[Entity], basis: str
) -> dict[str, DistrictHour]:
    """Per alert pollutant, the district's value in its latest hour and the hour before."""
    wanted = {
        (station["id"], p): reading
        for station in members
        for p, reading in readings(station).items()
        if p in RULES
    }
    history = await History.of(store, tenant, wanted)
    latest: dict[str, int] = {}
    for (_, p), last in (await history.latest()).items():
        latest[p] = max(latest.get(p, 0), hour_of(last.observed))
    if not latest:
        return {}
    means = await history.hourly(min(latest.values()) - HOUR, max(latest.values()))

    def value(pollutant: str, hour: int) -> tuple[float | None, int]:
        found = []
        for key, reading in wanted.items():
            mean = means.get(key, {}).get(hour)
            if key[1] == pollutant and mean is not None:
                converted = to_cai_unit(pollutant, mean, reading.unit)
                if converted is not None:
                    found.append(converted)
        if not found:
            return None, 0
        return (max(found) if basis == "max" else sum(found) / len(found)), len(found)

    hours = {}
    for p, hour in latest.items():
        current, count = value(p, hour)
        hours[p] = DistrictHour(p, hour, current, value(p, hour - HOUR)[0], count)
    return hours


async def open_alerts(events: EventService, tenant: str) -> dict[str, Entity]:
    """The air service's open events, by dedupe key."""
    try:
        found = await events.select(tenant, [f'source=="{SOURCE}"', status_term(OPEN)], limit=1000)
    except NonexistentTenant:
        return {}
    return {str(_value(e, "dedupeKey")): e for e in found.entities}


class Alerting:
    """Evaluates districts and makes the open events agree (``hub.extras["air"].alerting``)."""

    def __init__(self, events: EventService, store: TemporalStore, basis: str) -> None:
        self.events = events
        self.store = store
        self.basis = basis

    async def evaluate(
        self, tenant: str, district: District, members: list[Entity], current: dict[str, Entity]
    ) -> None:
        """Evaluate a district's latest hour; ``current``: the open alerts (kept up to date)."""
        hours = await district_hours(self.store, tenant, members, self.basis)
        for pollutant, rule in RULES.items():
            dh = hours.get(pollutant)
            if dh is None:
                continue
            keys = {level: alert_key(district.id, pollutant, level) for level in LEVELS}
            level = next((lv for lv in (WARNING, ADVISORY) if keys[lv] in current), None)
            new = next_level(rule, level, dh.previous, dh.value)
            for old in LEVELS:
                event = current.get(keys[old])
                if event is not None and old != new:
                    await self._clear(tenant, event, _reason(rule, old, new, dh))
                    del current[keys[old]]
            if new is not None:
                current[keys[new]] = await self._issue(
                    tenant, district, rule, new, dh, current.get(keys[new])
                )

    async def _clear(self, tenant: str, event: Entity, reason: str) -> None:
        with contextlib.suppress(Conflict):  # closed meanwhile (an operator, another worker)
            await self.events.transition(tenant, event["id"], "cleared", ACTOR, reason)

    async def _issue(
        self,
        tenant: str,
        district: District,
        rule: AlertRule,
        level: str,
        dh: DistrictHour,
        event: Entity | None,
    ) -> Entity:
        """Raise the alert, or bring the open one's items up to the latest hour."""
        spec = _spec(district, rule, level, dh, self.basis)
        if event is not None:
            items = {i.get("key"): i.get("val") for i in _value(event, "eventItems") or []}
            if (items.get("hour"), items.get("value")) != (iso(dh.hour), _text(dh.value)):
                await self.events.update_info(tenant, event["id"], spec)
            return event
        digest = hashlib.sha1(f"{tenant}|{district.id}".encode()).hexdigest()[:12]
        stamp = datetime.fromtimestamp(dh.hour / 1e6, UTC).strftime("%Y%m%d%H")
        spec.event_id = f"urn:ngsi-ld:CityEvent:air-{digest}-{rule.pollutant}-{level}-{stamp}"
        try:
            event_id, _ = await self.events.raise_event(tenant, spec, ACTOR)
        except AlreadyExists:
            found = await self.events.get(tenant, spec.event_id)
            if _value(found, "status") in OPEN:
                return found  # another worker raised it just now
            spec.event_id = None  # raised and lifted within the hour: a new one
            event_id, _ = await self.events.raise_event(tenant, spec, ACTOR)
        log.info("air: %s %s raised for %s (%s)", rule.pollutant, level, district.id, event_id)
        return await self.events.get(tenant, event_id)


def _spec(
    district: District, rule: AlertRule, level: str, dh: DistrictHour, basis: str
) -> EventSpec:
    local = datetime.fromtimestamp(dh.hour / 1e6, SEOUL).strftime("%Y-%m-%d %H시")
    name = f"{rule.name} {LEVEL_NAMES[level]}"
    return EventSpec(
        event_code=rule.code(level),
        event_name=name,
        severity=SEVERITY[level],
        category=CATEGORY,
        description=(
            f"{district.name} {name}: 시간평균 {_text(dh.value)} µg/m³ ({local}, 직전 1시간 "
            f"{_text(dh.previous)}, 측정소 {dh.stations}곳 {'평균' if basis == 'mean' else '최고'})"
        ),
        place=district.name,
        location=district.center,
        dedupe_key=alert_key(district.id, rule.pollutant, level),
        source=SOURCE,
        items=[
            {"key": "district", "val": district.id},
            {"key": "pollutant", "val": rule.pollutant},
            {"key": "level", "val": level},
            {"key": "hour", "val": iso(dh.hour)},
            {"key": "value", "val": _text(dh.value)},
            {"key": "threshold", "val": _text(rule.threshold(level))},
            {"key": "basis", "val": basis},
        ],
        related=[district.id],
        sop_template=SOP,
    )


def _reason(rule: AlertRule, old: str, new: str | None, dh: DistrictHour) -> str:
    """Why an alert in force ends (the event's status reason)."""
    value = f"{rule.name} 시간평균 {_text(dh.value)} µg/m³"
    if new == WARNING:
        return f"{value}: 경보 발령으로 주의보 대체"
    if old == WARNING and new == ADVISORY:
        return f"{value} < {_text(rule.lower)}: 경보 해제, 주의보로 하향"
    return f"{value} < {_text(rule.lift)}: {LEVEL_NAMES[old]} 해제"
