"""What the care service's parts share: checking API input (BadRequestData naming the member),
writing a few attributes of an event, and the audit entries of shares the service makes."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from cityhub.errors import AlreadyExists, BadRequestData, Conflict
from cityhub.ngsild import models
from cityhub.ngsild.batch import upsert_mutation
from cityhub.ngsild.hub import Hub
from cityhub.services.care.clock import parse_time
from cityhub.storage.plain import PlainSql, Statement

ACTOR = "care"  # who the service acts as in events and the audit log
LonLat = tuple[float, float]


def body_object(body: Any, what: str) -> dict[str, Any]:
    """The body as a JSON object."""
    if not isinstance(body, dict):
        raise BadRequestData(f"{what} is a JSON object")
    return body


def number(value: Any) -> bool:
    """A JSON number (not a boolean, not NaN or infinite)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def point(body: dict[str, Any], name: str, *, required: bool = True) -> LonLat | None:
    """A GeoJSON Point member as (lon, lat)."""
    value = body.get(name)
    if value is None and not required:
        return None
    if (
        not isinstance(value, dict)
        or value.get("type") != "Point"
        or not isinstance(value.get("coordinates"), list)
        or len(value["coordinates"]) not in (2, 3)
        or not all(number(c) for c in value["coordinates"])
    ):
        raise BadRequestData(f"{name} must be a GeoJSON Point [longitude, latitude]")
    lon, lat = (float(c) for c in value["coordinates"][:2])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequestData(f"{name} coordinates are out of range")
    return lon, lat


def line(body: dict[str, Any], name: str, *, most: int = 2000) -> list[LonLat] | None:
    """An optional GeoJSON LineString member as its positions."""
    value = body.get(name)
    if value is None:
        return None
    coords = value.get("coordinates") if isinstance(value, dict) else None
    if (
        not isinstance(value, dict)
        or value.get("type") != "LineString"
        or not isinstance(coords, list)
        or not 2 <= len(coords) <= most
        or not all(
            isinstance(c, list) and len(c) in (2, 3) and all(number(x) for x in c) for c in coords
        )
    ):
        raise BadRequestData(
            f"{name} must be a GeoJSON LineString of 2-{most} [longitude, latitude] positions"
        )
    found = [(float(c[0]), float(c[1])) for c in coords]
    if not all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in found):
        raise BadRequestData(f"{name} coordinates are out of range")
    return found


def text(body: dict[str, Any], name: str, most: int, *, required: bool = False) -> str:
    """A text member ('' when absent and not required)."""
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > most or (required and not value.strip()):
        need = "a non-empty text" if required else "a text"
        raise BadRequestData(f"{name} must be {need} of at most {most} characters")
    return value


def moment(body: dict[str, Any], name: str, *, required: bool = False) -> datetime | None:
    """A date-time member with a time zone."""
    value = body.get(name)
    if value is None and not required:
        return None
    found = parse_time(value)
    if found is None:
        raise BadRequestData(f"{name} must be an ISO 8601 date-time with a time zone (Z or +09:00)")
    return found


def metres(body: dict[str, Any], name: str, most: float) -> float | None:
    """An optional distance in metres, more than 0 and at most ``most``."""
    value = body.get(name)
    if value is None:
        return None
    if not number(value) or not 0 < value <= most:
        raise BadRequestData(f"{name} must be a number of metres, more than 0 and at most {most:g}")
    return float(value)


def geojson_point(at: LonLat) -> dict[str, Any]:
    """A GeoJSON Point."""
    return {"type": "Point", "coordinates": [at[0], at[1]]}


async def patch_event(hub: Hub, tenant: str, event_id: str, attrs: dict[str, Any]) -> None:
    """Write some attributes of a CityEvent (through the entity service: history, live feed)."""
    payload = {"id": event_id, "type": "CityEvent"} | attrs
    entity = models.parse_entity(payload, hub.contexts.core)
    result = await hub.entities.batch(tenant, [upsert_mutation(entity, update=True)])
    if result.errors:
        raise result.errors[0][1]


def grant_detail(grant: dict[str, Any], event_id: str, request_id: str) -> dict[str, Any]:
    """The audit detail of a camera share (as the linked-service API records it)."""
    return {
        "event": event_id,
        "agency": grant["agency"],
        "purpose": grant["purpose"],
        "expires": grant["expiresAt"],
        "grant": grant["id"],
        "request": request_id,
    }


async def change_once(db: PlainSql, statements: list[Statement], conflict: str) -> None:
    """Run statements that must each change a row (Conflict saying ``conflict`` otherwise,
    with nothing changed): a state moved on by someone else meanwhile."""
    try:
        await db.run(statements, conflict=conflict)
    except AlreadyExists as err:
        raise Conflict(conflict) from err
