"""The generic ingest path for data sources that speak NGSI-LD: ``POST /iot/entities`` holds
entities to their data models like device measures and keeps refused ones as dead letters."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio
CITY = {"fiware-service": "seoul"}
LD = {"NGSILD-Tenant": "seoul"}


def _station(name: str, pm10: float) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:AirQualityObserved:{name}",
        "type": "AirQualityObserved",
        "pm10": {"type": "Property", "value": pm10, "unitCode": "GQ"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [126.98, 37.57]},
        },
    }


async def test_all_taken(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/iot/entities", json=[_station("Jongno", 41), _station("Jung", 38)], headers=CITY
    )
    assert r.status_code == 201, r.text
    assert sorted(r.json()) == [
        "urn:ngsi-ld:AirQualityObserved:Jongno",
        "urn:ngsi-ld:AirQualityObserved:Jung",
    ]
    # a second send updates the attributes it names, keeping the others
    r = await client.post(
        "/iot/entities",
        json=[
            {
                "id": "urn:ngsi-ld:AirQualityObserved:Jung",
                "type": "AirQualityObserved",
                "pm25": {"type": "Property", "value": 20, "unitCode": "GQ"},
            }
        ],
        headers=CITY,
    )
    assert r.status_code == 204, r.text
    got = (
        await client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:Jung", headers=LD)
    ).json()
    assert got["pm10"]["value"] == 38 and got["pm25"]["value"] == 20


async def test_refused_entities_become_dead_letters_and_replay(client: httpx.AsyncClient) -> None:
    bad = _station("Yongsan", -5)
    r = await client.post("/iot/entities", json=[_station("Jongno", 41), bad, "junk"], headers=CITY)
    assert r.status_code == 207, r.text
    errors = {e["entityId"]: e["error"] for e in r.json()["errors"]}
    assert (
        "pm10: -5 is less than the minimum of 0"
        in errors["urn:ngsi-ld:AirQualityObserved:Yongsan"]["detail"]
    )
    assert r.json()["success"] == ["urn:ngsi-ld:AirQualityObserved:Jongno"]
    letters = (await client.get("/iot/dead-letters", headers=CITY)).json()
    assert letters["count"] == 2  # the refused entity and the item that was not one
    kept = next(d for d in letters["deadLetters"] if d["device_id"] == bad["id"])
    assert kept["resource"] == "/iot/entities" and "minimum of 0" in kept["reason"]
    # nothing of the refused entity was written
    r = await client.get(f"/ngsi-ld/v1/entities/{bad['id']}", headers=LD)
    assert r.status_code == 404
    # the city accepts negative readings after all (an offset-corrected sensor): replay
    r = await client.put(
        "/cityhub/v1/models/AirQualityObserved", json={"schema": {"type": "object"}}
    )
    assert r.status_code == 204, r.text
    r = await client.post(f"/iot/dead-letters/{kept['id']}/replay", headers=CITY)
    assert r.status_code == 204, r.text
    got = (await client.get(f"/ngsi-ld/v1/entities/{bad['id']}", headers=LD)).json()
    assert got["pm10"]["value"] == -5
