"""Fixtures of the care tests: a hub with auth on (both backends) holding the small city of the
linked-service tests, the center's and agencies' accounts and a citizen, whose care service
the tests drive with the time they want."""

from __future__ import annotations

import dataclasses
import io
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cityhub.app import create_app
from cityhub.services.care.service import CareService
from cityhub.settings import Settings
from tests.auth.test_access import Hub
from tests.ops.test_linked import SCENE, city

T = {"NGSILD-Tenant": "gwacheon"}
E = "/ngsi-ld/v1/entities"
HOME = "urn:ngsi-ld:CareHousehold:gc-0017"
HOME_AT = (SCENE[0] + 0.0001, SCENE[1] + 0.0001)  # ~14 m from the scene: cameras C-1, C-2


@dataclasses.dataclass
class CareHub(Hub):
    """A hub with auth on, its app and the accounts the care tests use."""

    app: Starlette
    users: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    @property
    def care(self) -> CareService:
        found: CareService = self.app.state.hub.extras["care"]
        return found

    def h(self, who: str) -> dict[str, str]:
        """The headers of an account in tenant gwacheon."""
        return self.users[who] | T

    async def settle(self) -> None:
        """Wait until the care consumer and the SOPs have handled every change so far."""
        hub = self.app.state.hub
        end = await hub.storage.log_end()
        for name in ("care", "sops"):
            assert await hub.feeds[name].caught_up(end), name

    async def check(self, now: datetime) -> int:
        """The periodic check at ``now``; then wait for what it wrote."""
        done = await self.care.check(now)
        await self.settle()
        return done

    async def upsert(self, *entities: dict[str, Any]) -> None:
        r = await self.client.post(
            "/ngsi-ld/v1/entityOperations/upsert", json=list(entities), headers=self.h("admin")
        )
        assert r.status_code in (201, 204), r.text
        await self.settle()

    async def reading(self, sensor: str, **attrs: Any) -> None:
        """A sensor's measures: name=(value, observedAt)."""
        body = {
            name: {"type": "Property", "value": value, "observedAt": iso(at)}
            for name, (value, at) in attrs.items()
        }
        r = await self.client.patch(f"{E}/{sensor}/attrs", json=body, headers=self.h("admin"))
        assert r.status_code == 204, r.text
        await self.settle()

    async def get(self, path: str, who: str = "operator", **params: Any) -> Any:
        r = await self.client.get(path, params=params, headers=self.h(who))
        assert r.status_code == 200, r.text
        return r.json()


def iso(moment: datetime) -> str:
    """An NGSI-LD DateTime."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def household(
    entity_id: str = HOME, code: str = "GC-0017", at: tuple[float, float] = HOME_AT, **more: Any
) -> dict[str, Any]:
    """A CareHousehold entity."""
    entity: dict[str, Any] = {
        "id": entity_id,
        "type": "CareHousehold",
        "householdCode": {"type": "Property", "value": code},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": list(at)}},
        "address": {
            "type": "Property",
            "value": {"streetAddress": "별양로 12", "addressLocality": "과천시"},
        },
    }
    for name, value in more.items():
        entity[name] = {"type": "Property", "value": value}
    return entity


def sensor(name: str, home: str = HOME, link: str = "refHousehold", **more: Any) -> dict[str, Any]:
    """A Device naming its household."""
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:Device:{name}",
        "type": "Device",
        "category": {"type": "Property", "value": ["sensor"]},
        link: {"type": "Relationship", "object": home},
    }
    for key, value in more.items():
        entity[key] = {"type": "Property", "value": value}
    return entity


def minute_now() -> datetime:
    """The current time to the minute (the tests' T0)."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def later(t0: datetime, **delta: float) -> datetime:
    """``t0`` moved by ``delta``."""
    return t0 + timedelta(**delta)


@pytest.fixture
async def center(settings: Settings) -> AsyncIterator[CareHub]:
    """A hub (auth on) holding the small city, with an operator, the police and fire agency
    accounts, two citizens and the administrator in tenant gwacheon."""
    app = create_app(dataclasses.replace(settings, auth="on"))
    console, sys.stderr = sys.stderr, io.StringIO()
    try:
        async with app.router.lifespan_context(app):
            printed = sys.stderr.getvalue()
            sys.stderr = console
            found = re.search(r"password: (\S+)", printed)
            assert found, printed
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
                hub = CareHub(client, found.group(1), app)
                admin = await hub.login("admin", hub.admin_password)
                hub.users["admin"] = admin
                for who, name, role in (
                    ("operator", "op-gc", "operator"),
                    ("police", "police112", "agency"),
                    ("fire", "fire119", "agency"),
                    ("kim", "kim", "citizen"),
                    ("lee", "lee", "citizen"),
                ):
                    hub.users[who] = await hub.user(name, {"role": role, "tenant": "gwacheon"})
                await hub.upsert(*city())
                yield hub
    finally:
        sys.stderr = console
