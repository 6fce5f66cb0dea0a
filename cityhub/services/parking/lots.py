"""Parking lots with free spaces near a place: the one lookup parking availability, enforcement
pre-notices (the nearest lot to move to) and the dashboard share.

Lots are ``OffStreetParking`` entities (FIWARE Smart Data Models) with ``location`` and
``availableSpotNumber`` (kept current from sensors); ``totalSpotNumber`` and ``name`` when known.
"""

from __future__ import annotations

from typing import Any

from cityhub.errors import BadRequestData, NonexistentTenant
from cityhub.ngsild import geo, query
from cityhub.ngsild.filters import EntityQuery, parse_type_expr
from cityhub.ngsild.hub import Hub
from cityhub.ops.events import _value

LOT = "OffStreetParking"


async def nearest_free_lots(
    hub: Hub,
    tenant: str,
    lon: float,
    lat: float,
    *,
    min_free: int = 1,
    limit: int = 3,
    max_distance: float = 2000.0,
) -> list[dict[str, Any]]:
    """Up to ``limit`` lots within ``max_distance`` metres with at least ``min_free`` free
    spaces, nearest first: ``{"id", "name", "availableSpotNumber", "totalSpotNumber",
    "distance" (m), "location"}``."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequestData("lon/lat are out of range")
    if not 1 <= limit <= 100 or min_free < 0 or not 0 < max_distance <= 50_000:
        raise BadRequestData("limit is 1-100, min_free 0 or more, max_distance 1-50000 m")
    ctx = hub.contexts.core
    near = geo.parse_geoquery(
        f"near;maxDistance=={max_distance}", "Point", f"[{lon},{lat}]", ctx.expand("location")
    )
    found = EntityQuery(
        types=parse_type_expr(LOT, ctx),
        q=query.parse_q(f"availableSpotNumber>={min_free}", ctx.expand),
        geo=near,
        limit=1000,
    )
    try:
        lots = (await hub.entities.query(tenant, found)).entities
    except NonexistentTenant:
        return []
    ranked = []
    for lot in lots:
        loc = _value(lot, "location")
        if not isinstance(loc, dict) or loc.get("type") != "Point":
            continue  # a lot drawn as a polygon: its distance below is to its first corner
        c = loc["coordinates"]
        ranked.append(
            {
                "id": lot["id"],
                "name": _value(lot, "name"),
                "availableSpotNumber": _value(lot, "availableSpotNumber"),
                "totalSpotNumber": _value(lot, "totalSpotNumber"),
                "distance": round(geo.haversine_m(c[0], c[1], lon, lat), 1),
                "location": loc,
            }
        )
    ranked.sort(key=lambda lot: lot["distance"])
    return ranked[:limit]
