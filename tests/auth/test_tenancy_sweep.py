"""Tenant isolation on every API family: one hub holds a district's data of every kind in tenant
gwacheon (entities of the city types with history, the city services set up, a subscription, an
IoT service group, device and measure, an event with its SOP, a rule, a CCTV share, a linked
request, an enforcement case, a missing-person case, a walk home, a shared-parking offer and
booking) and a little of its own in tenant seoul. Then every GET operation of the OpenAPI
description is called in seoul with gwacheon's ids in its path, by the city's administrator and
by a seoul-only user of a role that may read it: no answer may show gwacheon's data, none may be
a server error, and a gwacheon-only user is refused every tenant-scoped one. The live streams
are read while gwacheon changes. Writes that name a gwacheon object by id, sent in seoul, find
nothing and change nothing in gwacheon.

Operations that cannot be called meaningfully are listed with the reason; the lists and the
description must stay in step, so a new route cannot escape the sweep."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import orjson
import pytest
from starlette.types import ASGIApp, Message

from cityhub.auth.model import ROLES
from cityhub.auth.policy import ANY, GLOBAL, SCOPES, TENANT, required
from cityhub.errors import Forbidden
from cityhub.openapi.routes import spec
from cityhub.settings import Settings
from tests.auth.test_access import Hub, _hub

pytestmark = pytest.mark.anyio

GW = {"NGSILD-Tenant": "gwacheon", "fiware-service": "gwacheon"}
SEOUL = {"NGSILD-Tenant": "seoul", "fiware-service": "seoul"}
#: every way a request names tenant seoul
SEOUL_HEADERS = (SEOUL, {"NGSILD-Tenant": "seoul"})
#: in every id and every name gwacheon's data is given
MARKERS = ("gwacheon-secret", "비밀-gwacheon", "GwacheonSecret", "gwacheonSecret")
SCENE = (126.9876, 37.4292)  # 과천시청 앞
E = "/ngsi-ld/v1/entities"
METHODS = ("get", "put", "post", "delete", "patch")

#: GET operations not swept, with the reason
SKIPPED_GETS = {
    "/cityhub/v1/auth/oidc/login": "redirects to the city's identity provider (none here)",
    "/cityhub/v1/auth/oidc/callback": "the identity provider's redirect back (none here)",
}
#: operations that name an object by id but not one of a tenant, with the reason
SKIPPED_WRITES = {
    ("DELETE", "/ngsi-ld/v1/jsonldContexts/{contextId}"): "@contexts are hub-wide, not a tenant's",
    ("PUT", "/cityhub/v1/models/{type}"): "data models are hub-wide (models:admin, grants for *)",
    ("PATCH", "/cityhub/v1/models/{type}"): "data models are hub-wide",
    ("DELETE", "/cityhub/v1/models/{type}"): "data models are hub-wide",
    ("POST", "/cityhub/v1/models/{type}/validate"): "checks a body against a hub-wide model",
    ("PATCH", "/cityhub/v1/users/{name}"): "users are hub-wide (users:admin, grants for *)",
    ("DELETE", "/cityhub/v1/users/{name}"): "users are hub-wide",
    ("PUT", "/cityhub/v1/roles/{name}"): "roles are hub-wide",
    ("DELETE", "/cityhub/v1/roles/{name}"): "roles are hub-wide",
    ("DELETE", "/cityhub/v1/apikeys/{keyId}"): "a user's own keys, in no tenant",
    ("POST", "/cityhub/v1/services/{id}/setup"): "the id names a catalog service, alike everywhere",
    ("PUT", "/cityhub/v1/sops/{id}"): "stores seoul's own template of that name (checked apart)",
    ("DELETE", "/cityhub/v1/dead-letters/{nid}"): "no notification of gwacheon is dead here",
    ("POST", "/cityhub/v1/dead-letters/{nid}/retry"): "no notification of gwacheon is dead here",
}
#: writes that change the request's tenant only although they name objects in the body or query
NAMED_IN_QUERY = {("PUT", "/iot/services"), ("DELETE", "/iot/services")}


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec()["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def _gets() -> list[str]:
    return [p for m, p, _ in _operations() if m == "GET" and p not in SKIPPED_GETS]


def _addressed_writes() -> list[tuple[str, str]]:
    """Writes that name an object by id in the path (or by its key in the query)."""
    return [
        (m, p)
        for m, p, _ in _operations()
        if m != "GET" and ("{" in p or (m, p) in NAMED_IN_QUERY) and (m, p) not in SKIPPED_WRITES
    ]


def _streams() -> set[str]:
    """GET operations answering with server-sent events."""
    found = set()
    for method, path, op in _operations():
        for answer in op.get("responses", {}).values():
            if method == "GET" and "text/event-stream" in answer.get("content", {}):
                found.add(path)
    return found


def _prop(value: Any, observed: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "Property", "value": value}
    return out | ({"observedAt": observed} if observed else {})


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def _rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _gid(kind: str, name: str) -> str:
    return f"urn:ngsi-ld:{kind}:gwacheon-secret-{name}"


LOT = _gid("OffStreetParking", "lot")
SPOT, SPOT_SHARED = _gid("ParkingSpot", "1"), _gid("ParkingSpot", "2")
AIR, DISTRICT = _gid("AirQualityObserved", "air"), _gid("District", "d1")
FACILITY, PANEL = _gid("Facility", "wall"), _gid("ElectricalPanel", "p1")
HOUSEHOLD, CROSSWALK = _gid("CareHousehold", "h1"), _gid("CrosswalkObserved", "c1")
ZONE, HYDRANT = _gid("EnforcementZone", "z1"), _gid("FireHydrant", "f1")
IOT_ENTITY = _gid("ParkingSpot", "iot")
SUBSCRIPTION = _gid("Subscription", "s1")
RULE, SOP = "gwacheon-secret-rule", "gwacheon-secret-sop"
APIKEY, DEVICE = "gwacheon-secret-key", "gwacheon-secret-dev"
PLATE = "99비9999"
ZONE_AT = (SCENE[0] + 0.002, SCENE[1] + 0.002)  # a hydrant and its no-parking zone
KIOSK, KIOSK_NOTE = "GwacheonSecretKiosk", "gwacheonSecretNote"  # a type only gwacheon has


def _city() -> list[dict[str, Any]]:
    """Gwacheon's entities, one or two of each city type, all around the scene."""
    lon, lat = SCENE
    name = "비밀-gwacheon"
    box = [[[lon - 0.01, lat - 0.01], [lon + 0.01, lat - 0.01], [lon + 0.01, lat + 0.01],
            [lon - 0.01, lat + 0.01], [lon - 0.01, lat - 0.01]]]  # fmt: skip
    cam = [
        {
            "id": _gid("CCTVCamera", str(n)),
            "type": "CCTVCamera",
            "name": _prop(f"{name} CCTV {n}"),
            "heading": _prop(270),
            "fieldOfView": _prop(90),
            "streamUrl": _prop(f"rtsp://vms.gwacheon-secret.invalid/{n}"),
            "location": _point(lon + 0.0003 * n, lat),
        }
        for n in (1, 2)
    ]
    return [
        {"id": DISTRICT, "type": "District", "name": _prop(f"{name} 중앙동"),
         "location": {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": box}}},
        {"id": LOT, "type": "OffStreetParking", "name": _prop(f"{name} 공영주차장"),
         "totalSpotNumber": _prop(50), "availableSpotNumber": _prop(12),
         "occupiedSpotNumber": _prop(38), "areaServed": _prop("중앙동"),
         "location": _point(lon + 0.001, lat)},
        *[{"id": spot, "type": "ParkingSpot", "name": _prop(f"{name} 주차면 {n}"),
           "status": _prop("free"), "category": _prop(["offStreet"]),
           "refParkingSite": _rel(LOT), "location": _point(lon + 0.001 + n * 0.00001, lat)}
          for n, spot in enumerate((SPOT, SPOT_SHARED))],
        {"id": AIR, "type": "AirQualityObserved", "name": _prop(f"{name} 측정소"),
         "pm10": _prop(41.0), "pm25": _prop(22.0), "o3": _prop(40.0), "no2": _prop(20.0),
         "co": _prop(0.4), "so2": _prop(3.0), "refDistrict": _rel(DISTRICT),
         "location": _point(lon - 0.001, lat)},
        *cam,
        {"id": HYDRANT, "type": "FireHydrant", "name": _prop(f"{name} 소화전"),
         "status": _prop("inService"), "location": _point(*ZONE_AT)},
        {"id": ZONE, "type": "EnforcementZone", "name": _prop(f"{name} 단속구역"),
         "category": _prop("hydrant"), "zoneType": _prop("immediate"), "radius": _prop(10),
         "location": _point(*ZONE_AT)},
        {"id": FACILITY, "type": "Facility", "name": _prop(f"{name} 옹벽"),
         "structureType": _prop("retainingWall"), "yearBuilt": _prop(1985),
         "location": _point(lon, lat + 0.001)},
        {"id": _gid("StructuralHealthObserved", "s1"), "type": "StructuralHealthObserved",
         "name": _prop(f"{name} 계측기"), "tilt": _prop(0.02), "crackWidth": _prop(0.03),
         "refStructure": _rel(FACILITY), "location": _point(lon, lat + 0.001)},
        {"id": PANEL, "type": "ElectricalPanel", "name": _prop(f"{name} 분전반"),
         "buildingType": _prop("traditionalMarket"), "leakageCurrent": _prop(12.0),
         "temperature": _prop(35.0), "arcEvents": _prop(0), "location": _point(lon, lat - 0.001)},
        {"id": HOUSEHOLD, "type": "CareHousehold", "householdCode": _prop("GC-SECRET"),
         "name": _prop(f"{name} 가구"), "inactivityHours": _prop(12),
         "location": _point(lon - 0.001, lat - 0.001)},
        {"id": _gid("Device", "motion"), "type": "Device", "name": _prop(f"{name} 동작감지"),
         "category": _prop(["sensor"]), "controlledProperty": _prop(["motion"]),
         "controlledAsset": _rel(HOUSEHOLD), "location": _point(lon - 0.001, lat - 0.001)},
        {"id": _gid(KIOSK, "k1"), "type": KIOSK, KIOSK_NOTE: _prop(f"{name} 안내")},
        {"id": CROSSWALK, "type": "CrosswalkObserved", "name": _prop(f"{name} 횡단보도"),
         "signalControlled": _prop(True), "location": _point(lon + 0.0005, lat - 0.0005)},
    ]  # fmt: skip


TYPES = sorted({e["type"] for e in _city()} | {"CityEvent", "ParkingViolation"})
STREAMS = _streams() | {p for p in _gets() if p.endswith("/stream")}


@dataclasses.dataclass
class Sweep:
    """The hub, its accounts and what gwacheon holds."""

    hub: Hub
    admin: dict[str, str]
    seoul: dict[str, dict[str, str]]  # role -> a user granted it in seoul only
    gwacheon_admin: dict[str, str]  # administrator of gwacheon only
    ids: dict[str, str]  # what the service APIs made up for gwacheon's objects
    secrets: frozenset[str]  # strings only gwacheon's data holds

    @property
    def app(self) -> ASGIApp:
        found: ASGIApp = self.hub.client._transport.app  # type: ignore[attr-defined]
        return found

    async def settle(self) -> None:
        """Wait until every change-log consumer has handled every change so far."""
        state = self.app.state.hub  # type: ignore[attr-defined]
        while True:
            end = await state.storage.log_end()
            for feed in state.feeds.values():
                assert await feed.caught_up(end), feed.name
            if await state.storage.log_end() == end:
                return


def _ok(r: httpx.Response, *codes: int) -> Any:
    assert r.status_code in (codes or (200, 201, 204)), (r.request.method, r.request.url, r.text)
    return r.json() if r.content and "json" in r.headers.get("content-type", "") else None


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """One event loop for the module's hub."""
    return "asyncio"


@pytest.fixture(scope="module")
async def sweep(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Sweep]:
    """One hub (SQLite, auth on) with gwacheon's data of every family and a little of seoul's;
    the city's administrator, one seoul-only user per role and a gwacheon-only administrator."""
    path = tmp_path_factory.mktemp("tenancy")
    settings = Settings(database=f"sqlite:///{path / 'hub.db'}", data_dir=str(path))
    async for hub in _hub(settings, sqlite_synchronous="NORMAL", rate_limit_per_s=0.0):
        admin = await hub.login("admin", hub.admin_password)
        await hub.user("police112", {"role": "agency", "tenant": "gwacheon"})
        seoul = {r: await hub.user(f"seoul-{r}", {"role": r, "tenant": "seoul"}) for r in ROLES}
        gwacheon_admin = await hub.user("gwacheon-admin", {"role": "admin", "tenant": "gwacheon"})
        found = Sweep(hub, admin, seoul, gwacheon_admin, {}, frozenset())
        await _fill_seoul(found)
        await _fill_gwacheon(found)
        yield found


async def _fill_seoul(s: Sweep) -> None:
    c, h = s.hub.client, s.admin | SEOUL
    lot = {"id": "urn:ngsi-ld:OffStreetParking:seoul-1", "type": "OffStreetParking",
           "name": _prop("서울 공영주차장"), "totalSpotNumber": _prop(30),
           "availableSpotNumber": _prop(3), "location": _point(126.978, 37.566)}  # fmt: skip
    _ok(await c.post(E, json=lot, headers=h), 201)
    event = {"eventCode": "FIRE0001", "eventName": "서울 화재", "category": "fire",
             "severity": "high", "location": {"type": "Point", "coordinates": [126.978, 37.566]}}  # fmt: skip
    _ok(await c.post("/cityhub/v1/events", json=event, headers=h), 201)
    # the default tenant holds a lot too: a seoul request must not reach it either
    default = lot | {"id": "urn:ngsi-ld:OffStreetParking:default-tenant-1"}
    _ok(await c.post(E, json=default, headers=s.admin), 201)


async def _fill_gwacheon(s: Sweep) -> None:
    c, h, ids = s.hub.client, s.admin | GW, s.ids
    now = datetime.now(UTC)
    scene = {"type": "Point", "coordinates": list(SCENE)}
    name = "비밀-gwacheon"
    _ok(await c.post("/ngsi-ld/v1/entityOperations/create", json=_city(), headers=h), 201)
    # @contexts are hub-wide: this one carries no marker, seoul may well see it
    context = {"@context": {"kioskNote": "https://example.org/kiosk#note"}}
    r = await c.post("/ngsi-ld/v1/jsonldContexts", json=context, headers=h)
    ids["contextId"] = _ok(r, 201) or r.headers["location"].rsplit("/", 1)[-1]
    for service in _ok(await c.get("/cityhub/v1/services", headers=h), 200):
        _ok(await c.post(f"/cityhub/v1/services/{service['id']}/setup", headers=h), 200, 201)
    # history: the lot fills up, the crosswalk counts, the wall tilts
    for n in range(3):
        at = _iso(now - timedelta(minutes=30 - 10 * n))
        _ok(await c.patch(f"{E}/{LOT}/attrs", json={"availableSpotNumber": _prop(9 - n, at)},
                          headers=h), 204)  # fmt: skip
        body = {"stopLineViolations": _prop(3 + n, at), "vehicleCount": _prop(100, at),
                "pedestrianCount": _prop(50, at)}  # fmt: skip
        _ok(await c.patch(f"{E}/{CROSSWALK}/attrs", json=body, headers=h), 204)
    subscription = {
        "id": SUBSCRIPTION,
        "type": "Subscription",
        "subscriptionName": f"{name} 구독",
        "entities": [{"type": "OffStreetParking"}],
        "notification": {"endpoint": {"uri": "http://gwacheon-secret.example.invalid/hook"}},
    }
    _ok(await c.post("/ngsi-ld/v1/subscriptions", json=subscription, headers=h), 201)
    # IoT: a service group, a device, a measure and one that cannot be taken
    group = {"apikey": APIKEY, "resource": "/iot/json", "entity_type": "ParkingSpot",
             "attributes": [{"object_id": "s", "name": "status", "type": "Text"}]}  # fmt: skip
    _ok(await c.post("/iot/services", json={"services": [group]}, headers=h), 201)
    device = {"device_id": DEVICE, "apikey": APIKEY, "entity_name": IOT_ENTITY,
              "entity_type": "ParkingSpot", "protocol": "IoTA-JSON"}  # fmt: skip
    _ok(await c.post("/iot/devices", json={"devices": [device]}, headers=h), 201)
    measure = {"k": APIKEY, "i": DEVICE}
    _ok(await c.post("/iot/json", params=measure, json={"s": "occupied"}, headers=GW), 200, 204)
    bad = await c.post(
        "/iot/json",
        params=measure,
        content=b"{not json",
        headers=GW | {"content-type": "application/json"},
    )
    assert bad.status_code == 400, bad.text
    letters = _ok(await c.get("/iot/dead-letters", headers=h), 200)
    ids["deadLetterId"] = str(letters["deadLetters"][0]["id"])
    # the operations center: a rule, an own SOP, an event with its checklist, a video share
    rule = {"id": RULE, "name": f"{name} 규칙", "kind": "threshold",
            "entityType": "AirQualityObserved", "q": "pm25>=75", "for": "PT1H", "clear": "pm25<35",
            "event": {"eventCode": "ENV0025", "eventName": f"{name} 주의보", "severity": "high",
                      "category": "environment"}}  # fmt: skip
    _ok(await c.post("/cityhub/v1/rules", json=rule, headers=h), 201)
    step = {"id": "check", "title": f"{name} 현장 확인", "role": "operator", "dueMinutes": 5}
    sop = {"name": f"{name} SOP", "match": {"categories": ["fire"]}, "steps": [step]}
    _ok(await c.put(f"/cityhub/v1/sops/{SOP}", json=sop, headers=h), 201)
    event = {"eventCode": "FIRE0001", "eventName": f"{name} 화재", "severity": "high",
             "category": "fire", "place": f"{name} 중앙동 1-3", "location": scene}  # fmt: skip
    ids["eventId"] = _ok(await c.post("/cityhub/v1/events", json=event, headers=h), 201)["id"]
    await s.settle()
    started = await c.post(
        f"/cityhub/v1/events/{ids['eventId']}/sop", json={"template": SOP}, headers=h
    )
    _ok(started, 201, 409)
    share = {"eventId": ids["eventId"], "agency": "police112", "purpose": f"{name} 현장 확인",
             "nearest": 2}  # fmt: skip
    grants = _ok(await c.post("/cityhub/v1/cctv/grants", json=share, headers=h), 201)
    ids["grantId"] = grants[0]["id"]
    linked = {"service": "112-video", "location": scene, "place": f"{name} 별양동",
              "reference": "gwacheon-secret-ref", "agency": "police112"}  # fmt: skip
    ids["linkedId"] = _ok(await c.post("/cityhub/v1/linked/requests", json=linked, headers=h),
                          201)["id"]  # fmt: skip
    # parking: a driver's phone, a sighting at the hydrant, a shared spot booked
    phone = {"plate": PLATE, "phone": "010-9999-0000", "consent": True}
    _ok(await c.post("/cityhub/v1/parking/enforcement/phones", json=phone, headers=h), 200, 201)
    sighting = {"plate": PLATE, "at": _iso(now - timedelta(minutes=5)),
                "location": {"type": "Point", "coordinates": list(ZONE_AT)},
                "camera": {"id": "cctv-gwacheon-secret", "kind": "fixed"}}  # fmt: skip
    seen = _ok(await c.post("/cityhub/v1/parking/enforcement/sightings", json=sighting,
                            headers=h), 200, 201)  # fmt: skip
    ids["caseId"] = seen["caseId"]
    start = now + timedelta(days=1)
    offer = {"spotId": SPOT_SHARED, "from": _iso(start), "to": _iso(start + timedelta(hours=9)),
             "tariff": {"perHour": 1200, "minimumMinutes": 30, "cancelFee": 500}}  # fmt: skip
    ids["offerId"] = _ok(await c.post("/cityhub/v1/parking/shared/offers", json=offer,
                                      headers=h), 201)["id"]  # fmt: skip
    booking = {"offerId": ids["offerId"], "from": _iso(start + timedelta(hours=1)),
               "to": _iso(start + timedelta(hours=2)), "plate": PLATE}  # fmt: skip
    ids["bookingId"] = _ok(await c.post("/cityhub/v1/parking/shared/bookings", json=booking,
                                        headers=h), 201)["id"]  # fmt: skip
    # care: a missing child, a walk home
    missing = {"kind": "child", "description": f"{name} 8세 남아", "location": scene,
               "accuracy": 50, "place": f"{name} 놀이터", "agency": "police112"}  # fmt: skip
    ids["missingId"] = _ok(await c.post("/cityhub/v1/care/missing", json=missing, headers=h),
                           201)["id"]  # fmt: skip
    walk = {"from": {"type": "Point", "coordinates": [126.9905, 37.4301]},
            "to": {"type": "Point", "coordinates": [126.9941, 37.4335]},
            "expectedArrival": _iso(now + timedelta(minutes=30)), "contact": "010-9999-1111"}  # fmt: skip
    ids["walkId"] = _ok(await c.post("/cityhub/v1/care/walks", json=walk, headers=h), 201)["id"]
    # the facility and electrical services calibrated by gwacheon
    for service in ("facilities", "electrical"):
        table = _ok(await c.get(f"/cityhub/v1/{service}/thresholds", headers=h), 200)
        _ok(await c.put(f"/cityhub/v1/{service}/thresholds", json=table["thresholds"],
                        headers=h), 200)  # fmt: skip
    await s.settle()
    history = await c.get(f"/ngsi-ld/v1/temporal/entities/{LOT}", headers=h)
    ids["instanceId"] = _ok(history, 200)["availableSpotNumber"][0]["instanceId"]
    made = {v for k, v in ids.items() if len(v) >= 8 and k != "contextId"}  # hub-wide
    s.secrets = frozenset(MARKERS) | frozenset(made)


# --- filling in requests ----------------------------------------------------------------------

#: the keys of Sweep.ids the fill-in needs (made up by the service APIs at the start)
MADE_UP = ("eventId", "grantId", "linkedId", "caseId", "offerId", "bookingId", "missingId",
           "walkId", "instanceId", "deadLetterId", "contextId")  # fmt: skip


def _path_values(ids: dict[str, str]) -> Callable[[str, str], list[str]]:
    """For a path and one of its parameters, gwacheon's ids to put there."""
    entities = [e["id"] for e in _city()] + [IOT_ENTITY, ids["eventId"]]
    by_place = {
        "/cityhub/v1/linked/requests/{id}": ids["linkedId"],
        "/cityhub/v1/sops/{id}": SOP,
        "/cityhub/v1/events/{id}": ids["eventId"],
        "/cityhub/v1/parking/lots/{id}": LOT,
        "/cityhub/v1/parking/shared/offers/{id}": ids["offerId"],
        "/cityhub/v1/parking/shared/bookings/{id}": ids["bookingId"],
        "/cityhub/v1/facilities/{id}": FACILITY,
        "/cityhub/v1/parking/enforcement/cases/{id}": ids["caseId"],
        "/cityhub/v1/care/households/{id}": HOUSEHOLD,
        "/cityhub/v1/care/missing/{id}": ids["missingId"],
        "/cityhub/v1/care/walks/{id}": ids["walkId"],
        "/cityhub/v1/services/{id}": "parking",
    }
    by_name = {
        "entityId": entities,
        "type": [KIOSK],
        "contextId": [ids["contextId"]],
        "subscriptionId": [SUBSCRIPTION],
        "instanceId": [ids["instanceId"]],
        "deviceId": [DEVICE],
        "deadLetterId": [ids["deadLetterId"]],
        "eventId": [ids["eventId"]],
        "ruleId": [RULE],
        "grantId": [ids["grantId"]],
        "name": ["gwacheon-admin"],
        "keyId": ["1"],
        "nid": ["1"],
        "step": ["check"],
        "plate": [PLATE],
        "path": ["index.html"],
    }

    def values(path: str, param: str) -> list[str]:
        if param == "id":
            place = path[: path.index("{id}") + 4]
            return [by_place[place]]
        if param == "attrId":  # discovery: gwacheon's own attribute; history: the one it has
            if path.startswith("/ngsi-ld/v1/attributes"):
                return [KIOSK_NOTE]
            return ["availableSpotNumber" if "/temporal/" in path else "name"]
        if param == "entityId" and path != "/ngsi-ld/v1/entities/{entityId}":
            return [LOT]  # one is enough where the id is not the whole answer
        return by_name[param]

    return values


def _urls(ids: dict[str, str], template: str) -> list[tuple[str, list[str]]]:
    """Concrete paths for ``template``, each with the values put into it."""
    values = _path_values(ids)
    found: list[tuple[str, list[str]]] = [(template, [])]
    for param in re.findall(r"\{(\w+)\}", template):
        found = [
            (path.replace(f"{{{param}}}", quote(v, safe=":")), [*used, v])
            for path, used in found
            for v in values(template, param)
        ]
    return found


def _queries(template: str) -> list[dict[str, str]]:
    """Query parameters: the required ones, and ones that would find gwacheon's data."""
    types = ",".join(TYPES)
    lon, lat = str(SCENE[0]), str(SCENE[1])
    since = {"timerel": "after", "timeAt": "2000-01-01T00:00:00Z"}
    near = {
        "georel": "near;maxDistance==5000",
        "geometry": "Point",
        "coordinates": f"[{lon},{lat}]",
    }
    return {
        "/ngsi-ld/v1/entities": [{"type": types, "limit": "1000"}, {"idPattern": ".*"} | near],
        "/ngsi-ld/v1/temporal/entities": [{"type": types} | since, {"idPattern": ".*"} | since],
        "/ngsi-ld/v1/temporal/entities/{entityId}": [since],
        "/ngsi-ld/v1/types": [{}, {"details": "true"}],
        "/ngsi-ld/v1/attributes": [{}, {"details": "true"}],
        "/ngsi-ld/v1/jsonldContexts": [{"details": "true"}],
        "/cityhub/v1/cctv/nearest": [{"lon": lon, "lat": lat, "count": "5", "maxDistance": "5000"}],
        "/cityhub/v1/parking/lots/nearest": [{"lon": lon, "lat": lat}],
        "/cityhub/v1/inbox": [{}, {"agency": "police112"}],
        "/cityhub/v1/parking/shared/offers": [{}, {"lon": lon, "lat": lat}],
        "/cityhub/v1/events": [{}, {"state": "open"}],
        "/cityhub/v1/parking/enforcement/zones": [{"lon": str(ZONE_AT[0]), "lat": str(ZONE_AT[1])}],
    }.get(template, [{}])


def _requests(ids: dict[str, str], template: str) -> list[tuple[str, list[str]]]:
    """Every URL (path and query) the sweep sends for ``template``, with the values in it."""
    found = []
    for path, used in _urls(ids, template):
        for query in _queries(template):
            found.append((path + ("?" + urlencode(query) if query else ""), used))
    return found


def _cleaned(text: str, sent: list[str]) -> str:
    """An answer without the values the request itself sent (a 404 may repeat them)."""
    for value in sorted(sent, key=len, reverse=True):
        for form in (value, quote(value, safe=":"), quote(value, safe="")):
            text = text.replace(form, "«sent»")
    return text


def _leaks(text: str, secrets: frozenset[str]) -> list[str]:
    decoded = text
    if "\\u" in text:  # JSON escaping non-ASCII text
        decoded = text.encode("utf-8").decode("unicode_escape", errors="ignore")
    return sorted(s for s in secrets if s in text or s in decoded)


def _scope(permission: str | None) -> str | None:
    return None if not permission else SCOPES.get(permission, TENANT)


#: who reads a route in seoul where the least role would be refused for another reason
READERS = {"/cityhub/v1/inbox": "operator"}  # an agency reads its own inbox only


def _reader(permission: str | None, template: str = "") -> str:
    """The least role that may use ``permission`` (any role where none is needed)."""
    if template in READERS:
        return READERS[template]
    if not permission or _scope(permission) != TENANT:
        return "citizen"
    return min((r for r in ROLES if permission in ROLES[r]), key=lambda r: (len(ROLES[r]), r))


def _what(permission: str) -> str:
    family, _, verb = permission.partition(":")
    return f"{ {'read': 'read', 'write': 'change', 'admin': 'administer', 'send': 'send'}.get(verb, verb) } {family}"


async def _read_stream(
    app: ASGIApp, url: str, headers: dict[str, str], during: Callable[[], Awaitable[None]]
) -> tuple[int, str]:
    """A server-sent event stream read for about two seconds while ``during`` runs."""
    path, _, query = url.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "server": ("hub", 80), "client": ("127.0.0.1", 50000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"host", b"hub"), (b"accept", b"text/event-stream")],
    }  # fmt: skip
    status: list[int] = []
    body = bytearray()
    gone = asyncio.Event()
    asked = False

    async def receive() -> Message:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    async def run() -> None:
        await app(scope, receive, send)

    task = asyncio.create_task(run())
    await asyncio.sleep(0.5)
    await during()
    await asyncio.sleep(1.5)
    gone.set()
    try:
        await asyncio.wait_for(task, 5)
    except TimeoutError:  # a stream that does not notice the disconnect: stop it
        task.cancel()
    assert status, f"no answer from {url}"
    return status[0], body.decode("utf-8", errors="replace")


