"""Absence rules: an elderly household's motion sensor not seeing motion for 12 h, a sensor
not updated for an hour; raised by the periodic check, cleared by the next update."""

from __future__ import annotations

import pytest

from tests.ops.rules.conftest import RulesHub, at, moment, point, prop

pytestmark = pytest.mark.anyio
SENSOR = "urn:ngsi-ld:MotionSensor:gwacheon-elder-17"
NO_MOTION = {
    "id": "elder-no-motion",
    "name": "독거노인 가구 12시간 움직임 없음",
    "kind": "absence",
    "entityType": "MotionSensor",
    "q": "motionDetected==true",
    "for": "PT12H",
    "event": {
        "eventCode": "CARE0012",
        "eventName": "독거노인 움직임 미감지",
        "severity": "high",
        "category": "welfare",
    },
}


async def test_no_motion_for_twelve_hours(rh: RulesHub) -> None:
    await rh.add_rule(NO_MOTION)
    await rh.create(
        {
            "id": SENSOR,
            "type": "MotionSensor",
            "motionDetected": prop(True, at()),
            "location": point(126.99, 37.43),
        }
    )
    # updates without motion do not count as seen
    await rh.update(SENSOR, {"motionDetected": prop(False, at(hours=6))})
    assert await rh.check(moment(hours=11, minutes=59)) == 0
    assert await rh.check(moment(hours=12)) == 1
    [event] = await rh.events("open")
    assert event["dedupeKey"] == f"rule:elder-no-motion:{SENSOR}"
    assert event["eventCode"] == "CARE0012" and event["refRelatedEntity"] == SENSOR
    assert event["location"]["coordinates"] == [126.99, 37.43]
    assert await rh.check(moment(hours=20)) == 0  # raised once
    await rh.update(SENSOR, {"motionDetected": prop(False, at(hours=13))})
    assert len(await rh.events("open")) == 1  # still no motion
    await rh.update(SENSOR, {"motionDetected": prop(True, at(hours=14))})
    assert await rh.events("open") == []
    [closed] = await rh.events("closed")
    assert closed["status"] == "cleared"
    # counting again from the motion at 14 h
    assert await rh.check(moment(hours=25)) == 0
    assert await rh.check(moment(hours=26)) == 1


async def test_any_update_without_q(rh: RulesHub) -> None:
    rule = {k: v for k, v in NO_MOTION.items() if k != "q"} | {"id": "silent", "for": "PT1H"}
    await rh.add_rule(rule)
    await rh.create({"id": SENSOR, "type": "MotionSensor", "motionDetected": prop(False, at())})
    await rh.update(SENSOR, {"motionDetected": prop(False, at(minutes=50))})
    assert await rh.check(moment(hours=1, minutes=10)) == 0
    assert await rh.check(moment(hours=1, minutes=50)) == 1
    await rh.update(SENSOR, {"battery": prop(0.5, at(hours=2))})
    assert await rh.events("open") == []
    # deleting the sensor forgets it
    r = await rh.client.delete(f"/ngsi-ld/v1/entities/{SENSOR}")
    assert r.status_code == 204
    await rh.settle()
    assert await rh.check(moment(hours=10)) == 0
