"""Fixtures of the temporal API tests: a sensor with a known history, a small page size."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from cityhub.app import create_app
from cityhub.settings import Settings

TEMPORAL = "/ngsi-ld/v1/temporal/entities"
SENSOR = "urn:ngsi-ld:Sensor:1"
# (observedAt, temperature): hand-picked so every aggregate is easy to compute by hand
READINGS = [
    ("2024-01-01T00:00:00Z", 1),
    ("2024-01-01T00:20:00Z", 2),
    ("2024-01-01T00:40:00Z", 6),
    ("2024-01-01T01:10:00Z", 4),
    ("2024-01-01T01:50:00Z", 4),
    ("2024-01-01T03:00:00Z", 10),
]


def temporal_url(entity_id: str) -> str:
    """The URL of one entity's temporal representation."""
    return f"{TEMPORAL}/{quote(entity_id, safe=':')}"


def instances(readings: list[tuple[str, Any]], **extra: Any) -> list[dict[str, Any]]:
    """Property instances, one per (observedAt, value)."""
    return [{"type": "Property", "value": v, "observedAt": t, **extra} for t, v in readings]


@pytest.fixture
async def sensor(client: httpx.AsyncClient) -> dict[str, Any]:
    """A temporal entity created through POST /temporal/entities with READINGS as its
    temperature history and three status strings."""
    payload = {
        "id": SENSOR,
        "type": "Sensor",
        "temperature": instances(READINGS),
        "status": instances(
            [
                ("2024-01-01T00:05:00Z", "ok"),
                ("2024-01-01T00:15:00Z", "alarm"),
                ("2024-01-01T00:25:00Z", "ok"),
            ]
        ),
    }
    resp = await client.post(TEMPORAL, json=payload)
    assert resp.status_code == 201, resp.text
    return payload


@pytest.fixture
async def small_page_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app answering at most 3 instances per attribute per response."""
    app = create_app(dataclasses.replace(settings, temporal_max_instances=3))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
            yield c