async def _get(s: Sweep, template: str, url: str, headers: dict[str, str]) -> tuple[int, str]:
    if template in STREAMS:
        return await _read_stream(s.app, url, headers, _nothing)
    r = await s.hub.client.get(url, headers=headers)
    return r.status_code, r.text


async def _nothing() -> None:
    return None


# --- the sweep --------------------------------------------------------------------------------


def test_the_sweep_and_the_description_stay_in_step() -> None:
    operations = {(m, p) for m, p, _ in _operations()}
    assert {("GET", p) for p in SKIPPED_GETS} <= operations, "a skipped GET is gone"
    assert set(SKIPPED_WRITES) <= operations, "a skipped write is gone"
    assert operations >= NAMED_IN_QUERY
    assert {"/cityhub/v1/changes/stream", "/cityhub/v1/events/stream"} <= STREAMS
    # every parameter of every swept route can be filled with gwacheon's ids
    ids = {k: f"urn:ngsi-ld:X:{k}" for k in MADE_UP}
    for method, path in [("GET", p) for p in _gets()] + _addressed_writes():
        for url, used in _requests(ids, path):
            assert "{" not in url and len(used) == path.count("{"), (method, path)


@pytest.mark.parametrize("template", sorted(set(_gets()) - STREAMS))
async def test_seoul_sees_nothing_of_gwacheon(sweep: Sweep, template: str) -> None:
    requests = _requests(sweep.ids, template)
    for url, sent in requests:
        needed = required("GET", url.partition("?")[0])
        scope = _scope(needed)
        role = _reader(needed, template)
        for tenant in SEOUL_HEADERS:
            for who, headers in (("admin", sweep.admin), (f"seoul-{role}", sweep.seoul[role])):
                status, text = await _get(sweep, template, url, headers | tenant)
                assert status < 500, (who, url, text)
                if who != "admin" and scope == GLOBAL:  # the hub's own: grants for * only
                    assert status == 403, (who, url, text)
                    continue
                assert status not in (401, 403), (who, url, text)
                if who == "admin" and scope == GLOBAL:
                    continue  # users, audit, status concern every tenant at once, by design
                found = _leaks(_cleaned(text, sent), sweep.secrets)
                assert not found, (who, tenant, url, status, found, text[:2000])
    # the same requests in gwacheon find what they were looking for
    if template in REVEALS:
        found = []
        for url, sent in requests:
            _, text = await _get(sweep, template, url, sweep.admin | GW)
            found += _leaks(_cleaned(text, sent), sweep.secrets)
        assert found, f"{template} shows nothing of gwacheon in gwacheon either"


