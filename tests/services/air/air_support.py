"""What the air tests share: a running hub, districts and stations in Gwacheon, hourly
measures stamped with observedAt, and waiting for the consumers (history, air, SOPs)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from starlette.applications import Starlette

from cityhub.app import create_app
from cityhub.settings import Settings

ENTITIES = "/ngsi-ld/v1/entities"
AIR = "/cityhub/v1/air"
EVENTS = "/cityhub/v1/events"
T = {"NGSILD-Tenant": "gwacheon"}
T0 = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)  # 09:00 in Seoul

#: two neighbouring districts, as squares: (id suffix, name, west, south)
JUNGANG = ("jungang", "중앙동", 126.980, 37.420)
BYEOLYANG = ("byeolyang", "별양동", 126.990, 37.420)


def at(hours: float) -> str:
    """T0 plus ``hours``, as an NGSI-LD DateTime."""
    return (T0 + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def district_id(suffix: str) -> str:
    """A district's entity id."""
    return f"urn:ngsi-ld:District:{suffix}"


def station_id(suffix: str) -> str:
    """A station's entity id."""
    return f"urn:ngsi-ld:AirQualityObserved:{suffix}"


def district(suffix: str, name: str, west: float, south: float) -> dict[str, Any]:
    """A District: a 0.01° square from its south-west corner."""
    ring = [[west, south], [west + 0.01, south], [west + 0.01, south + 0.01]]
    ring += [[west, south + 0.01], [west, south]]
    return {
        "id": district_id(suffix),
        "type": "District",
        "name": {"type": "Property", "value": name},
        "location": {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": [ring]}},
    }


def station(suffix: str, lon: float, lat: float, **attrs: Any) -> dict[str, Any]:
    """An AirQualityObserved station at a place (``attrs``: more attributes as given)."""
    return {
        "id": station_id(suffix),
        "type": "AirQualityObserved",
        "name": {"type": "Property", "value": f"{suffix} 도시대기측정소"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
        **attrs,
    }


def measure(value: float, hour: float, unit: str = "GQ") -> dict[str, Any]:
    """A pollutant Property observed at T0 + ``hour``."""
    return {"type": "Property", "value": value, "unitCode": unit, "observedAt": at(hour)}


@dataclass(slots=True)
class AirHub:
    """A running app, its client in the Gwacheon tenant, and waiting for its consumers."""

    app: Starlette
    client: httpx.AsyncClient

    async def settle(self) -> None:
        """Wait until history, the air consumer and SOPs have handled every change, including
        the ones they made themselves."""
        hub = self.app.state.hub
        while True:
            end = await hub.storage.log_end()
            for name in ("temporal", "air", "sops"):
                assert await hub.feeds[name].caught_up(end), name
            if await hub.storage.log_end() == end:
                return

    async def create(self, *entities: dict[str, Any]) -> None:
        for entity in entities:
            r = await self.client.post(ENTITIES, json=entity, headers=T)
            assert r.status_code == 201, r.text
        await self.settle()

    async def send(self, suffix: str, hour: float, **values: float) -> None:
        """Measures of one station at T0 + ``hour`` (pm10=..., o3_ppm=... for ppm)."""
        attrs = {}
        for name, value in values.items():
            pollutant, _, unit = name.partition("_")
            attrs[pollutant] = measure(value, hour, "59" if unit == "ppm" else "GQ")
        r = await self.client.patch(f"{ENTITIES}/{station_id(suffix)}/attrs", json=attrs, headers=T)
        assert r.status_code == 204, r.text
        await self.settle()

    async def send_hour(self, hour: float, pollutant: str, values: dict[str, float]) -> None:
        """One pollutant of several stations (suffix → value) in one batch: the air consumer
        sees the whole hour at once."""
        body = [
            {"id": station_id(s), "type": "AirQualityObserved", pollutant: measure(v, hour)}
            for s, v in values.items()
        ]
        r = await self.client.post("/ngsi-ld/v1/entityOperations/update", json=body, headers=T)
        assert r.status_code == 204, r.text
        await self.settle()

    async def get(self, path: str, **params: str) -> Any:
        r = await self.client.get(f"{AIR}/{path}", params=params, headers=T)
        assert r.status_code == 200, r.text
        return r.json()

    async def events(self, state: str = "open") -> list[dict[str, Any]]:
        r = await self.client.get(EVENTS, params={"state": state}, headers=T)
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()
        return found


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[AirHub]:
    """An app on ``settings``' database, serving over ASGI."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as c,
    ):
        yield AirHub(app, c)
