"""The care map layer (households coarse, alerts exact) and the service's catalog entry, on
both backends through the HTTP API."""

from __future__ import annotations

import pytest

from tests.ops.test_linked import SCENE
from tests.services.care.conftest import HOME_AT, CareHub, household, later, minute_now, sensor

pytestmark = pytest.mark.anyio
L = "/cityhub/v1/care/layer"


async def test_layer_keeps_households_coarse(center: CareHub) -> None:
    hub, c, t0 = center, center.client, minute_now()
    await hub.upsert(household(), sensor("gc-0017-motion"))
    r = await c.get(L, headers=hub.h("operator"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    [home] = r.json()["features"]
    assert home["properties"] == {"layer": "household", "status": "ok"}
    assert home["geometry"]["coordinates"] == [round(HOME_AT[0], 3), round(HOME_AT[1], 3)]
    assert "GC-0017" not in r.text
    # an alert is shown where it is, with its event; so is a missing child being searched for
    await hub.reading("urn:ngsi-ld:Device:gc-0017-motion", motionDetected=(True, t0))
    assert await hub.check(later(t0, hours=12)) == 1
    report = {
        "kind": "child",
        "description": "8세 남아",
        "location": {"type": "Point", "coordinates": list(SCENE)},
    }
    r = await c.post("/cityhub/v1/care/missing", json=report, headers=hub.h("police"))
    assert r.status_code == 201, r.text
    features = (await hub.get(L))["features"]
    layers = {f["properties"]["layer"]: f for f in features}
    assert set(layers) == {"household", "householdAlert", "missing"}
    assert layers["household"]["properties"]["status"] == "alert"
    alert = layers["householdAlert"]
    assert alert["geometry"]["coordinates"] == list(HOME_AT)
    assert alert["properties"]["kind"] == "inactivity"
    assert alert["properties"]["householdCode"] == "GC-0017"
    assert layers["missing"]["properties"]["eventId"] == r.json()["eventId"]


async def test_catalog_sets_up_the_welfare_checks(center: CareHub) -> None:
    hub, c = center, center.client
    listed = {s["id"]: s for s in await hub.get("/cityhub/v1/services")}
    care = listed["care"]
    assert care["name"] == "독거노인 응급안전 · 사회적 약자 지원"
    assert care["layers"] == [L] and "CareHousehold" in care["models"]
    r = await c.post("/cityhub/v1/services/care/setup", headers=hub.h("operator"))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == [
        "rule:care-heatwave",
        "rule:care-coldwave",
        "sop:care-welfare-check",
    ]
    rule = await hub.get("/cityhub/v1/rules/care-heatwave")
    assert rule["entityType"] == "WeatherObserved" and rule["for"] == "PT2H"
    sop = await hub.get("/cityhub/v1/sops/care-welfare-check")
    assert sop["match"] == {"eventCodes": ["CARE0401", "CARE0402"]} and len(sop["steps"]) == 4
    r = await c.post("/cityhub/v1/services/care/setup", headers=hub.h("operator"))
    assert r.json()["created"] == [] and len(r.json()["kept"]) == 3
