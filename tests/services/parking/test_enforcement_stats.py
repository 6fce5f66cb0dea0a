"""Enforcement statistics per zone and Seoul hour, the service's default rules and SOP
templates at work (a hydrant violation reaches the fire station's inbox), and violations on
the 119 dispatch route, with auth on, on both backends."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from cityhub.services.parking.enforcement import ENFORCEMENT_RULES, ENFORCEMENT_SOPS
from cityhub.settings import Settings
from tests.auth.test_access import Hub, _hub
from tests.ngsild_api import assert_problem
from tests.ops.test_linked import city as linked_city
from tests.services.parking.test_enforcement import (
    ELSEWHERE,
    HYDRANT,
    IN_A,
    NEAR_HYDRANT,
    ZONE_A,
    ZONE_B,
    E,
    T,
    Users,
    at,
    center,
    register,
    seen,
    sight,
)

pytestmark = pytest.mark.anyio
__all__ = ["center"]  # the fixture, shared
IN_B = (126.9915, 37.4293)


def _hour(hour: int, sightings: int, notices: int, violations: int, moved: int) -> dict[str, int]:
    return {
        "hour": hour,
        "sightings": sightings,
        "preNotices": notices,
        "violations": violations,
        "movedAfterNotice": moved,
    }


async def test_statistics_per_zone_and_hour(center: tuple[Hub, Users]) -> None:
    hub, users = center
    officer = users["officer"]
    await register(hub, users["kim"], "12가3456", "010-1234-5678")
    await register(hub, users["lee"], "34나5678", "010-5555-6666")
    # the evening before, outside the window: a notice, then nothing more
    await sight(
        hub, officer, seen("34나5678", "00:00:00", IN_A) | {"at": "2026-11-15T23:50:00+09:00"}
    )
    for plate, clock, where, camera in (
        ("12가3456", "10:00:00", IN_A, "bus-0412"),  # notice
        ("12가3456", "10:05:00", IN_A, "bus-0415"),  # violation
        ("34나5678", "10:20:00", IN_A, "bus-0418"),  # notice
        ("34나5678", "10:24:00", ELSEWHERE, "mobile-07"),  # moved after it
        ("56다7890", "10:58:00", IN_A, "bus-0421"),  # no phone
        ("56다7890", "11:02:00", IN_A, "bus-0424"),  # not yet; never seen again
        ("78라1234", "11:30:00", NEAR_HYDRANT, "cctv-031"),  # immediate
        ("90마5678", "11:45:00", ELSEWHERE, "mobile-07"),
        ("12가3456", "12:10:00", IN_B, "bus-0412"),  # notice; not seen again: expired
    ):
        await sight(hub, officer, seen(plate, clock, where, camera))
    r = await hub.client.get(
        f"{E}/stats", params={"from": at("00:00:00"), "to": "2026-11-17T00:00:00+09:00"},
        headers=officer | T,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    found = r.json()
    assert (found["from"], found["to"]) == ("2026-11-15T15:00:00.000Z", "2026-11-16T15:00:00.000Z")
    assert found["totals"] == {
        "sightings": 9,
        "preNotices": 3,
        "violations": 2,
        "movedAfterNotice": 2,
        "fines": 120000,
    }
    zones = {(z["zone"] or {}).get("id"): z for z in found["zones"]}
    assert list(zones) == [ZONE_A, ZONE_B, HYDRANT, None]
    assert zones[ZONE_A]["zone"] == {
        "id": ZONE_A,
        "name": "별양로 1구간",
        "category": "general",
        "type": "normal",
    }
    assert zones[ZONE_A]["hours"] == [_hour(10, 4, 2, 1, 1), _hour(11, 1, 0, 0, 0)]
    assert zones[ZONE_A]["totals"]["fines"] == 40000
    assert zones[ZONE_B]["hours"] == [_hour(12, 1, 1, 0, 1)]
    assert zones[HYDRANT]["hours"] == [_hour(11, 1, 0, 1, 0)]
    assert zones[HYDRANT]["zone"]["type"] == "immediate"
    assert zones[HYDRANT]["totals"]["fines"] == 80000
    assert zones[None]["hours"] == [_hour(10, 1, 0, 0, 0), _hour(11, 1, 0, 0, 0)]
    # one hour of it
    r = await hub.client.get(
        f"{E}/stats", params={"from": at("10:00:00"), "to": at("11:00:00")}, headers=officer | T
    )
    assert r.json()["totals"] == {
        "sightings": 5,
        "preNotices": 2,
        "violations": 1,
        "movedAfterNotice": 1,
        "fines": 40000,
    }
    for params, message in (
        ({"from": at("11:00:00"), "to": at("10:00:00")}, "from must be before to"),
        ({"from": "2026-11-16T10:00:00"}, "from needs a time zone"),
        ({"from": "2024-01-01T00:00:00Z", "to": at("10:00:00")}, "at most 366 days"),
    ):
        r = await hub.client.get(f"{E}/stats", params=params, headers=officer | T)
        assert message in assert_problem(r, "BadRequestData", 400)["detail"]


async def _checklist(hub: Hub, who: dict[str, str], event_id: str) -> dict[str, Any]:
    """The event's SOP checklist once its automatic steps have run."""
    deadline = time.monotonic() + 10
    while True:
        r = await hub.client.get(f"/ngsi-ld/v1/entities/{event_id}", headers=who | T)
        sop = r.json().get("sop")
        if sop is not None and all(
            s["status"] != "pending" for s in sop["value"]["steps"] if "auto" in s
        ):
            found: dict[str, Any] = sop["value"]
            return found
        assert time.monotonic() < deadline, f"no SOP on {event_id}: {r.text}"
        await asyncio.sleep(0.05)


