"""The air service as a city sets it up and reads it, with access control on: the catalog
entry and its setup, the district CAI (its worst station), who may read the air API."""

from __future__ import annotations

import dataclasses

import pytest

from cityhub.settings import Settings
from tests.auth.test_access import _hub
from tests.ngsild_api import assert_problem
from tests.services.air.air_support import (
    AIR,
    BYEOLYANG,
    ENTITIES,
    JUNGANG,
    T,
    district,
    district_id,
    measure,
    station,
    station_id,
)

pytestmark = pytest.mark.anyio


async def test_catalog_setup_installs_the_station_watch(settings: Settings) -> None:
    async for hub in _hub(settings):
        op = await hub.user("op-air", {"role": "operator", "tenant": "gwacheon"}) | T
        c = hub.client
        listed = {s["id"]: s for s in (await c.get("/cityhub/v1/services", headers=op)).json()}
        assert listed["air"] == {
            "id": "air",
            "name": "미세먼지 모니터링",
            "title": "Air quality monitoring",
            "description": listed["air"]["description"],
            "models": ["AirQualityObserved", "District"],
            "layers": ["/cityhub/v1/air/layer"],
            "rules": ["air-station-silent"],
            "sops": [],
        }
        r = await c.post("/cityhub/v1/services/air/setup", headers=op)
        assert r.status_code == 200, r.text
        assert r.json() == {"service": "air", "created": ["rule:air-station-silent"], "kept": []}
        rule = (await c.get("/cityhub/v1/rules/air-station-silent", headers=op)).json()
        assert (rule["kind"], rule["entityType"], rule["for"]) == (
            "absence",
            "AirQualityObserved",
            "PT3H",
        )
        r = await c.post("/cityhub/v1/services/air/setup", headers=op)
        assert r.json()["kept"] == ["rule:air-station-silent"]


async def test_reading_the_air_api_needs_entities_read(settings: Settings) -> None:
    async for hub in _hub(dataclasses.replace(settings, air_pm_min_hours=1)):
        admin = await hub.login("admin", hub.admin_password) | T
        citizen = await hub.user("kim", {"role": "citizen", "tenant": "gwacheon"}) | T
        c = hub.client
        for entity in (
            district(*JUNGANG),
            district(*BYEOLYANG),
            station("jungang-1", 126.983, 37.423, pm10=measure(20, 0)),  # 33
            station("jungang-2", 126.987, 37.427, pm10=measure(90, 0)),  # 120: the worst
            station("byeolyang-1", 126.995, 37.425, pm25=measure(10, 0)),  # 33
        ):
            r = await c.post(ENTITIES, json=entity, headers=admin)
            assert r.status_code == 201, r.text
        c.cookies.clear()  # the logins' session cookies: this one comes with no credentials
        assert_problem(await c.get(f"{AIR}/stations", headers=T), "Unauthenticated", 401)
        # a citizen reads the air API (public data) but not the operations center's events
        r = await c.get(f"{AIR}/districts", headers=citizen)
        assert r.status_code == 200, r.text
        shown = {d["id"]: d for d in r.json()}
        jungang = shown[district_id("jungang")]
        assert (jungang["airQualityIndex"], jungang["caiGrade"], jungang["gradeName"]) == (
            120,
            3,
            "나쁨",
        )
        assert jungang["worstStation"] == station_id("jungang-2")
        assert jungang["dominantPollutant"] == "pm10" and jungang["color"] == "#fd9b5a"
        assert shown[district_id("byeolyang")]["airQualityIndex"] == 33
        assert (await c.get(f"{AIR}/layer", headers=citizen)).status_code == 200
        r = await c.get("/cityhub/v1/events", headers=citizen)
        assert_problem(r, "Forbidden", 403)
        # nothing to write here
        r = await c.post(f"{AIR}/stations", json={}, headers=admin)
        assert r.status_code == 405 and r.headers["allow"] == "GET"
