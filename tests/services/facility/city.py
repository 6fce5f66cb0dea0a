"""A running hub (auth off) for the city-service tests, with helpers that write entities and
wait until every change-log consumer (grades, panels, rules, SOPs, history) has handled them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from starlette.applications import Starlette

from cityhub.app import create_app
from cityhub.settings import Settings

ENTITIES = "/ngsi-ld/v1/entities"
EVENTS = "/cityhub/v1/events"


def prop(value: Any, observed: str | None = None, unit: str | None = None) -> dict[str, Any]:
    """A Property (observed at ``observed``, in ``unit``)."""
    out: dict[str, Any] = {"type": "Property", "value": value}
    if observed:
        out["observedAt"] = observed
    if unit:
        out["unitCode"] = unit
    return out


def point(lon: float, lat: float) -> dict[str, Any]:
    """A location GeoProperty."""
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def rel(target: str) -> dict[str, Any]:
    """A Relationship."""
    return {"type": "Relationship", "object": target}


def stamp(start: datetime, **delta: float) -> str:
    """``start`` moved by ``delta`` as an NGSI-LD DateTime."""
    return (start + timedelta(**delta)).astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class City:
    """A running app and its client."""

    app: Starlette
    client: httpx.AsyncClient

    async def settle(self) -> None:
        """Wait until every consumer has handled every change, their own writes included."""
        hub = self.app.state.hub
        while True:
            end = await hub.storage.log_end()
            for feed in hub.feeds.values():
                assert await feed.caught_up(end), feed.name
            if await hub.storage.log_end() == end:
                return

    async def create(self, *entities: dict[str, Any]) -> None:
        """Create entities (a batch) and settle."""
        r = await self.client.post("/ngsi-ld/v1/entityOperations/create", json=list(entities))
        assert r.status_code == 201, r.text
        await self.settle()

    async def update(self, entity_id: str, attrs: dict[str, Any]) -> None:
        """Update some attributes of an entity and settle."""
        r = await self.client.patch(f"{ENTITIES}/{quote(entity_id, safe=':')}/attrs", json=attrs)
        assert r.status_code == 204, r.text
        await self.settle()

    async def entity(self, entity_id: str) -> dict[str, Any]:
        """An entity in keyValues form."""
        r = await self.client.get(
            f"{ENTITIES}/{quote(entity_id, safe=':')}", params={"options": "keyValues"}
        )
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found

    async def events(self, **params: str) -> list[dict[str, Any]]:
        """Situation events, newest first."""
        r = await self.client.get(EVENTS, params=params)
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()
        return found

    async def get(self, path: str, **params: str) -> Any:
        """GET a service API path, expecting 200; the JSON body."""
        r = await self.client.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()


@contextlib.asynccontextmanager
async def city(settings: Settings) -> AsyncIterator[City]:
    """A hub on ``settings``, started, with an ASGI client."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as c,
    ):
        yield City(app, c)