@pytest.mark.parametrize("template", sorted(_gets()))
async def test_a_gwacheon_user_is_refused_in_seoul(sweep: Sweep, template: str) -> None:
    for url, _ in _requests(sweep.ids, template)[:1]:
        needed = required("GET", url.partition("?")[0])
        for tenant in SEOUL_HEADERS:
            status, text = await _get(sweep, template, url, sweep.gwacheon_admin | tenant)
            scope = _scope(needed)
            if scope == TENANT:
                where = "in tenant 'seoul'"
            elif scope == GLOBAL:
                where = "(it needs a grant for every tenant, *)"
            else:  # open, any signed-in principal, or a grant anywhere (data models)
                assert status < 400 or status == 404, (url, text)
                assert scope in (None, ANY), scope
                continue
            assert status == 403, (url, text)
            assert needed is not None
            assert orjson.loads(text) == {
                "type": "urn:cityhub:errors:Forbidden",
                "title": Forbidden("").title,
                "status": 403,
                "detail": f"gwacheon-admin may not {_what(needed)} {where}",
            }


@pytest.mark.parametrize("template", sorted(STREAMS))
async def test_live_streams_in_seoul_show_nothing_of_gwacheon(sweep: Sweep, template: str) -> None:
    c, h = sweep.hub.client, sweep.admin | GW
    count = 0

    async def gwacheon_changes() -> None:
        nonlocal count
        count += 1
        body = {"availableSpotNumber": _prop(count), "name": _prop(f"비밀-gwacheon 주차장 {count}")}
        _ok(await c.patch(f"{E}/{LOT}/attrs", json=body, headers=h), 204)
        event = {"eventCode": "FIRE0001", "eventName": "비밀-gwacheon 화재", "severity": "high",
                 "category": "fire", "place": f"비밀-gwacheon 별양동 {template} {count}",
                 "location": {"type": "Point", "coordinates": list(SCENE)}}  # fmt: skip
        _ok(await c.post("/cityhub/v1/events", json=event, headers=h), 201)

    (url, _), *_ = _requests(sweep.ids, template)
    role = _reader(required("GET", url.partition("?")[0]))
    for headers in (sweep.admin, sweep.seoul[role]):
        status, text = await _read_stream(sweep.app, url, headers | SEOUL, gwacheon_changes)
        assert status == 200, text
        assert not _leaks(text, sweep.secrets), text[:2000]
    # the same stream in gwacheon does carry the changes
    status, text = await _read_stream(sweep.app, url, sweep.admin | GW, gwacheon_changes)
    assert status == 200 and _leaks(text, sweep.secrets), text[:2000]


