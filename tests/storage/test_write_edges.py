"""Write edge cases every backend must answer cleanly: races and text a database rejects."""

from __future__ import annotations

import asyncio

import httpx
import pytest

pytestmark = pytest.mark.anyio
E = "/ngsi-ld/v1/entities"


async def test_concurrent_creates_of_one_id_give_one_201(client: httpx.AsyncClient) -> None:
    body = {"id": "urn:ngsi-ld:Camera:race", "type": "Camera", "ptz": True}
    statuses = sorted(
        r.status_code for r in await asyncio.gather(*(client.post(E, json=body) for _ in range(8)))
    )
    assert statuses == [201] + [409] * 7


async def test_nul_characters_are_stored_or_refused_never_a_500(
    client: httpx.AsyncClient,
) -> None:
    body = {"id": "urn:ngsi-ld:Note:nul", "type": "Note", "text": "a\u0000b"}
    r = await client.post(E, json=body)
    assert r.status_code in (201, 400), r.text
    got = await client.get(f"{E}/urn:ngsi-ld:Note:nul", params={"options": "keyValues"})
    if r.status_code == 201:
        assert got.json()["text"] == "a\u0000b"
    else:
        assert r.json()["type"].endswith("/BadRequestData")
        assert got.status_code == 404


async def test_concurrent_updates_of_one_entity_lose_nothing(client: httpx.AsyncClient) -> None:
    r = await client.post(E, json={"id": "urn:ngsi-ld:Lot:busy", "type": "Lot", "free": 0})
    assert r.status_code == 201
    appends = [
        client.post(f"{E}/urn:ngsi-ld:Lot:busy/attrs", json={f"sensor{i}": i}) for i in range(30)
    ]
    patches = [
        client.patch(f"{E}/urn:ngsi-ld:Lot:busy/attrs/free", json={"value": i}) for i in range(30)
    ]
    results = await asyncio.gather(*appends, *patches)
    assert {r.status_code for r in results} == {204}
    got = (await client.get(f"{E}/urn:ngsi-ld:Lot:busy", params={"options": "keyValues"})).json()
    assert {f"sensor{i}" for i in range(30)} <= set(got)
    assert got["free"] in range(30)
    r = await client.get(E, params={"type": "Lot", "q": "sensor29==29"})
    assert [e["id"] for e in r.json()] == ["urn:ngsi-ld:Lot:busy"]
