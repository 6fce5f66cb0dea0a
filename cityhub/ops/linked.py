"""The five linked safety services (5대 연계서비스): requests from police (112), fire/EMS (119),
the disaster center and welfare services, answered with an event, cameras and a video share.

A request names its service and the scene. :meth:`LinkedService.request` then, in order:

1. opens a ``CityEvent`` for it (``linkedService``, ``requestedBy``: the agency account);
2. picks the nearest cameras to the scene (facing ones first, see cctv.py);
3. grants the requesting agency a time-limited share of them, tied to that event;
4. for ``119-dispatch``, plans the route from the responding fire station over the city's road
   network (``RoadSegment`` entities) with the hydrants, illegally parked vehicles and narrow
   segments along it (roads.py);
5. stores the request with the answer it got (``linked_requests``, migration 0014).

A request with the agency's own case number (``reference``) is idempotent: sending it again
returns the first answer, so an agency system may retry safely. Agencies see their own requests
only; the center's staff (``events:write``) see every one.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson

from cityhub.errors import (
    AlreadyExists,
    BadRequestData,
    Conflict,
    NonexistentTenant,
    ResourceNotFound,
)
from cityhub.ngsild import geo
from cityhub.ngsild.entity import Entity
from cityhub.ngsild.filters import EntityQuery, parse_type_expr
from cityhub.ngsild.hub import Hub
from cityhub.ngsild.models import now_iso
from cityhub.ops.cctv import CctvService
from cityhub.ops.events import SEVERITIES, EventService, EventSpec, _prop, _value
from cityhub.ops.roads import RoadNetwork, along, nearest_by_route
from cityhub.storage.plain import PlainSql


@dataclass(frozen=True, slots=True)
class Kind:
    """One linked service: its event code and name, category and default severity."""

    id: str
    code: str
    name: str
    category: str
    severity: str
    purpose: str  # why footage is shared, for the grant and the audit log


SERVICES: dict[str, Kind] = {
    k.id: k
    for k in (
        Kind("112-video", "LNK112VID", "112 긴급영상 지원", "crime", "high", "112 신고 현장 영상"),
        Kind("112-dispatch", "LNK112DSP", "112 긴급출동 지원", "crime", "high", "112 출동 지원"),
        Kind("119-dispatch", "LNK119DSP", "119 긴급출동 지원", "fire", "critical", "119 출동 지원"),
        Kind("disaster", "LNKDSTR", "재난안전상황 긴급대응 지원", "disaster", "high", "재난 현장"),
        Kind("vulnerable", "LNKVULN", "사회적 약자 지원", "vulnerablePeople", "high", "약자 위치"),
    )
}
ROAD, STATION, HYDRANT, VIOLATION = "RoadSegment", "FireStation", "FireHydrant", "ParkingViolation"
#: a violation in one of these states is a car still standing there
_STANDING = (None, "open", "detected", "confirmed", "notified")
_COLUMNS = (
    "id, tenant, service, agency, reference, event_id, received_at, responded_at, arrived_at, "
    "response"
)
_PAGE = 1000
_NETWORK_TTL_S = 60.0


@dataclass(slots=True)
class Request:
    """A request as filed (the plain JSON form, after checking)."""

    service: Kind
    lon: float
    lat: float
    place: str = ""
    description: str = ""
    reference: str = ""
    severity: str = ""
    event_code: str = ""
    event_name: str = ""
    cameras: int = 5
    max_distance: float = 500.0
    minutes: float = 60.0
    station: str | None = None

    @classmethod
    def from_json(cls, body: Any, default_minutes: float) -> Request:
        """From the API form (BadRequestData naming what is wrong)."""
        if not isinstance(body, dict):
            raise BadRequestData("a request is a JSON object")
        kind = SERVICES.get(str(body.get("service")))
        if kind is None:
            raise BadRequestData(f"service must be one of {', '.join(SERVICES)}")
        loc = body.get("location")
        if (
            not isinstance(loc, dict)
            or loc.get("type") != "Point"
            or not isinstance(loc.get("coordinates"), list)
            or len(loc["coordinates"]) < 2
            or not all(
                isinstance(c, int | float) and not isinstance(c, bool)
                for c in loc["coordinates"][:2]
            )
        ):
            raise BadRequestData("location must be a GeoJSON Point of the scene")
        lon, lat = (float(c) for c in loc["coordinates"][:2])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise BadRequestData("location coordinates are out of range")
        texts: dict[str, str] = {}
        for key in ("place", "description", "reference", "severity", "eventCode", "eventName"):
            value = body.get(key, "")
            if not isinstance(value, str) or len(value) > 2000:
                raise BadRequestData(f"{key} must be a string (at most 2000 characters)")
            texts[key] = value
        if texts["severity"] and texts["severity"] not in SEVERITIES:
            raise BadRequestData(f"severity must be one of {', '.join(SEVERITIES)}")
        if len(texts["reference"]) > 100:
            raise BadRequestData("reference is at most 100 characters")
        cameras = body.get("cameras", 5)
        if not isinstance(cameras, int) or isinstance(cameras, bool) or not 0 <= cameras <= 20:
            raise BadRequestData("cameras is how many to share: 0-20")
        distance = _number(body, "maxDistance", 500.0)
        minutes = _number(body, "minutes", default_minutes)
        if not 0 < distance <= 5000:
            raise BadRequestData("maxDistance is 1-5000 metres")
        if not 0 < minutes <= 24 * 60:
            raise BadRequestData("minutes must be more than 0 and at most 1440 (a day)")
        station = body.get("station")
        if station is not None and (not isinstance(station, str) or not station):
            raise BadRequestData("station must be the id of a FireStation")
        return cls(
            kind,
            lon,
            lat,
            texts["place"],
            texts["description"],
            texts["reference"],
            texts["severity"],
            texts["eventCode"],
            texts["eventName"],
            cameras,
            distance,
            minutes,
            station,
        )


def _number(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        raise BadRequestData(f"{name} must be a number")
    return float(value)


@dataclass(frozen=True, slots=True)
class Filed:
    """A stored request with its answer."""

    id: str
    tenant: str
    service: str
    agency: str
    reference: str
    event_id: str
    received_at: str
    responded_at: str
    arrived_at: str | None
    response: dict[str, Any]

    def json(self) -> dict[str, Any]:
        """The API form: the request and the answer it got."""
        return {
            "id": self.id,
            "service": self.service,
            "agency": self.agency,
            "reference": self.reference or None,
            "eventId": self.event_id,
            "receivedAt": self.received_at,
            "respondedAt": self.responded_at,
            "arrivedAt": self.arrived_at,
        } | {k: v for k, v in self.response.items() if k not in ("id", "eventId")}


class LinkedService:
    """Linked-service requests: filing, answering and listing them."""

    def __init__(self, hub: Hub, events: EventService, cctv: CctvService) -> None:
        self.hub = hub
        self.events = events
        self.cctv = cctv
        self.db = PlainSql(hub.storage)
        self._networks: dict[str, tuple[float, RoadNetwork]] = {}
        hub.bus.subscribe(self._on_changes)

    def _on_changes(self, changes: Any) -> None:
        """Forget a tenant's road network when one of its roads changes."""
        for change in changes:
            types = change.entity.get("type", ())
            if any(str(t).endswith(f"/{ROAD}") or t == ROAD for t in types):
                self._networks.pop(change.tenant, None)

    async def request(self, tenant: str, req: Request, agency: str) -> tuple[Filed, bool]:
        """File a request and answer it; (the request, True when it is new — False: the same
        reference was filed before and its first answer comes back)."""
        if req.reference:
            before = await self._by_reference(tenant, agency, req.service.id, req.reference)
            if before is not None:
                return before, False
        received = now_iso()
        rid = f"req-{secrets.token_hex(8)}"
        kind = req.service
        spec = EventSpec(
            event_code=req.event_code or kind.code,
            event_name=req.event_name or kind.name,
            severity=req.severity or kind.severity,
            category=kind.category,
            description=req.description,
            place=req.place,
            location=(req.lon, req.lat),
            dedupe_key=f"linked:{kind.id}:{agency}:{req.reference or rid}",
            source=f"agency:{agency}",
            linked_service=kind.id,
            items=[{"key": "requestId", "val": rid}]
            + ([{"key": "reference", "val": req.reference}] if req.reference else []),
            requested_by=agency,
        )
        event_id, _new = await self.events.raise_event(tenant, spec, f"agency:{agency}")
        cameras = []
        if req.cameras:
            cameras = await self.cctv.nearest(
                tenant, req.lon, req.lat, req.cameras, req.max_distance
            )
        grants = []
        if cameras:
            grants = await self.cctv.grant(
                tenant,
                event_id,
                [c["id"] for c in cameras],
                agency,
                f"{kind.purpose} {req.reference}".strip(),
                req.minutes,
                f"linked:{rid}",
            )
        answer: dict[str, Any] = {
            "event": {"id": event_id, "status": "occurred", "eventCode": spec.event_code},
            "cameras": cameras,
            "grants": [g.json(g.granted_at) for g in grants],
        }
        if kind.id == "119-dispatch":
            answer["route"] = await self.dispatch_route(tenant, (req.lon, req.lat), req.station)
        filed = Filed(
            rid,
            tenant,
            kind.id,
            agency,
            req.reference,
            event_id,
            received,
            now_iso(),
            None,
            answer,
        )
        try:
            await self.db.run(
                [
                    (
                        f"INSERT INTO linked_requests ({_COLUMNS}) VALUES ({', '.join('?' * 10)})",
                        (
                            filed.id,
                            tenant,
                            filed.service,
                            agency,
                            filed.reference,
                            event_id,
                            filed.received_at,
                            filed.responded_at,
                            None,
                            orjson.dumps(answer).decode(),
                        ),
                    )
                ]
            )
        except AlreadyExists:
            # the same reference filed concurrently: the first answer stands
            before = await self._by_reference(tenant, agency, kind.id, req.reference)
            if before is None:
                raise
            return before, False
        return filed, True

    async def _by_reference(
        self, tenant: str, agency: str, service: str, reference: str
    ) -> Filed | None:
        rows = await self.db.rows(
            f"SELECT {_COLUMNS} FROM linked_requests WHERE tenant = ? AND agency = ? "
            "AND service = ? AND reference = ?",
            tenant,
            agency,
            service,
            reference,
        )
        return _filed(rows[0]) if rows else None

    async def requests(
        self, tenant: str, agency: str | None, service: str | None = None, limit: int = 100
    ) -> list[Filed]:
        """The tenant's requests, newest first (one agency's only, when given)."""
        sql = f"SELECT {_COLUMNS} FROM linked_requests WHERE tenant = ?"
        args: list[Any] = [tenant]
        if agency is not None:
            sql += " AND agency = ?"
            args.append(agency)
        if service is not None:
            sql += " AND service = ?"
            args.append(service)
        rows = await self.db.rows(sql + " ORDER BY received_at DESC, id LIMIT ?", *args, limit)
        return [_filed(r) for r in rows]

    async def get(self, tenant: str, request_id: str, agency: str | None) -> Filed:
        """One request (ResourceNotFound, also when it is another agency's)."""
        sql = f"SELECT {_COLUMNS} FROM linked_requests WHERE tenant = ? AND id = ?"
        args: list[Any] = [tenant, request_id]
        if agency is not None:
            sql += " AND agency = ?"
            args.append(agency)
        rows = await self.db.rows(sql, *args)
        if not rows:
            raise ResourceNotFound(f"no linked-service request {request_id}")
        return _filed(rows[0])

    async def arrived(self, tenant: str, request_id: str, agency: str | None, at: str) -> Filed:
        """The responding unit reached the scene (119 dispatch): recorded on the request and
        on its event (``arrivedAt``), for the dispatch-time KPI."""
        filed = await self.get(tenant, request_id, agency)
        if filed.service != "119-dispatch":
            raise BadRequestData("arrival is reported for 119-dispatch requests only")
        if filed.arrived_at is not None:
            raise Conflict(f"arrival of {request_id} was reported at {filed.arrived_at}")
        if at < filed.received_at:
            raise BadRequestData("arrival cannot be before the request was received")
        await self.db.run(
            [
                (
                    "UPDATE linked_requests SET arrived_at = ? WHERE id = ? AND arrived_at IS NULL",
                    (at, request_id),
                )
            ],
            conflict=f"arrival of {request_id} was already reported",
        )
        await self.events._write(
            tenant, {"id": filed.event_id, "type": "CityEvent", "arrivedAt": _prop(at)}
        )
        return await self.get(tenant, request_id, agency)

    # --- 119: the route from the station ------------------------------------------------

    async def _entities(self, tenant: str, kind: str, geoq: Any = None) -> list[Entity]:
        ctx = self.hub.contexts.core
        found: list[Entity] = []
        while True:
            q = EntityQuery(
                types=parse_type_expr(kind, ctx), geo=geoq, limit=_PAGE, offset=len(found)
            )
            try:
                page = (await self.hub.entities.query(tenant, q)).entities
            except NonexistentTenant:
                return []
            found.extend(page)
            if len(page) < _PAGE:
                return found

    async def network(self, tenant: str) -> RoadNetwork:
        """The tenant's road network (cached; dropped when a road changes)."""
        cached = self._networks.get(tenant)
        if cached is not None and time.monotonic() - cached[0] < _NETWORK_TTL_S:
            return cached[1]
        segments = [
            {
                "id": e["id"],
                "name": _value(e, "name"),
                "location": _value(e, "location"),
                "width": _value(e, "width"),
                "oneWay": _value(e, "oneWay") is True,
            }
            for e in await self._entities(tenant, ROAD)
        ]
        network = RoadNetwork.from_segments(segments)
        self._networks[tenant] = (time.monotonic(), network)
        return network

    async def dispatch_route(
        self, tenant: str, scene: tuple[float, float], station: str | None
    ) -> dict[str, Any]:
        """The route from the responding station (the given one, else the nearest by road)
        to the scene, with what lies along it; ``{"error": ...}`` when there is none."""
        settings = self.hub.settings
        network = await self.network(tenant)
        stations = [_point(e) for e in await self._entities(tenant, STATION)]
        candidates = [s for s in stations if s is not None]
        if station is not None:
            candidates = [s for s in candidates if s["id"] == station]
            if not candidates:
                return {"error": f"no fire station {station} with a location"}
        if not candidates:
            return {"error": "no FireStation with a location in this tenant"}
        try:
            best = nearest_by_route(network, candidates, scene, limit=3)
        except BadRequestData as err:
            return {"error": err.detail}
        if not best:
            return {"error": "no road connects a fire station with the scene"}
        start, route = best[0]
        box = _bbox(route.geometry["coordinates"], settings.dispatch_hydrant_m + 10)
        near = geo.parse_geoquery(
            "within",
            "Polygon",
            orjson.dumps(box).decode(),
            self.hub.contexts.core.expand("location"),
        )
        hydrants = [_point(e) for e in await self._entities(tenant, HYDRANT, near)]
        parked = [
            _point(e)
            for e in await self._entities(tenant, VIOLATION, near)
            if _value(e, "status") in _STANDING
        ]
        return {
            "station": {"id": start["id"], "name": start.get("name")},
            "lengthM": route.length_m,
            "etaS": round(route.eta_s(settings.dispatch_speed_kmh)),
            "geometry": route.geometry,
            "segments": route.segments,
            "narrow": route.narrow,
            "hydrants": along(route, [h for h in hydrants if h], settings.dispatch_hydrant_m),
            "illegallyParked": along(route, [p for p in parked if p], settings.dispatch_parked_m),
        }


def _point(entity: Entity) -> dict[str, Any] | None:
    """An entity with a Point location, as roads.py takes it."""
    loc = _value(entity, "location")
    if not isinstance(loc, dict) or loc.get("type") != "Point":
        return None
    return {"id": entity["id"], "name": _value(entity, "name"), "location": loc}


def _bbox(coords: list[list[float]], margin_m: float) -> list[list[list[float]]]:
    """A polygon around a line with ``margin_m`` metres to spare."""
    lons, lats = [c[0] for c in coords], [c[1] for c in coords]
    dlat = margin_m / 111_320.0
    dlon = dlat / max(0.01, abs(math.cos(math.radians(lats[0]))))
    w, e = min(lons) - dlon, max(lons) + dlon
    s, n = min(lats) - dlat, max(lats) + dlat
    return [[[w, s], [e, s], [e, n], [w, n], [w, s]]]


def _filed(row: tuple[Any, ...]) -> Filed:
    r = row
    return Filed(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], orjson.loads(r[9]))