#: GET routes whose answer in gwacheon shows gwacheon's objects (the sweep is not vacuous)
REVEALS = {
    "/cityhub/v1/air/districts",
    "/cityhub/v1/air/layer",
    "/cityhub/v1/air/stations",
    "/cityhub/v1/audit",
    "/cityhub/v1/audit/export",
    "/cityhub/v1/care/households",
    "/cityhub/v1/care/households/{id}",
    "/cityhub/v1/care/layer",
    "/cityhub/v1/care/missing",
    "/cityhub/v1/care/missing/{id}",
    "/cityhub/v1/care/walks",
    "/cityhub/v1/cctv/grants",
    "/cityhub/v1/cctv/grants/{grantId}",
    "/cityhub/v1/cctv/grants/{grantId}/view",
    "/cityhub/v1/cctv/nearest",
    "/cityhub/v1/crosswalks/layer",
    "/cityhub/v1/crosswalks/stats",
    "/cityhub/v1/electrical/layer",
    "/cityhub/v1/electrical/panels",
    "/cityhub/v1/events",
    "/cityhub/v1/events/{eventId}",
    "/cityhub/v1/events/{id}/sop",
    "/cityhub/v1/facilities",
    "/cityhub/v1/facilities/layer",
    "/cityhub/v1/facilities/{id}/report",
    "/cityhub/v1/inbox",
    "/cityhub/v1/linked/requests",
    "/cityhub/v1/linked/requests/{id}",
    "/cityhub/v1/parking/availability",
    "/cityhub/v1/parking/enforcement/cases",
    "/cityhub/v1/parking/enforcement/cases/{id}",
    "/cityhub/v1/parking/enforcement/stats",
    "/cityhub/v1/parking/enforcement/zones",
    "/cityhub/v1/parking/layer",
    "/cityhub/v1/parking/lots/nearest",
    "/cityhub/v1/parking/shared/bookings",
    "/cityhub/v1/parking/shared/bookings/{id}",
    "/cityhub/v1/parking/shared/offers",
    "/cityhub/v1/parking/shared/offers/{id}",
    "/cityhub/v1/rules",
    "/cityhub/v1/rules/{ruleId}",
    "/cityhub/v1/sops",
    "/cityhub/v1/sops/{id}",
    "/iot/dead-letters",
    "/iot/dead-letters/counts",
    "/iot/dead-letters/{deadLetterId}",
    "/iot/devices",
    "/iot/devices/{deviceId}",
    "/iot/services",
    "/ngsi-ld/v1/attributes",
    "/ngsi-ld/v1/attributes/{attrId}",
    "/ngsi-ld/v1/entities",
    "/ngsi-ld/v1/entities/{entityId}",
    "/ngsi-ld/v1/subscriptions",
    "/ngsi-ld/v1/subscriptions/{subscriptionId}",
    "/ngsi-ld/v1/temporal/entities",
    "/ngsi-ld/v1/temporal/entities/{entityId}",
    "/ngsi-ld/v1/types",
    "/ngsi-ld/v1/types/{type}",
}


