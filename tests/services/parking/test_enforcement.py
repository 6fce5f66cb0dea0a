"""Illegal-parking enforcement through the public API with auth on, on both backends, in a
small piece of Gwacheon: two-sighting zones on 별양로, a fire hydrant inside one, a crosswalk,
a school zone, and lots for the pre-notice. The two-pass cases: two buses after the grace
period (exactly reached too), two cameras at the same moment, zone boundaries, a plate that
moved and came back, in the zone or after the expiry window; immediate zones; idempotence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from cityhub.settings import Settings
from tests.auth.test_access import Hub, _hub
from tests.ngsild_api import assert_problem

pytestmark = pytest.mark.anyio
T = {"NGSILD-Tenant": "gwacheon"}
E = "/cityhub/v1/parking/enforcement"
Users = dict[str, dict[str, str]]

ZONE_A = "urn:ngsi-ld:EnforcementZone:byeolyang-ro-1"  # 별양로 1구간, two sightings
ZONE_B = "urn:ngsi-ld:EnforcementZone:byeolyang-ro-2"  # the next stretch, sharing an edge
HYDRANT = "urn:ngsi-ld:FireHydrant:gwacheon-0153"  # inside zone A
IN_A = (126.9903, 37.4293)
IN_A_EDGE = (126.9905, 37.4290)  # on the south edge of zone A
OUT_A = (126.9905, 37.42899)  # 1.1 m south of it
A_BY_B = (126.99098, 37.4293)  # 1.8 m west of the edge A and B share
B_BY_A = (126.99102, 37.4293)  # 1.8 m east of it
NEAR_HYDRANT = (126.9907, 37.429436)  # 4 m from the hydrant
BESIDE_HYDRANT = (126.9907, 37.429472)  # 8 m from it, still in zone A
ELSEWHERE = (126.9960, 37.4330)  # a street without a zone
CROSSWALK = (126.9931, 37.4291)
SCHOOL = (126.98801, 37.43312)


def _prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


def _geo(kind: str, coordinates: Any) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": kind, "coordinates": coordinates}}


def _box(lon0: float, lat0: float, lon1: float, lat1: float) -> list[list[list[float]]]:
    return [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]


def _entity(ident: str, kind: str, location: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    return {"id": ident, "type": kind, "location": location} | {
        k: _prop(v) for k, v in attrs.items()
    }


def city() -> list[dict[str, Any]]:
    """Zones, a hydrant and three lots around 과천시청."""
    zone = "EnforcementZone"
    return [
        _entity(ZONE_A, zone, _geo("Polygon", _box(126.9900, 37.4290, 126.9910, 37.4296)),
                name="별양로 1구간", category="general"),
        _entity(ZONE_B, zone, _geo("Polygon", _box(126.9910, 37.4290, 126.9920, 37.4296)),
                name="별양로 2구간", category="general"),
        _entity("urn:ngsi-ld:EnforcementZone:crosswalk-7", zone,
                _geo("Polygon", _box(126.9930, 37.4290, 126.9932, 37.4292)),
                name="중앙동 7번 횡단보도", category="crosswalk"),
        _entity("urn:ngsi-ld:EnforcementZone:gwacheon-elem", zone,
                _geo("Point", [126.9880, 37.4331]), name="과천초등학교 정문",
                category="schoolZone", radius=30),
        _entity(HYDRANT, "FireHydrant", _geo("Point", [126.9907, 37.4294]),
                name="별양동 소화전 153", status="inService"),
        _entity("urn:ngsi-ld:OffStreetParking:city-hall", "OffStreetParking",
                _geo("Point", [126.9915, 37.4282]), name="과천시청 공영주차장",
                availableSpotNumber=42, totalSpotNumber=180),
        _entity("urn:ngsi-ld:OffStreetParking:byeolyang", "OffStreetParking",
                _geo("Point", [126.9902, 37.4297]), name="별양동 공영주차장",
                availableSpotNumber=0, totalSpotNumber=60),  # nearer, but full
    ]  # fmt: skip


async def setup(hub: Hub) -> Users:
    """The city in tenant gwacheon; an enforcement officer, two drivers and 119."""
    admin = await hub.login("admin", hub.admin_password)
    for model in ("EnforcementZone", "ParkingViolation"):  # zones and violations must fit
        r = await hub.client.patch(
            f"/cityhub/v1/models/{model}", json={"enforce": True}, headers=admin
        )
        assert r.status_code == 204, r.text
    r = await hub.client.post("/ngsi-ld/v1/entityOperations/upsert", json=city(), headers=admin | T)
    assert r.status_code == 201, r.text
    return {
        "admin": admin,
        "officer": await hub.user("officer-park", {"role": "operator", "tenant": "gwacheon"}),
        "kim": await hub.user("kim", {"role": "citizen", "tenant": "gwacheon"}),
        "lee": await hub.user("lee", {"role": "citizen", "tenant": "gwacheon"}),
        "fire": await hub.user("fire119", {"role": "agency", "tenant": "gwacheon"}),
    }


@pytest.fixture
async def center(settings: Settings) -> AsyncIterator[tuple[Hub, Users]]:
    """A hub with auth on holding the small city."""
    async for hub in _hub(settings):
        yield hub, await setup(hub)


def at(clock: str) -> str:
    """A time on Monday 16 November 2026, Seoul."""
    return f"2026-11-16T{clock}+09:00"


def utc(clock: str) -> str:
    """The same time as the hub stores it."""
    moment = datetime.fromisoformat(at(clock)).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


def seen(
    plate: str, clock: str, where: tuple[float, float], camera: str = "bus-0412"
) -> dict[str, Any]:
    """A sighting; cameras named bus-*, cctv-* and mobile-* are of that kind."""
    kind = {"bus": "bus", "cctv": "fixed", "mobile": "mobile"}[camera.split("-")[0]]
    return {
        "plate": plate,
        "at": at(clock),
        "location": {"type": "Point", "coordinates": list(where)},
        "camera": {"id": camera, "kind": kind},
    }


async def sight(hub: Hub, who: dict[str, str], body: Any, status: int = 201) -> Any:
    """POST sightings; the answer."""
    r = await hub.client.post(f"{E}/sightings", json=body, headers=who | T)
    assert r.status_code == status, r.text
    return r.json()


def sms(settings: Settings) -> list[dict[str, Any]]:
    """The messages the log gateway wrote."""
    path = Path(settings.data_dir) / "sms.jsonl"
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def register(hub: Hub, who: dict[str, str], plate: str, phone: str) -> None:
    """Opt a phone in for a plate."""
    body = {"plate": plate, "phone": phone, "consent": True}
    r = await hub.client.post(f"{E}/phones", json=body, headers=who | T)
    assert r.status_code in (200, 201), r.text


async def violations(hub: Hub, who: dict[str, str]) -> list[dict[str, Any]]:
    """The ParkingViolation entities (NGSI-LD)."""
    r = await hub.client.get(
        "/ngsi-ld/v1/entities", params={"type": "ParkingViolation", "limit": 100}, headers=who | T
    )
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


async def test_pre_notice_then_a_violation_from_the_following_bus(
    center: tuple[Hub, Users], settings: Settings
) -> None:
    hub, users = center
    officer = users["officer"]
    await register(hub, users["kim"], "12가 3456", "+82 10-1234-5678")
    # the leading bus: a pending case and a pre-notice naming the nearest lot with spaces
    first = await sight(hub, officer, seen("12가3456", "10:00:00", IN_A, "bus-0412"))
    assert first["outcome"] == "pending" and first["zone"]["id"] == ZONE_A
    assert first["zone"]["type"] == "normal" and first["zone"]["fine"] == 40000
    assert first["confirmableFrom"] == utc("10:05:00")
    notice = first["notice"]
    assert notice["status"] == "sent" and notice["to"] == "010-****-5678"
    assert notice["lot"]["name"] == "과천시청 공영주차장"  # not the nearer lot, which is full
    assert 150 < notice["lot"]["distance"] < 175
    [message] = sms(settings)
    assert message["to"] == ["010-1234-5678"]
    assert message["text"] == (
        "[주정차 단속 예고] 12가3456 차량이 별양로 1구간(주정차 금지 구역)에 있습니다. 5분 안에 "
        "이동하지 않으면 과태료 40,000원이 부과됩니다. 가까운 주차장: 과천시청 공영주차장 "
        f"(약 {notice['lot']['distance']:.0f} m, 빈자리 42면)"
    )
    # a second bus one second short of the grace period: still pending
    short = await sight(hub, officer, seen("12가3456", "10:04:59", IN_A, "bus-0415"))
    assert short["outcome"] == "pending" and short["caseId"] == first["caseId"]
    assert "notice" not in short
    # the third, exactly five minutes after the first: a violation
    third = await sight(hub, officer, seen("12가3456", "10:05:00", IN_A, "bus-0418"))
    assert third["outcome"] == "violation" and third["caseId"] == first["caseId"]
    assert third["fine"] == 40000
    [violation] = await violations(hub, officer)
    assert violation["id"] == third["violationId"]
    assert violation["status"]["value"] == "confirmed"  # what the 119 route counts as standing
    assert violation["maskedPlate"]["value"] == "12가**56"
    assert "12가3456" not in orjson.dumps(violation).decode()  # the full plate stays inside
    assert violation["refEnforcementZone"]["object"] == ZONE_A
    assert violation["firstSeenAt"]["value"] == utc("10:00:00")
    assert violation["confirmedAt"]["value"] == utc("10:05:00")
    assert violation["cameras"]["value"] == [
        {"id": "bus-0412", "kind": "bus"},
        {"id": "bus-0418", "kind": "bus"},
    ]
    assert violation["fineAmount"]["value"] == 40000
    assert violation["location"]["value"]["coordinates"] == list(IN_A)
    # seen again while it stands: the same violation, no new fine, no new message
    again = await sight(hub, officer, seen("12가3456", "10:12:00", IN_A, "bus-0421"))
    assert again["outcome"] == "standing" and again["violationId"] == violation["id"]
    assert len(await violations(hub, officer)) == 1 and len(sms(settings)) == 1
    case = (await hub.client.get(f"{E}/cases/{first['caseId']}", headers=officer | T)).json()
    assert case["status"] == "violation" and case["open"] is True
    assert case["lastSeen"] == {"at": utc("10:12:00"), "camera": {"id": "bus-0421", "kind": "bus"}}
    assert case["notice"]["to"] == "010-****-5678"
    # later seen driving elsewhere: the car left, the violation is no longer standing
    await sight(hub, officer, seen("12가3456", "10:30:00", ELSEWHERE, "mobile-07"))
    [violation] = await violations(hub, officer)
    assert violation["status"]["value"] == "cleared"
    assert violation["vehicleLeftAt"]["value"] == utc("10:30:00")


async def test_two_cameras_at_the_same_moment_make_no_violation(
    center: tuple[Hub, Users], settings: Settings
) -> None:
    hub, users = center
    officer = users["officer"]
    both = [
        seen("34나5678", "10:00:00", IN_A, "bus-0412"),
        seen("34나5678", "10:00:00", (IN_A[0] + 0.00002, IN_A[1]), "cctv-031"),  # 1.8 m off
    ]
    answers = await sight(hub, officer, both, status=200)
    assert [a["outcome"] for a in answers] == ["pending", "pending"]
    assert answers[0]["caseId"] == answers[1]["caseId"]
    later = await sight(hub, officer, seen("34나5678", "10:03:00", IN_A, "bus-0415"))
    assert later["outcome"] == "pending"
    assert await violations(hub, officer) == []
    # no phone registered: nothing sent, the case says so
    assert answers[0]["notice"] == {"status": "noPhone"} and sms(settings) == []


async def test_zone_boundaries(center: tuple[Hub, Users]) -> None:
    hub, users = center
    officer = users["officer"]
    # on the edge counts as inside; a metre outside is no zone (recorded, nothing more)
    edge = await sight(hub, officer, seen("56다7890", "09:00:00", IN_A_EDGE))
    assert edge["outcome"] == "pending" and edge["zone"]["id"] == ZONE_A
    outside = await sight(hub, officer, seen("78라1234", "09:00:00", OUT_A))
    assert outside["outcome"] == "noZone" and outside["zone"] is None and "caseId" not in outside
    # the edge two zones share: the place is in both, judged in one of them
    r = await hub.client.get(
        f"{E}/zones", params={"lon": 126.9910, "lat": 37.4293}, headers=officer | T
    )
    assert [z["id"] for z in r.json()] == [ZONE_A, ZONE_B]
    # 4 m from the hydrant inside zone A: the hydrant's immediate zone wins; 8 m: zone A
    r = await hub.client.get(
        f"{E}/zones", params={"lon": NEAR_HYDRANT[0], "lat": NEAR_HYDRANT[1]}, headers=officer | T
    )
    assert [(z["id"], z["type"]) for z in r.json()] == [
        (HYDRANT, "immediate"),
        (ZONE_A, "normal"),
    ]
    r = await hub.client.get(
        f"{E}/zones",
        params={"lon": BESIDE_HYDRANT[0], "lat": BESIDE_HYDRANT[1]},
        headers=officer | T,
    )
    assert [z["id"] for z in r.json()] == [ZONE_A]
    # seen in zone A by the edge, then past the grace period 3.6 m on in zone B: the same
    # plate in another zone is another case, not a violation
    first = await sight(hub, officer, seen("90마5678", "09:10:00", A_BY_B))
    second = await sight(hub, officer, seen("90마5678", "09:16:00", B_BY_A, "bus-0415"))
    assert second["outcome"] == "pending" and second["zone"]["id"] == ZONE_B
    assert second["caseId"] != first["caseId"]
    assert second["ended"] == [
        {"caseId": first["caseId"], "status": "moved", "reason": "seenElsewhere"}
    ]
    assert await violations(hub, officer) == []


async def test_a_plate_that_moved_and_came_back_starts_again(center: tuple[Hub, Users]) -> None:
    hub, users = center
    officer = users["officer"]
    first = await sight(hub, officer, seen("12가3456", "10:00:00", IN_A))
    away = await sight(hub, officer, seen("12가3456", "10:03:00", ELSEWHERE, "mobile-07"))
    assert away["outcome"] == "noZone"
    assert away["ended"] == [
        {"caseId": first["caseId"], "status": "moved", "reason": "seenElsewhere"}
    ]
    back = await sight(hub, officer, seen("12가3456", "10:06:00", IN_A, "bus-0415"))
    assert back["outcome"] == "pending" and back["caseId"] != first["caseId"]
    assert back["confirmableFrom"] == utc("10:11:00")
    assert (await sight(hub, officer, seen("12가3456", "10:10:59", IN_A)))["outcome"] == "pending"
    done = await sight(hub, officer, seen("12가3456", "10:11:00", IN_A, "bus-0418"))
    assert done["outcome"] == "violation" and done["caseId"] == back["caseId"]
    [violation] = await violations(hub, officer)
    assert violation["firstSeenAt"]["value"] == utc("10:06:00")
    # within the zone: a second sighting 49 m from the first is a car that moved
    await sight(hub, officer, seen("34나5678", "11:00:00", IN_A))
    moved = await sight(hub, officer, seen("34나5678", "11:06:00", (126.9908, 37.4291)))
    assert moved["outcome"] == "pending" and moved["ended"][0]["reason"] == "movedInZone"
    # not seen for longer than the expiry window (30 min): a new case
    old = await sight(hub, officer, seen("56다7890", "12:00:00", IN_A))
    new = await sight(hub, officer, seen("56다7890", "12:30:01", IN_A, "bus-0415"))
    assert new["outcome"] == "pending" and new["caseId"] != old["caseId"]
    assert new["ended"] == [{"caseId": old["caseId"], "status": "expired", "reason": "expired"}]
    ended = (await hub.client.get(f"{E}/cases/{old['caseId']}", headers=officer | T)).json()
    assert ended["endedAt"] == utc("12:30:00") and ended["open"] is False
    assert len(await violations(hub, officer)) == 1
    listed = await hub.client.get(
        f"{E}/cases", params={"plate": "12가3456", "status": "moved"}, headers=officer | T
    )
    assert [c["id"] for c in listed.json()] == [first["caseId"]]


async def test_immediate_zones(center: tuple[Hub, Users], settings: Settings) -> None:
    hub, users = center
    officer = users["officer"]
    await register(hub, users["kim"], "12가3456", "010-1234-5678")
    # by the hydrant: one sighting is a violation; fire facilities ₩80,000; no pre-notice
    hydrant = await sight(hub, officer, seen("12가3456", "14:30:10", NEAR_HYDRANT, "cctv-031"))
    assert hydrant["outcome"] == "violation" and hydrant["zone"]["id"] == HYDRANT
    assert hydrant["zone"]["category"] == "hydrant" and hydrant["fine"] == 80000
    assert hydrant["notice"] == {"status": "off"} and sms(settings) == []
    # and an event for the operations center, about the violation
    r = await hub.client.get(
        "/cityhub/v1/events", params={"eventCode": "TRF0105"}, headers=officer | T
    )
    [event] = r.json()
    assert event["severity"] == "low" and event["placeName"] == "별양동 소화전 153 주변"
    assert event["refRelatedEntity"] == hydrant["violationId"]
    # a crosswalk zone is immediate by its category; no event for it (not a fire facility)
    crossing = await sight(hub, officer, seen("34나5678", "14:31:00", CROSSWALK, "cctv-032"))
    assert crossing["outcome"] == "violation" and crossing["fine"] == 40000
    r = await hub.client.get("/cityhub/v1/events", headers=officer | T)
    assert [e["eventCode"] for e in r.json()] == ["TRF0105"]
    # a school zone is a two-sighting zone with three times the fine
    await sight(hub, officer, seen("56다7890", "08:20:00", SCHOOL, "mobile-07"))
    school = await sight(hub, officer, seen("56다7890", "08:26:00", SCHOOL, "mobile-07"))
    assert school["outcome"] == "violation" and school["fine"] == 120000
    fines = {
        v["zoneCategory"]["value"]: v["fineAmount"]["value"] for v in await violations(hub, officer)
    }
    assert fines == {"hydrant": 80000, "crosswalk": 40000, "schoolZone": 120000}


async def test_notices_for_immediate_zones_when_the_city_wants_them(settings: Settings) -> None:
    async for hub in _hub(settings, parking_notice_immediate=True):
        users = await setup(hub)
        await register(hub, users["kim"], "12가3456", "010-1234-5678")
        found = await sight(hub, users["officer"], seen("12가3456", "14:30:10", NEAR_HYDRANT))
        assert found["notice"]["status"] == "sent"
        [message] = sms(settings)
        assert message["text"].startswith(
            "[주정차 단속 알림] 12가3456 차량이 별양동 소화전 153 주변(즉시 단속 구역)에서 "
            "단속되었습니다(과태료 80,000원)."
        )
        assert "과천시청 공영주차장" in message["text"]


async def test_sightings_are_idempotent(center: tuple[Hub, Users], settings: Settings) -> None:
    hub, users = center
    officer = users["officer"]
    await register(hub, users["kim"], "12가3456", "010-1234-5678")
    body = seen("12가3456", "10:00:00", IN_A)
    first = await sight(hub, officer, body)
    assert first["duplicate"] is False
    again = await sight(hub, officer, body | {"at": "2026-11-16T01:00:00Z"}, status=200)
    assert again["duplicate"] is True and again["caseId"] == first["caseId"]
    assert again["notice"] == first["notice"] and len(sms(settings)) == 1
    # a batch with the confirming sighting twice: one violation
    confirm = seen("12가3456", "10:05:00", IN_A, "bus-0415")
    answers = await sight(hub, officer, [confirm, body, confirm], status=200)
    assert [a["duplicate"] for a in answers] == [False, True, True]
    assert [a["outcome"] for a in answers] == ["violation", "pending", "violation"]
    assert len(await violations(hub, officer)) == 1
    # the same moment from another camera is another sighting
    other = await sight(hub, officer, seen("12가3456", "10:00:00", IN_A, "bus-0999"))
    assert other["duplicate"] is False and other["outcome"] == "standing"


async def test_bad_sightings_change_nothing(center: tuple[Hub, Users], settings: Settings) -> None:
    hub, users = center
    officer = users["officer"]
    good = seen("12가3456", "10:00:00", IN_A)
    cases = [
        ([good, good | {"camera": {"id": "drone-1", "kind": "drone"}}],
         "sightings[1].camera.kind must be one of fixed, bus, mobile, not 'drone'"),
        (good | {"at": "2026-11-16T10:00:00"}, "at needs a time zone"),
        (good | {"plate": "주차"}, "plate must be a number plate like 12가3456"),
        (good | {"location": {"type": "Point", "coordinates": [37.43, 126.99]}},
         "location coordinates are out of range"),
        (good | {"at": "2030-01-01T00:00:00Z"}, "at is in the future"),
        (good | {"speed": 0}, "the sighting has unknown members: speed"),
        ({k: v for k, v in good.items() if k != "camera"}, "camera is missing"),
        ([], "send 1 to 1000 sightings in a list"),
    ]  # fmt: skip
    for body, message in cases:
        r = await hub.client.post(f"{E}/sightings", json=body, headers=officer | T)
        assert message in assert_problem(r, "BadRequestData", 400)["detail"], body
    r = await hub.client.get(f"{E}/cases", headers=officer | T)
    assert r.json() == [] and sms(settings) == []
    r = await hub.client.get(f"{E}/zones", params={"lon": "x", "lat": 37.4}, headers=officer | T)
    assert "lon must be a number" in assert_problem(r, "BadRequestData", 400)["detail"]
    r = await hub.client.get(f"{E}/cases", params={"status": "open"}, headers=officer | T)
    assert "status must be one of pending" in assert_problem(r, "BadRequestData", 400)["detail"]
    r = await hub.client.get(f"{E}/cases/PV-nope", headers=officer | T)
    assert_problem(r, "ResourceNotFound", 404)


async def test_a_late_upload_from_long_before_confirms_nothing(center: tuple[Hub, Users]) -> None:
    hub, users = center
    officer = users["officer"]
    first = await sight(hub, officer, seen("12가3456", "13:00:00", IN_A, "bus-0412"))
    # a bus uploads what it saw 40 minutes before the case began: too old to join it
    late = await sight(hub, officer, seen("12가3456", "12:20:00", IN_A, "bus-0399"))
    assert late["outcome"] == "late" and late["zone"]["id"] == ZONE_A and "caseId" not in late
    # one from 10 minutes before joins it: the car stood there from 12:50
    joined = await sight(hub, officer, seen("12가3456", "12:50:00", IN_A, "bus-0401"))
    assert joined["outcome"] == "violation" and joined["caseId"] == first["caseId"]
    [violation] = await violations(hub, officer)
    assert violation["firstSeenAt"]["value"] == utc("12:50:00")
    assert violation["confirmedAt"]["value"] == utc("13:00:00")
    assert violation["cameras"]["value"] == [
        {"id": "bus-0401", "kind": "bus"},
        {"id": "bus-0412", "kind": "bus"},
    ]
