"""District fine-dust alerts end to end, on both backends, with hourly measures stamped with
observedAt: rise, 2 h sustained → 주의보, 2 h ≥ 300 → 경보 (the 주의보 replaced), below 150 →
lowered to a new 주의보, below 100 → lifted; per district, on its stations' mean or the worst
station; as operations-center events that start the fine-dust SOP."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from cityhub.settings import Settings
from tests.services.air.air_support import (
    BYEOLYANG,
    EVENTS,
    JUNGANG,
    AirHub,
    T,
    at,
    district,
    district_id,
    running,
    station,
)

pytestmark = pytest.mark.anyio
JUNGANG_ID = district_id("jungang")


def hour_at(hour: int) -> str:
    """The start of an hour as the API writes it (UTC, milliseconds)."""
    return at(hour)[:-1] + ".000Z"


async def _hour(air: AirHub, hour: int, a: float, b: float) -> dict[str, Any]:
    """PM10 of 중앙동's two stations for one hour; 중앙동 as the districts API shows it."""
    await air.send_hour(hour, "pm10", {"jungang-a": a, "jungang-b": b})
    shown = {d["id"]: d for d in await air.get("districts")}
    found: dict[str, Any] = shown[JUNGANG_ID]
    return found


def _levels(shown: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["pollutant"], a["levelName"]) for a in shown["alerts"]]


async def test_pm10_advisory_warning_lowered_and_lifted(settings: Settings) -> None:
    async with running(settings) as air:
        await air.create(
            district(*JUNGANG),
            district(*BYEOLYANG),
            station("jungang-a", 126.983, 37.423),
            station("jungang-b", 126.987, 37.427),
            station("byeolyang-a", 126.995, 37.425),
        )
        shown = await _hour(air, 0, 120, 140)  # mean 130
        assert shown["hourly"]["pm10"] == {
            "hour": hour_at(0),
            "value": 130.0,
            "previousHour": None,
            "stations": 2,
        }
        assert shown["alerts"] == []
        shown = await _hour(air, 1, 150, 160)  # 155: the first hour at 150 or more
        assert shown["alerts"] == [] and await air.events() == []
        shown = await _hour(air, 2, 160, 170)  # 165 after 155: two hours → 주의보
        assert _levels(shown) == [("pm10", "주의보")]
        (advisory,) = await air.events()
        assert advisory["eventCode"] == "ENV0010"
        assert advisory["eventName"] == "미세먼지(PM10) 주의보"
        assert (advisory["severity"], advisory["category"]) == ("high", "environment")
        assert advisory["dedupeKey"] == f"air:{JUNGANG_ID}:pm10:advisory"
        assert advisory["source"] == "service:air" and advisory["placeName"] == "중앙동"
        assert advisory["refRelatedEntity"] == JUNGANG_ID
        items = {i["key"]: i["val"] for i in advisory["eventItems"]}
        assert items == {
            "district": JUNGANG_ID,
            "pollutant": "pm10",
            "level": "advisory",
            "hour": hour_at(2),
            "value": "165",
            "threshold": "150",
            "basis": "mean",
        }
        # the fine-dust SOP started by itself (sopTemplate)
        assert advisory["sopTemplate"] == "fine-dust"
        assert advisory["sop"]["template"] == "fine-dust"
        lon, lat = advisory["location"]["coordinates"]
        assert 126.98 < lon < 126.99 and 37.42 < lat < 37.43  # inside 중앙동

        shown = await _hour(air, 3, 310, 320)  # 315, one hour over 300: still 주의보
        assert _levels(shown) == [("pm10", "주의보")]
        assert shown["alerts"][0]["eventId"] == advisory["id"]
        assert shown["alerts"][0]["value"] == "315"  # the open event follows the hour
        shown = await _hour(air, 4, 300, 330)  # 315 again: 경보
        assert _levels(shown) == [("pm10", "경보")]
        (warning,) = await air.events()
        assert (warning["eventCode"], warning["severity"]) == ("ENV0011", "critical")
        assert warning["eventName"] == "미세먼지(PM10) 경보"
        closed = (await air.client.get(f"{EVENTS}/{advisory['id']}", headers=T)).json()
        assert closed["status"] == "cleared"
        r = await air.client.get(
            f"/ngsi-ld/v1/entities/{advisory['id']}", params={"attrs": "status"}, headers=T
        )
        assert r.json()["status"]["reason"]["value"].endswith("경보 발령으로 주의보 대체")

        shown = await _hour(air, 5, 200, 180)  # 190: 150 or more, the 경보 stays
        assert _levels(shown) == [("pm10", "경보")]
        shown = await _hour(air, 6, 140, 130)  # 135 < 150: lowered to 주의보
        assert _levels(shown) == [("pm10", "주의보")]
        (lowered,) = await air.events()
        assert lowered["id"] not in (advisory["id"], warning["id"])  # a new 주의보 (대체 발령)
        assert lowered["eventCode"] == "ENV0010"
        r = await air.client.get(
            f"/ngsi-ld/v1/entities/{warning['id']}", params={"attrs": "status"}, headers=T
        )
        status = r.json()["status"]
        assert status["value"] == "cleared"
        assert status["changedBy"]["value"] == "service:air"
        assert status["reason"]["value"] == (
            "미세먼지(PM10) 시간평균 135 µg/m³ < 150: 경보 해제, 주의보로 하향"
        )
        shown = await _hour(air, 7, 110, 100)  # 105: between 100 and 150, stays
        assert _levels(shown) == [("pm10", "주의보")]
        shown = await _hour(air, 8, 90, 95)  # 92.5 < 100: lifted
        assert shown["alerts"] == [] and await air.events() == []
        r = await air.client.get(
            f"/ngsi-ld/v1/entities/{lowered['id']}", params={"attrs": "status"}, headers=T
        )
        assert r.json()["status"]["reason"]["value"] == (
            "미세먼지(PM10) 시간평균 92.5 µg/m³ < 100: 주의보 해제"
        )
        closed = await air.events("closed")
        assert sorted(e["eventCode"] for e in closed) == ["ENV0010", "ENV0010", "ENV0011"]
        assert all(e["status"] == "cleared" for e in closed)
        # 별양동 never measured anything: no hourly value, no alert
        byeolyang = {d["id"]: d for d in await air.get("districts")}[district_id("byeolyang")]
        assert byeolyang["hourly"] == {} and byeolyang["alerts"] == []