# --- writes naming gwacheon's objects ---------------------------------------------------------


def _write_body(method: str, template: str) -> Any:
    """A body that would do its work if the object were there."""
    at = _iso(datetime.now(UTC))
    scene = {"type": "Point", "coordinates": list(SCENE)}
    bodies: dict[tuple[str, str], Any] = {
        ("PUT", "/ngsi-ld/v1/entities/{entityId}"): {
            "type": "OffStreetParking",
            "name": _prop("서울이 덮어씀"),
        },
        ("PATCH", "/ngsi-ld/v1/entities/{entityId}"): {"name": _prop("서울이 바꿈")},
        ("POST", "/ngsi-ld/v1/entities/{entityId}/attrs"): {"note": _prop("서울")},
        ("PATCH", "/ngsi-ld/v1/entities/{entityId}/attrs"): {"name": _prop("서울이 바꿈")},
        ("PATCH", "/ngsi-ld/v1/entities/{entityId}/attrs/{attrId}"): _prop("서울이 바꿈"),
        ("PUT", "/ngsi-ld/v1/entities/{entityId}/attrs/{attrId}"): _prop("서울이 바꿈"),
        ("PATCH", "/ngsi-ld/v1/subscriptions/{subscriptionId}"): {"subscriptionName": "서울"},
        ("POST", "/ngsi-ld/v1/temporal/entities/{entityId}/attrs"): {
            "availableSpotNumber": [_prop(0, at)]
        },
        ("PATCH", "/ngsi-ld/v1/temporal/entities/{entityId}/attrs/{attrId}/{instanceId}"): {
            "availableSpotNumber": [_prop(0, at)]
        },
        ("PUT", "/iot/devices/{deviceId}"): {"timezone": "Asia/Seoul"},
        ("PUT", "/iot/services"): {"entity_type": "Streetlight"},
        ("POST", "/cityhub/v1/events/{eventId}/transitions"): {"to": "acknowledged"},
        ("PUT", "/cityhub/v1/rules/{ruleId}"): {"name": "서울", "kind": "threshold",
            "entityType": "AirQualityObserved", "q": "pm25>=10",
            "event": {"eventCode": "ENV0025", "eventName": "서울", "severity": "low"}},
        ("POST", "/cityhub/v1/linked/requests/{id}/arrival"): {},
        ("POST", "/cityhub/v1/events/{id}/sop"): {"template": SOP},
        ("POST", "/cityhub/v1/events/{id}/sop/steps/{step}"): {"status": "done"},
        ("POST", "/cityhub/v1/care/missing/{id}/locations"): {"location": scene},
        ("POST", "/cityhub/v1/care/missing/{id}/found"): {"note": "서울"},
        ("POST", "/cityhub/v1/care/walks/{id}/positions"): {"location": scene},
    }  # fmt: skip
    return bodies.get((method, template))


