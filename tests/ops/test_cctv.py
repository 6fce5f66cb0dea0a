"""CCTV near an event and video shares with agencies, with auth on, on both backends: the
nearest (facing) cameras, grants tied to an open event, agencies seeing only their own, views
through live grants only, expiry and revocation, and every step in the audit log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cityhub.settings import Settings
from tests.auth.test_access import Hub, _hub
from tests.ngsild_api import assert_problem

pytestmark = pytest.mark.anyio
T = {"NGSILD-Tenant": "gwacheon"}
SCENE = (126.9876, 37.4292)  # 과천시청 앞


def _camera(n: int, lon: float, lat: float, heading: float) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:CCTVCamera:gc-{n:03d}",
        "type": "CCTVCamera",
        "name": {"type": "Property", "value": f"과천 CCTV {n}"},
        "heading": {"type": "Property", "value": heading},
        "fieldOfView": {"type": "Property", "value": 90},
        "streamUrl": {"type": "Property", "value": f"rtsp://vms.gwacheon.go.kr/cam/{n}"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
    }


@pytest.fixture
async def center(settings: Settings) -> AsyncIterator[tuple[Hub, dict[str, dict[str, str]]]]:
    """A hub with cameras, an operator and two agency accounts in tenant gwacheon."""
    async for hub in _hub(settings):
        admin = await hub.login("admin", hub.admin_password)
        cameras = [
            _camera(1, SCENE[0] + 0.0004, SCENE[1], 270),  # ~35 m east, facing west: the scene
            _camera(2, SCENE[0] - 0.0002, SCENE[1], 270),  # ~18 m west, facing away
            _camera(3, SCENE[0] + 0.05, SCENE[1], 0),  # ~4.4 km away
        ]
        r = await hub.client.post(
            "/ngsi-ld/v1/entityOperations/upsert", json=cameras, headers=admin | T
        )
        assert r.status_code == 201, r.text
        users = {
            "operator": await hub.user("op-gc", {"role": "operator", "tenant": "gwacheon"}),
            "police": await hub.user("police112", {"role": "agency", "tenant": "gwacheon"}),
            "fire": await hub.user("fire119", {"role": "agency", "tenant": "gwacheon"}),
            "admin": admin,
        }
        yield hub, users


async def _event(hub: Hub, op: dict[str, str]) -> str:
    body = {
        "eventCode": "MOJUC110",
        "eventName": "112 긴급영상 요청",
        "severity": "high",
        "location": {"type": "Point", "coordinates": list(SCENE)},
    }
    r = await hub.client.post("/cityhub/v1/events", json=body, headers=op | T)
    assert r.status_code == 201, r.text
    event_id: str = r.json()["id"]
    return event_id


async def test_nearest_cameras_facing_first(center: tuple[Hub, dict[str, dict[str, str]]]) -> None:
    hub, users = center
    r = await hub.client.get(
        "/cityhub/v1/cctv/nearest",
        params={"lon": SCENE[0], "lat": SCENE[1], "count": 5, "maxDistance": 500},
        headers=users["police"] | T,
    )
    assert r.status_code == 200, r.text
    found = r.json()
    assert [c["id"][-3:] for c in found] == ["001", "002"]  # facing before nearer; far one out
    assert found[0]["facing"] is True and found[1]["facing"] is False
    assert 30 < found[0]["distance"] < 40
    r = await hub.client.get(
        "/cityhub/v1/cctv/nearest", params={"lon": 200, "lat": 0}, headers=users["police"] | T
    )
    assert_problem(r, "BadRequestData", 400)


async def test_share_view_revoke_expire(center: tuple[Hub, dict[str, dict[str, str]]]) -> None:
    hub, users = center
    c, op, police, fire = hub.client, users["operator"], users["police"], users["fire"]
    event_id = await _event(hub, op)
    body = {
        "eventId": event_id,
        "agency": "police112",
        "purpose": "납치 신고 현장 확인",
        "nearest": 2,
    }
    r = await c.post("/cityhub/v1/cctv/grants", json=body, headers=op | T)
    assert r.status_code == 201, r.text
    grants = r.json()
    assert {g["cameraId"][-3:] for g in grants} == {"001", "002"} and all(g["live"] for g in grants)
    # agencies: their own grants only; they cannot grant
    assert len((await c.get("/cityhub/v1/cctv/grants", headers=police | T)).json()) == 2
    assert (await c.get("/cityhub/v1/cctv/grants", headers=fire | T)).json() == []
    assert len((await c.get("/cityhub/v1/cctv/grants", headers=op | T)).json()) == 2
    assert_problem(
        await c.post("/cityhub/v1/cctv/grants", json=body, headers=police | T), "Forbidden", 403
    )
    first = grants[0]["id"]
    r = await c.get(f"/cityhub/v1/cctv/grants/{first}/view", headers=police | T)
    assert r.status_code == 200 and r.json()["streamUrl"].startswith("rtsp://vms.gwacheon.go.kr/")
    r = await c.get(f"/cityhub/v1/cctv/grants/{first}/view", headers=fire | T)
    assert_problem(r, "ResourceNotFound", 404)
    # revoked: no more views
    assert (await c.delete(f"/cityhub/v1/cctv/grants/{first}", headers=op | T)).status_code == 204
    r = await c.get(f"/cityhub/v1/cctv/grants/{first}/view", headers=police | T)
    assert "has ended" in assert_problem(r, "Forbidden", 403)["detail"]
    assert_problem(
        await c.delete(f"/cityhub/v1/cctv/grants/{first}", headers=op | T), "Conflict", 409
    )
    # a short grant expires by itself
    short = body | {"cameras": ["urn:ngsi-ld:CCTVCamera:gc-003"], "minutes": 0.01}
    short.pop("nearest")
    r = await c.post("/cityhub/v1/cctv/grants", json=short, headers=op | T)
    assert r.status_code == 201, r.text
    gid = r.json()[0]["id"]
    await asyncio.sleep(1.0)
    assert_problem(
        await c.get(f"/cityhub/v1/cctv/grants/{gid}/view", headers=police | T), "Forbidden", 403
    )
    assert (await c.get(f"/cityhub/v1/cctv/grants/{gid}", headers=police | T)).json()[
        "live"
    ] is False
    # every grant, view and revoke is in the audit log
    entries = (
        await c.get("/cityhub/v1/audit", params={"action": "cctv.*"}, headers=users["admin"])
    ).json()["entries"]
    actions = [(e["actor"], e["action"]) for e in entries]
    assert actions.count(("op-gc", "cctv.grant")) == 3
    assert ("police112", "cctv.view") in actions and ("op-gc", "cctv.revoke") in actions


async def test_no_open_event_no_grant(center: tuple[Hub, dict[str, dict[str, str]]]) -> None:
    hub, users = center
    c, op = hub.client, users["operator"]
    cams = ["urn:ngsi-ld:CCTVCamera:gc-001"]
    body = {
        "eventId": "urn:ngsi-ld:CityEvent:none",
        "agency": "police112",
        "purpose": "x",
        "cameras": cams,
    }
    assert_problem(
        await c.post("/cityhub/v1/cctv/grants", json=body, headers=op | T), "ResourceNotFound", 404
    )
    event_id = await _event(hub, op)
    r = await c.post(
        f"/cityhub/v1/events/{event_id}/transitions", json={"to": "cleared"}, headers=op | T
    )
    assert r.status_code == 200
    r = await c.post("/cityhub/v1/cctv/grants", json=body | {"eventId": event_id}, headers=op | T)
    assert "only for an open event" in assert_problem(r, "Conflict", 409)["detail"]
    r = await c.post(
        "/cityhub/v1/cctv/grants",
        json=body | {"eventId": await _event(hub, op), "cameras": ["urn:ngsi-ld:CityEvent:x"]},
        headers=op | T,
    )
    assert r.status_code in (400, 404)
