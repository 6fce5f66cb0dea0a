"""Count rules: three facility alarms within ten minutes."""

from __future__ import annotations

import pytest

from tests.ops.rules.conftest import RulesHub, at, moment, prop

pytestmark = pytest.mark.anyio
ALARMS = {
    "id": "facility-alarms",
    "name": "시설물 경보 10분 내 3회",
    "kind": "count",
    "entityType": "FacilityAlarm",
    "q": 'alarmStatus=="active"',
    "count": 3,
    "window": "PT10M",
    "event": {"eventCode": "FAC0003", "eventName": "시설물 경보 다발", "severity": "medium"},
}


def alarm(n: int, status: str, minutes: float) -> dict[str, object]:
    return {
        "id": f"urn:ngsi-ld:FacilityAlarm:{n}",
        "type": "FacilityAlarm",
        "alarmStatus": prop(status, at(minutes=minutes)),
    }


async def test_three_alarms_in_ten_minutes_by_type(rh: RulesHub) -> None:
    await rh.add_rule(ALARMS)
    await rh.create(alarm(1, "active", 0))
    await rh.create(alarm(2, "cleared", 2))  # not matching q: not counted
    await rh.create(alarm(3, "active", 4))
    assert await rh.events() == []
    await rh.create(alarm(4, "active", 20))  # the first two are out of the window
    assert await rh.events() == []
    await rh.create(alarm(5, "active", 25))
    await rh.create(alarm(6, "active", 27))
    [event] = await rh.events("open")
    assert event["dedupeKey"] == "rule:facility-alarms"
    assert event["occurrenceCount"] == 1
    items = {i["key"]: i["val"] for i in event["eventItems"]}
    assert items["since"] == "2026-01-10T00:20:00.000Z" and items["count"] == "3"
    # three more: another occurrence of the open event
    for n, minutes in ((7, 28), (8, 29), (9, 30)):
        await rh.create(alarm(n, "active", minutes))
    [event] = await rh.events("open")
    assert event["occurrenceCount"] == 2
    # expired windows are forgotten by the periodic check
    assert await rh.check(moment(hours=2)) == 0
    r = await rh.client.get("/cityhub/v1/rules/facility-alarms")
    assert r.json()["state"] == {"active": [], "pending": []}


async def test_grouped_by_entity(rh: RulesHub) -> None:
    await rh.add_rule(ALARMS | {"groupBy": "entity"})
    await rh.create(alarm(1, "active", 0))
    await rh.create(alarm(2, "active", 1))
    await rh.create(alarm(3, "active", 2))
    assert await rh.events() == []  # one each
    eid = "urn:ngsi-ld:FacilityAlarm:1"
    await rh.update(eid, {"alarmStatus": prop("active", at(minutes=3))})
    await rh.update(eid, {"alarmStatus": prop("active", at(minutes=4))})
    [event] = await rh.events("open")
    assert event["dedupeKey"] == f"rule:facility-alarms:{eid}"
