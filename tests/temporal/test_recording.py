"""The recorder: entity writes through /entities become the attribute history."""

from __future__ import annotations

import httpx
import pytest

from tests.ngsild_api import ENTITIES, entity_url
from tests.temporal.conftest import TEMPORAL, temporal_url

pytestmark = pytest.mark.anyio
LOT = "urn:ngsi-ld:Lot:1"


async def _history(client: httpx.AsyncClient, entity_id: str, **params: str) -> dict:
    resp = await client.get(temporal_url(entity_id), params=params)
    assert resp.status_code == 200, resp.text
    body: dict = resp.json()
    return body


async def test_create_patch_and_delete_are_recorded_as_instances(
    client: httpx.AsyncClient,
) -> None:
    await client.post(
        ENTITIES,
        json={
            "id": LOT,
            "type": "Lot",
            "free": {"type": "Property", "value": 3, "observedAt": "2024-01-01T00:00:00Z"},
            "name": "A",
        },
    )
    resp = await client.patch(
        f"{entity_url(LOT)}/attrs/free", json={"value": 2, "observedAt": "2024-01-01T01:00:00Z"}
    )
    assert resp.status_code == 204

    body = await _history(client, LOT)
    assert body["id"] == LOT and body["type"] == "Lot"
    assert [(i["value"], i["observedAt"]) for i in body["free"]] == [
        (3, "2024-01-01T00:00:00Z"),
        (2, "2024-01-01T01:00:00Z"),
    ]
    assert [i["value"] for i in body["name"]] == ["A"]  # the PATCH did not touch name
    ids = [i["instanceId"] for i in body["free"] + body["name"]]
    assert all(i.startswith("urn:ngsi-ld:attribute:instance:") for i in ids)
    assert len(set(ids)) == 3

    await client.delete(entity_url(LOT))
    body = await _history(client, LOT, options="sysAttrs")
    assert body["deletedAt"]
    deleted = body["free"][-1]
    assert deleted["value"] == "urn:ngsi-ld:null"
    assert deleted["deletedAt"] == body["deletedAt"]
    assert body["name"][-1]["value"] == "urn:ngsi-ld:null"


async def test_a_removed_dataset_instance_gets_a_deletion_row(client: httpx.AsyncClient) -> None:
    a, b = "urn:ngsi-ld:Dataset:a", "urn:ngsi-ld:Dataset:b"
    await client.post(
        ENTITIES,
        json={
            "id": LOT,
            "type": "Lot",
            "free": [{"value": 1, "datasetId": a}, {"value": 2, "datasetId": b}],
        },
    )
    resp = await client.delete(f"{entity_url(LOT)}/attrs/free", params={"datasetId": a})
    assert resp.status_code == 204

    body = await _history(client, LOT, options="temporalValues")
    by_dataset = {s["datasetId"]: s["values"] for s in body["free"]}
    assert [v for v, _ in by_dataset[a]] == [1, "urn:ngsi-ld:null"]
    assert [v for v, _ in by_dataset[b]] == [2]  # untouched: recorded once


async def test_a_temporal_read_right_after_a_write_sees_it(client: httpx.AsyncClient) -> None:
    await client.post(ENTITIES, json={"id": LOT, "type": "Lot", "free": 0})
    for n in range(1, 16):
        await client.patch(f"{entity_url(LOT)}/attrs/free", json={"value": n})
        body = await _history(client, LOT, lastN="1")
        assert [i["value"] for i in body["free"]] == [n]


async def test_query_by_type_lists_recorded_entities(client: httpx.AsyncClient) -> None:
    for n in range(3):
        await client.post(ENTITIES, json={"id": f"urn:ngsi-ld:Lot:{n}", "type": "Lot", "free": n})
    await client.post(ENTITIES, json={"id": "urn:ngsi-ld:Car:1", "type": "Car", "speed": 1})

    resp = await client.get(
        TEMPORAL,
        params={
            "type": "Lot",
            "timerel": "after",
            "timeAt": "2000-01-01T00:00:00Z",
            "count": "true",
            "limit": "2",
        },
    )

    assert resp.status_code == 200, resp.text
    assert resp.headers["NGSILD-Results-Count"] == "3"
    assert [e["id"] for e in resp.json()] == ["urn:ngsi-ld:Lot:0", "urn:ngsi-ld:Lot:1"]
