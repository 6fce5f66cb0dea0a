"""Illegal-parking enforcement (불법 주정차 단속): camera sightings of plates become cases,
pre-notices and violations, the way Gwacheon's bus-mounted two-pass enforcement works.

For each sighting (in time order within a request), in the zone it falls in
(enforcement_zones.py):

- no zone: recorded, nothing else;
- an immediate zone (hydrant, crosswalk, bus stop, corner, ...): a violation at once, no
  pre-notice unless ``parking_notice_immediate``;
- a two-sighting zone: the first sighting opens a *pending* case and sends the plate's opted-in
  phone (phones.py) a pre-notice naming the nearest lot with free spaces (lots.py); a later
  sighting of the plate in the same zone, at most ``parking_same_spot_m`` from the first and
  at least the grace period after it (``>=``: exactly the grace period is enough), confirms a
  violation: a ``ParkingViolation`` entity (the 119 route lists it as a car standing there).
  Two cameras seeing the plate at the same moment make no violation.

A case ends when the plate is seen later somewhere else (``moved``; a violation's entity
becomes ``cleared``: the car left), when it moved within the zone, or when the plate was not
seen in the zone for ``parking_case_expiry_minutes`` (``expired``, found at its next
sighting): a car that left and came back starts again. Sightings are idempotent by (plate,
camera, time): a repeat gets the first answer. Violations in the categories of
``parking_event_categories`` (fire hydrants and facilities) also raise a situation event;
the default rules and SOP templates of the service are :data:`ENFORCEMENT_RULES` and
:data:`ENFORCEMENT_SOPS`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from cityhub.errors import AlreadyExists, ConfigError, Conflict
from cityhub.ngsild import geo
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.models import now_iso
from cityhub.ops.actions import Actions, SmsGateway, sms_gateway
from cityhub.ops.events import SEOUL
from cityhub.services.parking.enforcement_defaults import ENFORCEMENT_RULES, ENFORCEMENT_SOPS
from cityhub.services.parking.enforcement_model import Sighting, iso, when
from cityhub.services.parking.enforcement_notice import Notifier
from cityhub.services.parking.enforcement_store import (
    EXPIRED,
    MOVED,
    PENDING,
    VIOLATION,
    Case,
    CaseStore,
)
from cityhub.services.parking.enforcement_violations import Violations, violation_id
from cityhub.services.parking.enforcement_zones import (
    CATEGORIES,
    MAX_RADIUS_M,
    Zone,
    ZoneFinder,
    zone_features,
)
from cityhub.services.parking.phones import PhoneRegistry
from cityhub.settings import Settings

__all__ = ["ENFORCEMENT_RULES", "ENFORCEMENT_SOPS", "Enforcement", "install_enforcement"]

log = logging.getLogger(__name__)

_LOCKS = 64  # sightings of one plate are judged one at a time in a worker
_TRIES = 5


@dataclass(slots=True)
class _Plan:
    """A judged sighting: what to write at once, and what to do after."""

    result: dict[str, Any]
    statements: list[Any] = field(default_factory=list)
    opened: Case | None = None  # a new case (its pre-notice is due)
    confirmed: Case | None = None  # a case that became a violation
    left: list[Case] = field(default_factory=list)  # violations whose car was seen leaving


class Enforcement:
    """Judging sightings (``hub.extras["parking_enforcement"]``)."""

    def __init__(self, hub: Hub, sms: SmsGateway) -> None:
        self.hub = hub
        self.settings = hub.settings
        self.zones = ZoneFinder(hub)
        self.store = CaseStore(hub.storage)
        self.phones = PhoneRegistry(hub.storage)
        self.notices = Notifier(hub, self.store, self.phones, sms)
        self.violations = Violations(hub, event_categories(hub.settings))
        self._locks = [asyncio.Lock() for _ in range(_LOCKS)]

    async def sight(self, tenant: str, sightings: list[Sighting]) -> list[dict[str, Any]]:
        """Judge sightings in time order; the answers in the order given."""
        results: list[dict[str, Any]] = [{} for _ in sightings]
        for i in sorted(range(len(sightings)), key=lambda i: sightings[i].moment):
            results[i] = await self._one(tenant, sightings[i])
        return results

    async def _one(self, tenant: str, s: Sighting) -> dict[str, Any]:
        async with self._locks[hash((tenant, s.plate)) % _LOCKS]:
            for _ in range(_TRIES):
                stored = await self.store.sighting_result(tenant, s)
                if stored is not None:
                    await self._repair(tenant, stored)
                    return stored | {"duplicate": True}
                zones = await self.zones.at(tenant, s.lon, s.lat)
                plan = await self._plan(tenant, s, zones[0] if zones else None)
                try:
                    await self.store.commit(plan.statements)
                except AlreadyExists:  # another worker changed this plate's cases
                    log.debug("sighting of %s at %s judged again", s.plate, s.at)
                    continue
                return await self._carry_out(tenant, s, plan)
        raise Conflict(f"sightings of {s.plate} keep changing its cases; send it again")

    # --- judging ---------------------------------------------------------------------------

    async def _plan(self, tenant: str, s: Sighting, zone: Zone | None) -> _Plan:
        store = self.store
        ended, current, late = await self._cases(tenant, s, zone)
        plan = _Plan({"plate": s.plate, "at": s.at, "camera": s.camera.json()})
        for old, new in ended:
            statement, _ = store.update_case(new, old)
            plan.statements.append(statement)
            if new.violation_id and new.ended_reason == "left":
                plan.left.append(new)
        plan.result["ended"] = [
            {"caseId": new.id, "status": new.status, "reason": new.ended_reason} for _, new in ended
        ]
        plan.result["zone"] = zone.json() if zone else None
        if zone is None or late:
            plan.result["outcome"] = "late" if late else "noZone"
            where = zone.id if zone else ""
            plan.statements.append(
                store.insert_sighting(tenant, s, where, "", now_iso(), plan.result)
            )
            return plan
        if current is None:
            case = self._open(tenant, s, zone)
            plan.statements.append(store.insert_case(case))
            plan.opened = case
        else:
            statement, case = store.update_case(self._advance(current, s, zone), current)
            plan.statements.append(statement)
        if case.status == VIOLATION and (current is None or current.status == PENDING):
            plan.confirmed = case
        plan.result |= _answer(case, zone, plan.confirmed is case)
        plan.statements.append(
            store.insert_sighting(tenant, s, zone.id, case.id, now_iso(), plan.result)
        )
        return plan

    async def _cases(
        self, tenant: str, s: Sighting, zone: Zone | None
    ) -> tuple[list[tuple[Case, Case]], Case | None, bool]:
        """The plate's open cases the sighting ends (each as it was and as it ends), the
        case it belongs to, and whether it is too old for the zone's open case."""
        expiry = timedelta(minutes=self.settings.parking_case_expiry_minutes)
        ended, current, late = [], None, False
        for case in await self.store.open_cases(tenant, s.plate):
            if zone is None or case.zone_id != zone.id:
                if s.at > case.last_at:  # seen elsewhere later: it left
                    reason = "left" if case.status == VIOLATION else "seenElsewhere"
                    ended.append(_ended(case, s.at, reason))
                continue  # an older sighting elsewhere says nothing about now
            if when(case.first_at) - s.moment > expiry:
                late = True  # an upload from long before the case: it may have left since
            elif s.moment - when(case.last_at) > expiry:
                ended.append(_ended(case, iso(when(case.last_at) + expiry), "expired"))
            elif case.status == PENDING and self._moved(case, s):
                ended.append(_ended(case, s.at, "movedInZone"))
            else:
                current = case
        return ended, current, late

    def _moved(self, case: Case, s: Sighting) -> bool:
        metres = geo.haversine_m(case.lon, case.lat, s.lon, s.lat)
        return metres > self.settings.parking_same_spot_m

    def _open(self, tenant: str, s: Sighting, zone: Zone) -> Case:
        stamp = s.moment.astimezone(SEOUL).strftime("%Y%m%d%H%M%S")
        case_id = f"PV{stamp}-{secrets.token_hex(4)}"
        case = Case(
            case_id, tenant, s.plate, zone.json(), PENDING, s.at, s.camera, s.lon, s.lat, s.at,
            s.camera,
        )  # fmt: skip
        if zone.immediate:
            case = _confirm(case, zone)
        return case

    def _advance(self, current: Case, s: Sighting, zone: Zone) -> Case:
        case = current
        if s.at < case.first_at:
            case = replace(case, first_at=s.at, first_camera=s.camera)
        if s.at > case.last_at:
            case = replace(case, last_at=s.at, last_camera=s.camera)
        if case.status != PENDING:
            return case  # a violation: the car is still standing there
        span = when(case.last_at) - when(case.first_at)
        if span >= timedelta(minutes=zone.grace_minutes):
            return _confirm(case, zone)
        return case

    # --- after the write ---------------------------------------------------------------

    async def _carry_out(self, tenant: str, s: Sighting, plan: _Plan) -> dict[str, Any]:
        result = plan.result
        for case in plan.left:
            await self.violations.cleared(tenant, case, s.at)
        if plan.confirmed is not None:
            await self.violations.make(tenant, plan.confirmed)
        opened = plan.opened
        if opened is not None:
            immediate = opened.status == VIOLATION
            if not immediate or self.settings.parking_notice_immediate:
                result["notice"] = await self.notices.send(tenant, opened, immediate)
            else:
                result["notice"] = await self.notices.skip(opened)
        await self.store.set_result(tenant, s, result)
        return result | {"duplicate": False}

    async def _repair(self, tenant: str, stored: dict[str, Any]) -> None:
        """A repeated sighting that confirmed a violation: make its entity if a crash lost
        it (the case was written first)."""
        if stored.get("outcome") != "violation" or not stored.get("caseId"):
            return
        case = await self.store.case(tenant, stored["caseId"])
        if case is not None and case.violation_id:
            await self.violations.make(tenant, case)