@pytest.mark.parametrize(
    ("basis", "value", "expected"),
    [("mean", 140.0, []), ("max", 200.0, [("pm10", "주의보")])],
)
async def test_alerts_are_per_district_and_by_the_chosen_basis(
    settings: Settings, basis: str, value: float, expected: list[tuple[str, str]]
) -> None:
    """중앙동's stations at 200 and 80: their mean (140) issues nothing, the worst station
    (200) does; 별양동's low station is never in 중앙동's alert, nor 중앙동's in 별양동's."""
    async with running(dataclasses.replace(settings, air_alert_basis=basis)) as air:
        await air.create(
            district(*JUNGANG),
            district(*BYEOLYANG),
            station("jungang-a", 126.983, 37.423),
            station("jungang-b", 126.987, 37.427),
            station("byeolyang-a", 126.995, 37.425),
        )
        for hour in (0, 1):
            values = {"jungang-a": 200.0, "jungang-b": 80.0, "byeolyang-a": 20.0}
            await air.send_hour(hour, "pm10", values)
        shown = {d["id"]: d for d in await air.get("districts")}
        jungang, byeolyang = shown[JUNGANG_ID], shown[district_id("byeolyang")]
        assert _levels(jungang) == expected
        assert jungang["alertBasis"] == basis and jungang["hourly"]["pm10"]["value"] == value
        assert byeolyang["alerts"] == [] and byeolyang["hourly"]["pm10"]["value"] == 20.0
        assert jungang["stations"] == [
            "urn:ngsi-ld:AirQualityObserved:jungang-a",
            "urn:ngsi-ld:AirQualityObserved:jungang-b",
        ]


async def test_pm25_alerts_and_an_unsustained_spike(settings: Settings) -> None:
    async with running(settings) as air:
        await air.create(district(*JUNGANG), station("jungang-a", 126.983, 37.423))
        # a spike, a gap hour, another spike: never two consecutive hours
        await air.send("jungang-a", 0, pm25=90)
        await air.send("jungang-a", 2, pm25=90)
        assert await air.events() == []
        await air.send("jungang-a", 3, pm25=160)  # 160 after 90: 주의보 (both ≥ 75)
        (advisory,) = await air.events()
        assert (advisory["eventCode"], advisory["eventName"]) == (
            "ENV0025",
            "초미세먼지(PM2.5) 주의보",
        )
        await air.send("jungang-a", 4, pm25=150)  # 2 hours ≥ 150: 경보
        (warning,) = await air.events()
        assert warning["eventCode"] == "ENV0026" and warning["severity"] == "critical"
        await air.send("jungang-a", 5, pm25=30)  # below 75 and below 35: straight to none
        assert await air.events() == []
        # the same hour measured again changes nothing: the evaluation is repeatable
        await air.send("jungang-a", 5.5, pm25=30)
        assert await air.events() == []
        assert len(await air.events("closed")) == 2