async def _gwacheon_state(s: Sweep) -> dict[str, Any]:
    """What gwacheon holds, read back in gwacheon."""
    c, h, ids = s.hub.client, s.admin | GW, s.ids
    reads = [f"{E}/{quote(e['id'], safe=':')}" for e in _city()]
    reads += [
        f"{E}/{IOT_ENTITY}",
        f"{E}/{ids['eventId']}",
        f"/ngsi-ld/v1/temporal/entities/{LOT}",
        f"/ngsi-ld/v1/subscriptions/{SUBSCRIPTION}",
        f"/iot/devices/{DEVICE}",
        "/iot/services",
        f"/iot/dead-letters/{ids['deadLetterId']}",
        f"/cityhub/v1/events/{ids['eventId']}",
        f"/cityhub/v1/events/{ids['eventId']}/sop",
        f"/cityhub/v1/rules/{RULE}",
        f"/cityhub/v1/sops/{SOP}",
        f"/cityhub/v1/cctv/grants/{ids['grantId']}",
        f"/cityhub/v1/linked/requests/{ids['linkedId']}",
        f"/cityhub/v1/parking/shared/offers/{ids['offerId']}",
        f"/cityhub/v1/parking/shared/bookings/{ids['bookingId']}",
        f"/cityhub/v1/parking/enforcement/cases/{ids['caseId']}",
        "/cityhub/v1/parking/enforcement/phones",
        f"/cityhub/v1/care/missing/{ids['missingId']}",
        f"/cityhub/v1/care/walks/{ids['walkId']}",
        "/cityhub/v1/facilities/thresholds",
        "/cityhub/v1/electrical/thresholds",
    ]
    state = {}
    for url in reads:
        r = await c.get(url, headers=h)
        assert r.status_code == 200, (url, r.text)
        state[url] = _without_delivery(r.json())
    return state


