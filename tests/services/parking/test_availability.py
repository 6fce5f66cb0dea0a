"""Parking availability through the public API, on both backends: three Gwacheon lots whose
numbers come from their spots' sensors (the ``parking`` consumer recounts a lot when a spot
changes, moves or goes, and a replay writes nothing), the availability and district totals,
the nearest lot with free spaces, the map layer's grades, and the service's catalog entry with
its "lot ≥ 90 % full" rule raising an event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from cityhub.settings import Settings
from tests.ngsild_api import assert_problem, entity_url
from tests.services.parking.parking_support import (
    ENTITIES,
    GWACHEON,
    LOTS,
    PARKING,
    iso,
    lot,
    lot_id,
    prop,
    running,
    settle,
    spot,
)

pytestmark = pytest.mark.anyio
JUNGANG, BYEOLYANG = lot_id("jungang-1"), lot_id("byeolyang-2")
ONSTREET = lot_id("gwacheon-3", "OnStreetParking")
CITY_HALL = (126.9877, 37.4290)
#: occupied spots per lot at the start: jungang 11 of 12, byeolyang 3 of 8, on-street 5 of 5
OCCUPIED = {"jungang-1": 11, "byeolyang-2": 3, "gwacheon-3": 5}


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """A running hub with the three lots and their spots, the consumer caught up."""
    async for app, client in running(settings):
        now = datetime.now(UTC) - timedelta(minutes=30)
        entities: list[dict[str, Any]] = []
        for suffix, name, district, lon, lat, total in LOTS:
            kind = "OnStreetParking" if suffix == "gwacheon-3" else "OffStreetParking"
            entities.append(lot(suffix, name, district, lon, lat, total, kind))
            for n in range(total):
                status = "occupied" if n < OCCUPIED[suffix] else "free"
                observed = iso(now + timedelta(minutes=n))
                entities.append(spot(lot_id(suffix, kind), n, status, lon, lat, observed))
        r = await client.post(
            "/ngsi-ld/v1/entityOperations/create", json=entities, headers=GWACHEON
        )
        assert r.status_code == 201, r.text
        await settle(app)
        yield app, client


async def _availability(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get(f"{PARKING}/availability", headers=GWACHEON)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def _lots(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {lot["id"]: lot for lot in body["lots"]}


async def _patch(
    app: Starlette, client: httpx.AsyncClient, entity_id: str, attrs: dict[str, Any]
) -> None:
    r = await client.patch(f"{entity_url(entity_id)}/attrs", json=attrs, headers=GWACHEON)
    assert r.status_code == 204, r.text
    await settle(app)


async def test_lot_numbers_follow_their_spots(hub: tuple[Starlette, httpx.AsyncClient]) -> None:
    app, client = hub
    body = await _availability(client)
    lots = _lots(body)
    assert {k: (v["total"], v["available"], v["occupied"]) for k, v in lots.items()} == {
        JUNGANG: (12, 1, 11),
        BYEOLYANG: (8, 5, 3),
        ONSTREET: (5, 0, 5),
    }
    assert lots[JUNGANG]["occupancy"] == 0.917 and lots[JUNGANG]["name"] == "과천 중앙동 공영주차장"
    assert lots[ONSTREET]["type"] == "OnStreetParking"
    assert body["total"] == {
        "lots": 3,
        "total": 25,
        "available": 6,
        "occupied": 19,
        "occupancy": 0.76,
    }
    assert [(d["district"], d["available"]) for d in body["districts"]] == [
        ("과천동", 0),
        ("별양동", 5),
        ("중앙동", 1),
    ]
    # the numbers are written on the lot entity itself, observed when the last spot changed
    r = await client.get(entity_url(JUNGANG), headers=GWACHEON)
    stored = r.json()
    assert stored["availableSpotNumber"]["value"] == 1
    assert stored["occupiedSpotNumber"]["value"] == 11
    assert stored["occupiedSpotNumber"]["observedAt"] == lots[JUNGANG]["observedAt"]

    # a car leaves jungang: its numbers move, observed when the sensor saw it
    left = iso(datetime.now(UTC))
    await _patch(
        app, client, "urn:ngsi-ld:ParkingSpot:jungang-1-003", {"status": prop("free", left)}
    )
    lots = _lots(await _availability(client))
    assert (lots[JUNGANG]["available"], lots[JUNGANG]["occupied"]) == (2, 10)
    assert lots[JUNGANG]["observedAt"] == left.replace("+00:00", "Z")
    # a closed spot counts as neither free nor occupied
    await _patch(app, client, "urn:ngsi-ld:ParkingSpot:byeolyang-2-007", {"status": prop("closed")})
    lots = _lots(await _availability(client))
    assert (lots[BYEOLYANG]["available"], lots[BYEOLYANG]["occupied"]) == (4, 3)
    # a free spot re-assigned from byeolyang to jungang: both lots are recounted
    moved = "urn:ngsi-ld:ParkingSpot:byeolyang-2-006"
    await _patch(
        app, client, moved, {"refParkingSite": {"type": "Relationship", "object": JUNGANG}}
    )
    lots = _lots(await _availability(client))
    assert (lots[JUNGANG]["available"], lots[BYEOLYANG]["available"]) == (3, 3)
    # an occupied spot removed
    r = await client.delete(entity_url("urn:ngsi-ld:ParkingSpot:jungang-1-000"), headers=GWACHEON)
    assert r.status_code == 204
    await settle(app)
    lots = _lots(await _availability(client))
    assert (lots[JUNGANG]["available"], lots[JUNGANG]["occupied"]) == (3, 9)
    # a change that is no count (a spot's battery level) writes nothing on the lot
    before = (await client.get(entity_url(JUNGANG), headers=GWACHEON)).json()
    await _patch(app, client, "urn:ngsi-ld:ParkingSpot:jungang-1-005", {"batteryLevel": prop(0.8)})
    after = (await client.get(entity_url(JUNGANG), headers=GWACHEON)).json()
    assert after == before


async def test_a_replay_counts_the_same_and_writes_nothing(
    hub: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, client = hub
    await _patch(app, client, "urn:ngsi-ld:ParkingSpot:jungang-1-000", {"status": prop("free")})
    state = await _availability(client)
    storage = app.state.hub.storage
    end = await storage.log_end()
    page = await storage.changes(0, 10_000)
    assert page.upto == end and page.changes
    # the consumer handles the whole log again, as after a crash before its cursor was stored
    assert await app.state.hub.extras["parking"].handle(page.changes, 0, end) is False
    await settle(app)
    assert await storage.log_end() == end  # no write at all
    assert await _availability(client) == state


async def test_a_spot_of_an_unknown_lot_creates_no_lot(
    hub: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, client = hub
    stray = spot(lot_id("not-registered"), 1, "occupied", 126.99, 37.43)
    r = await client.post(ENTITIES, json=stray, headers=GWACHEON)
    assert r.status_code == 201, r.text
    await settle(app)
    r = await client.get(entity_url(lot_id("not-registered")), headers=GWACHEON)
    assert_problem(r, "ResourceNotFound", 404)
    assert len((await _availability(client))["lots"]) == 3


async def test_nearest_lot_with_free_spaces(hub: tuple[Starlette, httpx.AsyncClient]) -> None:
    _, client = hub
    lon, lat = CITY_HALL

    async def nearest(**params: Any) -> list[dict[str, Any]]:
        r = await client.get(
            f"{PARKING}/lots/nearest", params={"lon": lon, "lat": lat, **params}, headers=GWACHEON
        )
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()
        return found

    found = await nearest()
    # the on-street site is not an off-street lot; both lots have a free space
    assert [f["id"] for f in found] == [JUNGANG, BYEOLYANG]
    assert found[0]["distance"] < found[1]["distance"] < 2000
    assert found[0]["availableSpotNumber"] == 1 and found[0]["totalSpotNumber"] == 12
    assert [f["id"] for f in await nearest(minFree=2)] == [BYEOLYANG]
    assert [f["id"] for f in await nearest(limit=1)] == [JUNGANG]
    assert [f["id"] for f in await nearest(maxDistance=100)] == [JUNGANG]
    assert await nearest(minFree=6) == []
    for bad in ({"lon": 200}, {"limit": 0}, {"maxDistance": -5}, {"minFree": "x"}):
        r = await client.get(
            f"{PARKING}/lots/nearest", params={"lon": lon, "lat": lat} | bad, headers=GWACHEON
        )
        assert_problem(r, "BadRequestData", 400)
    r = await client.get(f"{PARKING}/lots/nearest", params={"lon": lon}, headers=GWACHEON)
    assert_problem(r, "BadRequestData", 400)


async def test_map_layer_grades(hub: tuple[Starlette, httpx.AsyncClient]) -> None:
    _, client = hub
    r = await client.get(f"{PARKING}/layer", headers=GWACHEON)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    layer = r.json()
    assert layer["type"] == "FeatureCollection"
    by_id = {f["id"]: f for f in layer["features"]}
    assert {k: f["properties"]["grade"] for k, f in by_id.items()} == {
        JUNGANG: "busy",  # 92 % occupied
        BYEOLYANG: "free",
        ONSTREET: "full",
    }
    jungang = by_id[JUNGANG]
    assert jungang["geometry"] == {"type": "Point", "coordinates": [126.9876, 37.4292]}
    assert jungang["properties"]["available"] == 1 and jungang["properties"]["total"] == 12
    assert jungang["properties"]["occupancy"] == 0.917


async def test_an_empty_tenant_has_no_lots(hub: tuple[Starlette, httpx.AsyncClient]) -> None:
    _, client = hub
    other = {"NGSILD-Tenant": "anyang"}
    r = await client.get(f"{PARKING}/availability", headers=other)
    assert r.json() == {
        "lots": [],
        "districts": [],
        "total": {"lots": 0, "total": 0, "available": 0, "occupied": 0, "occupancy": None},
    }
    r = await client.get(f"{PARKING}/layer", headers=other)
    assert r.json() == {"type": "FeatureCollection", "features": []}
    r = await client.get(f"{PARKING}/lots/nearest", params={"lon": 127, "lat": 37.4}, headers=other)
    assert r.json() == []


async def test_catalog_rule_raises_an_event_when_a_lot_is_90_percent_full(
    hub: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, client = hub
    listed = {s["id"]: s for s in (await client.get("/cityhub/v1/services")).json()}
    parking = listed["parking"]
    assert parking["name"] == "스마트 주차"
    assert parking["rules"][0] == "parking-lot-full" and parking["sops"][0] == "parking-lot-full"
    assert f"{PARKING}/layer" in parking["layers"]
    r = await client.post("/cityhub/v1/services/parking/setup", headers=GWACHEON)
    assert r.status_code == 200, r.text
    created = r.json()["created"]
    assert {"rule:parking-lot-full", "sop:parking-lot-full"} <= set(created)
    assert len(created) == len(parking["rules"]) + len(parking["sops"])  # enforcement's too
    # jungang fills up: 12 of 12 (the rule looks at changes made once it exists)
    now = datetime.now(UTC)
    await _patch(
        app, client, "urn:ngsi-ld:ParkingSpot:jungang-1-011", {"status": prop("occupied", iso(now))}
    )
    hub_ = app.state.hub
    await settle(app, "rules")
    await hub_.extras["rules"].check(now + timedelta(minutes=6))  # held for 5 minutes
    await settle(app, "rules", "sops")
    r = await client.get("/cityhub/v1/events", params={"state": "open"}, headers=GWACHEON)
    [event] = r.json()
    assert event["eventCode"] == "PRK0009" and event["category"] == "parking"
    assert event["refRelatedEntity"] == JUNGANG
    assert event["sop"]["template"] == "parking-lot-full"
