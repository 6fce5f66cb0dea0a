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


async def test_pruning_cuts_the_hourly_rollup_at_the_same_instant(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h")
        readings = [
            ("2024-01-01T00:10:00Z", 1),
            ("2024-01-01T00:40:00Z", 2),
            ("2024-01-01T01:10:00Z", 3),
        ]
        body = {"id": SENSOR, "type": "Sensor", "t": instances(readings)}
        assert (await client.post(TEMPORAL, json=body)).status_code == 201
        cut = datetime(2024, 1, 1, 0, 30, tzinfo=UTC)
        assert await app.state.temporal.store.prune(int(cut.timestamp() * 1_000_000)) == 1
        await _hourly_after_pruning(client)


async def _hourly_after_pruning(client: httpx.AsyncClient) -> None:
    params = {
        "aggrMethods": "totalCount,min",
        "aggrPeriodDuration": "PT1H",
        "timerel": "between",
        "timeAt": "2024-01-01T00:00:00Z",
        "endTimeAt": "2024-01-01T02:00:00Z",
    }
    resp = await client.get(temporal_url(SENSOR), params=params)
    assert resp.status_code == 200, resp.text
    assert [v for v, _, _ in resp.json()["t"]["totalCount"]] == [1, 1]
    assert [v for v, _, _ in resp.json()["t"]["min"]] == [2, 3]
