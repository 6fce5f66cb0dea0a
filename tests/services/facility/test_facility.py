"""Facility safety on both backends, through the HTTP API: a Guro retaining wall and a bridge with
structural sensors get data safety grades from thresholds and trends, a grade drop raises an
event with the facility-alarm SOP that follows the grade and clears on recovery, the tenant's
own thresholds regrade at once, and the list, layer and report show it all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cityhub.settings import Settings
from tests.ngsild_api import assert_problem
from tests.services.facility.city import City, city, point, prop, rel, stamp

pytestmark = pytest.mark.anyio
BASE = "/cityhub/v1/facilities"
EVENTS = "/cityhub/v1/events"
WALL = "urn:ngsi-ld:Facility:guro-gocheok-retainingwall-3"
BRIDGE = "urn:ngsi-ld:Facility:guro-anyangcheon-bridge-2"
TILT = "urn:ngsi-ld:StructuralHealthObserved:guro-gocheok-T03"
CRACK = "urn:ngsi-ld:StructuralHealthObserved:guro-gocheok-CW01"
SHAKE = "urn:ngsi-ld:Device:guro-anyangcheon-V07"
D0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 10:00 in Seoul


def day(n: float) -> str:
    """D0 plus ``n`` days."""
    return stamp(D0, days=n)


def facilities() -> list[dict[str, Any]]:
    """A retaining wall and a footbridge in Guro, with their sensors."""
    return [
        {
            "id": WALL,
            "type": "Facility",
            "name": prop("고척동 옹벽 3"),
            "structureType": prop("retainingWall"),
            "yearBuilt": prop(1978),
            "location": point(126.8668, 37.5016),
        },
        {
            "id": BRIDGE,
            "type": "Facility",
            "name": prop("안양천 보행교 2"),
            "structureType": prop("bridge"),
            "location": point(126.8795, 37.5083),
        },
        {  # tilt on two axes (resultant 0.04°), linked the way the model says
            "id": TILT,
            "type": "StructuralHealthObserved",
            "tiltX": prop(0.024, day(0), "DD"),
            "tiltY": prop(-0.032, day(0), "DD"),
            "refStructure": rel(WALL),
        },
        {
            "id": CRACK,
            "type": "StructuralHealthObserved",
            "crackWidth": prop(0.12, day(0), "MMT"),
            "refFacility": rel(WALL),
        },
        {  # a vibration meter provisioned as a Device watching the bridge
            "id": SHAKE,
            "type": "Device",
            "vibrationVelocity": prop(4.0, day(0)),
            "controlledAsset": rel(BRIDGE),
        },
    ]


async def crack(c: City, width: float, at: str) -> None:
    await c.update(CRACK, {"crackWidth": prop(width, at, "MMT")})


async def graded(c: City) -> dict[str, str]:
    body = await c.get(BASE)
    return {f["id"]: f["safetyGrade"] for f in body["facilities"]}


async def test_grades_drop_raise_follow_and_clear(settings: Settings) -> None:
    async with city(settings) as c:
        await c.create(*facilities())
        # the crack (0.12 mm) makes the wall B; 4 mm/s is B on a bridge (D elsewhere)
        assert await graded(c) == {WALL: "B", BRIDGE: "B"}
        wall = await c.entity(WALL)
        assert wall["gradeReason"] == f"crackWidth 0.12 mm on {CRACK}: B (≥ 0.1 mm)"
        assert await c.events() == []

        await crack(c, 0.21, day(8))  # C by value; nothing within the 7 days before it
        (event,) = await c.events(state="open")
        assert event["eventCode"] == "FAC0101" and event["category"] == "facility"
        assert (event["severity"], event["eventGrade"]) == ("medium", "C")
        assert event["refRelatedEntity"] == WALL and event["placeName"] == "고척동 옹벽 3"
        assert event["location"]["coordinates"] == [126.8668, 37.5016]
        assert event["sop"]["template"] == "facility-alarm"

        await crack(c, 0.29, day(10))  # still C: it grew 0.08 mm in 7 days, under 0.1
        assert (await graded(c))[WALL] == "C"
        await crack(c, 0.33, day(12))  # D by value, and 0.12 mm wider than on day 8: E
        assert (await graded(c))[WALL] == "E"
        wall = await c.entity(WALL)
        assert wall["gradeReason"] == (
            f"crackWidth 0.33 mm on {CRACK}: D (≥ 0.3 mm); grew 0.12 mm within P7D: E"
        )
        (same,) = await c.events(state="open")
        assert same["id"] == event["id"]  # one event per facility, following the grade
        assert (same["severity"], same["eventGrade"]) == ("critical", "E")

        await crack(c, 0.05, day(20))  # repaired: the gauge reads a new, hairline crack
        assert (await graded(c))[WALL] == "A"
        assert await c.events(state="open") == []
        cleared = await c.get(f"{EVENTS}/{event['id']}")
        assert cleared["status"] == "cleared" and cleared["statusCode"] == "50"

        report = await c.get(f"{BASE}/{WALL}/report", **{"from": day(-1), "to": day(21)})
        assert [(h["grade"], h["at"]) for h in report["gradeHistory"]] == [
            ("B", "2026-03-02T01:00:00.000Z"),
            ("C", "2026-03-10T01:00:00.000Z"),
            ("E", "2026-03-14T01:00:00.000Z"),
            ("A", "2026-03-22T01:00:00.000Z"),
        ]
        assert report["gradeHistory"][2]["reason"].endswith("grew 0.12 mm within P7D: E")
        assert report["gradeAtStart"] is None and report["worstGrade"] == "E"
        sensors = {s["id"]: s["measures"] for s in report["sensors"]}
        assert sensors[CRACK]["crackWidth"] == {
            "unit": "mm",
            "count": 5,
            "min": 0.05,
            "max": 0.33,
            "latest": {"value": 0.05, "observedAt": "2026-03-22T01:00:00.000Z"},
            "exceedances": 3,
        }
        assert sensors[TILT]["tilt"]["max"] == pytest.approx(0.04)
        assert report["exceedanceCount"] == 3
        assert [(e["value"], e["grade"]) for e in report["exceedances"]] == [
            (0.21, "C"),
            (0.29, "C"),
            (0.33, "D"),
        ]
        later = await c.get(f"{BASE}/{WALL}/report", **{"from": "2026-03-11", "to": day(30)})
        assert later["gradeAtStart"] == "C"
        assert [h["grade"] for h in later["gradeHistory"]] == ["E", "A"]
        counts = {s["id"]: s["measures"] for s in later["sensors"]}
        assert counts[CRACK]["crackWidth"]["count"] == 3  # days 10, 12 and 20


async def test_thresholds_regrade_and_list(settings: Settings) -> None:
    async with city(settings) as c:
        await c.create(*facilities())
        shown = await c.get(f"{BASE}/thresholds")
        assert shown["custom"] is False
        assert shown["thresholds"]["default"]["tilt"]["bounds"] == [0.05, 0.1, 0.2, 0.5]
        # the city calibrates bridge vibration: 4 mm/s is now E
        table = shown["thresholds"]
        table["bridge"]["vibrationVelocity"]["bounds"] = [1, 2, 3, 4]
        r = await c.client.put(f"{BASE}/thresholds", json=table)
        assert r.status_code == 200, r.text
        assert r.json()["custom"] is True and r.json()["regraded"] == 2
        await c.settle()
        assert await graded(c) == {BRIDGE: "E", WALL: "B"}
        (event,) = await c.events(state="open")
        assert (event["refRelatedEntity"], event["severity"]) == (BRIDGE, "critical")

        body = await c.get(BASE, grade="D,E")
        assert [f["id"] for f in body["facilities"]] == [BRIDGE]
        assert body["byGrade"] == {"A": 0, "B": 0, "C": 0, "D": 0, "E": 1, "ungraded": 0}
        assert (await c.get(BASE, structureType="retainingWall"))["byGrade"]["B"] == 1
        layer = await c.get(f"{BASE}/layer")
        assert layer["type"] == "FeatureCollection"
        colors = {f["id"]: f["properties"]["color"] for f in layer["features"]}
        assert colors == {BRIDGE: "#c62828", WALL: "#9ccc65"}

        # back to the defaults: the bridge is B again and its event clears
        assert (await c.client.delete(f"{BASE}/thresholds")).status_code == 204
        await c.settle()
        assert (await graded(c))[BRIDGE] == "B"
        assert await c.events(state="open") == []
        assert (await c.get(f"{BASE}/thresholds"))["custom"] is False


async def test_tilt_resultant_and_bad_requests(settings: Settings) -> None:
    async with city(settings) as c:
        await c.create(*facilities())
        # 0.3° and 0.4° on the two axes lean 0.5°: E
        await c.update(TILT, {"tiltX": prop(0.3, day(1), "DD"), "tiltY": prop(0.4, day(1), "DD")})
        wall = await c.entity(WALL)
        assert wall["safetyGrade"] == "E" and wall["gradeReason"].startswith("tilt 0.5 degree")
        # upright again on day 3: the crack's reading of day 0 decides (B), from day 3 on
        await c.update(TILT, {"tiltX": prop(0.03, day(3), "DD"), "tiltY": prop(0, day(3), "DD")})
        report = await c.get(f"{BASE}/{WALL}/report", **{"from": day(-1), "to": day(4)})
        assert [(h["grade"], h["at"][:10]) for h in report["gradeHistory"]] == [
            ("B", "2026-03-02"),
            ("E", "2026-03-03"),
            ("B", "2026-03-05"),
        ]

        bad = dict((await c.get(f"{BASE}/thresholds"))["thresholds"])
        bad["default"] = {"tilt": {"bounds": [0.1, 0.05, 0.2, 0.5]}}
        problem = assert_problem(
            await c.client.put(f"{BASE}/thresholds", json=bad), "BadRequestData", 400
        )
        assert "default.tilt.bounds" in problem["detail"]
        trend = {"default": {"tilt": {"bounds": [1, 2, 3, 4], "trend": {"window": "P1M"}}}}
        problem = assert_problem(
            await c.client.put(f"{BASE}/thresholds", json=trend), "BadRequestData", 400
        )
        assert "default.tilt.trend" in problem["detail"]
        assert_problem(await c.client.get(BASE, params={"grade": "F"}), "BadRequestData", 400)
        problem = assert_problem(
            await c.client.get(f"{BASE}/{WALL}/report", params={"from": day(2), "to": day(1)}),
            "BadRequestData",
            400,
        )
        assert "from" in problem["detail"]
        assert_problem(
            await c.client.get(f"{BASE}/{WALL}/report", params={"to": "yesterday"}),
            "BadRequestData",
            400,
        )
        assert_problem(
            await c.client.get(f"{BASE}/urn:ngsi-ld:Facility:nowhere/report"),
            "ResourceNotFound",
            404,
        )
        assert_problem(
            await c.client.get(f"{BASE}/{CRACK}/report"), "ResourceNotFound", 404
        )  # a sensor is not a facility
