"""The parking service in a hub: :func:`install_parking` and its catalog entry.

``install_parking(hub)`` puts a :class:`ParkingService` in ``hub.extras["parking"]`` and
registers the durable change-log consumer ``parking``: for every spot change it checks shared
bookings in or out (sharing.py), then recounts the lots the batch touched (occupancy.py). Its
writes are not in the cursor's transaction, so it returns False (the feed stores the cursor);
both steps are idempotent, so a replay after a crash changes nothing.

The catalog entry (``SERVICE``) ships the default rule "lot ≥ 90 % full" and the SOP its
events start with, and enforcement's rules and SOPs (enforcement_defaults.py);
``POST /cityhub/v1/services/parking/setup`` installs them in a tenant.
"""

from __future__ import annotations

import logging
from typing import Any

from cityhub.bus import Change
from cityhub.bus.feed import ChangeFeed
from cityhub.errors import NgsiError
from cityhub.ngsild.hub import Hub
from cityhub.services.catalog import Service, register
from cityhub.services.parking.enforcement_defaults import ENFORCEMENT_RULES, ENFORCEMENT_SOPS
from cityhub.services.parking.flood_defaults import FLOOD_RULES, FLOOD_SOPS
from cityhub.services.parking.occupancy import recount, touched_lots
from cityhub.services.parking.sharing import SharingService

log = logging.getLogger(__name__)

CONSUMER = "parking"


class ParkingService:
    """What the parking routes and the ``parking`` consumer share."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.sharing = SharingService(hub)
        self.feed: ChangeFeed | None = None

    async def handle(self, changes: list[Change], old: int, new: int) -> bool:
        """The ``parking`` consumer: check-in/out in log order, then one recount per lot."""
        lots: dict[tuple[str, str], None] = {}
        for change in changes:
            for lot in touched_lots(change):
                lots[(change.tenant, lot)] = None
            try:
                await self.sharing.on_change(change)
            except NgsiError as err:  # the data, not the hub: skip it, do not stall the feed
                log.warning("parking: check-in/out of %s failed: %s", change.entity_id, err)
        for tenant, lot in lots:
            try:
                await recount(self.hub, tenant, lot)
            except NgsiError as err:  # e.g. the lot's data model refuses the numbers
                log.warning("parking: recounting lot %s failed: %s", lot, err)
        return False


def install_parking(hub: Hub) -> ParkingService:
    """Add parking to ``hub``: its service and the ``parking`` consumer (again: nothing)."""
    found = hub.extras.get("parking")
    if isinstance(found, ParkingService):
        return found
    service = hub.extras["parking"] = ParkingService(hub)
    service.feed = hub.feed(CONSUMER, service.handle)
    return service


LOT_FULL: dict[str, Any] = {
    "id": "parking-lot-full",
    "name": "주차장 만차 임박 (90 % 이상)",
    "description": "An off-street lot with 90 % or more of its spaces occupied; cleared below.",
    "kind": "threshold",
    "entityType": "OffStreetParking",
    "compare": {
        "attribute": "occupiedSpotNumber",
        "op": ">=",
        "than": "totalSpotNumber",
        "factor": 0.9,
    },
    "for": "PT5M",
    "event": {
        "eventCode": "PRK0009",
        "eventName": "주차장 만차 임박",
        "severity": "low",
        "category": "parking",
    },
    "actions": [{"kind": "sop", "template": "parking-lot-full"}],
}

LOT_FULL_SOP: dict[str, Any] = {
    "id": "parking-lot-full",
    "name": "주차장 만차 대응",
    "description": "A lot is nearly full: guide drivers to lots with free spaces.",
    "match": {"eventCodes": ["PRK0009"]},
    "steps": [
        {
            "id": "notify-traffic",
            "title": "교통 부서에 만차 임박 통보",
            "role": "system",
            "dueMinutes": 1,
            "auto": {
                "kind": "notify",
                "agency": "traffic",
                "text": "[주차] {eventName} - {place} ({time})",
            },
        },
        {
            "id": "guide-signs",
            "title": "주차 안내 전광판에 인근 여유 주차장 안내",
            "role": "operator",
            "dueMinutes": 10,
        },
        {
            "id": "close-report",
            "title": "해소 확인 및 결과 기록",
            "role": "operator",
            "dueMinutes": 240,
        },
    ],
}

SERVICE = register(
    Service(
        id="parking",
        name="스마트 주차",
        title="Smart parking",
        description=(
            "Lots and spots with occupancy from sensors, the nearest lot with free spaces, "
            "occupancy forecasts, shared parking with bookings, illegal-parking "
            "enforcement, and riverside lots cleared when the river rises."
        ),
        rules=(LOT_FULL, *ENFORCEMENT_RULES, *FLOOD_RULES),
        sops=(LOT_FULL_SOP, *ENFORCEMENT_SOPS, *FLOOD_SOPS),
        models=(
            "OffStreetParking",
            "OnStreetParking",
            "ParkingSpot",
            "EnforcementZone",
            "ParkingViolation",
            "FloodMonitoring",
        ),
        layers=("/cityhub/v1/parking/layer",),
    )
)
