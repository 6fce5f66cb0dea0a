"""Station CAI from recorded history, on both backends: the 24-h PM average over the hours
observed (not the writes), the hours it needs, gases over their hour, out-of-date pollutants
left out; the derived attributes written once per measure (no loop); the map layer."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from cityhub.settings import Settings
from tests.ngsild_api import assert_problem
from tests.services.air.air_support import (
    AIR,
    BYEOLYANG,
    JUNGANG,
    T,
    at,
    district,
    district_id,
    measure,
    running,
    station,
    station_id,
)

pytestmark = pytest.mark.anyio

O3_0091_UG = 0.091 * 48.00 / 24.45e-3  # 0.091 ppm of ozone in µg/m³ (178.65)


async def test_station_cai_from_24_hours_of_history(settings: Settings) -> None:
    async with running(settings) as air:
        await air.create(district(*JUNGANG), station("jungang-1", 126.985, 37.425))
        # hourly PM10 20, 22, ... 66 (mean 43) and PM2.5 20, observed on the hour
        for hour in range(11):
            await air.send("jungang-1", hour, pm10=20 + 2 * hour, pm25=20)
        (shown,) = await air.get("stations")
        assert shown["pm10Avg24h"] is None and shown["pollutants"] == {}  # 11 of 12 hours
        assert shown["airQualityIndex"] is None and shown["caiGrade"] is None
        assert shown["latest"]["pm10"] == {"value": 40, "unitCode": "GQ", "observedAt": at(10)}

        await air.send("jungang-1", 11, pm10=42, pm25=20)  # 12 hours: mean 31 → 51
        (shown,) = await air.get("stations")
        assert shown["pm10Avg24h"] == 31.0 and shown["pm25Avg24h"] == 20.0
        assert shown["pollutants"]["pm10"]["subIndex"] == 51
        assert (shown["airQualityIndex"], shown["dominantPollutant"]) == (61, "pm25")
        assert (shown["caiGrade"], shown["gradeName"], shown["airQualityLevel"]) == (
            2,
            "보통",
            "moderate",
        )

        for hour in range(12, 23):
            await air.send("jungang-1", hour, pm10=20 + 2 * hour, pm25=20)
        # the 24th hour brings the gases: O3 in µg/m³ (the data model's unit), NO2 in ppm
        await air.send("jungang-1", 23, pm10=66, pm25=20, o3=O3_0091_UG, no2_ppm=0.025)
        (shown,) = await air.get("stations")
        assert shown["district"] == {"id": district_id("jungang"), "name": "중앙동"}
        assert shown["observedAt"] == at(23)
        assert shown["pm10Avg24h"] == 43.0
        assert shown["pollutants"] == {
            "pm10": {
                "concentration": 43.0,
                "unit": "µg/m³",
                "averaging": "24h",
                "subIndex": 63,
                "grade": 2,
                "gradeName": "보통",
            },
            "pm25": {
                "concentration": 20.0,
                "unit": "µg/m³",
                "averaging": "24h",
                "subIndex": 61,
                "grade": 2,
                "gradeName": "보통",
            },
            "o3": {
                "concentration": 0.091,
                "unit": "ppm",
                "averaging": "1h",
                "subIndex": 101,
                "grade": 3,
                "gradeName": "나쁨",
            },
            "no2": {
                "concentration": 0.025,
                "unit": "ppm",
                "averaging": "1h",
                "subIndex": 42,
                "grade": 1,
                "gradeName": "좋음",
            },
        }
        assert (shown["airQualityIndex"], shown["caiGrade"], shown["gradeName"]) == (101, 3, "나쁨")
        assert (shown["dominantPollutant"], shown["color"]) == ("o3", "#fd9b5a")

        # the window moves: hours 1-24, the 24th at 90 → (1032 - 20 + 90) / 24 = 45.92
        await air.send("jungang-1", 24, pm10=90, pm25=20)
        (shown,) = await air.get("stations")
        assert shown["pm10Avg24h"] == 45.9 and shown["pollutants"]["pm10"]["subIndex"] == 65
        assert shown["airQualityIndex"] == 101  # O3's hour (23) is still current

        # two hours on, the gases measured at hour 23 are out of date and left out
        await air.send("jungang-1", 26, pm10=90, pm25=20)
        (shown,) = await air.get("stations")
        assert sorted(shown["pollutants"]) == ["pm10", "pm25"]
        # hours 3-26 with values: 26..66 (21 hours, 966) + 90 + 90 → 1146 / 23 = 49.83
        assert shown["pm10Avg24h"] == 49.8 and shown["pollutants"]["pm10"]["subIndex"] == 69
        assert (shown["airQualityIndex"], shown["dominantPollutant"]) == (69, "pm10")

        # the CAI has history at observation times: one instance per measure, no loop
        r = await air.client.get(
            f"/ngsi-ld/v1/temporal/entities/{station_id('jungang-1')}",
            params={"attrs": "airQualityIndex"},
            headers=T,
        )
        assert r.status_code == 200, r.text
        history = r.json()["airQualityIndex"]
        assert [i["observedAt"] for i in history] == [at(h) for h in [*range(11, 25), 26]]
        assert [i["value"] for i in history][-3:] == [101, 101, 69]
        end = await air.app.state.hub.storage.log_end()
        await asyncio.sleep(0.3)
        assert await air.app.state.hub.storage.log_end() == end  # nothing more is written


async def test_a_late_measure_counts_in_its_hour(settings: Settings) -> None:
    """Measures several per hour and out of order: the 24-h average is of hourly averages."""
    settings = dataclasses.replace(settings, air_pm_min_hours=2)
    async with running(settings) as air:
        await air.create(station("lone", 127.5, 37.0))  # in no district
        await air.send("lone", 0.0, pm10=10)
        await air.send("lone", 0.5, pm10=30)  # hour 0: 20
        await air.send("lone", 2.0, pm10=50)  # hour 2: 50 → (20 + 50) / 2 = 35
        (shown,) = await air.get("stations")
        assert shown["pm10Avg24h"] == 35.0 and shown["district"] is None
        await air.send("lone", 1.0, pm10=80)  # late, for hour 1: (20 + 80 + 50) / 3 = 50
        (shown,) = await air.get("stations")
        assert shown["pm10Avg24h"] == 50.0 and shown["airQualityIndex"] == 70
        # the entity's value is the late one; the CAI is still as of the latest hour
        assert shown["latest"]["pm10"]["observedAt"] == at(1.0)
        assert shown["observedAt"] == at(2.0)


async def test_stations_of_one_batch_each_get_the_cai_of_their_own_hours(
    settings: Settings,
) -> None:
    """Stations changed together are recomputed together, each over the day ending with its
    own latest hour (here 24 hours apart), not one shared window."""
    settings = dataclasses.replace(settings, air_pm_min_hours=2)
    async with running(settings) as air:
        await air.create(station("early", 127.5, 37.0), station("late", 127.6, 37.0))
        await air.send_hour(0, "pm10", {"early": 20})
        await air.send_hour(24, "pm10", {"late": 100})
        body = [
            {"id": station_id("early"), "type": "AirQualityObserved", "pm10": measure(40, 1)},
            {"id": station_id("late"), "type": "AirQualityObserved", "pm10": measure(60, 25)},
        ]
        r = await air.client.post("/ngsi-ld/v1/entityOperations/update", json=body, headers=T)
        assert r.status_code == 204, r.text
        await air.settle()
        shown = {s["id"]: s for s in await air.get("stations")}
        early, late = shown[station_id("early")], shown[station_id("late")]
        assert (early["pm10Avg24h"], early["observedAt"]) == (30.0, at(1))
        assert (late["pm10Avg24h"], late["observedAt"]) == (80.0, at(25))


async def test_map_layer_and_district_filter(settings: Settings) -> None:
    settings = dataclasses.replace(settings, air_pm_min_hours=1)
    async with running(settings) as air:
        await air.create(
            district(*JUNGANG),
            district(*BYEOLYANG),
            station("jungang-1", 126.985, 37.425),
            # stands in 중앙동's square but says it is 별양동's
            station(
                "byeolyang-1",
                126.986,
                37.426,
                refDistrict={"type": "Relationship", "object": district_id("byeolyang")},
            ),
            station("outside", 127.5, 37.0),
        )
        await air.send("jungang-1", 0, pm10=20)  # 33: 좋음
        await air.send("byeolyang-1", 0, pm10=160)  # 260: 매우나쁨
        r = await air.client.get(f"{AIR}/layer", headers=T)
        assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
        layer = r.json()
        assert layer["type"] == "FeatureCollection"
        by_id = {f["id"]: f for f in layer["features"]}
        assert set(by_id) == {station_id(s) for s in ("jungang-1", "byeolyang-1", "outside")}
        jungang = by_id[station_id("jungang-1")]
        assert jungang["geometry"] == {"type": "Point", "coordinates": [126.985, 37.425]}
        assert jungang["properties"]["airQualityIndex"] == 33
        assert jungang["properties"]["color"] == "#32a1ff"
        assert jungang["properties"]["districtName"] == "중앙동"
        byeolyang = by_id[station_id("byeolyang-1")]["properties"]
        assert (byeolyang["caiGrade"], byeolyang["gradeName"], byeolyang["color"]) == (
            4,
            "매우나쁨",
            "#ff5959",
        )
        assert byeolyang["district"] == district_id("byeolyang")
        outside = by_id[station_id("outside")]["properties"]
        assert outside["caiGrade"] is None and outside["color"] == "#9e9e9e"

        only = await air.get("stations", district=district_id("byeolyang"))
        assert [s["id"] for s in only] == [station_id("byeolyang-1")]
        r = await air.client.get(
            f"{AIR}/stations", params={"district": "urn:ngsi-ld:District:nowhere"}, headers=T
        )
        assert (
            "urn:ngsi-ld:District:nowhere" in assert_problem(r, "ResourceNotFound", 404)["detail"]
        )
        # another tenant has nothing
        r = await air.client.get(f"{AIR}/districts", headers={"NGSILD-Tenant": "bucheon"})
        assert r.status_code == 200 and r.json() == []
