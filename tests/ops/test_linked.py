"""Linked safety services with auth on, on both backends: an agency's request opens an event,
shares the nearest cameras with that agency (audited), plans the 119 route with what lies along
it, is idempotent by case number, is seen by its agency only, takes arrival reports, and comes
in the integrated-platform message form too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from cityhub.settings import Settings
from tests.auth.test_access import Hub, _hub
from tests.ngsild_api import assert_problem

pytestmark = pytest.mark.anyio
T = {"NGSILD-Tenant": "gwacheon"}
R = "/cityhub/v1/linked/requests"
SCENE = (126.9942, 37.4330)  # ~18 m east of 별양로 (street 2)


def _point(kind: str, name: str, lon: float, lat: float, **attrs: Any) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:{kind}:{name}",
        "type": kind,
        "name": {"type": "Property", "value": name},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
    }
    for key, value in attrs.items():
        entity[key] = {"type": "Property", "value": value}
    return entity


def _road(name: str, coords: list[list[float]], width: float) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:RoadSegment:{name}",
        "type": "RoadSegment",
        "name": {"type": "Property", "value": name},
        "width": {"type": "Property", "value": width},
        "location": {"type": "GeoProperty", "value": {"type": "LineString", "coordinates": coords}},
    }


def city() -> list[dict[str, Any]]:
    """Two streets meeting at a corner, and a long way round from a second station: station A
    is nearer by road, station B nearer as the crow flies."""
    return [
        _road("중앙로", [[126.990, 37.430], [126.994, 37.430]], 8.0),
        _road("별양로", [[126.994, 37.430], [126.994, 37.434]], 3.0),  # narrow
        _road(
            "우회로",
            [[126.995, 37.4345], [126.999, 37.4345], [126.999, 37.430], [126.994, 37.430]],
            10.0,
        ),
        _point("FireStation", "과천소방서", 126.990, 37.430),
        _point("FireStation", "별양119안전센터", 126.995, 37.4345),
        _point("FireHydrant", "H-1", 126.992, 37.43003),  # ~3 m from 중앙로
        _point("FireHydrant", "H-2", 126.992, 37.4310),  # ~110 m away
        _point("ParkingViolation", "V-1", 126.9941, 37.432, status="open"),  # ~9 m from 별양로
        _point("ParkingViolation", "V-2", 126.9941, 37.4325, status="cleared"),
        _point("CCTVCamera", "C-1", SCENE[0] + 0.0003, SCENE[1], heading=270, fieldOfView=90),
        _point("CCTVCamera", "C-2", SCENE[0] - 0.0002, SCENE[1], heading=270, fieldOfView=90),
        _point("CCTVCamera", "C-3", SCENE[0] + 0.03, SCENE[1], heading=0),
    ]


@pytest.fixture
async def center(settings: Settings) -> AsyncIterator[tuple[Hub, dict[str, dict[str, str]]]]:
    """A hub holding the small city, an operator and two agency accounts in gwacheon."""
    async for hub in _hub(settings):
        admin = await hub.login("admin", hub.admin_password)
        r = await hub.client.post(
            "/ngsi-ld/v1/entityOperations/upsert", json=city(), headers=admin | T
        )
        assert r.status_code == 201, r.text
        users = {
            "operator": await hub.user("op-gc", {"role": "operator", "tenant": "gwacheon"}),
            "police": await hub.user("police112", {"role": "agency", "tenant": "gwacheon"}),
            "fire": await hub.user("fire119", {"role": "agency", "tenant": "gwacheon"}),
            "citizen": await hub.user("kim", {"role": "citizen", "tenant": "gwacheon"}),
            "admin": admin,
        }
        yield hub, users


def _request(service: str, **more: Any) -> dict[str, Any]:
    return {
        "service": service,
        "location": {"type": "Point", "coordinates": list(SCENE)},
        "place": "과천시 별양동 1-1",
    } | more


async def test_112_video_request(center: tuple[Hub, dict[str, dict[str, str]]]) -> None:
    hub, users = center
    c, police, fire, op = hub.client, users["police"], users["fire"], users["operator"]
    body = _request("112-video", reference="P-2026-0001", cameras=2, minutes=20)
    r = await c.post(R, json=body, headers=police | T)
    assert r.status_code == 201, r.text
    filed = r.json()
    assert filed["service"] == "112-video" and filed["agency"] == "police112"
    assert [cam["id"][-3:] for cam in filed["cameras"]] == ["C-1", "C-2"]  # facing first
    assert {g["cameraId"][-3:] for g in filed["grants"]} == {"C-1", "C-2"}
    assert all(g["agency"] == "police112" and g["live"] for g in filed["grants"])
    assert "route" not in filed
    # the event is a CityEvent of the service, requested by the agency
    event = (await c.get(f"/ngsi-ld/v1/entities/{filed['eventId']}", headers=op | T)).json()
    assert event["linkedService"]["value"] == "112-video"
    assert event["requestedBy"]["value"] == "police112"
    assert event["status"]["value"] == "occurred"
    # the agency watches through its grant
    grant = filed["grants"][0]["id"]
    assert (await c.get(f"/cityhub/v1/cctv/grants/{grant}/view", headers=police | T)).is_success
    # the same case number again: the first answer, no second event or grant
    again = await c.post(R, json=body, headers=police | T)
    assert again.status_code == 200 and again.json()["id"] == filed["id"]
    assert len((await c.get("/cityhub/v1/cctv/grants", headers=police | T)).json()) == 2
    # an agency sees its own requests; the center sees all
    assert [f["id"] for f in (await c.get(R, headers=police | T)).json()] == [filed["id"]]
    assert (await c.get(R, headers=fire | T)).json() == []
    assert_problem(await c.get(f"{R}/{filed['id']}", headers=fire | T), "ResourceNotFound", 404)
    assert len((await c.get(R, headers=op | T)).json()) == 1
    # audited: the request and each grant
    admin = users["admin"]
    log = (await c.get("/cityhub/v1/audit", params={"limit": 100}, headers=admin)).json()
    entries = log["entries"] if isinstance(log, dict) else log
    actions = [(e["action"], e["actor"]) for e in entries]
    assert actions.count(("cctv.grant", "police112")) == 2
    assert ("linked.request", "police112") in actions


async def test_119_dispatch_route(center: tuple[Hub, dict[str, dict[str, str]]]) -> None:
    hub, users = center
    c, fire = hub.client, users["fire"]
    r = await c.post(R, json=_request("119-dispatch", reference="F-77"), headers=fire | T)
    assert r.status_code == 201, r.text
    route = r.json()["route"]
    # station A by road (~350 m + ~330 m), though B is nearer in a straight line
    assert route["station"]["id"].endswith("과천소방서")
    assert 650 < route["lengthM"] < 720, route["lengthM"]
    assert [s["name"] for s in route["segments"]] == ["중앙로", "별양로"]
    assert [s["name"] for s in route["narrow"]] == ["별양로"]
    assert [h["id"][-3:] for h in route["hydrants"]] == ["H-1"]
    assert route["hydrants"][0]["distance"] < 5
    assert [v["id"][-3:] for v in route["illegallyParked"]] == ["V-1"]
    assert route["etaS"] == pytest.approx(route["lengthM"] / (30 / 3.6), abs=2)
    assert route["geometry"]["type"] == "LineString"
    # a named station is used
    named = _request("119-dispatch", station="urn:ngsi-ld:FireStation:별양119안전센터")
    r = await c.post(R, json=named, headers=fire | T)
    assert r.json()["route"]["station"]["name"] == "별양119안전센터"
    assert r.json()["route"]["lengthM"] > 1500


async def test_arrival_report(center: tuple[Hub, dict[str, dict[str, str]]]) -> None:
    hub, users = center
    c, fire, police = hub.client, users["fire"], users["police"]
    filed = (await c.post(R, json=_request("119-dispatch"), headers=fire | T)).json()
    # another agency cannot report it; a 112 request has no arrival
    assert_problem(
        await c.post(f"{R}/{filed['id']}/arrival", headers=police | T), "ResourceNotFound", 404
    )
    r = await c.post(f"{R}/{filed['id']}/arrival", headers=fire | T)
    assert r.status_code == 200, r.text
    assert r.json()["arrivedAt"] >= filed["receivedAt"]
    event = (await c.get(f"/ngsi-ld/v1/entities/{filed['eventId']}", headers=fire | T)).json()
    assert event["arrivedAt"]["value"] == r.json()["arrivedAt"]
    assert_problem(await c.post(f"{R}/{filed['id']}/arrival", headers=fire | T), "Conflict", 409)
    video = (await c.post(R, json=_request("112-video"), headers=police | T)).json()
    r = await c.post(
        f"{R}/{video['id']}/arrival", json={"at": "2020-01-01T00:00:00Z"}, headers=police | T
    )
    assert_problem(r, "BadRequestData", 400)


async def test_bad_requests_change_nothing(
    center: tuple[Hub, dict[str, dict[str, str]]],
) -> None:
    hub, users = center
    c, police, op = hub.client, users["police"], users["operator"]
    bad = [
        ({"location": {"type": "Point", "coordinates": list(SCENE)}}, "service"),
        (_request("119-dispatch", location={"type": "Point", "coordinates": [500, 1]}), "range"),
        (_request("112-video", location=None), "location"),
        (_request("112-video", cameras=99), "cameras"),
        (_request("112-video", minutes=0), "minutes"),
        (_request("112-video", severity="apocalyptic"), "severity"),
        (_request("112-video", agency="fire119"), "staff"),
        ([1, 2], "object"),
    ]
    for body, word in bad:
        r = await c.post(R, json=body, headers=police | T)
        assert word in assert_problem(r, "BadRequestData", 400)["detail"], body
    assert (await c.get(R, headers=op | T)).json() == []
    assert (await c.get("/cityhub/v1/events", headers=op | T)).json() == []
    # a citizen may not file; the center files for an agency
    r = await c.post(R, json=_request("112-video"), headers=users["citizen"] | T)
    assert_problem(r, "Forbidden", 403)
    r = await c.post(R, json=_request("vulnerable", agency="welfare"), headers=op | T)
    assert r.status_code == 201 and r.json()["agency"] == "welfare"


async def test_message_form(center: tuple[Hub, dict[str, dict[str, str]]]) -> None:
    hub, users = center
    c = hub.client
    key = await c.post("/cityhub/v1/apikeys", json={"label": "112 center"}, headers=users["police"])
    assert key.status_code == 201, key.text
    head = {"svcTy": "AUTH", "sendCd": "P1100000000", "encAt": "N", "tranTy": "HTTP"}
    auth = await c.post(
        "/api/getAuth.json", json={"header": head, "body": {"apiKey": key.json()["key"]}}
    )
    assert auth.json()["result"] == "0", auth.text
    session = {"X-Scsns-Secret": auth.json()["message"]} | T
    header = head | {"svcTy": "EVENT"}
    body = {
        "evtId": "LNK112VID",
        "evtNm": "납치 의심 신고",
        "evtGrad": "1",
        "ocrNbr": "20261130101010123",
        "ocrLc": {"crdntX": SCENE[0], "crdntY": SCENE[1]},
        "ocrPlc": "과천시 별양동",
    }
    r = await c.post(
        "/linkHttp/recvRequest.json", json={"header": header, "body": body}, headers=session
    )
    answer = r.json()
    assert r.status_code == 200 and answer["result"] == "0", r.text
    assert answer["message"] == answer["data"]["id"]
    assert answer["data"]["agency"] == "police112" and len(answer["data"]["grants"]) == 2
    # the same case number again: the same request
    r = await c.post(
        "/linkHttp/recvRequest.json", json={"header": header, "body": body}, headers=session
    )
    assert r.json()["message"] == answer["message"]
    # refusals: no session, an unknown service, encrypted bodies
    r = await c.post("/linkHttp/recvRequest.json", json={"header": header, "body": body}, headers=T)
    assert r.json()["result"] == "1" and "session" in r.json()["message"]
    odd = body | {"evtId": "XYZ", "ocrNbr": "2"}
    r = await c.post(
        "/linkHttp/recvRequest.json", json={"header": header, "body": odd}, headers=session
    )
    assert r.json()["result"] == "1" and "lnkSvc" in r.json()["message"]
    aria = header | {"encAt": "Y"}
    r = await c.post(
        "/linkHttp/recvRequest.json", json={"header": aria, "body": body}, headers=session
    )
    assert r.json()["result"] == "1" and "ARIA" in r.json()["message"]


async def test_center_kpis(center: tuple[Hub, dict[str, dict[str, str]]]) -> None:
    hub, users = center
    c, police, fire, op = hub.client, users["police"], users["fire"], users["operator"]
    video = (await c.post(R, json=_request("112-video", cameras=2), headers=police | T)).json()
    fire_req = (await c.post(R, json=_request("119-dispatch", cameras=1), headers=fire | T)).json()
    r = await c.post(
        f"/cityhub/v1/events/{video['eventId']}/transitions",
        json={"to": "acknowledged"},
        headers=op | T,
    )
    assert r.status_code == 200, r.text
    assert (await c.post(f"{R}/{fire_req['id']}/arrival", headers=fire | T)).status_code == 200
    r = await c.get("/cityhub/v1/kpis", headers=op | T)
    assert r.status_code == 200, r.text
    k = r.json()
    assert k["events"]["total"] == 2 and k["events"]["open"] == 2
    assert k["linkedServices"]["112-video"]["requests"] == 1
    assert k["linkedServices"]["112-video"]["answeredWithinTarget"] == 1
    assert k["linkedServices"]["119-dispatch"]["answered"] == 0
    assert k["dispatch119"]["requests"] == 1 and k["dispatch119"]["withinTarget"] == 1
    assert k["dispatch119"]["shareWithinTarget"] == 1.0
    assert k["agencies"]["police112"]["grants"] == 2 and k["agencies"]["fire119"]["requests"] == 1
    assert k["timeToAcknowledge"]["count"] == 1
    # an agency reads them too; CSV export; a window without events; bad windows
    r = await c.get("/cityhub/v1/kpis", params={"format": "csv"}, headers=police | T)
    assert r.headers["content-type"].startswith("text/csv")
    assert "dispatch119.shareWithinTarget" in r.text
    r = await c.get(
        "/cityhub/v1/kpis", params={"start": "2020-01-01", "end": "2020-02-01"}, headers=op | T
    )
    assert r.json()["events"]["total"] == 0
    r = await c.get("/cityhub/v1/kpis", params={"start": "yesterday"}, headers=op | T)
    assert_problem(r, "BadRequestData", 400)
