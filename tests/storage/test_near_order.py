"""`near` queries over many points page exactly like a brute-force sort by distance."""

from __future__ import annotations

import random

import httpx
import pytest

from cityhub.ngsild.geo import haversine_m

pytestmark = pytest.mark.anyio
CENTER = (126.9876, 37.4292)  # Gwacheon city hall


async def test_near_pages_match_brute_force(client: httpx.AsyncClient) -> None:
    rng = random.Random(5)
    points = {
        f"urn:ngsi-ld:Hydrant:{i}": (
            CENTER[0] + rng.uniform(-0.02, 0.02),
            CENTER[1] + rng.uniform(-0.02, 0.02),
        )
        for i in range(1500)
    }
    for start in range(0, len(points), 500):
        batch = [
            {
                "id": eid,
                "type": "FireHydrant",
                "location": {"type": "Point", "coordinates": list(p)},
            }
            for eid, p in list(points.items())[start : start + 500]
        ]
        r = await client.post("/ngsi-ld/v1/entityOperations/create", json=batch)
        assert r.status_code == 201
    expected = sorted(
        (d, eid)
        for eid, p in points.items()
        if (d := haversine_m(CENTER[0], CENTER[1], p[0], p[1])) <= 800
    )
    for offset, limit in ((0, 10), (37, 25), (len(expected) - 5, 10)):
        r = await client.get(
            "/ngsi-ld/v1/entities",
            params={
                "type": "FireHydrant",
                "georel": "near;maxDistance==800",
                "geometry": "Point",
                "coordinates": f"[{CENTER[0]},{CENTER[1]}]",
                "limit": str(limit),
                "offset": str(offset),
                "count": "true" if offset else "false",
            },
        )
        assert r.status_code == 200
        assert [e["id"] for e in r.json()] == [eid for _, eid in expected[offset : offset + limit]]
        if offset:
            assert r.headers["NGSILD-Results-Count"] == str(len(expected))
