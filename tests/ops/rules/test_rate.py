"""Rate-of-change rules and comparisons between attributes, through the public API, on both
backends: a river rising 0.5 m within 10 minutes (measured with observedAt, late values in
order), its clearing once steady, a lot fuller than 90 % of its capacity, and bad documents."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ngsild_api import assert_problem
from tests.ops.rules.conftest import RULES, RulesHub, at, point, prop

pytestmark = pytest.mark.anyio
RIVER = "urn:ngsi-ld:WaterLevelObserved:yangjae-2"
LOT = "urn:ngsi-ld:OffStreetParking:riverside"
RISING = {
    "id": "river-rising",
    "kind": "rate",
    "entityType": "WaterLevelObserved",
    "attribute": "level",
    "rise": 0.5,
    "within": "PT10M",
    "event": {"eventCode": "DIS0102", "eventName": "하천 수위 급상승", "category": "disaster"},
}


async def test_a_fast_rise_raises_and_a_steady_river_clears(rh: RulesHub) -> None:
    await rh.add_rule(RISING)
    river = {
        "id": RIVER,
        "type": "WaterLevelObserved",
        "level": prop(1.0, at()),
        "location": point(127.03, 37.47),
    }
    await rh.create(river)
    await rh.update(RIVER, {"level": prop(1.3, at(minutes=5))})
    await rh.update(RIVER, {"level": prop(1.45, at(minutes=20))})  # slow: 0.45 in 15 min
    assert await rh.events() == []
    await rh.update(RIVER, {"level": prop(1.96, at(minutes=28))})  # +0.51 within 8 minutes
    [event] = await rh.events("open")
    items = {i["key"]: i["val"] for i in event["eventItems"]}
    assert items["change"] == "+0.51" and items["within"] == "PT10M"
    assert event["location"]["coordinates"] == [127.03, 37.47]
    await rh.update(RIVER, {"level": prop(2.0, at(minutes=45))})  # steady now
    assert await rh.events("open") == []
    [cleared] = await rh.events("closed")
    assert cleared["status"] == "cleared"


async def test_falling_and_late_values(rh: RulesHub) -> None:
    await rh.add_rule(RISING | {"id": "river-falling", "rise": None, "fall": 1.0})
    river = {"id": RIVER, "type": "WaterLevelObserved", "level": prop(3.0, at(minutes=10))}
    await rh.create(river)
    # a value taken earlier arrives late: it does not count as a fall from 3.0
    await rh.update(RIVER, {"level": prop(1.5, at(minutes=1))})
    assert await rh.events() == []
    await rh.update(RIVER, {"level": prop(1.9, at(minutes=15))})  # 3.0 → 1.9 in 5 minutes
    [event] = await rh.events("open")
    assert {i["key"]: i["val"] for i in event["eventItems"]}["change"] == "-1.1"


async def test_one_attribute_compared_with_another(rh: RulesHub) -> None:
    full = {
        "id": "lot-full",
        "kind": "threshold",
        "entityType": "OffStreetParking",
        "compare": {
            "attribute": "occupiedSpotNumber",
            "op": ">=",
            "than": "totalSpotNumber",
            "factor": 0.9,
        },
        "event": {"eventCode": "PRK0009", "eventName": "주차장 만차 임박", "category": "parking"},
    }
    await rh.add_rule(full)
    lot = {
        "id": LOT,
        "type": "OffStreetParking",
        "totalSpotNumber": prop(200),
        "occupiedSpotNumber": prop(170),
    }
    await rh.create(lot)
    assert await rh.events() == []
    await rh.update(LOT, {"occupiedSpotNumber": prop(185)})  # 185 ≥ 180
    assert len(await rh.events("open")) == 1
    await rh.update(LOT, {"totalSpotNumber": prop(240)})  # capacity grew: 185 < 216
    assert await rh.events("open") == []


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"attribute": None}, '"attribute"'),
        ({"rise": None}, '"rise" or "fall"'),
        ({"rise": -1}, '"rise" must be a number above 0'),
        ({"within": None}, '"within"'),
        ({"within": "PT0S"}, "longer than zero"),
        ({"for": "PT1H"}, "unknown members"),
    ],
)
async def test_bad_rate_rules(rh: RulesHub, change: dict[str, Any], says: str) -> None:
    body = {k: v for k, v in (RISING | change).items() if v is not None}
    r = await rh.client.post(RULES, json=body)
    assert says in assert_problem(r, "BadRequestData", 400)["detail"]


@pytest.mark.parametrize(
    ("compare", "says"),
    [
        ({"attribute": "a", "op": "=>", "than": "b"}, "compare[0].op"),
        ({"attribute": "a", "op": ">"}, '"than"'),
        ([], "one or a list"),
        ({"attribute": "a", "op": ">", "than": "b", "factor": "x"}, "factor"),
    ],
)
async def test_bad_comparisons(rh: RulesHub, compare: Any, says: str) -> None:
    body = {
        "id": "bad",
        "kind": "threshold",
        "entityType": "OffStreetParking",
        "compare": compare,
        "event": {"eventCode": "X1", "eventName": "x"},
    }
    r = await rh.client.post(RULES, json=body)
    assert says in assert_problem(r, "BadRequestData", 400)["detail"]


async def test_dry_run_of_a_rate_rule(rh: RulesHub) -> None:
    river = {"id": RIVER, "type": "WaterLevelObserved", "level": prop(1.0, at())}
    await rh.create(river)
    for minutes, value in ((5, 1.2), (8, 1.7), (30, 1.75)):
        await rh.update(RIVER, {"level": prop(value, at(minutes=minutes))})
    r = await rh.client.post(
        f"{RULES}/draft/dry-run",
        params={"from": at(minutes=-1), "to": at(hours=1)},
        json={k: v for k, v in RISING.items() if k != "id"},
    )
    assert r.status_code == 200, r.text
    assert [(e["action"], e["at"]) for e in r.json()["events"]] == [
        ("raise", "2026-01-10T00:08:00.000Z"),
        ("clear", "2026-01-10T00:30:00.000Z"),
    ]
    assert await rh.events() == []