def _confirm(case: Case, zone: Zone) -> Case:
    return replace(
        case,
        status=VIOLATION,
        confirmed_at=case.last_at,
        confirm_camera=case.last_camera,
        violation_id=violation_id(case.id),
        zone=zone.json(),
    )


def _ended(case: Case, at: str, reason: str) -> tuple[Case, Case]:
    """(the case, the case ended): a pending case moved or expired, a violation stays one."""
    if case.status == PENDING:
        status = EXPIRED if reason == "expired" else MOVED
    else:
        status = case.status
    return case, replace(case, status=status, ended_at=at, ended_reason=reason)


def _answer(case: Case, zone: Zone, confirmed_now: bool) -> dict[str, Any]:
    """The answer's part about the sighting's case."""
    found: dict[str, Any] = {"caseId": case.id}
    if case.status == PENDING:
        found["outcome"] = "pending"
        grace = timedelta(minutes=zone.grace_minutes)
        found["firstSeenAt"] = case.first_at
        found["confirmableFrom"] = iso(when(case.first_at) + grace)
    else:
        found["outcome"] = "violation" if confirmed_now else "standing"
        found["violationId"] = case.violation_id
        found["fine"] = case.zone["fine"]
    return found


def event_categories(settings: Settings) -> frozenset[str]:
    """The zone categories of ``parking_event_categories`` (ConfigError for unknown ones)."""
    names = frozenset(
        filter(None, (c.strip() for c in settings.parking_event_categories.split(",")))
    )
    unknown = sorted(names - set(CATEGORIES))
    if unknown:
        raise ConfigError(
            f"parking_event_categories: unknown categories {', '.join(unknown)}; "
            f"expected some of {', '.join(CATEGORIES)}"
        )
    return names


