"""Fixtures of the rules tests: hubs with situation rules wired, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cityhub.app import create_app
from cityhub.ops.rules import install
from cityhub.ops.rules import routes as rule_routes
from cityhub.ops.rules.service import RulesService
from cityhub.settings import Settings

RULES = "/cityhub/v1/rules"
EVENTS = "/cityhub/v1/events"
ENTITIES = "/ngsi-ld/v1/entities"
T0 = datetime(2026, 1, 10, 0, 0, tzinfo=UTC)


def at(**delta: float) -> str:
    """T0 moved by ``delta`` (hours=, minutes=...), as an NGSI-LD DateTime."""
    return (T0 + timedelta(**delta)).isoformat().replace("+00:00", "Z")


def moment(**delta: float) -> datetime:
    """T0 moved by ``delta``."""
    return T0 + timedelta(**delta)


@dataclass(slots=True)
class RulesHub:
    """A running app with rules, its client and its rules service."""

    app: Starlette
    client: httpx.AsyncClient
    rules: RulesService

    async def settle(self) -> None:
        """Wait until the rules consumer has handled every change so far (and done its
        actions)."""
        hub = self.app.state.hub
        end = await hub.storage.log_end()
        assert await hub.feeds["rules"].caught_up(end)

    async def add_rule(self, rule: dict[str, Any], **kw: Any) -> dict[str, Any]:
        r = await self.client.post(RULES, json=rule, **kw)
        assert r.status_code == 201, r.text
        found: dict[str, Any] = r.json()
        return found

    async def create(self, entity: dict[str, Any], **kw: Any) -> None:
        r = await self.client.post(ENTITIES, json=entity, **kw)
        assert r.status_code == 201, r.text
        await self.settle()

    async def update(self, entity_id: str, attrs: dict[str, Any], **kw: Any) -> None:
        r = await self.client.patch(f"{ENTITIES}/{entity_id}/attrs", json=attrs, **kw)
        assert r.status_code == 204, r.text
        await self.settle()

    async def events(self, state: str | None = None, **kw: Any) -> list[dict[str, Any]]:
        params = {"state": state} if state else {}
        r = await self.client.get(EVENTS, params=params, **kw)
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()
        return found

    async def check(self, now: datetime) -> int:
        """The periodic check at ``now``, then wait for what it wrote."""
        done = await self.rules.check(now)
        await self.settle()
        return done


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[RulesHub]:
    """An app with rules on ``settings``' database (wired here until create_app does)."""
    app = create_app(settings)
    hub = app.state.hub
    if "rules" not in hub.extras:
        install(hub)
        app.router.routes.extend(rule_routes.routes)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub") as c,
    ):
        yield RulesHub(app, c, hub.extras["rules"])


@pytest.fixture
async def rh(settings: Settings) -> AsyncIterator[RulesHub]:
    """A running hub with rules, on a fresh database of each backend."""
    async with running(settings) as found:
        yield found


def prop(value: Any, observed: str | None = None) -> dict[str, Any]:
    """A Property, observed at ``observed``."""
    out: dict[str, Any] = {"type": "Property", "value": value}
    if observed:
        out["observedAt"] = observed
    return out


def point(lon: float, lat: float) -> dict[str, Any]:
    """A location GeoProperty."""
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}
