"""Geofence rules: a vehicle dwelling 5 minutes within 5 m of a fire hydrant; entering and
leaving an area."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ops.rules.conftest import RULES, RulesHub, at, moment

pytestmark = pytest.mark.anyio
CAR = "urn:ngsi-ld:Vehicle:12가3456"
HYDRANT = (126.9876, 37.4292)
NEAR = (126.9876, 37.429227)  # about 3 m north
FAR = (126.9876, 37.4294)  # about 22 m north
HYDRANT_RULE = {
    "id": "hydrant-parking",
    "name": "소화전 5m 이내 5분 정차",
    "kind": "geofence",
    "entityType": "Vehicle",
    "near": {"entityType": "FireHydrant", "distance": 5},
    "on": "dwell",
    "dwell": "PT5M",
    "event": {"eventCode": "TRF0105", "eventName": "소화전 주변 불법 주정차", "severity": "medium"},
}
PARK = {
    "type": "Polygon",
    "coordinates": [
        [[127.0, 37.0], [127.01, 37.0], [127.01, 37.01], [127.0, 37.01], [127.0, 37.0]]
    ],
}


def place(where: tuple[float, float], observed: str) -> dict[str, Any]:
    return {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": list(where)},
        "observedAt": observed,
    }


async def test_dwelling_near_a_hydrant(rh: RulesHub) -> None:
    await rh.create(
        {"id": "urn:ngsi-ld:FireHydrant:1", "type": "FireHydrant", "location": place(HYDRANT, at())}
    )
    await rh.add_rule(HYDRANT_RULE)
    await rh.create({"id": CAR, "type": "Vehicle", "location": place(NEAR, at())})
    await rh.update(CAR, {"location": place(NEAR, at(minutes=4))})
    assert await rh.events() == []
    await rh.update(CAR, {"location": place(NEAR, at(minutes=5))})
    [event] = await rh.events("open")
    assert event["dedupeKey"] == f"rule:hydrant-parking:{CAR}"
    assert event["location"]["coordinates"] == list(NEAR)
    await rh.update(CAR, {"location": place(FAR, at(minutes=7))})
    assert await rh.events("open") == []
    # back, and staying with no new position: the periodic check fires
    await rh.update(CAR, {"location": place(NEAR, at(minutes=10))})
    assert await rh.check(moment(minutes=14)) == 0
    assert await rh.check(moment(minutes=15)) == 1
    assert len(await rh.events("open")) == 1


async def test_a_hydrant_added_later_counts(rh: RulesHub) -> None:
    await rh.add_rule(HYDRANT_RULE | {"dwell": "PT0S"})
    await rh.create({"id": CAR, "type": "Vehicle", "location": place(NEAR, at())})
    assert await rh.events() == []
    await rh.create(
        {"id": "urn:ngsi-ld:FireHydrant:1", "type": "FireHydrant", "location": place(HYDRANT, at())}
    )
    await rh.update(CAR, {"location": place(NEAR, at(minutes=1))})
    assert len(await rh.events("open")) == 1


async def test_entering_and_leaving_an_area(rh: RulesHub) -> None:
    enter = {
        "id": "park-enter",
        "kind": "geofence",
        "entityType": "Vehicle",
        "area": PARK,
        "on": "enter",
        "event": {"eventCode": "PRK0001", "eventName": "공원 차량 진입"},
    }
    await rh.add_rule(enter)
    await rh.add_rule(enter | {"id": "park-leave", "on": "leave"})
    await rh.create({"id": CAR, "type": "Vehicle", "location": place((126.99, 37.005), at())})
    assert await rh.events() == []
    await rh.update(CAR, {"location": place((127.005, 37.005), at(minutes=1))})
    [entered] = await rh.events("open")
    assert entered["dedupeKey"] == f"rule:park-enter:{CAR}"
    await rh.update(CAR, {"location": place((127.02, 37.005), at(minutes=2))})
    [left] = await rh.events("open")
    assert left["dedupeKey"] == f"rule:park-leave:{CAR}"
    await rh.update(CAR, {"location": place((127.005, 37.005), at(minutes=3))})
    [again] = await rh.events("open")  # back in: "left" cleared, "entered" raised again
    assert again["dedupeKey"] == f"rule:park-enter:{CAR}" and again["id"] != entered["id"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"near": None}, 'either "area" or "near"'),
        ({"near": {"entityType": "FireHydrant", "distance": -1}}, '"distance" must be metres'),
        ({"on": "hover"}, '"on" must be one of enter, leave, dwell'),
        ({"dwell": "5 minutes"}, "\"dwell\" '5 minutes' is not an ISO 8601 duration"),
        ({"area": PARK}, 'either "area" or "near"'),
    ],
)
async def test_bad_geofences(rh: RulesHub, change: dict[str, Any], says: str) -> None:
    rule = {k: v for k, v in (HYDRANT_RULE | change).items() if v is not None}
    r = await rh.client.post(RULES, json=rule)
    assert r.status_code == 400 and says in r.json()["detail"], r.text
