"""CCTV API under ``/cityhub/v1/cctv`` (see cityhub/ops/cctv.py and docs/operations-center.md).

- ``GET /cityhub/v1/cctv/nearest?lon=&lat=&count=5&maxDistance=500``;
- ``POST /cityhub/v1/cctv/grants`` ``{"eventId", "agency", "purpose", "minutes",
  "cameras": [...] or "nearest": n}`` (operators: ``events:write``);
- ``GET /cityhub/v1/cctv/grants``, ``GET /cityhub/v1/cctv/grants/{id}``: an agency sees its own;
- ``GET /cityhub/v1/cctv/grants/{id}/view``: the stream, through a live grant;
- ``DELETE /cityhub/v1/cctv/grants/{id}``: revoke.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cityhub.audit.routes import record_request
from cityhub.auth.middleware import principal_of
from cityhub.errors import BadRequestData
from cityhub.ngsild.http import json_response, method_route, read_json, tenant_of
from cityhub.ngsild.hub import hub_of
from cityhub.ops.cctv import CctvService, _now
from cityhub.ops.events import _value

BASE = "/cityhub/v1/cctv"


def _service(request: Request) -> CctvService:
    found: CctvService = hub_of(request).extras["cctv"]
    return found


def _agency_filter(request: Request) -> str | None:
    """None for the center's staff (they see every grant); an agency sees its own."""
    principal = principal_of(request)
    if principal.access(tenant_of(request)).allows("events:write"):
        return None
    return principal.name


def _number(request: Request, name: str, default: float | None = None) -> float:
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise BadRequestData(f"give {name}")
        return default
    try:
        value = float(raw)
    except ValueError as err:
        raise BadRequestData(f"{name} must be a number") from err
    if value != value or value in (float("inf"), float("-inf")):
        raise BadRequestData(f"{name} must be a finite number")
    return value


async def nearest(request: Request) -> Response:
    """GET /cityhub/v1/cctv/nearest."""
    lon, lat = _number(request, "lon"), _number(request, "lat")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise BadRequestData("lon/lat are out of range")
    count = int(_number(request, "count", 5))
    distance = _number(request, "maxDistance", 500)
    if not 1 <= count <= 100 or not 0 < distance <= 50_000:
        raise BadRequestData("count is 1-100 and maxDistance 1-50000 metres")
    found = await _service(request).nearest(tenant_of(request), lon, lat, count, distance)
    return json_response(found)


async def create_grants(request: Request) -> Response:
    """POST /cityhub/v1/cctv/grants."""
    body = await read_json(request, 64 * 1024)
    if not isinstance(body, dict):
        raise BadRequestData("the body must be a JSON object")
    event_id, agency, purpose = body.get("eventId"), body.get("agency"), body.get("purpose")
    if not all(isinstance(v, str) and v for v in (event_id, agency, purpose)):
        raise BadRequestData('a grant needs "eventId", "agency" and "purpose"')
    minutes = body.get("minutes", 30)
    if not isinstance(minutes, int | float) or isinstance(minutes, bool):
        raise BadRequestData("minutes must be a number")
    service, tenant = _service(request), tenant_of(request)
    assert isinstance(event_id, str) and isinstance(agency, str) and isinstance(purpose, str)
    cameras = body.get("cameras")
    if cameras is None:
        count = body.get("nearest", 5)
        if not isinstance(count, int) or not 1 <= count <= 20:
            raise BadRequestData('give "cameras" (ids) or "nearest" (1-20)')
        event = await service.events.get(tenant, event_id)
        loc = _value(event, "location")
        if not isinstance(loc, dict) or loc.get("type") != "Point":
            raise BadRequestData(f"event {event_id} has no location: name the cameras")
        lon, lat = loc["coordinates"][0], loc["coordinates"][1]
        cameras = [c["id"] for c in await service.nearest(tenant, lon, lat, count, 1000)]
        if not cameras:
            raise BadRequestData(f"no camera within 1 km of event {event_id}")
    if not isinstance(cameras, list) or not cameras or not all(isinstance(c, str) for c in cameras):
        raise BadRequestData("cameras must be a non-empty list of camera ids")
    actor = principal_of(request).name
    grants = await service.grant(tenant, event_id, cameras, agency, purpose, minutes, actor)
    for g in grants:
        detail = {"event": event_id, "agency": agency, "purpose": purpose, "expires": g.expires_at}
        await record_request(
            request,
            "cctv.grant",
            target=g.camera_id,
            detail=detail | {"grant": g.id},
            tenant=tenant,
        )
    now = _now()
    return json_response([g.json(now) for g in grants], status=201)


async def list_grants(request: Request) -> Response:
    """GET /cityhub/v1/cctv/grants."""
    now = _now()
    found = await _service(request).grants(tenant_of(request), _agency_filter(request))
    return json_response([g.json(now) for g in found])


async def get_grant(request: Request) -> Response:
    """GET /cityhub/v1/cctv/grants/{id}."""
    grant = await _service(request).get(
        tenant_of(request), request.path_params["id"], _agency_filter(request)
    )
    return json_response(grant.json(_now()))


async def view(request: Request) -> Response:
    """GET /cityhub/v1/cctv/grants/{id}/view: recorded as a view."""
    grant_id = request.path_params["id"]
    found = await _service(request).view(tenant_of(request), grant_id, _agency_filter(request))
    await record_request(
        request,
        "cctv.view",
        target=found["cameraId"],
        tenant=tenant_of(request),
        detail={"grant": grant_id},
    )
    return json_response(found)


async def revoke(request: Request) -> Response:
    """DELETE /cityhub/v1/cctv/grants/{id}."""
    grant_id = request.path_params["id"]
    grant = await _service(request).revoke(tenant_of(request), grant_id, principal_of(request).name)
    await record_request(
        request,
        "cctv.revoke",
        target=grant.camera_id,
        tenant=tenant_of(request),
        detail={"grant": grant_id},
    )
    return Response(status_code=204)


routes = [
    method_route(f"{BASE}/nearest", GET=nearest),
    method_route(f"{BASE}/grants", GET=list_grants, POST=create_grants),
    method_route(f"{BASE}/grants/{{id}}", GET=get_grant, DELETE=revoke),
    method_route(f"{BASE}/grants/{{id}}/view", GET=view),
]
