"""The IoT Agent provisioning API (/iot/services, /iot/devices) and HTTP measures, on both
backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ngsild_api import assert_problem

pytestmark = pytest.mark.anyio
CITY = {"fiware-service": "gwacheon", "fiware-servicepath": "/parking"}
E = "/ngsi-ld/v1/entities"

GROUP = {
    "apikey": "k-parking",
    "resource": "/iot/json",
    "entity_type": "ParkingSpot",
    "timestamp": True,
    "attributes": [{"object_id": "s", "name": "status", "type": "Text"}],
    "static_attributes": [{"name": "category", "type": "Array", "value": ["onStreet"]}],
}
SENSOR = {
    "device_id": "spot-001",
    "apikey": "k-parking",
    "entity_name": "urn:ngsi-ld:ParkingSpot:gc-001",
    "entity_type": "ParkingSpot",
    "protocol": "IoTA-JSON",
    "attributes": [
        {
            "object_id": "t",
            "name": "temperature",
            "type": "Number",
            "metadata": {"unitCode": {"type": "Text", "value": "CEL"}},
        },
    ],
}


async def _provision(client: httpx.AsyncClient) -> None:
    r = await client.post("/iot/services", json={"services": [GROUP]}, headers=CITY)
    assert r.status_code == 201, r.text
    r = await client.post("/iot/devices", json={"devices": [SENSOR]}, headers=CITY)
    assert r.status_code == 201, r.text


async def _entity(client: httpx.AsyncClient, entity_id: str) -> dict[str, Any]:
    r = await client.get(f"{E}/{entity_id}", headers={"NGSILD-Tenant": "gwacheon"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_provision_list_update_delete(client: httpx.AsyncClient) -> None:
    await _provision(client)
    groups = (await client.get("/iot/services", headers=CITY)).json()
    assert groups["count"] == 1 and groups["services"][0]["apikey"] == "k-parking"
    assert groups["services"][0]["service_path"] == "/parking"
    other = {"fiware-service": "suwon"}
    assert (await client.get("/iot/services", headers=other)).json() == {"count": 0, "services": []}

    devices = (await client.get("/iot/devices", headers=CITY)).json()
    assert devices["count"] == 1 and devices["devices"][0]["device_id"] == "spot-001"
    one = (await client.get("/iot/devices/spot-001", headers=CITY)).json()
    assert one["entity_name"] == "urn:ngsi-ld:ParkingSpot:gc-001"

    r = await client.put("/iot/devices/spot-001", json={"timezone": "Asia/Seoul"}, headers=CITY)
    assert r.status_code == 204, r.text
    assert (await client.get("/iot/devices/spot-001", headers=CITY)).json()[
        "timezone"
    ] == "Asia/Seoul"
    r = await client.put(
        "/iot/services",
        params={"apikey": "k-parking", "resource": "/iot/json"},
        json={"entity_type": "OnStreetParking"},
        headers=CITY,
    )
    assert r.status_code == 204, r.text
    listed = (await client.get("/iot/services", headers=CITY)).json()["services"]
    assert listed[0]["entity_type"] == "OnStreetParking"

    # the device stands as an NGSI-LD Device controlling its entity
    device = await _entity(client, "urn:ngsi-ld:Device:spot-001")
    assert device["type"] == "Device"
    assert device["controlledAsset"]["object"] == "urn:ngsi-ld:ParkingSpot:gc-001"

    assert (await client.delete("/iot/devices/spot-001", headers=CITY)).status_code == 204
    assert_problem(await client.get("/iot/devices/spot-001", headers=CITY), "ResourceNotFound", 404)
    r = await client.delete(
        "/iot/services", params={"apikey": "k-parking", "resource": "/iot/json"}, headers=CITY
    )
    assert r.status_code == 204
    assert (await client.get("/iot/services", headers=CITY)).json()["count"] == 0


async def test_provisioning_is_all_or_none(client: httpx.AsyncClient) -> None:
    await _provision(client)
    fresh = {**GROUP, "apikey": "k-new"}
    r = await client.post("/iot/services", json={"services": [fresh, GROUP]}, headers=CITY)
    assert_problem(r, "AlreadyExists", 409)
    assert (await client.get("/iot/services", headers=CITY)).json()["count"] == 1
    r = await client.post(
        "/iot/devices", json={"devices": [{"device_id": "x1"}, SENSOR]}, headers=CITY
    )
    assert_problem(r, "AlreadyExists", 409)
    assert_problem(await client.get("/iot/devices/x1", headers=CITY), "ResourceNotFound", 404)


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/iot/services", {"services": [{"resource": "/iot/json"}]}, "apikey"),
        ("/iot/services", {"services": []}, "empty"),
        ("/iot/services", [GROUP], "services"),
        ("/iot/services", {"services": [{**GROUP, "timestamp": "yes"}]}, "timestamp"),
        ("/iot/services", {"services": [{**GROUP, "surprise": 1}]}, "surprise"),
        ("/iot/services", {"services": [{**GROUP, "resource": "iot"}]}, "resource"),
        ("/iot/devices", {"devices": [{"entity_type": "X"}]}, "device_id"),
        ("/iot/devices", {"devices": [{"device_id": "a b"}]}, "device_id"),
        (
            "/iot/devices",
            {"devices": [{"device_id": "d", "attributes": [{"type": "Number"}]}]},
            "name",
        ),
        (
            "/iot/devices",
            {"devices": [{"device_id": "d", "static_attributes": [{"name": "n"}]}]},
            "value",
        ),
        ("/iot/devices", {"devices": [{"device_id": "d"}, {"device_id": "d"}]}, "same device_id"),
    ],
)
async def test_bad_provisioning_is_refused(
    client: httpx.AsyncClient, path: str, body: Any, words: str
) -> None:
    r = await client.post(path, json=body, headers=CITY)
    assert words in assert_problem(r, "BadRequestData", 400)["detail"]
    listed = (await client.get(path, headers=CITY)).json()
    assert listed["count"] == 0


async def test_json_and_ultralight_measures_update_the_entity(client: httpx.AsyncClient) -> None:
    await _provision(client)
    r = await client.post(
        "/iot/json",
        params={"k": "k-parking", "i": "spot-001"},
        json={"t": 21.5, "s": "free", "TimeInstant": "2026-11-30T01:00:00Z"},
        headers=CITY,
    )
    assert r.status_code == 200, r.text
    spot = await _entity(client, "urn:ngsi-ld:ParkingSpot:gc-001")
    assert spot["temperature"]["value"] == 21.5 and spot["temperature"]["unitCode"] == "CEL"
    assert spot["temperature"]["observedAt"] == "2026-11-30T01:00:00Z"
    assert spot["status"]["value"] == "free" and spot["category"]["value"] == ["onStreet"]

    r = await client.post(
        "/iot/d",
        params={"k": "k-parking", "i": "spot-001"},
        content=b"t|19|s|occupied",
        headers={**CITY, "Content-Type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    spot = await _entity(client, "urn:ngsi-ld:ParkingSpot:gc-001")
    assert spot["temperature"]["value"] == 19 and spot["status"]["value"] == "occupied"


async def test_unknown_keys_devices_and_bad_measures_change_nothing(
    client: httpx.AsyncClient,
) -> None:
    await _provision(client)
    ul = {**CITY, "Content-Type": "text/plain"}
    r = await client.post(
        "/iot/json", params={"k": "nope", "i": "spot-001"}, json={"t": 1}, headers=CITY
    )
    assert_problem(r, "ResourceNotFound", 404)
    r = await client.post(
        "/iot/d", params={"k": "k-parking", "i": "spot-001"}, content=b"t|1|s", headers=ul
    )
    assert_problem(r, "BadRequestData", 400)
    r = await client.post(
        "/iot/d", params={"k": "k-parking", "i": "spot-001"}, content=b"t|warm", headers=ul
    )
    assert_problem(r, "BadRequestData", 400)
    r = await client.post("/iot/json", params={"k": "k-parking"}, json={"t": 1}, headers=CITY)
    assert_problem(r, "BadRequestData", 400)
    r = await client.get(
        f"{E}/urn:ngsi-ld:ParkingSpot:gc-001", headers={"NGSILD-Tenant": "gwacheon"}
    )
    assert r.status_code == 404  # no measure was taken: the entity was never created


async def test_autoprovisioned_device_gets_the_groups_type(client: httpx.AsyncClient) -> None:
    await _provision(client)
    r = await client.post(
        "/iot/json", params={"k": "k-parking", "i": "spot-077"}, json={"s": "free"}, headers=CITY
    )
    assert r.status_code == 200, r.text
    spot = await _entity(client, "urn:ngsi-ld:ParkingSpot:spot-077")
    assert spot["status"]["value"] == "free" and "observedAt" in spot["status"]  # timestamp: true
    closed = {**GROUP, "apikey": "k-closed", "autoprovision": False}
    assert (
        await client.post("/iot/services", json={"services": [closed]}, headers=CITY)
    ).status_code == 201
    r = await client.post(
        "/iot/json", params={"k": "k-closed", "i": "spot-078"}, json={"s": "free"}, headers=CITY
    )
    assert_problem(r, "ResourceNotFound", 404)


async def test_rejected_measures_are_kept_listed_counted_and_replayed(
    client: httpx.AsyncClient,
) -> None:
    await _provision(client)
    ul = {**CITY, "Content-Type": "text/plain"}
    bad = await client.post(
        "/iot/d", params={"k": "k-parking", "i": "spot-001"}, content=b"t|warm", headers=ul
    )
    assert_problem(bad, "BadRequestData", 400)
    lost = await client.post(
        "/iot/json", params={"k": "k-parking", "i": "spot-002"}, json={"t": 3}, headers=CITY
    )
    assert lost.status_code == 200  # autoprovisioned: taken

    listed = (await client.get("/iot/dead-letters", headers=CITY)).json()
    assert listed["count"] == 1
    letter = listed["deadLetters"][0]
    assert letter["device_id"] == "spot-001" and letter["source"] == "http"
    assert letter["payload"] == {"text": "t|warm"} and letter["format"] == "ul"
    assert "t" in letter["reason"] and letter["error"] == "BadRequestData"
    counts = (await client.get("/iot/dead-letters/counts", headers=CITY)).json()
    assert counts == [{"device_id": "spot-001", "error": "BadRequestData", "count": 1}]
    one = await client.get(f"/iot/dead-letters/{letter['id']}", headers=CITY)
    assert one.json() == letter

    # replaying before the mapping is fixed: refused again, with the reason, still listed once
    again = await client.post(f"/iot/dead-letters/{letter['id']}/replay", headers=CITY)
    assert_problem(again, "BadRequestData", 400)
    listed = (await client.get("/iot/dead-letters", headers=CITY)).json()
    assert listed["count"] == 1
    letter = listed["deadLetters"][0]

    # fix the device: t is a text now; the replay takes it and the letter leaves the list
    fixed = {"attributes": [{"object_id": "t", "name": "temperature", "type": "Text"}]}
    assert (await client.put("/iot/devices/spot-001", json=fixed, headers=CITY)).status_code == 204
    done = await client.post(f"/iot/dead-letters/{letter['id']}/replay", headers=CITY)
    assert done.status_code == 204, done.text
    assert (await client.get("/iot/dead-letters", headers=CITY)).json()["count"] == 0
    spot = await _entity(client, "urn:ngsi-ld:ParkingSpot:gc-001")
    assert spot["temperature"]["value"] == "warm"

    # discard
    await client.post(
        "/iot/d", params={"k": "k-parking", "i": "spot-001"}, content=b"t", headers=ul
    )
    letter = (await client.get("/iot/dead-letters", headers=CITY)).json()["deadLetters"][0]
    assert (
        await client.delete(f"/iot/dead-letters/{letter['id']}", headers=CITY)
    ).status_code == 204
    assert_problem(
        await client.get(f"/iot/dead-letters/{letter['id']}", headers=CITY), "ResourceNotFound", 404
    )
    assert_problem(await client.get("/iot/dead-letters/abc", headers=CITY), "BadRequestData", 400)


async def test_multi_measure_groups_all_reach_the_history(client: httpx.AsyncClient) -> None:
    await _provision(client)
    body = [
        {"t": 10, "TimeInstant": "2026-11-30T01:00:00Z"},
        {"t": 11, "TimeInstant": "2026-11-30T01:01:00Z"},
    ]
    r = await client.post(
        "/iot/json", params={"k": "k-parking", "i": "spot-001"}, json=body, headers=CITY
    )
    assert r.status_code == 200, r.text
    spot = await _entity(client, "urn:ngsi-ld:ParkingSpot:gc-001")
    assert spot["temperature"]["value"] == 11
    history = await client.get(
        "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:ParkingSpot:gc-001",
        params={"attrs": "temperature"},
        headers={"NGSILD-Tenant": "gwacheon"},
    )
    assert history.status_code == 200, history.text
    assert [i["value"] for i in history.json()["temperature"]] == [10, 11]


async def test_devices_need_not_name_their_tenant(client: httpx.AsyncClient) -> None:
    await _provision(client)
    r = await client.post("/iot/d", params={"k": "k-parking", "i": "spot-001"}, content=b"s|free")
    assert r.status_code == 200, r.text  # the API key's group is in tenant gwacheon
    spot = await _entity(client, "urn:ngsi-ld:ParkingSpot:gc-001")
    assert spot["status"]["value"] == "free"


async def test_text_members_given_as_null_are_left_out(client: httpx.AsyncClient) -> None:
    """A group or device with ``"description": null`` is provisioned as if it had none, and
    read back without it (not as a null where clients expect text)."""
    group = GROUP | {"description": None, "subservice": None, "timezone": None}
    r = await client.post("/iot/services", json={"services": [group]}, headers=CITY)
    assert r.status_code == 201, r.text
    device = SENSOR | {"description": None, "endpoint": None}
    r = await client.post("/iot/devices", json={"devices": [device]}, headers=CITY)
    assert r.status_code == 201, r.text
    [listed] = (await client.get("/iot/services", headers=CITY)).json()["services"]
    assert {"description", "subservice", "timezone"}.isdisjoint(listed)
    assert listed["service_path"] == "/parking"
    got = (await client.get("/iot/devices/spot-001", headers=CITY)).json()
    assert {"description", "endpoint"}.isdisjoint(got)
