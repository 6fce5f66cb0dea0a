"""Violations as city data: the ``ParkingViolation`` entity of a confirmed case (the plate
masked: every reader of the tenant sees it; the 119 dispatch route lists the standing ones),
``cleared`` when the car is seen leaving, and a situation event for the zone categories of
``parking_event_categories`` (fire hydrants and facilities by default)."""

from __future__ import annotations

import logging
from typing import Any

from cityhub.errors import AlreadyExists, NgsiError
from cityhub.ngsild import merge, models
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.models import now_iso
from cityhub.ngsild.service import existing
from cityhub.ops.events import EventService, EventSpec, _value
from cityhub.services.parking.enforcement_defaults import EVENT_FIRE, EVENT_OTHER
from cityhub.services.parking.enforcement_model import mask_plate
from cityhub.services.parking.enforcement_store import Case
from cityhub.services.parking.enforcement_zones import FIRE
from cityhub.storage.base import Mutation

log = logging.getLogger(__name__)

VIOLATION_TYPE = "ParkingViolation"
ACTOR = "parking-enforcement"


def violation_id(case_id: str) -> str:
    """The ParkingViolation entity of a case."""
    return f"urn:ngsi-ld:{VIOLATION_TYPE}:{case_id}"


def _prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


class Violations:
    """Writes the violation entities and their events."""

    def __init__(self, hub: Hub, event_categories: frozenset[str]) -> None:
        self.hub = hub
        self.event_categories = event_categories

    async def make(self, tenant: str, case: Case) -> None:
        """The ParkingViolation entity of a confirmed case, and its event where due (nothing
        when it was made before)."""
        zone = case.zone
        cameras = [case.first_camera.json()]
        if case.confirm_camera and case.confirm_camera != case.first_camera:
            cameras.append(case.confirm_camera.json())
        payload: dict[str, Any] = {
            "id": violation_id(case.id),
            "type": VIOLATION_TYPE,
            "status": _prop("confirmed"),
            "maskedPlate": _prop(mask_plate(case.plate)),
            "caseId": _prop(case.id),
            "refEnforcementZone": {"type": "Relationship", "object": zone["id"]},
            "zoneName": _prop(zone["name"]),
            "zoneCategory": _prop(zone["category"]),
            "zoneType": _prop(zone["type"]),
            "firstSeenAt": _prop(case.first_at),
            "confirmedAt": _prop(case.confirmed_at),
            "dateObserved": _prop(case.confirmed_at),
            "cameras": _prop(cameras),
            "fineAmount": {"type": "Property", "value": zone["fine"], "unitCode": "KRW"},
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [case.lon, case.lat]},
            },
        }
        if zone["type"] == "normal":
            payload["graceMinutes"] = _prop(zone["graceMinutes"])
        try:
            parsed = models.parse_entity(payload, self.hub.contexts.core)
            await self.hub.entities.create(tenant, parsed)
        except AlreadyExists:
            return  # made before (a repeat): its event too
        if zone["category"] in self.event_categories:
            await self._event(tenant, case)

    async def _event(self, tenant: str, case: Case) -> None:
        zone = case.zone
        place = str(zone["name"])
        fire = zone["category"] in FIRE
        code, name = EVENT_FIRE if fire else EVENT_OTHER
        spec = EventSpec(
            code,
            name,
            severity="low",
            category="traffic",
            description=f"{mask_plate(case.plate)} {place}: 과태료 {zone['fine']:,}원",
            place=place,
            location=(case.lon, case.lat),
            dedupe_key=f"parking:{violation_id(case.id)}",
            source=ACTOR,
            related=[violation_id(case.id)],
        )
        events: EventService = self.hub.extras["events"]
        try:
            await events.raise_event(tenant, spec, ACTOR)
        except NgsiError:  # the violation stands without its event
            log.exception("no event for parking violation %s", case.id)

    async def cleared(self, tenant: str, case: Case, at: str) -> None:
        """A violation's car was seen elsewhere: ``cleared`` unless people moved it on."""
        assert case.violation_id is not None
        ctx = self.hub.contexts.core
        attrs = models.parse_attributes(
            {"status": _prop("cleared"), "vehicleLeftAt": _prop(at)}, ctx
        )

        def clear(current: Entity) -> Entity:
            if _value(current, "status") != "confirmed":
                return current  # towed, paid, cancelled: theirs stands
            return merge.upsert_attrs(current, attrs, now_iso())

        result = await self.hub.entities.batch(
            tenant, [Mutation(case.violation_id, existing(case.violation_id, clear))]
        )
        if result.errors:
            log.warning("violation %s not cleared: %s", case.violation_id, result.errors[0][1])