#: a subscription's delivery record: it moves as its notifications are retried in the background
_DELIVERY = {"lastNotification", "lastFailure", "lastSuccess", "timesSent", "timesFailed", "status"}


def _without_delivery(body: Any) -> Any:
    if isinstance(body, dict) and body.get("type") == "Subscription":
        body = {k: v for k, v in body.items() if k not in _DELIVERY}
        if isinstance(body.get("notification"), dict):
            body["notification"] = {
                k: v for k, v in body["notification"].items() if k not in _DELIVERY
            }
    return body


def _write_order() -> list[tuple[str, str]]:
    """Deletions first, so a change that reached gwacheon is not hidden by a later deletion."""
    return sorted(_addressed_writes(), key=lambda op: (op[0] != "DELETE", op[1], op[0]))


@pytest.mark.parametrize(
    ("method", "template"), _write_order(), ids=[f"{m} {p}" for m, p in _write_order()]
)
async def test_writes_naming_gwacheon_objects_find_nothing_in_seoul(
    sweep: Sweep, method: str, template: str
) -> None:
    await sweep.settle()  # what earlier tests set going has landed
    before = await _gwacheon_state(sweep)
    body = _write_body(method, template)
    for url, _ in _urls(sweep.ids, template)[:1]:
        if (method, template) in NAMED_IN_QUERY:
            url += "?" + urlencode({"apikey": APIKEY, "resource": "/iot/json"})
        r = await sweep.hub.client.request(
            method,
            url,
            json=body,
            headers=sweep.admin | SEOUL | {"content-type": "application/json"},
        )
        assert r.status_code in (403, 404), (method, url, r.text)
    await sweep.settle()
    after = await _gwacheon_state(sweep)
    assert after == before, {u: (before[u], after[u]) for u in before if after[u] != before[u]}


