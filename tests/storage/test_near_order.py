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


async def test_entity_with_several_locations_ranks_by_its_nearest(
    client: httpx.AsyncClient,
) -> None:
    lon, lat = CENTER
    deg = 1 / 111_320  # about a metre of latitude, in degrees

    def point(metres_north: float, dataset: str | None = None) -> dict[str, object]:
        inst: dict[str, object] = {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [lon, lat + metres_north * deg]},
        }
        if dataset:
            inst["datasetId"] = dataset
        return inst

    entities = [
        {
            "id": "urn:ngsi-ld:Bus:A",
            "type": "Bus",
            "location": [point(2000, "urn:ngsi-ld:Dataset:far"), point(300)],
        },
        {"id": "urn:ngsi-ld:Bus:B", "type": "Bus", "location": point(100)},
        {"id": "urn:ngsi-ld:Bus:C", "type": "Bus", "location": point(200)},
        {"id": "urn:ngsi-ld:Bus:D", "type": "Bus", "location": point(1500)},
    ]
    r = await client.post("/ngsi-ld/v1/entityOperations/create", json=entities)
    assert r.status_code == 201
    r = await client.get(
        "/ngsi-ld/v1/entities",
        params={
            "type": "Bus",
            "georel": "near;maxDistance==1000",
            "geometry": "Point",
            "coordinates": f"[{lon},{lat}]",
            "limit": "3",
            "count": "true",
        },
    )
    assert [e["id"] for e in r.json()] == [
        "urn:ngsi-ld:Bus:B",
        "urn:ngsi-ld:Bus:C",
        "urn:ngsi-ld:Bus:A",
    ]
    assert r.headers["NGSILD-Results-Count"] == "3"
