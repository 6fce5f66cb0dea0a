"""What the parking availability, forecast and sharing tests share: realistic places in
Gwacheon and Bucheon, entity builders, and waiting for the ``parking`` consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from starlette.applications import Starlette

from cityhub.app import create_app
from cityhub.settings import Settings

SEOUL = ZoneInfo("Asia/Seoul")
ENTITIES = "/ngsi-ld/v1/entities"
PARKING = "/cityhub/v1/parking"
GWACHEON = {"NGSILD-Tenant": "gwacheon"}
BUCHEON = {"NGSILD-Tenant": "bucheon"}

#: public lots near Gwacheon city hall: (id suffix, name, district, lon, lat, spaces)
LOTS = [
    ("jungang-1", "과천 중앙동 공영주차장", "중앙동", 126.9876, 37.4292, 12),
    ("byeolyang-2", "별양동 공영주차장", "별양동", 126.9941, 37.4262, 8),
    ("gwacheon-3", "과천동 노상주차장", "과천동", 126.9838, 37.4335, 5),
]


def prop(value: Any, observed: str | None = None) -> dict[str, Any]:
    """A Property (observed at ``observed``)."""
    out: dict[str, Any] = {"type": "Property", "value": value}
    if observed:
        out["observedAt"] = observed
    return out


def point(lon: float, lat: float) -> dict[str, Any]:
    """A location GeoProperty."""
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def lot_id(suffix: str, kind: str = "OffStreetParking") -> str:
    """A lot's entity id."""
    return f"urn:ngsi-ld:{kind}:{suffix}"


def lot(
    suffix: str, name: str, district: str, lon: float, lat: float, total: int, kind: str
) -> dict[str, Any]:
    """A lot entity as the city registers it (numbers come from its spots)."""
    return {
        "id": lot_id(suffix, kind),
        "type": kind,
        "name": prop(name),
        "areaServed": prop(district),
        "totalSpotNumber": prop(total),
        "location": point(lon, lat),
    }


def spot(
    lot: str, n: int, status: str, lon: float, lat: float, observed: str | None = None
) -> dict[str, Any]:
    """An in-ground sensor spot of a lot."""
    return {
        "id": f"urn:ngsi-ld:ParkingSpot:{lot.rsplit(':', 1)[-1]}-{n:03d}",
        "type": "ParkingSpot",
        "status": prop(status, observed),
        "category": prop(["offStreet"]),
        "refParkingSite": {"type": "Relationship", "object": lot},
        "location": point(lon + n * 0.00001, lat),
    }


def iso(moment: datetime) -> str:
    """An NGSI-LD DateTime (UTC, Z)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    """Tomorrow in Seoul at hour:minute."""
    day = datetime.now(SEOUL).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SEOUL)


async def settle(app: Starlette, *others: str) -> None:
    """Wait until the parking and temporal consumers (and ``others``) have handled every
    change so far."""
    hub = app.state.hub
    end = await hub.storage.log_end()
    for name in ("parking", "temporal", *others):
        assert await hub.feeds[name].caught_up(end), name


async def running(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """An app on ``settings`` (lifespan started) and a client for it."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as c,
    ):
        yield app, c