def check_enforcement_settings(settings: Settings) -> None:
    """ConfigError for enforcement settings that cannot work."""
    s = settings
    if not s.parking_grace_minutes > 0:
        raise ConfigError("parking_grace_minutes must be more than 0")
    if not s.parking_case_expiry_minutes > s.parking_grace_minutes:
        raise ConfigError("parking_case_expiry_minutes must be longer than parking_grace_minutes")
    if not s.parking_same_spot_m > 0:
        raise ConfigError("parking_same_spot_m must be more than 0")
    if not 0 < s.parking_notice_lot_m <= 50_000:
        raise ConfigError("parking_notice_lot_m must be more than 0 and at most 50000")
    for name in (
        "parking_hydrant_m",
        "parking_bus_stop_m",
        "parking_crosswalk_m",
        "parking_corner_m",
    ):
        if not 0 < getattr(s, name) <= MAX_RADIUS_M:
            raise ConfigError(f"{name} must be more than 0 and at most {MAX_RADIUS_M:g} m")
    if s.parking_fine_krw < 0 or s.parking_fine_fire_krw < 0 or s.parking_school_factor < 1:
        raise ConfigError("parking fines must be 0 or more, parking_school_factor 1 or more")
    zone_features(s)
    event_categories(s)


def install_enforcement(hub: Hub) -> Enforcement:
    """Add enforcement to ``hub`` (after :func:`cityhub.ops.sop.install_sops`: it sends
    through the same SMS gateway and raises events through the operations center)."""
    check_enforcement_settings(hub.settings)
    actions = hub.extras.get("actions")
    sms = actions.sms if isinstance(actions, Actions) else sms_gateway(hub.settings)
    service = hub.extras["parking_enforcement"] = Enforcement(hub, sms)
    return service
