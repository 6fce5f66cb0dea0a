"""The care map layer (GeoJSON) for the operations center's map.

Privacy first: enrolled households are shown only as coarse points (coordinates rounded to
``COARSE_DECIMALS`` decimals, about 100 m) without their code, so the layer does not say who
lives where; what is exact is what the center must act on: households with an open alert,
missing persons being searched for, and walks with an open alert (at the last position). Walks
without an alert are not on the map.
"""

from __future__ import annotations

from typing import Any

from cityhub.services.care.clock import shown
from cityhub.services.care.common import geojson_point
from cityhub.services.care.service import CareService

COARSE_DECIMALS = 3  # 0.001° ≈ 111 m north-south, ≈ 88 m east-west in Korea


def _feature(at: tuple[float, float], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geojson_point(at), "properties": properties}


async def layer(care: CareService, tenant: str) -> dict[str, Any]:
    """The tenant's care layer as a FeatureCollection."""
    features: list[dict[str, Any]] = []
    homes = {h.id: h for h in await care.households.store.households(tenant)}
    alerts = await care.households.store.alerts(tenant, open_only=True)
    alerted = {a.household for a in alerts}
    for home in homes.values():
        if home.lon is None or home.lat is None:
            continue
        coarse = (round(home.lon, COARSE_DECIMALS), round(home.lat, COARSE_DECIMALS))
        status = "alert" if home.id in alerted else "ok"
        features.append(_feature(coarse, {"layer": "household", "status": status}))
    for alert in alerts:
        found = homes.get(alert.household)
        if found is None or found.lon is None or found.lat is None:
            continue
        properties: dict[str, Any] = {
            "layer": "householdAlert",
            "kind": alert.kind,
            "householdCode": found.code,
            "since": shown(alert.episode),
            "eventId": alert.event_id,
            "requestId": alert.request_id,
        }
        features.append(_feature((found.lon, found.lat), properties))
    for case in await care.missing.cases(tenant, None, limit=1000):
        if case.status == "searching":
            properties = {
                "layer": "missing",
                "kind": case.kind,
                "accuracy": case.accuracy,
                "locatedAt": shown(case.located_at),
                "eventId": case.event_id,
                "caseId": case.id,
            }
            features.append(_feature((case.lon, case.lat), properties))
    for walk in await care.walks.walks(tenant, None, "active", limit=1000):
        raised = {k: v for k, v in walk.json()["alerts"].items() if v}
        if raised:
            properties = {"layer": "walk", "walkId": walk.id, "alerts": raised}
            features.append(_feature(walk.last or walk.start, properties))
    return {"type": "FeatureCollection", "features": features}
