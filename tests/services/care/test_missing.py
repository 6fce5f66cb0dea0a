"""Missing children and dementia patients on both backends, through the HTTP API: a report
files a vulnerable-people request sharing the nearest cameras with the agency; a new location
moves the event and shares the cameras that came in range; found ends every share."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ngsild_api import assert_problem
from tests.ops.test_linked import SCENE
from tests.services.care.conftest import CareHub, E

pytestmark = pytest.mark.anyio
M = "/cityhub/v1/care/missing"
FAR = (SCENE[0] + 0.029, SCENE[1])  # ~90 m west of camera C-3, ~2.6 km from C-1 and C-2


def _report(**more: Any) -> dict[str, Any]:
    return {
        "kind": "child",
        "description": "8세 남아, 키 125cm, 노란 우비",
        "location": {"type": "Point", "coordinates": list(SCENE)},
        "accuracy": 50,
        "place": "과천시 별양동 놀이터",
    } | more


def _at(lon_lat: tuple[float, float], **more: Any) -> dict[str, Any]:
    return {"location": {"type": "Point", "coordinates": list(lon_lat)}} | more


async def test_missing_child_with_a_moving_location(center: CareHub) -> None:
    hub, c = center, center.client
    r = await c.post(M, json=_report(reference="P-2026-0311"), headers=hub.h("police"))
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["kind"] == "child" and case["status"] == "searching"
    assert case["agency"] == "police112" and case["reportedBy"] == "police112"
    assert [cam["id"][-3:] for cam in case["cameras"]] == ["C-1", "C-2"]
    assert sorted(g["cameraId"][-3:] for g in case["grants"]) == ["C-1", "C-2"]
    assert all(g["agency"] == "police112" and g["live"] for g in case["grants"])
    # it is a vulnerable-people request of the police, with its event and SOP
    [filed] = await hub.get("/cityhub/v1/linked/requests", "police")
    assert filed["id"] == case["requestId"] and filed["service"] == "vulnerable"
    event = await hub.get(f"{E}/{case['eventId']}", options="keyValues")
    assert event["eventCode"] == "CARE0201" and event["category"] == "vulnerablePeople"
    assert event["linkedService"] == "vulnerable" and event["requestedBy"] == "police112"
    assert event["sop"]["template"] == "vulnerable"
    # the same case number again: the same case
    again = await c.post(M, json=_report(reference="P-2026-0311"), headers=hub.h("police"))
    assert again.status_code == 200 and again.json()["id"] == case["id"]
    # a telecom fix 2.6 km away: the event moves, camera C-3 is shared as well
    r = await c.post(
        f"{M}/{case['id']}/locations",
        json=_at(FAR, accuracy=100, place="과천시 갈현동"),
        headers=hub.h("police"),
    )
    assert r.status_code == 200, r.text
    moved = r.json()
    assert [cam["id"][-3:] for cam in moved["cameras"]] == ["C-3"]
    assert [g["cameraId"][-3:] for g in moved["newGrants"]] == ["C-3"]
    assert len(moved["grants"]) == 3 and all(g["live"] for g in moved["grants"])
    assert moved["location"]["coordinates"] == list(FAR) and moved["accuracy"] == 100
    assert len(moved["locations"]) == 2
    event = await hub.get(f"{E}/{case['eventId']}", options="keyValues")
    assert event["location"]["coordinates"] == list(FAR)
    assert event["placeName"] == "과천시 갈현동"
    # back near the first place: those cameras are shared already
    r = await c.post(f"{M}/{case['id']}/locations", json=_at(SCENE), headers=hub.h("police"))
    assert r.json()["newGrants"] == [] and len(r.json()["locations"]) == 3
    # another agency does not see the case; the center does
    r = await c.get(f"{M}/{case['id']}", headers=hub.h("fire"))
    assert_problem(r, "ResourceNotFound", 404)
    assert await hub.get(M, "fire") == []
    assert [x["id"] for x in await hub.get(M)] == [case["id"]]
    # found: the event completes and every share ends
    r = await c.post(
        f"{M}/{case['id']}/found", json={"note": "보호자 인계"}, headers=hub.h("police")
    )
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "found" and done["foundAt"]
    assert len(done["revoked"]) == 3 and not any(g["live"] for g in done["grants"])
    event = await hub.get(f"{E}/{case['eventId']}", options="keyValues")
    assert event["status"] == "completed"
    r = await c.post(f"{M}/{case['id']}/found", headers=hub.h("police"))
    assert_problem(r, "Conflict", 409)
    r = await c.post(f"{M}/{case['id']}/locations", json=_at(SCENE), headers=hub.h("police"))
    assert_problem(r, "Conflict", 409)
    # audited: the report, every share, each location and the end
    log = await hub.get("/cityhub/v1/audit", "admin", actor="police112", limit=100)
    entries = log["entries"] if isinstance(log, dict) else log
    actions = [e["action"] for e in entries]
    assert actions.count("cctv.grant") == 3 and actions.count("cctv.revoke") == 3
    assert actions.count("care.missing.locate") == 2 and "care.missing.found" in actions


async def test_the_center_reports_for_the_police(center: CareHub) -> None:
    hub, c = center, center.client
    body = _report(kind="dementia", description="78세 여성, 회색 점퍼", accuracy=1500)
    r = await c.post(M, json=body, headers=hub.h("operator"))
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["agency"] == "police112" and case["reportedBy"] == "op-gc"
    assert {g["agency"] for g in case["grants"]} == {"police112"}
    event = await hub.get(f"{E}/{case['eventId']}", options="keyValues")
    assert event["eventCode"] == "CARE0202" and event["eventName"] == "치매 환자 실종 수색"
    # the police see it as theirs
    assert [x["id"] for x in await hub.get(M, "police")] == [case["id"]]
    r = await c.post(M, json=_report(agency="fire119"), headers=hub.h("operator"))
    assert r.status_code == 201 and r.json()["agency"] == "fire119"


async def test_bad_reports_change_nothing(center: CareHub) -> None:
    hub, c = center, center.client
    bad = [
        (_report(kind="adult"), "kind"),
        (_report(description=""), "description"),
        ({k: v for k, v in _report().items() if k != "description"}, "description"),
        (_report(location={"type": "Point", "coordinates": [37.43, 126.99]}), "location"),
        (_report(location="과천"), "location"),
        (_report(accuracy=-5), "accuracy"),
        (_report(accuracy=True), "accuracy"),
        (_report(at="yesterday"), "at"),
        (_report(agency="fire119"), "agency"),  # an agency may not report for another
        ([1, 2], "object"),
    ]
    for body, word in bad:
        r = await c.post(M, json=body, headers=hub.h("police"))
        assert word in assert_problem(r, "BadRequestData", 400)["detail"], body
    assert await hub.get(M) == []
    assert await hub.get("/cityhub/v1/linked/requests") == []
    r = await c.post(M, json=_report(), headers=hub.h("kim"))  # a citizen files nothing here
    assert_problem(r, "Forbidden", 403)
    r = await c.post(f"{M}/missing-nope/locations", json=_at(SCENE), headers=hub.h("police"))
    assert_problem(r, "ResourceNotFound", 404)
    case = (await c.post(M, json=_report(), headers=hub.h("police"))).json()
    r = await c.post(f"{M}/{case['id']}/locations", json={"accuracy": 5}, headers=hub.h("police"))
    assert "location" in assert_problem(r, "BadRequestData", 400)["detail"]
    assert len((await hub.get(f"{M}/{case['id']}"))["locations"]) == 1
