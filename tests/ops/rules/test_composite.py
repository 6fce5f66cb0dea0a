"""Composite rules: the river is high AND the riverside parking lot is occupied → flood
evacuation; windows keep a rule "on" for a while after it ended."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ops.rules.conftest import RULES, RulesHub, at, moment, prop

pytestmark = pytest.mark.anyio
RIVER = "urn:ngsi-ld:WaterLevelObserved:yangjaecheon-3"
LOT = "urn:ngsi-ld:OffStreetParking:yangjaecheon-riverside"
EVENT = {"eventCode": "DIS0101", "eventName": "하천변 주차장 침수 대피", "severity": "critical"}
RULES_FOR_FLOOD: list[dict[str, Any]] = [
    {
        "id": "river-high",
        "kind": "threshold",
        "entityType": "WaterLevelObserved",
        "q": "waterLevel>=3.5",
        "event": {"eventCode": "DIS0001", "eventName": "하천 수위 경계"},
    },
    {
        "id": "lot-occupied",
        "kind": "threshold",
        "entityType": "OffStreetParking",
        "q": "occupiedSpotNumber>0",
        "event": {"eventCode": "PRK0100", "eventName": "하천변 주차장 사용 중"},
    },
]
FLOOD = {
    "id": "flood-evacuation",
    "name": "하천 수위 경계 + 하천변 주차장 사용 중 → 대피 안내",
    "kind": "composite",
    "all": ["river-high", "lot-occupied"],
    "event": EVENT,
}


def by_code(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["eventCode"]: e for e in events}


async def test_all_of_two_rules(rh: RulesHub) -> None:
    for rule in RULES_FOR_FLOOD:
        await rh.add_rule(rule)
    await rh.add_rule(FLOOD)
    await rh.create({"id": RIVER, "type": "WaterLevelObserved", "waterLevel": prop(3.8, at())})
    assert "DIS0101" not in by_code(await rh.events("open"))
    await rh.create(
        {"id": LOT, "type": "OffStreetParking", "occupiedSpotNumber": prop(12, at(minutes=5))}
    )
    flood = by_code(await rh.events("open"))["DIS0101"]
    assert flood["dedupeKey"] == "rule:flood-evacuation" and flood["severity"] == "critical"
    items = {i["key"]: i["val"] for i in flood["eventItems"]}
    assert items["rule:river-high"] == "on" and items["rule:lot-occupied"] == "on"
    await rh.update(LOT, {"occupiedSpotNumber": prop(0, at(minutes=30))})
    assert "DIS0101" not in by_code(await rh.events("open"))
    assert by_code(await rh.events("closed"))["DIS0101"]["status"] == "cleared"


async def test_window_and_not(rh: RulesHub) -> None:
    for rule in RULES_FOR_FLOOD:
        await rh.add_rule(rule)
    await rh.add_rule(FLOOD | {"window": "PT30M"})
    await rh.create({"id": RIVER, "type": "WaterLevelObserved", "waterLevel": prop(3.8, at())})
    await rh.update(RIVER, {"waterLevel": prop(2.0, at(minutes=10))})  # river-high ended
    await rh.create(
        {"id": LOT, "type": "OffStreetParking", "occupiedSpotNumber": prop(3, at(minutes=20))}
    )
    # river-high ended 10 minutes before: within the window, it still counts
    assert "DIS0101" in by_code(await rh.events("open"))
    assert await rh.check(moment(minutes=39)) == 0
    assert await rh.check(moment(minutes=41)) == 1  # the window is over: cleared
    assert "DIS0101" not in by_code(await rh.events("open"))
    # "not": the lot is occupied while the river is NOT high
    await rh.add_rule(
        {
            "id": "lot-safe",
            "kind": "composite",
            "all": ["lot-occupied"],
            "not": ["river-high"],
            "event": {"eventCode": "PRK0200", "eventName": "주차장 정상 운영"},
        }
    )
    await rh.update(LOT, {"occupiedSpotNumber": prop(4, at(minutes=50))})
    await rh.update(LOT, {"occupiedSpotNumber": prop(0, at(minutes=51))})
    await rh.update(LOT, {"occupiedSpotNumber": prop(4, at(minutes=52))})
    assert "PRK0200" in by_code(await rh.events("open"))
    await rh.update(RIVER, {"waterLevel": prop(4.0, at(minutes=55))})
    assert "PRK0200" not in by_code(await rh.events("open"))


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (FLOOD, "refers to 'river-high': no such rule"),
        (FLOOD | {"all": []}, 'needs "all" or "any"'),
        (FLOOD | {"all": ["flood-evacuation"]}, "cannot refer to itself"),
        (FLOOD | {"window": "P1M"}, "years and months are not exact"),
    ],
)
async def test_bad_composites(rh: RulesHub, body: dict[str, Any], says: str) -> None:
    r = await rh.client.post(RULES, json=body)
    assert r.status_code == 400 and says in r.json()["detail"], r.text