async def test_the_default_rules_and_sops_take_a_hydrant_violation_to_the_fire_station(
    center: tuple[Hub, Users],
) -> None:
    hub, users = center
    officer, c = users["officer"], hub.client
    for rule in ENFORCEMENT_RULES:
        r = await c.post("/cityhub/v1/rules", json=rule, headers=officer | T)
        assert r.status_code == 201, r.text
    for template in ENFORCEMENT_SOPS:
        r = await c.put(f"/cityhub/v1/sops/{template['id']}", json=template, headers=officer | T)
        assert r.status_code == 201, r.text
    found = await sight(hub, officer, seen("12가3456", "14:30:10", NEAR_HYDRANT, "cctv-031"))
    [event] = (
        await c.get("/cityhub/v1/events", params={"eventCode": "TRF0105"}, headers=officer | T)
    ).json()
    assert event["refRelatedEntity"] == found["violationId"]
    sop = await _checklist(hub, officer, event["id"])
    assert sop["template"] == "parking-hydrant"
    steps = {s["id"]: s["status"] for s in sop["steps"]}
    assert steps["notify-fire"] == "done" and steps["dispatch-tow"] == "pending"
    inbox = (await c.get("/cityhub/v1/inbox", headers=users["fire"] | T)).json()
    [message] = [m["text"] for m in inbox]
    assert message.startswith(
        "[소화전 불법 주정차] 소화전·소방시설 주변 불법 주정차 - 별양동 소화전 153 주변 (2026-"
    )


async def test_violations_on_the_119_route(settings: Settings) -> None:
    async for hub in _hub(settings):
        admin = await hub.login("admin", hub.admin_password)
        r = await hub.client.post(
            "/ngsi-ld/v1/entityOperations/upsert", json=linked_city(), headers=admin | T
        )
        assert r.status_code == 201, r.text
        officer = await hub.user("officer-park", {"role": "operator", "tenant": "gwacheon"})
        fire = await hub.user("fire119", {"role": "agency", "tenant": "gwacheon"})
        # a car 2 m from hydrant H-1 on 중앙로, the way from 과천소방서
        car = (126.99202, 37.43002)
        found = await sight(hub, officer, seen("12가3456", "14:00:00", car, "cctv-031"))
        assert found["outcome"] == "violation"
        request = {
            "service": "119-dispatch",
            "location": {"type": "Point", "coordinates": [126.9942, 37.4330]},
            "place": "과천시 별양동 1-1",
        }
        r = await hub.client.post("/cityhub/v1/linked/requests", json=request, headers=fire | T)
        parked = [v["id"] for v in r.json()["route"]["illegallyParked"]]
        assert parked == [found["violationId"], "urn:ngsi-ld:ParkingViolation:V-1"]
        # the car is seen driving elsewhere: it no longer blocks the way
        await sight(hub, officer, seen("12가3456", "14:20:00", (127.0, 37.44), "mobile-07"))
        r = await hub.client.post("/cityhub/v1/linked/requests", json=request, headers=fire | T)
        parked = [v["id"] for v in r.json()["route"]["illegallyParked"]]
        assert parked == ["urn:ngsi-ld:ParkingViolation:V-1"]
