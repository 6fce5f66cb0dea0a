"""GET /cityhub/v1/status: the change log's end and each consumer's backlog."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from cityhub.app import create_app
from cityhub.settings import Settings

pytestmark = pytest.mark.anyio


async def test_status_shows_each_consumer_catching_up(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h")
        body = (await c.get("/cityhub/v1/status")).json()
        assert body["name"] == "cityhub" and body["changeLog"]["end"] == 0
        assert set(body["consumers"]) == {
            "subscriptions",
            "temporal",
            "rules",
            "sops",
            "parking",
            "air",
            "care",
            "facility-grades",
            "electrical-panels",
        }

        await app.state.hub.feeds["temporal"].stop()  # history stops recording
        for n in range(3):
            lot = {"id": f"urn:ngsi-ld:Lot:{n}", "type": "Lot"}
            assert (await c.post("/ngsi-ld/v1/entities", json=lot)).status_code == 201
        for _ in range(100):
            body = (await c.get("/cityhub/v1/status")).json()
            if body["consumers"]["subscriptions"]["behind"] == 0:
                break
            await asyncio.sleep(0.02)
        assert body["changeLog"]["end"] == 3
        assert body["consumers"]["subscriptions"] == {"cursor": 3, "behind": 0}
        assert body["consumers"]["temporal"] == {"cursor": 0, "behind": 3}
