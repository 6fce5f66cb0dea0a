"""Two workers on one database, on both backends, judging sightings of the same plates at the
same moment: one case per plate and zone, one violation, a sighting sent to both recorded
once (the case and sighting tables decide, not a worker's lock); and enforcement settings
that cannot work stop the start."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cityhub.app import create_app
from cityhub.errors import ConfigError
from cityhub.settings import Settings
from tests.services.parking.test_enforcement import IN_A, E, T, city, seen

PLATES = [f"{10 + i}가{1000 + i}" for i in range(12)]


@contextlib.asynccontextmanager
async def _worker(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            yield client


async def _post(client: httpx.AsyncClient, body: Any) -> dict[str, Any]:
    r = await client.post(f"{E}/sightings", json=body, headers=T)
    assert r.status_code in (200, 201), r.text
    found: dict[str, Any] = r.json()
    return found


@pytest.mark.anyio
async def test_two_workers_judge_one_plate_once(settings: Settings) -> None:
    async with _worker(settings) as one:
        r = await one.post("/ngsi-ld/v1/entityOperations/upsert", json=city(), headers=T)
        assert r.status_code == 201, r.text
        async with _worker(settings) as two:  # started after: it knows the tenant
            await _judge(one, two)


async def _judge(one: httpx.AsyncClient, two: httpx.AsyncClient) -> None:
    """Sightings of the same plates at once through both workers."""
    # the leading bus reaches worker one, a pole camera worker two, at the same moment
    firsts = await asyncio.gather(
        *(_post(one, seen(p, "10:00:00", IN_A, "bus-0412")) for p in PLATES),
        *(_post(two, seen(p, "10:00:00", IN_A, "cctv-031")) for p in PLATES),
    )
    for i in range(len(PLATES)):
        a, b = firsts[i], firsts[i + len(PLATES)]
        assert a["outcome"] == b["outcome"] == "pending"
        assert a["caseId"] == b["caseId"]
    # the following bus sends each confirming sighting to both workers (a retry)
    confirms = await asyncio.gather(
        *(_post(w, seen(p, "10:05:00", IN_A, "bus-0415")) for p in PLATES for w in (one, two))
    )
    assert sorted(c["duplicate"] for c in confirms) == [False] * 12 + [True] * 12
    assert {c["outcome"] for c in confirms} == {"violation"}
    r = await one.get(
        "/ngsi-ld/v1/entities",
        params={"type": "ParkingViolation", "limit": 100, "count": "true"},
        headers=T,
    )
    assert r.headers["NGSILD-Results-Count"] == "12"
    cases = (await two.get(f"{E}/cases", headers=T)).json()
    assert len(cases) == 12 and {c["status"] for c in cases} == {"violation"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"parking_case_expiry_minutes": 5.0}, "must be longer than parking_grace_minutes"),
        ({"parking_grace_minutes": 0.0}, "parking_grace_minutes must be more than 0"),
        ({"parking_hydrant_m": 500.0}, "parking_hydrant_m must be more than 0 and at most 100"),
        ({"parking_zone_features": "FireHydrant"}, "'FireHydrant' is not Type=category"),
        ({"parking_zone_features": "Tree=shade"}, "'Tree=shade' is not Type=category"),
        ({"parking_event_categories": "hydrant,river"}, "unknown categories river"),
        ({"parking_school_factor": 0.5}, "parking_school_factor 1 or more"),
    ],
)
def test_settings_that_cannot_work_stop_the_start(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    settings = dataclasses.replace(Settings(data_dir=str(tmp_path), auth="off"), **changes)
    with pytest.raises(ConfigError, match=message):
        create_app(settings)