# --- the tenant headers -----------------------------------------------------------------------


async def test_a_seoul_template_of_gwacheon_template_name_is_seoul_own(sweep: Sweep) -> None:
    c, gw = sweep.hub.client, sweep.admin | GW
    before = _ok(await c.get(f"/cityhub/v1/sops/{SOP}", headers=gw), 200)
    step = {"id": "look", "title": "서울 확인", "role": "operator", "dueMinutes": 5}
    own = {"name": "서울 SOP", "match": {"categories": ["flood"]}, "steps": [step]}
    r = await c.put(f"/cityhub/v1/sops/{SOP}", json=own, headers=sweep.admin | SEOUL)
    assert _ok(r, 201)["name"] == "서울 SOP"
    assert (
        await c.delete(f"/cityhub/v1/sops/{SOP}", headers=sweep.admin | SEOUL)
    ).status_code == 204
    assert _ok(await c.get(f"/cityhub/v1/sops/{SOP}", headers=gw), 200) == before
    for service in ("facilities", "electrical"):  # gwacheon calibrated, seoul did not
        r = await c.get(
            f"/cityhub/v1/{service}/thresholds", headers=sweep.seoul["operator"] | SEOUL
        )
        assert _ok(r, 200)["custom"] is False
        assert _ok(await c.get(f"/cityhub/v1/{service}/thresholds", headers=gw), 200)["custom"]


@pytest.mark.parametrize(
    "path", ["/iot/services", "/iot/devices", f"/iot/devices/{DEVICE}", "/iot/dead-letters"]
)
async def test_iot_headers_naming_two_tenants_are_refused(sweep: Sweep, path: str) -> None:
    mixed = {"NGSILD-Tenant": "seoul", "fiware-service": "gwacheon"}
    r = await sweep.hub.client.get(path, headers=sweep.seoul["admin"] | mixed)
    assert not _leaks(r.text, sweep.secrets), r.text
    problem = _ok(r, 400)
    assert (
        problem["detail"] == "the NGSILD-Tenant and fiware-service headers name different tenants"
    )


async def test_fiware_service_alone_keeps_a_seoul_user_in_seoul(sweep: Sweep) -> None:
    r = await sweep.hub.client.get(
        E,
        params={"type": "OffStreetParking"},
        headers=sweep.seoul["admin"] | {"fiware-service": "seoul"},
    )
    assert r.status_code in (200, 400, 403), r.text
    assert "default-tenant-1" not in r.text


async def test_a_repeated_tenant_header_keeps_a_gwacheon_user_out_of_seoul(sweep: Sweep) -> None:
    headers = [
        *sweep.gwacheon_admin.items(),
        ("NGSILD-Tenant", "seoul"),
        ("NGSILD-Tenant", "gwacheon"),
    ]
    r = await sweep.hub.client.get(E, params={"type": "OffStreetParking"}, headers=headers)
    assert r.status_code in (200, 400, 403), r.text
    assert "seoul-1" not in r.text
