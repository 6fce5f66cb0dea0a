"""Safe way home on both backends, through the HTTP API: a citizen's walk raises an alert
(vulnerable-people event and SOP) when off the route and when overdue, arriving completes it;
a citizen sees only their own walks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ngsild_api import assert_problem
from tests.services.care.conftest import CareHub, E, iso, later, minute_now

pytestmark = pytest.mark.anyio
W = "/cityhub/v1/care/walks"
ROUTE = [[126.9905, 37.4300], [126.994, 37.430], [126.994, 37.4335]]  # 중앙로, then 별양로


def _walk(expected: str, **more: Any) -> dict[str, Any]:
    return {
        "from": {"type": "Point", "coordinates": [126.9905, 37.4301]},
        "to": {"type": "Point", "coordinates": [126.9941, 37.4335]},
        "expectedArrival": expected,
        "route": {"type": "LineString", "coordinates": ROUTE},
        "contact": "010-1234-5678",
    } | more


def _at(lon: float, lat: float) -> dict[str, Any]:
    return {"location": {"type": "Point", "coordinates": [lon, lat]}}


async def test_off_route_and_overdue(center: CareHub) -> None:
    hub, c, t0 = center, center.client, minute_now()
    r = await c.post(W, json=_walk(iso(later(t0, minutes=20))), headers=hub.h("kim"))
    assert r.status_code == 201, r.text
    walk = r.json()
    assert walk["owner"] == "kim" and walk["status"] == "active"
    assert walk["alerts"] == {"overdue": None, "offRoute": None}
    # on the way (about 10 m from the road): nothing
    r = await c.post(
        f"{W}/{walk['id']}/positions", json=_at(126.992, 37.43009), headers=hub.h("kim")
    )
    assert r.status_code == 200, r.text
    assert 8 < r.json()["lastPosition"]["offRouteM"] < 12
    assert r.json()["alerts"]["offRoute"] is None
    # ~180 m off 별양로: an alert at once, at the walker's position
    r = await c.post(f"{W}/{walk['id']}/positions", json=_at(126.992, 37.433), headers=hub.h("kim"))
    walk = r.json()
    assert 170 < walk["lastPosition"]["offRouteM"] < 185
    off = walk["alerts"]["offRoute"]
    assert off is not None
    await hub.settle()
    event = await hub.get(f"{E}/{off}", options="keyValues")
    assert event["eventCode"] == "CARE0302" and event["category"] == "vulnerablePeople"
    assert event["sop"]["template"] == "vulnerable"
    assert event["location"]["coordinates"] == [126.992, 37.433]
    assert "010-1234-5678" not in str(event)  # the contact stays with the walk
    # still off: the same alert, another occurrence, and it follows the walker
    r = await c.post(
        f"{W}/{walk['id']}/positions", json=_at(126.9915, 37.4325), headers=hub.h("kim")
    )
    assert r.json()["alerts"]["offRoute"] == off
    event = await hub.get(f"{E}/{off}", options="keyValues")
    assert event["occurrenceCount"] == 2 and event["location"]["coordinates"] == [126.9915, 37.4325]
    # overdue: the expected arrival plus 10 minutes passes without arriving
    assert await hub.check(later(t0, minutes=29)) == 0
    assert await hub.check(later(t0, minutes=31)) == 1
    assert await hub.check(later(t0, minutes=40)) == 0  # raised once
    walk = await hub.get(f"{W}/{walk['id']}", "kim")
    overdue = walk["alerts"]["overdue"]
    event = await hub.get(f"{E}/{overdue}", options="keyValues")
    assert event["eventCode"] == "CARE0301" and event["sop"]["template"] == "vulnerable"
    assert event["location"]["coordinates"] == [126.9915, 37.4325]  # the last position
    # home: the walk ends and its alerts are completed
    r = await c.post(f"{W}/{walk['id']}/arrived", headers=hub.h("kim"))
    assert r.status_code == 200 and r.json()["status"] == "arrived" and r.json()["endedAt"]
    for event_id in (off, overdue):
        event = await hub.get(f"{E}/{event_id}", options="keyValues")
        assert event["status"] == "completed"
    r = await c.post(f"{W}/{walk['id']}/positions", json=_at(126.992, 37.43), headers=hub.h("kim"))
    assert_problem(r, "Conflict", 409)
    assert_problem(await c.post(f"{W}/{walk['id']}/arrived", headers=hub.h("kim")), "Conflict", 409)


async def test_a_citizen_sees_only_their_own_walks(center: CareHub) -> None:
    hub, c, t0 = center, center.client, minute_now()
    body = _walk(iso(later(t0, minutes=30)), route=None)
    kims = (await c.post(W, json=body, headers=hub.h("kim"))).json()
    lees = (await c.post(W, json=body, headers=hub.h("lee"))).json()
    assert [w["id"] for w in await hub.get(W, "kim")] == [kims["id"]]
    assert [w["id"] for w in await hub.get(W, "lee")] == [lees["id"]]
    for method, path in (
        ("GET", f"{W}/{kims['id']}"),
        ("POST", f"{W}/{kims['id']}/positions"),
        ("POST", f"{W}/{kims['id']}/arrived"),
    ):
        r = await c.request(method, path, json=_at(126.99, 37.43), headers=hub.h("lee"))
        assert_problem(r, "ResourceNotFound", 404)
    assert (await hub.get(f"{W}/{kims['id']}", "kim"))["status"] == "active"
    # the center's staff see every walk (an alert's contact); agencies have no walk access
    assert {w["id"] for w in await hub.get(W)} == {kims["id"], lees["id"]}
    assert (await hub.get(f"{W}/{kims['id']}"))["contact"] == "010-1234-5678"
    assert_problem(await c.get(W, headers=hub.h("police")), "Forbidden", 403)
    # without a route the straight line from start to destination is the way
    r = await c.post(
        f"{W}/{kims['id']}/positions", json=_at(126.993, 37.43245), headers=hub.h("kim")
    )
    assert r.json()["lastPosition"]["offRouteM"] < 3 and r.json()["alerts"]["offRoute"] is None


async def test_bad_walks_change_nothing(center: CareHub) -> None:
    hub, c, t0 = center, center.client, minute_now()
    soon = iso(later(t0, minutes=30))
    bad = [
        ({k: v for k, v in _walk(soon).items() if k != "from"}, "from"),
        (_walk(soon, to={"type": "Point", "coordinates": [200, 37]}), "to"),
        (_walk(iso(later(t0, minutes=-5))), "expectedArrival"),
        (_walk(iso(later(t0, hours=30))), "expectedArrival"),
        (_walk("2026-11-30 18:00"), "expectedArrival"),
        (_walk(soon, route={"type": "LineString", "coordinates": [[126.99, 37.43]]}), "route"),
        (_walk(soon, route={"type": "Polygon", "coordinates": []}), "route"),
        (_walk(soon, contact="0" * 101), "contact"),
        ("walk", "object"),
    ]
    for body, word in bad:
        r = await c.post(W, json=body, headers=hub.h("kim"))
        assert word in assert_problem(r, "BadRequestData", 400)["detail"], body
    assert await hub.get(W, "kim") == []
    walk = (await c.post(W, json=_walk(soon), headers=hub.h("kim"))).json()
    r = await c.post(f"{W}/{walk['id']}/positions", json={"at": iso(t0)}, headers=hub.h("kim"))
    assert "location" in assert_problem(r, "BadRequestData", 400)["detail"]
    future = _at(126.99, 37.43) | {"at": iso(later(t0, hours=1))}
    r = await c.post(f"{W}/{walk['id']}/positions", json=future, headers=hub.h("kim"))
    assert "at" in assert_problem(r, "BadRequestData", 400)["detail"]
    assert (await hub.get(f"{W}/{walk['id']}", "kim"))["lastPosition"] is None
    r = await c.get(W, params={"status": "lost"}, headers=hub.h("kim"))
    assert "status" in assert_problem(r, "BadRequestData", 400)["detail"]
