"""Retention: instances older than temporal_retention_days are pruned in the background."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from cityhub.app import create_app
from cityhub.settings import Settings
from cityhub.temporal.service import retention_loop
from tests.temporal.conftest import SENSOR, TEMPORAL, instances, temporal_url

pytestmark = pytest.mark.anyio


async def test_old_instances_are_pruned_recent_ones_kept(settings: Settings) -> None:
    app = create_app(dataclasses.replace(settings, temporal_retention_days=30))
    assert len(app.state.hub.tasks) >= 1  # the retention job is registered
    recent = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h")
        readings = [("2020-01-01T00:00:00Z", 1), ("2020-06-01T00:00:00Z", 2), (recent, 3)]
        resp = await client.post(
            TEMPORAL, json={"id": SENSOR, "type": "Sensor", "t": instances(readings)}
        )
        assert resp.status_code == 201

        job = asyncio.create_task(retention_loop(app.state.temporal.store, 30, every_s=0.01))
        try:
            for _ in range(200):
                body = (await client.get(temporal_url(SENSOR))).json()
                if len(body["t"]) == 1:
                    break
                await asyncio.sleep(0.01)
        finally:
            job.cancel()
        assert [i["value"] for i in body["t"]] == [3]
