"""Silent devices (GET /cityhub/v1/devices/silent): provisioned devices whose entity has not
changed for a while, the dashboard's "sensors offline" figure; on both backends."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.ngsild_api import assert_problem

pytestmark = pytest.mark.anyio
CITY = {"fiware-service": "gwacheon"}
TENANT = {"NGSILD-Tenant": "gwacheon"}
GROUP = {
    "apikey": "k-air",
    "resource": "/iot/json",
    "entity_type": "AirQualityObserved",
    "attributes": [{"object_id": "p10", "name": "pm10", "type": "Number"}],
}
SILENT = "/cityhub/v1/devices/silent"


async def _provision(client: httpx.AsyncClient, n: int) -> None:
    r = await client.post("/iot/services", json={"services": [GROUP]}, headers=CITY)
    assert r.status_code == 201, r.text
    devices = [{"device_id": f"aq-{i}", "apikey": "k-air"} for i in range(n)]
    r = await client.post("/iot/devices", json={"devices": devices}, headers=CITY)
    assert r.status_code == 201, r.text


async def _measure(client: httpx.AsyncClient, device: str, pm10: float) -> None:
    r = await client.post(f"/iot/json?k=k-air&i={device}", json={"p10": pm10}, headers=CITY)
    assert r.status_code in (200, 204), r.text


async def test_devices_never_heard_from_and_long_silent_are_counted(
    client: httpx.AsyncClient,
) -> None:
    await _provision(client, 3)
    await _measure(client, "aq-1", 41)

    body = (await client.get(SILENT, headers=TENANT)).json()
    assert (body["devices"], body["silent"], body["after_s"]) == (3, 2, 3600)
    assert [d["deviceId"] for d in body["silentDevices"]] == ["aq-0", "aq-2"]
    assert body["silentDevices"][0] == {
        "deviceId": "aq-0",
        "entityId": "urn:ngsi-ld:AirQualityObserved:aq-0",
        "lastChangeAt": None,
    }

    await asyncio.sleep(1.2)  # aq-1 has now been quiet for more than a second
    await _measure(client, "aq-2", 35)
    body = (await client.get(f"{SILENT}?after=1&limit=1", headers=TENANT)).json()
    assert body["silent"] == 2  # aq-0 (never) and aq-1 (over a second ago); aq-2 just spoke
    assert [d["deviceId"] for d in body["silentDevices"]] == ["aq-0"]  # never heard first
    everyone = (await client.get(f"{SILENT}?after=1", headers=TENANT)).json()
    assert everyone["silentDevices"][1]["deviceId"] == "aq-1"
    assert everyone["silentDevices"][1]["lastChangeAt"] is not None


async def test_a_tenant_without_devices_has_none_silent(client: httpx.AsyncClient) -> None:
    body = (await client.get(SILENT, headers={"NGSILD-Tenant": "nowhere"})).json()
    assert (body["devices"], body["silent"], body["silentDevices"]) == (0, 0, [])


@pytest.mark.parametrize("query", ["after=0", "after=soon", "after=99999999999", "limit=-1"])
async def test_bad_parameters_are_refused(client: httpx.AsyncClient, query: str) -> None:
    r = await client.get(f"{SILENT}?{query}", headers=TENANT)
    assert_problem(r, "BadRequestData", 400)
