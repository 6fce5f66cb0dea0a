"""Elderly-alone households on both backends, through the HTTP API: no activity for 12 hours
files one 119 request (route, cameras, the 119 SOP) and activity clears it unless someone acted
on it; a cold or hot home, an emergency-button press; night hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cityhub.services.care.clock import SEOUL
from tests.ngsild_api import assert_problem
from tests.services.care.conftest import (
    HOME,
    HOME_AT,
    CareHub,
    E,
    household,
    later,
    minute_now,
    sensor,
)

pytestmark = pytest.mark.anyio
R = "/cityhub/v1/linked/requests"
MOTION = "urn:ngsi-ld:Device:gc-0017-motion"
THERMO = "urn:ngsi-ld:Device:gc-0017-temp"
BUTTON = "urn:ngsi-ld:Device:gc-0017-button"


def seoul(moment: datetime) -> str:
    return f"{moment.astimezone(SEOUL):%Y%m%d%H%M%S}"


async def _event(hub: CareHub, event_id: str) -> dict[str, object]:
    found: dict[str, object] = await hub.get(f"{E}/{event_id}", options="keyValues")
    return found


async def test_inactivity_files_one_119_request_and_activity_clears_it(center: CareHub) -> None:
    hub, t0 = center, minute_now()
    await hub.upsert(household(), sensor("gc-0017-motion", motionDetected=False))
    await hub.reading(MOTION, motionDetected=(True, t0))
    await hub.reading(MOTION, motionDetected=(False, later(t0, hours=3)))  # no one up
    assert await hub.check(later(t0, hours=11, minutes=59)) == 0
    assert await hub.get(R) == []
    assert await hub.check(later(t0, hours=12)) == 1
    [filed] = await hub.get(R)
    assert filed["service"] == "119-dispatch" and filed["agency"] == "fire119"
    assert filed["reference"] == f"care-GC-0017-inactivity-{seoul(t0)}"
    assert filed["route"]["station"]["name"] == "과천소방서"
    assert 650 < filed["route"]["lengthM"] < 720
    assert [c["id"][-3:] for c in filed["cameras"]] == ["C-1", "C-2"]
    assert {g["agency"] for g in filed["grants"]} == {"fire119"} and len(filed["grants"]) == 2
    # fire119 sees the request as its own
    assert [f["id"] for f in await hub.get(R, "fire")] == [filed["id"]]
    event = await _event(hub, filed["eventId"])
    assert event["eventCode"] == "CARE0101" and event["category"] == "emergencyMedical"
    assert event["linkedService"] == "119-dispatch" and event["refRelatedEntity"] == HOME
    assert event["location"] == {"type": "Point", "coordinates": list(HOME_AT)}
    assert "GC-0017" in str(event["description"]) and "12시간" in str(event["description"])
    assert event["sop"]["template"] == "119-dispatch"  # type: ignore[index]
    # the check again, later: no second request
    assert await hub.check(later(t0, hours=13)) == 0
    assert len(await hub.get(R)) == 1
    [alert] = await hub.get("/cityhub/v1/care/alerts")
    assert alert["kind"] == "inactivity" and alert["eventId"] == filed["eventId"]
    # someone is up: the alert ends, the event is cleared and the shares revoked
    await hub.reading(MOTION, motionDetected=(True, later(t0, hours=13, minutes=30)))
    event = await _event(hub, filed["eventId"])
    assert event["status"] == "cleared"
    grants = await hub.get("/cityhub/v1/cctv/grants")
    assert len(grants) == 2 and not any(g["live"] for g in grants)
    assert {g["revokedBy"] for g in grants} == {"care"}
    assert await hub.get("/cityhub/v1/care/alerts") == []
    [ended] = await hub.get("/cityhub/v1/care/alerts", state="all")
    assert ended["endReason"] == "활동 재개 (센서 감지)"
    home = await hub.get(f"/cityhub/v1/care/households/{HOME}")
    assert home["lastActivityAt"].startswith(later(t0, hours=13, minutes=30).isoformat()[:16])
    assert home["inactivityDueAt"].startswith(later(t0, hours=25, minutes=30).isoformat()[:16])
    assert home["devices"] == [MOTION] and home["alerts"] == []
    # the next episode, acknowledged by the center: a responder's motion does not clear it
    assert await hub.check(later(t0, hours=25, minutes=30)) == 1
    second = (await hub.get(R))[0]
    assert second["id"] != filed["id"]
    assert second["reference"] == f"care-GC-0017-inactivity-{seoul(later(t0, hours=13.5))}"
    r = await hub.client.post(
        f"/cityhub/v1/events/{second['eventId']}/transitions",
        json={"to": "acknowledged"},
        headers=hub.h("operator"),
    )
    assert r.status_code == 200, r.text
    await hub.reading(MOTION, motionDetected=(True, later(t0, hours=26)))
    event = await _event(hub, second["eventId"])
    assert event["status"] == "acknowledged" and "conditionEndedAt" in event
    assert await hub.get("/cityhub/v1/care/alerts") == []
    # audited as the service's own requests and shares
    log = await hub.get("/cityhub/v1/audit", "admin", actor="care", limit=100)
    entries = log["entries"] if isinstance(log, dict) else log
    actions = [e["action"] for e in entries]
    assert actions.count("linked.request") == 2 and actions.count("cctv.grant") == 4
    assert actions.count("cctv.revoke") == 2


async def test_a_cold_or_hot_home(center: CareHub) -> None:
    hub, t0 = center, minute_now()
    await hub.upsert(household(), sensor("gc-0017-temp", link="controlledAsset"))
    await hub.reading(THERMO, temperature=(8.5, t0))
    await hub.reading(THERMO, temperature=(8.0, later(t0, minutes=20)))
    assert await hub.check(later(t0, minutes=29)) == 0
    # the readings show it lasted 30 minutes: filed at once, no check needed
    await hub.reading(THERMO, temperature=(7.9, later(t0, minutes=31)))
    [filed] = await hub.get(R)
    assert filed["reference"] == f"care-GC-0017-cold-{seoul(t0)}"
    event = await _event(hub, filed["eventId"])
    assert event["eventCode"] == "CARE0102" and "10°C 미만" in str(event["description"])
    home = await hub.get(f"/cityhub/v1/care/households/{HOME}")
    assert home["temperature"] == 7.9 and home["coldSince"].startswith(t0.isoformat()[:16])
    # a late reading does not end the spell; a warm one does
    await hub.reading(THERMO, temperature=(15.0, later(t0, minutes=10)))
    assert (await _event(hub, filed["eventId"]))["status"] == "occurred"
    await hub.reading(THERMO, temperature=(12.0, later(t0, minutes=40)))
    assert (await _event(hub, filed["eventId"]))["status"] == "cleared"
    # too hot: above 35 °C for 30 minutes, found by the periodic check
    await hub.reading(THERMO, temperature=(36.5, later(t0, hours=2)))
    assert await hub.check(later(t0, hours=2, minutes=29)) == 0
    assert await hub.check(later(t0, hours=2, minutes=30)) == 1
    hot = (await hub.get(R))[0]
    assert hot["reference"] == f"care-GC-0017-hot-{seoul(later(t0, hours=2))}"
    assert (await _event(hub, hot["eventId"]))["eventCode"] == "CARE0103"


async def test_emergency_button(center: CareHub) -> None:
    hub, t0 = center, minute_now()
    await hub.upsert(household(), sensor("gc-0017-button", emergencyButton=False))
    await hub.reading(BUTTON, emergencyButton=(True, t0))
    [filed] = await hub.get(R)  # at once
    assert filed["reference"] == f"care-GC-0017-button-{seoul(t0)}"
    assert (await _event(hub, filed["eventId"]))["eventCode"] == "CARE0104"
    # pressed again while help is on its way: the same request answers it
    await hub.reading(BUTTON, emergencyButton=(False, later(t0, minutes=1)))
    await hub.reading(BUTTON, emergencyButton=(True, later(t0, minutes=2)))
    assert len(await hub.get(R)) == 1
    # the center closes the case; a later press is a new emergency
    r = await hub.client.post(
        f"/cityhub/v1/events/{filed['eventId']}/transitions",
        json={"to": "completed", "reason": "구급 이송"},
        headers=hub.h("operator"),
    )
    assert r.status_code == 200, r.text
    assert await hub.check(later(t0, minutes=5)) == 1  # the alert ends with its event
    assert len(await hub.get(R)) == 1
    await hub.reading(BUTTON, emergencyButton=(True, later(t0, minutes=30)))
    assert len(await hub.get(R)) == 2


async def test_night_hours_do_not_count(center: CareHub) -> None:
    hub = center
    # 20:00 Seoul today: with night 22-07 the 12 hours end at 17:00 the next day
    t0 = minute_now().astimezone(SEOUL).replace(hour=20, minute=0)
    await hub.upsert(
        household(nightHours="22-07", inactivityHours=12),
        sensor("gc-0017-motion", motionDetected=False),
    )
    await hub.reading(MOTION, motionDetected=(True, t0))
    home = await hub.get(f"/cityhub/v1/care/households/{HOME}")
    assert home["nightHours"] == "22-07" and home["inactivityHours"] == 12
    due = later(t0, hours=21)
    assert home["inactivityDueAt"] == due.astimezone(UTC).isoformat()[:19] + ".000Z"
    assert await hub.check(later(t0, hours=20, minutes=59)) == 0
    assert await hub.check(due) == 1


async def test_households_are_for_the_center(center: CareHub) -> None:
    hub = center
    await hub.upsert(household(), household("urn:ngsi-ld:CareHousehold:gc-0018", "GC-0018"))
    listed = await hub.get("/cityhub/v1/care/households")
    assert [h["code"] for h in listed] == ["GC-0017", "GC-0018"]
    assert all(h["monitored"] and h["inactivityHours"] == 12 for h in listed)
    # no sensor heard from yet: nothing to judge by, so no emergency however long it is
    assert all(h["watchedFrom"] is None and h["inactivityDueAt"] is None for h in listed)
    assert await hub.check(later(minute_now(), hours=24)) == 0
    for who in ("kim", "police", "fire"):  # not citizens, not even agencies
        for path in ("households", "alerts", "layer"):
            r = await hub.client.get(f"/cityhub/v1/care/{path}", headers=hub.h(who))
            assert_problem(r, "Forbidden", 403)
    r = await hub.client.get("/cityhub/v1/care/households/urn:x:none", headers=hub.h("operator"))
    assert_problem(r, "ResourceNotFound", 404)
    r = await hub.client.get("/cityhub/v1/care/alerts?state=closed", headers=hub.h("operator"))
    assert "state" in assert_problem(r, "BadRequestData", 400)["detail"]
    # deleting the household's entity stops watching it
    r = await hub.client.delete(f"{E}/{HOME}", headers=hub.h("admin"))
    assert r.status_code == 204
    await hub.settle()
    assert [h["code"] for h in await hub.get("/cityhub/v1/care/households")] == ["GC-0018"]
