"""Temporal writes: create/add, append, delete entity, attribute and one instance, modify."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ngsild_api import assert_problem
from tests.temporal.conftest import READINGS, SENSOR, TEMPORAL, instances, temporal_url

pytestmark = pytest.mark.anyio
A, B = "urn:ngsi-ld:Dataset:a", "urn:ngsi-ld:Dataset:b"


async def _body(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    resp = await client.get(temporal_url(SENSOR), params=params)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_post_creates_then_adds(client: httpx.AsyncClient, sensor: dict[str, Any]) -> None:
    resp = await client.post(
        TEMPORAL,
        json={
            "id": SENSOR,
            "type": "Sensor",
            "temperature": instances([("2024-01-01T05:00:00Z", 7)]),
        },
    )

    assert resp.status_code == 204
    values = [i["value"] for i in (await _body(client))["temperature"]]
    assert values == [v for _, v in READINGS] + [7]


async def test_post_201_has_a_location(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        TEMPORAL,
        json={"id": SENSOR, "type": "Sensor", "t": {"type": "Property", "value": 1}},
    )
    assert resp.status_code == 201
    assert resp.headers["Location"] == temporal_url(SENSOR)


async def test_append_adds_instances_to_an_existing_entity(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    resp = await client.post(
        f"{temporal_url(SENSOR)}/attrs",
        json={"humidity": instances([("2024-01-01T00:00:00Z", 50)], datasetId=A)},
    )

    assert resp.status_code == 204
    (humidity,) = (await _body(client))["humidity"]
    assert humidity["value"] == 50 and humidity["datasetId"] == A

    resp = await client.post(
        f"{TEMPORAL}/urn:ngsi-ld:Sensor:none/attrs", json={"humidity": instances(READINGS)}
    )
    assert_problem(resp, "ResourceNotFound", 404)


async def test_delete_attribute_by_dataset_or_all(client: httpx.AsyncClient) -> None:
    await client.post(
        TEMPORAL,
        json={
            "id": SENSOR,
            "type": "Sensor",
            "speed": instances(READINGS[:2])
            + instances(READINGS[:1], datasetId=A)
            + instances(READINGS[:1], datasetId=B),
        },
    )
    url = f"{temporal_url(SENSOR)}/attrs/speed"

    assert (await client.delete(url, params={"datasetId": A})).status_code == 204
    datasets = {i.get("datasetId") for i in (await _body(client))["speed"]}
    assert datasets == {None, B}
    assert (await client.delete(url)).status_code == 204  # the default instance
    assert {i.get("datasetId") for i in (await _body(client))["speed"]} == {B}
    assert (await client.delete(url, params={"deleteAll": "true"})).status_code == 204
    assert "speed" not in await _body(client)
    assert_problem(await client.delete(url), "ResourceNotFound", 404)


async def test_modify_and_delete_one_instance(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    first = (await _body(client))["temperature"][0]
    url = f"{temporal_url(SENSOR)}/attrs/temperature/{first['instanceId']}"

    resp = await client.patch(url, json={"temperature": {"type": "Property", "value": 100}})

    assert resp.status_code == 204
    changed = (await _body(client, options="sysAttrs"))["temperature"][0]
    assert changed["instanceId"] == first["instanceId"]
    assert changed["value"] == 100
    assert changed["observedAt"] == first["observedAt"]  # kept when not given
    assert changed["modifiedAt"] >= changed["createdAt"]

    assert (await client.delete(url)).status_code == 204
    values = [i["value"] for i in (await _body(client))["temperature"]]
    assert values == [v for _, v in READINGS[1:]]
    assert_problem(await client.delete(url), "ResourceNotFound", 404)


async def test_delete_the_whole_temporal_entity(
    client: httpx.AsyncClient, sensor: dict[str, Any]
) -> None:
    assert (await client.delete(temporal_url(SENSOR))).status_code == 204
    assert_problem(await client.get(temporal_url(SENSOR)), "ResourceNotFound", 404)
    assert_problem(await client.delete(temporal_url(SENSOR)), "ResourceNotFound", 404)


@pytest.mark.parametrize(
    "payload",
    [
        {"id": SENSOR},
        {"id": "not a uri", "type": "Sensor"},
        {"id": SENSOR, "type": "Sensor", "t": [1, 2]},
        {"id": SENSOR, "type": "Sensor", "t": []},
        {"id": SENSOR, "type": "Sensor", "t": {"type": "Property", "value": "urn:ngsi-ld:null"}},
        {"id": SENSOR, "type": "Sensor", "t": {"type": "Property", "observedAt": "soon"}},
    ],
)
async def test_bad_payloads_are_bad_request_data(
    client: httpx.AsyncClient, payload: dict[str, Any]
) -> None:
    assert_problem(await client.post(TEMPORAL, json=payload), "BadRequestData", 400)
