"""Indexes stay true to the documents through every kind of write (random write sequences)."""

from __future__ import annotations

import random

import httpx
import pytest

pytestmark = pytest.mark.anyio
E = "/ngsi-ld/v1/entities"


def _entity(i: int, rng: random.Random) -> dict[str, object]:
    return {
        "id": f"urn:ngsi-ld:Spot:{i}",
        "type": rng.choice(["ParkingSpot", "OnStreetParking"]),
        "status": rng.choice(["free", "occupied"]),
        "level": rng.randrange(5),
        "location": {"type": "Point", "coordinates": [126.98 + rng.random() / 100, 37.43]},
    }


async def test_queries_agree_with_documents_after_random_writes(
    client: httpx.AsyncClient,
) -> None:
    rng = random.Random(9)
    truth: dict[str, dict[str, object]] = {}
    for i in range(60):
        e = _entity(i, rng)
        assert (await client.post(E, json=e)).status_code == 201
        truth[str(e["id"])] = e
    for _ in range(300):
        eid = rng.choice(sorted(truth))
        op = rng.randrange(5)
        if op == 0:
            level = rng.randrange(5)
            if "level" in truth[eid]:
                r = await client.patch(f"{E}/{eid}/attrs/level", json={"value": level})
            else:
                r = await client.post(f"{E}/{eid}/attrs", json={"level": level})
            truth[eid]["level"] = level
        elif op == 1:
            status = rng.choice(["free", "occupied", "closed"])
            r = await client.post(f"{E}/{eid}/attrs", json={"status": status})
            truth[eid]["status"] = status
        elif op == 2 and "level" in truth[eid]:
            r = await client.delete(f"{E}/{eid}/attrs/level")
            del truth[eid]["level"]
        elif op == 3:
            e = _entity(int(eid.rsplit(":", 1)[1]), rng)
            r = await client.put(f"{E}/{eid}", json={k: v for k, v in e.items() if k != "id"})
            truth[eid] = e
        else:
            r = await client.delete(f"{E}/{eid}")
            del truth[eid]
            e = _entity(len(truth) + 1000 + rng.randrange(10**6), rng)
            assert (await client.post(E, json=e)).status_code == 201
            truth[str(e["id"])] = e
            continue
        assert r.status_code == 204, r.text
    for q, pred in [
        ('status=="free"', lambda e: e.get("status") == "free"),
        ("level>=3", lambda e: isinstance(e.get("level"), int) and e["level"] >= 3),
        ("level==1,2", lambda e: e.get("level") in (1, 2)),
        ("!level", lambda e: "level" not in e),
        ('status=="closed"|level==0', lambda e: e.get("status") == "closed" or e.get("level") == 0),
    ]:
        r = await client.get(
            E, params={"type": "ParkingSpot,OnStreetParking", "q": q, "limit": "1000"}
        )
        assert r.status_code == 200
        assert sorted(x["id"] for x in r.json()) == sorted(i for i, e in truth.items() if pred(e))
    r = await client.get(
        E,
        params={"type": "ParkingSpot", "limit": "1000", "count": "true", "attrs": "level"},
    )
    expected = [i for i, e in truth.items() if e["type"] == "ParkingSpot" and "level" in e]
    assert r.headers["NGSILD-Results-Count"] == str(len(expected))


async def test_long_text_is_still_found_by_equality(client: httpx.AsyncClient) -> None:
    long_text = "기념물 " * 100  # longer than the value index keeps
    for i, text in enumerate([long_text, long_text + "!", "short"]):
        r = await client.post(E, json={"id": f"urn:ngsi-ld:Note:{i}", "type": "Note", "text": text})
        assert r.status_code == 201
    r = await client.get(E, params={"type": "Note", "q": f'text=="{long_text}"'})
    assert [e["id"] for e in r.json()] == ["urn:ngsi-ld:Note:0"]
    r = await client.get(E, params={"type": "Note", "q": 'text=="short"'})
    assert [e["id"] for e in r.json()] == ["urn:ngsi-ld:Note:2"]
